//! Gap filling: linear interpolation for short gaps, an interval-of-day profile for long ones.

use serde::{Deserialize, Serialize};
use tanji_units::time::{local_second, DAY_S};

/// How an interval's value was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// Measured (from an accepted, signed upload).
    Measured,
    /// Linear interpolation between the measured neighbours of a short gap.
    Linear,
    /// Mean of the same interval-of-day (local time) over the measured days of the series.
    Profile,
    /// Could not be filled (no profile for that interval-of-day): counted as zero.
    Missing,
}

/// A run of consecutive missing values and how it was filled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GapRun {
    /// Index of the first missing value.
    pub from: usize,
    /// Index after the last missing value.
    pub to: usize,
    /// How the whole run was filled.
    pub fill: Fill,
}

/// Rounds `num / den` half away from zero (`den > 0`).
pub(crate) fn div_round(num: i128, den: i128) -> i128 {
    if num >= 0 {
        (num + den / 2) / den
    } else {
        -((-num + den / 2) / den)
    }
}

/// Fills the `None`s of `values` (interval `i` starts at `start + i·interval_s`).
///
/// A run of at most `max_linear` missing values with measured values on both sides is
/// interpolated linearly: the `k`-th of `L` missing values between `a` and `b` is
/// `a + (b − a)·k/(L+1)`, rounded half away from zero. Any other run takes, value by value,
/// the mean (rounded) of the measured values at the same interval-of-day, local time
/// (`utc_offset_s`), over the whole series; where no day has one, the value is
/// [`Fill::Missing`] and counts as zero.
pub fn fill(
    values: &[Option<i64>],
    start: i64,
    interval_s: u32,
    utc_offset_s: i32,
    max_linear: usize,
) -> (Vec<i64>, Vec<Fill>, Vec<GapRun>) {
    if values.iter().all(Option::is_some) {
        // Nothing to fill (most series): skip the profile.
        return (
            values.iter().map(|v| v.unwrap_or_default()).collect(),
            vec![Fill::Measured; values.len()],
            Vec::new(),
        );
    }
    let step = i64::from(interval_s.max(1));
    let slots = (DAY_S / step).max(1) as usize;
    let slot_of = |i: usize| -> usize {
        (local_second(start + i as i64 * step, utc_offset_s) / step) as usize % slots
    };
    // Sum and count of the measured values at each interval-of-day, worked out when a run
    // first needs them.
    let profile = || {
        let mut sum = vec![0i128; slots];
        let mut count = vec![0i128; slots];
        if DAY_S % step == 0 {
            // The slot steps by one from interval to interval, round the day.
            let mut s = slot_of(0);
            for v in values {
                if let Some(v) = v {
                    sum[s] += i128::from(*v);
                    count[s] += 1;
                }
                s += 1;
                if s == slots {
                    s = 0;
                }
            }
        } else {
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    sum[slot_of(i)] += i128::from(*v);
                    count[slot_of(i)] += 1;
                }
            }
        }
        (sum, count)
    };
    let mut by_slot: Option<(Vec<i128>, Vec<i128>)> = None;
    let mut out: Vec<i64> = values.iter().map(|v| v.unwrap_or_default()).collect();
    let mut flags = vec![Fill::Measured; values.len()];
    let mut runs = Vec::new();
    let mut i = 0;
    while i < values.len() {
        if values[i].is_some() {
            i += 1;
            continue;
        }
        let from = i;
        while i < values.len() && values[i].is_none() {
            i += 1;
        }
        let to = i;
        let len = to - from;
        let prev = from.checked_sub(1).and_then(|p| values[p]);
        let next = values.get(to).copied().flatten();
        match (prev, next) {
            (Some(a), Some(b)) if len <= max_linear => {
                let (a, b) = (i128::from(a), i128::from(b));
                for k in 1..=len {
                    let v = a + div_round((b - a) * k as i128, len as i128 + 1);
                    out[from + k - 1] = i64::try_from(v).unwrap_or(0);
                    flags[from + k - 1] = Fill::Linear;
                }
                runs.push(GapRun {
                    from,
                    to,
                    fill: Fill::Linear,
                });
            }
            _ => {
                let (sum, count) = by_slot.get_or_insert_with(profile);
                let mut run_start = from;
                for j in from..to {
                    let s = slot_of(j);
                    let f = if count[s] > 0 {
                        out[j] = i64::try_from(div_round(sum[s], count[s])).unwrap_or(0);
                        Fill::Profile
                    } else {
                        out[j] = 0;
                        Fill::Missing
                    };
                    // Split the run where the kind of fill changes.
                    if j > run_start && flags[j - 1] != f {
                        runs.push(GapRun {
                            from: run_start,
                            to: j,
                            fill: flags[j - 1],
                        });
                        run_start = j;
                    }
                    flags[j] = f;
                }
                runs.push(GapRun {
                    from: run_start,
                    to,
                    fill: flags[to - 1],
                });
            }
        }
    }
    (out, flags, runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_profile() {
        // Two "days" of 4 intervals (interval 6 h), offset 0.
        let v = [
            Some(10),
            Some(20),
            Some(30),
            Some(40),
            Some(100),
            None,
            None,
            Some(400),
        ];
        let (out, flags, runs) = fill(&v, 0, 21_600, 0, 2);
        assert_eq!(out, vec![10, 20, 30, 40, 100, 200, 300, 400]);
        assert_eq!(flags[5], Fill::Linear);
        assert_eq!(runs.len(), 1);
        // Max 1 for linear: profile of slots 1 and 2 over measured days = 20 and 30.
        let (out, flags, _) = fill(&v, 0, 21_600, 0, 1);
        assert_eq!(out[5..7], [20, 30]);
        assert_eq!(flags[5], Fill::Profile);
    }

    #[test]
    fn leading_gap_without_profile_is_missing() {
        let v = [None, Some(5)];
        let (out, flags, runs) = fill(&v, 0, 3600, 0, 4);
        assert_eq!(out, vec![0, 5]);
        assert_eq!(flags[0], Fill::Missing);
        assert_eq!(runs[0].fill, Fill::Missing);
    }

    /// The first version of [`fill`], kept as the reference the faster one must equal.
    fn reference(
        values: &[Option<i64>],
        start: i64,
        interval_s: u32,
        utc_offset_s: i32,
        max_linear: usize,
    ) -> (Vec<i64>, Vec<Fill>, Vec<GapRun>) {
        if values.iter().all(Option::is_some) {
            // Nothing to fill (most series): skip the profile.
            return (
                values.iter().map(|v| v.unwrap_or_default()).collect(),
                vec![Fill::Measured; values.len()],
                Vec::new(),
            );
        }
        let step = i64::from(interval_s.max(1));
        let slots = (86_400 / step).max(1) as usize;
        let slot_of = |i: usize| -> usize {
            let t = start + i as i64 * step + i64::from(utc_offset_s);
            (t.rem_euclid(86_400) / step) as usize % slots
        };
        let mut sum = vec![0i128; slots];
        let mut count = vec![0i128; slots];
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                sum[slot_of(i)] += i128::from(*v);
                count[slot_of(i)] += 1;
            }
        }
        let mut out = Vec::with_capacity(values.len());
        let mut flags = Vec::with_capacity(values.len());
        let mut runs = Vec::new();
        let mut i = 0;
        while i < values.len() {
            if let Some(v) = values[i] {
                out.push(v);
                flags.push(Fill::Measured);
                i += 1;
                continue;
            }
            let from = i;
            while i < values.len() && values[i].is_none() {
                i += 1;
            }
            let to = i;
            let len = to - from;
            let prev = from.checked_sub(1).and_then(|p| values[p]);
            let next = values.get(to).copied().flatten();
            match (prev, next) {
                (Some(a), Some(b)) if len <= max_linear => {
                    let (a, b) = (i128::from(a), i128::from(b));
                    for k in 1..=len {
                        let v = a + div_round((b - a) * k as i128, len as i128 + 1);
                        out.push(i64::try_from(v).unwrap_or(0));
                        flags.push(Fill::Linear);
                    }
                    runs.push(GapRun {
                        from,
                        to,
                        fill: Fill::Linear,
                    });
                }
                _ => {
                    let mut run_start = from;
                    for j in from..to {
                        let s = slot_of(j);
                        let f = if count[s] > 0 {
                            out.push(i64::try_from(div_round(sum[s], count[s])).unwrap_or(0));
                            Fill::Profile
                        } else {
                            out.push(0);
                            Fill::Missing
                        };
                        // Split the run where the kind of fill changes.
                        if j > run_start && flags.last() != Some(&f) {
                            runs.push(GapRun {
                                from: run_start,
                                to: j,
                                fill: flags[j - 1],
                            });
                            run_start = j;
                        }
                        flags.push(f);
                    }
                    runs.push(GapRun {
                        from: run_start,
                        to,
                        fill: flags[to - 1],
                    });
                }
            }
        }
        (out, flags, runs)
    }

    #[test]
    fn fill_equals_the_reference_on_random_gaps() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..300 {
            let n = 1 + next(3_000) as usize;
            let interval = [60u32, 300, 900, 1_800, 3_600, 7, 5_000, 172_800][case % 8];
            let start = next(1_000_000) as i64 - 500_000;
            let offset = [0, 8 * 3_600, -5 * 3_600, 19_800, 45][case % 5];
            let max_linear = next(6) as usize;
            let mut v: Vec<Option<i64>> = (0..n)
                .map(|_| Some(next(2_000_000) as i64 - 300_000))
                .collect();
            for _ in 0..next(12) {
                let at = next(n as u64) as usize;
                let longest = if next(2) == 0 { 5 } else { 400 };
                let len = 1 + next(longest) as usize;
                for y in v.iter_mut().skip(at).take(len) {
                    *y = None;
                }
            }
            let got = fill(&v, start, interval, offset, max_linear);
            let want = reference(&v, start, interval, offset, max_linear);
            assert_eq!(got, want, "case {case}");
        }
    }
}
