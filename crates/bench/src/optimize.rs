//! `tanji-bench optimize`: one day of 96 quarter-hours with many flexible loads, solved by
//! `tanji_optimizer::optimize` (exact to the Wh), beside a greedy baseline that fills each
//! load's cleanest allowed intervals in turn (no PV netting, no import limit), in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use tanji_optimizer::{optimize, FlexKind, FlexLoad, Objective, Problem, Window};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Flexible loads.
    #[arg(long, default_value_t = 50)]
    pub loads: usize,
    /// Of which batches that cannot pause (solved with binary start variables).
    #[arg(long, default_value_t = 0)]
    pub batches: usize,
    /// Timed rounds; the fastest and the median are reported.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Seed of the synthetic day.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Write the table into this Markdown file (between the optimize markers).
    #[arg(long)]
    pub write: Option<PathBuf>,
}

const N: usize = 96;

/// A synthetic site day: a factor with a midday PV dip and an evening peak, rooftop PV, a
/// fixed load, `loads` flexible loads (the last `batches` of them batches) with random
/// windows and power limits, and an import limit the baseline keeps.
fn day(loads: usize, batches: usize, seed: u64) -> Problem {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let factors: Vec<f64> = (0..N)
        .map(|t| {
            let h = t as f64 / 4.0;
            480.0 - 170.0 * (-((h - 12.5) / 2.5).powi(2)).exp()
                + 60.0 * (-((h - 19.5) / 1.5).powi(2)).exp()
                + r.gen_range(-10.0..10.0)
        })
        .collect();
    let pv_wh: Vec<i64> = (0..N)
        .map(|t| {
            let x = (t as f64 / 4.0 - 12.5) / 6.0;
            if x.abs() < 1.0 {
                (600_000.0 * (1.0 - x * x)) as i64
            } else {
                0
            }
        })
        .collect();
    let fixed_wh: Vec<i64> = (0..N).map(|_| r.gen_range(300_000..400_000)).collect();
    let mut flex = Vec::new();
    for i in 0..loads {
        let from = r.gen_range(0..40);
        let to = r.gen_range(from + 24..=N);
        if i >= loads - batches.min(loads) {
            let len = r.gen_range(4..=12).min(to - from);
            let kwh = r.gen_range(5_000..30_000);
            let s = r.gen_range(from..=to - len);
            let mut baseline = vec![0; N];
            for b in baseline.iter_mut().skip(s).take(len) {
                *b = kwh;
            }
            flex.push(FlexLoad {
                name: format!("batch {}", i + 1),
                baseline_wh: baseline,
                kind: FlexKind::Batch {
                    profile_wh: vec![kwh; len],
                    windows: vec![Window { from, to }],
                },
            });
        } else {
            let max_wh = r.gen_range(10_000..40_000);
            let min_wh = if r.gen_bool(0.2) { max_wh / 10 } else { 0 };
            let baseline = (0..N)
                .map(|t| {
                    if (from..to).contains(&t) {
                        r.gen_range(min_wh..=max_wh / 2)
                    } else {
                        0
                    }
                })
                .collect();
            flex.push(FlexLoad {
                name: format!("line {}", i + 1),
                baseline_wh: baseline,
                kind: FlexKind::Shiftable {
                    windows: vec![Window { from, to }],
                    min_wh,
                    max_wh,
                },
            });
        }
    }
    let peak = (0..N)
        .map(|t| fixed_wh[t] - pv_wh[t] + flex.iter().map(|l| l.baseline_wh[t]).sum::<i64>())
        .max()
        .unwrap_or(0);
    Problem {
        enterprise: "bench".into(),
        start: 1_767_196_800, // 2026-01-01T00:00+08:00
        interval_s: 900,
        zone: "Asia/Shanghai".into(),
        fixed_wh,
        pv_wh,
        factors,
        prices: vec![0.62; N],
        currency: "CNY".into(),
        loads: flex,
        import_limit_wh: Some(peak + peak / 10),
        objective: Objective::Emissions,
    }
}

/// The baseline: each load in turn, at its minimum everywhere, then filled cheapest interval
/// first up to its maximum (batches at their cleanest start); energy exact, PV and the import
/// limit ignored.
fn greedy(p: &Problem) -> Vec<Vec<i64>> {
    let mut order: Vec<usize> = (0..N).collect();
    order.sort_by(|&a, &b| p.factors[a].total_cmp(&p.factors[b]));
    p.loads
        .iter()
        .map(|l| {
            let mut s = vec![0i64; N];
            match &l.kind {
                FlexKind::Shiftable {
                    windows,
                    min_wh,
                    max_wh,
                } => {
                    let allowed = |t: usize| windows.iter().any(|w| (w.from..w.to).contains(&t));
                    let mut left = l.energy_wh();
                    for t in (0..N).filter(|&t| allowed(t)) {
                        s[t] = *min_wh;
                        left -= min_wh;
                    }
                    for &t in order.iter().filter(|&&t| allowed(t)) {
                        let add = (max_wh - s[t]).min(left);
                        s[t] += add;
                        left -= add;
                    }
                }
                FlexKind::Batch {
                    profile_wh,
                    windows,
                } => {
                    let w = windows[0];
                    let cost = |st: usize| -> f64 {
                        profile_wh
                            .iter()
                            .enumerate()
                            .map(|(k, e)| *e as f64 * p.factors[st + k])
                            .sum()
                    };
                    let best = (w.from..=w.to - profile_wh.len())
                        .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
                        .unwrap_or(w.from);
                    for (k, e) in profile_wh.iter().enumerate() {
                        s[best + k] = *e;
                    }
                }
            }
            s
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn run(a: Args) -> Result<ExitCode> {
    let p = day(a.loads, a.batches, a.seed);
    let rounds = a.rounds.max(1);
    let mut times = Vec::with_capacity(rounds);
    let mut plan = None;
    for _ in 0..rounds {
        let t = Instant::now();
        let result = optimize(&p);
        times.push(t.elapsed());
        plan = Some(result?);
    }
    let Some(plan) = plan else {
        bail!("no round ran");
    };
    times.sort();
    let mut gtimes = Vec::with_capacity(rounds);
    let mut g = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        g = greedy(&p);
        gtimes.push(t.elapsed());
    }
    gtimes.sort();
    let gs: Vec<&[i64]> = g.iter().map(|s| &s[..]).collect();
    let gout = tanji_optimizer::evaluate(&p, &gs);
    for (l, s) in p.loads.iter().zip(&g) {
        if s.iter().sum::<i64>() != l.energy_wh() {
            bail!("the greedy baseline lost energy on {}", l.name);
        }
    }
    let exact = p
        .loads
        .iter()
        .zip(&plan.loads)
        .all(|(l, lp)| lp.after_wh.iter().sum::<i64>() == l.energy_wh());
    let over = |imp: &dyn Fn(usize) -> i64| {
        (0..N)
            .filter(|&t| p.import_limit_wh.is_some_and(|l| imp(t) > l))
            .count()
    };
    let g_over =
        over(&|t| (p.fixed_wh[t] + gs.iter().map(|s| s[t]).sum::<i64>() - p.pv_wh[t]).max(0));
    let t_per = |o: &tanji_optimizer::Outcome| o.emissions_g as f64 / 1e6;
    let mut table = String::new();
    table.push_str("| run | fastest | median | emissions | vs before | energy exact | import limit |\n|---|---:|---:|---:|---:|---|---|\n");
    table.push_str(&format!(
        "| before (the loads' baseline) | – | – | {:.3} t | – | – | kept |\n",
        t_per(&plan.before)
    ));
    table.push_str(&format!(
        "| tanji-optimizer ({}) | {:.1} ms | {:.1} ms | {:.3} t | {:+.2}% | {} | kept |\n",
        if plan.solver.binaries > 0 {
            "MILP"
        } else {
            "LP"
        },
        ms(times[0]),
        ms(times[rounds / 2]),
        t_per(&plan.after),
        (plan.after.emissions_g - plan.before.emissions_g) as f64 / plan.before.emissions_g as f64
            * 100.0,
        if exact { "yes, to the Wh" } else { "NO" }
    ));
    table.push_str(&format!(
        "| greedy: cleanest intervals first (baseline) | {:.3} ms | {:.3} ms | {:.3} t | {:+.2}% | yes | {} |\n",
        ms(gtimes[0]),
        ms(gtimes[rounds / 2]),
        t_per(&gout),
        (gout.emissions_g - plan.before.emissions_g) as f64 / plan.before.emissions_g as f64 * 100.0,
        if g_over == 0 { "kept".to_string() } else { format!("broken in {g_over} intervals") }
    ));
    let note = format!(
        "{} intervals, {} flexible loads ({} batches), {} continuous and {} binary variables, {} constraints; {} rounds; solver: {}.\n",
        N,
        a.loads,
        a.batches.min(a.loads),
        plan.solver.variables,
        plan.solver.binaries,
        plan.solver.constraints,
        rounds,
        plan.solver.method
    );
    print!("{table}\n{note}");
    if let Some(path) = &a.write {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let body = format!(
            "Measured {} on this machine ({threads} core(s) available to the process), seed {}:\n\n{table}\n{note}",
            tanji_units::time::rfc3339(tanji_cli::util::now()),
            a.seed
        );
        let name = if a.batches > 0 {
            "optimize-batches"
        } else {
            "optimize"
        };
        tanji_cli::record::record(path, name, &body)?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
