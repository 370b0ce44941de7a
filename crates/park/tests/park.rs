//! The park layer on a simulated park: ingest outcomes, idempotence, reopening, proofs, tiles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_ledger::{
    leaf_hash, root, tiles_for_size, verify_consistency, verify_inclusion, TileSet,
};
use tanji_park::{AuditOptions, Incoming, ManifestError, Outcome, Park, PublicationKind};
use tanji_readings::{RejectCode, SignedUpload};
use tanji_simulator::{Park as SimPark, ParkSpec};

const DAY: i64 = 86_400;
const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const NOW: i64 = START + 40 * DAY;

fn sim(enterprises: usize, days: u32) -> SimPark {
    SimPark::generate(ParkSpec {
        seed: 11,
        enterprises,
        start_day: START,
        days,
    })
}

fn incoming(u: &SignedUpload, i: usize) -> Incoming {
    Incoming {
        source: format!("test:{i}"),
        raw: Vec::new(),
        parsed: Ok(u.clone()),
        checked: None,
    }
}

fn fresh(dir: &std::path::Path, s: &SimPark) -> Park {
    let mut park = Park::create(dir, "t", None).unwrap();
    park.register(&s.registrations(START)).unwrap();
    park
}

#[test]
fn ingest_is_idempotent_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(3, 4);
    let mut park = fresh(dir.path(), &s);
    let regs = park.size();
    let uploads: Vec<SignedUpload> = s.uploads().collect();
    // One batch that carries every upload twice: the second copy is a duplicate of the first.
    let batch: Vec<Incoming> = uploads
        .iter()
        .chain(&uploads)
        .enumerate()
        .map(|(i, u)| incoming(u, i))
        .collect();
    let out = park.ingest(batch, NOW).unwrap();
    let n = uploads.len();
    let totals = tanji_park::view::carrier_totals(park.store(), park.size()).unwrap();
    let grid: i64 = uploads
        .iter()
        .flat_map(|u| &u.body.channels)
        .filter(|c| c.carrier == "electricity_import")
        .map(|c| c.values.iter().sum::<i64>())
        .sum();
    let logged = totals[&("electricity_import".to_string(), "kWh".to_string())];
    assert!((logged - grid as f64 / 1000.0).abs() < 1e-6, "{totals:?}");
    for (i, o) in out.iter().enumerate() {
        match (i < n, o) {
            (true, Outcome::Accepted { index, issues }) => {
                assert_eq!(*index, regs + i as u64);
                assert!(issues.is_empty(), "{issues:?}");
            }
            (false, Outcome::Duplicate { index }) => assert_eq!(*index, regs + (i - n) as u64),
            other => panic!("record {i}: {other:?}"),
        }
    }
    assert_eq!(park.size(), regs + n as u64);
    let root_before = park.root();
    drop(park);

    // Reopened, it knows every record: all duplicates, nothing appended.
    let mut park = Park::open(dir.path()).unwrap();
    assert_eq!(park.root(), root_before);
    let again: Vec<Incoming> = uploads
        .iter()
        .enumerate()
        .map(|(i, u)| incoming(u, i))
        .collect();
    let out = park.ingest(again, NOW).unwrap();
    assert!(out.iter().all(|o| matches!(o, Outcome::Duplicate { .. })));
    assert_eq!(park.size(), regs + n as u64);
    assert!(park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap()
        .ok());
}

#[test]
fn rejections_are_quarantined_and_do_not_touch_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(2, 2);
    let mut park = fresh(dir.path(), &s);
    let uploads: Vec<SignedUpload> = s.uploads().collect();
    let mut tampered = uploads[0].clone();
    tampered.body.channels[0].values[5] += 1;
    let size = park.size();
    let out = park
        .ingest(
            vec![
                incoming(&tampered, 0),
                Incoming {
                    source: "test:1".into(),
                    raw: b"{not json".to_vec(),
                    parsed: tanji_readings::parse_json_upload("{not json"),
                    checked: None,
                },
            ],
            NOW,
        )
        .unwrap();
    assert!(matches!(&out[0], Outcome::Rejected(r) if r.code == RejectCode::BadSignature));
    assert!(
        matches!(&out[1], Outcome::Rejected(r) if r.code == RejectCode::Malformed && r.message.starts_with("test:1: "))
    );
    assert_eq!(park.size(), size, "rejections must not be logged");
    let q = tanji_store::StoreExt::quarantined(park.store()).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].code, "bad_signature");
    assert_eq!(
        q[0].device.as_deref(),
        Some(uploads[0].body.device.as_str())
    );
    assert_eq!(q[1].raw, b"{not json");
    // The genuine record is still accepted afterwards.
    let out = park.ingest(vec![incoming(&uploads[0], 0)], NOW).unwrap();
    assert!(matches!(out[0], Outcome::Accepted { .. }));
}

#[test]
fn a_later_upload_for_an_interval_already_reported_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(1, 2);
    let mut park = fresh(dir.path(), &s);
    let uploads: Vec<SignedUpload> = s.uploads().collect();
    park.ingest(vec![incoming(&uploads[0], 0)], NOW).unwrap();
    // The device's next record (seq 2), chained correctly, but re-reporting day 1.
    let key = &s.devices[0].key;
    let mut body = uploads[1].body.clone();
    for c in &mut body.channels {
        c.start = uploads[0].body.channels[0].start;
    }
    let replay = body.sign(key);
    let out = park.ingest(vec![incoming(&replay, 0)], NOW).unwrap();
    assert!(
        matches!(&out[0], Outcome::Rejected(r) if r.code == RejectCode::OverlappingInterval),
        "{out:?}"
    );
    // After reopening the spans are still known.
    drop(park);
    let mut park = Park::open(dir.path()).unwrap();
    let out = park.ingest(vec![incoming(&replay, 0)], NOW).unwrap();
    assert!(matches!(&out[0], Outcome::Rejected(r) if r.code == RejectCode::OverlappingInterval));
    let out = park.ingest(vec![incoming(&uploads[1], 1)], NOW).unwrap();
    assert!(matches!(&out[0], Outcome::Accepted { .. }), "{out:?}");
}

#[test]
fn proofs_and_tiles_agree_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(10, 30);
    let mut park = fresh(dir.path(), &s);
    let batch: Vec<Incoming> = s
        .uploads()
        .enumerate()
        .map(|(i, u)| incoming(&u, i))
        .collect();
    park.ingest(batch, NOW).unwrap();
    let size = park.size();
    assert!(size > 256, "want a full tile: {size}");
    for index in [0, 1, 100, 255, 256, size - 1] {
        let p = park.prove(index, None).unwrap();
        let entry = tanji_store::Store::entry(park.store(), index).unwrap();
        assert_eq!(p.leaf_hash, leaf_hash(&entry));
        verify_inclusion(&p.leaf_hash, index, size, &p.proof, &park.root()).unwrap();
    }
    for from in [1, 7, 256, size - 1] {
        let c = park.consistency(from, None).unwrap();
        verify_consistency(from, size, &c.from_root, &park.root(), &c.proof).unwrap();
    }
    assert!(park.prove(size, None).is_err());
    assert!(park.consistency(size, Some(size + 1)).is_err());

    let out = dir.path().join("tiles");
    let summary = park.export_tiles(&out, &mut |_, _| {}).unwrap();
    assert_eq!(summary.size, size);
    let mut set = TileSet::new();
    for t in tiles_for_size(size) {
        set.insert(t, std::fs::read(out.join(t.path())).unwrap())
            .unwrap();
    }
    assert_eq!(root(&set, size).unwrap(), park.root());
    let cp = std::fs::read_to_string(out.join("checkpoint")).unwrap();
    assert_eq!(cp, park.checkpoint().unwrap());

    let check = tanji_park::check_tiles(&out, &park.verifier()).unwrap();
    assert_eq!((check.size, check.root), (size, park.root()));
    assert_eq!(check.entries, size);
    let first = tiles_for_size(size)
        .into_iter()
        .find(|t| t.level == 0)
        .unwrap();
    let bundle = out.join(first.entries_path());
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&bundle, bytes).unwrap();
    let err = tanji_park::check_tiles(&out, &park.verifier()).unwrap_err();
    assert!(
        err.to_string().contains("does not hash to its leaf"),
        "{err}"
    );
}

fn request(name: &str, content: &str) -> tanji_park::PublicationRequest {
    tanji_park::PublicationRequest {
        name: name.into(),
        method: "tanji-factors/flow-tracing-v1".into(),
        content: content.as_bytes().to_vec(),
        regions: vec!["CN-FJ-synthetic".into()],
        period: (START, START + DAY),
        intervals: 24,
        inputs: vec![("generation".into(), [7; 32])],
        calibrations: vec!["CN-FJ-synthetic target=0.4092 before=0.4200 scale=0.974286".into()],
        published_at: NOW,
    }
}

#[test]
fn publications_are_versioned_immutable_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    let p1 = park.publish(&request("fj", "region,start\nA,1\n")).unwrap();
    assert_eq!(p1.id, "fj@v1");
    assert!(p1
        .manifest
        .contains("method tanji-factors/flow-tracing-v1\n"));
    assert!(p1
        .manifest
        .contains("calibration CN-FJ-synthetic target=0.4092"));
    // Same content again: the same publication, nothing logged.
    let size = park.size();
    assert_eq!(
        park.publish(&request("fj", "region,start\nA,1\n")).unwrap(),
        p1
    );
    assert_eq!(park.size(), size);
    // New content: a new version; the old one is unchanged.
    let p2 = park.publish(&request("fj", "region,start\nA,2\n")).unwrap();
    assert_eq!(p2.id, "fj@v2");
    let (old, content) = park
        .publication(PublicationKind::Factors, Some("fj@v1"))
        .unwrap();
    assert_eq!(old, p1);
    assert_eq!(content, b"region,start\nA,1\n");
    assert_eq!(
        park.publication(PublicationKind::Factors, Some("fj"))
            .unwrap()
            .0
            .id,
        "fj@v2",
        "a bare name is its latest version"
    );
    assert!(park
        .publication(PublicationKind::Factors, Some("nope"))
        .unwrap_err()
        .to_string()
        .contains("fj@v1, fj@v2"));
    // Its leaf is provable, and the audit checks signature and content.
    let proof = park.prove(p1.index, None).unwrap();
    verify_inclusion(
        &proof.leaf_hash,
        p1.index,
        park.size(),
        &proof.proof,
        &park.root(),
    )
    .unwrap();
    let report = park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap();
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(report.publications, 2);
    drop(park);

    // Change one byte of the stored series: the audit names the publication.
    let conn = rusqlite::Connection::open(dir.path().join("park.db")).unwrap();
    conn.execute(
        "UPDATE blobs SET data = ?1 WHERE hash = ?2",
        rusqlite::params![b"region,start\nA,9\n".to_vec(), &p1.content_hash[..]],
    )
    .unwrap();
    drop(conn);
    let park = Park::open(dir.path()).unwrap();
    let report = park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap();
    assert!(!report.ok());
    let first = report.findings[0].to_string();
    assert!(
        first.starts_with(&format!("entry {} (factor publication)", p1.index))
            && first.contains("publication fj@v1: the stored content hashes to"),
        "{first}"
    );
}

/// One place decides a publication's kind: an inputs document is never listed, found or
/// counted as a factor series, and a manifest whose method names neither kind is refused.
#[test]
fn publications_of_different_kinds_are_never_confused() {
    let dir = tempfile::tempdir().unwrap();
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    let f = park.publish(&request("fj", "region,start\nA,1\n")).unwrap();
    let mut inputs = request("e1", "{\"enterprises\":{}}");
    inputs.method = "tanji-inputs/v1".into();
    inputs.regions = Vec::new();
    let i = park.publish(&inputs).unwrap();
    assert_eq!(
        (f.kind, i.kind),
        (PublicationKind::Factors, PublicationKind::Inputs)
    );
    let ids = |k| {
        park.publications_of(k)
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(PublicationKind::Factors), ["fj@v1"]);
    assert_eq!(ids(PublicationKind::Inputs), ["e1@v1"]);
    // The latest factor publication is the series, though the inputs were logged after it.
    assert_eq!(
        park.publication(PublicationKind::Factors, None)
            .unwrap()
            .0
            .id,
        "fj@v1"
    );
    let err = park
        .publication(PublicationKind::Factors, Some("e1"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no factor publication \"e1\"") && err.contains("published: fj@v1"),
        "{err}"
    );
    let report = park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap();
    assert!(report.ok(), "{:?}", report.findings);
    assert_eq!(
        (
            report.publications,
            report.factor_publications,
            report.inputs_publications
        ),
        (2, 1, 1)
    );
    // A method of neither kind is refused before anything is logged.
    let size = park.size();
    let mut odd = request("odd", "x");
    odd.method = "my-own/v1".into();
    let err = park.publish(&odd).unwrap_err().to_string();
    assert!(err.contains("method \"my-own/v1\" names neither"), "{err}");
    assert_eq!(park.size(), size);
    // The manifest parser's errors carry the offending value.
    assert_eq!(
        tanji_park::parse_manifest(
            "tanji factor publication v1\nid x@v1\nmethod tanji-factors/x\ncontent sha256:zz 3\n"
        ),
        Err(ManifestError::Content {
            value: "sha256:zz 3".into()
        })
    );
    assert_eq!(
        tanji_park::parse_manifest("not a manifest\n"),
        Err(ManifestError::Header {
            found: "not a manifest".into()
        })
    );
}

/// History imported for a meter without a device passes to the meter's own device once that
/// exists; the import device can then no longer report it, and nothing else is handed over.
#[test]
fn a_meter_passes_from_its_import_device_to_its_own_device() {
    use ed25519_dalek::SigningKey;
    use tanji_readings::{Channel, DeviceRegistration, UploadBody, ZERO_HASH};
    let reg = |device: &str, key: &SigningKey, enterprise: &str| DeviceRegistration {
        device: device.into(),
        public_key: tanji_readings::PublicKey::Ed25519(key.verifying_key().to_bytes()),
        enterprise: enterprise.into(),
        meter: "m-h".into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        rated_per_hour_milli: 500_000,
        registered_at: START,
    };
    let upload = |device: &str, key: &SigningKey, seq: u64, prev, day: i64| {
        UploadBody {
            device: device.into(),
            seq,
            prev,
            channels: vec![Channel {
                meter: "m-h".into(),
                carrier: "electricity_import".into(),
                unit: "kWh".into(),
                decimals: 3,
                start: START + day * DAY,
                interval_s: 900,
                values: vec![12_500; 96],
            }],
        }
        .sign(key)
    };
    let one = |park: &mut Park, u: &SignedUpload| park.ingest(vec![incoming(u, 0)], NOW).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (imp, real) = (
        SigningKey::from_bytes(&[7; 32]),
        SigningKey::from_bytes(&[9; 32]),
    );
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    park.register(&[reg("import-ops", &imp, "e-1")]).unwrap();
    let i1 = upload("import-ops", &imp, 1, ZERO_HASH, 0);
    assert!(matches!(one(&mut park, &i1)[0], Outcome::Accepted { .. }));

    // Not to another enterprise; to its own device, yes.
    let e = park
        .register(&[reg("d-real", &real, "e-2")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("already bound to device import-ops"), "{e}");
    park.register(&[reg("d-real", &real, "e-1")]).unwrap();

    // The import device no longer reports it; the real device does, but not over history.
    let i2 = upload("import-ops", &imp, 2, i1.record_hash(), 1);
    match &one(&mut park, &i2)[0] {
        Outcome::Rejected(r) => assert_eq!(r.code, RejectCode::MeterNotBound, "{r:?}"),
        o => panic!("{o:?}"),
    }
    let r0 = upload("d-real", &real, 1, ZERO_HASH, 0);
    match &one(&mut park, &r0)[0] {
        Outcome::Rejected(r) => assert_eq!(r.code, RejectCode::OverlappingInterval, "{r:?}"),
        o => panic!("{o:?}"),
    }
    let r1 = upload("d-real", &real, 1, ZERO_HASH, 1);
    assert!(matches!(one(&mut park, &r1)[0], Outcome::Accepted { .. }));

    // A device's meter is never handed over, not even to an import device.
    let e = park
        .register(&[reg("import-two", &imp, "e-1")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("already bound to device d-real"), "{e}");

    // The handover is replayed from the log on reopening, and the audit agrees.
    drop(park);
    let mut park = Park::open(dir.path()).unwrap();
    let r2 = upload("d-real", &real, 2, r1.record_hash(), 2);
    assert!(matches!(one(&mut park, &r2)[0], Outcome::Accepted { .. }));
    assert!(park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap()
        .ok());
}

/// The outcomes of one batch: every good record accepted once, at consecutive indices from
/// `first`, in input order; every record of `poison` rejected with `code`.
fn assert_isolated(out: &[Outcome], poison: &[usize], code: RejectCode, first: u64) -> u64 {
    let mut next = first;
    for (i, o) in out.iter().enumerate() {
        match o {
            Outcome::Rejected(r) if poison.contains(&i) => {
                assert_eq!(r.code, code, "record {i}: {}", r.message)
            }
            Outcome::Accepted { index, .. } if !poison.contains(&i) => {
                assert_eq!(*index, next, "record {i}");
                next += 1;
            }
            other => panic!("record {i}: {other:?}"),
        }
    }
    next
}

/// A validly signed record whose `seq` is beyond what the store holds (≥ 2^63) is refused by
/// validation, alone: the other devices' records of the same batch are logged.
#[test]
fn a_seq_the_store_cannot_hold_fails_only_its_own_record() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(3, 1);
    let mut park = fresh(dir.path(), &s);
    let regs = park.size();
    let mut uploads: Vec<SignedUpload> = s.uploads().collect();
    assert_eq!(uploads.len(), 3);
    // Device 1 signs a second record with seq 2^63.
    let mut body = uploads[1].body.clone();
    body.seq = 1 << 63;
    body.prev = uploads[1].record_hash();
    for c in &mut body.channels {
        c.start += DAY;
    }
    uploads.insert(2, body.sign(&s.devices[1].key));
    let batch = uploads
        .iter()
        .enumerate()
        .map(|(i, u)| incoming(u, i))
        .collect();
    let out = park.ingest(batch, NOW).unwrap();
    assert_eq!(
        assert_isolated(&out, &[2], RejectCode::OutOfRange, regs),
        regs + 3
    );
    assert_eq!(park.size(), regs + 3);
    let q = tanji_store::StoreExt::quarantined(park.store()).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].code.as_str(), q[0].seq), ("out_of_range", None));
    assert!(park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap()
        .ok());
}

/// Should the store refuse a record validation let through, that record alone is rejected
/// (`store_refused`, quarantined) and every other record of the batch is logged, once. The
/// store is made to refuse one upload by a trigger, as a missed limit would.
#[test]
fn a_record_the_store_refuses_is_rejected_alone_and_the_rest_logged() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim(3, 3);
    let park = fresh(dir.path(), &s);
    let regs = park.size();
    drop(park);
    let uploads: Vec<SignedUpload> = s.uploads().collect();
    let victim = uploads
        .iter()
        .position(|u| u.body.device == s.devices[1].device && u.body.seq == 3)
        .unwrap();
    let conn = rusqlite::Connection::open(tanji_park::Park::db_path(dir.path())).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER poison BEFORE INSERT ON uploads
         WHEN NEW.device = '{}' AND NEW.seq = 3
         BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
        s.devices[1].device
    ))
    .unwrap();
    drop(conn);

    let mut park = Park::open(dir.path()).unwrap();
    let batch = uploads
        .iter()
        .enumerate()
        .map(|(i, u)| incoming(u, i))
        .collect();
    let out = park.ingest(batch, NOW).unwrap();
    let end = assert_isolated(&out, &[victim], RejectCode::StoreRefused, regs);
    assert_eq!(park.size(), end);
    assert_eq!(end, regs + uploads.len() as u64 - 1);
    let Outcome::Rejected(r) = &out[victim] else {
        unreachable!()
    };
    assert!(
        r.message.starts_with(&format!(
            "test:{victim}: the record passed validation but the park's store refused it"
        )) && r.message.contains("refused for the test"),
        "{}",
        r.message
    );
    let q = tanji_store::StoreExt::quarantined(park.store()).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].code.as_str(), q[0].seq), ("store_refused", Some(3)));
    // Sent again, each good record is a duplicate of its one logged copy.
    let again = uploads
        .iter()
        .enumerate()
        .map(|(i, u)| incoming(u, i))
        .collect();
    let out = park.ingest(again, NOW).unwrap();
    for (i, o) in out.iter().enumerate() {
        if i != victim {
            assert!(matches!(o, Outcome::Duplicate { .. }), "record {i}: {o:?}");
        }
    }
    assert_eq!(park.size(), end);
    assert!(park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap()
        .ok());
}
