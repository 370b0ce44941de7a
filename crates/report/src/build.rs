//! Assembling a report: the log up to a checkpoint → accounting inputs → figures + provenance.
//!
//! [`build`] runs a `Builder` through named stages: the checkpoint and the log tied to its
//! root, the publications (factors, inputs, region, fixed factor), the meters by enterprise
//! and the scope, the readings and the period; then for each enterprise the rows it uses, a
//! series per meter, its data issues and its figures; then the park totals and the document
//! with its provenance. [`rows`] turns logged rows into series; [`figures`] holds what a
//! report adds to accounting's figures (fixed factor, coverage, filled share, totals).

pub(crate) mod figures;
mod rows;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine as _;
use tanji_accounting::{Inputs, IntervalSeries, NamedFactor, Options, SeriesFactors, TableFactors};
use tanji_ledger::{open_checkpoint, NoteVerifier};
use tanji_readings::SignedUpload;
use tanji_store::Store;
use tanji_units::time::{rfc3339, PARK_UTC_OFFSET_S};
use tanji_units::{Carrier, Unit};

use self::figures::{
    coverage, coverage_issue, filled_share, fixed_factor, grid_coverage, scope_of, sequence_gaps,
    sum_coverage, sum_filled, totals,
};
use self::rows::{series_of, MeterData, Readings, Row, Span};
use crate::doc::{
    CheckpointDoc, EnterpriseDoc, FactorsDoc, FixedFactorDoc, InputsDoc, IssueDoc, LeafDoc, LogDoc,
    MeterDoc, Methods, Parameters, PeriodDoc, Provenance, ReportDoc, ScopeDoc, SteamEnthalpyDoc,
};
use crate::gather::{findings, load_factors, load_inputs, Factors, Inputs as InputsPublication};
use crate::{Finding, ReportError, FORMAT};
use tanji_park::view::{LogView, Registered};

/// Enthalpy of steam metered by mass when the meter gives no pressure and temperature:
/// saturated steam at 1.0 MPa (absolute), kJ/kg.
pub const STEAM_ENTHALPY_KJ_PER_KG: f64 = 2777.1;
/// Where [`STEAM_ENTHALPY_KJ_PER_KG`] comes from.
pub const STEAM_ENTHALPY_SOURCE: &str = "saturated steam at 1.0 MPa(a), IAPWS-IF97 steam tables \
(h'' = 2777.1 kJ/kg); used for steam metered by mass without pressure and temperature";

/// Whose report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One enterprise, by id.
    Enterprise(String),
    /// Every enterprise of the park, and park totals.
    Park,
}

/// The fixed annual factor for the comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FixedChoice {
    /// A value in tCO2/MWh (`--fixed-factor`).
    Given(f64),
    /// The publication's calibration target for the region if its manifest has one, else the
    /// series' consumption-weighted mean.
    Default,
}

/// What to report.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Whose figures.
    pub scope: Scope,
    /// `[start, end)` Unix seconds; `None` = all data of the scope.
    pub period: Option<(i64, i64)>,
    /// Factor publication id or name; `None` = the latest publication.
    pub factors: Option<String>,
    /// Region of the publication; `None` = its only region.
    pub region: Option<String>,
    /// The fixed factor of the comparison.
    pub fixed: FixedChoice,
    /// The checkpoint (tree size) to report at; `None` = the latest checkpoint.
    pub checkpoint_size: Option<u64>,
    /// Local time offset, seconds (China Standard Time: 28 800).
    pub utc_offset_s: i32,
    /// Check again the device signature of every upload the figures use. The log's integrity
    /// is always checked (every entry read is re-hashed into the signed checkpoint's root), and
    /// a record's signature was checked before it was logged, so a report does not need this;
    /// the audit asks for it, because it trusts nothing the operator did.
    pub device_signatures: bool,
    /// Where the readings come from.
    pub source: Source,
    /// An enterprise inputs publication (`name@vN` or name): green certificates and purchases
    /// (market-based figure), output (intensities), production records (products and CBAM).
    pub inputs: Option<String>,
    /// Run anomaly detection on every meter's series and list each alert as an
    /// `anomaly_<kind>` data issue with its effect (`crate::anomalies`); recorded in the
    /// parameters, so the audit recomputes them.
    pub anomalies: bool,
}

/// Where a report reads the meter readings from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The reporting index the store keeps beside the log (written in the same transaction
    /// as each upload): fast, and only the scope's meters and period are read. The leaf
    /// hashes are checked into the signed root; that the index holds exactly the logged values
    /// is what `tanji audit` checks, recomputing from the log.
    Index,
    /// Every logged entry, decoded and re-hashed into the signed root: what the audit uses.
    Log,
}

impl Request {
    /// An enterprise or park request with the defaults: all data, latest publication and
    /// checkpoint, default fixed factor, the park's offset (UTC+8).
    pub fn new(scope: Scope) -> Request {
        Request {
            scope,
            period: None,
            factors: None,
            region: None,
            fixed: FixedChoice::Default,
            checkpoint_size: None,
            utc_offset_s: PARK_UTC_OFFSET_S,
            device_signatures: false,
            source: Source::Index,
            inputs: None,
            anomalies: false,
        }
    }
}

/// A built report and anything wrong with the log it was built from (undecodable entries,
/// uploads whose device signature does not verify): `tanji report` refuses to write a report
/// with problems; the audit lists them.
#[derive(Debug)]
pub struct Built {
    /// The report.
    pub doc: ReportDoc,
    /// Problems found in the log.
    pub problems: Vec<Finding>,
    /// The inputs publication's document the report used, if any (its product
    /// declarations make the footprints).
    pub inputs: Option<crate::InputsFile>,
}

/// The signed checkpoint a report is built at.
struct Checkpoint {
    /// The log's origin line.
    origin: String,
    size: u64,
    /// The signed note, as stored.
    note: String,
    root: [u8; 32],
}

/// The log up to the checkpoint, read and tied to its signed root.
struct Log {
    view: LogView,
    /// Accepted uploads by leaf index (decoded from the log; none when the readings come
    /// from the index).
    uploads: BTreeMap<u64, SignedUpload>,
    /// Entries that did not decode or verify.
    problems: Vec<Finding>,
}

/// The publications a report's figures rest on, and what the request chose of them.
struct Basis {
    factors: Factors,
    inputs: Option<InputsPublication>,
    region: String,
    fixed: FixedFactorDoc,
    /// The factor series' span for the region.
    span: Option<Span>,
}

/// Registered meters by enterprise, then by meter id.
type MetersByEnterprise = BTreeMap<String, BTreeMap<String, MeterData>>;

/// A meter's registrations, in log order.
type Regs<'a> = &'a [Registered];

/// Builds a report in named stages; [`build`] runs them in order.
struct Builder<'a, S> {
    store: &'a S,
    verifier: &'a NoteVerifier,
    req: &'a Request,
}

/// Builds the report `req` from `store`'s log, checking the checkpoint and the factor
/// publication with `verifier`.
pub fn build<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    req: &Request,
) -> Result<Built, ReportError> {
    // One snapshot for every read: the figures, the leaves and the checkpoint belong together.
    let _snapshot = store.read_snapshot()?;
    Builder {
        store,
        verifier,
        req,
    }
    .build()
}

impl<S: Store> Builder<'_, S> {
    /// Every stage in order: checkpoint, log, publications, meters, scope, readings, period,
    /// then each enterprise (rows used, series per meter, issues, accounting), then the park.
    fn build(&self) -> Result<Built, ReportError> {
        let cp = self.checkpoint()?;
        let source = self.source()?;
        let mut log = self.read_log(&cp, source)?;
        let basis = self.basis(&log.view)?;
        let mut problems = std::mem::take(&mut log.problems);
        let meters = meters_by_enterprise(&log.view, &mut problems);
        let enterprises = enterprises_in_scope(&self.req.scope, &meters, cp.size)?;
        let mut log_rows = match source {
            Source::Log => rows_from_log(&log, &meters, &enterprises),
            Source::Index => BTreeMap::new(),
        };
        let extents = self.data_extents(cp.size, source, &enterprises, &meters, &log_rows)?;
        let period = period_of(self.req.period, &extents, &enterprises, cp.size)?;
        let run = Run::new(self.req, &cp, source, period, extents, &log, &basis);
        let mut acc = Collected::new(cp.size, problems);
        run.publication_leaves(&basis, &mut acc);
        let mut reports = Vec::new();
        for e in &enterprises {
            let Some(ms) = meters.get(e) else {
                continue;
            };
            let readings = match source {
                Source::Index => self.readings_from_index(ms, cp.size)?,
                Source::Log => log_rows.remove(e.as_str()).unwrap_or_default(),
            };
            reports.push(self.enterprise(e, ms, &readings, &run, &basis, &mut acc)?);
        }
        self.finish(cp, basis, period, reports, acc)
    }

    /// The checkpoint asked for (or the latest), its signature checked with the log key and
    /// its origin and size with the store's.
    fn checkpoint(&self) -> Result<Checkpoint, ReportError> {
        let origin = self
            .store
            .meta("origin")?
            .ok_or_else(|| ReportError::Log("the store names no origin".into()))?;
        let checkpoints = self.store.checkpoints()?;
        let wanted = self.req.checkpoint_size;
        let (size, note) = match wanted {
            None => checkpoints.last().cloned(),
            Some(s) => checkpoints.iter().rev().find(|(n, _)| *n == s).cloned(),
        }
        .ok_or_else(|| {
            ReportError::Request(match wanted {
                Some(s) => format!("the log has no checkpoint at size {s}"),
                None => "the log has no checkpoint".into(),
            })
        })?;
        let cp = open_checkpoint(&note, self.verifier).map_err(|e| {
            ReportError::Log(format!(
                "the checkpoint at size {size} does not verify with {}: {e}",
                self.verifier
            ))
        })?;
        if cp.size != size || cp.origin != origin {
            return Err(ReportError::Log(format!(
                "the checkpoint stored for size {size} says origin {:?} size {}",
                cp.origin, cp.size
            )));
        }
        Ok(Checkpoint {
            origin,
            size,
            note,
            root: cp.root,
        })
    }

    /// Where the readings come from: the index only when it is complete; a store made before
    /// it existed is read from the log until the park rebuilds the index.
    fn source(&self) -> Result<Source, ReportError> {
        Ok(match self.req.source {
            Source::Index if self.store.channels_complete()? => Source::Index,
            _ => Source::Log,
        })
    }

    /// The log's entries up to the checkpoint, their leaves folded into the tree they must
    /// form: this ties every entry the report lists to the signed root. From the log, every
    /// entry's bytes are re-hashed first.
    fn read_log(&self, cp: &Checkpoint, source: Source) -> Result<Log, ReportError> {
        let mut view = match source {
            Source::Index => LogView::read_headers(self.store, cp.size)?,
            Source::Log => LogView::read(self.store, cp.size)?,
        };
        let mut problems = findings(&view);
        if !tree_matches(&view.leaf_hashes, cp.size, &cp.root) {
            let problem = format!(
                "the log's leaves 0..{} do not hash to the signed checkpoint's root: the log was changed; run `tanji verify` to find where",
                cp.size
            );
            match source {
                // From the index nothing can be trusted without the tree; from the log, go on
                // and name every record that no longer verifies.
                Source::Index => return Err(ReportError::Log(problem)),
                Source::Log => problems.push(Finding {
                    subject: "checkpoint".into(),
                    problem,
                }),
            }
        }
        let uploads = std::mem::take(&mut view.uploads).into_iter().collect();
        Ok(Log {
            view,
            uploads,
            problems,
        })
    }

    /// The factor publication, the inputs publication, the region and the fixed factor.
    fn basis(&self, view: &LogView) -> Result<Basis, ReportError> {
        let (store, verifier) = (self.store, self.verifier);
        let factors = load_factors(store, view, verifier, self.req.factors.as_deref())?;
        let inputs = self
            .req
            .inputs
            .as_deref()
            .map(|w| load_inputs(store, view, verifier, w))
            .transpose()?;
        let region = choose_region(self.req.region.as_deref(), &factors)?;
        let fixed = fixed_factor(self.req.fixed, &factors, &region)?;
        let span = factors
            .span(&region)
            .map(|(start, end)| Span { start, end });
        Ok(Basis {
            factors,
            inputs,
            region,
            fixed,
            span,
        })
    }

    /// Where the logged data of every meter of `enterprises` begins and ends (start of its
    /// first interval, end of its last), from the reporting index or the decoded log rows.
    fn data_extents(
        &self,
        size: u64,
        source: Source,
        enterprises: &[String],
        meters: &MetersByEnterprise,
        log_rows: &BTreeMap<&str, Readings>,
    ) -> Result<BTreeMap<String, Span>, ReportError> {
        let mut extents: BTreeMap<String, Span> = BTreeMap::new();
        match source {
            Source::Index => {
                for ms in enterprises.iter().filter_map(|e| meters.get(e)) {
                    for meter in ms.keys() {
                        if let Some((start, end)) = self.store.channels_extent(meter, size)? {
                            extents.insert(meter.clone(), Span { start, end });
                        }
                    }
                }
            }
            Source::Log => {
                for r in log_rows.values().flat_map(Readings::rows) {
                    if r.values.is_empty() {
                        continue;
                    }
                    let x = Span {
                        start: r.start,
                        end: r.end(),
                    };
                    extents
                        .entry(r.meter.to_string())
                        .and_modify(|s| *s = s.union(x))
                        .or_insert(x);
                }
            }
        }
        Ok(extents)
    }

    /// One enterprise's rows from the reporting index: its meters', in the period asked (all
    /// of them without one).
    fn readings_from_index(
        &self,
        meters: &BTreeMap<String, MeterData>,
        size: u64,
    ) -> Result<Readings, ReportError> {
        let (from, to) = self.req.period.unwrap_or((i64::MIN, i64::MAX));
        let mut readings = Readings::default();
        for meter in meters.keys() {
            self.store
                .channels_packed(meter, size, from, to, &mut |r| {
                    readings.push_packed(meter, r)
                })?;
        }
        Ok(readings)
    }

    /// One enterprise's report: the rows it uses, a series per meter, its data issues, and
    /// its figures.
    fn enterprise(
        &self,
        e: &str,
        meters: &BTreeMap<String, MeterData>,
        readings: &Readings,
        run: &Run<'_>,
        basis: &Basis,
        acc: &mut Collected,
    ) -> Result<EnterpriseDoc, ReportError> {
        let selected = run.select(readings, acc);
        let measured = run.meter_series(e, meters, &selected, acc)?;
        imported_issues(&selected.imported, meters, &mut acc.issues);
        self.device_gaps(&measured.devices, run, &mut acc.issues)?;
        run.account(e, measured, basis)
    }

    /// The sequence gaps of `devices` over the whole log up to the checkpoint.
    fn device_gaps(
        &self,
        devices: &BTreeSet<String>,
        run: &Run<'_>,
        issues: &mut Vec<IssueDoc>,
    ) -> Result<(), ReportError> {
        for d in devices {
            let from_index: BTreeSet<u64>;
            let logged = match run.source {
                Source::Log => run.seqs.get(d.as_str()),
                Source::Index => {
                    from_index = self.store.device_seqs(d, run.size)?.into_iter().collect();
                    Some(&from_index)
                }
            };
            sequence_gaps(d, logged, issues);
        }
        Ok(())
    }

    /// The park stage: a factor series that does not cover the period said loudly first,
    /// uploads counted per enterprise, park totals, and the document with its provenance.
    fn finish(
        &self,
        cp: Checkpoint,
        basis: Basis,
        period: Span,
        mut reports: Vec<EnterpriseDoc>,
        mut acc: Collected,
    ) -> Result<Built, ReportError> {
        if let Some(issue) = short_coverage_issue(&basis, period, &reports) {
            acc.issues.insert(0, issue);
        }
        // A meter's upload counts for the enterprise it belonged to when it was logged.
        for r in &mut reports {
            if let Some(list) = acc.uploads_of.get_mut(&r.enterprise) {
                list.sort_unstable();
                list.dedup();
                r.uploads = list.len() as u64;
            }
        }
        let park_totals = matches!(self.req.scope, Scope::Park).then(|| {
            let mut t = totals(&reports);
            t.factor_coverage = Some(sum_coverage(&basis.factors.id, basis.span, &reports));
            t.filled_share = Some(sum_filled(&reports));
            t
        });
        let provenance = self.provenance(cp, &basis, acc.leaves)?;
        let doc = ReportDoc {
            format: FORMAT.into(),
            scope: ScopeDoc {
                kind: match self.req.scope {
                    Scope::Enterprise(_) => "enterprise".into(),
                    Scope::Park => "park".into(),
                },
                enterprise: match &self.req.scope {
                    Scope::Enterprise(e) => Some(e.clone()),
                    Scope::Park => None,
                },
                park: self.store.meta("park")?.unwrap_or_default(),
            },
            period: PeriodDoc {
                start: rfc3339(period.start),
                end: rfc3339(period.end),
            },
            parameters: self.parameters(&basis),
            methods: Methods {
                accounting: tanji_accounting::METHOD.into(),
                factors: basis.factors.method.clone(),
                report: FORMAT.into(),
            },
            reports,
            park_totals,
            issues: acc.issues,
            provenance,
        };
        Ok(Built {
            doc,
            problems: acc.problems,
            inputs: basis.inputs.as_ref().map(|i| i.file.clone()),
        })
    }

    /// The request's parameters as the report records them (the audit rebuilds with them).
    fn parameters(&self, basis: &Basis) -> Parameters {
        Parameters {
            factors: basis.factors.id.clone(),
            region: basis.region.clone(),
            fixed_factor: basis.fixed.clone(),
            utc_offset_s: self.req.utc_offset_s,
            steam_enthalpy: Some(SteamEnthalpyDoc {
                kj_per_kg: STEAM_ENTHALPY_KJ_PER_KG,
                source: STEAM_ENTHALPY_SOURCE.into(),
            }),
            inputs: basis.inputs.as_ref().map(|i| i.id.clone()),
            anomalies: self.req.anomalies,
        }
    }

    /// Where the figures come from: the log and its key, the checkpoint, the publications
    /// and every leaf used.
    fn provenance(
        &self,
        cp: Checkpoint,
        basis: &Basis,
        leaves: BTreeMap<u64, LeafDoc>,
    ) -> Result<Provenance, ReportError> {
        let factors = &basis.factors;
        Ok(Provenance {
            log: LogDoc {
                origin: cp.origin,
                verifier_key: self.store.meta("vkey")?.unwrap_or_default(),
            },
            checkpoint: CheckpointDoc {
                size: cp.size,
                root: base64::engine::general_purpose::STANDARD.encode(cp.root),
                note: cp.note,
            },
            factors: FactorsDoc {
                id: factors.id.clone(),
                index: factors.index,
                content_sha256: hex::encode(factors.content_hash),
                method: factors.method.clone(),
                synthetic: basis.region.to_ascii_lowercase().contains("synthetic"),
                region: basis.region.clone(),
            },
            inputs: basis.inputs.as_ref().map(|i| InputsDoc {
                id: i.id.clone(),
                index: i.index,
                content_sha256: hex::encode(i.content_sha256),
            }),
            leaves: leaves.into_values().collect(),
        })
    }
}

/// Whether `leaf_hashes` fold into a tree of `size` leaves with root `root`.
fn tree_matches(leaf_hashes: &[[u8; 32]], size: u64, root: &[u8; 32]) -> bool {
    let mut frontier = tanji_ledger::Frontier::new();
    let mut scratch = Vec::with_capacity(64);
    for lh in leaf_hashes {
        scratch.clear();
        frontier.append(*lh, &mut scratch);
    }
    frontier.size() == size && frontier.root() == *root
}

/// The region asked for, or the publication's only region.
fn choose_region(asked: Option<&str>, factors: &Factors) -> Result<String, ReportError> {
    match asked {
        Some(r) if factors.regions.iter().any(|x| x == r) => Ok(r.to_string()),
        Some(r) => Err(ReportError::Request(format!(
            "region {r:?} is not in publication {}; it has {}",
            factors.id,
            factors.regions.join(", ")
        ))),
        None if factors.regions.len() == 1 => Ok(factors.regions[0].clone()),
        None => Err(ReportError::Request(format!(
            "publication {} has regions {}; name one with --region",
            factors.id,
            factors.regions.join(", ")
        ))),
    }
}

/// Every meter by the enterprise of its latest registration; a registration whose carrier or
/// unit is unknown is a problem, and its meter is left out.
fn meters_by_enterprise(view: &LogView, problems: &mut Vec<Finding>) -> MetersByEnterprise {
    let mut by_enterprise = MetersByEnterprise::new();
    for (meter, regs) in view.registrations.by_meter() {
        let Some(Registered { index, reg }) = regs.last() else {
            continue;
        };
        let (Ok(carrier), Ok(unit)) = (reg.carrier.parse::<Carrier>(), reg.unit.parse::<Unit>())
        else {
            problems.push(Finding {
                subject: format!("entry {index} (registration of {meter})"),
                problem: format!("carrier {:?} or unit {:?} unknown", reg.carrier, reg.unit),
            });
            continue;
        };
        let data = MeterData {
            reg_index: *index,
            device: reg.device.clone(),
            carrier,
            unit,
        };
        by_enterprise
            .entry(reg.enterprise.clone())
            .or_default()
            .insert(meter.clone(), data);
    }
    by_enterprise
}

/// The enterprises the report covers: the one asked for (an error if it is not registered:
/// the caller may not read the others, e.g. an API token of an unregistered enterprise), or
/// every enterprise of the park.
fn enterprises_in_scope(
    scope: &Scope,
    meters: &MetersByEnterprise,
    size: u64,
) -> Result<Vec<String>, ReportError> {
    match scope {
        Scope::Enterprise(e) if meters.contains_key(e) => Ok(vec![e.clone()]),
        Scope::Enterprise(e) => Err(ReportError::Request(format!(
            "no enterprise {e:?} is registered in this log (up to entry {size}); `tanji device list` shows the registrations"
        ))),
        Scope::Park => Ok(meters.keys().cloned().collect()),
    }
}

/// Every logged upload's channels of the scope's meters, decoded, grouped by the enterprise
/// of the meter.
fn rows_from_log<'e>(
    log: &Log,
    meters: &MetersByEnterprise,
    enterprises: &'e [String],
) -> BTreeMap<&'e str, Readings> {
    let in_scope: BTreeSet<&str> = enterprises.iter().map(String::as_str).collect();
    let mut rows: BTreeMap<&str, Readings> = BTreeMap::new();
    for (&index, u) in &log.uploads {
        for r in tanji_park::channel_rows(u, index) {
            let Some(Registered { reg, .. }) = log.view.meter(&r.meter) else {
                continue;
            };
            let Some(&e) = in_scope.get(reg.enterprise.as_str()) else {
                continue;
            };
            if meters.get(e).is_some_and(|ms| ms.contains_key(&r.meter)) {
                rows.entry(e).or_default().push_row(&r);
            }
        }
    }
    rows
}

/// The period: given, or all logged data of the scope's meters.
fn period_of(
    asked: Option<(i64, i64)>,
    extents: &BTreeMap<String, Span>,
    enterprises: &[String],
    size: u64,
) -> Result<Span, ReportError> {
    let period = match asked {
        Some((start, end)) => Span { start, end },
        None => extents
            .values()
            .copied()
            .reduce(Span::union)
            .ok_or_else(|| {
                ReportError::Request(format!(
                    "no accepted upload of {} is in the log (up to entry {size}); nothing to report",
                    enterprises.join(", ")
                ))
            })?,
    };
    if period.end <= period.start {
        return Err(ReportError::Request(format!(
            "period {}..{} is empty; the end must be after the start",
            rfc3339(period.start),
            rfc3339(period.end)
        )));
    }
    Ok(period)
}

/// The accounting options of a report: the fixed factor in g/kWh, the local offset, the
/// inputs' market-based settings and the steam enthalpy.
fn options(
    fixed: &FixedFactorDoc,
    inputs: Option<&InputsPublication>,
    utc_offset_s: i32,
) -> Options {
    Options {
        fixed_factor: Some(NamedFactor {
            // t/MWh → g/kWh, kept to 4 decimals so 0.5703 gives 570.3, not 570.3000000000001.
            value: (fixed.t_per_mwh * 10_000_000.0).round() / 10_000.0,
            source: fixed.source.clone(),
        }),
        utc_offset_s,
        matching: inputs.map_or(tanji_accounting::Matching::Annual, |i| i.file.matching),
        residual: inputs.map_or(tanji_accounting::Residual::ChinaExcludingTraded, |i| {
            i.file.residual.clone()
        }),
        heat: tanji_accounting::HeatFactors {
            steam_enthalpy_kj_per_kg: Some(STEAM_ENTHALPY_KJ_PER_KG),
            ..Default::default()
        },
        ..Options::default()
    }
}

/// A meter's life: from its first logged interval (or its first registration, if that is
/// earlier) to the end of its last logged interval; `None` without logged data. Gap filling
/// is for holes inside it: before a meter existed and after it stopped there is nothing to
/// fill.
fn meter_life(extent: Option<Span>, regs: Regs<'_>) -> Option<Span> {
    let x = extent?;
    let registered = regs.iter().map(|r| r.reg.registered_at).min();
    Some(Span {
        start: registered.map_or(x.start, |r| r.min(x.start)),
        end: x.end,
    })
}

/// The factor-coverage issue when some enterprise's grid intervals lack a factor.
fn short_coverage_issue(
    basis: &Basis,
    period: Span,
    reports: &[EnterpriseDoc],
) -> Option<IssueDoc> {
    let short: Vec<&str> = reports
        .iter()
        .filter(|r| r.factor_coverage.as_ref().is_some_and(|c| !c.complete))
        .map(|r| r.enterprise.as_str())
        .collect();
    if short.is_empty() {
        return None;
    }
    let all = sum_coverage(&basis.factors.id, basis.span, reports);
    Some(coverage_issue(
        &all,
        &basis.region,
        period,
        &basis.fixed,
        &short,
    ))
}

/// An operator import's share of a meter's values in the period.
struct Imported<'r> {
    /// The import device.
    device: &'r str,
    /// Values in the period.
    values: u64,
    /// First and last entry.
    first: u64,
    last: u64,
}

impl<'r> Imported<'r> {
    fn new(r: &Row<'r>) -> Imported<'r> {
        Imported {
            device: r.device,
            values: 0,
            first: r.index,
            last: r.index,
        }
    }

    fn add(&mut self, r: &Row<'_>, period: Span) {
        let n = (0..r.values.len())
            .filter(|&i| period.contains(r.time_of(i)))
            .count();
        self.values += n as u64;
        self.first = self.first.min(r.index);
        self.last = self.last.max(r.index);
    }
}

/// The `imported` issue of every imported meter of `meters`.
fn imported_issues(
    imported: &BTreeMap<&str, Imported<'_>>,
    meters: &BTreeMap<String, MeterData>,
    issues: &mut Vec<IssueDoc>,
) {
    for (meter, i) in imported {
        if meters.contains_key(*meter) {
            issues.push(IssueDoc {
                kind: "imported".into(),
                subject: format!("meter {meter}"),
                message: format!(
                    "{} value(s) of meter {meter} in the period come from an operator import ({}, entries {}..={}), not from the meter's own device",
                    i.values, i.device, i.first, i.last
                ),
            });
        }
    }
}

/// The rows of one enterprise's readings the report uses, by meter, in log order.
#[derive(Default)]
struct Selected<'r> {
    per_meter: HashMap<&'r str, Vec<Row<'r>>>,
    /// Operator imports per meter.
    imported: BTreeMap<&'r str, Imported<'r>>,
}

/// Consecutive rows of one meter (rows come grouped by meter from the index).
#[derive(Default)]
struct MeterRun<'r> {
    meter: &'r str,
    rows: Vec<Row<'r>>,
}

impl<'r> Selected<'r> {
    fn flush(&mut self, run: &mut MeterRun<'r>) {
        if !run.rows.is_empty() {
            self.per_meter
                .entry(run.meter)
                .or_default()
                .append(&mut run.rows);
        }
    }
}

/// The registration in force when the upload at `index` was logged (a meter whose history
/// was imported passes from its import device to its own device).
fn in_force(regs: Regs<'_>, index: u64) -> Option<&Registered> {
    regs.iter()
        .rev()
        .find(|r| r.index < index)
        .or_else(|| regs.last())
}

/// One enterprise's meters as series over the period, with what the report says of each.
#[derive(Default)]
struct Measured {
    series: Vec<IntervalSeries>,
    docs: Vec<MeterDoc>,
    /// The meters' devices.
    devices: BTreeSet<String>,
}

/// What the enterprises' stages add to, in the order the report lists them.
struct Collected {
    leaves: BTreeMap<u64, LeafDoc>,
    /// Uploads used, by the enterprise the meter belonged to when each was logged.
    uploads_of: BTreeMap<String, Vec<u64>>,
    /// Entries already checked and listed (an upload used twice is listed once).
    checked: Vec<bool>,
    problems: Vec<Finding>,
    issues: Vec<IssueDoc>,
}

impl Collected {
    fn new(size: u64, problems: Vec<Finding>) -> Collected {
        Collected {
            leaves: BTreeMap::new(),
            uploads_of: BTreeMap::new(),
            checked: vec![false; usize::try_from(size).unwrap_or(0)],
            problems,
            issues: Vec::new(),
        }
    }

    fn used_by(&mut self, enterprise: &str, index: u64) {
        if let Some(list) = self.uploads_of.get_mut(enterprise) {
            list.push(index);
        } else {
            self.uploads_of.insert(enterprise.to_string(), vec![index]);
        }
    }

    /// Whether entry `index` is used here for the first time (then it is marked).
    fn first_use(&mut self, index: u64) -> bool {
        match self
            .checked
            .get_mut(usize::try_from(index).unwrap_or(usize::MAX))
        {
            Some(seen) if !*seen => {
                *seen = true;
                true
            }
            _ => false,
        }
    }
}

/// What every enterprise's stages read: fixed once the period is known.
struct Run<'v> {
    size: u64,
    period: Span,
    source: Source,
    device_signatures: bool,
    anomalies: bool,
    view: &'v LogView,
    uploads: &'v BTreeMap<u64, SignedUpload>,
    /// Each meter's registrations, looked up once per meter, not once per row.
    registered: HashMap<&'v str, Regs<'v>>,
    /// Device keys, for checking again every used upload's signature when asked (decoded
    /// once; `None`: not a valid key, which verifies nothing).
    keys: BTreeMap<&'v str, Vec<Option<tanji_readings::VerifyingKey>>>,
    /// Every logged sequence number of a device (for its gaps), from the log.
    seqs: BTreeMap<&'v str, BTreeSet<u64>>,
    /// Where each meter's logged data begins and ends.
    extents: BTreeMap<String, Span>,
    lookup: TableFactors,
    options: Options,
}

impl<'v> Run<'v> {
    fn new(
        req: &Request,
        cp: &Checkpoint,
        source: Source,
        period: Span,
        extents: BTreeMap<String, Span>,
        log: &'v Log,
        basis: &Basis,
    ) -> Run<'v> {
        let view = &log.view;
        let mut keys: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        if req.device_signatures {
            for Registered { reg, .. } in view.registrations.all() {
                keys.entry(reg.device.as_str())
                    .or_default()
                    .push(reg.public_key.verifying_key().ok());
            }
        }
        let mut seqs: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
        for u in log.uploads.values() {
            seqs.entry(u.body.device.as_str())
                .or_default()
                .insert(u.body.seq);
        }
        let lookup = TableFactors::from_series(&SeriesFactors {
            series: &basis.factors.series,
            region: basis.region.clone(),
            id: basis.factors.id.clone(),
        });
        Run {
            size: cp.size,
            period,
            source,
            device_signatures: req.device_signatures,
            anomalies: req.anomalies,
            view,
            uploads: &log.uploads,
            registered: (view.registrations.by_meter().iter())
                .map(|(meter, regs)| (meter.as_str(), regs.as_slice()))
                .collect(),
            keys,
            seqs,
            extents,
            lookup,
            options: options(&basis.fixed, basis.inputs.as_ref(), req.utc_offset_s),
        }
    }

    /// The leaf at `index`, described.
    fn leaf(&self, index: u64, kind: &str, what: String) -> LeafDoc {
        LeafDoc {
            index,
            kind: kind.into(),
            what,
            leaf_hash: hex32(&self.view.leaf_hashes[usize::try_from(index).unwrap_or(0)]),
        }
    }

    /// The factor and inputs publications' leaves.
    fn publication_leaves(&self, basis: &Basis, acc: &mut Collected) {
        let f = &basis.factors;
        acc.leaves
            .insert(f.index, self.leaf(f.index, "publication", f.id.clone()));
        if let Some(i) = &basis.inputs {
            acc.leaves
                .insert(i.index, self.leaf(i.index, "publication", i.id.clone()));
        }
    }

    /// The rows of `readings` in the period from the device their meter was registered to
    /// when logged, by meter; a row from another device is a problem. Every row used is
    /// listed as a leaf (its signature checked again when asked), with its meter's
    /// registration when it is an operator import.
    fn select<'r>(&self, readings: &'r Readings, acc: &mut Collected) -> Selected<'r> {
        let mut selected = Selected::default();
        // Rows come grouped by meter from the index: look a meter up once per run of its rows.
        let mut last: Option<(&str, Option<Regs<'_>>)> = None;
        let mut run = MeterRun::default();
        for r in readings.rows() {
            let regs = match last {
                Some((m, regs)) if m == r.meter => regs,
                _ => {
                    let regs = self.registered.get(r.meter).copied();
                    last = Some((r.meter, regs));
                    regs
                }
            };
            let Some(regs) = regs else {
                continue;
            };
            if !r.overlaps(self.period) {
                continue;
            }
            let Some(Registered {
                index: reg_index,
                reg,
            }) = in_force(regs, r.index)
            else {
                continue;
            };
            if reg.device != r.device {
                acc.problems.push(Finding {
                    subject: format!("entry {} (upload {}#{})", r.index, r.device, r.seq),
                    problem: format!(
                        "meter {} is registered to {}, not to this device",
                        r.meter, reg.device
                    ),
                });
                continue;
            }
            if run.meter != r.meter {
                selected.flush(&mut run);
                run.meter = r.meter;
            }
            run.rows.push(r);
            acc.used_by(&reg.enterprise, r.index);
            let import = tanji_readings::is_import_device(r.device);
            if import {
                (selected.imported.entry(r.meter))
                    .or_insert_with(|| Imported::new(&r))
                    .add(&r, self.period);
                let what = format!("{}/{}", reg.device, r.meter);
                acc.leaves
                    .insert(*reg_index, self.leaf(*reg_index, "registration", what));
            }
            if !acc.first_use(r.index) {
                continue;
            }
            if self.device_signatures {
                acc.problems.extend(self.signature_problem(&r));
            }
            let kind = if import { "import" } else { "upload" };
            let what = format!("{}#{}", r.device, r.seq);
            acc.leaves.insert(r.index, self.leaf(r.index, kind, what));
        }
        selected.flush(&mut run);
        // Log order, whichever way the rows were read.
        for rows in selected.per_meter.values_mut() {
            rows.sort_by_key(|c| c.index);
        }
        selected
    }

    /// The problem of a row whose upload's device signature does not verify with any key
    /// registered to its device.
    fn signature_problem(&self, r: &Row<'_>) -> Option<Finding> {
        let signed = self.uploads.get(&r.index).is_some_and(|u| {
            self.keys.get(u.body.device.as_str()).is_some_and(|ks| {
                ks.iter()
                    .any(|k| k.as_ref().is_some_and(|vk| u.verify_signature(vk)))
            })
        });
        (!signed).then(|| Finding {
            subject: format!("entry {} (upload {}#{})", r.index, r.device, r.seq),
            problem: "its device signature does not verify with the registered key: the record was changed".into(),
        })
    }

    /// Each meter's series over the part of the period in its life, with its
    /// [`MeterDoc`] and its issues (no data, outside its life, anomalies when asked).
    fn meter_series(
        &self,
        e: &str,
        meters: &BTreeMap<String, MeterData>,
        selected: &Selected<'_>,
        acc: &mut Collected,
    ) -> Result<Measured, ReportError> {
        let mut out = Measured::default();
        for (meter, m) in meters {
            out.devices.insert(m.device.clone());
            let what = format!("{}/{meter}", m.device);
            acc.leaves
                .insert(m.reg_index, self.leaf(m.reg_index, "registration", what));
            let channels = (selected.per_meter.get(meter.as_str())).map_or(&[][..], Vec::as_slice);
            let regs = self.view.registrations.history(meter);
            let life = meter_life(self.extents.get(meter.as_str()).copied(), regs);
            let within = life.map_or(self.period, |l| Span {
                start: self.period.start.max(l.start),
                end: self.period.end.min(l.end),
            });
            let built = (within.start < within.end)
                .then(|| series_of(meter, m, channels, within, &mut acc.issues))
                .flatten();
            let Some(s) = built else {
                acc.issues.push(no_data_issue(e, meter, m));
                continue;
            };
            acc.issues
                .extend(life_issue(e, meter, m, life, self.period));
            out.docs.push(meter_doc(meter, m, &s, self.period));
            if self.anomalies {
                let reg = regs.last().map(|r| &r.reg);
                let (lookup, options) = (&self.lookup, &self.options);
                let period = self.period.pair();
                crate::anomalies::add_issues(e, &s, reg, period, lookup, options, &mut acc.issues)?;
            }
            out.series.push(s);
        }
        Ok(out)
    }

    /// The enterprise's figures from accounting (and its products' with production records
    /// among its inputs), with factor coverage and filled share.
    fn account(
        &self,
        e: &str,
        measured: Measured,
        basis: &Basis,
    ) -> Result<EnterpriseDoc, ReportError> {
        let given = basis
            .inputs
            .as_ref()
            .and_then(|i| i.file.enterprises.get(e));
        let inputs = Inputs {
            enterprise: e.to_string(),
            period_start: self.period.start,
            period_end: self.period.end,
            series: measured.series,
            certificates: given.map(|g| g.certificates.clone()).unwrap_or_default(),
            purchases: given.map(|g| g.purchases.clone()).unwrap_or_default(),
            output: given.and_then(|g| g.output.clone()),
        };
        // The enterprise's per-meter fuel choices (table, fuel, gas reference conditions).
        let with_meters;
        let opts = match given.filter(|g| !g.meters.is_empty()) {
            Some(g) => {
                with_meters = Options {
                    meter_fuels: g.meters.clone(),
                    ..self.options.clone()
                };
                &with_meters
            }
            None => &self.options,
        };
        let report = tanji_accounting::compute(&inputs, &self.lookup, opts).map_err(|source| {
            ReportError::Accounting {
                enterprise: e.to_string(),
                source,
            }
        })?;
        let grid = grid_coverage(&inputs.series, self.period, &self.lookup);
        let filled = filled_share(&measured.docs);
        let figures = serde_json::to_value(&report)
            .map_err(|err| ReportError::Format(format!("serializing the figures: {err}")))?;
        let products = match given.and_then(|g| g.products.as_ref()) {
            None => None,
            Some(pi) => Some(self.products(e, &inputs, opts, pi, basis)?),
        };
        Ok(EnterpriseDoc {
            enterprise: e.to_string(),
            meters: measured.docs,
            // Counted by the park stage, once every enterprise's rows are read.
            uploads: 0,
            figures,
            products,
            factor_coverage: Some(coverage(&basis.factors.id, basis.span, grid)),
            filled_share: Some(filled),
        })
    }

    /// The enterprise's products (SEE and CBAM figures) from its production records.
    fn products(
        &self,
        e: &str,
        inputs: &Inputs,
        opts: &Options,
        records: &tanji_accounting::cbam::ProductInputs,
        basis: &Basis,
    ) -> Result<serde_json::Value, ReportError> {
        let p = tanji_accounting::cbam::products(inputs, &self.lookup, opts, records).map_err(
            |err| {
                ReportError::Request(format!(
                    "products of {e} (inputs {}): {err}",
                    basis.inputs.as_ref().map_or("", |i| i.id.as_str())
                ))
            },
        )?;
        serde_json::to_value(&p)
            .map_err(|err| ReportError::Format(format!("serializing the products: {err}")))
    }
}

/// The `no_data` issue of a meter without an accepted upload in the period.
fn no_data_issue(e: &str, meter: &str, m: &MeterData) -> IssueDoc {
    IssueDoc {
        kind: "no_data".into(),
        subject: format!("meter {meter}"),
        message: format!(
            "meter {meter} ({}) of {e} has no accepted upload in the period: it is not counted",
            m.carrier.code()
        ),
    }
}

/// The `outside_meter_life` issue of a meter whose life does not cover the period.
fn life_issue(
    e: &str,
    meter: &str,
    m: &MeterData,
    life: Option<Span>,
    period: Span,
) -> Option<IssueDoc> {
    let l = life.filter(|l| l.start > period.start || l.end < period.end)?;
    Some(IssueDoc {
        kind: "outside_meter_life".into(),
        subject: format!("meter {meter}"),
        message: format!(
            "meter {meter} ({}) of {e} counts from {} to {} (from its first logged interval, or its registration if earlier, to its last logged interval); in the rest of the period it did not exist or had stopped: nothing is counted or filled there",
            m.carrier.code(),
            rfc3339(l.start.max(period.start)),
            rfc3339(l.end.min(period.end)),
        ),
    })
}

/// What the report says of a meter: its series' intervals starting in the period, and how
/// many of them have no value.
fn meter_doc(meter: &str, m: &MeterData, s: &IntervalSeries, period: Span) -> MeterDoc {
    // The intervals starting in the period (their starts increase with i).
    let iv = i64::from(s.interval_s);
    let first_at = |t: i64| {
        let k = (t - s.start).div_euclid(iv) + i64::from((t - s.start) % iv != 0);
        usize::try_from(k.max(0)).unwrap_or(0).min(s.values.len())
    };
    let (from, to) = (first_at(period.start), first_at(period.end));
    let in_period = &s.values[from..to.max(from)];
    MeterDoc {
        meter: meter.to_string(),
        device: m.device.clone(),
        carrier: m.carrier.code().into(),
        unit: m.unit.code().into(),
        scope: scope_of(m.carrier).into(),
        interval_s: s.interval_s,
        intervals: in_period.len() as u64,
        missing: in_period.iter().filter(|v| v.is_none()).count() as u64,
    }
}

/// A hash in lower-case hex (as `hex::encode`, through its table-driven slice encoder: a
/// park-year report lists some 37 000 leaves).
fn hex32(h: &[u8; 32]) -> String {
    let mut buf = [0u8; 64];
    match hex::encode_to_slice(h, &mut buf) {
        Ok(()) => buf.iter().map(|&b| char::from(b)).collect(),
        Err(_) => hex::encode(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tanji_readings::DeviceRegistration;

    fn registration(enterprise: &str, meter: &str, carrier: &str, at: i64) -> DeviceRegistration {
        DeviceRegistration {
            device: format!("d-{meter}"),
            public_key: tanji_readings::PublicKey::Ed25519([7; 32]),
            enterprise: enterprise.into(),
            meter: meter.into(),
            carrier: carrier.into(),
            unit: "kWh".into(),
            rated_per_hour_milli: 0,
            registered_at: at,
        }
    }

    fn registered(index: u64, enterprise: &str, meter: &str, at: i64) -> Registered {
        let reg = registration(enterprise, meter, "electricity_import", at);
        Registered { index, reg }
    }

    fn view(registrations: Vec<(u64, DeviceRegistration)>) -> LogView {
        let mut view = LogView::default();
        for (index, reg) in registrations {
            view.registrations.push(index, reg);
        }
        view
    }

    fn factors(regions: &[&str]) -> Factors {
        Factors {
            id: "grid@v2".into(),
            index: 0,
            content_hash: [0; 32],
            method: "m".into(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            calibration_lines: Vec::new(),
            calibrations: Vec::new(),
            series: tanji_factors::Series::default(),
        }
    }

    fn meter(carrier: Carrier) -> MeterData {
        MeterData {
            reg_index: 1,
            device: "d-1".into(),
            carrier,
            unit: Unit::KWh,
        }
    }

    fn span(start: i64, end: i64) -> Span {
        Span { start, end }
    }

    #[test]
    fn the_leaves_must_fold_into_the_signed_root() {
        let leaves: Vec<[u8; 32]> = [&b"a"[..], b"b", b"c"]
            .iter()
            .map(|e| tanji_ledger::leaf_hash(e))
            .collect();
        let mut frontier = tanji_ledger::Frontier::new();
        for lh in &leaves {
            frontier.append(*lh, &mut Vec::new());
        }
        let root = frontier.root();
        assert!(tree_matches(&leaves, 3, &root));
        assert!(!tree_matches(&leaves, 4, &root));
        let mut changed = leaves.clone();
        changed[1] = tanji_ledger::leaf_hash(b"B");
        assert!(!tree_matches(&changed, 3, &root));
    }

    #[test]
    fn the_region_is_the_one_asked_or_the_only_one() {
        let two = factors(&["CN-FJ", "CN-SD"]);
        assert_eq!(choose_region(Some("CN-SD"), &two).expect("listed"), "CN-SD");
        let unknown = choose_region(Some("CN-XX"), &two).expect_err("not listed");
        assert_eq!(
            unknown.to_string(),
            "region \"CN-XX\" is not in publication grid@v2; it has CN-FJ, CN-SD"
        );
        let none = choose_region(None, &two).expect_err("two regions");
        assert!(
            none.to_string().ends_with("name one with --region"),
            "{none}"
        );
        assert_eq!(
            choose_region(None, &factors(&["CN-FJ"])).expect("only"),
            "CN-FJ"
        );
    }

    #[test]
    fn meters_go_to_the_enterprise_of_their_latest_registration() {
        let v = view(vec![
            (1, registration("e-old", "m-1", "electricity_import", 0)),
            (2, registration("e-new", "m-1", "electricity_import", 10)),
            (4, registration("e-new", "m-2", "unobtainium", 10)),
        ]);
        let mut problems = Vec::new();
        let by = meters_by_enterprise(&v, &mut problems);
        assert_eq!(by.keys().collect::<Vec<_>>(), ["e-new"]);
        let m = &by["e-new"]["m-1"];
        assert_eq!((m.reg_index, m.carrier), (2, Carrier::ElectricityImport));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].subject, "entry 4 (registration of m-2)");

        let scope = Scope::Enterprise("e-old".into());
        let err = enterprises_in_scope(&scope, &by, 5).expect_err("not registered now");
        assert!(err
            .to_string()
            .starts_with("no enterprise \"e-old\" is registered in this log (up to entry 5)"));
        assert_eq!(
            enterprises_in_scope(&Scope::Park, &by, 5).expect("park"),
            ["e-new"]
        );
    }

    #[test]
    fn the_default_period_is_all_logged_data_and_an_empty_one_is_refused() {
        let extents = BTreeMap::from([
            ("m-1".to_string(), span(3600, 7200)),
            ("m-2".to_string(), span(0, 5400)),
        ]);
        let e = ["e-1".to_string()];
        assert_eq!(
            period_of(None, &extents, &e, 9).expect("data"),
            span(0, 7200)
        );
        assert_eq!(
            period_of(Some((60, 120)), &extents, &e, 9).expect("given"),
            span(60, 120)
        );
        let empty = period_of(Some((120, 120)), &extents, &e, 9).expect_err("empty");
        assert!(empty
            .to_string()
            .starts_with("period 1970-01-01T00:02:00Z..1970-01-01T00:02:00Z is empty"));
        let none = period_of(None, &BTreeMap::new(), &e, 9).expect_err("no data");
        assert!(none
            .to_string()
            .starts_with("no accepted upload of e-1 is in the log (up to entry 9)"));
    }

    #[test]
    fn the_fixed_factor_goes_to_accounting_in_grams_per_kwh_without_float_noise() {
        let fixed = FixedFactorDoc {
            t_per_mwh: 0.5703,
            basis: "given".into(),
            source: "given".into(),
        };
        let o = options(&fixed, None, PARK_UTC_OFFSET_S);
        let f = o.fixed_factor.expect("a fixed factor");
        assert_eq!(f.value.to_string(), "570.3");
        assert_eq!(o.utc_offset_s, 28_800);
        assert_eq!(o.matching, tanji_accounting::Matching::Annual);
        assert_eq!(
            o.heat.steam_enthalpy_kj_per_kg,
            Some(STEAM_ENTHALPY_KJ_PER_KG)
        );
    }

    #[test]
    fn a_meter_lives_from_its_registration_or_first_data_to_its_last_data() {
        let regs = [registered(3, "e", "m-1", 1000)];
        assert_eq!(
            meter_life(Some(span(4000, 9000)), &regs),
            Some(span(1000, 9000))
        );
        assert_eq!(
            meter_life(Some(span(500, 9000)), &regs),
            Some(span(500, 9000))
        );
        assert_eq!(meter_life(None, &regs), None);
        let m = meter(Carrier::ElectricityImport);
        assert!(life_issue("e", "m-1", &m, Some(span(0, 9000)), span(0, 9000)).is_none());
        let issue =
            life_issue("e", "m-1", &m, Some(span(3600, 9000)), span(0, 7200)).expect("starts late");
        assert!(
            issue
                .message
                .contains("counts from 1970-01-01T01:00:00Z to 1970-01-01T02:00:00Z"),
            "{}",
            issue.message
        );
    }

    #[test]
    fn a_meter_doc_counts_the_intervals_starting_in_the_period() {
        let s = IntervalSeries {
            meter: "m-1".into(),
            carrier: Carrier::Steam,
            unit: Unit::KWh,
            fuel: None,
            start: 0,
            interval_s: 900,
            values: vec![Some(1), None, Some(1), None, None],
        };
        let d = meter_doc("m-1", &meter(Carrier::Steam), &s, span(100, 3600));
        // Intervals at 900, 1800 and 2700 start in the period; two have no value.
        assert_eq!((d.intervals, d.missing), (3, 2));
        assert_eq!(
            (d.scope.as_str(), d.carrier.as_str()),
            ("scope2_heat", "steam")
        );
    }

    #[test]
    fn the_registration_in_force_is_the_last_one_logged_before_the_upload() {
        let regs = [registered(2, "e", "m-1", 0), registered(8, "e", "m-1", 0)];
        assert_eq!(in_force(&regs, 5).map(|r| r.index), Some(2));
        assert_eq!(in_force(&regs, 9).map(|r| r.index), Some(8));
        // A history imported before the meter's registration is logged.
        assert_eq!(in_force(&regs, 1).map(|r| r.index), Some(8));
        assert!(in_force(&[], 1).is_none());
    }

    #[test]
    fn an_import_counts_its_values_in_the_period_and_its_entries() {
        let (a, b) = ([1, 2, 3, 4], [5, 6]);
        let row = |index, start, values| Row {
            index,
            device: "import-op",
            seq: index,
            meter: "m-1",
            start,
            interval_s: 900,
            unit: "kWh",
            decimals: 3,
            values,
        };
        let (r1, r2) = (row(7, 0, &a[..]), row(4, 3600, &b[..]));
        let mut i = Imported::new(&r1);
        let period = span(900, 4500);
        i.add(&r1, period);
        i.add(&r2, period);
        assert_eq!((i.values, i.first, i.last), (4, 4, 7));
        let imported = BTreeMap::from([("m-1", i)]);
        let mut issues = Vec::new();
        imported_issues(&imported, &BTreeMap::new(), &mut issues);
        assert!(
            issues.is_empty(),
            "an import of another enterprise's meter is not ours"
        );
        let meters = BTreeMap::from([("m-1".to_string(), meter(Carrier::ElectricityImport))]);
        imported_issues(&imported, &meters, &mut issues);
        assert_eq!(
            issues[0].message,
            "4 value(s) of meter m-1 in the period come from an operator import (import-op, entries 4..=7), not from the meter's own device"
        );
    }

    #[test]
    fn an_entry_is_listed_once() {
        let mut acc = Collected::new(3, Vec::new());
        assert!(acc.first_use(1));
        assert!(!acc.first_use(1));
        assert!(!acc.first_use(3), "beyond the checkpoint");
        acc.used_by("e", 2);
        acc.used_by("e", 1);
        assert_eq!(acc.uploads_of["e"], [2, 1]);
    }
}
