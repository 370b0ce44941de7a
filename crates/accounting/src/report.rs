//! What [`crate::compute`] returns. Energy in Wh, mass in g CO2 (integers); floats only for
//! factors, ratios and shares.

use serde::{Deserialize, Serialize};
use tanji_units::{Carrier, Unit};

use crate::fuels::{GasReference, NcvBasis};
use crate::input::{Matching, NamedFactor, Residual};

/// One enterprise's emissions over one period.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// [`crate::METHOD`].
    pub method: String,
    /// The factor series used ([`crate::FactorLookup::series_id`]).
    pub factor_series: String,
    /// Enterprise id.
    pub enterprise: String,
    /// Period start, Unix seconds UTC.
    pub period_start: i64,
    /// Period end (exclusive).
    pub period_end: i64,
    /// Local time offset used for hours of day and profiles, seconds.
    pub utc_offset_s: i32,
    /// Direct emissions from fuels.
    pub scope1: Scope1,
    /// Indirect emissions, location-based.
    pub scope2_location: Scope2Location,
    /// Indirect emissions, market-based.
    pub scope2_market: Scope2Market,
    /// Fixed annual factor vs dynamic; `None` without a fixed factor.
    pub comparison: Option<Comparison>,
    /// Shares and intensities.
    pub indicators: Indicators,
    /// Every data issue and its effect.
    pub issues: Vec<DataIssue>,
}

/// Scope 1 (GB/T 32150-2015): one line per fuel meter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scope1 {
    /// Lines.
    pub lines: Vec<FuelLine>,
    /// Fossil CO2, g (the Scope 1 total).
    pub fossil_g: i64,
    /// Biogenic CO2, g (reported separately, not in the total).
    pub biogenic_g: i64,
}

/// One fuel meter's Scope 1 computation, with every parameter an auditor needs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FuelLine {
    /// Meter.
    pub meter: String,
    /// Carrier.
    pub carrier: Carrier,
    /// Fuel id used.
    pub fuel: String,
    /// Id of the fuel table the parameters come from.
    pub table: String,
    /// Fuel consumed FC, thousandths of `unit` (gaps filled).
    pub quantity_milli: i64,
    /// The meter's unit.
    pub unit: Unit,
    /// NCV used and its basis.
    pub ncv: f64,
    /// Basis of `ncv`.
    pub ncv_basis: NcvBasis,
    /// Density used to turn litres into tonnes, kg/L.
    pub density_kg_per_l: Option<f64>,
    /// Activity data AD = NCV × FC, MJ (rounded).
    pub activity_mj: i64,
    /// Carbon content, tC/TJ.
    pub carbon_tc_per_tj: f64,
    /// Oxidation rate.
    pub oxidation: f64,
    /// EF = CC × OF × 44/12, tCO2/GJ.
    pub ef_t_per_gj: f64,
    /// AD × EF, g.
    pub emissions_g: i64,
    /// Biogenic (excluded from the total).
    pub biogenic: bool,
    /// Source of the parameters (the table's title, table number and year).
    pub source: String,
    /// Whether NCV, CC and OF were confirmed against a copy of that table; `false` = the
    /// line's figure rests on unverified defaults.
    pub verified: bool,
    /// For gas metered by volume: its reference conditions and the conversion to normal m3.
    pub gas_volume: Option<GasVolume>,
}

/// A gas meter's volume at its stated conditions and in normal m3 (the table's basis).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GasVolume {
    /// The conditions its m3 are stated at.
    pub reference: GasReference,
    /// Whether the meter states them; `false` = taken as normal m3.
    pub stated: bool,
    /// Normal m3 per metered m3 (`273.15 / (273.15 + t) × p / 101.325`).
    pub to_normal: f64,
    /// The volume in normal m3, thousandths.
    pub normal_m3_milli: i64,
    /// In words.
    pub note: String,
}

/// Scope 2, location-based: every interval's grid import at its own interval's factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scope2Location {
    /// Grid import, Wh.
    pub import_wh: i64,
    /// Grid import × factors, g.
    pub electricity_g: i64,
    /// Export, Wh.
    pub export_wh: i64,
    /// Export × its intervals' factors, g (reported; subtracted only if `exports_netted`).
    pub export_g: i64,
    /// Whether `export_g` was subtracted from `total_g`.
    pub exports_netted: bool,
    /// On-site PV generation, Wh.
    pub pv_generation_wh: i64,
    /// PV consumed on site (per hour: generation − export, at least 0), Wh; carries zero.
    pub pv_self_consumed_wh: i64,
    /// Electricity consumed: import + PV consumed on site, Wh.
    pub consumption_wh: i64,
    /// Purchased heat and steam lines.
    pub heat: Vec<HeatLine>,
    /// Heat and steam total, g.
    pub heat_g: i64,
    /// electricity − (netted exports) + heat, g.
    pub total_g: i64,
}

/// One heat or steam meter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeatLine {
    /// Meter.
    pub meter: String,
    /// Heat or steam.
    pub carrier: Carrier,
    /// Quantity, thousandths of `unit`.
    pub quantity_milli: i64,
    /// The meter's unit.
    pub unit: Unit,
    /// Heat energy, MJ (rounded).
    pub energy_mj: i64,
    /// Factor used, tCO2/GJ, and its source.
    pub factor: NamedFactor,
    /// Emissions, g.
    pub emissions_g: i64,
}

/// Scope 2, market-based.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scope2Market {
    /// Matching mode.
    pub matching: Matching,
    /// Factor of uncovered import, as asked.
    pub residual: Residual,
    /// The residual factor used, gCO2/kWh, with its source and year; `None` when uncovered
    /// import is counted at each interval's own grid factor (`Residual::Grid`).
    pub residual_factor: Option<NamedFactor>,
    /// Face value of all instruments, Wh.
    pub instruments_wh: i64,
    /// Applied to grid import, Wh.
    pub applied_wh: i64,
    /// Not applied (outside period or validity, or beyond consumption in its hour/period), Wh.
    pub unused_wh: i64,
    /// Grid import no instrument covers, Wh.
    pub uncovered_import_wh: i64,
    /// Uncovered import × residual factor, g.
    pub electricity_g: i64,
    /// Heat and steam (as location-based), g.
    pub heat_g: i64,
    /// electricity + heat, g.
    pub total_g: i64,
    /// Per instrument.
    pub instruments: Vec<InstrumentUse>,
}

/// How much of one instrument was applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InstrumentUse {
    /// `certificate` or `purchase`.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// Face value, Wh.
    pub wh: i64,
    /// Applied, Wh.
    pub applied_wh: i64,
}

/// The same grid import at one fixed annual factor beside the dynamic figure.
///
/// Deserializable so that a reader of a report (the server, in the language a user asks for)
/// can write its reason again with [`crate::why::reason`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The fixed factor, gCO2/kWh, and its source.
    pub fixed_factor: NamedFactor,
    /// Grid import, Wh.
    pub import_wh: i64,
    /// Import × fixed factor, g.
    pub fixed_g: i64,
    /// Import × interval factors (location-based electricity), g.
    pub dynamic_g: i64,
    /// fixed − dynamic, g (positive: the fixed factor over-counts).
    pub difference_g: i64,
    /// difference ÷ fixed, %.
    pub difference_pct: f64,
    /// Time mean of the interval factors over the period, gCO2/kWh; `None` when no grid-import
    /// interval had an hourly factor (then there is nothing to compare).
    pub period_mean_factor_g_per_kwh: Option<f64>,
    /// The season's part of the difference: import × (fixed − period mean), g.
    pub season_g: i64,
    /// The timing's part: import × period mean − dynamic (your profile against a flat one), g.
    pub timing_g: i64,
    /// Grid-import intervals without an hourly factor (counted at the fixed factor on both
    /// sides, so they add nothing to the difference). Left out of the JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub intervals_without_factor: u64,
    /// Per local hour of day, 0..24.
    pub by_hour: Vec<HourOfDay>,
    /// The hours (at most 12) that explain most of the timing part, measured against the
    /// period's mean factor; `None` when the timing part is negligible (under 0.05% of the
    /// fixed-factor figure) or there is nothing to compare.
    pub window: Option<Window>,
    /// The plain-language reason, in English ([`crate::why::reason`]); `None` when there is
    /// nothing to compare (no hourly factor for any interval of grid import).
    pub reason: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One local hour of day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HourOfDay {
    /// Local hour, 0..=23.
    pub hour: u8,
    /// Grid import in this hour of day, Wh.
    pub import_wh: i64,
    /// Share of all grid import.
    pub share: f64,
    /// Time mean of the factor over this hour's intervals, gCO2/kWh.
    pub mean_factor_g_per_kwh: Option<f64>,
    /// Import-weighted factor, gCO2/kWh.
    pub weighted_factor_g_per_kwh: Option<f64>,
    /// This hour's part of fixed − dynamic, g.
    pub difference_g: i64,
}

/// A contiguous window of local hours `[from_hour, to_hour)` (may wrap midnight).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// First hour.
    pub from_hour: u8,
    /// Hour after the last (mod 24).
    pub to_hour: u8,
    /// Share of grid import in the window.
    pub share: f64,
    /// Import-weighted factor in the window, gCO2/kWh.
    pub factor_g_per_kwh: f64,
    /// (window factor − the period's mean factor) ÷ the period's mean, % (negative: below).
    /// (The name is kept from when the reference could be the fixed factor.)
    pub factor_vs_fixed_pct: f64,
    /// The window's part of the timing part (import × period mean − dynamic), g.
    pub difference_g: i64,
}

/// Analysis indicators.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Indicators {
    /// Electricity consumed (import + PV consumed on site), Wh.
    pub consumption_wh: i64,
    /// PV consumed on site + applied green instruments, Wh.
    pub green_wh: i64,
    /// green ÷ consumption.
    pub green_share: Option<f64>,
    /// Σ_hours min(CFE supply, consumption), Wh; CFE supply = PV consumed on site + green
    /// instruments delivered in that hour (certificates spread over their generation period).
    pub cfe_matched_wh: i64,
    /// cfe_matched ÷ consumption.
    pub cfe_score: Option<f64>,
    /// Per unit of output, when an output is given.
    pub intensity: Option<Intensity>,
}

/// Energy and emissions per unit of output.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intensity {
    /// Output, thousandths of `unit`.
    pub output_milli: i64,
    /// Output unit.
    pub unit: String,
    /// Electricity consumed per unit, kWh.
    pub electricity_kwh_per_unit: f64,
    /// Final energy (electricity + fuel AD + heat) per unit, GJ.
    pub energy_gj_per_unit: f64,
    /// (Scope 1 fossil + Scope 2 location) per unit, tCO2.
    pub location_t_per_unit: f64,
    /// (Scope 1 fossil + Scope 2 market) per unit, tCO2.
    pub market_t_per_unit: f64,
}

/// Kinds of data issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A short gap, interpolated linearly.
    GapLinear,
    /// A long gap, filled from the interval-of-day profile.
    GapProfile,
    /// A gap that could not be filled: counted as zero.
    GapUnfilled,
    /// Intervals with no dynamic factor: counted at the fixed factor, or not at all.
    MissingFactor,
    /// A volume was turned into mass with the table's default density.
    DefaultDensity,
    /// A series whose unit cannot be turned into energy or mass: not counted.
    Unconvertible,
    /// A gas meter whose m3 have no stated reference conditions: taken as normal m3.
    GasReferenceAssumed,
    /// The market-based figure counts uncovered import at the location-based grid factor:
    /// green power bought by others is counted again.
    ResidualLocation,
}

/// One data issue and its effect.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataIssue {
    /// Kind.
    pub kind: IssueKind,
    /// Meter, if the issue is a meter's.
    pub meter: Option<String>,
    /// First affected instant, Unix seconds UTC.
    pub start: i64,
    /// End (exclusive) of the affected span.
    pub end: i64,
    /// Affected intervals.
    pub intervals: u64,
    /// Affected quantity (filled, uncounted, …), thousandths of the meter's unit.
    pub quantity_milli: i64,
    /// Emissions attributable to the affected values in the location-based / Scope 1 total, g
    /// (0 where they are not counted).
    pub effect_g: i64,
    /// What happened and what to do.
    pub message: String,
}

/// One interval of one grid-import, fuel, heat or steam meter and the emissions it adds to
/// the report (returned by [`crate::compute_with_intervals`]): the per-interval view behind
/// the totals, for allocating emissions to production lines and products.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntervalEmission {
    /// Meter.
    pub meter: String,
    /// What the meter measures.
    pub carrier: Carrier,
    /// Interval start, Unix seconds UTC.
    pub start: i64,
    /// Interval end (exclusive).
    pub end: i64,
    /// Grid import in the interval, Wh (gaps filled); 0 for fuel, heat and steam meters.
    pub wh: i64,
    /// Emissions counted for the interval, g: grid import at the interval's own factor
    /// (whole grams, the terms of `Scope2Location::electricity_g`), fossil fuel CO2 (terms of
    /// `Scope1::fossil_g`; biogenic fuels carry 0), purchased heat and steam (terms of
    /// `Scope2Location::heat_g`). Fuel and heat terms are unrounded: their sum equals the
    /// report's line total up to its rounding.
    pub g: f64,
}
