//! The linear model, its solution by `microlp`, and the repair of its floating-point answer
//! into whole Wh with exact sums.
//!
//! Variables (energy in kWh, for the solver's numerics): `x[l][t]` for each shiftable load in
//! each allowed interval, bounded by its min/max; one binary `y[b][s]` per feasible start of
//! each batch, with `Σ_s y = 1`; `imp[t] >= 0` (at most the import limit). Constraints:
//! `Σ_t x[l][t] = E_l` and `imp[t] >= fixed[t] − pv[t] + Σ_l x[l][t] + Σ_b Σ_s profile_b[t−s] y[b][s]`.
//! Minimise `Σ_t c[t] imp[t]` with `c` the objective's weight per kWh (factor, price, or price
//! plus carbon price × factor), normalised, plus 10⁻⁴ of the other weight to break ties, plus
//! a 10⁻⁶ nudge towards each load's baseline intervals so that equally good plans move least.
//! At the optimum `imp[t] = max(net load, 0)` wherever `c[t] > 0`: PV serves the site first.

use std::time::{Duration, Instant};

use microlp::{
    ComparisonOp, LinearExpr, OptimizationDirection, Problem as Lp, SolveOptions, SolveOutcome,
    TerminationReason, Variable,
};

use crate::check::{batch_starts, mask};
use crate::{FlexKind, Infeasible, Limits, Objective, Problem, SolverNote};

/// The solver's schedules in whole Wh.
pub(crate) struct Solved {
    pub schedules: Vec<Vec<i64>>,
    pub note: SolverNote,
}

enum LoadVars {
    Shift {
        vars: Vec<(usize, Variable)>,
        min_wh: i64,
        max_wh: i64,
    },
    Batch {
        starts: Vec<(usize, Variable)>,
        profile_wh: Vec<i64>,
    },
}

struct Built {
    lp: Lp,
    loads: Vec<LoadVars>,
    variables: usize,
    binaries: usize,
    constraints: usize,
}

fn weights(p: &Problem) -> Vec<f64> {
    let norm = |v: Vec<f64>| {
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        if mean > 0.0 {
            v.into_iter().map(|x| x / mean).collect()
        } else {
            v
        }
    };
    let emissions = norm(p.factors.clone());
    let cost = norm(p.prices.clone());
    match p.objective {
        Objective::Emissions => emissions
            .iter()
            .zip(&cost)
            .map(|(e, c)| e + 1e-4 * c)
            .collect(),
        Objective::Cost => cost
            .iter()
            .zip(&emissions)
            .map(|(c, e)| c + 1e-4 * e)
            .collect(),
        Objective::Blend { price_per_t } => {
            let blended: Vec<f64> = p
                .prices
                .iter()
                .zip(&p.factors)
                .map(|(c, f)| c + price_per_t * f / 1e6)
                .collect();
            norm(blended)
                .iter()
                .zip(&emissions)
                .map(|(b, e)| b + 1e-4 * e)
                .collect()
        }
    }
}

/// Builds the model. `limit_slack_wh` tightens the import limit so rounding cannot breach
/// it; `contiguous` false relaxes batches into shiftable loads (for diagnosis).
fn build(p: &Problem, use_limit: bool, limit_slack_wh: i64, contiguous: bool) -> Built {
    let n = p.len();
    let w = weights(p);
    let mut lp = Lp::new(OptimizationDirection::Minimize);
    let (mut variables, mut binaries, mut constraints) = (0, 0, 0);
    let mut loads = Vec::with_capacity(p.loads.len());
    // Per interval: the flexible terms of its import constraint.
    let mut at: Vec<Vec<(Variable, f64)>> = vec![Vec::new(); n];
    for l in &p.loads {
        let peak = l.baseline_wh.iter().copied().max().unwrap_or(0).max(1) as f64;
        let nudge = |t: usize| -1e-6 * l.baseline_wh[t] as f64 / peak;
        let e_kwh = l.energy_wh() as f64 / 1000.0;
        let shift = |windows, min_wh: i64, max_wh: i64, lp: &mut Lp, at: &mut Vec<Vec<_>>| {
            let m = mask(windows, n);
            let mut vars = Vec::new();
            let mut sum = LinearExpr::empty();
            for t in (0..n).filter(|&t| m[t]) {
                let v = lp.add_var(nudge(t), (min_wh as f64 / 1000.0, max_wh as f64 / 1000.0));
                sum.add(v, 1.0);
                at[t].push((v, 1.0));
                vars.push((t, v));
            }
            lp.add_constraint(sum, ComparisonOp::Eq, e_kwh);
            (vars, min_wh, max_wh)
        };
        match &l.kind {
            FlexKind::Shiftable {
                windows,
                min_wh,
                max_wh,
            } => {
                let (vars, min_wh, max_wh) = shift(windows, *min_wh, *max_wh, &mut lp, &mut at);
                variables += vars.len();
                constraints += 1;
                loads.push(LoadVars::Shift {
                    vars,
                    min_wh,
                    max_wh,
                });
            }
            FlexKind::Batch {
                profile_wh,
                windows,
            } if contiguous => {
                let m = mask(windows, n);
                let mut starts = Vec::new();
                let mut one = LinearExpr::empty();
                for s in batch_starts(&m, profile_wh.len()) {
                    let overlap: f64 = (0..profile_wh.len())
                        .map(|k| nudge(s + k) * profile_wh[k] as f64 / 1000.0)
                        .sum();
                    let y = lp.add_binary_var(overlap);
                    one.add(y, 1.0);
                    for (k, &e) in profile_wh.iter().enumerate() {
                        if e != 0 {
                            at[s + k].push((y, e as f64 / 1000.0));
                        }
                    }
                    starts.push((s, y));
                }
                binaries += starts.len();
                lp.add_constraint(one, ComparisonOp::Eq, 1.0);
                constraints += 1;
                loads.push(LoadVars::Batch {
                    starts,
                    profile_wh: profile_wh.clone(),
                });
            }
            FlexKind::Batch {
                profile_wh,
                windows,
            } => {
                let max = profile_wh.iter().copied().max().unwrap_or(0);
                let (vars, min_wh, max_wh) = shift(windows, 0, max, &mut lp, &mut at);
                variables += vars.len();
                constraints += 1;
                loads.push(LoadVars::Shift {
                    vars,
                    min_wh,
                    max_wh,
                });
            }
        }
    }
    let cap = match (use_limit, p.import_limit_wh) {
        (true, Some(l)) => (l - limit_slack_wh).max(0) as f64 / 1000.0,
        _ => f64::INFINITY,
    };
    for t in 0..n {
        let imp = lp.add_var(w[t], (0.0, cap));
        let mut e = LinearExpr::empty();
        e.add(imp, 1.0);
        for &(v, c) in &at[t] {
            e.add(v, -c);
        }
        lp.add_constraint(
            e,
            ComparisonOp::Ge,
            (p.fixed_wh[t] - p.pv_wh[t]) as f64 / 1000.0,
        );
    }
    variables += n;
    constraints += n;
    Built {
        lp,
        loads,
        variables,
        binaries,
        constraints,
    }
}

/// Whole-Wh values for one load: each interval floor(x) or floor(x) + 1 by largest
/// remainder, so the sum is exactly `energy` and `min <= v <= max` holds wherever it held
/// for `x` (the solver's answer, clamped into the bounds first).
pub(crate) fn round_exact(
    x_wh: &[(usize, f64)],
    min: i64,
    max: i64,
    energy: i64,
) -> Vec<(usize, i64)> {
    let mut v: Vec<(usize, i64, f64)> = x_wh
        .iter()
        .map(|&(t, x)| {
            let x = x.clamp(min as f64, max as f64);
            let f = x.floor();
            (t, (f as i64).clamp(min, max), x - f)
        })
        .collect();
    let mut deficit = energy - v.iter().map(|e| e.1).sum::<i64>();
    // Largest remainders first when adding, smallest first when taking away.
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[b].2.total_cmp(&v[a].2).then(a.cmp(&b)));
    let mut first_pass = true;
    while deficit > 0 {
        let mut moved = false;
        for &i in &order {
            if deficit == 0 {
                break;
            }
            let room = max - v[i].1;
            let add = if first_pass { room.min(1) } else { room }.min(deficit);
            if add > 0 {
                v[i].1 += add;
                deficit -= add;
                moved = true;
            }
        }
        if !moved && !first_pass {
            break;
        }
        first_pass = false;
    }
    first_pass = true;
    while deficit < 0 {
        let mut moved = false;
        for &i in order.iter().rev() {
            if deficit == 0 {
                break;
            }
            let room = v[i].1 - min;
            let take = if first_pass { room.min(1) } else { room }.min(-deficit);
            if take > 0 {
                v[i].1 -= take;
                deficit += take;
                moved = true;
            }
        }
        if !moved && !first_pass {
            break;
        }
        first_pass = false;
    }
    v.into_iter().map(|(t, x, _)| (t, x)).collect()
}

/// Moves whole Wh of shiftable loads out of intervals whose import breaks the limit, into
/// intervals of the same load with room. Returns the Wh moved, or the interval it could not
/// fix.
fn repair_limit(p: &Problem, loads: &[LoadVars], schedules: &mut [Vec<i64>]) -> Result<i64, usize> {
    let Some(limit) = p.import_limit_wh else {
        return Ok(0);
    };
    let n = p.len();
    let mut net: Vec<i64> = (0..n)
        .map(|t| p.fixed_wh[t] - p.pv_wh[t] + schedules.iter().map(|s| s[t]).sum::<i64>())
        .collect();
    let mut moved = 0;
    for t in 0..n {
        while net[t] > limit {
            let mut fixed = false;
            for (l, lv) in loads.iter().enumerate() {
                let LoadVars::Shift {
                    vars,
                    min_wh,
                    max_wh,
                } = lv
                else {
                    continue;
                };
                if !vars.iter().any(|(u, _)| *u == t) || schedules[l][t] <= *min_wh {
                    continue;
                }
                if let Some(&(u, _)) = vars
                    .iter()
                    .find(|(u, _)| *u != t && schedules[l][*u] < *max_wh && net[*u] < limit)
                {
                    let k = (net[t] - limit)
                        .min(schedules[l][t] - min_wh)
                        .min(max_wh - schedules[l][u])
                        .min(limit - net[u]);
                    schedules[l][t] -= k;
                    schedules[l][u] += k;
                    net[t] -= k;
                    net[u] += k;
                    moved += k;
                    fixed = true;
                    break;
                }
            }
            if !fixed {
                return Err(t);
            }
        }
    }
    Ok(moved)
}

/// The solver's limits for the rest of one plan: the gap, the node limit per solve, and
/// the time left of the plan's budget.
struct Budget<'a> {
    limits: &'a Limits,
    deadline: Option<Instant>,
}

impl<'a> Budget<'a> {
    fn start(limits: &'a Limits) -> Self {
        Budget {
            limits,
            deadline: limits.time_limit.map(|t| Instant::now() + t),
        }
    }

    /// Solves `lp` within what is left of the budget.
    fn solve(&self, lp: &Lp) -> Result<SolveOutcome, microlp::Error> {
        self.solve_from(lp, None)
    }

    /// [`Budget::solve`], seeding branch and bound with `hint` (ignored by the solver if
    /// infeasible), so that a search stopped early still has a schedule.
    fn solve_from(
        &self,
        lp: &Lp,
        hint: Option<Vec<(Variable, f64)>>,
    ) -> Result<SolveOutcome, microlp::Error> {
        let mut options = SolveOptions::default();
        options.warm_start = hint;
        options.mip_gap = self.limits.mip_gap;
        options.node_limit = self.limits.node_limit;
        options.time_limit = self.deadline.map(|d| {
            d.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        lp.solve_with(options)
    }

    /// Whether `lp` has a solution, as far as the budget lets the solver tell (`None`: it
    /// could not tell).
    fn feasible(&self, lp: &Lp) -> Option<bool> {
        match self.solve(lp) {
            Ok(o) => o.solution().map(|_| true),
            Err(microlp::Error::Infeasible) => Some(false),
            Err(_) => None,
        }
    }

    /// The limits, in words, for messages.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.limits.time_limit {
            parts.push(format!("a time limit of {} s", t.as_secs_f64()));
        }
        if let Some(n) = self.limits.node_limit {
            parts.push(format!("{n} branch-and-bound nodes"));
        }
        if parts.is_empty() {
            "no limit".into()
        } else {
            parts.join(" and ")
        }
    }
}

fn diagnose(p: &Problem, err: &microlp::Error, budget: &Budget<'_>) -> Infeasible {
    let feasible = |use_limit: bool, contiguous: bool| {
        budget.feasible(&build(p, use_limit, 0, contiguous).lp) == Some(true)
    };
    let has_batch = p
        .loads
        .iter()
        .any(|l| matches!(l.kind, FlexKind::Batch { .. }));
    let diagnosis = if !matches!(err, microlp::Error::Infeasible) {
        format!("the solver stopped: {err}; please report this problem")
    } else if p.import_limit_wh.is_some() && feasible(false, true) {
        format!(
            "the site import limit of {} per interval conflicts with the loads' windows and power limits: without the limit a schedule exists; raise the limit or widen the windows",
            crate::format_energy(p.import_limit_wh.unwrap_or(0))
        )
    } else if has_batch && feasible(p.import_limit_wh.is_some(), false) {
        "the no-pause batch runs cannot all be placed within their windows and the import limit; they fit only if allowed to pause: widen their windows".into()
    } else {
        "the loads' windows, power limits and the import limit cannot all hold together; relax one of them".into()
    };
    Infeasible::Solver { diagnosis }
}

/// Each batch at its baseline start, if that start is allowed: a schedule that exists before
/// any search (when it keeps the import limit), so a search stopped by its limits has at
/// least the baseline to improve on. `None` without batches (a linear programme).
fn baseline_hint(p: &Problem, built: &Built) -> Option<Vec<(Variable, f64)>> {
    let mut hint = Vec::new();
    for (l, lv) in built.loads.iter().enumerate() {
        if let LoadVars::Batch { starts, .. } = lv {
            let s0 = p.loads[l].baseline_wh.iter().position(|&e| e != 0)?;
            if !starts.iter().any(|&(s, _)| s == s0) {
                return None;
            }
            hint.extend(
                starts
                    .iter()
                    .map(|&(s, y)| (y, if s == s0 { 1.0 } else { 0.0 })),
            );
        }
    }
    (!hint.is_empty()).then_some(hint)
}

/// Solves `p` (already validated and pre-checked) into whole-Wh schedules, within `limits`.
pub(crate) fn solve(p: &Problem, limits: &Limits) -> Result<Solved, Infeasible> {
    let budget = Budget::start(limits);
    let n = p.len();
    let shiftable = p
        .loads
        .iter()
        .filter(|l| matches!(l.kind, FlexKind::Shiftable { .. }))
        .count() as i64;
    // Rounding adds at most 1 Wh per shiftable load per interval: keep that much below the limit.
    let mut built = build(p, true, shiftable, true);
    let outcome = match budget.solve_from(&built.lp, baseline_hint(p, &built)) {
        Ok(o) => o,
        Err(_) if p.import_limit_wh.is_some() && shiftable > 0 => {
            built = build(p, true, 0, true);
            budget
                .solve(&built.lp)
                .map_err(|e| diagnose(p, &e, &budget))?
        }
        Err(e) => return Err(diagnose(p, &e, &budget)),
    };
    let solution = outcome.solution().ok_or_else(|| Infeasible::Solver {
        diagnosis: format!(
            "the solver found no schedule within {} ({} batch starts to choose among); plan fewer no-pause batches at once, narrow their windows, or allow a longer time",
            budget.describe(),
            built.binaries
        ),
    })?;
    let stopped = match solution.termination_reason() {
        TerminationReason::ProvenOptimal => "optimal",
        TerminationReason::MipGap => "mip_gap",
        TerminationReason::TimeLimit => "time_limit",
        TerminationReason::NodeLimit => "node_limit",
        _ => "limit",
    };
    let proven_optimal = stopped == "optimal";
    let gap = if proven_optimal {
        Some(0.0)
    } else {
        solution.gap()
    };
    let mut schedules = vec![vec![0i64; n]; p.loads.len()];
    let mut repaired = 0;
    for (l, lv) in built.loads.iter().enumerate() {
        match lv {
            LoadVars::Shift {
                vars,
                min_wh,
                max_wh,
            } => {
                let x: Vec<(usize, f64)> = vars
                    .iter()
                    .map(|&(t, v)| (t, solution.var_value_raw(v) * 1000.0))
                    .collect();
                for (t, v) in round_exact(&x, *min_wh, *max_wh, p.loads[l].energy_wh()) {
                    let naive = x.iter().find(|e| e.0 == t).map_or(0.0, |e| e.1).round();
                    repaired += (v - naive as i64).abs();
                    schedules[l][t] = v;
                }
            }
            LoadVars::Batch { starts, profile_wh } => {
                let best = starts
                    .iter()
                    .max_by(|a, b| {
                        solution
                            .var_value_raw(a.1)
                            .total_cmp(&solution.var_value_raw(b.1))
                    })
                    .map(|&(s, _)| s)
                    .ok_or_else(|| Infeasible::Solver {
                        diagnosis: format!("{} has no feasible start", p.loads[l].name),
                    })?;
                for (k, &e) in profile_wh.iter().enumerate() {
                    schedules[l][best + k] = e;
                }
            }
        }
    }
    let moved = repair_limit(p, &built.loads, &mut schedules).map_err(|t| Infeasible::Solver {
        diagnosis: format!(
            "after rounding to whole Wh the import at interval {t} stays above the limit and no load can move out of it; widen a window or raise the limit"
        ),
    })?;
    Ok(Solved {
        schedules,
        note: SolverNote {
            method: format!(
                "{} (microlp 0.6, pure Rust), rounded to whole Wh by largest remainder",
                if built.binaries > 0 {
                    "mixed-integer linear programme, branch and bound over batch starts"
                } else {
                    "linear programme, simplex"
                }
            ),
            variables: built.variables,
            binaries: built.binaries,
            constraints: built.constraints,
            repaired_wh: repaired + moved,
            proven_optimal,
            gap,
            stopped: stopped.into(),
        },
    })
}
