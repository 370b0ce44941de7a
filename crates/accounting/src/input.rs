//! What [`crate::compute`] takes: interval data, instruments, output and options.

use serde::{Deserialize, Serialize};
use tanji_units::time::PARK_UTC_OFFSET_S;
use tanji_units::{Carrier, Unit};

use std::collections::BTreeMap;

use crate::fuels::{FuelLibrary, MeterFuel};

/// One meter's interval values over the reporting period, as the store assembles them from
/// accepted uploads: `values[i]` covers `[start + i·interval_s, start + (i+1)·interval_s)`,
/// in thousandths of `unit` (a kWh meter's values are Wh); `None` where no accepted upload
/// covers the interval (a gap, filled by [`crate::gaps::fill`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalSeries {
    /// Meter id.
    pub meter: String,
    /// What the meter measures.
    pub carrier: Carrier,
    /// The unit of the values (×1000).
    pub unit: Unit,
    /// Fuel id (fuel carriers only); `None` = the carrier's default. A meter's entry in
    /// [`Options::meter_fuels`] takes precedence.
    #[serde(default)]
    pub fuel: Option<String>,
    /// Start of the first interval, Unix seconds UTC.
    pub start: i64,
    /// Interval length, seconds (one of `tanji_units::ALLOWED_INTERVALS`).
    pub interval_s: u32,
    /// Values in thousandths of `unit`.
    pub values: Vec<Option<i64>>,
}

impl IntervalSeries {
    /// Start of interval `i`.
    pub fn interval_start(&self, i: usize) -> i64 {
        self.start + i as i64 * i64::from(self.interval_s)
    }
}

/// Green electricity certificates (绿证; one certificate = 1 MWh of renewable generation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// Certificate (or batch) id.
    pub id: String,
    /// Number of certificates = MWh.
    pub mwh: u32,
    /// Vintage: start of the generation period, Unix seconds UTC.
    pub generation_start: i64,
    /// Vintage: end (exclusive) of the generation period.
    pub generation_end: i64,
    /// The certificate may be claimed against consumption from this instant…
    pub valid_from: i64,
    /// …until this one (exclusive).
    pub valid_until: i64,
}

/// A green-power purchase (绿电交易): energy delivered evenly over `[start, end)` (one
/// interval, one hour, a month…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GreenPurchase {
    /// Contract / settlement id.
    pub id: String,
    /// Delivery start, Unix seconds UTC.
    pub start: i64,
    /// Delivery end (exclusive).
    pub end: i64,
    /// Energy delivered, Wh.
    pub wh: i64,
}

/// The enterprise's output over the period, for intensity indicators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Quantity ×1000 (e.g. 1 250 t of product = `1_250_000`).
    pub quantity_milli: i64,
    /// Free-text unit, e.g. `t`, `units`.
    pub unit: String,
}

/// Everything one enterprise's report is computed from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Enterprise id.
    pub enterprise: String,
    /// Reporting period start, Unix seconds UTC (intervals starting before it are ignored).
    pub period_start: i64,
    /// Reporting period end (exclusive).
    pub period_end: i64,
    /// Every meter's series (electricity import/export, PV, fuels, heat, steam).
    pub series: Vec<IntervalSeries>,
    /// Green certificates held for this period.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    /// Green-power purchases.
    #[serde(default)]
    pub purchases: Vec<GreenPurchase>,
    /// Output, for intensities.
    #[serde(default)]
    pub output: Option<Output>,
}

/// A constant emission factor with its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedFactor {
    /// The value, in the unit the field names.
    pub value: f64,
    /// Where it comes from.
    pub source: String,
}

/// How market-based instruments are matched to consumption.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matching {
    /// An instrument covers grid import anywhere in the period (certificates: within their
    /// validity), pro rata to the import not yet covered.
    Annual,
    /// An instrument covers only grid import in the hours it delivers (certificates: their
    /// generation period, spread evenly over it); what an hour cannot use is lost.
    Hourly,
}

/// The factor for grid import no instrument covers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Residual {
    /// The interval's own grid factor (the location-based figure). The green power others
    /// bought is then counted again in this figure: the report carries a
    /// `residual_location` data issue (GHG Protocol Scope 2 Guidance: use a residual mix, the
    /// grid average only with disclosure).
    Grid,
    /// A named residual-mix (or other) factor, gCO2/kWh.
    Fixed(NamedFactor),
    /// China's national average grid factor excluding market-traded non-fossil power
    /// (MEE/NBS), for the year of the data ([`china_residual`]): the default.
    ChinaExcludingTraded,
}

/// China's national average CO2 factor of electricity *excluding market-traded non-fossil
/// power* (全国电力平均二氧化碳排放因子（不包括市场化交易的非化石能源电量）), t/MWh, by data
/// year, with the announcement that published it.
pub const CHINA_RESIDUAL: &[(i32, f64, &str)] = &[
    (
        2022,
        0.5856,
        "MEE/NBS 《关于发布2022年电力二氧化碳排放因子的公告》 (20 Dec 2024): national average \
         excluding market-traded non-fossil power, 2022, 0.5856 kgCO2/kWh [unverified: from \
         docs/reference/factors.md, consistent with the 2023 announcement's +4.1%]",
    ),
    (
        2023,
        0.6096,
        "MEE/NBS 《关于发布2023年电力二氧化碳排放因子的公告》 (Jan 2026): national average \
         excluding market-traded non-fossil power, 2023, 0.6096 kgCO2/kWh (as reported by \
         China Electric Power News and Guangming Daily, 2026-01)",
    ),
];

/// The China residual factor for data of `year`, gCO2/kWh: that year's value, or the latest
/// published when the year is newer, or the earliest when older; the source says which.
pub fn china_residual(year: i32) -> NamedFactor {
    let (first, last) = (CHINA_RESIDUAL[0], CHINA_RESIDUAL[CHINA_RESIDUAL.len() - 1]);
    let (y, t, source) = CHINA_RESIDUAL
        .iter()
        .copied()
        .find(|r| r.0 == year)
        .unwrap_or(if year > last.0 { last } else { first });
    let how = if y == year {
        format!("the data's year {year}")
    } else if year > y {
        format!("data of {year}: the latest published year, {y}")
    } else {
        format!("data of {year}: no value published for it, the earliest published year, {y}")
    };
    NamedFactor {
        // t/MWh → g/kWh, to 4 decimals of g (0.6096 → 609.6).
        value: (t * 10_000_000.0).round() / 10_000.0,
        source: format!("{source}; {how}"),
    }
}

/// Factors for purchased heat and steam.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeatFactors {
    /// Purchased heat, tCO2/GJ.
    pub heat_t_per_gj: NamedFactor,
    /// Purchased steam, tCO2/GJ.
    pub steam_t_per_gj: NamedFactor,
    /// Steam enthalpy, kJ/kg, to turn steam metered in t/kg into GJ:
    /// `GJ = t × (En − 83.74) × 10^-3` (83.74 kJ/kg: water at 20 °C; NDRC guideline formula).
    pub steam_enthalpy_kj_per_kg: Option<f64>,
}

/// Source of the purchased heat default.
pub const HEAT_SOURCE: &str = "NDRC sector guidelines for enterprise GHG accounting (2013–2015): \
default CO2 factor of purchased heat 0.11 tCO2/GJ [unverified: tanji has not seen a copy of the \
guidelines' table; an independent review of tanji's defaults (2026) found this value there]";

impl Default for HeatFactors {
    fn default() -> Self {
        let f = NamedFactor {
            value: 0.11,
            source: HEAT_SOURCE.to_owned(),
        };
        HeatFactors {
            heat_t_per_gj: f.clone(),
            steam_t_per_gj: f,
            steam_enthalpy_kj_per_kg: None,
        }
    }
}

/// How [`crate::compute`] computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// The fixed annual grid factor (gCO2/kWh), e.g. the official regional figure; enables
    /// the fixed-vs-dynamic comparison and fills intervals with no dynamic factor.
    pub fixed_factor: Option<NamedFactor>,
    /// The factor for uncovered grid import in the market-based figure.
    pub residual: Residual,
    /// Instrument matching mode.
    pub matching: Matching,
    /// Subtract exports (at their intervals' factors) from the location-based total.
    /// Off by default: exports are reported, not netted (GHG Protocol Scope 2).
    pub net_exports: bool,
    /// Local time offset from UTC, seconds (default +8 h, China Standard Time).
    pub utc_offset_s: i32,
    /// Purchased heat and steam factors.
    pub heat: HeatFactors,
    /// Fuel parameter tables.
    pub fuels: FuelLibrary,
    /// Per meter id: which table and fuel it uses, and a gas meter's reference conditions.
    pub meter_fuels: BTreeMap<String, MeterFuel>,
    /// Gaps of at most this many intervals are interpolated linearly (default 4 = 1 h of
    /// 15-minute data); longer ones use the interval-of-day profile.
    pub max_linear_gap: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            fixed_factor: None,
            residual: Residual::ChinaExcludingTraded,
            matching: Matching::Annual,
            net_exports: false,
            utc_offset_s: PARK_UTC_OFFSET_S,
            heat: HeatFactors::default(),
            fuels: FuelLibrary::default(),
            meter_fuels: BTreeMap::new(),
            max_linear_gap: 4,
        }
    }
}
