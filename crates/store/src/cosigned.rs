//! Witness cosignatures (c2sp.org/tlog-cosignature lines) kept next to the checkpoints they
//! sign: one row per (checkpoint size, witness). The table is created on first write, so stores
//! made before witnesses existed open unchanged.

use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS cosignatures (size INTEGER NOT NULL,
    witness TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (size, witness)) WITHOUT ROWID";

fn sql(path: &str, context: &str) -> impl Fn(rusqlite::Error) -> StoreError {
    let (path, context) = (path.to_string(), context.to_string());
    move |source| StoreError::Sqlite {
        path: path.clone(),
        context: context.clone(),
        source,
    }
}

fn has_table(conn: &Connection, path: &str) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cosignatures'",
        [],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
    .map_err(sql(path, "looking for the cosignatures table"))
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("tree size {v} exceeds the store's range")))
}

/// Writes `(witness, line)` rows for the checkpoint of `size` in the transaction `tx`; a
/// witness's newer line for the same size replaces its older one.
pub(crate) fn add(
    tx: &rusqlite::Transaction<'_>,
    err: &crate::sqlite::SqlError<'_>,
    size: u64,
    rows: &[(String, String)],
) -> Result<(), StoreError> {
    let size = to_i64(size)?;
    tx.execute_batch(TABLE)
        .map_err(|e| err("creating the cosignatures table", e))?;
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO cosignatures(size, witness, line) VALUES (?1, ?2, ?3)
             ON CONFLICT(size, witness) DO UPDATE SET line = excluded.line",
        )
        .map_err(|e| err("storing cosignatures", e))?;
    for (witness, line) in rows {
        stmt.execute(params![size, witness, line])
            .map_err(|e| err("storing cosignatures", e))?;
    }
    Ok(())
}

/// The lines stored for the checkpoint of `size`, ordered by witness.
pub(crate) fn lines(conn: &Connection, path: &str, size: u64) -> Result<Vec<String>, StoreError> {
    if !has_table(conn, path)? {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached("SELECT line FROM cosignatures WHERE size = ?1 ORDER BY witness")
        .map_err(sql(path, "reading cosignatures"))?;
    let rows = stmt
        .query_map(params![to_i64(size)?], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(sql(path, "reading cosignatures"))?;
    Ok(rows)
}

/// The largest checkpoint size with a cosignature (by `witness`, if given).
pub(crate) fn latest(
    conn: &Connection,
    path: &str,
    witness: Option<&str>,
) -> Result<Option<u64>, StoreError> {
    if !has_table(conn, path)? {
        return Ok(None);
    }
    let size: Option<i64> = match witness {
        Some(w) => conn.query_row(
            "SELECT MAX(size) FROM cosignatures WHERE witness = ?1",
            params![w],
            |r| r.get(0),
        ),
        None => conn.query_row("SELECT MAX(size) FROM cosignatures", [], |r| r.get(0)),
    }
    .map_err(sql(path, "finding the latest cosigned size"))?;
    size.map(|s| {
        u64::try_from(s).map_err(|_| StoreError::Corrupt(format!("cosigned size {s} is negative")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::{SqliteStore, Store};

    /// The table is made on first write (stores made before witnesses have none) and what was
    /// written survives reopening; the rest of the contract is in the conformance suite.
    #[test]
    fn cosignatures_table_is_made_on_first_write_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("park.db");
        let mut store = SqliteStore::create(&path).unwrap();
        assert!(!super::has_table(store.connection(), "park.db").unwrap());
        assert_eq!(store.cosignatures(3).unwrap(), Vec::<String>::new());
        assert_eq!(store.latest_cosigned(None).unwrap(), None);
        store
            .add_cosignatures(3, &[("w1+00000001".into(), "— w1 A".into())], "")
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert!(super::has_table(store.connection(), "park.db").unwrap());
        assert_eq!(store.cosignatures(3).unwrap(), vec!["— w1 A"]);
        assert_eq!(store.latest_cosigned(Some("w1+00000001")).unwrap(), Some(3));
    }
}
