//! Acceptance tests with known optima: a clear minimum window, valley hours under a TOU
//! tariff, infeasible inputs explained, and every load's energy exact to the Wh (also over
//! random problems).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use tanji_optimizer::{
    optimize, FlexKind, FlexLoad, Infeasible, Objective, PeriodKind, Plan, Problem, Tariff, Window,
};
use tanji_units::time::{LocalDate, Zone};

const N: usize = 96;

fn day_start(date: &str) -> i64 {
    Zone::shanghai()
        .day_bounds(LocalDate::parse(date).unwrap())
        .unwrap()
        .0
}

fn problem(factors: Vec<f64>, prices: Vec<f64>, loads: Vec<FlexLoad>) -> Problem {
    Problem {
        enterprise: "e-test".into(),
        start: day_start("2026-03-16"),
        interval_s: 900,
        zone: "Asia/Shanghai".into(),
        fixed_wh: vec![50_000; N],
        pv_wh: vec![0; N],
        factors,
        prices,
        currency: "CNY".into(),
        loads,
        import_limit_wh: None,
        objective: Objective::Emissions,
    }
}

/// Every invariant a plan must keep: each load's energy exact to the Wh, bounds and windows
/// kept, batches contiguous with their profile, the import limit kept, totals consistent.
fn check_plan(p: &Problem, plan: &Plan) {
    assert_eq!(plan.loads.len(), p.loads.len());
    for (l, lp) in p.loads.iter().zip(&plan.loads) {
        let before: i64 = l.baseline_wh.iter().sum();
        let after: i64 = lp.after_wh.iter().sum();
        assert_eq!(
            before, after,
            "{}: energy must be unchanged to the Wh",
            l.name
        );
        assert_eq!(lp.energy_wh, before);
        match &l.kind {
            FlexKind::Shiftable {
                windows,
                min_wh,
                max_wh,
            } => {
                for (t, &v) in lp.after_wh.iter().enumerate() {
                    let allowed = windows.iter().any(|w| (w.from..w.to).contains(&t));
                    if allowed {
                        assert!(v >= *min_wh && v <= *max_wh, "{}: {v} Wh at {t}", l.name);
                    } else {
                        assert_eq!(v, 0, "{}: runs outside its window at {t}", l.name);
                    }
                }
            }
            FlexKind::Batch {
                profile_wh,
                windows,
            } => {
                let s = lp.after_wh.iter().position(|&v| v != 0).unwrap_or(0);
                for (t, &v) in lp.after_wh.iter().enumerate() {
                    let want = if t >= s && t < s + profile_wh.len() {
                        profile_wh[t - s]
                    } else {
                        0
                    };
                    assert_eq!(v, want, "{}: batch broken at {t}", l.name);
                }
                for t in s..s + profile_wh.len() {
                    assert!(windows.iter().any(|w| (w.from..w.to).contains(&t)));
                }
            }
        }
    }
    if let Some(limit) = p.import_limit_wh {
        for iv in &plan.intervals {
            assert!(
                iv.import_after_wh <= limit,
                "import {} > limit {limit}",
                iv.import_after_wh
            );
        }
    }
    assert_eq!(plan.before.consumption_wh, plan.after.consumption_wh);
    let dg: i64 = plan.changes.iter().map(|c| c.emissions_g).sum();
    assert_eq!(dg, plan.after.emissions_g - plan.before.emissions_g);
}

#[test]
fn a_single_load_lands_in_the_one_clean_window() {
    // Factor 600 g/kWh all day except 11:00–14:00 local at 200 g/kWh.
    let factors: Vec<f64> = (0..N)
        .map(|t| if (44..56).contains(&t) { 200.0 } else { 600.0 })
        .collect();
    // 1.2 MWh running 19:00–21:00 (8 intervals × 150 kWh); may run 06:00–24:00 at up to 100 kWh
    // per quarter-hour (400 kW): the clean window holds exactly its energy.
    let mut baseline = vec![0; N];
    for b in baseline.iter_mut().take(84).skip(76) {
        *b = 150_000;
    }
    let load = FlexLoad {
        name: "line 3".into(),
        baseline_wh: baseline,
        kind: FlexKind::Shiftable {
            windows: vec![Window { from: 24, to: 96 }],
            min_wh: 0,
            max_wh: 100_000,
        },
    };
    let p = problem(factors, vec![0.6; N], vec![load]);
    let plan = optimize(&p).unwrap();
    check_plan(&p, &plan);
    let after = &plan.loads[0].after_wh;
    let inside: i64 = after[44..56].iter().sum();
    assert_eq!(
        inside, 1_200_000,
        "all 1.2 MWh lands in 11:00–14:00: {after:?}"
    );
    // 1.2 MWh × (600 − 200) g/kWh = 480 kg less.
    assert_eq!(plan.before.emissions_g - plan.after.emissions_g, 480_000);
    assert_eq!(plan.changes.len(), 1);
    let text = &plan.changes[0].text;
    assert!(
        text.starts_with("move 1.20 MWh of line 3 from 19:00\u{2013}21:00 to 11:00\u{2013}14:00: \u{2212}0.48 t CO2"),
        "{text}"
    );
}

#[test]
fn flat_factor_and_tou_tariff_cost_objective_moves_to_valley() {
    let t = Tariff::illustrative();
    let start = day_start("2026-03-16");
    let periods = t.prices(start, 900, N).unwrap();
    let prices: Vec<f64> = periods.iter().map(|p| p.1).collect();
    // 2 MWh spread evenly over 08:00–18:00; may run any time at up to 150 kWh per interval.
    let mut baseline = vec![0; N];
    for b in baseline.iter_mut().take(72).skip(32) {
        *b = 50_000;
    }
    let load = FlexLoad {
        name: "compressors".into(),
        baseline_wh: baseline,
        kind: FlexKind::Shiftable {
            windows: vec![Window { from: 0, to: N }],
            min_wh: 0,
            max_wh: 150_000,
        },
    };
    let mut p = problem(vec![450.0; N], prices.clone(), vec![load]);
    p.objective = Objective::Cost;
    let plan = optimize(&p).unwrap();
    check_plan(&p, &plan);
    for (t, &v) in plan.loads[0].after_wh.iter().enumerate() {
        if v > 0 {
            assert_eq!(
                periods[t].0,
                PeriodKind::Valley,
                "energy at interval {t} is not in a valley hour"
            );
        }
    }
    // Before: 2 MWh over 08:00–18:00 = 2 h flat 08–10 (0.4 MWh), 4 h peak, 4 h flat ... priced
    // per interval; after: all at 0.30 CNY/kWh.
    let before_cost: f64 = (32..72).map(|t| 50.0 * prices[t]).sum();
    assert!((plan.before.cost - plan.after.cost - (before_cost - 2000.0 * 0.30)).abs() < 1e-6);
    // Flat factor: emissions unchanged.
    assert_eq!(plan.before.emissions_g, plan.after.emissions_g);
}

#[test]
fn a_window_too_small_for_the_energy_is_explained() {
    let mut baseline = vec![0; N];
    for b in baseline.iter_mut().take(48).skip(32) {
        *b = 250_000; // 4 MWh over 08:00–12:00
    }
    let load = FlexLoad {
        name: "line 3".into(),
        baseline_wh: baseline,
        kind: FlexKind::Shiftable {
            windows: vec![Window { from: 32, to: 40 }], // 08:00–10:00
            min_wh: 0,
            max_wh: 250_000, // 1 MW
        },
    };
    let p = problem(vec![500.0; N], vec![0.6; N], vec![load]);
    let err = optimize(&p).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Infeasible::Conflicts { .. }), "{msg}");
    assert!(
        msg.contains("line 3 needs 4.00 MWh in 08:00\u{2013}10:00 but its max power (1.00 MW) allows 2.00 MWh"),
        "{msg}"
    );
}

#[test]
fn a_batch_longer_than_its_window_is_explained() {
    let mut baseline = vec![0; N];
    for b in baseline.iter_mut().take(48).skip(32) {
        *b = 100_000;
    }
    let load = FlexLoad {
        name: "furnace".into(),
        baseline_wh: baseline,
        kind: FlexKind::Batch {
            profile_wh: vec![100_000; 16],
            windows: vec![Window { from: 40, to: 52 }, Window { from: 60, to: 70 }],
        },
    };
    let msg = optimize(&problem(vec![500.0; N], vec![0.6; N], vec![load]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("furnace must run 4.00 h without pause but its longest allowed stretch is 3.00 h (10:00\u{2013}13:00, 15:00\u{2013}17:30)"),
        "{msg}"
    );
}

#[test]
fn an_import_limit_conflict_only_the_solver_sees_is_diagnosed() {
    // Two 1-hour batches of 100 kWh per interval in a 1¾-hour window with a limit of 150 kWh
    // per interval (fixed load 0): each fits, and the room (7 × 150 kWh) exceeds their
    // 800 kWh, but they cannot overlap and there is no room to run them one after the other.
    let batch = |name: &str, at: usize| {
        let mut b = vec![0; N];
        for x in b.iter_mut().skip(at).take(4) {
            *x = 100_000;
        }
        FlexLoad {
            name: name.into(),
            baseline_wh: b,
            kind: FlexKind::Batch {
                profile_wh: vec![100_000; 4],
                windows: vec![Window { from: 40, to: 47 }],
            },
        }
    };
    let mut p = problem(
        vec![500.0; N],
        vec![0.6; N],
        vec![batch("oven A", 40), batch("oven B", 43)],
    );
    p.fixed_wh = vec![0; N];
    p.import_limit_wh = Some(150_000);
    let err = optimize(&p).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Infeasible::Solver { .. }), "{msg}");
    assert!(
        msg.contains("the site import limit of 150 kWh per interval conflicts"),
        "{msg}"
    );
}

#[test]
fn fixed_load_above_the_import_limit_is_explained() {
    let mut p = problem(vec![500.0; N], vec![0.6; N], Vec::new());
    p.fixed_wh[40] = 400_000;
    p.import_limit_wh = Some(300_000);
    let msg = optimize(&p).unwrap_err().to_string();
    assert!(
        msg.contains("site import limit: at 10:00 the fixed load (400 kWh)"),
        "{msg}"
    );
}

#[test]
fn batches_and_pv_with_a_limit_keep_every_invariant() {
    // A sunny day: PV 06:00–18:00 peaking at noon; factor dips at midday.
    let pv: Vec<i64> = (0..N)
        .map(|t| {
            let x = (t as f64 - 48.0) / 24.0;
            if x.abs() < 1.0 {
                (120_000.0 * (1.0 - x * x)) as i64
            } else {
                0
            }
        })
        .collect();
    let factors: Vec<f64> = (0..N)
        .map(|t| 520.0 - 180.0 * (-((t as f64 - 50.0) / 12.0).powi(2)).exp())
        .collect();
    let mut base = vec![0; N];
    for b in base.iter_mut().skip(76).take(12) {
        *b = 60_000;
    }
    let mut p = problem(
        factors,
        vec![0.6; N],
        vec![
            FlexLoad {
                name: "furnace".into(),
                baseline_wh: base.clone(),
                kind: FlexKind::Batch {
                    profile_wh: vec![60_000; 12],
                    windows: vec![Window { from: 24, to: 96 }],
                },
            },
            FlexLoad {
                name: "chillers".into(),
                baseline_wh: (0..N)
                    .map(|t| if (64..88).contains(&t) { 33_333 } else { 0 })
                    .collect(),
                kind: FlexKind::Shiftable {
                    windows: vec![Window { from: 28, to: 92 }],
                    min_wh: 0,
                    max_wh: 70_001,
                },
            },
        ],
    );
    p.pv_wh = pv;
    p.import_limit_wh = Some(150_000);
    let plan = optimize(&p).unwrap();
    check_plan(&p, &plan);
    assert!(plan.after.emissions_g < plan.before.emissions_g);
    assert!(plan.solver.binaries > 0);
}

fn arb_problem() -> impl Strategy<Value = Problem> {
    (8usize..40, 1usize..5, any::<u64>()).prop_map(|(n, k, seed)| {
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut loads = Vec::new();
        for i in 0..k {
            let from = r.gen_range(0..n - 1);
            let to = r.gen_range(from + 1..=n);
            let min_wh = if r.gen_bool(0.3) {
                r.gen_range(0..2_000)
            } else {
                0
            };
            let max_wh = min_wh + r.gen_range(1..50_000);
            // A baseline inside the bounds, so it is itself a feasible schedule.
            let baseline_wh = (0..n)
                .map(|t| {
                    if (from..to).contains(&t) {
                        r.gen_range(min_wh..=max_wh)
                    } else {
                        0
                    }
                })
                .collect();
            loads.push(FlexLoad {
                name: format!("load {i}"),
                baseline_wh,
                kind: FlexKind::Shiftable {
                    windows: vec![Window { from, to }],
                    min_wh,
                    max_wh,
                },
            });
        }
        let fixed_wh: Vec<i64> = (0..n).map(|_| r.gen_range(0..80_000)).collect();
        let pv_wh: Vec<i64> = (0..n)
            .map(|_| {
                if r.gen_bool(0.5) {
                    r.gen_range(0..60_000)
                } else {
                    0
                }
            })
            .collect();
        let factors = (0..n).map(|_| r.gen_range(100.0..900.0)).collect();
        let prices = (0..n).map(|_| r.gen_range(0.2..1.2)).collect();
        let objective = match r.gen_range(0..3) {
            0 => Objective::Emissions,
            1 => Objective::Cost,
            _ => Objective::Blend { price_per_t: 150.0 },
        };
        // A limit the baseline keeps, so the problem is feasible.
        let peak = (0..n)
            .map(|t| {
                fixed_wh[t] - pv_wh[t]
                    + loads
                        .iter()
                        .map(|l: &FlexLoad| l.baseline_wh[t])
                        .sum::<i64>()
            })
            .max()
            .unwrap_or(0);
        let import_limit_wh = r.gen_bool(0.5).then(|| peak.max(0) + r.gen_range(0..5_000));
        Problem {
            enterprise: "e-prop".into(),
            start: 1_773_417_600,
            interval_s: 900,
            zone: "Asia/Shanghai".into(),
            fixed_wh,
            pv_wh,
            factors,
            prices,
            currency: "CNY".into(),
            loads,
            import_limit_wh,
            objective,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_problems_keep_energy_exact_and_never_do_worse(p in arb_problem()) {
        let plan = optimize(&p).unwrap();
        check_plan(&p, &plan);
        // The baseline is feasible, so the optimum is no worse on the objective (up to the
        // rounding to whole Wh and the tiny tie-breaking terms).
        let obj = |o: &tanji_optimizer::Outcome| match p.objective {
            Objective::Emissions => o.emissions_g as f64,
            Objective::Cost => o.cost * 1000.0,
            Objective::Blend { price_per_t } => (o.cost + price_per_t * o.emissions_g as f64 / 1e6) * 1000.0,
        };
        prop_assert!(obj(&plan.after) <= obj(&plan.before) + 0.5 + 1e-3 * obj(&plan.before), "{} > {}", obj(&plan.after), obj(&plan.before));
    }
}
