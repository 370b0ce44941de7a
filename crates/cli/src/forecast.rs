//! `tanji forecast backtest`: how well each next-day model forecasts the synthetic
//! Fujian-like factor year and the simulated park's loads and PV, on held-out days.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Subcommand;
use tanji_advice::backtest::Backtest;

#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Walk-forward backtest: each held-out day is forecast from the days before it only, by
    /// every model; prints MAE, MAPE and WAPE per model for the grid factor (the synthetic
    /// Fujian-like year), site loads and PV (the simulated park).
    Backtest {
        /// Held-out days per series, spread evenly over the year / simulated period.
        #[arg(long, default_value_t = 60)]
        days: usize,
        /// Year of the synthetic factor year and the simulated park.
        #[arg(long, default_value_t = tanji_simulator::grid::DEFAULT_YEAR)]
        year: i32,
        /// Seed of both (the demo's default).
        #[arg(long, default_value_t = tanji_simulator::grid::DEFAULT_SEED)]
        seed: u64,
        /// Simulated enterprises whose loads and PV are forecast.
        #[arg(long, default_value_t = 20)]
        enterprises: usize,
        /// Write the table into this Markdown file (between the forecast markers).
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

pub fn run(cmd: ForecastCommand) -> Result<ExitCode> {
    match cmd {
        ForecastCommand::Backtest {
            days,
            year,
            seed,
            enterprises,
            write,
        } => backtest_cmd(
            days.max(1),
            year,
            seed,
            enterprises.max(1),
            write.as_deref(),
        ),
    }
}

fn backtest_cmd(
    held: usize,
    year: i32,
    seed: u64,
    enterprises: usize,
    write: Option<&Path>,
) -> Result<ExitCode> {
    if let Some(path) = write {
        crate::record::check_write(path)?;
    }
    let t0 = Instant::now();
    let grid = tanji_simulator::grid::fujian_like(year, seed)?;
    let Backtest { table, verdicts } =
        tanji_advice::backtest::run(&grid.series, year, seed, enterprises, held)?;
    let n_sim = tanji_advice::backtest::SIMULATED_DAYS;
    let note = format!(
        "Walk-forward: each held-out day is forecast from the days before it only. MAPE counts slots whose actual value is at least 10% of the series' mean (PV nights excluded); WAPE = Σ|error| / Σ|actual|. Load and PV: local days from {year}-03-02 ({n_sim} days, seed {seed}), scores averaged over sites. {:.1} s.\n\n{}\n",
        t0.elapsed().as_secs_f64(),
        verdicts.iter().map(|v| format!("- {v}")).collect::<Vec<_>>().join("\n")
    );
    print!("{table}\n{note}");
    if let Some(path) = write {
        let body = format!(
            "Measured {} with `tanji forecast backtest --days {held}`:\n\n{table}\n{note}",
            tanji_units::time::rfc3339(crate::util::now()),
        );
        crate::record::record(path, "forecast", &body)?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
