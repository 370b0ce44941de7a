//! `tanji_anomaly::detect` over meter-years of the synthetic park (`tanji-simulator`, seed
//! 2025, 2025-01-01 to 2025-12-31, 35 040 quarter-hours each): every meter of the first four
//! enterprises (grid import, export and PV, natural gas, steam, diesel), with the holidays of
//! the simulated calendar left in (no breaks), as a park's data arrives.
//!
//! `cargo bench -p tanji-anomaly --bench detect` runs criterion (one grid meter-year, and all
//! the meters). With `DETECT_BENCH_ROUNDS=N` set it instead runs detection on all the meters N
//! times, prints the fastest round per meter-year and exits: for `taskset -c 1` best-of-N
//! timings.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use criterion::{criterion_group, Criterion};
use tanji_anomaly::{detect, MeterData, Settings};
use tanji_simulator::{Park, ParkSpec, INTERVAL_S};
use tanji_units::Carrier;

/// 2025-01-01T00:00:00Z.
const START: i64 = 1_735_689_600;
const DAYS: u32 = 365;

struct Meter {
    id: String,
    carrier: Carrier,
    cap: i64,
    values: Vec<Option<i64>>,
}

fn meters() -> Vec<Meter> {
    let park = Park::generate(ParkSpec {
        seed: 2025,
        enterprises: 4,
        start_day: START,
        days: DAYS,
    });
    let mut out = Vec::new();
    for (e, device) in park.devices.iter().enumerate() {
        let days: Vec<_> = (0..DAYS).map(|d| park.day_values(e, d).unwrap()).collect();
        for (k, m) in device.meters.iter().enumerate() {
            out.push(Meter {
                id: m.meter.clone(),
                carrier: m.role.carrier(),
                cap: m.interval_cap(),
                values: days
                    .iter()
                    .flat_map(|d| d.meters[k].iter().map(|&x| Some(x)))
                    .collect(),
            });
        }
    }
    out
}

fn run(meters: &[Meter]) -> usize {
    let settings = Settings::default();
    meters
        .iter()
        .map(|m| {
            let data = MeterData {
                meter: &m.id,
                carrier: m.carrier,
                start: START,
                interval_s: INTERVAL_S,
                values: &m.values,
                rated_per_interval: Some(m.cap),
                idle: None,
                breaks: &[],
            };
            detect(&data, &settings).unwrap().len()
        })
        .sum()
}

fn benches(c: &mut Criterion) {
    let all = meters();
    let grid: Vec<Meter> = all
        .iter()
        .filter(|m| m.carrier == Carrier::ElectricityImport)
        .take(1)
        .map(|m| Meter {
            id: m.id.clone(),
            carrier: m.carrier,
            cap: m.cap,
            values: m.values.clone(),
        })
        .collect();
    c.bench_function("detect, one grid meter-year", |b| b.iter(|| run(&grid)));
    c.bench_function(&format!("detect, {} meter-years", all.len()), |b| {
        b.iter(|| run(&all))
    });
}

criterion_group! {
    name = group;
    config = Criterion::default().sample_size(10);
    targets = benches
}

fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    if let Some(rounds) = std::env::var("DETECT_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    {
        let meters = meters();
        let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
        let mut alerts = 0;
        for _ in 0..rounds.max(1) {
            let (t, cpu) = (Instant::now(), thread_cpu_s());
            alerts = run(&meters);
            best = best.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(thread_cpu_s() - cpu);
        }
        let n = meters.len() as f64;
        println!(
            "detect, {} meter-years ({alerts} alerts): fastest of {rounds}: {:.2} ms wall, {:.2} ms on CPU per meter-year",
            meters.len(),
            best * 1e3 / n,
            best_cpu * 1e3 / n
        );
        return;
    }
    group();
    Criterion::default().configure_from_args().final_summary();
}
