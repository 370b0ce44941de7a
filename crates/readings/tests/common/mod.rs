//! Shared fixtures for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use tanji_readings::{Channel, DeviceRegistration, SignedUpload, UploadBody, ZERO_HASH};

/// 2026-11-01T00:00:00Z.
pub const NOV1: i64 = 1_793_491_200;
/// 2026-10-01T00:00:00Z.
pub const OCT1: i64 = 1_790_812_800;

/// The test-vector key: secret bytes 0x01, 0x02, …, 0x20.
pub fn vector_key() -> SigningKey {
    let mut sk = [0u8; 32];
    for (i, b) in sk.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    SigningKey::from_bytes(&sk)
}

/// The documented test-vector upload body: 2 channels × 4 values.
pub fn vector_body() -> UploadBody {
    UploadBody {
        device: "d-0001".into(),
        seq: 1,
        prev: ZERO_HASH,
        channels: vec![
            Channel {
                meter: "m-0001-grid".into(),
                carrier: "electricity_import".into(),
                unit: "kWh".into(),
                decimals: 3,
                start: NOV1,
                interval_s: 900,
                values: vec![12_345, 11_800, 0, 15_020],
            },
            Channel {
                meter: "m-0001-gas".into(),
                carrier: "natural_gas".into(),
                unit: "m3".into(),
                decimals: 2,
                start: NOV1,
                interval_s: 900,
                values: vec![150, 149, 0, 1_023],
            },
        ],
    }
}

pub fn vector_upload() -> SignedUpload {
    vector_body().sign(&vector_key())
}

/// The documented test-vector registration.
pub fn vector_registration() -> DeviceRegistration {
    DeviceRegistration {
        device: "d-0001".into(),
        public_key: tanji_readings::PublicKey::Ed25519(vector_key().verifying_key().to_bytes()),
        enterprise: "e-0001".into(),
        meter: "m-0001-grid".into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        rated_per_hour_milli: 500_000,
        registered_at: OCT1,
    }
}
