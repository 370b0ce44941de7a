#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Devices with SM2 and P-256 keys: their registrations (format v2), the documented vectors
//! of docs/formats.md ("Key types"), validation of their uploads, and the one encoder shared
//! with the signing core.

mod common;
use common::*;
use tanji_device::{ChannelRef, UploadRef};
use tanji_readings::*;

const DOC: &str = include_str!("../../../docs/formats.md");

/// The vector secret (0x01 … 0x20) as a key of `t`.
fn key(t: KeyType) -> SigningKey {
    SigningKey::from_secret(t, &vector_key().to_bytes()).unwrap()
}

fn registration(t: KeyType) -> DeviceRegistration {
    DeviceRegistration {
        public_key: key(t).public_key(),
        ..vector_registration()
    }
}

const SM2_PUBLIC_KEY: &str = "0346d1086f6e5c938447f05280db707c279a7b459c38f19e4d9a30ad2dadf9f28a";
const SM2_REGISTRATION: &str = "74616e6a692f726567697374726174696f6e2f76320a0006642d30303031020346d1086f6e5c938447f05280db707c279a7b459c38f19e4d9a30ad2dadf9f28a0006652d30303031000b6d2d303030312d677269640012656c6563747269636974795f696d706f727400036b5768000000000007a120000000006abda280";
const SM2_REGISTRATION_JSON: &str = r#"{"device":"d-0001","key_type":"sm2","public_key":"0346d1086f6e5c938447f05280db707c279a7b459c38f19e4d9a30ad2dadf9f28a","enterprise":"e-0001","meter":"m-0001-grid","carrier":"electricity_import","unit":"kWh","rated_per_hour_milli":500000,"registered_at":"2026-10-01T00:00:00Z"}"#;
const SM2_SIGNATURE: &str = "22bd3d3b30ef6315e87e2a1a377a92eb1972fd1fc42b1fce70cf1fdda6cfafd07ad6f687dfb1d75ffa09e8246a4bf7911fc63bdd3d0476d737f6a380fd695855";
const P256_PUBLIC_KEY: &str = "02515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f";
const P256_REGISTRATION: &str = "74616e6a692f726567697374726174696f6e2f76320a0006642d303030310302515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f0006652d30303031000b6d2d303030312d677269640012656c6563747269636974795f696d706f727400036b5768000000000007a120000000006abda280";
const P256_SIGNATURE: &str = "e979eee748f45db2796e35327f825a26cfb8e123d14f7ff06218943d9b88c6aa415024762f0a7a79a479467db38ace94fb7d12aff35fbe760746a9d19d87de37";

#[test]
fn the_document_carries_these_vectors() {
    for v in [
        SM2_PUBLIC_KEY,
        SM2_REGISTRATION,
        SM2_REGISTRATION_JSON,
        SM2_SIGNATURE,
        P256_PUBLIC_KEY,
        P256_REGISTRATION,
        P256_SIGNATURE,
    ] {
        assert!(DOC.contains(v), "docs/formats.md is missing {v}");
    }
}

#[test]
fn registrations_of_each_key_type_reproduce_the_vectors_and_round_trip() {
    for (t, key, bytes) in [
        (KeyType::Sm2, SM2_PUBLIC_KEY, SM2_REGISTRATION),
        (KeyType::P256, P256_PUBLIC_KEY, P256_REGISTRATION),
    ] {
        let r = registration(t);
        assert_eq!(hex::encode(r.public_key.as_bytes()), key);
        assert_eq!(hex::encode(r.to_bytes()), bytes);
        assert_eq!(DeviceRegistration::from_bytes(&r.to_bytes()).unwrap(), r);
        let entry = LogEntry::Registration(r.clone()).to_bytes();
        assert_eq!(entry[0], KIND_REGISTRATION);
        assert_eq!(
            LogEntry::from_logged_bytes(&entry).unwrap(),
            LogEntry::Registration(r.clone())
        );
        assert_eq!(
            parse_json_registration(&registration_to_json(&r)).unwrap(),
            r
        );
    }
    assert_eq!(
        registration_to_json(&registration(KeyType::Sm2)),
        SM2_REGISTRATION_JSON
    );
    // Ed25519 keeps the v1 bytes and the JSON without a key type.
    let ed = registration(KeyType::Ed25519);
    assert_eq!(ed, vector_registration());
    assert!(ed.to_bytes().starts_with(REGISTRATION_DOMAIN));
    assert!(!registration_to_json(&ed).contains("key_type"));
    let explicit = SM2_REGISTRATION_JSON
        .replace("\"sm2\"", "\"ed25519\"")
        .replace(SM2_PUBLIC_KEY, &hex::encode(ed.public_key.as_bytes()));
    assert_eq!(parse_json_registration(&explicit).unwrap(), ed);
}

#[test]
fn a_v2_registration_is_refused_with_a_wrong_key_type_or_key() {
    let good = hex::decode(SM2_REGISTRATION).unwrap();
    let at = REGISTRATION_DOMAIN_V2.len() + 2 + 6;
    let with = |i: usize, b: u8| {
        let mut v = good.clone();
        v[i] = b;
        DeviceRegistration::from_bytes(&v).unwrap_err().to_string()
    };
    let e = with(at, 0x01);
    assert!(e.contains("key_type") && e.contains("v1"), "{e}");
    let e = with(at, 0x09);
    assert!(e.contains("key_type = 0x09"), "{e}");
    // SEC1's compact tag, and a key that is not a point of SM2's curve.
    let e = with(at + 1, 0x05);
    assert!(e.contains("public_key") && e.contains("sm2"), "{e}");
    let mut off_curve = good.clone();
    off_curve[at + 2..at + 34].fill(0xff);
    let e = DeviceRegistration::from_bytes(&off_curve)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a valid sm2 public key"), "{e}");
    // A reader of v1 only would stop at the domain, and so does a wrong version.
    let mut v3 = good.clone();
    v3[REGISTRATION_DOMAIN_V2.len() - 2] = b'3';
    let e = DeviceRegistration::from_bytes(&v3).unwrap_err().to_string();
    assert!(e.contains("domain"), "{e}");
    // A JSON key of the wrong length for its type names the field.
    let e = parse_json_registration(&SM2_REGISTRATION_JSON.replace("\"0346", "\"46"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("public_key") && e.contains("66 hex digits"),
        "{e}"
    );
}

#[test]
fn signatures_of_each_key_type_match_the_document_and_verify() {
    let body = vector_body();
    let sm2 = body.clone().try_sign(&key(KeyType::Sm2)).unwrap();
    assert_eq!(hex::encode(sm2.signature), SM2_SIGNATURE);
    let p256 = body.clone().try_sign(&key(KeyType::P256)).unwrap();
    assert_eq!(hex::encode(p256.signature), P256_SIGNATURE);
    for (u, t) in [(&sm2, KeyType::Sm2), (&p256, KeyType::P256)] {
        let vk = registration(t).verifying_key().unwrap();
        assert!(u.verify_signature(&vk));
        let mut other = u.clone();
        other.body.channels[0].values[0] += 1;
        assert!(!other.verify_signature(&vk));
    }
    // An SM2 signature is not a P-256 one with the same secret, nor the other way.
    assert!(!sm2.verify_signature(&registration(KeyType::P256).verifying_key().unwrap()));
    assert!(!p256.verify_signature(&registration(KeyType::Sm2).verifying_key().unwrap()));
}

struct Ctx(VerifyingKey);

impl ValidationContext for Ctx {
    fn device_key(&self, _: &str) -> Option<VerifyingKey> {
        Some(self.0.clone())
    }
    fn meter(&self, _: &str, meter: &str) -> Option<MeterInfo> {
        vector_registration()
            .meter_info()
            .ok()
            .filter(|_| meter == "m-0001-grid")
    }
    fn accepted(&self, _: &str, _: u64) -> Option<(Hash, Hash)> {
        None
    }
    fn last_seq(&self, _: &str) -> Option<u64> {
        None
    }
    fn overlapping(&self, _: &str, _: i64, _: i64) -> Option<(String, u64)> {
        None
    }
}

#[test]
fn the_park_validates_uploads_of_each_registered_key_type() {
    let mut body = vector_body();
    body.channels.truncate(1);
    let policy = Policy::at(NOV1 + 86_400);
    for t in KeyType::ALL {
        let ctx = Ctx(registration(t).verifying_key().unwrap());
        let u = body.clone().try_sign(&key(t)).unwrap();
        assert!(
            matches!(validate(&u, &ctx, &policy), Ok(Verdict::Accept { .. })),
            "{t}"
        );
        let checked = SignatureChecked::check(&u, &ctx.0).unwrap();
        assert!(validate_checked(&u, &ctx, &policy, Some(&checked)).is_ok());
        // Signed with another key type's key of the same secret: refused, naming the
        // registered type's algorithm.
        let other = KeyType::ALL[(KeyType::ALL.iter().position(|&k| k == t).unwrap() + 1) % 3];
        let wrong = body.clone().try_sign(&key(other)).unwrap();
        let rej = validate(&wrong, &ctx, &policy).unwrap_err();
        assert_eq!(rej.code, RejectCode::BadSignature, "{t}");
        let algorithm = match t {
            KeyType::Ed25519 => "strict Ed25519",
            KeyType::Sm2 => "SM2 with SM3",
            KeyType::P256 => "ECDSA P-256 with SHA-256",
        };
        assert!(rej.message.contains(algorithm), "{}", rej.message);
    }
}

#[test]
fn the_core_and_the_records_encode_the_same_bytes() {
    let body = vector_body();
    let channels: Vec<ChannelRef<'_>> = body
        .channels
        .iter()
        .map(|c| ChannelRef {
            meter: &c.meter,
            carrier: &c.carrier,
            unit: &c.unit,
            decimals: c.decimals,
            start: c.start,
            interval_s: c.interval_s,
            values: &c.values,
        })
        .collect();
    let view = UploadRef {
        device: &body.device,
        seq: body.seq,
        prev: &body.prev,
        channels: &channels,
    };
    let mut buf = vec![0; 1024];
    let len = tanji_device::encode_body(&view, &mut buf).unwrap();
    assert_eq!(buf[..len], body.canonical_bytes());
    // Signed by the core into a buffer: the same record, hash and signature as the records'.
    let signed = tanji_device::sign_into(&view, &vector_key(), &mut buf).unwrap();
    let u = vector_upload();
    assert_eq!(buf[..signed.len], u.to_bytes());
    assert_eq!(signed.record_hash, u.record_hash());
}

#[test]
fn key_files_of_each_type_parse_to_the_document_keys() {
    // The vector secret 0x01 … 0x20 written as each key type's file (docs/formats.md,
    // "Device key files"); the public keys are the ones section 10 gives.
    let secret = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
    let cases = [
        (
            KeyType::Ed25519,
            format!("{secret}\n"),
            "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664",
        ),
        (
            KeyType::Sm2,
            format!("sm2:{secret}\n"),
            "0346d1086f6e5c938447f05280db707c279a7b459c38f19e4d9a30ad2dadf9f28a",
        ),
        (
            KeyType::P256,
            format!("p256:{secret}\n"),
            "02515c3d6eb9e396b904d3feca7f54fdcd0cc1e997bf375dca515ad0a6c3b4035f",
        ),
    ];
    let bytes: [u8; 32] = hex::decode(secret).unwrap().try_into().unwrap();
    for (t, text, public) in cases {
        assert_eq!(tanji_readings::device_key_text(t, &bytes), text);
        let k = tanji_readings::parse_device_key(text.trim()).unwrap();
        assert_eq!(k.key_type(), t);
        assert_eq!(hex::encode(k.public_key().as_bytes()), public);
    }
    assert_eq!(
        tanji_readings::parse_device_key(&format!("ed25519:{secret}"))
            .unwrap()
            .public_key(),
        key(KeyType::Ed25519).public_key()
    );
    for (bad, why) in [
        ("rsa:00", "unknown key type \"rsa\""),
        ("sm2:0102", "2 bytes, an sm2 secret key has 32"),
        ("zz", "not hex"),
        (
            "p256:0000000000000000000000000000000000000000000000000000000000000000",
            "not a valid p256 secret key",
        ),
    ] {
        let e = tanji_readings::parse_device_key(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}
