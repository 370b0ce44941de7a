//! `tanji-bench signing`: uploads signed per second on one thread with each key type, as a
//! device signs them — the signing core (`tanji-device`) encodes the body into a buffer,
//! signs it, hashes the record and moves the chain on — beside the named baseline of the same
//! work without a signature (encode and hash only), and the park's side: the same records'
//! signature checks with each key type.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use tanji_cli::record::record;
use tanji_cli::util;
use tanji_device::{
    Chain, ChannelRef, KeyType, SigningKey, UploadRef, UploadVerifier, VerifyingKey, ZERO_HASH,
};
use tanji_units::time;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Uploads signed (and verified) with each key type; each one channel of 96 quarter-hour
    /// readings (a day), as in the ingest bench.
    #[arg(long, default_value_t = 5_000)]
    pub uploads: usize,
    /// Write the table into this Markdown file (between the signing markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// 2026-11-01T00:00:00Z.
const NOV1: i64 = 1_793_491_200;

struct Row {
    what: String,
    records: usize,
    seconds: f64,
}

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

/// Signs `n` records of one device's chain into one buffer; returns the records (for the
/// verify runs) and the seconds it took.
fn sign_run(key: &SigningKey, values: &[i64], n: usize) -> Result<(Vec<Vec<u8>>, f64)> {
    let channels = [channel(values)];
    let mut chain = Chain::new("d-0001");
    let mut buf = vec![0u8; 4096];
    let mut records = Vec::with_capacity(n);
    let started = Instant::now();
    for _ in 0..n {
        let signed = chain
            .sign_next(&channels, key, &mut buf)
            .with_context(|| format!("signing with {}", key.key_type()))?;
        records.push(buf[..signed.len].to_vec());
    }
    Ok((records, started.elapsed().as_secs_f64()))
}

/// The baseline: the same bodies encoded and hashed (what signing adds to is this).
fn encode_run(values: &[i64], n: usize) -> Result<f64> {
    use sha2::{Digest, Sha256};
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
        let len = tanji_device::encode_body(&body, &mut buf)
            .map_err(|e| anyhow::anyhow!("encoding: {e}"))?;
        prev = Sha256::digest(&buf[..len]).into();
    }
    std::hint::black_box(prev);
    Ok(started.elapsed().as_secs_f64())
}

fn verify_run(key: &VerifyingKey, records: &[Vec<u8>]) -> Result<f64> {
    let started = Instant::now();
    let mut ok = 0usize;
    for r in records {
        let (body, sig) = r.split_at(r.len() - 64);
        let sig: &[u8; 64] = sig.try_into()?;
        ok += usize::from(key.verify_upload(body, sig));
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        ok == records.len(),
        "{} of {} {} signatures did not verify",
        records.len() - ok,
        records.len(),
        key.key_type()
    );
    Ok(seconds)
}

pub fn run(a: Args) -> Result<ExitCode> {
    let n = a.uploads.max(1);
    let values: Vec<i64> = (0..96).map(|i| 10_000 + 37 * i).collect();
    let mut rows = vec![Row {
        what: "baseline: encode + SHA-256 record hash, no signature".into(),
        records: n,
        seconds: encode_run(&values, n)?,
    }];
    let mut verify_rows = Vec::new();
    for t in KeyType::ALL {
        // A fixed secret: the same work on every run.
        let key = SigningKey::from_secret(t, &[7; 32])?;
        let (records, seconds) = sign_run(&key, &values, n)?;
        rows.push(Row {
            what: format!("sign {t} (encode, sign, hash, chain)"),
            records: n,
            seconds,
        });
        let vk = key.public_key().verifying_key()?;
        verify_rows.push(Row {
            what: format!("verify {t} (the park's check)"),
            records: n,
            seconds: verify_run(&vk, &records)?,
        });
    }
    rows.extend(verify_rows);

    let ed25519 = n as f64 / rows[1].seconds;
    let mut table = String::new();
    table.push_str("| run | uploads | seconds | uploads/s | µs each | vs Ed25519 signing |\n");
    table.push_str("|---|---:|---:|---:|---:|---:|\n");
    for r in &rows {
        let per_s = r.records as f64 / r.seconds;
        table.push_str(&format!(
            "| {} | {} | {:.3} | {:.0} | {:.1} | {:.2}× |\n",
            r.what,
            r.records,
            r.seconds,
            per_s,
            1e6 * r.seconds / r.records as f64,
            per_s / ed25519
        ));
    }
    println!("{table}");
    if let Some(path) = a.write {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let body = format!(
            "Measured {} on this machine (one thread; {cores} core(s) available to the process), {n} uploads per key type, \
each one channel of 96 quarter-hour readings (a day), signed into one buffer as firmware does:\n\n{table}",
            time::rfc3339(util::now())
        );
        record(&path, "signing", &body)?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
