//! Ingest of JSON-lines files of signed uploads (and of records made in-process) in durable
//! batches: each batch is logged by [`Park::ingest`], then acknowledged line by line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use tanji_readings::parse_json_upload;

use crate::{Clock, Incoming, Outcome, Park, ParkError, SystemClock};

/// Totals of an ingest run.
#[derive(Debug, Default, Clone)]
pub struct IngestSummary {
    /// Records offered.
    pub records: u64,
    /// Records logged.
    pub accepted: u64,
    /// Records already in the log.
    pub duplicate: u64,
    /// Records refused (kept in the quarantine).
    pub rejected: u64,
    /// Readings in the accepted records.
    pub readings: u64,
    /// Data issues noted on accepted records.
    pub issues: u64,
    /// Rejections by code: how many, and the first one's message.
    pub by_code: BTreeMap<String, (u64, String)>,
    /// Seconds, end to end.
    pub seconds: f64,
}

/// Where acknowledgements go: nowhere, stdout (`-`) or appended to a file.
struct AckWriter(Option<(String, Box<dyn Write>)>);

impl AckWriter {
    fn open(path: Option<&Path>) -> Result<Self, ParkError> {
        Ok(AckWriter(match path {
            None => None,
            Some(p) if p == Path::new("-") => Some(("-".into(), Box::new(std::io::stdout()))),
            Some(p) => Some((
                p.display().to_string(),
                Box::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .map_err(|e| io(p, e))?,
                ),
            )),
        }))
    }
}

fn io(path: &Path, source: std::io::Error) -> ParkError {
    ParkError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// How much of a file's start [`check_json_lines`] reads to find its first record.
const SNIFF_BYTES: u64 = 1 << 20;

/// Refuses a file that is not JSON lines before anything of it is ingested: its first
/// non-blank line must be a JSON object (a signed upload, as `tanji simulate` writes). An
/// HTML page, a CSV file or a pretty-printed JSON document is refused whole, so that nothing
/// of it reaches the quarantine.
pub fn check_json_lines(path: &Path) -> Result<(), ParkError> {
    let f = File::open(path).map_err(|e| io(path, e))?;
    let mut head = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(f, SNIFF_BYTES), &mut head)
        .map_err(|e| io(path, e))?;
    let refuse = |line: usize, why: &str| ParkError::NotJsonLines {
        path: path.display().to_string(),
        line,
        why: why.to_string(),
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

impl Park {
    /// Ingests JSON-lines `files` in batches of `batch_size`, validating against `now` (the
    /// system clock when `None`), appending acknowledgements to `acks` (`-`: stdout) and
    /// calling `progress(bytes)` as input is consumed. Every file is checked to be JSON lines
    /// first ([`check_json_lines`]); one that is not is refused before anything is ingested.
    pub fn ingest_files(
        &mut self,
        files: &[PathBuf],
        batch_size: usize,
        now: Option<i64>,
        acks: Option<&Path>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<IngestSummary, ParkError> {
        let started = std::time::Instant::now();
        let mut acks = AckWriter::open(acks)?;
        let mut summary = IngestSummary::default();
        let batch_size = batch_size.max(1);
        for path in files {
            check_json_lines(path)?;
        }
        for path in files {
            let f = File::open(path).map_err(|e| io(path, e))?;
            let mut reader = BufReader::with_capacity(1 << 20, f);
            let name = path.display().to_string();
            let mut line_no = 0u64;
            let mut batch: Vec<Incoming> = Vec::with_capacity(batch_size);
            let mut buf = String::new();
            loop {
                buf.clear();
                let n = reader.read_line(&mut buf).map_err(|e| ParkError::Io {
                    path: format!("{name} after line {line_no}"),
                    source: e,
                })?;
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
                    self.flush(&mut batch, now, &mut acks, &mut summary)?;
                }
                if n == 0 {
                    break;
                }
            }
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// Ingests records made in-process (e.g. signed by `tanji import`) in durable batches of
    /// `batch_size`, as [`Park::ingest_files`] does.
    pub fn ingest_batches(
        &mut self,
        items: Vec<Incoming>,
        batch_size: usize,
        now: Option<i64>,
        acks: Option<&Path>,
    ) -> Result<IngestSummary, ParkError> {
        let started = std::time::Instant::now();
        let mut acks = AckWriter::open(acks)?;
        let mut summary = IngestSummary::default();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut batch: Vec<Incoming> = items.by_ref().take(batch_size.max(1)).collect();
            self.flush(&mut batch, now, &mut acks, &mut summary)?;
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    fn flush(
        &mut self,
        batch: &mut Vec<Incoming>,
        now: Option<i64>,
        acks: &mut AckWriter,
        summary: &mut IngestSummary,
    ) -> Result<(), ParkError> {
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
        let outcomes = self
            .ingest(items, now.unwrap_or_else(|| SystemClock.now_s()))
            .map_err(|e| ParkError::Batch(Box::new(e)))?;
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
        if let Some((path, w)) = acks.0.as_mut() {
            let written = w.write_all(out.as_bytes()).and_then(|()| w.flush());
            written.map_err(|e| ParkError::Io {
                path: format!("writing acknowledgements to {path}"),
                source: e,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn json_lines_pass_and_other_files_are_refused_whole() {
        check_json_lines(file("\n{\"a\": 1}\nnot json\n").path()).unwrap();
        check_json_lines(file("").path()).unwrap();
        for (text, line, starts) in [
            ("<html>\n", 1, "is not a JSON object (it starts \"<html>\")"),
            (
                "\n\n[1, 2]\n",
                3,
                "is not a JSON object (it starts \"[1, 2]\")",
            ),
            (
                "{\n  \"a\": 1\n}\n",
                1,
                "is not a JSON object (it starts \"{\")",
            ),
        ] {
            match check_json_lines(file(text).path()) {
                Err(ParkError::NotJsonLines { line: l, why, .. }) => {
                    assert_eq!((l, why.as_str()), (line, starts), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
        let bad_utf8 = {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            f.write_all(b"{}\n\xff\xfe\n").unwrap();
            f
        };
        assert!(matches!(
            check_json_lines(bad_utf8.path()),
            Err(ParkError::NotJsonLines { line: 2, .. })
        ));
    }
}
