//! Golden results: varied, realistic inputs built deterministically, whose full reports (and
//! per-interval emissions) must not change when the computation is made faster. The expected
//! files under `tests/golden/` were produced by the code before any optimisation; a change
//! of method bumps [`tanji_accounting::METHOD`] and regenerates them with `UPDATE_GOLDEN=1`.
//!
//! Per-interval emissions of a year are too many to commit whole: their file holds the count,
//! an FNV-1a hash of their JSON and every 997th interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use tanji_accounting::*;
use tanji_units::{Carrier, Unit};

/// 2026-01-01T00:00:00Z.
const Y2026: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
const YEAR_QH: usize = 365 * 96;

/// A small deterministic generator (xorshift64*), so the inputs need no files.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Local (UTC+8) hour of day of `t`, as a float with fraction.
fn local_hour(t: i64) -> f64 {
    ((t + 8 * 3600).rem_euclid(DAY)) as f64 / 3600.0
}

/// A load shape: base + day bump, with noise.
fn load(rng: &mut Rng, t: i64, base: i64, peak: i64) -> i64 {
    let h = local_hour(t);
    let day = if (8.0..20.0).contains(&h) { peak } else { 0 };
    let wd = ((t.div_euclid(DAY) + 4) % 7 < 5) as i64; // weekdays busier
    base + day * (1 + wd) / 2 + rng.below((base.max(1) / 5 + 1) as u64) as i64
}

/// PV: zero at night, a bell by day.
fn pv(rng: &mut Rng, t: i64, peak: i64) -> i64 {
    let h = local_hour(t);
    if !(6.0..18.0).contains(&h) {
        return 0;
    }
    let x = (h - 12.0) / 6.0;
    let cloud = 60 + rng.below(41) as i64;
    ((1.0 - x * x) * peak as f64) as i64 * cloud / 100
}

/// Punches gaps into `v`: `(at, len)` pairs (clipped to the series).
fn gaps(v: &mut [Option<i64>], runs: &[(usize, usize)]) {
    for &(at, len) in runs {
        for x in v.iter_mut().skip(at).take(len) {
            *x = None;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn series(
    meter: &str,
    carrier: Carrier,
    unit: Unit,
    fuel: Option<&str>,
    start: i64,
    step: u32,
    values: Vec<Option<i64>>,
) -> IntervalSeries {
    IntervalSeries {
        meter: meter.to_owned(),
        carrier,
        unit,
        fuel: fuel.map(str::to_owned),
        start,
        interval_s: step,
        values,
    }
}

fn gen(n: usize, start: i64, step: u32, mut f: impl FnMut(i64) -> i64) -> Vec<Option<i64>> {
    (0..n)
        .map(|i| Some(f(start + i as i64 * i64::from(step))))
        .collect()
}

/// The factory's meters: every carrier, gaps short and long, zeros and negatives, a series
/// starting before and ending after the year, series not aligned to the hour.
fn factory_series(seed: u64) -> Vec<IntervalSeries> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();

    // Main import, kWh ×1000 = Wh, 15-minute, a year; gaps short (linear) and long (profile),
    // leading and trailing.
    let mut v = gen(YEAR_QH, Y2026, 900, |t| load(&mut rng, t, 180_000, 420_000));
    gaps(
        &mut v,
        &[
            (0, 3),
            (1000, 1),
            (2000, 2),
            (3000, 4),
            (4000, 5),
            (9000, 96 * 3 + 7),
            (20_000, 40),
            (YEAR_QH - 6, 6),
        ],
    );
    // Reverse flow now and then: negative values (a meter that counts both ways).
    for i in [500, 7_777, 15_001] {
        v[i] = Some(-12_345);
    }
    out.push(series(
        "imp-main",
        Carrier::ElectricityImport,
        Unit::KWh,
        None,
        Y2026,
        900,
        v,
    ));

    // Second import in Wh (values in mWh), starting 3 days before the year and running 2 days
    // past it: the period boundary falls inside the series.
    let n = YEAR_QH + 5 * 96;
    let s = Y2026 - 3 * DAY;
    let mut v = gen(n, s, 900, |t| load(&mut rng, t, 40_000_000, 90_000_000));
    gaps(&mut v, &[(3 * 96 - 2, 4), (50_000, 3), (60_000, 200)]);
    out.push(series(
        "imp-wh",
        Carrier::ElectricityImport,
        Unit::Wh,
        None,
        s,
        900,
        v,
    ));

    // Hourly import in MWh (values in kWh), with zero stretches.
    let mut v = gen(365 * 24, Y2026, 3600, |t| {
        if (t / 3600) % 50 < 3 {
            0
        } else {
            load(&mut rng, t, 300, 500)
        }
    });
    gaps(&mut v, &[(100, 2), (5000, 30)]);
    out.push(series(
        "imp-hourly",
        Carrier::ElectricityImport,
        Unit::MWh,
        None,
        Y2026,
        3600,
        v,
    ));

    // 15-minute import starting at :07:30, so intervals straddle the factor hours.
    let s = Y2026 + 450;
    let mut v = gen(YEAR_QH - 1, s, 900, |t| load(&mut rng, t, 10_000, 30_000));
    gaps(&mut v, &[(333, 2), (12_345, 100)]);
    out.push(series(
        "imp-skew",
        Carrier::ElectricityImport,
        Unit::KWh,
        None,
        s,
        900,
        v,
    ));

    // Half-hourly import starting at :15 (straddling), and a 5-minute one for a month.
    let s = Y2026 + 900;
    let v = gen(365 * 48 - 1, s, 1800, |t| load(&mut rng, t, 20_000, 10_000));
    out.push(series(
        "imp-30min",
        Carrier::ElectricityImport,
        Unit::KWh,
        None,
        s,
        1800,
        v,
    ));
    let mut v = gen(31 * 288, Y2026 + 40 * DAY, 300, |t| {
        load(&mut rng, t, 1_000, 2_000)
    });
    gaps(&mut v, &[(700, 12), (5000, 4)]);
    out.push(series(
        "imp-5min",
        Carrier::ElectricityImport,
        Unit::KWh,
        None,
        Y2026 + 40 * DAY,
        300,
        v,
    ));

    // PV and export: export is the PV surplus, zero most of the time.
    let pv_v: Vec<Option<i64>> = gen(YEAR_QH, Y2026, 900, |t| pv(&mut rng, t, 250_000));
    let mut exp_v: Vec<Option<i64>> = pv_v
        .iter()
        .enumerate()
        .map(|(i, p)| p.map(|p| if i % 7 == 0 { (p - 150_000).max(0) } else { 0 }))
        .collect();
    gaps(&mut exp_v, &[(4_100, 3), (30_000, 500)]);
    let mut pv_v = pv_v;
    gaps(&mut pv_v, &[(4_140, 10)]);
    out.push(series(
        "pv-roof",
        Carrier::PvGeneration,
        Unit::KWh,
        None,
        Y2026,
        900,
        pv_v,
    ));
    out.push(series(
        "exp-grid",
        Carrier::ElectricityExport,
        Unit::KWh,
        None,
        Y2026,
        900,
        exp_v,
    ));

    // Fuels: natural gas m3 (×1000), diesel in litres (default density), coal in t, wood in t.
    let mut v = gen(YEAR_QH, Y2026, 900, |t| load(&mut rng, t, 8_000, 20_000));
    gaps(&mut v, &[(10, 2), (8_000, 300), (33_000, 1)]);
    out.push(series(
        "gas-boiler",
        Carrier::NaturalGas,
        Unit::M3,
        None,
        Y2026,
        900,
        v,
    ));
    let v = gen(365 * 24, Y2026, 3600, |_| {
        if rng.below(10) == 0 {
            rng.below(50_000) as i64
        } else {
            0
        }
    });
    out.push(series(
        "diesel-gen",
        Carrier::Diesel,
        Unit::L,
        None,
        Y2026,
        3600,
        v,
    ));
    let mut v = gen(YEAR_QH, Y2026, 900, |t| load(&mut rng, t, 200, 700));
    gaps(&mut v, &[(17_000, 6)]);
    out.push(series(
        "coal-kiln",
        Carrier::Coal,
        Unit::T,
        None,
        Y2026,
        900,
        v,
    ));
    let v = gen(365 * 24, Y2026, 3600, |t| load(&mut rng, t, 50, 100));
    out.push(series(
        "wood-dryer",
        Carrier::Coal,
        Unit::T,
        Some("wood"),
        Y2026,
        3600,
        v,
    ));

    // Steam by mass (t ×1000 = kg) and by energy (GJ), heat in kWh.
    let mut v = gen(YEAR_QH, Y2026, 900, |t| load(&mut rng, t, 1_500, 3_000));
    gaps(&mut v, &[(2_222, 3), (22_222, 150)]);
    out.push(series(
        "steam-t",
        Carrier::Steam,
        Unit::T,
        None,
        Y2026,
        900,
        v,
    ));
    let v = gen(YEAR_QH, Y2026, 900, |t| load(&mut rng, t, 900, 1_100));
    out.push(series(
        "steam-gj",
        Carrier::Steam,
        Unit::GJ,
        None,
        Y2026,
        900,
        v,
    ));
    let mut v = gen(YEAR_QH, Y2026, 900, |t| load(&mut rng, t, 50_000, 80_000));
    gaps(&mut v, &[(0, 200)]);
    out.push(series(
        "heat-loop",
        Carrier::Heat,
        Unit::KWh,
        None,
        Y2026,
        900,
        v,
    ));
    out
}

/// Hourly factors for the year (and a little beyond), with a day shape and a season, some
/// hours NaN (undefined) and a week absent from the table altogether.
fn factor_table() -> TableFactors {
    let mut rng = Rng(99);
    let start = Y2026 - 4 * DAY;
    let hours = (365 + 8) * 24;
    let g: Vec<f64> = (0..hours)
        .map(|i| {
            let t = start + i as i64 * 3600;
            let h = local_hour(t);
            let season = 1.0 + 0.15 * ((i as f64 / hours as f64) * std::f64::consts::TAU).cos();
            let solar = if (10.0..15.0).contains(&h) { 0.75 } else { 1.0 };
            let noise = rng.below(10_000) as f64 / 10_000.0 * 40.0;
            let x = (520.0 * season * solar + noise) * 10_000.0;
            x.round() / 10_000.0
        })
        .collect();
    let mut t = TableFactors::regular("golden-grid@v1", start, 3600, &g);
    for i in [200, 201, 5_000, 7_777] {
        t.rows[i].g_per_kwh = f64::NAN;
    }
    // Days 120..127 of the year missing from the table.
    let (a, b) = ((4 + 120) * 24, (4 + 127) * 24);
    t.rows.drain(a..b);
    t
}

/// A factor lookup that is not a table: half-hourly intervals, 30-minute factor from a
/// formula, with nothing at all in one month.
struct HalfHourly;

impl FactorLookup for HalfHourly {
    fn series_id(&self) -> &str {
        "half-hourly-formula"
    }
    fn factor_at(&self, t: i64) -> Option<FactorInterval> {
        let start = t.div_euclid(1800) * 1800;
        if (Y2026 + 200 * DAY..Y2026 + 230 * DAY).contains(&t) {
            return None;
        }
        let k = start / 1800;
        Some(FactorInterval {
            start,
            end: start + 1800,
            g_per_kwh: 400.0 + (k % 48) as f64 * 3.25 + (k % 7) as f64 * 0.125,
        })
    }
}

fn certificates() -> Vec<Certificate> {
    vec![
        Certificate {
            id: "GEC-2026-A".to_owned(),
            mwh: 500,
            generation_start: Y2026,
            generation_end: Y2026 + 90 * DAY,
            valid_from: Y2026,
            valid_until: Y2026 + 365 * DAY,
        },
        Certificate {
            id: "GEC-2025-B".to_owned(),
            mwh: 120,
            generation_start: Y2026 - 200 * DAY,
            generation_end: Y2026 + 20 * DAY,
            valid_from: Y2026 - 10 * DAY,
            valid_until: Y2026 + 100 * DAY,
        },
        Certificate {
            id: "GEC-huge".to_owned(),
            mwh: 900_000,
            generation_start: Y2026 + 300 * DAY,
            generation_end: Y2026 + 310 * DAY,
            valid_from: Y2026 + 300 * DAY,
            valid_until: Y2026 + 400 * DAY,
        },
    ]
}

fn purchases() -> Vec<GreenPurchase> {
    let mut p: Vec<GreenPurchase> = (0..12)
        .map(|m| GreenPurchase {
            id: format!("PPA-2026-{:02}", m + 1),
            start: Y2026 + m * 30 * DAY,
            end: Y2026 + (m + 1) * 30 * DAY,
            wh: 40_000_000 + m * 1_234_567,
        })
        .collect();
    // An hourly delivery on one day, and one straddling the period end.
    for h in 0..24 {
        p.push(GreenPurchase {
            id: format!("spot-{h:02}"),
            start: Y2026 + 50 * DAY + h * 3600,
            end: Y2026 + 50 * DAY + (h + 1) * 3600,
            wh: 900_000 + h * 10_000,
        });
    }
    p.push(GreenPurchase {
        id: "PPA-straddle".to_owned(),
        start: Y2026 + 360 * DAY,
        end: Y2026 + 370 * DAY,
        wh: 77_000_000,
    });
    p
}

fn fixed(v: f64) -> NamedFactor {
    NamedFactor {
        value: v,
        source: "golden fixed factor".to_owned(),
    }
}

struct Case {
    name: &'static str,
    inputs: Inputs,
    lookup: Box<dyn FactorLookup>,
    options: Options,
}

fn cases() -> Vec<Case> {
    let year = Y2026 + 365 * DAY;
    let factory = factory_series(7);
    let base = Inputs {
        enterprise: "golden-factory".to_owned(),
        period_start: Y2026,
        period_end: year,
        series: factory.clone(),
        certificates: certificates(),
        purchases: purchases(),
        output: Some(Output {
            quantity_milli: 12_500_000,
            unit: "t".to_owned(),
        }),
    };
    let steam = HeatFactors {
        steam_enthalpy_kj_per_kg: Some(2777.1),
        ..HeatFactors::default()
    };
    let mut out = vec![
        Case {
            name: "year_annual_grid",
            inputs: base.clone(),
            lookup: Box::new(factor_table()),
            options: Options {
                fixed_factor: Some(fixed(561.7)),
                heat: steam.clone(),
                ..Options::default()
            },
        },
        Case {
            name: "year_hourly_residual_netted",
            inputs: base.clone(),
            lookup: Box::new(factor_table()),
            options: Options {
                fixed_factor: Some(fixed(480.0)),
                residual: Residual::Fixed(NamedFactor {
                    value: 583.5,
                    source: "residual mix".to_owned(),
                }),
                matching: Matching::Hourly,
                net_exports: true,
                utc_offset_s: 0,
                heat: steam,
                max_linear_gap: 2,
                ..Options::default()
            },
        },
        // A quarter inside the series, no fixed factor (missing factors not counted), steam by
        // mass without an enthalpy (not counted), a lookup that is not a table.
        Case {
            name: "quarter_no_fixed_half_hourly",
            inputs: Inputs {
                enterprise: "golden-quarter".to_owned(),
                period_start: Y2026 + 181 * DAY + 3 * 3600,
                period_end: Y2026 + 273 * DAY + 1800,
                output: None,
                ..base.clone()
            },
            lookup: Box::new(HalfHourly),
            options: Options {
                matching: Matching::Hourly,
                ..Options::default()
            },
        },
        // Spring (the table's missing week inside), season named by the comparison.
        Case {
            name: "spring_seasonal_table",
            inputs: Inputs {
                enterprise: "golden-spring".to_owned(),
                period_start: Y2026 + 100 * DAY,
                period_end: Y2026 + 160 * DAY,
                certificates: Vec::new(),
                ..base.clone()
            },
            lookup: Box::new(factor_table()),
            options: Options {
                fixed_factor: Some(fixed(700.0)),
                residual: Residual::Fixed(NamedFactor {
                    value: 600.0,
                    source: "named".to_owned(),
                }),
                utc_offset_s: -5 * 3600,
                max_linear_gap: 8,
                ..Options::default()
            },
        },
    ];
    // Another enterprise: electricity only, no gaps at all, the same table.
    let mut rng = Rng(31);
    let plain: Vec<IntervalSeries> = (0..3)
        .map(|k| {
            series(
                &format!("imp-{k}"),
                Carrier::ElectricityImport,
                Unit::KWh,
                None,
                Y2026,
                900,
                gen(YEAR_QH, Y2026, 900, |t| {
                    load(&mut rng, t, 5_000 * (k + 1), 9_000)
                }),
            )
        })
        .collect();
    out.push(Case {
        name: "year_plain_electricity",
        inputs: Inputs {
            enterprise: "golden-plain".to_owned(),
            period_start: Y2026,
            period_end: year,
            series: plain,
            certificates: Vec::new(),
            purchases: Vec::new(),
            output: None,
        },
        lookup: Box::new(factor_table()),
        options: Options {
            fixed_factor: Some(fixed(500.0)),
            ..Options::default()
        },
    });
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with the committed file (or writes it under `UPDATE_GOLDEN=1`).
fn check(file: &str, actual: &str) {
    let path = golden_dir().join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{file} differs from the golden file at line {}:\n expected: {}\n actual:   {}",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>")
        );
    }
}

#[test]
fn reports_and_intervals_match_the_golden_files() {
    for case in cases() {
        let report = compute(&case.inputs, case.lookup.as_ref(), &case.options)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let (detailed, intervals) =
            compute_with_intervals(&case.inputs, case.lookup.as_ref(), &case.options).unwrap();
        assert_eq!(report, detailed, "{}: both entry points agree", case.name);
        assert!(
            !report.issues.is_empty() || case.name == "year_plain_electricity",
            "{}: the case exercises data issues",
            case.name
        );
        check(
            &format!("{}.report.json", case.name),
            &(serde_json::to_string_pretty(&report).unwrap() + "\n"),
        );
        let all = serde_json::to_string(&intervals).unwrap();
        let sampled: Vec<&IntervalEmission> = intervals.iter().step_by(997).collect();
        let summary = serde_json::json!({
            "count": intervals.len(),
            "fnv1a": format!("{:016x}", fnv1a(all.as_bytes())),
            "sum_g": intervals.iter().map(|i| i.g).sum::<f64>(),
            "sum_wh": intervals.iter().map(|i| i.wh).sum::<i64>(),
            "every_997th": sampled,
        });
        check(
            &format!("{}.intervals.json", case.name),
            &(serde_json::to_string_pretty(&summary).unwrap() + "\n"),
        );
    }
}
