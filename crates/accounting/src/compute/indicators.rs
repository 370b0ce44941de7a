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
