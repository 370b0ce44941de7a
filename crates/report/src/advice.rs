//! Load-shift advice from the log: one enterprise's metered local day and the published
//! factors of its intervals, as `tanji_optimizer` needs them, and the plan of a day with the
//! documented default flexible-load description and tariff. Shared by `tanji optimize` and
//! the server's advice route, so both give the same plan for the same log.

use tanji_ledger::NoteVerifier;
use tanji_optimizer::local::{LocalDate, Zone};
use tanji_optimizer::spec::{FlexSpec, SiteDay};
use tanji_optimizer::{optimize, Objective, Plan, Tariff};
use tanji_store::Store;

use crate::{interval_factors, site_series, ReportError};

/// Interval length of the advice, seconds.
pub const ADVICE_INTERVAL_S: u32 = 900;

fn advice_err(e: impl std::fmt::Display) -> ReportError {
    ReportError::Request(format!("load-shift advice: {e}"))
}

/// `what` per interval with every value present, or an error naming the gaps.
fn complete<T: Copy>(
    values: &[Option<T>],
    what: &str,
    zone: &Zone,
    start: i64,
    interval_s: u32,
) -> Result<Vec<T>, ReportError> {
    let missing: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_none()).collect();
    if let Some(&first) = missing.first() {
        return Err(ReportError::Request(format!(
            "{what} is missing for {} of {} intervals (first at {} local); advice needs the whole day",
            missing.len(),
            values.len(),
            zone.hhmm(start + first as i64 * i64::from(interval_s))
        )));
    }
    Ok(values.iter().flatten().copied().collect())
}

/// One enterprise's metered local day (15-minute intervals) from the log.
pub fn site_day<S: Store>(
    store: &S,
    enterprise: &str,
    zone: &Zone,
    date: LocalDate,
) -> Result<SiteDay, ReportError> {
    let (start, end) = zone.day_bounds(date).map_err(advice_err)?;
    let interval_s = ADVICE_INTERVAL_S;
    let n = usize::try_from((end - start) / i64::from(interval_s))
        .map_err(|_| advice_err(format!("local day {date} has no intervals")))?;
    let s = site_series(store, enterprise, start, interval_s, n)?;
    let what = format!("{enterprise}'s metered electricity on {date}");
    Ok(SiteDay {
        enterprise: enterprise.to_string(),
        start,
        interval_s,
        load_wh: complete(&s.load_wh, &what, zone, start, interval_s)?,
        pv_wh: complete(&s.pv_wh, &what, zone, start, interval_s)?,
        import_limit_wh: s.import_limit_wh,
    })
}

/// The published factors (g/kWh) of each interval of `day` from publication `want` (id, name,
/// or `None` for the latest), and the publication's id.
pub fn published_factors<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    want: Option<&str>,
    day: &SiteDay,
    zone: &Zone,
) -> Result<(String, Vec<f64>), ReportError> {
    let f = interval_factors(
        store,
        verifier,
        want,
        None,
        day.start,
        day.interval_s,
        day.load_wh.len(),
    )?;
    let what = format!("the grid factor ({} {})", f.publication, f.region);
    let values = complete(&f.values, &what, zone, day.start, day.interval_s)?;
    Ok((f.publication, values))
}

/// A planned day: the factor publication used and the plan, or why the optimiser refused it.
#[derive(Debug, Clone)]
pub struct DayAdvice {
    /// The local day.
    pub date: LocalDate,
    /// The factor publication id (`name@vN`).
    pub publication: String,
    /// The plan, or the optimiser's reason for none.
    pub plan: Result<Plan, String>,
}

/// Plans local day `date` of `enterprise` on the latest published factors with the documented
/// default flexible-load description ([`FlexSpec::default_for_site`]) and the illustrative
/// tariff ([`Tariff::illustrative`]) — what `tanji optimize` does without `--flex`/`--tariff`.
/// Missing data or factors are an error; an infeasible plan is a [`DayAdvice`] without one.
pub fn advise_default_day<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    enterprise: &str,
    zone: &Zone,
    date: LocalDate,
    objective: Objective,
) -> Result<DayAdvice, ReportError> {
    let day = site_day(store, enterprise, zone, date)?;
    let (publication, factors) = published_factors(store, verifier, None, &day, zone)?;
    let problem = FlexSpec::default_for_site()
        .problem(&day, factors, &Tariff::illustrative(), objective, zone)
        .map_err(advice_err)?;
    Ok(DayAdvice {
        date,
        publication,
        plan: optimize(&problem).map_err(|e| e.to_string()),
    })
}
