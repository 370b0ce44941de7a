//! `tanji ingest`: JSON-lines files of signed uploads into the park log, in durable batches.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use tanji_park::{Incoming, Outcome, Park};
use tanji_readings::parse_json_upload;

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

/// Totals of an ingest run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub records: u64,
    pub accepted: u64,
    pub duplicate: u64,
    pub rejected: u64,
    pub readings: u64,
    pub issues: u64,
    pub by_code: BTreeMap<String, (u64, String)>,
    pub seconds: f64,
}

impl Summary {
    pub fn print(&self) {
        println!(
            "ingested {} record(s) in {:.2} s: {} accepted ({} readings), {} duplicate (already logged), {} rejected",
            self.records, self.seconds, self.accepted, self.readings, self.duplicate, self.rejected
        );
        if self.issues > 0 {
            println!(
                "  {} data issue(s) noted on accepted records (e.g. sequence gaps)",
                self.issues
            );
        }
        for (code, (n, first)) in &self.by_code {
            println!("  rejected {n} × {code}, first: {first}");
        }
        if self.rejected > 0 {
            println!("  rejected records are kept with their reasons: `tanji quarantine --dir …`");
        }
    }
}

struct AckWriter(Option<Box<dyn Write>>);

impl AckWriter {
    fn open(path: Option<&Path>) -> Result<Self> {
        Ok(AckWriter(match path {
            None => None,
            Some(p) if p == Path::new("-") => Some(Box::new(std::io::stdout())),
            Some(p) => Some(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .with_context(|| format!("opening {}", p.display()))?,
            )),
        }))
    }
}

/// How much of a file's start [`check_json_lines`] reads to find its first record.
const SNIFF_BYTES: u64 = 1 << 20;

/// Refuses a file that is not JSON lines before anything of it is ingested: its first
/// non-blank line must be a JSON object (a signed upload, as `tanji simulate` writes). An
/// HTML page, a CSV file or a pretty-printed JSON document is refused whole, so that nothing
/// of it reaches the quarantine.
pub fn check_json_lines(path: &Path) -> Result<()> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut head = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(f, SNIFF_BYTES), &mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    let refuse = |line_no: usize, why: &str| {
        anyhow::anyhow!(
            "{}: line {line_no} {why}; tanji ingest takes JSON lines, one signed upload object per line (as `tanji simulate` writes them); nothing of this file was ingested",
            path.display()
        )
    };
    let text = match std::str::from_utf8(&head) {
        Ok(t) => t,
        // A multi-byte character cut at the end of the sniffed bytes is not an error.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()])
            .map_err(|_| refuse(1, "is not UTF-8 text"))?,
        Err(e) => {
            let line = head[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            return Err(refuse(line, "is not UTF-8 text"));
        }
    };
    let read_whole = (head.len() as u64) < SNIFF_BYTES;
    let pieces: Vec<&str> = text.split('\n').collect();
    let Some((n, line)) = pieces
        .iter()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())
    else {
        return Ok(());
    };
    let line = line.trim();
    // A first line longer than the sniffed bytes is checked by its start only.
    let complete = read_whole || n + 1 < pieces.len();
    let is_object = if complete {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).is_ok()
    } else {
        line.starts_with('{')
    };
    if !is_object {
        let start: String = line.chars().take(40).collect();
        return Err(refuse(
            n + 1,
            &format!("is not a JSON object (it starts {start:?})"),
        ));
    }
    Ok(())
}

/// Ingests `files` into `park`, calling `progress(bytes)` as input is consumed. Every file is
/// checked to be JSON lines first ([`check_json_lines`]); one that is not is refused before
/// anything is ingested.
pub fn ingest_files(
    park: &mut Park,
    files: &[PathBuf],
    batch_size: usize,
    now: Option<i64>,
    acks: Option<&Path>,
    progress: &mut dyn FnMut(u64),
) -> Result<Summary> {
    let started = std::time::Instant::now();
    let mut acks = AckWriter::open(acks)?;
    let mut summary = Summary::default();
    let batch_size = batch_size.max(1);
    for path in files {
        check_json_lines(path)?;
    }
    for path in files {
        let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut reader = BufReader::with_capacity(1 << 20, f);
        let name = path.display().to_string();
        let mut line_no = 0u64;
        let mut batch: Vec<Incoming> = Vec::with_capacity(batch_size);
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = reader
                .read_line(&mut buf)
                .with_context(|| format!("reading {name} after line {line_no}"))?;
            if n > 0 {
                line_no += 1;
                progress(n as u64);
                let line = buf.trim_end_matches(['\n', '\r']);
                if !line.trim().is_empty() {
                    batch.push(Incoming {
                        source: format!("{name}:{line_no}"),
                        parsed: parse_json_upload(line),
                        checked: None,
                        raw: line.as_bytes().to_vec(),
                    });
                }
            }
            if batch.len() >= batch_size || (n == 0 && !batch.is_empty()) {
                flush(park, &mut batch, now, &mut acks, &mut summary)?;
            }
            if n == 0 {
                break;
            }
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn flush(
    park: &mut Park,
    batch: &mut Vec<Incoming>,
    now: Option<i64>,
    acks: &mut AckWriter,
    summary: &mut Summary,
) -> Result<()> {
    let items = std::mem::take(batch);
    // (source, (device, seq, readings) when decoded), kept for the acknowledgements.
    type Meta = (String, Option<(String, u64, u64)>);
    let meta: Vec<Meta> = items
        .iter()
        .map(|i| {
            (
                i.source.clone(),
                i.parsed
                    .as_ref()
                    .ok()
                    .map(|u| (u.body.device.clone(), u.body.seq, u.reading_count() as u64)),
            )
        })
        .collect();
    let outcomes = park
        .ingest(items, now.unwrap_or_else(util::now))
        .context("logging a batch (nothing of this batch was acknowledged)")?;
    let mut out = String::new();
    for ((source, m), o) in meta.iter().zip(&outcomes) {
        summary.records += 1;
        let (device, seq, readings) = match m {
            Some((d, s, r)) => (d.as_str(), s.to_string(), *r),
            None => ("-", "-".to_string(), 0),
        };
        let line = match o {
            Outcome::Accepted { index, issues } => {
                summary.accepted += 1;
                summary.readings += readings;
                summary.issues += issues.len() as u64;
                format!("accepted {source} {device} {seq} {index}")
            }
            Outcome::Duplicate { index } => {
                summary.duplicate += 1;
                format!("duplicate {source} {device} {seq} {index}")
            }
            Outcome::Rejected(r) => {
                summary.rejected += 1;
                summary
                    .by_code
                    .entry(r.code.code().to_string())
                    .or_insert_with(|| (0, r.message.clone()))
                    .0 += 1;
                format!("rejected {source} {device} {seq} {}", r.code)
            }
        };
        if acks.0.is_some() {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if let Some(w) = acks.0.as_mut() {
        w.write_all(out.as_bytes())
            .context("writing acknowledgements")?;
        w.flush().context("writing acknowledgements")?;
    }
    Ok(())
}

/// Ingests records made in-process (e.g. signed by `tanji import`) in durable batches.
pub fn ingest_incoming(
    park: &mut Park,
    items: Vec<Incoming>,
    batch_size: usize,
    now: Option<i64>,
    acks: Option<&Path>,
) -> Result<Summary> {
    let started = std::time::Instant::now();
    let mut acks = AckWriter::open(acks)?;
    let mut summary = Summary::default();
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let mut batch: Vec<Incoming> = items.by_ref().take(batch_size.max(1)).collect();
        flush(park, &mut batch, now, &mut acks, &mut summary)?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Ingests one file in batches of 1000 with a progress bar over its bytes, validating
/// against the clock.
pub fn ingest_file_with_progress(park: &mut Park, path: &Path) -> Result<Summary> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let pb = util::byte_bar(size, "ingest");
    let summary = ingest_files(
        park,
        std::slice::from_ref(&path.to_path_buf()),
        1000,
        None,
        None,
        &mut |n| pb.inc(n),
    );
    pb.finish_and_clear();
    summary
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
    let summary = ingest_files(
        &mut park,
        &a.files,
        a.batch,
        now,
        a.acks.as_deref(),
        &mut |n| pb.inc(n),
    );
    pb.finish_and_clear();
    let summary = summary?;
    summary.print();
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
