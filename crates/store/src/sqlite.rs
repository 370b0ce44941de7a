//! The embedded SQLite backend (bundled SQLite, WAL journal, `synchronous=FULL`).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tanji_ledger::{Hash, NodeSource};

use crate::channels::PACKING;
use crate::convert::{to_hash, to_i64, to_u64};
use crate::{
    pack, AppendBatch, ChannelRef, ChannelRow, EntryVisitor, NodeVisitor, PackedVisitor,
    QuarantineCounts, QuarantineFilter, QuarantineListing, QuarantineRow, QuarantineSummary,
    QuarantineVisitor, Quarantined, Span, Store, StoreError, StoredIssue, StoredUpload, UploadRow,
};

const SCHEMA_VERSION: &str = "1";

/// The reporting index (added to schema 1 stores when they are opened; see [`ChannelRow`]).
const CHANNELS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS channels (meter TEXT NOT NULL, start INTEGER NOT NULL, idx INTEGER NOT NULL,
    end INTEGER NOT NULL, device TEXT NOT NULL, seq INTEGER NOT NULL, interval_s INTEGER NOT NULL,
    unit TEXT NOT NULL, decimals INTEGER NOT NULL, vals BLOB NOT NULL,
    PRIMARY KEY (meter, start, idx)) WITHOUT ROWID;
";
/// Meta key saying the reporting index covers every entry; its value names the packing of
/// the values ([`PACKING`]), so an index packed otherwise counts as incomplete and is rebuilt.
const CHANNELS_COMPLETE: &str = "channels";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, kind INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_kind ON entries(kind, idx);
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (device TEXT NOT NULL, seq INTEGER NOT NULL, idx INTEGER NOT NULL,
    record_hash BLOB NOT NULL, prev BLOB NOT NULL, PRIMARY KEY (device, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spans (meter TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    idx INTEGER NOT NULL, PRIMARY KEY (meter, start)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS issues (id INTEGER PRIMARY KEY, idx INTEGER NOT NULL, code TEXT NOT NULL,
    message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL,
    source TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, device TEXT, seq INTEGER,
    raw BLOB NOT NULL, raw_len INTEGER NOT NULL);
";

/// The quarantine's summaries and source index (added to older stores when they are opened).
const QUARANTINE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS quarantine_summary (source TEXT NOT NULL, code TEXT NOT NULL,
    count INTEGER NOT NULL, bytes INTEGER NOT NULL, first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL, PRIMARY KEY (source, code)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS quarantine_source ON quarantine(source, id);
CREATE INDEX IF NOT EXISTS quarantine_device ON quarantine(device, id);
";

/// The columns that hold bytes, as (table, column, the row's name): a value of another type
/// there was written by something other than tanji.
const BYTE_COLUMNS: [(&str, &str, &str); 8] = [
    ("entries", "data", "'entry ' || idx"),
    ("nodes", "hash", "'node (' || level || ', ' || idx || ')'"),
    (
        "uploads",
        "record_hash",
        "'upload ' || device || '#' || seq",
    ),
    ("uploads", "prev", "'upload ' || device || '#' || seq"),
    ("blobs", "data", "'blob of ' || length(data) || ' bytes'"),
    ("blobs", "hash", "'blob of ' || length(data) || ' bytes'"),
    (
        "channels",
        "vals",
        "'meter ' || meter || ' at ' || start || ', entry ' || idx",
    ),
    ("quarantine", "raw", "'row ' || id"),
];

/// Makes a [`StoreError`] of a database error and what the store was doing.
pub(crate) type SqlError<'a> = dyn Fn(&str, rusqlite::Error) -> StoreError + 'a;

/// A park store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Creates a new store file; fails if one exists at `path`.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::Schema {
                path: path.display().to_string(),
                message: "a store already exists here; open it instead of creating it".into(),
            });
        }
        let store = Self::open_with(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        store
            .conn
            .execute_batch(SCHEMA)
            .and_then(|()| store.conn.execute_batch(CHANNELS_SCHEMA))
            .and_then(|()| store.conn.execute_batch(QUARANTINE_SCHEMA))
            .map_err(|e| store.err("creating the schema", e))?;
        store
            .conn
            .execute(
                "INSERT INTO meta(key, value) VALUES ('schema', ?1), (?2, ?3)",
                params![SCHEMA_VERSION, CHANNELS_COMPLETE, PACKING],
            )
            .map_err(|e| store.err("writing the schema version", e))?;
        Ok(store)
    }

    /// Opens an existing store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Schema {
                path: path.display().to_string(),
                message: "no store here; create the park first (`tanji init`)".into(),
            });
        }
        let store = Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        match store.meta("schema") {
            Ok(Some(v)) if v == SCHEMA_VERSION => {
                // Stores made before the reporting index get its (empty) table here; the park
                // fills it from the log (`Store::rebuild_channels`).
                store
                    .conn
                    .execute_batch(CHANNELS_SCHEMA)
                    .map_err(|e| store.err("adding the reporting index", e))?;
                store.upgrade_quarantine()?;
                Ok(store)
            }
            Ok(Some(v)) => Err(StoreError::Schema {
                path: path.display().to_string(),
                message: format!("schema version {v}, this build reads {SCHEMA_VERSION}"),
            }),
            Ok(None) => Err(StoreError::Schema {
                path: path.display().to_string(),
                message: "not a tanji store (no schema version)".into(),
            }),
            Err(e) => Err(StoreError::Schema {
                path: path.display().to_string(),
                message: format!(
                    "cannot be read ({e}): the file is damaged (truncated or overwritten) or not a tanji store; restore it from a backup"
                ),
            }),
        }
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| StoreError::Sqlite {
                path: path.display().to_string(),
                context: "opening".into(),
                source: e,
            })?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        // WAL with synchronous=FULL: a commit is fsynced before it returns, so an acknowledged
        // batch survives a process kill and a power cut.
        store
            .conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
            )
            .map_err(|e| store.err("setting durability pragmas", e))?;
        Ok(store)
    }

    /// Gives a quarantine made before rows kept a prefix of their bytes its `raw_len` column,
    /// and adds the summaries table and the listing indexes.
    fn upgrade_quarantine(&self) -> Result<(), StoreError> {
        let context = "adding the quarantine's summaries";
        let has_len: bool = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('quarantine') WHERE name = 'raw_len'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.err(context, e))?
            > 0;
        if !has_len {
            self.conn
                .execute_batch(
                    "ALTER TABLE quarantine ADD COLUMN raw_len INTEGER NOT NULL DEFAULT 0;
                     UPDATE quarantine SET raw_len = length(raw);",
                )
                .map_err(|e| self.err(context, e))?;
        }
        self.conn
            .execute_batch(QUARANTINE_SCHEMA)
            .map_err(|e| self.err(context, e))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, context: &str, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.display().to_string(),
            context: context.to_string(),
            source,
        }
    }

    /// Runs `write` in one transaction of this connection and commits it: durable when this
    /// returns `Ok` (`synchronous=FULL`), nothing of it written when it returns an error (the
    /// transaction is rolled back when dropped). `write` gets the transaction and the store's
    /// error maker (`err(context, source)`); `what` names the commit in its error.
    fn in_transaction<T>(
        &mut self,
        what: &str,
        write: impl FnOnce(&rusqlite::Transaction<'_>, &SqlError<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.display().to_string();
        let err = |context: &str, source: rusqlite::Error| StoreError::Sqlite {
            path: path.clone(),
            context: context.to_string(),
            source,
        };
        let tx = self
            .conn
            .transaction()
            .map_err(|e| err("starting a transaction", e))?;
        let out = write(&tx, &err)?;
        tx.commit()
            .map_err(|e| err(&format!("committing {what}"), e))?;
        Ok(out)
    }

    /// Direct access to the connection, for tests that must damage a store on purpose.
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn insert_quarantine(
    tx: &rusqlite::Transaction<'_>,
    items: &[Quarantined],
) -> rusqlite::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO quarantine(received_at, source, code, message, device, seq, raw, raw_len)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for q in items {
        // Sequence numbers beyond i64 cannot come from a decoded record; keep them as NULL.
        let seq = q.seq.and_then(|s| i64::try_from(s).ok());
        stmt.execute(params![
            q.received_at,
            q.source,
            q.code,
            q.message,
            q.device,
            seq,
            q.raw,
            i64::try_from(q.raw_len).unwrap_or(i64::MAX)
        ])?;
    }
    Ok(())
}

fn insert_channels(tx: &rusqlite::Transaction<'_>, rows: &[ChannelRow]) -> rusqlite::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO channels(meter, start, idx, end, device, seq, interval_s, unit, decimals, vals)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for r in rows {
        // Indices and sequence numbers beyond i64 cannot be logged (the append refuses them).
        let idx = i64::try_from(r.index).unwrap_or(i64::MAX);
        let seq = i64::try_from(r.seq).unwrap_or(i64::MAX);
        stmt.execute(params![
            r.meter,
            r.start,
            idx,
            r.end(),
            r.device,
            seq,
            r.interval_s,
            r.unit,
            r.decimals,
            pack(&r.values)
        ])?;
    }
    Ok(())
}

/// The columns of a quarantine listing (no raw bytes).
const LISTING: &str =
    "SELECT id, received_at, source, code, message, device, seq, raw_len FROM quarantine";

/// `items` as a JSON array of strings, for SQLite's `json_each`.
fn json_strings(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

fn set_seal(tx: &rusqlite::Transaction<'_>, seal: &str) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta(key, value) VALUES ('seal', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![seal],
    )
    .map(|_| ())
}

impl SqliteStore {
    fn quarantined_row(&self, row: &rusqlite::Row<'_>) -> Result<Quarantined, StoreError> {
        let get = |e| self.err("reading the quarantine", e);
        let seq: Option<i64> = row.get(5).map_err(get)?;
        let raw = match row.get_ref(6).map_err(get)? {
            rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
            rusqlite::types::ValueRef::Text(t) => t.to_vec(),
            _ => Vec::new(),
        };
        Ok(Quarantined {
            received_at: row.get(0).map_err(get)?,
            source: row.get(1).map_err(get)?,
            code: row.get(2).map_err(get)?,
            message: row.get(3).map_err(get)?,
            device: row.get(4).map_err(get)?,
            seq: seq.map(|s| to_u64(s, "sequence number")).transpose()?,
            raw,
            raw_len: to_u64(row.get(7).map_err(get)?, "raw length")?,
        })
    }

    fn listings(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        let context = "listing the quarantine";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt.query(params).map_err(|e| self.err(context, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let get = |e| self.err(context, e);
            let seq: Option<i64> = row.get(6).map_err(get)?;
            out.push(QuarantineListing {
                id: to_u64(row.get(0).map_err(get)?, "quarantine row id")?,
                received_at: row.get(1).map_err(get)?,
                source: row.get(2).map_err(get)?,
                code: row.get(3).map_err(get)?,
                message: row.get(4).map_err(get)?,
                device: row.get(5).map_err(get)?,
                seq: seq.map(|s| to_u64(s, "sequence number")).transpose()?,
                raw_len: to_u64(row.get(7).map_err(get)?, "raw length")?,
            });
        }
        Ok(out)
    }
}

impl NodeSource for SqliteStore {
    type Error = StoreError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM nodes WHERE level = ?1 AND idx = ?2")
            .map_err(|e| self.err("reading a node", e))?;
        let bytes: Option<Vec<u8>> = stmt
            .query_row(params![level, to_i64(index, "node index")?], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("reading a node", e))?;
        let bytes =
            bytes.ok_or_else(|| StoreError::NotFound(format!("node ({level}, {index})")))?;
        to_hash(&bytes, &|| format!("node ({level}, {index})"))
    }
}

impl Store for SqliteStore {
    fn read_snapshot(&self) -> Result<crate::ReadSnapshot<'_>, StoreError> {
        self.conn
            .unchecked_transaction()
            .map(crate::ReadSnapshot::holding)
            .map_err(|e| self.err("starting a read transaction", e))
    }

    fn channels_packed(
        &self,
        meter: &str,
        size: u64,
        from: i64,
        to: i64,
        f: &mut PackedVisitor<'_>,
    ) -> Result<(), StoreError> {
        let context = "reading the reporting index";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT start, idx, device, seq, interval_s, unit, decimals, vals FROM channels
                 WHERE meter = ?1 AND start < ?2 AND end > ?3 AND idx < ?4 ORDER BY start, idx",
            )
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt
            .query(params![meter, to, from, to_i64(size, "tree size")?])
            .map_err(|e| self.err(context, e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let get = |e| self.err(context, e);
            let start: i64 = row.get(0).map_err(get)?;
            let text = |i: usize, what: &str| -> Result<&str, StoreError> {
                row.get_ref(i).map_err(get)?.as_str().map_err(|e| {
                    StoreError::Corrupt(format!(
                        "reporting index row of meter {meter} at {start}, {what}: {e}"
                    ))
                })
            };
            f(ChannelRef {
                index: to_u64(row.get(1).map_err(get)?, "entry index")?,
                device: text(2, "device")?,
                seq: to_u64(row.get(3).map_err(get)?, "sequence number")?,
                start,
                interval_s: row.get(4).map_err(get)?,
                unit: text(5, "unit")?,
                decimals: row.get(6).map_err(get)?,
                packed: row.get_ref(7).map_err(get)?.as_blob().map_err(|e| {
                    StoreError::Corrupt(format!(
                        "reporting index row of meter {meter} at {start}: {e}"
                    ))
                })?,
            })?;
        }
        Ok(())
    }

    fn channels_extent(&self, meter: &str, size: u64) -> Result<Option<(i64, i64)>, StoreError> {
        let context = "reading the reporting index";
        let size = to_i64(size, "tree size")?;
        // Two walks of the primary key (meter, start, idx), one from each end.
        let edge = |sql: &str| -> Result<Option<(i64, i64)>, StoreError> {
            let mut stmt = self
                .conn
                .prepare_cached(sql)
                .map_err(|e| self.err(context, e))?;
            stmt.query_row(params![meter, size], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(|e| self.err(context, e))
        };
        let first = edge(
            "SELECT start, end FROM channels WHERE meter = ?1 AND idx < ?2 ORDER BY start, idx LIMIT 1",
        )?;
        let last = edge(
            "SELECT start, end FROM channels WHERE meter = ?1 AND idx < ?2 ORDER BY start DESC, idx DESC LIMIT 1",
        )?;
        Ok(first.zip(last).map(|((s, _), (_, e))| (s, e)))
    }

    fn channels_complete(&self) -> Result<bool, StoreError> {
        Ok(self.meta(CHANNELS_COMPLETE)?.as_deref() == Some(PACKING))
    }

    fn rebuild_channels(&mut self, rows: &[ChannelRow]) -> Result<(), StoreError> {
        self.in_transaction("the reporting index", |tx, err| {
            tx.execute("DELETE FROM channels", [])
                .map_err(|e| err("clearing the reporting index", e))?;
            insert_channels(tx, rows).map_err(|e| err("rebuilding the reporting index", e))?;
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![CHANNELS_COMPLETE, PACKING],
            )
            .map_err(|e| err("marking the reporting index complete", e))?;
            Ok(())
        })
    }

    fn device_seqs(&self, device: &str, size: u64) -> Result<Vec<u64>, StoreError> {
        let context = "reading the upload index";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq FROM uploads WHERE device = ?1 AND idx < ?2 ORDER BY seq")
            .map_err(|e| self.err(context, e))?;
        let rows = stmt
            .query_map(params![device, to_i64(size, "tree size")?], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(|e| self.err(context, e))?;
        rows.map(|r| to_u64(r.map_err(|e| self.err(context, e))?, "sequence number"))
            .collect()
    }

    fn nodes(&self, wanted: &[(u8, u64)]) -> Result<Vec<Hash>, StoreError> {
        // Each read is a lookup in the file: no round trip to save.
        wanted.iter().map(|&(l, i)| self.node(l, i)).collect()
    }

    fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError> {
        let context = "reading leaf hashes";
        let mut stmt = self
            .conn
            .prepare_cached("SELECT idx, hash FROM nodes WHERE level = 0 AND idx < ?1 ORDER BY idx")
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt
            .query(params![to_i64(size, "tree size")?])
            .map_err(|e| self.err(context, e))?;
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let idx = to_u64(row.get(0).map_err(|e| self.err(context, e))?, "node index")?;
            if idx != out.len() as u64 {
                return Err(StoreError::NotFound(format!("node (0, {})", out.len())));
            }
            let bytes = row
                .get_ref(1)
                .map_err(|e| self.err(context, e))?
                .as_blob()
                .map_err(|e| StoreError::Corrupt(format!("node (0, {idx}): {e}")))?;
            out.push(to_hash(bytes, &|| format!("node (0, {idx})"))?);
        }
        if (out.len() as u64) < size {
            return Err(StoreError::NotFound(format!("node (0, {})", out.len())));
        }
        Ok(out)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err("reading metadata", e))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err("writing metadata", e))?;
        Ok(())
    }

    fn size(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .conn
            .query_row("SELECT MAX(idx) FROM entries", [], |r| r.get(0))
            .map_err(|e| self.err("counting entries", e))?;
        match n {
            None => Ok(0),
            Some(max) => Ok(to_u64(max, "entry index")? + 1),
        }
    }

    fn entry(&self, index: u64) -> Result<Vec<u8>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT data FROM entries WHERE idx = ?1")
            .map_err(|e| self.err("reading an entry", e))?;
        stmt.query_row(params![to_i64(index, "entry index")?], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("reading an entry", e))?
            .ok_or_else(|| StoreError::NotFound(format!("entry {index}")))
    }

    fn scan_entries(
        &self,
        start: u64,
        end: u64,
        f: &mut EntryVisitor<'_>,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")
            .map_err(|e| self.err("scanning entries", e))?;
        let mut rows = stmt
            .query(params![to_i64(start, "index")?, to_i64(end, "index")?])
            .map_err(|e| self.err("scanning entries", e))?;
        let mut expected = start;
        while let Some(row) = rows.next().map_err(|e| self.err("scanning entries", e))? {
            let idx: i64 = row.get(0).map_err(|e| self.err("scanning entries", e))?;
            let idx = to_u64(idx, "entry index")?;
            if idx != expected {
                return Err(StoreError::Corrupt(format!(
                    "entry {expected} is missing (next stored entry is {idx})"
                )));
            }
            // A value stored as text is handed on as its bytes: `quick_check` names its type.
            let data = match row
                .get_ref(1)
                .map_err(|e| self.err("scanning entries", e))?
            {
                rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b,
                _ => &[],
            };
            f(idx, data)?;
            expected += 1;
        }
        if expected != end {
            return Err(StoreError::Corrupt(format!(
                "entry {expected} is missing (the log should hold {end} entries)"
            )));
        }
        Ok(())
    }

    fn scan_nodes(&self, f: &mut NodeVisitor<'_>) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT level, idx, hash FROM nodes ORDER BY level, idx")
            .map_err(|e| self.err("scanning nodes", e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err("scanning nodes", e))?;
        while let Some(row) = rows.next().map_err(|e| self.err("scanning nodes", e))? {
            let level: i64 = row.get(0).map_err(|e| self.err("scanning nodes", e))?;
            let idx: i64 = row.get(1).map_err(|e| self.err("scanning nodes", e))?;
            let level = u8::try_from(level)
                .map_err(|_| StoreError::Corrupt(format!("node level {level} is out of range")))?;
            let hash = row
                .get_ref(2)
                .and_then(|v| v.as_blob().map_err(Into::into))
                .map_err(|e| self.err("scanning nodes", e))?;
            f(level, to_u64(idx, "node index")?, hash)?;
        }
        Ok(())
    }

    fn entries_of_kind(&self, kind: u8) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT idx FROM entries WHERE kind = ?1 ORDER BY idx")
            .map_err(|e| self.err("listing entries", e))?;
        let rows = stmt
            .query_map(params![kind], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err("listing entries", e))?;
        rows.map(|r| {
            r.map_err(|e| self.err("listing entries", e))
                .and_then(|i| to_u64(i, "entry index"))
        })
        .collect()
    }

    fn uploads(&self) -> Result<Vec<StoredUpload>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT device, seq, idx, record_hash, prev FROM uploads ORDER BY idx")
            .map_err(|e| self.err("reading the upload index", e))?;
        let mut rows = stmt
            .query([])
            .map_err(|e| self.err("reading the upload index", e))?;
        let mut spans: std::collections::HashMap<i64, Vec<Span>> = std::collections::HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT meter, start, end, idx FROM spans ORDER BY idx, meter, start")
                .map_err(|e| self.err("reading upload spans", e))?;
            let mut rows = stmt
                .query([])
                .map_err(|e| self.err("reading upload spans", e))?;
            while let Some(row) = rows
                .next()
                .map_err(|e| self.err("reading upload spans", e))?
            {
                let get = |e| self.err("reading upload spans", e);
                spans
                    .entry(row.get(3).map_err(get)?)
                    .or_default()
                    .push(Span {
                        meter: row.get(0).map_err(get)?,
                        start: row.get(1).map_err(get)?,
                        end: row.get(2).map_err(get)?,
                    });
            }
        }
        let mut out = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(|e| self.err("reading the upload index", e))?
        {
            let get = |e| self.err("reading the upload index", e);
            let device: String = row.get(0).map_err(get)?;
            let seq: i64 = row.get(1).map_err(get)?;
            let idx: i64 = row.get(2).map_err(get)?;
            let rh: Vec<u8> = row.get(3).map_err(get)?;
            let prev: Vec<u8> = row.get(4).map_err(get)?;
            let name = || format!("upload index row {device}#{seq}");
            out.push(StoredUpload {
                row: UploadRow {
                    seq: to_u64(seq, "sequence number")?,
                    record_hash: to_hash(&rh, &name)?,
                    prev: to_hash(&prev, &name)?,
                    spans: spans.remove(&idx).unwrap_or_default(),
                    device,
                },
                index: to_u64(idx, "entry index")?,
            });
        }
        Ok(out)
    }

    fn latest_checkpoint(&self) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err("reading the latest checkpoint", e))
    }

    fn checkpoints(&self) -> Result<Vec<(u64, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT size, note FROM checkpoints ORDER BY size")
            .map_err(|e| self.err("reading checkpoints", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err("reading checkpoints", e))?;
        rows.map(|r| {
            let (s, n) = r.map_err(|e| self.err("reading checkpoints", e))?;
            Ok((to_u64(s, "checkpoint size")?, n))
        })
        .collect()
    }

    fn append(&mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        let size = self.size()?;
        if batch.start != size {
            return Err(StoreError::NotContiguous {
                batch_start: batch.start,
                size,
            });
        }
        self.in_transaction("the batch", |tx, err| {
            let mut ins_entry = tx
                .prepare_cached("INSERT INTO entries(idx, kind, data) VALUES (?1, ?2, ?3)")
                .map_err(|e| err("preparing", e))?;
            let mut ins_upload = tx
                .prepare_cached(
                    "INSERT INTO uploads(device, seq, idx, record_hash, prev) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| err("preparing", e))?;
            let mut ins_span = tx
                .prepare_cached("INSERT INTO spans(meter, start, end, idx) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|e| err("preparing", e))?;
            let mut ins_node = tx
                .prepare_cached("INSERT INTO nodes(level, idx, hash) VALUES (?1, ?2, ?3)")
                .map_err(|e| err("preparing", e))?;
            let mut ins_issue = tx
                .prepare_cached("INSERT INTO issues(idx, code, message) VALUES (?1, ?2, ?3)")
                .map_err(|e| err("preparing", e))?;
            for (i, e) in batch.entries.iter().enumerate() {
                let idx = to_i64(size + i as u64, "entry index")?;
                ins_entry
                    .execute(params![idx, e.kind, e.data])
                    .map_err(|e| err("writing an entry", e))?;
                if let Some(u) = &e.upload {
                    let seq = i64::try_from(u.seq).map_err(|_| {
                        StoreError::Refused(format!(
                            "sequence number {} of device {} (entry {idx}): above 2^63 − 1",
                            u.seq, u.device
                        ))
                    })?;
                    ins_upload
                        .execute(params![u.device, seq, idx, &u.record_hash[..], &u.prev[..]])
                        .map_err(|e| err("indexing an upload", e))?;
                    for sp in &u.spans {
                        ins_span
                            .execute(params![sp.meter, sp.start, sp.end, idx])
                            .map_err(|e| err("indexing an upload's spans", e))?;
                    }
                }
            }
            insert_channels(tx, &batch.channels).map_err(|e| err("indexing channels", e))?;
            for (level, index, hash) in &batch.nodes {
                ins_node
                    .execute(params![level, to_i64(*index, "node index")?, &hash[..]])
                    .map_err(|e| err("writing a node", e))?;
            }
            for issue in &batch.issues {
                ins_issue
                    .execute(params![
                        to_i64(issue.index, "entry index")?,
                        issue.code,
                        issue.message
                    ])
                    .map_err(|e| err("writing a data issue", e))?;
            }
            for (hash, data) in &batch.blobs {
                tx.execute(
                    "INSERT INTO blobs(hash, data) VALUES (?1, ?2) ON CONFLICT(hash) DO NOTHING",
                    params![&hash[..], data],
                )
                .map_err(|e| err("writing a blob", e))?;
            }
            insert_quarantine(tx, &batch.quarantine)
                .map_err(|e| err("writing the quarantine", e))?;
            if !batch.seal.is_empty() {
                set_seal(tx, &batch.seal).map_err(|e| err("writing the seal", e))?;
            }
            let new_size = size + batch.entries.len() as u64;
            tx.execute(
                "INSERT INTO checkpoints(size, note) VALUES (?1, ?2)
                 ON CONFLICT(size) DO UPDATE SET note = excluded.note",
                params![to_i64(new_size, "size")?, batch.checkpoint],
            )
            .map_err(|e| err("writing the checkpoint", e))?;
            Ok(())
        })
    }

    fn quarantine(&mut self, items: &[Quarantined]) -> Result<(), StoreError> {
        self.in_transaction("the quarantine", |tx, err| {
            insert_quarantine(tx, items).map_err(|e| err("writing the quarantine", e))
        })
    }

    fn scan_quarantine(&self, f: &mut QuarantineVisitor<'_>) -> Result<(), StoreError> {
        let context = "reading the quarantine";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT received_at, source, code, message, device, seq, raw, raw_len, id FROM quarantine ORDER BY id",
            )
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(context, e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let item = self.quarantined_row(row)?;
            let id: i64 = row.get(8).map_err(|e| self.err(context, e))?;
            f(QuarantineRow {
                id: to_u64(id, "quarantine row id")?,
                item,
            })?;
        }
        Ok(())
    }

    fn quarantine_page(
        &self,
        before: Option<u64>,
        limit: usize,
        devices: Option<&[String]>,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        let before = before.map_or(Ok(i64::MAX), |b| to_i64(b, "cursor"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match devices {
            None => self.listings(
                &format!("{LISTING} WHERE id < ?1 ORDER BY id DESC LIMIT ?2"),
                params![before, limit],
            ),
            Some(ds) => {
                let list = json_strings(ds);
                self.listings(
                    &format!(
                        "{LISTING} WHERE id < ?1 AND device IN (SELECT value FROM json_each(?3))
                         ORDER BY id DESC LIMIT ?2"
                    ),
                    params![before, limit, list],
                )
            }
        }
    }

    fn quarantine_oldest(
        &self,
        source: Option<&str>,
        older_than: Option<i64>,
        limit: usize,
    ) -> Result<Vec<QuarantineListing>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let older = older_than.unwrap_or(i64::MAX);
        match source {
            Some(src) => self.listings(
                &format!("{LISTING} WHERE source = ?1 AND received_at < ?2 ORDER BY id LIMIT ?3"),
                params![src, older, limit],
            ),
            None => self.listings(
                &format!("{LISTING} WHERE received_at < ?1 ORDER BY id LIMIT ?2"),
                params![older, limit],
            ),
        }
    }

    fn quarantine_counts(&self, of: QuarantineFilter<'_>) -> Result<QuarantineCounts, StoreError> {
        let context = "counting the quarantine";
        // One statement per filter, so that each uses its index (device, source).
        let (sql, arg) = match of {
            QuarantineFilter::All => ("SELECT code, COUNT(*) FROM quarantine GROUP BY code", None),
            QuarantineFilter::Devices(ds) => (
                "SELECT code, COUNT(*) FROM quarantine
                 WHERE device IN (SELECT value FROM json_each(?1)) GROUP BY code",
                Some(json_strings(ds)),
            ),
            QuarantineFilter::Source(src) => (
                "SELECT code, COUNT(*) FROM quarantine WHERE source = ?1 GROUP BY code",
                Some(src.to_string()),
            ),
        };
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(arg.iter()))
            .map_err(|e| self.err(context, e))?;
        let mut out = QuarantineCounts::default();
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let code: String = row.get(0).map_err(|e| self.err(context, e))?;
            let n = to_u64(row.get(1).map_err(|e| self.err(context, e))?, "row count")?;
            out.kept += n;
            out.by_code.insert(code, n);
        }
        Ok(out)
    }

    fn quarantine_summaries(&self) -> Result<Vec<QuarantineSummary>, StoreError> {
        let context = "reading the quarantine's summaries";
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT source, code, count, bytes, first_at, last_at FROM quarantine_summary
                 ORDER BY source, code",
            )
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(context, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let get = |e| self.err(context, e);
            out.push(QuarantineSummary {
                source: row.get(0).map_err(get)?,
                code: row.get(1).map_err(get)?,
                count: to_u64(row.get(2).map_err(get)?, "summary count")?,
                bytes: to_u64(row.get(3).map_err(get)?, "summary bytes")?,
                first_at: row.get(4).map_err(get)?,
                last_at: row.get(5).map_err(get)?,
            });
        }
        Ok(out)
    }

    fn summarise_quarantine(
        &mut self,
        ids: &[u64],
        summaries: &[QuarantineSummary],
        seal: &str,
    ) -> Result<(), StoreError> {
        self.in_transaction("the quarantine's summaries", |tx, err| {
            let mut del = tx
                .prepare_cached("DELETE FROM quarantine WHERE id = ?1")
                .map_err(|e| err("summarising the quarantine", e))?;
            for id in ids {
                del.execute(params![to_i64(*id, "quarantine row id")?])
                    .map_err(|e| err("summarising the quarantine", e))?;
            }
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO quarantine_summary(source, code, count, bytes, first_at, last_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(source, code) DO UPDATE SET
                     count = excluded.count, bytes = excluded.bytes,
                     first_at = excluded.first_at, last_at = excluded.last_at",
                )
                .map_err(|e| err("writing the quarantine's summaries", e))?;
            for s in summaries {
                put.execute(params![
                    s.source,
                    s.code,
                    to_i64(s.count, "summary count")?,
                    to_i64(s.bytes, "summary bytes")?,
                    s.first_at,
                    s.last_at
                ])
                .map_err(|e| err("writing the quarantine's summaries", e))?;
            }
            set_seal(tx, seal).map_err(|e| err("writing the seal", e))
        })
    }

    fn scan_channels(&self, f: &mut crate::ChannelVisitor<'_>) -> Result<(), StoreError> {
        let context = "reading the reporting index";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT meter, start, idx, device, seq, interval_s, unit, decimals, vals, end
                 FROM channels ORDER BY idx, meter, start",
            )
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(context, e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let get = |e| self.err(context, e);
            let meter: String = row.get(0).map_err(get)?;
            let start: i64 = row.get(1).map_err(get)?;
            let index = to_u64(row.get(2).map_err(get)?, "entry index")?;
            let name = || format!("reporting index row of meter {meter} at {start}, entry {index}");
            let vals = row.get_ref(8).map_err(get)?;
            let packed = match vals {
                rusqlite::types::ValueRef::Blob(b) => b,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "{}: values stored as {:?}, not bytes",
                        name(),
                        other.data_type()
                    )))
                }
            };
            let r = ChannelRow {
                index,
                device: row.get(3).map_err(get)?,
                seq: to_u64(row.get(4).map_err(get)?, "sequence number")?,
                start,
                interval_s: row.get(5).map_err(get)?,
                unit: row.get(6).map_err(get)?,
                decimals: row.get(7).map_err(get)?,
                values: crate::unpack(packed, &name)?,
                meter: meter.clone(),
            };
            let end: i64 = row.get(9).map_err(get)?;
            if end != r.end() {
                return Err(StoreError::Corrupt(format!(
                    "{}: ends at {end}, its values end at {}",
                    name(),
                    r.end()
                )));
            }
            f(r)?;
        }
        Ok(())
    }

    fn spans(&self) -> Result<Vec<(u64, Span)>, StoreError> {
        let context = "reading upload spans";
        let mut stmt = self
            .conn
            .prepare("SELECT meter, start, end, idx FROM spans ORDER BY idx, meter, start")
            .map_err(|e| self.err(context, e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(context, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| self.err(context, e))? {
            let get = |e| self.err(context, e);
            out.push((
                to_u64(row.get(3).map_err(get)?, "entry index")?,
                Span {
                    meter: row.get(0).map_err(get)?,
                    start: row.get(1).map_err(get)?,
                    end: row.get(2).map_err(get)?,
                },
            ));
        }
        Ok(out)
    }

    fn quick_check(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let file = self.path.display().to_string();
        let check: Result<Vec<String>, rusqlite::Error> = self
            .conn
            .prepare("PRAGMA quick_check")
            .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect());
        match check {
            Ok(lines) if lines == ["ok"] => {}
            Ok(lines) => {
                for l in lines.iter().take(10) {
                    out.push(format!("{file}: SQLite's quick_check: {l}"));
                }
                return Ok(out);
            }
            Err(e) => {
                out.push(format!(
                    "{file}: SQLite's quick_check cannot read the file: {e}"
                ));
                return Ok(out);
            }
        }
        for (table, column, name) in BYTE_COLUMNS {
            let sql = format!(
                "SELECT {name}, typeof({column}) FROM {table} WHERE typeof({column}) != 'blob' LIMIT 10"
            );
            let rows: Result<Vec<(String, String)>, rusqlite::Error> = self
                .conn
                .prepare(&sql)
                .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect());
            let rows = rows.map_err(|e| self.err(&format!("checking the {table} table"), e))?;
            for (row, ty) in rows {
                out.push(format!(
                    "{table} table, {row}: {column} is stored as {ty}, not as bytes (the database was edited outside tanji)"
                ));
            }
        }
        Ok(out)
    }

    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row(
                "SELECT data FROM blobs WHERE hash = ?1",
                params![&hash[..]],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err("reading a blob", e))
    }

    fn add_cosignatures(
        &mut self,
        size: u64,
        rows: &[(String, String)],
        seal: &str,
    ) -> Result<(), StoreError> {
        self.in_transaction("cosignatures", |tx, err| {
            crate::cosigned::add(tx, err, size, rows)?;
            if !seal.is_empty() {
                set_seal(tx, seal).map_err(|e| err("writing the seal", e))?;
            }
            Ok(())
        })
    }

    fn cosignatures(&self, size: u64) -> Result<Vec<String>, StoreError> {
        crate::cosigned::lines(&self.conn, &self.path.display().to_string(), size)
    }

    fn latest_cosigned(&self, witness: Option<&str>) -> Result<Option<u64>, StoreError> {
        crate::cosigned::latest(&self.conn, &self.path.display().to_string(), witness)
    }

    fn issues(&self) -> Result<Vec<StoredIssue>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT idx, code, message FROM issues ORDER BY idx, id")
            .map_err(|e| self.err("reading data issues", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(|e| self.err("reading data issues", e))?;
        rows.map(|r| {
            let (idx, code, message) = r.map_err(|e| self.err("reading data issues", e))?;
            Ok(StoredIssue {
                index: to_u64(idx, "entry index")?,
                code,
                message,
            })
        })
        .collect()
    }
}
