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
//! `/work/shared/reference/factors.md` (EU CBAM section) states the same rules in short.
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

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tanji_units::Carrier;

use crate::factor::FactorLookup;
use crate::input::{Inputs, NamedFactor, Options};
use crate::report::{DataIssue, IntervalEmission};
use crate::{compute_with_intervals, AccountingError, METHOD};

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

/// A CBAM goods category (Annex I of Regulation (EU) 2023/956).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Cement (CN 2507 00 80, 2523 …).
    Cement,
    /// Electricity (CN 2716 00 00).
    Electricity,
    /// Fertilisers (CN 2808 00 00, 2814, 2834 21 00, 3102, 3105 …).
    Fertilisers,
    /// Iron and steel (CN 2601 12 00, 72 …, selected 73 headings).
    IronAndSteel,
    /// Aluminium (selected 76 headings).
    Aluminium,
    /// Hydrogen (CN 2804 10 00).
    Hydrogen,
}

impl Category {
    /// English name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Cement => "cement",
            Category::Electricity => "electricity",
            Category::Fertilisers => "fertilisers",
            Category::IronAndSteel => "iron and steel",
            Category::Aluminium => "aluminium",
            Category::Hydrogen => "hydrogen",
        }
    }

    /// Whether indirect emissions (electricity consumed) count in the embedded emissions of
    /// this category's goods in the definitive period (from 2026). Article 7(1): for the goods
    /// listed in Annex II only direct emissions are taken into account; Annex II lists iron and
    /// steel, aluminium and hydrogen (reference/factors.md: "indirect emissions count for cement
    /// and fertilisers only … subject to review"). Electricity has its own method.
    pub fn indirect_counts(self) -> bool {
        matches!(self, Category::Cement | Category::Fertilisers)
    }

    /// The rule behind [`Category::indirect_counts`], in words.
    pub fn indirect_rule(self) -> &'static str {
        match self {
            Category::Cement | Category::Fertilisers => {
                "not in Annex II of Regulation (EU) 2023/956: direct and indirect emissions count \
                 (Article 7, Annex IV)"
            }
            Category::IronAndSteel | Category::Aluminium | Category::Hydrogen => {
                "listed in Annex II of Regulation (EU) 2023/956: only direct emissions count in the \
                 definitive period (Article 7; subject to the Commission's review)"
            }
            Category::Electricity => {
                "electricity as a good has its own method (Annex IV points 4 and 5); not modelled"
            }
        }
    }
}

/// One row of the CBAM goods table: a CN code prefix (digits only) and whether goods under it
/// are CBAM goods. The longest matching prefix decides, so exclusions (e.g. ferro-silicon
/// 7202 2) are rows with `covered: false` under a covered chapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CnRule {
    /// CN code prefix, digits only (`"72"`, `"72022"`, `"25232900"`).
    pub prefix: &'static str,
    /// Category.
    pub category: Category,
    /// Whether goods under the prefix are CBAM goods.
    pub covered: bool,
    /// The Annex I entry, in words.
    pub entry: &'static str,
}

const fn r(prefix: &'static str, category: Category, entry: &'static str) -> CnRule {
    CnRule {
        prefix,
        category,
        covered: true,
        entry,
    }
}

const fn x(prefix: &'static str, category: Category, entry: &'static str) -> CnRule {
    CnRule {
        prefix,
        category,
        covered: false,
        entry,
    }
}

/// Annex I of Regulation (EU) 2023/956: the goods CBAM covers, by CN code (with Annex I's own
/// exceptions as `covered: false` rows). See the module documentation for how it was checked.
pub const ANNEX_I: &[CnRule] = {
    use Category::*;
    &[
        // Cement.
        r("25070080", Cement, "2507 00 80 Other kaolinic clays (calcined)"),
        r("25231000", Cement, "2523 10 00 Cement clinkers"),
        r("25232100", Cement, "2523 21 00 White Portland cement"),
        r("25232900", Cement, "2523 29 00 Other Portland cement"),
        r("25233000", Cement, "2523 30 00 Aluminous cement"),
        r("25239000", Cement, "2523 90 00 Other hydraulic cements"),
        // Electricity.
        r("27160000", Electricity, "2716 00 00 Electrical energy"),
        // Fertilisers.
        r("28080000", Fertilisers, "2808 00 00 Nitric acid; sulphonitric acids"),
        r("2814", Fertilisers, "2814 Ammonia, anhydrous or in aqueous solution"),
        r("28342100", Fertilisers, "2834 21 00 Nitrates of potassium"),
        r("3102", Fertilisers, "3102 Mineral or chemical fertilisers, nitrogenous"),
        r(
            "3105",
            Fertilisers,
            "3105 Mineral or chemical fertilisers containing two or three of the fertilising \
             elements nitrogen, phosphorus and potassium; other fertilisers",
        ),
        x(
            "31056000",
            Fertilisers,
            "3105 60 00 fertilisers containing only phosphorus and potassium (excepted from 3105)",
        ),
        // Iron and steel.
        r(
            "26011200",
            IronAndSteel,
            "2601 12 00 Agglomerated iron ores and concentrates, other than roasted iron pyrites",
        ),
        r("72", IronAndSteel, "72 Iron and steel"),
        x("72022", IronAndSteel, "7202 2 Ferro-silicon (excepted from 72)"),
        x("72023000", IronAndSteel, "7202 30 00 Ferro-silico-manganese (excepted from 72)"),
        x("72025000", IronAndSteel, "7202 50 00 Ferro-silico-chromium (excepted from 72)"),
        x("72027000", IronAndSteel, "7202 70 00 Ferro-molybdenum (excepted from 72)"),
        x(
            "72028000",
            IronAndSteel,
            "7202 80 00 Ferro-tungsten and ferro-silico-tungsten (excepted from 72)",
        ),
        x(
            "72029100",
            IronAndSteel,
            "7202 91 00 Ferro-titanium and ferro-silico-titanium (excepted from 72)",
        ),
        x("72029200", IronAndSteel, "7202 92 00 Ferro-vanadium (excepted from 72)"),
        x("72029300", IronAndSteel, "7202 93 00 Ferro-niobium (excepted from 72)"),
        x(
            "720299",
            IronAndSteel,
            "7202 99 Other ferro-alloys: ferro-phosphorus, ferro-silico-magnesium, other (excepted from 72)",
        ),
        x(
            "7204",
            IronAndSteel,
            "7204 Ferrous waste and scrap; remelting scrap ingots (excepted from 72)",
        ),
        r("7301", IronAndSteel, "7301 Sheet piling of iron or steel; welded angles, shapes and sections"),
        r("7302", IronAndSteel, "7302 Railway or tramway track construction material of iron or steel"),
        r("730300", IronAndSteel, "7303 00 Tubes, pipes and hollow profiles, of cast iron"),
        r("7304", IronAndSteel, "7304 Tubes, pipes and hollow profiles, seamless, of iron or steel"),
        r("7305", IronAndSteel, "7305 Other tubes and pipes, external diameter > 406.4 mm"),
        r("7306", IronAndSteel, "7306 Other tubes, pipes and hollow profiles of iron or steel"),
        r("7307", IronAndSteel, "7307 Tube or pipe fittings of iron or steel"),
        r("7308", IronAndSteel, "7308 Structures and parts of structures of iron or steel"),
        r("730900", IronAndSteel, "7309 00 Reservoirs, tanks, vats (capacity > 300 l), of iron or steel"),
        r("7310", IronAndSteel, "7310 Tanks, casks, drums, cans, boxes (capacity <= 300 l), of iron or steel"),
        r("731100", IronAndSteel, "7311 00 Containers for compressed or liquefied gas, of iron or steel"),
        r("7318", IronAndSteel, "7318 Screws, bolts, nuts, rivets, washers and similar, of iron or steel"),
        r("7326", IronAndSteel, "7326 Other articles of iron or steel"),
        // Aluminium.
        r("7601", Aluminium, "7601 Unwrought aluminium"),
        r("7603", Aluminium, "7603 Aluminium powders and flakes"),
        r("7604", Aluminium, "7604 Aluminium bars, rods and profiles"),
        r("7605", Aluminium, "7605 Aluminium wire"),
        r("7606", Aluminium, "7606 Aluminium plates, sheets and strip, thickness > 0.2 mm"),
        r("7607", Aluminium, "7607 Aluminium foil, thickness <= 0.2 mm"),
        r("7608", Aluminium, "7608 Aluminium tubes and pipes"),
        r("76090000", Aluminium, "7609 00 00 Aluminium tube or pipe fittings"),
        r("7610", Aluminium, "7610 Aluminium structures and parts of structures"),
        r("76110000", Aluminium, "7611 00 00 Aluminium reservoirs, tanks, vats (capacity > 300 l)"),
        r("7612", Aluminium, "7612 Aluminium casks, drums, cans, boxes (capacity <= 300 l)"),
        r("76130000", Aluminium, "7613 00 00 Aluminium containers for compressed or liquefied gas"),
        r("7614", Aluminium, "7614 Stranded wire, cables, plaited bands of aluminium, not insulated"),
        r("7616", Aluminium, "7616 Other articles of aluminium"),
        // Hydrogen.
        r("28041000", Hydrogen, "2804 10 00 Hydrogen"),
    ]
};

/// A CN code's CBAM status.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CnClass {
    /// The CN code, 8 digits (a 10-digit TARIC code is cut to its CN part).
    pub cn_code: String,
    /// Whether it is a CBAM good (Annex I).
    pub cbam_good: bool,
    /// Its category, if Annex I names one (also for Annex I's own exceptions).
    pub category: Option<Category>,
    /// The Annex I entry that decided, if any.
    pub annex_i_entry: Option<&'static str>,
    /// Whether indirect emissions count (CBAM goods in the definitive period only).
    pub indirect_emissions_count: bool,
    /// Why, in words.
    pub explanation: String,
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
        crate::utc(.start),
        crate::utc(.end)
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

/// Cleans a CN code: spaces and dots removed; 8 digits (10-digit TARIC codes are cut to 8).
fn normalise_cn(code: &str) -> Result<String, CbamError> {
    let digits: String = code
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '\u{a0}'))
        .collect();
    let err = |reason: &str| CbamError::CnCode {
        code: code.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
        return Err(err(&format!("{c:?} is not a digit")));
    }
    match digits.len() {
        8 => Ok(digits),
        10 => Ok(digits[..8].to_owned()),
        n => Err(err(&format!(
            "it has {n} digits; a heading or HS subheading is not enough because Annex I \
             excepts some 8-digit codes"
        ))),
    }
}

/// Formats 8 digits as `2523 29 00`.
fn spaced(cn: &str) -> String {
    match (cn.get(..4), cn.get(4..6), cn.get(6..8)) {
        (Some(a), Some(b), Some(c)) => format!("{a} {b} {c}"),
        _ => cn.to_owned(),
    }
}

/// Whether a CN code is a CBAM good (Annex I of Regulation (EU) 2023/956), its category and
/// whether indirect emissions count for it, with the reason in words.
pub fn classify(cn_code: &str) -> Result<CnClass, CbamError> {
    let cn = normalise_cn(cn_code)?;
    let rule = ANNEX_I
        .iter()
        .filter(|r| cn.starts_with(r.prefix))
        .max_by_key(|r| r.prefix.len());
    let code = spaced(&cn);
    Ok(match rule {
        None => CnClass {
            explanation: format!(
                "CN {code} is not listed in Annex I of Regulation (EU) 2023/956 (cement, \
                 fertilisers, iron and steel, aluminium, hydrogen, electricity), so it is not a \
                 CBAM good: no embedded emissions are declared for it and no certificates are \
                 due. Its product carbon footprint is still computed."
            ),
            cn_code: cn,
            cbam_good: false,
            category: None,
            annex_i_entry: None,
            indirect_emissions_count: false,
        },
        Some(rule) if !rule.covered => CnClass {
            explanation: format!(
                "CN {code} falls under Annex I's {} chapter but is excepted from it ({}), so it is \
                 not a CBAM good.",
                rule.category.name(),
                rule.entry
            ),
            cn_code: cn,
            cbam_good: false,
            category: Some(rule.category),
            annex_i_entry: Some(rule.entry),
            indirect_emissions_count: false,
        },
        Some(rule) => CnClass {
            explanation: format!(
                "CN {code} is a CBAM good ({}: Annex I entry {}); {}.",
                rule.category.name(),
                rule.entry,
                rule.category.indirect_rule()
            ),
            cn_code: cn,
            cbam_good: true,
            category: Some(rule.category),
            annex_i_entry: Some(rule.entry),
            indirect_emissions_count: rule.category.indirect_counts(),
        },
    })
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

/// The inputs of a certificate-cost estimate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostInputs {
    /// EU ETS price, EUR per t CO2 (CBAM certificates are priced at the EU ETS auction
    /// clearing price: quarterly averages in 2026, weekly from 2027).
    pub ets_eur_per_t: f64,
    /// Its date and source, e.g. "EU ETS auction clearing price, 2026 Q1 average, EEX".
    pub ets_source: String,
    /// Exchange rate, CNY per EUR.
    pub cny_per_eur: f64,
    /// Its date and source.
    pub exchange_source: String,
    /// Carbon price effectively paid in the country of origin per t of embedded emissions,
    /// CNY/t (China's national ETS price net of free allocation if the installation is
    /// covered, else 0).
    pub origin_cny_per_t: f64,
    /// Its source, or why it is 0.
    pub origin_source: String,
}

/// A CBAM certificate-cost estimate, with every input of the formula.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostEstimate {
    /// Embedded emissions counted under CBAM, g.
    pub counted_g: i64,
    /// The same in t.
    pub counted_t: f64,
    /// The free-allocation adjustment, g (0 when not applied).
    pub free_allocation_g: i64,
    /// Certificates due before the origin price: max(0, counted − adjustment), t.
    pub certificates_t: f64,
    /// Whether the cost is an upper bound (the free-allocation adjustment not applied).
    pub upper_bound: bool,
    /// EU ETS price, EUR/t.
    pub ets_eur_per_t: f64,
    /// Its source.
    pub ets_source: String,
    /// CNY per EUR.
    pub cny_per_eur: f64,
    /// Its source.
    pub exchange_source: String,
    /// Carbon price paid at origin, CNY/t.
    pub origin_cny_per_t: f64,
    /// The same in EUR/t (÷ exchange rate).
    pub origin_eur_per_t: f64,
    /// Its source.
    pub origin_source: String,
    /// max(0, ETS − origin), EUR/t.
    pub net_eur_per_t: f64,
    /// Whether the origin price reached the ETS price (cost capped at zero).
    pub capped_at_zero: bool,
    /// max(0, certificates t × ETS − counted t × origin), EUR, rounded to the cent (without an
    /// adjustment: counted t × net).
    pub cost_eur: f64,
    /// The same in CNY (× exchange rate), rounded to the fen.
    pub cost_cny: f64,
    /// The formula with its numbers.
    pub formula: String,
    /// What the estimate leaves out.
    pub not_modelled: Vec<&'static str>,
}

fn check(what: &str, value: f64, positive: bool) -> Result<(), CbamError> {
    let ok = value.is_finite() && if positive { value > 0.0 } else { value >= 0.0 };
    if ok {
        Ok(())
    } else {
        Err(CbamError::Value {
            what: what.to_owned(),
            value,
            reason: if positive {
                "it must be a finite number above zero".to_owned()
            } else {
                "it must be a finite, non-negative number".to_owned()
            },
        })
    }
}

/// `cost = counted t × max(0, ETS price − origin price ÷ CNY per EUR)`, in EUR and CNY
/// (Article 9 of Regulation (EU) 2023/956 lets the carbon price effectively paid in the
/// country of origin reduce the certificates to surrender; it never makes the cost negative),
/// without the free-allocation adjustment: an upper bound. See [`certificate_cost_adjusted`].
pub fn certificate_cost(counted_g: i64, inputs: &CostInputs) -> Result<CostEstimate, CbamError> {
    certificate_cost_adjusted(counted_g, None, inputs)
}

/// The certificate cost with the free-allocation adjustment (Article 31) `free_allocation_g`:
/// `cost = max(0, max(0, counted − adjustment) t × ETS − counted t × origin ÷ CNY per EUR)`
/// (the origin price is paid on the embedded emissions; Article 9). `None` = not applied:
/// the estimate is an upper bound.
pub fn certificate_cost_adjusted(
    counted_g: i64,
    free_allocation_g: Option<i64>,
    inputs: &CostInputs,
) -> Result<CostEstimate, CbamError> {
    check("EU ETS price (EUR/t)", inputs.ets_eur_per_t, false)?;
    check("exchange rate (CNY/EUR)", inputs.cny_per_eur, true)?;
    check(
        "origin carbon price (CNY/t)",
        inputs.origin_cny_per_t,
        false,
    )?;
    if counted_g < 0 {
        return Err(CbamError::Value {
            what: "counted embedded emissions (g)".to_owned(),
            value: counted_g as f64,
            reason: "emissions cannot be negative".to_owned(),
        });
    }
    let t = counted_g as f64 / 1e6;
    let origin_eur = inputs.origin_cny_per_t / inputs.cny_per_eur;
    let raw = inputs.ets_eur_per_t - origin_eur;
    let net = raw.max(0.0);
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    let adjustment = free_allocation_g.unwrap_or(0).max(0);
    let certificates = (counted_g - adjustment).max(0) as f64 / 1e6;
    let (eur, formula_eur) = match free_allocation_g {
        None => (
            t * net,
            format!(
                "{t} t × max(0, {} EUR/t − {} CNY/t ÷ {} CNY/EUR = {:.4} EUR/t)",
                inputs.ets_eur_per_t, inputs.origin_cny_per_t, inputs.cny_per_eur, net
            ),
        ),
        Some(_) => (
            (certificates * inputs.ets_eur_per_t - t * origin_eur).max(0.0),
            format!(
                "max(0, max(0, {t} t − {} t free allocation) = {certificates} t × {} EUR/t − {t} t \
                 × {} CNY/t ÷ {} CNY/EUR)",
                adjustment as f64 / 1e6,
                inputs.ets_eur_per_t,
                inputs.origin_cny_per_t,
                inputs.cny_per_eur
            ),
        ),
    };
    let cost_eur = cents(eur);
    let cost_cny = cents(eur * inputs.cny_per_eur);
    Ok(CostEstimate {
        counted_g,
        counted_t: t,
        free_allocation_g: adjustment,
        certificates_t: certificates,
        upper_bound: free_allocation_g.is_none(),
        ets_eur_per_t: inputs.ets_eur_per_t,
        ets_source: inputs.ets_source.clone(),
        cny_per_eur: inputs.cny_per_eur,
        exchange_source: inputs.exchange_source.clone(),
        origin_cny_per_t: inputs.origin_cny_per_t,
        origin_eur_per_t: origin_eur,
        origin_source: inputs.origin_source.clone(),
        net_eur_per_t: net,
        capped_at_zero: raw <= 0.0,
        cost_eur,
        cost_cny,
        formula: format!("{formula_eur} = {cost_eur:.2} EUR = {cost_cny:.2} CNY"),
        not_modelled: if free_allocation_g.is_none() {
            vec![NOT_MODELLED[3], NOT_MODELLED[4]]
        } else {
            vec![NOT_MODELLED[4]]
        },
    })
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

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

/// Emissions of one source interval.
#[derive(Clone, Copy, Default)]
struct Amount {
    direct: f64,
    wh: f64,
    elec_g: f64,
}

impl Amount {
    fn add(&mut self, o: Amount, share: f64) {
        self.direct += o.direct * share;
        self.wh += o.wh * share;
        self.elec_g += o.elec_g * share;
    }
    fn g(&self) -> f64 {
        self.direct + self.elec_g
    }
}

#[derive(Default)]
struct Acc {
    amount: Amount,
    line: f64,
    idle: f64,
    shared: f64,
}

/// One record on a line: `[start, end)`, product index, kg per second.
struct Slot {
    start: i64,
    end: i64,
    product: usize,
    kg_per_s: f64,
}

struct Line {
    slots: Vec<Slot>,
    max_len: i64,
    /// kg per product over the period.
    kg: BTreeMap<usize, f64>,
}

impl Line {
    /// kg per product made on the line in `[a, b)`.
    fn made_in(&self, a: i64, b: i64) -> Vec<(usize, f64)> {
        let from = self.slots.partition_point(|s| s.start < a - self.max_len);
        let mut out: Vec<(usize, f64)> = Vec::new();
        for s in self.slots[from..].iter().take_while(|s| s.start < b) {
            let o = overlap((a, b), (s.start, s.end));
            if o > 0 {
                let kg = s.kg_per_s * o as f64;
                match out.iter_mut().find(|(p, _)| *p == s.product) {
                    Some(e) => e.1 += kg,
                    None => out.push((s.product, kg)),
                }
            }
        }
        out
    }
}

fn distribute(accs: &mut [Acc], shares: &[(usize, f64)], amount: Amount, bucket: u8) {
    let total: f64 = shares.iter().map(|s| s.1).sum();
    if total <= 0.0 {
        return;
    }
    for &(p, kg) in shares {
        let share = kg / total;
        let a = &mut accs[p];
        a.amount.add(amount, share);
        let g = amount.g() * share;
        match bucket {
            0 => a.line += g,
            1 => a.idle += g,
            _ => a.shared += g,
        }
    }
}

fn round(x: f64) -> i64 {
    x.round() as i64
}

/// The free-allocation adjustment of `t` tonnes of a good imported in `year` with EU
/// `benchmark`: `benchmark × t × CBAM factor × correction` (Article 31 of Regulation (EU)
/// 2023/956; the CBAM factor of Directive 2003/87/EC Article 10a(1a)).
fn free_allocation(
    year: Option<i32>,
    benchmark: Option<&Benchmark>,
    t: f64,
    counted_g: i64,
) -> Result<FreeAllocation, CbamError> {
    if let Some(b) = benchmark {
        check("EU benchmark (t CO2e/t)", b.t_per_t, false)?;
        if let Some(c) = b.cross_sectoral_correction {
            check("cross-sectoral correction factor", c, false)?;
        }
    }
    let factor = year.and_then(cbam_factor);
    let counted_t = counted_g as f64 / 1e6;
    let (adjustment_g, certificates_t, upper_bound, rule) = match (year, factor, benchmark) {
        (None, ..) => (
            0,
            counted_t,
            true,
            "no import year given: the CBAM factor and the free-allocation adjustment are not \
             applied; the certificates (= counted emissions) are an upper bound"
                .to_owned(),
        ),
        (Some(y), None, _) => (
            0,
            0.0,
            false,
            format!(
                "imported in {y}, before the definitive period (2026): reporting only, no \
                 certificates are surrendered"
            ),
        ),
        (Some(y), Some(f), None) => (
            0,
            counted_t,
            true,
            format!(
                "imported in {y} (CBAM factor {:.1}% [unverified]): no EU benchmark given for this product, so \
                 the free-allocation adjustment (benchmark × t × CBAM factor) is not applied; the \
                 certificates (= counted emissions) are an upper bound. Give the benchmark of \
                 its CN code and route from the implementing act, with its source",
                f * 100.0
            ),
        ),
        (Some(y), Some(f), Some(b)) => {
            let c = b.cross_sectoral_correction.unwrap_or(1.0);
            let adj = round(b.t_per_t * t * f * c * 1e6);
            let cert = (counted_g - adj).max(0) as f64 / 1e6;
            (
                adj,
                cert,
                false,
                format!(
                    "imported in {y}: free-allocation adjustment = benchmark {} t/t ({}) × {t} t × \
                     CBAM factor {f} (Directive 2003/87/EC Art. 10a(1a) [unverified against its \
                     text]){} = {:.6} t; certificates due = max(0, {counted_t} − {:.6}) = \
                     {cert:.6} t (before any carbon price paid at origin)",
                    b.t_per_t,
                    b.source,
                    match b.cross_sectoral_correction {
                        Some(c) => format!(" × cross-sectoral correction {c}"),
                        None => " (cross-sectoral correction not given: not applied)".to_owned(),
                    },
                    adj as f64 / 1e6,
                    adj as f64 / 1e6
                ),
            )
        }
    };
    Ok(FreeAllocation {
        import_year: year,
        cbam_factor: factor,
        benchmark: benchmark.cloned(),
        adjustment_g,
        certificates_t,
        upper_bound,
        rule,
    })
}

/// The de minimis position of an importer with `importer_t` t of CBAM goods in the year.
fn de_minimis(
    importer_t: Option<&NamedFactor>,
    category: Option<Category>,
) -> Result<DeMinimis, CbamError> {
    let applies = !matches!(
        category,
        Some(Category::Electricity) | Some(Category::Hydrogen)
    );
    if let Some(v) = importer_t {
        check("importer's annual CBAM goods (t)", v.value, false)?;
    }
    let (exempt, rule) = match (applies, importer_t) {
        (false, _) => (
            Some(false),
            "electricity and hydrogen have no de minimis threshold (Regulation (EU) 2025/2083)"
                .to_owned(),
        ),
        (true, None) => (
            None,
            format!(
                "an importer bringing in at most {DE_MINIMIS_T} t net mass of CBAM goods (iron and \
                 steel, aluminium, cement, fertilisers) in a calendar year is exempt (Regulation \
                 (EU) 2025/2083); the importer's total was not given, so the exemption is not \
                 decided here"
            ),
        ),
        (true, Some(v)) if v.value <= DE_MINIMIS_T => (
            Some(true),
            format!(
                "the importer's CBAM goods in the year, {} t ({}), do not exceed {DE_MINIMIS_T} t: \
                 exempt from CBAM obligations (Regulation (EU) 2025/2083); no certificates, no cost",
                v.value, v.source
            ),
        ),
        (true, Some(v)) => (
            Some(false),
            format!(
                "the importer's CBAM goods in the year, {} t ({}), exceed {DE_MINIMIS_T} t: all its \
                 imports of the year are subject to CBAM (Regulation (EU) 2025/2083)",
                v.value, v.source
            ),
        ),
    };
    Ok(DeMinimis {
        threshold_t: DE_MINIMIS_T,
        importer_t: importer_t.map(|v| v.value),
        exempt,
        rule,
    })
}

/// What the hourly grid factor, and a declared link/PPA, change in a CBAM figure.
fn hourly_effect(
    cls: &CnClass,
    counts: bool,
    precise_g: i64,
    default_g: i64,
    cbam_g: i64,
    default_factor: f64,
) -> HourlyEffect {
    let t = |g: i64| g as f64 / 1e6;
    let precise_vs_cbam_g = precise_g - cbam_g;
    let link_g = if counts { cbam_g - default_g } else { 0 };
    let name = cls.category.map_or("these", Category::name);
    let elsewhere = format!(
        "The precise figure (each interval's own grid factor) differs from the CBAM electricity \
         figure by {:+.3} t: it matters for product footprints given to customers (ISO 14067), \
         buyers' Scope 3 disclosures and hourly green-power matching, not for the CBAM \
         certificates.",
        t(precise_vs_cbam_g)
    );
    let text = if !counts {
        format!(
            "For {name} goods indirect emissions do not count under CBAM (Annex II of Regulation \
             (EU) 2023/956): neither the hourly factor nor the fixed one changes this CBAM figure \
             (0 t). {elsewhere}"
        )
    } else if link_g == 0 && cbam_g == default_g {
        format!(
            "For {name} goods indirect emissions count at the country-of-origin default factor \
             ({default_factor} g/kWh) unless a direct technical link or PPA qualifies; none is \
             declared, so the hourly factor does not change this CBAM figure (0 t). {elsewhere}"
        )
    } else {
        format!(
            "A declared direct technical link or PPA moves the counted indirect emissions from the \
             country default to the generator's actual factor on the covered share: {:+.3} t \
             against the default. tanji's hourly grid factor itself still does not enter the \
             CBAM figure (0 t). {elsewhere}",
            t(link_g)
        )
    };
    HourlyEffect {
        hourly_g: 0,
        link_g,
        precise_vs_cbam_g,
        text,
    }
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
    let mut notes = Vec::new();

    // Products and their CN codes; records clipped to the period.
    let mut names: Vec<String> = Vec::new();
    let mut classes: Vec<CnClass> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kg_total: Vec<f64> = Vec::new();
    let mut product_lines: Vec<BTreeSet<String>> = Vec::new();
    let mut lines: BTreeMap<&str, Line> = BTreeMap::new();
    for (i, rec) in pi.production.iter().enumerate() {
        let bad = |reason: String| CbamError::Record {
            index: i,
            product: rec.product.clone(),
            reason,
        };
        if rec.end <= rec.start {
            return Err(bad(format!(
                "interval {}..{} is empty; the end must be after the start",
                rec.start, rec.end
            )));
        }
        if rec.kg < 0 {
            return Err(bad(format!("mass {} kg is negative", rec.kg)));
        }
        let class = classify(&rec.cn_code).map_err(|e| bad(e.to_string()))?;
        let p = match index.get(rec.product.as_str()) {
            Some(&p) => {
                if classes[p].cn_code != class.cn_code {
                    return Err(CbamError::CnConflict {
                        product: rec.product.clone(),
                        first: spaced(&classes[p].cn_code),
                        other: spaced(&class.cn_code),
                        index: i,
                    });
                }
                p
            }
            None => {
                index.insert(&rec.product, names.len());
                names.push(rec.product.clone());
                classes.push(class);
                kg_total.push(0.0);
                product_lines.push(BTreeSet::new());
                names.len() - 1
            }
        };
        let len = rec.end - rec.start;
        let inside = overlap((rec.start, rec.end), period);
        if inside == 0 {
            notes.push(format!(
                "production record {i} ({}, {} kg, {}..{}) lies outside the period: not counted",
                rec.product, rec.kg, rec.start, rec.end
            ));
            continue;
        }
        let kg_per_s = rec.kg as f64 / len as f64;
        kg_total[p] += kg_per_s * inside as f64;
        if let Some(line) = &rec.line {
            product_lines[p].insert(line.clone());
            let l = lines.entry(line).or_insert_with(|| Line {
                slots: Vec::new(),
                max_len: 0,
                kg: BTreeMap::new(),
            });
            let (s, e) = (rec.start.max(period.0), rec.end.min(period.1));
            l.slots.push(Slot {
                start: s,
                end: e,
                product: p,
                kg_per_s,
            });
            l.max_len = l.max_len.max(e - s);
            *l.kg.entry(p).or_default() += kg_per_s * inside as f64;
        }
    }
    for l in lines.values_mut() {
        l.slots.sort_by_key(|s| (s.start, s.end, s.product));
    }
    let all: Vec<(usize, f64)> = kg_total
        .iter()
        .enumerate()
        .filter(|(_, &kg)| kg > 0.0)
        .map(|(p, &kg)| (p, kg))
        .collect();
    if all.is_empty() {
        return Err(CbamError::NoProduction {
            start: period.0,
            end: period.1,
        });
    }

    // Sources: metered intervals and process emissions.
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
    let mut sources: Vec<(Option<&str>, i64, i64, Amount)> = intervals
        .iter()
        .map(|iv: &IntervalEmission| {
            let amount = if iv.carrier == Carrier::ElectricityImport {
                Amount {
                    direct: 0.0,
                    wh: iv.wh as f64,
                    elec_g: iv.g,
                }
            } else {
                Amount {
                    direct: iv.g,
                    ..Amount::default()
                }
            };
            let line = pi.meter_lines.get(&iv.meter).map(String::as_str);
            (line, iv.start, iv.end, amount)
        })
        .collect();
    for pe in &pi.process {
        if pe.end <= pe.start || pe.g < 0 {
            return Err(CbamError::Process {
                id: pe.id.clone(),
                reason: format!(
                    "needs a non-empty interval and non-negative g (got {}..{}, {} g)",
                    pe.start, pe.end, pe.g
                ),
            });
        }
        let inside = overlap((pe.start, pe.end), period);
        let g = pe.g as f64 * inside as f64 / (pe.end - pe.start) as f64;
        if inside < pe.end - pe.start {
            notes.push(format!(
                "process emission {}: only the {:.1}% inside the period counted",
                pe.id,
                inside as f64 / (pe.end - pe.start) as f64 * 100.0
            ));
        }
        totals.process_g += round(g);
        sources.push((
            if by_line { pe.line.as_deref() } else { None },
            pe.start.max(period.0),
            pe.end.min(period.1).max(pe.start.max(period.0)),
            Amount {
                direct: g,
                ..Amount::default()
            },
        ));
    }
    totals.direct_g = totals.fuel_g + totals.heat_g + totals.process_g;
    totals.kg = round(all.iter().map(|a| a.1).sum());

    // Allocate.
    let mut accs: Vec<Acc> = (0..names.len()).map(|_| Acc::default()).collect();
    let mut shared = Amount::default();
    let mut idle: BTreeMap<&str, Amount> = BTreeMap::new();
    let mut lines_without_production: BTreeSet<&str> = BTreeSet::new();
    for (line, a, b, amount) in &sources {
        match line.map(|l| (l, lines.get(l))) {
            Some((name, Some(l))) => {
                let made = l.made_in(*a, *b);
                if made.iter().any(|m| m.1 > 0.0) {
                    distribute(&mut accs, &made, *amount, 0);
                } else {
                    idle.entry(name).or_default().add(*amount, 1.0);
                }
            }
            Some((name, None)) => {
                lines_without_production.insert(name);
                shared.add(*amount, 1.0);
            }
            None => shared.add(*amount, 1.0),
        }
    }
    for (name, amount) in &idle {
        if let Some(l) = lines.get(name) {
            let shares: Vec<(usize, f64)> = l.kg.iter().map(|(&p, &kg)| (p, kg)).collect();
            distribute(&mut accs, &shares, *amount, 1);
        }
    }
    distribute(&mut accs, &all, shared, 2);
    for name in &lines_without_production {
        notes.push(format!(
            "line {name} has mapped meters but no production in the period: its emissions are \
             shared by mass over all products"
        ));
    }
    if by_line {
        let metered: BTreeSet<&str> = pi.meter_lines.values().map(String::as_str).collect();
        for name in lines.keys().filter(|l| !metered.contains(*l)) {
            notes.push(format!(
                "line {name} has production but no meter mapped to it: its products get only \
                 shared emissions"
            ));
        }
        let seen: BTreeSet<&str> = intervals.iter().map(|i| i.meter.as_str()).collect();
        for m in pi.meter_lines.keys().filter(|m| !seen.contains(m.as_str())) {
            notes.push(format!(
                "meter {m} is mapped to line {} but has no fuel, heat or grid-import data in the \
                 period",
                pi.meter_lines[m]
            ));
        }
    }

    // Coverage of a declared link/PPA.
    let coverage = pi.actual_electricity.as_ref().map(|a| {
        if totals.electricity_wh > 0 {
            (a.wh as f64 / totals.electricity_wh as f64).min(1.0)
        } else {
            0.0
        }
    });

    let default = pi.country_default.value;
    let mut results = Vec::new();
    for (p, acc) in accs.iter().enumerate() {
        let kg = kg_total[p];
        if kg <= 0.0 {
            notes.push(format!(
                "product {} has no production inside the period: not listed",
                names[p]
            ));
            continue;
        }
        let t = kg / 1000.0;
        let cls = classes[p].clone();
        let wh = acc.amount.wh;
        let direct_g = round(acc.amount.direct);
        let precise_g = round(acc.amount.elec_g);
        let default_g = round(wh * default / 1000.0);
        let precise_factor = (wh > 0.0).then(|| acc.amount.elec_g / wh * 1000.0);
        let actual = pi.actual_electricity.as_ref().zip(coverage).map(|(a, c)| {
            let covered = wh * c;
            (
                round(covered * a.factor.value / 1000.0 + (wh - covered) * default / 1000.0),
                round(covered),
                a,
                c,
            )
        });
        let (cbam_basis, cbam_g) = match actual {
            Some((g, ..)) => (FactorBasis::Actual, g),
            None => (FactorBasis::CountryDefault, default_g),
        };
        let precise_text = match precise_factor {
            Some(f) => format!("{f:.1} g/kWh on this product's electricity"),
            None => "no electricity".to_owned(),
        };
        let mut why = match &actual {
            Some((_, covered, a, c)) => format!(
                "A {} ({}, generator {}) is declared: Annex IV of Regulation (EU) 2023/956 allows \
                 the actual factor {} g/kWh ({}) for the electricity it covers, {:.1}% of the \
                 enterprise's grid import ({:.3} MWh of this product's); the rest stays at the \
                 country default {} g/kWh ({}). tanji's precise interval factor ({precise_text}) \
                 is not a CBAM factor: it is used for the product footprint.",
                match a.link {
                    SupplyLink::DirectTechnicalLink => "direct technical link",
                    SupplyLink::PowerPurchaseAgreement => "power purchase agreement",
                },
                a.id,
                a.generator,
                a.factor.value,
                a.factor.source,
                c * 100.0,
                *covered as f64 / 1e6,
                default,
                pi.country_default.source
            ),
            None => format!(
                "No direct technical link or power purchase agreement is declared, so CBAM uses the \
                 country-of-origin default factor {} g/kWh ({}) (Annex IV of Regulation (EU) \
                 2023/956). tanji's precise interval factor ({precise_text}) may not replace it \
                 for CBAM; it is used for the product footprint.",
                default, pi.country_default.source
            ),
        };
        let counts = cls.cbam_good && cls.indirect_emissions_count;
        if cls.cbam_good && !counts {
            why.push_str(&format!(
                " For {} goods indirect emissions do not count (Annex II): the figure is shown for \
                 information only.",
                cls.category.map_or("these", Category::name)
            ));
        }
        let electricity = Electricity {
            wh: round(wh),
            precise_g,
            precise_g_per_kwh: precise_factor,
            default_g,
            default_factor: pi.country_default.clone(),
            actual_g: actual.map(|a| a.0),
            actual_covered_wh: actual.map(|a| a.1),
            cbam_basis,
            cbam_g,
            why,
        };
        let cbam = if cls.cbam_good && cls.category != Some(Category::Electricity) {
            let indirect_g = if counts { cbam_g } else { 0 };
            let counted_g = direct_g + indirect_g;
            let free_allocation =
                free_allocation(pi.import_year, pi.benchmarks.get(&names[p]), t, counted_g)?;
            let de_minimis = de_minimis(pi.importer_annual_t.as_ref(), cls.category)?;
            let hourly_effect = hourly_effect(
                &cls,
                counts,
                precise_g,
                default_g,
                cbam_g,
                pi.country_default.value,
            );
            let cost = match (&pi.cost, de_minimis.exempt, free_allocation.cbam_factor) {
                (None, ..) | (_, Some(true), _) => None,
                // Before 2026 (transitional period) no certificates are surrendered.
                (Some(_), _, None) if free_allocation.import_year.is_some() => None,
                (Some(c), ..) => Some(certificate_cost_adjusted(
                    counted_g,
                    (!free_allocation.upper_bound).then_some(free_allocation.adjustment_g),
                    c,
                )?),
            };
            Some(CbamFigures {
                indirect_counted: counts,
                direct_g,
                indirect_g,
                counted_g,
                see_direct_t_per_t: direct_g as f64 / 1e6 / t,
                see_indirect_t_per_t: cbam_g as f64 / 1e6 / t,
                see_t_per_t: counted_g as f64 / 1e6 / t,
                rule: format!(
                    "SEE = attributed emissions / activity level (Annex IV point 2, simple goods); \
                     {}",
                    cls.category.map_or("", Category::indirect_rule)
                ),
                free_allocation,
                de_minimis,
                hourly_effect,
                cost,
            })
        } else {
            None
        };
        let total_g = direct_g + precise_g;
        let cbam_counted_g = cbam.as_ref().map(|c| c.counted_g);
        let difference_g = cbam_counted_g.map(|c| total_g - c).filter(|&d| d != 0);
        let mut basis = format!(
            "precise: direct emissions (fuels by GB/T 32150-2015, purchased heat and steam, process \
             emissions given) + grid electricity at each interval's own factor from series {} \
             ({precise_text}), allocated {}; method {METHOD}",
            report.factor_series,
            if by_line {
                "by production line and interval, by mass"
            } else {
                "by mass share over the period"
            },
        );
        match (&cbam, difference_g) {
            (Some(c), Some(d)) => basis.push_str(&format!(
                ". Not the CBAM figure ({:.3} t counted, {} electricity factor{}): they differ by \
                 {:.3} t",
                c.counted_g as f64 / 1e6,
                match cbam_basis {
                    FactorBasis::CountryDefault => "country default",
                    FactorBasis::Actual => "actual (link/PPA)",
                },
                if c.indirect_counted {
                    ""
                } else {
                    ", indirect not counted"
                },
                d as f64 / 1e6
            )),
            (Some(_), None) => basis.push_str(". Equal to the CBAM figure"),
            (None, _) => {}
        }
        results.push(ProductResult {
            product: names[p].clone(),
            cn: cls,
            kg: round(kg),
            lines: product_lines[p].iter().cloned().collect(),
            direct_g,
            electricity,
            allocation: AllocationParts {
                line_g: round(acc.line),
                line_idle_g: round(acc.idle),
                shared_g: round(acc.shared),
            },
            cbam,
            footprint: Footprint {
                direct_g,
                indirect_g: precise_g,
                total_g,
                t_per_t: total_g as f64 / 1e6 / t,
                basis,
                cbam_counted_g,
                difference_g,
            },
        });
    }
    results.sort_by(|a, b| a.product.cmp(&b.product));

    let allocation = if by_line {
        Allocation::ProductionLine
    } else {
        Allocation::MassShare
    };
    let allocation_reason = if by_line {
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
