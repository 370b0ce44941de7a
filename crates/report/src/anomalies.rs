//! Anomaly alerts as data issues: each meter's series, as assembled for the figures, goes
//! through `tanji_anomaly::detect` (default settings, the report's local offset), and every
//! alert becomes an [`IssueDoc`] of kind `anomaly_<kind>` naming the meter, the span, the
//! evidence and the effect — the emissions the meter's logged values in the span account for.
//! Values are counted as logged: an alert is a question for a person, never a correction.

use tanji_accounting::{FactorLookup, Inputs, IntervalSeries, Options};
use tanji_readings::DeviceRegistration;
use tanji_units::time::rfc3339;

use crate::doc::IssueDoc;
use crate::ReportError;

/// Adds an `anomaly_<kind>` issue to `issues` for every alert on `series` (one meter of
/// `enterprise`, registered as `reg`), with the emissions of its logged values in each span
/// computed by `tanji_accounting` as in the figures (`lookup`, `options`, `[start, end)`).
pub(crate) fn add_issues(
    enterprise: &str,
    series: &IntervalSeries,
    reg: Option<&DeviceRegistration>,
    (start, end): (i64, i64),
    lookup: &dyn FactorLookup,
    options: &Options,
    issues: &mut Vec<IssueDoc>,
) -> Result<(), ReportError> {
    let rated_per_interval = reg
        .map(|r| r.rated_per_hour_milli)
        .filter(|&r| r > 0)
        .map(|r| {
            i64::try_from(i128::from(r) * i128::from(series.interval_s) / 3600).unwrap_or(i64::MAX)
        });
    let data = tanji_anomaly::MeterData {
        meter: &series.meter,
        carrier: series.carrier,
        start: series.start,
        interval_s: series.interval_s,
        values: &series.values,
        rated_per_interval,
        idle: None,
        breaks: &[],
    };
    let settings = tanji_anomaly::Settings {
        utc_offset_s: options.utc_offset_s,
        ..tanji_anomaly::Settings::default()
    };
    let alerts = tanji_anomaly::detect(&data, &settings)
        .map_err(|e| ReportError::Request(format!("anomaly detection for {enterprise}: {e}")))?;
    // Alerts wholly outside the period (the series may start before it) are not the
    // report's concern.
    let alerts: Vec<_> = alerts
        .into_iter()
        .filter(|a| a.end > start && a.start < end)
        .collect();
    if alerts.is_empty() {
        return Ok(());
    }
    // The meter's emissions per interval, as the figures count them.
    let inputs = Inputs {
        enterprise: enterprise.to_string(),
        period_start: start,
        period_end: end,
        series: vec![series.clone()],
        certificates: Vec::new(),
        purchases: Vec::new(),
        output: None,
    };
    let (_, per_interval) = tanji_accounting::compute_with_intervals(&inputs, lookup, options)
        .map_err(|source| ReportError::Accounting {
            enterprise: enterprise.to_string(),
            source,
        })?;
    let logged = |t: i64| {
        let i = (t - series.start).div_euclid(i64::from(series.interval_s));
        usize::try_from(i)
            .ok()
            .and_then(|i| series.values.get(i))
            .is_some_and(Option::is_some)
    };
    let unit = series.unit.code();
    for a in alerts {
        let (from, to) = (a.start.max(start), a.end.min(end));
        let effect = if a.kind == tanji_anomaly::AlertKind::MissingData {
            "Effect: no value is logged in this span, so nothing of it is counted as logged; the figures fill the gap as listed in the enterprise's figures.issues.".to_string()
        } else if !counts_emissions(series.carrier) {
            format!(
                "Effect: a {} meter's values carry no emissions of their own in the figures; they are counted as logged, not corrected.",
                series.carrier.code()
            )
        } else {
            let g: f64 = per_interval
                .iter()
                .filter(|e| e.start >= from && e.start < to && logged(e.start))
                .map(|e| e.g)
                .sum();
            let g = g.round();
            format!(
                "Effect: the meter's logged values in this span account for {:.3} t CO2 ({g:.0} g) in the figures; they are counted as logged, not corrected.",
                g / 1e6
            )
        };
        issues.push(IssueDoc {
            kind: format!("anomaly_{}", a.kind.code()),
            subject: format!("meter {}", a.meter),
            message: format!(
                "{} to {}: {} (values in thousandths of {unit}). {effect}",
                rfc3339(from),
                rfc3339(to),
                a.evidence.reason
            ),
        });
    }
    Ok(())
}

/// Whether the figures count emissions for the carrier's values (grid import, fuels, heat and
/// steam; not PV generation or export).
fn counts_emissions(carrier: tanji_units::Carrier) -> bool {
    !matches!(
        carrier,
        tanji_units::Carrier::PvGeneration | tanji_units::Carrier::ElectricityExport
    )
}
