//! Stage: data issues that belong to no single figure's stage: gaps and how they were
//! filled with their effect, intervals without a factor, quantities that could not be
//! converted.

use super::location::Sums;
use super::series::{Filled, Run};
use super::{round_g, Span};
use crate::gaps::Fill;
use crate::report::{DataIssue, IssueKind};

/// Quantity `total` of meter `f` that is not counted, and why (`what`).
pub(super) fn unconvertible(f: &Filled<'_>, total: i64, what: &str) -> DataIssue {
    let span = f.span().unwrap_or(Span { start: 0, end: 0 });
    DataIssue {
        kind: IssueKind::Unconvertible,
        meter: Some(f.meter.to_owned()),
        start: span.start,
        end: span.end,
        intervals: f.len as u64,
        quantity_milli: total,
        effect_g: 0,
        message: format!(
            "meter {} ({} in {}): not counted: {what}",
            f.meter, f.carrier, f.unit
        ),
    }
}

/// The `missing_factor` issue of grid meter `f`, whose `sums` count intervals without a
/// factor in series `series_id`; with a fixed factor they were counted at it.
pub(super) fn missing_factor(
    f: &Filled<'_>,
    sums: &Sums,
    import: bool,
    fixed: Option<f64>,
    series_id: &str,
) -> DataIssue {
    let how = match fixed {
        Some(fx) => format!("counted at the fixed factor {fx} g/kWh"),
        None => "not counted (no fixed factor given)".to_owned(),
    };
    DataIssue {
        kind: IssueKind::MissingFactor,
        meter: Some(f.meter.to_owned()),
        start: sums.span.start,
        end: sums.span.end,
        intervals: sums.missing_n,
        quantity_milli: (sums.missing_wh.round() as i64).saturating_mul(1000),
        effect_g: if import { round_g(sums.missing_g) } else { 0 },
        message: format!(
            "meter {}: {} intervals ({:.3} kWh) have no factor in series {series_id}; {how}. \
             Publish a factor series covering the period.",
            f.meter,
            sums.missing_n,
            sums.missing_wh / 1000.0,
        ),
    }
}

/// One issue per run of filled values, in series order, with the emissions `effects` counted
/// for its intervals (none for a run that could not be filled).
pub(super) fn gaps(filled: &[Filled<'_>], effects: &[Vec<f64>], issues: &mut Vec<DataIssue>) {
    for (f, eff) in filled.iter().zip(effects) {
        for run in &f.runs {
            issues.push(gap(f, run, eff));
        }
    }
}

fn gap(f: &Filled<'_>, run: &Run, eff: &[f64]) -> DataIssue {
    let Run {
        start,
        end,
        milli,
        fill,
        idx,
    } = run;
    let effect: f64 = eff[idx.clone()].iter().sum();
    let n = idx.len() as u64;
    let (kind, how) = match fill {
        Fill::Linear => (
            IssueKind::GapLinear,
            "interpolated linearly between its neighbours",
        ),
        Fill::Profile => (
            IssueKind::GapProfile,
            "filled with the mean of the same interval-of-day over the measured days",
        ),
        _ => (
            IssueKind::GapUnfilled,
            "not filled (no measured value at that time of day): counted as zero",
        ),
    };
    let effect_g = if *fill == Fill::Missing {
        0
    } else {
        round_g(effect)
    };
    DataIssue {
        kind,
        meter: Some(f.meter.to_owned()),
        start: *start,
        end: *end,
        intervals: n,
        quantity_milli: *milli,
        effect_g,
        message: format!(
            "meter {}: {n} missing intervals {how}; filled {} {}, {:.6} tCO2",
            f.meter,
            *milli as f64 / 1000.0,
            f.unit,
            effect_g as f64 / 1e6
        ),
    }
}

#[cfg(test)]
mod tests {
    use tanji_units::{Carrier, Unit};

    use super::super::series::{prepare, Clip};
    use super::super::testing::series;
    use super::*;
    use crate::input::Options;

    #[test]
    fn a_filled_gap_carries_the_emissions_of_its_intervals() {
        // 10, _, _, 40 → 20 and 30 filled; their intervals' g are 2.4 and 3.4.
        let s = series(
            "m",
            Carrier::ElectricityImport,
            Unit::KWh,
            0,
            900,
            vec![Some(10), None, None, Some(40)],
        );
        let f = prepare(&s, Clip { first: 0, last: 4 }, &Options::default());
        let mut issues = Vec::new();
        gaps(&[f], &[vec![1.0, 2.4, 3.4, 4.0]], &mut issues);
        assert_eq!(issues.len(), 1);
        let i = &issues[0];
        assert_eq!(i.kind, IssueKind::GapLinear);
        assert_eq!(
            (i.start, i.end, i.intervals, i.quantity_milli, i.effect_g),
            (900, 2_700, 2, 50, 6)
        );
        assert_eq!(
            i.message,
            "meter m: 2 missing intervals interpolated linearly between its neighbours; \
             filled 0.05 kWh, 0.000006 tCO2"
        );
    }

    #[test]
    fn an_unfilled_gap_has_no_effect() {
        // One day only, a gap longer than the linear limit: no profile to fill it from.
        let mut v = vec![None; 8];
        (v[0], v[7]) = (Some(5), Some(5));
        let s = series("m", Carrier::ElectricityImport, Unit::KWh, 0, 900, v);
        let f = prepare(&s, Clip { first: 0, last: 8 }, &Options::default());
        let mut issues = Vec::new();
        gaps(&[f], &[vec![9.0; 8]], &mut issues);
        assert_eq!(issues[0].kind, IssueKind::GapUnfilled);
        assert_eq!((issues[0].intervals, issues[0].effect_g), (6, 0));
    }

    #[test]
    fn an_unconvertible_quantity_names_meter_carrier_unit_and_span() {
        let s = series(
            "s",
            Carrier::Steam,
            Unit::T,
            3_600,
            3_600,
            vec![Some(2_000); 2],
        );
        let f = prepare(&s, Clip { first: 0, last: 2 }, &Options::default());
        let i = unconvertible(&f, 4_000, "why");
        assert_eq!(
            (i.start, i.end, i.intervals, i.effect_g),
            (3_600, 10_800, 2, 0)
        );
        assert_eq!(i.message, "meter s (steam in t): not counted: why");
    }
}
