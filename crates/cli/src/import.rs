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
    import_channels, is_import_device, parse_import_csv, upload_to_json, Channel, ImportError,
    ImportRow, UploadBody, IMPORT_DEVICE_PREFIX, MAX_CHANNELS, ZERO_HASH,
};
use tanji_units::time;

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

/// Reads and checks the whole file before anything is signed or logged.
fn read_rows(path: &std::path::Path, interval: u32) -> Result<BTreeMap<String, Vec<ImportRow>>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("opening {name}"))?;
    parse_import_csv(&text, interval).map_err(|e| located(&name, e))
}

/// An import error with the file's name before its line: `h.csv:3: value …`.
fn located(name: &str, e: ImportError) -> anyhow::Error {
    match e.line {
        Some(line) => anyhow::anyhow!("{name}:{line}: {}", e.message),
        None => anyhow::anyhow!("{name}: {}", e.message),
    }
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
        let channels = import_channels(meter, rs, a.interval)
            .map_err(|e| located(&a.file.display().to_string(), e))?;
        for (day, mut c) in channels {
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
                source: format!(
                    "{}:{}#{seq}",
                    a.file.display(),
                    time::rfc3339(day * time::DAY_S)
                ),
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
    let summary = park.ingest_batches(incoming, a.batch, None, a.acks.as_deref())?;
    ingest::print_summary(&summary);
    Ok(if a.strict && summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
