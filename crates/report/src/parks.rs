//! Emissions by park and enterprise over one period, across every park of a deployment: the
//! operator's cross-park query.
//!
//! Each park's figures are its park report ([`crate::build`] with [`Scope::Park`] over the
//! period, readings from the reporting index): the same computation, the same checks of the
//! signed checkpoint and the factor publication, so the operator's table and a park's own
//! report never disagree. On PostgreSQL the reporting index is partitioned by park and month,
//! so each park's query reads only its own partitions of the period's months.
//!
//! A park with nothing to show is listed with the reason, never dropped: no accepted reading
//! in the period, no factor publication, or a log that does not check out.

use std::collections::BTreeMap;

use serde::Serialize;
use tanji_ledger::NoteVerifier;
use tanji_store::{PgLocation, PostgresStore, Store};
use tanji_units::time::rfc3339;

use crate::build::figures::totals;
use crate::{build, ReportError, Request, Scope, Totals};

/// One enterprise's emissions in the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EnterpriseEmissions {
    /// Enterprise id.
    pub enterprise: String,
    /// Accepted uploads the figures use.
    pub uploads: u64,
    /// Its figures, summed as a park report sums them.
    pub totals: Totals,
}

/// What one park has to show for the period.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ParkFigures {
    /// Figures from the park report.
    Data {
        /// The signed checkpoint (tree size) they were computed at.
        checkpoint_size: u64,
        /// The factor publication used (`name@vN`).
        factors: String,
        /// Each enterprise with data in the period.
        enterprises: Vec<EnterpriseEmissions>,
        /// The park's totals.
        totals: Box<Totals>,
    },
    /// No accepted reading of any enterprise in the period.
    NoData {
        /// Why, in words.
        reason: String,
    },
    /// The park report could not be made (no factor publication, no checkpoint, a log that
    /// does not check out).
    Failed {
        /// The report's error.
        reason: String,
    },
}

/// One park's row of the cross-park query.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParkEmissions {
    /// The park's name.
    pub park: String,
    /// Its figures, or why there are none.
    #[serde(flatten)]
    pub figures: ParkFigures,
}

/// Emissions of every park of a deployment over `[start, end)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParksEmissions {
    /// Period start (inclusive), Unix seconds.
    pub start: i64,
    /// Period end (exclusive), Unix seconds.
    pub end: i64,
    /// Every park, by name.
    pub parks: Vec<ParkEmissions>,
    /// The sums over the parks with data.
    pub totals: Totals,
}

impl ParksEmissions {
    /// A table of the figures, one row per enterprise and one per park (tonnes CO2e to 3
    /// decimals, energy in MWh to 3 decimals), then the parks without figures and why.
    pub fn to_text(&self) -> String {
        let t = |g: i64| format!("{:.3}", g as f64 / 1e6);
        let mwh = |wh: i64| format!("{:.3}", wh as f64 / 1e6);
        let mut out = format!(
            "emissions {} .. {} (end exclusive), {} park(s)\n\n",
            rfc3339(self.start),
            rfc3339(self.end),
            self.parks.len()
        );
        out.push_str("park\tenterprise\tuploads\tgrid import MWh\tscope 1 tCO2\tscope 2 location tCO2\tscope 2 market tCO2\n");
        let mut row = |park: &str, who: &str, uploads: String, x: &Totals| {
            out.push_str(&format!(
                "{park}\t{who}\t{uploads}\t{}\t{}\t{}\t{}\n",
                mwh(x.import_wh),
                t(x.scope1_g),
                t(x.scope2_location_g),
                t(x.scope2_market_g)
            ));
        };
        for p in &self.parks {
            if let ParkFigures::Data {
                enterprises,
                totals,
                ..
            } = &p.figures
            {
                for e in enterprises {
                    row(&p.park, &e.enterprise, e.uploads.to_string(), &e.totals);
                }
                let uploads: u64 = enterprises.iter().map(|e| e.uploads).sum();
                row(&p.park, "(park total)", uploads.to_string(), totals);
            }
        }
        row("(all parks)", "", String::new(), &self.totals);
        let without: Vec<&ParkEmissions> = self
            .parks
            .iter()
            .filter(|p| !matches!(p.figures, ParkFigures::Data { .. }))
            .collect();
        if without.is_empty() {
            out.push_str("\nevery park has data in the period\n");
        } else {
            out.push_str(&format!(
                "\n{} park(s) without figures for the period:\n",
                without.len()
            ));
            for p in without {
                if let ParkFigures::NoData { reason } | ParkFigures::Failed { reason } = &p.figures
                {
                    out.push_str(&format!("  {}: {reason}\n", p.park));
                }
            }
        }
        out
    }

    /// The parks without figures for the period (no data or failed), by name.
    pub fn without_data(&self) -> Vec<&str> {
        self.parks
            .iter()
            .filter(|p| !matches!(p.figures, ParkFigures::Data { .. }))
            .map(|p| p.park.as_str())
            .collect()
    }
}

/// One park's figures over `[start, end)` from its `store`, the checkpoint checked with
/// `verifier`.
pub fn park_emissions<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    (start, end): (i64, i64),
) -> ParkFigures {
    let mut req = Request::new(Scope::Park);
    req.period = Some((start, end));
    let built = match build(store, verifier, &req) {
        Ok(b) => b,
        Err(e) => {
            return ParkFigures::Failed {
                reason: e.to_string(),
            }
        }
    };
    if let Some(p) = built.problems.first() {
        return ParkFigures::Failed {
            reason: format!("the log has {} problem(s), first {p}", built.problems.len()),
        };
    }
    let doc = built.doc;
    let enterprises: Vec<EnterpriseEmissions> = doc
        .reports
        .iter()
        .filter(|r| r.uploads > 0)
        .map(|r| EnterpriseEmissions {
            enterprise: r.enterprise.clone(),
            uploads: r.uploads,
            totals: totals(std::slice::from_ref(r)),
        })
        .collect();
    if enterprises.is_empty() {
        return ParkFigures::NoData {
            reason: format!(
                "no accepted reading of its {} enterprise(s) in the period",
                doc.reports.len()
            ),
        };
    }
    ParkFigures::Data {
        checkpoint_size: doc.provenance.checkpoint.size,
        factors: doc.parameters.factors.clone(),
        totals: Box::new(doc.park_totals.unwrap_or_else(|| totals(&doc.reports))),
        enterprises,
    }
}

/// Every park of the PostgreSQL deployment at `at`, each over `[start, end)`
/// ([`park_emissions`]), read without taking any park's writer lease. Each park's checkpoint
/// is checked with the log key its store recorded when it was created (the operator's own
/// database; `tanji audit` with a park's `log.key` checks independently of it).
pub fn parks_emissions(at: &PgLocation, period: (i64, i64)) -> Result<ParksEmissions, ReportError> {
    if period.1 <= period.0 {
        return Err(ReportError::Request(format!(
            "period {}..{} is empty; the end must be after the start",
            period.0, period.1
        )));
    }
    let mut parks = Vec::new();
    for name in PostgresStore::parks(at)? {
        let store = PostgresStore::open(at, &name)?;
        let figures = match stored_verifier(&store) {
            Ok(v) => park_emissions(&store, &v, period),
            Err(reason) => ParkFigures::Failed { reason },
        };
        parks.push(ParkEmissions {
            park: name,
            figures,
        });
    }
    Ok(summed(period, parks))
}

/// The log key a park's store recorded when it was created (a weaker check than a key the
/// caller trusts: whoever can rewrite the store can rewrite it).
pub fn stored_verifier<S: Store>(store: &S) -> Result<NoteVerifier, String> {
    let vkey = store
        .meta("vkey")
        .map_err(|e| e.to_string())?
        .ok_or("the store records no log key")?;
    vkey.parse()
        .map_err(|e| format!("the recorded log key {vkey:?}: {e}"))
}

/// The rows with the totals over those with data.
fn summed((start, end): (i64, i64), parks: Vec<ParkEmissions>) -> ParksEmissions {
    let mut by_enterprise: BTreeMap<(&str, &str), &EnterpriseEmissions> = BTreeMap::new();
    for p in &parks {
        if let ParkFigures::Data { enterprises, .. } = &p.figures {
            for e in enterprises {
                by_enterprise.insert((p.park.as_str(), e.enterprise.as_str()), e);
            }
        }
    }
    let mut t = totals(&[]);
    for e in by_enterprise.values() {
        add(&mut t, &e.totals);
    }
    ParksEmissions {
        start,
        end,
        parks,
        totals: t,
    }
}

/// Adds `b`'s sums into `a` (ratios recomputed; coverage and filled share are per park).
fn add(a: &mut Totals, b: &Totals) {
    a.enterprises += b.enterprises;
    a.scope1_g += b.scope1_g;
    a.scope2_location_g += b.scope2_location_g;
    a.scope2_market_g += b.scope2_market_g;
    a.import_wh += b.import_wh;
    a.export_wh += b.export_wh;
    a.pv_self_consumed_wh += b.pv_self_consumed_wh;
    a.consumption_wh += b.consumption_wh;
    a.fixed_g += b.fixed_g;
    a.dynamic_g += b.dynamic_g;
    a.difference_g += b.difference_g;
    a.green_wh += b.green_wh;
    a.difference_pct = (a.fixed_g != 0).then(|| a.difference_g as f64 / a.fixed_g as f64 * 100.0);
    a.green_share = (a.consumption_wh > 0).then(|| a.green_wh as f64 / a.consumption_wh as f64);
}
