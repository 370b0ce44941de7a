//! Logged channels as values per interval: the meters' channels over a period, each value
//! converted exactly to thousandths of a unit ([`ToMilli`]) and added into interval slots
//! ([`add_channel`]; a coarser channel split evenly), and one meter's as the
//! [`IntervalSeries`] accounting and anomaly detection take.

use std::collections::{BTreeMap, BTreeSet};

use tanji_accounting::IntervalSeries;
use tanji_readings::{Channel, LogEntry};
use tanji_store::{Store, StoreError};
use tanji_units::time::rfc3339;
use tanji_units::{Carrier, Unit};

use super::{EntryProblem, Meter};

/// The longest period [`logged_channels`] reads, days.
pub const MAX_PERIOD_DAYS: i64 = 400;

/// A channel's conversion: `v / 10^decimals` in `from` as thousandths of `to`, rounded half
/// away from zero (`v × num / den`); `None` if the units do not convert or it overflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToMilli {
    num: i128,
    den: i128,
    /// The ratio when it is a whole number (the usual case, 3 decimals in the meter's own
    /// unit: 1): then the conversion is a multiplication.
    times: Option<i64>,
}

impl ToMilli {
    /// The conversion of values with `decimals` decimals in `from` to thousandths of `to`;
    /// `None` if the units do not convert.
    pub fn new(decimals: u8, from: Unit, to: Unit) -> Option<ToMilli> {
        let r = from.factor_to(to)?;
        let num = i128::from(r.num) * 1000;
        let den = i128::from(r.den) * 10i128.checked_pow(u32::from(decimals))?;
        let times = (num % den == 0)
            .then(|| i64::try_from(num / den).ok())
            .flatten();
        Some(ToMilli { num, den, times })
    }

    /// `v` converted; `None` if it overflows.
    pub fn apply(self, v: i64) -> Option<i64> {
        if let Some(x) = self.times.and_then(|k| v.checked_mul(k)) {
            return Some(x);
        }
        let n = i128::from(v) * self.num;
        let q = (2 * n.abs() + self.den) / (2 * self.den);
        i64::try_from(if n < 0 { -q } else { q }).ok()
    }

    /// Whether values pass unchanged (thousandths of the series' own unit).
    pub fn is_identity(self) -> bool {
        self.times == Some(1)
    }
}

/// `v / 10^decimals` in `from` as thousandths of `to`, rounded half away from zero (see
/// [`ToMilli`]).
pub fn to_milli(v: i64, decimals: u8, from: Unit, to: Unit) -> Option<i64> {
    ToMilli::new(decimals, from, to)?.apply(v)
}

/// Part `j` (from 0) of `whole` split evenly into `parts` (at least 1): the parts are whole
/// numbers that differ by at most one and sum exactly to `whole`.
pub fn even_part(whole: i64, parts: i64, j: i64) -> i64 {
    if parts == 1 {
        whole
    } else {
        whole * (j + 1) / parts - whole * j / parts
    }
}

/// Adds a channel's values, as thousandths of `to`, into `acc`: slots of `interval_s` from
/// `start`, from the instant `from` on. A channel of the slots' length adds directly, a
/// coarser one is split evenly (the parts sum to the whole); a finer one, a unit that does not
/// convert or a value that overflows adds nothing.
pub fn add_channel(
    acc: &mut [Option<i64>],
    start: i64,
    interval_s: u32,
    from: i64,
    c: &Channel,
    to: Unit,
) {
    if interval_s == 0 || c.interval_s == 0 || c.interval_s % interval_s != 0 {
        return;
    }
    let Some(conv) = c
        .unit
        .parse::<Unit>()
        .ok()
        .and_then(|u| ToMilli::new(c.decimals, u, to))
    else {
        return;
    };
    let k = i64::from(c.interval_s / interval_s);
    let iv = i64::from(interval_s);
    for (i, &v) in c.values.iter().enumerate() {
        let Some(milli) = conv.apply(v) else {
            continue;
        };
        let t = c.start + i as i64 * i64::from(c.interval_s);
        for j in 0..k {
            let ts = t + j * iv;
            if ts < from || ts < start || (ts - start) % iv != 0 {
                continue;
            }
            let Ok(slot) = usize::try_from((ts - start) / iv) else {
                continue;
            };
            if let Some(cell) = acc.get_mut(slot) {
                *cell = Some(cell.unwrap_or(0) + even_part(milli, k, j));
            }
        }
    }
}

/// One meter's channels over `[start, end)` as its interval series: slots of its shortest
/// channel's interval from `start` rounded down to it, thousandths of the registered unit,
/// `None` where no channel covers a slot. `None` if the registration's carrier or unit is
/// unknown or it has no channel.
pub fn interval_series(
    meter: &Meter,
    channels: &[&Channel],
    start: i64,
    end: i64,
) -> Option<IntervalSeries> {
    let carrier = meter.carrier.parse::<Carrier>().ok()?;
    let unit = meter.unit.parse::<Unit>().ok()?;
    let iv = channels
        .iter()
        .map(|c| c.interval_s)
        .filter(|&s| s > 0)
        .min()?;
    let iv_i = i64::from(iv);
    let s0 = start.div_euclid(iv_i) * iv_i;
    let n = usize::try_from((end - s0 + iv_i - 1) / iv_i).unwrap_or(0);
    let mut values = vec![None; n];
    for c in channels {
        add_channel(&mut values, s0, iv, s0, c, unit);
    }
    Some(IntervalSeries {
        meter: meter.meter.clone(),
        carrier,
        unit,
        fuel: None,
        start: s0,
        interval_s: iv,
        values,
    })
}

/// Why the channels of a period could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// No accepted upload of the meters is in the log (the period was to end at their last).
    #[error("no accepted upload of {who} is in the log (up to entry {size})")]
    NoData {
        /// Whose meters: an enterprise, or `the park`.
        who: String,
        /// The log size read.
        size: u64,
    },
    /// The period ends before it starts.
    #[error("period {}..{} is empty; the end must be after the start", rfc3339(*start), rfc3339(*end))]
    EmptyPeriod {
        /// Start, Unix seconds.
        start: i64,
        /// End, Unix seconds.
        end: i64,
    },
    /// The period is longer than [`MAX_PERIOD_DAYS`].
    #[error("period {}..{} is longer than {MAX_PERIOD_DAYS} days; ask for a shorter one", rfc3339(*start), rfc3339(*end))]
    TooLong {
        /// Start, Unix seconds.
        start: i64,
        /// End, Unix seconds.
        end: i64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The logged channels of some meters over a period.
#[derive(Debug)]
pub struct LoggedChannels {
    /// Start of the period, Unix seconds.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// Each channel of the meters with the meter it belongs to (uploads of the meter's
    /// registered device only), in log order.
    pub channels: Vec<(Meter, Channel)>,
    /// Accepted uploads read.
    pub uploads: u64,
    /// Upload entries of the period that did not decode (their channels are missing).
    pub problems: Vec<EntryProblem>,
}

/// The energy logged below `size` per (carrier, unit), in the unit (not thousandths): every
/// decodable upload's channels summed, whoever sent them.
pub fn carrier_totals<S: Store>(
    store: &S,
    size: u64,
) -> Result<BTreeMap<(String, String), f64>, StoreError> {
    let mut sums: BTreeMap<(String, String), f64> = BTreeMap::new();
    store.scan_entries(0, size, &mut |_, data| {
        if let Ok(LogEntry::Upload(u)) = LogEntry::from_bytes(data) {
            for c in &u.body.channels {
                let raw: i64 = c.values.iter().sum();
                *sums.entry((c.carrier.clone(), c.unit.clone())).or_default() +=
                    raw as f64 / 10f64.powi(i32::from(c.decimals));
            }
        }
        Ok(())
    })?;
    Ok(sums)
}

/// The channels of `meters` (those of `who`: an enterprise, or the park) logged below `size`
/// that overlap `period` (`None`: the last `default_days` days of their data), from the
/// store's upload index and each upload's logged bytes.
pub fn logged_channels<S: Store>(
    store: &S,
    size: u64,
    who: &str,
    meters: &[Meter],
    period: Option<(i64, i64)>,
    default_days: i64,
) -> Result<LoggedChannels, SeriesError> {
    let mine: BTreeMap<&str, &Meter> = meters.iter().map(|m| (m.meter.as_str(), m)).collect();
    let devices: BTreeSet<&str> = meters.iter().map(|m| m.device.as_str()).collect();
    let rows: Vec<_> = store
        .uploads()?
        .into_iter()
        .filter(|u| u.index < size && devices.contains(u.row.device.as_str()))
        .collect();
    let spans = || {
        rows.iter()
            .flat_map(|u| &u.row.spans)
            .filter(|s| mine.contains_key(s.meter.as_str()))
    };
    let (start, end) = match period {
        Some(p) => p,
        None => {
            let last = spans()
                .map(|s| s.end)
                .max()
                .ok_or_else(|| SeriesError::NoData {
                    who: who.to_string(),
                    size,
                })?;
            let first = spans().map(|s| s.start).min().unwrap_or(last);
            ((last - default_days * 86_400).max(first), last)
        }
    };
    if end <= start {
        return Err(SeriesError::EmptyPeriod { start, end });
    }
    if (end - start) / 86_400 > MAX_PERIOD_DAYS {
        return Err(SeriesError::TooLong { start, end });
    }
    let mut channels = Vec::new();
    let mut uploads = 0;
    let mut problems = Vec::new();
    for u in &rows {
        if !u
            .row
            .spans
            .iter()
            .any(|s| mine.contains_key(s.meter.as_str()) && s.end > start && s.start < end)
        {
            continue;
        }
        let up = match LogEntry::from_bytes(&store.entry(u.index)?) {
            Ok(LogEntry::Upload(up)) => up,
            Ok(_) => {
                problems.push(EntryProblem::NotOfKind {
                    index: u.index,
                    kind: "upload",
                });
                continue;
            }
            Err(error) => {
                problems.push(EntryProblem::Undecodable {
                    index: u.index,
                    error,
                });
                continue;
            }
        };
        uploads += 1;
        for c in up.body.channels {
            if let Some(m) = mine.get(c.meter.as_str()) {
                if m.device == up.body.device {
                    channels.push(((*m).clone(), c));
                }
            }
        }
    }
    Ok(LoggedChannels {
        start,
        end,
        channels,
        uploads,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_milli_is_exact_and_rounds_half_away() {
        // 1.234 kWh at 3 decimals → 1234 Wh.
        assert_eq!(to_milli(1234, 3, Unit::KWh, Unit::KWh), Some(1234));
        // 1 MJ = 0.2777… kWh = 277.8 thousandths of a kWh, rounded to 278.
        assert_eq!(to_milli(1, 0, Unit::MJ, Unit::KWh), Some(278));
        assert_eq!(to_milli(-1, 0, Unit::MJ, Unit::KWh), Some(-278));
        assert_eq!(to_milli(5, 1, Unit::MWh, Unit::KWh), Some(500_000));
        assert_eq!(to_milli(1, 0, Unit::Kg, Unit::KWh), None);
    }

    #[test]
    fn to_milli_multiplies_when_it_can_or_rounds_half_away_from_zero() {
        let same = ToMilli::new(3, Unit::KWh, Unit::KWh).expect("kWh to kWh");
        assert!(same.is_identity());
        assert_eq!(same.apply(1234), Some(1234));
        // 1.5 Wh with 1 decimal is 15 ×10^-1 Wh = 1.5 thousandths of a kWh: rounds to 2.
        let wh = ToMilli::new(1, Unit::Wh, Unit::KWh).expect("Wh to kWh");
        assert_eq!(wh.apply(15), Some(2));
        assert_eq!(wh.apply(-15), Some(-2));
        assert_eq!(wh.apply(14), Some(1));
        // 2 MWh with 0 decimals is 2 000 000 thousandths of a kWh.
        let mwh = ToMilli::new(0, Unit::MWh, Unit::KWh).expect("MWh to kWh");
        assert_eq!(mwh.apply(2), Some(2_000_000));
        assert!(ToMilli::new(3, Unit::KWh, Unit::T).is_none());
    }

    fn channel(start: i64, interval_s: u32, values: Vec<i64>) -> Channel {
        Channel {
            meter: "m".into(),
            carrier: "electricity_import".into(),
            start,
            interval_s,
            unit: "kWh".into(),
            decimals: 3,
            values,
        }
    }

    #[test]
    fn a_coarser_channel_is_split_evenly_and_the_parts_sum_to_the_whole() {
        let mut acc = vec![None; 4];
        add_channel(
            &mut acc,
            0,
            900,
            0,
            &channel(0, 3600, vec![1001]),
            Unit::KWh,
        );
        assert_eq!(acc, vec![Some(250), Some(250), Some(250), Some(251)]);
        // From 1800 on only; a finer channel adds nothing.
        let mut acc = vec![None; 4];
        add_channel(
            &mut acc,
            0,
            900,
            1800,
            &channel(0, 3600, vec![1000]),
            Unit::KWh,
        );
        add_channel(
            &mut acc,
            0,
            900,
            0,
            &channel(0, 300, vec![1, 2, 3]),
            Unit::KWh,
        );
        assert_eq!(acc, vec![None, None, Some(250), Some(250)]);
    }
}
