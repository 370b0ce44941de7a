//! Prints the **synthetic** `CN-FJ-synthetic` grid year as a generation CSV on stdout.
//!
//! `cargo run -p tanji-simulator --example fujian_like_csv -- [YEAR [SEED]] > FILE`; the
//! committed `data/synthetic/CN-FJ-synthetic-2025-generation.csv` is the default (2025, 2026).

use std::io::Write;

use tanji_simulator::grid::{fujian_like_generation_csv, DEFAULT_SEED, DEFAULT_YEAR};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let year = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(DEFAULT_YEAR);
    let seed = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    std::io::stdout().write_all(fujian_like_generation_csv(year, seed).as_bytes())
}
