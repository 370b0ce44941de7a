//! What a plan starts from, read from the log: one enterprise's metered local day and the
//! published factors of its intervals (or a next-day forecast of them), as `tanji_optimizer`
//! needs them.

use tanji_forecast::{forecast, Day, Model};
use tanji_ledger::NoteVerifier;
use tanji_optimizer::spec::SiteDay;
use tanji_report::{interval_factors, site_series, IntervalFactors};
use tanji_store::Store;
use tanji_units::time::rfc3339;
use tanji_units::time::{LocalDate, Zone};

use crate::AdviceError;

/// Interval length of the advice, seconds.
pub const ADVICE_INTERVAL_S: u32 = 900;

pub(crate) fn advice_err(e: impl std::fmt::Display) -> AdviceError {
    AdviceError::Data(format!("load-shift advice: {e}"))
}

/// `what` per interval with every value present, or an error naming the gaps.
fn complete<T: Copy>(
    values: &[Option<T>],
    what: &str,
    zone: &Zone,
    start: i64,
    interval_s: u32,
) -> Result<Vec<T>, AdviceError> {
    let missing: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_none()).collect();
    if let Some(&first) = missing.first() {
        return Err(AdviceError::Data(format!(
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
) -> Result<SiteDay, AdviceError> {
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
) -> Result<(String, Vec<f64>), AdviceError> {
    let f = interval_factors(
        store,
        verifier,
        want,
        None,
        day.start,
        day.interval_s,
        day.load_wh.len(),
    )?;
    let missing = f.values.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        let end = day.start + day.load_wh.len() as i64 * i64::from(day.interval_s);
        return Err(uncovered(&f, (day.start, end), zone, missing));
    }
    let what = format!("the grid factor ({} {})", f.publication, f.region);
    let values = complete(&f.values, &what, zone, day.start, day.interval_s)?;
    Ok((f.publication, values))
}

/// Checks, before any planning, that publication `want` (id, name, or `None` for the latest)
/// has a factor for every interval of the `days` local days from `first`; if not, the one
/// message of `uncovered`.
pub fn check_factor_coverage<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    want: Option<&str>,
    zone: &Zone,
    first: LocalDate,
    days: u32,
) -> Result<(), AdviceError> {
    let last = first
        .add_days(i32::try_from(days.max(1) - 1).map_err(advice_err)?)
        .map_err(advice_err)?;
    let (start, _) = zone.day_bounds(first).map_err(advice_err)?;
    let (_, end) = zone.day_bounds(last).map_err(advice_err)?;
    let interval_s = ADVICE_INTERVAL_S;
    let n = usize::try_from((end - start) / i64::from(interval_s)).unwrap_or(0);
    let f = interval_factors(store, verifier, want, None, start, interval_s, n)?;
    let missing = f.values.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        return Err(uncovered(&f, (start, end), zone, missing));
    }
    Ok(())
}

/// Why days `[start, end)` cannot be planned on publication `f`: which series covers what, and
/// the command that fixes it — one message, not one per interval.
fn uncovered(
    f: &IntervalFactors,
    (start, end): (i64, i64),
    zone: &Zone,
    missing: usize,
) -> AdviceError {
    let date = |t: i64| {
        zone.clock(t)
            .map(|c| c.date.to_string())
            .unwrap_or_default()
    };
    let (first, last) = (date(start), date(end - 1));
    let days_text = if first == last {
        first
    } else {
        format!("{first} to {last}")
    };
    let span = f.span.map_or_else(
        || "has no factors at all".to_string(),
        |(a, b)| format!("covers {} to {}", rfc3339(a), rfc3339(b)),
    );
    AdviceError::Data(format!(
        "factor series {} ({}) {span}, but the local days {} ({}: {} to {}) have no grid factor for \
{missing} of their {} intervals: no plan, since advice needs every interval's factor. Publish a \
factor series covering them (`tanji factors compute --generation GENERATION.csv --out factors.csv \
&& tanji factors publish factors.csv --dir PARK_DIR`, with generation data for those dates) \
and plan with `--publication NAME`, or plan days inside the series' span",
        f.publication,
        f.region,
        days_text,
        zone.name(),
        rfc3339(start),
        rfc3339(end),
        f.values.len(),
    ))
}

/// Local days of training history a factor forecast is fitted on (at most; days the
/// publication does not cover are left out).
pub const FORECAST_TRAINING_DAYS: i32 = 56;

/// A next-day forecast of local day `date`'s 15-minute factors (g/kWh) of publication `want`
/// (`None`: the latest), made only from the publication's previous days
/// ([`FORECAST_TRAINING_DAYS`], the ridge model of `tanji-forecast`), as a plan made the day
/// before would have them. Returns the publication id, the values and what they were fitted on.
pub fn forecast_factors<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    want: Option<&str>,
    zone: &Zone,
    date: LocalDate,
) -> Result<(String, Vec<f64>, String), AdviceError> {
    let interval_s = ADVICE_INTERVAL_S;
    let first = date.add_days(-FORECAST_TRAINING_DAYS).map_err(advice_err)?;
    let (from, _) = zone.day_bounds(first).map_err(advice_err)?;
    let (to, _) = zone.day_bounds(date).map_err(advice_err)?;
    let n = usize::try_from((to - from) / i64::from(interval_s)).unwrap_or(0);
    let f = interval_factors(store, verifier, want, None, from, interval_s, n)?;
    let id = f.publication;
    let mut history = Vec::new();
    for k in 0..FORECAST_TRAINING_DAYS {
        let d = first.add_days(k).map_err(advice_err)?;
        let (start, end) = zone.day_bounds(d).map_err(advice_err)?;
        let a = usize::try_from((start - from) / i64::from(interval_s)).unwrap_or(0);
        let b = usize::try_from((end - from) / i64::from(interval_s)).unwrap_or(0);
        // Days the publication does not cover (before its first hour) are left out.
        if let Some(values) = f.values[a..b].iter().copied().collect::<Option<Vec<f64>>>() {
            history.push(Day {
                weekday: d.weekday(),
                values,
                weather: Vec::new(),
            });
        }
    }
    let next = Day {
        weekday: date.weekday(),
        values: Vec::new(),
        weather: Vec::new(),
    };
    let values = forecast(Model::RIDGE, &history, &next).map_err(|e| {
        AdviceError::Data(format!(
            "forecasting the factors of {date} from publication {id}'s previous days: {e}"
        ))
    })?;
    let note = format!(
        "{} fitted on {} days of {id} before {date}",
        Model::RIDGE.name(),
        history.len()
    );
    Ok((id, values, note))
}
