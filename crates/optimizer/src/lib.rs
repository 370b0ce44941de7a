//! tanji-optimizer: load-shift advice. Given one enterprise's day — its fixed load and on-site
//! PV per interval, its flexible loads (energy, allowed windows, power limits, batches that
//! cannot pause), a site import limit, the grid's emission factor and a time-of-use price per
//! interval — [`optimize`] moves the flexible loads between intervals to minimise emissions,
//! cost, or cost plus a carbon price, keeping every flexible load's energy exactly unchanged
//! (to the Wh), and returns a [`Plan`]: the schedule per interval, before/after emissions and
//! cost, and one line of advice per load that moves. Inputs that cannot be satisfied come back
//! as an [`Infeasible`] naming the constraint that conflicts.
//!
//! The model is a linear programme (a mixed-integer one when a batch must run without pause),
//! solved by the pure-Rust `microlp` simplex/branch-and-bound solver; its floating-point
//! answer is rounded to whole Wh by a largest-remainder repair that keeps each load's sum and
//! bounds exact. Local time (tariff periods, allowed windows; Asia/Shanghai by default) is
//! `tanji_units::time`'s; [`tariff`] turns a time-of-use tariff into prices per interval; [`spec`] builds flexible
//! loads from a site's metered day and a description of what can move.
//!
//! Every plan is solved within [`Limits`] (a MIP gap, a time and a node budget) and says in
//! its [`SolverNote`] whether it is proven optimal and the gap achieved: no instance can hang
//! a caller.
//!
//! What it is not: it reads no files, and no clock but the monotonic one behind the solver's
//! time limit; it knows nothing of the park log (the CLI and server gather the data), and
//! forecasts nothing (`tanji-forecast` does). Its figures are
//! modelled: emissions are grid imports × the given factors, not a measurement.

mod advice;
mod check;
mod solve;
pub mod spec;
pub mod tariff;

use serde::{Deserialize, Serialize};

pub use advice::{format_emissions, format_energy, format_money};
pub use tariff::{PeriodKind, Tariff};

/// What to minimise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Objective {
    /// Grid-import emissions (Σ import × factor); ties broken by cost.
    Emissions,
    /// Import cost at the tariff (Σ import × price); ties broken by emissions.
    Cost,
    /// Cost plus emissions priced at `price_per_t` (currency per t CO2).
    Blend {
        /// Carbon price, currency per tonne CO2.
        price_per_t: f64,
    },
}

impl Objective {
    /// The carbon price the product's source document implies: about 120 000 CNY for about
    /// 800 t CO2 a year (docs/reference/pilot.md), i.e. 150 CNY/t.
    pub const DEFAULT_CARBON_PRICE: f64 = 150.0;

    /// `emissions`, `cost` or `blend`.
    pub fn code(&self) -> &'static str {
        match self {
            Objective::Emissions => "emissions",
            Objective::Cost => "cost",
            Objective::Blend { .. } => "blend",
        }
    }
}

/// Interval indices `[from, to)` of the problem's horizon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First interval.
    pub from: usize,
    /// One past the last interval.
    pub to: usize,
}

/// How a flexible load may move.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FlexKind {
    /// Its energy may be spread over the allowed intervals, each between `min_wh` and
    /// `max_wh` (zero outside them).
    Shiftable {
        /// Allowed intervals.
        windows: Vec<Window>,
        /// Least energy per allowed interval, Wh.
        min_wh: i64,
        /// Most energy per interval, Wh (power × interval length).
        max_wh: i64,
    },
    /// A batch that cannot pause: it draws `profile_wh` over consecutive intervals, starting
    /// anywhere the whole run lies in allowed intervals.
    Batch {
        /// Energy of each interval of the run, Wh.
        profile_wh: Vec<i64>,
        /// Allowed intervals.
        windows: Vec<Window>,
    },
}

/// A flexible load: what it drew (its baseline schedule) and how it may move. Its energy is
/// the baseline's sum, and stays exactly that.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlexLoad {
    /// Its name, as the advice calls it ("line 3").
    pub name: String,
    /// Energy per interval as it ran (or is planned), Wh.
    pub baseline_wh: Vec<i64>,
    /// How it may move.
    pub kind: FlexKind,
}

impl FlexLoad {
    /// Its energy, Wh.
    pub fn energy_wh(&self) -> i64 {
        self.baseline_wh.iter().sum()
    }
}

/// One enterprise's day (or any horizon of equal intervals) to plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Whose.
    pub enterprise: String,
    /// Start of the first interval, Unix seconds.
    pub start: i64,
    /// Interval length, seconds (900 for quarter-hours).
    pub interval_s: u32,
    /// IANA zone for the advice's clock times.
    pub zone: String,
    /// Consumption that does not move, Wh per interval.
    pub fixed_wh: Vec<i64>,
    /// On-site generation (PV), Wh per interval; it serves the site first, the rest exports.
    pub pv_wh: Vec<i64>,
    /// Grid emission factor of imports, g CO2 per kWh, per interval.
    pub factors: Vec<f64>,
    /// Import price, currency per kWh, per interval.
    pub prices: Vec<f64>,
    /// Currency of `prices` (display only).
    pub currency: String,
    /// The loads that may move.
    pub loads: Vec<FlexLoad>,
    /// Most grid import per interval, Wh (the connection's rating), if any.
    pub import_limit_wh: Option<i64>,
    /// What to minimise.
    pub objective: Objective,
}

impl Problem {
    /// Number of intervals.
    pub fn len(&self) -> usize {
        self.fixed_wh.len()
    }

    /// Whether the horizon is empty.
    pub fn is_empty(&self) -> bool {
        self.fixed_wh.is_empty()
    }
}

/// A constraint that cannot be met, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Which constraint: `"line 3: window and max power"`, `"site import limit"`.
    pub constraint: String,
    /// Why, with the numbers.
    pub message: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.constraint, self.message)
    }
}

/// Why no plan could be made.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Infeasible {
    /// The problem is malformed (lengths, negative energy, non-finite factors).
    #[error("invalid problem: {what}")]
    Invalid {
        /// What is wrong, where.
        what: String,
    },
    /// Constraints that contradict each other, found before solving.
    #[error("no schedule can meet these constraints:\n{}", list(.conflicts))]
    Conflicts {
        /// Each conflict.
        conflicts: Vec<Conflict>,
    },
    /// The solver proved there is no schedule, or failed; `diagnosis` says which constraint
    /// it narrowed the conflict to.
    #[error("the solver found no schedule that meets every constraint together: {diagnosis}")]
    Solver {
        /// What re-solving without each group of constraints showed.
        diagnosis: String,
    },
}

fn list(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("  - {c}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Modelled totals of one schedule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Site consumption (fixed + flexible), Wh.
    pub consumption_wh: i64,
    /// Grid import, Wh: Σ max(consumption − PV, 0).
    pub import_wh: i64,
    /// PV exported, Wh.
    pub export_wh: i64,
    /// Import × factor, g CO2 (rounded once, at the end).
    pub emissions_g: i64,
    /// Import × price, currency.
    pub cost: f64,
}

/// One flexible load, before and after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadPlan {
    /// Its name.
    pub name: String,
    /// Its energy, Wh (the same before and after).
    pub energy_wh: i64,
    /// Wh per interval before.
    pub before_wh: Vec<i64>,
    /// Wh per interval after.
    pub after_wh: Vec<i64>,
    /// Energy that moves: Σ max(before − after, 0), Wh.
    pub moved_wh: i64,
}

/// One interval of the plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalPlan {
    /// Start, Unix seconds.
    pub start: i64,
    /// Start on the local clock, `HH:MM`.
    pub local: String,
    /// Grid factor, g/kWh.
    pub factor: f64,
    /// Import price, currency/kWh.
    pub price: f64,
    /// Fixed load, Wh.
    pub fixed_wh: i64,
    /// PV, Wh.
    pub pv_wh: i64,
    /// Flexible loads before, Wh.
    pub flex_before_wh: i64,
    /// Flexible loads after, Wh.
    pub flex_after_wh: i64,
    /// Grid import before, Wh.
    pub import_before_wh: i64,
    /// Grid import after, Wh.
    pub import_after_wh: i64,
}

/// One line of advice: a load's move and what it changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The load.
    pub load: String,
    /// Energy moved, Wh.
    pub moved_wh: i64,
    /// Local time ranges it leaves (`"19:00–21:00"`).
    pub from: Vec<String>,
    /// Local time ranges it moves to.
    pub to: Vec<String>,
    /// Emissions change this line adds, g (negative: fewer).
    pub emissions_g: i64,
    /// Cost change this line adds, currency.
    pub cost: f64,
    /// The advice, in words.
    pub text: String,
}

/// How the plan was solved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SolverNote {
    /// The method, in words.
    pub method: String,
    /// Continuous variables.
    pub variables: usize,
    /// Binary variables (batch starts).
    pub binaries: usize,
    /// Constraints.
    pub constraints: usize,
    /// Wh moved by the rounding repair (away from the solver's rounded answer).
    pub repaired_wh: i64,
    /// Whether the solver proved the schedule optimal (always so for a linear programme).
    /// `false`: it stopped at a [`Limits`] bound with the best schedule found so far, which
    /// keeps every constraint but may not be the least objective.
    #[serde(default = "proven")]
    pub proven_optimal: bool,
    /// The relative gap between the schedule's objective and the best bound the solver proved
    /// (0 when proven optimal; e.g. 0.006 = the schedule is within 0.6% of the best possible),
    /// `None` if the solver stopped before it had a bound.
    #[serde(default)]
    pub gap: Option<f64>,
    /// Why the solver stopped: `optimal`, `mip_gap` (within [`Limits::mip_gap`]),
    /// `time_limit` or `node_limit`.
    #[serde(default = "optimal")]
    pub stopped: String,
}

fn proven() -> bool {
    true
}

fn optimal() -> String {
    "optimal".into()
}

impl SolverNote {
    /// The method and how far it got, in words: "…, proven optimal" or "…, not proven
    /// optimal: stopped at the time limit, within 0.6% of the best possible".
    pub fn describe(&self) -> String {
        if self.proven_optimal {
            return format!("{}, proven optimal", self.method);
        }
        let why = match self.stopped.as_str() {
            "mip_gap" => "stopped within the allowed MIP gap",
            "time_limit" => "stopped at the time limit",
            "node_limit" => "stopped at the node limit",
            other => other,
        };
        match self.gap {
            Some(g) => format!(
                "{}, not proven optimal: {why}, within {:.2}% of the best possible",
                self.method,
                g * 100.0
            ),
            None => format!(
                "{}, not proven optimal: {why}, with no bound on how far from the best possible",
                self.method
            ),
        }
    }
}

/// How long the solver may search and how close to the optimum it may stop: a plan is
/// always returned within these bounds (or refused), whatever the instance.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Relative MIP gap at which branch and bound may stop with the best schedule found.
    pub mip_gap: f64,
    /// Wall-clock budget of one [`optimize_with`] call, all its solves together; `None`:
    /// none (only for tests with a node limit).
    pub time_limit: Option<std::time::Duration>,
    /// Branch-and-bound nodes per solve; `None`: no limit. Deterministic, unlike the time
    /// limit: tests use it to stop a search at the same point on any machine.
    pub node_limit: Option<u64>,
}

impl Limits {
    /// The default relative MIP gap: 10⁻⁴ (HiGHS's default `mip_rel_gap`).
    pub const DEFAULT_MIP_GAP: f64 = 1e-4;
    /// The default time limit per plan: 10 s.
    pub const DEFAULT_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            mip_gap: Self::DEFAULT_MIP_GAP,
            time_limit: Some(Self::DEFAULT_TIME_LIMIT),
            node_limit: None,
        }
    }
}

/// The advice for one problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Whose.
    pub enterprise: String,
    /// Start of the first interval, Unix seconds.
    pub start: i64,
    /// Interval length, seconds.
    pub interval_s: u32,
    /// Zone of the clock times.
    pub zone: String,
    /// Currency of costs.
    pub currency: String,
    /// What was minimised.
    pub objective: Objective,
    /// Before: the baseline schedules.
    pub before: Outcome,
    /// After: the planned schedules.
    pub after: Outcome,
    /// Every flexible load.
    pub loads: Vec<LoadPlan>,
    /// Every interval.
    pub intervals: Vec<IntervalPlan>,
    /// One line per load that moves; their figures add up to after − before.
    pub changes: Vec<Change>,
    /// How it was solved.
    pub solver: SolverNote,
}

/// Plans `p`: the least-objective schedule of its flexible loads, each load's energy
/// unchanged to the Wh, every bound and the import limit kept; within the default
/// [`Limits`] (10 s, a 10⁻⁴ gap), and the plan's [`SolverNote`] says whether it is proven
/// optimal.
pub fn optimize(p: &Problem) -> Result<Plan, Infeasible> {
    optimize_with(p, &Limits::default())
}

/// [`optimize`] within `limits`.
pub fn optimize_with(p: &Problem, limits: &Limits) -> Result<Plan, Infeasible> {
    check::validate(p)?;
    check::precheck(p)?;
    let solved = solve::solve(p, limits)?;
    Ok(advice::plan(p, solved))
}

/// The modelled outcome of flexible schedules `flex` (one per load) on `p`'s fixed load, PV,
/// factors and prices.
pub fn evaluate(p: &Problem, flex: &[&[i64]]) -> Outcome {
    advice::outcome(p, flex)
}

/// A plan made on one problem (e.g. forecast factors) scored on another with the same loads
/// (the factors that actually came): the baselines' and the plan's outcomes there.
pub fn rescore(plan: &Plan, actual: &Problem) -> Result<(Outcome, Outcome), Infeasible> {
    if actual.len() != plan.intervals.len() || actual.loads.len() != plan.loads.len() {
        return Err(Infeasible::Invalid {
            what: format!(
                "the plan has {} intervals and {} loads, the actual day {} and {}",
                plan.intervals.len(),
                plan.loads.len(),
                actual.len(),
                actual.loads.len()
            ),
        });
    }
    check::validate(actual)?;
    let before: Vec<&[i64]> = actual.loads.iter().map(|l| &l.baseline_wh[..]).collect();
    let after: Vec<&[i64]> = plan.loads.iter().map(|l| &l.after_wh[..]).collect();
    Ok((
        advice::outcome(actual, &before),
        advice::outcome(actual, &after),
    ))
}
