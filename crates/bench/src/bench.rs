//! `tanji-bench …`: measured in one run, beside a named baseline, printed as a table and
//! optionally recorded in docs/benchmarks.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use tanji_park::{Incoming, Outcome, Park};
use tanji_readings::{
    parse_json_upload, upload_to_json, Channel, DeviceRegistration, SignedUpload, UploadBody,
    ZERO_HASH,
};

use tanji_cli::record::{check_write, record};
use tanji_cli::util;
use tanji_units::time;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable ingest throughput (JSON lines → validated → logged → fsynced) beside the
    /// verify-only ceiling: the same records' Ed25519 signature checks alone.
    Ingest {
        /// Uploads to ingest (each one channel of 96 quarter-hour readings).
        #[arg(long, default_value_t = 20_000)]
        uploads: usize,
        /// Devices the uploads are spread over.
        #[arg(long, default_value_t = 100)]
        devices: usize,
        /// Records per durable batch.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Also ingest into a PostgreSQL park (`postgres://…`, without `schema=`: the run makes
        /// a schema of its own and drops it), beside SQLite in the same run.
        #[arg(long)]
        store: Option<String>,
        /// Write the table into this Markdown file (between the ingest markers; with --store,
        /// the ingest-postgres ones).
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Grid factors: a year of hourly data for many regions, flow-traced, beside the
    /// production-only floor and a dense-LU solve per hour as the named baseline.
    Factors {
        /// Regions.
        #[arg(long, default_value_t = 50)]
        regions: usize,
        /// Hourly intervals.
        #[arg(long, default_value_t = 8760)]
        hours: usize,
        /// Timed rounds; the fastest is reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Write the table into this Markdown file (between the factors markers).
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Load-shift advice: a day of 96 quarter-hours with 50 flexible loads solved exactly,
    /// beside a greedy fill of each load's cleanest intervals.
    Optimize(crate::optimize::Args),
    /// A park-year reported end to end from the store, and the accounting alone, beside
    /// DuckDB (through Python's `duckdb`) running the same join-multiply-aggregate over the
    /// same readings in Parquet and in memory, single-threaded, in the same run.
    Report {
        /// Simulated enterprises (default: the fewest with at least 300 meters).
        #[arg(long)]
        enterprises: Option<usize>,
        /// Days, from 2025-01-01 (365: a park-year of 35 040 quarter-hours per meter).
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Timed rounds; the fastest is reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Simulation seed.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Write the table into this Markdown file (between the report markers; with --store,
        /// the report-postgres ones).
        #[arg(long)]
        write: Option<PathBuf>,
        /// Keep the benchmark's park directory (and the Parquet files) for inspection.
        #[arg(long)]
        keep: bool,
        /// Also load the park into PostgreSQL (`postgres://…`, without `schema=`: the run
        /// makes a schema of its own and drops it) and report from it, beside SQLite.
        #[arg(long)]
        store: Option<String>,
    },
    /// The service under load on loopback: N simulated devices POST signed uploads at a given
    /// rate to an in-process server; accepted uploads/s and acknowledgement latency p50/p99.
    Serve(crate::serve::Args),
    /// A gateway's uploads signed and made durable in its outbox per second, with Ed25519,
    /// SM2 and P-256, beside the park's durable ingest of the same records.
    Gateway(crate::gateway::Args),
    /// Many parks on one PostgreSQL: every park its own log, key and partition, ingesting in
    /// this process at a total offered rate; uploads/s and acknowledgement latency.
    Parks(crate::parks::Args),
    /// One deployment of many parks on PostgreSQL served by N `tanji serve` processes (1, the
    /// baseline, beside 2): uploads over HTTP at a total offered rate, each instance writing
    /// some parks and forwarding the others' uploads; uploads/s, acknowledgement latency, CPU.
    Instances(crate::instances::Args),
}

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    let write = match &cmd {
        BenchCommand::Ingest { write, .. }
        | BenchCommand::Factors { write, .. }
        | BenchCommand::Report { write, .. } => write.as_deref(),
        BenchCommand::Optimize(a) => a.write.as_deref(),
        BenchCommand::Serve(a) => a.write.as_deref(),
        BenchCommand::Gateway(a) => a.write.as_deref(),
        BenchCommand::Parks(a) => a.write.as_deref(),
        BenchCommand::Instances(a) => a.write.as_deref(),
    };
    if let Some(path) = write {
        check_write(path)?;
    }
    match cmd {
        BenchCommand::Ingest {
            uploads,
            devices,
            batch,
            store,
            write,
        } => ingest(
            uploads,
            devices.max(1),
            batch.max(1),
            store.as_deref(),
            write.as_deref(),
        ),
        BenchCommand::Factors {
            regions,
            hours,
            rounds,
            write,
        } => factors(regions, hours, rounds, write.as_deref()),
        BenchCommand::Optimize(a) => crate::optimize::run(a),
        BenchCommand::Report {
            enterprises,
            days,
            rounds,
            seed,
            write,
            keep,
            store,
        } => crate::report::run(crate::report::Args {
            enterprises,
            days,
            rounds,
            seed,
            write,
            keep,
            store,
        }),
        BenchCommand::Serve(a) => crate::serve::run(a),
        BenchCommand::Gateway(a) => crate::gateway::run(a),
        BenchCommand::Parks(a) => crate::parks::run(a),
        BenchCommand::Instances(a) => crate::instances::run(a),
    }
}

fn factors(regions: usize, hours: usize, rounds: usize, write: Option<&Path>) -> Result<ExitCode> {
    let cfg = tanji_factors::bench::BenchConfig {
        regions: regions.max(1),
        hours: hours.max(1),
        rounds: rounds.max(1),
        ..Default::default()
    };
    eprintln!(
        "flow-tracing {} regions × {} hours, best of {} …",
        cfg.regions, cfg.hours, cfg.rounds
    );
    let report = tanji_factors::bench::run(&cfg)?;
    let mut table = String::new();
    table.push_str("| run | what | total | per hour |\n|---|---|---:|---:|\n");
    for t in &report.timings {
        table.push_str(&format!(
            "| {} | {} | {:.1} ms | {:.1} µs |\n",
            t.name,
            t.what,
            t.total.as_secs_f64() * 1e3,
            t.total.as_secs_f64() * 1e6 / cfg.hours as f64
        ));
    }
    let note = format!(
        "{} generation rows, {} exchange rows; largest loop of flows solved densely: {} regions; \
block solver vs dense LU max |diff| {:.1e} g/kWh; series CSV {} bytes; {} data issues.\n",
        report.generation_rows,
        report.exchange_rows,
        report.largest_block,
        report.max_abs_diff,
        report.csv_bytes,
        report.issues
    );
    println!("{table}\n{note}");
    if let Some(path) = write {
        let intro = format!(
            "Measured {} on this machine, one thread, {} regions × {} hours (synthetic network, seed {}), fastest of {} rounds:\n\n",
            time::rfc3339(util::now()),
            cfg.regions,
            cfg.hours,
            cfg.seed,
            cfg.rounds
        );
        record(path, "factors", &format!("{intro}{table}\n{note}"))?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn key_for(device: usize) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(format!("tanji bench device {device}")).into();
    SigningKey::from_bytes(&seed)
}

/// One day of a plausible factory load, 96 values in Wh (kWh with 3 decimals).
fn day_values(device: usize, day: usize) -> Vec<i64> {
    (0..96)
        .map(|i| {
            let hour = (i / 4 + 8) % 24; // local time, UTC+8
            let base = 40_000 + (device as i64 % 17) * 1_000;
            let shift = if (8..20).contains(&hour) { 120_000 } else { 0 };
            base + shift + ((i as i64 * 7919 + day as i64 * 104_729) % 9_000)
        })
        .collect()
}

pub(crate) struct Data {
    pub regs: Vec<DeviceRegistration>,
    pub lines: Vec<String>,
    pub records: Vec<SignedUpload>,
}

pub(crate) fn make_data(n: usize, devices: usize, now: i64) -> Data {
    let days = n.div_ceil(devices);
    let first_day = (now.div_euclid(time::DAY_S) - days as i64 - 1) * time::DAY_S;
    let keys: Vec<SigningKey> = (0..devices).map(key_for).collect();
    let regs = (0..devices)
        .map(|d| DeviceRegistration {
            device: format!("b-{d:05}"),
            public_key: tanji_readings::PublicKey::Ed25519(keys[d].verifying_key().to_bytes()),
            enterprise: format!("e-{:04}", d / 5),
            meter: format!("bm-{d:05}"),
            carrier: "electricity_import".into(),
            unit: "kWh".into(),
            rated_per_hour_milli: 2_000_000,
            registered_at: first_day,
        })
        .collect();
    let mut prev = vec![ZERO_HASH; devices];
    let mut records = Vec::with_capacity(n);
    'outer: for day in 0..days {
        for d in 0..devices {
            if records.len() == n {
                break 'outer;
            }
            let body = UploadBody {
                device: format!("b-{d:05}"),
                seq: day as u64 + 1,
                prev: prev[d],
                channels: vec![Channel {
                    meter: format!("bm-{d:05}"),
                    carrier: "electricity_import".into(),
                    unit: "kWh".into(),
                    decimals: 3,
                    start: first_day + day as i64 * time::DAY_S,
                    interval_s: 900,
                    values: day_values(d, day),
                }],
            };
            let u = body.sign(&keys[d]);
            prev[d] = u.record_hash();
            records.push(u);
        }
    }
    let lines = records.iter().map(upload_to_json).collect();
    Data {
        regs,
        lines,
        records,
    }
}

struct Row {
    what: String,
    seconds: f64,
    uploads: usize,
    readings: usize,
}

/// A run's store: SQLite in the park directory, or a park in a PostgreSQL schema of its own.
fn durable_run(data: &Data, batch: usize, now: i64, pg: Option<&str>) -> Result<Row> {
    let dir = tempfile::tempdir().context("creating a temporary park directory")?;
    let run = pg
        .map(|url| crate::pg::PgRun::new(url, "ingest"))
        .transpose()?;
    let url = run.as_ref().map(crate::pg::PgRun::store_url);
    let mut park = Park::create_on(dir.path(), "bench", None, url.as_deref())?;
    park.register(&data.regs)?;
    let started = Instant::now();
    let mut accepted = 0;
    let mut readings = 0;
    for chunk in data.lines.chunks(batch) {
        let items: Vec<Incoming> = chunk
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
            match o {
                Outcome::Accepted { .. } => accepted += 1,
                other => anyhow::bail!("benchmark record not accepted: {other:?}"),
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    for r in &data.records[..accepted] {
        readings += r.reading_count();
    }
    drop(park);
    drop(run);
    let what = match pg {
        None => "SQLite, synchronous=FULL",
        Some(_) => "PostgreSQL, synchronous_commit=on",
    };
    Ok(Row {
        what: format!("durable ingest (JSON → validate → log → commit), {what}, batch {batch}"),
        seconds,
        uploads: accepted,
        readings,
    })
}

fn ingest(
    n: usize,
    devices: usize,
    batch: usize,
    pg: Option<&str>,
    write: Option<&Path>,
) -> Result<ExitCode> {
    let pg_version = pg
        .map(|url| crate::pg::PgRun::new(url, "probe")?.describe())
        .transpose()?;
    let now = util::now();
    eprintln!("preparing {n} signed uploads of 96 readings from {devices} devices …");
    let data = make_data(n, devices, now);
    let keys: Vec<_> = data
        .regs
        .iter()
        .map(|r| r.public_key.verifying_key())
        .collect::<Result<_, _>>()?;

    // Baseline: the signature checks alone, on the already-decoded records.
    let started = Instant::now();
    let mut ok = 0;
    for (i, r) in data.records.iter().enumerate() {
        if r.verify_signature(&keys[i % devices]) {
            ok += 1;
        }
    }
    let ceiling = Row {
        what: "verify-only ceiling (Ed25519 verify_strict of the same records)".into(),
        seconds: started.elapsed().as_secs_f64(),
        uploads: ok,
        readings: ok * 96,
    };
    anyhow::ensure!(ok == n, "only {ok} of {n} benchmark signatures verified");

    let small = (batch / 10).max(1);
    let mut rows = vec![ceiling];
    for store in std::iter::once(None).chain(pg.map(Some)) {
        for b in [batch, small] {
            eprintln!(
                "durable ingest, batch {b}, {} …",
                if store.is_some() {
                    "PostgreSQL"
                } else {
                    "SQLite"
                }
            );
            rows.push(durable_run(&data, b, now, store)?);
        }
    }
    let base = rows[0].uploads as f64 / rows[0].seconds;
    let mut table = String::new();
    table.push_str("| run | uploads | seconds | uploads/s | readings/s | of ceiling |\n");
    table.push_str("|---|---:|---:|---:|---:|---:|\n");
    for r in &rows {
        let ups = r.uploads as f64 / r.seconds;
        table.push_str(&format!(
            "| {} | {} | {:.3} | {:.0} | {:.0} | {:.0}% |\n",
            r.what,
            r.uploads,
            r.seconds,
            ups,
            r.readings as f64 / r.seconds,
            100.0 * ups / base
        ));
    }
    println!("{table}");
    if let Some(path) = write {
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let body = format!(
            "Measured {} on this machine (one thread; {cores} core(s) available to the process), {n} uploads from {devices} devices, \
each one channel of 96 quarter-hour readings (one day), SQLite WAL with synchronous=FULL{}:\n\n{table}",
            time::rfc3339(util::now()),
            pg_version.map_or_else(String::new, |v| format!("; {v}, the same machine and disk"))
        );
        // Beside PostgreSQL, a section of its own: the SQLite-only record stays.
        let marker = if pg.is_some() {
            "ingest-postgres"
        } else {
            "ingest"
        };
        record(path, marker, &body)?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
