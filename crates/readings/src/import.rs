//! The import CSV of `tanji import`: historical meter values, `meter,start,value` per row, and
//! their grouping into the channels of signed import records.
//!
//! Parsing is pure (text in, rows out) so that it can be fuzzed and tested without files; the
//! `tanji` binary reads the file, names it in errors and signs the records.

use std::collections::BTreeMap;

use crate::{Channel, MAX_VALUES};
use tanji_units::time::{self, rfc3339};

/// The most decimals an import value may have.
pub const MAX_IMPORT_DECIMALS: u8 = 6;

/// One row of an import CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    /// Interval start, Unix seconds UTC.
    pub start: i64,
    /// The value as an integer of `decimals` decimals.
    pub value: i64,
    /// Decimals of `value`.
    pub decimals: u8,
}

/// What is wrong with an import CSV, and on which line (`None`: the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ImportError {
    /// 1-based line (the header is line 1), if the problem is on one line.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

fn at(line: u64, message: String) -> ImportError {
    ImportError {
        line: Some(line),
        message,
    }
}

/// A decimal value as an integer and its number of decimals: "12.50" → (1250, 2). At most
/// [`MAX_IMPORT_DECIMALS`] decimals, no exponent, no sign but a leading `-`.
pub fn parse_import_decimal(s: &str) -> Option<(i64, u8)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || !ok(int)
        || !ok(frac)
        || frac.len() > usize::from(MAX_IMPORT_DECIMALS)
        || (digits.contains('.') && frac.is_empty())
    {
        return None;
    }
    let mut v: i64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        v = v.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    Some((if neg { -v } else { v }, frac.len() as u8))
}

/// An interval start: Unix seconds, or an RFC 3339 instant.
fn parse_start(text: &str) -> Result<i64, String> {
    if let Ok(t) = text.parse::<i64>() {
        return Ok(t);
    }
    time::parse_rfc3339(text).map_err(|e| {
        let reason = match e {
            time::InstantError::NotRfc3339 { reason, .. } => reason,
            e @ time::InstantError::Fractional { .. } => e.to_string(),
        };
        format!("start: time {text:?}: expected RFC 3339, e.g. 2026-11-01T00:00:00Z: {reason}")
    })
}

/// Parses an import CSV (header `meter,start,value`, any column order, fields trimmed) with
/// intervals of `interval_s` seconds: every row's start on an interval boundary, a decimal
/// value, one value per meter and start. Rows come back per meter, sorted by start.
pub fn parse_import_csv(
    text: &str,
    interval_s: u32,
) -> Result<BTreeMap<String, Vec<ImportRow>>, ImportError> {
    let whole = |message: String| ImportError {
        line: None,
        message,
    };
    if interval_s == 0 {
        return Err(whole("the interval is 0 s; it must be at least 1 s".into()));
    }
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = r
        .headers()
        .map_err(|e| whole(format!("reading the header: {e}")))?
        .clone();
    let col = |want: &str| {
        headers.iter().position(|h| h == want).ok_or_else(|| {
            whole(format!(
                "the header has no column {want:?}; expected meter,start,value"
            ))
        })
    };
    let (c_meter, c_start, c_value) = (col("meter")?, col("start")?, col("value")?);
    let interval = i64::from(interval_s);
    let mut by_meter: BTreeMap<String, Vec<ImportRow>> = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| at(line, format!("not a CSV record: {e}")))?;
        let field = |c: usize, what: &str| {
            rec.get(c)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| at(line, format!("{what} is empty")))
        };
        let meter = field(c_meter, "meter")?;
        let start = parse_start(field(c_start, "start")?).map_err(|m| at(line, m))?;
        if start.rem_euclid(interval) != 0 {
            return Err(at(
                line,
                format!(
                    "start {} is not on a {interval_s} s interval boundary",
                    rfc3339(start)
                ),
            ));
        }
        let value_text = field(c_value, "value")?;
        let (value, decimals) = parse_import_decimal(value_text).ok_or_else(|| {
            at(
                line,
                format!(
                    "value {value_text:?} is not a decimal number with at most {MAX_IMPORT_DECIMALS} decimals"
                ),
            )
        })?;
        by_meter
            .entry(meter.to_string())
            .or_default()
            .push(ImportRow {
                line,
                start,
                value,
                decimals,
            });
    }
    for (meter, rows) in &mut by_meter {
        rows.sort_by_key(|r| r.start);
        for w in rows.windows(2) {
            if w[0].start == w[1].start {
                return Err(at(
                    w[0].line,
                    format!(
                        "meter {meter} has two values for {} (lines {} and {})",
                        rfc3339(w[0].start),
                        w[0].line,
                        w[1].line
                    ),
                ));
            }
        }
    }
    if by_meter.is_empty() {
        return Err(whole("no rows after the header".into()));
    }
    Ok(by_meter)
}

/// The channels of one meter's rows (sorted by start, as [`parse_import_csv`] returns them):
/// runs of consecutive intervals within one UTC day, at most [`MAX_VALUES`] values each, every
/// value scaled to the run's most decimals. Returns (UTC day number, channel); carrier and unit
/// are left empty for the caller (the meter's registration). Refuses a value that does not fit
/// in 64 bits at its run's decimals, naming its line.
pub fn import_channels(
    meter: &str,
    rows: &[ImportRow],
    interval_s: u32,
) -> Result<Vec<(i64, Channel)>, ImportError> {
    let iv = i64::from(interval_s);
    let mut out: Vec<(i64, Channel)> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let day = rows[i].start.div_euclid(time::DAY_S);
        let mut j = i + 1;
        while j < rows.len()
            && rows[j - 1].start.checked_add(iv) == Some(rows[j].start)
            && rows[j].start.div_euclid(time::DAY_S) == day
            && j - i < MAX_VALUES
        {
            j += 1;
        }
        let run = &rows[i..j];
        let decimals = run.iter().map(|r| r.decimals).max().unwrap_or(0);
        let values = run
            .iter()
            .map(|r| {
                10i64
                    .checked_pow(u32::from(decimals.saturating_sub(r.decimals)))
                    .and_then(|scale| r.value.checked_mul(scale))
                    .ok_or_else(|| {
                        at(
                            r.line,
                            format!(
                                "value {} of meter {meter} does not fit in 64 bits at {decimals} decimals (the most of its run of intervals)",
                                r.value
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<i64>, ImportError>>()?;
        out.push((
            day,
            Channel {
                meter: meter.to_string(),
                carrier: String::new(),
                unit: String::new(),
                decimals,
                start: run[0].start,
                interval_s,
                values,
            },
        ));
        i = j;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_import_decimal("12.50"), Some((1250, 2)));
        assert_eq!(parse_import_decimal("0"), Some((0, 0)));
        assert_eq!(parse_import_decimal("-3.000001"), Some((-3_000_001, 6)));
        for bad in [
            "",
            "1.",
            ".5",
            "1.2345678",
            "1e3",
            "12,5",
            "--1",
            "9223372036854775808",
        ] {
            assert_eq!(parse_import_decimal(bad), None, "{bad:?}");
        }
    }

    fn row(start: i64, value: i64, decimals: u8) -> ImportRow {
        ImportRow {
            line: 0,
            start,
            value,
            decimals,
        }
    }

    #[test]
    fn runs_split_at_gaps_and_days() {
        let day = 1_790_812_800; // 2026-10-01T00:00:00Z
        let rows = [
            row(day - 900, 5, 0),
            row(day, 15, 1),
            row(day + 900, 2, 0),
            row(day + 2700, 7, 3),
        ];
        let ch = import_channels("m", &rows, 900).unwrap();
        assert_eq!(ch.len(), 3);
        assert_eq!(ch[0].1.values, vec![5]);
        // 1.5 and 2 at one decimal.
        assert_eq!(
            (ch[1].1.decimals, ch[1].1.values.clone()),
            (1, vec![15, 20])
        );
        assert_eq!(ch[2].1.start, day + 2700);
    }

    #[test]
    fn a_value_too_large_for_its_runs_decimals_is_refused_by_line() {
        let rows = [
            ImportRow {
                line: 2,
                ..row(0, i64::MAX / 10, 0)
            },
            ImportRow {
                line: 3,
                ..row(900, 1, 6)
            },
        ];
        let e = import_channels("m", &rows, 900).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("does not fit in 64 bits"), "{e}");
    }

    #[test]
    fn starts_near_the_end_of_time_do_not_overflow() {
        let last = i64::MAX - i64::MAX.rem_euclid(900);
        let rows = [row(last - 900, 1, 0), row(last, 2, 0)];
        let ch = import_channels("m", &rows, 900).unwrap();
        assert_eq!(ch.iter().map(|c| c.1.values.len()).sum::<usize>(), 2);
        let text = format!("meter,start,value\nm,{last},1\n");
        assert!(parse_import_csv(&text, 900).is_ok());
    }

    #[test]
    fn errors_name_their_line() {
        let e = parse_import_csv("meter,start,value\nm,0,1\nm,900,1.2.3\n", 900).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: value \"1.2.3\" is not a decimal number with at most 6 decimals"
        );
        let e = parse_import_csv("meter,begin,value\n", 900).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e.message.contains("no column \"start\""), "{e}");
        let e = parse_import_csv("meter,start,value\nm,0,1\n", 0).unwrap_err();
        assert!(e.message.contains("interval is 0 s"), "{e}");
    }
}
