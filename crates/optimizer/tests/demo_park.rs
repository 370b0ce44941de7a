//! On the demo park (the simulated park of `tanji demo`, seed 2026, 20 enterprises) with the
//! synthetic Fujian-like factors, a week of advice under the default flexible-load
//! description cuts modelled emissions without raising any energy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_optimizer::spec::{FlexSpec, SiteDay};
use tanji_optimizer::{optimize, Objective, Tariff};
use tanji_simulator::{MeterRole, Park, ParkSpec};
use tanji_units::time::{LocalDate, Zone};

#[test]
fn a_week_of_advice_on_the_demo_park_cuts_emissions_at_equal_energy() {
    let zone = Zone::shanghai();
    let first = LocalDate::parse("2025-06-02").unwrap(); // a Monday
    let (local_start, _) = zone.day_bounds(first).unwrap();
    let utc0 = local_start.div_euclid(86_400) * 86_400;
    let park = Park::generate(ParkSpec {
        seed: 2026,
        enterprises: 20,
        start_day: utc0,
        days: 8,
    });
    let generation = tanji_simulator::grid::fujian_like_generation_csv(2025, 2026);
    let gen = tanji_factors::parse_generation_csv(&generation).unwrap();
    let series = tanji_factors::compute(
        &gen,
        &[],
        &tanji_factors::SourceFactors::default_table(),
        &tanji_factors::Options {
            calibrate: vec![(tanji_simulator::grid::REGION.into(), 0.4092)],
        },
    )
    .unwrap();

    let (mut before_g, mut after_g, mut moved) = (0i64, 0i64, 0i64);
    let mut plans = 0;
    for e in 0..park.enterprises.len() {
        let dev = &park.devices[e];
        let idx = |role| dev.meters.iter().position(|m| m.role == role);
        let limit = idx(MeterRole::GridImport).map(|i| dev.meters[i].interval_cap());
        // Every local day needs two UTC days of values.
        let days: Vec<_> = (0..8).map(|d| park.day_values(e, d).unwrap()).collect();
        for d in 0..7u32 {
            let date = first.add_days(d as i32).unwrap();
            let (start, end) = zone.day_bounds(date).unwrap();
            let n = ((end - start) / 900) as usize;
            let mut load_wh = Vec::with_capacity(n);
            let mut pv_wh = Vec::with_capacity(n);
            let mut factors = Vec::with_capacity(n);
            for i in 0..n {
                let t = start + i as i64 * 900;
                let day = &days[((t - utc0) / 86_400) as usize];
                let slot = ((t - day.start) / 900) as usize;
                load_wh.push(day.site_load[slot]);
                pv_wh.push(idx(MeterRole::PvGeneration).map_or(0, |k| day.meters[k][slot]));
                factors.push(
                    series
                        .factor_at(tanji_simulator::grid::REGION, t)
                        .and_then(|r| r.consumption_direct)
                        .unwrap(),
                );
            }
            let site = SiteDay {
                enterprise: park.enterprises[e].id.clone(),
                start,
                interval_s: 900,
                load_wh,
                pv_wh,
                import_limit_wh: limit,
            };
            let p = FlexSpec::default_for_site()
                .problem(
                    &site,
                    factors,
                    &Tariff::illustrative(),
                    Objective::Emissions,
                    &zone,
                )
                .unwrap();
            let plan = optimize(&p).unwrap();
            for (l, lp) in p.loads.iter().zip(&plan.loads) {
                assert_eq!(l.energy_wh(), lp.after_wh.iter().sum::<i64>());
            }
            assert_eq!(plan.before.consumption_wh, plan.after.consumption_wh);
            assert_eq!(plan.before.consumption_wh, site.load_wh.iter().sum::<i64>());
            assert!(plan.after.emissions_g <= plan.before.emissions_g);
            before_g += plan.before.emissions_g;
            after_g += plan.after.emissions_g;
            moved += plan.loads.iter().map(|l| l.moved_wh).sum::<i64>();
            plans += 1;
        }
    }
    assert_eq!(plans, 140);
    let cut = (before_g - after_g) as f64 / before_g as f64;
    eprintln!(
        "demo park week: {:.1} t -> {:.1} t ({:.2}% less), {:.1} MWh moved",
        before_g as f64 / 1e6,
        after_g as f64 / 1e6,
        cut * 100.0,
        moved as f64 / 1e6
    );
    assert!(after_g < before_g);
    assert!(
        cut > 0.005,
        "a week of advice should cut more than 0.5%: {cut}"
    );
}
