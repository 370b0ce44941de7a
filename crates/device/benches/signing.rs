//! Uploads signed per second on one thread with each key type, as a device signs them: the
//! signing core encodes the body into a buffer, signs it, hashes the record and moves the
//! chain on. Beside it, in the same run, the named baseline of the same work without a
//! signature (encode and hash only), and the park's side: the same records' signature checks.
//! A plain timing loop (no harness); run pinned to one core:
//!
//!     taskset -c 0 cargo bench -p tanji-device --bench signing
//!
//! It prints the Markdown table docs/benchmarks.md records. `-- N` sets the uploads per key
//! type (default 5000).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Instant;
use tanji_device::{
    encode_body, Chain, ChannelRef, KeyType, SigningKey, UploadRef, UploadVerifier, ZERO_HASH,
};

/// 2026-11-01T00:00:00Z.
const NOV1: i64 = 1_793_491_200;

fn channel(values: &[i64]) -> ChannelRef<'_> {
    ChannelRef {
        meter: "m-0001-grid",
        carrier: "electricity_import",
        unit: "kWh",
        decimals: 3,
        start: NOV1,
        interval_s: 900,
        values,
    }
}

/// The baseline: the same bodies encoded and their record hashes chained, no signature.
fn encode_run(values: &[i64], n: usize) -> f64 {
    let channels = [channel(values)];
    let mut buf = vec![0u8; 4096];
    let mut prev = ZERO_HASH;
    let started = Instant::now();
    for seq in 1..=n as u64 {
        let body = UploadRef {
            device: "d-0001",
            seq,
            prev: &prev,
            channels: &channels,
        };
        let len = encode_body(&body, &mut buf).unwrap();
        prev = Sha256::digest(&buf[..len]).into();
    }
    black_box(prev);
    started.elapsed().as_secs_f64()
}

/// Signs `n` records of one device's chain into one buffer; returns the records (for the
/// verify run) and the seconds it took.
fn sign_run(key: &SigningKey, values: &[i64], n: usize) -> (Vec<Vec<u8>>, f64) {
    let channels = [channel(values)];
    let mut chain = Chain::new("d-0001");
    let mut buf = vec![0u8; 4096];
    let mut records = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let signed = chain.sign_next(&channels, key, &mut buf).unwrap();
        records.push(buf[..signed.len].to_vec());
    }
    (records, started.elapsed().as_secs_f64())
}

fn verify_run(key: &tanji_device::VerifyingKey, records: &[Vec<u8>]) -> f64 {
    let started = Instant::now();
    let mut ok = 0usize;
    for r in records {
        let (body, sig) = r.split_at(r.len() - 64);
        ok += usize::from(key.verify_upload(body, sig.try_into().unwrap()));
    }
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        ok,
        records.len(),
        "{} signatures must verify",
        key.key_type()
    );
    seconds
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let values: Vec<i64> = (0..96).map(|i| 10_000 + 37 * i).collect();
    let body_len = tanji_device::body_len(&UploadRef {
        device: "d-0001",
        seq: 1,
        prev: &ZERO_HASH,
        channels: &[channel(&values)],
    });
    let mut rows = vec![(
        "baseline: encode + SHA-256 record hash, no signature".to_string(),
        encode_run(&values, n),
    )];
    let mut verify_rows = Vec::new();
    for t in KeyType::ALL {
        // A fixed secret: the same work on every run.
        let key = SigningKey::from_secret(t, &[7; 32]).unwrap();
        let (records, seconds) = sign_run(&key, &values, n);
        rows.push((format!("sign {t} (encode, sign, hash, chain)"), seconds));
        let vk = key.public_key().verifying_key().unwrap();
        verify_rows.push((
            format!("verify {t} (the park's check)"),
            verify_run(&vk, &records),
        ));
    }
    rows.extend(verify_rows);

    let ed25519 = n as f64 / rows[1].1;
    println!(
        "{n} uploads per key type, each one channel of 96 quarter-hour readings (a day; a {body_len}-byte body), one thread:\n"
    );
    println!("| run | uploads | seconds | uploads/s | µs each | vs Ed25519 signing |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (what, seconds) in &rows {
        let per_s = n as f64 / seconds;
        println!(
            "| {what} | {n} | {seconds:.3} | {per_s:.0} | {:.1} | {:.2}× |",
            1e6 * seconds / n as f64,
            per_s / ed25519
        );
    }
}
