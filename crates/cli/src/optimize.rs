//! `tanji optimize`: load-shift advice for one enterprise's local day, from its logged loads
//! and PV and the published grid factors (or a forecast of them), with a time-of-use tariff
//! and a description of what can move.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use tanji_advice::{text, AdvicePlan, Gaps, Planning, Setup};
use tanji_optimizer::spec::FlexSpec;
use tanji_optimizer::{Objective, Tariff};
use tanji_units::time::{LocalDate, Zone};

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
    #[arg(long, default_value = tanji_units::time::DEFAULT_ZONE)]
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

/// How the arguments ask the days to be planned.
fn setup(a: &OptimizeArgs) -> Result<Setup> {
    Ok(Setup {
        tariff: a
            .tariff
            .as_deref()
            .map_or_else(|| Ok(Tariff::illustrative()), |p| read_toml(p, "tariff"))?,
        flex: a.flex.as_deref().map_or_else(
            || Ok(FlexSpec::default_for_site()),
            |p| read_toml(p, "flex"),
        )?,
        objective: match a.objective {
            ObjectiveArg::Emissions => Objective::Emissions,
            ObjectiveArg::Cost => Objective::Cost,
            ObjectiveArg::Blend => Objective::Blend {
                price_per_t: a.carbon_price,
            },
        },
        publication: a.publication.clone(),
        planning: match a.factors {
            FactorsArg::Published => Planning::Published,
            FactorsArg::Forecast => Planning::Forecast,
        },
    })
}

pub fn run(a: OptimizeArgs) -> Result<ExitCode> {
    let park = util::open_read(&a.dir)?;
    let zone = Zone::named(&a.zone)?;
    let date = LocalDate::parse(&a.day)?;
    let (store, verifier) = (park.store(), park.verifier());
    // Days without factors are refused once, before any planning.
    let publication = a.publication.as_deref();
    tanji_advice::check_factor_coverage(store, &verifier, publication, &zone, date, a.days)?;
    let setup = setup(&a)?;
    let (text_days, enterprise) = (a.days > 1 && a.format == OutFormat::Text, &a.enterprise);
    if text_days {
        print!(
            "{}",
            text::days_header(enterprise, (date, a.days), zone.name(), &setup)
        );
    }
    let days = (date, a.days);
    let plan = AdvicePlan::plan_each(
        store,
        &verifier,
        enterprise,
        &zone,
        days,
        &setup,
        Gaps::Fail,
        &mut |d| {
            if let Some(line) = text::refusal(enterprise, d) {
                eprintln!("{line}");
            }
            if let Some(line) = text::day_line(d).filter(|_| text_days) {
                print!("{line}");
            }
        },
    )?;
    if a.days > 1 {
        match a.format {
            OutFormat::Text => print!("{}", text::days_total(&plan)),
            OutFormat::Json => {
                println!("{}", serde_json::to_string_pretty(&text::days_json(&plan))?)
            }
        }
        return Ok(if plan.totals().refused > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let Some((day, Ok(p))) = plan.days.first().map(|d| (d, &d.plan)) else {
        return Ok(ExitCode::from(1));
    };
    match a.format {
        OutFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&text::day_json(&plan, day, p))?
        ),
        OutFormat::Text => print!("{}", text::day(&plan, day, p, a.intervals)),
    }
    Ok(ExitCode::SUCCESS)
}
