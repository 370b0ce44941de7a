//! Products and the EU Carbon Border Adjustment Mechanism (CBAM): production records → each
//! product's share of an enterprise's direct emissions and electricity, its specific embedded
//! emissions (SEE) per tonne, which electricity factor CBAM allows and whether indirect
//! emissions count for that good, a certificate-cost estimate, and the product carbon footprint
//! at tanji's precise (interval) factor beside the CBAM figure.
//!
//! Entry points: [`products`] (allocation, SEE, CBAM rules, footprint), [`classify`] (CN code →
//! CBAM good or not, and why), [`certificate_cost`] (the cost formula on its own).
//!
//! The rules are those in force for imports from 2026 ([`RULES_2026`]): Regulation (EU)
//! 2023/956 as amended by Regulation (EU) 2025/2083 (50 t de minimis per importer and year,
//! carbon price paid at origin), the free-allocation adjustment with the CBAM factor (97.5% in
//! 2026 … 0 from 2034, [`cbam_factor`]) applied to an EU benchmark given as an input with its
//! source (without one the certificates are an upper bound), purchased heat and steam as
//! direct emissions ([`HEAT_RULE`]), and for each product what the hourly factor changes in
//! its CBAM figure ([`HourlyEffect`]: nothing; a link/PPA does, by how much it says).
//!
//! What it is not: a CBAM declaration. It models **simple goods** of one installation only
//! (Annex IV point 2 of Regulation (EU) 2023/956: `SEE = AttrEm / AL`); complex goods (adding
//! the embedded emissions of relevant precursors, Annex IV point 3), CBAM default values for
//! goods, non-CO2 gases (N2O of nitric acid and fertilisers, PFCs of aluminium) and imported
//! electricity as a good (CN 2716) are not modelled; results say so.
//!
//! Sources. Regulation (EU) 2023/956 (the CBAM Regulation): Annex I (goods by CN code),
//! Annex II (goods for which only direct emissions count), Annex IV (SEE of simple goods;
//! electricity: the default factor unless a direct technical link or a power purchase
//! agreement, PPA, lets the actual factor be used; "PPA means a contract under which a person
//! agrees to purchase electricity directly from an electricity producer", Annex IV 1(f)).
//! `docs/reference/factors.md` (EU CBAM section) states the same rules in short.
//! Checked against public pages (see `crates/accounting/README.md`, "CBAM"): Annex IV
//! point 2 text (converter.com.tw reproduction of Annex IV); the Commission's CBAM Q&A as
//! reproduced by wtocenter.vn ("actual emission factors for electricity may be used in the case
//! of a direct technical link … or … a power purchase agreement"; transitional default factors
//! are IEA-based 5-year country averages); I-TRACK Foundation ("in 2026, indirect emissions
//! accounting will be mandatory for products such as cement and fertilizer that are not listed
//! as exempt in Annex II"); Implementing Regulation (EU) 2025/2621 (default values for the
//! definitive period, incl. indirect emissions). The CN codes of [`ANNEX_I`] are from Annex I
//! as recalled and spot-checked (cement 2523 10 00 / 2523 29 00, urea 3102 10 10, hydrogen
//! 2804 10 00, ammonia 2814 10 00 / 2814 20 00, aluminium 7601 10 00, bolts 7318 15 42;
//! ferro-alloys covered only FeMn, FeCr, FeNi): check the Official Journal before relying on a
//! single code.

mod allocate;
mod annex;
mod cost;
mod figures;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::factor::FactorLookup;
use crate::input::{Inputs, NamedFactor, Options};
use crate::report::DataIssue;
use crate::{compute_with_intervals, AccountingError};

pub use annex::{classify, Category, CnClass, CnRule, ANNEX_I};
pub use cost::{certificate_cost, certificate_cost_adjusted, CostEstimate, CostInputs};

use allocate::{Production, Source};
use cost::check;
use figures::Context;

/// The method version every product report names; bump it on any change that can change a
/// result.
pub const CBAM_METHOD: &str = "tanji-accounting/cbam-v2";

/// The regulation the rules come from.
pub const REGULATION: &str = "Regulation (EU) 2023/956 of the European Parliament and of the \
Council of 10 May 2023 establishing a carbon border adjustment mechanism (OJ L 130, 16.5.2023)";

/// The rules in force for imports from 2026 (the definitive period) that the figures follow,
/// each with what tanji takes from it. Every product report lists them.
pub const RULES_2026: &[&str] = &[
    "Regulation (EU) 2023/956 (CBAM Regulation): Annex I goods, Annex II (direct emissions only \
     for iron and steel, aluminium, hydrogen), Annex IV (SEE of simple goods; electricity at the \
     country default unless a direct technical link or a PPA), Article 9 (carbon price paid in \
     the country of origin), Article 31 (adjustment for EU free allocation)",
    "Regulation (EU) 2025/2083 amending 2023/956 (simplification, in force 20 Oct 2025, applying \
     from 1 Jan 2026): a single de minimis threshold of 50 t net mass of CBAM goods per importer \
     per calendar year (iron and steel, aluminium, cement, fertilisers; not electricity or \
     hydrogen), all the year's imports counted once it is exceeded; certificates bought for the \
     previous year surrendered by 30 September; from 2027 at least 50% of the year's embedded \
     emissions held at each quarter's end",
    "Commission Implementing Regulation (EU) 2025/2547 of 10 Dec 2025 (OJ L 22.12.2025): \
     methods for calculating embedded emissions from 2026 (not re-implemented here: tanji \
     computes SEE of simple goods as Annex IV point 2 states)",
    "Commission Implementing Regulation (EU) 2025/2621: default values of goods for the \
     definitive period, with mark-ups (not used: tanji computes actual emissions)",
    "Directive 2003/87/EC Article 10a(1a) as amended by Directive (EU) 2023/959: the CBAM factor \
     (share of the EU benchmark still allocated free) 97.5% in 2026, 95% 2027, 90% 2028, 77.5% \
     2029, 51.5% 2030, 39% 2031, 26.5% 2032, 14% 2033, 0% from 2034 [unverified against the \
     Directive's text: the schedule as consistently reproduced by CBAM calculators and the \
     trade press]; the implementing act on the free-allocation adjustment (OJ 22.12.2025; its \
     number and benchmark values not confirmed by tanji) sets the benchmarks, so a benchmark is \
     an input with its source",
];

/// What [`products`] and [`certificate_cost`] do not model; every result lists it.
pub const NOT_MODELLED: &[&str] = &[
    "complex goods: embedded emissions of relevant precursors are not added (Annex IV point 3); \
     every product is treated as a simple good made from inputs with zero embedded emissions",
    "non-CO2 gases (N2O of nitric acid and nitrogen fertilisers, PFCs of aluminium) and process \
     emissions other than those passed in ProductInputs.process",
    "CBAM default values for goods and their mark-ups (Implementing Regulation (EU) 2025/2621)",
    "the free-allocation adjustment where no import year or no EU benchmark is given (then the \
     certificates and the cost are upper bounds); the cross-sectoral correction factor unless \
     given with the benchmark",
    "the de minimis threshold where the importer's annual CBAM-goods mass is not given",
    "imported electricity as a good (CN 2716 00 00), which has its own method (Annex IV points 4 and 5)",
];

/// The CBAM factor of Directive 2003/87/EC Article 10a(1a) (as amended by Directive (EU)
/// 2023/959): the share of the EU benchmark still allocated free, by year of import.
/// Unverified against the Directive's text (see [`RULES_2026`]).
pub const CBAM_FACTOR: &[(i32, f64)] = &[
    (2026, 0.975),
    (2027, 0.95),
    (2028, 0.90),
    (2029, 0.775),
    (2030, 0.515),
    (2031, 0.39),
    (2032, 0.265),
    (2033, 0.14),
];

/// The CBAM factor for imports in `year`: `None` before 2026 (the transitional period:
/// reporting only, no certificates), 0 from 2034.
pub fn cbam_factor(year: i32) -> Option<f64> {
    if year < 2026 {
        return None;
    }
    Some(
        CBAM_FACTOR
            .iter()
            .find(|(y, _)| *y == year)
            .map_or(0.0, |(_, f)| *f),
    )
}

/// Why purchased heat and steam are in a good's direct emissions under CBAM.
pub const HEAT_RULE: &str = "Regulation (EU) 2023/956, Annex IV: direct emissions of a good \
include the emissions of the heat (and cooling) consumed in its production processes, wherever \
the heat was produced; so purchased heat and steam count as direct emissions for CBAM (in \
Scope 2 for the enterprise's GHG inventory), at the NDRC default 0.11 tCO2/GJ unless the \
supplier's actual factor is given";

/// The de minimis threshold of Regulation (EU) 2025/2083: net mass of CBAM goods (except
/// electricity and hydrogen) per importer per calendar year, t.
pub const DE_MINIMIS_T: f64 = 50.0;

/// An EU benchmark of a product (t CO2e per t of the good, as the free-allocation implementing
/// act sets it for its CN code and route), with where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// t CO2e per t of good.
    pub t_per_t: f64,
    /// Its source (act, annex, row; or "illustrative").
    pub source: String,
    /// The cross-sectoral correction factor, if it applies (default: not applied, 1).
    #[serde(default)]
    pub cross_sectoral_correction: Option<f64>,
}

/// The free-allocation adjustment of a product's certificates (Article 31).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FreeAllocation {
    /// Year of import, if given.
    pub import_year: Option<i32>,
    /// The CBAM factor of that year (`None`: no year, or before 2026).
    pub cbam_factor: Option<f64>,
    /// The product's EU benchmark, if given.
    pub benchmark: Option<Benchmark>,
    /// benchmark × t × CBAM factor × correction, g (0 when it cannot be computed).
    pub adjustment_g: i64,
    /// Certificates due before any origin carbon price: max(0, counted − adjustment), t
    /// (0 before 2026).
    pub certificates_t: f64,
    /// Whether `certificates_t` (and the cost) is an upper bound: no benchmark or no year.
    pub upper_bound: bool,
    /// The rule and the arithmetic, in words.
    pub rule: String,
}

/// The importer's de minimis position (Regulation (EU) 2025/2083).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeMinimis {
    /// 50 t.
    pub threshold_t: f64,
    /// The importer's net mass of CBAM goods (except electricity, hydrogen) in the year, t.
    pub importer_t: Option<f64>,
    /// Whether the importer is exempt (`None`: unknown, the importer's total was not given).
    pub exempt: Option<bool>,
    /// The rule in words.
    pub rule: String,
}

/// What tanji's hourly (precise) grid factor changes in a product's CBAM figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HourlyEffect {
    /// Change of the CBAM counted figure from using the hourly factor instead of the fixed
    /// one, g: always 0 (the hourly grid factor is not a CBAM factor).
    pub hourly_g: i64,
    /// What a declared link/PPA changes in the counted figure against the country default, g
    /// (0 without one, or where indirect emissions do not count).
    pub link_g: i64,
    /// The precise footprint's electricity minus the CBAM electricity, g: where the precise
    /// figure matters instead (footprints, Scope 3, green-power matching).
    pub precise_vs_cbam_g: i64,
    /// In words.
    pub text: String,
}

/// Input that [`products`], [`classify`] or [`certificate_cost`] refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CbamError {
    /// The accounting computation refused its input.
    #[error(transparent)]
    Accounting(#[from] AccountingError),
    /// A CN code that is not 8 (CN) or 10 (TARIC) digits.
    #[error("CN code {code:?} is not a CN code: {reason}; give the 8-digit code from the customs declaration, e.g. \"2523 29 00\"")]
    CnCode {
        /// The code as given.
        code: String,
        /// What is wrong.
        reason: String,
    },
    /// A production record that cannot be used.
    #[error("production record {index} (product {product:?}): {reason}")]
    Record {
        /// Index in `ProductInputs::production`.
        index: usize,
        /// Its product.
        product: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// One product named with two CN codes.
    #[error("product {product:?} has CN code {first} in one record and {other} in record {index}; a product has one CN code: name the variants as separate products")]
    CnConflict {
        /// Product.
        product: String,
        /// The first code seen.
        first: String,
        /// The other code.
        other: String,
        /// Index of the record with the other code.
        index: usize,
    },
    /// No production inside the period.
    #[error(
        "no production record has mass inside the period {}..{}; emissions cannot be allocated to products",
        tanji_units::time::rfc3339(*.start),
        tanji_units::time::rfc3339(*.end)
    )]
    NoProduction {
        /// Period start.
        start: i64,
        /// Period end.
        end: i64,
    },
    /// A process-emission entry that cannot be used.
    #[error("process emission {id:?}: {reason}")]
    Process {
        /// Its id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A price, rate or factor that is negative, zero where it must not be, or not finite.
    #[error("{what} {value} is not allowed: {reason}")]
    Value {
        /// Which input.
        what: String,
        /// Its value.
        value: f64,
        /// What it must be.
        reason: String,
    },
}

/// Goods made on a line in a time span: `kg` produced evenly over `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductionRecord {
    /// Product id (one product has one CN code).
    pub product: String,
    /// CN code (8 digits; spaces and dots allowed, e.g. `2523 29 00`).
    pub cn_code: String,
    /// Mass produced, kg (= thousandths of a tonne).
    pub kg: i64,
    /// Production line, if known; with a meter→line map, emissions of the line's meters in the
    /// record's intervals go to the products made there.
    #[serde(default)]
    pub line: Option<String>,
    /// Start, Unix seconds UTC.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
}

/// Direct emissions not metered as fuel (e.g. cement's calcination CO2, computed by the caller
/// from raw meal or clinker with its own source), `g` spread evenly over `[start, end)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessEmission {
    /// Id.
    pub id: String,
    /// Production line, if the emission belongs to one.
    #[serde(default)]
    pub line: Option<String>,
    /// Start, Unix seconds UTC.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// CO2, g.
    pub g: i64,
    /// How it was computed.
    pub source: String,
}

/// How the electricity with an actual (non-default) factor reaches the installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyLink {
    /// A direct technical link between the generator and the installation.
    DirectTechnicalLink,
    /// A power purchase agreement with an electricity producer (Annex IV 1(f)).
    PowerPurchaseAgreement,
}

/// A declared direct technical link or PPA: the electricity it covers may carry the
/// generator's actual emission factor for CBAM instead of the country default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActualElectricity {
    /// Link or PPA.
    pub link: SupplyLink,
    /// Contract or link id.
    pub id: String,
    /// The generating installation.
    pub generator: String,
    /// Electricity it covers in the period, Wh (capped at the enterprise's grid import).
    pub wh: i64,
    /// The generator's actual emission factor, gCO2/kWh, and its evidence.
    pub factor: NamedFactor,
}

/// What [`products`] takes beside the accounting inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductInputs {
    /// What was made, when and where.
    pub production: Vec<ProductionRecord>,
    /// Meter → production line. Empty: allocate everything by mass share over the period.
    #[serde(default)]
    pub meter_lines: BTreeMap<String, String>,
    /// Process emissions not metered as fuel.
    #[serde(default)]
    pub process: Vec<ProcessEmission>,
    /// The country-of-origin default grid factor, gCO2/kWh, with its source (e.g. the
    /// Commission's IEA-based value for China, or another public grid factor).
    pub country_default: NamedFactor,
    /// A declared direct technical link or PPA, if any.
    #[serde(default)]
    pub actual_electricity: Option<ActualElectricity>,
    /// Prices for a certificate-cost estimate per CBAM product, if wanted.
    #[serde(default)]
    pub cost: Option<CostInputs>,
    /// Year the goods are imported into the EU (the CBAM factor's year); without it the
    /// free-allocation adjustment is not applied and certificates are an upper bound.
    #[serde(default)]
    pub import_year: Option<i32>,
    /// EU benchmarks by product id, each with its source.
    #[serde(default)]
    pub benchmarks: BTreeMap<String, Benchmark>,
    /// The importer's net mass of CBAM goods (except electricity and hydrogen) imported in
    /// the import year, t, with its source: decides the de minimis exemption.
    #[serde(default)]
    pub importer_annual_t: Option<NamedFactor>,
}

/// How emissions were allocated to products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Allocation {
    /// Each mapped meter's interval emissions go to the products made on its line in that
    /// interval, by mass; a line's intervals without production go to the line's products by
    /// their mass over the period; unmapped meters by mass share over the period.
    ProductionLine,
    /// Everything by each product's share of the mass produced in the period.
    MassShare,
}

/// Which electricity factor CBAM uses for a product's indirect emissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorBasis {
    /// The country-of-origin default.
    CountryDefault,
    /// The linked or contracted generator's actual factor (for the covered share; the rest
    /// at the default).
    Actual,
}

/// A product's electricity and its indirect emissions at each factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Electricity {
    /// Grid electricity allocated to the product, Wh.
    pub wh: i64,
    /// At each interval's own grid factor (tanji's precise figure), g.
    pub precise_g: i64,
    /// The product's electricity-weighted precise factor, gCO2/kWh.
    pub precise_g_per_kwh: Option<f64>,
    /// At the country default, g.
    pub default_g: i64,
    /// The country default used.
    pub default_factor: NamedFactor,
    /// With the declared link/PPA: covered part at its actual factor + the rest at the
    /// default, g.
    pub actual_g: Option<i64>,
    /// The product's electricity covered by the link/PPA, Wh.
    pub actual_covered_wh: Option<i64>,
    /// The factor CBAM uses.
    pub cbam_basis: FactorBasis,
    /// Indirect emissions at the factor CBAM uses, g.
    pub cbam_g: i64,
    /// Why that factor, and how it compares to the precise one.
    pub why: String,
}

/// The CBAM figures of a CBAM good.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CbamFigures {
    /// Whether indirect emissions count for this good.
    pub indirect_counted: bool,
    /// Attributed direct emissions, g.
    pub direct_g: i64,
    /// Attributed indirect emissions that count (0 for Annex II goods), g.
    pub indirect_g: i64,
    /// Embedded emissions counted under CBAM: direct + counted indirect, g.
    pub counted_g: i64,
    /// SEE direct, t CO2 per t of good.
    pub see_direct_t_per_t: f64,
    /// SEE indirect at the factor CBAM allows, t/t (shown even where it does not count).
    pub see_indirect_t_per_t: f64,
    /// SEE counted (direct + counted indirect), t/t.
    pub see_t_per_t: f64,
    /// The rule, in words.
    pub rule: String,
    /// The free-allocation adjustment and the certificates due.
    pub free_allocation: FreeAllocation,
    /// The importer's de minimis position.
    pub de_minimis: DeMinimis,
    /// What the hourly factor (and a link/PPA) changes in this figure.
    pub hourly_effect: HourlyEffect,
    /// Certificate-cost estimate, if prices were given (none for an exempt importer).
    pub cost: Option<CostEstimate>,
}

/// The product carbon footprint (cradle-to-gate at the installation, for customers and
/// internal decisions): direct emissions + electricity at tanji's precise interval factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Footprint {
    /// Direct emissions, g.
    pub direct_g: i64,
    /// Electricity at each interval's own factor, g.
    pub indirect_g: i64,
    /// Total, g.
    pub total_g: i64,
    /// Total per t of product.
    pub t_per_t: f64,
    /// What the figure is based on.
    pub basis: String,
    /// The CBAM counted figure, when the product is a CBAM good.
    pub cbam_counted_g: Option<i64>,
    /// footprint − CBAM counted, g, when they differ.
    pub difference_g: Option<i64>,
}

/// Where a product's emissions came from in the allocation (direct + precise electricity), g.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AllocationParts {
    /// From its lines' meters in the intervals it was made.
    pub line_g: i64,
    /// From its lines' meters in intervals with no production on the line.
    pub line_idle_g: i64,
    /// From meters with no line (or lines with no production), by mass over the period.
    pub shared_g: i64,
}

/// One product.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductResult {
    /// Product id.
    pub product: String,
    /// Its CN code and CBAM status.
    pub cn: CnClass,
    /// Mass produced in the period, kg (the activity level AL).
    pub kg: i64,
    /// Lines it was made on.
    pub lines: Vec<String>,
    /// Attributed direct emissions (fuels, purchased heat/steam, process), g.
    pub direct_g: i64,
    /// Electricity and indirect emissions.
    pub electricity: Electricity,
    /// Where its emissions came from.
    pub allocation: AllocationParts,
    /// CBAM figures; `None` when it is not a CBAM good (or is electricity, not modelled).
    pub cbam: Option<CbamFigures>,
    /// Product carbon footprint.
    pub footprint: Footprint,
}

/// Enterprise totals the products share.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductTotals {
    /// Fossil fuel CO2 (Scope 1), g.
    pub fuel_g: i64,
    /// Purchased heat and steam, g (direct emissions under CBAM).
    pub heat_g: i64,
    /// Why heat and steam are direct under CBAM, in words.
    pub heat_rule: &'static str,
    /// Process emissions passed in, g.
    pub process_g: i64,
    /// fuel + heat + process, g.
    pub direct_g: i64,
    /// Grid import, Wh.
    pub electricity_wh: i64,
    /// Grid import at each interval's own factor, g.
    pub electricity_precise_g: i64,
    /// Mass produced in the period, kg.
    pub kg: i64,
}

/// Products, their allocated emissions, SEE, CBAM figures and footprints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProductReport {
    /// [`CBAM_METHOD`].
    pub method: String,
    /// The accounting method of the underlying figures ([`crate::METHOD`]).
    pub accounting_method: String,
    /// The factor series of the precise figures.
    pub factor_series: String,
    /// Enterprise.
    pub enterprise: String,
    /// Period start, Unix seconds UTC.
    pub period_start: i64,
    /// Period end (exclusive).
    pub period_end: i64,
    /// Allocation method.
    pub allocation: Allocation,
    /// Why this method, in words.
    pub allocation_reason: String,
    /// The country default factor.
    pub country_default: NamedFactor,
    /// The declared link/PPA, if any.
    pub actual_electricity: Option<ActualElectricity>,
    /// Share of the enterprise's grid import the link/PPA covers.
    pub actual_coverage: Option<f64>,
    /// Totals.
    pub totals: ProductTotals,
    /// Products, by id.
    pub products: Vec<ProductResult>,
    /// Allocation notes (records outside the period, lines without meters or production …).
    pub notes: Vec<String>,
    /// The accounting data issues (gaps, missing factors …) behind the figures.
    pub issues: Vec<DataIssue>,
    /// The rules in force for 2026 imports that the figures follow ([`RULES_2026`]).
    pub rules: Vec<&'static str>,
    /// What is not modelled.
    pub not_modelled: Vec<&'static str>,
}

/// Allocates one enterprise's emissions over `inputs`' period to the products of
/// `product_inputs.production` and computes, per product, SEE, the CBAM figures (which goods,
/// which electricity factor, what counts, optional cost) and the precise carbon footprint.
/// See the module documentation and `crates/accounting/README.md` ("Products and CBAM").
pub fn products(
    inputs: &Inputs,
    factors: &dyn FactorLookup,
    options: &Options,
    product_inputs: &ProductInputs,
) -> Result<ProductReport, CbamError> {
    let (report, intervals) = compute_with_intervals(inputs, factors, options)?;
    let period = (inputs.period_start, inputs.period_end);
    let pi = product_inputs;
    check_inputs(pi)?;
    let mut notes = Vec::new();
    let mut production = Production::new(&pi.production, period, &mut notes)?;
    let all = production.by_mass();
    if all.is_empty() {
        return Err(CbamError::NoProduction {
            start: period.0,
            end: period.1,
        });
    }
    let by_line = !pi.meter_lines.is_empty();
    let mut totals = ProductTotals {
        fuel_g: report.scope1.fossil_g,
        heat_g: report.scope2_location.heat_g,
        heat_rule: HEAT_RULE,
        process_g: 0,
        direct_g: 0,
        electricity_wh: report.scope2_location.import_wh,
        electricity_precise_g: report.scope2_location.electricity_g,
        kg: 0,
    };
    let sources: Vec<Source<'_>> =
        allocate::sources(&intervals, pi, period, &mut totals, &mut notes)?;
    totals.direct_g = totals.fuel_g + totals.heat_g + totals.process_g;
    totals.kg = round(all.iter().map(|a| a.kg).sum());
    let lines_without_production = production.allocate(&sources, &all);
    production.line_notes(&lines_without_production, pi, &intervals, &mut notes);
    // Coverage of a declared link/PPA.
    let coverage = pi.actual_electricity.as_ref().map(|a| {
        if totals.electricity_wh > 0 {
            (a.wh as f64 / totals.electricity_wh as f64).min(1.0)
        } else {
            0.0
        }
    });
    let ctx = Context {
        pi,
        coverage,
        factor_series: &report.factor_series,
        by_line,
    };
    let mut results = Vec::new();
    for p in &production.products {
        if p.kg <= 0.0 {
            notes.push(format!(
                "product {} has no production inside the period: not listed",
                p.name
            ));
            continue;
        }
        results.push(figures::result(p, &ctx)?);
    }
    results.sort_by(|a, b| a.product.cmp(&b.product));
    let (allocation, allocation_reason) = allocation(pi);
    Ok(ProductReport {
        method: CBAM_METHOD.to_owned(),
        accounting_method: report.method.clone(),
        factor_series: report.factor_series.clone(),
        enterprise: report.enterprise.clone(),
        period_start: period.0,
        period_end: period.1,
        allocation,
        allocation_reason,
        country_default: pi.country_default.clone(),
        actual_electricity: pi.actual_electricity.clone(),
        actual_coverage: coverage,
        totals,
        products: results,
        notes,
        issues: report.issues,
        rules: RULES_2026.to_vec(),
        not_modelled: NOT_MODELLED.to_vec(),
    })
}

/// The country default factor and a declared link/PPA must be finite and non-negative.
fn check_inputs(pi: &ProductInputs) -> Result<(), CbamError> {
    check(
        "country default factor (g/kWh)",
        pi.country_default.value,
        false,
    )?;
    if let Some(a) = &pi.actual_electricity {
        check("actual electricity factor (g/kWh)", a.factor.value, false)?;
        check(
            "electricity covered by the link/PPA (Wh)",
            a.wh as f64,
            false,
        )?;
    }
    Ok(())
}

/// How emissions were allocated, and why.
fn allocation(pi: &ProductInputs) -> (Allocation, String) {
    let allocation = if !pi.meter_lines.is_empty() {
        Allocation::ProductionLine
    } else {
        Allocation::MassShare
    };
    let allocation_reason = if !pi.meter_lines.is_empty() {
        format!(
            "a meter→line map was given ({} meters): each line's interval emissions go to the \
             products made on it in that interval, by mass; the line's intervals without \
             production go to its products by their mass over the period; meters without a line \
             are shared by mass over all products",
            pi.meter_lines.len()
        )
    } else {
        "no meter→line map was given: all emissions are shared by each product's mass share over \
         the period"
            .to_owned()
    };

    (allocation, allocation_reason)
}

fn round(x: f64) -> i64 {
    x.round() as i64
}

/// Small inputs for the stages' tests.
#[cfg(test)]
mod testing {
    use super::*;

    /// Product inputs with `production`, a country default of 500 g/kWh and nothing else.
    pub(super) fn product_inputs(production: Vec<ProductionRecord>) -> ProductInputs {
        ProductInputs {
            production,
            meter_lines: BTreeMap::new(),
            process: Vec::new(),
            country_default: NamedFactor {
                value: 500.0,
                source: "default".to_owned(),
            },
            actual_electricity: None,
            cost: None,
            import_year: None,
            benchmarks: BTreeMap::new(),
            importer_annual_t: None,
        }
    }

    /// `kg` of `product` (CN `cn`) on `line` over `[start, end)`.
    pub(super) fn record(
        product: &str,
        cn: &str,
        kg: i64,
        line: Option<&str>,
        start: i64,
        end: i64,
    ) -> ProductionRecord {
        ProductionRecord {
            product: product.to_owned(),
            cn_code: cn.to_owned(),
            kg,
            line: line.map(str::to_owned),
            start,
            end,
        }
    }
}
