//! Stage 1, series: each meter's series checked, clipped to the period and its gaps filled
//! ([`Filled`]), and the per-interval emissions list built from them at the end.

use std::ops::Range;

use tanji_units::{is_allowed_interval, Carrier, Unit};

use super::Span;
use crate::gaps::{div_round, fill, Fill, GapRun};
use crate::input::{Inputs, IntervalSeries, Options};
use crate::report::IntervalEmission;
use crate::AccountingError;

/// Thousandths of an electricity unit to Wh (exact ratio, rounded half away from zero), for
/// one unit, worked out once per series.
#[derive(Clone, Copy)]
pub(super) struct ToWh {
    num: i128,
    den: i128,
    /// The ratio when it is a whole number (kWh: 1): then the conversion is a multiplication.
    times: Option<i64>,
}

impl ToWh {
    pub(super) fn new(unit: Unit) -> ToWh {
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

    pub(super) fn wh(self, milli: i64) -> i64 {
        if let Some(v) = self.times.and_then(|k| milli.checked_mul(k)) {
            return v;
        }
        i64::try_from(div_round(i128::from(milli) * self.num, self.den)).unwrap_or(i64::MAX)
    }
}

/// A series' values for its intervals inside the period: borrowed as they are when none of
/// them is missing (most series), else the filled values (see [`fill`]).
pub(super) enum Vals<'a> {
    Measured(&'a [Option<i64>]),
    Filled(Vec<i64>),
}

/// A run of filled values inside the period.
pub(super) struct Run {
    /// Start of its first interval.
    pub(super) start: i64,
    /// End of its last interval.
    pub(super) end: i64,
    /// Sum of the filled values.
    pub(super) milli: i64,
    pub(super) fill: Fill,
    /// Its intervals, as indices of the series' intervals inside the period.
    pub(super) idx: Range<usize>,
}

/// A filled series, clipped to the period: interval `k` starts at `t0 + k·interval_s`.
pub(super) struct Filled<'a> {
    pub(super) meter: &'a str,
    pub(super) carrier: Carrier,
    pub(super) unit: Unit,
    pub(super) fuel: Option<&'a str>,
    pub(super) interval_s: i64,
    /// Start of the first interval inside the period.
    pub(super) t0: i64,
    /// Number of intervals inside the period.
    pub(super) len: usize,
    pub(super) vals: Vals<'a>,
    pub(super) runs: Vec<Run>,
}

impl Filled<'_> {
    /// Start of interval `k`.
    pub(super) fn t(&self, k: usize) -> i64 {
        self.t0 + k as i64 * self.interval_s
    }

    /// The span `[start, end)` of the intervals inside the period, `None` without any.
    pub(super) fn span(&self) -> Option<Span> {
        (self.len > 0).then(|| Span {
            start: self.t(0),
            end: self.t(self.len - 1) + self.interval_s,
        })
    }

    /// Value of interval `k` (thousandths of the unit, gaps filled).
    pub(super) fn milli(&self, k: usize) -> i64 {
        match &self.vals {
            Vals::Measured(v) => v[k].unwrap_or_default(),
            Vals::Filled(v) => v[k],
        }
    }

    /// Calls `f(k, value)` for every interval, in order.
    #[inline]
    pub(super) fn each(&self, mut f: impl FnMut(usize, i64)) {
        match &self.vals {
            Vals::Measured(v) => v
                .iter()
                .enumerate()
                .for_each(|(k, x)| f(k, x.unwrap_or_default())),
            Vals::Filled(v) => v.iter().enumerate().for_each(|(k, &x)| f(k, x)),
        }
    }

    /// Sum of the values of `range`.
    pub(super) fn sum(&self, range: Range<usize>) -> i64 {
        match &self.vals {
            Vals::Measured(v) => v[range].iter().map(|x| x.unwrap_or_default()).sum(),
            Vals::Filled(v) => v[range].iter().sum(),
        }
    }
}

/// A value of a series: measured (`Option`, none missing) or filled.
pub(super) trait Milli: Copy {
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

/// The intervals of a series that start in the period: indices `first..last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Clip {
    pub(super) first: usize,
    pub(super) last: usize,
}

impl Clip {
    /// Whether any interval starts in the period.
    pub(super) fn any(self) -> bool {
        self.last > self.first
    }
}

/// Checks every series of `inputs` (unit fits the carrier, allowed interval) and clips it to
/// the period.
pub(super) fn clip(inputs: &Inputs) -> Result<Vec<Clip>, AccountingError> {
    let mut clips = Vec::with_capacity(inputs.series.len());
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
        clips.push(Clip {
            first: starting_before(inputs.period_start),
            last: starting_before(inputs.period_end),
        });
    }
    Ok(clips)
}

/// Series `s` clipped to its intervals `first..last` (those starting in the period), its
/// gaps there filled.
pub(super) fn prepare<'a>(s: &'a IntervalSeries, clip: Clip, opts: &Options) -> Filled<'a> {
    let Clip { first, last } = clip;
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

/// Appends to `out` every interval of every grid-import, fuel, heat and steam meter with the
/// emissions `effects` counted for it (exports and PV carry none).
pub(super) fn interval_emissions(
    filled: &[Filled<'_>],
    effects: &[Vec<f64>],
    out: &mut Vec<IntervalEmission>,
) {
    for (f, eff) in filled.iter().zip(effects) {
        let electricity = match f.carrier {
            Carrier::ElectricityImport => true,
            Carrier::ElectricityExport | Carrier::PvGeneration => continue,
            _ => false,
        };
        let to_wh = ToWh::new(f.unit);
        out.reserve(f.len);
        for (k, &g) in eff.iter().enumerate() {
            let t = f.t(k);
            out.push(IntervalEmission {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn series(start: i64, values: Vec<Option<i64>>) -> IntervalSeries {
        IntervalSeries {
            meter: "m".to_owned(),
            carrier: Carrier::ElectricityImport,
            unit: Unit::KWh,
            fuel: None,
            start,
            interval_s: 900,
            values,
        }
    }

    fn inputs(start: i64, end: i64, series: Vec<IntervalSeries>) -> Inputs {
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

    #[test]
    fn to_wh_multiplies_whole_ratios_and_rounds_the_others_half_away_from_zero() {
        // kWh: thousandths of a kWh are Wh.
        assert_eq!(ToWh::new(Unit::KWh).wh(1_234), 1_234);
        // MWh: a thousandth of a MWh is 1000 Wh.
        assert_eq!(ToWh::new(Unit::MWh).wh(7), 7_000);
        // Wh: 1500 thousandths of a Wh = 1.5 Wh → 2; −1.5 → −2; 1.499 → 1.
        let wh = ToWh::new(Unit::Wh);
        assert_eq!((wh.wh(1_500), wh.wh(-1_500), wh.wh(1_499)), (2, -2, 1));
        // MJ: 3600 thousandths of a MJ = 3.6 MJ = 1000 Wh.
        assert_eq!(ToWh::new(Unit::MJ).wh(3_600), 1_000);
    }

    #[test]
    fn clip_keeps_the_intervals_starting_in_the_period() {
        // Series from 0 in 900 s steps, 8 intervals; period [1000, 2800): intervals starting
        // at 1800 and 2700 (indices 2 and 3).
        let i = inputs(1_000, 2_800, vec![series(0, vec![Some(1); 8])]);
        assert_eq!(clip(&i).unwrap(), vec![Clip { first: 2, last: 4 }]);
        // A period before the series: nothing.
        let i = inputs(-9_000, -100, vec![series(0, vec![Some(1); 8])]);
        let c = clip(&i).unwrap()[0];
        assert!(!c.any());
    }

    #[test]
    fn clip_refuses_a_unit_the_carrier_cannot_have_and_an_odd_interval() {
        let mut s = series(0, vec![Some(1)]);
        s.unit = Unit::M3;
        let e = clip(&inputs(0, 900, vec![s])).unwrap_err();
        assert!(
            matches!(e, AccountingError::Unit { ref meter, .. } if meter == "m"),
            "{e}"
        );
        let mut s = series(0, vec![Some(1)]);
        s.interval_s = 7;
        let e = clip(&inputs(0, 900, vec![s])).unwrap_err();
        assert!(
            matches!(e, AccountingError::Interval { interval_s: 7, .. }),
            "{e}"
        );
    }

    #[test]
    fn prepare_fills_a_short_gap_linearly_and_reports_its_run() {
        // 10, _, _, 40: the two missing values interpolate to 20 and 30.
        let s = series(0, vec![Some(10), None, None, Some(40)]);
        let f = prepare(&s, Clip { first: 0, last: 4 }, &Options::default());
        assert_eq!(
            (0..4).map(|k| f.milli(k)).collect::<Vec<_>>(),
            [10, 20, 30, 40]
        );
        assert_eq!(f.sum(0..4), 100);
        assert_eq!(f.runs.len(), 1);
        let r = &f.runs[0];
        assert_eq!(
            (r.start, r.end, r.milli, r.fill, r.idx.clone()),
            (900, 2_700, 50, Fill::Linear, 1..3)
        );
        assert_eq!(
            f.span(),
            Some(Span {
                start: 0,
                end: 3_600
            })
        );
        // Clipped to its last two intervals: the run is cut to the one inside.
        let f = prepare(&s, Clip { first: 2, last: 4 }, &Options::default());
        assert_eq!(
            (f.t0, f.len, f.runs[0].idx.clone(), f.runs[0].milli),
            (1_800, 2, 0..1, 30)
        );
    }

    #[test]
    fn interval_emissions_skip_exports_and_carry_wh_for_import_only() {
        let import = series(0, vec![Some(2_000), Some(3_000)]);
        let mut export = series(0, vec![Some(5)]);
        export.carrier = Carrier::ElectricityExport;
        let opts = Options::default();
        let all = Clip { first: 0, last: 2 };
        let filled = vec![
            prepare(&import, all, &opts),
            prepare(&export, Clip { first: 0, last: 1 }, &opts),
        ];
        let mut out = Vec::new();
        interval_emissions(&filled, &[vec![1.0, 2.0], vec![9.0]], &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[1].start, out[1].end, out[1].wh, out[1].g),
            (900, 1_800, 3_000, 2.0)
        );
    }
}
