//! Stage: the fixed-annual-factor figure beside the dynamic one, split into a season part and
//! a timing part, with the hours of day that explain the timing part.

use super::round_g;
use crate::input::NamedFactor;
use crate::report::{Comparison, HourOfDay, Window};

/// The factor of grid import at an interval start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct FactorAt {
    /// Interval start, Unix seconds.
    pub(super) start: i64,
    /// Its factor, g/kWh.
    pub(super) factor: f64,
}

/// Hour-of-day aggregates of grid import for [`compare`], gathered as the intervals are
/// computed: per hour of day, the same sums in the same order as over the list of import
/// intervals (meter by meter, each in time order).
pub(super) struct ByHour {
    pub(super) wh: [i64; 24],
    pub(super) g: [i64; 24],
    pub(super) fsum: [f64; 24],
    pub(super) fcount: [u32; 24],
    /// Interval starts and their factors by time, each start once: the factor of the first
    /// meter (in input order) that has one there.
    pub(super) seen: Vec<FactorAt>,
    /// With a single import meter, `seen` is not kept: each start is there once, in time
    /// order, so its factors are summed as they come (as `Iterator::sum` would).
    pub(super) single: bool,
    /// The sum of `seen`'s factors (single import meter).
    pub(super) seen_sum: f64,
    /// The number of `seen`'s factors (single import meter).
    pub(super) seen_n: usize,
}

impl ByHour {
    pub(super) fn new(single: bool) -> ByHour {
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
    pub(super) fn period_mean(&self) -> Option<f64> {
        if self.single {
            (self.seen_n > 0).then(|| self.seen_sum / self.seen_n as f64)
        } else {
            let seen = &self.seen;
            (!seen.is_empty())
                .then(|| seen.iter().map(|s| s.factor).sum::<f64>() / seen.len() as f64)
        }
    }

    /// Adds one meter's (start, factor) pairs, in time order; on a start already seen, the
    /// earlier meter's factor stays.
    pub(super) fn merge_seen(&mut self, new: Vec<FactorAt>) {
        if self.seen.is_empty() {
            self.seen = new;
            return;
        }
        let old = &self.seen;
        if new.is_empty() {
            return;
        }
        if old.len() == new.len() && old.iter().zip(&new).all(|(a, b)| a.start == b.start) {
            return; // the same starts (meters on one clock): the earlier factors stay
        }
        let mut out = Vec::with_capacity(old.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() && j < new.len() {
            match old[i].start.cmp(&new[j].start) {
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

/// The longest window of hours the reason names.
const MAX_WINDOW_HOURS: usize = 12;

/// Fixed vs dynamic for the grid import gathered in `by_hour`; `without_factor` intervals of
/// it had no hourly factor.
pub(super) fn compare(fx: &NamedFactor, by_hour: &ByHour, without_factor: u64) -> Comparison {
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
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(start: i64, factor: f64) -> FactorAt {
        FactorAt { start, factor }
    }

    #[test]
    fn merged_starts_keep_the_earlier_meters_factor() {
        let mut b = ByHour::new(false);
        b.merge_seen(vec![at(0, 1.0), at(2, 3.0)]);
        b.merge_seen(vec![at(1, 5.0), at(2, 9.0)]);
        assert_eq!(b.seen, [at(0, 1.0), at(1, 5.0), at(2, 3.0)]);
        assert_eq!(b.period_mean(), Some(3.0));
        assert_eq!(ByHour::new(false).period_mean(), None);
    }

    /// 1000 Wh at midnight at 500 g/kWh and 3000 Wh at noon at 300 g/kWh, against a fixed
    /// 600 g/kWh; the period's mean factor is 400.
    fn two_hours() -> ByHour {
        let mut b = ByHour::new(false);
        (b.wh[0], b.g[0], b.fsum[0], b.fcount[0]) = (1_000, 500, 500.0, 1);
        (b.wh[12], b.g[12], b.fsum[12], b.fcount[12]) = (3_000, 900, 300.0, 1);
        b.merge_seen(vec![at(0, 500.0), at(43_200, 300.0)]);
        b
    }

    #[test]
    fn the_difference_splits_into_season_and_timing() {
        let fx = NamedFactor {
            value: 600.0,
            source: "test".to_owned(),
        };
        let c = compare(&fx, &two_hours(), 3);
        // fixed 4000 Wh × 0.6 = 2400 g; dynamic 500 + 900 = 1400 g.
        assert_eq!((c.import_wh, c.fixed_g, c.dynamic_g), (4_000, 2_400, 1_400));
        assert_eq!(c.difference_g, 1_000);
        // Season: 4000 Wh × (600 − 400) = 800 g; timing: the rest, 200 g (a flat use at the
        // mean, 1600 g, against the actual 1400 g).
        assert_eq!((c.season_g, c.timing_g), (800, 200));
        assert_eq!(c.intervals_without_factor, 3);
        assert_eq!(c.by_hour[12].share, 0.75);
        assert_eq!(c.by_hour[0].weighted_factor_g_per_kwh, Some(500.0));
        assert_eq!(c.by_hour[0].difference_g, 100);
        assert_eq!(c.by_hour[5].mean_factor_g_per_kwh, None);
        // The noon hour explains the timing part: 3000 Wh × 0.4 − 900 = 300 g.
        let w = c.window.unwrap();
        assert_eq!((w.from_hour, w.to_hour, w.share), (12, 13, 0.75));
        assert_eq!((w.factor_g_per_kwh, w.difference_g), (300.0, 300));
        assert_eq!(w.factor_vs_fixed_pct, -25.0);
        assert!(c.reason.is_some());
    }

    #[test]
    fn a_negligible_timing_part_names_no_window() {
        // Under 0.05% of the fixed figure.
        assert_eq!(
            timing_window(&[1_000; 24], &[400; 24], 400.0, 1, 10_000),
            None
        );
        assert_eq!(timing_window(&[0; 24], &[0; 24], 400.0, 0, 0), None);
    }
}
