//! Grid-factor publications: a computed factor series made immutable, versioned, signed and
//! logged, so that every emission figure can name the exact series it used.
//!
//! A publication is a log entry of kind `0x03` holding a C2SP signed note, signed by the park's
//! log key, whose text is a manifest (one `key value` per line):
//!
//! ```text
//! tanji factor publication v1
//! id CN-FJ-synthetic-2025@v1
//! method tanji-factors/flow-tracing-v1
//! content sha256:<64 hex> <bytes>
//! regions CN-FJ-synthetic
//! period 2025-01-01T00:00:00Z 2026-01-01T00:00:00Z
//! intervals 8760
//! input generation sha256:<64 hex>
//! calibration CN-FJ-synthetic target=0.4092 before=0.4210 scale=0.971971
//! published 2026-11-29T04:30:00Z
//! ```
//!
//! The series itself (the factors CSV, byte for byte) is stored beside the log as a blob keyed
//! by its SHA-256. Publishing the same content twice returns the existing publication; a new
//! version gets a new id and never changes an old one.

use sha2::{Digest, Sha256};
use tanji_ledger::{leaf_hash, sign_note, Note, NoteVerifier};
use tanji_readings::{LogEntry, KIND_PUBLICATION};
use tanji_store::{AppendBatch, NewEntry, Store};

use crate::{Park, ParkError};

const HEADER: &str = "tanji factor publication v1";

/// What to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicationRequest {
    /// Series name; the id becomes `<name>@v<n>`. Letters, digits, '-', '_', '.'.
    pub name: String,
    /// The computation method and version that produced the content.
    pub method: String,
    /// The series (factors CSV), exactly as it will be served and hashed.
    pub content: Vec<u8>,
    /// Regions in the series.
    pub regions: Vec<String>,
    /// First interval start and last interval end, Unix seconds.
    pub period: (i64, i64),
    /// Number of intervals per region.
    pub intervals: u64,
    /// Inputs: (role, SHA-256 of the input file), e.g. ("generation", …).
    pub inputs: Vec<(String, [u8; 32])>,
    /// Calibrations applied, one line each (free text without newlines).
    pub calibrations: Vec<String>,
    /// When it is published, Unix seconds.
    pub published_at: i64,
}

/// A logged publication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// `<name>@v<n>`.
    pub id: String,
    /// Leaf index of its log entry.
    pub index: u64,
    /// SHA-256 of the content.
    pub content_hash: [u8; 32],
    /// Content length in bytes.
    pub content_len: u64,
    /// The method named in the manifest.
    pub method: String,
    /// The signed note as logged.
    pub note: String,
    /// The manifest lines (the note text).
    pub manifest: String,
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

fn check_word(what: &str, v: &str) -> Result<(), ParkError> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ParkError::Publication(format!(
            "{what} {v:?}: must be non-empty without spaces"
        )));
    }
    Ok(())
}

/// Reads a manifest: (id, method, content hash, content length).
fn parse_manifest(text: &str) -> Result<(String, String, [u8; 32], u64), String> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(format!("the manifest does not start with {HEADER:?}"));
    }
    let (mut id, mut method, mut content) = (None, None, None);
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "id" => id = Some(value.to_string()),
            "method" => method = Some(value.to_string()),
            "content" => {
                let (h, len) = value.split_once(' ').ok_or_else(|| {
                    format!("content line {value:?}: expected sha256:<hex> <bytes>")
                })?;
                let hex_part = h
                    .strip_prefix("sha256:")
                    .ok_or_else(|| format!("content hash {h:?}: expected sha256:<hex>"))?;
                let hash: [u8; 32] = hex::decode(hex_part)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| format!("content hash {h:?} is not 64 hex digits"))?;
                let len = len
                    .parse::<u64>()
                    .map_err(|_| format!("content length {len:?} is not a number"))?;
                content = Some((hash, len));
            }
            _ => {}
        }
    }
    let id = id.ok_or("the manifest has no id line")?;
    let method = method.ok_or("the manifest has no method line")?;
    let (hash, len) = content.ok_or("the manifest has no content line")?;
    Ok((id, method, hash, len))
}

/// Checks a logged publication note against the log key and the stored content.
pub(crate) fn check_publication<S: Store>(
    store: &S,
    index: u64,
    note: &str,
    verifier: &NoteVerifier,
) -> Result<Publication, String> {
    let parsed = Note::parse(note).map_err(|e| format!("not a signed note: {e}"))?;
    parsed
        .verify(std::slice::from_ref(verifier))
        .map_err(|e| format!("its signature does not verify with the log key: {e}"))?;
    let (id, method, content_hash, content_len) = parse_manifest(parsed.text())?;
    let content = store
        .blob(&content_hash)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "publication {id}: its content sha256:{} is missing from the store",
                hex::encode(content_hash)
            )
        })?;
    let actual: [u8; 32] = Sha256::digest(&content).into();
    if actual != content_hash || content.len() as u64 != content_len {
        return Err(format!(
            "publication {id}: the stored content hashes to sha256:{} ({} bytes), the signed manifest says sha256:{} ({content_len} bytes): the series was changed after it was published",
            hex::encode(actual),
            content.len(),
            hex::encode(content_hash)
        ));
    }
    Ok(Publication {
        id,
        index,
        content_hash,
        content_len,
        method,
        note: note.to_string(),
        manifest: parsed.text().to_string(),
    })
}

impl<S: Store> Park<S> {
    /// Every publication in the log, in log order, each checked against its content.
    pub fn publications(&self) -> Result<Vec<Publication>, ParkError> {
        let verifier = self.verifier();
        let mut out = Vec::new();
        for index in self.store.entries_of_kind(KIND_PUBLICATION)? {
            let data = self.store.entry(index)?;
            let note = match LogEntry::from_bytes(&data) {
                Ok(LogEntry::Publication(n)) => n,
                _ => {
                    return Err(ParkError::Inconsistent(format!(
                        "entry {index} is marked as a publication but does not decode as one"
                    )))
                }
            };
            out.push(
                check_publication(&self.store, index, &note, &verifier)
                    .map_err(|e| ParkError::Inconsistent(format!("entry {index}: {e}")))?,
            );
        }
        Ok(out)
    }

    /// A publication and its content, by id (`name@vN`), or the latest version of a name.
    pub fn publication(&self, id: &str) -> Result<(Publication, Vec<u8>), ParkError> {
        let all = self.publications()?;
        let found = all
            .iter()
            .rev()
            .find(|p| p.id == id || p.id.split('@').next() == Some(id))
            .cloned()
            .ok_or_else(|| {
                ParkError::Publication(format!(
                    "no publication {id:?} in this park; published: {}",
                    if all.is_empty() {
                        "none".to_string()
                    } else {
                        all.iter()
                            .map(|p| p.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            })?;
        let content = self.store.blob(&found.content_hash)?.ok_or_else(|| {
            ParkError::Inconsistent(format!("publication {}: content missing", found.id))
        })?;
        Ok((found, content))
    }

    /// Publishes a series: signs its manifest with the log key and logs it, with the content,
    /// in one durable transaction. Publishing content that is already published returns the
    /// existing publication unchanged.
    pub fn publish(&mut self, req: &PublicationRequest) -> Result<Publication, ParkError> {
        crate::check_park_name(&req.name).map_err(|_| {
            ParkError::Publication(format!(
                "series name {:?}: use letters, digits, '-', '_' or '.'",
                req.name
            ))
        })?;
        check_word("method", &req.method)?;
        for r in &req.regions {
            check_word("region", r)?;
        }
        for (role, _) in &req.inputs {
            check_word("input role", role)?;
        }
        for c in &req.calibrations {
            if c.contains('\n') || c.chars().any(char::is_control) {
                return Err(ParkError::Publication(format!(
                    "calibration line {c:?} has control characters"
                )));
            }
        }
        let content_hash: [u8; 32] = Sha256::digest(&req.content).into();
        let existing = self.publications()?;
        if let Some(p) = existing.iter().find(|p| p.content_hash == content_hash) {
            return Ok(p.clone());
        }
        let version = existing
            .iter()
            .filter(|p| p.id.split('@').next() == Some(req.name.as_str()))
            .count()
            + 1;
        let id = format!("{}@v{version}", req.name);
        let mut text = format!(
            "{HEADER}\nid {id}\nmethod {}\ncontent sha256:{} {}\nregions {}\nperiod {} {}\nintervals {}\n",
            req.method,
            hex::encode(content_hash),
            req.content.len(),
            req.regions.join(","),
            rfc3339(req.period.0),
            rfc3339(req.period.1),
            req.intervals
        );
        for (role, h) in &req.inputs {
            text.push_str(&format!("input {role} sha256:{}\n", hex::encode(h)));
        }
        for c in &req.calibrations {
            text.push_str(&format!("calibration {c}\n"));
        }
        text.push_str(&format!("published {}\n", rfc3339(req.published_at)));
        let note = sign_note(&text, &[&self.signer])
            .map_err(|e| ParkError::Publication(format!("signing the manifest: {e}")))?;
        let data = LogEntry::Publication(note.clone()).to_bytes();
        let mut frontier = self.frontier.clone();
        let index = frontier.size();
        let mut batch = AppendBatch::default();
        frontier.append(leaf_hash(&data), &mut batch.nodes);
        batch.entries.push(NewEntry {
            kind: KIND_PUBLICATION,
            data,
            upload: None,
        });
        batch.blobs.push((content_hash, req.content.clone()));
        self.commit(batch, frontier)?;
        Ok(Publication {
            id,
            index,
            content_hash,
            content_len: req.content.len() as u64,
            method: req.method.clone(),
            note,
            manifest: text,
        })
    }
}
