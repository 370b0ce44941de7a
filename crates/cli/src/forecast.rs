//! `tanji forecast backtest`: how well each next-day model forecasts the synthetic
//! Fujian-like factor year and the simulated park's loads and PV, on held-out days; and the
//! factor forecast `tanji optimize --factors forecast` plans on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Subcommand;
use tanji_forecast::{backtest, spread, Day, Model, Score};
use tanji_park::Park;
use tanji_simulator::{MeterRole, ParkSpec};
use tanji_units::time::{LocalDate, Zone};

#[derive(Debug, Subcommand)]
pub enum ForecastCommand {
    /// Walk-forward backtest: each held-out day is forecast from the days before it only, by
    /// every model; prints MAE, MAPE and WAPE per model for the grid factor (the synthetic
    /// Fujian-like year), site loads and PV (the simulated park).
    Backtest {
        /// Held-out days per series, spread evenly over the year / simulated period.
        #[arg(long, default_value_t = 60)]
        days: usize,
        /// Year of the synthetic factor year and the simulated park.
        #[arg(long, default_value_t = tanji_simulator::grid::DEFAULT_YEAR)]
        year: i32,
        /// Seed of both (the demo's default).
        #[arg(long, default_value_t = tanji_simulator::grid::DEFAULT_SEED)]
        seed: u64,
        /// Simulated enterprises whose loads and PV are forecast.
        #[arg(long, default_value_t = 20)]
        enterprises: usize,
        /// Write the table into this Markdown file (between the forecast markers).
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

pub fn run(cmd: ForecastCommand) -> Result<ExitCode> {
    match cmd {
        ForecastCommand::Backtest {
            days,
            year,
            seed,
            enterprises,
            write,
        } => backtest_cmd(
            days.max(1),
            year,
            seed,
            enterprises.max(1),
            write.as_deref(),
        ),
    }
}

/// Local days `first..first + n` as (date, start) pairs.
fn local_days(zone: &Zone, first: LocalDate, n: usize) -> Result<Vec<(LocalDate, i64)>> {
    (0..n)
        .map(|d| {
            let date = first.add_days(i32::try_from(d)?)?;
            Ok((date, zone.day_bounds(date)?.0))
        })
        .collect()
}

/// The factor year cut into local days of 24 hourly values (g/kWh).
fn factor_days(year: i32, seed: u64, zone: &Zone) -> Result<Vec<Day>> {
    let grid = crate::factors::fujian_like(year, seed)?;
    let region = tanji_simulator::grid::REGION;
    // The series covers the UTC year; local day 1 starts 8 h before it, so begin on day 2.
    let first = LocalDate::parse(&format!("{year}-01-02"))?;
    let mut out = Vec::new();
    for (date, start) in local_days(zone, first, 366)? {
        let values: Option<Vec<f64>> = (0..24)
            .map(|h| {
                grid.series
                    .factor_at(region, start + h * 3600)
                    .and_then(|r| r.consumption_direct)
            })
            .collect();
        match values {
            Some(values) => out.push(Day {
                weekday: date.weekday(),
                values,
                weather: Vec::new(),
            }),
            None => break,
        }
    }
    Ok(out)
}

/// Local days of one series per site.
type PerSite = Vec<Vec<Day>>;

/// Each simulated enterprise's local days of site load and (if it has PV) PV, kWh per
/// quarter-hour.
fn park_days(
    year: i32,
    seed: u64,
    enterprises: usize,
    zone: &Zone,
    n: usize,
) -> Result<(PerSite, PerSite)> {
    // From March: clear of the Spring Festival shutdown, through Labour Day and the summer.
    let first = LocalDate::parse(&format!("{year}-03-02"))?;
    let days = local_days(zone, first, n)?;
    let utc0 = days[0].1.div_euclid(tanji_units::time::DAY_S) * tanji_units::time::DAY_S;
    let park = tanji_simulator::Park::generate(ParkSpec {
        seed,
        enterprises,
        start_day: utc0,
        days: u32::try_from(n + 1)?,
    });
    let (mut loads, mut pvs) = (Vec::new(), Vec::new());
    for e in 0..park.enterprises.len() {
        let pv_at = park.devices[e]
            .meters
            .iter()
            .position(|m| m.role == MeterRole::PvGeneration);
        let utc: Vec<_> = (0..=n as u32)
            .map(|d| park.day_values(e, d).context("simulated day out of range"))
            .collect::<Result<_>>()?;
        let (mut load, mut pv) = (Vec::new(), Vec::new());
        for (date, start) in &days {
            let (mut l, mut p) = (Vec::with_capacity(96), Vec::with_capacity(96));
            for i in 0..96i64 {
                let t = start + i * 900;
                let day = &utc[usize::try_from((t - utc0) / tanji_units::time::DAY_S)?];
                let slot = usize::try_from((t - day.start) / 900)?;
                l.push(day.site_load[slot] as f64 / 1000.0);
                if let Some(k) = pv_at {
                    p.push(day.meters[k][slot] as f64 / 1000.0);
                }
            }
            load.push(Day {
                weekday: date.weekday(),
                values: l,
                weather: Vec::new(),
            });
            if pv_at.is_some() {
                pv.push(Day {
                    weekday: date.weekday(),
                    values: p,
                    weather: Vec::new(),
                });
            }
        }
        loads.push(load);
        if pv_at.is_some() {
            pvs.push(pv);
        }
    }
    Ok((loads, pvs))
}

/// Scores averaged over several series (each scored on the same held-out days).
fn mean_scores(per_series: &[Vec<Score>]) -> Vec<Score> {
    let k = per_series.len().max(1) as f64;
    let Some(first) = per_series.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|m| Score {
            model: first[m].model.clone(),
            days: per_series.iter().map(|s| s[m].days).sum(),
            mae: per_series.iter().map(|s| s[m].mae).sum::<f64>() / k,
            mape: per_series.iter().map(|s| s[m].mape).sum::<f64>() / k,
            wape: per_series.iter().map(|s| s[m].wape).sum::<f64>() / k,
        })
        .collect()
}

fn backtest_cmd(
    held: usize,
    year: i32,
    seed: u64,
    enterprises: usize,
    write: Option<&Path>,
) -> Result<ExitCode> {
    if let Some(path) = write {
        crate::record::check_write(path)?;
    }
    let t0 = Instant::now();
    let zone = Zone::shanghai();
    let need = Model::ALL.iter().map(Model::min_history).max().unwrap_or(0);
    let factors = factor_days(year, seed, &zone)?;
    let f_scores = backtest(
        &Model::ALL,
        &factors,
        &spread(need.max(56), factors.len(), held),
    )?;
    let n_sim = 150;
    let (loads, pvs) = park_days(year, seed, enterprises, &zone, n_sim)?;
    let test = spread(need.max(56), n_sim, held);
    let l_scores = mean_scores(
        &loads
            .iter()
            .map(|d| backtest(&Model::ALL, d, &test))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let p_scores = mean_scores(
        &pvs.iter()
            .map(|d| backtest(&Model::ALL, d, &test))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let mut table = String::new();
    table.push_str(
        "| series | model | held-out days | MAE | MAPE | WAPE |\n|---|---|---:|---:|---:|---:|\n",
    );
    let mut verdicts = Vec::new();
    for (series, unit, scores) in [
        (
            format!("grid factor, synthetic Fujian-like {year} (hourly)"),
            "g/kWh",
            &f_scores,
        ),
        (
            format!("site load, {} simulated enterprises (15 min)", loads.len()),
            "kWh",
            &l_scores,
        ),
        (
            format!("rooftop PV, {} simulated sites (15 min)", pvs.len()),
            "kWh",
            &p_scores,
        ),
    ] {
        for s in scores.iter() {
            table.push_str(&format!(
                "| {series} | {} | {} | {:.2} {unit} | {:.1}% | {:.1}% |\n",
                s.model, s.days, s.mae, s.mape, s.wape
            ));
        }
        let naive = scores
            .iter()
            .filter(|s| s.model.starts_with("seasonal-naive"))
            .min_by(|a, b| a.mae.total_cmp(&b.mae));
        let ridge = scores.iter().find(|s| s.model.starts_with("ridge"));
        if let (Some(n), Some(r)) = (naive, ridge) {
            verdicts.push(format!(
                "{series}: ridge MAE {:.2} vs the better seasonal-naive ({}) {:.2} {unit}: {}",
                r.mae,
                n.model,
                n.mae,
                if r.mae < n.mae {
                    format!("ridge {:.0}% lower", (1.0 - r.mae / n.mae) * 100.0)
                } else {
                    format!(
                        "ridge {:.0}% HIGHER — it does not win here",
                        (r.mae / n.mae - 1.0) * 100.0
                    )
                }
            ));
        }
    }
    let note = format!(
        "Walk-forward: each held-out day is forecast from the days before it only. MAPE counts slots whose actual value is at least 10% of the series' mean (PV nights excluded); WAPE = Σ|error| / Σ|actual|. Load and PV: local days from {year}-03-02 ({n_sim} days, seed {seed}), scores averaged over sites. {:.1} s.\n\n{}\n",
        t0.elapsed().as_secs_f64(),
        verdicts.iter().map(|v| format!("- {v}")).collect::<Vec<_>>().join("\n")
    );
    print!("{table}\n{note}");
    if let Some(path) = write {
        let body = format!(
            "Measured {} with `tanji forecast backtest --days {held}`:\n\n{table}\n{note}",
            tanji_units::time::rfc3339(crate::util::now()),
        );
        crate::record::record(path, "forecast", &body)?;
        println!("recorded in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The ridge forecast of the published factors (g/kWh per quarter-hour) of local day `date`,
/// fitted on the days before it, and a note saying so
/// ([`tanji_report::advice::forecast_factors`], as the server's advice route makes it).
pub fn factor_forecast(
    park: &Park,
    publication: Option<&str>,
    zone: &Zone,
    date: LocalDate,
) -> Result<(Vec<f64>, String)> {
    let (_, values, note) = tanji_report::advice::forecast_factors(
        park.store(),
        &park.verifier(),
        publication,
        zone,
        date,
    )?;
    Ok((values, note))
}
