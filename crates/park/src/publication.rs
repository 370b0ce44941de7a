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
//! module is the one place that parses a manifest and decides its kind
//! ([`parse_manifest`], [`open_publication`]); the report and the dashboard read publications
//! through it, so a publication of one kind is never read as the other.
//!
//! The content itself (byte for byte) is stored beside the log as a blob keyed by its SHA-256.
//! Publishing the same content twice returns the existing publication; a new version gets a new
//! id and never changes an old one.

use sha2::{Digest, Sha256};
use tanji_ledger::{leaf_hash, sign_note, Note, NoteVerifier};
use tanji_readings::{LogEntry, KIND_PUBLICATION};
use tanji_store::{AppendBatch, NewEntry, Store};
use tanji_units::time::format_rfc3339;

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

/// What a publication holds, decided by its manifest's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PublicationKind {
    /// A grid-factor series (the factors CSV); method `tanji-factors/…`.
    Factors,
    /// An enterprise inputs document (JSON: certificates, purchases, output, products); method
    /// `tanji-inputs/…`.
    Inputs,
}

impl PublicationKind {
    /// The method prefix of factor series.
    pub const FACTORS_METHOD_PREFIX: &'static str = "tanji-factors/";
    /// The method prefix of enterprise inputs documents.
    pub const INPUTS_METHOD_PREFIX: &'static str = "tanji-inputs/";

    /// The kind a manifest's method names.
    pub fn of_method(method: &str) -> Result<Self, ManifestError> {
        if method.starts_with(Self::FACTORS_METHOD_PREFIX) {
            Ok(PublicationKind::Factors)
        } else if method.starts_with(Self::INPUTS_METHOD_PREFIX) {
            Ok(PublicationKind::Inputs)
        } else {
            Err(ManifestError::UnknownMethod {
                method: method.to_string(),
            })
        }
    }

    /// `factor publication` or `inputs publication`, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            PublicationKind::Factors => "factor publication",
            PublicationKind::Inputs => "inputs publication",
        }
    }

    /// What the content of this kind is: `series` or `inputs document`.
    pub fn content_noun(self) -> &'static str {
        match self {
            PublicationKind::Factors => "series",
            PublicationKind::Inputs => "inputs document",
        }
    }

    /// The command that publishes one of this kind.
    pub fn publish_command(self) -> &'static str {
        match self {
            PublicationKind::Factors => "tanji factors publish",
            PublicationKind::Inputs => "tanji inputs publish",
        }
    }
}

impl std::fmt::Display for PublicationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PublicationKind::Factors => "factors",
            PublicationKind::Inputs => "inputs",
        })
    }
}

/// A manifest that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The first line is not the manifest header.
    #[error("the manifest starts with {found:?}, not {HEADER:?}")]
    Header {
        /// The first line found.
        found: String,
    },
    /// A required line is missing.
    #[error("the manifest has no `{key}` line")]
    Missing {
        /// The key of the missing line.
        key: &'static str,
    },
    /// The content line is malformed.
    #[error("content line {value:?}: expected `sha256:<64 hex digits> <length in bytes>`")]
    Content {
        /// The line's value.
        value: String,
    },
    /// The method names neither kind.
    #[error(
        "method {method:?} names neither a factor series (tanji-factors/…) nor enterprise inputs (tanji-inputs/…)"
    )]
    UnknownMethod {
        /// The method found.
        method: String,
    },
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
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tanji_store::StoreError),
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// What the publication holds, from its method.
    pub kind: PublicationKind,
    /// `<name>@v<n>`.
    pub id: String,
    /// The method named in the manifest.
    pub method: String,
    /// SHA-256 of the content.
    pub content_hash: [u8; 32],
    /// Content length in bytes.
    pub content_len: u64,
    /// Regions (`regions` line; empty for inputs).
    pub regions: Vec<String>,
    /// `calibration` lines, verbatim.
    pub calibrations: Vec<String>,
    /// The manifest's text.
    pub text: String,
}

impl Manifest {
    /// Whether `want` names this publication: its id (`name@vN`) or its name.
    pub fn is_named(&self, want: &str) -> bool {
        is_named(&self.id, want)
    }
}

/// Whether `want` names the publication `id`: the id itself (`name@vN`) or its name.
pub fn is_named(id: &str, want: &str) -> bool {
    id == want || id.split('@').next() == Some(want)
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

fn parse_content(value: &str) -> Option<([u8; 32], u64)> {
    let (h, len) = value.split_once(' ')?;
    let hash: [u8; 32] = hex::decode(h.strip_prefix("sha256:")?)
        .ok()?
        .try_into()
        .ok()?;
    Some((hash, len.parse().ok()?))
}

/// Parses a manifest (the text of a publication's signed note) and decides its kind.
pub fn parse_manifest(text: &str) -> Result<Manifest, ManifestError> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    if first != HEADER {
        return Err(ManifestError::Header {
            found: first.to_string(),
        });
    }
    let (mut id, mut method, mut content) = (None, None, None);
    let (mut regions, mut calibrations) = (Vec::new(), Vec::new());
    for line in lines {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "id" => id = Some(value.to_string()),
            "method" => method = Some(value.to_string()),
            "regions" if !value.is_empty() => {
                regions = value.split(',').map(str::to_string).collect();
            }
            "calibration" => calibrations.push(value.to_string()),
            "content" => {
                content = Some(parse_content(value).ok_or_else(|| ManifestError::Content {
                    value: value.to_string(),
                })?);
            }
            _ => {}
        }
    }
    let id = id.ok_or(ManifestError::Missing { key: "id" })?;
    let method = method.ok_or(ManifestError::Missing { key: "method" })?;
    let (content_hash, content_len) = content.ok_or(ManifestError::Missing { key: "content" })?;
    Ok(Manifest {
        kind: PublicationKind::of_method(&method)?,
        id,
        method,
        content_hash,
        content_len,
        regions,
        calibrations,
        text: text.to_string(),
    })
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

impl<S: Store> Park<S> {
    /// Every publication in the log, of both kinds, in log order, each checked against its
    /// content.
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
            let (p, _) = open_publication(&self.store, index, &note, &verifier)
                .map_err(|e| ParkError::Inconsistent(format!("entry {index}: {e}")))?;
            out.push(p);
        }
        Ok(out)
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
        let all = self.publications_of(kind)?;
        let found = all
            .iter()
            .rev()
            .find(|p| want.is_none_or(|w| is_named(&p.id, w)))
            .cloned()
            .ok_or_else(|| {
                ParkError::Publication(format!(
                    "no {} {} in this park; published: {}; publish one with `{}`",
                    kind.noun(),
                    want.map_or_else(|| "at all".to_string(), |w| format!("{w:?}")),
                    if all.is_empty() {
                        "none".to_string()
                    } else {
                        all.iter()
                            .map(|p| p.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    kind.publish_command()
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
