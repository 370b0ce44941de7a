#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The test vectors of docs/formats.md, section 10. The hex here must match the document
//! exactly; the test also checks that the document contains each of them.

mod common;
use common::*;
use tanji_readings::*;

const DOC: &str = include_str!("../../../docs/formats.md");

const PUBLIC_KEY: &str = "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
const CANONICAL: &str = "74616e6a692f75706c6f61642f76310a0006642d30303031000000000000000100000000000000000000000000000000000000000000000000000000000000000002000b6d2d303030312d677269640012656c6563747269636974795f696d706f727400036b576803000000006ae6810000000384000400000000000030390000000000002e1800000000000000000000000000003aac000a6d2d303030312d676173000b6e61747572616c5f67617300026d3302000000006ae6810000000384000400000000000000960000000000000095000000000000000000000000000003ff";
const SIGNATURE: &str = "e6749fd1ef31e15adff035cb2bc527f7acb7950cf6f79c77eeba50b0cf49cabfe18a6971dc06ebb4c1035031ddee7570db2faee5de0ec58d19ab4f14ea5cac06";
const RECORD_HASH: &str = "093f679711148ac8f46260a207c501f2d063ce7ddf6c49cf37c7ed90c2f978d8";
const UPLOAD_JSON: &str = r#"{"device":"d-0001","seq":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000","channels":[{"meter":"m-0001-grid","carrier":"electricity_import","unit":"kWh","decimals":3,"start":"2026-11-01T00:00:00Z","interval_s":900,"values":[12345,11800,0,15020]},{"meter":"m-0001-gas","carrier":"natural_gas","unit":"m3","decimals":2,"start":"2026-11-01T00:00:00Z","interval_s":900,"values":[150,149,0,1023]}],"signature":"e6749fd1ef31e15adff035cb2bc527f7acb7950cf6f79c77eeba50b0cf49cabfe18a6971dc06ebb4c1035031ddee7570db2faee5de0ec58d19ab4f14ea5cac06"}"#;
const REGISTRATION: &str = "74616e6a692f726567697374726174696f6e2f76310a0006642d3030303179b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad0496640006652d30303031000b6d2d303030312d677269640012656c6563747269636974795f696d706f727400036b5768000000000007a120000000006abda280";
const REGISTRATION_JSON: &str = r#"{"device":"d-0001","public_key":"79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664","enterprise":"e-0001","meter":"m-0001-grid","carrier":"electricity_import","unit":"kWh","rated_per_hour_milli":500000,"registered_at":"2026-10-01T00:00:00Z"}"#;

#[test]
fn the_document_carries_these_vectors() {
    for v in [
        PUBLIC_KEY,
        CANONICAL,
        SIGNATURE,
        RECORD_HASH,
        UPLOAD_JSON,
        REGISTRATION,
        REGISTRATION_JSON,
    ] {
        assert!(DOC.contains(v), "docs/formats.md is missing {v}");
    }
}

#[test]
fn the_annotated_dump_in_the_document_matches() {
    // Concatenate the hex column of the annotated table in section 10.
    let table = DOC
        .split("off  bytes")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .unwrap();
    let hex: String = table
        .lines()
        .skip(1)
        .filter_map(|l| l.get(5..).and_then(|rest| rest.split_whitespace().next()))
        .collect();
    assert_eq!(hex, CANONICAL);
}

#[test]
fn key_upload_and_registration_reproduce_the_vectors() {
    assert_eq!(
        hex::encode(vector_key().verifying_key().to_bytes()),
        PUBLIC_KEY
    );

    let u = vector_upload();
    assert_eq!(hex::encode(u.body.canonical_bytes()), CANONICAL);
    assert_eq!(hex::encode(u.signature), SIGNATURE);
    assert_eq!(hex::encode(u.record_hash()), RECORD_HASH);
    assert_eq!(hex::encode(u.to_bytes()), format!("{CANONICAL}{SIGNATURE}"));
    assert_eq!(u.to_bytes().len(), 291);
    assert_eq!(
        hex::encode(LogEntry::Upload(u.clone()).to_bytes()),
        format!("01{CANONICAL}{SIGNATURE}")
    );
    assert_eq!(upload_to_json(&u), UPLOAD_JSON);
    assert_eq!(parse_json_upload(UPLOAD_JSON).unwrap(), u);
    assert!(u.verify_signature(&vector_key().verifying_key()));

    let r = vector_registration();
    assert_eq!(hex::encode(r.to_bytes()), REGISTRATION);
    assert_eq!(r.to_bytes().len(), 124);
    assert_eq!(
        hex::encode(LogEntry::Registration(r.clone()).to_bytes()),
        format!("02{REGISTRATION}")
    );
    assert_eq!(registration_to_json(&r), REGISTRATION_JSON);
    assert_eq!(parse_json_registration(REGISTRATION_JSON).unwrap(), r);
}

#[test]
fn decoding_the_documented_bytes_gives_the_documented_record() {
    let bytes = hex::decode(format!("{CANONICAL}{SIGNATURE}")).unwrap();
    assert_eq!(SignedUpload::from_bytes(&bytes).unwrap(), vector_upload());
    let reg = hex::decode(REGISTRATION).unwrap();
    assert_eq!(
        DeviceRegistration::from_bytes(&reg).unwrap(),
        vector_registration()
    );
}
