//! The computation behind [`crate::compute`], as named stages over one pass through the
//! series:
//!
//! - [`series`]: check each series, clip it to the period, fill its gaps;
//! - [`location`]: grid import and export at each interval's factor (through [`lookup`]),
//!   PV, into per-hour aggregates ([`hours`]);
//! - [`heat`]: purchased heat and steam;
//! - [`scope1`]: fuel combustion;
//! - [`issues`]: gaps with their effect, missing factors, unconvertible quantities;
//! - [`market`]: market-based Scope 2 and the hourly CFE match;
//! - [`comparison`]: the fixed-factor figure beside the dynamic one, season and timing;
//! - [`indicators`]: shares and intensities.

mod comparison;
mod heat;
mod hours;
mod indicators;
mod issues;
mod location;
mod lookup;
mod market;
mod scope1;
mod series;

use tanji_units::Carrier;

use crate::factor::FactorLookup;
use crate::input::{Inputs, Options, Residual};
use crate::report::*;
use crate::{AccountingError, METHOD};

use indicators::{OtherEnergy, Totals};
use location::Grid;
use series::Filled;

const HOUR: i64 = 3600;

/// `x.round() as i64` (half away from zero), without the library call `f64::round` is on
/// targets without SSE4.1: whole numbers from 2^52 up are returned as they are, below that the
/// fraction is exact.
fn round_g(x: f64) -> i64 {
    const WHOLE: f64 = 4_503_599_627_370_496.0; // 2^52
    if x.is_nan() || x.abs() >= WHOLE {
        return x as i64; // whole already, infinite or NaN: as `round` then `as` would
    }
    let t = x as i64; // toward zero
    let frac = x - t as f64;
    // Without branches: whether a value rounds up is as good as random, and a mispredicted
    // branch per interval cost more than the rest of the arithmetic.
    t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
}

/// A half-open span of time `[start, end)`, Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: i64,
    end: i64,
}

impl Span {
    /// Seconds `self` and `other` have in common.
    fn overlap(self, other: Span) -> i64 {
        (self.end.min(other.end) - self.start.max(other.start)).max(0)
    }
}

/// Bounds of the sums of |Wh| and |g| over the grid-import intervals: the per-hour sums stand
/// for sums over intervals only while these stay below 2^53 (exact in f64).
#[derive(Clone, Copy, Debug, Default)]
struct Bound {
    wh: i128,
    g: i128,
}

impl Bound {
    const EXACT: i128 = 1 << 53;

    fn exact(self) -> bool {
        self.wh < Self::EXACT && self.g < Self::EXACT
    }
}

/// What the meters add up to, series by series, in input order.
struct Tally {
    loc: Scope2Location,
    scope1: Scope1,
    energy: OtherEnergy,
    issues: Vec<DataIssue>,
    /// Grid-import intervals without an hourly factor, for the comparison.
    import_without_factor: u64,
    bound: Bound,
}

impl Tally {
    fn new(opts: &Options) -> Tally {
        Tally {
            loc: Scope2Location {
                import_wh: 0,
                electricity_g: 0,
                export_wh: 0,
                export_g: 0,
                exports_netted: opts.net_exports,
                pv_generation_wh: 0,
                pv_self_consumed_wh: 0,
                consumption_wh: 0,
                heat: Vec::new(),
                heat_g: 0,
                total_g: 0,
            },
            scope1: Scope1 {
                lines: Vec::new(),
                fossil_g: 0,
                biogenic_g: 0,
            },
            energy: OtherEnergy::default(),
            issues: Vec::new(),
            import_without_factor: 0,
            bound: Bound::default(),
        }
    }
}

pub(crate) fn run(
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
) -> Result<Report, AccountingError> {
    compute(inputs, lookup, opts, None, false)
}

/// [`run`], plus every counted interval of every grid-import, fuel, heat and steam meter with
/// the emissions it contributed (the same figures the report's totals are sums of).
pub(crate) fn run_detailed(
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
) -> Result<(Report, Vec<IntervalEmission>), AccountingError> {
    let mut intervals = Vec::new();
    let report = compute(inputs, lookup, opts, Some(&mut intervals), false)?;
    Ok((report, intervals))
}

/// The longest period computed: 100 years (hourly aggregates are kept for every hour of it).
const MAX_PERIOD_S: i64 = 100 * 366 * 86_400;

/// The report; with `intervals`, also the per-interval emissions behind it. With
/// `force_per_interval`, the market-based figure is summed interval by interval even where
/// per-hour sums give the same result.
fn compute(
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
    intervals: Option<&mut Vec<IntervalEmission>>,
    force_per_interval: bool,
) -> Result<Report, AccountingError> {
    check_period(inputs)?;
    check_options(opts)?;
    let clips = series::clip(inputs)?;
    // Without instruments, every import interval counts in the market-based figure as it is
    // (see `market`): its sums per hour are enough.
    let per_interval =
        force_per_interval || !inputs.certificates.is_empty() || !inputs.purchases.is_empty();
    let mut grid = Grid::new(inputs, &clips, lookup, opts, per_interval);
    let mut tally = Tally::new(opts);
    let mut filled = Vec::with_capacity(clips.len());
    // Each interval's emissions (g), kept only where they are needed: for the effect of a
    // gap, and for `intervals`.
    let mut effects: Vec<Vec<f64>> = Vec::with_capacity(clips.len());
    for (s, &clip) in inputs.series.iter().zip(&clips) {
        let f = series::prepare(s, clip, opts);
        let need_eff = intervals.is_some() || !f.runs.is_empty();
        let mut eff = if need_eff {
            vec![0.0; f.len]
        } else {
            Vec::new()
        };
        meter(&f, inputs, lookup, opts, &mut grid, &mut eff, &mut tally)?;
        filled.push(f);
        effects.push(eff);
    }
    if grid.imports.is_none() && !tally.bound.exact() {
        // Past 2^53 (a few Gt) per-hour sums are no longer exact: interval by interval.
        return compute(inputs, lookup, opts, intervals, true);
    }
    if let Some(intervals) = intervals {
        series::interval_emissions(&filled, &effects, intervals);
    }
    issues::gaps(&filled, &effects, &mut tally.issues);
    location::close(&mut grid.hours, &mut tally.loc, opts.net_exports);
    let market = market::market(
        inputs,
        opts,
        &mut grid.hours,
        grid.imports.as_deref(),
        &tally.loc,
    );
    if matches!(opts.residual, Residual::Grid) && market.scope2.uncovered_import_wh > 0 {
        let issue = market::residual_location_issue(inputs, opts, &market.scope2);
        tally.issues.push(issue);
    }
    let comparison = opts
        .fixed_factor
        .as_ref()
        .zip(grid.by_hour.as_ref())
        .map(|(fx, b)| comparison::compare(fx, b, tally.import_without_factor));
    let indicators = indicators::indicators(
        &Totals {
            scope1: &tally.scope1,
            loc: &tally.loc,
            market_total_g: market.scope2.total_g,
            applied_wh: market.scope2.applied_wh,
            cfe_matched_wh: market.cfe_matched_wh,
            energy: tally.energy,
        },
        inputs.output.as_ref(),
    );
    Ok(Report {
        method: METHOD.to_owned(),
        factor_series: lookup.series_id().to_owned(),
        enterprise: inputs.enterprise.clone(),
        period_start: inputs.period_start,
        period_end: inputs.period_end,
        utc_offset_s: opts.utc_offset_s,
        scope1: tally.scope1,
        scope2_location: tally.loc,
        scope2_market: market.scope2,
        comparison,
        indicators,
        issues: tally.issues,
    })
}

/// One meter of the period into the tally, by what it measures.
fn meter(
    f: &Filled<'_>,
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
    grid: &mut Grid<'_>,
    eff: &mut [f64],
    tally: &mut Tally,
) -> Result<(), AccountingError> {
    match f.carrier {
        Carrier::ElectricityImport | Carrier::ElectricityExport => {
            let sums = grid.meter(f, eff);
            let fixed = opts.fixed_factor.as_ref().map(|x| x.value);
            location::count_meter(tally, f, &sums, fixed, lookup.series_id());
        }
        Carrier::PvGeneration => tally.loc.pv_generation_wh += grid.pv(f),
        Carrier::Steam | Carrier::Heat => heat::heat(f, opts, eff, tally),
        _ => scope1::fuel(f, inputs, opts, eff, tally)?,
    }
    Ok(())
}

/// The period must be non-empty and at most [`MAX_PERIOD_S`] long.
fn check_period(inputs: &Inputs) -> Result<(), AccountingError> {
    if inputs.period_end <= inputs.period_start {
        return Err(AccountingError::Period {
            start: inputs.period_start,
            end: inputs.period_end,
        });
    }
    if i128::from(inputs.period_end) - i128::from(inputs.period_start) > i128::from(MAX_PERIOD_S) {
        return Err(AccountingError::PeriodTooLong {
            start: inputs.period_start,
            end: inputs.period_end,
        });
    }
    Ok(())
}

fn check_options(opts: &Options) -> Result<(), AccountingError> {
    let mut named = vec![
        ("heat factor", opts.heat.heat_t_per_gj.value),
        ("steam factor", opts.heat.steam_t_per_gj.value),
    ];
    if let Some(f) = &opts.fixed_factor {
        named.push(("fixed factor", f.value));
    }
    if let Residual::Fixed(f) = &opts.residual {
        named.push(("residual factor", f.value));
    }
    for (what, v) in named {
        if !v.is_finite() || v < 0.0 {
            return Err(AccountingError::Factor {
                what: what.to_owned(),
                value: v,
            });
        }
    }
    Ok(())
}

/// Small inputs for the stages' tests.
#[cfg(test)]
mod testing {
    use tanji_units::{Carrier, Unit};

    use crate::input::{Inputs, IntervalSeries};

    /// Meter `meter`'s series from `start`, `interval_s` apart.
    pub(super) fn series(
        meter: &str,
        carrier: Carrier,
        unit: Unit,
        start: i64,
        interval_s: u32,
        values: Vec<Option<i64>>,
    ) -> IntervalSeries {
        IntervalSeries {
            meter: meter.to_owned(),
            carrier,
            unit,
            fuel: None,
            start,
            interval_s,
            values,
        }
    }

    /// Enterprise `e` over `[start, end)`.
    pub(super) fn inputs(start: i64, end: i64, series: Vec<IntervalSeries>) -> Inputs {
        Inputs {
            enterprise: "e".to_owned(),
            period_start: start,
            period_end: end,
            series,
            certificates: Vec::new(),
            purchases: Vec::new(),
            output: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use tanji_units::Unit;

    use super::*;
    use crate::factor::TableFactors;
    use crate::input::{IntervalSeries, Matching, NamedFactor};

    /// Without instruments the market-based figure comes from per-hour sums; summed interval
    /// by interval (as with instruments) it must be the same, to the bit.
    #[test]
    fn per_hour_market_sums_equal_the_per_interval_ones() {
        let start = 1_767_225_600; // 2026-01-01T00:00Z
        let series =
            |meter: &str, carrier, offset: i64, f: &dyn Fn(usize) -> Option<i64>| IntervalSeries {
                meter: meter.to_owned(),
                carrier,
                unit: Unit::KWh,
                fuel: None,
                start: start + offset,
                interval_s: 900,
                values: (0..96 * 20).map(f).collect(),
            };
        let inputs = Inputs {
            enterprise: "e".to_owned(),
            period_start: start,
            period_end: start + 20 * 86_400,
            series: vec![
                // Negative hours (import_wh <= 0 there), gaps, a second meter off the hour.
                series("a", Carrier::ElectricityImport, 0, &|i| {
                    (i % 97 != 5).then_some(if i % 96 < 8 {
                        -40_000
                    } else {
                        12_345 + i as i64
                    })
                }),
                series("b", Carrier::ElectricityImport, 450, &|i| {
                    Some((i * 37 % 1_000) as i64)
                }),
                series("x", Carrier::ElectricityExport, 0, &|i| {
                    Some((i % 3) as i64 * 700)
                }),
                series("p", Carrier::PvGeneration, 0, &|i| {
                    Some((i % 96) as i64 * 50)
                }),
            ],
            certificates: Vec::new(),
            purchases: Vec::new(),
            output: None,
        };
        let g: Vec<f64> = (0..24 * 21)
            .map(|h| 400.0 + (h % 24) as f64 * 7.3)
            .collect();
        let table = TableFactors::regular("t", start - 3_600, 3_600, &g);
        for (matching, residual) in [
            (Matching::Annual, Residual::Grid),
            (Matching::Hourly, Residual::Grid),
            (Matching::Annual, Residual::ChinaExcludingTraded),
        ] {
            let opts = Options {
                matching,
                residual,
                fixed_factor: Some(NamedFactor {
                    value: 500.0,
                    source: "test".to_owned(),
                }),
                ..Options::default()
            };
            let fast = compute(&inputs, &table, &opts, None, false).unwrap();
            let slow = compute(&inputs, &table, &opts, None, true).unwrap();
            assert_eq!(fast, slow);
            // The hours whose import sums to less than zero (meter a runs backwards in the
            // first two hours of each day) count nothing in the market-based figure.
            assert!(fast.scope2_market.electricity_g > fast.scope2_location.electricity_g);
            assert!(fast.scope2_market.uncovered_import_wh > fast.scope2_location.import_wh);
        }
    }

    #[test]
    fn round_g_is_round_half_away_from_zero() {
        let edge = [
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.499_999_999_999_999_94,
            -0.499_999_999_999_999_94,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_497.0,
            9.3e18,
            -9.3e18,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        let mut x = 0.123_456_789_f64;
        let spread = (0..10_000).map(|i| {
            x = (x * 1.618_033_988_749_895 + 0.1).fract();
            (x - 0.5) * 10f64.powi(i % 14)
        });
        for v in edge.into_iter().chain(spread) {
            assert_eq!(round_g(v), v.round() as i64, "{v}");
        }
    }
}
