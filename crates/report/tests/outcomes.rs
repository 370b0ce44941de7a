//! Park outcomes against a baseline on a small park built here: two enterprises, one day of
//! baseline and one day of period, every expected value computed by hand in a comment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_accounting::energy::EnergyOptions;
use tanji_accounting::{
    compute, GreenPurchase, Inputs, IntervalSeries, NamedFactor, Options, Output, Residual,
    TableFactors,
};
use tanji_report::{compare, Cost, EnterprisePeriods, PeriodEconomics, PeriodInput};
use tanji_units::{Carrier, Unit};

/// 2026-01-05T00:00:00Z: the baseline day; the period is the day after.
const T0: i64 = 1_767_571_200;
const DAY: i64 = 86_400;

fn figures(enterprise: &str, start: i64, kwh_per_h: i64, purchase_wh: i64) -> serde_json::Value {
    let inputs = Inputs {
        enterprise: enterprise.into(),
        period_start: start,
        period_end: start + DAY,
        series: vec![IntervalSeries {
            meter: format!("{enterprise}-grid"),
            carrier: Carrier::ElectricityImport,
            unit: Unit::KWh,
            fuel: None,
            start,
            interval_s: 3600,
            values: vec![Some(kwh_per_h * 1000); 24],
        }],
        certificates: Vec::new(),
        purchases: if purchase_wh > 0 {
            vec![GreenPurchase {
                id: "gp-1".into(),
                start,
                end: start + DAY,
                wh: purchase_wh,
            }]
        } else {
            Vec::new()
        },
        output: None,
    };
    let factors = TableFactors::regular("flat-500", T0, 3600, &[500.0; 48]);
    let options = Options {
        residual: Residual::Fixed(NamedFactor {
            value: 500.0,
            source: "a flat 500 g/kWh for the test".into(),
        }),
        ..Options::default()
    };
    serde_json::to_value(compute(&inputs, &factors, &options).unwrap()).unwrap()
}

fn econ(start: i64, cny: f64, output: i64, unit: &str) -> PeriodEconomics {
    PeriodEconomics {
        start,
        end: start + DAY,
        value_added_cny: Some(cny),
        output: Some(Output {
            quantity_milli: output * 1000,
            unit: unit.into(),
        }),
        source: None,
    }
}

fn cost(kwh: f64) -> Result<Cost, String> {
    // A flat 0.62 CNY/kWh over 24 priced hours.
    Ok(Cost {
        cny: kwh * 0.62,
        hours_priced: 24,
        hours: 24,
    })
}

fn close(v: Option<f64>, want: f64) {
    let v = v.expect("a value");
    assert!(
        (v - want).abs() < 1e-6 * want.abs().max(1.0),
        "{v} != {want}"
    );
}

#[test]
fn a_small_park_against_its_baseline() {
    // e-1: 100 kWh/h in the baseline (2 400 kWh), 80 kWh/h in the period (1 920 kWh), of which
    // 480 kWh green-power purchase. e-2: 50 kWh/h in both (1 200 kWh).
    let (b1, p1) = (
        figures("e-1", T0, 100, 0),
        figures("e-1", T0 + DAY, 80, 480_000),
    );
    let (b2, p2) = (figures("e-2", T0, 50, 0), figures("e-2", T0 + DAY, 50, 0));
    let e1_econ = [
        econ(T0, 100_000.0, 10, "t"),
        econ(T0 + DAY, 100_000.0, 10, "t"),
    ];
    let e2_econ = [
        econ(T0, 50_000.0, 400, "units"),
        econ(T0 + DAY, 50_000.0, 400, "units"),
    ];
    let list = [
        EnterprisePeriods {
            enterprise: "e-1".into(),
            period: PeriodInput {
                figures: &p1,
                cost: cost(1_920.0),
                no_data: None,
            },
            baseline: PeriodInput {
                figures: &b1,
                cost: cost(2_400.0),
                no_data: None,
            },
            economics: &e1_econ,
        },
        EnterprisePeriods {
            enterprise: "e-2".into(),
            period: PeriodInput {
                figures: &p2,
                cost: cost(1_200.0),
                no_data: None,
            },
            baseline: PeriodInput {
                figures: &b2,
                cost: cost(1_200.0),
                no_data: None,
            },
            economics: &e2_econ,
        },
    ];
    let (park, each) = compare(
        &list,
        (T0 + DAY, T0 + 2 * DAY),
        (T0, T0 + DAY),
        &EnergyOptions::default(),
    )
    .unwrap();
    let e1 = &each[0];

    // e-1 energy: 2 400 kWh × 0.1229 kgce/kWh = 294.96 kgce = 0.29496 tce (baseline);
    // 1 920 × 0.1229 = 235.968 kgce = 0.235968 tce (period).
    close(e1.baseline.tce.value, 0.29496);
    close(e1.period.tce.value, 0.235968);
    // Efficiency: 10 (10⁴ CNY) ÷ 0.29496 = 33.902902…; ÷ 0.235968 = 42.378627…;
    // change = 2 400 / 1 920 − 1 = +25 %.
    close(e1.baseline.value_added_per_tce.value, 10.0 / 0.29496);
    close(e1.period.value_added_per_tce.value, 10.0 / 0.235968);
    close(e1.change.value_added_per_tce_pct.value, 25.0);
    close(e1.change.output_per_tce_pct.value, 25.0);
    // Dual-control intensities of the period: 0.235968 tce ÷ 10 = 0.0235968 tce/10⁴ CNY;
    // 0.96 t CO2 ÷ 10 = 0.096 tCO2/10⁴ CNY; 0.235968 tce ÷ 10 t = 0.0235968 tce/t.
    close(e1.period.tce_per_10k_cny.value, 0.0235968);
    close(e1.period.tco2_per_10k_cny.value, 0.096);
    close(e1.period.tce_per_output.value, 0.0235968);
    // Emissions at 500 g/kWh: baseline 2 400 kWh → 1.2 t; period 1 920 kWh → 0.96 t
    // location-based, and (1 920 − 480) kWh → 0.72 t market-based.
    close(e1.baseline.location_t.value, 1.2);
    close(e1.period.location_t.value, 0.96);
    close(e1.period.market_t.value, 0.72);
    // Annualised (one day × 365.25): 1.2 → 438.3, 0.96 → 350.64, 0.72 → 262.98 t/yr;
    // change −87.66 t/yr location-based, −175.32 t/yr market-based.
    close(e1.change.location_t_per_yr.value, -87.66);
    close(e1.change.market_t_per_yr.value, -175.32);
    // Green share: 480 ÷ 1 920 = 25 % against 0 %: +25 points.
    close(e1.period.green_share.value, 25.0);
    close(e1.change.green_share_points.value, 25.0);
    // Cost: 1 488 → 1 190.4 CNY over days of equal length: −20 %.
    close(e1.change.cost_per_yr_pct.value, -20.0);

    // The park: 3 600 kWh → 0.44244 tce; 3 120 kWh → 0.383448 tce; value added 15 both;
    // efficiency change 3 600 / 3 120 − 1 = +15.384615 %.
    close(park.baseline.tce.value, 0.44244);
    close(park.period.tce.value, 0.383448);
    close(
        park.change.value_added_per_tce_pct.value,
        3_600.0 / 3_120.0 * 100.0 - 100.0,
    );
    // Green share 480 ÷ 3 120 = 15.384615 %.
    close(park.period.green_share.value, 480.0 / 3_120.0 * 100.0);
    // Location-based: (1.2 + 0.6) × 365.25 = 657.45 → (0.96 + 0.6) × 365.25 = 569.79 t/yr.
    close(park.change.location_t_per_yr.value, -87.66);
    // Outputs in t and units do not add up: absent, with the reason.
    assert_eq!(park.period.output_per_tce.value, None);
    assert!(
        park.period
            .output_per_tce
            .absent
            .as_deref()
            .unwrap()
            .contains("t and units"),
        "{:?}",
        park.period.output_per_tce.absent
    );
    // Followed advice: not measurable, said so.
    assert_eq!(park.change.followed_advice_t_per_yr.value, None);
    assert!(park
        .change
        .followed_advice_t_per_yr
        .absent
        .as_deref()
        .unwrap()
        .starts_with("not measurable"));
}

#[test]
fn missing_value_added_makes_efficiency_absent_not_zero() {
    let (b, p) = (figures("e-1", T0, 100, 0), figures("e-1", T0 + DAY, 80, 0));
    let only_baseline = [econ(T0, 100_000.0, 10, "t")];
    let list = [EnterprisePeriods {
        enterprise: "e-1".into(),
        period: PeriodInput {
            figures: &p,
            cost: Err("no tariff".into()),
            no_data: None,
        },
        baseline: PeriodInput {
            figures: &b,
            cost: cost(2_400.0),
            no_data: None,
        },
        economics: &only_baseline,
    }];
    let (_, each) = compare(
        &list,
        (T0 + DAY, T0 + 2 * DAY),
        (T0, T0 + DAY),
        &EnergyOptions::default(),
    )
    .unwrap();
    let e = &each[0];
    assert!(e.baseline.value_added_per_tce.value.is_some());
    assert_eq!(e.period.value_added_per_tce.value, None);
    assert!(e
        .period
        .value_added
        .absent
        .as_deref()
        .unwrap()
        .contains("no value added or output"));
    assert_eq!(e.change.value_added_per_tce_pct.value, None);
    assert_eq!(e.period.cost.value, None);
    assert_eq!(e.period.cost.absent.as_deref(), Some("no tariff"));
}
