//! Carbon accounting for one enterprise over one period: interval meter data + grid factors →
//! Scope 1 (fuels, GB/T 32150-2015 method), Scope 2 location-based (each interval at its own
//! grid factor) and market-based (green certificates and green-power purchases, annual or
//! hourly matching), purchased heat and steam, the fixed-annual-factor figure beside the
//! dynamic one with a plain-language reason, green-power share, hourly carbon-free-energy
//! match, intensities, and every data issue (gaps and how they were filled, missing factors,
//! assumed densities) with its effect in g CO2.
//!
//! Entry point: [`compute`]`(&Inputs, &dyn FactorLookup, &Options) -> Report`;
//! [`compute_with_intervals`] adds the per-interval emissions behind the totals, and
//! [`cbam::products`] allocates them to products (specific embedded emissions, EU CBAM rules,
//! certificate-cost estimate, product carbon footprint).
//!
//! Pure: no IO, no SQL, no clock. It does not read the log or the store, verify signatures
//! or fetch factors: the caller assembles [`IntervalSeries`] from accepted uploads (with
//! `None` where no upload covers an interval) and passes a [`FactorLookup`] (e.g.
//! [`SeriesFactors`] over a published `tanji_factors::Series`). Same inputs, same report.
//!
//! Units: energy in Wh and mass in g CO2 as integers in results (location-based electricity
//! is rounded per interval, so totals are exact sums of interval figures); floats only for
//! factors, ratios and shares. Factors are gCO2/kWh (= kg/MWh; 0.5617 t/MWh = 561.7 g/kWh).

pub mod cbam;
mod compute;
pub mod energy;
pub mod factor;
pub mod fuels;
pub mod gaps;
pub mod input;
pub mod report;
pub mod why;

pub use factor::{FactorInterval, FactorLookup, SeriesFactors, TableFactors};
pub use fuels::{Fuel, FuelLibrary, FuelTable, GasReference, MeterFuel, NcvBasis};
pub use gaps::Fill;
pub use input::{
    china_residual, Certificate, GreenPurchase, HeatFactors, Inputs, IntervalSeries, Matching,
    NamedFactor, Options, Output, Residual, CHINA_RESIDUAL,
};
pub use report::*;
pub use why::Lang;

use tanji_units::time::rfc3339;
use tanji_units::{Carrier, Unit};

/// The method version every report names; bump it on any change that can change a result.
pub const METHOD: &str = "tanji-accounting/v2";

/// Input that [`compute`] refuses (bad data within valid input is a [`DataIssue`] instead).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AccountingError {
    /// The period is empty or inverted.
    #[error("period {}..{} is empty; the end must be after the start", rfc3339(*.start), rfc3339(*.end))]
    Period {
        /// Start.
        start: i64,
        /// End.
        end: i64,
    },
    /// The period is longer than 100 years (hourly aggregates are kept for each of its hours).
    #[error(
        "period {}..{} is longer than 100 years; report a shorter period",
        rfc3339(*.start),
        rfc3339(*.end)
    )]
    PeriodTooLong {
        /// Start.
        start: i64,
        /// End.
        end: i64,
    },
    /// A series' unit does not fit its carrier.
    #[error("meter {meter}: carrier {carrier} cannot be metered in {unit}; see tanji_units::Carrier::accepts")]
    Unit {
        /// Meter.
        meter: String,
        /// Carrier.
        carrier: Carrier,
        /// Unit.
        unit: Unit,
    },
    /// A series' interval length is not allowed.
    #[error("meter {meter}: interval {interval_s} s is not allowed; use one of 60, 300, 600, 900, 1800, 3600")]
    Interval {
        /// Meter.
        meter: String,
        /// Interval length.
        interval_s: u32,
    },
    /// A fuel id not in the fuel table.
    #[error("meter {meter}: fuel {fuel:?} is not in fuel table {table}; add it to Options.fuels or name a fuel the table lists")]
    UnknownFuel {
        /// Meter.
        meter: String,
        /// Fuel id (or carrier code when the carrier has no default).
        fuel: String,
        /// The table searched.
        table: String,
    },
    /// A fuel table id that is not in the library.
    #[error("meter {meter}: fuel table {table:?} is unknown; name one of the tables in Options.fuels (see crates/accounting/README.md)")]
    UnknownFuelTable {
        /// Meter.
        meter: String,
        /// The table id.
        table: String,
    },
    /// A factor option that is negative or not finite.
    #[error("{what} {value} is not a finite, non-negative number")]
    Factor {
        /// Which option.
        what: String,
        /// Its value.
        value: f64,
    },
}

/// Computes one enterprise's report. See the crate documentation and `crates/accounting/README.md`.
pub fn compute(
    inputs: &Inputs,
    factors: &dyn FactorLookup,
    options: &Options,
) -> Result<Report, AccountingError> {
    compute::run(inputs, factors, options)
}

/// [`compute`], plus the per-interval emissions behind the report's totals: one
/// [`IntervalEmission`] per interval of every grid-import, fuel, heat and steam meter inside
/// the period (gaps filled as in the report). [`cbam::products`] allocates these to products.
pub fn compute_with_intervals(
    inputs: &Inputs,
    factors: &dyn FactorLookup,
    options: &Options,
) -> Result<(Report, Vec<IntervalEmission>), AccountingError> {
    compute::run_detailed(inputs, factors, options)
}
