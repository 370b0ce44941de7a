//! The witness's durable state: for each log it witnesses (by origin), the log's verifier keys
//! and the size and root of the latest checkpoint it cosigned. One SQLite file (bundled SQLite,
//! WAL, `synchronous=FULL`), so an update is on disk when its commit returns.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use tanji_ledger::{Hash, NoteVerifier};

use crate::WitnessError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL DEFAULT 0,
    root BLOB, updated_at INTEGER);
CREATE TABLE IF NOT EXISTS log_keys (origin TEXT NOT NULL REFERENCES logs(origin),
    vkey TEXT NOT NULL, PRIMARY KEY (origin, vkey)) WITHOUT ROWID;
";
const SCHEMA_VERSION: &str = "1";

/// What the witness knows of one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogState {
    /// The log's origin line.
    pub origin: String,
    /// The verifier keys the witness trusts for this origin.
    pub keys: Vec<NoteVerifier>,
    /// The size of the latest checkpoint it cosigned (0 if none).
    pub size: u64,
    /// The root of that checkpoint (`None` if it never cosigned one).
    pub root: Option<Hash>,
}

/// The state database.
pub(crate) struct Db {
    conn: Connection,
    path: PathBuf,
}

impl Db {
    fn sql(&self, context: &str) -> impl Fn(rusqlite::Error) -> WitnessError + '_ {
        let context = context.to_string();
        move |source| WitnessError::Sqlite {
            path: self.path.display().to_string(),
            context: context.clone(),
            source,
        }
    }

    fn open_with(path: &Path, flags: OpenFlags) -> Result<Self, WitnessError> {
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| WitnessError::Sqlite {
                path: path.display().to_string(),
                context: "opening the state database".into(),
                source,
            })?;
        let db = Db {
            conn,
            path: path.to_path_buf(),
        };
        db.conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
            )
            .map_err(db.sql("setting durability pragmas"))?;
        Ok(db)
    }

    /// Creates a new state database; fails if one exists.
    pub(crate) fn create(path: &Path) -> Result<Self, WitnessError> {
        if path.exists() {
            return Err(WitnessError::Directory(format!(
                "{} already exists; a witness's state is never recreated over an old one",
                path.display()
            )));
        }
        let db = Self::open_with(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        db.conn
            .execute_batch(SCHEMA)
            .map_err(db.sql("creating the schema"))?;
        db.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES ('schema', ?1)",
                params![SCHEMA_VERSION],
            )
            .map_err(db.sql("writing the schema version"))?;
        Ok(db)
    }

    /// Opens an existing state database.
    pub(crate) fn open(path: &Path) -> Result<Self, WitnessError> {
        if !path.exists() {
            return Err(WitnessError::Directory(format!(
                "{} is missing; create the witness with `tanji witness init` (a witness whose \
                 state is lost must get a new key, not an empty state)",
                path.display()
            )));
        }
        let db = Self::open_with(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let version: Option<String> = db
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db.sql("reading the schema version"))?;
        match version.as_deref() {
            Some(SCHEMA_VERSION) => Ok(db),
            Some(v) => Err(WitnessError::Directory(format!(
                "{}: schema version {v}, this build reads {SCHEMA_VERSION}",
                path.display()
            ))),
            None => Err(WitnessError::Directory(format!(
                "{} is not a tanji witness state (no schema version)",
                path.display()
            ))),
        }
    }

    /// Adds a log key for `origin` (creating the log's record at size 0 if new).
    pub(crate) fn add_log(
        &mut self,
        origin: &str,
        key: &NoteVerifier,
    ) -> Result<bool, WitnessError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| WitnessError::Sqlite {
                path: self.path.display().to_string(),
                context: "adding a log".into(),
                source,
            })?;
        tx.execute(
            "INSERT INTO logs(origin) VALUES (?1) ON CONFLICT(origin) DO NOTHING",
            params![origin],
        )
        .map_err(|source| WitnessError::Sqlite {
            path: self.path.display().to_string(),
            context: "adding a log".into(),
            source,
        })?;
        let added = tx
            .execute(
                "INSERT INTO log_keys(origin, vkey) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![origin, key.to_string()],
            )
            .map_err(|source| WitnessError::Sqlite {
                path: self.path.display().to_string(),
                context: "adding a log key".into(),
                source,
            })?;
        tx.commit().map_err(|source| WitnessError::Sqlite {
            path: self.path.display().to_string(),
            context: "committing a new log".into(),
            source,
        })?;
        Ok(added > 0)
    }

    /// Every log, by origin.
    pub(crate) fn logs(&self) -> Result<Vec<LogState>, WitnessError> {
        let mut stmt = self
            .conn
            .prepare("SELECT origin FROM logs ORDER BY origin")
            .map_err(self.sql("listing logs"))?;
        let origins = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql("listing logs"))?;
        let mut out = Vec::with_capacity(origins.len());
        for origin in origins {
            if let Some(state) = read_log(&self.conn, &self.path, &origin)? {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// One log's state.
    pub(crate) fn log(&self, origin: &str) -> Result<Option<LogState>, WitnessError> {
        read_log(&self.conn, &self.path, origin)
    }

    /// Runs `decide` on the log's current state inside one immediate (write-locked)
    /// transaction; when it returns `Ok(Some((size, root)))`, records that as the latest
    /// cosigned checkpoint and commits (fsynced) before returning. Checking and recording are
    /// thus one atomic step, as c2sp.org/tlog-witness requires.
    pub(crate) fn advance<E>(
        &mut self,
        origin: &str,
        now: u64,
        decide: impl FnOnce(Option<&LogState>) -> Result<(u64, Hash), E>,
    ) -> Result<Result<(), E>, WitnessError> {
        let path = self.path.display().to_string();
        let sql = |context: &'static str| {
            let path = path.clone();
            move |source| WitnessError::Sqlite {
                path: path.clone(),
                context: context.into(),
                source,
            }
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("starting a checkpoint update"))?;
        let state = read_log(&tx, &self.path, origin)?;
        let (size, root) = match decide(state.as_ref()) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let size_i = i64::try_from(size).map_err(|_| WitnessError::Corrupt {
            path: path.clone(),
            message: format!("tree size {size} exceeds the database's range"),
        })?;
        let now_i = i64::try_from(now).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE logs SET size = ?2, root = ?3, updated_at = ?4 WHERE origin = ?1",
            params![origin, size_i, root.as_slice(), now_i],
        )
        .map_err(sql("recording a cosigned checkpoint"))?;
        tx.commit()
            .map_err(sql("committing a cosigned checkpoint"))?;
        Ok(Ok(()))
    }
}

fn read_log(
    conn: &Connection,
    path: &Path,
    origin: &str,
) -> Result<Option<LogState>, WitnessError> {
    let sql = |source| WitnessError::Sqlite {
        path: path.display().to_string(),
        context: format!("reading the state of log {origin:?}"),
        source,
    };
    let row: Option<(i64, Option<Vec<u8>>)> = conn
        .query_row(
            "SELECT size, root FROM logs WHERE origin = ?1",
            params![origin],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql)?;
    let Some((size, root)) = row else {
        return Ok(None);
    };
    let corrupt = |message: String| WitnessError::Corrupt {
        path: path.display().to_string(),
        message,
    };
    let size = u64::try_from(size)
        .map_err(|_| corrupt(format!("log {origin:?} has negative size {size}")))?;
    let root = root
        .map(|b| {
            Hash::try_from(b.as_slice()).map_err(|_| {
                corrupt(format!(
                    "log {origin:?} has a root of {} bytes, a hash has 32",
                    b.len()
                ))
            })
        })
        .transpose()?;
    let mut stmt = conn
        .prepare_cached("SELECT vkey FROM log_keys WHERE origin = ?1 ORDER BY vkey")
        .map_err(sql)?;
    let vkeys = stmt
        .query_map(params![origin], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql)?;
    let keys = vkeys
        .iter()
        .map(|v| {
            v.parse::<NoteVerifier>()
                .map_err(|e| corrupt(format!("log {origin:?} key {v:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(LogState {
        origin: origin.into(),
        keys,
        size,
        root,
    }))
}
