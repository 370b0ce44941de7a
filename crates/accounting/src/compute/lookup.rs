//! The grid factor of each interval: a caching [`FactorLookup`] and the split of an interval
//! across the factor intervals it overlaps.

use super::hours::Hours;
use super::HOUR;
use crate::factor::{FactorInterval, FactorLookup};

/// A [`FactorLookup`] that keeps the last interval it found: a series' consecutive intervals
/// mostly fall in the same factor interval (four quarter-hours to an hourly factor), which
/// the lookup then answers without searching (see [`FactorLookup::factor_at`]).
///
/// It also remembers the answer at the start of each hour of the period (`memo`), where
/// every meter on the quarter-hour clock asks again.
pub(super) struct Factors<'a> {
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
    pub(super) fn new(lookup: &'a dyn FactorLookup, hours: &Hours, remember: bool) -> Self {
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
    pub(super) fn covering(&self, t: i64, end: i64) -> Option<(f64, i64)> {
        self.last
            .filter(|f| f.start <= t && end <= f.end)
            .map(|f| (f.g_per_kwh, f.end))
    }

    pub(super) fn at(&mut self, t: i64) -> Option<FactorInterval> {
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

/// Emissions of one interval at the dynamic factors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Split {
    /// g at the dynamic factors of the covered part.
    pub(super) g: f64,
    /// Wh of the part without a factor.
    pub(super) missing_wh: f64,
    /// Time-mean factor of the covered part, g/kWh (`None`: no part covered).
    pub(super) factor: Option<f64>,
}

/// Emissions of `wh` over `[t, t+len)` split across the factor intervals it overlaps.
pub(super) fn dynamic_g(lookup: &mut Factors<'_>, t: i64, len: i64, wh: i64) -> Split {
    let end = t + len;
    if let Some(f) = lookup.at(t).filter(|f| end <= f.end) {
        // Within one factor interval (the usual case): the loop below with one step and
        // frac = 1, the same arithmetic.
        let fsum = 0.0 + f.g_per_kwh;
        let g = 0.0 + wh as f64 * f.g_per_kwh / 1000.0;
        return Split {
            g,
            missing_wh: 0.0,
            factor: Some(fsum / 1.0),
        };
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
    Split {
        g,
        missing_wh: missing,
        factor: (fw > 0.0).then(|| fsum / fw),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::factor::TableFactors;

    /// Hourly factors 100, 200 from 0; nothing from 7200 to 10800; 400 from 10800.
    fn table() -> TableFactors {
        let row = |start, end, g_per_kwh| FactorInterval {
            start,
            end,
            g_per_kwh,
        };
        TableFactors {
            id: "t".to_owned(),
            rows: vec![
                row(0, 3_600, 100.0),
                row(3_600, 7_200, 200.0),
                row(10_800, 14_400, 400.0),
            ],
        }
    }

    #[test]
    fn an_interval_inside_one_factor_interval_takes_its_factor() {
        let t = table();
        let mut f = Factors::new(&t, &Hours::new(0, 0), false);
        // 2000 Wh at 200 g/kWh = 400 g.
        let s = dynamic_g(&mut f, 3_600, 900, 2_000);
        assert_eq!(
            s,
            Split {
                g: 400.0,
                missing_wh: 0.0,
                factor: Some(200.0)
            }
        );
        assert_eq!(f.covering(4_500, 5_400), Some((200.0, 7_200)));
        assert_eq!(f.covering(6_300, 7_300), None);
    }

    #[test]
    fn an_interval_across_factor_intervals_is_split_by_time() {
        let t = table();
        let mut f = Factors::new(&t, &Hours::new(0, 0), false);
        // [3000, 4200): 600 s at 100, 600 s at 200; 1200 Wh → 600·0.1 + 600·0.2 = 180 g.
        let s = dynamic_g(&mut f, 3_000, 1_200, 1_200);
        assert!((s.g - 180.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.missing_wh, 0.0);
        assert!((s.factor.unwrap() - 150.0).abs() < 1e-9);
        // [6600, 7800): 600 s at 200 and 600 s without a factor: half the Wh missing.
        let s = dynamic_g(&mut f, 6_600, 1_200, 1_000);
        assert!((s.g - 100.0).abs() < 1e-9, "{s:?}");
        assert!((s.missing_wh - 500.0).abs() < 1e-9);
        assert!((s.factor.unwrap() - 200.0).abs() < 1e-9);
        // Wholly without a factor.
        let s = dynamic_g(&mut f, 7_200, 900, 1_000);
        assert_eq!(
            s,
            Split {
                g: 0.0,
                missing_wh: 1_000.0,
                factor: None
            }
        );
    }

    #[test]
    fn remembered_hour_answers_are_the_lookups_answers() {
        let t = table();
        let hours = Hours::new(0, 14_000);
        let mut f = Factors::new(&t, &hours, true);
        for at in [0, 3_600, 7_200, 10_800, 3_600] {
            assert_eq!(f.at(at), t.factor_at(at), "{at}");
        }
    }
}
