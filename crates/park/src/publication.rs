//! Publications: a computed factor series or an enterprise inputs document made immutable,
//! versioned, signed and logged, so that every emission figure can name the exact series and
//! inputs it used.
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
//! The manifest's method decides the publication's kind ([`PublicationKind`]): a factor series
//! (`tanji-factors/…`, a CSV) or an enterprise inputs document (`tanji-inputs/…`, JSON). This
//! manifest's one parser is `tanji_readings::parse_manifest`, next to the log entry it is
//! logged in; this module opens a logged publication with it ([`read_manifest`],
//! [`open_publication`]), and the read layer ([`crate::view`]) finds publications by kind, so a
//! publication of one kind is never read as the other.
//!
//! The content itself (byte for byte) is stored beside the log as a blob keyed by its SHA-256.
//! Publishing the same content twice returns the existing publication; a new version gets a new
//! id and never changes an old one.

use sha2::{Digest, Sha256};
use tanji_ledger::{leaf_hash, sign_note, Note, NoteVerifier};
use tanji_readings::{
    parse_manifest, LogEntry, Manifest, ManifestError, PublicationKind, KIND_PUBLICATION,
    MANIFEST_HEADER,
};
use tanji_store::{AppendBatch, NewEntry, Store};
use tanji_units::time::format_rfc3339;

use crate::view::PublicationLog;
use crate::{Park, ParkError};

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

impl PublicationRequest {
    /// The request that publishes a factor series `csv` computed by `tanji-factors`, as its
    /// sidecar `meta` describes it, under `name`. Refused when the series no longer hashes to
    /// what its sidecar recorded (it was changed after it was computed).
    pub fn series(
        name: &str,
        csv: &[u8],
        meta: &tanji_factors::SeriesMeta,
        published_at: i64,
    ) -> Result<PublicationRequest, ParkError> {
        let actual = tanji_factors::sha256_hex(csv);
        if actual != meta.content_sha256 {
            return Err(ParkError::Publication(format!(
                "the series hashes to {actual}, its .meta.json says {}: the file was changed after it was computed; compute it again",
                meta.content_sha256
            )));
        }
        let inputs = meta
            .inputs
            .iter()
            .map(|(role, _, h)| {
                let bytes: Option<[u8; 32]> = hex::decode(h).ok().and_then(|b| b.try_into().ok());
                bytes.map(|b| (role.clone(), b)).ok_or_else(|| {
                    ParkError::Publication(format!("input {role}: hash {h:?} is not 64 hex digits"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PublicationRequest {
            name: name.to_string(),
            method: meta.method.clone(),
            content: csv.to_vec(),
            regions: meta.regions.clone(),
            period: meta.period,
            intervals: meta.intervals,
            inputs,
            calibrations: meta.calibrations.clone(),
            published_at,
        })
    }
}

/// A logged publication that does not check. The messages do not repeat the entry's index;
/// the caller names it (`entry 7: …`).
#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    /// The entry's note is not a C2SP signed note.
    #[error("the publication is not a signed note: {reason}")]
    NotANote {
        /// Its log entry.
        index: u64,
        /// Why.
        reason: String,
    },
    /// The manifest does not parse.
    #[error("the publication's manifest: {problem}")]
    Manifest {
        /// Its log entry.
        index: u64,
        /// What is wrong.
        problem: ManifestError,
    },
    /// The note's signature does not verify with the log key.
    #[error("publication {id}: its signature does not verify with the log key {key}: {reason}")]
    Signature {
        /// Publication id.
        id: String,
        /// Its log entry.
        index: u64,
        /// The log key tried.
        key: String,
        /// Why.
        reason: String,
    },
    /// The content is not in the store.
    #[error("publication {id}: its content sha256:{hash} is missing from the store")]
    ContentMissing {
        /// Publication id.
        id: String,
        /// Its log entry.
        index: u64,
        /// The hash the manifest names, hex.
        hash: String,
    },
    /// The stored content differs from what the manifest names.
    #[error(
        "publication {id}: the stored content hashes to sha256:{actual} ({actual_len} bytes), the signed manifest says sha256:{expected} ({expected_len} bytes): the {what} was changed after it was published"
    )]
    ContentChanged {
        /// What the content is: `series` or `inputs document`.
        what: &'static str,
        /// Publication id.
        id: String,
        /// Its log entry.
        index: u64,
        /// SHA-256 of the stored content, hex.
        actual: String,
        /// Its length.
        actual_len: u64,
        /// The manifest's hash, hex.
        expected: String,
        /// The manifest's length.
        expected_len: u64,
    },
    /// An entry the store indexes as a publication does not decode as one.
    #[error("the entry does not decode as a publication")]
    NotAPublication {
        /// Its log entry.
        index: u64,
    },
    /// No publication of the kind has the name asked for.
    #[error(
        "no {} {} in the log; published: {}; publish one with `{}`",
        kind.noun(),
        want.as_ref().map_or_else(|| "at all".to_string(), |w| format!("{w:?}")),
        if published.is_empty() { "none".to_string() } else { published.join(", ") },
        kind.publish_command()
    )]
    NotFound {
        /// The kind asked for.
        kind: PublicationKind,
        /// The id or name asked for (`None`: the latest).
        want: Option<String>,
        /// The ids of that kind in the log.
        published: Vec<String>,
    },
    /// A publication read as a factor series is of another kind.
    #[error("publication {id} is an {kind} publication, not a factor series")]
    NotFactors {
        /// Publication id.
        id: String,
        /// Its log entry.
        index: u64,
        /// Its kind.
        kind: PublicationKind,
    },
    /// A factor publication's content is not UTF-8.
    #[error("{id}: the series is not UTF-8: {error}")]
    SeriesNotUtf8 {
        /// Publication id.
        id: String,
        /// Its log entry.
        index: u64,
        /// Where it is not.
        error: std::str::Utf8Error,
    },
    /// A factor publication's content is not a series CSV.
    #[error("{id}: the series CSV: {error}")]
    SeriesCsv {
        /// Publication id.
        id: String,
        /// Its log entry.
        index: u64,
        /// What is wrong.
        error: tanji_factors::InputError,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tanji_store::StoreError),
}

impl PublicationError {
    /// The log entry the error is about, when it is about one entry.
    pub fn index(&self) -> Option<u64> {
        match self {
            PublicationError::NotANote { index, .. }
            | PublicationError::Manifest { index, .. }
            | PublicationError::Signature { index, .. }
            | PublicationError::ContentMissing { index, .. }
            | PublicationError::ContentChanged { index, .. }
            | PublicationError::NotAPublication { index }
            | PublicationError::NotFactors { index, .. }
            | PublicationError::SeriesNotUtf8 { index, .. }
            | PublicationError::SeriesCsv { index, .. } => Some(*index),
            PublicationError::NotFound { .. } | PublicationError::Store(_) => None,
        }
    }

    /// Whether the message names the publication itself (its id, or what was asked for), so
    /// that a caller need not prefix the entry's index.
    pub fn names_itself(&self) -> bool {
        matches!(
            self,
            PublicationError::NotFound { .. }
                | PublicationError::NotFactors { .. }
                | PublicationError::SeriesNotUtf8 { .. }
                | PublicationError::SeriesCsv { .. }
                | PublicationError::Store(_)
        )
    }
}

/// A logged publication, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// `<name>@v<n>`.
    pub id: String,
    /// What it holds.
    pub kind: PublicationKind,
    /// Leaf index of its log entry.
    pub index: u64,
    /// SHA-256 of the content.
    pub content_hash: [u8; 32],
    /// Content length in bytes.
    pub content_len: u64,
    /// The method named in the manifest.
    pub method: String,
    /// Regions (`regions` line; empty for inputs).
    pub regions: Vec<String>,
    /// `calibration` lines, verbatim.
    pub calibrations: Vec<String>,
    /// The signed note as logged.
    pub note: String,
    /// The manifest lines (the note text).
    pub manifest: String,
}

impl Publication {
    fn new(index: u64, note: &str, m: Manifest) -> Self {
        Publication {
            id: m.id,
            kind: m.kind,
            index,
            content_hash: m.content_hash,
            content_len: m.content_len,
            method: m.method,
            regions: m.regions,
            calibrations: m.calibrations,
            note: note.to_string(),
            manifest: m.text,
        }
    }
}

fn check_word(what: &str, v: &str) -> Result<(), ParkError> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ParkError::Publication(format!(
            "{what} {v:?}: must be non-empty without spaces"
        )));
    }
    Ok(())
}

/// Parses the signed note logged at `index` and its manifest, without checking the signature
/// or the content (see [`open_publication`]): enough to list publications by kind.
pub fn read_manifest(index: u64, note: &str) -> Result<(Note, Manifest), PublicationError> {
    let parsed = Note::parse(note).map_err(|e| PublicationError::NotANote {
        index,
        reason: e.to_string(),
    })?;
    let m = parse_manifest(parsed.text())
        .map_err(|problem| PublicationError::Manifest { index, problem })?;
    Ok((parsed, m))
}

/// Opens the publication logged at `index` with the signed note `note`: checks the signature
/// with the log key, parses the manifest and checks the stored content against its hash and
/// length. Returns the publication and its content.
pub fn open_publication<S: Store>(
    store: &S,
    index: u64,
    note: &str,
    verifier: &NoteVerifier,
) -> Result<(Publication, Vec<u8>), PublicationError> {
    let (parsed, m) = read_manifest(index, note)?;
    parsed
        .verify(std::slice::from_ref(verifier))
        .map_err(|e| PublicationError::Signature {
            id: m.id.clone(),
            index,
            key: verifier.to_string(),
            reason: e.to_string(),
        })?;
    let content = store
        .blob(&m.content_hash)?
        .ok_or_else(|| PublicationError::ContentMissing {
            id: m.id.clone(),
            index,
            hash: hex::encode(m.content_hash),
        })?;
    let actual: [u8; 32] = Sha256::digest(&content).into();
    if actual != m.content_hash || content.len() as u64 != m.content_len {
        return Err(PublicationError::ContentChanged {
            what: m.kind.content_noun(),
            id: m.id,
            index,
            actual: hex::encode(actual),
            actual_len: content.len() as u64,
            expected: hex::encode(m.content_hash),
            expected_len: m.content_len,
        });
    }
    Ok((Publication::new(index, note, m), content))
}

/// A logged publication that does not read: the log contradicts itself (or the store failed).
fn read_error(e: PublicationError) -> ParkError {
    match e {
        PublicationError::Store(e) => ParkError::Store(e),
        e => ParkError::Inconsistent(match e.index() {
            Some(index) => format!("entry {index}: {e}"),
            None => e.to_string(),
        }),
    }
}

impl<S: Store> Park<S> {
    /// Every publication in the log, of both kinds, in log order, each checked against its
    /// content.
    pub fn publications(&self) -> Result<Vec<Publication>, ParkError> {
        let log = PublicationLog::read(&self.store, self.size()).map_err(read_error)?;
        Ok(log
            .open_all(&self.store, &self.verifier())
            .map_err(read_error)?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    }

    /// The publications of one kind, in log order.
    pub fn publications_of(&self, kind: PublicationKind) -> Result<Vec<Publication>, ParkError> {
        Ok(self
            .publications()?
            .into_iter()
            .filter(|p| p.kind == kind)
            .collect())
    }

    /// A publication of `kind` and its content, by id (`name@vN`) or name (its latest
    /// version); `None`: the latest of that kind.
    pub fn publication(
        &self,
        kind: PublicationKind,
        want: Option<&str>,
    ) -> Result<(Publication, Vec<u8>), ParkError> {
        let log = PublicationLog::read(&self.store, self.size()).map_err(read_error)?;
        log.open(&self.store, &self.verifier(), kind, want)
            .map_err(|e| match e {
                e @ PublicationError::NotFound { .. } => ParkError::Publication(e.to_string()),
                e => read_error(e),
            })
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
        let kind = PublicationKind::of_method(&req.method)
            .map_err(|e| ParkError::Publication(e.to_string()))?;
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
        if let Some(p) = existing
            .iter()
            .find(|p| p.kind == kind && p.content_hash == content_hash)
        {
            return Ok(p.clone());
        }
        // Versions count across both kinds, so that an id names one publication.
        let version = existing
            .iter()
            .filter(|p| p.id.split('@').next() == Some(req.name.as_str()))
            .count()
            + 1;
        let id = format!("{}@v{version}", req.name);
        // A manifest names an instant RFC 3339 cannot write by its Unix seconds.
        let rfc3339 = |t: i64| format_rfc3339(t).unwrap_or_else(|| t.to_string());
        let mut text = format!(
            "{MANIFEST_HEADER}\nid {id}\nmethod {}\ncontent sha256:{} {}\nregions {}\nperiod {} {}\nintervals {}\n",
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
            kind,
            index,
            content_hash,
            content_len: req.content.len() as u64,
            method: req.method.clone(),
            regions: req.regions.clone(),
            calibrations: req.calibrations.clone(),
            note,
            manifest: text,
        })
    }
}
