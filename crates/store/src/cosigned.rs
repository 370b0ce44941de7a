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

/// Writes `(witness, line)` rows for the checkpoint of `size` in one transaction; a witness's
/// newer line for the same size replaces its older one.
pub(crate) fn add(
    conn: &Connection,
    path: &str,
    size: u64,
    rows: &[(String, String)],
) -> Result<(), StoreError> {
    let size = to_i64(size)?;
    let tx = conn
        .unchecked_transaction()
        .map_err(sql(path, "starting to store cosignatures"))?;
    tx.execute_batch(TABLE)
        .map_err(sql(path, "creating the cosignatures table"))?;
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO cosignatures(size, witness, line) VALUES (?1, ?2, ?3)
                 ON CONFLICT(size, witness) DO UPDATE SET line = excluded.line",
            )
            .map_err(sql(path, "storing cosignatures"))?;
        for (witness, line) in rows {
            stmt.execute(params![size, witness, line])
                .map_err(sql(path, "storing cosignatures"))?;
        }
    }
    tx.commit().map_err(sql(path, "committing cosignatures"))
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

    #[test]
    fn cosignatures_are_kept_per_size_and_witness_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("park.db");
        let mut store = SqliteStore::create(&path).unwrap();
        // A store without the table reads as holding no cosignatures.
        assert_eq!(store.cosignatures(3).unwrap(), Vec::<String>::new());
        assert_eq!(store.latest_cosigned(None).unwrap(), None);
        let row = |w: &str, l: &str| (w.to_string(), l.to_string());
        store
            .add_cosignatures(
                3,
                &[row("w2+00000002", "— w2 B"), row("w1+00000001", "— w1 A")],
            )
            .unwrap();
        store
            .add_cosignatures(7, &[row("w1+00000001", "— w1 C")])
            .unwrap();
        // A newer line by the same witness for the same size replaces the older one.
        store
            .add_cosignatures(7, &[row("w1+00000001", "— w1 D")])
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.cosignatures(3).unwrap(), vec!["— w1 A", "— w2 B"]);
        assert_eq!(store.cosignatures(7).unwrap(), vec!["— w1 D"]);
        assert_eq!(store.cosignatures(5).unwrap(), Vec::<String>::new());
        assert_eq!(store.latest_cosigned(None).unwrap(), Some(7));
        assert_eq!(store.latest_cosigned(Some("w2+00000002")).unwrap(), Some(3));
        assert_eq!(store.latest_cosigned(Some("w3+00000003")).unwrap(), None);
    }
}
