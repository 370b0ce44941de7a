//! Assembling a report: the log up to a checkpoint → accounting inputs → figures + provenance.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use tanji_accounting::{
    FactorLookup as _, Inputs, IntervalSeries, NamedFactor, Options, SeriesFactors, TableFactors,
};
use tanji_ledger::{open_checkpoint, NoteVerifier};
use tanji_readings::SignedUpload;
use tanji_store::{ChannelRef, ChannelRow, Store, StoreError};
use tanji_units::{Carrier, Unit};

/// Enthalpy of steam metered by mass when the meter gives no pressure and temperature:
/// saturated steam at 1.0 MPa (absolute), kJ/kg.
pub const STEAM_ENTHALPY_KJ_PER_KG: f64 = 2777.1;
/// Where [`STEAM_ENTHALPY_KJ_PER_KG`] comes from.
pub const STEAM_ENTHALPY_SOURCE: &str = "saturated steam at 1.0 MPa(a), IAPWS-IF97 steam tables \
(h'' = 2777.1 kJ/kg); used for steam metered by mass without pressure and temperature";

use crate::doc::{
    CheckpointDoc, EnterpriseDoc, FactorCoverage, FactorsDoc, FilledShare, FixedFactorDoc,
    InputsDoc, IssueDoc, LeafDoc, LogDoc, MeterDoc, Methods, Parameters, PeriodDoc, Provenance,
    ReportDoc, ScopeDoc, SteamEnthalpyDoc, Totals,
};
use crate::gather::{load_factors, load_inputs, series_span, Factors, LogView};
use crate::{rfc3339, Finding, ReportError, FORMAT};

/// Whose report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One enterprise, by id.
    Enterprise(String),
    /// Every enterprise of the park, and park totals.
    Park,
}

/// The fixed annual factor for the comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FixedChoice {
    /// A value in tCO2/MWh (`--fixed-factor`).
    Given(f64),
    /// The publication's calibration target for the region if its manifest has one, else the
    /// series' consumption-weighted mean.
    Default,
}

/// What to report.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Whose figures.
    pub scope: Scope,
    /// `[start, end)` Unix seconds; `None` = all data of the scope.
    pub period: Option<(i64, i64)>,
    /// Factor publication id or name; `None` = the latest publication.
    pub factors: Option<String>,
    /// Region of the publication; `None` = its only region.
    pub region: Option<String>,
    /// The fixed factor of the comparison.
    pub fixed: FixedChoice,
    /// The checkpoint (tree size) to report at; `None` = the latest checkpoint.
    pub checkpoint_size: Option<u64>,
    /// Local time offset, seconds (China Standard Time: 28 800).
    pub utc_offset_s: i32,
    /// Check again the device signature of every upload the figures use. The log's integrity
    /// is always checked (every entry read is re-hashed into the signed checkpoint's root), and
    /// a record's signature was checked before it was logged, so a report does not need this;
    /// the audit asks for it, because it trusts nothing the operator did.
    pub device_signatures: bool,
    /// Where the readings come from.
    pub source: Source,
    /// An enterprise inputs publication (`name@vN` or name): green certificates and purchases
    /// (market-based figure), output (intensities), production records (products and CBAM).
    pub inputs: Option<String>,
    /// Run anomaly detection on every meter's series and list each alert as an
    /// `anomaly_<kind>` data issue with its effect (`crate::anomalies`); recorded in the
    /// parameters, so the audit recomputes them.
    pub anomalies: bool,
}

/// Where a report reads the meter readings from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The reporting index the store keeps beside the log (written in the same transaction
    /// as each upload): fast, and only the scope's meters and period are read. The leaf
    /// hashes are checked into the signed root; that the index holds exactly the logged values
    /// is what `tanji audit` checks, recomputing from the log.
    Index,
    /// Every logged entry, decoded and re-hashed into the signed root: what the audit uses.
    Log,
}

impl Request {
    /// An enterprise or park request with the defaults: all data, latest publication and
    /// checkpoint, default fixed factor, UTC+8.
    pub fn new(scope: Scope) -> Request {
        Request {
            scope,
            period: None,
            factors: None,
            region: None,
            fixed: FixedChoice::Default,
            checkpoint_size: None,
            utc_offset_s: 8 * 3600,
            device_signatures: false,
            source: Source::Index,
            inputs: None,
            anomalies: false,
        }
    }
}

/// A built report and anything wrong with the log it was built from (undecodable entries,
/// uploads whose device signature does not verify): `tanji report` refuses to write a report
/// with problems; the audit lists them.
#[derive(Debug)]
pub struct Built {
    /// The report.
    pub doc: ReportDoc,
    /// Problems found in the log.
    pub problems: Vec<Finding>,
}

fn scope_of(carrier: Carrier) -> &'static str {
    match carrier {
        Carrier::ElectricityImport | Carrier::ElectricityExport | Carrier::PvGeneration => "scope2",
        Carrier::Steam | Carrier::Heat => "scope2_heat",
        _ => "scope1",
    }
}

/// A channel's conversion: `v / 10^decimals` in `from` as thousandths of `to`, rounded half
/// away from zero (`v × num / den`); `None` if the units do not convert or it overflows.
#[derive(Clone, Copy)]
struct ToMilli {
    num: i128,
    den: i128,
    /// The ratio when it is a whole number (the usual case, 3 decimals in the meter's own
    /// unit: 1): then the conversion is a multiplication.
    times: Option<i64>,
}

impl ToMilli {
    fn new(decimals: u8, from: Unit, to: Unit) -> Option<ToMilli> {
        let r = from.factor_to(to)?;
        let num = i128::from(r.num) * 1000;
        let den = i128::from(r.den) * 10i128.checked_pow(u32::from(decimals))?;
        let times = (num % den == 0)
            .then(|| i64::try_from(num / den).ok())
            .flatten();
        Some(ToMilli { num, den, times })
    }

    fn apply(self, v: i64) -> Option<i64> {
        if let Some(x) = self.times.and_then(|k| v.checked_mul(k)) {
            return Some(x);
        }
        let n = i128::from(v) * self.num;
        let q = (2 * n.abs() + self.den) / (2 * self.den);
        i64::try_from(if n < 0 { -q } else { q }).ok()
    }
}

/// One meter's data in the period.
struct MeterData {
    reg_index: u64,
    device: String,
    carrier: Carrier,
    unit: Unit,
}

fn overlaps(c: &Row<'_>, start: i64, end: i64) -> bool {
    c.end() > start && c.start < end
}

/// One enterprise's readings: each row's fields, its values in one buffer and its names
/// stored once (a park-year is some 110 000 rows: one allocation each would cost more than
/// reading them).
#[derive(Default)]
struct Readings {
    rows: Vec<RowMeta>,
    values: Vec<i64>,
    names: Vec<String>,
    ids: std::collections::HashMap<String, u32>,
    /// The device, meter and unit of the last row added.
    last_ids: (u32, u32, u32),
}

struct RowMeta {
    index: u64,
    device: u32,
    seq: u64,
    meter: u32,
    start: i64,
    interval_s: u32,
    unit: u32,
    decimals: u8,
    values: (usize, usize),
}

/// A row of [`Readings`]: what a [`ChannelRow`] says, borrowed.
#[derive(Clone, Copy)]
struct Row<'a> {
    index: u64,
    device: &'a str,
    seq: u64,
    meter: &'a str,
    start: i64,
    interval_s: u32,
    unit: &'a str,
    decimals: u8,
    values: &'a [i64],
}

impl Row<'_> {
    /// End of the last interval (`start` if there are no values), saturating.
    fn end(&self) -> i64 {
        let n = i64::try_from(self.values.len()).unwrap_or(i64::MAX);
        self.start
            .saturating_add(n.saturating_mul(i64::from(self.interval_s)))
    }
}

/// A hash in lower-case hex (as `hex::encode`, through its table-driven slice encoder: a
/// park-year report lists some 37 000 leaves).
fn hex32(h: &[u8; 32]) -> String {
    let mut buf = [0u8; 64];
    match hex::encode_to_slice(h, &mut buf) {
        Ok(()) => buf.iter().map(|&b| char::from(b)).collect(),
        Err(_) => hex::encode(h),
    }
}

impl Readings {
    fn id(&mut self, name: &str) -> u32 {
        // Rows of one meter nearly always repeat the names of the row before.
        if let Some(i) = [self.last_ids.0, self.last_ids.1, self.last_ids.2]
            .into_iter()
            .find(|&i| self.names.get(i as usize).is_some_and(|n| n == name))
        {
            return i;
        }
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), i);
        i
    }

    /// Adds a row of the index, unpacking its values.
    fn push_packed(&mut self, meter: &str, r: ChannelRef<'_>) -> Result<(), StoreError> {
        let from = self.values.len();
        tanji_store::unpack_into(r.packed, &mut self.values, &|| r.describe(meter))?;
        self.push_fields(ChannelRef { packed: &[], ..r }, meter, from);
        Ok(())
    }

    /// Records the row whose values were just appended from `from` on.
    fn push_fields(&mut self, r: ChannelRef<'_>, meter: &str, from: usize) {
        let meta = RowMeta {
            index: r.index,
            device: self.id(r.device),
            seq: r.seq,
            meter: self.id(meter),
            start: r.start,
            interval_s: r.interval_s,
            unit: self.id(r.unit),
            decimals: r.decimals,
            values: (from, self.values.len()),
        };
        self.last_ids = (meta.device, meta.meter, meta.unit);
        self.rows.push(meta);
    }

    /// Adds a row decoded from the log.
    fn push_row(&mut self, r: &ChannelRow) {
        let from = self.values.len();
        self.values.extend_from_slice(&r.values);
        let fields = ChannelRef {
            index: r.index,
            device: &r.device,
            seq: r.seq,
            start: r.start,
            interval_s: r.interval_s,
            unit: &r.unit,
            decimals: r.decimals,
            packed: &[],
        };
        self.push_fields(fields, &r.meter, from);
    }

    fn rows(&self) -> impl Iterator<Item = Row<'_>> + '_ {
        let name = |i: u32| self.names.get(i as usize).map_or("", String::as_str);
        self.rows.iter().map(move |m| Row {
            index: m.index,
            device: name(m.device),
            seq: m.seq,
            meter: name(m.meter),
            start: m.start,
            interval_s: m.interval_s,
            unit: name(m.unit),
            decimals: m.decimals,
            values: self.values.get(m.values.0..m.values.1).unwrap_or(&[]),
        })
    }
}

/// Builds the series of one meter over `[start, end)`.
fn series_of(
    meter: &str,
    m: &MeterData,
    channels: &[Row<'_>],
    start: i64,
    end: i64,
    issues: &mut Vec<IssueDoc>,
) -> Option<IntervalSeries> {
    let iv = channels.iter().map(|c| c.interval_s).min()?;
    let iv_i = i64::from(iv);
    let s0 = start.div_euclid(iv_i) * iv_i;
    let n = usize::try_from((end - s0 + iv_i - 1) / iv_i).ok()?;
    let mut values: Vec<Option<i64>> = vec![None; n];
    // A meter's channels nearly always share one unit: parse it once.
    let mut unit_of: Option<(&str, Unit)> = None;
    for c in channels {
        let index = c.index;
        let parsed = match unit_of {
            Some((text, u)) if text == c.unit => Ok(u),
            _ => c.unit.parse::<Unit>(),
        };
        if let Ok(u) = parsed {
            unit_of = Some((c.unit, u));
        }
        let Ok(cu) = parsed else {
            issues.push(IssueDoc {
                kind: "unconvertible".into(),
                subject: format!("meter {meter}"),
                message: format!(
                    "entry {index}: unit {:?} is unknown; its values are not counted",
                    c.unit
                ),
            });
            continue;
        };
        if c.interval_s % iv != 0 {
            issues.push(IssueDoc {
                kind: "interval_mismatch".into(),
                subject: format!("meter {meter}"),
                message: format!(
                    "entry {index}: {} s intervals do not divide into the meter's {iv} s series; its values are not counted",
                    c.interval_s
                ),
            });
            continue;
        }
        let k = i64::from(c.interval_s / iv);
        let scale = ToMilli::new(c.decimals, cu, m.unit);
        // The usual case — the series' own interval, thousandths of its own unit, aligned —
        // is a plain copy into the slots the channel covers (the general loop below gives the
        // same result, more slowly).
        if k == 1 && scale.is_some_and(|s| s.times == Some(1)) && (c.start - s0) % iv_i == 0 {
            let first = (c.start - s0) / iv_i;
            let skip = usize::try_from(-first).unwrap_or(0);
            let at = usize::try_from(first).unwrap_or(0);
            let take = n.saturating_sub(at);
            for (cell, &v) in values[at.min(n)..]
                .iter_mut()
                .zip(c.values.iter().skip(skip).take(take))
            {
                *cell = Some(cell.unwrap_or(0) + v);
            }
            continue;
        }
        for (i, &v) in c.values.iter().enumerate() {
            let t = c.start + i as i64 * i64::from(c.interval_s);
            let Some(milli) = scale.and_then(|s| s.apply(v)) else {
                issues.push(IssueDoc {
                    kind: "unconvertible".into(),
                    subject: format!("meter {meter}"),
                    message: format!(
                        "entry {index}, value {i}: {v} ×10^-{} {} does not convert to {}; not counted",
                        c.decimals, c.unit, m.unit.code()
                    ),
                });
                continue;
            };
            // Split a coarser interval evenly (exact: the parts sum to the whole).
            for j in 0..k {
                let ts = t + j * iv_i;
                if ts < s0 {
                    continue;
                }
                let slot = usize::try_from((ts - s0) / iv_i).unwrap_or(usize::MAX);
                if slot >= n {
                    continue;
                }
                let part = if k == 1 {
                    milli
                } else {
                    milli * (j + 1) / k - milli * j / k
                };
                let cell = &mut values[slot];
                *cell = Some(cell.unwrap_or(0) + part);
            }
        }
    }
    Some(IntervalSeries {
        meter: meter.to_string(),
        carrier: m.carrier,
        unit: m.unit,
        fuel: None,
        start: s0,
        interval_s: iv,
        values,
    })
}

fn weighted_mean(series: &tanji_factors::Series, region: &str) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for r in series.rows.iter().filter(|r| r.region == region) {
        if let Some(x) = r.consumption_direct {
            num += x * r.consumption_mwh;
            den += r.consumption_mwh;
        }
    }
    (den > 0.0).then(|| num / den)
}

fn fixed_factor(
    fixed: FixedChoice,
    f: &Factors,
    region: &str,
) -> Result<FixedFactorDoc, ReportError> {
    if let FixedChoice::Given(t) = fixed {
        if !(t.is_finite() && t >= 0.0) {
            return Err(ReportError::Request(format!(
                "fixed factor {t} tCO2/MWh is not a finite, non-negative number"
            )));
        }
        return Ok(FixedFactorDoc {
            t_per_mwh: t,
            basis: "given".into(),
            source: format!("given by the report's requester ({t} tCO2/MWh)"),
        });
    }
    if let Some((_, t)) = f.calibrations.iter().find(|(r, _)| r == region) {
        return Ok(FixedFactorDoc {
            t_per_mwh: *t,
            basis: "calibration_target".into(),
            source: format!(
                "the official annual figure publication {} was calibrated to for {region} ({t} tCO2/MWh)",
                f.id
            ),
        });
    }
    let g = weighted_mean(&f.series, region).ok_or_else(|| {
        ReportError::Factors(format!(
            "{}: region {region} has no factors to average; give --fixed-factor",
            f.id
        ))
    })?;
    let t = (g * 10.0).round() / 10_000.0;
    Ok(FixedFactorDoc {
        t_per_mwh: t,
        basis: "weighted_mean".into(),
        source: format!(
            "consumption-weighted mean of publication {} for {region} ({t} tCO2/MWh)",
            f.id
        ),
    })
}

fn totals(reports: &[EnterpriseDoc]) -> Totals {
    let get = |v: &serde_json::Value, path: &[&str]| -> i64 {
        let mut cur = v;
        for p in path {
            match cur.get(p) {
                Some(x) => cur = x,
                None => return 0,
            }
        }
        cur.as_i64().unwrap_or(0)
    };
    let mut t = Totals {
        enterprises: reports.len() as u64,
        scope1_g: 0,
        scope2_location_g: 0,
        scope2_market_g: 0,
        import_wh: 0,
        export_wh: 0,
        pv_self_consumed_wh: 0,
        consumption_wh: 0,
        fixed_g: 0,
        dynamic_g: 0,
        difference_g: 0,
        difference_pct: None,
        green_wh: 0,
        green_share: None,
        factor_coverage: None,
        filled_share: None,
    };
    for r in reports {
        let f = &r.figures;
        t.scope1_g += get(f, &["scope1", "fossil_g"]);
        t.scope2_location_g += get(f, &["scope2_location", "total_g"]);
        t.scope2_market_g += get(f, &["scope2_market", "total_g"]);
        t.import_wh += get(f, &["scope2_location", "import_wh"]);
        t.export_wh += get(f, &["scope2_location", "export_wh"]);
        t.pv_self_consumed_wh += get(f, &["scope2_location", "pv_self_consumed_wh"]);
        t.consumption_wh += get(f, &["scope2_location", "consumption_wh"]);
        t.fixed_g += get(f, &["comparison", "fixed_g"]);
        t.dynamic_g += get(f, &["comparison", "dynamic_g"]);
        t.difference_g += get(f, &["comparison", "difference_g"]);
        t.green_wh += get(f, &["indicators", "green_wh"]);
    }
    t.difference_pct = (t.fixed_g != 0).then(|| t.difference_g as f64 / t.fixed_g as f64 * 100.0);
    t.green_share = (t.consumption_wh > 0).then(|| t.green_wh as f64 / t.consumption_wh as f64);
    t
}

/// Where the logged data of every meter of `enterprises` begins and ends (start of its first
/// interval, end of its last), from the reporting index or the decoded log rows.
fn data_extents<S: Store>(
    store: &S,
    size: u64,
    source: Source,
    enterprises: &[String],
    by_enterprise: &BTreeMap<String, BTreeMap<String, MeterData>>,
    log_rows: &BTreeMap<&str, Readings>,
) -> Result<BTreeMap<String, (i64, i64)>, ReportError> {
    let mut extents: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    match source {
        Source::Index => {
            for meters in enterprises.iter().filter_map(|e| by_enterprise.get(e)) {
                for meter in meters.keys() {
                    if let Some(x) = store.channels_extent(meter, size)? {
                        extents.insert(meter.clone(), x);
                    }
                }
            }
        }
        Source::Log => {
            for r in log_rows.values().flat_map(Readings::rows) {
                if r.values.is_empty() {
                    continue;
                }
                let x = (r.start, r.end());
                extents
                    .entry(r.meter.to_string())
                    .and_modify(|(a, b)| {
                        *a = (*a).min(x.0);
                        *b = (*b).max(x.1);
                    })
                    .or_insert(x);
            }
        }
    }
    Ok(extents)
}

/// A meter's life: from its first logged interval (or its first registration, if that is
/// earlier) to the end of its last logged interval; `None` without logged data. Gap filling
/// is for holes inside it: before a meter existed and after it stopped there is nothing to
/// fill.
fn meter_life(
    extent: Option<(i64, i64)>,
    regs: &[(u64, tanji_readings::DeviceRegistration)],
) -> Option<(i64, i64)> {
    let (first, last) = extent?;
    let registered = regs.iter().map(|(_, r)| r.registered_at).min();
    Some((registered.map_or(first, |r| r.min(first)), last))
}

/// Whether `lookup` gives a factor for the whole of `[t, t + len)`.
fn has_factor(lookup: &TableFactors, t: i64, len: i64) -> bool {
    let mut cur = t;
    while let Some(f) = lookup.factor_at(cur) {
        if f.end >= t + len {
            return true;
        }
        if f.end <= cur {
            return false;
        }
        cur = f.end;
    }
    false
}

/// How far `lookup` covers the grid intervals (electricity import and export) of `series`
/// that start in `[start, end)`: (intervals, intervals without a factor).
fn grid_coverage(
    series: &[IntervalSeries],
    start: i64,
    end: i64,
    lookup: &TableFactors,
) -> (u64, u64) {
    let (mut n, mut without) = (0u64, 0u64);
    for s in series.iter().filter(|s| {
        matches!(
            s.carrier,
            Carrier::ElectricityImport | Carrier::ElectricityExport
        )
    }) {
        let iv = i64::from(s.interval_s);
        for i in 0..s.values.len() {
            let t = s.start + i as i64 * iv;
            if t < start || t >= end {
                continue;
            }
            n += 1;
            if !has_factor(lookup, t, iv) {
                without += 1;
            }
        }
    }
    (n, without)
}

/// The share of `meters`' values that are filled.
fn filled_share(meters: &[MeterDoc]) -> FilledShare {
    let values: u64 = meters.iter().map(|m| m.intervals).sum();
    let filled_values: u64 = meters.iter().map(|m| m.missing).sum();
    share_of(filled_values, values)
}

fn share_of(filled_values: u64, values: u64) -> FilledShare {
    FilledShare {
        filled_values,
        values,
        share: if values > 0 {
            filled_values as f64 / values as f64
        } else {
            0.0
        },
    }
}

/// The factor coverage of every report of `reports`, summed.
fn sum_coverage(id: &str, span: Option<(i64, i64)>, reports: &[EnterpriseDoc]) -> FactorCoverage {
    let (intervals, without) = reports
        .iter()
        .filter_map(|r| r.factor_coverage.as_ref())
        .fold((0, 0), |(n, w), c| {
            (n + c.intervals, w + c.intervals_without_factor)
        });
    FactorCoverage {
        series: id.to_string(),
        series_from: span.map_or_else(String::new, |(a, _)| rfc3339(a)),
        series_to: span.map_or_else(String::new, |(_, b)| rfc3339(b)),
        intervals,
        intervals_without_factor: without,
        complete: without == 0,
    }
}

/// The data issue of a factor series that does not cover every grid interval of the report:
/// which series, its span, the period asked, what it does to the figures and how to fix it.
fn coverage_issue(
    c: &FactorCoverage,
    region: &str,
    period: (i64, i64),
    fixed: &FixedFactorDoc,
    short: &[&str],
) -> IssueDoc {
    IssueDoc {
        kind: "factor_coverage".into(),
        subject: format!("factors {}", c.series),
        message: format!(
            "factor series {} ({region}) covers {} to {}, but the period asked is {} to {}: \
{} of {} grid intervals ({}) have no hourly factor and are counted at the fixed annual factor \
{} tCO2/MWh, so for them the dynamic figure is the fixed one and the fixed-vs-dynamic \
difference says nothing. Publish a factor series covering the period (`tanji factors compute \
--generation GENERATION.csv --out factors.csv && tanji factors publish factors.csv --dir \
PARK_DIR`, with generation data for those dates) and report with `--factors NAME`, or report \
a period inside the series' span (`--from`, `--to`).",
            c.series,
            c.series_from,
            c.series_to,
            rfc3339(period.0),
            rfc3339(period.1),
            c.intervals_without_factor,
            c.intervals,
            short.join(", "),
            fixed.t_per_mwh,
        ),
    }
}

/// Sequence gaps of `device`, given its logged sequence numbers (over the whole log up to
/// the checkpoint).
fn sequence_gaps(device: &str, seqs: Option<&BTreeSet<u64>>, issues: &mut Vec<IssueDoc>) {
    let mut expect = 1;
    for &s in seqs.into_iter().flatten() {
        if s > expect {
            issues.push(IssueDoc {
                kind: "sequence_gap".into(),
                subject: format!("device {device}"),
                message: format!(
                    "records {expect}..={} of {device} are not in the log: the intervals they would cover show as gaps",
                    s - 1
                ),
            });
        }
        expect = s + 1;
    }
}

/// Builds the report `req` from `store`'s log, checking the checkpoint and the factor
/// publication with `verifier`.
pub fn build<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    req: &Request,
) -> Result<Built, ReportError> {
    // One snapshot for every read: the figures, the leaves and the checkpoint belong together.
    let _snapshot = store.read_snapshot()?;
    let origin = store
        .meta("origin")?
        .ok_or_else(|| ReportError::Log("the store names no origin".into()))?;
    let park = store.meta("park")?.unwrap_or_default();
    // The checkpoint.
    let checkpoints = store.checkpoints()?;
    let (size, note) = match req.checkpoint_size {
        None => checkpoints.last().cloned(),
        Some(s) => checkpoints.iter().rev().find(|(n, _)| *n == s).cloned(),
    }
    .ok_or_else(|| {
        ReportError::Request(match req.checkpoint_size {
            Some(s) => format!("the log has no checkpoint at size {s}"),
            None => "the log has no checkpoint".into(),
        })
    })?;
    let cp = open_checkpoint(&note, verifier).map_err(|e| {
        ReportError::Log(format!(
            "the checkpoint at size {size} does not verify with {verifier}: {e}"
        ))
    })?;
    if cp.size != size || cp.origin != origin {
        return Err(ReportError::Log(format!(
            "the checkpoint stored for size {size} says origin {:?} size {}",
            cp.origin, cp.size
        )));
    }
    // Read from the index only when it is complete; a store made before it existed is read
    // from the log until the park rebuilds the index.
    let source = match req.source {
        Source::Index if store.channels_complete()? => Source::Index,
        _ => Source::Log,
    };
    // The leaves, folded into the tree they must form: this ties every entry the report lists
    // to the signed root. From the log, every entry's bytes are re-hashed first.
    let mut view = match source {
        Source::Index => LogView::read_headers(store, size)?,
        Source::Log => LogView::read(store, size)?,
    };
    let mut frontier = tanji_ledger::Frontier::new();
    let mut scratch = Vec::with_capacity(64);
    for lh in &view.leaf_hashes {
        scratch.clear();
        frontier.append(*lh, &mut scratch);
    }
    let mut problems = view.problems.clone();
    if frontier.size() != size || frontier.root() != cp.root {
        let problem = format!(
            "the log's leaves 0..{size} do not hash to the signed checkpoint's root: the log was changed; run `tanji verify` to find where"
        );
        match source {
            // From the index nothing can be trusted without the tree; from the log, go on and
            // name every record that no longer verifies.
            Source::Index => return Err(ReportError::Log(problem)),
            Source::Log => problems.push(Finding {
                subject: "checkpoint".into(),
                problem,
            }),
        }
    }
    let factors = load_factors(store, &view, verifier, req.factors.as_deref())?;
    let inputs = req
        .inputs
        .as_deref()
        .map(|w| load_inputs(store, &view, verifier, w))
        .transpose()?;
    let region = match &req.region {
        Some(r) if factors.regions.contains(r) => r.clone(),
        Some(r) => {
            return Err(ReportError::Request(format!(
                "region {r:?} is not in publication {}; it has {}",
                factors.id,
                factors.regions.join(", ")
            )))
        }
        None if factors.regions.len() == 1 => factors.regions[0].clone(),
        None => {
            return Err(ReportError::Request(format!(
                "publication {} has regions {}; name one with --region",
                factors.id,
                factors.regions.join(", ")
            )))
        }
    };
    let fixed = fixed_factor(req.fixed, &factors, &region)?;
    let span = series_span(&factors.series, &region);

    // Meters by enterprise.
    let mut by_enterprise: BTreeMap<String, BTreeMap<String, MeterData>> = BTreeMap::new();
    for (meter, regs) in &view.registrations {
        let Some((index, reg)) = regs.last() else {
            continue;
        };
        let (Ok(carrier), Ok(unit)) = (reg.carrier.parse::<Carrier>(), reg.unit.parse::<Unit>())
        else {
            problems.push(Finding {
                subject: format!("entry {index} (registration of {meter})"),
                problem: format!("carrier {:?} or unit {:?} unknown", reg.carrier, reg.unit),
            });
            continue;
        };
        by_enterprise
            .entry(reg.enterprise.clone())
            .or_default()
            .insert(
                meter.clone(),
                MeterData {
                    reg_index: *index,
                    device: reg.device.clone(),
                    carrier,
                    unit,
                },
            );
    }
    let enterprises: Vec<String> = match &req.scope {
        Scope::Enterprise(e) => {
            if !by_enterprise.contains_key(e) {
                // Only the enterprise asked for: the caller may not read the others (an API
                // token of an enterprise that is not registered).
                return Err(ReportError::Request(format!(
                    "no enterprise {e:?} is registered in this log (up to entry {size}); `tanji device list` shows the registrations"
                )));
            }
            vec![e.clone()]
        }
        Scope::Park => by_enterprise.keys().cloned().collect(),
    };
    let in_scope: BTreeSet<&str> = enterprises.iter().map(String::as_str).collect();

    // The readings of the scope's meters: from the index, read enterprise by enterprise below
    // (a park report holds one enterprise's readings at a time); from the log, every upload's
    // channels, decoded already, grouped by the enterprise of the meter.
    let uploads: BTreeMap<u64, SignedUpload> =
        std::mem::take(&mut view.uploads).into_iter().collect();
    let mut log_rows: BTreeMap<&str, Readings> = BTreeMap::new();
    if source == Source::Log {
        for (&index, u) in &uploads {
            for r in tanji_park::channel_rows(u, index) {
                let Some((_, reg)) = view.meter(&r.meter) else {
                    continue;
                };
                let Some(&e) = in_scope.get(reg.enterprise.as_str()) else {
                    continue;
                };
                if by_enterprise
                    .get(e)
                    .is_some_and(|ms| ms.contains_key(&r.meter))
                {
                    log_rows.entry(e).or_default().push_row(&r);
                }
            }
        }
    }

    // Where each meter's logged data begins and ends: the default period, and each meter's
    // life (outside it a meter counts nothing and nothing is filled).
    let extents = data_extents(store, size, source, &enterprises, &by_enterprise, &log_rows)?;
    // The period: given, or all data of the scope.
    let (start, end) = match req.period {
        Some(p) => p,
        None => extents
            .values()
            .copied()
            .reduce(|(a, b), (s, e)| (a.min(s), b.max(e)))
            .ok_or_else(|| {
                ReportError::Request(format!(
                    "no accepted upload of {} is in the log (up to entry {size}); nothing to report",
                    enterprises.join(", ")
                ))
            })?,
    };
    if end <= start {
        return Err(ReportError::Request(format!(
            "period {}..{} is empty; the end must be after the start",
            rfc3339(start),
            rfc3339(end)
        )));
    }

    // Device keys, for checking again every used upload's signature when asked (decoded
    // once; `None`: not a valid key, which verifies nothing).
    let mut keys: BTreeMap<&str, Vec<Option<ed25519_dalek::VerifyingKey>>> = BTreeMap::new();
    if req.device_signatures {
        for regs in view.registrations.values() {
            for (_, r) in regs {
                keys.entry(r.device.as_str())
                    .or_default()
                    .push(ed25519_verifying(&r.public_key));
            }
        }
    }

    // Uploads of the scope in the period.
    let mut leaves: BTreeMap<u64, LeafDoc> = BTreeMap::new();
    let leaf = |index: u64, kind: &str, what: String| LeafDoc {
        index,
        kind: kind.into(),
        what,
        leaf_hash: hex32(&view.leaf_hashes[usize::try_from(index).unwrap_or(0)]),
    };
    leaves.insert(
        factors.index,
        leaf(factors.index, "publication", factors.id.clone()),
    );
    if let Some(i) = &inputs {
        leaves.insert(i.index, leaf(i.index, "publication", i.id.clone()));
    }
    // Uploads used, by the enterprise the meter belonged to when each was logged.
    let mut uploads_of: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut checked = vec![false; usize::try_from(size).unwrap_or(0)];
    // Each meter's registrations, looked up once per meter, not once per row.
    type Regs<'a> = &'a [(u64, tanji_readings::DeviceRegistration)];
    let registered: std::collections::HashMap<&str, Regs<'_>> = view
        .registrations
        .iter()
        .map(|(meter, regs)| (meter.as_str(), regs.as_slice()))
        .collect();

    // Compute.
    let lookup = TableFactors::from_series(&SeriesFactors {
        series: &factors.series,
        region: region.clone(),
        id: factors.id.clone(),
    });
    let options = Options {
        fixed_factor: Some(NamedFactor {
            // t/MWh → g/kWh, kept to 4 decimals so 0.5703 gives 570.3, not 570.3000000000001.
            value: (fixed.t_per_mwh * 10_000_000.0).round() / 10_000.0,
            source: fixed.source.clone(),
        }),
        utc_offset_s: req.utc_offset_s,
        matching: inputs
            .as_ref()
            .map_or(tanji_accounting::Matching::Annual, |i| i.file.matching),
        residual: inputs
            .as_ref()
            .map_or(tanji_accounting::Residual::ChinaExcludingTraded, |i| {
                i.file.residual.clone()
            }),
        heat: tanji_accounting::HeatFactors {
            steam_enthalpy_kj_per_kg: Some(STEAM_ENTHALPY_KJ_PER_KG),
            ..Default::default()
        },
        ..Options::default()
    };
    // Every logged sequence number of a device (for its gaps), from the log or the index.
    let mut seqs: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for u in uploads.values() {
        seqs.entry(u.body.device.as_str())
            .or_default()
            .insert(u.body.seq);
    }
    let mut issues = Vec::new();
    let mut reports = Vec::new();
    for e in &enterprises {
        let Some(meters) = by_enterprise.get(e) else {
            continue;
        };
        let readings = match source {
            Source::Index => {
                let (from, to) = req.period.unwrap_or((i64::MIN, i64::MAX));
                let mut readings = Readings::default();
                for meter in meters.keys() {
                    store.channels_packed(meter, size, from, to, &mut |r| {
                        readings.push_packed(meter, r)
                    })?;
                }
                readings
            }
            Source::Log => log_rows.remove(e.as_str()).unwrap_or_default(),
        };
        let mut per_meter: std::collections::HashMap<&str, Vec<Row<'_>>> =
            std::collections::HashMap::new();
        // Operator imports per meter: (import device, values in the period, first and last
        // entry).
        let mut imported: BTreeMap<&str, (&str, u64, u64, u64)> = BTreeMap::new();
        // Rows come grouped by meter from the index: look a meter up once per run of its rows.
        let mut last: Option<(&str, Option<Regs<'_>>)> = None;
        let mut run: (&str, Vec<Row<'_>>) = ("", Vec::new());
        for r in readings.rows() {
            let regs = match last {
                Some((m, regs)) if m == r.meter => regs,
                _ => {
                    let regs = registered.get(r.meter).copied();
                    last = Some((r.meter, regs));
                    regs
                }
            };
            let Some(regs) = regs else {
                continue;
            };
            if !overlaps(&r, start, end) {
                continue;
            }
            // The registration in force when the upload was logged (a meter whose history was
            // imported passes from its import device to its own device).
            let Some((reg_index, reg)) = regs
                .iter()
                .rev()
                .find(|(i, _)| *i < r.index)
                .or_else(|| regs.last())
            else {
                continue;
            };
            if reg.device != r.device {
                problems.push(Finding {
                    subject: format!("entry {} (upload {}#{})", r.index, r.device, r.seq),
                    problem: format!(
                        "meter {} is registered to {}, not to this device",
                        r.meter, reg.device
                    ),
                });
                continue;
            }
            if run.0 != r.meter {
                if !run.1.is_empty() {
                    per_meter.entry(run.0).or_default().append(&mut run.1);
                }
                run.0 = r.meter;
            }
            run.1.push(r);
            if let Some(list) = uploads_of.get_mut(reg.enterprise.as_str()) {
                list.push(r.index);
            } else {
                uploads_of.insert(reg.enterprise.clone(), vec![r.index]);
            }
            let import = tanji_readings::is_import_device(r.device);
            if import {
                let n = (0..r.values.len())
                    .filter(|&i| {
                        let t = r.start + i as i64 * i64::from(r.interval_s);
                        t >= start && t < end
                    })
                    .count() as u64;
                let e = imported
                    .entry(r.meter)
                    .or_insert((r.device, 0, r.index, r.index));
                e.1 += n;
                e.2 = e.2.min(r.index);
                e.3 = e.3.max(r.index);
                leaves.insert(
                    *reg_index,
                    leaf(
                        *reg_index,
                        "registration",
                        format!("{}/{}", reg.device, r.meter),
                    ),
                );
            }
            match checked.get_mut(usize::try_from(r.index).unwrap_or(usize::MAX)) {
                Some(seen) if !*seen => *seen = true,
                _ => continue,
            }
            if req.device_signatures {
                let signed = uploads.get(&r.index).is_some_and(|u| {
                    keys.get(u.body.device.as_str()).is_some_and(|ks| {
                        ks.iter()
                            .any(|k| k.as_ref().is_some_and(|vk| u.verify_signature(vk)))
                    })
                });
                if !signed {
                    problems.push(Finding {
                        subject: format!("entry {} (upload {}#{})", r.index, r.device, r.seq),
                        problem: "its device signature does not verify with the registered key: the record was changed".into(),
                    });
                }
            }
            leaves.insert(
                r.index,
                leaf(
                    r.index,
                    if import { "import" } else { "upload" },
                    format!("{}#{}", r.device, r.seq),
                ),
            );
        }
        if !run.1.is_empty() {
            per_meter.entry(run.0).or_default().append(&mut run.1);
        }
        // Log order, whichever way the rows were read.
        for cs in per_meter.values_mut() {
            cs.sort_by_key(|c| c.index);
        }

        let mut series = Vec::new();
        let mut meter_docs = Vec::new();
        let mut devices = BTreeSet::new();
        for (meter, m) in meters {
            devices.insert(m.device.clone());
            leaves.insert(
                m.reg_index,
                leaf(m.reg_index, "registration", format!("{}/{meter}", m.device)),
            );
            let channels = per_meter.get(meter.as_str()).map_or(&[][..], Vec::as_slice);
            let life = meter_life(
                extents.get(meter.as_str()).copied(),
                view.registrations.get(meter).map_or(&[][..], Vec::as_slice),
            );
            // The part of the period in the meter's life.
            let (from, to) = life.map_or((start, end), |(a, b)| (start.max(a), end.min(b)));
            let built = if from < to {
                series_of(meter, m, channels, from, to, &mut issues)
            } else {
                None
            };
            match built {
                Some(s) => {
                    if let Some((a, b)) = life.filter(|&(a, b)| a > start || b < end) {
                        issues.push(IssueDoc {
                            kind: "outside_meter_life".into(),
                            subject: format!("meter {meter}"),
                            message: format!(
                                "meter {meter} ({}) of {e} counts from {} to {} (from its first logged interval, or its registration if earlier, to its last logged interval); in the rest of the period it did not exist or had stopped: nothing is counted or filled there",
                                m.carrier.code(),
                                rfc3339(a.max(start)),
                                rfc3339(b.min(end)),
                            ),
                        });
                    }
                    // The intervals starting in the period (their starts increase with i).
                    let iv = i64::from(s.interval_s);
                    let first_at = |t: i64| {
                        let k = (t - s.start).div_euclid(iv) + i64::from((t - s.start) % iv != 0);
                        usize::try_from(k.max(0)).unwrap_or(0).min(s.values.len())
                    };
                    let in_period = &s.values[first_at(start)..first_at(end).max(first_at(start))];
                    meter_docs.push(MeterDoc {
                        meter: meter.clone(),
                        device: m.device.clone(),
                        carrier: m.carrier.code().into(),
                        unit: m.unit.code().into(),
                        scope: scope_of(m.carrier).into(),
                        interval_s: s.interval_s,
                        intervals: in_period.len() as u64,
                        missing: in_period.iter().filter(|v| v.is_none()).count() as u64,
                    });
                    if req.anomalies {
                        let reg = view.registrations.get(meter).and_then(|r| r.last());
                        let reg = reg.map(|(_, r)| r);
                        let period = (start, end);
                        crate::anomalies::add_issues(
                            e,
                            &s,
                            reg,
                            period,
                            &lookup,
                            &options,
                            &mut issues,
                        )?;
                    }
                    series.push(s);
                }
                None => issues.push(IssueDoc {
                    kind: "no_data".into(),
                    subject: format!("meter {meter}"),
                    message: format!(
                        "meter {meter} ({}) of {e} has no accepted upload in the period: it is not counted",
                        m.carrier.code()
                    ),
                }),
            }
        }
        for (meter, (device, n, first, last)) in &imported {
            if meters.contains_key(*meter) {
                issues.push(IssueDoc {
                    kind: "imported".into(),
                    subject: format!("meter {meter}"),
                    message: format!(
                        "{n} value(s) of meter {meter} in the period come from an operator import ({device}, entries {first}..={last}), not from the meter's own device"
                    ),
                });
            }
        }
        for d in &devices {
            let from_index;
            let logged = match source {
                Source::Log => seqs.get(d.as_str()),
                Source::Index => {
                    from_index = store.device_seqs(d, size)?.into_iter().collect();
                    Some(&from_index)
                }
            };
            sequence_gaps(d, logged, &mut issues);
        }
        let given = inputs.as_ref().and_then(|i| i.file.enterprises.get(e));
        let acc_inputs = Inputs {
            enterprise: e.clone(),
            period_start: start,
            period_end: end,
            series,
            certificates: given.map(|g| g.certificates.clone()).unwrap_or_default(),
            purchases: given.map(|g| g.purchases.clone()).unwrap_or_default(),
            output: given.and_then(|g| g.output.clone()),
        };
        // The enterprise's per-meter fuel choices (table, fuel, gas reference conditions).
        let with_meters;
        let opts = match given.filter(|g| !g.meters.is_empty()) {
            Some(g) => {
                with_meters = Options {
                    meter_fuels: g.meters.clone(),
                    ..options.clone()
                };
                &with_meters
            }
            None => &options,
        };
        let report = tanji_accounting::compute(&acc_inputs, &lookup, opts).map_err(|source| {
            ReportError::Accounting {
                enterprise: e.clone(),
                source,
            }
        })?;
        let (grid_intervals, without) = grid_coverage(&acc_inputs.series, start, end, &lookup);
        let coverage = FactorCoverage {
            series: factors.id.clone(),
            series_from: span.map_or_else(String::new, |(a, _)| rfc3339(a)),
            series_to: span.map_or_else(String::new, |(_, b)| rfc3339(b)),
            intervals: grid_intervals,
            intervals_without_factor: without,
            complete: without == 0,
        };
        let filled = filled_share(&meter_docs);
        let figures = serde_json::to_value(&report)
            .map_err(|err| ReportError::Format(format!("serializing the figures: {err}")))?;
        let products = match given.and_then(|g| g.products.as_ref()) {
            None => None,
            Some(pi) => {
                let p = tanji_accounting::cbam::products(&acc_inputs, &lookup, opts, pi).map_err(
                    |err| {
                        ReportError::Request(format!(
                            "products of {e} (inputs {}): {err}",
                            inputs.as_ref().map_or("", |i| i.id.as_str())
                        ))
                    },
                )?;
                Some(serde_json::to_value(&p).map_err(|err| {
                    ReportError::Format(format!("serializing the products: {err}"))
                })?)
            }
        };
        reports.push(EnterpriseDoc {
            enterprise: e.clone(),
            meters: meter_docs,
            // Counted below, once every enterprise's rows are read.
            uploads: 0,
            figures,
            products,
            factor_coverage: Some(coverage),
            filled_share: Some(filled),
        });
    }
    // A series that does not cover the period: said loudly, first.
    let short: Vec<&str> = reports
        .iter()
        .filter(|r| r.factor_coverage.as_ref().is_some_and(|c| !c.complete))
        .map(|r| r.enterprise.as_str())
        .collect();
    if !short.is_empty() {
        let all = sum_coverage(&factors.id, span, &reports);
        issues.insert(
            0,
            coverage_issue(&all, &region, (start, end), &fixed, &short),
        );
    }
    // Uploads per enterprise (a meter's upload counts for the enterprise it belonged to when
    // it was logged).
    for r in &mut reports {
        if let Some(list) = uploads_of.get_mut(&r.enterprise) {
            list.sort_unstable();
            list.dedup();
            r.uploads = list.len() as u64;
        }
    }
    let park_totals = matches!(req.scope, Scope::Park).then(|| {
        let mut t = totals(&reports);
        t.factor_coverage = Some(sum_coverage(&factors.id, span, &reports));
        let (filled, values) = reports
            .iter()
            .filter_map(|r| r.filled_share.as_ref())
            .fold((0, 0), |(f, v), s| (f + s.filled_values, v + s.values));
        t.filled_share = Some(share_of(filled, values));
        t
    });
    let vkey = store.meta("vkey")?.unwrap_or_default();
    let doc = ReportDoc {
        format: FORMAT.into(),
        scope: ScopeDoc {
            kind: match req.scope {
                Scope::Enterprise(_) => "enterprise".into(),
                Scope::Park => "park".into(),
            },
            enterprise: match &req.scope {
                Scope::Enterprise(e) => Some(e.clone()),
                Scope::Park => None,
            },
            park,
        },
        period: PeriodDoc {
            start: rfc3339(start),
            end: rfc3339(end),
        },
        parameters: Parameters {
            factors: factors.id.clone(),
            region: region.clone(),
            fixed_factor: fixed,
            utc_offset_s: req.utc_offset_s,
            steam_enthalpy: Some(SteamEnthalpyDoc {
                kj_per_kg: STEAM_ENTHALPY_KJ_PER_KG,
                source: STEAM_ENTHALPY_SOURCE.into(),
            }),
            inputs: inputs.as_ref().map(|i| i.id.clone()),
            anomalies: req.anomalies,
        },
        methods: Methods {
            accounting: tanji_accounting::METHOD.into(),
            factors: factors.method.clone(),
            report: FORMAT.into(),
        },
        reports,
        park_totals,
        issues,
        provenance: Provenance {
            log: LogDoc {
                origin,
                verifier_key: vkey,
            },
            checkpoint: CheckpointDoc {
                size,
                root: base64::engine::general_purpose::STANDARD.encode(cp.root),
                note,
            },
            factors: FactorsDoc {
                id: factors.id.clone(),
                index: factors.index,
                content_sha256: hex::encode(factors.content_sha256),
                method: factors.method.clone(),
                synthetic: region.to_ascii_lowercase().contains("synthetic"),
                region,
            },
            inputs: inputs.as_ref().map(|i| InputsDoc {
                id: i.id.clone(),
                index: i.index,
                content_sha256: hex::encode(i.content_sha256),
            }),
            leaves: leaves.into_values().collect(),
        },
    };
    Ok(Built { doc, problems })
}

fn ed25519_verifying(k: &[u8; 32]) -> Option<ed25519_dalek::VerifyingKey> {
    ed25519_dalek::VerifyingKey::from_bytes(k).ok()
}
