//! `tanji import`: historical meter data from a CSV file, for the time before a meter had its
//! own device. The operator signs it with an import key registered as an import device
//! (`import-…`); it then goes through exactly the ingest path devices use (validation,
//! quarantine, durable batches), and every report marks it as imported.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use tanji_park::Incoming;
use tanji_readings::{
    is_import_device, upload_to_json, Channel, UploadBody, IMPORT_DEVICE_PREFIX, MAX_CHANNELS,
    MAX_VALUES, ZERO_HASH,
};

use crate::{ingest, util};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The park's data directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// The import device's secret key file (`tanji device keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// The import device id: it starts with `import-` and is registered for every meter of the
    /// file (`tanji device register --device import-… --key-file …`).
    #[arg(long)]
    pub device: String,
    /// CSV with a header `meter,start,value`: `start` is the interval start (RFC 3339 or Unix
    /// seconds, UTC), `value` a decimal amount in the meter's registered unit (at most 6
    /// decimals) for `[start, start + interval)`.
    pub file: PathBuf,
    /// Interval length of every row, seconds.
    #[arg(long, default_value_t = 900)]
    pub interval: u32,
    /// Records per durable batch.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Write one acknowledgement line per signed record (see `tanji ingest --acks`); `-` = stdout.
    #[arg(long)]
    pub acks: Option<PathBuf>,
    /// Exit with status 1 if any record was rejected.
    #[arg(long)]
    pub strict: bool,
}

/// A decimal value as an integer and its number of decimals: "12.50" → (1250, 2).
fn parse_decimal(s: &str) -> Option<(i64, u8)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || !ok(int)
        || !ok(frac)
        || frac.len() > 6
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

/// One CSV row.
struct Row {
    line: u64,
    start: i64,
    value: i64,
    decimals: u8,
}

/// Reads and checks the whole file before anything is signed or logged.
fn read_rows(path: &std::path::Path, interval: u32) -> Result<BTreeMap<String, Vec<Row>>> {
    let name = path.display().to_string();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("opening {name}"))?;
    let headers = r
        .headers()
        .with_context(|| format!("{name}: reading the header"))?
        .clone();
    let col = |want: &str| {
        headers.iter().position(|h| h == want).with_context(|| {
            format!("{name}: the header has no column {want:?}; expected meter,start,value")
        })
    };
    let (c_meter, c_start, c_value) = (col("meter")?, col("start")?, col("value")?);
    let mut by_meter: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.with_context(|| format!("{name}:{line}: not a CSV record"))?;
        let field = |c: usize, what: &str| {
            rec.get(c)
                .filter(|v| !v.is_empty())
                .with_context(|| format!("{name}:{line}: {what} is empty"))
        };
        let meter = field(c_meter, "meter")?;
        let start_text = field(c_start, "start")?;
        let start = match start_text.parse::<i64>() {
            Ok(t) => t,
            Err(_) => {
                util::parse_instant(start_text).with_context(|| format!("{name}:{line}: start"))?
            }
        };
        if start.rem_euclid(i64::from(interval)) != 0 {
            bail!(
                "{name}:{line}: start {} is not on a {interval} s interval boundary",
                util::rfc3339(start)
            );
        }
        let value_text = field(c_value, "value")?;
        let (value, decimals) = parse_decimal(value_text).with_context(|| {
            format!("{name}:{line}: value {value_text:?} is not a decimal number with at most 6 decimals")
        })?;
        by_meter.entry(meter.to_string()).or_default().push(Row {
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
                bail!(
                    "{name}:{} and line {}: meter {meter} has two values for {}",
                    w[0].line,
                    w[1].line,
                    util::rfc3339(w[0].start)
                );
            }
        }
    }
    if by_meter.is_empty() {
        bail!("{name}: no rows after the header");
    }
    Ok(by_meter)
}

/// The channels of one meter: runs of consecutive intervals within one UTC day.
fn channels_of(meter: &str, rows: &[Row], interval: u32) -> Vec<(i64, Channel)> {
    let iv = i64::from(interval);
    let mut out: Vec<(i64, Channel)> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let day = rows[i].start.div_euclid(86_400);
        let mut j = i + 1;
        while j < rows.len()
            && rows[j].start == rows[j - 1].start + iv
            && rows[j].start.div_euclid(86_400) == day
            && j - i < MAX_VALUES
        {
            j += 1;
        }
        let run = &rows[i..j];
        let decimals = run.iter().map(|r| r.decimals).max().unwrap_or(0);
        let values = run
            .iter()
            .map(|r| r.value * 10i64.pow(u32::from(decimals - r.decimals)))
            .collect();
        out.push((
            day,
            Channel {
                meter: meter.to_string(),
                carrier: String::new(),
                unit: String::new(),
                decimals,
                start: run[0].start,
                interval_s: interval,
                values,
            },
        ));
        i = j;
    }
    out
}

pub fn run(a: ImportArgs) -> Result<ExitCode> {
    if !is_import_device(&a.device) {
        bail!(
            "--device {:?}: an import device id starts with {IMPORT_DEVICE_PREFIX:?} (e.g. {IMPORT_DEVICE_PREFIX}ops), so that reports can mark its data as imported",
            a.device
        );
    }
    let key = tanji_park::keys::read_device_key(&a.key)?;
    let rows = read_rows(&a.file, a.interval)?;
    let mut park = util::open(&a.dir)?;
    // The meters' registrations give each channel its carrier and unit, and must name the
    // import device.
    let mut registered: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    for (_, r) in park.registrations()? {
        registered.insert(r.meter.clone(), (r.device, r.carrier, r.unit));
    }
    for meter in rows.keys() {
        match registered.get(meter) {
            None => bail!(
                "meter {meter} is not registered; register it to {} first (`tanji device register --device {} --key-file {} --meter {meter} …`)",
                a.device,
                a.device,
                a.key.display()
            ),
            Some((d, _, _)) if *d != a.device => bail!(
                "meter {meter} is bound to device {d}, not to {}: history can only be imported before a meter's own device takes it over",
                a.device
            ),
            Some(_) => {}
        }
    }
    // One record per UTC day, its channels the meters' runs of that day (16 at most).
    let mut by_day: BTreeMap<i64, Vec<Channel>> = BTreeMap::new();
    for (meter, rs) in &rows {
        let (_, carrier, unit) = &registered[meter];
        for (day, mut c) in channels_of(meter, rs, a.interval) {
            c.carrier = carrier.clone();
            c.unit = unit.clone();
            by_day.entry(day).or_default().push(c);
        }
    }
    let (mut seq, mut prev) = park.device_head(&a.device).unwrap_or((0, ZERO_HASH));
    let mut incoming = Vec::new();
    for (day, channels) in by_day {
        for chunk in channels.chunks(MAX_CHANNELS) {
            seq += 1;
            let upload = UploadBody {
                device: a.device.clone(),
                seq,
                prev,
                channels: chunk.to_vec(),
            }
            .sign(&key);
            prev = upload.record_hash();
            incoming.push(Incoming {
                source: format!("{}:{}#{seq}", a.file.display(), util::rfc3339(day * 86_400)),
                raw: upload_to_json(&upload).into_bytes(),
                parsed: Ok(upload),
                checked: None,
            });
        }
    }
    let records = incoming.len();
    eprintln!(
        "importing {} meter(s), {} value(s) as {records} signed record(s) of {} …",
        rows.len(),
        rows.values().map(Vec::len).sum::<usize>(),
        a.device
    );
    let summary = ingest::ingest_incoming(&mut park, incoming, a.batch, None, a.acks.as_deref())?;
    summary.print();
    Ok(if a.strict && summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.50"), Some((1250, 2)));
        assert_eq!(parse_decimal("0"), Some((0, 0)));
        assert_eq!(parse_decimal("-3.000001"), Some((-3_000_001, 6)));
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
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn runs_split_at_gaps_and_days() {
        let row = |start: i64, value: i64, decimals: u8| Row {
            line: 0,
            start,
            value,
            decimals,
        };
        let day = 1_790_812_800; // 2026-10-01T00:00:00Z
        let rows = [
            row(day - 900, 5, 0),
            row(day, 15, 1),
            row(day + 900, 2, 0),
            row(day + 2700, 7, 3),
        ];
        let ch = channels_of("m", &rows, 900);
        assert_eq!(ch.len(), 3);
        assert_eq!(ch[0].1.values, vec![5]);
        // 1.5 and 2 at one decimal.
        assert_eq!(
            (ch[1].1.decimals, ch[1].1.values.clone()),
            (1, vec![15, 20])
        );
        assert_eq!(ch[2].1.start, day + 2700);
    }
}
