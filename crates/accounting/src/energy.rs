//! Energy in standard coal (kgce, tce) by GB/T 2589-2020 《综合能耗计算通则》, and the
//! "dual control" intensities (tce per unit of output, tce and tCO2 per 10⁴ CNY of value
//! added).
//!
//! Every coefficient is a row of `docs/reference/gbt2589.md` (the standard's Appendix A
//! reference table, with which edition's copy each value was checked against); a test checks
//! [`COEFFICIENTS`] against that file. Comprehensive energy consumption here is the purchased
//! energy that enters the boundary: grid import, fuels, purchased heat and steam. On-site PV and
//! exports are reported beside it, not added or deducted (see the reference file for why).
//!
//! Pure: it converts quantities an accounting [`crate::Report`] already holds (fuel lines with
//! their density and normal-m3 volume, heat lines with their energy, grid import) and never
//! defaults the equal-value electricity coefficient.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tanji_units::{Carrier, Unit};

use crate::input::NamedFactor;
use crate::report::Report;

/// Where the coefficients come from.
pub const SOURCE: &str = "GB/T 2589-2020 综合能耗计算通则, Appendix A (reference coefficients), \
as tabulated in docs/reference/gbt2589.md";

/// 1 kgce = 29 307 kJ (7 000 kcal) of low heating value (GB/T 2589, 1 kgce definition).
pub const KJ_PER_KGCE: f64 = 29_307.0;

/// One row of the reference table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefficient {
    /// Row id, as in `docs/reference/gbt2589.md`.
    pub id: &'static str,
    /// The tanji carrier it applies to.
    pub carrier: Carrier,
    /// The energy's name in the standard.
    pub name_zh: &'static str,
    /// kgce per `per`.
    pub kgce: f64,
    /// `kg`, `m3`, `MJ` or `kWh`.
    pub per: &'static str,
    /// Which edition's copy the value was checked against (`2008`, or `2020, unverified`).
    pub checked: &'static str,
}

const fn row(
    id: &'static str,
    carrier: Carrier,
    name_zh: &'static str,
    kgce: f64,
    per: &'static str,
) -> Coefficient {
    Coefficient {
        id,
        carrier,
        name_zh,
        kgce,
        per,
        checked: "2008",
    }
}

/// GB/T 2589 Appendix A, table A.1 (docs/reference/gbt2589.md), in the file's order.
pub const COEFFICIENTS: [Coefficient; 12] = [
    row("raw_coal", Carrier::Coal, "原煤", 0.7143, "kg"),
    row("washed_coal", Carrier::Coal, "洗精煤", 0.9000, "kg"),
    row("crude_oil", Carrier::FuelOil, "原油", 1.4286, "kg"),
    row("fuel_oil", Carrier::FuelOil, "燃料油", 1.4286, "kg"),
    row("gasoline", Carrier::Gasoline, "汽油", 1.4714, "kg"),
    row("diesel", Carrier::Diesel, "柴油", 1.4571, "kg"),
    row("lpg", Carrier::Lpg, "液化石油气", 1.7143, "kg"),
    row(
        "natural_gas_oil_field",
        Carrier::NaturalGas,
        "油田天然气",
        1.3300,
        "m3",
    ),
    row(
        "natural_gas_gas_field",
        Carrier::NaturalGas,
        "气田天然气",
        1.2143,
        "m3",
    ),
    row("heat", Carrier::Heat, "热力（当量值）", 0.03412, "MJ"),
    row(
        "steam_low_pressure",
        Carrier::Steam,
        "蒸汽（低压）",
        0.1286,
        "kg",
    ),
    row(
        "electricity_equivalent",
        Carrier::ElectricityImport,
        "电力（当量值）",
        0.1229,
        "kWh",
    ),
];

/// The row `id` of [`COEFFICIENTS`].
pub fn coefficient(id: &str) -> Option<&'static Coefficient> {
    COEFFICIENTS.iter().find(|c| c.id == id)
}

/// The row used by default for a carrier metered in mass or volume (docs/reference/gbt2589.md,
/// "Which value tanji uses"); `None` for carriers not counted (PV, export).
pub fn default_row(carrier: Carrier) -> Option<&'static str> {
    Some(match carrier {
        Carrier::ElectricityImport => "electricity_equivalent",
        Carrier::NaturalGas => "natural_gas_gas_field",
        Carrier::Coal => "raw_coal",
        Carrier::Diesel => "diesel",
        Carrier::Gasoline => "gasoline",
        Carrier::FuelOil => "fuel_oil",
        Carrier::Lpg => "lpg",
        Carrier::Heat | Carrier::Steam => "heat",
        Carrier::ElectricityExport | Carrier::PvGeneration => return None,
    })
}

/// How electricity is turned into standard coal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElectricityBasis {
    /// 当量值: 0.1229 kgce/kWh (the table's row).
    Equivalent,
    /// 等价值: the year's standard-coal consumption of thermal generation, kgce/kWh, given
    /// by the user with its source (never defaulted).
    EqualValue(NamedFactor),
}

/// A measured low heating value for one meter, replacing the table coefficient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredLhv {
    /// kJ per `per`.
    pub kj: f64,
    /// `kg` (solids and liquids; litres are turned into kg first), `m3` (gases) or the
    /// meter's own unit code.
    pub per: String,
    /// Where the value comes from (supplier certificate, laboratory report).
    pub source: String,
}

/// How [`standard_coal`] converts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyOptions {
    /// Electricity basis.
    pub electricity: ElectricityBasis,
    /// Per meter id: a measured low heating value.
    #[serde(default)]
    pub lhv: BTreeMap<String, MeasuredLhv>,
}

impl Default for EnergyOptions {
    fn default() -> Self {
        EnergyOptions {
            electricity: ElectricityBasis::Equivalent,
            lhv: BTreeMap::new(),
        }
    }
}

/// One quantity of one carrier entering the boundary, as an accounting report holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consumption {
    /// Meter id (`grid` for the enterprise's grid import, summed over its meters).
    pub meter: String,
    /// Carrier.
    pub carrier: Carrier,
    /// Quantity, thousandths of `unit`.
    pub quantity_milli: i64,
    /// Unit.
    pub unit: Unit,
    /// The density the Scope 1 line used to turn litres into kg, kg/L.
    #[serde(default)]
    pub density_kg_per_l: Option<f64>,
    /// A gas volume in normal m3, thousandths (when the Scope 1 line converted it).
    #[serde(default)]
    pub normal_m3_milli: Option<i64>,
    /// Heat energy, MJ (heat and steam lines: steam by its enthalpy).
    #[serde(default)]
    pub energy_mj: Option<i64>,
}

/// One converted quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyLine {
    /// Meter id.
    pub meter: String,
    /// Carrier.
    pub carrier: Carrier,
    /// The quantity the coefficient applies to.
    pub quantity: f64,
    /// Its unit (`kg`, `m3`, `MJ`, `kWh`).
    pub unit: String,
    /// kgce per `unit`.
    pub coefficient: f64,
    /// The coefficient's basis: a row of the table (`GB/T 2589 A.1 柴油 (2008)`), the
    /// measured value and its source, or the user's equal-value factor.
    pub basis: String,
    /// quantity × coefficient, kgce.
    pub kgce: f64,
}

/// A quantity that could not be converted, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotConverted {
    /// Meter id.
    pub meter: String,
    /// Carrier.
    pub carrier: Carrier,
    /// Why, and what to do.
    pub reason: String,
}

/// Comprehensive energy consumption in standard coal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnergyUse {
    /// One line per converted quantity.
    pub lines: Vec<EnergyLine>,
    /// Σ lines, kgce.
    pub kgce: f64,
    /// kgce ÷ 1000.
    pub tce: f64,
    /// Quantities left out (the total is then an underestimate, and says so).
    pub not_converted: Vec<NotConverted>,
}

/// A measured LHV for a meter whose unit it does not fit.
fn measured(
    c: &Consumption,
    m: &MeasuredLhv,
    qty_in: impl Fn(&str) -> Option<f64>,
) -> Result<EnergyLine, String> {
    if !(m.kj.is_finite() && m.kj > 0.0) {
        return Err(format!(
            "the measured low heating value {} kJ/{} is not a positive number",
            m.kj, m.per
        ));
    }
    let q = qty_in(&m.per).ok_or_else(|| {
        format!(
            "a measured low heating value per {} does not fit a meter in {}",
            m.per, c.unit
        )
    })?;
    let coefficient = m.kj / KJ_PER_KGCE;
    Ok(EnergyLine {
        meter: c.meter.clone(),
        carrier: c.carrier,
        quantity: q,
        unit: m.per.clone(),
        coefficient,
        basis: format!(
            "measured low heating value {} kJ/{} ({}) ÷ 29 307 kJ/kgce",
            m.kj, m.per, m.source
        ),
        kgce: q * coefficient,
    })
}

/// The quantity of `c` in `per` (`kg`, `m3`, `MJ`, `kWh` or the meter's unit), if it can be
/// had from what the report holds.
fn quantity_in(c: &Consumption, per: &str) -> Option<f64> {
    let q = c.quantity_milli as f64 / 1000.0;
    if per == c.unit.code() {
        return Some(q);
    }
    match per {
        "kg" => match c.unit {
            Unit::T => Some(q * 1000.0),
            Unit::L => c.density_kg_per_l.map(|d| q * d),
            _ => None,
        },
        "m3" => c.normal_m3_milli.map(|n| n as f64 / 1000.0),
        "MJ" => c.energy_mj.map(|e| e as f64).or_else(|| {
            let r = c.unit.factor_to(Unit::MJ)?;
            Some(q * r.num as f64 / r.den as f64)
        }),
        "kWh" => {
            let r = c.unit.factor_to(Unit::KWh)?;
            Some(q * r.num as f64 / r.den as f64)
        }
        _ => None,
    }
}

/// Converts one quantity.
fn convert(c: &Consumption, opts: &EnergyOptions) -> Result<Option<EnergyLine>, String> {
    if let Some(m) = opts.lhv.get(&c.meter) {
        return measured(c, m, |per| quantity_in(c, per)).map(Some);
    }
    let Some(id) = default_row(c.carrier) else {
        return Ok(None);
    };
    let line = |quantity: f64, unit: &str, coefficient: f64, basis: String| EnergyLine {
        meter: c.meter.clone(),
        carrier: c.carrier,
        quantity,
        unit: unit.to_owned(),
        coefficient,
        basis,
        kgce: quantity * coefficient,
    };
    if c.carrier == Carrier::ElectricityImport {
        let kwh = quantity_in(c, "kWh").ok_or("electricity not in an energy unit")?;
        return Ok(Some(match &opts.electricity {
            ElectricityBasis::Equivalent => {
                let r = table_row(id)?;
                line(kwh, "kWh", r.kgce, basis_of(r))
            }
            ElectricityBasis::EqualValue(f) => {
                if !(f.value.is_finite() && f.value > 0.0) {
                    return Err(format!(
                        "the equal-value coefficient {} kgce/kWh is not a positive number",
                        f.value
                    ));
                }
                line(
                    kwh,
                    "kWh",
                    f.value,
                    format!("电力（等价值） given: {} kgce/kWh ({})", f.value, f.source),
                )
            }
        }));
    }
    let r = table_row(id)?;
    // Gas metered as energy needs no row: 1 kgce per 29 307 kJ.
    if c.carrier == Carrier::NaturalGas && c.unit.dimension() == tanji_units::Dimension::Energy {
        let mj = quantity_in(c, "MJ").ok_or("gas energy not convertible to MJ")?;
        return Ok(Some(line(
            mj,
            "MJ",
            1000.0 / KJ_PER_KGCE,
            "metered as energy: 1 kgce per 29 307 kJ (GB/T 2589)".into(),
        )));
    }
    let q = match r.per {
        "m3" => c
            .normal_m3_milli
            .map(|n| n as f64 / 1000.0)
            .or_else(|| (c.unit == Unit::M3).then_some(c.quantity_milli as f64 / 1000.0)),
        per => quantity_in(c, per),
    };
    let q = q.ok_or_else(|| match (c.unit, r.per) {
        (Unit::L, "kg") => format!(
            "{} in L has no density to turn it into kg; state the fuel on the meter or give a measured low heating value per L",
            c.carrier
        ),
        (u, per) => format!(
            "{} metered in {u} cannot take the table coefficient per {per}; give a measured low heating value per {u}",
            c.carrier
        ),
    })?;
    Ok(Some(line(q, r.per, r.kgce, basis_of(r))))
}

fn table_row(id: &str) -> Result<&'static Coefficient, String> {
    coefficient(id).ok_or_else(|| format!("no row {id} in the GB/T 2589 table"))
}

fn basis_of(r: &Coefficient) -> String {
    format!(
        "GB/T 2589 A.1 {} {} kgce/{} (checked against the {} table)",
        r.name_zh, r.kgce, r.per, r.checked
    )
}

/// Comprehensive energy consumption of `items` in standard coal. Carriers not counted (PV,
/// export) are skipped; a quantity that cannot be converted is listed in `not_converted`
/// with the reason, never counted as zero silently.
pub fn standard_coal(items: &[Consumption], opts: &EnergyOptions) -> EnergyUse {
    let mut lines = Vec::new();
    let mut not_converted = Vec::new();
    for c in items {
        match convert(c, opts) {
            Ok(Some(l)) => lines.push(l),
            Ok(None) => {}
            Err(reason) => not_converted.push(NotConverted {
                meter: c.meter.clone(),
                carrier: c.carrier,
                reason,
            }),
        }
    }
    let kgce: f64 = lines.iter().map(|l| l.kgce).sum();
    EnergyUse {
        lines,
        kgce,
        tce: kgce / 1000.0,
        not_converted,
    }
}

/// What a report holds that enters the boundary: grid import (one item, `grid`), every fuel
/// line and every heat and steam line.
pub fn consumption_of(report: &Report) -> Vec<Consumption> {
    let mut items = vec![Consumption {
        meter: "grid".into(),
        carrier: Carrier::ElectricityImport,
        quantity_milli: report.scope2_location.import_wh,
        unit: Unit::KWh,
        density_kg_per_l: None,
        normal_m3_milli: None,
        energy_mj: None,
    }];
    items.extend(report.scope1.lines.iter().map(|l| Consumption {
        meter: l.meter.clone(),
        carrier: l.carrier,
        quantity_milli: l.quantity_milli,
        unit: l.unit,
        density_kg_per_l: l.density_kg_per_l,
        normal_m3_milli: l.gas_volume.as_ref().map(|g| g.normal_m3_milli),
        energy_mj: None,
    }));
    items.extend(report.scope2_location.heat.iter().map(|h| Consumption {
        meter: h.meter.clone(),
        carrier: h.carrier,
        quantity_milli: h.quantity_milli,
        unit: h.unit,
        density_kg_per_l: None,
        normal_m3_milli: None,
        energy_mj: Some(h.energy_mj),
    }));
    items
}

/// `x` per 10⁴ CNY of value added (`value_added_cny` in CNY); `None` when the value added is
/// not positive.
pub fn per_10k_cny(x: f64, value_added_cny: f64) -> Option<f64> {
    (value_added_cny.is_finite() && value_added_cny > 0.0).then(|| x / (value_added_cny / 1e4))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn item(meter: &str, carrier: Carrier, quantity_milli: i64, unit: Unit) -> Consumption {
        Consumption {
            meter: meter.into(),
            carrier,
            quantity_milli,
            unit,
            density_kg_per_l: None,
            normal_m3_milli: None,
            energy_mj: None,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-6, "{a} != {b}");
    }

    #[test]
    fn a_mix_of_carriers_at_the_standards_coefficients() {
        let mut diesel = item("m-diesel", Carrier::Diesel, 1_000_000, Unit::L);
        diesel.density_kg_per_l = Some(0.84);
        let mut gas = item("m-gas", Carrier::NaturalGas, 10_000_000, Unit::M3);
        gas.normal_m3_milli = Some(9_316_000);
        let mut steam = item("m-steam", Carrier::Steam, 2_000, Unit::T);
        steam.energy_mj = Some(5_387);
        let items = [
            item("grid", Carrier::ElectricityImport, 100_000_000, Unit::KWh),
            item("m-coal", Carrier::Coal, 2_000, Unit::T),
            diesel,
            gas,
            item("m-gasoline", Carrier::Gasoline, 500_000, Unit::Kg),
            item("m-heat", Carrier::Heat, 10_000, Unit::GJ),
            steam,
            item("m-pv", Carrier::PvGeneration, 5_000_000, Unit::KWh),
        ];
        let e = standard_coal(&items, &EnergyOptions::default());
        // electricity 100 000 kWh × 0.1229      = 12 290 kgce
        // coal 2 t = 2 000 kg × 0.7143           =  1 428.6
        // diesel 1 000 L × 0.84 = 840 kg × 1.4571 =  1 223.964
        // gas 9 316 normal m3 × 1.2143           = 11 312.4188
        // gasoline 500 kg × 1.4714               =    735.7
        // heat 10 GJ = 10 000 MJ × 0.03412       =    341.2
        // steam 5 387 MJ × 0.03412               =    183.80444
        // PV not counted. Σ = 27 515.68724 kgce
        assert_eq!(e.lines.len(), 7);
        assert!(e.not_converted.is_empty(), "{:?}", e.not_converted);
        close(e.kgce, 27_515.687_24);
        close(e.tce, 27.51568724);
    }

    #[test]
    fn equal_value_electricity_and_a_measured_lhv() {
        let items = [
            item("grid", Carrier::ElectricityImport, 1_000_000, Unit::KWh),
            item("m-coal", Carrier::Coal, 1_000_000, Unit::Kg),
        ];
        let mut opts = EnergyOptions {
            electricity: ElectricityBasis::EqualValue(NamedFactor {
                value: 0.3,
                source: "given for the test".into(),
            }),
            lhv: BTreeMap::new(),
        };
        opts.lhv.insert(
            "m-coal".into(),
            MeasuredLhv {
                kj: 23_445.6,
                per: "kg".into(),
                source: "lab report".into(),
            },
        );
        let e = standard_coal(&items, &opts);
        // 1 000 kWh × 0.3 = 300; 1 000 kg × 23 445.6 / 29 307 = 800 kgce.
        close(e.lines[0].kgce, 300.0);
        close(e.lines[1].kgce, 800.0);
        close(e.kgce, 1_100.0);
    }

    #[test]
    fn what_cannot_be_converted_is_listed_with_its_reason() {
        let items = [
            item("m-diesel", Carrier::Diesel, 1_000, Unit::L),
            item("m-lpg", Carrier::Lpg, 1_000, Unit::M3),
        ];
        let e = standard_coal(&items, &EnergyOptions::default());
        assert_eq!(e.kgce, 0.0);
        assert_eq!(e.not_converted.len(), 2);
        assert!(e.not_converted[0].reason.contains("no density"));
        assert!(e.not_converted[1]
            .reason
            .contains("measured low heating value per m3"));
    }

    #[test]
    fn intensity_per_value_added() {
        // 27.5 tce over 550 000 CNY = 55 × 10⁴ CNY → 0.5 tce/10⁴ CNY.
        close(per_10k_cny(27.5, 550_000.0).unwrap(), 0.5);
        assert_eq!(per_10k_cny(1.0, 0.0), None);
    }
}
