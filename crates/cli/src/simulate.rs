//! `tanji simulate`: a park's devices, simulated, writing signed uploads as JSON lines — and,
//! with `--mqtt URL`, publishing them to a broker as the devices would.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use tanji_readings::{registration_to_json, upload_to_json, SignedUpload};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_units::time;

use crate::util;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output directory: registrations.jsonl and uploads.jsonl are written there.
    #[arg(long)]
    pub out: PathBuf,
    /// Also register the simulated devices in this park (logged entries).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Number of enterprises (one collection device each).
    #[arg(long, default_value_t = 20)]
    pub enterprises: usize,
    /// Number of days (one upload per device per UTC day, 96 quarter-hours per meter).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of every random choice and device key: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day, YYYY-MM-DD (UTC). Default: so that the last day ends at today's UTC midnight.
    #[arg(long)]
    pub start: Option<String>,
    /// Also publish every upload to this MQTT broker (`mqtt://host:port`) as the devices would:
    /// each device connects on its own, publishes its uploads in order on
    /// `tanji/<park>/<device>/up` with QoS 1 and waits for each answer on `…/ack` (a server
    /// with `--mqtt` on the same broker logs them).
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// The `<park>` level of the MQTT topics (default: the name of the park in `--dir`).
    #[arg(long, requires = "mqtt")]
    pub park: Option<String>,
}

/// What a simulation wrote.
pub struct Written {
    pub registrations: PathBuf,
    pub uploads: PathBuf,
    pub upload_count: u64,
    pub readings: u64,
    pub park: SimPark,
}

pub fn spec(enterprises: usize, days: u32, seed: u64, start: Option<&str>) -> Result<ParkSpec> {
    let start_day = match start {
        Some(s) => util::parse_day(s).with_context(|| format!("--start {s}"))?,
        None => (util::now().div_euclid(time::DAY_S) - i64::from(days)) * time::DAY_S,
    };
    anyhow::ensure!(enterprises > 0, "--enterprises must be at least 1");
    anyhow::ensure!(days > 0, "--days must be at least 1");
    Ok(ParkSpec {
        seed,
        enterprises,
        start_day,
        days,
    })
}

/// Generates the park, with `faults` injected into its meters' values, and writes its
/// registrations and uploads into `out`.
pub fn write(
    spec: ParkSpec,
    faults: Vec<tanji_simulator::Fault>,
    out: &Path,
    registered_at: i64,
) -> Result<Written> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut park = SimPark::generate(spec);
    park.faults = faults;
    let registrations = out.join("registrations.jsonl");
    let uploads = out.join("uploads.jsonl");
    let mut w = BufWriter::new(
        std::fs::File::create(&registrations)
            .with_context(|| format!("creating {}", registrations.display()))?,
    );
    for r in park.registrations(registered_at) {
        writeln!(w, "{}", registration_to_json(&r))?;
    }
    w.flush()?;
    let total = park.uploads().len() as u64;
    let pb = util::bar(total, "simulate");
    let mut w = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&uploads)
            .with_context(|| format!("creating {}", uploads.display()))?,
    );
    let mut upload_count = 0;
    let mut readings = 0;
    for u in park.uploads() {
        writeln!(w, "{}", upload_to_json(&u))
            .with_context(|| format!("writing {}", uploads.display()))?;
        upload_count += 1;
        readings += u.reading_count() as u64;
        pb.inc(1);
    }
    w.flush()
        .with_context(|| format!("writing {}", uploads.display()))?;
    pb.finish_and_clear();
    Ok(Written {
        registrations,
        uploads,
        upload_count,
        readings,
        park,
    })
}

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    let spec = spec(a.enterprises, a.days, a.seed, a.start.as_deref())?;
    let registered_at = util::now();
    let written = write(spec, Vec::new(), &a.out, registered_at)?;
    println!(
        "simulated {} enterprises × {} days from {} (seed {}): {} uploads, {} readings",
        spec.enterprises,
        spec.days,
        time::rfc3339(written.park.spec.start_day),
        spec.seed,
        written.upload_count,
        written.readings
    );
    println!("  {}", written.registrations.display());
    println!("  {}", written.uploads.display());
    let end = written.park.spec.start_day + i64::from(spec.days) * time::DAY_S;
    if end > registered_at {
        eprintln!(
            "warning: the simulated days run to {}, after now ({}): `tanji ingest` rejects uploads whose intervals end in the future (future_interval) unless given --now; choose --start so that the last day ends by today",
            time::rfc3339(end),
            time::rfc3339(registered_at)
        );
    }
    if let Some(dir) = &a.dir {
        let mut park = util::open(dir)?;
        let regs = written.park.registrations(registered_at);
        let s = park.register(&regs)?;
        println!(
            "registered {} meter(s) of {} device(s) in {} ({} already registered)",
            s.logged.len(),
            written.park.devices.len(),
            dir.display(),
            s.already
        );
        println!(
            "next: tanji ingest --dir {} {}",
            dir.display(),
            written.uploads.display()
        );
    }
    if let Some(url) = &a.mqtt {
        let park = match (&a.park, &a.dir) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => util::open_read(dir)?.name()?,
            (None, None) => anyhow::bail!(
                "--mqtt needs the park's name for the topics: give --park NAME (or --dir of the park)"
            ),
        };
        let uploads: Vec<SignedUpload> = written.park.uploads().collect();
        let summary = tanji_server::fleet::publish_uploads(url, &park, &uploads)?;
        println!("{summary}");
        if summary.rejected + summary.errors > 0 {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
