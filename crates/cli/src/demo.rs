//! `tanji demo`: the main job on embedded defaults — a demo park, simulated, ingested, verified.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use tanji_park::{AuditOptions, Park};
use tanji_readings::LogEntry;
use tanji_store::Store;
use tanji_units::Unit;

use crate::{ingest, simulate, util};

const MARKER: &str = ".tanji-demo";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory of the demo park. If it holds an earlier demo it is replaced; any other
    /// non-empty directory is refused.
    #[arg(long, default_value = "tanji-demo")]
    pub dir: PathBuf,
    /// Number of enterprises.
    #[arg(long, default_value_t = 20)]
    pub enterprises: usize,
    /// Number of days, ending at today's UTC midnight.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Simulation seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

fn prepare(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if dir.join(MARKER).exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the earlier demo in {}", dir.display()))?;
            println!("replacing the earlier demo park in {}", dir.display());
        } else if entries.next().is_some() {
            bail!(
                "{} exists and is not a tanji demo directory; choose another --dir",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Energy per carrier (in its unit), from the logged uploads.
fn totals(park: &Park) -> Result<BTreeMap<(String, String), f64>> {
    let mut sums: BTreeMap<(String, String), f64> = BTreeMap::new();
    park.store().scan_entries(0, park.size(), &mut |_, data| {
        if let Ok(LogEntry::Upload(u)) = LogEntry::from_bytes(data) {
            for c in &u.body.channels {
                let raw: i64 = c.values.iter().sum();
                *sums.entry((c.carrier.clone(), c.unit.clone())).or_default() +=
                    raw as f64 / 10f64.powi(i32::from(c.decimals));
            }
        }
        Ok(())
    })?;
    Ok(sums)
}

fn show(carrier: &str, unit: &str, v: f64) -> String {
    match unit.parse::<Unit>() {
        Ok(Unit::KWh) => format!("{:>12.1} MWh  {carrier}", v / 1000.0),
        _ => format!("{v:>12.1} {unit:<4} {carrier}"),
    }
}

pub fn run(a: DemoArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    prepare(&a.dir)?;
    let mut park = Park::create(&a.dir, "demo-park", None)
        .with_context(|| format!("creating the demo park in {}", a.dir.display()))?;
    std::fs::write(
        a.dir.join(MARKER),
        "created by `tanji demo`; replaced by the next demo run\n",
    )
    .with_context(|| format!("writing {}", a.dir.display()))?;
    println!(
        "park demo-park created in {} (log {})",
        a.dir.display(),
        park.origin()
    );

    let spec = simulate::spec(a.enterprises, a.days, a.seed, None)?;
    let t = Instant::now();
    let registered_at = util::now();
    let sim = simulate::write(spec, &a.dir.join("uploads"), registered_at)?;
    let regs = sim.park.registrations(registered_at);
    let reg = park.register(&regs)?;
    println!(
        "simulated {} enterprises × {} days from {}: {} devices, {} meters registered, {} signed uploads ({} readings) in {:.1} s",
        spec.enterprises,
        spec.days,
        &util::rfc3339(sim.park.spec.start_day)[..10],
        sim.park.devices.len(),
        reg.logged.len(),
        sim.upload_count,
        sim.readings,
        t.elapsed().as_secs_f64()
    );

    let size = std::fs::metadata(&sim.uploads)
        .map(|m| m.len())
        .unwrap_or(0);
    let pb = util::byte_bar(size, "ingest");
    let summary = ingest::ingest_files(
        &mut park,
        std::slice::from_ref(&sim.uploads),
        1000,
        None,
        None,
        &mut |n| pb.inc(n),
    );
    pb.finish_and_clear();
    let summary = summary?;
    summary.print();

    let t = Instant::now();
    let pb = util::bar(park.size(), "verify");
    let report = park.audit(&AuditOptions::default(), &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    let report = report?;
    if !report.ok() {
        println!("verify FAILED: {}", report.findings[0]);
        return Ok(ExitCode::from(1));
    }
    println!(
        "verify OK in {:.1} s: {} entries, {} device signatures and chain links, {} tree nodes, {} checkpoints",
        t.elapsed().as_secs_f64(),
        report.size,
        report.uploads,
        report.nodes,
        report.checkpoints
    );

    println!();
    println!(
        "energy logged, {} days (summed from the logged uploads):",
        spec.days
    );
    for ((carrier, unit), v) in totals(&park)? {
        println!("  {}", show(&carrier, &unit, v));
    }
    println!();
    println!("latest checkpoint (C2SP signed note):");
    for line in park.checkpoint()?.lines() {
        println!("  {line}");
    }
    println!("log key: {}", park.verifier());
    println!();
    println!("done in {:.1} s. Try:", t0.elapsed().as_secs_f64());
    let d = a.dir.display();
    println!("  tanji verify --dir {d}");
    println!("  tanji log prove --dir {d} --index 100");
    println!("  tanji log export-tiles --dir {d} {d}/tiles");
    println!("  tanji device list --dir {d}");
    Ok(ExitCode::SUCCESS)
}
