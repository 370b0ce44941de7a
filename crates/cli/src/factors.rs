//! `tanji factors …`: hourly grid emission factors — compute, publish into the park log, show.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use tanji_factors::{compute_texts, Series, SeriesMeta, METHOD};
use tanji_park::view::{weighted_mean, FactorDay};
use tanji_park::{Park, PublicationKind, PublicationRequest};
use tanji_units::time;

use crate::util;

#[derive(Debug, Subcommand)]
pub enum FactorsCommand {
    /// Compute production- and consumption-based (flow-traced) factors per region and interval.
    Compute {
        /// Generation by source: region,start,end,source,mwh.
        #[arg(long)]
        generation: PathBuf,
        /// Physical exchanges between regions: from,to,start,end,mwh.
        #[arg(long)]
        exchanges: Option<PathBuf>,
        /// Per-source factors: source,direct_g_per_kwh,lifecycle_g_per_kwh (default: the
        /// built-in table, IPCC AR5 lifecycle medians as used by Electricity Maps).
        #[arg(long)]
        source_factors: Option<PathBuf>,
        /// Scale REGION's series so its consumption-weighted mean equals VALUE tCO2/MWh
        /// (e.g. CN-FJ=0.4092). Repeatable.
        #[arg(long, value_name = "REGION=VALUE")]
        calibrate: Vec<String>,
        /// Output CSV; a sidecar OUT.meta.json records method, inputs and calibration.
        #[arg(long)]
        out: PathBuf,
    },
    /// Publish a computed series into a park: signed, logged, immutable, versioned.
    Publish {
        /// The series CSV written by `tanji factors compute` (its .meta.json must be beside it).
        series: PathBuf,
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Series name (default: the file name without extension); the id is NAME@vN.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the park's factor publications.
    List {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Check a publication from the ledger: its signature, its leaf's inclusion in the latest
    /// checkpoint, and the hash of its content.
    Verify {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Publication id (NAME@vN, or NAME for the latest version).
        id: String,
    },
    /// Print one day of a region's hourly factors as a readable table.
    Show {
        /// The park's data directory (reads a publication).
        #[arg(long, required_unless_present = "file")]
        dir: Option<PathBuf>,
        /// Publication id (default: the latest publication).
        #[arg(long)]
        id: Option<String>,
        /// Or read a series CSV directly.
        #[arg(long, conflicts_with_all = ["dir", "id"])]
        file: Option<PathBuf>,
        /// Region.
        #[arg(long)]
        region: String,
        /// Day, YYYY-MM-DD, in local time.
        #[arg(long)]
        day: String,
        /// Local time offset (Asia/Shanghai is +08:00 all year).
        #[arg(long, default_value = time::PARK_UTC_OFFSET, allow_hyphen_values = true)]
        utc_offset: String,
    },
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn meta_path(series: &Path) -> PathBuf {
    let mut s = series.as_os_str().to_owned();
    s.push(".meta.json");
    PathBuf::from(s)
}

fn parse_calibrations(items: &[String]) -> Result<Vec<(String, f64)>> {
    items
        .iter()
        .map(|c| {
            let (r, v) = c.split_once('=').with_context(|| {
                format!("--calibrate {c:?}: expected REGION=VALUE, e.g. CN-FJ=0.4092")
            })?;
            let v: f64 = v
                .parse()
                .with_context(|| format!("--calibrate {c:?}: {v:?} is not a number (tCO2/MWh)"))?;
            if !(v.is_finite() && v > 0.0 && v < 5.0) {
                bail!("--calibrate {c:?}: {v} tCO2/MWh is not a plausible grid factor");
            }
            Ok((r.to_string(), v))
        })
        .collect()
}

/// Publishes `csv` (with `meta`) into the park under `name`.
pub fn publish(
    park: &mut Park,
    name: &str,
    csv: &[u8],
    meta: &SeriesMeta,
) -> Result<tanji_park::Publication> {
    let request = PublicationRequest::series(name, csv, meta, util::now())?;
    Ok(park.publish(&request)?)
}

fn parse_offset(s: &str) -> Result<i32> {
    time::parse_utc_offset(s).with_context(|| format!("--utc-offset {s:?}: expected e.g. +08:00"))
}

/// Prints one local day of a region's factors.
pub fn show_day(
    series: &Series,
    label: &str,
    region: &str,
    day: &str,
    offset_s: i32,
) -> Result<()> {
    let day_start =
        util::parse_day(day).with_context(|| format!("--day {day}"))? - i64::from(offset_s);
    print!(
        "{}",
        FactorDay::new(series, label, region, (day, day_start), offset_s)?
    );
    Ok(())
}

pub fn run(cmd: FactorsCommand) -> Result<ExitCode> {
    match cmd {
        FactorsCommand::Compute {
            generation,
            exchanges,
            source_factors,
            calibrate,
            out,
        } => {
            let cal = parse_calibrations(&calibrate)?;
            let gen_text = read(&generation)?;
            let ex_text = exchanges.as_deref().map(read).transpose()?;
            let sf_text = source_factors.as_deref().map(read).transpose()?;
            let name = |p: &Path| {
                p.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            };
            let ex_name = exchanges.as_deref().map(name);
            let sf_name = source_factors.as_deref().map(name);
            let started = std::time::Instant::now();
            let (series, csv, meta) = compute_texts(
                (&name(&generation), &gen_text),
                ex_name.as_deref().zip(ex_text.as_deref()),
                sf_name.as_deref().zip(sf_text.as_deref()),
                &cal,
            )?;
            let secs = started.elapsed().as_secs_f64();
            std::fs::write(&out, &csv).with_context(|| format!("writing {}", out.display()))?;
            let mp = meta_path(&out);
            std::fs::write(&mp, serde_json::to_string_pretty(&meta)?)
                .with_context(|| format!("writing {}", mp.display()))?;
            println!(
                "computed {} region(s) × {} interval(s) with {} in {secs:.2} s",
                meta.regions.len(),
                meta.intervals,
                METHOD
            );
            for r in &meta.regions {
                if let Some(m) = weighted_mean(&series, r) {
                    println!("  {r}: consumption-weighted mean {:.4} tCO2/MWh (consumption-based, direct)", m / 1000.0);
                }
            }
            for c in &meta.calibrations {
                println!("  calibrated: {c}");
            }
            if !meta.issues.is_empty() {
                println!(
                    "  {} data issue(s); first: {}",
                    meta.issues.len(),
                    meta.issues[0]
                );
            }
            println!("wrote {} and {}", out.display(), mp.display());
        }
        FactorsCommand::Publish { series, dir, name } => {
            let csv =
                std::fs::read(&series).with_context(|| format!("reading {}", series.display()))?;
            let mp = meta_path(&series);
            let meta: SeriesMeta = serde_json::from_str(&read(&mp).with_context(|| {
                format!("a series is published with the sidecar `tanji factors compute` writes; {} is missing", mp.display())
            })?)
            .with_context(|| format!("{} is not a series sidecar", mp.display()))?;
            let name = name.unwrap_or_else(|| {
                series
                    .file_stem()
                    .map_or_else(|| "series".into(), |s| s.to_string_lossy().into_owned())
            });
            let mut park = util::open(&dir)?;
            let p = publish(&mut park, &name, &csv, &meta)?;
            println!(
                "published {} as log entry {} (content sha256:{}, {} bytes)",
                p.id,
                p.index,
                hex::encode(p.content_hash),
                p.content_len
            );
            println!(
                "log size {}; check it with: tanji factors verify --dir {} {}",
                park.size(),
                dir.display(),
                p.id
            );
        }
        FactorsCommand::List { dir } => {
            let park = util::open_read(&dir)?;
            let all = park.publications_of(PublicationKind::Factors)?;
            if all.is_empty() {
                println!("no factor publications in this park (tanji factors publish …)");
            }
            for p in all {
                println!(
                    "{}  entry {}  {}  sha256:{}  {} bytes",
                    p.id,
                    p.index,
                    p.method,
                    hex::encode(p.content_hash),
                    p.content_len
                );
            }
        }
        FactorsCommand::Verify { dir, id } => {
            let park = util::open_read(&dir)?;
            let (p, content) = park.publication(PublicationKind::Factors, Some(&id))?;
            let proof = park.prove(p.index, None)?;
            tanji_ledger::verify_inclusion(
                &proof.leaf_hash,
                p.index,
                proof.size,
                &proof.proof,
                &park.root(),
            )
            .context("inclusion proof")?;
            println!("OK: {} is log entry {}; its leaf is included in the checkpoint of size {} (proof of {} hashes); its signed manifest names content sha256:{} and the stored series ({} bytes) hashes to it", p.id, p.index, proof.size, proof.proof.len(), hex::encode(p.content_hash), content.len());
            print!("{}", p.manifest);
        }
        FactorsCommand::Show {
            dir,
            id,
            file,
            region,
            day,
            utc_offset,
        } => {
            let offset = parse_offset(&utc_offset)?;
            let (label, text) = match (file, dir) {
                (Some(f), _) => (f.display().to_string(), read(&f)?),
                (None, Some(dir)) => {
                    let park = util::open_read(&dir)?;
                    let (p, content) = park.publication(PublicationKind::Factors, id.as_deref())?;
                    (
                        format!("publication {} ({})", p.id, p.method),
                        String::from_utf8(content).context("the published series is not UTF-8")?,
                    )
                }
                (None, None) => bail!("give --dir (a park's publication) or --file (a series CSV)"),
            };
            let series = Series::parse_csv(&text).with_context(|| format!("reading {label}"))?;
            show_day(&series, &label, &region, &day, offset)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
