//! `tanji`: the command-line tool of tanji, precise and verifiable carbon accounting for
//! industrial parks. Every command that works on a park takes `--dir D`, its data directory.

mod demo;
mod demo_serve;
mod device;
mod forecast;
mod import;
mod inputs;
mod log;
mod optimize;
mod serve;
mod witness;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tanji_cli::{
    error_text, factors, ingest, quiet_on_broken_pipe, record, report, simulate, util,
};

#[global_allocator] // mimalloc: glibc's malloc took an eighth of the machine (docs/benchmarks.md)
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// tanji (碳计): signed meter data, a tamper-evident log, and carbon figures an auditor can
/// recompute.
#[derive(Debug, Parser)]
#[command(name = "tanji", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a park: a new log key and an empty store in a data directory.
    Init {
        /// The park's data directory (created if missing; must not hold a park).
        #[arg(long)]
        dir: PathBuf,
        /// The park's name (letters, digits, '-', '_', '.').
        #[arg(long)]
        park: String,
        /// The log's origin line (default: `tanji/<park>`).
        #[arg(long)]
        origin: Option<String>,
        /// Keep the data in PostgreSQL instead of the embedded SQLite file:
        /// `postgres://USER@HOST:PORT/DATABASE[?schema=NAME]` (the key stays in --dir).
        #[arg(long, value_name = "URL")]
        store: Option<String>,
    },
    /// Device keys and registrations.
    #[command(subcommand)]
    Device(device::DeviceCommand),
    /// Hourly grid emission factors: compute, publish, list, verify, show.
    #[command(subcommand)]
    Factors(factors::FactorsCommand),
    /// Validate and log signed uploads from JSON-lines files.
    Ingest(ingest::IngestArgs),
    /// Import historical meter data (CSV) for meters without a device yet: signed with an
    /// operator import key, logged like device data, marked as imported in every report.
    Import(import::ImportArgs),
    /// Enterprise inputs (green certificates and purchases, output, production records and
    /// CBAM settings), logged as a signed, versioned publication for reports to use.
    #[command(subcommand)]
    Inputs(inputs::InputsCommand),
    /// The park log: checkpoints, keys, proofs, tile export.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// A C2SP tlog-witness: create one, choose the logs it witnesses, serve it; have a park's
    /// checkpoint cosigned by one.
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// Audit a park from its stored bytes: every leaf, signature, chain link, tree node and
    /// checkpoint. Exits 1 and names the first bad record if anything was changed.
    Verify(log::VerifyArgs),
    /// List uploads that were rejected, with their reasons.
    Quarantine {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Show at most this many (newest last).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// A carbon report for an enterprise or the park, with its provenance (JSON, CSV or HTML).
    Report(report::ReportArgs),
    /// Recompute a JSON report from the log alone: exits 0 if every figure follows from the
    /// log, 1 listing every figure or check that differs.
    Audit(report::AuditArgs),
    /// Simulate a park's devices and write their signed uploads (JSON lines).
    Simulate(simulate::SimulateArgs),
    /// The main job on embedded defaults: create a demo park, simulate ~20 enterprises for 30
    /// days, ingest with progress, verify, and print a summary.
    Demo(demo::DemoArgs),
    /// Load-shift advice for one enterprise's day: move its flexible loads to cut emissions
    /// or cost at unchanged energy, with one line per change and the before/after totals.
    Optimize(optimize::OptimizeArgs),
    /// Next-day forecasts of grid factors, loads and PV: backtests of each model.
    #[command(subcommand)]
    Forecast(forecast::ForecastCommand),
    /// Run the park as a service: HTTP ingest, the log in the C2SP tlog-tiles layout, proofs,
    /// access by token, metrics.
    Serve(serve::ServeArgs),
    /// API tokens for the service.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// The operator's queries across the parks of a PostgreSQL deployment.
    #[command(subcommand)]
    Parks(report::ParksCommand),
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TANJI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init {
            dir,
            park,
            origin,
            store,
        } => util::init(&dir, &park, origin.as_deref(), store.as_deref()),
        Command::Device(c) => device::run(c),
        Command::Factors(c) => factors::run(c),
        Command::Ingest(a) => ingest::run(a),
        Command::Import(a) => import::run(a),
        Command::Inputs(c) => inputs::run(c),
        Command::Log(c) => log::run(c),
        Command::Witness(c) => witness::run(c),
        Command::Verify(a) => log::verify(a),
        Command::Quarantine { dir, limit } => util::quarantine(&dir, limit),
        Command::Report(a) => report::run(a),
        Command::Audit(a) => report::audit(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Optimize(a) => optimize::run(a),
        Command::Forecast(c) => forecast::run(c),
        Command::Serve(a) => serve::run(a),
        Command::Token(c) => serve::token(c),
        Command::Parks(c) => report::parks(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}
