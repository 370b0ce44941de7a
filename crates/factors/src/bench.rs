//! The flow-tracing benchmark: a synthetic year of hourly data for a meshed network, timed
//! end to end and solver against solver. `cargo bench -p tanji-factors` and `tanji-bench
//! factors` both call [`run`]. This module is the crate's only use of a clock.
//!
//! The network: `regions` regions on a ring with chords (region i linked to i+1 and i+7), so
//! each region has about 4 borders; a per-region base mix of coal, gas, nuclear and hydro,
//! solar with a daily shape, wind as a random walk, evening storage discharge in every fifth
//! region. Each border carries a flow whose direction turns with the time of day and a per-border
//! phase, so hours have loops of flows of varying size. Flows are at most 10% of either end's
//! generation, so every region has positive net supply. Deterministic: same config, same data.

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::compute::{compute, FactorError, Options};
use crate::input::{ExchangeRow, GenerationRow};
use crate::source::{Source, SourceFactors};
use crate::trace::{trace_dense, Network, Tracer};

/// What to benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    /// Number of regions (default 50).
    pub regions: usize,
    /// Number of hourly intervals (default 8760, a year).
    pub hours: usize,
    /// Timed rounds per measurement; the fastest is reported (default 3).
    pub rounds: usize,
    /// Seed of the synthetic data.
    pub seed: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            regions: 50,
            hours: 8760,
            rounds: 3,
            seed: 2022,
        }
    }
}

/// One timed measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Short name.
    pub name: &'static str,
    /// What was timed.
    pub what: &'static str,
    /// Fastest of the rounds, for the whole year.
    pub total: Duration,
}

/// The benchmark's results.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    /// The configuration run.
    pub config: BenchConfig,
    /// Generation rows in the synthetic input.
    pub generation_rows: usize,
    /// Exchange rows in the synthetic input.
    pub exchange_rows: usize,
    /// Measurements, floor first.
    pub timings: Vec<Timing>,
    /// Largest strongly connected block (loop of flows) solved densely in any hour.
    pub largest_block: usize,
    /// Largest difference between the block solver and the dense LU, g/kWh.
    pub max_abs_diff: f64,
    /// Size of the series CSV, bytes.
    pub csv_bytes: usize,
    /// Data issues in the full series (0 expected: the synthetic network is consistent).
    pub issues: usize,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "factors: {} regions x {} hours ({} generation rows, {} exchange rows), best of {}",
            c.regions, c.hours, self.generation_rows, self.exchange_rows, c.rounds
        )?;
        for t in &self.timings {
            let per_hour = t.total / c.hours.max(1) as u32;
            writeln!(
                f,
                "  {:<22} {:>12.2?} total {:>10.2?}/hour  {}",
                t.name, t.total, per_hour, t.what
            )?;
        }
        writeln!(
            f,
            "  largest loop block {} regions; block solver vs dense LU max |diff| {:.2e} g/kWh; \
             CSV {} bytes; {} data issues",
            self.largest_block, self.max_abs_diff, self.csv_bytes, self.issues
        )
    }
}

/// SplitMix64: a fixed, dependency-free generator so the synthetic data never changes with a
/// crate upgrade.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The synthetic input: generation and exchange rows (hour 0 = 2022-01-01T00:00:00Z).
pub fn synthetic(cfg: &BenchConfig) -> (Vec<GenerationRow>, Vec<ExchangeRow>) {
    const T0: i64 = 1_640_995_200;
    let n = cfg.regions;
    let mut rng = Rng(cfg.seed);
    let names: Vec<String> = (0..n).map(|i| format!("R{i:02}")).collect();
    let base = [Source::Coal, Source::Gas, Source::Nuclear, Source::Hydro];
    let shares: Vec<[f64; 4]> = (0..n)
        .map(|_| [rng.unit(), rng.unit(), rng.unit() * 0.5, rng.unit()])
        .collect();
    let size: Vec<f64> = (0..n).map(|_| 500.0 + 4500.0 * rng.unit()).collect();
    let mut links: Vec<(usize, usize, f64)> = Vec::new();
    if n > 1 {
        for i in 0..n {
            for step in [1, 7] {
                let j = (i + step) % n;
                if j != i
                    && !links
                        .iter()
                        .any(|&(a, b, _)| (a, b) == (j, i) || (a, b) == (i, j))
                {
                    links.push((i, j, rng.unit() * std::f64::consts::TAU));
                }
            }
        }
    }
    let mut wind: Vec<f64> = (0..n).map(|_| rng.unit()).collect();
    let mut generation = Vec::with_capacity(cfg.hours * n * 7);
    let mut exchanges = Vec::with_capacity(cfg.hours * links.len());
    let mut total = vec![0.0; n];
    for h in 0..cfg.hours {
        let (start, end) = (T0 + 3600 * h as i64, T0 + 3600 * (h as i64 + 1));
        let hour_of_day = (h % 24) as f64;
        let sun = (std::f64::consts::PI * (hour_of_day - 6.0) / 12.0)
            .sin()
            .max(0.0);
        for i in 0..n {
            wind[i] = (wind[i] + 0.1 * (rng.unit() - 0.5)).clamp(0.0, 1.0);
            let mut push = |source: Source, mwh: f64| {
                generation.push(GenerationRow {
                    region: names[i].clone(),
                    start,
                    end,
                    source,
                    mwh,
                })
            };
            let mut sum = 0.0;
            for (s, share) in base.iter().zip(shares[i]) {
                let mwh = size[i] * share * (0.8 + 0.2 * rng.unit());
                sum += mwh;
                push(*s, mwh);
            }
            let solar = size[i] * 0.3 * sun;
            let wind_mwh = size[i] * 0.4 * wind[i];
            push(Source::Solar, solar);
            push(Source::Wind, wind_mwh);
            sum += solar + wind_mwh;
            if i % 5 == 0 && (17..21).contains(&(h % 24)) {
                let s = size[i] * 0.05;
                push(Source::StorageDischarge, s);
                sum += s;
            }
            total[i] = sum;
        }
        for &(a, b, phase) in &links {
            let wave = (std::f64::consts::TAU * hour_of_day / 24.0 + phase).sin()
                + 0.3 * (rng.unit() - 0.5);
            let cap = 0.1 * total[a].min(total[b]);
            let mwh = cap * wave.abs().min(1.0);
            let (from, to) = if wave >= 0.0 { (a, b) } else { (b, a) };
            exchanges.push(ExchangeRow {
                from: names[from].clone(),
                to: names[to].clone(),
                start,
                end,
                mwh,
            });
        }
    }
    (generation, exchanges)
}

/// The per-hour networks of the synthetic input, built directly (no storage windowing: storage
/// at the unknown factor), to time the solvers alone.
fn networks(
    cfg: &BenchConfig,
    generation: &[GenerationRow],
    exchanges: &[ExchangeRow],
    factors: &SourceFactors,
) -> Vec<Network> {
    let n = cfg.regions;
    let index = |name: &str| name[1..].parse::<usize>().unwrap_or(0);
    let mut nets = vec![
        Network {
            gen: vec![0.0; n],
            own: vec![[0.0; 2]; n],
            flows: Vec::new(),
        };
        cfg.hours
    ];
    let t0 = generation.first().map_or(0, |g| g.start);
    let hour = |start: i64| ((start - t0) / 3600) as usize;
    for g in generation {
        let net = &mut nets[hour(g.start)];
        let i = index(&g.region);
        let (d, l) = factors.get(g.source);
        net.gen[i] += g.mwh;
        net.own[i][0] += g.mwh * d;
        net.own[i][1] += g.mwh * l;
    }
    for x in exchanges {
        if x.mwh > 0.0 {
            nets[hour(x.start)]
                .flows
                .push((index(&x.from), index(&x.to), x.mwh));
        }
    }
    nets
}

fn best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = f();
    let mut best = Duration::MAX;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        out = black_box(f());
        best = best.min(t.elapsed());
    }
    (best, out)
}

/// Run the benchmark. Measures, each the fastest of `rounds` (after one warm-up run):
///
/// - `production only (floor)`: [`compute`] without exchanges — grouping, storage windowing,
///   production factors, and the trivial trace of isolated regions; the floor;
/// - `compute (flow-traced)`: [`compute`] with exchanges, the full pipeline;
/// - `solve: blocks` / `solve: dense LU`: the linear systems alone for every hour, with this
///   crate's block solver (strongly connected components, LU per loop) and with the baseline, one
///   dense `n × n` LU (nalgebra, partial pivoting) per hour;
/// - `solve: blocks, 1-way` / `solve: dense LU, 1-way`: the same hours with every flow turned
///   from the lower-numbered region to the higher (no loops), where the block solver is plain
///   substitution;
/// - `series CSV`: [`crate::Series::to_csv`] of the year.
pub fn run(cfg: &BenchConfig) -> Result<BenchReport, FactorError> {
    let factors = SourceFactors::default_table();
    let opts = Options::default();
    let (generation, exchanges) = synthetic(cfg);
    let mut timings = Vec::new();

    let (t, _) = best(cfg.rounds, || compute(&generation, &[], &factors, &opts));
    timings.push(Timing {
        name: "production only",
        what: "compute() without exchanges: the floor",
        total: t,
    });
    let (t, series) = best(cfg.rounds, || {
        compute(&generation, &exchanges, &factors, &opts)
    });
    let series = series?;
    timings.push(Timing {
        name: "compute (flow-traced)",
        what: "compute() with exchanges: the full pipeline",
        total: t,
    });

    let nets = networks(cfg, &generation, &exchanges, &factors);
    let mut tracer = Tracer::default();
    let (t, traced) = best(cfg.rounds, || {
        nets.iter().map(|n| tracer.trace(n)).collect::<Vec<_>>()
    });
    timings.push(Timing {
        name: "solve: blocks",
        what: "the linear systems alone: strongly connected blocks, LU per loop (this crate)",
        total: t,
    });
    let (t, dense) = best(cfg.rounds, || {
        nets.iter().map(trace_dense).collect::<Vec<_>>()
    });
    timings.push(Timing {
        name: "solve: dense LU",
        what: "the linear systems alone: one dense n x n LU per hour (baseline)",
        total: t,
    });
    // The same hours with every flow turned to run from the lower-numbered region to the higher:
    // no loops, as on a grid whose interconnectors run one way (e.g. west-to-east HVDC).
    let acyclic: Vec<Network> = nets
        .iter()
        .map(|n| Network {
            flows: n
                .flows
                .iter()
                .map(|&(a, b, f)| (a.min(b), a.max(b), f))
                .collect(),
            ..n.clone()
        })
        .collect();
    let (t, _) = best(cfg.rounds, || {
        acyclic.iter().map(|n| tracer.trace(n)).collect::<Vec<_>>()
    });
    timings.push(Timing {
        name: "solve: blocks, 1-way",
        what: "the same with all flows one way (no loops): substitution only (this crate)",
        total: t,
    });
    let (t, _) = best(cfg.rounds, || {
        acyclic.iter().map(trace_dense).collect::<Vec<_>>()
    });
    timings.push(Timing {
        name: "solve: dense LU, 1-way",
        what: "the same with all flows one way: one dense n x n LU per hour (baseline)",
        total: t,
    });
    let (t, csv) = best(cfg.rounds, || series.to_csv());
    timings.push(Timing {
        name: "series CSV",
        what: "Series::to_csv of the year",
        total: t,
    });

    let mut max_abs_diff: f64 = 0.0;
    for (a, b) in traced.iter().zip(&dense) {
        if let Some(b) = b {
            for (x, y) in a.mix.iter().zip(b) {
                if let Some(x) = x {
                    max_abs_diff = max_abs_diff
                        .max((x[0] - y[0]).abs())
                        .max((x[1] - y[1]).abs());
                }
            }
        }
    }
    let largest_block = nets
        .iter()
        .map(|n| tracer.largest_block(n))
        .max()
        .unwrap_or(0);
    Ok(BenchReport {
        config: cfg.clone(),
        generation_rows: generation.len(),
        exchange_rows: exchanges.len(),
        timings,
        largest_block,
        max_abs_diff,
        csv_bytes: csv.len(),
        issues: series.issues.len(),
    })
}
