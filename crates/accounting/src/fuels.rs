//! Scope 1 from fuel combustion, GB/T 32150-2015 structure (NDRC sector guidelines):
//! `E = Σ AD_i × EF_i`, `AD_i = NCV_i × FC_i` (GJ), `EF_i = CC_i × OF_i × 44/12` (tCO2/GJ).

use serde::{Deserialize, Serialize};
use tanji_units::{Carrier, Dimension, Unit};

/// What a fuel's net calorific value is stated per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NcvBasis {
    /// GJ per tonne (solid and liquid fuels).
    GjPerTonne,
    /// GJ per 10^4 Nm3 (gaseous fuels).
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
    /// Density used when the fuel arrives in litres or m3 but NCV is per tonne, kg/L.
    pub density_kg_per_l: Option<f64>,
    /// Where NCV, CC and OF come from.
    pub source: String,
    /// Where the density comes from.
    pub density_source: Option<String>,
}

impl Fuel {
    /// `EF = CC × OF × 44/12`, tCO2 per GJ.
    pub fn ef_t_per_gj(&self) -> f64 {
        self.carbon_tc_per_tj / 1000.0 * self.oxidation * 44.0 / 12.0
    }

    /// Activity data in GJ for `milli` thousandths of `unit`, and whether a default density
    /// was used. `None` if the unit cannot be converted (no density for a volume on a
    /// per-tonne basis, or a mass on a per-volume basis).
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
            // m3 of gas are taken at the NCV's reference conditions (Nm3).
            (Dimension::Volume, NcvBasis::GjPer10kNm3) => {
                Some((base / 1000.0 / 10_000.0 * self.ncv, false))
            }
            (Dimension::Mass, NcvBasis::GjPer10kNm3) => None,
        }
    }
}

/// The fuels tanji knows and which one each fuel carrier means by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FuelTable {
    /// The fuels.
    pub fuels: Vec<Fuel>,
    /// Default fuel id per carrier; a series may name another with `IntervalSeries::fuel`.
    pub defaults: Vec<(Carrier, String)>,
}

/// Source of the fossil-fuel defaults.
pub const NDRC_SOURCE: &str = "NDRC 2015, 工业其他行业企业温室气体排放核算方法与报告指南（试行） \
(Guidelines for GHG accounting and reporting of enterprises in other industrial sectors), \
附录二 表2.1 常用化石燃料相关参数缺省值; the same defaults recur across the NDRC sector \
guidelines and the GB/T 32151 series. Values as commonly reproduced: check the published \
table before relying on a digit.";

/// Source of the biomass (wood) defaults.
pub const IPCC_WOOD_SOURCE: &str = "IPCC 2006 Guidelines, Vol. 2, Ch. 1: Table 1.2 (NCV wood/wood \
waste 15.6 TJ/Gg) and Table 1.3 (carbon content 30.5 kg C/GJ); oxidation 1 (IPCC default).";

impl FuelTable {
    /// The fuel a series of `carrier` uses, by explicit id or the carrier's default.
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
}

fn fossil(id: &str, name: &str, ncv: f64, basis: NcvBasis, cc: f64, of: f64) -> Fuel {
    Fuel {
        id: id.to_owned(),
        name: name.to_owned(),
        ncv,
        ncv_basis: basis,
        carbon_tc_per_tj: cc,
        oxidation: of,
        biogenic: false,
        density_kg_per_l: None,
        source: NDRC_SOURCE.to_owned(),
        density_source: None,
    }
}

impl Default for FuelTable {
    /// The default table (see `crates/accounting/README.md`).
    fn default() -> Self {
        use NcvBasis::*;
        let mut diesel = fossil("diesel", "diesel / 柴油", 42.652, GjPerTonne, 20.2, 0.98);
        diesel.density_kg_per_l = Some(0.84);
        diesel.density_source = Some(
            "typical value within the density GB 19147-2016 (车用柴油) allows at 20 °C, \
             810–845 kg/m3; use the delivery note's density for verification"
                .to_owned(),
        );
        let mut gasoline = fossil(
            "gasoline",
            "gasoline / 汽油",
            43.070,
            GjPerTonne,
            18.9,
            0.98,
        );
        gasoline.density_kg_per_l = Some(0.74);
        gasoline.density_source = Some(
            "typical value within the density GB 17930-2016 (车用汽油) allows at 20 °C, \
             720–775 kg/m3; use the delivery note's density for verification"
                .to_owned(),
        );
        FuelTable {
            fuels: vec![
                fossil(
                    "natural_gas",
                    "natural gas / 天然气",
                    389.31,
                    GjPer10kNm3,
                    15.3,
                    0.99,
                ),
                diesel,
                gasoline,
                fossil(
                    "lpg",
                    "liquefied petroleum gas / 液化石油气",
                    50.179,
                    GjPerTonne,
                    17.2,
                    0.98,
                ),
                fossil(
                    "fuel_oil",
                    "fuel oil / 燃料油",
                    41.816,
                    GjPerTonne,
                    21.1,
                    0.98,
                ),
                fossil(
                    "bituminous",
                    "bituminous coal / 烟煤",
                    19.570,
                    GjPerTonne,
                    26.18,
                    0.93,
                ),
                fossil(
                    "anthracite",
                    "anthracite / 无烟煤",
                    20.304,
                    GjPerTonne,
                    27.49,
                    0.94,
                ),
                fossil("lignite", "lignite / 褐煤", 14.080, GjPerTonne, 28.0, 0.96),
                Fuel {
                    id: "wood".to_owned(),
                    name: "wood / wood waste (biomass) / 木材".to_owned(),
                    ncv: 15.6,
                    ncv_basis: GjPerTonne,
                    carbon_tc_per_tj: 30.5,
                    oxidation: 1.0,
                    biogenic: true,
                    density_kg_per_l: None,
                    source: IPCC_WOOD_SOURCE.to_owned(),
                    density_source: None,
                },
            ],
            defaults: vec![
                (Carrier::NaturalGas, "natural_gas".to_owned()),
                (Carrier::Diesel, "diesel".to_owned()),
                (Carrier::Gasoline, "gasoline".to_owned()),
                (Carrier::Lpg, "lpg".to_owned()),
                (Carrier::FuelOil, "fuel_oil".to_owned()),
                (Carrier::Coal, "bituminous".to_owned()),
            ],
        }
    }
}
