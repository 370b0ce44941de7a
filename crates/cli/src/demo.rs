//! `tanji demo`: the main job on embedded defaults — a demo park, simulated, ingested, verified.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use tanji_gateway::demo::{BesideRun, DemoGateway};
use tanji_park::{AuditOptions, Park};
use tanji_report::{Request, Scope};
use tanji_server::fleet::MqttPlan;
use tanji_units::time;
use tanji_units::Unit;

use crate::{factors, report, simulate, util};

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
    /// Afterwards, keep serving the park (HTTP API and dashboard) until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Address for `--serve`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// An MQTT broker: if it accepts a connection, one simulated device in four publishes its
    /// uploads there (`tanji/<park>/<device>/up`, QoS 1) for the server to log, the others POST
    /// over HTTP. Without a broker every device posts over HTTP.
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    pub mqtt: String,
    /// Every device posts over HTTP; no broker is tried.
    #[arg(long)]
    pub no_mqtt: bool,
}

fn show(carrier: &str, unit: &str, v: f64) -> String {
    match unit.parse::<Unit>() {
        Ok(Unit::KWh) => format!("{:>12.1} MWh  {carrier}", v / 1000.0),
        _ => format!("{v:>12.1} {unit:<4} {carrier}"),
    }
}

pub fn run(a: DemoArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    if a.serve {
        // Before any work: a busy port found after the demo would waste it.
        util::check_port_free("--listen", &a.listen)?;
    }
    let mut park = create(&a.dir)?;
    let spec = simulate::spec(a.enterprises, a.days, a.seed, None)?;
    let (series, publication) = publish_grid(&mut park, &a, &spec)?;
    let (sim, gateway) = simulate_devices(&mut park, &a.dir, spec)?;
    drop(park);
    let mqtt = ingest(&a, &sim, gateway)?;
    let mut park = util::open(&a.dir)?;
    if !verify(&park)? {
        return Ok(ExitCode::from(1));
    }
    let show_day = energy_and_factors(&park, &spec, &series, &publication.id)?;
    let Some(report_json) = report_and_audit(&park, &a.dir)? else {
        return Ok(ExitCode::from(1));
    };
    outcomes(&mut park, &spec, &a.dir)?;
    hints(
        &a,
        park,
        t0,
        (&publication.id, &report_json, show_day.as_deref()),
        mqtt,
    )
}

/// Creates the demo park in `dir`, replacing an earlier demo there.
fn create(dir: &Path) -> Result<Park> {
    let (park, replaced) = Park::create_demo(dir, "demo-park")
        .with_context(|| format!("creating the demo park in {}", dir.display()))?;
    if replaced {
        println!("replacing the earlier demo park in {}", dir.display());
    }
    println!(
        "park demo-park created in {} (log {})",
        dir.display(),
        park.origin()
    );
    Ok(park)
}

/// The grid's factors, computed and published in the park: the series and its publication.
fn publish_grid(
    park: &mut Park,
    a: &DemoArgs,
    spec: &tanji_simulator::ParkSpec,
) -> Result<(tanji_factors::Series, tanji_park::Publication)> {
    // The grid: a synthetic Fujian-like year of hourly generation by source, its hourly factors
    // calibrated to Fujian's official 2022 average, published (signed and logged) in the park.
    let t = Instant::now();
    let year = i32::try_from(time::civil_from_days(spec.start_day.div_euclid(time::DAY_S)).year)
        .unwrap_or(2026);
    let grid = tanji_simulator::grid::fujian_like(year, a.seed)?;
    let gen_file = a.dir.join(format!("{}-generation.csv", grid.name));
    std::fs::write(&gen_file, &grid.generation)
        .with_context(|| format!("writing {}", gen_file.display()))?;
    let series_file = a.dir.join(format!("{}.csv", grid.name));
    std::fs::write(&series_file, &grid.csv)
        .with_context(|| format!("writing {}", series_file.display()))?;
    let publication = factors::publish(park, &grid.name, grid.csv.as_bytes(), &grid.meta)?;
    let (series, meta) = (grid.series, grid.meta);
    println!(
        "grid factors: {} (SYNTHETIC Fujian-like year, {} hours) computed with {}, calibrated to {} tCO2/MWh (Fujian 2022 official average), published as {} (log entry {}) in {:.1} s",
        tanji_simulator::grid::REGION,
        meta.intervals,
        meta.method,
        tanji_simulator::grid::FUJIAN_2022_T_PER_MWH,
        publication.id,
        publication.index,
        t.elapsed().as_secs_f64()
    );

    Ok((series, publication))
}

/// Simulates the devices (with the demo's fault), prepares the gateway of two newly connected
/// meters (`tanji_gateway::demo`), and registers them all in the park.
fn simulate_devices(
    park: &mut Park,
    dir: &Path,
    spec: tanji_simulator::ParkSpec,
) -> Result<(simulate::Written, BesideRun)> {
    let t = Instant::now();
    let registered_at = util::now();
    let fault = tanji_simulator::Fault::demo(&spec);
    let sim = simulate::write(
        spec,
        vec![fault.clone()],
        &dir.join("uploads"),
        registered_at,
    )?;
    let last_day = spec.start_day + i64::from(spec.days.max(1) - 1) * time::DAY_S;
    let gateway = DemoGateway::prepare(&dir.join("gateway"), last_day)?;
    let mut regs = sim.park.registrations(registered_at);
    regs.extend(gateway.registrations(registered_at));
    let reg = park.register(&regs)?;
    println!(
        "simulated {} enterprises × {} days from {}: {} devices, {} meters registered, {} signed uploads ({} readings) in {:.1} s",
        spec.enterprises,
        spec.days,
        &time::rfc3339(sim.park.spec.start_day)[..10],
        sim.park.devices.len(),
        reg.logged.len(),
        sim.upload_count,
        sim.readings,
        t.elapsed().as_secs_f64()
    );

    let tanji_simulator::Fault::FlatLine { meter, start, end } = &fault;
    println!(
        "injected meter fault: {meter} stuck at one value from {} to {} (a simulated stuck register, for the anomaly detection to find)",
        time::rfc3339(*start),
        time::rfc3339(*end)
    );
    Ok((sim, gateway.beside(park.verifier().to_string())))
}

/// Has the devices send their uploads to a server over the park, over HTTP and (if a broker
/// answers) MQTT; fails unless every upload was accepted. Returns the MQTT plan used.
fn ingest(a: &DemoArgs, sim: &simulate::Written, gw: BesideRun) -> Result<Option<MqttPlan>> {
    // The devices send their uploads the way real ones do: POST /api/v1/uploads to the
    // server, or publish on the broker the server subscribes to; the server sequences them into
    // durable batches and acknowledges each.
    let mqtt = if a.no_mqtt {
        None
    } else {
        MqttPlan::probe(&a.mqtt, &a.dir)
            .map_err(|why| {
                println!(
                    "no MQTT broker at {} ({why}): every device posts over HTTP (start one, e.g. mosquitto, or give --mqtt URL, to see devices publish over MQTT too)",
                    a.mqtt
                );
            })
            .ok()
    };
    let pb = util::bar(0, "http");
    let fleet = tanji_server::fleet::ingest_as_devices(
        &a.dir,
        &sim.uploads,
        mqtt.as_ref(),
        &|done, total| {
            pb.set_length(total);
            pb.set_position(done);
        },
        Some(gw),
    );
    pb.finish_and_clear();
    let fleet = fleet?;
    println!("{fleet}");
    if let Some(Err(why)) = &fleet.beside {
        bail!("{why}");
    }
    let accepted = fleet.accepted();
    if accepted != sim.upload_count {
        bail!(
            "{accepted} of {} simulated uploads were accepted (HTTP: {}); the demo expects all",
            sim.upload_count,
            fleet.http_answers()
        );
    }
    println!(
        "all {accepted} uploads acknowledged once durable in {:.1} s",
        fleet.seconds
    );
    Ok(mqtt)
}

/// Audits the park's log; prints the outcome, and whether it passed.
fn verify(park: &Park) -> Result<bool> {
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
        return Ok(false);
    }
    println!(
        "verify OK in {:.1} s: {} entries, {} device signatures and chain links, {} factor publication(s), {} tree nodes, {} checkpoints",
        t.elapsed().as_secs_f64(),
        report.size,
        report.uploads,
        report.factor_publications,
        report.nodes,
        report.checkpoints
    );

    Ok(true)
}

/// The energy logged per carrier, and one day of the published factors: the day shown, if any.
fn energy_and_factors(
    park: &Park,
    spec: &tanji_simulator::ParkSpec,
    series: &tanji_factors::Series,
    publication: &str,
) -> Result<Option<String>> {
    println!();
    println!(
        "energy logged, {} days (summed from the logged uploads):",
        spec.days
    );
    for ((carrier, unit), v) in tanji_park::view::carrier_totals(park.store(), park.size())? {
        println!("  {}", show(&carrier, &unit, v));
    }
    // One day of the published factors: the sunniest day of the period, where the midday dip
    // the product is about shows best.
    let region = tanji_simulator::grid::REGION;
    let offset = time::PARK_UTC_OFFSET_S;
    let show_day = series
        .day_of_widest_midday_dip(region, spec.start_day, spec.days, offset)
        .map(|d| time::rfc3339(d)[..10].to_string());
    if let Some(day) = &show_day {
        println!();
        factors::show_day(
            series,
            &format!("publication {publication}"),
            region,
            day,
            offset,
        )?;
    }

    Ok(show_day)
}

/// Writes and audits the demo enterprise's report; prints its figures. The report's JSON
/// file, or `None` if the audit failed.
fn report_and_audit(park: &Park, dir: &Path) -> Result<Option<PathBuf>> {
    // A report an auditor can recompute, for the enterprise whose timing of use the hourly
    // factors reward most.
    let t = Instant::now();
    let (enterprise, report_json, report_html) = demo_report(park, dir)?;
    let audit = report::audit_file(&report_json, dir, Some(&park.verifier().to_string()))?;
    println!();
    if !audit.ok() {
        println!("audit FAILED: {}", audit.findings[0]);
        return Ok(None);
    }
    let doc: tanji_report::ReportDoc = serde_json::from_str(
        &std::fs::read_to_string(&report_json)
            .with_context(|| format!("reading {}", report_json.display()))?,
    )?;
    let c = &doc.reports[0].figures["comparison"];
    let g = |k: &str| c[k].as_i64().unwrap_or(0) as f64 / 1e6;
    println!(
        "report for {enterprise} ({} to {}): {}",
        &doc.period.start[..10],
        &doc.period.end[..10],
        report_json.display()
    );
    println!(
        "  grid electricity at the fixed {:.4} tCO2/MWh: {:.1} t; at hourly factors: {:.1} t; fixed − dynamic = {:.1} t ({:+.1}%)",
        doc.parameters.fixed_factor.t_per_mwh,
        g("fixed_g"),
        g("dynamic_g"),
        g("difference_g"),
        c["difference_pct"].as_f64().unwrap_or(0.0)
    );
    match c["reason"].as_str() {
        Some(why) => println!("  why: {why}"),
        None => println!(
            "  why: nothing to compare — no hourly factor covers this period's grid import (see the report's missing_factor issue)"
        ),
    }
    println!(
        "audit OK in {:.1} s: checkpoint at size {} verified with the log key, {} log entries checked for inclusion, {} values recomputed from the log",
        t.elapsed().as_secs_f64(),
        audit.size,
        audit.leaves,
        audit.values
    );
    println!("  readable page: {}", report_html.display());

    Ok(Some(report_json))
}

/// Illustrative value added and output published; the park's outcomes of the data's halves.
fn outcomes(park: &mut Park, spec: &tanji_simulator::ParkSpec, dir: &Path) -> Result<()> {
    let end = spec.start_day + i64::from(spec.days) * time::DAY_S;
    let doc = tanji_report::illustrative_outcomes(park, (spec.start_day, end), util::now())?;
    let Some(doc) = doc else { return Ok(()) }; // fewer than two days: no baseline
    let (p, b) = (&doc.period, &doc.baseline);
    print!("\n{}", tanji_report::render_outcomes_summary(&doc));
    println!("  all figures: {} report --dir {} --park --baseline-from {} --baseline-to {} --from {} --to {} --inputs {} --format text", util::invocation(), dir.display(), b.start, b.end, p.start, p.end, tanji_report::ILLUSTRATIVE_INPUTS);
    Ok(())
}

/// The checkpoint, the log key and the commands to try next; then serves if asked.
fn hints(
    a: &DemoArgs,
    park: Park,
    t0: Instant,
    (publication, report_json, show_day): (&str, &Path, Option<&str>),
    mqtt: Option<MqttPlan>,
) -> Result<ExitCode> {
    let region = tanji_simulator::grid::REGION;
    println!();
    println!("latest checkpoint (C2SP signed note):");
    for line in park.checkpoint()?.lines() {
        println!("  {line}");
    }
    println!("log key: {}", park.verifier());
    println!();
    println!("done in {:.1} s. Try:", t0.elapsed().as_secs_f64());
    let d = a.dir.display();
    let tanji = util::invocation();
    println!("  {tanji} verify --dir {d}");
    println!(
        "  {tanji} log prove --dir {d} --index {}",
        park.size().saturating_sub(1).min(100)
    );
    println!("  {tanji} log export-tiles --dir {d} {d}/tiles");
    println!("  {tanji} device list --dir {d}");
    println!("  {tanji} factors verify --dir {d} {}", publication);
    println!("  {tanji} report --dir {d} --park --format html --out {d}/reports/park.html");
    println!(
        "  {tanji} audit {} --dir {d} --key '{}'",
        report_json.display(),
        park.verifier()
    );
    if let Some(day) = show_day {
        println!("  {tanji} factors show --dir {d} --region {region} --day {day}");
    }
    if a.serve {
        drop(park);
        return crate::demo_serve::serve(&a.dir, &a.listen, mqtt.as_ref());
    }
    println!(
        "  {tanji} demo --dir {d} --serve   (this, then the live dashboard at http://{}/dashboard/)",
        a.listen
    );
    Ok(ExitCode::SUCCESS)
}

/// Picks the demo enterprise — the one whose timing of use lowers its hourly-factor figure
/// most against a flat day (else e-0001) — and writes its JSON and HTML reports into
/// `dir/reports/`.
fn demo_report(park: &Park, dir: &Path) -> Result<(String, PathBuf, PathBuf)> {
    let verifier = park.verifier();
    let build = |scope| report::build(park.store(), &verifier, &Request::new(scope), dir);
    // One park report finds the enterprise (every enterprise's hour-of-day import).
    let mut all = build(Scope::Park)?.doc;
    // Among the simulated factories: the gateway's meters have three hours of data.
    all.reports
        .retain(|r| r.enterprise != tanji_gateway::demo::ENTERPRISE);
    // The enterprise whose timing of use the hourly factors reward most: the case the product
    // is about, a factory that runs when the grid is clean.
    let enterprise = tanji_report::EnterpriseDoc::best_timing(&all.reports)
        .unwrap_or("e-0001")
        .to_string();
    let out = dir.join("reports");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let doc = build(Scope::Enterprise(enterprise.clone()))?.doc;
    let json = out.join(format!("{enterprise}.json"));
    let html = out.join(format!("{enterprise}.html"));
    std::fs::write(&json, report::render(&doc, report::Format::Json)?)
        .with_context(|| format!("writing {}", json.display()))?;
    std::fs::write(&html, report::render(&doc, report::Format::Html)?)
        .with_context(|| format!("writing {}", html.display()))?;
    Ok((enterprise, json, html))
}
