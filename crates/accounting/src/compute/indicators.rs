//! Stage: indicators. Green-power share, hourly carbon-free-energy match and, with an output,
//! intensities per unit.

use crate::input::Output;
use crate::report::{Indicators, Intensity, Scope1, Scope2Location};

/// Final energy besides electricity, GJ: fuels' activity data and purchased heat and steam.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct OtherEnergy {
    pub(super) fuel_gj: f64,
    pub(super) heat_gj: f64,
}

/// The figures the indicators are ratios of.
pub(super) struct Totals<'a> {
    pub(super) scope1: &'a Scope1,
    pub(super) loc: &'a Scope2Location,
    /// Market-based Scope 2 total, g.
    pub(super) market_total_g: i64,
    /// Instruments applied to import, Wh.
    pub(super) applied_wh: i64,
    /// Carbon-free energy matched hour by hour, Wh.
    pub(super) cfe_matched_wh: i64,
    pub(super) energy: OtherEnergy,
}

/// The indicators of `t`, with intensities per unit of `output` when it is positive.
pub(super) fn indicators(t: &Totals<'_>, output: Option<&Output>) -> Indicators {
    let loc = t.loc;
    let green_wh = loc.pv_self_consumed_wh + t.applied_wh;
    let share = |x: i64| (loc.consumption_wh > 0).then(|| x as f64 / loc.consumption_wh as f64);
    let intensity = output.filter(|o| o.quantity_milli > 0).map(|o| {
        let q = o.quantity_milli as f64 / 1000.0;
        let elec_gj = loc.consumption_wh as f64 * 3600.0 / 1e9;
        Intensity {
            output_milli: o.quantity_milli,
            unit: o.unit.clone(),
            electricity_kwh_per_unit: loc.consumption_wh as f64 / 1000.0 / q,
            energy_gj_per_unit: (elec_gj + t.energy.fuel_gj + t.energy.heat_gj) / q,
            location_t_per_unit: (t.scope1.fossil_g + loc.total_g) as f64 / 1e6 / q,
            market_t_per_unit: (t.scope1.fossil_g + t.market_total_g) as f64 / 1e6 / q,
        }
    });
    Indicators {
        consumption_wh: loc.consumption_wh,
        green_wh,
        green_share: share(green_wh),
        cfe_matched_wh: t.cfe_matched_wh,
        cfe_score: share(t.cfe_matched_wh),
        intensity,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn shares_are_of_consumption_and_intensities_per_unit_of_output() {
        let scope1 = Scope1 {
            lines: Vec::new(),
            fossil_g: 1_000_000,
            biogenic_g: 5,
        };
        let loc = Scope2Location {
            import_wh: 8_000_000,
            electricity_g: 4_000_000,
            export_wh: 0,
            export_g: 0,
            exports_netted: false,
            pv_generation_wh: 2_000_000,
            pv_self_consumed_wh: 2_000_000,
            consumption_wh: 10_000_000,
            heat: Vec::new(),
            heat_g: 0,
            total_g: 4_000_000,
        };
        let t = Totals {
            scope1: &scope1,
            loc: &loc,
            market_total_g: 3_000_000,
            applied_wh: 3_000_000,
            cfe_matched_wh: 4_000_000,
            energy: OtherEnergy {
                fuel_gj: 4.0,
                heat_gj: 0.0,
            },
        };
        let output = Output {
            quantity_milli: 2_000,
            unit: "t".to_owned(),
        };
        let i = indicators(&t, Some(&output));
        // Green: 2 MWh PV + 3 MWh instruments of 10 MWh.
        assert_eq!((i.green_wh, i.green_share), (5_000_000, Some(0.5)));
        assert_eq!(i.cfe_score, Some(0.4));
        let x = i.intensity.unwrap();
        // 10 000 kWh / 2 t; (36 GJ electricity + 4 GJ fuel) / 2 t; (1 + 4) t / 2 t; (1 + 3) / 2.
        assert_eq!(x.electricity_kwh_per_unit, 5_000.0);
        assert_eq!(x.energy_gj_per_unit, 20.0);
        assert_eq!((x.location_t_per_unit, x.market_t_per_unit), (2.5, 2.0));
        // No output, or none made: no intensity.
        let none = Output {
            quantity_milli: 0,
            ..output
        };
        assert!(indicators(&t, Some(&none)).intensity.is_none());
        assert!(indicators(&t, None).intensity.is_none());
    }
}
