//! The `tanji-report/v1` document: what `tanji report` writes and `tanji audit` reads.
//! `docs/report.md` describes every field.

use serde::{Deserialize, Serialize};

impl EnterpriseDoc {
    /// Of `reports`, the enterprise whose timing of use the hourly factors reward most: the
    /// largest timing part of fixed − dynamic (`figures.comparison.timing_g`) relative to its
    /// fixed-factor figure (`fixed_g`), among those with a positive one; the first on a tie.
    pub fn best_timing(reports: &[EnterpriseDoc]) -> Option<&str> {
        let mut best: Option<(f64, &str)> = None;
        for r in reports {
            let c = &r.figures["comparison"];
            let fixed = c["fixed_g"].as_i64().unwrap_or(0);
            let timing = c["timing_g"].as_i64().unwrap_or(0);
            if fixed <= 0 {
                continue;
            }
            let gain = timing as f64 / fixed as f64;
            if best.is_none_or(|(g, _)| gain > g) {
                best = Some((gain, r.enterprise.as_str()));
            }
        }
        best.map(|(_, e)| e)
    }
}

impl ReportDoc {
    /// Whether the report has no data at all: no meter with an accepted upload in the period,
    /// so that every figure is zero.
    pub fn has_no_data(&self) -> bool {
        self.reports
            .iter()
            .all(|r| r.uploads == 0 && r.meters.is_empty())
    }
}

/// A report: one enterprise or the whole park over one period, with its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportDoc {
    /// Always [`crate::FORMAT`].
    pub format: String,
    /// Whose figures.
    pub scope: ScopeDoc,
    /// The period `[start, end)`.
    pub period: PeriodDoc,
    /// Everything besides the log that decided the figures; the audit recomputes with these.
    pub parameters: Parameters,
    /// Method versions.
    pub methods: Methods,
    /// One entry per enterprise (one for an enterprise report), sorted by enterprise id.
    pub reports: Vec<EnterpriseDoc>,
    /// Sums over `reports` (park reports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub park_totals: Option<Totals>,
    /// Data issues found while assembling the input from the log (sequence gaps, meters
    /// without data, values that could not be converted); accounting's own issues (gaps and
    /// how they were filled, with their effect) are in each `figures.issues`.
    pub issues: Vec<IssueDoc>,
    /// Where every figure comes from.
    pub provenance: Provenance,
}

/// Whose figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDoc {
    /// `enterprise` or `park`.
    pub kind: String,
    /// The enterprise id (enterprise reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<String>,
    /// The park's name.
    pub park: String,
}

/// A period `[start, end)`, RFC 3339 UTC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodDoc {
    /// Start (inclusive).
    pub start: String,
    /// End (exclusive).
    pub end: String,
}

/// What decided the figures besides the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Parameters {
    /// Factor publication id (`name@vN`).
    pub factors: String,
    /// The region of the publication whose factors apply.
    pub region: String,
    /// The fixed annual factor of the comparison.
    pub fixed_factor: FixedFactorDoc,
    /// Local time offset for hours of day, seconds.
    pub utc_offset_s: i32,
    /// The enthalpy used to turn steam metered by mass into energy, kJ/kg, and its source.
    #[serde(default)]
    pub steam_enthalpy: Option<SteamEnthalpyDoc>,
    /// The enterprise inputs publication used (`name@vN`: instruments, output, production
    /// records), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<String>,
    /// Whether anomaly detection ran on every meter's series and its alerts are listed as
    /// `anomaly_<kind>` issues (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anomalies: bool,
}

/// Steam enthalpy used for steam meters that report mass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SteamEnthalpyDoc {
    /// kJ/kg.
    pub kj_per_kg: f64,
    /// Where the value comes from.
    pub source: String,
}

/// The fixed annual factor and where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixedFactorDoc {
    /// tCO2/MWh.
    pub t_per_mwh: f64,
    /// `given` (`--fixed-factor`), `calibration_target` (the official annual figure the
    /// publication was calibrated to) or `weighted_mean` (the series' consumption-weighted mean).
    pub basis: String,
    /// In words.
    pub source: String,
}

/// Method versions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Methods {
    /// `tanji_accounting::METHOD`.
    pub accounting: String,
    /// The factor method named in the publication's manifest.
    pub factors: String,
    /// [`crate::FORMAT`].
    pub report: String,
}

/// One enterprise's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseDoc {
    /// Enterprise id.
    pub enterprise: String,
    /// Its meters with data in the period.
    pub meters: Vec<MeterDoc>,
    /// Accepted uploads used.
    pub uploads: u64,
    /// The accounting report (`tanji_accounting::Report` as JSON).
    pub figures: serde_json::Value,
    /// Products, SEE, CBAM figures and footprints (`tanji_accounting::cbam::ProductReport` as
    /// JSON), when the inputs publication has production records for the enterprise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub products: Option<serde_json::Value>,
    /// How far the factor series covers the enterprise's grid intervals (written by every
    /// report since it was added; `None` only when reading an older report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_coverage: Option<FactorCoverage>,
    /// How many of the enterprise's interval values are filled, not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filled_share: Option<FilledShare>,
}

/// How far the factor series covers the grid intervals of a report: intervals without a
/// factor are counted at the fixed annual factor, so their hourly figure is not measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorCoverage {
    /// The publication (`name@vN`).
    pub series: String,
    /// Start of the series' first interval for the report's region, RFC 3339 UTC.
    pub series_from: String,
    /// End (exclusive) of its last interval, RFC 3339 UTC.
    pub series_to: String,
    /// Grid intervals (every interval of every electricity import and export meter in the
    /// period and its meter's life) that need a factor.
    pub intervals: u64,
    /// Of those, the intervals the series gives no factor for over their whole length.
    pub intervals_without_factor: u64,
    /// `intervals_without_factor == 0`.
    pub complete: bool,
}

/// How many interval values were filled (interpolated, taken from the interval-of-day
/// profile, or counted as zero) rather than measured, over every meter's intervals in the
/// period and the meter's life.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilledShare {
    /// Values not measured.
    pub filled_values: u64,
    /// All values.
    pub values: u64,
    /// `filled_values ÷ values` (0 when there are no values).
    pub share: f64,
}

/// One meter as assembled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterDoc {
    /// Meter id.
    pub meter: String,
    /// The device registered to it.
    pub device: String,
    /// Carrier code.
    pub carrier: String,
    /// Unit code (values are in thousandths of it).
    pub unit: String,
    /// Where it counts: `scope1` (fuels), `scope2` (electricity), `scope2_heat` (purchased
    /// heat and steam).
    pub scope: String,
    /// Interval length of the series, seconds.
    pub interval_s: u32,
    /// Intervals in the period and in the meter's life (from its first logged interval, or
    /// its registration if earlier, to the end of its last logged interval): before and
    /// after it the meter counts nothing and nothing is filled.
    pub intervals: u64,
    /// Of those, intervals no accepted upload covers (filled, see `filled_share`).
    pub missing: u64,
}

/// Park totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Enterprises.
    pub enterprises: u64,
    /// Scope 1 fossil CO2, g.
    pub scope1_g: i64,
    /// Scope 2 location-based, g.
    pub scope2_location_g: i64,
    /// Scope 2 market-based, g.
    pub scope2_market_g: i64,
    /// Grid import, Wh.
    pub import_wh: i64,
    /// Export, Wh.
    pub export_wh: i64,
    /// PV consumed on site, Wh.
    pub pv_self_consumed_wh: i64,
    /// Electricity consumed, Wh.
    pub consumption_wh: i64,
    /// Grid import at the fixed factor, g.
    pub fixed_g: i64,
    /// Grid import at the interval factors, g.
    pub dynamic_g: i64,
    /// fixed − dynamic, g.
    pub difference_g: i64,
    /// difference ÷ fixed, %.
    pub difference_pct: Option<f64>,
    /// PV self-consumed + applied instruments, Wh.
    pub green_wh: i64,
    /// green ÷ consumption.
    pub green_share: Option<f64>,
    /// The factor coverage of every enterprise's grid intervals, summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_coverage: Option<FactorCoverage>,
    /// Filled values over every enterprise's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filled_share: Option<FilledShare>,
}

/// A data issue found while assembling input from the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueDoc {
    /// `factor_coverage` (the factor series does not cover every grid interval),
    /// `outside_meter_life`, `sequence_gap`, `no_data`, `unconvertible`, `interval_mismatch`,
    /// `imported`, and
    /// with `parameters.anomalies` `anomaly_<kind>` (`anomaly_flat_line`, `anomaly_spike`,
    /// `anomaly_level_shift`, `anomaly_pv_at_night`, `anomaly_idle_consumption`,
    /// `anomaly_missing_data`).
    pub kind: String,
    /// What it concerns (device, meter).
    pub subject: String,
    /// What happened and its effect.
    pub message: String,
}

/// Where every figure comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The log.
    pub log: LogDoc,
    /// The checkpoint the figures were computed at.
    pub checkpoint: CheckpointDoc,
    /// The factor publication.
    pub factors: FactorsDoc,
    /// The enterprise inputs publication, if one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<InputsDoc>,
    /// Every leaf the figures depend on, by index: the meters' registrations, the factor
    /// publication and every accepted upload of the scope overlapping the period.
    pub leaves: Vec<LeafDoc>,
}

/// The log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDoc {
    /// Origin line.
    pub origin: String,
    /// The log's C2SP verifier key.
    pub verifier_key: String,
}

/// The checkpoint used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointDoc {
    /// Tree size.
    pub size: u64,
    /// Root hash, base64 (as in the note).
    pub root: String,
    /// The signed note, verbatim.
    pub note: String,
}

/// The factor publication used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorsDoc {
    /// `name@vN`.
    pub id: String,
    /// Its log entry.
    pub index: u64,
    /// SHA-256 of the series CSV, lowercase hex.
    pub content_sha256: String,
    /// Method named in its manifest.
    pub method: String,
    /// The region used.
    pub region: String,
    /// Whether the series is synthetic (its region name says so): not a measurement.
    pub synthetic: bool,
}

/// One log leaf used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeafDoc {
    /// Leaf index.
    pub index: u64,
    /// `registration`, `publication` or `upload`.
    pub kind: String,
    /// Which: `d-0003/m-0003-grid`, `CN-FJ-synthetic-2026@v1`, `d-0003#5`.
    pub what: String,
    /// RFC 6962 leaf hash `SHA-256(0x00 || entry)`, lowercase hex.
    pub leaf_hash: String,
}

/// The enterprise inputs publication a report used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputsDoc {
    /// `name@vN`.
    pub id: String,
    /// Its leaf index.
    pub index: u64,
    /// SHA-256 of the inputs document (hex).
    pub content_sha256: String,
}

#[cfg(test)]
mod tests {
    use super::EnterpriseDoc;

    fn doc(enterprise: &str, fixed_g: i64, timing_g: i64) -> EnterpriseDoc {
        EnterpriseDoc {
            enterprise: enterprise.into(),
            meters: Vec::new(),
            uploads: 0,
            figures: serde_json::json!({"comparison": {"fixed_g": fixed_g, "timing_g": timing_g}}),
            products: None,
            factor_coverage: None,
            filled_share: None,
        }
    }

    #[test]
    fn the_best_timing_is_relative_to_the_fixed_figure() {
        let reports = [
            doc("e-1", 1_000, 50),
            doc("e-2", 100, 10),
            doc("e-3", 0, 99),
            doc("e-4", 200, 20),
        ];
        assert_eq!(EnterpriseDoc::best_timing(&reports), Some("e-2"));
        assert_eq!(EnterpriseDoc::best_timing(&reports[2..3]), None);
    }
}
