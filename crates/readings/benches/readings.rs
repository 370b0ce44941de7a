//! Timing of the hot paths on a typical record: one device, 4 meters × 24 values (96 values,
//! a day of hourly data or six hours of 15-minute data per meter). Plain loop, no harness:
//! `cargo bench -p tanji-readings`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use ed25519_dalek::SigningKey;
use std::hint::black_box;
use std::time::Instant;
use tanji_readings::*;
use tanji_units::{Carrier, Unit};

const NOV1: i64 = 1_793_491_200;

struct Ctx(VerifyingKey);

impl ValidationContext for Ctx {
    fn device_key(&self, _: &str) -> Option<VerifyingKey> {
        Some(self.0.clone())
    }
    fn meter(&self, _: &str, _: &str) -> Option<MeterInfo> {
        Some(MeterInfo {
            enterprise: "e-0001".into(),
            carrier: Carrier::ElectricityImport,
            unit: Unit::KWh,
            rated_per_hour_milli: 500_000,
        })
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

/// Best of 5 rounds of `iters` calls: the minimum is the least noisy estimate.
fn time<T>(name: &str, iters: u32, mut f: impl FnMut() -> T) -> std::time::Duration {
    for _ in 0..iters / 10 {
        black_box(f());
    }
    let per = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            t.elapsed() / iters
        })
        .min()
        .unwrap_or_default();
    println!("{name:<40} {per:>10.2?}");
    per
}

fn main() {
    let key = SigningKey::from_bytes(&[1; 32]);
    let body = UploadBody {
        device: "d-0001".into(),
        seq: 1,
        prev: ZERO_HASH,
        channels: (0..4)
            .map(|i| Channel {
                meter: format!("m-0001-{i}"),
                carrier: "electricity_import".into(),
                unit: "kWh".into(),
                decimals: 3,
                start: NOV1,
                interval_s: 3600,
                values: (0..24).map(|v| 100_000 + v * 1_000).collect(),
            })
            .collect(),
    };
    let u = body.sign(&key);
    assert_eq!(u.reading_count(), 96);
    let ctx = Ctx(key.verifying_key().into());
    let policy = Policy::at(NOV1 + 86_400);
    let bytes = u.to_bytes();
    let json = upload_to_json(&u);
    assert!(matches!(
        validate(&u, &ctx, &policy),
        Ok(Verdict::Accept { .. })
    ));

    println!(
        "96-value upload: {} bytes, {} bytes of JSON",
        bytes.len(),
        json.len()
    );
    let all = time("validate (incl. signature)", 20_000, || {
        validate(&u, &ctx, &policy)
    });
    let sig = time("verify_signature alone", 20_000, || {
        u.verify_signature(&ctx.0)
    });
    println!(
        "{:<40} {:>10.2?}  (difference of the two above)",
        "validate minus signature",
        all.saturating_sub(sig)
    );
    time("record_hash", 200_000, || u.record_hash());
    time("to_bytes", 200_000, || u.to_bytes());
    time("from_bytes", 200_000, || SignedUpload::from_bytes(&bytes));
    time("upload_to_json", 100_000, || upload_to_json(&u));
    time("parse_json_upload", 100_000, || parse_json_upload(&json));
}
