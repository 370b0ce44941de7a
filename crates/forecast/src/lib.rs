//! tanji-forecast: next-day forecasts of a quantity measured in equal slots of a local day —
//! the grid's emission factor, a site's load, its PV — from the days before it, and a
//! walk-forward backtest that says how good each model is.
//!
//! Models ([`Model`]): two seasonal-naive baselines (the same slot yesterday; the same slot a
//! week ago), the mean of the same slot over the last seven days, and [`Model::Ridge`]: for
//! each slot, a ridge regression of the value on yesterday's and last week's value at that
//! slot, the last seven days' mean at that slot, yesterday's daily mean, the day type
//! (Saturday, Sunday, Monday) and, when every day carries them, weather features; fitted on
//! the preceding weeks only. [`backtest`] forecasts each held-out day from the days before it
//! (never after) and reports MAE, MAPE and WAPE.
//!
//! What it is not: it reads no data and knows no time zone — the caller cuts a series into
//! local days and says which weekday each is (`tanji_units::time` does that in the CLI);
//! it does not know holidays, so a holiday looks like an odd weekday to every model.

mod ridge;

use serde::{Deserialize, Serialize};

/// One local day of a quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// Monday = 0 … Sunday = 6.
    pub weekday: u8,
    /// One value per slot (24 hours or 96 quarter-hours).
    pub values: Vec<f64>,
    /// Weather features known for the day (forecast or observed: temperature, irradiance…),
    /// the same number each day; empty if none.
    #[serde(default)]
    pub weather: Vec<f64>,
}

/// A forecasting model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Model {
    /// Tomorrow's slot = today's slot.
    NaiveDay,
    /// Tomorrow's slot = the same slot a week earlier.
    NaiveWeek,
    /// Tomorrow's slot = the mean of that slot over the last seven days.
    MeanWeek,
    /// Per-slot ridge regression on recent values and calendar (see the crate doc).
    Ridge {
        /// Days of history to fit on.
        train_days: usize,
        /// Ridge penalty on standardised features.
        lambda: f64,
    },
}

impl Model {
    /// The ridge model with its default settings (8 weeks of history, λ = 1).
    pub const RIDGE: Model = Model::Ridge {
        train_days: 56,
        lambda: 1.0,
    };

    /// Every model, baselines first.
    pub const ALL: [Model; 4] = [
        Model::NaiveDay,
        Model::NaiveWeek,
        Model::MeanWeek,
        Model::RIDGE,
    ];

    /// A short name.
    pub fn name(&self) -> &'static str {
        match self {
            Model::NaiveDay => "seasonal-naive (yesterday)",
            Model::NaiveWeek => "seasonal-naive (last week)",
            Model::MeanWeek => "7-day slot mean",
            Model::Ridge { .. } => "ridge (calendar + recent values)",
        }
    }

    /// Days of history it needs before it can forecast.
    pub fn min_history(&self) -> usize {
        match self {
            Model::NaiveDay => 1,
            Model::NaiveWeek | Model::MeanWeek => 7,
            Model::Ridge { .. } => ridge::MIN_LAG + ridge::MIN_ROWS,
        }
    }
}

/// Why no forecast could be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForecastError {
    /// Too little history.
    #[error("{model} needs at least {need} days of history, got {got}")]
    TooShort {
        /// The model.
        model: &'static str,
        /// Days needed.
        need: usize,
        /// Days given.
        got: usize,
    },
    /// Days of different lengths, or non-finite values.
    #[error("day {day} of the history: {what}")]
    BadDay {
        /// Index in the history.
        day: usize,
        /// What is wrong.
        what: String,
    },
}

fn check(history: &[Day]) -> Result<usize, ForecastError> {
    let slots = history.first().map_or(0, |d| d.values.len());
    for (i, d) in history.iter().enumerate() {
        if d.values.len() != slots {
            return Err(ForecastError::BadDay {
                day: i,
                what: format!("{} slots where the first day has {slots}", d.values.len()),
            });
        }
        if d.values.iter().any(|v| !v.is_finite()) || d.weather.iter().any(|v| !v.is_finite()) {
            return Err(ForecastError::BadDay {
                day: i,
                what: "a value is not a finite number".into(),
            });
        }
    }
    Ok(slots)
}

/// The forecast of the day after `history` (oldest first), whose weekday and weather are
/// `next.weekday` and `next.weather` (`next.values` is ignored).
pub fn forecast(model: Model, history: &[Day], next: &Day) -> Result<Vec<f64>, ForecastError> {
    let slots = check(history)?;
    let need = model.min_history();
    if history.len() < need {
        return Err(ForecastError::TooShort {
            model: model.name(),
            need,
            got: history.len(),
        });
    }
    let h = history.len();
    Ok(match model {
        Model::NaiveDay => history[h - 1].values.clone(),
        Model::NaiveWeek => history[h - 7].values.clone(),
        Model::MeanWeek => (0..slots)
            .map(|s| history[h - 7..].iter().map(|d| d.values[s]).sum::<f64>() / 7.0)
            .collect(),
        Model::Ridge { train_days, lambda } => ridge::forecast(history, next, train_days, lambda),
    })
}

/// Errors of one model over the held-out days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// The model.
    pub model: String,
    /// Held-out days forecast.
    pub days: usize,
    /// Mean absolute error, in the series' unit.
    pub mae: f64,
    /// Mean absolute percentage error over slots whose actual value is at least 10% of the
    /// series' mean (so PV's night zeros and dawn slivers do not divide by ~0), %.
    pub mape: f64,
    /// Weighted absolute percentage error: Σ|error| / Σ|actual|, %.
    pub wape: f64,
}

/// Forecasts each day of `held_out` (indices into `days`) from the days before it, with each
/// model, and scores them; models that lack history for a day skip it (all models are scored
/// on the same days: those every model can forecast).
pub fn backtest(
    models: &[Model],
    days: &[Day],
    held_out: &[usize],
) -> Result<Vec<Score>, ForecastError> {
    check(days)?;
    let need = models.iter().map(Model::min_history).max().unwrap_or(0);
    let test: Vec<usize> = held_out
        .iter()
        .copied()
        .filter(|&d| d >= need && d < days.len())
        .collect();
    let all: Vec<f64> = days.iter().flat_map(|d| d.values.iter().copied()).collect();
    let mean_abs = all.iter().map(|v| v.abs()).sum::<f64>() / all.len().max(1) as f64;
    let floor = 0.1 * mean_abs;
    models
        .iter()
        .map(|&m| {
            let (mut abs, mut n, mut pct, mut np, mut act) = (0.0, 0usize, 0.0, 0usize, 0.0);
            for &d in &test {
                let f = forecast(m, &days[..d], &days[d])?;
                for (p, y) in f.iter().zip(&days[d].values) {
                    let e = (p - y).abs();
                    abs += e;
                    act += y.abs();
                    n += 1;
                    if y.abs() >= floor && y.abs() > 0.0 {
                        pct += e / y.abs();
                        np += 1;
                    }
                }
            }
            Ok(Score {
                model: m.name().to_string(),
                days: test.len(),
                mae: abs / n.max(1) as f64,
                mape: 100.0 * pct / np.max(1) as f64,
                wape: if act > 0.0 { 100.0 * abs / act } else { 0.0 },
            })
        })
        .collect()
}

/// `k` held-out day indices spread evenly over `[from, to)`.
pub fn spread(from: usize, to: usize, k: usize) -> Vec<usize> {
    if to <= from || k == 0 {
        return Vec::new();
    }
    let span = to - from;
    let k = k.min(span);
    (0..k).map(|i| from + i * span / k).collect()
}
