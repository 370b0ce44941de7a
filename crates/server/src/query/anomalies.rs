//! `GET /api/v1/enterprises/{enterprise}/anomalies` and `GET /api/v1/park/anomalies`: the
//! alerts of `tanji_anomaly::detect` on each meter's logged values over the last days of data
//! — flat lines, spikes, level shifts, PV at night, missing data — with their evidence. The
//! same detection `tanji report --anomalies` lists as data issues; it flags, it never changes
//! a figure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tanji_park::view::{interval_series, logged_channels, Meter};
use tanji_store::Store;
use tanji_units::time::rfc3339;

use super::QueryError;

/// Days looked at when the query gives none: the last 7 days of data.
pub const DEFAULT_DAYS: i64 = 7;
/// The most days one query looks at.
pub const MAX_DAYS: i64 = 31;

/// How the alerts were found.
pub const METHOD: &str = "tanji_anomaly::detect with its default settings on each meter's logged values (thousandths of the registered unit, one interval of the meter's shortest channel; the rated capacity per interval from the registration; no idle schedule or known breaks), over the last days of data";

/// [`METHOD`] in Chinese.
pub const METHOD_ZH: &str = "对每个计量表已记录的数值运行 tanji_anomaly::detect（默认设置；登记单位的千分之一，取该表最短通道的时段；额定容量取自登记；无停机计划或已知中断），范围为数据的最后若干天";

/// Query of the anomaly routes.
#[derive(Debug, Default, Deserialize)]
pub struct AnomalyQuery {
    /// Days back from the end of the data (1–31, default 7).
    pub days: Option<i64>,
}

impl AnomalyQuery {
    /// The number of days, checked.
    pub fn days(&self) -> Result<i64, QueryError> {
        match self.days {
            None => Ok(DEFAULT_DAYS),
            Some(d) if (1..=MAX_DAYS).contains(&d) => Ok(d),
            Some(d) => Err(QueryError::BadRequest(format!(
                "days={d} is out of range; ask for 1 to {MAX_DAYS} days (default {DEFAULT_DAYS})"
            ))),
        }
    }
}

/// One alert.
#[derive(Debug, Serialize)]
pub struct AlertView {
    /// The meter's enterprise.
    pub enterprise: String,
    /// Meter id.
    pub meter: String,
    /// Carrier code.
    pub carrier: String,
    /// Unit code; evidence values are thousandths of it.
    pub unit: String,
    /// `flat_line`, `spike`, `level_shift`, `pv_at_night`, `idle_consumption`, `missing_data`.
    pub kind: &'static str,
    /// Start of the span, RFC 3339 UTC.
    pub start: String,
    /// End of the span (exclusive).
    pub end: String,
    /// Start, Unix seconds.
    pub start_unix: i64,
    /// End, Unix seconds.
    pub end_unix: i64,
    /// The numbers and the sentence behind it.
    pub evidence: tanji_anomaly::Evidence,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct Anomalies {
    /// `enterprise` or `park`.
    pub scope: &'static str,
    /// The enterprise (enterprise scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<String>,
    /// Start of the period looked at, RFC 3339 UTC.
    pub start: String,
    /// End (exclusive).
    pub end: String,
    /// Days asked for.
    pub days: i64,
    /// Meters looked at.
    pub meters: usize,
    /// Number of alerts.
    pub count: usize,
    /// By kind.
    pub by_kind: BTreeMap<&'static str, usize>,
    /// The alerts, by start, then meter.
    pub alerts: Vec<AlertView>,
    /// How they were found.
    pub method: &'static str,
}

impl Anomalies {
    /// The answer with its method and every alert's sentence in `lang` (the numbers, kinds and
    /// spans unchanged).
    pub fn in_lang(mut self, lang: crate::lang::Lang) -> Anomalies {
        if lang == crate::lang::Lang::En {
            return self;
        }
        self.method = METHOD_ZH;
        for a in &mut self.alerts {
            a.evidence.reason = crate::lang::alert_zh(a.kind, &a.evidence, &a.unit);
        }
        self
    }
}

/// Runs detection on every meter of `meters` (by enterprise) over the last `days` days of
/// their data logged below `size`. `enterprise`: the scope's enterprise, `None` for the park.
pub fn anomalies<S: Store>(
    store: &S,
    size: u64,
    meters: &BTreeMap<String, Vec<Meter>>,
    enterprise: Option<&str>,
    days: i64,
) -> Result<Anomalies, QueryError> {
    let all: Vec<Meter> = meters.values().flatten().cloned().collect();
    let enterprise_of: BTreeMap<&str, &str> = meters
        .iter()
        .flat_map(|(e, ms)| ms.iter().map(move |m| (m.meter.as_str(), e.as_str())))
        .collect();
    let who = enterprise.unwrap_or("the park");
    let logged = logged_channels(store, size, who, &all, None, days)?;
    let (start, end) = (logged.start, logged.end);
    // Each meter's channels.
    let mut by_meter: BTreeMap<&str, Vec<&tanji_readings::Channel>> = BTreeMap::new();
    for (m, c) in &logged.channels {
        by_meter.entry(m.meter.as_str()).or_default().push(c);
    }
    let settings = tanji_anomaly::Settings::default();
    let mut alerts = Vec::new();
    for m in &all {
        let Some(channels) = by_meter.get(m.meter.as_str()) else {
            continue;
        };
        let Some(series) = interval_series(m, channels, start, end) else {
            continue;
        };
        let iv = series.interval_s;
        let rated = (m.rated_per_hour_milli > 0).then(|| {
            i64::try_from(i128::from(m.rated_per_hour_milli) * i128::from(iv) / 3600)
                .unwrap_or(i64::MAX)
        });
        let data = tanji_anomaly::MeterData {
            meter: &m.meter,
            carrier: series.carrier,
            start: series.start,
            interval_s: iv,
            values: &series.values,
            rated_per_interval: rated,
            idle: None,
            breaks: &[],
        };
        let found = tanji_anomaly::detect(&data, &settings)
            .map_err(|e| QueryError::Internal(format!("anomaly detection: {e}")))?;
        let e = enterprise_of.get(m.meter.as_str()).copied().unwrap_or("");
        alerts.extend(found.into_iter().map(|a| AlertView {
            enterprise: e.to_string(),
            carrier: m.carrier.clone(),
            unit: m.unit.clone(),
            kind: a.kind.code(),
            start: rfc3339(a.start),
            end: rfc3339(a.end),
            start_unix: a.start,
            end_unix: a.end,
            meter: a.meter,
            evidence: a.evidence,
        }));
    }
    alerts.sort_by(|a, b| (a.start_unix, &a.meter, a.kind).cmp(&(b.start_unix, &b.meter, b.kind)));
    let mut by_kind = BTreeMap::new();
    for a in &alerts {
        *by_kind.entry(a.kind).or_insert(0) += 1;
    }
    Ok(Anomalies {
        scope: if enterprise.is_some() {
            "enterprise"
        } else {
            "park"
        },
        enterprise: enterprise.map(str::to_string),
        start: rfc3339(start),
        end: rfc3339(end),
        days,
        meters: all.len(),
        count: alerts.len(),
        by_kind,
        alerts,
        method: METHOD,
    })
}
