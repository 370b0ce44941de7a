//! `tanji_accounting::compute` over a park-year held in memory: 101 enterprises, 303 meters
//! (a grid import meter each, and two more: PV with export, natural gas with steam by mass,
//! natural gas with diesel, or a second grid meter with steam), each 35 040 quarter-hours of
//! one year (10.6 million values), hourly factors in a table, a fixed annual factor for the
//! comparison, and a few gaps, short and long, in about one meter of ten.
//!
//! `cargo bench -p tanji-accounting --bench compute` runs criterion. With
//! `COMPUTE_BENCH_ROUNDS=N` set it instead computes the park N times, prints the fastest
//! round and exits: for `taskset -c 1` best-of-N timings, and (N = 1) for
//! `valgrind --tool=callgrind`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use criterion::{criterion_group, Criterion};
use tanji_accounting::*;
use tanji_units::{time, Carrier, Unit};

/// 2025-01-01T00:00:00Z.
const START: i64 = 1_735_689_600;
const N: usize = 365 * 96;
const ENTERPRISES: usize = 101;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn local_hour(t: i64) -> i64 {
    time::local_hour(t, time::PARK_UTC_OFFSET_S)
}

fn meter(
    rng: &mut Rng,
    name: String,
    carrier: Carrier,
    unit: Unit,
    f: impl Fn(&mut Rng, i64) -> i64,
) -> IntervalSeries {
    let mut values: Vec<Option<i64>> = (0..N)
        .map(|i| Some(f(rng, START + i as i64 * 900)))
        .collect();
    if rng.below(10) == 0 {
        for _ in 0..5 {
            let at = rng.below(N as u64 - 200) as usize;
            let longest = if rng.below(2) == 0 { 4 } else { 150 };
            let len = 1 + rng.below(longest) as usize;
            values[at..at + len].iter_mut().for_each(|v| *v = None);
        }
    }
    IntervalSeries {
        meter: name,
        carrier,
        unit,
        fuel: None,
        start: START,
        interval_s: 900,
        values,
    }
}

fn park() -> Vec<Inputs> {
    let mut rng = Rng(2026);
    (0..ENTERPRISES)
        .map(|e| {
            let base = 20_000 + rng.below(400_000) as i64;
            let load = move |r: &mut Rng, t: i64| {
                let h = local_hour(t);
                let day = if (8..20).contains(&h) { base } else { base / 3 };
                day + r.below(base as u64 / 10 + 1) as i64
            };
            let mut series = vec![meter(
                &mut rng,
                format!("e{e:03}-grid"),
                Carrier::ElectricityImport,
                Unit::KWh,
                load,
            )];
            match e % 4 {
                0 => {
                    let pv = move |r: &mut Rng, t: i64| {
                        let h = local_hour(t);
                        if (7..18).contains(&h) {
                            base / 2 + r.below(base as u64 / 4 + 1) as i64
                        } else {
                            0
                        }
                    };
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-pv"),
                        Carrier::PvGeneration,
                        Unit::KWh,
                        pv,
                    ));
                    let export = move |r: &mut Rng, t: i64| {
                        if (11..14).contains(&local_hour(t)) {
                            r.below(base as u64 / 5 + 1) as i64
                        } else {
                            0
                        }
                    };
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-export"),
                        Carrier::ElectricityExport,
                        Unit::KWh,
                        export,
                    ));
                }
                1 => {
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-gas"),
                        Carrier::NaturalGas,
                        Unit::M3,
                        |r, _| 5_000 + r.below(3_000) as i64,
                    ));
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-steam"),
                        Carrier::Steam,
                        Unit::T,
                        |r, _| 800 + r.below(400) as i64,
                    ));
                }
                2 => {
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-gas"),
                        Carrier::NaturalGas,
                        Unit::M3,
                        |r, _| 2_000 + r.below(1_000) as i64,
                    ));
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-diesel"),
                        Carrier::Diesel,
                        Unit::L,
                        |r, _| if r.below(20) == 0 { 30_000 } else { 0 },
                    ));
                }
                _ => {
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-grid-2"),
                        Carrier::ElectricityImport,
                        Unit::KWh,
                        load,
                    ));
                    series.push(meter(
                        &mut rng,
                        format!("e{e:03}-steam"),
                        Carrier::Steam,
                        Unit::T,
                        |r, _| 300 + r.below(200) as i64,
                    ));
                }
            }
            Inputs {
                enterprise: format!("e{e:03}"),
                period_start: START,
                period_end: START + N as i64 * 900,
                series,
                certificates: Vec::new(),
                purchases: Vec::new(),
                output: None,
            }
        })
        .collect()
}

fn factors() -> TableFactors {
    let mut rng = Rng(7);
    let g: Vec<f64> = (0..365 * 24)
        .map(|i| {
            let h = local_hour(START + i * 3600);
            let solar = if (10..15).contains(&h) { 300.0 } else { 420.0 };
            // Four decimals, as the published CSV.
            ((solar + rng.below(800_000) as f64 / 10_000.0) * 10_000.0).round() / 10_000.0
        })
        .collect();
    TableFactors::regular("bench-grid@v1", START, 3600, &g)
}

fn options() -> Options {
    Options {
        fixed_factor: Some(NamedFactor {
            value: 409.2,
            source: "bench".to_owned(),
        }),
        heat: HeatFactors {
            steam_enthalpy_kj_per_kg: Some(2777.1),
            ..HeatFactors::default()
        },
        ..Options::default()
    }
}

fn run(park: &[Inputs], lookup: &TableFactors, options: &Options) -> i64 {
    park.iter()
        .map(|i| {
            compute(i, lookup, options)
                .unwrap()
                .scope2_location
                .electricity_g
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let (park, lookup, options) = (park(), factors(), options());
    let mut g = c.benchmark_group("park-year");
    g.sample_size(10);
    g.bench_function("compute 101 enterprises, 303 meters x 35040", |b| {
        b.iter(|| run(&park, &lookup, &options))
    });
    g.finish();
}

criterion_group!(benches, bench);

/// This thread's time on a CPU, seconds (Linux `/proc/thread-self/schedstat`; 0 elsewhere):
/// on a shared machine, less disturbed by other processes than the wall clock.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    if let Some(rounds) = std::env::var("COMPUTE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse::<usize>().ok())
    {
        let (park, lookup, options) = (park(), factors(), options());
        let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
        let mut g = 0;
        for _ in 0..rounds.max(1) {
            let (t, cpu) = (Instant::now(), thread_cpu_s());
            g = run(&park, &lookup, &options);
            best = best.min(t.elapsed().as_secs_f64());
            best_cpu = best_cpu.min(thread_cpu_s() - cpu);
        }
        let values: usize = park
            .iter()
            .flat_map(|i| &i.series)
            .map(|s| s.values.len())
            .sum();
        println!(
            "compute, {} enterprises, {values} values: fastest of {rounds}: {:.1} ms wall, {:.1} ms on CPU (grid {g} g)",
            park.len(),
            best * 1e3,
            best_cpu * 1e3
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
