//! How well the next-day forecasts advice can plan on do: each model of `tanji-forecast`,
//! walked forward over held-out days of the synthetic Fujian-like factor year and of the
//! simulated park's site loads and PV (`tanji forecast backtest`). Each held-out day is
//! forecast from the days before it only.

use tanji_factors::Series;
use tanji_forecast::{backtest, spread, Day, ForecastError, Model, Score};
use tanji_simulator::{MeterRole, ParkSpec};
use tanji_units::time::{LocalDate, TimeError, Zone};

/// Why a backtest could not be run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// A local day could not be formed.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A model refused its history.
    #[error(transparent)]
    Forecast(#[from] ForecastError),
    /// The simulated period does not cover a local day it should.
    #[error("simulated day out of range")]
    OutOfRange,
    /// A count does not fit.
    #[error("backtest period too long: {0}")]
    TooLong(String),
}

fn too_long(e: impl std::fmt::Display) -> BacktestError {
    BacktestError::TooLong(e.to_string())
}

/// Simulated local days the load and PV series span.
pub const SIMULATED_DAYS: usize = 150;

/// A backtest's scores as a Markdown table, and per series the ridge model beside the better
/// seasonal-naive one.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// `| series | model | held-out days | MAE | MAPE | WAPE |`, one row per series and model.
    pub table: String,
    /// One sentence per series: does ridge beat seasonal-naive, by how much.
    pub verdicts: Vec<String>,
}

/// Backtests every model on `held` days of the factor year `factors` (the synthetic
/// Fujian-like `year`, one region) and of the loads and PV of `enterprises` simulated sites
/// (`year`, `seed`) over [`SIMULATED_DAYS`] local days from `year`-03-02.
pub fn run(
    factors: &Series,
    year: i32,
    seed: u64,
    enterprises: usize,
    held: usize,
) -> Result<Backtest, BacktestError> {
    let zone = Zone::shanghai();
    let need = Model::ALL.iter().map(Model::min_history).max().unwrap_or(0);
    let factors = factor_days(factors, year, &zone)?;
    let f_scores = backtest(
        &Model::ALL,
        &factors,
        &spread(need.max(56), factors.len(), held),
    )?;
    let (loads, pvs) = park_days(year, seed, enterprises, &zone, SIMULATED_DAYS)?;
    let test = spread(need.max(56), SIMULATED_DAYS, held);
    let scores = |per_site: &PerSite| -> Result<Vec<Score>, BacktestError> {
        Ok(mean_scores(
            &per_site
                .iter()
                .map(|d| backtest(&Model::ALL, d, &test))
                .collect::<Result<Vec<_>, _>>()?,
        ))
    };
    let (l_scores, p_scores) = (scores(&loads)?, scores(&pvs)?);
    let mut table = String::from(
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
        verdicts.extend(verdict(&series, unit, scores));
    }
    Ok(Backtest { table, verdicts })
}

/// Ridge against the better seasonal-naive model of `scores`.
fn verdict(series: &str, unit: &str, scores: &[Score]) -> Option<String> {
    let naive = scores
        .iter()
        .filter(|s| s.model.starts_with("seasonal-naive"))
        .min_by(|a, b| a.mae.total_cmp(&b.mae))?;
    let ridge = scores.iter().find(|s| s.model.starts_with("ridge"))?;
    let (n, r) = (naive, ridge);
    Some(format!(
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
    ))
}

/// Local days `first..first + n` as (date, start) pairs.
fn local_days(
    zone: &Zone,
    first: LocalDate,
    n: usize,
) -> Result<Vec<(LocalDate, i64)>, BacktestError> {
    (0..n)
        .map(|d| {
            let date = first.add_days(i32::try_from(d).map_err(too_long)?)?;
            Ok((date, zone.day_bounds(date)?.0))
        })
        .collect()
}

/// The factor year cut into local days of 24 hourly values (g/kWh).
fn factor_days(series: &Series, year: i32, zone: &Zone) -> Result<Vec<Day>, BacktestError> {
    let region = tanji_simulator::grid::REGION;
    // The series covers the UTC year; local day 1 starts 8 h before it, so begin on day 2.
    let first = LocalDate::parse(&format!("{year}-01-02"))?;
    let mut out = Vec::new();
    for (date, start) in local_days(zone, first, 366)? {
        let values: Option<Vec<f64>> = (0..24)
            .map(|h| {
                series
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
) -> Result<(PerSite, PerSite), BacktestError> {
    // From March: clear of the Spring Festival shutdown, through Labour Day and the summer.
    let first = LocalDate::parse(&format!("{year}-03-02"))?;
    let days = local_days(zone, first, n)?;
    let utc0 = days[0].1.div_euclid(86_400) * 86_400;
    let park = tanji_simulator::Park::generate(ParkSpec {
        seed,
        enterprises,
        start_day: utc0,
        days: u32::try_from(n + 1).map_err(too_long)?,
    });
    let (mut loads, mut pvs) = (Vec::new(), Vec::new());
    for e in 0..park.enterprises.len() {
        let pv_at = park.devices[e]
            .meters
            .iter()
            .position(|m| m.role == MeterRole::PvGeneration);
        let utc: Vec<_> = (0..=n as u32)
            .map(|d| park.day_values(e, d).ok_or(BacktestError::OutOfRange))
            .collect::<Result<_, _>>()?;
        let (mut load, mut pv) = (Vec::new(), Vec::new());
        for (date, start) in &days {
            let (mut l, mut p) = (Vec::with_capacity(96), Vec::with_capacity(96));
            for i in 0..96i64 {
                let t = start + i * 900;
                let day = usize::try_from((t - utc0) / 86_400)
                    .ok()
                    .and_then(|i| utc.get(i))
                    .ok_or(BacktestError::OutOfRange)?;
                let slot = usize::try_from((t - day.start) / 900).map_err(too_long)?;
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
