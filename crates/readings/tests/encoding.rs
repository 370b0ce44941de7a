#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Canonical bytes: round trips, strictness, and a never-panics fuzz property.

mod common;
use common::*;
use proptest::prelude::*;
use tanji_readings::*;

fn id() -> impl Strategy<Value = String> {
    "[!-~]{1,64}"
}

fn channel() -> impl Strategy<Value = Channel> {
    (
        id(),
        id(),
        id(),
        0u8..=6,
        0..=MAX_START,
        any::<u32>(),
        prop::collection::vec(any::<i64>(), 0..100),
    )
        .prop_map(
            |(meter, carrier, unit, decimals, start, interval_s, values)| Channel {
                meter,
                carrier,
                unit,
                decimals,
                start,
                interval_s,
                values,
            },
        )
}

fn upload() -> impl Strategy<Value = SignedUpload> {
    (
        id(),
        1..=u64::MAX,
        any::<[u8; 32]>(),
        prop::collection::vec(channel(), 0..=MAX_CHANNELS),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(|(device, seq, prev, channels, s1, s2)| {
            let mut signature = [0u8; 64];
            signature[..32].copy_from_slice(&s1);
            signature[32..].copy_from_slice(&s2);
            SignedUpload {
                body: UploadBody {
                    device,
                    seq,
                    prev,
                    channels,
                },
                signature,
            }
        })
}

fn registration() -> impl Strategy<Value = DeviceRegistration> {
    (
        id(),
        any::<[u8; 32]>(),
        id(),
        id(),
        0usize..tanji_units::Carrier::ALL.len(),
        0usize..tanji_units::Unit::ALL.len(),
        1..=i64::MAX,
        0..=MAX_START,
    )
        .prop_map(|(device, sk, enterprise, meter, c, u, rated, at)| {
            let carrier = tanji_units::Carrier::ALL[c];
            let unit = tanji_units::Unit::ALL
                .into_iter()
                .cycle()
                .skip(u)
                .find(|&u| carrier.accepts(u))
                .unwrap();
            DeviceRegistration {
                device,
                public_key: tanji_readings::PublicKey::Ed25519(
                    ed25519_dalek::SigningKey::from_bytes(&sk)
                        .verifying_key()
                        .to_bytes(),
                ),
                enterprise,
                meter,
                carrier: carrier.code().into(),
                unit: unit.code().into(),
                rated_per_hour_milli: rated,
                registered_at: at,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn upload_bytes_round_trip(u in upload()) {
        prop_assume!(u.body.check_limits().is_ok());
        let b = u.to_bytes();
        prop_assert!(b.len() < MAX_ENTRY_LEN);
        let back = SignedUpload::from_bytes(&b).unwrap();
        prop_assert_eq!(&back, &u);
        prop_assert_eq!(back.to_bytes(), b.clone());
        prop_assert_eq!(back.record_hash(), <[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(&b)));
        let e = LogEntry::Upload(u.clone());
        let eb = e.to_bytes();
        prop_assert_eq!(eb[0], KIND_UPLOAD);
        prop_assert_eq!(&eb[1..], &b[..]);
        prop_assert_eq!(LogEntry::from_bytes(&eb).unwrap(), e);
    }

    #[test]
    fn registration_bytes_round_trip(r in registration()) {
        r.check().unwrap();
        let b = r.to_bytes();
        prop_assert_eq!(DeviceRegistration::from_bytes(&b).unwrap(), r.clone());
        let e = LogEntry::Registration(r);
        let eb = e.to_bytes();
        prop_assert_eq!(eb[0], KIND_REGISTRATION);
        prop_assert_eq!(LogEntry::from_bytes(&eb).unwrap(), e.clone());
        prop_assert_eq!(LogEntry::from_logged_bytes(&eb).unwrap(), e);
    }

    #[test]
    fn from_bytes_never_panics(b in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = SignedUpload::from_bytes(&b);
        let _ = DeviceRegistration::from_bytes(&b);
        let _ = LogEntry::from_bytes(&b);
    }

    #[test]
    fn from_bytes_never_panics_on_mutated_records(
        u in upload(), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut b = u.to_bytes();
        for (i, x) in flips {
            let i = i.index(b.len());
            b[i] ^= x;
        }
        // Either it fails cleanly or it decodes to something that re-encodes identically.
        if let Ok(d) = SignedUpload::from_bytes(&b) {
            prop_assert_eq!(d.to_bytes(), b);
        }
    }
}

#[test]
fn every_truncation_and_trailing_byte_is_rejected() {
    let u = vector_upload();
    let b = u.to_bytes();
    for n in 0..b.len() {
        let err = SignedUpload::from_bytes(&b[..n]).unwrap_err();
        assert!(
            matches!(err, DecodeError::Truncated { .. }),
            "prefix {n}: {err}"
        );
    }
    for extra in [0u8, 1, 0xff] {
        let mut long = b.clone();
        long.push(extra);
        assert_eq!(
            SignedUpload::from_bytes(&long).unwrap_err(),
            DecodeError::TrailingBytes {
                offset: b.len(),
                count: 1
            }
        );
    }

    let r = vector_registration().to_bytes();
    for n in 0..r.len() {
        assert!(matches!(
            DeviceRegistration::from_bytes(&r[..n]).unwrap_err(),
            DecodeError::Truncated { .. }
        ));
    }
    let mut long = r.clone();
    long.push(0);
    assert!(matches!(
        DeviceRegistration::from_bytes(&long).unwrap_err(),
        DecodeError::TrailingBytes { .. }
    ));

    let e = LogEntry::Upload(u).to_bytes();
    for n in 0..e.len() {
        assert!(LogEntry::from_bytes(&e[..n]).is_err());
    }
}

#[test]
fn truncation_error_names_field_and_offset() {
    let b = vector_upload().to_bytes();
    // Cut inside channel 1's third value.
    let cut = b.len() - 64 - 8 - 4;
    let err = SignedUpload::from_bytes(&b[..cut]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "truncated: channels[1].values at byte {} needs 32 bytes but only 20 remain",
            cut - 20
        )
    );
}

#[test]
fn unknown_and_reserved_kinds_are_named() {
    for kind in [0x00u8, 0x05, 0x7f, 0xff] {
        let err = LogEntry::from_bytes(&[kind, 1, 2, 3]).unwrap_err();
        assert_eq!(err, DecodeError::UnknownKind { kind });
        assert!(err.to_string().contains(&format!("0x{kind:02x}")));
    }
    assert!(matches!(
        LogEntry::from_bytes(&[]).unwrap_err(),
        DecodeError::Truncated { .. }
    ));
}

#[test]
fn publications_are_utf8_notes() {
    let e = LogEntry::Publication("tanji factor publication v1\n".into());
    let bytes = e.to_bytes();
    assert_eq!(bytes[0], KIND_PUBLICATION);
    assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), e);
    assert!(LogEntry::from_bytes(&[KIND_PUBLICATION, 0xff, 0xfe]).is_err());
    assert!(LogEntry::from_bytes(&[KIND_PUBLICATION]).is_err());
}

/// Offsets in the vector upload (docs/formats.md, "Upload body").
const DEVICE_LEN_AT: usize = 16;
const SEQ_AT: usize = 16 + 2 + 6;
const NCHAN_AT: usize = SEQ_AT + 8 + 32;
const METER0_LEN_AT: usize = NCHAN_AT + 2;
const DECIMALS0_AT: usize = METER0_LEN_AT + 2 + 11 + 2 + 18 + 2 + 3;
const VALUES0_LEN_AT: usize = DECIMALS0_AT + 1 + 8 + 4;

fn patched(at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut b = vector_upload().to_bytes();
    b[at..at + bytes.len()].copy_from_slice(bytes);
    b
}

fn invalid_field(b: &[u8]) -> String {
    match SignedUpload::from_bytes(b).unwrap_err() {
        DecodeError::Invalid { field, .. } => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn non_canonical_and_out_of_limit_fields_are_rejected() {
    let b = vector_upload().to_bytes();
    assert_eq!(b[DECIMALS0_AT], 3, "offset table out of date");
    assert_eq!(&b[VALUES0_LEN_AT..VALUES0_LEN_AT + 2], &[0, 4]);

    // wrong domain / version
    let mut v2 = b.clone();
    v2[14] = b'2';
    assert_eq!(invalid_field(&v2), "domain");
    // seq 0
    assert_eq!(invalid_field(&patched(SEQ_AT, &[0; 8])), "seq");
    // empty id, over-long id length, non-printable id byte, space in id
    assert_eq!(invalid_field(&patched(DEVICE_LEN_AT, &[0, 0])), "device");
    assert_eq!(invalid_field(&patched(DEVICE_LEN_AT, &[0, 65])), "device");
    assert_eq!(invalid_field(&patched(DEVICE_LEN_AT + 2, b" ")), "device");
    assert_eq!(
        invalid_field(&patched(DEVICE_LEN_AT + 2, &[0xc3])),
        "device"
    );
    // 17 channels
    assert_eq!(invalid_field(&patched(NCHAN_AT, &[0, 17])), "channels");
    // decimals 7
    assert_eq!(
        invalid_field(&patched(DECIMALS0_AT, &[7])),
        "channels[0].decimals"
    );
    // negative start, start after 9999
    assert_eq!(
        invalid_field(&patched(DECIMALS0_AT + 1, &[0xff; 8])),
        "channels[0].start"
    );
    // 1441 values
    assert_eq!(
        invalid_field(&patched(VALUES0_LEN_AT, &1441u16.to_be_bytes())),
        "channels[0].values"
    );
    // too long overall
    assert!(matches!(
        SignedUpload::from_bytes(&vec![0u8; MAX_ENTRY_LEN]).unwrap_err(),
        DecodeError::TooLarge { .. }
    ));
}

#[test]
fn check_limits_catches_what_decoding_would_reject() {
    let mut b = vector_body();
    b.channels[0].values = vec![1; MAX_VALUES];
    assert!(b.check_limits().is_ok());
    // 6 channels of 1440 values = 6 × 11,520 value bytes > 65,535.
    b.channels = vec![b.channels[0].clone(); 6];
    for (i, c) in b.channels.iter_mut().enumerate() {
        c.meter = format!("m-{i}");
    }
    assert!(matches!(
        b.check_limits().unwrap_err(),
        DecodeError::TooLarge { .. }
    ));
    let mut b = vector_body();
    b.device = "d 1".into();
    assert!(b.check_limits().is_err());
    let mut b = vector_body();
    b.seq = 0;
    assert!(b.check_limits().is_err());
}

#[test]
fn largest_allowed_upload_fits_a_tile_entry() {
    // 5 channels of 1440 one-minute values, ids of 64 bytes: the biggest useful record.
    let long = "x".repeat(64);
    let mut b = vector_body();
    b.device = long.clone();
    b.channels = (0..5)
        .map(|i| Channel {
            meter: format!("{i}{}", &long[1..]),
            carrier: long.clone(),
            unit: long.clone(),
            decimals: 6,
            start: NOV1,
            interval_s: 60,
            values: vec![i64::MAX; MAX_VALUES],
        })
        .collect();
    b.check_limits().unwrap();
    let u = b.sign(&vector_key());
    let e = LogEntry::Upload(u).to_bytes();
    assert!(e.len() <= MAX_ENTRY_LEN, "{}", e.len());
    assert_eq!(LogEntry::from_bytes(&e).unwrap().to_bytes(), e);
}

#[test]
fn signatures_verify_strictly() {
    let u = vector_upload();
    let pk = vector_key().verifying_key();
    assert!(u.verify_signature(&pk));
    let mut bad = u.clone();
    bad.body.channels[0].values[0] += 1;
    assert!(!bad.verify_signature(&pk));
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    assert!(!u.verify_signature(&other));
    // S + L (non-canonical S) verifies with plain verify rules in some libraries; strict rejects.
    let mut malleable = u.clone();
    add_l_to_s(&mut malleable.signature);
    assert!(!malleable.verify_signature(&pk));
    assert_eq!(u.reading_count(), 8);
}

/// Adds the group order L to the little-endian scalar S (bytes 32..64) of a signature.
fn add_l_to_s(sig: &mut [u8; 64]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = s as u8;
        carry = s >> 8;
    }
}

#[test]
fn registration_check_rejects_bad_meanings() {
    let ok = vector_registration();
    ok.check().unwrap();
    let info = ok.meter_info().unwrap();
    assert_eq!(info.carrier, tanji_units::Carrier::ElectricityImport);
    assert_eq!(info.unit, tanji_units::Unit::KWh);
    assert_eq!(info.enterprise, "e-0001");

    let field_of = |r: DeviceRegistration| match DeviceRegistration::from_bytes(&r.to_bytes()) {
        Err(DecodeError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let mut r = ok.clone();
    r.carrier = "electricity".into();
    assert_eq!(field_of(r), "carrier");
    let mut r = ok.clone();
    r.unit = "m3".into();
    assert_eq!(field_of(r), "unit");
    let mut r = ok.clone();
    r.rated_per_hour_milli = 0;
    assert_eq!(field_of(r), "rated_per_hour_milli");
    let mut r = ok.clone();
    let mut identity = [0; 32];
    identity[0] = 1; // the identity point: small order
    r.public_key = tanji_readings::PublicKey::Ed25519(identity);
    assert_eq!(field_of(r), "public_key");
    let mut r = ok.clone();
    r.registered_at = -1;
    assert_eq!(field_of(r), "registered_at");
}

#[test]
fn logged_registrations_are_checked_except_for_the_keys_curve_point() {
    let logged = |r: &DeviceRegistration| {
        let mut b = vec![KIND_REGISTRATION];
        b.extend_from_slice(&r.to_bytes());
        LogEntry::from_logged_bytes(&b)
    };
    let ok = vector_registration();
    assert_eq!(logged(&ok).unwrap(), LogEntry::Registration(ok.clone()));
    // A small-order key: refused when the registration is logged, left to whoever uses the
    // key when it is read back.
    let mut weak = ok.clone();
    let mut identity = [0; 32];
    identity[0] = 1;
    weak.public_key = tanji_readings::PublicKey::Ed25519(identity);
    assert!(weak.check().is_err());
    assert!(weak.check_logged().is_ok());
    assert_eq!(logged(&weak).unwrap(), LogEntry::Registration(weak.clone()));
    assert!(weak.verifying_key().is_err());
    // Every other field is checked as before.
    let mut r = ok.clone();
    r.unit = "m3".into();
    assert!(matches!(
        logged(&r),
        Err(DecodeError::Invalid { field, .. }) if field == "unit"
    ));
    let mut r = ok;
    r.registered_at = -1;
    assert!(matches!(
        logged(&r),
        Err(DecodeError::Invalid { field, .. }) if field == "registered_at"
    ));
}

#[test]
fn a_revocation_round_trips_and_its_limits_are_named() {
    let rev = tanji_readings::DeviceRevocation {
        device: "d-0001".into(),
        revoked_at: 1_767_225_600,
        reason: "key leaked — 鍵".into(),
    };
    let bytes = LogEntry::Revocation(rev.clone()).to_bytes();
    assert_eq!(bytes[0], tanji_readings::KIND_REVOCATION);
    assert_eq!(&bytes[1..21], tanji_readings::REVOCATION_DOMAIN);
    assert_eq!(
        LogEntry::from_bytes(&bytes).unwrap(),
        LogEntry::Revocation(rev.clone())
    );
    // Trailing bytes, a reason over the bound, a control character: refused, naming the field.
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        LogEntry::from_bytes(&long),
        Err(DecodeError::TrailingBytes { .. })
    ));
    for reason in [
        "x".repeat(tanji_readings::MAX_REASON_LEN + 1),
        "a\nb".into(),
    ] {
        let bad = tanji_readings::DeviceRevocation {
            reason,
            ..rev.clone()
        };
        let err = LogEntry::from_bytes(&LogEntry::Revocation(bad.clone()).to_bytes()).unwrap_err();
        assert!(err.to_string().contains("reason"), "{err}");
        assert!(bad.check().is_err());
    }
}
