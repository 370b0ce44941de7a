//! [`AnyStore`]: a park's store on whichever backend its directory names, and [`StoreAt`]:
//! where that is.
//!
//! An enum rather than a `Box<dyn Store>`: the park, the server's reader pool and its
//! sequencer stay one concrete, `Send` type (no trait objects in signatures, no
//! `NodeSource<Error = …>` bound to restate), and what only one backend has — PostgreSQL's
//! writer lease — is reached by matching on the variant instead of by downcasting.

use std::path::{Path, PathBuf};

use tanji_ledger::{Hash, NodeSource};

use crate::{
    AppendBatch, ChannelVisitor, EntryVisitor, Lease, NodeVisitor, PackedVisitor, PgLocation,
    PostgresStore, QuarantineCounts, QuarantineFilter, QuarantineListing, QuarantineSummary,
    QuarantineVisitor, Quarantined, ReadSnapshot, Span, SqliteStore, Store, StoreError,
    StoredIssue, StoredUpload,
};

/// Where a park's store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAt {
    /// A SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// Park `park` in a PostgreSQL database.
    Postgres {
        /// The database and schema.
        at: PgLocation,
        /// The park's name there.
        park: String,
    },
}

impl StoreAt {
    /// Opens the store.
    pub fn open(&self) -> Result<AnyStore, StoreError> {
        Ok(match self {
            StoreAt::Sqlite(path) => AnyStore::Sqlite(SqliteStore::open(path)?),
            StoreAt::Postgres { at, park } => {
                AnyStore::Postgres(Box::new(PostgresStore::open(at, park)?))
            }
        })
    }

    /// Creates the store (a new file, or the park in the database); fails if it exists.
    pub fn create(&self) -> Result<AnyStore, StoreError> {
        Ok(match self {
            StoreAt::Sqlite(path) => AnyStore::Sqlite(SqliteStore::create(path)?),
            StoreAt::Postgres { at, park } => {
                AnyStore::Postgres(Box::new(PostgresStore::create(at, park)?))
            }
        })
    }

    /// The SQLite file, if the store is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StoreAt::Sqlite(path) => Some(path),
            StoreAt::Postgres { .. } => None,
        }
    }
}

impl std::fmt::Display for StoreAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreAt::Sqlite(path) => write!(f, "{}", path.display()),
            StoreAt::Postgres { at, park } => write!(
                f,
                "park {park} in {} (schema {})",
                crate::postgres::redact(&at.url),
                at.schema
            ),
        }
    }
}

/// A park's store on either backend.
#[derive(Debug)]
pub enum AnyStore {
    /// One SQLite file.
    Sqlite(SqliteStore),
    /// One park in a PostgreSQL database.
    Postgres(Box<PostgresStore>),
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        AnyStore::Sqlite(s)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(s: PostgresStore) -> Self {
        AnyStore::Postgres(Box::new(s))
    }
}

impl AnyStore {
    /// Takes (or renews) the park's writer lease for `holder` on a PostgreSQL store, fencing
    /// every later write of this handle by it ([`PostgresStore::take_lease`]); `None` when
    /// another holder's lease is valid. A SQLite store has no lease (its writer is the one
    /// process holding the directory's lock): `Some` with token 0.
    pub fn take_lease(
        &mut self,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<Lease>, StoreError> {
        match self {
            AnyStore::Sqlite(_) => Ok(Some(Lease {
                holder: holder.to_string(),
                token: 0,
            })),
            AnyStore::Postgres(s) => s.take_lease(holder, ttl),
        }
    }

    /// The writer lease this store's writes are fenced by, if it is on PostgreSQL and took
    /// one.
    pub fn lease(&self) -> Option<&Lease> {
        match self {
            AnyStore::Sqlite(_) => None,
            AnyStore::Postgres(s) => s.lease(),
        }
    }

    /// The SQLite store, if this is one.
    pub fn sqlite(&self) -> Option<&SqliteStore> {
        match self {
            AnyStore::Sqlite(s) => Some(s),
            AnyStore::Postgres(_) => None,
        }
    }

    /// The PostgreSQL store, if this is one.
    pub fn postgres(&mut self) -> Option<&mut PostgresStore> {
        match self {
            AnyStore::Sqlite(_) => None,
            AnyStore::Postgres(s) => Some(&mut **s),
        }
    }
}

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($s) => $call,
            AnyStore::Postgres($s) => $call,
        }
    };
}

impl NodeSource for AnyStore {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        each!(self, s => s.node(level, index))
    }
}

impl Store for AnyStore {
    fn append(&mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        each!(self, s => s.append(batch))
    }
    fn quarantine(&mut self, items: &[Quarantined]) -> Result<(), StoreError> {
        each!(self, s => s.quarantine(items))
    }
    fn summarise_quarantine(
        &mut self,
        ids: &[u64],
        summaries: &[QuarantineSummary],
        seal: &str,
    ) -> Result<(), StoreError> {
        each!(self, s => s.summarise_quarantine(ids, summaries, seal))
    }
    fn rebuild_channels(&mut self, rows: &[crate::ChannelRow]) -> Result<(), StoreError> {
        each!(self, s => s.rebuild_channels(rows))
    }
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        each!(self, s => s.set_meta(key, value))
    }
    fn add_cosignatures(
        &mut self,
        size: u64,
        rows: &[(String, String)],
        seal: &str,
    ) -> Result<(), StoreError> {
        each!(self, s => s.add_cosignatures(size, rows, seal))
    }
    fn size(&self) -> Result<u64, StoreError> {
        each!(self, s => s.size())
    }
    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        each!(self, s => s.entry(index))
    }
    fn scan_entries(
        &self,
        start: u64,
        end: u64,
        f: &mut EntryVisitor<'_>,
    ) -> Result<(), StoreError> {
        each!(self, s => s.scan_entries(start, end, f))
    }
    fn entries_of_kind(&self, kind: u8) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.entries_of_kind(kind))
    }
    fn scan_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), StoreError> {
        each!(self, s => s.scan_nodes(f))
    }
    fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError> {
        each!(self, s => s.leaf_hashes(size))
    }
    fn nodes(&self, wanted: &[(u8, u64)]) -> Result<Vec<Hash>, StoreError> {
        each!(self, s => s.nodes(wanted))
    }
    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        each!(self, s => s.latest_checkpoint())
    }
    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        each!(self, s => s.checkpoints())
    }
    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        each!(self, s => s.blob(hash))
    }
    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError> {
        each!(self, s => s.cosignatures(size))
    }
    fn latest_cosigned(&self, witness: Option<&str>) -> Result<Option<u64>, StoreError> {
        each!(self, s => s.latest_cosigned(witness))
    }
    fn uploads(&self) -> Result<Vec<StoredUpload>, StoreError> {
        each!(self, s => s.uploads())
    }
    fn device_seqs(&self, device: &str, size: u64) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.device_seqs(device, size))
    }
    fn spans(&self) -> Result<Vec<(u64, Span)>, StoreError> {
        each!(self, s => s.spans())
    }
    fn channels_packed(
        &self,
        meter: &str,
        size: u64,
        from: i64,
        to: i64,
        f: &mut PackedVisitor<'_>,
    ) -> Result<(), StoreError> {
        each!(self, s => s.channels_packed(meter, size, from, to, f))
    }
    fn channels_extent(&self, meter: &str, size: u64) -> Result<Option<(i64, i64)>, StoreError> {
        each!(self, s => s.channels_extent(meter, size))
    }
    fn scan_channels(&self, f: &mut ChannelVisitor<'_>) -> Result<(), StoreError> {
        each!(self, s => s.scan_channels(f))
    }
    fn channels_complete(&self) -> Result<bool, StoreError> {
        each!(self, s => s.channels_complete())
    }
    fn issues(&self) -> Result<Vec<StoredIssue>, StoreError> {
        each!(self, s => s.issues())
    }
    fn scan_quarantine(&self, f: &mut QuarantineVisitor<'_>) -> Result<(), StoreError> {
        each!(self, s => s.scan_quarantine(f))
    }
    fn quarantine_page(
        &self,
        before: Option<u64>,
        limit: usize,
        devices: Option<&[String]>,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        each!(self, s => s.quarantine_page(before, limit, devices))
    }
    fn quarantine_oldest(
        &self,
        source: Option<&str>,
        older_than: Option<i64>,
        limit: usize,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        each!(self, s => s.quarantine_oldest(source, older_than, limit))
    }
    fn quarantine_counts(&self, of: QuarantineFilter<'_>) -> Result<QuarantineCounts, StoreError> {
        each!(self, s => s.quarantine_counts(of))
    }
    fn quarantine_summaries(&self) -> Result<Vec<QuarantineSummary>, StoreError> {
        each!(self, s => s.quarantine_summaries())
    }
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        each!(self, s => s.meta(key))
    }
    fn read_snapshot(&self) -> Result<ReadSnapshot<'_>, StoreError> {
        each!(self, s => s.read_snapshot())
    }
    fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        each!(self, s => s.quick_check())
    }
}
