//! What a report says besides accounting's figures: the fixed factor of the comparison, how
//! far the factor series covers the grid intervals, the share of filled values, park totals,
//! and the data issues these give.

use std::collections::BTreeSet;

use tanji_accounting::{FactorLookup as _, IntervalSeries, TableFactors};
use tanji_units::time::rfc3339;
use tanji_units::Carrier;

use super::rows::Span;
use super::FixedChoice;
use crate::doc::{
    EnterpriseDoc, FactorCoverage, FilledShare, FixedFactorDoc, IssueDoc, MeterDoc, Totals,
};
use crate::gather::Factors;
use crate::ReportError;

/// The scope a carrier's emissions count in.
pub(super) fn scope_of(carrier: Carrier) -> &'static str {
    match carrier {
        Carrier::ElectricityImport | Carrier::ElectricityExport | Carrier::PvGeneration => "scope2",
        Carrier::Steam | Carrier::Heat => "scope2_heat",
        _ => "scope1",
    }
}

/// The fixed annual factor of the comparison: given, the publication's calibration target for
/// `region`, or the series' consumption-weighted mean (rounded to 4 decimals of tCO2/MWh).
pub(super) fn fixed_factor(
    fixed: FixedChoice,
    f: &Factors,
    region: &str,
) -> Result<FixedFactorDoc, ReportError> {
    if let FixedChoice::Given(t) = fixed {
        if !(t.is_finite() && t >= 0.0) {
            return Err(ReportError::Request(format!(
                "fixed factor {t} tCO2/MWh is not a finite, non-negative number"
            )));
        }
        return Ok(FixedFactorDoc {
            t_per_mwh: t,
            basis: "given".into(),
            source: format!("given by the report's requester ({t} tCO2/MWh)"),
        });
    }
    if let Some(c) = f.calibrations.iter().find(|c| c.region == region) {
        let t = c.t_per_mwh;
        return Ok(FixedFactorDoc {
            t_per_mwh: t,
            basis: "calibration_target".into(),
            source: format!(
                "the official annual figure publication {} was calibrated to for {region} ({t} tCO2/MWh)",
                f.id
            ),
        });
    }
    let g = f.weighted_mean(region).ok_or_else(|| {
        ReportError::Factors(format!(
            "{}: region {region} has no factors to average; give --fixed-factor",
            f.id
        ))
    })?;
    let t = (g * 10.0).round() / 10_000.0;
    Ok(FixedFactorDoc {
        t_per_mwh: t,
        basis: "weighted_mean".into(),
        source: format!(
            "consumption-weighted mean of publication {} for {region} ({t} tCO2/MWh)",
            f.id
        ),
    })
}

/// The park totals of `reports`' figures (coverage and filled share are added by the caller).
pub(crate) fn totals(reports: &[EnterpriseDoc]) -> Totals {
    let get = |v: &serde_json::Value, path: &[&str]| -> i64 {
        let mut cur = v;
        for p in path {
            match cur.get(p) {
                Some(x) => cur = x,
                None => return 0,
            }
        }
        cur.as_i64().unwrap_or(0)
    };
    let mut t = Totals {
        enterprises: reports.len() as u64,
        scope1_g: 0,
        scope2_location_g: 0,
        scope2_market_g: 0,
        import_wh: 0,
        export_wh: 0,
        pv_self_consumed_wh: 0,
        consumption_wh: 0,
        fixed_g: 0,
        dynamic_g: 0,
        difference_g: 0,
        difference_pct: None,
        green_wh: 0,
        green_share: None,
        factor_coverage: None,
        filled_share: None,
    };
    for r in reports {
        let f = &r.figures;
        t.scope1_g += get(f, &["scope1", "fossil_g"]);
        t.scope2_location_g += get(f, &["scope2_location", "total_g"]);
        t.scope2_market_g += get(f, &["scope2_market", "total_g"]);
        t.import_wh += get(f, &["scope2_location", "import_wh"]);
        t.export_wh += get(f, &["scope2_location", "export_wh"]);
        t.pv_self_consumed_wh += get(f, &["scope2_location", "pv_self_consumed_wh"]);
        t.consumption_wh += get(f, &["scope2_location", "consumption_wh"]);
        t.fixed_g += get(f, &["comparison", "fixed_g"]);
        t.dynamic_g += get(f, &["comparison", "dynamic_g"]);
        t.difference_g += get(f, &["comparison", "difference_g"]);
        t.green_wh += get(f, &["indicators", "green_wh"]);
    }
    t.difference_pct = (t.fixed_g != 0).then(|| t.difference_g as f64 / t.fixed_g as f64 * 100.0);
    t.green_share = (t.consumption_wh > 0).then(|| t.green_wh as f64 / t.consumption_wh as f64);
    t
}

/// Whether `lookup` gives a factor for the whole of `[t, t + len)`.
fn has_factor(lookup: &TableFactors, t: i64, len: i64) -> bool {
    let mut cur = t;
    while let Some(f) = lookup.factor_at(cur) {
        if f.end >= t + len {
            return true;
        }
        if f.end <= cur {
            return false;
        }
        cur = f.end;
    }
    false
}

/// How many grid intervals a report has, and how many of them the factor series misses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GridCoverage {
    pub intervals: u64,
    pub without_factor: u64,
}

/// How far `lookup` covers the grid intervals (electricity import and export) of `series`
/// that start in `period`.
pub(super) fn grid_coverage(
    series: &[IntervalSeries],
    period: Span,
    lookup: &TableFactors,
) -> GridCoverage {
    let mut c = GridCoverage {
        intervals: 0,
        without_factor: 0,
    };
    let grid = |s: &&IntervalSeries| {
        matches!(
            s.carrier,
            Carrier::ElectricityImport | Carrier::ElectricityExport
        )
    };
    for s in series.iter().filter(grid) {
        let iv = i64::from(s.interval_s);
        for i in 0..s.values.len() {
            let t = s.start + i as i64 * iv;
            if !period.contains(t) {
                continue;
            }
            c.intervals += 1;
            if !has_factor(lookup, t, iv) {
                c.without_factor += 1;
            }
        }
    }
    c
}

/// The factor coverage of one enterprise's grid intervals by series `id` spanning `span`.
pub(super) fn coverage(id: &str, span: Option<Span>, c: GridCoverage) -> FactorCoverage {
    FactorCoverage {
        series: id.to_string(),
        series_from: span.map_or_else(String::new, |s| rfc3339(s.start)),
        series_to: span.map_or_else(String::new, |s| rfc3339(s.end)),
        intervals: c.intervals,
        intervals_without_factor: c.without_factor,
        complete: c.without_factor == 0,
    }
}

/// The factor coverage of every report of `reports`, summed.
pub(super) fn sum_coverage(
    id: &str,
    span: Option<Span>,
    reports: &[EnterpriseDoc],
) -> FactorCoverage {
    let sum = reports
        .iter()
        .filter_map(|r| r.factor_coverage.as_ref())
        .fold(
            GridCoverage {
                intervals: 0,
                without_factor: 0,
            },
            |s, c| GridCoverage {
                intervals: s.intervals + c.intervals,
                without_factor: s.without_factor + c.intervals_without_factor,
            },
        );
    coverage(id, span, sum)
}

/// The share of `meters`' values that are filled.
pub(super) fn filled_share(meters: &[MeterDoc]) -> FilledShare {
    let values: u64 = meters.iter().map(|m| m.intervals).sum();
    let filled_values: u64 = meters.iter().map(|m| m.missing).sum();
    share_of(filled_values, values)
}

/// The filled share of every report of `reports`, summed.
pub(super) fn sum_filled(reports: &[EnterpriseDoc]) -> FilledShare {
    let (filled, values) = reports
        .iter()
        .filter_map(|r| r.filled_share.as_ref())
        .fold((0, 0), |(f, v), s| (f + s.filled_values, v + s.values));
    share_of(filled, values)
}

fn share_of(filled_values: u64, values: u64) -> FilledShare {
    FilledShare {
        filled_values,
        values,
        share: if values > 0 {
            filled_values as f64 / values as f64
        } else {
            0.0
        },
    }
}

/// The data issue of a factor series that does not cover every grid interval of the report:
/// which series, its span, the period asked, what it does to the figures and how to fix it.
pub(super) fn coverage_issue(
    c: &FactorCoverage,
    region: &str,
    period: Span,
    fixed: &FixedFactorDoc,
    short: &[&str],
) -> IssueDoc {
    IssueDoc {
        kind: "factor_coverage".into(),
        subject: format!("factors {}", c.series),
        message: format!(
            "factor series {} ({region}) covers {} to {}, but the period asked is {} to {}: \
{} of {} grid intervals ({}) have no hourly factor and are counted at the fixed annual factor \
{} tCO2/MWh, so for them the dynamic figure is the fixed one and the fixed-vs-dynamic \
difference says nothing. Publish a factor series covering the period (`tanji factors compute \
--generation GENERATION.csv --out factors.csv && tanji factors publish factors.csv --dir \
PARK_DIR`, with generation data for those dates) and report with `--factors NAME`, or report \
a period inside the series' span (`--from`, `--to`).",
            c.series,
            c.series_from,
            c.series_to,
            rfc3339(period.start),
            rfc3339(period.end),
            c.intervals_without_factor,
            c.intervals,
            short.join(", "),
            fixed.t_per_mwh,
        ),
    }
}

/// Sequence gaps of `device`, given its logged sequence numbers (over the whole log up to
/// the checkpoint).
pub(super) fn sequence_gaps(
    device: &str,
    seqs: Option<&BTreeSet<u64>>,
    issues: &mut Vec<IssueDoc>,
) {
    let mut expect = 1;
    for &s in seqs.into_iter().flatten() {
        if s > expect {
            issues.push(IssueDoc {
                kind: "sequence_gap".into(),
                subject: format!("device {device}"),
                message: format!(
                    "records {expect}..={} of {device} are not in the log: the intervals they would cover show as gaps",
                    s - 1
                ),
            });
        }
        expect = s + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tanji_accounting::SeriesFactors;
    use tanji_factors::FactorRow;

    fn factor_row(region: &str, start: i64, direct: f64, mwh: f64) -> FactorRow {
        FactorRow {
            region: region.into(),
            start,
            end: start + 3600,
            production_direct: None,
            production_lifecycle: None,
            consumption_direct: Some(direct),
            consumption_lifecycle: None,
            consumption_mwh: mwh,
        }
    }

    fn factors(rows: Vec<FactorRow>) -> Factors {
        Factors {
            id: "f@v1".into(),
            index: 0,
            content_hash: [0; 32],
            method: "m".into(),
            regions: vec!["R".into()],
            calibration_lines: Vec::new(),
            calibrations: Vec::new(),
            series: tanji_factors::Series {
                rows,
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_default_fixed_factor_is_the_consumption_weighted_mean() {
        // (400 × 1 + 700 × 3) / 4 = 625 g/kWh = 0.625 tCO2/MWh.
        let f = factors(vec![
            factor_row("R", 0, 400.0, 1.0),
            factor_row("R", 3600, 700.0, 3.0),
        ]);
        let d = fixed_factor(FixedChoice::Default, &f, "R").expect("a mean");
        assert_eq!((d.t_per_mwh, d.basis.as_str()), (0.625, "weighted_mean"));
        assert!(fixed_factor(FixedChoice::Default, &f, "other").is_err());
        assert!(fixed_factor(FixedChoice::Given(-1.0), &f, "R").is_err());
        let given = fixed_factor(FixedChoice::Given(0.5703), &f, "R").expect("given");
        assert_eq!((given.t_per_mwh, given.basis.as_str()), (0.5703, "given"));
    }

    #[test]
    fn a_calibration_target_is_the_default_fixed_factor() {
        let mut f = factors(vec![factor_row("R", 0, 400.0, 1.0)]);
        f.calibrations.push(tanji_park::view::CalibrationTarget {
            region: "R".into(),
            t_per_mwh: 0.4092,
        });
        let d = fixed_factor(FixedChoice::Default, &f, "R").expect("the target");
        assert_eq!(
            (d.t_per_mwh, d.basis.as_str()),
            (0.4092, "calibration_target")
        );
    }

    #[test]
    fn grid_coverage_counts_grid_intervals_in_the_period_without_a_factor() {
        let series = tanji_factors::Series {
            rows: vec![factor_row("R", 0, 500.0, 1.0)],
            ..Default::default()
        };
        let lookup = TableFactors::from_series(&SeriesFactors {
            series: &series,
            region: "R".into(),
            id: "f@v1".into(),
        });
        let s = |carrier| IntervalSeries {
            meter: "m".into(),
            carrier,
            unit: tanji_units::Unit::KWh,
            fuel: None,
            start: 0,
            interval_s: 1800,
            values: vec![Some(1); 4],
        };
        let all = [s(Carrier::ElectricityImport), s(Carrier::NaturalGas)];
        let c = grid_coverage(
            &all,
            Span {
                start: 0,
                end: 5400,
            },
            &lookup,
        );
        // Three import intervals start in the period; the factor covers the first two.
        assert_eq!(
            c,
            GridCoverage {
                intervals: 3,
                without_factor: 1
            }
        );
        assert!(!coverage("f@v1", None, c).complete);
    }

    #[test]
    fn sequence_gaps_name_the_missing_records() {
        let mut issues = Vec::new();
        sequence_gaps("d-1", Some(&BTreeSet::from([1, 2, 5, 6, 9])), &mut issues);
        let messages: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("records 3..=4 of d-1"));
        assert!(messages[1].starts_with("records 7..=8 of d-1"));
    }

    #[test]
    fn totals_add_the_enterprises_figures() {
        let doc = |scope1: i64, fixed: i64, diff: i64| EnterpriseDoc {
            enterprise: "e".into(),
            meters: Vec::new(),
            uploads: 0,
            figures: serde_json::json!({
                "scope1": {"fossil_g": scope1},
                "comparison": {"fixed_g": fixed, "difference_g": diff},
            }),
            products: None,
            factor_coverage: None,
            filled_share: Some(share_of(1, 4)),
        };
        let t = totals(&[doc(10, 100, -5), doc(5, 300, -15)]);
        assert_eq!(
            (t.enterprises, t.scope1_g, t.fixed_g, t.difference_g),
            (2, 15, 400, -20)
        );
        assert_eq!(t.difference_pct, Some(-5.0));
        assert_eq!(t.green_share, None);
        let f = sum_filled(&[doc(0, 0, 0), doc(0, 0, 0)]);
        assert_eq!((f.filled_values, f.values, f.share), (2, 8, 0.25));
    }
}
