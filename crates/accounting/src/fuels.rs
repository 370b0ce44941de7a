//! Scope 1 from fuel combustion, GB/T 32150-2015 structure (NDRC sector guidelines):
//! `E = Σ AD_i × EF_i`, `AD_i = NCV_i × FC_i` (GJ), `EF_i = CC_i × OF_i × 44/12` (tCO2/GJ).
//!
//! The default parameters come as **named tables**, each standing for one published table
//! (title, table number, year): [`FuelLibrary::default`] holds the NDRC 2015 《工业其他行业企业
//! 温室气体排放核算方法与报告指南（试行）》 table 2.1 (the default), GB/T 32150-2015 Appendix B
//! and IPCC 2006 (wood). Which table and which fuel a meter uses is data ([`MeterFuel`], per
//! meter in [`crate::Options::meter_fuels`]), and every Scope 1 line names both. A value tanji
//! could not confirm against a copy of the table itself carries `verified: false`, and so does
//! every report line that uses it.

use serde::{Deserialize, Serialize};
use tanji_units::{Carrier, Dimension, Unit};

/// What a fuel's net calorific value is stated per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NcvBasis {
    /// GJ per tonne (solid and liquid fuels).
    GjPerTonne,
    /// GJ per 10^4 Nm3 (gaseous fuels), at 0 °C and 101.325 kPa.
    GjPer10kNm3,
}

/// One fuel's default parameters, each with its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fuel {
    /// Stable id, e.g. `natural_gas`, `anthracite`.
    pub id: String,
    /// Human name (English / Chinese).
    pub name: String,
    /// Net calorific value (低位发热量), in GJ per [`Fuel::ncv_basis`].
    pub ncv: f64,
    /// What [`Fuel::ncv`] is per.
    pub ncv_basis: NcvBasis,
    /// Carbon content per unit of heat (单位热值含碳量), tC/TJ (= 10^-3 tC/GJ).
    pub carbon_tc_per_tj: f64,
    /// Oxidation rate (碳氧化率), a fraction (0.99 = 99%).
    pub oxidation: f64,
    /// Biogenic carbon: reported separately, excluded from the Scope 1 total.
    pub biogenic: bool,
    /// Density used when the fuel arrives in litres but NCV is per tonne, kg/L.
    pub density_kg_per_l: Option<f64>,
    /// Where NCV, CC and OF come from.
    pub source: String,
    /// Where the density comes from.
    pub density_source: Option<String>,
    /// Whether NCV, CC and OF were confirmed against a copy of the cited table itself.
    #[serde(default)]
    pub verified: bool,
    /// How the values were (or were not) checked.
    #[serde(default)]
    pub check: String,
}

impl Fuel {
    /// `EF = CC × OF × 44/12`, tCO2 per GJ.
    pub fn ef_t_per_gj(&self) -> f64 {
        self.carbon_tc_per_tj / 1000.0 * self.oxidation * 44.0 / 12.0
    }

    /// Activity data in GJ for `milli` thousandths of `unit`, and whether a default density
    /// was used. `None` if the unit cannot be converted (no density for a volume on a
    /// per-tonne basis, or a mass on a per-volume basis). A gas volume is taken at the NCV's
    /// reference conditions (normal m3); convert other conditions first
    /// ([`GasReference::to_normal`]).
    pub fn activity_gj(&self, milli: i64, unit: Unit) -> Option<(f64, bool)> {
        let q = milli as f64 / 1000.0;
        let r = unit.to_base();
        let base = q * r.num as f64 / r.den as f64; // Wh, L or kg
        match (unit.dimension(), self.ncv_basis) {
            // Energy-metered fuel: taken as NCV-based energy (bill on GCV? convert first).
            (Dimension::Energy, _) => Some((base * 3600.0 / 1e9, false)),
            (Dimension::Mass, NcvBasis::GjPerTonne) => Some((base / 1000.0 * self.ncv, false)),
            (Dimension::Volume, NcvBasis::GjPerTonne) => {
                let d = self.density_kg_per_l?;
                Some((base * d / 1000.0 * self.ncv, true))
            }
            (Dimension::Volume, NcvBasis::GjPer10kNm3) => {
                Some((base / 1000.0 / 10_000.0 * self.ncv, false))
            }
            (Dimension::Mass, NcvBasis::GjPer10kNm3) => None,
        }
    }
}

/// The conditions a gas meter's m3 are stated at. The tables' gas NCVs are per normal m3
/// (0 °C, 101.325 kPa); gas billed at 20 °C is `273.15 / 293.15` = 0.93178 normal m3 per m3
/// (6.8% less gas than a normal m3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GasReference {
    /// 0 °C, 101.325 kPa (normal m3, the tables' basis).
    Normal,
    /// 20 °C, 101.325 kPa (the usual billing basis of Chinese city gas).
    #[serde(rename = "standard_20c")]
    Standard20C,
    /// Other conditions.
    Other {
        /// Temperature, °C.
        celsius: f64,
        /// Absolute pressure, kPa.
        kpa: f64,
    },
}

impl GasReference {
    /// Temperature, °C, and pressure, kPa.
    pub fn conditions(self) -> (f64, f64) {
        match self {
            GasReference::Normal => (0.0, 101.325),
            GasReference::Standard20C => (20.0, 101.325),
            GasReference::Other { celsius, kpa } => (celsius, kpa),
        }
    }

    /// Normal m3 per m3 at these conditions (ideal gas): `273.15 / (273.15 + t) × p / 101.325`.
    pub fn to_normal(self) -> f64 {
        let (t, p) = self.conditions();
        273.15 / (273.15 + t) * p / 101.325
    }

    /// The conditions in words, e.g. `20 °C, 101.325 kPa`.
    pub fn describe(self) -> String {
        let (t, p) = self.conditions();
        format!("{t} °C, {p} kPa")
    }
}

/// Which table and fuel one meter uses, and for gas meters the conditions its m3 are stated
/// at: set at registration or in the enterprise inputs, per meter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterFuel {
    /// Table id (see [`FuelLibrary`]); `None` = the library's default table.
    #[serde(default)]
    pub table: Option<String>,
    /// Fuel id in that table; `None` = the carrier's default fuel.
    #[serde(default)]
    pub fuel: Option<String>,
    /// For gas metered by volume: the reference conditions of its m3. `None` = not stated
    /// (taken as normal m3, and the report says so).
    #[serde(default)]
    pub gas_reference: Option<GasReference>,
}

/// One published table of fuel parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FuelTable {
    /// Stable id, e.g. `ndrc-2015-other-industry-t2.1`.
    pub id: String,
    /// The publication's title.
    pub title: String,
    /// The table within it, e.g. `附录二 表2.1 常用化石燃料相关参数缺省值`.
    pub table: String,
    /// Year of publication.
    pub year: u16,
    /// The fuels (the table's rows tanji reproduces).
    pub fuels: Vec<Fuel>,
    /// Default fuel id per carrier; a meter may name another with [`MeterFuel::fuel`].
    pub defaults: Vec<(Carrier, String)>,
    /// What the table is for, what of it is reproduced, and what is known about its values.
    pub note: String,
}

impl FuelTable {
    /// The fuel `id`, or the carrier's default fuel.
    pub fn resolve(&self, carrier: Carrier, id: Option<&str>) -> Option<&Fuel> {
        let id = match id {
            Some(id) => id,
            None => self
                .defaults
                .iter()
                .find(|(c, _)| *c == carrier)
                .map(|(_, id)| id.as_str())?,
        };
        self.fuels.iter().find(|f| f.id == id)
    }

    /// `title, table (year)`, the citation a report line carries.
    pub fn citation(&self) -> String {
        format!("{}, {} ({})", self.title, self.table, self.year)
    }
}

/// The fuel tables tanji knows and which one applies when a meter names none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FuelLibrary {
    /// Id of the table used when a meter names none.
    pub default_table: String,
    /// The tables.
    pub tables: Vec<FuelTable>,
}

/// Why a meter's fuel could not be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FuelLookupError {
    /// No table with that id.
    UnknownTable(String),
    /// The table has no such fuel (or no default for the carrier).
    UnknownFuel {
        /// Table id.
        table: String,
        /// Fuel id (or carrier code when the carrier has no default).
        fuel: String,
    },
}

impl FuelLibrary {
    /// The table `id`.
    pub fn table(&self, id: &str) -> Option<&FuelTable> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// The table and fuel a meter of `carrier` uses: the table `table` (default: the default
    /// table) and fuel `fuel` (default: the carrier's default in that table). When neither a
    /// table is named nor the fuel is in the default table, the first other table holding the
    /// fuel id answers (e.g. `wood`, from IPCC 2006); the result names the table used.
    pub fn resolve(
        &self,
        carrier: Carrier,
        table: Option<&str>,
        fuel: Option<&str>,
    ) -> Result<(&FuelTable, &Fuel), FuelLookupError> {
        let named = table.unwrap_or(&self.default_table);
        let t = self
            .table(named)
            .ok_or_else(|| FuelLookupError::UnknownTable(named.to_owned()))?;
        if let Some(f) = t.resolve(carrier, fuel) {
            return Ok((t, f));
        }
        if let (None, Some(id)) = (table, fuel) {
            if let Some((t, f)) = self
                .tables
                .iter()
                .find_map(|t| t.fuels.iter().find(|f| f.id == id).map(|f| (t, f)))
            {
                return Ok((t, f));
            }
        }
        Err(FuelLookupError::UnknownFuel {
            table: t.id.clone(),
            fuel: fuel.unwrap_or(carrier.code()).to_owned(),
        })
    }
}

/// Id of the NDRC 2015 other-industry table 2.1 (the default table).
pub const NDRC_2015_T21: &str = "ndrc-2015-other-industry-t2.1";
/// Id of GB/T 32150-2015 Appendix B.
pub const GBT_32150_2015_B: &str = "gbt-32150-2015-b";
/// Id of the IPCC 2006 table of biomass defaults (wood).
pub const IPCC_2006_WOOD: &str = "ipcc-2006-v2-ch1-wood";

/// How the fossil rows were checked: none of them was confirmed against a copy of the table
/// itself.
const CHECK_REVIEW: &str = "unverified: these are the values an independent review of tanji's \
defaults (2026) found in consistent public copies of the table; tanji has not seen a copy of \
the table itself. Confirm against the published table before relying on a digit.";
const CHECK_MEMORY: &str = "unverified: value as commonly reproduced from the table; neither \
tanji nor the independent review (2026) confirmed it against a copy of the table itself. \
Confirm against the published table before relying on a digit.";

/// One row: id, name, NCV, basis, CC tC/TJ, OF, and whether the review reported the values.
type Row = (&'static str, &'static str, f64, NcvBasis, f64, f64, bool);

/// The rows of table 2.1 of the NDRC 2015 other-industry guideline (the same parameters as
/// GB/T 32150-2015 Appendix B, as commonly reproduced).
const FOSSIL_ROWS: &[Row] = {
    use NcvBasis::*;
    &[
        // Solid fuels.
        (
            "anthracite",
            "anthracite / 无烟煤",
            26.7,
            GjPerTonne,
            27.4,
            0.94,
            true,
        ),
        (
            "bituminous",
            "bituminous coal / 烟煤",
            19.570,
            GjPerTonne,
            26.1,
            0.93,
            true,
        ),
        (
            "lignite",
            "lignite / 褐煤",
            11.9,
            GjPerTonne,
            28.0,
            0.96,
            true,
        ),
        (
            "washed_coal",
            "cleaned coal / 洗精煤",
            26.344,
            GjPerTonne,
            25.41,
            0.90,
            false,
        ),
        (
            "other_washed_coal",
            "other washed coal / 其他洗煤",
            12.545,
            GjPerTonne,
            25.41,
            0.90,
            false,
        ),
        (
            "briquette",
            "briquettes / 型煤",
            17.460,
            GjPerTonne,
            33.6,
            0.90,
            false,
        ),
        ("coke", "coke / 焦炭", 28.435, GjPerTonne, 29.5, 0.93, false),
        // Liquid fuels.
        (
            "crude_oil",
            "crude oil / 原油",
            41.816,
            GjPerTonne,
            20.1,
            0.98,
            false,
        ),
        (
            "fuel_oil",
            "fuel oil / 燃料油",
            41.816,
            GjPerTonne,
            21.1,
            0.98,
            true,
        ),
        (
            "gasoline",
            "gasoline / 汽油",
            43.070,
            GjPerTonne,
            18.9,
            0.98,
            true,
        ),
        (
            "diesel",
            "diesel / 柴油",
            42.652,
            GjPerTonne,
            20.2,
            0.98,
            true,
        ),
        (
            "kerosene",
            "kerosene / 一般煤油",
            43.070,
            GjPerTonne,
            19.6,
            0.98,
            false,
        ),
        (
            "lpg",
            "liquefied petroleum gas / 液化石油气",
            50.179,
            GjPerTonne,
            17.2,
            0.98,
            true,
        ),
        (
            "refinery_gas",
            "refinery dry gas / 炼厂干气",
            45.998,
            GjPerTonne,
            18.2,
            0.98,
            false,
        ),
        // Gaseous fuels.
        (
            "natural_gas",
            "natural gas / 天然气",
            389.31,
            GjPer10kNm3,
            15.3,
            0.99,
            true,
        ),
        (
            "coke_oven_gas",
            "coke-oven gas / 焦炉煤气",
            179.81,
            GjPer10kNm3,
            13.58,
            0.99,
            false,
        ),
        (
            "other_gas",
            "other gas / 其他煤气",
            52.270,
            GjPer10kNm3,
            12.2,
            0.99,
            false,
        ),
    ]
};

/// Density of diesel, kg/L, and its source.
const DIESEL_DENSITY: (f64, &str) = (
    0.84,
    "typical value within the density GB 19147-2016 (车用柴油) allows at 20 °C, 810–845 kg/m3; \
     use the delivery note's density for verification",
);
/// Density of gasoline, kg/L, and its source.
const GASOLINE_DENSITY: (f64, &str) = (
    0.74,
    "typical value within the density GB 17930-2016 (车用汽油) allows at 20 °C, 720–775 kg/m3; \
     use the delivery note's density for verification",
);

fn fossil_table(id: &str, title: &str, table: &str, year: u16, note: &str) -> FuelTable {
    let citation = format!("{title}, {table} ({year})");
    let fuels = FOSSIL_ROWS
        .iter()
        .copied()
        .map(|(fid, name, ncv, basis, cc, of, reviewed)| {
            let density = match fid {
                "diesel" => Some(DIESEL_DENSITY),
                "gasoline" => Some(GASOLINE_DENSITY),
                _ => None,
            };
            Fuel {
                id: fid.to_owned(),
                name: name.to_owned(),
                ncv,
                ncv_basis: basis,
                carbon_tc_per_tj: cc,
                oxidation: of,
                biogenic: false,
                density_kg_per_l: density.map(|d| d.0),
                source: format!("{citation} [unverified]"),
                density_source: density.map(|d| d.1.to_owned()),
                verified: false,
                check: if reviewed { CHECK_REVIEW } else { CHECK_MEMORY }.to_owned(),
            }
        })
        .collect();
    FuelTable {
        id: id.to_owned(),
        title: title.to_owned(),
        table: table.to_owned(),
        year,
        fuels,
        defaults: vec![
            (Carrier::NaturalGas, "natural_gas".to_owned()),
            (Carrier::Diesel, "diesel".to_owned()),
            (Carrier::Gasoline, "gasoline".to_owned()),
            (Carrier::Lpg, "lpg".to_owned()),
            (Carrier::FuelOil, "fuel_oil".to_owned()),
            (Carrier::Coal, "bituminous".to_owned()),
        ],
        note: note.to_owned(),
    }
}

/// Source of the biomass (wood) defaults.
pub const IPCC_WOOD_SOURCE: &str = "IPCC 2006 Guidelines, Vol. 2, Ch. 1: Table 1.2 (NCV wood/wood \
waste 15.6 TJ/Gg) and Table 1.3 (carbon content 30.5 kg C/GJ); oxidation 1 (IPCC default) \
[unverified]";

impl Default for FuelLibrary {
    /// The default tables (see `crates/accounting/README.md`): NDRC 2015 table 2.1 (the
    /// default), GB/T 32150-2015 Appendix B, IPCC 2006 (wood).
    fn default() -> Self {
        let ndrc = fossil_table(
            NDRC_2015_T21,
            "国家发展改革委办公厅 工业其他行业企业温室气体排放核算方法与报告指南（试行） \
             (NDRC, GHG accounting and reporting guideline for enterprises in other industrial \
             sectors, trial; 发改办气候〔2015〕1722号)",
            "附录二 表2.1 常用化石燃料相关参数缺省值",
            2015,
            "The default table for enterprises outside the sectors with their own guideline. \
             Rows reproduced: 17 fuels (coals, coke, crude oil, fuel oil, gasoline, diesel, \
             kerosene, LPG, refinery gas, natural gas, coke-oven gas, other gas). Every value is \
             unverified: tanji found no copy of the table itself to check it against.",
        );
        let gbt = fossil_table(
            GBT_32150_2015_B,
            "GB/T 32150-2015 工业企业温室气体排放核算和报告通则 (General guideline of greenhouse \
             gas emissions accounting and reporting for industrial enterprises)",
            "附录B 表B.1 常见化石燃料特性参数缺省值",
            2015,
            "The national standard's defaults, as commonly reproduced with the same parameters \
             as the NDRC 2015 table 2.1 for the fuels listed here (its other rows are not \
             reproduced). Every value is unverified: tanji found no copy of the standard's \
             appendix to check it against. GB/T 32150-2025 supersedes this edition; what it \
             changes in Appendix B could not be confirmed.",
        );
        let wood = FuelTable {
            id: IPCC_2006_WOOD.to_owned(),
            title: "2006 IPCC Guidelines for National Greenhouse Gas Inventories".to_owned(),
            table: "Vol. 2, Ch. 1, Tables 1.2 and 1.3 (wood / wood waste)".to_owned(),
            year: 2006,
            fuels: vec![Fuel {
                id: "wood".to_owned(),
                name: "wood / wood waste (biomass) / 木材".to_owned(),
                ncv: 15.6,
                ncv_basis: NcvBasis::GjPerTonne,
                carbon_tc_per_tj: 30.5,
                oxidation: 1.0,
                biogenic: true,
                density_kg_per_l: None,
                source: IPCC_WOOD_SOURCE.to_owned(),
                density_source: None,
                verified: false,
                check: "unverified: values as commonly reproduced from the IPCC tables, not \
                        checked against a copy"
                    .to_owned(),
            }],
            defaults: Vec::new(),
            note: "Biogenic CO2 of wood is reported separately, not in the Scope 1 total."
                .to_owned(),
        };
        FuelLibrary {
            default_table: NDRC_2015_T21.to_owned(),
            tables: vec![ndrc, gbt, wood],
        }
    }
}
