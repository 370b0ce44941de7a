//! `tanji-bench gateway`: what a gateway does per upload with each key type — sign in memory,
//! and read, seal, sign and make durable in its outbox (`tanji_gateway::bench`) — beside the
//! named baseline, the park's durable ingest of the same records (JSON → validate, with that
//! key type's signature check → log → fsync), in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tanji_park::{Incoming, Outcome, Park};
use tanji_readings::{parse_json_upload, upload_to_json, DeviceRegistration, KeyType, ZERO_HASH};

use tanji_cli::record::record;
use tanji_cli::util;
use tanji_units::time;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records per key type (each two channels of one 900 s value: a gateway's quarter-hour).
    #[arg(long, default_value_t = 2000)]
    pub records: u32,
    /// Records per durable batch of the park's ingest (the gateway sends at most 100 a
    /// request).
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Write the table into this Markdown file (between the gateway markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// The park's durable ingest of `n` gateway records signed with `key_type`: records per second.
fn park_ingest(key_type: KeyType, n: u32, batch: usize) -> Result<f64> {
    let key = tanji_gateway::bench::key(key_type);
    let mut prev = ZERO_HASH;
    let mut lines = Vec::new();
    for seq in 1..=u64::from(n) {
        let u = tanji_gateway::bench::record(seq, prev).try_sign(&key)?;
        prev = u.record_hash();
        lines.push(upload_to_json(&u));
    }
    let dir = tempfile::tempdir().context("creating a temporary park directory")?;
    let mut park = Park::create(dir.path(), "bench", None)?;
    let reg = |meter: &str| DeviceRegistration {
        device: "gw-bench".into(),
        public_key: key.public_key(),
        enterprise: "e-bench".into(),
        meter: meter.into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        rated_per_hour_milli: 500_000,
        registered_at: 1_767_225_600 - time::DAY_S,
    };
    park.register(&[reg("m-1"), reg("m-2")])?;
    let now = util::now();
    let started = Instant::now();
    for chunk in lines.chunks(batch.max(1)) {
        let items = chunk
            .iter()
            .enumerate()
            .map(|(i, l)| Incoming {
                source: format!("bench:{i}"),
                parsed: parse_json_upload(l),
                checked: None,
                raw: l.as_bytes().to_vec(),
            })
            .collect();
        for o in park.ingest(items, now)? {
            if !matches!(o, Outcome::Accepted { .. }) {
                bail!("benchmark record not accepted: {o:?}");
            }
        }
    }
    Ok(f64::from(n) / started.elapsed().as_secs_f64())
}

pub fn run(a: Args) -> Result<ExitCode> {
    let n = a.records.max(1);
    let mut table = String::from(
        "| key type | signed in memory, records/s | read, sealed, signed, durable in the outbox, records/s | baseline: the park's durable ingest, records/s |\n|---|---:|---:|---:|\n",
    );
    for t in KeyType::ALL {
        eprintln!("{t}: the gateway's signing and outbox, {n} records …");
        let dir = tempfile::tempdir().context("creating a temporary outbox directory")?;
        let f = tanji_gateway::bench::run(dir.path(), n, &tanji_gateway::bench::key(t))?;
        eprintln!("{t}: the park's ingest of {n} records, batch {} …", a.batch);
        let park = park_ingest(t, n, a.batch)?;
        table.push_str(&format!(
            "| {t} | {:.0} | {:.0} | {park:.0} |\n",
            f.signed_per_s, f.durable_per_s
        ));
    }
    println!("{table}");
    if let Some(path) = &a.write {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let body = format!(
            "Measured {} on this machine (one thread; {cores} core(s) available to the process), {n} records per key type, each two channels of one 900 s value; the outbox commits three fsynced transactions a record (the read, the reservation, the signature); the park ingests in batches of {} (SQLite WAL, synchronous=FULL):\n\n{table}",
            time::rfc3339(util::now()),
            a.batch
        );
        record(path, "gateway", &body)?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
