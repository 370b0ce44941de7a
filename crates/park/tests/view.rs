//! The read layer on a real park: the registration directory follows the log, and a
//! registration entry that does not decode is a problem every reader sees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rusqlite::Connection;
use tanji_park::view::{LogView, RegistrationCache, Registrations};
use tanji_park::Park;
use tanji_store::{SqliteStore, Store};

const DAY: i64 = 1_795_132_800;

fn registrations() -> Vec<tanji_readings::DeviceRegistration> {
    let sim = tanji_simulator::Park::generate(tanji_simulator::ParkSpec {
        seed: 3,
        enterprises: 3,
        start_day: DAY,
        days: 1,
    });
    sim.registrations(DAY - 86_400)
}

#[test]
fn the_directory_is_read_again_when_a_registration_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let regs = registrations();
    let last = regs[regs.len() - 1].enterprise.clone();
    let (rest, first): (Vec<_>, Vec<_>) = regs.into_iter().partition(|r| r.enterprise == last);
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    park.register(&first).unwrap();
    let cache = RegistrationCache::default();
    let store = park.store();
    let a = cache.get(store, park.size()).unwrap();
    let read = Registrations::read(store, park.size()).unwrap().directory();
    assert_eq!(*a, read);
    assert_eq!(a.enterprises.len(), 2);
    let devices: std::collections::BTreeSet<_> = first.iter().map(|r| &r.device).collect();
    assert_eq!(a.devices(), devices.len());
    // The same registrations: the same answer, not read again.
    let b = cache.get(store, park.size()).unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    // A smaller size sees fewer registrations.
    assert_eq!(cache.get(store, 0).unwrap().enterprises.len(), 0);
    park.register(&rest).unwrap();
    let store = park.store();
    let c = cache.get(store, park.size()).unwrap();
    assert_eq!(c.enterprises.len(), 3);
    assert_eq!(
        *c,
        Registrations::read(store, park.size()).unwrap().directory()
    );
}

#[test]
fn a_registration_that_does_not_decode_is_a_problem_not_a_missing_meter() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let regs = registrations();
    let size = {
        let mut park = Park::create(&dir, "t", None).unwrap();
        park.register(&regs).unwrap();
        park.size()
    };
    {
        let conn = Connection::open(dir.join("park.db")).unwrap();
        conn.execute("UPDATE entries SET data = X'0201' WHERE idx = 1", [])
            .unwrap();
    }
    let store = SqliteStore::open(&dir.join("park.db")).unwrap();
    let read = Registrations::read(&store, size).unwrap();
    assert_eq!(read.problems().len(), 1, "{:?}", read.problems());
    assert_eq!(read.problems()[0].index(), 1);
    assert_eq!(read.all().count(), regs.len() - 1);
    let directory = read.directory();
    assert_eq!(directory.problems, read.problems());
    assert_eq!(directory.meters().count(), regs.len() - 1);
    assert!(read.clone().checked().is_err());
    // From the log's bytes, the entry is a problem too, and named as changed when checked
    // against the tree.
    let view = LogView::read(&store, size).unwrap();
    assert_eq!(view.problems.len(), 1);
    assert_eq!(view.problems[0].index(), 1);
    let headers = LogView::read_headers(&store, store.size().unwrap()).unwrap();
    assert!(
        headers.problems[0]
            .to_string()
            .contains("the record was changed"),
        "{}",
        headers.problems[0]
    );
}
