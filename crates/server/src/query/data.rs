//! What the dashboard reads out of a park store besides the accounting figures: factor
//! publications and their hourly series, the registered enterprises and meters, measured
//! loads per interval and the ledger's status. Synchronous (the handlers run it on the
//! blocking pool); the figures themselves come from `tanji_report::build`, never from here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tanji_ledger::{open_checkpoint, Note, NoteVerifier};
use tanji_park::{open_publication, PublicationError, PublicationKind};
use tanji_readings::{Channel, DeviceRegistration, LogEntry, KIND_PUBLICATION, KIND_REGISTRATION};
use tanji_store::Store;
use tanji_units::time::{self, rfc3339};
use tanji_units::Unit;

use super::QueryError;

/// A factor publication read from the log: its manifest checked against the log key and its
/// stored content against the manifest's hash, and the series parsed.
#[derive(Debug)]
pub struct Publication {
    /// `name@vN`.
    pub id: String,
    /// Its log entry.
    pub index: u64,
    /// The method named in the manifest.
    pub method: String,
    /// Regions, from the manifest.
    pub regions: Vec<String>,
    /// `calibration` lines of the manifest, verbatim.
    pub calibrations: Vec<String>,
    /// SHA-256 of the series CSV, hex.
    pub content_sha256: String,
    /// The series.
    pub series: tanji_factors::Series,
}

/// The log indices of publications (of every kind) below `size`.
pub fn publication_indices<S: Store>(store: &S, size: u64) -> Result<Vec<u64>, QueryError> {
    Ok(store
        .entries_of_kind(KIND_PUBLICATION)?
        .into_iter()
        .filter(|&i| i < size)
        .collect())
}

/// Reads and checks the publication logged at `index` (through
/// [`tanji_park::open_publication`], the one reader of manifests): the factor publication with
/// its series, or `None` for a publication of another kind (enterprise inputs).
pub fn load_publication<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    index: u64,
) -> Result<Option<Publication>, QueryError> {
    let bad = |problem: String| QueryError::Publication { index, problem };
    let data = store.entry(index)?;
    let Ok(LogEntry::Publication(note)) = LogEntry::from_bytes(&data) else {
        return Err(bad("does not decode as a publication".into()));
    };
    let (p, bytes) = open_publication(store, index, &note, verifier).map_err(|e| match e {
        PublicationError::Store(e) => QueryError::Store(e),
        e => bad(e.to_string()),
    })?;
    if p.kind != PublicationKind::Factors {
        return Ok(None);
    }
    let id = p.id;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| bad(format!("{id}: the series is not UTF-8: {e}")))?;
    let series = tanji_factors::Series::parse_csv(text)
        .map_err(|e| bad(format!("{id}: the series CSV: {e}")))?;
    let regions = if p.regions.is_empty() {
        series.regions()
    } else {
        p.regions
    };
    Ok(Some(Publication {
        id,
        index,
        method: p.method,
        regions,
        calibrations: p.calibrations,
        content_sha256: hex::encode(p.content_hash),
        series,
    }))
}

/// A publication as the API lists it.
#[derive(Debug, Serialize)]
pub struct PublicationInfo {
    /// `name@vN`.
    pub id: String,
    /// Its log entry.
    pub index: u64,
    /// Method.
    pub method: String,
    /// Regions.
    pub regions: Vec<String>,
    /// First interval start, RFC 3339.
    pub start: Option<String>,
    /// Last interval end, RFC 3339.
    pub end: Option<String>,
    /// Hourly rows per region (the most any region has).
    pub intervals: usize,
    /// SHA-256 of the series CSV, hex.
    pub content_sha256: String,
    /// The manifest's calibration lines.
    pub calibrations: Vec<String>,
    /// Whether a region name says the series is synthetic (not a measurement).
    pub synthetic: bool,
}

impl From<&Publication> for PublicationInfo {
    fn from(p: &Publication) -> Self {
        let rows = &p.series.rows;
        PublicationInfo {
            id: p.id.clone(),
            index: p.index,
            method: p.method.clone(),
            regions: p.regions.clone(),
            start: rows.iter().map(|r| r.start).min().map(rfc3339),
            end: rows.iter().map(|r| r.end).max().map(rfc3339),
            intervals: p
                .regions
                .iter()
                .map(|g| rows.iter().filter(|r| &r.region == g).count())
                .max()
                .unwrap_or(0),
            content_sha256: p.content_sha256.clone(),
            calibrations: p.calibrations.clone(),
            synthetic: p
                .regions
                .iter()
                .any(|r| r.to_ascii_lowercase().contains("synthetic")),
        }
    }
}

/// One hour of a day's factor curve.
#[derive(Debug, Serialize)]
pub struct HourFactor {
    /// Local hour of day, 0–23.
    pub hour: u8,
    /// Start of the hour, RFC 3339 UTC.
    pub start: String,
    /// Consumption-based direct factor, g CO2/kWh (`None` where the series has none).
    pub g_per_kwh: Option<f64>,
}

/// The mean a day's curve is drawn against.
#[derive(Debug, Serialize)]
pub struct AnnualMean {
    /// g CO2/kWh.
    pub g_per_kwh: f64,
    /// How it is computed.
    pub method: &'static str,
    /// Hours in the mean.
    pub intervals: usize,
}

/// One local day of a publication's hourly factors against its annual mean.
#[derive(Debug, Serialize)]
pub struct FactorCurve {
    /// Publication id.
    pub publication: String,
    /// Region.
    pub region: String,
    /// Whether the series is synthetic.
    pub synthetic: bool,
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// Whether `day` is today (server clock, local time); when today is outside the
    /// publication's period the nearest covered day is shown instead.
    pub is_today: bool,
    /// Local time offset, seconds.
    pub utc_offset_s: i32,
    /// The 24 local hours.
    pub hours: Vec<HourFactor>,
    /// Mean of the day's hours (unweighted), g/kWh.
    pub day_mean_g_per_kwh: Option<f64>,
    /// The publication's annual mean.
    pub annual_mean: Option<AnnualMean>,
    /// The manifest's calibration lines (the official annual figure the series was scaled to).
    pub calibrations: Vec<String>,
}

/// Method of [`AnnualMean`].
pub const ANNUAL_MEAN_METHOD: &str = "consumption-weighted mean of the publication's hourly consumption-based direct factors over its whole period (weights: the region's consumption_mwh)";

/// [`ANNUAL_MEAN_METHOD`] in Chinese.
pub const ANNUAL_MEAN_METHOD_ZH: &str =
    "该发布整个期间逐时的基于消费的直接排放因子的用电量加权平均（权重：该区域的 consumption_mwh）";

/// How the annual mean is computed, in `lang`.
pub fn annual_mean_method(lang: crate::lang::Lang) -> &'static str {
    match lang {
        crate::lang::Lang::En => ANNUAL_MEAN_METHOD,
        crate::lang::Lang::Zh => ANNUAL_MEAN_METHOD_ZH,
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The day `day` (local day number: days since 1970-01-01 in local time; `None`: today, or the
/// covered day nearest to it) of publication `p` for `region` (`None`: its first region).
pub fn factor_curve(
    p: &Publication,
    region: Option<&str>,
    day: Option<i64>,
    now: i64,
    utc_offset_s: i32,
) -> Result<FactorCurve, QueryError> {
    let region =
        match region {
            Some(r) if p.regions.iter().any(|x| x == r) => r.to_string(),
            Some(r) => {
                return Err(QueryError::NotFound(format!(
                    "region {r:?} is not in publication {}; it has {}",
                    p.id,
                    p.regions.join(", ")
                )))
            }
            None => p.regions.first().cloned().ok_or_else(|| {
                QueryError::NotFound(format!("publication {} has no region", p.id))
            })?,
        };
    let local_day = |t: i64| time::local_day(t, utc_offset_s);
    let rows: Vec<_> = p
        .series
        .rows
        .iter()
        .filter(|r| r.region == region)
        .collect();
    let today = local_day(now);
    let day = match day {
        Some(d) => d,
        // Today, else the nearest local day the series covers whole (else partly).
        None => match (rows.first(), rows.last()) {
            (Some(a), Some(b)) => {
                let first_whole = local_day(a.start + time::DAY_S - 1);
                let last_whole = local_day(b.end) - 1;
                if first_whole <= last_whole {
                    today.clamp(first_whole, last_whole)
                } else {
                    today.clamp(local_day(a.start), local_day(b.end - 1))
                }
            }
            _ => today,
        },
    };
    let day_start = time::local_day_start(day, utc_offset_s);
    let hours: Vec<HourFactor> = (0..24u8)
        .map(|h| {
            let t = day_start + i64::from(h) * 3600;
            HourFactor {
                hour: h,
                start: rfc3339(t),
                g_per_kwh: p
                    .series
                    .factor_at(&region, t)
                    .and_then(|r| r.consumption_direct),
            }
        })
        .collect();
    let present: Vec<f64> = hours.iter().filter_map(|h| h.g_per_kwh).collect();
    let day_mean =
        (!present.is_empty()).then(|| round4(present.iter().sum::<f64>() / present.len() as f64));
    let (mut num, mut den, mut n) = (0.0, 0.0, 0usize);
    for r in &rows {
        if let Some(x) = r.consumption_direct {
            num += x * r.consumption_mwh;
            den += r.consumption_mwh;
            n += 1;
        }
    }
    let annual_mean = (den > 0.0).then(|| AnnualMean {
        g_per_kwh: round4(num / den),
        method: ANNUAL_MEAN_METHOD,
        intervals: n,
    });
    let date = time::civil_from_days(day).to_string();
    Ok(FactorCurve {
        publication: p.id.clone(),
        synthetic: region.to_ascii_lowercase().contains("synthetic"),
        region,
        day: date,
        is_today: day == today,
        utc_offset_s,
        hours,
        day_mean_g_per_kwh: day_mean,
        annual_mean,
        calibrations: p.calibrations.clone(),
    })
}

/// A registered meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeterInfo {
    /// Meter id.
    pub meter: String,
    /// Its device.
    pub device: String,
    /// Carrier code.
    pub carrier: String,
    /// Unit code.
    pub unit: String,
    /// The registration's log entry.
    pub registration: u64,
    /// Registered rated capacity per hour, thousandths of the unit (0: not given).
    #[serde(skip)]
    pub rated_per_hour_milli: i64,
}

/// Registered meters by enterprise.
pub type Enterprises = BTreeMap<String, Vec<MeterInfo>>;

/// The meters of `enterprise` in `all`, or not found. The message names only the enterprise
/// asked for: the caller may be a token of an enterprise that is not registered, which may
/// not learn which ones are (`GET /api/v1/enterprises` lists those a caller may read).
pub fn meters_of<'a>(
    all: &'a Enterprises,
    enterprise: &str,
) -> Result<&'a [MeterInfo], QueryError> {
    all.get(enterprise).map(Vec::as_slice).ok_or_else(|| {
        QueryError::NotFound(format!(
            "no enterprise {enterprise:?} is registered in this log; GET /api/v1/enterprises lists the enterprises this token may read"
        ))
    })
}

/// Every meter's registration in force (the latest logged below `size`), by enterprise.
pub fn enterprises<S: Store>(store: &S, size: u64) -> Result<Enterprises, QueryError> {
    let indices: Vec<u64> = store
        .entries_of_kind(KIND_REGISTRATION)?
        .into_iter()
        .filter(|&i| i < size)
        .collect();
    enterprises_at(store, &indices)
}

/// [`enterprises`] from the registration entries at `indices` (in log order).
fn enterprises_at<S: Store>(store: &S, indices: &[u64]) -> Result<Enterprises, QueryError> {
    let mut latest: BTreeMap<String, (u64, DeviceRegistration)> = BTreeMap::new();
    for &index in indices {
        if let Ok(LogEntry::Registration(r)) = LogEntry::from_logged_bytes(&store.entry(index)?) {
            latest.insert(r.meter.clone(), (index, r));
        }
    }
    let mut out: Enterprises = BTreeMap::new();
    for (meter, (index, r)) in latest {
        out.entry(r.enterprise.clone())
            .or_default()
            .push(MeterInfo {
                meter,
                device: r.device,
                carrier: r.carrier,
                unit: r.unit,
                registration: index,
                rated_per_hour_milli: r.rated_per_hour_milli,
            });
    }
    Ok(out)
}

/// [`enterprises`], read once per set of registrations: the status and the dashboard ask for
/// it at every refresh, a park may register tens of thousands of meters, and registrations
/// change rarely. Each call lists the registration entries below the size (an index walk) and
/// reuses the last answer if they are the same.
#[derive(Debug, Default)]
pub struct MeterDirectory {
    last: std::sync::Mutex<Option<(Vec<u64>, std::sync::Arc<Enterprises>)>>,
}

impl MeterDirectory {
    /// Every meter's registration in force below `size`, by enterprise.
    pub fn get<S: Store>(
        &self,
        store: &S,
        size: u64,
    ) -> Result<std::sync::Arc<Enterprises>, QueryError> {
        let indices: Vec<u64> = store
            .entries_of_kind(KIND_REGISTRATION)?
            .into_iter()
            .filter(|&i| i < size)
            .collect();
        if let Ok(last) = self.last.lock() {
            if let Some((seen, all)) = last.as_ref() {
                if *seen == indices {
                    return Ok(std::sync::Arc::clone(all));
                }
            }
        }
        let all = std::sync::Arc::new(enterprises_at(store, &indices)?);
        if let Ok(mut last) = self.last.lock() {
            *last = Some((indices, std::sync::Arc::clone(&all)));
        }
        Ok(all)
    }
}

/// One carrier's measured series.
#[derive(Debug, Serialize)]
pub struct LoadSeries {
    /// Carrier code.
    pub carrier: String,
    /// The meters' unit; values are thousandths of it (Wh for a kWh meter).
    pub unit: String,
    /// Meters summed.
    pub meters: Vec<String>,
    /// Per interval, thousandths of `unit`; `None` where no accepted upload covers it.
    pub values_milli: Vec<Option<i64>>,
    /// Sum of `values_milli`.
    pub total_milli: i64,
}

/// The factors over the same period, hourly.
#[derive(Debug, Serialize)]
pub struct LoadFactors {
    /// Publication id.
    pub publication: String,
    /// Region.
    pub region: String,
    /// Start of the first hour, Unix seconds.
    pub start_unix: i64,
    /// 3600.
    pub interval_s: u32,
    /// Consumption-based direct factor per hour, g/kWh.
    pub g_per_kwh: Vec<Option<f64>>,
}

/// An enterprise's measured loads per interval.
#[derive(Debug, Serialize)]
pub struct Loads {
    /// Enterprise id.
    pub enterprise: String,
    /// Start, RFC 3339.
    pub start: String,
    /// End (exclusive), RFC 3339.
    pub end: String,
    /// Start of the first interval, Unix seconds.
    pub start_unix: i64,
    /// Interval length of the series, seconds (the shortest among the channels).
    pub interval_s: u32,
    /// One series per (carrier, unit).
    pub series: Vec<LoadSeries>,
    /// Accepted uploads read.
    pub uploads: u64,
    /// How the values were obtained.
    pub method: &'static str,
    /// The factors over the period, when a publication is given.
    pub factors: Option<LoadFactors>,
}

/// Method of [`Loads`].
pub const LOADS_METHOD: &str = "sum of the logged upload values of the enterprise's meters per carrier and unit, each value converted exactly to thousandths of the meter's registered unit (rounded half away from zero); a coarser interval split evenly over the series' intervals";

/// [`LOADS_METHOD`] in Chinese.
pub const LOADS_METHOD_ZH: &str = "企业各计量表已记录的上传数值按载能类型和单位求和；每个数值精确换算为计量表登记单位的千分之一（四舍五入，远离零）；较粗的时段均分到序列的各时段";

/// How the loads are summed, in `lang`.
pub fn loads_method(lang: crate::lang::Lang) -> &'static str {
    match lang {
        crate::lang::Lang::En => LOADS_METHOD,
        crate::lang::Lang::Zh => LOADS_METHOD_ZH,
    }
}

/// Default length of a loads query without a start: the last 7 days of data.
pub const LOADS_DEFAULT_DAYS: i64 = 7;

pub(crate) fn to_milli(v: i64, decimals: u8, from: Unit, to: Unit) -> Option<i64> {
    let r = from.factor_to(to)?;
    let num = i128::from(v) * i128::from(r.num) * 1000;
    let den = i128::from(r.den) * 10i128.checked_pow(u32::from(decimals))?;
    let q = (2 * num.abs() + den) / (2 * den);
    i64::try_from(if num < 0 { -q } else { q }).ok()
}

/// The logged channels of some meters over a period, as read from the log.
pub struct LoggedChannels {
    /// Start of the period, Unix seconds.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// Each channel of the meters with the meter it belongs to (uploads of the meter's
    /// registered device only), in log order.
    pub channels: Vec<(MeterInfo, Channel)>,
    /// Accepted uploads read.
    pub uploads: u64,
}

/// The channels of `meters` (those of `who`: an enterprise, or the park) logged below `size`
/// that overlap `period` (`None`: the last `default_days` days of their data).
pub fn logged_channels<S: Store>(
    store: &S,
    size: u64,
    who: &str,
    meters: &[MeterInfo],
    period: Option<(i64, i64)>,
    default_days: i64,
) -> Result<LoggedChannels, QueryError> {
    let mine: BTreeMap<&str, &MeterInfo> = meters.iter().map(|m| (m.meter.as_str(), m)).collect();
    let devices: BTreeSet<&str> = meters.iter().map(|m| m.device.as_str()).collect();
    let rows: Vec<_> = store
        .uploads()?
        .into_iter()
        .filter(|u| u.index < size && devices.contains(u.row.device.as_str()))
        .collect();
    let (start, end) = match period {
        Some(p) => p,
        None => {
            let last = rows
                .iter()
                .flat_map(|u| &u.row.spans)
                .filter(|s| mine.contains_key(s.meter.as_str()))
                .map(|s| s.end)
                .max()
                .ok_or_else(|| {
                    QueryError::NotFound(format!(
                        "no accepted upload of {who} is in the log (up to entry {size})"
                    ))
                })?;
            let first = rows
                .iter()
                .flat_map(|u| &u.row.spans)
                .filter(|s| mine.contains_key(s.meter.as_str()))
                .map(|s| s.start)
                .min()
                .unwrap_or(last);
            ((last - default_days * 86_400).max(first), last)
        }
    };
    if end <= start {
        return Err(QueryError::BadRequest(format!(
            "period {}..{} is empty; the end must be after the start",
            rfc3339(start),
            rfc3339(end)
        )));
    }
    if (end - start) / 86_400 > 400 {
        return Err(QueryError::BadRequest(format!(
            "period {}..{} is longer than 400 days; ask for a shorter one",
            rfc3339(start),
            rfc3339(end)
        )));
    }
    // Channels in the period.
    let mut channels = Vec::new();
    let mut uploads = 0;
    for u in &rows {
        if !u
            .row
            .spans
            .iter()
            .any(|s| mine.contains_key(s.meter.as_str()) && s.end > start && s.start < end)
        {
            continue;
        }
        let Ok(LogEntry::Upload(up)) = LogEntry::from_bytes(&store.entry(u.index)?) else {
            continue;
        };
        uploads += 1;
        for c in up.body.channels {
            if let Some(m) = mine.get(c.meter.as_str()) {
                if m.device == up.body.device {
                    channels.push(((*m).clone(), c));
                }
            }
        }
    }
    Ok(LoggedChannels {
        start,
        end,
        channels,
        uploads,
    })
}

/// The measured loads of `enterprise`'s meters over `period` (`None`: the last
/// [`LOADS_DEFAULT_DAYS`] days of its data) from the log up to `size`, with `factors`' hourly
/// values for `region` alongside.
pub fn loads<S: Store>(
    store: &S,
    size: u64,
    enterprise: &str,
    meters: &[MeterInfo],
    period: Option<(i64, i64)>,
    factors: Option<(&Publication, Option<&str>)>,
) -> Result<Loads, QueryError> {
    let logged = logged_channels(store, size, enterprise, meters, period, LOADS_DEFAULT_DAYS)?;
    let (start, end, channels, uploads) =
        (logged.start, logged.end, logged.channels, logged.uploads);
    let iv = channels
        .iter()
        .map(|(_, c)| c.interval_s)
        .filter(|&s| s > 0)
        .min()
        .unwrap_or(900);
    let iv_i = i64::from(iv);
    let s0 = start.div_euclid(iv_i) * iv_i;
    let n = usize::try_from((end - s0 + iv_i - 1) / iv_i).unwrap_or(0);
    // (carrier, unit) → (meters, values).
    type Sums = (BTreeSet<String>, Vec<Option<i64>>);
    let mut by: BTreeMap<(String, String), Sums> = BTreeMap::new();
    for (m, c) in &channels {
        let (Ok(from), Ok(to)) = (c.unit.parse::<Unit>(), m.unit.parse::<Unit>()) else {
            continue;
        };
        if c.interval_s == 0 || c.interval_s % iv != 0 {
            continue;
        }
        let k = i64::from(c.interval_s / iv);
        let slot = by
            .entry((m.carrier.clone(), m.unit.clone()))
            .or_insert_with(|| (BTreeSet::new(), vec![None; n]));
        slot.0.insert(m.meter.clone());
        for (i, &v) in c.values.iter().enumerate() {
            let Some(milli) = to_milli(v, c.decimals, from, to) else {
                continue;
            };
            let t = c.start + i as i64 * i64::from(c.interval_s);
            for j in 0..k {
                let ts = t + j * iv_i;
                if ts < start || ts >= end {
                    continue;
                }
                let Ok(at) = usize::try_from((ts - s0) / iv_i) else {
                    continue;
                };
                if let Some(cell) = slot.1.get_mut(at) {
                    let part = milli * (j + 1) / k - milli * j / k;
                    *cell = Some(cell.unwrap_or(0) + part);
                }
            }
        }
    }
    let series = by
        .into_iter()
        .map(|((carrier, unit), (meters, values))| LoadSeries {
            total_milli: values.iter().flatten().sum(),
            carrier,
            unit,
            meters: meters.into_iter().collect(),
            values_milli: values,
        })
        .collect();
    let factors = match factors {
        Some((p, region)) => {
            let region = region
                .map(str::to_string)
                .or_else(|| p.regions.first().cloned())
                .unwrap_or_default();
            let h0 = start.div_euclid(3600) * 3600;
            let hours = (end - h0 + 3599) / 3600;
            Some(LoadFactors {
                publication: p.id.clone(),
                start_unix: h0,
                interval_s: 3600,
                g_per_kwh: (0..hours)
                    .map(|h| {
                        p.series
                            .factor_at(&region, h0 + h * 3600)
                            .and_then(|r| r.consumption_direct)
                    })
                    .collect(),
                region,
            })
        }
        None => None,
    };
    Ok(Loads {
        enterprise: enterprise.to_string(),
        start: rfc3339(start),
        end: rfc3339(end),
        start_unix: s0,
        interval_s: iv,
        series,
        uploads,
        method: LOADS_METHOD,
        factors,
    })
}

/// A signature on the checkpoint other than the log's own: a witness's cosignature.
#[derive(Debug, Serialize)]
pub struct Cosignature {
    /// The witness's key name.
    pub name: String,
    /// Its key id, hex.
    pub key_id: String,
}

/// The latest checkpoint.
#[derive(Debug, Serialize)]
pub struct CheckpointInfo {
    /// Tree size.
    pub size: u64,
    /// Root hash, base64.
    pub root: String,
    /// The signed note as served (with any cosignatures).
    pub note: String,
}

/// The ledger's status.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Park name.
    pub park: String,
    /// Log origin.
    pub origin: String,
    /// The log's verifier key.
    pub verifier_key: String,
    /// Entries in the log.
    pub size: u64,
    /// The latest checkpoint, verified with the log key.
    pub checkpoint: Option<CheckpointInfo>,
    /// Witness cosignatures on it (signature lines other than the log's).
    pub cosignatures: Vec<Cosignature>,
    /// Registered enterprises.
    pub enterprises: usize,
    /// Registered meters.
    pub meters: usize,
    /// Registered devices.
    pub devices: usize,
    /// Factor publications.
    pub publications: Vec<String>,
}

/// The ledger's status from the store; `note` is the checkpoint to show (the latest stored
/// one when `None`, or a cosigned copy of it).
pub fn status<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    note: Option<String>,
    publications: Vec<String>,
    meters: &MeterDirectory,
) -> Result<Status, QueryError> {
    let note = match note {
        Some(n) => Some(n),
        None => store.latest_checkpoint()?,
    };
    let mut checkpoint = None;
    let mut cosignatures = Vec::new();
    if let Some(note) = note {
        let cp = open_checkpoint(&note, verifier).map_err(|e| {
            QueryError::Internal(format!(
                "the latest checkpoint does not verify with the log key {verifier}: {e}"
            ))
        })?;
        if let Ok(parsed) = Note::parse(&note) {
            for s in parsed.signatures() {
                if !(s.name() == verifier.name() && s.key_id() == verifier.key_id()) {
                    cosignatures.push(Cosignature {
                        name: s.name().to_string(),
                        key_id: format!("{:08x}", s.key_id()),
                    });
                }
            }
        }
        use base64::Engine as _;
        checkpoint = Some(CheckpointInfo {
            size: cp.size,
            root: base64::engine::general_purpose::STANDARD.encode(cp.root),
            note,
        });
    }
    let size = checkpoint.as_ref().map_or(0, |c| c.size);
    let ents = meters.get(store, size)?;
    let meters = ents.values().map(Vec::len).sum();
    let devices = ents
        .values()
        .flatten()
        .map(|m| m.device.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    Ok(Status {
        park: store.meta("park")?.unwrap_or_default(),
        origin: store.meta("origin")?.unwrap_or_default(),
        verifier_key: verifier.to_string(),
        size,
        checkpoint,
        cosignatures,
        enterprises: ents.len(),
        meters,
        devices,
        publications,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn to_milli_is_exact_and_rounds_half_away() {
        // 1.234 kWh at 3 decimals → 1234 Wh.
        assert_eq!(to_milli(1234, 3, Unit::KWh, Unit::KWh), Some(1234));
        // 1 MJ = 0.2777… kWh = 277.8 thousandths of a kWh, rounded to 278.
        assert_eq!(to_milli(1, 0, Unit::MJ, Unit::KWh), Some(278));
        assert_eq!(to_milli(-1, 0, Unit::MJ, Unit::KWh), Some(-278));
        assert_eq!(to_milli(5, 1, Unit::MWh, Unit::KWh), Some(500_000));
        assert_eq!(to_milli(1, 0, Unit::Kg, Unit::KWh), None);
    }

    #[test]
    fn the_meter_directory_is_read_again_when_a_registration_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let sim = tanji_simulator::Park::generate(tanji_simulator::ParkSpec {
            seed: 3,
            enterprises: 3,
            start_day: 1_795_132_800,
            days: 1,
        });
        let regs = sim.registrations(1_795_132_800 - 86_400);
        let last = regs[regs.len() - 1].enterprise.clone();
        let (rest, first): (Vec<_>, Vec<_>) = regs.into_iter().partition(|r| r.enterprise == last);
        let mut park = tanji_park::Park::create(dir.path(), "t", None).unwrap();
        park.register(&first).unwrap();
        let directory = MeterDirectory::default();
        let store = park.store();
        let a = directory.get(store, park.size()).unwrap();
        assert_eq!(*a, enterprises(store, park.size()).unwrap());
        assert_eq!(a.len(), 2);
        // The same registrations: the same answer, not read again.
        let b = directory.get(store, park.size()).unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        // A smaller size sees fewer registrations.
        assert_eq!(directory.get(store, 0).unwrap().len(), 0);
        park.register(&rest).unwrap();
        let store = park.store();
        let c = directory.get(store, park.size()).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(*c, enterprises(store, park.size()).unwrap());
    }
}
