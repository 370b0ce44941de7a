//! What the dashboard shows of a park store besides the accounting figures: factor
//! publications and a day's factor curve, the registered enterprises and meters, measured
//! loads per interval and the ledger's status. Everything is read through the park's read
//! layer ([`tanji_park::view`]); this module only shapes the answers. Synchronous (the handlers
//! run it on the blocking pool); the figures themselves come from `tanji_report::build`, never
//! from here.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tanji_ledger::{open_checkpoint, Note, NoteVerifier};
use tanji_park::view::{
    add_channel, logged_channels, weighted_mean, EntryProblem, FactorSeries, Meter, PublicationLog,
    RegistrationCache, Registrations, SeriesError,
};
use tanji_park::{open_publication, PublicationError, PublicationKind};
use tanji_store::Store;
use tanji_units::time::{self, rfc3339};
use tanji_units::Unit;

use super::QueryError;

/// A factor publication read from the log: its manifest checked against the log key, its
/// stored content against the manifest's hash, and the series parsed.
pub type Publication = FactorSeries;

impl From<PublicationError> for QueryError {
    fn from(e: PublicationError) -> Self {
        match e {
            PublicationError::Store(e) => QueryError::Store(e),
            error => QueryError::Publication { error },
        }
    }
}

impl From<SeriesError> for QueryError {
    fn from(e: SeriesError) -> Self {
        match e {
            SeriesError::Store(e) => QueryError::Store(e),
            e @ SeriesError::NoData { .. } => QueryError::NotFound(e.to_string()),
            e @ (SeriesError::EmptyPeriod { .. } | SeriesError::TooLong { .. }) => {
                QueryError::BadRequest(e.to_string())
            }
        }
    }
}

/// The publications (of every kind) logged below `size`.
pub fn publication_log<S: Store>(store: &S, size: u64) -> Result<PublicationLog, QueryError> {
    Ok(PublicationLog::read(store, size)?)
}

/// Opens the publication logged at `index` with the note `note` (signature and content
/// checked): the factor publication with its series, or `None` for a publication of another
/// kind (enterprise inputs).
pub fn load_publication<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    index: u64,
    note: &str,
) -> Result<Option<Publication>, QueryError> {
    let (p, bytes) = open_publication(store, index, note, verifier)?;
    if p.kind != PublicationKind::Factors {
        return Ok(None);
    }
    Ok(Some(FactorSeries::parse(p, &bytes)?))
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
            content_sha256: hex::encode(p.content_hash),
            calibrations: p.calibration_lines.clone(),
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
                g_per_kwh: p.factor_at(&region, t),
            }
        })
        .collect();
    let present: Vec<f64> = hours.iter().filter_map(|h| h.g_per_kwh).collect();
    let day_mean =
        (!present.is_empty()).then(|| round4(present.iter().sum::<f64>() / present.len() as f64));
    let annual_mean = weighted_mean(&p.series, &region).map(|g| AnnualMean {
        g_per_kwh: round4(g),
        method: ANNUAL_MEAN_METHOD,
        intervals: rows
            .iter()
            .filter(|r| r.consumption_direct.is_some())
            .count(),
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
        calibrations: p.calibration_lines.clone(),
    })
}

/// Registered meters by enterprise.
pub type Enterprises = tanji_park::view::Enterprises;

/// The meters of `enterprise` in `all`, or not found. The message names only the enterprise
/// asked for: the caller may be a token of an enterprise that is not registered, which may
/// not learn which ones are (`GET /api/v1/enterprises` lists those a caller may read).
pub fn meters_of<'a>(all: &'a Enterprises, enterprise: &str) -> Result<&'a [Meter], QueryError> {
    all.get(enterprise).map(Vec::as_slice).ok_or_else(|| {
        QueryError::NotFound(format!(
            "no enterprise {enterprise:?} is registered in this log; GET /api/v1/enterprises lists the enterprises this token may read"
        ))
    })
}

/// Every meter's registration in force (the latest logged below `size`), by enterprise. A
/// registration entry that does not decode is logged as a warning (and listed by the status).
pub fn enterprises<S: Store>(store: &S, size: u64) -> Result<Enterprises, QueryError> {
    let directory = Registrations::read(store, size)?.directory();
    warn_of(&directory.problems);
    Ok(directory.enterprises)
}

/// Logs registration entries that did not decode.
fn warn_of(problems: &[EntryProblem]) {
    for p in problems {
        tracing::warn!(entry = p.index(), "a registration entry is left out: {p}");
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

/// The measured loads of `enterprise`'s meters over `period` (`None`: the last
/// [`LOADS_DEFAULT_DAYS`] days of its data) from the log up to `size`, with `factors`' hourly
/// values for `region` alongside.
pub fn loads<S: Store>(
    store: &S,
    size: u64,
    enterprise: &str,
    meters: &[Meter],
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
        let (Ok(_), Ok(to)) = (c.unit.parse::<Unit>(), m.unit.parse::<Unit>()) else {
            continue;
        };
        if c.interval_s == 0 || c.interval_s % iv != 0 {
            continue;
        }
        let slot = by
            .entry((m.carrier.clone(), m.unit.clone()))
            .or_insert_with(|| (BTreeSet::new(), vec![None; n]));
        slot.0.insert(m.meter.clone());
        add_channel(&mut slot.1, s0, iv, start, c, to);
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
                    .map(|h| p.factor_at(&region, h0 + h * 3600))
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
    /// Enterprise inputs publications (`tanji inputs publish`), in log order: what the
    /// `inputs` query of the outcomes, inventory and footprint routes names.
    pub inputs: Vec<String>,
    /// Registration entries that did not decode (`entry N: …`); their meters are not counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// The ledger's status from the store; `note` is the checkpoint to show (the latest stored
/// one when `None`, or a cosigned copy of it).
pub fn status<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    note: Option<String>,
    publications: Vec<String>,
    meters: &RegistrationCache,
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
    let directory = meters.get(store, size)?;
    warn_of(&directory.problems);
    let inputs = publication_log(store, size)?
        .ids(PublicationKind::Inputs)
        .map_err(|error| QueryError::Publication { error })?;
    let ents = &directory.enterprises;
    Ok(Status {
        park: store.meta("park")?.unwrap_or_default(),
        origin: store.meta("origin")?.unwrap_or_default(),
        verifier_key: verifier.to_string(),
        size,
        checkpoint,
        cosignatures,
        enterprises: ents.len(),
        meters: directory.meters().count(),
        devices: directory.devices(),
        publications,
        inputs,
        problems: (directory.problems.iter())
            .map(|p| format!("entry {}: {p}", p.index()))
            .collect(),
    })
}
