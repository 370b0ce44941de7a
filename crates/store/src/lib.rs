//! tanji-store: where a park's log lives on disk.
//!
//! A park's store holds the log entries (the exact bytes of signed uploads and registrations),
//! every perfect Merkle node over them, the signed checkpoints, a per-device index of accepted
//! uploads, and a quarantine of rejected input. The [`Store`] trait is what a backend must do,
//! every method required and its contract stated, so that a PostgreSQL backend can follow the
//! SQLite one ([`SqliteStore`]); both pass the same conformance suite
//! (`tanji_store::conformance`, run by `tests/conformance.rs`). What is derived from those
//! methods, the same for every backend, is [`StoreExt`], provided for every store.
//!
//! What it is not: it does not validate, hash or sign anything. It stores what the park layer
//! hands it, and hands it back byte for byte. Its one promise is atomic durability: when
//! [`Store::append`] returns `Ok`, the whole batch (entries, nodes, index rows, checkpoint) is on
//! disk, and a crash at any moment leaves either all of a batch or none of it.

mod any;
mod channels;
mod convert;
mod cosigned;
mod postgres;
mod sqlite;

pub use any::{AnyStore, StoreAt};
pub use channels::{pack, unpack, unpack_into, ChannelRef, ChannelRow};

pub use postgres::{Lease, LeaseRenewer, PgLocation, PostgresStore};
pub use sqlite::SqliteStore;

use tanji_ledger::{Hash, NodeSource};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("store {path}: {context}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What the store was doing.
        context: String,
        /// The database's own error.
        #[source]
        source: rusqlite::Error,
    },
    /// A value the store needs is not there.
    #[error("store: {0} not found")]
    NotFound(String),
    /// The stored data has a shape the store never writes (for example a hash of the wrong
    /// length): the file was changed outside tanji or is damaged.
    #[error("store: corrupt data: {0}")]
    Corrupt(String),
    /// A batch does not extend the log where it ends now.
    #[error("store: batch starts at index {batch_start}, but the log has {size} entries")]
    NotContiguous {
        /// The first index of the batch.
        batch_start: u64,
        /// The size of the stored log.
        size: u64,
    },
    /// The data directory or schema is not a tanji store of a version this build reads.
    #[error("store {path}: {message}")]
    Schema {
        /// The database file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// PostgreSQL reported an error.
    #[error("store {place}: {context}: {source}")]
    Postgres {
        /// The database (URL without password, schema) and park.
        place: String,
        /// What the store was doing.
        context: String,
        /// The client's own error (with the server's SQLSTATE, when it answered).
        #[source]
        source: ::postgres::Error,
    },
    /// The writer lease this store's writes are fenced by is no longer the park's current
    /// one: another instance writes the park now, and nothing of this write was kept.
    #[error("store: {0}")]
    LeaseLost(String),
    /// A value of a batch is beyond what the store can hold (e.g. a sequence number above
    /// 2^63 − 1): the batch was not written, and the data, not the store, is at fault.
    #[error("store: cannot hold {0}")]
    Refused(String),
}

impl StoreError {
    /// Whether a failed [`Store::append`] was caused by a value of the batch (a number out of
    /// the store's range, a uniqueness or other constraint) rather than by the store itself
    /// (I/O, a full disk, a locked or damaged file): the same batch without the offending
    /// entry can be written.
    pub fn is_refusal(&self) -> bool {
        use rusqlite::ErrorCode;
        match self {
            StoreError::Refused(_) => true,
            StoreError::Sqlite { source, .. } => match source {
                rusqlite::Error::SqliteFailure(e, _) => matches!(
                    e.code,
                    ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch
                ),
                rusqlite::Error::ToSqlConversionFailure(_) => true,
                _ => false,
            },
            // SQLSTATE class 22 (data exception) and 23 (integrity constraint violation).
            StoreError::Postgres { source, .. } => source
                .code()
                .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23")),
            _ => false,
        }
    }

    /// Whether the store failed because the disk is full (`SQLITE_FULL`, which SQLite's unix
    /// layer also returns for the OS's `ENOSPC`): nothing was written, and the same request
    /// may succeed once there is room, so servers answer it as retryable.
    /// PostgreSQL's `disk_full` (SQLSTATE 53100) likewise.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => e.code == rusqlite::ErrorCode::DiskFull,
            StoreError::Postgres { source, .. } => {
                source.code() == Some(&::postgres::error::SqlState::DISK_FULL)
            }
            _ => false,
        }
    }
}

/// A visitor of stored entries: `(index, bytes)`; an error stops the scan.
pub type EntryVisitor<'a> = dyn FnMut(u64, &[u8]) -> Result<(), StoreError> + 'a;
/// A visitor of stored Merkle nodes: `(level, index, hash bytes)`; an error stops the scan.
pub type NodeVisitor<'a> = dyn FnMut(u8, u64, &[u8]) -> Result<(), StoreError> + 'a;

/// One new log entry, as the park layer hands it to the store.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The entry's kind byte (the first byte of `data`, repeated here for queries).
    pub kind: u8,
    /// The exact leaf entry bytes.
    pub data: Vec<u8>,
    /// Set when the entry is a device upload: the row of the per-device index.
    pub upload: Option<UploadRow>,
}

/// The per-device index row of an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Device id.
    pub device: String,
    /// Upload sequence number.
    pub seq: u64,
    /// SHA-256 of the signed upload bytes.
    pub record_hash: Hash,
    /// The `prev` field of the upload.
    pub prev: Hash,
    /// The time span each channel covers, per meter.
    pub spans: Vec<Span>,
}

/// The time span `[start, end)` (Unix seconds) an upload reports for one meter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Meter id.
    pub meter: String,
    /// First interval start.
    pub start: i64,
    /// Last interval end (exclusive).
    pub end: i64,
}

/// An indexed upload as stored: where it sits in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The index row.
    pub row: UploadRow,
    /// Its leaf index in the log.
    pub index: u64,
}

/// A record that failed validation, kept with its reason and never used for accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// The length of the input as received, in bytes (`raw` may hold only its first bytes).
    pub raw_len: u64,
    /// When it was received (Unix seconds, UTC).
    pub received_at: i64,
    /// Where it came from (a file and line, or a network peer).
    pub source: String,
    /// The stable rejection code.
    pub code: String,
    /// The full rejection message.
    pub message: String,
    /// The device id, when it could be read.
    pub device: Option<String>,
    /// The sequence number, when it could be read.
    pub seq: Option<u64>,
    /// The raw input as received, or its first bytes when the park keeps only a prefix.
    pub raw: Vec<u8>,
}

/// A kept quarantine row as [`Store::scan_quarantine`] reads it: its row id and the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    /// The row's id (ascending in the order rows were written; never reused).
    pub id: u64,
    /// The row.
    pub item: Quarantined,
}

/// A quarantine row as a listing shows it: everything but the raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineListing {
    /// The row's id: the cursor of the next page.
    pub id: u64,
    /// When it was received (Unix seconds, UTC).
    pub received_at: i64,
    /// Where it came from.
    pub source: String,
    /// The stable rejection code.
    pub code: String,
    /// The full rejection message.
    pub message: String,
    /// The device id, when it could be read.
    pub device: Option<String>,
    /// The sequence number, when it could be read.
    pub seq: Option<u64>,
    /// The length of the input as received, in bytes.
    pub raw_len: u64,
}

/// Refused records no longer kept one by one, summed per source and rejection code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineSummary {
    /// Where they came from.
    pub source: String,
    /// The rejection code.
    pub code: String,
    /// How many records.
    pub count: u64,
    /// Their bytes as received.
    pub bytes: u64,
    /// When the first was received (Unix seconds, UTC).
    pub first_at: i64,
    /// When the last was received (Unix seconds, UTC).
    pub last_at: i64,
}

/// Which kept quarantine rows [`Store::quarantine_counts`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuarantineFilter<'a> {
    /// Every kept row.
    All,
    /// The rows of these devices (none when empty).
    Devices(&'a [String]),
    /// The rows from this source.
    Source(&'a str),
}

/// What a listing of the quarantine counts (of the rows it may show).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineCounts {
    /// Rows kept one by one.
    pub kept: u64,
    /// Kept rows per rejection code.
    pub by_code: std::collections::BTreeMap<String, u64>,
}

/// A data issue noted on an accepted entry (for example a sequence gap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIssue {
    /// The leaf index of the entry it concerns.
    pub index: u64,
    /// A stable code.
    pub code: String,
    /// The full message.
    pub message: String,
}

/// Everything one atomic append writes.
#[derive(Debug, Clone, Default)]
pub struct AppendBatch {
    /// The log size this batch extends: its first entry gets this index.
    pub start: u64,
    /// The new entries, in log order, starting at the current size.
    pub entries: Vec<NewEntry>,
    /// Every perfect Merkle node that the new entries complete: (level, index, hash).
    pub nodes: Vec<(u8, u64, Hash)>,
    /// Data issues on the new entries.
    pub issues: Vec<StoredIssue>,
    /// The signed checkpoint (C2SP signed note) for the new size.
    pub checkpoint: String,
    /// Rejected input of the same batch, kept in the quarantine in the same transaction.
    pub quarantine: Vec<Quarantined>,
    /// Content-addressed blobs (SHA-256, bytes) that entries of the batch refer to, such as a
    /// published factor series.
    pub blobs: Vec<(Hash, Vec<u8>)>,
    /// The reporting index rows of the batch's uploads (one per channel).
    pub channels: Vec<ChannelRow>,
    /// The park's signed seal over the tables beside the log after this batch (kept as the
    /// `seal` metadata value, in the same transaction); empty = left as it is.
    pub seal: String,
}

/// Calls `f` with each reporting index row, one at a time.
pub type ChannelVisitor<'a> = dyn FnMut(ChannelRow) -> Result<(), StoreError> + 'a;

/// Calls `f` with each reporting index row as the store holds it, borrowed for the call.
pub type PackedVisitor<'a> = dyn FnMut(ChannelRef<'_>) -> Result<(), StoreError> + 'a;

/// Calls `f` with each kept quarantine row, raw bytes included; an error stops the scan.
pub type QuarantineVisitor<'a> = dyn FnMut(QuarantineRow) -> Result<(), StoreError> + 'a;

/// While it lives, the reads of one store handle see one snapshot ([`Store::read_snapshot`]).
/// It holds whatever the backend needs for that (for SQLite, an open read transaction, rolled
/// back when the snapshot is dropped: it wrote nothing).
pub struct ReadSnapshot<'a> {
    _held: Box<dyn Held + 'a>,
}

/// Anything a backend keeps alive for the length of a snapshot.
trait Held {}
impl<T> Held for T {}

impl<'a> ReadSnapshot<'a> {
    /// A snapshot that lasts as long as `held` (a read transaction, a pinned connection, …)
    /// lives; `held` is dropped with it.
    pub fn holding<T: 'a>(held: T) -> Self {
        ReadSnapshot {
            _held: Box::new(held),
        }
    }
}

impl std::fmt::Debug for ReadSnapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadSnapshot")
    }
}

/// What a storage backend of a park must do, and nothing that can be derived from it (that is
/// [`StoreExt`]). Every method is required; a backend implements each one fully or is not a
/// backend. `tanji_store::conformance` checks every method; [`SqliteStore`] is the reference.
///
/// The contract, for every backend:
/// - **Atomic, durable writes.** Every `&mut self` method writes all it is given in one
///   transaction or nothing (on any error, nothing of the call is visible afterwards, to this
///   handle or any other), and returns `Ok` only once the transaction is durable: committed and
///   flushed so that a process kill or power cut right after the return loses none of it (for
///   SQLite, WAL with `synchronous=FULL`; for PostgreSQL, a commit with `synchronous_commit=on`).
///   The park acknowledges a record to its device only after [`Store::append`] returns.
/// - **Bytes as written.** Entries, nodes, checkpoints, blobs, packed values, quarantine bytes
///   and text come back exactly as they went in. The store never validates, hashes or signs.
/// - **Readers see commits whole.** A read never sees part of a batch: either all of an
///   [`AppendBatch`] or none of it. Reads of one handle under [`Store::read_snapshot`] all see
///   the same state.
/// - **Orders are part of the answer.** Each method names the order of what it returns; reports
///   and audits rely on it, and a different order is a different (wrong) answer.
/// - **Numbers.** Indices, sizes and sequence numbers up to 2^63 − 1 are held; a larger value
///   in a batch is refused with [`StoreError::Refused`] and nothing of the batch is written. A
///   value read back out of range (a negative size, a hash that is not 32 bytes) is
///   [`StoreError::Corrupt`]. Absent entries and nodes are [`StoreError::NotFound`].
/// - **One writer.** The park layer calls the `&mut self` methods from one handle at a time
///   (one sequencer per park); readers may use other handles concurrently.
///
/// The supertrait's [`NodeSource::node`] is required too: the stored Merkle node at
/// `(level, index)`, [`StoreError::NotFound`] if there is none.
pub trait Store: NodeSource<Error = StoreError> {
    // ---- writes ----

    /// Appends a batch to the log. In one transaction, all or nothing, durable before `Ok`:
    /// - refuses with [`StoreError::NotContiguous`] (writing nothing) unless `batch.start` is
    ///   the current [`Store::size`];
    /// - the entries at `start..start + entries.len()` (kind and bytes), and for each upload
    ///   its per-device index row (unique per `(device, seq)`: a repeat refuses the whole batch
    ///   as a refusal, [`StoreError::is_refusal`]) and its spans;
    /// - the nodes (unique per `(level, index)`), the issues (after all earlier issues), the
    ///   reporting index rows `channels`, the blobs (a blob already held is kept as it is);
    /// - the quarantine rows (given ids above every id ever given before, in batch order);
    /// - the checkpoint as the one of size `start + entries.len()` (replacing one of that size,
    ///   so an empty batch may re-sign the current size);
    /// - the seal as the `seal` metadata value, unless it is empty.
    fn append(&mut self, batch: &AppendBatch) -> Result<(), StoreError>;
    /// Keeps rejected input in the quarantine, in one transaction, durable before `Ok`; rows
    /// get ids above every id given before, in the order of `items`. Never touches the log.
    fn quarantine(&mut self, items: &[Quarantined]) -> Result<(), StoreError>;
    /// In one transaction, durable before `Ok`: removes the kept quarantine rows `ids` (ids
    /// not kept are ignored), writes `summaries` (replacing those of the same source and code)
    /// and writes `seal` as the `seal` metadata value.
    fn summarise_quarantine(
        &mut self,
        ids: &[u64],
        summaries: &[QuarantineSummary],
        seal: &str,
    ) -> Result<(), StoreError>;
    /// In one transaction, durable before `Ok`: replaces the whole reporting index with `rows`
    /// (derived from the log by the caller) and marks it complete ([`Store::channels_complete`]).
    fn rebuild_channels(&mut self, rows: &[ChannelRow]) -> Result<(), StoreError>;
    /// Writes a metadata value (replacing the key's value), durable before `Ok`.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Keeps witness cosignature lines for the checkpoint of `size`, as `(witness, line)`
    /// pairs (`witness` is `name+hex key ID`), in one transaction, durable before `Ok`; a
    /// witness's newer line for the same size replaces its older one. The store does not check
    /// them, nor that a checkpoint of `size` exists.
    /// `seal`, when not empty, is written as the `seal` metadata value in the same transaction
    /// (the park binds the cosignatures it keeps to its signed seal).
    fn add_cosignatures(
        &mut self,
        size: u64,
        rows: &[(String, String)],
        seal: &str,
    ) -> Result<(), StoreError>;

    // ---- the log ----

    /// The number of entries in the log (the index of the next entry).
    fn size(&self) -> Result<u64, StoreError>;
    /// The entry at `index`, exactly as appended; [`StoreError::NotFound`] beyond the log.
    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError>;
    /// Calls `f` with every entry in `[start, end)`, in index order; an entry missing in that
    /// range is [`StoreError::Corrupt`]. Stops at the first error `f` returns and returns it.
    fn scan_entries(
        &self,
        start: u64,
        end: u64,
        f: &mut EntryVisitor<'_>,
    ) -> Result<(), StoreError>;
    /// Every entry index whose kind byte is `kind`, ascending (answered from an index on the
    /// kind, not by reading every entry: the park asks for registrations and publications).
    fn entries_of_kind(&self, kind: u8) -> Result<Vec<u64>, StoreError>;
    /// Calls `f` with every stored Merkle node, in (level, index) order. Stops at the first
    /// error `f` returns and returns it.
    fn scan_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), StoreError>;
    /// The leaf hashes (level-0 nodes) of entries `0..size`, in order; a missing one is
    /// [`StoreError::NotFound`] naming it.
    fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError>;
    /// The nodes `wanted` as (level, index), in the order asked (one read for all of them where
    /// the backend is a server: proving a batch's leaves needs a few dozen); a missing one is
    /// [`StoreError::NotFound`] naming it.
    fn nodes(&self, wanted: &[(u8, u64)]) -> Result<Vec<Hash>, StoreError>;
    /// The signed checkpoint of the largest size, if the log has one.
    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError>;
    /// Every stored checkpoint, as (size, signed note), ascending by size.
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError>;
    /// A content-addressed blob by its SHA-256, exactly as written; `None` if not held.
    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError>;
    /// The cosignature lines kept for the checkpoint of `size`, ordered by witness; empty if
    /// none.
    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError>;
    /// The largest checkpoint size with a kept cosignature (by `witness`, if given).
    fn latest_cosigned(&self, witness: Option<&str>) -> Result<Option<u64>, StoreError>;

    // ---- the per-device upload index ----

    /// The whole per-device upload index, ascending by entry index, each row with its spans
    /// ordered by (meter, start).
    fn uploads(&self) -> Result<Vec<StoredUpload>, StoreError>;
    /// The sequence numbers of `device`'s uploads at entries below `size`, ascending.
    fn device_seqs(&self, device: &str, size: u64) -> Result<Vec<u64>, StoreError>;
    /// Every stored upload span with the entry it belongs to, in (entry, meter, start) order:
    /// the spans table as it is, including any row no upload row claims (the audit compares
    /// it with the log, so it is read as stored, not through [`Store::uploads`]).
    fn spans(&self) -> Result<Vec<(u64, Span)>, StoreError>;

    // ---- the reporting index ----

    /// Calls `f` with the reporting index rows of `meter` from entries below `size` whose
    /// intervals overlap `[from, to)` (half-open: `start < to` and `end > from`), by
    /// (start, entry index), with their values still packed as written: what a report reads,
    /// without an allocation per row. Stops at the first error `f` returns.
    fn channels_packed(
        &self,
        meter: &str,
        size: u64,
        from: i64,
        to: i64,
        f: &mut PackedVisitor<'_>,
    ) -> Result<(), StoreError>;
    /// The start of the first and the end of the last reporting index row of `meter` from
    /// entries below `size` (rows of one meter never overlap: validation refuses that), or
    /// `None` if it has none.
    fn channels_extent(&self, meter: &str, size: u64) -> Result<Option<(i64, i64)>, StoreError>;
    /// Calls `f` with every reporting index row, in (entry index, meter, start) order; a row
    /// whose stored end disagrees with its values is [`StoreError::Corrupt`].
    fn scan_channels(&self, f: &mut ChannelVisitor<'_>) -> Result<(), StoreError>;
    /// Whether the reporting index covers every entry with the packing this build writes (a
    /// new store's does; a store made before the index, or packed otherwise, has it only after
    /// [`Store::rebuild_channels`]).
    fn channels_complete(&self) -> Result<bool, StoreError>;

    // ---- data issues ----

    /// Every data issue, ordered by the entry it concerns, then in the order written.
    fn issues(&self) -> Result<Vec<StoredIssue>, StoreError>;

    // ---- quarantine ----

    /// Calls `f` with every kept quarantine row, ascending by id, raw bytes included. Stops at
    /// the first error `f` returns.
    fn scan_quarantine(&self, f: &mut QuarantineVisitor<'_>) -> Result<(), StoreError>;
    /// At most `limit` kept quarantine rows, newest (highest id) first, with ids below
    /// `before` (all when `None`), of `devices` only when given (filtered by the store, not
    /// after the limit); without their raw bytes.
    fn quarantine_page(
        &self,
        before: Option<u64>,
        limit: usize,
        devices: Option<&[String]>,
    ) -> Result<Vec<QuarantineListing>, StoreError>;
    /// At most `limit` kept quarantine rows, oldest (lowest id) first, of `source` only when
    /// given, and received before `older_than` only when given; without their raw bytes.
    fn quarantine_oldest(
        &self,
        source: Option<&str>,
        older_than: Option<i64>,
        limit: usize,
    ) -> Result<Vec<QuarantineListing>, StoreError>;
    /// The kept rows that `of` selects, counted in total and per code by the store (the park
    /// asks on every batch that quarantines input, the dashboard on every listing: not by
    /// reading the rows).
    fn quarantine_counts(&self, of: QuarantineFilter<'_>) -> Result<QuarantineCounts, StoreError>;
    /// The summaries of refused records no longer kept one by one, ordered by (source, code).
    fn quarantine_summaries(&self) -> Result<Vec<QuarantineSummary>, StoreError>;

    // ---- metadata, snapshots, health ----

    /// Reads a metadata value.
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Until the returned guard is dropped, this handle's reads see the store as it is now:
    /// batches committed meanwhile (by other handles) are not seen, and no lock is taken per
    /// statement (for SQLite, one read transaction; for PostgreSQL, a `REPEATABLE READ`
    /// read-only transaction). For many reads that belong together, such as a report. Not to
    /// be called while this handle writes; after the guard is dropped the handle writes again.
    fn read_snapshot(&self) -> Result<ReadSnapshot<'_>, StoreError>;
    /// The backend's own consistency check (for SQLite, `PRAGMA quick_check`) and values of
    /// the wrong type (text where bytes belong): each problem found, naming table and row;
    /// empty = none. Cheap enough to run whenever a park is opened.
    fn quick_check(&self) -> Result<Vec<String>, StoreError>;
}

/// What is derived from a [`Store`]'s required methods, the same for every backend: provided
/// here, for every store, and not overridable.
pub trait StoreExt: Store {
    /// [`Store::channels_packed`] with each row's values unpacked.
    fn channels(
        &self,
        meter: &str,
        size: u64,
        from: i64,
        to: i64,
        f: &mut ChannelVisitor<'_>,
    ) -> Result<(), StoreError> {
        self.channels_packed(meter, size, from, to, &mut |r| f(r.to_row(meter)?))
    }

    /// Every kept quarantine row, oldest first, raw bytes included ([`Store::scan_quarantine`]
    /// collected: for tests and small stores; listings use [`Store::quarantine_page`]).
    fn quarantined(&self) -> Result<Vec<Quarantined>, StoreError> {
        let mut out = Vec::new();
        self.scan_quarantine(&mut |r| {
            out.push(r.item);
            Ok(())
        })?;
        Ok(out)
    }

    /// How many kept quarantine rows `source` has.
    fn quarantine_rows_of(&self, source: &str) -> Result<u64, StoreError> {
        Ok(self
            .quarantine_counts(QuarantineFilter::Source(source))?
            .kept)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

#[doc(hidden)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub mod conformance;
