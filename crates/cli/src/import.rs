//! `tanji import`: historical meter data from a CSV file, for the time before a meter had its
//! own device. The operator signs it with an import key registered as an import device
//! (`import-…`); it then goes through exactly the ingest path devices use (validation,
//! quarantine, durable batches), and every report marks it as imported.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use tanji_readings::{is_import_device, parse_import_csv, ImportRow, IMPORT_DEVICE_PREFIX};

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
    Ok(
        parse_import_csv(&text, interval)
            .map_err(|e| tanji_park::located_import_error(&name, e))?,
    )
}

/// An import error with the file's name before its line: `h.csv:3: value …`.
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
    let file = a.file.display().to_string();
    let incoming = park.history_records(&a.device, &key, &rows, a.interval, &file)?;
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
