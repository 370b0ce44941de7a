//! The computation behind [`crate::compute`].

use std::ops::Range;

use tanji_units::{is_allowed_interval, Carrier, Dimension, Unit};

use crate::factor::{FactorInterval, FactorLookup};
use crate::fuels::{Fuel, FuelLookupError, GasReference, NcvBasis};
use crate::gaps::{div_round, fill, Fill, GapRun};
use crate::input::{
    china_residual, local_year, Inputs, IntervalSeries, Matching, NamedFactor, Options, Residual,
};
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
    // Without branches: whether a value rounds up is as good as random, and a mispredicted
    // branch per interval cost more than the rest of the arithmetic.
    t + i64::from(frac >= 0.5) - i64::from(frac <= -0.5)
}

/// Thousandths of an electricity unit to Wh (exact ratio, rounded half away from zero), for
/// one unit, worked out once per series.
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

/// A series' values for its intervals inside the period: borrowed as they are when none of
/// them is missing (most series), else the filled values (see [`fill`]).
enum Vals<'a> {
    Measured(&'a [Option<i64>]),
    Filled(Vec<i64>),
}

/// A run of filled values inside the period.
struct Run {
    /// Start of its first interval.
    start: i64,
    /// End of its last interval.
    end: i64,
    /// Sum of the filled values.
    milli: i64,
    fill: Fill,
    /// Its intervals, as indices of the series' intervals inside the period.
    idx: Range<usize>,
}

/// A filled series, clipped to the period: interval `k` starts at `t0 + k·interval_s`.
struct Filled<'a> {
    meter: &'a str,
    carrier: Carrier,
    unit: Unit,
    fuel: Option<&'a str>,
    interval_s: i64,
    /// Start of the first interval inside the period.
    t0: i64,
    /// Number of intervals inside the period.
    len: usize,
    vals: Vals<'a>,
    runs: Vec<Run>,
}

impl Filled<'_> {
    /// Start of interval `k`.
    fn t(&self, k: usize) -> i64 {
        self.t0 + k as i64 * self.interval_s
    }

    /// Value of interval `k` (thousandths of the unit, gaps filled).
    fn milli(&self, k: usize) -> i64 {
        match &self.vals {
            Vals::Measured(v) => v[k].unwrap_or_default(),
            Vals::Filled(v) => v[k],
        }
    }

    /// Calls `f(k, value)` for every interval, in order.
    #[inline]
    fn each(&self, mut f: impl FnMut(usize, i64)) {
        match &self.vals {
            Vals::Measured(v) => v
                .iter()
                .enumerate()
                .for_each(|(k, x)| f(k, x.unwrap_or_default())),
            Vals::Filled(v) => v.iter().enumerate().for_each(|(k, &x)| f(k, x)),
        }
    }

    /// Sum of the values of `range`.
    fn sum(&self, range: Range<usize>) -> i64 {
        match &self.vals {
            Vals::Measured(v) => v[range].iter().map(|x| x.unwrap_or_default()).sum(),
            Vals::Filled(v) => v[range].iter().sum(),
        }
    }
}

/// A [`FactorLookup`] that keeps the last interval it found: a series' consecutive intervals
/// mostly fall in the same factor interval (four quarter-hours to an hourly factor), which
/// the lookup then answers without searching (see [`FactorLookup::factor_at`]).
///
/// It also remembers the answer at the start of each hour of the period (`memo`), where
/// every meter on the quarter-hour clock asks again.
struct Factors<'a> {
    lookup: &'a dyn FactorLookup,
    last: Option<FactorInterval>,
    /// Start of the first hour remembered.
    first: i64,
    /// The lookup's answer at each hour's start, once asked.
    memo: Vec<Option<Option<FactorInterval>>>,
}

impl<'a> Factors<'a> {
    /// With `remember`, remembers the answers at the hours of `hours` (worth it when more
    /// than one meter asks).
    fn new(lookup: &'a dyn FactorLookup, hours: &Hours, remember: bool) -> Self {
        Factors {
            lookup,
            last: None,
            first: hours.first,
            memo: if remember {
                vec![None; hours.slots.len()]
            } else {
                Vec::new()
            },
        }
    }

    /// `lookup.factor_at(t)`, remembered at hour starts.
    fn lookup_at(&mut self, t: i64) -> Option<FactorInterval> {
        let d = t.wrapping_sub(self.first);
        if d >= 0 && d % HOUR == 0 {
            if let Some(slot) = self.memo.get_mut((d / HOUR) as usize) {
                return *slot.get_or_insert_with(|| self.lookup.factor_at(t));
            }
        }
        self.lookup.factor_at(t)
    }

    /// The factor and end of the last interval found, if that interval holds all of
    /// `[t, end)`.
    #[inline]
    fn covering(&self, t: i64, end: i64) -> Option<(f64, i64)> {
        self.last
            .filter(|f| f.start <= t && end <= f.end)
            .map(|f| (f.g_per_kwh, f.end))
    }

    fn at(&mut self, t: i64) -> Option<FactorInterval> {
        if let Some(f) = self.last.filter(|f| f.start <= t && t < f.end) {
            return Some(f);
        }
        let found = self.lookup_at(t);
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
    /// Sum of the import intervals' location-based g.
    import_g: i64,
    pv_wh: i64,
    export_wh: i64,
    uncovered: f64,
    /// (instrument index, Wh delivered in this hour) for hourly supply; boxed, as most hours
    /// of most enterprises have none (8 bytes here instead of an empty `Vec`'s 24).
    #[allow(clippy::box_collection)]
    supply: Option<Box<Vec<(usize, f64)>>>,
}

impl HourAgg {
    /// (instrument index, Wh delivered in this hour).
    fn supply(&self) -> &[(usize, f64)] {
        self.supply.as_deref().map_or(&[], Vec::as_slice)
    }
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

    /// The slot of the hour `t` falls in, marked present. `t` must lie within the hours given
    /// to `new`.
    fn touch_slot(&mut self, t: i64) -> usize {
        let i = self.index(t).unwrap_or(usize::MAX);
        self.slots[i].present = true;
        i
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
}

/// Hour-of-day aggregates of grid import for [`compare`], gathered as the intervals are
/// computed: per hour of day, the same sums in the same order as over the list of import
/// intervals (meter by meter, each in time order).
struct ByHour {
    wh: [i64; 24],
    g: [i64; 24],
    fsum: [f64; 24],
    fcount: [u32; 24],
    /// (interval start, factor) by time, each start once: the factor of the first meter
    /// (in input order) that has one there.
    seen: Vec<(i64, f64)>,
    /// With a single import meter, `seen` is not kept: each start is there once, in time
    /// order, so its factors are summed as they come (as `Iterator::sum` would).
    single: bool,
    /// The sum of `seen`'s factors (single import meter).
    seen_sum: f64,
    /// The number of `seen`'s factors (single import meter).
    seen_n: usize,
}

impl ByHour {
    fn new(single: bool) -> ByHour {
        ByHour {
            wh: [0; 24],
            g: [0; 24],
            fsum: [0.0; 24],
            fcount: [0; 24],
            seen: Vec::new(),
            single,
            seen_sum: std::iter::empty::<f64>().sum(),
            seen_n: 0,
        }
    }

    /// The time mean of the factor over the period.
    fn period_mean(&self) -> Option<f64> {
        if self.single {
            (self.seen_n > 0).then(|| self.seen_sum / self.seen_n as f64)
        } else {
            let seen = &self.seen;
            (!seen.is_empty())
                .then(|| seen.iter().map(|&(_, f)| f).sum::<f64>() / seen.len() as f64)
        }
    }

    /// Adds one meter's (start, factor) pairs, in time order; on a start already seen, the
    /// earlier meter's factor stays.
    fn merge_seen(&mut self, new: Vec<(i64, f64)>) {
        if self.seen.is_empty() {
            self.seen = new;
            return;
        }
        let old = &self.seen;
        if new.is_empty() {
            return;
        }
        if old.len() == new.len() && old.iter().zip(&new).all(|(a, b)| a.0 == b.0) {
            return; // the same starts (meters on one clock): the earlier factors stay
        }
        let mut out = Vec::with_capacity(old.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() && j < new.len() {
            match old[i].0.cmp(&new[j].0) {
                std::cmp::Ordering::Less => {
                    out.push(old[i]);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(new[j]);
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    out.push(old[i]);
                    i += 1;
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&old[i..]);
        out.extend_from_slice(&new[j..]);
        self.seen = out;
    }
}

/// One electricity meter's sums.
struct Sums {
    wh: i64,
    g: i64,
    /// The largest |Wh| and |g| of an interval.
    max_wh: u64,
    max_g: u64,
    missing_n: u64,
    missing_wh: f64,
    missing_g: f64,
    span: (i64, i64),
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
            span: (i64::MAX, i64::MIN),
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
    utc_offset: i64,
    factors: &'a mut Factors<'l>,
    hours: &'a mut Hours,
    by_hour: Option<&'a mut ByHour>,
    imports: Option<&'a mut Vec<ImportPoint>>,
    /// Each interval's g, when kept (else empty).
    eff: &'a mut [f64],
    sums: Sums,
}

impl Electric<'_, '_, '_> {
    fn run<V: Milli>(&mut self, values: &[V]) {
        let f = self.f;
        let len = f.interval_s;
        let n = values.len();
        let to_wh = ToWh::new(f.unit);
        let mut s = Sums::default();
        // The hour slot and the hour of day of the current interval, and until when they
        // hold (the intervals' starts increase).
        let (mut slot, mut slot_until) = (0usize, i64::MIN);
        let (mut hd, mut hd_until) = (0usize, i64::MIN);
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
            if t >= slot_until {
                if slot_until != i64::MIN && t < slot_until + HOUR {
                    // The next hour (the usual step).
                    slot += 1;
                    self.hours.slots[slot].present = true;
                    slot_until += HOUR;
                } else {
                    slot = self.hours.touch_slot(t);
                    slot_until = self.hours.start(slot) + HOUR;
                }
            }
            if t >= hd_until {
                if hd_until != i64::MIN && t < hd_until + HOUR {
                    hd = if hd == 23 { 0 } else { hd + 1 };
                    hd_until += HOUR;
                } else {
                    let local = t + self.utc_offset;
                    hd = (local.rem_euclid(86_400) / HOUR) as usize;
                    hd_until = local.div_euclid(HOUR) * HOUR + HOUR - self.utc_offset;
                }
            }
            let mut covering = self.factors.covering(t, t + len);
            if covering.is_none() {
                // A new factor interval (at most once an hour for hourly factors).
                self.factors.at(t);
                covering = self.factors.covering(t, t + len);
            }
            let Some((gk, f_end)) = covering else {
                // Across factor intervals, or without a factor: one interval alone.
                let wh = to_wh.wh(values[k].milli());
                let (mut g, miss, factor) = dynamic_g(self.factors, t, len, wh);
                if miss > 0.0 {
                    s.missing_n += 1;
                    s.missing_wh += miss;
                    s.span = (s.span.0.min(t), s.span.1.max(t + len));
                    if let Some(fx) = self.fixed {
                        s.missing_g += miss * fx / 1000.0;
                        g += miss * fx / 1000.0;
                    }
                }
                let gi = round_g(g);
                self.add(&mut s, k, t, slot, hd, wh, gi, 1, factor, &mut seen);
                k += 1;
                continue;
            };
            // A block of intervals inside one factor interval, one hour slot and one hour of
            // day: `dynamic_g` of each with the same arithmetic, the sums added once.
            let until = slot_until.min(hd_until).min(f_end - len + 1);
            // The block: the intervals from k starting before `until` (at least k itself).
            let mut end = k + 1;
            let mut t_end = t + len;
            while end < n && t_end < until {
                end += 1;
                t_end += len;
            }
            let count = end - k;
            let factor = (0.0 + gk) / 1.0;
            let (mut bw, mut bg) = (0i64, 0i64);
            // (`round_g(0.0 + x)` is `round_g(x)`: the two differ only for x = -0.0.)
            if self.eff.is_empty() && !keep_seen && self.imports.is_none() {
                // The usual case: the sums alone.
                let (mut max_wh, mut max_g) = (s.max_wh, s.max_g);
                for v in &values[k..end] {
                    let wh = to_wh.wh(v.milli());
                    let gi = round_g(wh as f64 * gk / 1000.0);
                    bw += wh;
                    bg += gi;
                    max_wh = max_wh.max(wh.unsigned_abs());
                    max_g = max_g.max(gi.unsigned_abs());
                }
                if self.import {
                    (s.max_wh, s.max_g) = (max_wh, max_g);
                }
                self.add_sums(&mut s, slot, hd, bw, bg, count, Some(factor));
                k = end;
                continue;
            }
            for (j, v) in values[k..end].iter().enumerate() {
                let wh = to_wh.wh(v.milli());
                let gi = round_g(wh as f64 * gk / 1000.0);
                bw += wh;
                bg += gi;
                if self.import {
                    s.max_wh = s.max_wh.max(wh.unsigned_abs());
                    s.max_g = s.max_g.max(gi.unsigned_abs());
                }
                if let Some(e) = self.eff.get_mut(k + j) {
                    *e = if self.import {
                        gi as f64
                    } else if self.net_exports {
                        -(gi as f64)
                    } else {
                        0.0
                    };
                }
                if keep_seen {
                    seen.push((t + j as i64 * len, factor));
                }
                if let Some(v) = self.imports.as_mut() {
                    v.push(ImportPoint {
                        t: t + j as i64 * len,
                        wh,
                        g: gi,
                    });
                }
            }
            self.add_sums(&mut s, slot, hd, bw, bg, count, Some(factor));
            k = end;
        }
        if let Some(b) = self.by_hour.as_mut() {
            if keep_seen {
                b.merge_seen(seen);
            }
        }
        self.sums = s;
    }

    /// Adds one interval (`count` = 1) computed alone.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        s: &mut Sums,
        k: usize,
        t: i64,
        slot: usize,
        hd: usize,
        wh: i64,
        gi: i64,
        count: usize,
        factor: Option<f64>,
        seen: &mut Vec<(i64, f64)>,
    ) {
        if self.import {
            s.max_wh = s.max_wh.max(wh.unsigned_abs());
            s.max_g = s.max_g.max(gi.unsigned_abs());
        }
        if let Some(e) = self.eff.get_mut(k) {
            *e = if self.import {
                gi as f64
            } else if self.net_exports {
                -(gi as f64)
            } else {
                0.0
            };
        }
        if self.import {
            if let (Some(b), Some(factor)) = (self.by_hour.as_ref(), factor) {
                if !b.single {
                    seen.push((t, factor));
                }
            }
            if let Some(v) = self.imports.as_mut() {
                v.push(ImportPoint { t, wh, g: gi });
            }
        }
        self.add_sums(s, slot, hd, wh, gi, count, factor);
    }

    /// The sums every interval or block adds to: the series', the hour's, and for grid import
    /// the hour of day's (its factor `count` times over, in order, when there is one).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn add_sums(
        &mut self,
        s: &mut Sums,
        slot: usize,
        hd: usize,
        wh: i64,
        g: i64,
        count: usize,
        factor: Option<f64>,
    ) {
        s.wh += wh;
        s.g += g;
        let h = &mut self.hours.slots[slot];
        if self.import {
            h.import_wh += wh;
            h.import_g += g;
            if let Some(b) = self.by_hour.as_mut() {
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

/// A value of a series: measured (`Option`, none missing) or filled.
trait Milli: Copy {
    fn milli(self) -> i64;
}

impl Milli for i64 {
    #[inline]
    fn milli(self) -> i64 {
        self
    }
}

impl Milli for Option<i64> {
    #[inline]
    fn milli(self) -> i64 {
        self.unwrap_or_default()
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
    // Grid-import intervals without an hourly factor, for the comparison.
    let mut import_without_factor = 0u64;

    // 1. Validate, clip to the period (gaps are filled series by series below, just before
    //    each is computed, while its values are in the cache).
    let mut clip = Vec::with_capacity(inputs.series.len());
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
        // The intervals starting in the period: `first..last` (their starts increase with i).
        let starting_before = |t: i64| {
            let d = i128::from(t) - i128::from(s.start);
            let ceil = -((-d).div_euclid(i128::from(s.interval_s)));
            usize::try_from(ceil.clamp(0, s.values.len() as i128)).unwrap_or(0)
        };
        let (first, last) = (
            starting_before(inputs.period_start),
            starting_before(inputs.period_end),
        );
        clip.push((first, last));
    }

    // 2. Per-series, per-interval location/Scope 1 emissions. Each interval's emissions
    //    (g, f64) are kept only where they are needed: for the effect of a gap, and for
    //    `intervals`.
    let electric = |c: Carrier| {
        matches!(
            c,
            Carrier::ElectricityImport | Carrier::ElectricityExport | Carrier::PvGeneration
        )
    };
    let clipped = || {
        inputs
            .series
            .iter()
            .zip(&clip)
            .filter(|(_, &(first, last))| last > first)
    };
    let (from, to) = clipped()
        .filter(|(s, _)| electric(s.carrier))
        .map(|(s, &(first, last))| (s.interval_start(first), s.interval_start(last - 1)))
        .fold((i64::MAX, i64::MIN), |(a, b), (x, y)| (a.min(x), b.max(y)));
    let mut hours = Hours::new(from, to);
    // Without instruments and with the grid as residual, every import interval counts in
    // the market-based figure as it is (see `market`): its sums per hour are enough.
    // With a constant residual factor and no instruments, the hours' sums are enough too.
    let per_interval =
        force_per_interval || !inputs.certificates.is_empty() || !inputs.purchases.is_empty();
    let mut imports: Option<Vec<ImportPoint>> = per_interval.then(Vec::new);
    // The largest the per-hour sums can reach: below 2^53 they are exact in f64.
    let (mut abs_wh, mut abs_g) = (0i128, 0i128);
    let import_meters = clipped()
        .filter(|(s, _)| s.carrier == Carrier::ElectricityImport)
        .count();
    let mut by_hour = opts
        .fixed_factor
        .as_ref()
        .map(|_| ByHour::new(import_meters == 1));
    let grid_meters = clipped()
        .filter(|(s, _)| {
            matches!(
                s.carrier,
                Carrier::ElectricityImport | Carrier::ElectricityExport
            )
        })
        .count();
    let mut factors = Factors::new(lookup, &hours, grid_meters > 1);
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
    let utc_offset = i64::from(opts.utc_offset_s);
    let mut effects: Vec<Vec<f64>> = Vec::with_capacity(clip.len());
    let mut filled = Vec::with_capacity(clip.len());

    for (s, &(first, last)) in inputs.series.iter().zip(&clip) {
        filled.push(prepare(s, first, last, opts));
        let Some(f) = filled.last() else {
            continue;
        };
        let need_eff = intervals.is_some() || !f.runs.is_empty();
        let mut eff = if need_eff {
            vec![0.0; f.len]
        } else {
            Vec::new()
        };
        match f.carrier {
            Carrier::ElectricityImport | Carrier::ElectricityExport => {
                let import = f.carrier == Carrier::ElectricityImport;
                let mut acc = Electric {
                    f,
                    import,
                    fixed,
                    net_exports: opts.net_exports,
                    utc_offset,
                    factors: &mut factors,
                    hours: &mut hours,
                    by_hour: by_hour.as_mut(),
                    imports: if import { imports.as_mut() } else { None },
                    eff: &mut eff,
                    sums: Sums::default(),
                };
                match &f.vals {
                    Vals::Measured(v) => acc.run(v),
                    Vals::Filled(v) => acc.run(v),
                }
                let sums = acc.sums;
                let (missing_n, missing_wh, missing_g, span) =
                    (sums.missing_n, sums.missing_wh, sums.missing_g, sums.span);
                if import {
                    loc.import_wh += sums.wh;
                    loc.electricity_g += sums.g;
                    // Bounds of the sums of |Wh| and |g| over the intervals.
                    abs_wh += i128::from(sums.max_wh) * f.len as i128;
                    abs_g += i128::from(sums.max_g) * f.len as i128;
                } else {
                    loc.export_wh += sums.wh;
                    loc.export_g += sums.g;
                }
                if missing_n > 0 {
                    if import {
                        import_without_factor += missing_n;
                    }
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
                let (t0, len) = (f.t0, f.interval_s);
                loc.pv_generation_wh += match &f.vals {
                    Vals::Measured(v) => pv_hours(v, t0, len, to_wh, &mut hours),
                    Vals::Filled(v) => pv_hours(v, t0, len, to_wh, &mut hours),
                };
            }
            Carrier::Steam | Carrier::Heat => {
                let factor = if f.carrier == Carrier::Steam {
                    &opts.heat.steam_t_per_gj
                } else {
                    &opts.heat.heat_t_per_gj
                };
                let total: i64 = f.sum(0..f.len);
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
                if need_eff {
                    f.each(|k, milli| eff[k] = milli as f64 * g_per_milli);
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
                let total: i64 = f.sum(0..f.len);
                let choice = opts.meter_fuels.get(f.meter);
                let (table, fuel) = opts
                    .fuels
                    .resolve(
                        f.carrier,
                        choice.and_then(|c| c.table.as_deref()),
                        choice.and_then(|c| c.fuel.as_deref()).or(f.fuel),
                    )
                    .map_err(|e| match e {
                        FuelLookupError::UnknownTable(table) => AccountingError::UnknownFuelTable {
                            meter: f.meter.to_owned(),
                            table,
                        },
                        FuelLookupError::UnknownFuel { table, fuel } => {
                            AccountingError::UnknownFuel {
                                meter: f.meter.to_owned(),
                                fuel,
                                table,
                            }
                        }
                    })?;
                // Gas by volume: m3 at the meter's stated conditions → normal m3 (the NCV's).
                let gas_reference = (f.unit.dimension() == Dimension::Volume
                    && fuel.ncv_basis == NcvBasis::GjPer10kNm3)
                    .then(|| choice.and_then(|c| c.gas_reference));
                let to_normal = gas_reference.flatten().map_or(1.0, GasReference::to_normal);
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
                let gj_per_milli = gj_1000 / 1_000_000.0 * to_normal;
                let ef = fuel.ef_t_per_gj();
                let g_per_milli = gj_per_milli * ef * 1e6;
                let gj = total as f64 * gj_per_milli;
                let g = round_g(total as f64 * g_per_milli);
                if need_eff {
                    f.each(|k, milli| {
                        eff[k] = if fuel.biogenic {
                            0.0
                        } else {
                            milli as f64 * g_per_milli
                        };
                    });
                }
                if fuel.biogenic {
                    scope1.biogenic_g += g;
                } else {
                    scope1.fossil_g += g;
                }
                fuel_gj += gj;
                // A default density turns nothing into nothing when no fuel was used: no note.
                if default_density && total != 0 {
                    issues.push(DataIssue {
                        kind: IssueKind::DefaultDensity,
                        meter: Some(f.meter.to_owned()),
                        start: if f.len > 0 { f.t(0) } else { inputs.period_start },
                        end: if f.len > 0 {
                            f.t(f.len - 1) + f.interval_s
                        } else {
                            inputs.period_end
                        },
                        intervals: f.len as u64,
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
                let gas_volume = gas_reference
                    .map(|stated| gas_volume(f, fuel, stated, total, g, inputs, &mut issues));
                scope1.lines.push(FuelLine {
                    meter: f.meter.to_owned(),
                    carrier: f.carrier,
                    fuel: fuel.id.clone(),
                    table: table.id.clone(),
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
                    verified: fuel.verified,
                    gas_volume,
                });
            }
        }
        effects.push(eff);
    }

    // Per-hour sums stand for the market-based figure's sums over intervals only while every
    // partial sum is a whole number below 2^53 (exact in f64); past that (a few Gt), compute
    // again interval by interval.
    const EXACT: i128 = 1 << 53;
    if imports.is_none() && (abs_wh >= EXACT || abs_g >= EXACT) {
        return compute(inputs, lookup, opts, intervals, true);
    }

    // Per-interval emissions, as counted above (exports and PV carry none here).
    if let Some(intervals) = intervals {
        for (f, eff) in filled.iter().zip(&effects) {
            let electricity = match f.carrier {
                Carrier::ElectricityImport => true,
                Carrier::ElectricityExport | Carrier::PvGeneration => continue,
                _ => false,
            };
            let to_wh = ToWh::new(f.unit);
            intervals.reserve(f.len);
            for (k, &g) in eff.iter().enumerate() {
                let t = f.t(k);
                intervals.push(IntervalEmission {
                    meter: f.meter.to_owned(),
                    carrier: f.carrier,
                    start: t,
                    end: t + f.interval_s,
                    wh: if electricity { to_wh.wh(f.milli(k)) } else { 0 },
                    g,
                });
            }
        }
    }

    // 3. Gap issues with their effect.
    for (f, eff) in filled.iter().zip(&effects) {
        for Run {
            start,
            end,
            milli,
            fill,
            idx,
        } in &f.runs
        {
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
            issues.push(DataIssue {
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
    let (market, cfe_matched_wh) = market(inputs, opts, &mut hours, imports.as_deref(), &loc);

    if matches!(opts.residual, Residual::Grid) && market.uncovered_import_wh > 0 {
        issues.push(residual_location_issue(inputs, opts, &market));
    }

    // 6. Comparison.
    let comparison = opts
        .fixed_factor
        .as_ref()
        .zip(by_hour.as_ref())
        .map(|(fx, b)| compare(fx, b, import_without_factor));

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

/// Series `s` clipped to its intervals `first..last` (those starting in the period), its
/// gaps there filled.
fn prepare<'a>(s: &'a IntervalSeries, first: usize, last: usize, opts: &Options) -> Filled<'a> {
    let interval_s = i64::from(s.interval_s);
    let t0 = s.interval_start(first);
    let inside = &s.values[first..last];
    // Filling changes nothing inside the period when nothing is missing there (a value
    // is filled from measured values only).
    // (Counted without stopping at the first gap: a loop the compiler vectorises.)
    let (vals, runs) = if inside.iter().filter(|v| v.is_none()).count() == 0 {
        (Vals::Measured(inside), Vec::new())
    } else {
        let (mut vals, _flags, runs) = fill(
            &s.values,
            s.start,
            s.interval_s,
            opts.utc_offset_s,
            opts.max_linear_gap,
        );
        vals.truncate(last);
        vals.drain(..first);
        let runs = runs
            .iter()
            .filter_map(|GapRun { from, to, fill }| {
                let (a, b) = ((*from).max(first), (*to).min(last));
                let idx = a.checked_sub(first)?..b.checked_sub(first)?;
                if idx.is_empty() {
                    return None;
                }
                Some(Run {
                    start: t0 + idx.start as i64 * interval_s,
                    end: t0 + (idx.end - 1) as i64 * interval_s + interval_s,
                    milli: vals[idx.clone()].iter().sum(),
                    fill: *fill,
                    idx,
                })
            })
            .collect();
        (Vals::Filled(vals), runs)
    };
    Filled {
        meter: &s.meter,
        carrier: s.carrier,
        unit: s.unit,
        fuel: s.fuel.as_deref(),
        interval_s,
        t0,
        len: last - first,
        vals,
        runs,
    }
}

fn unconvertible(f: &Filled<'_>, total: i64, what: &str) -> DataIssue {
    DataIssue {
        kind: IssueKind::Unconvertible,
        meter: Some(f.meter.to_owned()),
        start: if f.len > 0 { f.t(0) } else { 0 },
        end: if f.len > 0 {
            f.t(f.len - 1) + f.interval_s
        } else {
            0
        },
        intervals: f.len as u64,
        quantity_milli: total,
        effect_g: 0,
        message: format!(
            "meter {} ({} in {}): not counted: {what}",
            f.meter, f.carrier, f.unit
        ),
    }
}

/// A gas meter's volume at its conditions and in normal m3; when the meter states none, a
/// `gas_reference_assumed` issue with what 20 °C m3 would change.
fn gas_volume(
    f: &Filled<'_>,
    fuel: &Fuel,
    stated: Option<GasReference>,
    total: i64,
    g: i64,
    inputs: &Inputs,
    issues: &mut Vec<DataIssue>,
) -> GasVolume {
    let reference = stated.unwrap_or(GasReference::Normal);
    let to_normal = reference.to_normal();
    let normal = (total as f64 * to_normal).round() as i64;
    let note = match stated {
        Some(r) => format!(
            "{:.3} m3 at {} = {:.3} normal m3 (× {:.5} = 273.15 / (273.15 + t) × p / 101.325), \
                     the basis of the table's NCV",
            total as f64 / 1000.0,
            r.describe(),
            normal as f64 / 1000.0,
            to_normal
        ),
        None => {
            let at20 = GasReference::Standard20C.to_normal();
            let over = g - round_g(g as f64 * at20);
            issues.push(DataIssue {
                kind: IssueKind::GasReferenceAssumed,
                meter: Some(f.meter.to_owned()),
                start: if f.len > 0 {
                    f.t(0)
                } else {
                    inputs.period_start
                },
                end: if f.len > 0 {
                    f.t(f.len - 1) + f.interval_s
                } else {
                    inputs.period_end
                },
                intervals: f.len as u64,
                quantity_milli: total,
                effect_g: over,
                message: format!(
                    "meter {}: {:.3} m3 of {} with no stated reference conditions, taken as normal \
                     m3 (0 °C, 101.325 kPa, the table's basis); if they are 20 °C m3 (the usual \
                     billing basis) the line is {:.1}% high, {:.6} tCO2. State the meter's \
                     gas_reference at registration or in the enterprise inputs",
                    f.meter,
                    total as f64 / 1000.0,
                    fuel.id,
                    (1.0 / at20 - 1.0) * 100.0,
                    over as f64 / 1e6
                ),
            });
            format!(
                "{:.3} m3, reference conditions not stated: taken as normal m3 (0 °C, 101.325 \
                     kPa); see the gas_reference_assumed issue",
                total as f64 / 1000.0
            )
        }
    };
    GasVolume {
        reference,
        stated: stated.is_some(),
        to_normal,
        normal_m3_milli: normal,
        note,
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

/// The `residual_location` issue: uncovered import at the location-based factor, and what the
/// default residual (China, excluding market-traded non-fossil power) would count instead.
fn residual_location_issue(inputs: &Inputs, opts: &Options, market: &Scope2Market) -> DataIssue {
    let default = residual_factor(inputs, &Residual::ChinaExcludingTraded, opts.utc_offset_s);
    let alt_g = default.as_ref().map_or(0, |f| {
        round_g(market.uncovered_import_wh as f64 * f.value / 1000.0)
    });
    DataIssue {
        kind: IssueKind::ResidualLocation,
        meter: None,
        start: inputs.period_start,
        end: inputs.period_end,
        intervals: 0,
        quantity_milli: market.uncovered_import_wh.saturating_mul(1000),
        effect_g: alt_g - market.electricity_g,
        message: format!(
            "the market-based figure counts {:.3} MWh of grid import no instrument covers at the \
             location-based grid factor: the green power others bought is counted again (GHG \
             Protocol Scope 2 Guidance: use a residual mix, the grid average only with \
             disclosure). At the default residual, {} g/kWh ({}), it would be {:.6} tCO2 ({:+.6} \
             t). Set residual to china_excluding_traded or a named residual mix",
            market.uncovered_import_wh as f64 / 1e6,
            default.as_ref().map_or(0.0, |f| f.value),
            default.as_ref().map_or("", |f| f.source.as_str()),
            alt_g as f64 / 1e6,
            (alt_g - market.electricity_g) as f64 / 1e6
        ),
    }
}

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

/// The factor of uncovered import in the market-based figure: `None` = each interval's own
/// grid factor.
fn residual_factor(inputs: &Inputs, residual: &Residual, utc_offset_s: i32) -> Option<NamedFactor> {
    match residual {
        Residual::Grid => None,
        Residual::Fixed(f) => Some(f.clone()),
        Residual::ChinaExcludingTraded => {
            let first = local_year(inputs.period_start, utc_offset_s);
            let last = local_year(inputs.period_end - 1, utc_offset_s);
            let mut f = china_residual(first);
            if last != first {
                f.source.push_str(&format!(
                    " (the period runs into {last}; the factor of its first year applies \
                     throughout)"
                ));
            }
            Some(f)
        }
    }
}

fn market(
    inputs: &Inputs,
    opts: &Options,
    hours: &mut Hours,
    imports: Option<&[ImportPoint]>,
    loc: &Scope2Location,
) -> (Scope2Market, i64) {
    let period = (inputs.period_start, inputs.period_end);
    let residual_factor = residual_factor(inputs, &opts.residual, opts.utc_offset_s);
    let residual = residual_factor.as_ref();
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
                agg.supply
                    .get_or_insert_with(Box::default)
                    .push((i, ins.wh * o as f64 / ins.spread as f64));
            }
        }
    }
    let mut cfe = 0.0;
    for agg in hours.values() {
        let supply: f64 = agg.supply().iter().map(|s| s.1).sum();
        let pv_self = (agg.pv_wh - agg.export_wh).max(0) as f64;
        cfe += pv_self + supply.min(agg.import_wh as f64);
    }

    match opts.matching {
        Matching::Hourly => {
            for agg in hours.values_mut() {
                let supply: f64 = agg.supply().iter().map(|s| s.1).sum();
                let covered = supply.min(agg.import_wh as f64);
                if supply > 0.0 {
                    for &(i, s) in agg.supply() {
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
    match imports.filter(|_| !instruments.is_empty() || residual.is_none()) {
        Some(imports) => {
            for p in imports {
                let Some(agg) = hours.get(p.t.div_euclid(HOUR) * HOUR) else {
                    continue;
                };
                if agg.import_wh <= 0 {
                    continue;
                }
                let rest = agg.uncovered / agg.import_wh as f64;
                uncovered += p.wh as f64 * rest;
                electricity += match residual {
                    None => p.g as f64 * rest,
                    Some(f) => p.wh as f64 * rest * f.value / 1000.0,
                };
            }
        }
        None => {
            // No instruments: every hour's `rest` above is exactly 1 (`uncovered` =
            // `import_wh`), so the sums are of the intervals' whole Wh and g, exact in f64 (the
            // caller checked they stay below 2^53): the same as the sums of each hour's totals.
            // A constant residual factor then applies to the uncovered total once.
            debug_assert!(instruments.is_empty());
            let (mut wh, mut g) = (0i64, 0i64);
            for agg in hours.values().filter(|a| a.import_wh > 0) {
                wh += agg.import_wh;
                g += agg.import_g;
            }
            uncovered = wh as f64;
            electricity = match residual {
                None => g as f64,
                Some(f) => wh as f64 * f.value / 1000.0,
            };
        }
    }
    let instruments_wh: f64 = instruments.iter().map(|i| i.wh).sum();
    let applied: f64 = instruments.iter().map(|i| i.applied).sum();
    let electricity_g = round_g(electricity);
    (
        Scope2Market {
            matching: opts.matching,
            residual: opts.residual.clone(),
            residual_factor: residual_factor.clone(),
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

/// The longest window of hours the reason names.
const MAX_WINDOW_HOURS: usize = 12;

/// Fixed vs dynamic for the grid import gathered in `by_hour`; `without_factor` intervals of
/// it had no hourly factor.
fn compare(fx: &NamedFactor, by_hour: &ByHour, without_factor: u64) -> Comparison {
    let f = fx.value;
    let ByHour {
        wh,
        g,
        fsum,
        fcount,
        ..
    } = by_hour;
    // Time mean of the factor over the period: each interval counted once, whatever the use.
    let period_mean = by_hour.period_mean();
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
    let window = period_mean.and_then(|m| timing_window(wh, g, m, timing_g, fixed_g));
    let mut c = Comparison {
        fixed_factor: fx.clone(),
        import_wh,
        fixed_g,
        dynamic_g,
        difference_g,
        difference_pct,
        period_mean_factor_g_per_kwh: period_mean,
        season_g,
        timing_g,
        intervals_without_factor: without_factor,
        by_hour,
        window,
        reason: None,
    };
    c.reason = crate::why::reason(&c, crate::why::Lang::En);
    c
}

/// The hours of day (a contiguous, possibly wrapping window of at most `MAX_WINDOW_HOURS`)
/// that explain most of the timing part, each hour's use measured against the period's mean
/// factor `mean`; `None` when the timing part is negligible (under 0.05% of `fixed_g`).
fn timing_window(
    wh: &[i64; 24],
    g: &[i64; 24],
    mean: f64,
    timing_g: i64,
    fixed_g: i64,
) -> Option<Window> {
    let import_wh: i64 = wh.iter().sum();
    if fixed_g == 0 || (timing_g.abs() as f64) < 0.0005 * fixed_g as f64 {
        return None;
    }
    let sign = if timing_g >= 0 { 1.0 } else { -1.0 };
    let diff_h: Vec<f64> = (0..24)
        .map(|h| wh[h] as f64 * mean / 1000.0 - g[h] as f64)
        .collect();
    // Best contiguous (circular) window of at most MAX_WINDOW_HOURS; the shortest reaching
    // 99% of the best score.
    let score = |a: usize, len: usize| -> f64 {
        sign * (0..len).map(|k| diff_h[(a + k) % 24]).sum::<f64>()
    };
    let mut best = f64::MIN;
    for a in 0..24 {
        for len in 1..=MAX_WINDOW_HOURS {
            best = best.max(score(a, len));
        }
    }
    let (a, len) = (1..=MAX_WINDOW_HOURS)
        .flat_map(|len| (0..24).map(move |a| (a, len)))
        .find(|&(a, len)| score(a, len) >= 0.99 * best)?;
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
        factor_vs_fixed_pct: if mean != 0.0 {
            (factor - mean) / mean * 100.0
        } else {
            0.0
        },
        difference_g: round_g(sign * score(a, len)),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::factor::TableFactors;

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
