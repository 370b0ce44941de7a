//! The solver's limits: a plan is returned within a bounded search whatever the instance,
//! and says whether it is proven optimal and how far from the best possible it may be.
//! The hard instance is stopped by a node limit, not a time limit, so the test does not
//! depend on the machine's speed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_optimizer::{
    optimize, optimize_with, FlexKind, FlexLoad, Limits, Objective, Problem, Window,
};
use tanji_units::time::{LocalDate, Zone};

const N: usize = 96;

/// A day on which every flexible load is a batch that cannot pause: `loads` batches of 4 to 7
/// quarter-hours, each allowed over a window of 12 hours, sharing a site import limit that
/// keeps them from all running in the cleanest hours (2,177 binary start variables). The factor curve has a midday
/// PV dip and a little noise, so that many start combinations are nearly equally good.
fn all_batches(loads: usize) -> Problem {
    let start = Zone::shanghai()
        .day_bounds(LocalDate::parse("2026-06-15").unwrap())
        .unwrap()
        .0;
    let factors: Vec<f64> = (0..N)
        .map(|t| {
            let h = t as f64 / 4.0;
            let dip = if (10.0..15.0).contains(&h) {
                250.0
            } else {
                0.0
            };
            620.0 - dip + ((t * 37) % 11) as f64
        })
        .collect();
    let mut batches = Vec::new();
    for l in 0..loads {
        let len = 4 + l % 4;
        let from = (l * 7) % 40;
        let to = (from + 48).min(N);
        let profile: Vec<i64> = (0..len)
            .map(|k| 40_000 + 5_000 * ((l + k) % 3) as i64)
            .collect();
        let mut baseline = vec![0; N];
        for (k, &e) in profile.iter().enumerate() {
            baseline[from + k] = e;
        }
        batches.push(FlexLoad {
            name: format!("batch {l}"),
            baseline_wh: baseline,
            kind: FlexKind::Batch {
                profile_wh: profile,
                windows: vec![Window { from, to }],
            },
        });
    }
    Problem {
        enterprise: "e-test".into(),
        start,
        interval_s: 900,
        zone: "Asia/Shanghai".into(),
        fixed_wh: vec![100_000; N],
        pv_wh: vec![0; N],
        factors,
        prices: vec![0.6; N],
        currency: "CNY".into(),
        loads: batches,
        // Above the baseline's peak (405 kWh of batches in one interval), below what would
        // let every batch into the clean hours.
        import_limit_wh: Some(100_000 + 420_000),
        objective: Objective::Emissions,
    }
}

#[test]
fn a_search_stopped_by_its_limit_says_it_is_not_proven_optimal() {
    let p = all_batches(50);
    let limits = Limits {
        mip_gap: 0.0,
        time_limit: None,
        node_limit: Some(20),
    };
    let plan = optimize_with(&p, &limits).unwrap();
    eprintln!("{:?}", plan.solver);
    assert!(plan.solver.binaries > 2000, "{}", plan.solver.binaries);
    assert!(!plan.solver.proven_optimal);
    assert_eq!(plan.solver.stopped, "node_limit");
    let gap = plan.solver.gap.unwrap();
    assert!(gap > 0.0 && gap < 1.0, "{gap}");
    assert!(plan
        .summary()
        .contains("not proven optimal: stopped at the node limit, within"));
    // The schedule found keeps every constraint and is no worse than the baseline.
    assert_eq!(plan.after.consumption_wh, plan.before.consumption_wh);
    for (l, lp) in p.loads.iter().zip(&plan.loads) {
        let FlexKind::Batch { profile_wh, .. } = &l.kind else {
            unreachable!()
        };
        let s = lp.after_wh.iter().position(|&e| e != 0).unwrap();
        assert_eq!(
            &lp.after_wh[s..s + profile_wh.len()],
            &profile_wh[..],
            "{}",
            l.name
        );
    }
    let limit = p.import_limit_wh.unwrap();
    assert!(plan.intervals.iter().all(|iv| iv.import_after_wh <= limit));
    assert!(plan.after.emissions_g <= plan.before.emissions_g);
}

/// A small instance is proven optimal within the default limits, and its plan is the one an
/// exact search without any limit finds, figure for figure.
#[test]
fn a_small_instance_is_proven_optimal_within_the_default_limits() {
    let p = all_batches(3);
    let plan = optimize(&p).unwrap();
    assert!(plan.solver.proven_optimal, "{:?}", plan.solver);
    assert_eq!(plan.solver.stopped, "optimal");
    assert_eq!(plan.solver.gap, Some(0.0));
    assert!(!plan.summary().contains("proven"));
    assert!(plan.solver.describe().ends_with(", proven optimal"));
    let exact = optimize_with(
        &p,
        &Limits {
            mip_gap: 0.0,
            time_limit: None,
            node_limit: None,
        },
    )
    .unwrap();
    assert_eq!(plan, exact);
    assert!(plan.after.emissions_g < plan.before.emissions_g);
}
