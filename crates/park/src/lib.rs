//! tanji-park: one industrial park's ledger — the layer that turns device input into logged,
//! checkpointed, provable entries.
//!
//! A park lives in a data directory: `park.db` (the [`Store`]) and `log.key` (the log's Ed25519
//! signing key, owner-readable only). [`Park`] validates uploads with `tanji-readings`, appends
//! accepted ones to the Merkle log with `tanji-ledger`, signs a C2SP checkpoint for every batch,
//! and writes each batch atomically; rejected input goes to the quarantine in the same
//! transaction. Nothing is acknowledged before it is durable. [`Park::audit`] re-checks all of
//! it from the stored bytes alone.
//!
//! [`view`] is the read layer: the one place that turns the store and the log key into typed
//! things (registrations, publications by kind, logged channels as series), which reports, the
//! server and the CLI use instead of decoding entries themselves.
//!
//! What it is not: it does no networking and reads no files of input (the CLI and the server
//! do); it never edits or deletes a logged entry.

mod audit;
mod backend;
mod clock;
mod cosigned;
mod demo;
mod export;
mod files;
mod history;
pub mod keys;
mod lock;
mod publication;
mod quarantine;
mod request;
mod seal;
mod state;
pub mod view;

pub use history::located as located_import_error;

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tanji_ledger::{
    consistency_proof, inclusion_proof, leaf_hash, root, sign_checkpoint, Checkpoint, Frontier,
    Hash, NoteSigner, NoteVerifier,
};
use tanji_readings::{
    validate_checked, DataIssue, DataIssueKind, DecodeError, DeviceRegistration, DeviceRevocation,
    LogEntry, Policy, RejectCode, Rejection, SignatureChecked, SignedUpload, Verdict,
    KIND_REGISTRATION, KIND_REVOCATION, KIND_UPLOAD,
};
use tanji_store::{
    AnyStore, AppendBatch, ChannelRow, NewEntry, QuarantineListing, QuarantineSummary, Quarantined,
    Span, Store, StoreAt, StoreError, StoreExt, StoredIssue, UploadRow,
};

pub use audit::{AuditFinding, AuditOptions, AuditReport};
pub use backend::{
    advertise_url, check_store_url, holder_url, lease_holder, store_at, COMMAND_LEASE_TTL,
    STORE_FILE,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cosigned::{
    check_witnesses, checkpoint_at, latest_size, with_cosignatures, witness_id, WitnessCheck,
};
pub use export::{check_tiles, ExportSummary, TilesCheck};
pub use files::{check_json_lines, IngestSummary};
pub use lock::{Holder, WriterLock, LOCK_FILE};
pub use publication::{
    open_publication, read_manifest, Publication, PublicationError, PublicationRequest,
};
pub use request::{default_unit, RegistrationRequest, RequestError};
pub use seal::{Chain, Seal};
use state::{spans_of, Accepted, State};
pub use state::{RegistrationError, RevocationError};
pub use tanji_readings::{is_named, parse_manifest, Manifest, ManifestError, PublicationKind};

/// The store file inside a park directory.
pub const DB_FILE: &str = "park.db";
/// The log signing key file inside a park directory.
pub const KEY_FILE: &str = "log.key";

/// What went wrong with a park.
#[derive(Debug, thiserror::Error)]
pub enum ParkError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A key file is unreadable.
    #[error("key file {path}: {message}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A registration was refused.
    #[error(transparent)]
    Registration(#[from] RegistrationError),
    /// A revocation was refused.
    #[error(transparent)]
    Revocation(#[from] RevocationError),
    /// The directory is not a park, or is one already.
    #[error("{0}")]
    Directory(String),
    /// Imported history was refused (a meter not registered to the import device, a bad row).
    #[error("{0}")]
    History(String),
    /// A proof or tree request does not fit the log.
    #[error("{0}")]
    Tree(String),
    /// A factor publication was refused or not found.
    #[error("{0}")]
    Publication(String),
    /// The stored log contradicts itself (run `tanji verify` for the full audit).
    #[error("the stored log is inconsistent: {0}; run `tanji verify` for a full audit")]
    Inconsistent(String),
    /// A witness cosignature is unusable (not by a configured witness, or does not verify).
    #[error("{0}")]
    Witness(String),
    /// Another instance holds the writer lease of the park (on PostgreSQL).
    #[error("park {park} is written by {holder}, which holds its writer lease; one instance writes to a park at a time: stop it, or wait until its lease expires")]
    Leased {
        /// The park.
        park: String,
        /// The lease holder.
        holder: String,
    },
    /// Another process has the park open for writing (see [`WriterLock`]).
    #[error("the park in {dir} is open for writing by {holder}; one process writes to a park at a time: while `tanji serve` runs, register or revoke devices through its API (POST /api/v1/devices, POST /api/v1/devices/{{device}}/revoke), or stop the server first")]
    Locked {
        /// The park directory.
        dir: String,
        /// Who holds the lock, as its lock file says.
        holder: Holder,
    },
    /// A file offered for ingest is not JSON lines (nothing of it was ingested).
    #[error("{path}: line {line} {why}; tanji ingest takes JSON lines, one signed upload object per line (as `tanji simulate` writes them); nothing of this file was ingested")]
    NotJsonLines {
        /// The file.
        path: String,
        /// The first non-blank line, counted from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// A batch could not be logged; none of it was acknowledged.
    #[error("logging a batch (nothing of this batch was acknowledged): {0}")]
    Batch(#[source] Box<ParkError>),
    /// A write was asked of a park opened read-only ([`Park::open_read`]).
    #[error("the park in {0} was opened read-only; open it with `Park::open` to write")]
    ReadOnly(String),
}

/// One upload offered for ingest.
#[derive(Debug)]
pub struct Incoming {
    /// Where it came from, for messages and the quarantine ("uploads.jsonl:17").
    pub source: String,
    /// The bytes as received (kept in the quarantine if rejected).
    pub raw: Vec<u8>,
    /// The decoded upload, or why it could not be decoded.
    pub parsed: Result<SignedUpload, DecodeError>,
    /// Its signature, if already checked (by a server's request handlers, in parallel, with
    /// the key registered when it arrived): validation then verifies it only if the device's
    /// key has changed since.
    pub checked: Option<SignatureChecked>,
}

impl Incoming {
    /// Its quarantine row for `rejection`: the first `raw_prefix` bytes as received and their
    /// full length, and the device and sequence number when it decoded (a sequence number
    /// beyond the store's range is not kept).
    fn quarantined(
        &self,
        received_at: i64,
        rejection: &Rejection,
        raw_prefix: usize,
    ) -> Quarantined {
        let (device, seq) = match &self.parsed {
            Ok(u) => (
                Some(u.body.device.clone()),
                Some(u.body.seq).filter(|s| i64::try_from(*s).is_ok()),
            ),
            Err(_) => (None, None),
        };
        Quarantined {
            received_at,
            source: self.source.clone(),
            code: rejection.code.code().to_string(),
            message: rejection.message.clone(),
            device,
            seq,
            raw: self.raw[..self.raw.len().min(raw_prefix)].to_vec(),
            raw_len: self.raw.len() as u64,
        }
    }
}

/// The answer for one upload. Given only after the batch is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Logged at `index`.
    Accepted {
        /// Leaf index in the park log.
        index: u64,
        /// Data issues noted (accepted anyway).
        issues: Vec<DataIssue>,
    },
    /// The same record was logged before, at `index`; not logged again.
    Duplicate {
        /// Leaf index of the earlier copy.
        index: u64,
    },
    /// Refused and kept in the quarantine.
    Rejected(Rejection),
}

/// What a registration call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisterSummary {
    /// Leaf indices of new registrations.
    pub logged: Vec<u64>,
    /// Registrations identical to ones already logged (nothing written).
    pub already: usize,
}

/// What a revocation call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// Logged now at this leaf index.
    Logged(u64),
    /// The device was already revoked by the entry at this leaf index; nothing was written.
    Already(u64),
}

/// An inclusion proof with what is needed to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Leaf index.
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// The leaf hash (RFC 6962).
    pub leaf_hash: Hash,
    /// Root of the tree at `size`.
    pub root: Hash,
    /// The audit path.
    pub proof: Vec<Hash>,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// Root at `from`.
    pub from_root: Hash,
    /// Root at `to`.
    pub to_root: Hash,
    /// The proof.
    pub proof: Vec<Hash>,
}

/// How a park was opened: whether it may write, and the lock that makes it the one writer.
#[derive(Debug)]
enum Access {
    /// Over a store given by the caller ([`Park::from_store`]), who answers for its writers.
    Store,
    /// Opened from its directory for writing: holds the directory's writer lock.
    Writer(WriterLock),
    /// Opened from its directory to read only ([`Park::open_read`]): every write is refused.
    ReadOnly(PathBuf),
}

/// The bounds of the quarantine. Beyond them the oldest rows are summarised (one row per
/// source and rejection code: count, bytes, first and last time) — never silently dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineLimits {
    /// Bytes of a refused record kept (its length and the rest of its row are always kept).
    pub raw_prefix: usize,
    /// Rows kept one by one per source (a file, or a network peer).
    pub rows_per_source: u64,
    /// Seconds a row is kept one by one (0 = no age bound).
    pub max_age_s: i64,
    /// Bytes all kept rows may take (`seal::row_bytes`: raw prefix, message, source and 64).
    pub max_bytes: u64,
}

impl Default for QuarantineLimits {
    /// 1 KiB of each record (enough for the device, sequence number and first fields of an
    /// upload, which is what identifies it; its length is kept), 1,000 rows per source,
    /// 30 days, 64 MiB in all.
    fn default() -> Self {
        QuarantineLimits {
            raw_prefix: 1024,
            rows_per_source: 1000,
            max_age_s: 30 * 86_400,
            max_bytes: 64 << 20,
        }
    }
}

/// A park: its store, its log key and the in-memory state rebuilt from the log.
pub struct Park<S: Store = AnyStore> {
    store: S,
    signer: NoteSigner,
    origin: String,
    frontier: Frontier,
    state: State,
    access: Access,
    /// What the store's sealed tables hold now, as last signed.
    seal: Seal,
    /// The bytes the kept quarantine rows take ([`seal::row_bytes`]).
    quarantine_bytes: u64,
    limits: QuarantineLimits,
    /// The checkpoint this park last committed (the store's latest: it is the only writer),
    /// kept so that answering a batch does not read it back.
    last_checkpoint: Option<String>,
}

impl<S: Store> std::fmt::Debug for Park<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Park")
            .field("origin", &self.origin)
            .field("size", &self.frontier.size())
            .finish()
    }
}

/// Park names: what `tanji init --park` accepts.
fn check_park_name(name: &str) -> Result<(), ParkError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ParkError::Directory(format!(
            "park name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

impl Park<AnyStore> {
    /// Creates a park in `dir` (which must not hold one): a new log key, an empty log and its
    /// first checkpoint, in a SQLite store in `dir`. The origin defaults to `tanji/<name>`.
    pub fn create(dir: &Path, name: &str, origin: Option<&str>) -> Result<Self, ParkError> {
        Self::create_on(dir, name, origin, None)
    }

    /// [`Park::create`], with the data in park `name` of the PostgreSQL database at `url`
    /// (`postgres://…[?schema=NAME]`) when given: `dir` then holds the log key and the
    /// `store` file naming it.
    pub fn create_on(
        dir: &Path,
        name: &str,
        origin: Option<&str>,
        url: Option<&str>,
    ) -> Result<Self, ParkError> {
        check_park_name(name)?;
        let at = match url {
            None => StoreAt::Sqlite(dir.join(DB_FILE)),
            Some(url) => StoreAt::Postgres {
                at: check_store_url(url)?,
                park: name.to_string(),
            },
        };
        let origin = origin.map_or_else(|| format!("tanji/{name}"), str::to_string);
        std::fs::create_dir_all(dir).map_err(|e| ParkError::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        let lock = WriterLock::acquire(dir)?;
        let db = dir.join(DB_FILE);
        let key_path = dir.join(KEY_FILE);
        let store_file = dir.join(STORE_FILE);
        if db.exists() || key_path.exists() || store_file.exists() {
            return Err(ParkError::Directory(format!(
                "{} already holds a park; use another --dir, or open this one",
                dir.display()
            )));
        }
        let key = SigningKey::generate(&mut OsRng);
        let signer = NoteSigner::new(&origin, key)
            .map_err(|e| ParkError::Directory(format!("origin {origin:?}: {e}")))?;
        let mut store = at.create()?;
        backend::take_lease(&mut store, COMMAND_LEASE_TTL)?;
        keys::write_secret(&key_path, &format!("{}\n", signer.to_skey()))?;
        if let Some(url) = url {
            keys::write_secret(&store_file, &backend::store_file_text(url, name))?;
        }
        store.set_meta("park", name)?;
        store.set_meta("origin", &origin)?;
        store.set_meta("vkey", &signer.verifier().to_string())?;
        let seal = Seal::empty(&origin, name);
        let mut park = Park {
            store,
            signer,
            origin,
            frontier: Frontier::new(),
            state: State::default(),
            access: Access::Writer(lock),
            seal,
            quarantine_bytes: 0,
            last_checkpoint: None,
            limits: QuarantineLimits::default(),
        };
        park.commit(AppendBatch::default(), park.frontier.clone())?;
        Ok(park)
    }

    /// Opens the store of the park in `dir`, saying how to create one if there is none.
    pub fn open_store(dir: &Path) -> Result<AnyStore, ParkError> {
        Ok(store_at(dir)?.open()?)
    }

    /// Opens the park in `dir` for writing: takes the directory's writer lock (held until the
    /// park is dropped), or fails at once with [`ParkError::Locked`] naming the process that
    /// holds it.
    ///
    /// A park on PostgreSQL takes no directory lock: its writer lease is the one writer, so
    /// that several instances of one machine may serve from one directory (a deployment's).
    pub fn open(dir: &Path) -> Result<Self, ParkError> {
        // No lock file is made where there is no park.
        let at = store_at(dir)?;
        let lock = match at {
            StoreAt::Sqlite(_) => Some(WriterLock::acquire(dir)?),
            StoreAt::Postgres { .. } => None,
        };
        let mut store = at.open()?;
        backend::take_lease(&mut store, COMMAND_LEASE_TTL)?;
        let signer = keys::read_signer_key(&dir.join(KEY_FILE))?;
        let mut park = Park::from_store(store, signer)?;
        park.access = match lock {
            Some(lock) => Access::Writer(lock),
            None => Access::Store,
        };
        Ok(park)
    }

    /// Opens the park in `dir` to read only, without the writer lock, so that it works while
    /// another process (a running server) writes: its writes ([`Park::register`],
    /// [`Park::ingest`], [`Park::publish`], [`Park::add_cosignatures`]) fail with
    /// [`ParkError::ReadOnly`]. The state is the log's as of opening.
    pub fn open_read(dir: &Path) -> Result<Self, ParkError> {
        let store = Self::open_store(dir)?;
        let signer = keys::read_signer_key(&dir.join(KEY_FILE))?;
        // A store made before the reporting index existed gets it on its first open, which
        // writes: only under the writer lock, released again once it is written.
        let rebuilding = if store.channels_complete()? {
            None
        } else {
            Some(WriterLock::acquire(dir)?)
        };
        let mut park = Park::from_store(store, signer)?;
        drop(rebuilding);
        park.access = Access::ReadOnly(dir.to_path_buf());
        Ok(park)
    }

    /// Takes (renews) the writer lease of a park on PostgreSQL for this process for `ttl`,
    /// from now on extended by as much by each write; nothing for a SQLite park. A server
    /// calls it with its configured TTL after [`Park::open`] (which took it for
    /// [`COMMAND_LEASE_TTL`]).
    pub fn take_writer_lease(&mut self, ttl: std::time::Duration) -> Result<(), ParkError> {
        backend::take_lease(&mut self.store, ttl)
    }

    /// The data directory's store file path.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join(DB_FILE)
    }
}

impl<S: Store> Park<S> {
    /// Opens a park over any store, rebuilding the in-memory state from the log. Refuses a
    /// store that fails its own quick check or whose sealed tables (reporting index, data
    /// issues, quarantine) differ from what the park signed, so that nothing is served from
    /// tables `tanji verify` would reject.
    pub fn from_store(mut store: S, signer: NoteSigner) -> Result<Self, ParkError> {
        let problems = store.quick_check()?;
        if !problems.is_empty() {
            return Err(ParkError::Inconsistent(problems.join("; ")));
        }
        if !store.channels_complete()? {
            rebuild_channels(&mut store)?;
        }
        let origin = store
            .meta("origin")?
            .ok_or_else(|| ParkError::Directory("the store names no origin".into()))?;
        let name = store.meta("park")?.unwrap_or_default();
        let (seal, quarantine_bytes) = Seal::of_store(&store, &origin, &name)?;
        match store.meta("seal")? {
            // A store made before the seal existed is sealed as it is now.
            None => store.set_meta(
                "seal",
                &seal
                    .sign(&signer)
                    .map_err(|e| ParkError::Tree(e.to_string()))?,
            )?,
            Some(note) => {
                let sealed = Seal::open(&note, &signer.verifier()).map_err(|e| {
                    ParkError::Inconsistent(format!("meta table: the park's seal {e}"))
                })?;
                let diffs = seal.differences(&sealed);
                if !diffs.is_empty() {
                    let text: Vec<String> = diffs
                        .iter()
                        .map(|(table, problem)| format!("{table} table: {problem}"))
                        .collect();
                    return Err(ParkError::Inconsistent(text.join("; ")));
                }
            }
        }
        if signer.name() != origin {
            return Err(ParkError::Directory(format!(
                "the log key is for {:?}, the store for {:?}",
                signer.name(),
                origin
            )));
        }
        let size = store.size()?;
        let frontier = Frontier::from_source(&store, size)
            .map_err(|e| ParkError::Inconsistent(format!("rebuilding the tree edge: {e}")))?;
        let mut state = State::default();
        // Registrations and revocations in log order: a revoked id is not registered again.
        let mut indices = store.entries_of_kind(KIND_REGISTRATION)?;
        indices.extend(store.entries_of_kind(KIND_REVOCATION)?);
        indices.sort_unstable();
        for index in indices {
            let data = store.entry(index)?;
            match LogEntry::from_bytes(&data) {
                Ok(LogEntry::Registration(reg)) => {
                    let (key, info) = state
                        .check_registration(&reg)
                        .map_err(|e| ParkError::Inconsistent(format!("entry {index}: {e}")))?;
                    state.add_registration(&reg, key, info);
                }
                Ok(LogEntry::Revocation(rev)) => {
                    state
                        .check_revocation(&rev.device)
                        .map_err(|e| ParkError::Inconsistent(format!("entry {index}: {e}")))?;
                    state.add_revocation(&rev.device, index);
                }
                Ok(_) | Err(_) => {
                    return Err(ParkError::Inconsistent(format!(
                        "entry {index} is marked as a registration or revocation but does not decode as one"
                    )))
                }
            }
        }
        for u in store.uploads()? {
            state.add_upload(
                &u.row.device,
                u.row.seq,
                Accepted {
                    record_hash: u.row.record_hash,
                    prev: u.row.prev,
                    index: u.index,
                },
                &u.row.spans,
            );
        }
        Ok(Park {
            store,
            signer,
            origin,
            frontier,
            state,
            access: Access::Store,
            seal,
            quarantine_bytes,
            last_checkpoint: None,
            limits: QuarantineLimits::default(),
        })
    }

    /// Refuses a write to a park opened read-only.
    fn writable(&self) -> Result<(), ParkError> {
        match &self.access {
            Access::ReadOnly(dir) => Err(ParkError::ReadOnly(dir.display().to_string())),
            Access::Store | Access::Writer(_) => Ok(()),
        }
    }

    /// The writer lock this park holds, if it was opened from its directory for writing.
    pub fn writer_lock(&self) -> Option<&WriterLock> {
        match &self.access {
            Access::Writer(lock) => Some(lock),
            Access::Store | Access::ReadOnly(_) => None,
        }
    }

    /// Sets the quarantine's bounds (from the next batch on).
    pub fn set_quarantine_limits(&mut self, limits: QuarantineLimits) {
        self.limits = limits;
    }

    /// The quarantine's bounds.
    pub fn quarantine_limits(&self) -> QuarantineLimits {
        self.limits
    }

    /// What `tanji init` prints about the park it created in `dir` as `name`.
    pub fn created_text(&self, dir: &Path, name: &str) -> String {
        let mut out = format!("created park {name} in {}\n", dir.display());
        if let Ok(at @ tanji_store::StoreAt::Postgres { .. }) = store_at(dir) {
            out.push_str(&format!("store:       {at}\n"));
        }
        out.push_str(&format!(
            "log origin:  {}\nlog key:     {}\nsecret key:  {} (keep it private; it signs the log's checkpoints)\n",
            self.origin(),
            self.verifier(),
            dir.join(KEY_FILE).display()
        ));
        out
    }

    /// Records refused since the park was created: kept one by one or summarised.
    pub fn refused(&self) -> u64 {
        self.seal.refused
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The park's name.
    pub fn name(&self) -> Result<String, ParkError> {
        Ok(self.store.meta("park")?.unwrap_or_default())
    }

    /// The log's verifier key (C2SP signed-note vkey).
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The number of entries in the log.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Number of registered devices.
    pub fn device_count(&self) -> usize {
        self.state.devices.len()
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> Result<String, ParkError> {
        if let Some(c) = &self.last_checkpoint {
            return Ok(c.clone());
        }
        self.store
            .latest_checkpoint()?
            .ok_or_else(|| ParkError::Inconsistent("the log has no checkpoint".into()))
    }

    fn sign(&self, frontier: &Frontier) -> Result<String, ParkError> {
        let cp = Checkpoint {
            origin: self.origin.clone(),
            size: frontier.size(),
            root: frontier.root(),
            extensions: Vec::new(),
        };
        sign_checkpoint(&cp, &self.signer).map_err(|e| ParkError::Tree(format!("signing: {e}")))
    }

    /// Writes `batch` (entries already folded into `frontier`) with a fresh checkpoint and
    /// seal, then keeps the quarantine within its bounds.
    fn commit(&mut self, mut batch: AppendBatch, frontier: Frontier) -> Result<(), ParkError> {
        self.writable()?;
        batch.start = self.frontier.size();
        batch.checkpoint = self.sign(&frontier)?;
        let mut seal = self.seal.clone();
        let mut rows: Vec<&ChannelRow> = batch.channels.iter().collect();
        rows.sort_by(|a, b| (a.index, &a.meter, a.start).cmp(&(b.index, &b.meter, b.start)));
        for r in rows {
            seal.channels.push_channel(r);
        }
        for i in &batch.issues {
            seal.issues.push_issue(i);
        }
        let mut added = 0;
        for q in &batch.quarantine {
            seal.quarantine.push_quarantined(q);
            seal.refused += 1;
            added += seal::row_bytes(q);
        }
        batch.seal = seal.sign(&self.signer).map_err(ParkError::Tree)?;
        self.store.append(&batch)?;
        self.frontier = frontier;
        self.seal = seal;
        self.last_checkpoint = Some(std::mem::take(&mut batch.checkpoint));
        self.quarantine_bytes += added;
        if let Some(now) = batch.quarantine.iter().map(|q| q.received_at).max() {
            let sources: std::collections::BTreeSet<&str> =
                batch.quarantine.iter().map(|q| q.source.as_str()).collect();
            // The batch is durable and acknowledged whatever happens here; a failure leaves
            // the quarantine as sealed, to be bounded after the next batch.
            if let Err(e) = self.bound_quarantine(&sources, now) {
                tracing::warn!(error = %e, "could not summarise the quarantine's oldest rows");
            }
        }
        Ok(())
    }

    /// Summarises the oldest quarantine rows beyond the bounds: per source (of `sources`),
    /// older than the age bound at `now`, and beyond the byte bound; each bound, once struck,
    /// is brought down to 90% of itself so that summarising is not repeated every batch.
    fn bound_quarantine(
        &mut self,
        sources: &std::collections::BTreeSet<&str>,
        now: i64,
    ) -> Result<(), ParkError> {
        let l = self.limits;
        let est = |r: &QuarantineListing| -> u64 {
            (r.raw_len.min(l.raw_prefix as u64) as usize + r.message.len() + r.source.len() + 64)
                as u64
        };
        let mut chosen: std::collections::BTreeMap<u64, QuarantineListing> =
            std::collections::BTreeMap::new();
        for src in sources {
            let n = self.store.quarantine_rows_of(src)?;
            if n > l.rows_per_source {
                let over = n - l.rows_per_source * 9 / 10;
                for r in self.store.quarantine_oldest(
                    Some(src),
                    None,
                    usize::try_from(over).unwrap_or(usize::MAX),
                )? {
                    chosen.insert(r.id, r);
                }
            }
        }
        let cutoff = now.saturating_sub(l.max_age_s);
        // Only when the oldest row is past the age bound (rows are written in time order), so
        // that a quarantine within its bounds costs one row read here.
        let aged = l.max_age_s > 0
            && self
                .store
                .quarantine_oldest(None, None, 1)?
                .first()
                .is_some_and(|r| r.received_at < cutoff);
        if aged {
            for r in self.store.quarantine_oldest(None, Some(cutoff), 10_000)? {
                chosen.insert(r.id, r);
            }
        }
        let mut bytes = self
            .quarantine_bytes
            .saturating_sub(chosen.values().map(est).sum());
        if bytes > l.max_bytes {
            let target = l.max_bytes / 10 * 9;
            let mut want = 1024;
            'more: loop {
                let oldest = self.store.quarantine_oldest(None, None, want)?;
                let exhausted = oldest.len() < want;
                for r in oldest {
                    if bytes <= target {
                        break 'more;
                    }
                    if let std::collections::btree_map::Entry::Vacant(e) = chosen.entry(r.id) {
                        bytes = bytes.saturating_sub(est(&r));
                        e.insert(r);
                    }
                }
                if exhausted || bytes <= target {
                    break;
                }
                want = want.saturating_mul(4);
            }
        }
        if chosen.is_empty() {
            return Ok(());
        }
        let mut all: std::collections::BTreeMap<(String, String), QuarantineSummary> = self
            .store
            .quarantine_summaries()?
            .into_iter()
            .map(|s| ((s.source.clone(), s.code.clone()), s))
            .collect();
        let mut changed = std::collections::BTreeSet::new();
        for r in chosen.values() {
            let key = (r.source.clone(), r.code.clone());
            let s = all.entry(key.clone()).or_insert_with(|| QuarantineSummary {
                source: r.source.clone(),
                code: r.code.clone(),
                count: 0,
                bytes: 0,
                first_at: r.received_at,
                last_at: r.received_at,
            });
            s.count += 1;
            s.bytes += r.raw_len;
            s.first_at = s.first_at.min(r.received_at);
            s.last_at = s.last_at.max(r.received_at);
            changed.insert(key);
        }
        let mut seal = self.seal.clone();
        seal.quarantine = Chain::default();
        let mut kept_bytes = 0;
        self.store.scan_quarantine(&mut |r| {
            if !chosen.contains_key(&r.id) {
                seal.quarantine.push_quarantined(&r.item);
                kept_bytes += seal::row_bytes(&r.item);
            }
            Ok(())
        })?;
        let summaries: Vec<QuarantineSummary> = all.values().cloned().collect();
        seal.summaries = summaries.len() as u64;
        seal.summaries_digest = seal::summaries_digest(&summaries);
        let note = seal.sign(&self.signer).map_err(ParkError::Tree)?;
        let ids: Vec<u64> = chosen.keys().copied().collect();
        let changed: Vec<QuarantineSummary> =
            changed.iter().filter_map(|k| all.get(k).cloned()).collect();
        self.store.summarise_quarantine(&ids, &changed, &note)?;
        tracing::info!(
            rows = ids.len(),
            kept = seal.quarantine.rows,
            kept_bytes,
            "summarised the quarantine's oldest rows"
        );
        self.seal = seal;
        self.quarantine_bytes = kept_bytes;
        Ok(())
    }

    /// Logs device registrations, all or none. Registrations identical to logged ones are
    /// counted as `already` and not logged again.
    pub fn register(&mut self, regs: &[DeviceRegistration]) -> Result<RegisterSummary, ParkError> {
        let mut trial = self.state.clone();
        let mut frontier = self.frontier.clone();
        let mut batch = AppendBatch::default();
        let mut summary = RegisterSummary::default();
        for reg in regs {
            // A revoked id stays revoked, even for a registration identical to a logged one.
            if let Some(&index) = trial.revoked.get(&reg.device) {
                return Err(RegistrationError::Revoked {
                    device: reg.device.clone(),
                    index,
                }
                .into());
            }
            if let Some(d) = trial.devices.get(&reg.device) {
                if let (Some(owner), Ok(info)) =
                    (trial.meter_owner.get(&reg.meter), reg.meter_info())
                {
                    if owner == &reg.device
                        && d.key.public_key() == reg.public_key
                        && d.enterprise == reg.enterprise
                        && d.meters.get(&reg.meter) == Some(&info)
                    {
                        summary.already += 1;
                        continue;
                    }
                }
            }
            let (key, info) = trial.check_registration(reg)?;
            trial.add_registration(reg, key, info);
            let data = LogEntry::Registration(reg.clone()).to_bytes();
            summary.logged.push(frontier.size());
            frontier.append(leaf_hash(&data), &mut batch.nodes);
            batch.entries.push(NewEntry {
                kind: KIND_REGISTRATION,
                data,
                upload: None,
            });
        }
        if batch.entries.is_empty() {
            return Ok(summary);
        }
        self.commit(batch, frontier)?;
        self.state = trial;
        Ok(summary)
    }

    /// Logs the revocation of a registered device in its own batch (with its checkpoint):
    /// from its leaf on, every upload the device signs is refused (`device_revoked`), and its
    /// id is not registered again. Returns `Revoked::Logged(index)`, or
    /// `Revoked::Already(index)` (nothing written) if the device is revoked already.
    pub fn revoke(&mut self, rev: &DeviceRevocation) -> Result<Revoked, ParkError> {
        rev.check().map_err(|e| RevocationError::Invalid {
            device: rev.device.clone(),
            message: e.to_string(),
        })?;
        if let Some(index) = self.state.check_revocation(&rev.device)? {
            return Ok(Revoked::Already(index));
        }
        let mut frontier = self.frontier.clone();
        let mut batch = AppendBatch::default();
        let data = LogEntry::Revocation(rev.clone()).to_bytes();
        let index = frontier.size();
        frontier.append(leaf_hash(&data), &mut batch.nodes);
        batch.entries.push(NewEntry {
            kind: KIND_REVOCATION,
            data,
            upload: None,
        });
        self.commit(batch, frontier)?;
        self.state.add_revocation(&rev.device, index);
        Ok(Revoked::Logged(index))
    }

    /// The leaf index of `device`'s revocation, if it is revoked.
    pub fn revocation_of(&self, device: &str) -> Option<u64> {
        self.state.revoked.get(device).copied()
    }

    /// Validates and logs a batch of uploads in one durable transaction; returns one outcome per
    /// input, in order, only after the batch is on disk. `now` is the time the validation uses
    /// for the clock-skew check (Unix seconds, UTC) and the time rejected input is quarantined
    /// with (`received_at`, which the quarantine's age bound counts from); the park reads no
    /// clock of its own (see [`Clock`]).
    ///
    /// One record never fails the others: if the store refuses the batch because of a value in
    /// it ([`StoreError::is_refusal`]; validation enforces every limit the store has, so this
    /// means one was missed), the batch is split in halves and each half logged on its own,
    /// down to the one record the store refuses, which is rejected (`store_refused`) and
    /// quarantined; the others are logged, each half with its own checkpoint. A failure of
    /// the store itself (I/O, a full disk) still fails the call, and nothing not yet
    /// committed is acknowledged.
    pub fn ingest(&mut self, batch: Vec<Incoming>, now: i64) -> Result<Vec<Outcome>, ParkError> {
        let policy = Policy::at(now);
        self.ingest_isolating(&batch, &policy, now)
    }

    /// [`Park::ingest_once`], splitting the batch around records the store refuses.
    fn ingest_isolating(
        &mut self,
        batch: &[Incoming],
        policy: &Policy,
        received_at: i64,
    ) -> Result<Vec<Outcome>, ParkError> {
        match self.ingest_once(batch, policy, received_at) {
            Err(ParkError::Store(e)) if e.is_refusal() => match batch {
                [one] => self.refuse(one, &e, received_at),
                _ => {
                    let (left, right) = batch.split_at(batch.len() / 2);
                    let mut out = self.ingest_isolating(left, policy, received_at)?;
                    out.extend(self.ingest_isolating(right, policy, received_at)?);
                    Ok(out)
                }
            },
            other => other,
        }
    }

    /// Rejects and quarantines one record the store refused to log.
    fn refuse(
        &mut self,
        inc: &Incoming,
        e: &StoreError,
        received_at: i64,
    ) -> Result<Vec<Outcome>, ParkError> {
        tracing::error!(source = %inc.source, error = %e, "the store refused a validated record; it is rejected alone and the rest of its batch logged");
        let rejection = Rejection {
            code: RejectCode::StoreRefused,
            message: format!(
                "{}: the record passed validation but the park's store refused it ({e}); it was not logged and the rest of its batch was; report this to the park operator",
                inc.source
            ),
        };
        let mut ab = AppendBatch::default();
        ab.quarantine
            .push(inc.quarantined(received_at, &rejection, self.limits.raw_prefix));
        let frontier = self.frontier.clone();
        self.commit(ab, frontier)?;
        Ok(vec![Outcome::Rejected(rejection)])
    }

    /// Validates and logs `batch` in one transaction, all or nothing.
    fn ingest_once(
        &mut self,
        batch: &[Incoming],
        policy: &Policy,
        received_at: i64,
    ) -> Result<Vec<Outcome>, ParkError> {
        let mut frontier = self.frontier.clone();
        let mut out = Vec::with_capacity(batch.len());
        let mut ab = AppendBatch::default();
        let mut added: Vec<(String, u64, Vec<Span>)> = Vec::new();
        for inc in batch {
            let verdict = match &inc.parsed {
                Err(e) => Err(Rejection {
                    code: RejectCode::Malformed,
                    message: format!("{}: {e}", inc.source),
                }),
                Ok(u) => validate_checked(u, &self.state, policy, inc.checked.as_ref()),
            };
            match (verdict, &inc.parsed) {
                (Ok(Verdict::Accept { issues }), Ok(u)) => {
                    let index = frontier.size();
                    let (device, seq, prev) = (u.body.device.clone(), u.body.seq, u.body.prev);
                    let spans = spans_of(u);
                    ab.channels.extend(channel_rows(u, index));
                    let data = u.to_entry_bytes();
                    let record_hash: Hash = Sha256::digest(&data[1..]).into();
                    frontier.append(leaf_hash(&data), &mut ab.nodes);
                    for issue in &issues {
                        ab.issues.push(StoredIssue {
                            index,
                            code: issue_code(&issue.kind).to_string(),
                            message: issue.message.clone(),
                        });
                    }
                    self.state.add_upload(
                        &device,
                        seq,
                        Accepted {
                            record_hash,
                            prev,
                            index,
                        },
                        &spans,
                    );
                    ab.entries.push(NewEntry {
                        kind: KIND_UPLOAD,
                        data,
                        upload: Some(UploadRow {
                            device: device.clone(),
                            seq,
                            record_hash,
                            prev,
                            spans: spans.clone(),
                        }),
                    });
                    added.push((device, seq, spans));
                    out.push(Outcome::Accepted { index, issues });
                }
                (Ok(_), Err(_)) => {
                    // Validation never accepts what did not decode.
                    self.rollback(&added);
                    return Err(ParkError::Inconsistent(format!(
                        "{}: validation accepted a record that did not decode",
                        inc.source
                    )));
                }
                (Ok(Verdict::Duplicate), Ok(u)) => {
                    match self.state.upload(&u.body.device, u.body.seq) {
                        Some(a) => out.push(Outcome::Duplicate { index: a.index }),
                        None => {
                            self.rollback(&added);
                            return Err(ParkError::Inconsistent(format!(
                                "{}: validation saw a duplicate the index does not hold",
                                inc.source
                            )));
                        }
                    }
                }
                (Err(rejection), _) => {
                    ab.quarantine.push(inc.quarantined(
                        received_at,
                        &rejection,
                        self.limits.raw_prefix,
                    ));
                    out.push(Outcome::Rejected(rejection));
                }
            }
        }
        if ab.entries.is_empty() && ab.quarantine.is_empty() {
            return Ok(out);
        }
        if let Err(e) = self.commit(ab, frontier) {
            self.rollback(&added);
            return Err(e);
        }
        Ok(out)
    }

    fn rollback(&mut self, added: &[(String, u64, Vec<Span>)]) {
        for (device, seq, spans) in added {
            self.state.remove_upload(device, *seq, spans);
        }
    }

    /// An inclusion proof for leaf `index` in the tree of `size` (default: the log's size).
    pub fn prove(&self, index: u64, size: Option<u64>) -> Result<InclusionProof, ParkError> {
        let size = size.unwrap_or(self.size());
        if size > self.size() || index >= size {
            return Err(ParkError::Tree(format!(
                "no leaf {index} in a tree of size {size} (the log holds {} entries)",
                self.size()
            )));
        }
        let proof = inclusion_proof(&self.store, index, size)
            .map_err(|e| ParkError::Tree(e.to_string()))?;
        let leaf = leaf_hash(&self.store.entry(index)?);
        let root = root(&self.store, size).map_err(|e| ParkError::Tree(e.to_string()))?;
        tanji_ledger::verify_inclusion(&leaf, index, size, &proof, &root).map_err(|e| {
            ParkError::Inconsistent(format!("the proof for leaf {index} does not verify: {e}"))
        })?;
        Ok(InclusionProof {
            index,
            size,
            leaf_hash: leaf,
            root,
            proof,
        })
    }

    /// A consistency proof from tree size `from` to `to` (default: the log's size).
    pub fn consistency(&self, from: u64, to: Option<u64>) -> Result<ConsistencyProof, ParkError> {
        let to = to.unwrap_or(self.size());
        if from > to || to > self.size() {
            return Err(ParkError::Tree(format!(
                "cannot prove size {from} consistent with size {to}: need from ≤ to ≤ {} (the log's size)",
                self.size()
            )));
        }
        let proof =
            consistency_proof(&self.store, from, to).map_err(|e| ParkError::Tree(e.to_string()))?;
        let from_root = root(&self.store, from).map_err(|e| ParkError::Tree(e.to_string()))?;
        let to_root = root(&self.store, to).map_err(|e| ParkError::Tree(e.to_string()))?;
        tanji_ledger::verify_consistency(from, to, &from_root, &to_root, &proof).map_err(|e| {
            ParkError::Inconsistent(format!(
                "the consistency proof {from}→{to} does not verify: {e}"
            ))
        })?;
        Ok(ConsistencyProof {
            from,
            to,
            from_root,
            to_root,
            proof,
        })
    }

    /// The last accepted record of `device`: `(seq, record_hash)`, the next record's `seq - 1`
    /// and `prev`; `None` if it has none.
    pub fn device_head(&self, device: &str) -> Option<(u64, Hash)> {
        use tanji_readings::ValidationContext as _;
        let seq = self.state.last_seq(device)?;
        let (hash, _) = self.state.accepted(device, seq)?;
        Some((seq, hash))
    }

    /// Every logged registration with its leaf index, in log order.
    pub fn registrations(&self) -> Result<Vec<(u64, DeviceRegistration)>, ParkError> {
        let regs = view::Registrations::read(&self.store, self.size())?
            .checked()
            .map_err(|p| ParkError::Inconsistent(format!("entry {}: {p}", p.index())))?;
        let mut out: Vec<_> = regs.all().map(|r| (r.index, r.reg.clone())).collect();
        out.sort_by_key(|(index, _)| *index);
        Ok(out)
    }

    /// `tanji device list`'s table: one line a registration, in log order — device, key
    /// type, enterprise, meter, carrier, unit, rated capacity per hour — with its log entry
    /// and the entry that revoked the device, if one did.
    pub fn device_table(&self) -> Result<String, ParkError> {
        let mut out = format!(
            "{:<10} {:<7} {:<10} {:<16} {:<20} {:<5} {:>14}\n",
            "device", "key", "enterprise", "meter", "carrier", "unit", "rated/h"
        );
        for (index, r) in self.registrations()? {
            let revoked = self
                .revocation_of(&r.device)
                .map(|at| format!(", revoked by entry {at}"))
                .unwrap_or_default();
            let rated = tanji_units::Fixed::new(r.rated_per_hour_milli, 3)
                .map(|f| f.to_string())
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<10} {:<7} {:<10} {:<16} {:<20} {:<5} {rated:>14}  (entry {index}{revoked})\n",
                r.device,
                r.public_key.key_type().name(),
                r.enterprise,
                r.meter,
                r.carrier,
                r.unit,
            ));
        }
        Ok(out)
    }

    /// Data issues noted on accepted entries.
    pub fn issues(&self) -> Result<Vec<StoredIssue>, ParkError> {
        Ok(self.store.issues()?)
    }

    /// The data issues noted on accepted entries that still hold (see [`open_issues`]).
    pub fn open_issues(&self) -> Result<Vec<StoredIssue>, ParkError> {
        open_issues(&self.store)
    }
}

/// The data issues noted on accepted entries that still hold at the store's current size: a
/// sequence gap whose missing records have all been logged since is filled, and no longer an
/// issue. A noted gap runs from the seq after the device's highest logged before the noting
/// entry to the seq before the noting entry's own (as validation computed it).
pub fn open_issues<S: Store>(store: &S) -> Result<Vec<StoredIssue>, ParkError> {
    let size = store.size()?;
    let mut now: std::collections::HashMap<String, std::collections::BTreeSet<u64>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for issue in store.issues()? {
        if issue.code != "sequence_gap" {
            out.push(issue);
            continue;
        }
        let Ok(LogEntry::Upload(u)) = LogEntry::from_bytes(&store.entry(issue.index)?) else {
            // Not an upload: keep it as noted; `tanji verify` names a misfiled entry.
            out.push(issue);
            continue;
        };
        let device = &u.body.device;
        let before = store.device_seqs(device, issue.index)?;
        let from = before
            .iter()
            .copied()
            .filter(|&s| s < u.body.seq)
            .max()
            .map_or(1, |s| s + 1);
        let logged = match now.entry(device.clone()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(store.device_seqs(device, size)?.into_iter().collect())
            }
        };
        if (from..u.body.seq).any(|s| !logged.contains(&s)) {
            out.push(issue);
        }
    }
    Ok(out)
}

pub(crate) fn issue_code(kind: &DataIssueKind) -> &'static str {
    match kind {
        DataIssueKind::SequenceGap { .. } => "sequence_gap",
    }
}

/// The reporting index rows of an accepted upload logged at `index` (one per channel): what
/// the store keeps beside the log, and what a report recomputed from the log reads instead.
pub fn channel_rows(u: &SignedUpload, index: u64) -> impl Iterator<Item = ChannelRow> + '_ {
    u.body.channels.iter().map(move |c| ChannelRow {
        index,
        device: u.body.device.clone(),
        seq: u.body.seq,
        meter: c.meter.clone(),
        start: c.start,
        interval_s: c.interval_s,
        unit: c.unit.clone(),
        decimals: c.decimals,
        values: c.values.clone(),
    })
}

/// Derives the reporting index from the logged uploads (for a store made before it existed).
fn rebuild_channels<S: Store>(store: &mut S) -> Result<(), ParkError> {
    let mut rows = Vec::new();
    for index in store.entries_of_kind(KIND_UPLOAD)? {
        match LogEntry::from_bytes(&store.entry(index)?) {
            Ok(LogEntry::Upload(u)) => rows.extend(channel_rows(&u, index)),
            Ok(_) | Err(_) => {
                return Err(ParkError::Inconsistent(format!(
                    "entry {index} is marked as an upload but does not decode as one"
                )))
            }
        }
    }
    tracing::info!(
        rows = rows.len(),
        "rebuilt the reporting index from the log"
    );
    Ok(store.rebuild_channels(&rows)?)
}
