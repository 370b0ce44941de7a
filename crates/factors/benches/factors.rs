//! A year (8760 h) × 50 regions, flow-traced, against the floor (production only) and the
//! baseline (one dense LU per hour). Plain loop, no harness: `cargo bench -p tanji-factors`.
//! The same code runs as `tanji-bench factors`.
#![allow(missing_docs)]

use tanji_factors::bench::{run, BenchConfig};

fn main() {
    match run(&BenchConfig::default()) {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}
