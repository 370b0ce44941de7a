//! The SQLite backend against the shared conformance suite.

use tanji_store::SqliteStore;

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    tanji_store::conformance::run_all(&mut || {
        n += 1;
        SqliteStore::create(&dir.path().join(format!("store-{n}.db"))).unwrap()
    });
}

#[test]
fn open_refuses_what_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = SqliteStore::open(&dir.path().join("none.db")).unwrap_err();
    assert!(missing.to_string().contains("tanji init"), "{missing}");
    let path = dir.path().join("x.db");
    SqliteStore::create(&path).unwrap();
    assert!(
        SqliteStore::create(&path).is_err(),
        "create must not overwrite"
    );
    SqliteStore::open(&path).unwrap();
}
