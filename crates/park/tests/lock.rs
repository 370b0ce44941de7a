//! The park writer lock: one writer per park directory; readers never need it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_park::{Park, ParkError, RegistrationRequest, LOCK_FILE};

fn registration(device: &str) -> tanji_readings::DeviceRegistration {
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    RegistrationRequest {
        device: device.into(),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        enterprise: "e-1".into(),
        meter: format!("{device}-grid"),
        rated_kw: Some(100.0),
        ..RegistrationRequest::default()
    }
    .to_registration(1_767_225_600)
    .unwrap()
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Park::create(dir.path(), "t", None).unwrap();
    let lock = writer.writer_lock().unwrap().path().to_path_buf();
    assert_eq!(lock, dir.path().join(LOCK_FILE));

    let err = Park::open(dir.path()).unwrap_err();
    let ParkError::Locked { dir: named, holder } = &err else {
        panic!("expected Locked, got {err}");
    };
    assert_eq!(named, &dir.path().display().to_string());
    assert!(
        holder
            .says
            .starts_with(&format!("pid {}: ", std::process::id())),
        "{holder}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains(&lock.display().to_string()), "{message}");
    assert!(message.contains("POST /api/v1/devices"), "{message}");

    // A reader opens while the writer holds the park, and sees its log …
    writer.register(&[registration("d-1")]).unwrap();
    let reader = Park::open_read(dir.path()).unwrap();
    assert_eq!(reader.size(), writer.size());
    assert_eq!(reader.registrations().unwrap().len(), 1);
    drop(reader);

    // … and the writer's lock goes with it: the next writer opens.
    drop(writer);
    let mut next = Park::open(dir.path()).unwrap();
    next.register(&[registration("d-2")]).unwrap();
    assert_eq!(next.size(), 2);
}

#[test]
fn a_read_only_park_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    drop(Park::create(dir.path(), "t", None).unwrap());
    let mut reader = Park::open_read(dir.path()).unwrap();
    assert!(reader.writer_lock().is_none());
    let err = reader.register(&[registration("d-1")]).unwrap_err();
    assert!(matches!(err, ParkError::ReadOnly(_)), "{err}");
    assert_eq!(reader.size(), 0);
    // It took no lock: a writer opens beside it.
    let mut writer = Park::open(dir.path()).unwrap();
    writer.register(&[registration("d-1")]).unwrap();
    assert_eq!(writer.size(), 1);
}

#[test]
fn opening_a_directory_without_a_park_leaves_no_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Park::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("tanji init"), "{err}");
    assert!(!dir.path().join(LOCK_FILE).exists());
}
