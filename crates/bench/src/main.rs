//! `tanji-bench`: tanji's benchmarks, kept out of the shipped `tanji` binary. Each measures
//! one part of the system in one run beside a named baseline, prints a table and, with
//! `--write FILE`, records it in FILE (the repository's `docs/benchmarks.md`) between its own
//! markers. Parks are built with the same code `tanji` uses (`tanji_cli`'s simulation, ingest
//! and factor publication), so what is measured is what ships.
//!
//! What it is not: a test. Nothing here asserts a time; `crates/bench/tests` check only that
//! a bench refuses a bad `--write` before measuring and replaces only its own section.

mod bench;
mod gateway;
mod instances;
mod optimize;
mod parks;
mod pg;
mod report;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// The allocator `tanji` ships with, so that the server measured in this process allocates as
/// `tanji serve` does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "tanji-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: bench::BenchCommand,
}

fn main() -> ExitCode {
    tanji_cli::quiet_on_broken_pipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TANJI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match bench::run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", tanji_cli::error_text(&e));
            ExitCode::from(2)
        }
    }
}
