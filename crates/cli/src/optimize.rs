//! `tanji optimize`: load-shift advice for one enterprise's local day, from its logged loads
//! and PV and the published grid factors (or a forecast of them), with a time-of-use tariff
//! and a description of what can move.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use tanji_optimizer::local::{LocalDate, Zone};
use tanji_optimizer::spec::{FlexSpec, SiteDay};
use tanji_optimizer::{optimize, Objective, Outcome, Plan, Problem, Tariff};
use tanji_park::Park;

use crate::util;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveArg {
    /// Least grid-import emissions (ties broken by cost).
    Emissions,
    /// Least import cost at the tariff (ties broken by emissions).
    Cost,
    /// Least cost + emissions × --carbon-price.
    Blend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FactorsArg {
    /// Plan on the published factors of the day.
    Published,
    /// Plan on a next-day forecast from the previous days' published factors, then score the
    /// plan on the published factors of the day (what actually happened).
    Forecast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// Advice lines and totals.
    Text,
    /// The whole plan (schedules per interval, totals, changes) as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The park's data directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// The enterprise, e.g. e-0003.
    #[arg(long)]
    pub enterprise: String,
    /// The local day to plan, YYYY-MM-DD (in --zone).
    #[arg(long)]
    pub day: String,
    /// What to minimise.
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Emissions)]
    pub objective: ObjectiveArg,
    /// Carbon price for --objective blend, CNY per t CO2 (default 150: about 120 000 CNY for
    /// about 800 t in the product's source document).
    #[arg(long, default_value_t = Objective::DEFAULT_CARBON_PRICE)]
    pub carbon_price: f64,
    /// Time-of-use tariff (TOML; see examples/optimize/). Default: an illustrative industrial
    /// tariff, not any utility's.
    #[arg(long)]
    pub tariff: Option<PathBuf>,
    /// What can move (TOML; see examples/optimize/). Default: a fifth of the load above the
    /// day's minimum may move within 06:00–24:00 at up to 1.5 × its peak (docs/optimizer.md).
    #[arg(long)]
    pub flex: Option<PathBuf>,
    /// Which factors to plan on.
    #[arg(long, value_enum, default_value_t = FactorsArg::Published)]
    pub factors: FactorsArg,
    /// Factor publication id or name (default: the latest).
    #[arg(long)]
    pub publication: Option<String>,
    /// Time zone of --day and of the advice's clock times.
    #[arg(long, default_value = tanji_optimizer::local::DEFAULT_ZONE)]
    pub zone: String,
    /// Plan this many consecutive days from --day, one line each and their total.
    #[arg(long, default_value_t = 1)]
    pub days: u32,
    /// Also print the schedule per interval (text format).
    #[arg(long)]
    pub intervals: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    pub format: OutFormat,
}

/// Reads and parses a TOML file.
fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{what} file {}", path.display()))
}

/// The tariff of `path`, or the illustrative default.
pub fn tariff(path: Option<&Path>) -> Result<Tariff> {
    path.map_or_else(|| Ok(Tariff::illustrative()), |p| read_toml(p, "tariff"))
}

/// The flexible-load description of `path`, or the documented default.
pub fn flex(path: Option<&Path>) -> Result<FlexSpec> {
    path.map_or_else(
        || Ok(FlexSpec::default_for_site()),
        |p| read_toml(p, "flex"),
    )
}

/// One enterprise's metered local day from the park log.
pub fn site_day(park: &Park, enterprise: &str, zone: &Zone, date: LocalDate) -> Result<SiteDay> {
    Ok(tanji_report::advice::site_day(
        park.store(),
        enterprise,
        zone,
        date,
    )?)
}

/// The published factors (g/kWh) of each interval of `day`, and the publication's id.
pub fn published_factors(
    park: &Park,
    publication: Option<&str>,
    day: &SiteDay,
    zone: &Zone,
) -> Result<(String, Vec<f64>)> {
    Ok(tanji_report::advice::published_factors(
        park.store(),
        &park.verifier(),
        publication,
        day,
        zone,
    )?)
}

/// The objective the arguments ask for.
pub fn objective(a: ObjectiveArg, carbon_price: f64) -> Objective {
    match a {
        ObjectiveArg::Emissions => Objective::Emissions,
        ObjectiveArg::Cost => Objective::Cost,
        ObjectiveArg::Blend => Objective::Blend {
            price_per_t: carbon_price,
        },
    }
}

fn print_intervals(plan: &Plan) {
    println!();
    println!("local  factor g/kWh  price  fixed kWh  PV kWh  flex before  flex after  import before  import after");
    for iv in &plan.intervals {
        println!(
            "{}  {:>12.1}  {:>5.2}  {:>9.1}  {:>6.1}  {:>11.1}  {:>10.1}  {:>13.1}  {:>12.1}",
            iv.local,
            iv.factor,
            iv.price,
            iv.fixed_wh as f64 / 1e3,
            iv.pv_wh as f64 / 1e3,
            iv.flex_before_wh as f64 / 1e3,
            iv.flex_after_wh as f64 / 1e3,
            iv.import_before_wh as f64 / 1e3,
            iv.import_after_wh as f64 / 1e3
        );
    }
}

/// Builds the problem of local day `date` for the arguments, on the published factors; returns
/// it with the publication's id.
pub fn problem(
    park: &Park,
    a: &OptimizeArgs,
    zone: &Zone,
    date: LocalDate,
) -> Result<(Problem, String)> {
    let day = site_day(park, &a.enterprise, zone, date)?;
    let (publication, factors) = published_factors(park, a.publication.as_deref(), &day, zone)?;
    let tariff = tariff(a.tariff.as_deref())?;
    let spec = flex(a.flex.as_deref())?;
    let p = spec.problem(
        &day,
        factors,
        &tariff,
        objective(a.objective, a.carbon_price),
        zone,
    )?;
    Ok((p, publication))
}

/// A day's plan: made on the published factors or a forecast; with a forecast, also the
/// outcomes on the published factors (before, after).
struct DayPlan {
    plan: Plan,
    publication: String,
    forecast_note: Option<String>,
    realised: Option<(Outcome, Outcome)>,
}

fn plan_day(
    park: &Park,
    a: &OptimizeArgs,
    zone: &Zone,
    date: LocalDate,
) -> Result<Result<DayPlan, tanji_optimizer::Infeasible>> {
    let (actual, publication) = problem(park, a, zone, date)?;
    let mut planned_on = actual.clone();
    let mut forecast_note = None;
    if a.factors == FactorsArg::Forecast {
        let (values, note) =
            crate::forecast::factor_forecast(park, a.publication.as_deref(), zone, date)?;
        planned_on.factors = values;
        forecast_note = Some(note);
    }
    let plan = match optimize(&planned_on) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let realised = match a.factors {
        FactorsArg::Forecast => Some(tanji_optimizer::rescore(&plan, &actual)?),
        FactorsArg::Published => None,
    };
    Ok(Ok(DayPlan {
        plan,
        publication,
        forecast_note,
        realised,
    }))
}

/// The text of a plan made on a forecast: the headline is what the plan does on the day's
/// published factors (realised); the forecast's own figure follows, labelled, then the
/// changes as modelled on the forecast.
fn forecast_headline(plan: &Plan, before: &Outcome, after: &Outcome) -> String {
    let pct = |a: f64, b: f64| if a != 0.0 { (b - a) / a * 100.0 } else { 0.0 };
    let line = |b: &Outcome, a: &Outcome| {
        format!(
            "emissions {:.3} t -> {:.3} t ({:+.1} kg, {:+.2}%); cost {:.0} -> {:.0} {} ({:+.1}%)",
            b.emissions_g as f64 / 1e6,
            a.emissions_g as f64 / 1e6,
            (a.emissions_g - b.emissions_g) as f64 / 1e3,
            pct(b.emissions_g as f64, a.emissions_g as f64),
            b.cost,
            a.cost,
            plan.currency,
            pct(b.cost, a.cost),
        )
    };
    let mut s = format!(
        "realised on the published factors: {}; grid import {} -> {}; consumption {} (unchanged: {})\n",
        line(before, after),
        tanji_optimizer::format_energy(before.import_wh),
        tanji_optimizer::format_energy(after.import_wh),
        tanji_optimizer::format_energy(after.consumption_wh),
        if before.consumption_wh == after.consumption_wh { "yes" } else { "NO" },
    );
    s.push_str(&format!(
        "  forecast's own figure (modelled on the forecast factors the plan was made on, not realised): {}\n",
        line(&plan.before, &plan.after)
    ));
    if plan.changes.is_empty() {
        s.push_str("no change: on the forecast, the loads already run at their best times\n");
    } else {
        s.push_str("changes (their emissions and cost as modelled on the forecast):\n");
    }
    for c in &plan.changes {
        s.push_str(&format!("  {}\n", c.text));
    }
    s
}

/// `--days N`: a plan per day, each day's totals on one line and the period's sum.
fn run_days(park: &Park, a: &OptimizeArgs, zone: &Zone, first: LocalDate) -> Result<ExitCode> {
    let (mut before_g, mut after_g, mut before_c, mut after_c) = (0i64, 0i64, 0.0, 0.0);
    let (mut cons_before, mut cons_after, mut moved) = (0i64, 0i64, 0i64);
    let (mut planned, mut refused) = (0u32, 0u32);
    // Planned on a forecast: the forecast's own emissions before and after, beside the
    // realised ones.
    let (mut own_before_g, mut own_after_g) = (0i64, 0i64);
    let mut days = Vec::new();
    if a.format == OutFormat::Text {
        println!(
            "load-shift advice for {}, {} days from {first} ({}), objective {}, planned on {} factors; emissions and cost {}:",
            a.enterprise,
            a.days,
            zone.name(),
            objective(a.objective, a.carbon_price).code(),
            if a.factors == FactorsArg::Forecast { "forecast" } else { "published" },
            if a.factors == FactorsArg::Forecast { "as realised on the published factors" } else { "modelled" }
        );
    }
    for d in 0..a.days {
        let date = first.add_days(i32::try_from(d)?)?;
        match plan_day(park, a, zone, date)? {
            Err(e) => {
                refused += 1;
                eprintln!("no plan for {} on {date}: {e}", a.enterprise);
            }
            Ok(dp) => {
                planned += 1;
                let (b, f) = dp.realised.unwrap_or((dp.plan.before, dp.plan.after));
                let m: i64 = dp.plan.loads.iter().map(|l| l.moved_wh).sum();
                own_before_g += dp.plan.before.emissions_g;
                own_after_g += dp.plan.after.emissions_g;
                before_g += b.emissions_g;
                after_g += f.emissions_g;
                before_c += b.cost;
                after_c += f.cost;
                cons_before += b.consumption_wh;
                cons_after += f.consumption_wh;
                moved += m;
                if a.format == OutFormat::Text {
                    println!(
                        "  {date}: emissions {:.3} t -> {:.3} t, cost {:.0} -> {:.0} {}, {} moved, {} change(s)",
                        b.emissions_g as f64 / 1e6,
                        f.emissions_g as f64 / 1e6,
                        b.cost,
                        f.cost,
                        dp.plan.currency,
                        tanji_optimizer::format_energy(m),
                        dp.plan.changes.len()
                    );
                }
                days.push(serde_json::json!({
                    "day": date.to_string(),
                    "factors": dp.publication,
                    "forecast": dp.forecast_note,
                    "before": b,
                    "after": f,
                    "moved_wh": m,
                    "changes": dp.plan.changes,
                }));
            }
        }
    }
    let pct = |x: f64, y: f64| if x != 0.0 { (y - x) / x * 100.0 } else { 0.0 };
    let forecast = a.factors == FactorsArg::Forecast;
    match a.format {
        OutFormat::Text => {
            println!(
            "total over {planned} planned day(s){}: emissions {:.3} t -> {:.3} t ({:+.2}%), cost {:.0} -> {:.0} ({:+.2}%), {} moved; consumption {} -> {} ({})",
            if refused > 0 { format!(" ({refused} refused)") } else { String::new() },
            before_g as f64 / 1e6,
            after_g as f64 / 1e6,
            pct(before_g as f64, after_g as f64),
            before_c,
            after_c,
            pct(before_c, after_c),
            tanji_optimizer::format_energy(moved),
            tanji_optimizer::format_energy(cons_before),
            tanji_optimizer::format_energy(cons_after),
            if cons_before == cons_after { "unchanged" } else { "CHANGED" }
            );
            if forecast {
                println!(
                    "  forecast's own figure (modelled on the forecast factors the plans were made on, not realised): emissions {:.3} t -> {:.3} t ({:+.2}%)",
                    own_before_g as f64 / 1e6,
                    own_after_g as f64 / 1e6,
                    pct(own_before_g as f64, own_after_g as f64)
                );
            }
        }
        OutFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "enterprise": a.enterprise,
                "zone": zone.name(),
                "days": days,
                "total": {
                    "planned_days": planned,
                    "refused_days": refused,
                    "before_emissions_g": before_g,
                    "after_emissions_g": after_g,
                    "before_cost": before_c,
                    "after_cost": after_c,
                    "before_consumption_wh": cons_before,
                    "after_consumption_wh": cons_after,
                    "moved_wh": moved,
                    "figures": if forecast { "realised on the published factors" } else { "modelled on the published factors" },
                    "forecast": forecast.then(|| serde_json::json!({
                        "label": "as modelled on the forecast factors the plans were made on, not realised",
                        "before_emissions_g": own_before_g,
                        "after_emissions_g": own_after_g,
                    })),
                },
            }))?
        ),
    }
    Ok(if refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn run(a: OptimizeArgs) -> Result<ExitCode> {
    let park = util::open_read(&a.dir)?;
    let zone = Zone::named(&a.zone)?;
    let date = LocalDate::parse(&a.day)?;
    // Days without factors are refused once, before any planning.
    tanji_report::advice::check_factor_coverage(
        park.store(),
        &park.verifier(),
        a.publication.as_deref(),
        &zone,
        date,
        a.days,
    )?;
    if a.days > 1 {
        return run_days(&park, &a, &zone, date);
    }
    let DayPlan {
        plan,
        publication,
        forecast_note,
        realised,
    } = match plan_day(&park, &a, &zone, date)? {
        Ok(p) => p,
        Err(e) => {
            eprintln!("no plan for {} on {date}: {e}", a.enterprise);
            return Ok(ExitCode::from(1));
        }
    };
    match a.format {
        OutFormat::Json => {
            let doc = serde_json::json!({
                "enterprise": a.enterprise,
                "day": date.to_string(),
                "zone": zone.name(),
                "factors": publication,
                "planned_on": if realised.is_some() { "forecast" } else { "published" },
                "forecast": forecast_note,
                // The headline: on the published factors (realised when planned on a
                // forecast; `plan` then holds the forecast's own figures).
                "headline": match &realised {
                    Some((before, after)) => serde_json::json!({"figures": "realised on the published factors", "before": before, "after": after}),
                    None => serde_json::json!({"figures": "modelled on the published factors", "before": plan.before, "after": plan.after}),
                },
                "plan": plan,
                "realised": realised.map(|(before, after)| serde_json::json!({"before": before, "after": after})),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OutFormat::Text => {
            println!(
                "load-shift advice for {} on {date} ({}), objective {}, factors {}{}; {} flexible load(s), energy kept to the Wh",
                a.enterprise,
                zone.name(),
                plan.objective.code(),
                publication,
                if realised.is_some() { " (planned on a forecast)" } else { "" },
                plan.loads.len()
            );
            if let Some(note) = &forecast_note {
                println!("  forecast: {note}");
            }
            println!();
            match realised {
                None => print!("{}", plan.summary()),
                Some((before, after)) => print!("{}", forecast_headline(&plan, &before, &after)),
            }
            if a.intervals {
                print_intervals(&plan);
            }
            println!(
                "  modelled: grid import × the interval's factor and tariff price; solved as a {}",
                plan.solver.describe()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
