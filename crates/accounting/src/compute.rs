//! The computation behind [`crate::compute`].

use tanji_units::{is_allowed_interval, Carrier, Dimension, Unit};

use crate::factor::{FactorInterval, FactorLookup};
use crate::gaps::{div_round, fill, Fill, GapRun};
use crate::input::{Inputs, Matching, NamedFactor, Options, Residual};
use crate::report::*;
use crate::{AccountingError, METHOD};

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
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

/// Thousandths of an electricity unit to Wh (exact ratio, rounded half away from zero).
fn milli_to_wh(milli: i64, unit: Unit) -> i64 {
    ToWh::new(unit).wh(milli)
}

/// [`milli_to_wh`] for one unit, worked out once per series.
#[derive(Clone, Copy)]
struct ToWh {
    num: i128,
    den: i128,
    /// The ratio when it is a whole number (kWh: 1): then the conversion is a multiplication.
    times: Option<i64>,
}

impl ToWh {
    fn new(unit: Unit) -> ToWh {
        let r = unit.to_base();
        let (num, den) = (i128::from(r.num), i128::from(r.den) * 1000);
        ToWh {
            num,
            den,
            times: (num % den == 0)
                .then(|| i64::try_from(num / den).ok())
                .flatten(),
        }
    }

    fn wh(self, milli: i64) -> i64 {
        if let Some(v) = self.times.and_then(|k| milli.checked_mul(k)) {
            return v;
        }
        i64::try_from(div_round(i128::from(milli) * self.num, self.den)).unwrap_or(i64::MAX)
    }
}

/// One interval of a filled series inside the period.
struct Point {
    t: i64,
    milli: i64,
}

/// A filled, clipped series.
struct Filled<'a> {
    meter: &'a str,
    carrier: Carrier,
    unit: Unit,
    fuel: Option<&'a str>,
    interval_s: i64,
    points: Vec<Point>,
    runs: Vec<(i64, i64, u64, i64, Fill, Vec<usize>)>, // start, end, n, milli, fill, point idx
}

/// A [`FactorLookup`] that keeps the last interval it found: a series' consecutive intervals
/// mostly fall in the same factor interval (four quarter-hours to an hourly factor), which
/// the lookup then answers without searching (see [`FactorLookup::factor_at`]).
struct Factors<'a> {
    lookup: &'a dyn FactorLookup,
    last: Option<FactorInterval>,
}

impl<'a> Factors<'a> {
    fn new(lookup: &'a dyn FactorLookup) -> Self {
        Factors { lookup, last: None }
    }

    fn at(&mut self, t: i64) -> Option<FactorInterval> {
        if let Some(f) = self.last.filter(|f| f.start <= t && t < f.end) {
            return Some(f);
        }
        let found = self.lookup.factor_at(t);
        if found.is_some() {
            self.last = found;
        }
        found
    }
}

/// Emissions of `wh` over `[t, t+len)` split across the factor intervals it overlaps.
/// Returns (g at dynamic factors, Wh without a factor, time-mean factor of the covered part).
fn dynamic_g(lookup: &mut Factors<'_>, t: i64, len: i64, wh: i64) -> (f64, f64, Option<f64>) {
    let end = t + len;
    if let Some(f) = lookup.at(t).filter(|f| end <= f.end) {
        // Within one factor interval (the usual case): the loop below with one step and
        // frac = 1, the same arithmetic.
        let fsum = 0.0 + f.g_per_kwh;
        let g = 0.0 + wh as f64 * f.g_per_kwh / 1000.0;
        return (g, 0.0, Some(fsum / 1.0));
    }
    let mut cur = t;
    let (mut g, mut missing, mut fsum, mut fw) = (0.0, 0.0, 0.0, 0.0);
    while cur < end {
        match lookup.at(cur) {
            Some(f) => {
                let seg_end = f.end.min(end).max(cur + 1);
                let frac = (seg_end - cur) as f64 / len as f64;
                g += wh as f64 * frac * f.g_per_kwh / 1000.0;
                fsum += frac * f.g_per_kwh;
                fw += frac;
                cur = seg_end;
            }
            None => {
                // Step to the next factor interval that starts inside this one, if any.
                let mut next = end;
                let mut probe = cur + 1;
                while probe < end {
                    if lookup.at(probe).is_some() {
                        next = probe;
                        break;
                    }
                    probe += 60;
                }
                missing += wh as f64 * (next - cur) as f64 / len as f64;
                cur = next;
            }
        }
    }
    (g, missing, (fw > 0.0).then(|| fsum / fw))
}

#[derive(Default)]
struct HourAgg {
    /// Whether any electricity or PV interval starts in this hour (only those hours count).
    present: bool,
    import_wh: i64,
    pv_wh: i64,
    export_wh: i64,
    uncovered: f64,
    /// (instrument index, Wh delivered in this hour) for hourly supply.
    supply: Vec<(usize, f64)>,
}

/// Per-hour aggregates, one slot per hour from the first to the last hour any electricity or
/// PV interval starts in (a period is at most [`MAX_PERIOD_S`] long, so this stays small).
struct Hours {
    /// Start of the first slot's hour.
    first: i64,
    slots: Vec<HourAgg>,
}

impl Hours {
    /// Slots for the hours of `[from, to]` (Unix seconds; none if `to < from`).
    fn new(from: i64, to: i64) -> Hours {
        let first = from.div_euclid(HOUR) * HOUR;
        let n = if to < from {
            0
        } else {
            usize::try_from((to.div_euclid(HOUR) * HOUR - first) / HOUR + 1).unwrap_or(0)
        };
        Hours {
            first,
            slots: (0..n).map(|_| HourAgg::default()).collect(),
        }
    }

    fn start(&self, i: usize) -> i64 {
        self.first + i as i64 * HOUR
    }

    fn index(&self, t: i64) -> Option<usize> {
        let i = usize::try_from((t - self.first).div_euclid(HOUR)).ok()?;
        (i < self.slots.len()).then_some(i)
    }

    /// The hour `t` falls in, marked present. `t` must lie within the hours given to `new`.
    fn touch(&mut self, t: i64) -> &mut HourAgg {
        let i = self.index(t).unwrap_or(usize::MAX);
        let h = &mut self.slots[i];
        h.present = true;
        h
    }

    /// The hour starting at `hour`, if present.
    fn get(&self, hour: i64) -> Option<&HourAgg> {
        self.index(hour)
            .map(|i| &self.slots[i])
            .filter(|h| h.present && hour.rem_euclid(HOUR) == 0)
    }

    /// Slot indices of the hours starting in `[from, to)`.
    fn range(&self, from: i64, to: i64) -> std::ops::Range<usize> {
        let ceil = |t: i64| {
            let d = i128::from(t) - i128::from(self.first);
            let i = -((-d).div_euclid(i128::from(HOUR)));
            usize::try_from(i.clamp(0, self.slots.len() as i128)).unwrap_or(0)
        };
        let (a, b) = (ceil(from), ceil(to));
        a..b.max(a)
    }

    /// Present hours starting in `[from, to)`, with their start, in order.
    fn iter_range(&self, from: i64, to: i64) -> impl Iterator<Item = (i64, &HourAgg)> {
        self.range(from, to)
            .map(|i| (self.start(i), &self.slots[i]))
            .filter(|(_, h)| h.present)
    }

    /// [`Hours::iter_range`], mutable.
    fn iter_range_mut(&mut self, from: i64, to: i64) -> impl Iterator<Item = (i64, &mut HourAgg)> {
        let range = self.range(from, to);
        let first = self.first + range.start as i64 * HOUR;
        self.slots[range]
            .iter_mut()
            .enumerate()
            .map(move |(k, h)| (first + k as i64 * HOUR, h))
            .filter(|(_, h)| h.present)
    }

    /// Every present hour, in order.
    fn values(&self) -> impl Iterator<Item = &HourAgg> {
        self.slots.iter().filter(|h| h.present)
    }

    /// [`Hours::values`], mutable.
    fn values_mut(&mut self) -> impl Iterator<Item = &mut HourAgg> {
        self.slots.iter_mut().filter(|h| h.present)
    }
}

struct Instrument {
    kind: &'static str,
    id: String,
    wh: f64,
    /// Annual: eligible window for the consumption it may cover.
    eligible: (i64, i64),
    /// Hourly: delivery window (spread evenly over `spread` seconds), clipped to `eligible`.
    delivery: (i64, i64),
    spread: i64,
    applied: f64,
}

/// Import interval after location-based computation.
struct ImportPoint {
    t: i64,
    wh: i64,
    g: i64,
    factor: Option<f64>,
}

pub(crate) fn run(
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
) -> Result<Report, AccountingError> {
    compute(inputs, lookup, opts, None)
}

/// [`run`], plus every counted interval of every grid-import, fuel, heat and steam meter with
/// the emissions it contributed (the same figures the report's totals are sums of).
pub(crate) fn run_detailed(
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
) -> Result<(Report, Vec<IntervalEmission>), AccountingError> {
    let mut intervals = Vec::new();
    let report = compute(inputs, lookup, opts, Some(&mut intervals))?;
    Ok((report, intervals))
}

/// The longest period computed: 100 years (hourly aggregates are kept for every hour of it).
const MAX_PERIOD_S: i64 = 100 * 366 * 86_400;

/// The report; with `intervals`, also the per-interval emissions behind it.
fn compute(
    inputs: &Inputs,
    lookup: &dyn FactorLookup,
    opts: &Options,
    intervals: Option<&mut Vec<IntervalEmission>>,
) -> Result<Report, AccountingError> {
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
    check_options(opts)?;
    let mut issues = Vec::new();

    // 1. Validate, fill gaps, clip to the period.
    let mut filled = Vec::new();
    for s in &inputs.series {
        if !s.carrier.accepts(s.unit) {
            return Err(AccountingError::Unit {
                meter: s.meter.clone(),
                carrier: s.carrier,
                unit: s.unit,
            });
        }
        if !is_allowed_interval(s.interval_s) {
            return Err(AccountingError::Interval {
                meter: s.meter.clone(),
                interval_s: s.interval_s,
            });
        }
        let (vals, _flags, runs) = fill(
            &s.values,
            s.start,
            s.interval_s,
            opts.utc_offset_s,
            opts.max_linear_gap,
        );
        // The intervals starting in the period: `first..last` (their starts increase with i).
        let starting_before = |t: i64| {
            let d = i128::from(t) - i128::from(s.start);
            let ceil = -((-d).div_euclid(i128::from(s.interval_s)));
            usize::try_from(ceil.clamp(0, vals.len() as i128)).unwrap_or(0)
        };
        let (first, last) = (
            starting_before(inputs.period_start),
            starting_before(inputs.period_end),
        );
        let points: Vec<Point> = (first..last)
            .map(|i| Point {
                t: s.interval_start(i),
                milli: vals[i],
            })
            .collect();
        let runs = runs
            .iter()
            .filter_map(|GapRun { from, to, fill }| {
                let idx: Vec<usize> = (*from..*to)
                    .filter(|i| (first..last).contains(i))
                    .map(|i| i - first)
                    .collect();
                let first = *idx.first()?;
                let last = *idx.last()?;
                let milli = idx.iter().map(|&p| points[p].milli).sum();
                Some((
                    points[first].t,
                    points[last].t + i64::from(s.interval_s),
                    idx.len() as u64,
                    milli,
                    *fill,
                    idx,
                ))
            })
            .collect();
        filled.push(Filled {
            meter: &s.meter,
            carrier: s.carrier,
            unit: s.unit,
            fuel: s.fuel.as_deref(),
            interval_s: i64::from(s.interval_s),
            points,
            runs,
        });
    }

    // 2. Per-series, per-point location/Scope 1 emissions (g, f64), for gap effects.
    let mut effects: Vec<Vec<f64>> = Vec::new();
    let electric = |c: Carrier| {
        matches!(
            c,
            Carrier::ElectricityImport | Carrier::ElectricityExport | Carrier::PvGeneration
        )
    };
    let (from, to) = filled
        .iter()
        .filter(|f| electric(f.carrier))
        .filter_map(|f| Some((f.points.first()?.t, f.points.last()?.t)))
        .fold((i64::MAX, i64::MIN), |(a, b), (x, y)| (a.min(x), b.max(y)));
    let mut hours = Hours::new(from, to);
    let mut imports: Vec<ImportPoint> = Vec::new();
    let mut factors = Factors::new(lookup);
    let mut loc = Scope2Location {
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
    };
    let mut scope1 = Scope1 {
        lines: Vec::new(),
        fossil_g: 0,
        biogenic_g: 0,
    };
    let mut fuel_gj = 0.0;
    let mut heat_gj = 0.0;
    let fixed = opts.fixed_factor.as_ref().map(|f| f.value);

    for f in &filled {
        let mut eff = vec![0.0; f.points.len()];
        match f.carrier {
            Carrier::ElectricityImport | Carrier::ElectricityExport => {
                let import = f.carrier == Carrier::ElectricityImport;
                let (mut missing_n, mut missing_wh, mut missing_g) = (0u64, 0.0, 0.0);
                let mut span = (i64::MAX, i64::MIN);
                let to_wh = ToWh::new(f.unit);
                if import {
                    imports.reserve(f.points.len());
                }
                for (k, p) in f.points.iter().enumerate() {
                    let wh = to_wh.wh(p.milli);
                    let (mut g, miss, factor) = dynamic_g(&mut factors, p.t, f.interval_s, wh);
                    if miss > 0.0 {
                        missing_n += 1;
                        missing_wh += miss;
                        span = (span.0.min(p.t), span.1.max(p.t + f.interval_s));
                        if let Some(fx) = fixed {
                            missing_g += miss * fx / 1000.0;
                            g += miss * fx / 1000.0;
                        }
                    }
                    let gi = round_g(g);
                    let h = hours.touch(p.t);
                    if import {
                        loc.import_wh += wh;
                        loc.electricity_g += gi;
                        h.import_wh += wh;
                        eff[k] = gi as f64;
                        imports.push(ImportPoint {
                            t: p.t,
                            wh,
                            g: gi,
                            factor,
                        });
                    } else {
                        loc.export_wh += wh;
                        loc.export_g += gi;
                        h.export_wh += wh;
                        eff[k] = if opts.net_exports { -(gi as f64) } else { 0.0 };
                    }
                }
                if missing_n > 0 {
                    let how = match fixed {
                        Some(fx) => format!("counted at the fixed factor {fx} g/kWh"),
                        None => "not counted (no fixed factor given)".to_owned(),
                    };
                    issues.push(DataIssue {
                        kind: IssueKind::MissingFactor,
                        meter: Some(f.meter.to_owned()),
                        start: span.0,
                        end: span.1,
                        intervals: missing_n,
                        quantity_milli: (missing_wh.round() as i64).saturating_mul(1000),
                        effect_g: if import { round_g(missing_g) } else { 0 },
                        message: format!(
                            "meter {}: {missing_n} intervals ({:.3} kWh) have no factor in series {}; {how}. \
                             Publish a factor series covering the period.",
                            f.meter,
                            missing_wh / 1000.0,
                            lookup.series_id()
                        ),
                    });
                }
            }
            Carrier::PvGeneration => {
                let to_wh = ToWh::new(f.unit);
                for p in &f.points {
                    let wh = to_wh.wh(p.milli);
                    loc.pv_generation_wh += wh;
                    hours.touch(p.t).pv_wh += wh;
                }
            }
            Carrier::Steam | Carrier::Heat => {
                let factor = if f.carrier == Carrier::Steam {
                    &opts.heat.steam_t_per_gj
                } else {
                    &opts.heat.heat_t_per_gj
                };
                let total: i64 = f.points.iter().map(|p| p.milli).sum();
                let gj_per_milli = match f.unit.dimension() {
                    Dimension::Energy => {
                        let r = f.unit.to_base();
                        Some(r.num as f64 / r.den as f64 * 3600.0 / 1e9 / 1000.0)
                    }
                    Dimension::Mass => opts.heat.steam_enthalpy_kj_per_kg.map(|en| {
                        let r = f.unit.to_base(); // kg
                        r.num as f64 / r.den as f64 / 1000.0 * (en - 83.74) / 1e3 / 1000.0
                    }),
                    Dimension::Volume => None,
                };
                let Some(gj_per_milli) = gj_per_milli else {
                    issues.push(unconvertible(
                        f,
                        total,
                        "steam metered by mass needs Options.heat.steam_enthalpy_kj_per_kg",
                    ));
                    effects.push(eff);
                    continue;
                };
                let g_per_milli = gj_per_milli * factor.value * 1e6;
                for (k, p) in f.points.iter().enumerate() {
                    eff[k] = p.milli as f64 * g_per_milli;
                }
                let gj = total as f64 * gj_per_milli;
                heat_gj += gj;
                let g = round_g(total as f64 * g_per_milli);
                loc.heat_g += g;
                loc.heat.push(HeatLine {
                    meter: f.meter.to_owned(),
                    carrier: f.carrier,
                    quantity_milli: total,
                    unit: f.unit,
                    energy_mj: (gj * 1000.0).round() as i64,
                    factor: factor.clone(),
                    emissions_g: g,
                });
            }
            _ => {
                let total: i64 = f.points.iter().map(|p| p.milli).sum();
                let Some(fuel) = opts.fuels.resolve(f.carrier, f.fuel) else {
                    return Err(AccountingError::UnknownFuel {
                        meter: f.meter.to_owned(),
                        fuel: f.fuel.unwrap_or(f.carrier.code()).to_owned(),
                    });
                };
                let Some((gj_1000, default_density)) = fuel.activity_gj(1_000_000, f.unit) else {
                    issues.push(unconvertible(
                        f,
                        total,
                        &format!(
                            "fuel {} has NCV per {:?} and no density for {}; add density_kg_per_l to the fuel table",
                            fuel.id, fuel.ncv_basis, f.unit
                        ),
                    ));
                    effects.push(eff);
                    continue;
                };
                let gj_per_milli = gj_1000 / 1_000_000.0;
                let ef = fuel.ef_t_per_gj();
                let g_per_milli = gj_per_milli * ef * 1e6;
                let gj = total as f64 * gj_per_milli;
                let g = round_g(total as f64 * g_per_milli);
                for (k, p) in f.points.iter().enumerate() {
                    eff[k] = if fuel.biogenic {
                        0.0
                    } else {
                        p.milli as f64 * g_per_milli
                    };
                }
                if fuel.biogenic {
                    scope1.biogenic_g += g;
                } else {
                    scope1.fossil_g += g;
                }
                fuel_gj += gj;
                if default_density {
                    issues.push(DataIssue {
                        kind: IssueKind::DefaultDensity,
                        meter: Some(f.meter.to_owned()),
                        start: f.points.first().map_or(inputs.period_start, |p| p.t),
                        end: f.points.last().map_or(inputs.period_end, |p| p.t + f.interval_s),
                        intervals: f.points.len() as u64,
                        quantity_milli: total,
                        effect_g: if fuel.biogenic { 0 } else { g },
                        message: format!(
                            "meter {}: {} {} of {} turned into mass at the default density {} kg/L ({}); \
                             the whole line depends on it: supply the delivery note's density",
                            f.meter,
                            total as f64 / 1000.0,
                            f.unit,
                            fuel.id,
                            fuel.density_kg_per_l.unwrap_or(0.0),
                            fuel.density_source.as_deref().unwrap_or("no source")
                        ),
                    });
                }
                scope1.lines.push(FuelLine {
                    meter: f.meter.to_owned(),
                    carrier: f.carrier,
                    fuel: fuel.id.clone(),
                    quantity_milli: total,
                    unit: f.unit,
                    ncv: fuel.ncv,
                    ncv_basis: fuel.ncv_basis,
                    density_kg_per_l: default_density.then_some(fuel.density_kg_per_l).flatten(),
                    activity_mj: (gj * 1000.0).round() as i64,
                    carbon_tc_per_tj: fuel.carbon_tc_per_tj,
                    oxidation: fuel.oxidation,
                    ef_t_per_gj: ef,
                    emissions_g: g,
                    biogenic: fuel.biogenic,
                    source: fuel.source.clone(),
                });
            }
        }
        effects.push(eff);
    }

    // Per-interval emissions, as counted above (exports and PV carry none here).
    if let Some(intervals) = intervals {
        for (f, eff) in filled.iter().zip(&effects) {
            let electricity = match f.carrier {
                Carrier::ElectricityImport => true,
                Carrier::ElectricityExport | Carrier::PvGeneration => continue,
                _ => false,
            };
            for (p, &g) in f.points.iter().zip(eff) {
                intervals.push(IntervalEmission {
                    meter: f.meter.to_owned(),
                    carrier: f.carrier,
                    start: p.t,
                    end: p.t + f.interval_s,
                    wh: if electricity {
                        milli_to_wh(p.milli, f.unit)
                    } else {
                        0
                    },
                    g,
                });
            }
        }
    }

    // 3. Gap issues with their effect.
    for (f, eff) in filled.iter().zip(&effects) {
        for (start, end, n, milli, fill, idx) in &f.runs {
            let effect: f64 = idx.iter().map(|&p| eff[p]).sum();
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
            issues.push(DataIssue {
                kind,
                meter: Some(f.meter.to_owned()),
                start: *start,
                end: *end,
                intervals: *n,
                quantity_milli: *milli,
                effect_g,
                message: format!(
                    "meter {}: {n} missing intervals {how}; filled {} {}, {:.6} tCO2",
                    f.meter,
                    *milli as f64 / 1000.0,
                    f.unit,
                    effect_g as f64 / 1e6
                ),
            });
        }
    }

    // 4. PV self-consumption and consumption per hour.
    for h in hours.values_mut() {
        let pv_self = (h.pv_wh - h.export_wh).max(0);
        loc.pv_self_consumed_wh += pv_self;
        h.uncovered = h.import_wh as f64;
    }
    loc.consumption_wh = loc.import_wh + loc.pv_self_consumed_wh;
    loc.total_g = loc.electricity_g - if opts.net_exports { loc.export_g } else { 0 } + loc.heat_g;

    // 5. Market-based.
    let (market, cfe_matched_wh) = market(inputs, opts, &mut hours, &imports, &loc);

    // 6. Comparison.
    let comparison = opts
        .fixed_factor
        .as_ref()
        .map(|fx| compare(fx, &imports, opts.utc_offset_s));

    // 7. Indicators.
    let green_wh = loc.pv_self_consumed_wh + market.applied_wh;
    let share = |x: i64| (loc.consumption_wh > 0).then(|| x as f64 / loc.consumption_wh as f64);
    let intensity = inputs
        .output
        .as_ref()
        .filter(|o| o.quantity_milli > 0)
        .map(|o| {
            let q = o.quantity_milli as f64 / 1000.0;
            let elec_gj = loc.consumption_wh as f64 * 3600.0 / 1e9;
            Intensity {
                output_milli: o.quantity_milli,
                unit: o.unit.clone(),
                electricity_kwh_per_unit: loc.consumption_wh as f64 / 1000.0 / q,
                energy_gj_per_unit: (elec_gj + fuel_gj + heat_gj) / q,
                location_t_per_unit: (scope1.fossil_g + loc.total_g) as f64 / 1e6 / q,
                market_t_per_unit: (scope1.fossil_g + market.total_g) as f64 / 1e6 / q,
            }
        });
    let indicators = Indicators {
        consumption_wh: loc.consumption_wh,
        green_wh,
        green_share: share(green_wh),
        cfe_matched_wh,
        cfe_score: share(cfe_matched_wh),
        intensity,
    };

    let report = Report {
        method: METHOD.to_owned(),
        factor_series: lookup.series_id().to_owned(),
        enterprise: inputs.enterprise.clone(),
        period_start: inputs.period_start,
        period_end: inputs.period_end,
        utc_offset_s: opts.utc_offset_s,
        scope1,
        scope2_location: loc,
        scope2_market: market,
        comparison,
        indicators,
        issues,
    };
    Ok(report)
}

fn unconvertible(f: &Filled<'_>, total: i64, what: &str) -> DataIssue {
    DataIssue {
        kind: IssueKind::Unconvertible,
        meter: Some(f.meter.to_owned()),
        start: f.points.first().map_or(0, |p| p.t),
        end: f.points.last().map_or(0, |p| p.t + f.interval_s),
        intervals: f.points.len() as u64,
        quantity_milli: total,
        effect_g: 0,
        message: format!(
            "meter {} ({} in {}): not counted: {what}",
            f.meter, f.carrier, f.unit
        ),
    }
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

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

fn market(
    inputs: &Inputs,
    opts: &Options,
    hours: &mut Hours,
    imports: &[ImportPoint],
    loc: &Scope2Location,
) -> (Scope2Market, i64) {
    let period = (inputs.period_start, inputs.period_end);
    let mut instruments: Vec<Instrument> = Vec::new();
    for c in &inputs.certificates {
        let eligible = (
            c.valid_from.max(period.0),
            c.valid_until.min(period.1).max(c.valid_from.max(period.0)),
        );
        let delivery = (
            c.generation_start.max(eligible.0),
            c.generation_end.min(eligible.1),
        );
        instruments.push(Instrument {
            kind: "certificate",
            id: c.id.clone(),
            wh: f64::from(c.mwh) * 1e6,
            eligible,
            delivery,
            spread: (c.generation_end - c.generation_start).max(1),
            applied: 0.0,
        });
    }
    for p in &inputs.purchases {
        let len = (p.end - p.start).max(1);
        let inside = overlap((p.start, p.end), period) as f64 / len as f64;
        instruments.push(Instrument {
            kind: "purchase",
            id: p.id.clone(),
            wh: p.wh as f64,
            // Annual: the in-period share covers import anywhere in the period.
            eligible: if inside > 0.0 { period } else { (0, 0) },
            delivery: (p.start.max(period.0), p.end.min(period.1)),
            spread: len,
            applied: 0.0,
        });
    }
    let hour_range = |w: (i64, i64)| w.0.div_euclid(HOUR) * HOUR..w.1.max(w.0);

    // Hourly delivery (for hourly matching and the CFE score).
    for (i, ins) in instruments.iter().enumerate() {
        if ins.delivery.1 <= ins.delivery.0 {
            continue;
        }
        let range = hour_range(ins.delivery);
        for (h, agg) in hours.iter_range_mut(range.start, range.end) {
            let o = overlap((h, h + HOUR), ins.delivery);
            if o > 0 {
                agg.supply.push((i, ins.wh * o as f64 / ins.spread as f64));
            }
        }
    }
    let mut cfe = 0.0;
    for agg in hours.values() {
        let supply: f64 = agg.supply.iter().map(|s| s.1).sum();
        let pv_self = (agg.pv_wh - agg.export_wh).max(0) as f64;
        cfe += pv_self + supply.min(agg.import_wh as f64);
    }

    match opts.matching {
        Matching::Hourly => {
            for agg in hours.values_mut() {
                let supply: f64 = agg.supply.iter().map(|s| s.1).sum();
                let covered = supply.min(agg.import_wh as f64);
                if supply > 0.0 {
                    for &(i, s) in &agg.supply {
                        instruments[i].applied += s * covered / supply;
                    }
                }
                agg.uncovered = agg.import_wh as f64 - covered;
            }
        }
        Matching::Annual => {
            let mut order: Vec<usize> = (0..instruments.len()).collect();
            order.sort_by(|&a, &b| {
                (instruments[a].eligible.1, &instruments[a].id)
                    .cmp(&(instruments[b].eligible.1, &instruments[b].id))
            });
            for i in order {
                let (w, amount) = (instruments[i].eligible, instruments[i].wh);
                let amount = if instruments[i].kind == "purchase" {
                    let len = instruments[i].spread;
                    amount * overlap(instruments[i].delivery, period) as f64 / len as f64
                } else {
                    amount
                };
                if w.1 <= w.0 {
                    continue;
                }
                let range = hour_range(w);
                let open: f64 = hours
                    .iter_range(range.start, range.end)
                    .filter(|&(h, _)| h >= w.0 && h < w.1)
                    .map(|(_, a)| a.uncovered)
                    .sum();
                if open <= 0.0 {
                    continue;
                }
                let r = (amount / open).min(1.0);
                for (h, agg) in hours.iter_range_mut(range.start, range.end) {
                    if h >= w.0 && h < w.1 {
                        agg.uncovered -= agg.uncovered * r;
                    }
                }
                instruments[i].applied += open * r;
            }
        }
    }

    let mut electricity = 0.0;
    let mut uncovered = 0.0;
    for p in imports {
        let Some(agg) = hours.get(p.t.div_euclid(HOUR) * HOUR) else {
            continue;
        };
        if agg.import_wh <= 0 {
            continue;
        }
        let rest = agg.uncovered / agg.import_wh as f64;
        uncovered += p.wh as f64 * rest;
        electricity += match &opts.residual {
            Residual::Grid => p.g as f64 * rest,
            Residual::Fixed(f) => p.wh as f64 * rest * f.value / 1000.0,
        };
    }
    let instruments_wh: f64 = instruments.iter().map(|i| i.wh).sum();
    let applied: f64 = instruments.iter().map(|i| i.applied).sum();
    let electricity_g = round_g(electricity);
    (
        Scope2Market {
            matching: opts.matching,
            residual: opts.residual.clone(),
            instruments_wh: instruments_wh.round() as i64,
            applied_wh: applied.round() as i64,
            unused_wh: (instruments_wh - applied).round() as i64,
            uncovered_import_wh: uncovered.round() as i64,
            electricity_g,
            heat_g: loc.heat_g,
            total_g: electricity_g + loc.heat_g,
            instruments: instruments
                .iter()
                .map(|i| InstrumentUse {
                    kind: i.kind,
                    id: i.id.clone(),
                    wh: i.wh.round() as i64,
                    applied_wh: i.applied.round() as i64,
                })
                .collect(),
        },
        cfe.round() as i64,
    )
}

/// How far (relative) the period's mean factor must be from the fixed factor before the
/// season is named as a cause of its own.
const SEASON_THRESHOLD: f64 = 0.05;
/// The longest window of hours the reason names.
const MAX_WINDOW_HOURS: usize = 12;

fn compare(fx: &NamedFactor, imports: &[ImportPoint], utc_offset_s: i32) -> Comparison {
    let f = fx.value;
    let mut wh = [0i64; 24];
    let mut g = [0i64; 24];
    let mut fsum = [0.0f64; 24];
    let mut fcount = [0u32; 24];
    // Time mean of the factor over the period: each interval counted once, whatever the use.
    let mut seen: Vec<(i64, f64)> = Vec::with_capacity(imports.len());
    for p in imports {
        let h = ((p.t + i64::from(utc_offset_s)).rem_euclid(86_400) / HOUR) as usize;
        wh[h] += p.wh;
        g[h] += p.g;
        if let Some(factor) = p.factor {
            fsum[h] += factor;
            fcount[h] += 1;
            seen.push((p.t, factor));
        }
    }
    // By time, each interval once (the first meter's factor, as all meters see the same).
    seen.sort_by_key(|&(t, _)| t); // stable: the first of equal times stays first
    seen.dedup_by_key(|&mut (t, _)| t);
    let period_mean =
        (!seen.is_empty()).then(|| seen.iter().map(|&(_, f)| f).sum::<f64>() / seen.len() as f64);
    let import_wh: i64 = wh.iter().sum();
    let dynamic_g: i64 = g.iter().sum();
    let fixed_g = round_g(import_wh as f64 * f / 1000.0);
    let difference_g = fixed_g - dynamic_g;
    let difference_pct = if fixed_g > 0 {
        difference_g as f64 / fixed_g as f64 * 100.0
    } else {
        0.0
    };
    // fixed − dynamic = season (the period's grid vs the annual factor, for a flat use)
    //                 + timing (your use profile vs a flat one, within the period).
    let season_g = period_mean.map_or(0, |m| round_g(import_wh as f64 * (f - m) / 1000.0));
    let timing_g = difference_g - season_g;
    let seasonal = period_mean.is_some_and(|m| (m - f).abs() >= SEASON_THRESHOLD * f);
    // The window is measured against the period's mean when the season is named separately,
    // else against the fixed factor.
    let reference = match period_mean {
        Some(m) if seasonal => m,
        _ => f,
    };
    let diff_h: Vec<f64> = (0..24)
        .map(|h| wh[h] as f64 * reference / 1000.0 - g[h] as f64)
        .collect();
    let by_hour = (0..24)
        .map(|h| HourOfDay {
            hour: h as u8,
            import_wh: wh[h],
            share: if import_wh > 0 {
                wh[h] as f64 / import_wh as f64
            } else {
                0.0
            },
            mean_factor_g_per_kwh: (fcount[h] > 0).then(|| fsum[h] / f64::from(fcount[h])),
            weighted_factor_g_per_kwh: (wh[h] > 0).then(|| g[h] as f64 / wh[h] as f64 * 1000.0),
            difference_g: round_g(wh[h] as f64 * f / 1000.0 - g[h] as f64),
        })
        .collect();

    let explained_g = if seasonal { timing_g } else { difference_g };
    let sign = if explained_g >= 0 { 1.0 } else { -1.0 };
    let negligible = fixed_g == 0 || (explained_g.abs() as f64) < 0.0005 * fixed_g as f64;
    let window = (!negligible)
        .then(|| {
            // Best contiguous (circular) window of at most MAX_WINDOW_HOURS; the shortest
            // reaching 99% of the best score.
            let score = |a: usize, len: usize| -> f64 {
                sign * (0..len).map(|k| diff_h[(a + k) % 24]).sum::<f64>()
            };
            let mut best = f64::MIN;
            for a in 0..24 {
                for len in 1..=MAX_WINDOW_HOURS {
                    best = best.max(score(a, len));
                }
            }
            let mut pick = None;
            'outer: for len in 1..=MAX_WINDOW_HOURS {
                for a in 0..24 {
                    if score(a, len) >= 0.99 * best {
                        pick = Some((a, len));
                        break 'outer;
                    }
                }
            }
            let (a, len) = pick?;
            let w_wh: i64 = (0..len).map(|k| wh[(a + k) % 24]).sum();
            let w_g: i64 = (0..len).map(|k| g[(a + k) % 24]).sum();
            if w_wh <= 0 {
                return None;
            }
            let factor = w_g as f64 / w_wh as f64 * 1000.0;
            Some(Window {
                from_hour: a as u8,
                to_hour: ((a + len) % 24) as u8,
                share: w_wh as f64 / import_wh as f64,
                factor_g_per_kwh: factor,
                factor_vs_fixed_pct: (factor - reference) / reference * 100.0,
                difference_g: round_g(sign * score(a, len)),
            })
        })
        .flatten();
    let t = |g: i64| g.abs() as f64 / 1e6;
    let verdict = format!(
        "At the fixed annual factor your location-based electricity emissions are {} by {:.1} t ({:.1}%).",
        if difference_g >= 0 { "over-counted" } else { "under-counted" },
        t(difference_g),
        difference_pct.abs()
    );
    let reason = match (&window, period_mean) {
        (_, _) if import_wh == 0 => "No grid electricity was imported in the period.".to_owned(),
        (w, Some(m)) if seasonal => {
            let season = format!(
                "Over this period the grid's factor averaged {m:.1} g/kWh, {:.0}% {} the annual factor ({f} g/kWh): \
                 the season alone makes the fixed factor {} by {:.1} t.",
                ((m - f) / f * 100.0).abs(),
                if m < f { "below" } else { "above" },
                if season_g >= 0 { "over-count" } else { "under-count" },
                t(season_g)
            );
            let timing = match w {
                Some(w) => format!(
                    " {:.0}% of your use falls in {:02}:00–{:02}:00, when the factor is {:.0}% {} the period's mean, \
                     which {} your dynamic figure by {:.1} t against a flat use of the day.",
                    w.share * 100.0,
                    w.from_hour,
                    w.to_hour,
                    w.factor_vs_fixed_pct.abs(),
                    if w.factor_vs_fixed_pct < 0.0 { "below" } else { "above" },
                    if timing_g >= 0 { "lowers" } else { "raises" },
                    t(timing_g)
                ),
                None => " The timing of your use makes almost no difference within the period.".to_owned(),
            };
            format!("{season}{timing} {verdict}")
        }
        (None, _) => format!(
            "Your dynamic figure is within 0.05% of the fixed-factor figure ({:.1} t): \
             your use is spread over the day much as the grid's factor is.",
            fixed_g as f64 / 1e6
        ),
        (Some(w), _) => format!(
            "{:.0}% of your use falls in {:02}:00–{:02}:00, when the factor is {:.0}% {} the annual factor ({} g/kWh). {verdict}",
            w.share * 100.0,
            w.from_hour,
            w.to_hour,
            w.factor_vs_fixed_pct.abs(),
            if w.factor_vs_fixed_pct < 0.0 { "below" } else { "above" },
            f,
        ),
    };
    Comparison {
        fixed_factor: fx.clone(),
        import_wh,
        fixed_g,
        dynamic_g,
        difference_g,
        difference_pct,
        period_mean_factor_g_per_kwh: period_mean,
        season_g,
        timing_g,
        by_hour,
        window,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::round_g;

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
