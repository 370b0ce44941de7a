//! tanji-advice: load-shift advice from the park log. An enterprise's metered local days
//! ([`site_day`]) and the published grid factors of their quarter-hours ([`published_factors`],
//! or their next-day ridge forecast, [`forecast_factors`]) are planned by `tanji_optimizer`
//! ([`advise_day`]), one day or several in a row ([`AdvicePlan`], with its [`Totals`]);
//! [`text`] writes a plan as `tanji optimize` prints it; [`backtest`] scores the forecasts
//! on the synthetic factor year and the simulated park. `tanji optimize` and the server's
//! advice route both plan through here, so the same log gives the same plan and the same
//! totals in both.
//!
//! What it is not: a report. Its figures are modelled (grid import × factor and tariff price
//! of a plan that did not happen), so they never enter `tanji-report`'s measured, auditable
//! figures; it reads the log through `tanji-report`'s series and writes nothing.

pub mod backtest;
mod day;
mod plan;
pub mod text;

pub use day::{
    check_factor_coverage, forecast_factors, published_factors, site_day, ADVICE_INTERVAL_S,
    FORECAST_TRAINING_DAYS,
};
pub use plan::{advise_day, moved_wh, AdvicePlan, DayAdvice, Gaps, Planning, Setup, Sum, Totals};

use tanji_optimizer::spec::SpecError;
use tanji_optimizer::Infeasible;
use tanji_report::ReportError;

/// Why no advice could be given.
#[derive(Debug, thiserror::Error)]
pub enum AdviceError {
    /// Reading the log failed, or the request does not fit it (no such enterprise, no such
    /// publication).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The day's data or factors do not cover it, or a forecast of them failed: what is
    /// missing, where.
    #[error("{0}")]
    Data(String),
    /// The flexible-load description does not fit the day.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A plan made on a forecast could not be scored on the published factors.
    #[error(transparent)]
    Rescore(Infeasible),
}

impl AdviceError {
    /// Why the day is refused, when the error concerns the day rather than the log (a day of
    /// several that cannot be planned is then refused with this reason, the others planned);
    /// `None` when the log itself failed.
    pub fn refusal(&self) -> Option<String> {
        match self {
            AdviceError::Report(ReportError::Request(m)) | AdviceError::Data(m) => Some(m.clone()),
            AdviceError::Spec(e) => Some(format!("load-shift advice: {e}")),
            AdviceError::Rescore(e) => Some(format!("load-shift advice: {e}")),
            AdviceError::Report(_) => None,
        }
    }
}
