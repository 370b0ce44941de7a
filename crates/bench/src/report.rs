//! `tanji-bench report`: a park-year reported end to end from the store, and the accounting
//! computation alone, beside DuckDB running the same join-multiply-aggregate over the same
//! readings in Parquet and in memory, in the same run (DuckDB through Python's `duckdb`).

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tanji_accounting::{Inputs, IntervalSeries, NamedFactor, Options, SeriesFactors, TableFactors};
use tanji_park::view::{add_channel, LogView, Registered};
use tanji_readings::SignedUpload;
use tanji_report::{Request, Scope, Source};
use tanji_store::Store;
use tanji_units::{Carrier, Unit};

use tanji_cli::{factors, ingest, simulate, util};
use tanji_units::time;

/// The DuckDB side, run with `python3 -c`.
const DUCKDB_SCRIPT: &str = include_str!("../bench/duckdb_report.py");
/// The simulated year (a whole UTC year of the past, so no reading is in the future).
const YEAR: i32 = 2025;
const FIRST_DAY: &str = "2025-01-01";
/// Meters a default run has at least.
const MIN_METERS: usize = 300;

/// Options of `tanji-bench report`.
pub struct Args {
    pub enterprises: Option<usize>,
    pub days: u32,
    pub rounds: usize,
    pub seed: u64,
    pub write: Option<PathBuf>,
    pub keep: bool,
    /// A PostgreSQL database to load the same park into and report from, beside SQLite.
    pub store: Option<String>,
}

/// The smallest number of simulated enterprises with at least `MIN_METERS` meters.
fn enterprises_for_meters(seed: u64, days: u32, start_day: i64) -> usize {
    let mut n = MIN_METERS / 6;
    loop {
        let park = tanji_simulator::Park::generate(tanji_simulator::ParkSpec {
            seed,
            enterprises: n,
            start_day,
            days,
        });
        let meters: usize = park.devices.iter().map(|d| d.meters.len()).sum();
        if meters >= MIN_METERS {
            return n;
        }
        n += 1;
    }
}

/// `python3` with `duckdb` importable, or a clear error.
fn duckdb_version() -> Result<String> {
    let out = Command::new("python3")
        .args(["-c", "import duckdb; print(duckdb.__version__)"])
        .output();
    match out {
        Err(e) => bail!(
            "this benchmark runs DuckDB through Python, and python3 could not be started ({e}); install Python 3 and `pip install duckdb`"
        ),
        Ok(o) if !o.status.success() => bail!(
            "this benchmark runs DuckDB through Python, and python3 cannot import duckdb ({}); run `pip install duckdb`",
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").trim()
        ),
        Ok(o) => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
    }
}

/// One meter's readings over the period, in thousandths of its unit.
struct MeterSeries {
    enterprise: String,
    carrier: Carrier,
    unit: Unit,
    values: Vec<Option<i64>>,
}

/// The logged uploads, each with its device's registered key.
type Signed = Vec<(SignedUpload, tanji_readings::VerifyingKey)>;

/// Reads every logged upload back out of the store into per-meter series of `intervals`
/// quarter-hours from `start` (what the Parquet file and the pure computation are given).
fn meter_series<S: Store>(
    store: &S,
    size: u64,
    start: i64,
    intervals: usize,
) -> Result<(BTreeMap<String, MeterSeries>, Signed, u64)> {
    let mut bytes = 0u64;
    store.scan_entries(0, size, &mut |_, data| {
        bytes += data.len() as u64;
        Ok(())
    })?;
    let view = LogView::read(store, size)?;
    if let Some(p) = view.problems.first() {
        bail!("entry {}: {p}", p.index());
    }
    let mut meters: BTreeMap<String, MeterSeries> = BTreeMap::new();
    for Registered { reg: r, .. } in view.registrations.in_force_all() {
        if let (Ok(carrier), Ok(unit)) = (r.carrier.parse(), r.unit.parse()) {
            meters.insert(
                r.meter.clone(),
                MeterSeries {
                    enterprise: r.enterprise.clone(),
                    carrier,
                    unit,
                    values: vec![None; intervals],
                },
            );
        }
    }
    // Each device's key: that of its latest registration.
    let mut registered: Vec<&Registered> = view.registrations.all().collect();
    registered.sort_by_key(|r| r.index);
    let keys: BTreeMap<String, tanji_readings::PublicKey> = registered
        .iter()
        .map(|r| (r.reg.device.clone(), r.reg.public_key))
        .collect();
    let uploads: Vec<SignedUpload> = view.uploads.into_iter().map(|(_, u)| u).collect();
    for u in &uploads {
        for c in &u.body.channels {
            let m = meters
                .get_mut(&c.meter)
                .with_context(|| format!("meter {} is not registered", c.meter))?;
            ensure!(
                c.interval_s == 900 && c.decimals <= 3 && c.unit == m.unit.code(),
                "the benchmark expects quarter-hour values with at most 3 decimals in the registered unit"
            );
            add_channel(&mut m.values, start, 900, start, c, m.unit);
        }
    }
    let signed = uploads
        .into_iter()
        .map(|u| {
            let key = keys
                .get(&u.body.device)
                .and_then(|k| k.verifying_key().ok())
                .with_context(|| format!("device {} has no valid key", u.body.device))?;
            Ok((u, key))
        })
        .collect::<Result<_>>()?;
    Ok((meters, signed, bytes))
}

fn write_readings_csv(
    path: &Path,
    meters: &BTreeMap<String, MeterSeries>,
    start: i64,
) -> Result<u64> {
    let mut w = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(w, "meter,enterprise,carrier,ts,value")?;
    let mut rows = 0;
    for (meter, m) in meters {
        for (i, v) in m.values.iter().enumerate() {
            if let Some(v) = v {
                let ts = start + 900 * i as i64;
                writeln!(w, "{meter},{},{},{ts},{v}", m.enterprise, m.carrier.code())?;
                rows += 1;
            }
        }
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(rows)
}

fn write_factors_csv(path: &Path, series: &tanji_factors::Series, region: &str) -> Result<u64> {
    let mut w = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(w, "hour_start,g_per_kwh")?;
    let mut rows = 0;
    for r in series.rows.iter().filter(|r| r.region == region) {
        ensure!(
            r.end - r.start == 3600,
            "the benchmark expects hourly factors"
        );
        if let Some(g) = r.consumption_direct.filter(|g| g.is_finite()) {
            // `{g:?}` prints the shortest text that parses back to the same f64.
            writeln!(w, "{},{g:?}", r.start)?;
            rows += 1;
        }
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(rows)
}

/// Location-based grid electricity of one enterprise, as each run computed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Figure {
    intervals: i64,
    wh: i64,
    g: i64,
}

struct Timed {
    name: &'static str,
    what: String,
    best: Duration,
    rows: String,
    figures: BTreeMap<String, Figure>,
}

fn best_of<T>(rounds: usize, mut f: impl FnMut() -> Result<T>) -> Result<(Duration, T)> {
    let mut best: Option<(Duration, T)> = None;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let out = f()?;
        let d = t.elapsed();
        if best.as_ref().is_none_or(|(b, _)| d < *b) {
            best = Some((d, out));
        }
    }
    best.context("no timed round")
}

fn duckdb_figures(v: &serde_json::Value) -> Result<BTreeMap<String, Figure>> {
    let rows = v["enterprises"]
        .as_array()
        .context("DuckDB output has no enterprises")?;
    rows.iter()
        .map(|r| {
            let n = |k: &str| {
                r[k].as_i64()
                    .with_context(|| format!("DuckDB row without {k}"))
            };
            Ok((
                r["enterprise"]
                    .as_str()
                    .context("DuckDB row without enterprise")?
                    .to_string(),
                Figure {
                    intervals: n("intervals")?,
                    wh: n("wh")?,
                    g: n("g")?,
                },
            ))
        })
        .collect()
}

fn total(f: &BTreeMap<String, Figure>) -> Figure {
    f.values().fold(Figure::default(), |a, b| Figure {
        intervals: a.intervals + b.intervals,
        wh: a.wh + b.wh,
        g: a.g + b.g,
    })
}

pub fn run(a: Args) -> Result<ExitCode> {
    let duckdb = duckdb_version()?;
    let rounds = a.rounds.max(1);
    let s = Setup::new(&a)?;
    let tanji = TanjiRuns::measure(rounds, &s)?;
    let (pure_time, pure_figures) = accounting_alone(rounds, &s, &tanji)?;
    let duck = DuckRuns::measure(rounds, &s, &duckdb)?;

    let meters_n = s.meters.len();
    let rows = s.rows;
    let duck_rows = duck.rows;
    let timed = [
        Timed {
            name: "a. tanji, end to end from the store",
            what: "the SQLite store opened, then tanji_report::build: checkpoint, publication and the tree of leaf hashes verified, readings read from the store's reporting index, series assembled, every enterprise's full report computed, provenance listed".into(),
            best: tanji.e2e_time,
            rows: format!("{} intervals read, all {meters_n} meters", tanji.e2e_intervals),
            figures: tanji.e2e_figures.clone(),
        },
        Timed {
            name: "b. tanji, accounting alone",
            what: "tanji_accounting::compute for every enterprise, series and factor table in memory: the same full reports".into(),
            best: pure_time,
            rows: format!("{rows} intervals, all {meters_n} meters"),
            figures: pure_figures,
        },
        Timed {
            name: "c. DuckDB over Parquet",
            what: "grid-import readings joined to the hourly factors, multiplied, rounded per interval, summed per enterprise; from the Parquet files".into(),
            best: duck.secs("parquet")?,
            rows: format!("{duck_rows} rows scanned"),
            figures: duckdb_figures(&duck.out["parquet"])?,
        },
        Timed {
            name: "d. DuckDB in memory",
            what: "the same query over tables already loaded in memory".into(),
            best: duck.secs("memory")?,
            rows: format!("{duck_rows} rows scanned"),
            figures: duckdb_figures(&duck.out["memory"])?,
        },
    ];
    for t in &timed[1..] {
        ensure!(
            t.figures == timed[0].figures,
            "{} computed different figures: {:?} vs {:?}",
            t.name,
            total(&t.figures),
            total(&timed[0].figures)
        );
    }
    let pg_row = tanji.pg.as_ref().map(|(best, figures)| Timed {
        name: "a′. tanji, end to end from PostgreSQL",
        what: "run a over the same park loaded into PostgreSQL (same log; its reporting index partitioned by park and month, so the year reads the park's twelve month partitions)".into(),
        best: *best,
        rows: format!("{} intervals read, all {meters_n} meters", tanji.e2e_intervals),
        figures: figures.clone(),
    });
    if let Some(p) = &pg_row {
        ensure!(
            p.figures == timed[0].figures,
            "the report from PostgreSQL computed different figures: {:?} vs {:?}",
            total(&p.figures),
            total(&timed[0].figures)
        );
    }
    let mut table = table(timed[..1].iter().chain(&pg_row).chain(&timed[1..]));
    let mut note = note(&timed, tanji.log_time, &s);
    if let (Some(p), Some((_, run))) = (&pg_row, &s.pg) {
        note.push_str(&format!(
            "\nRun a′ read {} — {:.2}× run a's time from SQLite, with figures equal to a's enterprise by enterprise.\n",
            run.describe()?,
            p.best.as_secs_f64() / timed[0].best.as_secs_f64()
        ));
    }
    table.truncate(table.trim_end().len());
    table.push('\n');
    println!("{table}\n{note}");
    if let Some(path) = &a.write {
        let intro = intro(&a, rounds, &s, &duckdb, &duck);
        let marker = if a.store.is_some() {
            "report-postgres"
        } else {
            "report"
        };
        tanji_cli::record::record(path, marker, &format!("{intro}{table}\n{note}"))?;
        println!("recorded in {}", path.display());
    }
    if a.keep {
        let kept = s.tmp.keep();
        println!(
            "kept {} (the park is {})",
            kept.display(),
            kept.join("park").display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What is set up before anything is timed: the park, its factor publication, the simulated
/// period ingested, and the same readings read back and exported for DuckDB.
struct Setup {
    tmp: tempfile::TempDir,
    /// The park's directory.
    dir: PathBuf,
    enterprises: usize,
    spec: tanji_simulator::ParkSpec,
    /// Quarter-hours in the period.
    intervals: usize,
    publication_id: String,
    /// The published series, as a report reads it.
    series: tanji_factors::Series,
    /// Uploads accepted.
    accepted: u64,
    /// The park's log key, in its text form.
    vkey: String,
    meters: BTreeMap<String, MeterSeries>,
    /// Logged uploads, whose device signatures the audit's path checks again.
    verified: usize,
    /// Bytes of the log's entries.
    log_bytes: u64,
    readings_csv: PathBuf,
    factors_csv: PathBuf,
    /// Readings exported.
    rows: u64,
    /// Hourly factors exported.
    factor_rows: u64,
    /// The same park in PostgreSQL (its directory and the schema it lives in), with `--store`.
    pg: Option<(PathBuf, crate::pg::PgRun)>,
}

impl Setup {
    /// Builds the park and exports its readings (not timed).
    fn new(a: &Args) -> Result<Setup> {
        let start_day = util::parse_day(FIRST_DAY)?;
        let enterprises = match a.enterprises {
            Some(n) => n,
            None => enterprises_for_meters(a.seed, a.days, start_day),
        };
        let spec = simulate::spec(enterprises, a.days, a.seed, Some(FIRST_DAY))?;
        let tmp = tempfile::tempdir().context("creating a temporary directory")?;
        let dir = tmp.path().join("park");

        // Setup (not timed): the park, its factor publication, the simulated year ingested.
        eprintln!("setup (not timed) in {}", tmp.path().display());
        let t = Instant::now();
        let mut park = tanji_park::Park::create(&dir, "bench-park", None)?;
        let grid = tanji_simulator::grid::fujian_like(YEAR, a.seed)?;
        let (csv, meta) = (grid.csv, grid.meta);
        let publication = factors::publish(&mut park, &grid.name, csv.as_bytes(), &meta)?;
        // What a report reads: the published CSV (factors to 4 decimals), not the computed series.
        let series =
            tanji_factors::Series::parse_csv(&csv).context("parsing the published series")?;
        eprintln!(
            "  factors {} ({} hours, calibrated to {} tCO2/MWh) in {:.1} s",
            publication.id,
            meta.intervals,
            tanji_simulator::grid::FUJIAN_2022_T_PER_MWH,
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let registered_at = util::now();
        let sim = simulate::write(spec, Vec::new(), &tmp.path().join("uploads"), registered_at)?;
        let reg = park.register(&sim.park.registrations(registered_at))?;
        eprintln!(
            "  simulated {enterprises} enterprises × {} days: {} meters, {} signed uploads ({} readings) in {:.1} s",
            a.days,
            reg.logged.len(),
            sim.upload_count,
            sim.readings,
            t.elapsed().as_secs_f64()
        );
        let summary = ingest::ingest_file_with_progress(&mut park, &sim.uploads)?;
        ensure!(
            summary.accepted == sim.upload_count && summary.rejected == 0,
            "the simulated uploads were not all accepted: {} of {}",
            summary.accepted,
            sim.upload_count
        );
        eprintln!(
            "  ingested durably: {} uploads, {} readings in {:.1} s",
            summary.accepted, summary.readings, summary.seconds
        );
        let vkey = park.verifier().to_string();
        let log_size = park.size();
        // The same park in PostgreSQL: the same publication, registrations and uploads, in
        // the same order, so the same log (not timed).
        let pg = match &a.store {
            None => None,
            Some(url) => {
                let run = crate::pg::PgRun::new(url, "report")?;
                let pg_dir = tmp.path().join("park-pg");
                let t = Instant::now();
                let mut pg_park = tanji_park::Park::create_on(
                    &pg_dir,
                    "bench-park",
                    None,
                    Some(&run.store_url()),
                )?;
                factors::publish(&mut pg_park, &grid.name, csv.as_bytes(), &meta)?;
                pg_park.register(&sim.park.registrations(registered_at))?;
                let s = ingest::ingest_file_with_progress(&mut pg_park, &sim.uploads)?;
                ensure!(
                    s.accepted == summary.accepted && pg_park.size() == log_size,
                    "the PostgreSQL park logged {} entries, the SQLite park {log_size}",
                    pg_park.size()
                );
                eprintln!(
                    "  the same park loaded into {} in {:.1} s",
                    run.describe()?,
                    t.elapsed().as_secs_f64()
                );
                Some((pg_dir, run))
            }
        };
        std::fs::remove_file(&sim.uploads).ok();

        // The same readings, exported for DuckDB, and as accounting inputs in memory.
        let t = Instant::now();
        let intervals = usize::try_from(a.days).unwrap_or(0) * 96;
        let (meters, signed, log_bytes) =
            meter_series(park.store(), log_size, spec.start_day, intervals)?;
        drop(park);
        let readings_csv = tmp.path().join("readings.csv");
        let factors_csv = tmp.path().join("factors.csv");
        let rows = write_readings_csv(&readings_csv, &meters, spec.start_day)?;
        let factor_rows = write_factors_csv(&factors_csv, &series, tanji_simulator::grid::REGION)?;
        ensure!(
            rows == summary.readings,
            "exported {rows} readings, ingested {}",
            summary.readings
        );
        eprintln!(
            "  exported {rows} readings of {} meters and {factor_rows} hourly factors in {:.1} s",
            meters.len(),
            t.elapsed().as_secs_f64()
        );
        Ok(Setup {
            tmp,
            dir,
            enterprises,
            spec,
            intervals,
            publication_id: publication.id,
            series,
            accepted: summary.accepted,
            vkey,
            meters,
            verified: signed.len(),
            log_bytes,
            readings_csv,
            factors_csv,
            rows,
            factor_rows,
            pg,
        })
    }
}

/// Run a, the park report from the store, and the audit's path: the same report from the log.
struct TanjiRuns {
    e2e_time: Duration,
    /// The report from the store.
    doc: tanji_report::ReportDoc,
    e2e_figures: BTreeMap<String, Figure>,
    /// Intervals the report read, of every meter.
    e2e_intervals: u64,
    /// The same report recomputed from the log.
    log_time: Duration,
    /// The park report from the PostgreSQL copy: its best time and figures.
    pg: Option<(Duration, BTreeMap<String, Figure>)>,
}

impl TanjiRuns {
    fn measure(rounds: usize, s: &Setup) -> Result<TanjiRuns> {
        let verifier = s
            .vkey
            .parse()
            .with_context(|| format!("the park's log key {}", s.vkey))?;
        let dir = &s.dir;
        // a. tanji end to end from the store.
        eprintln!("tanji: park report from the store, best of {rounds} …");
        let (e2e_time, doc) = park_report(rounds, dir)?;
        let pg = match &s.pg {
            None => None,
            Some((pg_dir, _)) => {
                eprintln!("tanji: park report from PostgreSQL, best of {rounds} …");
                let (t, pg_doc) = park_report(rounds, pg_dir)?;
                Some((t, figures_of(&pg_doc).0))
            }
        };
        let (e2e_figures, e2e_intervals) = figures_of(&doc);
        // What the audit does instead: the same report from the log's bytes, every device
        // signature checked again (informative; no baseline does this).
        eprintln!(
            "tanji: the same report recomputed from the log (the audit's path), best of {rounds} …"
        );
        let (log_time, from_log) = best_of(rounds, || {
            let (store, _) = tanji_cli::report::open_store(dir)?;
            let mut req = Request::new(Scope::Park);
            req.source = Source::Log;
            req.device_signatures = true;
            Ok(tanji_report::build(&store, &verifier, &req)?)
        })?;
        ensure!(
            from_log.problems.is_empty() && from_log.doc == doc,
            "the report from the log differs from the report from the index"
        );
        Ok(TanjiRuns {
            e2e_time,
            doc,
            e2e_figures,
            e2e_intervals,
            log_time,
            pg,
        })
    }
}

/// The park report from the store of the park in `dir` (checked with the log key it
/// names), fastest of `rounds`.
fn park_report(rounds: usize, dir: &Path) -> Result<(Duration, tanji_report::ReportDoc)> {
    let (t, built) = best_of(rounds, || {
        let (store, verifier) = tanji_cli::report::open_store(dir)?;
        Ok(tanji_report::build(
            &store,
            &verifier,
            &Request::new(Scope::Park),
        )?)
    })?;
    ensure!(
        built.problems.is_empty(),
        "the report found problems in the log: {}",
        built.problems[0]
    );
    Ok((t, built.doc))
}

/// A park report's grid figures by enterprise, and the intervals it read of every meter.
fn figures_of(doc: &tanji_report::ReportDoc) -> (BTreeMap<String, Figure>, u64) {
    let mut e2e_figures = BTreeMap::new();
    let mut e2e_intervals = 0;
    for r in &doc.reports {
        let loc = &r.figures["scope2_location"];
        let n = r
            .meters
            .iter()
            .filter(|m| m.carrier == Carrier::ElectricityImport.code())
            .map(|m| m.intervals as i64)
            .sum();
        e2e_intervals += r.meters.iter().map(|m| m.intervals).sum::<u64>();
        e2e_figures.insert(
            r.enterprise.clone(),
            Figure {
                intervals: n,
                wh: loc["import_wh"].as_i64().unwrap_or(-1),
                g: loc["electricity_g"].as_i64().unwrap_or(-1),
            },
        );
    }
    (e2e_figures, e2e_intervals)
}

/// b. tanji's accounting alone, on the exported inputs in memory, with the report's options;
/// its whole figures must equal the report's.
fn accounting_alone(
    rounds: usize,
    s: &Setup,
    tanji: &TanjiRuns,
) -> Result<(Duration, BTreeMap<String, Figure>)> {
    let doc = &tanji.doc;
    let fixed: NamedFactor = serde_json::from_value(
        doc.reports
            .first()
            .context("the park report has no enterprise")?
            .figures["comparison"]["fixed_factor"]
            .clone(),
    )
    .context("the report's comparison has no fixed factor")?;
    let inputs = inputs(s);
    // The published series' region as an in-memory table, as the report looks it up.
    let lookup = TableFactors::from_series(&SeriesFactors {
        series: &s.series,
        region: tanji_simulator::grid::REGION.to_string(),
        id: doc.parameters.factors.clone(),
    });
    let options = Options {
        fixed_factor: Some(fixed),
        utc_offset_s: doc.parameters.utc_offset_s,
        heat: tanji_accounting::HeatFactors {
            steam_enthalpy_kj_per_kg: doc.parameters.steam_enthalpy.as_ref().map(|s| s.kj_per_kg),
            ..Default::default()
        },
        ..Options::default()
    };
    eprintln!("tanji: accounting alone, best of {rounds} …");
    let (pure_time, reports) = best_of(rounds, || {
        inputs
            .iter()
            .map(|i| Ok(tanji_accounting::compute(i, &lookup, &options)?))
            .collect::<Result<Vec<_>>>()
    })?;
    let mut pure_figures = BTreeMap::new();
    for (r, i) in reports.iter().zip(&inputs) {
        // The same inputs as the report's: the whole figures must be equal, not only these.
        let from_store = doc.reports.iter().find(|d| d.enterprise == r.enterprise);
        ensure!(
            from_store.is_some_and(|d| d.figures == serde_json::to_value(r).unwrap_or_default()),
            "the accounting of {} on the exported inputs differs from the report's",
            r.enterprise
        );
        let n = i
            .series
            .iter()
            .filter(|s| s.carrier == Carrier::ElectricityImport)
            .map(|s| s.values.len() as i64)
            .sum();
        pure_figures.insert(
            r.enterprise.clone(),
            Figure {
                intervals: n,
                wh: r.scope2_location.import_wh,
                g: r.scope2_location.electricity_g,
            },
        );
    }
    Ok((pure_time, pure_figures))
}

/// The exported readings as accounting inputs, one per enterprise.
fn inputs(s: &Setup) -> Vec<Inputs> {
    let start = s.spec.start_day;
    let mut by_enterprise: BTreeMap<&str, Vec<IntervalSeries>> = BTreeMap::new();
    for (meter, m) in &s.meters {
        by_enterprise
            .entry(m.enterprise.as_str())
            .or_default()
            .push(IntervalSeries {
                meter: meter.clone(),
                carrier: m.carrier,
                unit: m.unit,
                fuel: None,
                start,
                interval_s: 900,
                values: m.values.clone(),
            });
    }
    let end = start + 900 * s.intervals as i64;
    by_enterprise
        .into_iter()
        .map(|(e, series)| Inputs {
            enterprise: e.to_string(),
            period_start: start,
            period_end: end,
            series,
            certificates: Vec::new(),
            purchases: Vec::new(),
            output: None,
        })
        .collect()
}

/// c, d. DuckDB over Parquet and in memory, as the script reports them.
struct DuckRuns {
    out: serde_json::Value,
    /// Rows the query scanned.
    rows: u64,
}

impl DuckRuns {
    fn measure(rounds: usize, s: &Setup, duckdb: &str) -> Result<DuckRuns> {
        eprintln!("DuckDB {duckdb}: writing Parquet (not timed), then the query over Parquet and in memory, best of {rounds} …");
        let out = Command::new("python3")
            .arg("-c")
            .arg(DUCKDB_SCRIPT)
            .arg(&s.readings_csv)
            .arg(&s.factors_csv)
            .arg(s.tmp.path())
            .arg(rounds.to_string())
            .output()
            .context("running python3")?;
        ensure!(
            out.status.success(),
            "the DuckDB script failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let duck: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("reading the DuckDB script's output")?;
        let duck_rows = duck["rows"].as_u64().unwrap_or(0);
        ensure!(
            duck_rows == s.rows,
            "DuckDB read {duck_rows} rows, not {}",
            s.rows
        );
        let threads = duck["threads"].as_i64().unwrap_or(0);
        ensure!(threads == 1, "DuckDB ran with {threads} threads, not 1");
        Ok(DuckRuns {
            out: duck,
            rows: duck_rows,
        })
    }

    /// The best time of run `k` ("parquet" or "memory").
    fn secs(&self, k: &str) -> Result<Duration> {
        Ok(Duration::from_secs_f64(
            self.out[k]["seconds"]
                .as_f64()
                .with_context(|| format!("DuckDB output has no {k} time"))?,
        ))
    }
}

/// The Markdown table of the runs.
fn table<'a>(timed: impl Iterator<Item = &'a Timed>) -> String {
    let mut table = String::new();
    table.push_str("| run | what | rows | grid import (intervals, MWh, tCO2) | seconds |\n");
    table.push_str("|---|---|---|---:|---:|\n");
    for t in timed {
        let f = total(&t.figures);
        table.push_str(&format!(
            "| {} | {} | {} | {}, {:.3}, {:.6} | {:.3} |\n",
            t.name,
            t.what,
            t.rows,
            f.intervals,
            f.wh as f64 / 1e6,
            f.g as f64 / 1e6,
            t.best.as_secs_f64()
        ));
    }
    table
}

/// What the table shows: the audit's path, the agreement, and the acceptance verdict.
fn note(timed: &[Timed; 4], log_time: Duration, s: &Setup) -> String {
    let agreed = total(&timed[0].figures);
    let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
    let e2e_vs = ratio(timed[0].best, timed[2].best);
    let pure_vs = ratio(timed[1].best, timed[3].best);
    let verdict = |r: f64| {
        if r > 1.0 {
            format!("{r:.2}× faster")
        } else {
            format!("{:.2}× slower", 1.0 / r)
        }
    };
    let size_mb = s.log_bytes as f64 / 1e6;
    let verified = s.verified;
    format!(
        "What `tanji audit` does instead — the same park report from the log's bytes (all {size_mb:.1} MB of entries decoded and re-hashed, \
the {verified} uploads' Ed25519 device signatures checked again) — takes {:.3} s in the same run, and gives the identical report.\n\n\
All four agree exactly, enterprise by enterprise ({} enterprises; grid import {} intervals, {:.3} MWh, {:.6} tCO2 in total). \
tanji end to end is {} than DuckDB over Parquet; tanji's accounting alone is {} than DuckDB in memory. \
Acceptance (both faster): {}.\n",
        log_time.as_secs_f64(),
        timed[0].figures.len(),
        agreed.intervals,
        agreed.wh as f64 / 1e6,
        agreed.g as f64 / 1e6,
        verdict(e2e_vs),
        verdict(pure_vs),
        if e2e_vs > 1.0 && pure_vs > 1.0 { "holds" } else { "does not hold" }
    )
}

/// The paragraph `--write` records before the table: what was measured, where.
fn intro(a: &Args, rounds: usize, s: &Setup, duckdb: &str, duck: &DuckRuns) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (enterprises, meters_n, rows, factor_rows) =
        (s.enterprises, s.meters.len(), s.rows, s.factor_rows);
    format!(
        "Measured {} on this machine (one thread; {cores} core(s) available to the process), fastest of {rounds} rounds: \
{enterprises} simulated enterprises × {} days from {FIRST_DAY} (seed {}), {meters_n} meters, {rows} quarter-hour readings in {} \
logged uploads; factors {} ({factor_rows} hours); DuckDB {duckdb} (Python), `SET threads = 1`, Parquet {:.1} MB:\n\n",
        time::rfc3339(util::now()),
        a.days,
        a.seed,
        s.accepted,
        s.publication_id,
        duck.out["parquet_bytes"].as_f64().unwrap_or(0.0) / 1e6,
    )
}
