//! The series CSV: the published form of a factor series, byte-stable.

use std::collections::BTreeSet;

use crate::compute::{FactorRow, Series};
use crate::input::{format_time, parse_f64_field, parse_time, read_csv, InputError};

/// The series CSV header. The trailing `consumption_mwh` is the region's net supply (generation
/// + imports − exports) in the interval, the weight for annual means and calibration.
pub const SERIES_HEADER: &str = "region,start,end,production_direct,production_lifecycle,\
consumption_direct,consumption_lifecycle,consumption_mwh";

const COLS: [&str; 8] = [
    "region",
    "start",
    "end",
    "production_direct",
    "production_lifecycle",
    "consumption_direct",
    "consumption_lifecycle",
    "consumption_mwh",
];

/// Fixed 4 decimals: `v · 10⁴` rounded half away from zero, written as an integer with the
/// decimal point put back; never `-0.0000`. (Integer formatting rather than `{:.4}`, whose exact
/// float-to-decimal fallback made writing a year of 50 regions 4× slower; both are
/// deterministic, and parse → write gives back the same bytes.)
fn number(v: f64) -> String {
    let scaled = (v * 10_000.0).round();
    if scaled.abs() >= 9.0e15 {
        return format!("{v:.4}");
    }
    let n = scaled as i64;
    let sign = if n < 0 { "-" } else { "" };
    let m = n.unsigned_abs();
    format!("{sign}{}.{:04}", m / 10_000, m % 10_000)
}

fn factor(v: Option<f64>) -> String {
    v.map(number).unwrap_or_default()
}

impl Series {
    /// Of the `days` UTC days from `first_day` (Unix seconds of a UTC midnight), the one whose
    /// local evening (19:00–22:00 at `utc_offset_s`) direct consumption factor in `region`
    /// exceeds its midday (11:00–14:00) one most: the day the midday dip shows best. `None`
    /// when no day has factors at both times.
    pub fn day_of_widest_midday_dip(
        &self,
        region: &str,
        first_day: i64,
        days: u32,
        utc_offset_s: i32,
    ) -> Option<i64> {
        use tanji_units::time::{DAY_S, HOUR_S};
        let mut best: Option<(f64, i64)> = None;
        for d in 0..i64::from(days) {
            let day = first_day + d * DAY_S;
            let mean = |from_h: i64, to_h: i64| {
                let v: Vec<f64> = (from_h..to_h)
                    .filter_map(|h| {
                        self.factor_at(region, day - i64::from(utc_offset_s) + h * HOUR_S)
                    })
                    .filter_map(|r| r.consumption_direct)
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            if let (Some(mid), Some(eve)) = (mean(11, 14), mean(19, 22)) {
                if best.is_none_or(|(gap, _)| eve - mid > gap) {
                    best = Some((eve - mid, day));
                }
            }
        }
        best.map(|(_, day)| day)
    }

    /// The series as CSV: [`SERIES_HEADER`], then one line per row in `rows` order (compute and
    /// [`Series::parse_csv`] keep them sorted by start, then region). Timestamps RFC 3339 UTC
    /// (`2022-01-01T00:00:00Z`), numbers with exactly 4 decimals (g/kWh and MWh), an empty field
    /// for an absent factor, `\n` line ends, fields quoted only when they must be. The same
    /// series always gives the same bytes.
    pub fn to_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::with_capacity(96 * (self.rows.len() + 1)));
        // Rows of one interval share start and end: format each timestamp once.
        let mut times = (i64::MIN, i64::MIN, String::new(), String::new());
        let mut out = || -> Result<(), csv::Error> {
            w.write_record(COLS)?;
            for r in &self.rows {
                if (times.0, times.1) != (r.start, r.end) {
                    times = (r.start, r.end, format_time(r.start), format_time(r.end));
                }
                w.write_record([
                    r.region.as_str(),
                    &times.2,
                    &times.3,
                    &factor(r.production_direct),
                    &factor(r.production_lifecycle),
                    &factor(r.consumption_direct),
                    &factor(r.consumption_lifecycle),
                    &number(r.consumption_mwh),
                ])?;
            }
            Ok(())
        };
        // Writing to a Vec cannot fail, and every field is valid UTF-8.
        let _ = out();
        let bytes = w.into_inner().unwrap_or_default(); // into_inner flushes
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Parse a series CSV (as written by [`Series::to_csv`]; a file without the trailing
    /// `consumption_mwh` column reads as consumption 0). Rows are sorted by start, then region;
    /// a region listed twice for one start is an error. `issues` and `calibrations` are not part
    /// of the CSV and come back empty.
    pub fn parse_csv(text: &str) -> Result<Series, InputError> {
        const WHAT: &str = "series CSV";
        let has_mwh = text
            .lines()
            .next()
            .is_some_and(|h| h.to_ascii_lowercase().contains("consumption_mwh"));
        let cols: &[&'static str] = if has_mwh { &COLS } else { &COLS[..7] };
        let mut rows = Vec::new();
        let mut seen = BTreeSet::new();
        read_csv(WHAT, text, cols, |line, f| {
            let start = parse_time(WHAT, line, "start", f[1])?;
            let end = parse_time(WHAT, line, "end", f[2])?;
            if end <= start {
                return Err(InputError::Value {
                    what: WHAT,
                    line,
                    column: "end",
                    value: f[2].to_string(),
                    reason: format!("is not after start {}", f[1]),
                });
            }
            if f[0].is_empty() {
                return Err(InputError::Value {
                    what: WHAT,
                    line,
                    column: "region",
                    value: String::new(),
                    reason: "is empty".into(),
                });
            }
            if !seen.insert((start, f[0].to_string())) {
                return Err(InputError::Line {
                    what: WHAT,
                    line,
                    message: format!("region {} is listed twice for start {}", f[0], f[1]),
                });
            }
            let opt = |i: usize| -> Result<Option<f64>, InputError> {
                if f[i].is_empty() {
                    Ok(None)
                } else {
                    parse_f64_field(WHAT, line, COLS[i], f[i]).map(Some)
                }
            };
            rows.push(FactorRow {
                region: f[0].to_string(),
                start,
                end,
                production_direct: opt(3)?,
                production_lifecycle: opt(4)?,
                consumption_direct: opt(5)?,
                consumption_lifecycle: opt(6)?,
                consumption_mwh: if has_mwh {
                    parse_f64_field(WHAT, line, COLS[7], f[7])?
                } else {
                    0.0
                },
            });
            Ok(())
        })?;
        rows.sort_by(|a, b| (a.start, &a.region).cmp(&(b.start, &b.region)));
        Ok(Series {
            rows,
            issues: Vec::new(),
            calibrations: Vec::new(),
        })
    }

    /// The row of `region` whose interval contains `t` (`start <= t < end`), if any. Relies on
    /// `rows` being sorted by start (as [`crate::compute`] and [`Series::parse_csv`] leave them);
    /// `O(log n + regions)`.
    pub fn factor_at(&self, region: &str, t: i64) -> Option<&FactorRow> {
        // First row starting after t; the candidates start at the last start <= t.
        let after = self.rows.partition_point(|r| r.start <= t);
        let last_start = self.rows[..after].last()?.start;
        let first = self.rows[..after].partition_point(|r| r.start < last_start);
        self.rows[first..after]
            .iter()
            .find(|r| r.region == region && t < r.end)
    }

    /// The regions in the series, sorted.
    pub fn regions(&self) -> Vec<String> {
        self.rows
            .iter()
            .map(|r| r.region.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::number;
    use crate::compute::{FactorRow, Series};

    #[test]
    fn the_widest_midday_dip_is_found_in_local_hours() {
        // Hourly rows for three UTC days at UTC+8; day 1 has the deepest dip.
        let (first, offset) = (1_740_960_000i64, 8 * 3600);
        let mut rows = Vec::new();
        for t in (first - 86_400..first + 4 * 86_400).step_by(3600) {
            let day = (t + i64::from(offset)).div_euclid(86_400) * 86_400 - first;
            let hour = (t + i64::from(offset)).rem_euclid(86_400) / 3600;
            let dip = [0.1, 0.2, 0.3, 0.0, 0.0, 0.9][usize::try_from(day / 86_400 + 1).unwrap()];
            let f = if (11..14).contains(&hour) {
                0.6 - dip
            } else {
                0.6
            };
            rows.push(FactorRow {
                region: "r".into(),
                start: t,
                end: t + 3600,
                production_direct: None,
                production_lifecycle: None,
                consumption_direct: Some(f),
                consumption_lifecycle: None,
                consumption_mwh: 1.0,
            });
        }
        let series = Series {
            rows,
            issues: Vec::new(),
            calibrations: Vec::new(),
        };
        assert_eq!(
            series.day_of_widest_midday_dip("r", first, 3, offset),
            Some(first + 86_400)
        );
        assert_eq!(
            series.day_of_widest_midday_dip("elsewhere", first, 3, offset),
            None
        );
    }

    #[test]
    fn fixed_four_decimals() {
        for (v, s) in [
            (0.0, "0.0000"),
            (-0.0, "0.0000"),
            (-0.00001, "0.0000"),
            (703.893_058_161_350_8, "703.8931"),
            (250.5, "250.5000"),
            (-3.25, "-3.2500"),
            (0.000_05, "0.0001"),
            (1e20, "100000000000000000000.0000"),
        ] {
            assert_eq!(number(v), s, "{v}");
        }
        // Parse and write again: the same bytes.
        for k in 0..100_000i64 {
            let s = number(k as f64 * 0.012_345_678_9);
            assert_eq!(number(s.parse().unwrap_or(f64::NAN)), s);
        }
    }
}
