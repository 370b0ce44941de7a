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

const SM2_PUBLIC_KEY: &str = "02b0ebbf08c7bc1b2e2ac2b8f87dddc3e1a6a07a5fb0bfb4ba2a0bd47b7d2cd9d8";
const P256_PUBLIC_KEY: &str = "";
const SM2_REGISTRATION: &str = "";
const P256_REGISTRATION: &str = "";
const SM2_REGISTRATION_JSON: &str = "";
const P256_SIGNATURE: &str = "";

#[test]
fn print_vectors() {
    for t in [KeyType::Sm2, KeyType::P256] {
        let r = registration(t);
        println!("{t} key {}", hex::encode(r.public_key.as_bytes()));
        println!("{t} reg {}", hex::encode(r.to_bytes()));
        println!("{t} json {}", registration_to_json(&r));
        let u = vector_body().try_sign(&key(t)).unwrap();
        println!("{t} sig {}", hex::encode(u.signature));
    }
    let _ = (DOC, SM2_PUBLIC_KEY, P256_PUBLIC_KEY, SM2_REGISTRATION, P256_REGISTRATION, SM2_REGISTRATION_JSON, P256_SIGNATURE);
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
