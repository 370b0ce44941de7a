//! Stage: purchased heat and steam (location- and market-based Scope 2 alike): a meter's
//! energy in GJ at the heat or steam factor.

use tanji_units::{Carrier, Dimension, Unit};

use super::series::Filled;
use super::{issues, round_g, Tally};
use crate::input::{HeatFactors, Options};
use crate::report::HeatLine;

/// GJ per thousandth of `unit` of heat or steam: energy units directly, mass (steam) through
/// the enthalpy `GJ = t × (En − 83.74) × 10^-3`; `None` without a way (volume, or mass without
/// an enthalpy).
fn gj_per_milli(unit: Unit, heat: &HeatFactors) -> Option<f64> {
    match unit.dimension() {
        Dimension::Energy => {
            let r = unit.to_base();
            Some(r.num as f64 / r.den as f64 * 3600.0 / 1e9 / 1000.0)
        }
        Dimension::Mass => heat.steam_enthalpy_kj_per_kg.map(|en| {
            let r = unit.to_base(); // kg
            r.num as f64 / r.den as f64 / 1000.0 * (en - 83.74) / 1e3 / 1000.0
        }),
        Dimension::Volume => None,
    }
}

/// Adds heat or steam meter `f` to the tally (each interval's g into `eff` when it is not
/// empty); an `unconvertible` issue when its unit cannot be turned into GJ.
pub(super) fn heat(f: &Filled<'_>, opts: &Options, eff: &mut [f64], tally: &mut Tally) {
    let factor = if f.carrier == Carrier::Steam {
        &opts.heat.steam_t_per_gj
    } else {
        &opts.heat.heat_t_per_gj
    };
    let total: i64 = f.sum(0..f.len);
    let Some(gj_per_milli) = gj_per_milli(f.unit, &opts.heat) else {
        tally.issues.push(issues::unconvertible(
            f,
            total,
            "steam metered by mass needs Options.heat.steam_enthalpy_kj_per_kg",
        ));
        return;
    };
    let g_per_milli = gj_per_milli * factor.value * 1e6;
    if !eff.is_empty() {
        f.each(|k, milli| eff[k] = milli as f64 * g_per_milli);
    }
    let gj = total as f64 * gj_per_milli;
    tally.energy.heat_gj += gj;
    let g = round_g(total as f64 * g_per_milli);
    tally.loc.heat_g += g;
    tally.loc.heat.push(HeatLine {
        meter: f.meter.to_owned(),
        carrier: f.carrier,
        quantity_milli: total,
        unit: f.unit,
        energy_mj: (gj * 1000.0).round() as i64,
        factor: factor.clone(),
        emissions_g: g,
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn energy_units_convert_directly_and_steam_by_mass_needs_an_enthalpy() {
        let heat = HeatFactors::default();
        // 1000 thousandths of a GJ = 1 GJ.
        let gj = gj_per_milli(Unit::GJ, &heat).unwrap() * 1_000.0;
        assert!((gj - 1.0).abs() < 1e-12, "{gj}");
        // Without an enthalpy, steam by mass is not convertible; volume never is.
        let mass = Unit::T;
        assert_eq!(gj_per_milli(mass, &heat), None);
        assert_eq!(gj_per_milli(Unit::M3, &heat), None);
        // 2763.74 kJ/kg: (2763.74 − 83.74) kJ/kg = 2.68 GJ/t.
        let with = HeatFactors {
            steam_enthalpy_kj_per_kg: Some(2_763.74),
            ..HeatFactors::default()
        };
        // A thousandth of a tonne.
        let t_per_milli = 1e-3;
        let gj = gj_per_milli(mass, &with).unwrap() / t_per_milli;
        assert!((gj - 2.68).abs() < 1e-9, "{gj}");
    }
}
