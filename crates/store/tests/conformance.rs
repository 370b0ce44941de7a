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

/// What one handle cannot show: a snapshot of one handle does not see a batch another handle
/// commits meanwhile, and sees it once dropped; what was written is there after reopening.
#[test]
fn snapshots_are_isolated_and_writes_survive_reopening() {
    use tanji_store::{AppendBatch, Store};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("park.db");
    let mut writer = SqliteStore::create(&path).unwrap();
    let reader = SqliteStore::open(&path).unwrap();
    let batch = |start: u64| AppendBatch {
        start,
        entries: vec![tanji_store::NewEntry {
            kind: 2,
            data: vec![2, start as u8],
            upload: None,
        }],
        nodes: vec![(0, start, [start as u8; 32])],
        checkpoint: format!("origin\n{}\nroot\n\n— sig\n", start + 1),
        ..AppendBatch::default()
    };
    writer.append(&batch(0)).unwrap();
    {
        let _snapshot = reader.read_snapshot().unwrap();
        assert_eq!(reader.size().unwrap(), 1);
        writer.append(&batch(1)).unwrap();
        assert_eq!(reader.size().unwrap(), 1, "the snapshot saw a later commit");
        assert!(reader
            .latest_checkpoint()
            .unwrap()
            .unwrap()
            .contains("\n1\n"));
    }
    assert_eq!(reader.size().unwrap(), 2);
    drop((writer, reader));
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.size().unwrap(), 2);
    assert_eq!(store.entry(1).unwrap(), vec![2, 1]);
}
