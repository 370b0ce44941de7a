//! `tanji ingest`: JSON-lines files of signed uploads into the park log, in durable batches.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use tanji_park::{IngestSummary, Park};

use crate::util;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The park's data directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// JSON-lines files of signed uploads (one record per line).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Records per durable batch (one transaction and one fsync each).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Write one acknowledgement line per record once its batch is durable
    /// (`accepted|duplicate|rejected <source> <device> <seq> <index|code>`); `-` = stdout.
    #[arg(long)]
    pub acks: Option<PathBuf>,
    /// Validate against this time instead of the clock (RFC 3339), e.g. to re-ingest old files;
    /// records refused are quarantined as received at this time.
    #[arg(long)]
    pub now: Option<String>,
    /// Exit with status 1 if any record was rejected.
    #[arg(long)]
    pub strict: bool,
}

/// Prints the totals of an ingest run.
pub fn print_summary(s: &IngestSummary) {
    println!(
        "ingested {} record(s) in {:.2} s: {} accepted ({} readings), {} duplicate (already logged), {} rejected",
        s.records, s.seconds, s.accepted, s.readings, s.duplicate, s.rejected
    );
    if s.issues > 0 {
        println!(
            "  {} data issue(s) noted on accepted records (e.g. sequence gaps)",
            s.issues
        );
    }
    for (code, (n, first)) in &s.by_code {
        println!("  rejected {n} × {code}, first: {first}");
    }
    if s.rejected > 0 {
        println!("  rejected records are kept with their reasons: `tanji quarantine --dir …`");
    }
}

/// Ingests one file in batches of 1000 with a progress bar over its bytes, validating
/// against the clock.
pub fn ingest_file_with_progress(park: &mut Park, path: &Path) -> Result<IngestSummary> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let pb = util::byte_bar(size, "ingest");
    let summary = park.ingest_files(
        std::slice::from_ref(&path.to_path_buf()),
        1000,
        None,
        None,
        &mut |n| pb.inc(n),
    );
    pb.finish_and_clear();
    Ok(summary?)
}

pub fn run(a: IngestArgs) -> Result<ExitCode> {
    let mut park = util::open(&a.dir)?;
    let now = a.now.as_deref().map(util::parse_instant).transpose()?;
    let total: u64 = a
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let pb = util::byte_bar(total, "ingest");
    let summary = park.ingest_files(&a.files, a.batch, now, a.acks.as_deref(), &mut |n| {
        pb.inc(n)
    });
    pb.finish_and_clear();
    let summary = summary?;
    print_summary(&summary);
    println!(
        "log size {}, root {}",
        park.size(),
        hex::encode(park.root())
    );
    Ok(if a.strict && summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
