//! tanji-anomaly: finds suspicious patterns in one meter's incoming interval data — flat
//! lines, spikes, sudden level shifts, PV producing at night, consumption when the meter
//! should be idle, missing uploads — and reports each as an [`Alert`] carrying the meter, the
//! half-open interval span `[start, end)` and the [`Evidence`] (the values, the robust
//! baseline and spread, the threshold, and a sentence saying why).
//!
//! It is pure: no IO, no clock, no async. It does not correct, reject or fill data (the
//! validator rejects impossible records, `tanji_accounting::gaps` fills gaps); an alert is a
//! question for a person, not a verdict. Every statistic is robust and explainable: medians
//! and median absolute deviations (MAD) over integer values, no means or variances.
//!
//! # Detectors and their defaults ([`Settings::default`])
//! Durations are in seconds and converted to whole intervals (rounded up, at least one).
//! - **missing_data**: a run of `None` (no accepted upload) lasting at least
//!   [`Settings::missing_min_s`] (1 h).
//! - **flat_line**: at least [`Settings::flat_line_min_s`] (2 h) of identical values on a
//!   carrier whose readings normally vary (electricity, gas, steam, heat; see
//!   [`continuous`]). Values below [`Settings::flat_line_min_value`] (0.1 unit) are not
//!   flagged: zero is legitimate (PV at night, idle export) and tiny values repeat at the
//!   meter's resolution.
//! - **spike**: a value above `median + max(k·MAD, ratio·median, floor)` of the values
//!   within [`Settings::spike_half_window_s`] (2 h) either side of it (the value itself
//!   excluded; values within 2 h of the series' ends are not checked, and at least half the
//!   window must be present), k = 8, ratio = 1 (at least double the local median), floor =
//!   25% of the rated capacity per interval when known. A centred window means a production
//!   ramp, whose neighbours on one side are already high, is not a spike. Continuous
//!   consumption carriers only: diesel, LPG and other batch fuels are zero most of the time
//!   and used in bursts, and PV and export follow the clouds (on the simulated park a broken
//!   sky triples PV within a quarter-hour, 80 false spikes in 1 736 meter-days before they
//!   were excluded; PV's physical check is `pv_at_night`). The floor matters where PV covers
//!   the load: grid import then sits at zero and a passing cloud lifts it.
//! - **level_shift**: at a boundary, the medians of the [`Settings::level_window_s`] (7 days)
//!   before and after differ by more than `k·max(MAD_before, MAD_after)` (k = 1) and by more
//!   than [`Settings::level_min_change_permille`] (30%) of the larger median. Seven days, not
//!   one: every window then holds each weekday once, so a factory's weekend is not a "shift".
//!   One alert per cluster of such boundaries (runs less than a window apart merge), with
//!   the medians of its strongest boundary (largest change/MAD), placed at the boundary (from
//!   one window before the cluster to its end) where the ratio of each value to the value a
//!   window earlier — the same quarter-hour of the same weekday — best splits into "about 1"
//!   before and "about after/before" from there on, by least absolute deviation; the span is
//!   the window after it. Consumption carriers only (PV and export follow the weather).
//!   Values inside [`MeterData::breaks`] (public holidays, planned shutdowns) do not count in
//!   the windows: a factory closed for the Spring Festival is a real but expected shift, and
//!   without breaks it is reported as one.
//! - **pv_at_night**: PV generation above a floor (2% of the rated capacity per interval,
//!   or [`Settings::pv_night_floor_milli`] when the rating is unknown) in an interval during
//!   which the sun stays below [`Settings::night_elevation_deg`] (−3°) at the site
//!   ([`Settings::latitude_deg`], [`Settings::longitude_deg`]; default Fuzhou, 26.08°N
//!   119.30°E). The sun's elevation comes from Spencer's (1971) declination and equation of
//!   time, checked at the interval's start, middle and end; the −3° margin keeps twilight
//!   and the formula's few-minute error out.
//! - **idle_consumption**: on a consumption meter with an [`IdleSchedule`], a value above
//!   the schedule's floor in an interval that lies wholly within the idle local hours.
//!
//! Consecutive flagged intervals of one kind merge into one alert. Output is sorted by start,
//! then kind; the same input always gives the same alerts.
//!
//! # Cost
//! A meter-year of quarter-hours (35 040 values) takes a few milliseconds: the windows slide
//! one value at a time through sorted or order-statistic counts, and a window's MAD is
//! computed only where its median already passes the cheaper test (`docs/benchmarks.md`).
//!
//! # Measured on the synthetic park (`tanji-simulator`, 28 days, every meter)
//! March 2025, seed 2025 (62 meters, 1 736 meter-days): no alert on clean data; flat line,
//! spike and missing data injected into all 20 grid meters are found with their exact spans,
//! a quartered level from day 17 is placed on the exact quarter-hour on all 20, PV at night on
//! every PV meter (`tests/simulated_park.rs`). Windows of 2025 holding the Spring Festival,
//! Labour Day or National Day, and July, for seeds 2025 and 7, with the holidays (±1 day)
//! given as breaks: 0–5 alerts per 1 484–1 736 meter-days (at most 0.0034 per meter-day);
//! without the breaks, 11–17 level shifts in each holiday window, all at the closure. What
//! remains is grid import at PV sites, which a passing cloud can double within a
//! quarter-hour (a few spikes), and the return from a holiday the breaks do not fully cover
//! (level shifts). On one PV site in July an injected shift was placed 11 h early: a sunny
//! day a week later also cut daytime import.

mod rank;
mod solar;

use serde::{Deserialize, Serialize};
use tanji_units::{time, Carrier};

pub use solar::elevation_deg;

/// At most this many values are copied into an alert's evidence.
pub const MAX_EVIDENCE_VALUES: usize = 96;

/// What went wrong with the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The series has a zero interval length.
    #[error("meter {meter}: interval length is 0 s; give the series' interval length (e.g. 900)")]
    ZeroInterval {
        /// The meter.
        meter: String,
    },
    /// The idle schedule names an hour outside 0–23.
    #[error("meter {meter}: idle hour mask {mask:#x} has bits above hour 23; use bits 0–23")]
    BadIdleHours {
        /// The meter.
        meter: String,
        /// The mask given.
        mask: u32,
    },
}

/// The kind of anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// Identical non-zero values for too long: a stuck register or a repeated upload.
    FlatLine,
    /// A value far above its neighbourhood.
    Spike,
    /// The meter's level changed suddenly and stayed changed (CT ratio, unit, meter swap…).
    LevelShift,
    /// PV generation reported with the sun below the horizon.
    PvAtNight,
    /// Consumption in hours the meter should be idle.
    IdleConsumption,
    /// No accepted upload for a long run of intervals.
    MissingData,
}

impl AlertKind {
    /// The stable snake_case code (as serialized).
    pub const fn code(self) -> &'static str {
        match self {
            AlertKind::FlatLine => "flat_line",
            AlertKind::Spike => "spike",
            AlertKind::LevelShift => "level_shift",
            AlertKind::PvAtNight => "pv_at_night",
            AlertKind::IdleConsumption => "idle_consumption",
            AlertKind::MissingData => "missing_data",
        }
    }
}

/// The numbers behind an alert. Values are in thousandths of the meter's unit, like the
/// series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The values in the alert's span (at most [`MAX_EVIDENCE_VALUES`], from its start).
    pub values: Vec<Option<i64>>,
    /// The value that triggered the alert: the spike's peak, the repeated value, the median
    /// after a level shift, the largest night or idle value; `None` for missing data.
    pub observed: Option<i64>,
    /// What it was compared with: the local median (spike), the median before a level
    /// shift; `None` when the rule has no baseline.
    pub baseline: Option<i64>,
    /// The spread used: the MAD of the local window (spike) or the larger of the two
    /// windows' MADs (level shift).
    pub mad: Option<i64>,
    /// The threshold the observed value crossed (spike: the value; level shift: the change;
    /// PV at night and idle consumption: the floor).
    pub threshold: Option<i64>,
    /// One sentence saying why, with the numbers in the meter's unit ×1000.
    pub reason: String,
}

/// One anomaly on one meter over `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// What was found.
    pub kind: AlertKind,
    /// Meter id.
    pub meter: String,
    /// Start of the first interval concerned, Unix seconds UTC.
    pub start: i64,
    /// End (exclusive) of the last interval concerned.
    pub end: i64,
    /// Why.
    pub evidence: Evidence,
}

/// Local hours in which a meter should be idle, and how much it may still use then.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleSchedule {
    /// Bit `h` set = local hour `h` (0–23) is idle, e.g. `0x7F` = 00:00–07:00.
    pub hours_mask: u32,
    /// Largest value per interval still considered idle (standby), thousandths of the unit.
    pub floor: i64,
}

impl IdleSchedule {
    /// Idle from local hour `from` to local hour `to` (exclusive), wrapping past midnight
    /// when `to <= from` (e.g. `between(22, 6, …)` = 22:00–06:00).
    pub fn between(from: u8, to: u8, floor: i64) -> IdleSchedule {
        let mut mask = 0u32;
        let mut h = u32::from(from % 24);
        let end = u32::from(to % 24);
        loop {
            mask |= 1 << h;
            h = (h + 1) % 24;
            if h == end {
                break;
            }
        }
        IdleSchedule {
            hours_mask: mask,
            floor,
        }
    }
}

/// One meter's data as the detectors read it (the shape of
/// `tanji_accounting::IntervalSeries`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeterData<'a> {
    /// Meter id.
    pub meter: &'a str,
    /// What it measures.
    pub carrier: Carrier,
    /// Start of the first interval, Unix seconds UTC.
    pub start: i64,
    /// Interval length, seconds.
    pub interval_s: u32,
    /// `values[i]` covers `[start + i·interval_s, start + (i+1)·interval_s)`, thousandths of
    /// the unit; `None` = no accepted upload.
    pub values: &'a [Option<i64>],
    /// Rated capacity per interval, thousandths of the unit, when registered.
    pub rated_per_interval: Option<i64>,
    /// When the meter should be idle, if known.
    pub idle: Option<IdleSchedule>,
    /// Known breaks `[start, end)` (public holidays, planned shutdowns) in which the level is
    /// expected to change: their values do not count in the level-shift windows.
    pub breaks: &'a [(i64, i64)],
}

/// Detector settings. [`Settings::default`] documents each default.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Local clock offset from UTC, seconds (default the park's, `tanji_units::time::PARK_UTC_OFFSET_S`).
    pub utc_offset_s: i32,
    /// Site latitude, degrees north (default 26.08, Fuzhou).
    pub latitude_deg: f64,
    /// Site longitude, degrees east (default 119.30, Fuzhou).
    pub longitude_deg: f64,
    /// Shortest run of missing values reported, seconds (default 3 600).
    pub missing_min_s: u32,
    /// Shortest run of identical non-zero values reported, seconds (default 7 200).
    pub flat_line_min_s: u32,
    /// Flat line: smallest absolute value considered, thousandths of the unit (default 100,
    /// i.e. 0.1 unit per interval): smaller values sit at the meter's resolution and repeat
    /// naturally (36 kg of steam a quarter-hour, quarter after quarter).
    pub flat_line_min_value: i64,
    /// Spike window either side of the value, seconds (default 7 200).
    pub spike_half_window_s: u32,
    /// Spike: multiple of the local MAD the value must exceed the median by (default 8).
    pub spike_k_mad: i64,
    /// Spike: the value must also exceed the median by this many thousandths of the median
    /// (default 1 000: at least double).
    pub spike_min_ratio_permille: i64,
    /// Spike: and by this many thousandths of the rated capacity, when known (default 250).
    pub spike_floor_permille_of_rated: i64,
    /// Level-shift window on each side, seconds (default 604 800, seven days).
    pub level_window_s: u32,
    /// Level shift: multiple of the larger MAD the medians must differ by (default 1: the
    /// change must exceed the typical deviation from the median, which a daily load cycle
    /// already makes large).
    pub level_k_mad: i64,
    /// Level shift: the change must exceed this many thousandths of the larger median
    /// (default 300).
    pub level_min_change_permille: i64,
    /// PV at night: the sun counts as down when below this elevation all interval (default −3°).
    pub night_elevation_deg: f64,
    /// PV at night: floor as thousandths of the rated capacity, when known (default 20).
    pub pv_night_floor_permille_of_rated: i64,
    /// PV at night: floor when the rating is unknown, thousandths of the unit (default 1 000,
    /// i.e. 1 kWh per interval on a kWh meter).
    pub pv_night_floor_milli: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            utc_offset_s: time::PARK_UTC_OFFSET_S,
            latitude_deg: 26.08,
            longitude_deg: 119.30,
            missing_min_s: 3_600,
            flat_line_min_s: 7_200,
            flat_line_min_value: 100,
            spike_half_window_s: 7_200,
            spike_k_mad: 8,
            spike_min_ratio_permille: 1_000,
            spike_floor_permille_of_rated: 250,
            level_window_s: 7 * 86_400,
            level_k_mad: 1,
            level_min_change_permille: 300,
            night_elevation_deg: -3.0,
            pv_night_floor_permille_of_rated: 20,
            pv_night_floor_milli: 1_000,
        }
    }
}

/// Whether the carrier's readings normally vary from interval to interval (metered
/// continuously: electricity, natural gas, steam, heat), as opposed to batch fuels (diesel,
/// gasoline, coal, LPG, fuel oil) that sit at zero and are used in bursts.
pub const fn continuous(carrier: Carrier) -> bool {
    matches!(
        carrier,
        Carrier::ElectricityImport
            | Carrier::ElectricityExport
            | Carrier::PvGeneration
            | Carrier::NaturalGas
            | Carrier::Steam
            | Carrier::Heat
    )
}

/// Whether the meter measures consumption (everything but PV generation and export).
pub const fn consumption(carrier: Carrier) -> bool {
    !matches!(carrier, Carrier::PvGeneration | Carrier::ElectricityExport)
}

/// Runs every detector on one meter's series. Alerts are sorted by start, then kind.
pub fn detect(data: &MeterData<'_>, settings: &Settings) -> Result<Vec<Alert>, Error> {
    detect_with(data, settings, spike_flags, shift_candidates)
}

/// [`detect`] with the given way of finding level-shift candidates.
fn detect_with(
    data: &MeterData<'_>,
    settings: &Settings,
    find_spikes: FindSpikes,
    find_shifts: FindShifts,
) -> Result<Vec<Alert>, Error> {
    if data.interval_s == 0 {
        return Err(Error::ZeroInterval {
            meter: data.meter.to_string(),
        });
    }
    if let Some(idle) = data.idle {
        if idle.hours_mask >> 24 != 0 {
            return Err(Error::BadIdleHours {
                meter: data.meter.to_string(),
                mask: idle.hours_mask,
            });
        }
    }
    let mut alerts = Vec::new();
    missing(data, settings, &mut alerts);
    if continuous(data.carrier) {
        flat_lines(data, settings, &mut alerts);
    }
    if continuous(data.carrier) && consumption(data.carrier) {
        spikes(data, settings, &mut alerts, find_spikes);
    }
    if continuous(data.carrier) && consumption(data.carrier) {
        level_shifts(data, settings, &mut alerts, find_shifts);
    }
    if data.carrier == Carrier::PvGeneration {
        pv_at_night(data, settings, &mut alerts);
    }
    if consumption(data.carrier) {
        if let Some(idle) = data.idle {
            idle_consumption(data, idle, settings, &mut alerts);
        }
    }
    alerts.sort_by_key(|a| (a.start, a.kind, a.end));
    Ok(alerts)
}

/// Whole intervals covering `seconds` (rounded up, at least 1).
fn intervals(seconds: u32, interval_s: u32) -> usize {
    let n = seconds.div_ceil(interval_s.max(1)).max(1);
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn span_start(data: &MeterData<'_>, i: usize) -> i64 {
    data.start.saturating_add(
        i64::try_from(i)
            .unwrap_or(i64::MAX)
            .saturating_mul(i64::from(data.interval_s)),
    )
}

fn alert(
    data: &MeterData<'_>,
    kind: AlertKind,
    from: usize,
    to: usize,
    mut evidence: Evidence,
) -> Alert {
    let upto = to.min(from + MAX_EVIDENCE_VALUES).min(data.values.len());
    evidence.values = data.values.get(from..upto).unwrap_or(&[]).to_vec();
    Alert {
        kind,
        meter: data.meter.to_string(),
        start: span_start(data, from),
        end: span_start(data, to),
        evidence,
    }
}

/// Median of `v` (reorders it); the lower-middle mean for an even count, rounded down.
/// `None` when empty.
pub fn median(v: &mut [i64]) -> Option<i64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (_, &mut hi, _) = v.select_nth_unstable(mid);
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = v
        .get(..mid)
        .and_then(|l| l.iter().max())
        .copied()
        .unwrap_or(hi);
    Some(((i128::from(lo) + i128::from(hi)).div_euclid(2)) as i64)
}

/// Median and median absolute deviation of `v` (reorders it). `None` when empty.
pub fn median_mad(v: &mut [i64]) -> Option<(i64, i64)> {
    let m = median(v)?;
    for x in v.iter_mut() {
        *x = i64::try_from(x.abs_diff(m)).unwrap_or(i64::MAX);
    }
    let mad = median(v)?;
    Some((m, mad))
}

fn permille(x: i64, p: i64) -> i64 {
    i64::try_from(i128::from(x) * i128::from(p) / 1000).unwrap_or(i64::MAX)
}

fn hours(n: usize, interval_s: u32) -> f64 {
    n as f64 * f64::from(interval_s) / 3600.0
}

fn missing(data: &MeterData<'_>, s: &Settings, out: &mut Vec<Alert>) {
    let min = intervals(s.missing_min_s, data.interval_s);
    for (from, to) in runs(data.values.len(), |i| data.values[i].is_none()) {
        let n = to - from;
        if n >= min {
            let reason = format!(
                "{n} consecutive intervals ({:.2} h) have no accepted upload; the rule flags runs of {min} or more",
                hours(n, data.interval_s)
            );
            out.push(alert(
                data,
                AlertKind::MissingData,
                from,
                to,
                Evidence {
                    values: Vec::new(),
                    observed: None,
                    baseline: None,
                    mad: None,
                    threshold: None,
                    reason,
                },
            ));
        }
    }
}

/// Maximal runs `[from, to)` of indices in `0..n` where `flag` holds.
fn runs(n: usize, flag: impl Fn(usize) -> bool) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if flag(i) {
            let from = i;
            while i < n && flag(i) {
                i += 1;
            }
            out.push((from, i));
        } else {
            i += 1;
        }
    }
    out
}

fn flat_lines(data: &MeterData<'_>, s: &Settings, out: &mut Vec<Alert>) {
    let min = intervals(s.flat_line_min_s, data.interval_s);
    let v = data.values;
    let mut i = 0;
    while i < v.len() {
        let Some(x) = v[i].filter(|&x| x.abs() >= s.flat_line_min_value) else {
            i += 1;
            continue;
        };
        let from = i;
        while i < v.len() && v[i] == Some(x) {
            i += 1;
        }
        let n = i - from;
        if n >= min {
            let reason = format!(
                "{n} consecutive intervals ({:.2} h) all read exactly {x}; the readings of {} meters normally vary, so a stuck register or repeated value is likely (rule: {min} or more identical values of at least {})",
                hours(n, data.interval_s),
                data.carrier.code(),
                s.flat_line_min_value
            );
            out.push(alert(
                data,
                AlertKind::FlatLine,
                from,
                i,
                Evidence {
                    values: Vec::new(),
                    observed: Some(x),
                    baseline: None,
                    mad: None,
                    threshold: None,
                    reason,
                },
            ));
        }
    }
}

/// A flagged spike: (value, median, MAD, threshold).
type SpikeAt = (i64, i64, i64, i64);

/// How spikes are found: the window statistics of every value, given the half window and the
/// floor.
type FindSpikes = fn(&[Option<i64>], usize, i64, &Settings) -> Vec<Option<SpikeAt>>;

fn spikes(data: &MeterData<'_>, s: &Settings, out: &mut Vec<Alert>, find: FindSpikes) {
    let half = intervals(s.spike_half_window_s, data.interval_s);
    let v = data.values;
    let floor = data
        .rated_per_interval
        .map_or(0, |r| permille(r, s.spike_floor_permille_of_rated))
        .max(0);
    let flagged = find(v, half, floor, s);
    for (from, to) in runs(v.len(), |i| flagged[i].is_some()) {
        // Report the run's highest value with its own window's statistics.
        let Some((x, m, mad, threshold)) = flagged[from..to]
            .iter()
            .flatten()
            .copied()
            .max_by_key(|f| f.0)
        else {
            continue;
        };
        let reason = format!(
            "value {x} exceeds the median {m} of the surrounding {:.1} h by more than max({}·MAD {mad}, {}‰ of the median, floor {floor}) = threshold {threshold}",
            hours(2 * half, data.interval_s),
            s.spike_k_mad,
            s.spike_min_ratio_permille
        );
        out.push(alert(
            data,
            AlertKind::Spike,
            from,
            to,
            Evidence {
                values: Vec::new(),
                observed: Some(x),
                baseline: Some(m),
                mad: Some(mad),
                threshold: Some(threshold),
                reason,
            },
        ));
    }
}

/// The spike test at every value `v[i]` with a whole neighbourhood (`half` intervals either
/// side inside the series, at least `half` of them present): `Some((value, median, MAD,
/// threshold))` where the value exceeds `median + max(k·MAD, ratio·median, floor)` of the
/// others. The window's values are kept sorted as it slides (insert one, remove one), so the
/// median costs no copy; the threshold is at least `median + max(ratio·median, floor)`
/// whatever the MAD, and only values above that bound — few — have their window's MAD
/// computed, by [`median_mad`] as before. Exactly [`spike_flags_naive`]'s result (a test
/// holds them equal).
fn spike_flags(v: &[Option<i64>], half: usize, floor: i64, s: &Settings) -> Vec<Option<SpikeAt>> {
    let mut flagged: Vec<Option<SpikeAt>> = vec![None; v.len()];
    if v.len() <= 2 * half {
        return flagged;
    }
    // The present values of v[i − half ..= i + half], ascending.
    let mut sorted: Vec<i64> = v[..2 * half].iter().flatten().copied().collect();
    sorted.sort_unstable();
    let mut window = Vec::with_capacity(2 * half);
    for i in half..v.len() - half {
        if let Some(x) = v[i + half] {
            let at = sorted.partition_point(|&y| y < x);
            sorted.insert(at, x);
        }
        if i > half {
            if let Some(x) = v[i - half - 1] {
                if let Ok(at) = sorted.binary_search(&x) {
                    sorted.remove(at);
                }
            }
        }
        let Some(x) = v[i] else { continue };
        // The others: `sorted` without one copy of x (at `skip`).
        let n = sorted.len() - 1;
        if n < half || n == 0 {
            continue;
        }
        let skip = sorted.partition_point(|&y| y < x);
        let kth = |k: usize| sorted[if k < skip { k } else { k + 1 }];
        let m = if n % 2 == 1 {
            kth(n / 2)
        } else {
            ((i128::from(kth(n / 2 - 1)) + i128::from(kth(n / 2))).div_euclid(2)) as i64
        };
        let bound = m.saturating_add(permille(m.max(0), s.spike_min_ratio_permille).max(floor));
        if x <= bound {
            continue;
        }
        window.clear();
        window.extend(
            (i - half..=i + half)
                .filter(|&j| j != i)
                .filter_map(|j| v[j]),
        );
        let Some((m, mad)) = median_mad(&mut window) else {
            continue;
        };
        let threshold = spike_threshold(m, mad, floor, s);
        if x > threshold {
            flagged[i] = Some((x, m, mad, threshold));
        }
    }
    flagged
}

/// The level a value must exceed to be a spike, given its window's median and MAD.
fn spike_threshold(m: i64, mad: i64, floor: i64, s: &Settings) -> i64 {
    let rise = s
        .spike_k_mad
        .saturating_mul(mad)
        .max(permille(m.max(0), s.spike_min_ratio_permille))
        .max(floor);
    m.saturating_add(rise)
}

/// [`spike_flags`] the straightforward way: every value's window copied and its median and
/// MAD computed. The reference the fast one is tested against.
#[cfg(test)]
fn spike_flags_naive(
    v: &[Option<i64>],
    half: usize,
    floor: i64,
    s: &Settings,
) -> Vec<Option<SpikeAt>> {
    let mut flagged: Vec<Option<SpikeAt>> = vec![None; v.len()];
    let mut window = Vec::with_capacity(2 * half);
    for i in 0..v.len() {
        let Some(x) = v[i] else { continue };
        window.clear();
        let lo = i.saturating_sub(half);
        let hi = (i + half + 1).min(v.len());
        window.extend((lo..hi).filter(|&j| j != i).filter_map(|j| v[j]));
        // Need a whole neighbourhood: `half` intervals on both sides inside the series (so
        // values within half a window of either end are not checked), at least half of the
        // window's values present.
        if i < half || i + half >= v.len() || window.len() < half {
            continue;
        }
        let Some((m, mad)) = median_mad(&mut window) else {
            continue;
        };
        let threshold = spike_threshold(m, mad, floor, s);
        if x > threshold {
            flagged[i] = Some((x, m, mad, threshold));
        }
    }
    flagged
}

/// A candidate level-shift boundary: (score ×1000, median before, median after, larger MAD).
type Shift = (i64, i64, i64, i64);

/// How candidate level-shift boundaries are found: the window statistics at every boundary.
type FindShifts = fn(&[Option<i64>], usize, &Settings) -> Vec<Option<Shift>>;

fn level_shifts(data: &MeterData<'_>, s: &Settings, out: &mut Vec<Alert>, find: FindShifts) {
    let w = intervals(s.level_window_s, data.interval_s);
    let v = data.values;
    if v.len() < 2 * w {
        return;
    }
    // Values inside known breaks count as absent here.
    let in_break = |i: usize| {
        let t = span_start(data, i);
        let t_end = t.saturating_add(i64::from(data.interval_s));
        data.breaks.iter().any(|&(s, e)| s < t_end && t < e)
    };
    let kept: Vec<Option<i64>> = (0..v.len())
        .map(|i| if in_break(i) { None } else { v[i] })
        .collect();
    let v = &kept[..];
    let candidates = find(v, w, s);
    // One alert per cluster of candidate boundaries (runs less than a window apart merge: a
    // daily cycle can interrupt the run around one real change).
    let mut clusters: Vec<(usize, usize)> = Vec::new();
    for (from, to) in runs(v.len(), |i| candidates[i].is_some()) {
        match clusters.last_mut() {
            Some(last) if from - last.1 < w => last.1 = to,
            _ => clusters.push((from, to)),
        }
    }
    for (from, to) in clusters {
        let mut best = from;
        for b in from..to {
            if let (Some(c), Some(bc)) = (candidates[b], candidates[best]) {
                if c.0 > bc.0 {
                    best = b;
                }
            }
        }
        let Some((_, m0, m1, mad)) = candidates[best] else {
            continue;
        };
        // The change may lie a little before the first boundary whose windows pass the test
        // (near it the mixed window still fails the MAD bound): search from a window earlier.
        let best = if m0 > 0 {
            locate_step(v, from.saturating_sub(w).max(w), to, w, m0, m1)
        } else {
            best
        };
        let change = m1 - m0;
        let days = hours(w, data.interval_s) / 24.0;
        let reason = format!(
            "the median of the {days:.1} days from here is {m1}, against {m0} over the {days:.1} days before: a change of {change}, more than {}×MAD ({mad}) and more than {}‰ of the level",
            s.level_k_mad, s.level_min_change_permille
        );
        out.push(alert(
            data,
            AlertKind::LevelShift,
            best,
            best + w,
            Evidence {
                values: Vec::new(),
                observed: Some(m1),
                baseline: Some(m0),
                mad: Some(mad),
                threshold: Some(change),
                reason,
            },
        ));
    }
}

/// Whether medians `m0` before and `m1` after a boundary, with spreads `mad0` and `mad1`,
/// make a level-shift candidate, and its [`Shift`].
fn shift_test(m0: i64, m1: i64, mad: impl FnOnce() -> (i64, i64), s: &Settings) -> Option<Shift> {
    let change = m1.saturating_sub(m0).saturating_abs();
    let level = m0.saturating_abs().max(m1.saturating_abs());
    // The relative test first: it needs only the medians.
    if change <= permille(level, s.level_min_change_permille) {
        return None;
    }
    let (mad0, mad1) = mad();
    let mad = mad0.max(mad1);
    if change <= s.level_k_mad.saturating_mul(mad) {
        return None;
    }
    let score =
        i64::try_from(i128::from(change) * 1000 / i128::from(mad.max(1))).unwrap_or(i64::MAX);
    Some((score, m0, m1, mad))
}

/// Candidate boundaries `b` in `w..=v.len() − w`: the windows `v[b−w..b]` and `v[b..b+w]`
/// each hold at least half their values, and their medians differ by more than
/// [`Settings::level_min_change_permille`] of the larger and by more than
/// [`Settings::level_k_mad`] × the larger MAD. The windows slide one value at a time through
/// order-statistic counts ([`rank::RankCounts`]), so each boundary's medians cost O(log n),
/// and the MADs are found (by bisection on the deviation) only where the medians already
/// differ by enough. Exactly the statistics of [`median_mad`] over each window's values
/// (a test holds it equal to recomputing them at every boundary).
fn shift_candidates(v: &[Option<i64>], w: usize, s: &Settings) -> Vec<Option<Shift>> {
    let mut candidates: Vec<Option<Shift>> = vec![None; v.len()];
    if w == 0 || v.len() < 2 * w {
        return candidates;
    }
    let mut distinct: Vec<i64> = v.iter().flatten().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut before = rank::RankCounts::new(&distinct);
    let mut after = rank::RankCounts::new(&distinct);
    let ranks: Vec<Option<usize>> = v.iter().map(|x| x.and_then(|x| before.rank(x))).collect();
    ranks[..w].iter().flatten().for_each(|&r| before.insert(r));
    ranks[w..2 * w]
        .iter()
        .flatten()
        .for_each(|&r| after.insert(r));
    for b in w..=v.len() - w {
        if b > w {
            // Slide both windows one interval on: v[b − 1] leaves `after` for `before`.
            if let Some(r) = ranks[b - w - 1] {
                before.remove(r);
            }
            if let Some(r) = ranks[b - 1] {
                after.remove(r);
                before.insert(r);
            }
            if let Some(r) = ranks[b + w - 1] {
                after.insert(r);
            }
        }
        // Each side needs at least half its values.
        if before.len() * 2 < w || after.len() * 2 < w {
            continue;
        }
        let (Some(m0), Some(m1)) = (before.median(), after.median()) else {
            continue;
        };
        let mads = || (before.mad(m0).unwrap_or(0), after.mad(m1).unwrap_or(0));
        candidates[b] = shift_test(m0, m1, mads, s);
    }
    candidates
}

/// [`shift_candidates`] the straightforward way: both windows' medians and MADs recomputed
/// from their values at every boundary (O(w) each). The reference the fast one is tested
/// against.
#[cfg(test)]
fn shift_candidates_naive(v: &[Option<i64>], w: usize, s: &Settings) -> Vec<Option<Shift>> {
    let mut candidates: Vec<Option<Shift>> = vec![None; v.len()];
    let mut before = Vec::with_capacity(w);
    let mut after = Vec::with_capacity(w);
    for b in w..=v.len() - w {
        before.clear();
        before.extend(v[b - w..b].iter().flatten());
        after.clear();
        after.extend(v[b..b + w].iter().flatten());
        // Each side needs at least half its values.
        if before.len() * 2 < w || after.len() * 2 < w {
            continue;
        }
        let (Some((m0, mad0)), Some((m1, mad1))) =
            (median_mad(&mut before), median_mad(&mut after))
        else {
            continue;
        };
        candidates[b] = shift_test(m0, m1, || (mad0, mad1), s);
    }
    candidates
}

/// The boundary `b` in `[from, to)` where the level changed from `m0` to `m1`, found from
/// each value's ratio to the value one window (`w` intervals) earlier — the same time of the
/// same weekday with 7-day windows, so daily and weekly cycles cancel: before the change the
/// ratio is about 1, after it about `m1/m0`. Least `Σ_{j<b} |q_j − 1| + Σ_{j≥b} |q_j − m1/m0|`
/// (an L1 change point, ratios in ‰ clamped to 0–10 000, intervals whose earlier value is not
/// positive skipped); earliest on ties. Ratios, not differences, because a meter fault (a CT
/// ratio, a unit) scales every value, and a day-long swing in production then weighs no more
/// in the busy hours than in the quiet ones. Needs `from ≥ w` and `m0 > 0`.
fn locate_step(v: &[Option<i64>], from: usize, to: usize, w: usize, m0: i64, m1: i64) -> usize {
    let ratio = |x: i64, e: i64| (i128::from(x) * 1000 / i128::from(e)).clamp(0, 10_000);
    let target = ratio(m1, m0.max(1));
    // cost(b) − cost(from) = Σ_{from≤j<b} (|q_j − 1000| − |q_j − target|).
    let mut best = (0i128, from);
    let mut running = 0i128;
    for j in from..to {
        let earlier = j.checked_sub(w).and_then(|k| v.get(k)).copied().flatten();
        if let (Some(x), Some(e)) = (v.get(j).copied().flatten(), earlier) {
            if e > 0 {
                let q = ratio(x, e);
                running += (q - 1000).abs() - (q - target).abs();
            }
        }
        if running < best.0 {
            best = (running, j + 1);
        }
    }
    best.1.min(to.saturating_sub(1)).max(from)
}

fn pv_at_night(data: &MeterData<'_>, s: &Settings, out: &mut Vec<Alert>) {
    let floor = data.rated_per_interval.map_or(s.pv_night_floor_milli, |r| {
        permille(r, s.pv_night_floor_permille_of_rated)
    });
    let step = i64::from(data.interval_s);
    let points = |i: usize| {
        let t0 = span_start(data, i);
        [t0, t0 + step / 2, t0 + step]
    };
    let sun = |i: usize| -> f64 {
        points(i)
            .iter()
            .map(|&t| elevation_deg(t, s.latitude_deg, s.longitude_deg))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    // Dark all interval: below the threshold at all three points (in daylight the first
    // point already decides).
    let night_and_producing = |i: usize| match data.values[i] {
        Some(x) if x > floor => points(i)
            .iter()
            .all(|&t| elevation_deg(t, s.latitude_deg, s.longitude_deg) < s.night_elevation_deg),
        _ => false,
    };
    for (from, to) in runs(data.values.len(), night_and_producing) {
        let peak = data.values[from..to].iter().flatten().copied().max();
        let highest_sun = (from..to).map(sun).fold(f64::NEG_INFINITY, f64::max);
        let reason = format!(
            "PV meter reports up to {} in {} interval(s) while the sun is at most {highest_sun:.1}° (below {:.1}°) at {:.2}°N {:.2}°E; generation above the floor {floor} is impossible in the dark",
            peak.unwrap_or(0),
            to - from,
            s.night_elevation_deg,
            s.latitude_deg,
            s.longitude_deg
        );
        out.push(alert(
            data,
            AlertKind::PvAtNight,
            from,
            to,
            Evidence {
                values: Vec::new(),
                observed: peak,
                baseline: None,
                mad: None,
                threshold: Some(floor),
                reason,
            },
        ));
    }
}

/// Whether interval `i` lies wholly within the idle local hours.
fn in_idle_hours(data: &MeterData<'_>, idle: IdleSchedule, s: &Settings, i: usize) -> bool {
    let t0 = span_start(data, i);
    let last = t0 + i64::from(data.interval_s) - 1;
    let mut t = t0;
    // Check every local hour the interval touches.
    while t <= last {
        let hour = time::local_hour(t, s.utc_offset_s);
        if idle.hours_mask & (1 << hour) == 0 {
            return false;
        }
        t += time::HOUR_S - time::local_second(t, s.utc_offset_s) % time::HOUR_S;
    }
    true
}

fn idle_consumption(data: &MeterData<'_>, idle: IdleSchedule, s: &Settings, out: &mut Vec<Alert>) {
    let flag = |i: usize| match data.values[i] {
        Some(x) if x > idle.floor => in_idle_hours(data, idle, s, i),
        _ => false,
    };
    for (from, to) in runs(data.values.len(), flag) {
        let vals = data.values[from..to].iter().flatten();
        let peak = vals.clone().copied().max();
        let total: i64 = vals.fold(0i64, |a, &x| a.saturating_add(x));
        let reason = format!(
            "{} interval(s) in the idle hours (local mask {:#08x}) read above the idle floor {}: up to {}, {total} in all",
            to - from,
            idle.hours_mask,
            idle.floor,
            peak.unwrap_or(0)
        );
        out.push(alert(
            data,
            AlertKind::IdleConsumption,
            from,
            to,
            Evidence {
                values: Vec::new(),
                observed: peak,
                baseline: None,
                mad: None,
                threshold: Some(idle.floor),
                reason,
            },
        ));
    }
}

#[cfg(test)]
mod tests;
