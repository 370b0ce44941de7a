//! Stage: location-based Scope 2 electricity. Each grid import and export interval at the
//! factor of the time it falls in, into the period's per-hour and per-hour-of-day
//! aggregates; PV generation by hour, and PV self-consumption.

use tanji_units::Carrier;

use super::comparison::{ByHour, FactorAt};
use super::hours::Hours;
use super::lookup::{dynamic_g, Factors};
use super::series::{Clip, Filled, Milli, ToWh, Vals};
use super::{issues, round_g, Span, Tally, HOUR};
use crate::factor::FactorLookup;
use crate::input::{Inputs, Options};
use crate::report::Scope2Location;
use tanji_units::time;

/// A grid-import interval after location-based computation (for the market-based figure
/// interval by interval).
pub(super) struct ImportPoint {
    pub(super) t: i64,
    pub(super) wh: i64,
    pub(super) g: i64,
}

/// One electricity meter's sums.
pub(super) struct Sums {
    pub(super) wh: i64,
    pub(super) g: i64,
    /// The largest |Wh| and |g| of an interval.
    pub(super) max_wh: u64,
    pub(super) max_g: u64,
    /// Intervals (wholly or partly) without a factor, their Wh without one, and the g the
    /// fixed factor counted for those Wh.
    pub(super) missing_n: u64,
    pub(super) missing_wh: f64,
    pub(super) missing_g: f64,
    /// The span of the intervals without a factor.
    pub(super) span: Span,
}

impl Default for Sums {
    fn default() -> Self {
        Sums {
            wh: 0,
            g: 0,
            max_wh: 0,
            max_g: 0,
            missing_n: 0,
            missing_wh: 0.0,
            missing_g: 0.0,
            span: Span {
                start: i64::MAX,
                end: i64::MIN,
            },
        }
    }
}

/// The location-based state the period's electricity meters add to, meter by meter.
pub(super) struct Grid<'l> {
    factors: Factors<'l>,
    pub(super) hours: Hours,
    /// Hour-of-day aggregates of grid import, for the comparison (with a fixed factor only).
    pub(super) by_hour: Option<ByHour>,
    /// Every grid-import interval, when the market-based figure is summed interval by interval.
    pub(super) imports: Option<Vec<ImportPoint>>,
    fixed: Option<f64>,
    net_exports: bool,
    utc_offset: i32,
}

impl<'l> Grid<'l> {
    /// Hours from the first to the last electricity or PV interval of `inputs` (clipped by
    /// `clips`); `per_interval` keeps every import interval (see [`Grid::imports`]).
    pub(super) fn new(
        inputs: &Inputs,
        clips: &[Clip],
        lookup: &'l dyn FactorLookup,
        opts: &Options,
        per_interval: bool,
    ) -> Self {
        let clipped = || inputs.series.iter().zip(clips).filter(|(_, c)| c.any());
        let count = |f: fn(Carrier) -> bool| clipped().filter(|(s, _)| f(s.carrier)).count();
        let (from, to) = clipped()
            .filter(|(s, _)| {
                matches!(
                    s.carrier,
                    Carrier::ElectricityImport | Carrier::ElectricityExport | Carrier::PvGeneration
                )
            })
            .map(|(s, c)| (s.interval_start(c.first), s.interval_start(c.last - 1)))
            .fold((i64::MAX, i64::MIN), |(a, b), (x, y)| (a.min(x), b.max(y)));
        let hours = Hours::new(from, to);
        let import_meters = count(|c| c == Carrier::ElectricityImport);
        let grid_meters =
            count(|c| matches!(c, Carrier::ElectricityImport | Carrier::ElectricityExport));
        Grid {
            factors: Factors::new(lookup, &hours, grid_meters > 1),
            hours,
            by_hour: opts
                .fixed_factor
                .as_ref()
                .map(|_| ByHour::new(import_meters == 1)),
            imports: per_interval.then(Vec::new),
            fixed: opts.fixed_factor.as_ref().map(|f| f.value),
            net_exports: opts.net_exports,
            utc_offset: opts.utc_offset_s,
        }
    }

    /// Computes grid import or export meter `f` into the hours (each interval's g into `eff`
    /// when it is not empty) and returns its sums.
    pub(super) fn meter(&mut self, f: &Filled<'_>, eff: &mut [f64]) -> Sums {
        let import = f.carrier == Carrier::ElectricityImport;
        let mut acc = Electric {
            f,
            import,
            fixed: self.fixed,
            net_exports: self.net_exports,
            utc_offset: self.utc_offset,
            factors: &mut self.factors,
            hours: &mut self.hours,
            by_hour: self.by_hour.as_mut(),
            imports: if import { self.imports.as_mut() } else { None },
            eff,
            sums: Sums::default(),
        };
        match &f.vals {
            Vals::Measured(v) => acc.run(v),
            Vals::Filled(v) => acc.run(v),
        }
        acc.sums
    }

    /// Adds PV meter `f` to the hours; returns its generation, Wh.
    pub(super) fn pv(&mut self, f: &Filled<'_>) -> i64 {
        let to_wh = ToWh::new(f.unit);
        let (t0, len) = (f.t0, f.interval_s);
        match &f.vals {
            Vals::Measured(v) => pv_hours(v, t0, len, to_wh, &mut self.hours),
            Vals::Filled(v) => pv_hours(v, t0, len, to_wh, &mut self.hours),
        }
    }
}

/// Adds grid meter `f`'s `sums` to the location-based figure, with a `missing_factor` issue
/// when some of its intervals had no factor.
pub(super) fn count_meter(
    tally: &mut Tally,
    f: &Filled<'_>,
    sums: &Sums,
    fixed: Option<f64>,
    series_id: &str,
) {
    let import = f.carrier == Carrier::ElectricityImport;
    let loc = &mut tally.loc;
    if import {
        loc.import_wh += sums.wh;
        loc.electricity_g += sums.g;
        // Bounds of the sums of |Wh| and |g| over the intervals.
        tally.bound.wh += i128::from(sums.max_wh) * f.len as i128;
        tally.bound.g += i128::from(sums.max_g) * f.len as i128;
    } else {
        loc.export_wh += sums.wh;
        loc.export_g += sums.g;
    }
    if sums.missing_n > 0 {
        if import {
            tally.import_without_factor += sums.missing_n;
        }
        let issue = issues::missing_factor(f, sums, import, fixed, series_id);
        tally.issues.push(issue);
    }
}

/// PV self-consumption hour by hour (generation − export, at least 0), consumption, and the
/// location-based total; every hour's import starts uncovered for the market-based figure.
pub(super) fn close(hours: &mut Hours, loc: &mut Scope2Location, net_exports: bool) {
    for h in hours.values_mut() {
        let pv_self = (h.pv_wh - h.export_wh).max(0);
        loc.pv_self_consumed_wh += pv_self;
        h.uncovered = h.import_wh as f64;
    }
    loc.consumption_wh = loc.import_wh + loc.pv_self_consumed_wh;
    loc.total_g = loc.electricity_g - if net_exports { loc.export_g } else { 0 } + loc.heat_g;
}

/// The hour slot and the hour of day of the current interval, and until when they hold (the
/// intervals' starts increase).
struct Clock {
    slot: usize,
    slot_until: i64,
    hd: usize,
    hd_until: i64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            slot: 0,
            slot_until: i64::MIN,
            hd: 0,
            hd_until: i64::MIN,
        }
    }

    /// Moves to the interval starting at `t`, marking its hour present.
    #[inline]
    fn advance(&mut self, t: i64, hours: &mut Hours, utc_offset: i32) {
        if t >= self.slot_until {
            if self.slot_until != i64::MIN && t < self.slot_until + HOUR {
                // The next hour (the usual step).
                self.slot += 1;
                hours.slots[self.slot].present = true;
                self.slot_until += HOUR;
            } else {
                self.slot = hours.touch_slot(t);
                self.slot_until = hours.start(self.slot) + HOUR;
            }
        }
        if t >= self.hd_until {
            if self.hd_until != i64::MIN && t < self.hd_until + HOUR {
                self.hd = if self.hd == 23 { 0 } else { self.hd + 1 };
                self.hd_until += HOUR;
            } else {
                // 0..24, so the cast cannot truncate.
                self.hd = time::local_hour(t, utc_offset) as usize;
                self.hd_until = t - time::local_second(t, utc_offset) % HOUR + HOUR;
            }
        }
    }
}

/// The location-based computation of one grid import or export meter, interval by
/// interval, into the period's aggregates.
struct Electric<'a, 'f, 'l> {
    f: &'a Filled<'f>,
    import: bool,
    fixed: Option<f64>,
    net_exports: bool,
    utc_offset: i32,
    factors: &'a mut Factors<'l>,
    hours: &'a mut Hours,
    by_hour: Option<&'a mut ByHour>,
    imports: Option<&'a mut Vec<ImportPoint>>,
    /// Each interval's g, when kept (else empty).
    eff: &'a mut [f64],
    sums: Sums,
}

/// Consecutive intervals `k..end` of a series inside one factor interval (`gk` g/kWh), one
/// hour slot and one hour of day; the first starts at `t`.
struct Block {
    k: usize,
    end: usize,
    t: i64,
    gk: f64,
}

impl Electric<'_, '_, '_> {
    fn run<V: Milli>(&mut self, values: &[V]) {
        let f = self.f;
        let len = f.interval_s;
        let n = values.len();
        let to_wh = ToWh::new(f.unit);
        let mut s = Sums::default();
        let mut clock = Clock::new();
        let mut seen = Vec::new();
        if let Some(v) = self.imports.as_mut() {
            v.reserve(n);
        }
        let keep_seen = self.import && self.by_hour.as_ref().is_some_and(|b| !b.single);
        if keep_seen {
            seen.reserve(n);
        }
        let mut k = 0;
        while k < n {
            let t = f.t(k);
            clock.advance(t, self.hours, self.utc_offset);
            let mut covering = self.factors.covering(t, t + len);
            if covering.is_none() {
                // A new factor interval (at most once an hour for hourly factors).
                self.factors.at(t);
                covering = self.factors.covering(t, t + len);
            }
            let Some((gk, f_end)) = covering else {
                // Across factor intervals, or without a factor: one interval alone.
                let wh = to_wh.wh(values[k].milli());
                self.alone(&mut s, &clock, k, t, wh, &mut seen);
                k += 1;
                continue;
            };
            // A block of intervals inside one factor interval, one hour slot and one hour of
            // day: `dynamic_g` of each with the same arithmetic, the sums added once.
            let until = clock.slot_until.min(clock.hd_until).min(f_end - len + 1);
            // The block: the intervals from k starting before `until` (at least k itself).
            let mut end = k + 1;
            let mut t_end = t + len;
            while end < n && t_end < until {
                end += 1;
                t_end += len;
            }
            let block = Block { k, end, t, gk };
            if self.eff.is_empty() && !keep_seen && self.imports.is_none() {
                // The usual case: the sums alone.
                self.block_sums(&mut s, &clock, &block, values, to_wh);
            } else {
                self.block_each(&mut s, &clock, &block, values, to_wh, keep_seen, &mut seen);
            }
            k = end;
        }
        if let Some(b) = self.by_hour.as_mut() {
            if keep_seen {
                b.merge_seen(seen);
            }
        }
        self.sums = s;
    }

    /// Interval `k`, starting at `t`, of `wh`, computed alone (across factor intervals or
    /// without a factor; the fixed factor counts the part without one).
    fn alone(
        &mut self,
        s: &mut Sums,
        clock: &Clock,
        k: usize,
        t: i64,
        wh: i64,
        seen: &mut Vec<FactorAt>,
    ) {
        let len = self.f.interval_s;
        let split = dynamic_g(self.factors, t, len, wh);
        let (mut g, miss) = (split.g, split.missing_wh);
        if miss > 0.0 {
            s.missing_n += 1;
            s.missing_wh += miss;
            s.span = Span {
                start: s.span.start.min(t),
                end: s.span.end.max(t + len),
            };
            if let Some(fx) = self.fixed {
                s.missing_g += miss * fx / 1000.0;
                g += miss * fx / 1000.0;
            }
        }
        let gi = round_g(g);
        self.add(s, clock, k, t, wh, gi, split.factor, seen);
    }

    /// A block's sums alone (nothing kept per interval).
    #[inline]
    fn block_sums<V: Milli>(
        &mut self,
        s: &mut Sums,
        clock: &Clock,
        b: &Block,
        values: &[V],
        to_wh: ToWh,
    ) {
        let factor = (0.0 + b.gk) / 1.0;
        let (mut bw, mut bg) = (0i64, 0i64);
        // (`round_g(0.0 + x)` is `round_g(x)`: the two differ only for x = -0.0.)
        let (mut max_wh, mut max_g) = (s.max_wh, s.max_g);
        for v in &values[b.k..b.end] {
            let wh = to_wh.wh(v.milli());
            let gi = round_g(wh as f64 * b.gk / 1000.0);
            bw += wh;
            bg += gi;
            max_wh = max_wh.max(wh.unsigned_abs());
            max_g = max_g.max(gi.unsigned_abs());
        }
        if self.import {
            (s.max_wh, s.max_g) = (max_wh, max_g);
        }
        self.add_sums(s, clock, bw, bg, b.end - b.k, Some(factor));
    }

    /// A block interval by interval: each interval's g, factor and import point kept as
    /// asked, then its sums.
    #[allow(clippy::too_many_arguments)]
    fn block_each<V: Milli>(
        &mut self,
        s: &mut Sums,
        clock: &Clock,
        b: &Block,
        values: &[V],
        to_wh: ToWh,
        keep_seen: bool,
        seen: &mut Vec<FactorAt>,
    ) {
        let len = self.f.interval_s;
        let factor = (0.0 + b.gk) / 1.0;
        let (mut bw, mut bg) = (0i64, 0i64);
        for (j, v) in values[b.k..b.end].iter().enumerate() {
            let wh = to_wh.wh(v.milli());
            let gi = round_g(wh as f64 * b.gk / 1000.0);
            bw += wh;
            bg += gi;
            if self.import {
                s.max_wh = s.max_wh.max(wh.unsigned_abs());
                s.max_g = s.max_g.max(gi.unsigned_abs());
            }
            if let Some(e) = self.eff.get_mut(b.k + j) {
                *e = effect(self.import, self.net_exports, gi);
            }
            let t = b.t + j as i64 * len;
            if keep_seen {
                seen.push(FactorAt { start: t, factor });
            }
            if let Some(v) = self.imports.as_mut() {
                v.push(ImportPoint { t, wh, g: gi });
            }
        }
        self.add_sums(s, clock, bw, bg, b.end - b.k, Some(factor));
    }

    /// Adds one interval computed alone.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        s: &mut Sums,
        clock: &Clock,
        k: usize,
        t: i64,
        wh: i64,
        gi: i64,
        factor: Option<f64>,
        seen: &mut Vec<FactorAt>,
    ) {
        if self.import {
            s.max_wh = s.max_wh.max(wh.unsigned_abs());
            s.max_g = s.max_g.max(gi.unsigned_abs());
        }
        if let Some(e) = self.eff.get_mut(k) {
            *e = effect(self.import, self.net_exports, gi);
        }
        if self.import {
            if let (Some(b), Some(factor)) = (self.by_hour.as_ref(), factor) {
                if !b.single {
                    seen.push(FactorAt { start: t, factor });
                }
            }
            if let Some(v) = self.imports.as_mut() {
                v.push(ImportPoint { t, wh, g: gi });
            }
        }
        self.add_sums(s, clock, wh, gi, 1, factor);
    }

    /// The sums every interval or block adds to: the series', the hour's, and for grid import
    /// the hour of day's (its factor `count` times over, in order, when there is one).
    #[inline]
    fn add_sums(
        &mut self,
        s: &mut Sums,
        clock: &Clock,
        wh: i64,
        g: i64,
        count: usize,
        factor: Option<f64>,
    ) {
        s.wh += wh;
        s.g += g;
        let h = &mut self.hours.slots[clock.slot];
        if self.import {
            h.import_wh += wh;
            h.import_g += g;
            if let Some(b) = self.by_hour.as_mut() {
                let hd = clock.hd;
                b.wh[hd] += wh;
                b.g[hd] += g;
                if let Some(factor) = factor {
                    for _ in 0..count {
                        b.fsum[hd] += factor;
                        if b.single {
                            b.seen_sum += factor;
                        }
                    }
                    b.fcount[hd] += count as u32;
                    if b.single {
                        b.seen_n += count;
                    }
                }
            }
        } else {
            h.export_wh += wh;
        }
    }
}

/// What an interval of `gi` g of grid import (or export, subtracted when exports are netted)
/// adds to the location-based total.
#[inline]
fn effect(import: bool, net_exports: bool, gi: i64) -> f64 {
    if import {
        gi as f64
    } else if net_exports {
        -(gi as f64)
    } else {
        0.0
    }
}

/// Adds PV generation `values` (interval `k` starting at `t0 + k·len`) to the hours they
/// start in, an hour's intervals at a time; returns their total, Wh.
fn pv_hours<V: Milli>(values: &[V], t0: i64, len: i64, to_wh: ToWh, hours: &mut Hours) -> i64 {
    let mut total = 0;
    let mut k = 0;
    while k < values.len() {
        let t = t0 + k as i64 * len;
        let slot = hours.touch_slot(t);
        let until = hours.start(slot) + HOUR;
        let count = usize::try_from((until - t + len - 1) / len)
            .unwrap_or(1)
            .clamp(1, values.len() - k);
        let wh: i64 = values[k..k + count]
            .iter()
            .map(|v| to_wh.wh(v.milli()))
            .sum();
        hours.slots[slot].pv_wh += wh;
        total += wh;
        k += count;
    }
    total
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tanji_units::Unit;

    use super::super::series::{clip, prepare};
    use super::super::testing::{inputs, series};
    use super::*;
    use crate::factor::TableFactors;
    use crate::input::NamedFactor;
    use crate::report::IssueKind;

    #[test]
    fn import_takes_each_hours_factor_and_the_fixed_factor_counts_the_rest() {
        // A factor of 400 g/kWh for the first hour only; 1000 Wh a quarter-hour for two hours.
        let table = TableFactors::regular("t", 0, 3_600, &[400.0]);
        let i = inputs(
            0,
            7_200,
            vec![series(
                "a",
                Carrier::ElectricityImport,
                Unit::KWh,
                0,
                900,
                vec![Some(1_000); 8],
            )],
        );
        let opts = Options {
            fixed_factor: Some(NamedFactor {
                value: 600.0,
                source: "test".to_owned(),
            }),
            ..Options::default()
        };
        let clips = clip(&i).unwrap();
        let mut grid = Grid::new(&i, &clips, &table, &opts, true);
        let f = prepare(&i.series[0], clips[0], &opts);
        let mut eff = vec![0.0; 8];
        let sums = grid.meter(&f, &mut eff);
        // First hour 4 × 1000 Wh × 0.4 = 1600 g; second hour 4000 Wh at the fixed 0.6 = 2400 g.
        assert_eq!((sums.wh, sums.g), (8_000, 4_000));
        assert_eq!(
            (sums.missing_n, sums.missing_wh, sums.missing_g),
            (4, 4_000.0, 2_400.0)
        );
        assert_eq!(
            sums.span,
            Span {
                start: 3_600,
                end: 7_200
            }
        );
        assert_eq!(
            eff,
            [400.0, 400.0, 400.0, 400.0, 600.0, 600.0, 600.0, 600.0]
        );
        assert_eq!(grid.imports.as_ref().unwrap().len(), 8);
        let first = &grid.hours.slots[0];
        assert_eq!((first.import_wh, first.import_g), (4_000, 1_600));
        // UTC+8: the first hour is 08:00 local; only intervals with a factor count in its mean.
        let b = grid.by_hour.as_ref().unwrap();
        assert_eq!((b.wh[8], b.g[8], b.fcount[8]), (4_000, 1_600, 4));
        assert_eq!((b.wh[9], b.g[9], b.fcount[9]), (4_000, 2_400, 0));
        let mut tally = Tally::new(&opts);
        count_meter(&mut tally, &f, &sums, Some(600.0), "t");
        assert_eq!(
            (tally.loc.import_wh, tally.loc.electricity_g),
            (8_000, 4_000)
        );
        assert_eq!(tally.import_without_factor, 4);
        let issue = &tally.issues[0];
        assert_eq!(issue.kind, IssueKind::MissingFactor);
        assert_eq!(
            (issue.intervals, issue.effect_g, issue.quantity_milli),
            (4, 2_400, 4_000_000)
        );
    }

    #[test]
    fn pv_self_consumption_is_generation_less_export_hour_by_hour() {
        let table = TableFactors::regular("t", 0, 3_600, &[100.0, 100.0]);
        let hourly = |m: &str, c, v: [i64; 2]| {
            series(
                m,
                c,
                Unit::KWh,
                0,
                3_600,
                v.iter().map(|&x| Some(x)).collect(),
            )
        };
        let i = inputs(
            0,
            7_200,
            vec![
                hourly("i", Carrier::ElectricityImport, [5_000, 5_000]),
                hourly("x", Carrier::ElectricityExport, [1_000, 2_000]),
                hourly("p", Carrier::PvGeneration, [3_000, 500]),
            ],
        );
        let opts = Options {
            net_exports: true,
            ..Options::default()
        };
        let clips = clip(&i).unwrap();
        let mut grid = Grid::new(&i, &clips, &table, &opts, false);
        let mut tally = Tally::new(&opts);
        for (s, &c) in i.series.iter().zip(&clips) {
            let f = prepare(s, c, &opts);
            if f.carrier == Carrier::PvGeneration {
                tally.loc.pv_generation_wh += grid.pv(&f);
            } else {
                let sums = grid.meter(&f, &mut []);
                count_meter(&mut tally, &f, &sums, None, "t");
            }
        }
        close(&mut grid.hours, &mut tally.loc, opts.net_exports);
        let loc = &tally.loc;
        assert_eq!(
            (loc.pv_generation_wh, loc.export_wh, loc.export_g),
            (3_500, 3_000, 300)
        );
        // 3000 − 1000 in the first hour, nothing (500 − 2000) in the second.
        assert_eq!(loc.pv_self_consumed_wh, 2_000);
        assert_eq!(loc.consumption_wh, 12_000);
        // 10 000 Wh × 0.1 = 1000 g, less the netted 300 g of export.
        assert_eq!(loc.total_g, 700);
        assert_eq!(grid.hours.slots[1].uncovered, 5_000.0);
    }
}
