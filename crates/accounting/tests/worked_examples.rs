//! Worked examples, each computed by hand and naming its source.

use tanji_accounting::*;
use tanji_units::{Carrier, Unit};

const DAY: i64 = 86_400;
/// 2022-01-01T00:00:00Z.
const Y2022: i64 = 1_640_995_200;

fn series(
    meter: &str,
    carrier: Carrier,
    unit: Unit,
    start: i64,
    step: u32,
    v: &[Option<i64>],
) -> IntervalSeries {
    IntervalSeries {
        meter: meter.to_owned(),
        carrier,
        unit,
        fuel: None,
        start,
        interval_s: step,
        values: v.to_vec(),
    }
}

fn all(v: &[i64]) -> Vec<Option<i64>> {
    v.iter().map(|&x| Some(x)).collect()
}

fn inputs(start: i64, end: i64, series: Vec<IntervalSeries>) -> Inputs {
    Inputs {
        enterprise: "e-001".to_owned(),
        period_start: start,
        period_end: end,
        series,
        certificates: vec![],
        purchases: vec![],
        output: None,
    }
}

fn fixed(g_per_kwh: f64) -> NamedFactor {
    NamedFactor {
        value: g_per_kwh,
        source: "test".to_owned(),
    }
}

// Source: default table (NDRC 2015 guideline, Appendix 2 Table 2.1): natural gas NCV
// 389.31 GJ/10^4 Nm3, CC 15.3 tC/TJ, OF 99%. By hand:
//   AD = 100 000 Nm3 / 10^4 × 389.31 = 3 893.1 GJ
//   EF = 15.3 × 10^-3 × 0.99 × 44/12 = 0.055539 tCO2/GJ
//   E  = 3 893.1 × 0.055539 = 216.2188809 tCO2 = 216 218 881 g.
// Diesel 1 000 L at 0.84 kg/L = 0.84 t: AD = 0.84 × 42.652 = 35.82768 GJ,
//   EF = 20.2e-3 × 0.98 × 44/12 = 0.0725853 t/GJ, E = 2.60056 t.
#[test]
fn scope1_natural_gas_and_diesel_by_hand() {
    let gas = series(
        "gas-1",
        Carrier::NaturalGas,
        Unit::M3,
        Y2022,
        3600,
        &all(&[40_000_000, 60_000_000]),
    );
    let diesel = series(
        "dsl-1",
        Carrier::Diesel,
        Unit::L,
        Y2022,
        3600,
        &all(&[1_000_000, 0]),
    );
    let mut wood = series(
        "boiler-wood",
        Carrier::Coal,
        Unit::T,
        Y2022,
        3600,
        &all(&[1_000, 0]),
    );
    wood.fuel = Some("wood".to_owned());
    let inp = inputs(Y2022, Y2022 + 2 * 3600, vec![gas, diesel, wood]);
    let r = compute(
        &inp,
        &TableFactors::regular("f", Y2022, 3600, &[500.0, 500.0]),
        &Options::default(),
    )
    .unwrap();
    let gas = &r.scope1.lines[0];
    assert_eq!(gas.fuel, "natural_gas");
    assert_eq!(gas.quantity_milli, 100_000_000);
    assert_eq!(gas.activity_mj, 3_893_100);
    assert!((gas.ef_t_per_gj - 0.055539).abs() < 1e-9);
    assert_eq!(gas.emissions_g, 216_218_881);
    let d = &r.scope1.lines[1];
    assert_eq!(d.activity_mj, 35_828);
    assert_eq!(d.emissions_g, 2_600_564);
    assert_eq!(d.density_kg_per_l, Some(0.84));
    assert!(r
        .issues
        .iter()
        .any(|i| i.kind == IssueKind::DefaultDensity && i.effect_g == 2_600_564));
    // Wood (IPCC 2006: 15.6 GJ/t, 30.5 tC/TJ, OF 1): 1 t → 15.6 × 0.1118333 = 1.7446 t, biogenic.
    let w = &r.scope1.lines[2];
    assert!(w.biogenic);
    assert_eq!(w.emissions_g, 1_744_600);
    assert_eq!(r.scope1.biogenic_g, 1_744_600);
    assert_eq!(r.scope1.fossil_g, 216_218_881 + 2_600_564);
    assert_eq!(r.method, "tanji-accounting/v2");
    assert_eq!(r.factor_series, "f");
}

/// A diesel meter that read 0 L over the period: its line is 0 g, and no default-density note
/// is raised about turning nothing into mass (it is not a data problem).
#[test]
fn zero_litres_of_diesel_raise_no_default_density_note() {
    let idle = series(
        "dsl-idle",
        Carrier::Diesel,
        Unit::L,
        Y2022,
        3600,
        &all(&[0, 0]),
    );
    let used = series(
        "dsl-used",
        Carrier::Diesel,
        Unit::L,
        Y2022,
        3600,
        &all(&[1_000_000, 0]),
    );
    let inp = inputs(Y2022, Y2022 + 2 * 3600, vec![idle, used]);
    let r = compute(
        &inp,
        &TableFactors::regular("f", Y2022, 3600, &[500.0, 500.0]),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(r.scope1.lines[0].emissions_g, 0);
    assert_eq!(r.scope1.lines[1].emissions_g, 2_600_564);
    let notes: Vec<_> = r
        .issues
        .iter()
        .filter(|i| i.kind == IssueKind::DefaultDensity)
        .map(|i| i.meter.clone().unwrap_or_default())
        .collect();
    assert_eq!(notes, ["dsl-used"]);
}

/// A year (2022) of 15-minute import whose local-time profile puts `mid_share` of each day's
/// use in 10:00–15:00 (UTC+8), hourly factors `low` in those hours and `base` otherwise.
fn daytime_year(
    days: i64,
    daily_wh: f64,
    mid_share: f64,
    base: f64,
    low: f64,
) -> (Inputs, TableFactors) {
    let mut v = Vec::new();
    let mut f = Vec::new();
    for i in 0..days * 96 {
        let local_h = ((i * 900 + 8 * 3600) % DAY) / 3600;
        let mid = (10..15).contains(&local_h);
        let wh = if mid {
            daily_wh * mid_share / 20.0
        } else {
            daily_wh * (1.0 - mid_share) / 76.0
        };
        v.push(Some(wh.round() as i64)); // kWh meter: thousandths of kWh = Wh
    }
    for h in 0..days * 24 {
        let local_h = (h + 8) % 24;
        f.push(if (10..15).contains(&local_h) {
            low
        } else {
            base
        });
    }
    let s = series(
        "imp-1",
        Carrier::ElectricityImport,
        Unit::KWh,
        Y2022,
        900,
        &v,
    );
    (
        inputs(Y2022, Y2022 + days * DAY, vec![s]),
        TableFactors::regular("year", Y2022, 3600, &f),
    )
}

// Source: docs/reference/pilot.md (the grid company's pilot): 35% of a year's use at a factor 22% below the
// annual average, the rest at the average; 18.5 GWh/yr at 0.5617 t/MWh (East China 2022,
// docs/reference/factors.md). Over-count = 0.35 × 0.22 = 7.7% of the fixed figure;
// 18 500 MWh × 0.5617 × 0.35 × 0.22 = 800.14165 t.
#[test]
fn product_case_fixed_factor_overcounts_800_t() {
    let daily = 18_500e6 / 365.0;
    let (inp, f) = daytime_year(365, daily, 0.35, 561.7, 561.7 * 0.78);
    let opts = Options {
        fixed_factor: Some(fixed(561.7)),
        ..Options::default()
    };
    let r = compute(&inp, &f, &opts).unwrap();
    let c = r.comparison.unwrap();
    // Each quarter-hour is rounded to a whole Wh: the year is within 0.0001% of 18.5 GWh.
    assert!(
        (c.import_wh as f64 - 18_500e6).abs() < 18_500.0,
        "{}",
        c.import_wh
    );
    assert!(
        (c.fixed_g as f64 / 1e6 - 10_391.45).abs() < 0.01,
        "{}",
        c.fixed_g
    );
    assert!(
        (c.difference_pct - 7.7).abs() < 0.05,
        "{}",
        c.difference_pct
    );
    assert!(
        (c.difference_g as f64 / 1e6 - 800.14165).abs() < 0.05,
        "{}",
        c.difference_g
    );
    let w = c.window.unwrap();
    assert_eq!((w.from_hour, w.to_hour), (10, 15));
    assert!((w.share - 0.35).abs() < 1e-6);
    // The table's other hours sit at the annual figure, so the year's time mean is 536.0
    // g/kWh, 4.6% below it: of the 800.1 t, the season (the year's grid against the annual
    // factor, for a flat use) is 18 500 MWh × (561.7 − 535.955) = 476.3 t and the timing
    // (35% of use in the dip, 18.3% below that mean) 323.9 t; both are material, the season
    // is the larger.
    assert!((w.factor_vs_fixed_pct + 18.2532).abs() < 1e-3, "{w:?}");
    assert_eq!(c.season_g + c.timing_g, c.difference_g);
    assert!(
        (c.season_g as f64 / 1e6 - 476.275).abs() < 0.01,
        "{}",
        c.season_g
    );
    let reason = c.reason.clone().unwrap();
    assert_eq!(
        reason,
        "The season explains most of the difference: over this period the grid's factor averaged 536.0 g/kWh, \
         5% below the annual factor (561.7 g/kWh), which makes the fixed factor over-count by 476.3 t. \
         The timing of your use adds to it: 35% of your use falls in 10:00–15:00, when the factor is 18% below \
         the period's mean, which lowers your hourly figure by 323.9 t against a flat use of the day. \
         Keeping use in those hours keeps that advantage. At the fixed annual factor your location-based \
         electricity emissions are over-counted by 800.1 t (7.7%)."
    );
    // Hour-of-day table: local 12:00 holds 7% of use at the low factor.
    let h12 = &c.by_hour[12];
    assert!((h12.share - 0.07).abs() < 1e-6);
    assert!((h12.mean_factor_g_per_kwh.unwrap() - 438.126).abs() < 1e-9);
    assert_eq!(r.scope2_location.electricity_g, c.dynamic_g);
    // But this series keeps the other 19 hours at the annual factor, so it averages
    // (5 × 438.126 + 19 × 561.7) / 24 = 535.955 g/kWh, 4.6% below the annual factor it is
    // compared with: 18 500 × (561.7 − 535.955) = 476.27 t of the "800 t" is season (a grid
    // cleaner than its annual average all day), only 323.87 t is the enterprise's timing.
    let mean = c.period_mean_factor_g_per_kwh.unwrap();
    assert!((mean - 535.955_416_7).abs() < 1e-6, "{mean}");
    assert!(
        (c.season_g as f64 / 1e6 - 476.2748).abs() < 0.05,
        "{}",
        c.season_g
    );
    assert!(
        (c.timing_g as f64 / 1e6 - 323.8669).abs() < 0.05,
        "{}",
        c.timing_g
    );
}

// The same enterprise, consistently: an hourly series whose time mean IS the annual factor
// (561.7 g/kWh), the midday window 10:00–15:00 22% below it (438.126) and the other 19 hours
// correspondingly above it: (24 × 561.7 − 5 × 438.126) / 19 = 594.2195 g/kWh.
// Dynamic = 18 500 MWh × (0.35 × 438.126 + 0.65 × 594.2195) = 9 982.355 t;
// fixed = 10 391.45 t; over-count = 409.095 t (3.94%), all of it timing (season 0 t).
// This is what tanji shows for such an enterprise: about 409 t, not 800 t. (The article's
// "≈ 120 000 CNY" prices 800 t at 150 CNY/t; it is not a CBAM cost: see docs/report.md.)
#[test]
fn product_case_consistent_series_overcounts_409_t_all_timing() {
    let daily = 18_500e6 / 365.0;
    let low = 561.7 * 0.78;
    let base = (24.0 * 561.7 - 5.0 * low) / 19.0;
    let (inp, f) = daytime_year(365, daily, 0.35, base, low);
    let opts = Options {
        fixed_factor: Some(fixed(561.7)),
        ..Options::default()
    };
    let c = compute(&inp, &f, &opts).unwrap().comparison.unwrap();
    let mean = c.period_mean_factor_g_per_kwh.unwrap();
    assert!((mean - 561.7).abs() < 1e-9, "{mean}");
    assert!(
        (c.fixed_g as f64 / 1e6 - 10_391.45).abs() < 0.01,
        "{}",
        c.fixed_g
    );
    assert!(
        (c.dynamic_g as f64 / 1e6 - 9_982.355).abs() < 0.05,
        "{}",
        c.dynamic_g
    );
    assert!(
        (c.difference_g as f64 / 1e6 - 409.095).abs() < 0.05,
        "{}",
        c.difference_g
    );
    assert!(
        (c.difference_pct - 3.9368).abs() < 0.005,
        "{}",
        c.difference_pct
    );
    assert_eq!(c.season_g, 0);
    assert_eq!(c.timing_g, c.difference_g);
    let w = c.window.unwrap();
    assert_eq!((w.from_hour, w.to_hour), (10, 15));
    assert!((w.share - 0.35).abs() < 1e-6);
    assert!((w.factor_vs_fixed_pct + 22.0).abs() < 1e-3);
    // (The sentence's wording may change; these are its figures.)
    for part in [
        "35% of your use falls in 10:00–15:00",
        "when the factor is 22% below the period's mean",
        "over-counted by 409.1 t (3.9%)",
    ] {
        let reason = c.reason.as_deref().unwrap_or_default();
        assert!(reason.contains(part), "{part}: {reason}");
    }
}

// Source: the example sentence of the accounting issue ("41% of your use falls in 10:00–15:00,
// when the factor is 23% below the annual mean"): one day, fixed 500 g/kWh, midday 385
// (23% below), 41% of use at midday. Over-count = 0.41 × 0.23 = 9.43%.
#[test]
fn reason_for_daytime_heavy_profile() {
    let (inp, f) = daytime_year(1, 96_000_000.0, 0.41, 500.0, 385.0);
    let opts = Options {
        fixed_factor: Some(fixed(500.0)),
        ..Options::default()
    };
    let c = compute(&inp, &f, &opts).unwrap().comparison.unwrap();
    // The day's time mean is 476.0 g/kWh (5 hours at 385, 19 at 500): the season is 2.3 t
    // and the timing 2.2 t, both material (over 1% of the 48 t fixed-factor figure).
    assert_eq!(
        c.reason.unwrap(),
        "The season explains most of the difference: over this period the grid's factor averaged 476.0 g/kWh, \
         5% below the annual factor (500 g/kWh), which makes the fixed factor over-count by 2.3 t. \
         The timing of your use adds to it: 41% of your use falls in 10:00–15:00, when the factor is 19% below \
         the period's mean, which lowers your hourly figure by 2.2 t against a flat use of the day. \
         Keeping use in those hours keeps that advantage. At the fixed annual factor your location-based \
         electricity emissions are over-counted by 4.5 t (9.4%)."
    );
    // 96 MWh × 500 × 0.0943 = 4 526 400 g (off-peak quarters are 745 263.16 Wh, rounded).
    assert!(
        (c.difference_g - 4_526_400).abs() < 100,
        "{}",
        c.difference_g
    );
}

// Hand example (hourly factors, 15-minute data): hour 0 factor 500, hour 1 factor 300 g/kWh;
// import per quarter 100,200,300,400 | 500,600,700,800 kWh →
//   1 000 kWh × 500 + 2 600 kWh × 300 = 500 000 + 780 000 = 1 280 000 g.
// Export 50 kWh per quarter in hour 1 = 200 kWh at 300 = 60 000 g (reported, not netted).
// PV 250 kWh per quarter in hour 1 = 1 000 kWh, self-consumed 1 000 − 200 = 800 kWh (zero g).
#[test]
fn location_quarter_hours_take_their_hours_factor() {
    let t0 = Y2022;
    let imp = series(
        "imp",
        Carrier::ElectricityImport,
        Unit::KWh,
        t0,
        900,
        &all(&[
            100_000, 200_000, 300_000, 400_000, 500_000, 600_000, 700_000, 800_000,
        ]),
    );
    let exp = series(
        "exp",
        Carrier::ElectricityExport,
        Unit::KWh,
        t0,
        900,
        &all(&[0, 0, 0, 0, 50_000, 50_000, 50_000, 50_000]),
    );
    let pv = series(
        "pv",
        Carrier::PvGeneration,
        Unit::KWh,
        t0,
        900,
        &all(&[0, 0, 0, 0, 250_000, 250_000, 250_000, 250_000]),
    );
    let f = TableFactors::regular("two-hours", t0, 3600, &[500.0, 300.0]);
    let inp = inputs(t0, t0 + 7200, vec![imp, exp, pv]);
    let r = compute(&inp, &f, &Options::default()).unwrap();
    let l = &r.scope2_location;
    assert_eq!(l.import_wh, 3_600_000);
    assert_eq!(l.electricity_g, 1_280_000);
    assert_eq!(l.export_wh, 200_000);
    assert_eq!(l.export_g, 60_000);
    assert!(!l.exports_netted);
    assert_eq!(l.total_g, 1_280_000);
    assert_eq!(l.pv_generation_wh, 1_000_000);
    assert_eq!(l.pv_self_consumed_wh, 800_000);
    assert_eq!(l.consumption_wh, 4_400_000);
    // Green share = 800 / 4 400; CFE score the same (no instruments).
    assert!((r.indicators.green_share.unwrap() - 800.0 / 4400.0).abs() < 1e-12);
    assert_eq!(r.indicators.cfe_matched_wh, 800_000);
    // Without the PV meter the location figure is unchanged: PV carries zero.
    let mut no_pv = inp.clone();
    no_pv.series.pop();
    assert_eq!(
        compute(&no_pv, &f, &Options::default())
            .unwrap()
            .scope2_location
            .electricity_g,
        1_280_000
    );
    // Netting on request: 1 280 000 − 60 000.
    let net = Options {
        net_exports: true,
        ..Options::default()
    };
    assert_eq!(
        compute(&inp, &f, &net).unwrap().scope2_location.total_g,
        1_220_000
    );
    assert!(r.issues.is_empty(), "{:?}", r.issues);
}

/// One day, hourly import: 1 MWh at 02:00Z (factor 800), 1 MWh at 12:00Z (factor 400), factor 600
/// elsewhere, nothing else imported.
fn two_hours_day() -> (Inputs, TableFactors) {
    let mut v = vec![0i64; 24];
    v[2] = 1_000_000; // kWh meter, thousandths: 1 000 kWh
    v[12] = 1_000_000;
    let mut f = vec![600.0; 24];
    f[2] = 800.0;
    f[12] = 400.0;
    let s = series(
        "imp",
        Carrier::ElectricityImport,
        Unit::KWh,
        Y2022,
        3600,
        &all(&v),
    );
    (
        inputs(Y2022, Y2022 + DAY, vec![s]),
        TableFactors::regular("day", Y2022, 3600, &f),
    )
}

fn cert(mwh: u32, gen_hour: i64) -> Certificate {
    Certificate {
        id: format!("GEC-{mwh}"),
        mwh,
        generation_start: Y2022 + gen_hour * 3600,
        generation_end: Y2022 + (gen_hour + 1) * 3600,
        valid_from: Y2022,
        valid_until: Y2022 + 365 * DAY,
    }
}

// Hand example. Location-based: 1 000 kWh × 800 + 1 000 kWh × 400 = 1 200 kg.
// One certificate (1 MWh) generated 12:00–13:00Z, residual = grid factor:
//   annual: covers 50% of each hour pro rata → 500 × 800 + 500 × 400 = 600 000 g;
//   hourly: covers the 12:00 hour only → 1 000 × 800 = 800 000 g.
// Two certificates generated 12:00–13:00Z, residual fixed 700 g/kWh:
//   annual: cover all 2 MWh → 0 g; hourly: cover 1 MWh at 12:00, 1 MWh unused → 1 000 × 700.
#[test]
fn market_based_annual_vs_hourly() {
    let (mut inp, f) = two_hours_day();
    inp.certificates = vec![cert(1, 12)];
    let annual = Options {
        residual: Residual::Grid,
        ..Options::default()
    };
    let hourly = Options {
        matching: Matching::Hourly,
        ..annual.clone()
    };
    let a = compute(&inp, &f, &annual).unwrap();
    assert_eq!(a.scope2_location.electricity_g, 1_200_000);
    assert_eq!(a.scope2_market.electricity_g, 600_000);
    assert_eq!(a.scope2_market.residual_factor, None);
    // The grid factor as residual counts others' green power again: a data issue says so,
    // with what the default residual (2022: 585.6 g/kWh) would count: 1 000 kWh × 585.6 =
    // 585 600 g, 14 400 g less.
    let dc = a
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::ResidualLocation)
        .expect("a residual_location issue");
    assert_eq!(dc.quantity_milli, 1_000_000_000);
    assert_eq!(dc.effect_g, 585_600 - 600_000);
    assert!(dc.message.contains("counted again"), "{}", dc.message);
    assert_eq!(a.scope2_market.applied_wh, 1_000_000);
    assert_eq!(a.scope2_market.uncovered_import_wh, 1_000_000);
    let h = compute(&inp, &f, &hourly).unwrap();
    assert_eq!(h.scope2_market.electricity_g, 800_000);
    assert_eq!(h.scope2_market.applied_wh, 1_000_000);
    // CFE score: the certificate delivers in hour 12 only → 1 MWh of 2 matched, either mode.
    assert_eq!(a.indicators.cfe_score, Some(0.5));
    assert_eq!(a.indicators.green_share, Some(0.5));

    inp.certificates = vec![cert(2, 12)];
    let residual = Residual::Fixed(fixed(700.0));
    let a = compute(
        &inp,
        &f,
        &Options {
            residual: residual.clone(),
            ..annual
        },
    )
    .unwrap();
    assert_eq!(a.scope2_market.electricity_g, 0);
    assert_eq!(a.scope2_market.unused_wh, 0);
    let h = compute(&inp, &f, &Options { residual, ..hourly }).unwrap();
    assert_eq!(h.scope2_market.electricity_g, 700_000);
    assert_eq!(h.scope2_market.applied_wh, 1_000_000);
    assert_eq!(h.scope2_market.unused_wh, 1_000_000);
    assert_eq!(h.scope2_market.instruments[0].applied_wh, 1_000_000);
}

// Hand example, no residual given (the default): China's national average excluding
// market-traded non-fossil power for the data's year, MEE/NBS 2022: 0.5856 t/MWh = 585.6 g/kWh.
// So the green power others bought (excluded from that average) is not counted again.
//   no instruments: 2 000 kWh × 585.6 = 1 171 200 g (location-based: 1 200 000 g);
//   one certificate, annual: 1 000 kWh uncovered (500 in each hour) × 585.6 = 585 600 g;
//   one certificate, hourly: 1 000 kWh uncovered at 02:00 × 585.6 = 585 600 g.
// The same data dated 2026: no 2026 value is published, the latest (2023, 0.6096) applies:
//   2 000 × 609.6 = 1 219 200 g.
#[test]
fn market_based_default_residual_without_double_counting() {
    let (mut inp, f) = two_hours_day();
    let plain = compute(&inp, &f, &Options::default()).unwrap();
    let m = &plain.scope2_market;
    assert_eq!(m.residual, Residual::ChinaExcludingTraded);
    let used = m.residual_factor.as_ref().unwrap();
    assert_eq!(used.value, 585.6);
    assert!(used.source.contains("2022") && used.source.contains("the data's year 2022"));
    assert_eq!(m.electricity_g, 1_171_200);
    assert_eq!(plain.scope2_location.electricity_g, 1_200_000);
    assert!(plain.issues.is_empty(), "{:?}", plain.issues);

    inp.certificates = vec![cert(1, 12)];
    let a = compute(&inp, &f, &Options::default()).unwrap();
    assert_eq!(a.scope2_market.uncovered_import_wh, 1_000_000);
    assert_eq!(a.scope2_market.electricity_g, 585_600);
    let h = compute(
        &inp,
        &f,
        &Options {
            matching: Matching::Hourly,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(h.scope2_market.electricity_g, 585_600);

    // A residual given is used as given.
    let given = compute(
        &inp,
        &f,
        &Options {
            residual: Residual::Fixed(fixed(700.0)),
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(given.scope2_market.electricity_g, 700_000);
    assert_eq!(given.scope2_market.residual_factor, Some(fixed(700.0)));

    // Data of 2026 (2026-01-01T00:00+08): the latest published year, 2023.
    let y2026 = 1_767_196_800;
    let (mut inp, _) = two_hours_day();
    for s in &mut inp.series {
        s.start += y2026 - Y2022;
    }
    inp.period_start = y2026;
    inp.period_end = y2026 + DAY;
    let f26 = TableFactors::regular("day", y2026, 3600, &[600.0; 24]);
    let r = compute(&inp, &f26, &Options::default()).unwrap();
    let used = r.scope2_market.residual_factor.as_ref().unwrap();
    assert_eq!(used.value, 609.6);
    assert!(
        used.source
            .contains("data of 2026: the latest published year, 2023"),
        "{}",
        used.source
    );
    assert_eq!(r.scope2_market.electricity_g, 1_219_200);
}

// Hand example: a green-power purchase of 48 MWh delivered evenly over 2 days (1 MWh/h) and
// a certificate whose validity ended before the period: the expired certificate is unused.
// Annual: 1 MWh covers 50% of 2 MWh → 600 000 g (as above). Hourly: 1 MWh/h, so hours 02 and
// 12 are fully covered → 0 g.
#[test]
fn purchases_and_expired_certificates() {
    let (mut inp, f) = two_hours_day();
    inp.purchases = vec![GreenPurchase {
        id: "PPA-1".to_owned(),
        start: Y2022,
        end: Y2022 + 2 * DAY,
        wh: 48_000_000,
    }];
    let mut old = cert(5, -48);
    old.valid_from = Y2022 - 400 * DAY;
    old.valid_until = Y2022 - DAY;
    inp.certificates = vec![old];
    let a = compute(&inp, &f, &Options::default()).unwrap();
    // Annual: in-period share 24 MWh covers the whole 2 MWh.
    assert_eq!(a.scope2_market.electricity_g, 0);
    assert_eq!(a.scope2_market.instruments[0].applied_wh, 0); // the expired certificate
    assert_eq!(a.scope2_market.instruments[1].applied_wh, 2_000_000);
    let h = compute(
        &inp,
        &f,
        &Options {
            matching: Matching::Hourly,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(h.scope2_market.electricity_g, 0);
    assert_eq!(h.scope2_market.applied_wh, 2_000_000);
    assert_eq!(h.indicators.cfe_score, Some(1.0));
}

// Hand example: two days of 15-minute import, 100 kWh per quarter on day 1 except a ramp;
// a 3-interval gap between 100 and 200 kWh is filled 125, 150, 175 (linear, k/(L+1));
// an 8-interval (2 h) gap on day 2 takes day 1's values at the same local time (profile).
// Constant 500 g/kWh: linear effect (125+150+175) kWh × 500 = 225 000 g; profile effect
// 8 × 100 kWh × 500 = 400 000 g.
#[test]
fn gap_filling_linear_and_profile_with_effect() {
    let mut v: Vec<Option<i64>> = vec![Some(100_000); 192];
    v[10] = Some(100_000);
    v[11] = None;
    v[12] = None;
    v[13] = None;
    v[14] = Some(200_000);
    for x in &mut v[96 + 40..96 + 48] {
        *x = None;
    }
    let s = series("imp", Carrier::ElectricityImport, Unit::KWh, Y2022, 900, &v);
    let f = TableFactors::regular("flat", Y2022, 3600, &[500.0; 48]);
    let r = compute(
        &inputs(Y2022, Y2022 + 2 * DAY, vec![s]),
        &f,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(r.issues.len(), 2, "{:?}", r.issues);
    let lin = &r.issues[0];
    assert_eq!(lin.kind, IssueKind::GapLinear);
    assert_eq!(
        (lin.start, lin.end, lin.intervals),
        (Y2022 + 11 * 900, Y2022 + 14 * 900, 3)
    );
    assert_eq!(lin.quantity_milli, 450_000);
    assert_eq!(lin.effect_g, 225_000);
    let prof = &r.issues[1];
    assert_eq!(prof.kind, IssueKind::GapProfile);
    assert_eq!(prof.intervals, 8);
    assert_eq!(prof.quantity_milli, 800_000);
    assert_eq!(prof.effect_g, 400_000);
    // Total: 190 measured values... (189 × 100 + 200 + 450 + 800) kWh × 0.5 kg.
    let kwh = 100 * (192 - 3 - 8 - 1) + 200 + 450 + 800;
    assert_eq!(r.scope2_location.import_wh, kwh * 1000);
    assert_eq!(r.scope2_location.electricity_g, kwh * 500);
}

// The profile is by local interval-of-day: with day 1 at 100 kWh, day 2 at 300 kWh and day 3
// missing entirely, day 3 takes the mean, 200 kWh per interval; at 1 000 g/kWh the effect is
// 24 × 200 kWh × 1 kg = 4.8 t.
#[test]
fn profile_mean_and_unfilled() {
    let mut v: Vec<Option<i64>> = vec![Some(100_000); 24];
    v.extend(vec![Some(300_000); 24]);
    v.extend(vec![None; 24]);
    let s = series(
        "imp",
        Carrier::ElectricityImport,
        Unit::KWh,
        Y2022,
        3600,
        &v,
    );
    let f = TableFactors::regular("flat", Y2022, 3600, &[1000.0; 72]);
    let r = compute(
        &inputs(Y2022, Y2022 + 3 * DAY, vec![s]),
        &f,
        &Options::default(),
    )
    .unwrap();
    assert_eq!(r.issues[0].kind, IssueKind::GapProfile);
    assert_eq!(r.issues[0].quantity_milli, 24 * 200_000);
    assert_eq!(r.issues[0].effect_g, 24 * 200_000);
}

#[test]
fn missing_factor_falls_back_to_fixed_and_is_reported() {
    let s = series(
        "imp",
        Carrier::ElectricityImport,
        Unit::KWh,
        Y2022,
        3600,
        &all(&[1_000_000, 1_000_000]),
    );
    let f = TableFactors::regular("one-hour", Y2022, 3600, &[400.0]);
    let opts = Options {
        fixed_factor: Some(fixed(550.0)),
        ..Options::default()
    };
    let r = compute(&inputs(Y2022, Y2022 + 7200, vec![s]), &f, &opts).unwrap();
    assert_eq!(r.scope2_location.electricity_g, 400_000 + 550_000);
    assert_eq!(r.issues[0].kind, IssueKind::MissingFactor);
    assert_eq!(r.issues[0].effect_g, 550_000);
}

// Purchased heat at the NDRC default 0.11 tCO2/GJ: 10 GJ → 1.1 t. Steam 10 t at 2 800 kJ/kg:
// 10 × (2 800 − 83.74) × 10^-3 = 27.1626 GJ → 2.987886 t.
#[test]
fn purchased_heat_and_steam() {
    let heat = series(
        "heat",
        Carrier::Heat,
        Unit::GJ,
        Y2022,
        3600,
        &all(&[10_000]),
    );
    let steam = series(
        "steam",
        Carrier::Steam,
        Unit::T,
        Y2022,
        3600,
        &all(&[10_000]),
    );
    let inp = inputs(Y2022, Y2022 + 3600, vec![heat, steam]);
    let f = TableFactors::regular("f", Y2022, 3600, &[500.0]);
    let r = compute(&inp, &f, &Options::default()).unwrap();
    assert_eq!(r.scope2_location.heat_g, 1_100_000);
    assert_eq!(r.issues[0].kind, IssueKind::Unconvertible);
    let mut opts = Options::default();
    opts.heat.steam_enthalpy_kj_per_kg = Some(2800.0);
    let r = compute(&inp, &f, &opts).unwrap();
    assert_eq!(r.scope2_location.heat_g, 1_100_000 + 2_987_886);
    assert_eq!(r.scope2_market.total_g, r.scope2_location.heat_g);
}

#[test]
fn intensity_and_serialization() {
    let (mut inp, f) = two_hours_day();
    inp.output = Some(Output {
        quantity_milli: 4_000,
        unit: "t".to_owned(),
    });
    let r = compute(&inp, &f, &Options::default()).unwrap();
    let i = r.indicators.intensity.as_ref().unwrap();
    assert!((i.electricity_kwh_per_unit - 500.0).abs() < 1e-9);
    assert!((i.location_t_per_unit - 0.3).abs() < 1e-9);
    assert!((i.energy_gj_per_unit - 1.8).abs() < 1e-9); // 2 000 kWh = 7.2 GJ over 4 t
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["method"], "tanji-accounting/v2");
    assert_eq!(json["scope2_market"]["matching"], "annual");
}

#[test]
fn refuses_bad_input_with_the_value() {
    let s = series("m-7", Carrier::Coal, Unit::L, Y2022, 3600, &all(&[1]));
    let err = compute(
        &inputs(Y2022, Y2022 + 3600, vec![s]),
        &TableFactors::regular("f", Y2022, 3600, &[1.0]),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "meter m-7: carrier coal cannot be metered in L; see tanji_units::Carrier::accepts"
    );
}

#[test]
fn series_factors_reads_consumption_direct() {
    let csv = format!(
        "{}\nR,2022-01-01T00:00:00Z,2022-01-01T01:00:00Z,1,2,450.0000,5,10\n",
        tanji_factors::SERIES_HEADER
    );
    let series = tanji_factors::Series::parse_csv(&csv).unwrap();
    let lookup = SeriesFactors {
        series: &series,
        region: "R".to_owned(),
        id: "R@v1".to_owned(),
    };
    let f = lookup.factor_at(Y2022 + 900).unwrap();
    assert_eq!((f.start, f.end, f.g_per_kwh), (Y2022, Y2022 + 3600, 450.0));
    assert!(lookup.factor_at(Y2022 + 3600).is_none());
    assert_eq!(lookup.series_id(), "R@v1");
}

// A dry-season month: the grid's factor is 10% above the annual figure in every hour except a
// midday PV dip. A daytime-heavy user is then under-counted by the fixed factor, and the reason
// must say that the season causes it while the timing of use still helps.
// By hand (30 days, 1 MWh/day, 41% of it in 10:00–15:00 local): base = 1.1 × 500 = 550,
// dip = 440 g/kWh in those 5 hours. Time mean m = (19 × 550 + 5 × 440) / 24 = 527.083 g/kWh.
// season = 30 MWh × (500 − 527.083) = −0.8125 t; dynamic = 30 × (0.59 × 550 + 0.41 × 440)
// = 15.147 t; timing = 30 × 527.083 − 15 147 kg = +0.6655 t; fixed − dynamic = −0.147 t.
#[test]
fn season_and_timing_are_told_apart() {
    let (inp, f) = daytime_year(30, 1_000_000.0, 0.41, 550.0, 440.0);
    let opts = Options {
        fixed_factor: Some(fixed(500.0)),
        ..Options::default()
    };
    let c = compute(&inp, &f, &opts).unwrap().comparison.unwrap();
    let m = c.period_mean_factor_g_per_kwh.unwrap();
    assert!((m - 527.0833).abs() < 1e-3, "{m}");
    assert_eq!(c.season_g + c.timing_g, c.difference_g);
    assert!(
        (c.season_g as f64 / 1e6 + 0.8125).abs() < 0.001,
        "{}",
        c.season_g
    );
    assert!(
        (c.timing_g as f64 / 1e6 - 0.6655).abs() < 0.001,
        "{}",
        c.timing_g
    );
    assert!(
        (c.difference_g as f64 / 1e6 + 0.147).abs() < 0.001,
        "{}",
        c.difference_g
    );
    let w = c.window.as_ref().unwrap();
    assert_eq!((w.from_hour, w.to_hour), (10, 15));
    assert_eq!(
        c.reason.as_deref(),
        Some(
            "The season explains most of the difference: over this period the grid's factor averaged 527.1 g/kWh, \
             5% above the annual factor (500 g/kWh), which makes the fixed factor under-count by 0.8 t. \
             The timing of your use adds to it: 41% of your use falls in 10:00–15:00, when the factor is 17% below \
             the period's mean, which lowers your hourly figure by 0.7 t against a flat use of the day. \
             Keeping use in those hours keeps that advantage. At the fixed annual factor your location-based \
             electricity emissions are under-counted by 0.1 t (1.0%)."
        )
    );
}

// The flat-load enterprise: 30 days of the same use in every quarter-hour, in a dry-season
// month whose factors are 550 g/kWh but 440 in 10:00–15:00. The time mean is 527.083 g/kWh, so
// the season under-counts 30 MWh × 27.083 = 0.8125 t; a flat use has no timing part (it sees
// the time mean exactly, up to the rounding of each interval's grams). The reason must name the
// season and must not blame (or advise moving out of) any hours of the day.
#[test]
fn why_sentence_names_season_not_hours_for_a_flat_load() {
    let (inp, f) = daytime_year(30, 1_000_000.0, 5.0 / 24.0, 550.0, 440.0);
    let opts = Options {
        fixed_factor: Some(fixed(500.0)),
        ..Options::default()
    };
    let c = compute(&inp, &f, &opts).unwrap().comparison.unwrap();
    assert!(
        (c.season_g as f64 / 1e6 + 0.8125).abs() < 0.001,
        "{}",
        c.season_g
    );
    // (The quarter-hours are whole Wh, so the flat use is flat to a few grams.)
    assert!(c.timing_g.abs() < 2_000, "{}", c.timing_g);
    assert_eq!(c.window, None);
    let en = c.reason.clone().unwrap();
    assert!(
        en.starts_with("The season explains most of the difference: over this period the grid's factor averaged 527.1 g/kWh, 5% above the annual factor (500 g/kWh), which makes the fixed factor under-count by 0.8 t. The timing of your use changes it by only 0.0 t"),
        "{en}"
    );
    assert!(
        !en.contains("falls in") && !en.contains("Moving use"),
        "{en}"
    );
    let zh = why::reason(&c, Lang::Zh).unwrap();
    assert!(
        zh.starts_with("差异主要来自季节：本期电网因子平均为 527.1 克/千瓦时"),
        "{zh}"
    );
    assert!(!zh.contains("移出"), "{zh}");
}

// Factors of the wrong year: a series for 2021 and use in 2022. Every interval is counted at
// the fixed factor, so the "difference" is zero by construction: there is nothing to compare,
// and no reason is written (the report's missing_factor issue and coverage say why).
#[test]
fn why_sentence_is_not_written_without_hourly_factors_for_the_period() {
    let (inp, _) = daytime_year(3, 1_000_000.0, 0.41, 550.0, 440.0);
    let other_year = TableFactors::regular("2021", Y2022 - 365 * DAY, 3600, &[500.0; 24 * 365]);
    let opts = Options {
        fixed_factor: Some(fixed(500.0)),
        ..Options::default()
    };
    let r = compute(&inp, &other_year, &opts).unwrap();
    let c = r.comparison.unwrap();
    // Zero up to the rounding of each interval's grams.
    assert!(c.difference_g.abs() < 1_000, "{}", c.difference_g);
    assert_eq!(c.period_mean_factor_g_per_kwh, None);
    assert_eq!(c.intervals_without_factor, 3 * 96);
    assert_eq!(c.window, None);
    assert_eq!(c.reason, None);
    assert_eq!(why::reason(&c, Lang::Zh), None);
    assert!(r.issues.iter().any(|i| i.kind == IssueKind::MissingFactor));
}

// Source: the default table, NDRC 2015 other-industry guideline 附录二 表2.1 (values as tanji
// reproduces them, all marked unverified). By hand, E = NCV × CC × 10^-3 × OF × 44/12 for 1 t
// (solid and liquid fuels) or 10^4 Nm3 (gases):
const ONE_UNIT: &[(&str, i64)] = &[
    ("anthracite", 2_521_512),  // 26.7 × 27.4e-3 × 0.94 × 44/12 = 2.5215124 t
    ("bituminous", 1_741_750),  // 19.570 × 26.1e-3 × 0.93 × 44/12 = 1.7417496 t
    ("lignite", 1_172_864),     // 11.9 × 28.0e-3 × 0.96 × 44/12 = 1.1728640 t
    ("washed_coal", 2_209_023), // 26.344 × 25.41e-3 × 0.90 × 44/12 = 2.2090234 t
    ("other_washed_coal", 1_051_936), // 12.545 × 25.41e-3 × 0.90 × 44/12 = 1.0519359 t
    ("briquette", 1_935_965),   // 17.460 × 33.6e-3 × 0.90 × 44/12 = 1.9359648 t
    ("coke", 2_860_419),        // 28.435 × 29.5e-3 × 0.93 × 44/12 = 2.8604188 t
    ("crude_oil", 3_020_202),   // 41.816 × 20.1e-3 × 0.98 × 44/12 = 3.0202024 t
    ("fuel_oil", 3_170_461),    // 41.816 × 21.1e-3 × 0.98 × 44/12 = 3.1704612 t
    ("gasoline", 2_925_056),    // 43.070 × 18.9e-3 × 0.98 × 44/12 = 2.9250560 t
    ("diesel", 3_095_910),      // 42.652 × 20.2e-3 × 0.98 × 44/12 = 3.0959096 t
    ("kerosene", 3_033_391),    // 43.070 × 19.6e-3 × 0.98 × 44/12 = 3.0333914 t
    ("lpg", 3_101_330),         // 50.179 × 17.2e-3 × 0.98 × 44/12 = 3.1013298 t
    ("refinery_gas", 3_008_208), // 45.998 × 18.2e-3 × 0.98 × 44/12 = 3.0082079 t
    ("natural_gas", 21_621_888), // 389.31 × 15.3e-3 × 0.99 × 44/12 = 21.6218881 t
    ("coke_oven_gas", 8_863_806), // 179.81 × 13.58e-3 × 0.99 × 44/12 = 8.8638059 t
    ("other_gas", 2_314_829),   // 52.270 × 12.2e-3 × 0.99 × 44/12 = 2.3148292 t
];

fn one_fuel_report(
    carrier: Carrier,
    unit: Unit,
    milli: i64,
    choice: MeterFuel,
) -> Result<Report, AccountingError> {
    let s = series("m", carrier, unit, Y2022, 3600, &all(&[milli]));
    let mut opts = Options::default();
    opts.meter_fuels.insert("m".to_owned(), choice);
    compute(
        &inputs(Y2022, Y2022 + 3600, vec![s]),
        &TableFactors::regular("f", Y2022, 3600, &[500.0]),
        &opts,
    )
}

#[test]
fn every_fuel_of_the_default_table_one_unit_by_hand() {
    let lib = FuelLibrary::default();
    let table = lib.table(&lib.default_table).unwrap();
    assert_eq!(table.id, "ndrc-2015-other-industry-t2.1");
    assert_eq!(table.year, 2015);
    assert!(table.table.contains("表2.1"));
    let ids: Vec<&str> = table.fuels.iter().map(|f| f.id.as_str()).collect();
    let hand: Vec<&str> = ONE_UNIT.iter().map(|r| r.0).collect();
    assert_eq!(
        ids, hand,
        "every fuel of the table has a hand-computed case"
    );
    for &(id, g) in ONE_UNIT {
        let fuel = table.fuels.iter().find(|f| f.id == id).unwrap();
        let (carrier, unit, milli) = match fuel.ncv_basis {
            NcvBasis::GjPerTonne => (Carrier::Coal, Unit::T, 1_000),
            NcvBasis::GjPer10kNm3 => (Carrier::NaturalGas, Unit::M3, 10_000_000),
        };
        let r = one_fuel_report(
            carrier,
            unit,
            milli,
            MeterFuel {
                fuel: Some(id.to_owned()),
                gas_reference: Some(GasReference::Normal),
                ..MeterFuel::default()
            },
        )
        .unwrap();
        let line = &r.scope1.lines[0];
        assert_eq!(line.fuel, id);
        assert_eq!(line.table, "ndrc-2015-other-industry-t2.1");
        assert_eq!(line.emissions_g, g, "{id}");
        // Not confirmed against a copy of the table: the line says so.
        assert!(
            !line.verified && line.source.contains("[unverified]"),
            "{id}"
        );
        assert!(line.source.contains("表2.1") && line.source.contains("(2015)"));
    }
}

// A coal meter set to anthracite (at registration or in the enterprise inputs): 10 t ×
// 2.5215124 t/t = 25.215124 t, against 17.417496 t at the carrier's default (bituminous).
// The same meter on GB/T 32150-2015 Appendix B: the same parameters, the line names that table.
#[test]
fn coal_meter_burning_anthracite() {
    let anthracite = MeterFuel {
        fuel: Some("anthracite".to_owned()),
        ..MeterFuel::default()
    };
    let r = one_fuel_report(Carrier::Coal, Unit::T, 10_000, anthracite.clone()).unwrap();
    let line = &r.scope1.lines[0];
    assert_eq!(line.fuel, "anthracite");
    assert_eq!(
        (line.ncv, line.carbon_tc_per_tj, line.oxidation),
        (26.7, 27.4, 0.94)
    );
    assert_eq!(line.emissions_g, 25_215_124);
    let default = one_fuel_report(Carrier::Coal, Unit::T, 10_000, MeterFuel::default()).unwrap();
    assert_eq!(default.scope1.lines[0].fuel, "bituminous");
    assert_eq!(default.scope1.lines[0].emissions_g, 17_417_496);

    let gbt = one_fuel_report(
        Carrier::Coal,
        Unit::T,
        10_000,
        MeterFuel {
            table: Some("gbt-32150-2015-b".to_owned()),
            ..anthracite
        },
    )
    .unwrap();
    assert_eq!(gbt.scope1.lines[0].table, "gbt-32150-2015-b");
    assert!(gbt.scope1.lines[0].source.contains("GB/T 32150-2015"));
    assert_eq!(gbt.scope1.lines[0].emissions_g, 25_215_124);

    // A table or fuel that does not exist is refused with the meter and what to do.
    let bad = one_fuel_report(
        Carrier::Coal,
        Unit::T,
        10_000,
        MeterFuel {
            table: Some("ndrc-2013".to_owned()),
            ..MeterFuel::default()
        },
    )
    .unwrap_err();
    assert!(
        bad.to_string()
            .contains("meter m: fuel table \"ndrc-2013\" is unknown"),
        "{bad}"
    );
    let bad = one_fuel_report(
        Carrier::Coal,
        Unit::T,
        10_000,
        MeterFuel {
            fuel: Some("peat".to_owned()),
            ..MeterFuel::default()
        },
    )
    .unwrap_err();
    assert!(
        bad.to_string()
            .contains("\"peat\" is not in fuel table ndrc-2015-other-industry-t2.1"),
        "{bad}"
    );
}

// Gas billed at 20 °C, 101.325 kPa: 10 000 m3 = 10 000 × 273.15 / 293.15 = 9 317.75 Nm3
// (6.8% less gas than 10 000 Nm3), so E = 21.6218881 × 273.15 / 293.15 = 20.1467465 t.
// Not stated: taken as Nm3 (21.621888 t) and a gas_reference_assumed issue gives what 20 °C
// m3 would change: 21 621 888 − round(21 621 888 × 0.9317755) = 1 475 142 g.
#[test]
fn gas_at_20_c_is_converted_to_normal_m3() {
    let at20 = one_fuel_report(
        Carrier::NaturalGas,
        Unit::M3,
        10_000_000,
        MeterFuel {
            gas_reference: Some(GasReference::Standard20C),
            ..MeterFuel::default()
        },
    )
    .unwrap();
    let line = &at20.scope1.lines[0];
    assert_eq!(line.emissions_g, 20_146_746);
    let v = line.gas_volume.as_ref().unwrap();
    assert!(v.stated);
    assert!((v.to_normal - 273.15 / 293.15).abs() < 1e-15);
    assert_eq!(v.normal_m3_milli, 9_317_755);
    assert!(
        v.note
            .contains("10000.000 m3 at 20 °C, 101.325 kPa = 9317.755 normal m3"),
        "{}",
        v.note
    );
    assert!(at20.issues.is_empty(), "{:?}", at20.issues);

    let unstated = one_fuel_report(
        Carrier::NaturalGas,
        Unit::M3,
        10_000_000,
        MeterFuel::default(),
    )
    .unwrap();
    assert_eq!(unstated.scope1.lines[0].emissions_g, 21_621_888);
    let v = unstated.scope1.lines[0].gas_volume.as_ref().unwrap();
    assert!(!v.stated && v.to_normal == 1.0);
    let issue = &unstated.issues[0];
    assert_eq!(issue.kind, IssueKind::GasReferenceAssumed);
    assert_eq!(issue.effect_g, 1_475_142);
    assert!(issue.message.contains("7.3% high"), "{}", issue.message);
}

/// Periods in errors are dates, not Unix seconds.
#[test]
fn an_empty_period_is_named_by_its_dates() {
    let inp = inputs(Y2022 + DAY, Y2022, vec![]);
    let err = compute(
        &inp,
        &TableFactors::regular("f", Y2022, 3600, &[500.0]),
        &Options::default(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "period 2022-01-02T00:00:00Z..2022-01-01T00:00:00Z is empty; the end must be after the start"
    );
}
