//! An enterprise's logged readings as the report reads them: rows of channel values (from the
//! reporting index or decoded from the log), and one meter's rows turned into the interval
//! series accounting takes.

use std::collections::HashMap;
use std::ops::Range;

use tanji_accounting::IntervalSeries;
use tanji_store::{ChannelRef, ChannelRow, StoreError};
use tanji_units::{Carrier, Unit};

use tanji_park::view::{even_part, ToMilli};

use crate::doc::IssueDoc;

/// A half-open span of time `[start, end)`, Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub start: i64,
    pub end: i64,
}

impl Span {
    /// The smallest span holding both.
    pub fn union(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Whether `t` is in the span.
    pub fn contains(self, t: i64) -> bool {
        t >= self.start && t < self.end
    }

    /// As the `(start, end)` pair the accounting and anomaly calls take.
    pub fn pair(self) -> (i64, i64) {
        (self.start, self.end)
    }
}

/// One meter as registered: what its series is made of.
pub(super) struct MeterData {
    /// Leaf index of the registration in force.
    pub reg_index: u64,
    pub device: String,
    pub carrier: Carrier,
    pub unit: Unit,
}

/// The name ids of the last row added to [`Readings`].
#[derive(Clone, Copy, Default)]
struct LastIds {
    device: u32,
    meter: u32,
    unit: u32,
}

/// One enterprise's readings: each row's fields, its values in one buffer and its names
/// stored once (a park-year is some 110 000 rows: one allocation each would cost more than
/// reading them).
#[derive(Default)]
pub(super) struct Readings {
    rows: Vec<RowMeta>,
    values: Vec<i64>,
    names: Vec<String>,
    ids: HashMap<String, u32>,
    last_ids: LastIds,
}

struct RowMeta {
    index: u64,
    device: u32,
    seq: u64,
    meter: u32,
    start: i64,
    interval_s: u32,
    unit: u32,
    decimals: u8,
    values: Range<usize>,
}

/// A row of [`Readings`]: what a [`ChannelRow`] says, borrowed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Row<'a> {
    pub index: u64,
    pub device: &'a str,
    pub seq: u64,
    pub meter: &'a str,
    pub start: i64,
    pub interval_s: u32,
    pub unit: &'a str,
    pub decimals: u8,
    pub values: &'a [i64],
}

impl Row<'_> {
    /// End of the last interval (`start` if there are no values), saturating.
    pub fn end(&self) -> i64 {
        let n = i64::try_from(self.values.len()).unwrap_or(i64::MAX);
        self.start
            .saturating_add(n.saturating_mul(i64::from(self.interval_s)))
    }

    /// Whether the row's intervals overlap `span`.
    pub fn overlaps(&self, span: Span) -> bool {
        self.end() > span.start && self.start < span.end
    }

    /// Start of the row's `i`-th interval.
    pub fn time_of(&self, i: usize) -> i64 {
        self.start + i as i64 * i64::from(self.interval_s)
    }
}

impl Readings {
    fn id(&mut self, name: &str) -> u32 {
        // Rows of one meter nearly always repeat the names of the row before.
        let last = self.last_ids;
        if let Some(i) = [last.device, last.meter, last.unit]
            .into_iter()
            .find(|&i| self.names.get(i as usize).is_some_and(|n| n == name))
        {
            return i;
        }
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), i);
        i
    }

    /// Adds a row of the index, unpacking its values.
    pub fn push_packed(&mut self, meter: &str, r: ChannelRef<'_>) -> Result<(), StoreError> {
        let from = self.values.len();
        tanji_store::unpack_into(r.packed, &mut self.values, &|| r.describe(meter))?;
        self.push_fields(ChannelRef { packed: &[], ..r }, meter, from);
        Ok(())
    }

    /// Records the row whose values were just appended from `from` on.
    fn push_fields(&mut self, r: ChannelRef<'_>, meter: &str, from: usize) {
        let meta = RowMeta {
            index: r.index,
            device: self.id(r.device),
            seq: r.seq,
            meter: self.id(meter),
            start: r.start,
            interval_s: r.interval_s,
            unit: self.id(r.unit),
            decimals: r.decimals,
            values: from..self.values.len(),
        };
        self.last_ids = LastIds {
            device: meta.device,
            meter: meta.meter,
            unit: meta.unit,
        };
        self.rows.push(meta);
    }

    /// Adds a row decoded from the log.
    pub fn push_row(&mut self, r: &ChannelRow) {
        let from = self.values.len();
        self.values.extend_from_slice(&r.values);
        let fields = ChannelRef {
            index: r.index,
            device: &r.device,
            seq: r.seq,
            start: r.start,
            interval_s: r.interval_s,
            unit: &r.unit,
            decimals: r.decimals,
            packed: &[],
        };
        self.push_fields(fields, &r.meter, from);
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        let name = |i: u32| self.names.get(i as usize).map_or("", String::as_str);
        self.rows.iter().map(move |m| Row {
            index: m.index,
            device: name(m.device),
            seq: m.seq,
            meter: name(m.meter),
            start: m.start,
            interval_s: m.interval_s,
            unit: name(m.unit),
            decimals: m.decimals,
            values: self.values.get(m.values.clone()).unwrap_or(&[]),
        })
    }
}

/// The slots of a series being built: `n` intervals of `iv` seconds from `s0`.
struct Slots {
    s0: i64,
    iv: i64,
    values: Vec<Option<i64>>,
}

impl Slots {
    fn add(&mut self, slot: usize, v: i64) {
        if let Some(cell) = self.values.get_mut(slot) {
            *cell = Some(cell.unwrap_or(0) + v);
        }
    }

    /// The usual case — the series' own interval, thousandths of its own unit, aligned — is
    /// a plain copy into the slots the channel covers ([`Slots::spread`] gives the same
    /// result, more slowly). `false` if `c` is not such a row.
    fn copy_aligned(&mut self, c: &Row<'_>, scale: Option<ToMilli>) -> bool {
        let aligned = (c.start - self.s0) % self.iv == 0;
        if i64::from(c.interval_s) != self.iv
            || !scale.is_some_and(ToMilli::is_identity)
            || !aligned
        {
            return false;
        }
        let first = (c.start - self.s0) / self.iv;
        let skip = usize::try_from(-first).unwrap_or(0);
        let at = usize::try_from(first).unwrap_or(0);
        let n = self.values.len();
        let take = n.saturating_sub(at);
        for (cell, &v) in self.values[at.min(n)..]
            .iter_mut()
            .zip(c.values.iter().skip(skip).take(take))
        {
            *cell = Some(cell.unwrap_or(0) + v);
        }
        true
    }

    /// Adds every value of `c` (converted by `scale`), splitting a coarser interval evenly
    /// (exact: the parts sum to the whole); a value that does not convert is an issue.
    fn spread(
        &mut self,
        c: &Row<'_>,
        scale: Option<ToMilli>,
        unconvertible: &mut dyn FnMut(usize, i64),
    ) {
        let k = i64::from(c.interval_s) / self.iv;
        for (i, &v) in c.values.iter().enumerate() {
            let t = c.time_of(i);
            let Some(milli) = scale.and_then(|s| s.apply(v)) else {
                unconvertible(i, v);
                continue;
            };
            for j in 0..k {
                let ts = t + j * self.iv;
                if ts < self.s0 {
                    continue;
                }
                let slot = usize::try_from((ts - self.s0) / self.iv).unwrap_or(usize::MAX);
                self.add(slot, even_part(milli, k, j));
            }
        }
    }
}

/// A data issue about a meter.
fn meter_issue(kind: &str, meter: &str, message: String) -> IssueDoc {
    IssueDoc {
        kind: kind.into(),
        subject: format!("meter {meter}"),
        message,
    }
}

/// Builds the series of one meter over `span` from its rows (in log order); rows whose unit
/// or interval does not fit are issues, not counted. `None` without rows.
pub(super) fn series_of(
    meter: &str,
    m: &MeterData,
    channels: &[Row<'_>],
    span: Span,
    issues: &mut Vec<IssueDoc>,
) -> Option<IntervalSeries> {
    let iv = channels.iter().map(|c| c.interval_s).min()?;
    let iv_i = i64::from(iv);
    let s0 = span.start.div_euclid(iv_i) * iv_i;
    let n = usize::try_from((span.end - s0 + iv_i - 1) / iv_i).ok()?;
    let mut slots = Slots {
        s0,
        iv: iv_i,
        values: vec![None; n],
    };
    // A meter's channels nearly always share one unit: parse it once.
    let mut unit_of: Option<(&str, Unit)> = None;
    for c in channels {
        let index = c.index;
        let parsed = match unit_of {
            Some((text, u)) if text == c.unit => Ok(u),
            _ => c.unit.parse::<Unit>(),
        };
        let Ok(cu) = parsed else {
            let message = format!(
                "entry {index}: unit {:?} is unknown; its values are not counted",
                c.unit
            );
            issues.push(meter_issue("unconvertible", meter, message));
            continue;
        };
        unit_of = Some((c.unit, cu));
        if c.interval_s % iv != 0 {
            let message = format!(
                "entry {index}: {} s intervals do not divide into the meter's {iv} s series; its values are not counted",
                c.interval_s
            );
            issues.push(meter_issue("interval_mismatch", meter, message));
            continue;
        }
        let scale = ToMilli::new(c.decimals, cu, m.unit);
        if slots.copy_aligned(c, scale) {
            continue;
        }
        slots.spread(c, scale, &mut |i, v| {
            let message = format!(
                "entry {index}, value {i}: {v} ×10^-{} {} does not convert to {}; not counted",
                c.decimals,
                c.unit,
                m.unit.code()
            );
            issues.push(meter_issue("unconvertible", meter, message));
        });
    }
    Some(IntervalSeries {
        meter: meter.to_string(),
        carrier: m.carrier,
        unit: m.unit,
        fuel: None,
        start: s0,
        interval_s: iv,
        values: slots.values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        index: u64,
        start: i64,
        interval_s: u32,
        unit: &'a str,
        values: &'a [i64],
    ) -> Row<'a> {
        Row {
            index,
            device: "d-1",
            seq: index,
            meter: "m-1",
            start,
            interval_s,
            unit,
            decimals: 3,
            values,
        }
    }

    fn kwh_meter() -> MeterData {
        MeterData {
            reg_index: 0,
            device: "d-1".into(),
            carrier: Carrier::ElectricityImport,
            unit: Unit::KWh,
        }
    }

    #[test]
    fn readings_store_names_once_and_give_rows_back() {
        let mut r = Readings::default();
        for (index, meter) in [(3, "m-1"), (5, "m-1"), (7, "m-2")] {
            r.push_row(&ChannelRow {
                index,
                device: "d-1".into(),
                seq: index,
                meter: meter.into(),
                start: 900 * index as i64,
                interval_s: 900,
                unit: "kWh".into(),
                decimals: 3,
                values: vec![index as i64; 2],
            });
        }
        assert_eq!(r.names, ["d-1", "m-1", "kWh", "m-2"]);
        let rows: Vec<Row<'_>> = r.rows().collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[2].meter, rows[2].index, rows[2].values),
            ("m-2", 7, &[7, 7][..])
        );
        assert_eq!(rows[1].end(), 900 * 5 + 1800);
    }

    #[test]
    fn a_coarser_row_is_split_evenly_and_aligned_rows_add_up() {
        let (fine, coarse) = ([100, 200], [1001]);
        let rows = [
            row(1, 0, 900, "kWh", &fine),
            row(2, 0, 3600, "kWh", &coarse),
        ];
        let mut issues = Vec::new();
        let span = Span {
            start: 0,
            end: 3600,
        };
        let s = series_of("m-1", &kwh_meter(), &rows, span, &mut issues).expect("a series");
        assert_eq!((s.start, s.interval_s), (0, 900));
        // 1001 in four parts: 250, 250, 250, 251 (they sum to the whole).
        assert_eq!(s.values, [Some(350), Some(450), Some(250), Some(251)]);
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn rows_with_unknown_units_or_odd_intervals_are_issues_not_counted() {
        let v = [5, 5];
        let rows = [
            row(1, 0, 900, "kWh", &v),
            row(2, 0, 900, "furlongs", &v),
            row(3, 0, 1000, "kWh", &v),
        ];
        let mut issues = Vec::new();
        let span = Span {
            start: 0,
            end: 1800,
        };
        let s = series_of("m-1", &kwh_meter(), &rows, span, &mut issues).expect("a series");
        assert_eq!(s.values, [Some(5), Some(5)]);
        let kinds: Vec<&str> = issues.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["unconvertible", "interval_mismatch"]);
        assert!(issues[0].message.starts_with("entry 2: unit \"furlongs\""));
        assert_eq!(issues[1].subject, "meter m-1");
    }

    #[test]
    fn a_series_starts_at_the_interval_holding_the_span_start() {
        let v = [1, 2, 3, 4];
        let rows = [row(1, 0, 900, "kWh", &v)];
        let span = Span {
            start: 1000,
            end: 2700,
        };
        let s = series_of("m-1", &kwh_meter(), &rows, span, &mut Vec::new()).expect("a series");
        assert_eq!(
            (s.start, s.values.as_slice()),
            (900, &[Some(2), Some(3)][..])
        );
        assert!(series_of("m-1", &kwh_meter(), &[], span, &mut Vec::new()).is_none());
    }
}
