//! Device revocation in the park: the revoked device's later uploads are refused, its earlier
//! ones stay, its id is not registered again, and the audit names an upload logged after it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_ledger::{leaf_hash, sign_checkpoint, Checkpoint, Frontier};
use tanji_park::{AuditOptions, Incoming, Outcome, Park, RegistrationError, Revoked};
use tanji_readings::{DeviceRevocation, LogEntry, RejectCode, SignedUpload, KIND_UPLOAD};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_store::{AppendBatch, NewEntry, SqliteStore, Store};

const DAY: i64 = 86_400;
const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const NOW: i64 = START + 40 * DAY;

fn incoming(u: &SignedUpload, i: usize) -> Incoming {
    Incoming {
        source: format!("test:{i}"),
        raw: Vec::new(),
        parsed: Ok(u.clone()),
        checked: None,
    }
}

#[test]
fn the_audit_names_an_upload_logged_after_its_devices_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let s = SimPark::generate(ParkSpec {
        seed: 11,
        enterprises: 1,
        start_day: START,
        days: 2,
    });
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    let regs = s.registrations(START);
    park.register(&regs).unwrap();
    let uploads: Vec<SignedUpload> = s.uploads().collect();
    let device = uploads[0].body.device.clone();
    let last_seq = uploads
        .iter()
        .filter(|u| u.body.device == device)
        .map(|u| u.body.seq)
        .max()
        .unwrap();
    let (late, early): (Vec<_>, Vec<_>) = uploads
        .iter()
        .partition(|u| u.body.device == device && u.body.seq == last_seq);
    let late = late[0].clone();
    let batch: Vec<Incoming> = early
        .iter()
        .enumerate()
        .map(|(i, u)| incoming(u, i))
        .collect();
    let out = park.ingest(batch, NOW).unwrap();
    assert!(out.iter().all(|o| matches!(o, Outcome::Accepted { .. })));

    let rev = DeviceRevocation {
        device: device.clone(),
        revoked_at: NOW,
        reason: "key leaked".into(),
    };
    let index = park.size();
    assert_eq!(park.revoke(&rev).unwrap(), Revoked::Logged(index));
    assert_eq!(park.revoke(&rev).unwrap(), Revoked::Already(index));
    assert_eq!(park.size(), index + 1);

    // The park refuses the device's next upload, naming it and the revocation.
    let out = park.ingest(vec![incoming(&late, 0)], NOW).unwrap();
    let Outcome::Rejected(r) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(r.code, RejectCode::DeviceRevoked, "{r}");
    assert!(
        r.message.contains(&device) && r.message.contains(&format!("log entry {index}")),
        "{r}"
    );
    // Its id is not registered again, even as it was.
    let again = regs.iter().find(|g| g.device == device).unwrap();
    match park.register(std::slice::from_ref(again)) {
        Err(tanji_park::ParkError::Registration(RegistrationError::Revoked {
            index: i, ..
        })) => {
            assert_eq!(i, index)
        }
        other => panic!("{other:?}"),
    }
    // An unknown device cannot be revoked.
    let nobody = DeviceRevocation {
        device: "d-nobody".into(),
        ..rev.clone()
    };
    assert!(park
        .revoke(&nobody)
        .unwrap_err()
        .to_string()
        .contains("d-nobody"));
    // Reopened, the park still knows the revocation; the log audits clean.
    let size = park.size();
    drop(park);
    let park = Park::open(dir.path()).unwrap();
    assert_eq!(park.revocation_of(&device), Some(index));
    let audit = park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap();
    assert!(audit.ok(), "{:?}", audit.findings);
    drop(park);

    // A store-level append that bypasses the park's check: the upload after the revocation.
    let mut store = SqliteStore::open(&Park::db_path(dir.path())).unwrap();
    let mut frontier = Frontier::from_source(&store, size).unwrap();
    let data = LogEntry::Upload(late.clone()).to_bytes();
    let mut batch = AppendBatch {
        start: size,
        ..AppendBatch::default()
    };
    frontier.append(leaf_hash(&data), &mut batch.nodes);
    batch.entries.push(NewEntry {
        kind: KIND_UPLOAD,
        data,
        upload: None,
    });
    let signer = tanji_park::keys::read_signer_key(&dir.path().join(tanji_park::KEY_FILE)).unwrap();
    let cp = Checkpoint {
        origin: signer.name().to_string(),
        size: frontier.size(),
        root: frontier.root(),
        extensions: Vec::new(),
    };
    batch.checkpoint = sign_checkpoint(&cp, &signer).unwrap();
    store.append(&batch).unwrap();
    drop(store);

    let park = Park::open_read(dir.path()).unwrap();
    let audit = park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap();
    let subject = format!("entry {size} (upload {device}#{last_seq})");
    assert!(
        audit.findings.iter().any(|f| f.subject == subject
            && f.problem.contains("device_revoked")
            && f.problem.contains(&format!("log entry {index}"))),
        "{:?}",
        audit.findings
    );
}
