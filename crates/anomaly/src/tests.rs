#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// 2026-03-02 00:00 UTC (a Monday; 08:00 Beijing time).
const T0: i64 = 20_514 * 86_400;
const Q: u32 = 900;
const DAY: usize = 96;

/// A deterministic noise in [-1, 1) (64-bit LCG), so tests need no RNG crate.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
}

/// A clean consumption meter: 400 kWh per quarter-hour base, a smooth daily swing of
/// ±150 kWh peaking at 14:00 local, ±3% noise; values in Wh.
fn clean_load(days: usize) -> Vec<Option<i64>> {
    let mut noise = Noise(42);
    (0..days * DAY)
        .map(|i| {
            let local_h = ((i % DAY) as f64 * 0.25 + 8.0) % 24.0;
            let shape = 400.0 + 150.0 * ((local_h - 14.0) / 24.0 * std::f64::consts::TAU).cos();
            Some((shape * (1.0 + 0.03 * noise.next()) * 1000.0).round() as i64)
        })
        .collect()
}

/// A clean PV meter: 250 kWh per quarter-hour × sin(elevation) in Fuzhou, ±5% noise, 0 at
/// night.
fn clean_pv(days: usize) -> Vec<Option<i64>> {
    let mut noise = Noise(7);
    (0..days * DAY)
        .map(|i| {
            let t = T0 + i as i64 * 900 + 450;
            let e = elevation_deg(t, 26.08, 119.30);
            if e <= 0.0 {
                Some(0)
            } else {
                let x = 250.0 * e.to_radians().sin() * (1.0 + 0.05 * noise.next());
                Some((x * 1000.0).round() as i64)
            }
        })
        .collect()
}

fn meter<'a>(carrier: Carrier, values: &'a [Option<i64>]) -> MeterData<'a> {
    MeterData {
        meter: "m-0001-grid",
        carrier,
        start: T0,
        interval_s: Q,
        values,
        rated_per_interval: None,
        idle: None,
        breaks: &[],
    }
}

fn run(data: &MeterData<'_>) -> Vec<Alert> {
    detect(data, &Settings::default()).unwrap()
}

fn at(i: usize) -> i64 {
    T0 + i as i64 * 900
}

#[test]
fn median_and_mad() {
    assert_eq!(median(&mut []), None);
    assert_eq!(median(&mut [5, 1, 3]), Some(3));
    assert_eq!(median(&mut [4, 1, 3, 10]), Some(3)); // (3 + 4) / 2 rounded down
    assert_eq!(median(&mut [-4, -3]), Some(-4)); // −3.5 rounded down
                                                 // 1 2 3 4 100: median 3, deviations 2 1 0 1 97 → MAD 1.
    assert_eq!(median_mad(&mut [100, 1, 2, 3, 4]), Some((3, 1)));
}

#[test]
fn clean_series_raise_no_alert() {
    let load = clean_load(21);
    assert_eq!(run(&meter(Carrier::ElectricityImport, &load)), vec![]);
    let pv = clean_pv(21);
    let mut data = meter(Carrier::PvGeneration, &pv);
    data.rated_per_interval = Some(300_000);
    assert_eq!(run(&data), vec![]);
}

#[test]
fn missing_run_of_six_is_one_alert_and_three_is_none() {
    let mut v = clean_load(3);
    for x in &mut v[100..106] {
        *x = None;
    }
    for x in &mut v[200..203] {
        *x = None;
    }
    let alerts = run(&meter(Carrier::ElectricityImport, &v));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.kind, AlertKind::MissingData);
    assert_eq!((a.start, a.end), (at(100), at(106)));
    assert_eq!(a.evidence.values, vec![None; 6]);
    assert!(a
        .evidence
        .reason
        .starts_with("6 consecutive intervals (1.50 h)"));
}

#[test]
fn flat_line_of_ten_is_found_and_seven_is_not() {
    let mut v = clean_load(3);
    for x in &mut v[50..60] {
        *x = Some(412_345);
    }
    for x in &mut v[150..157] {
        *x = Some(412_345);
    }
    let alerts = run(&meter(Carrier::ElectricityImport, &v));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.kind, AlertKind::FlatLine);
    assert_eq!((a.start, a.end), (at(50), at(60)));
    assert_eq!(a.evidence.observed, Some(412_345));
    assert_eq!(a.evidence.values, vec![Some(412_345); 10]);
    // Zero runs (a PV meter at night) and batch fuels are not flat lines.
    let zeros = vec![Some(0); 40];
    assert_eq!(run(&meter(Carrier::PvGeneration, &zeros)), vec![]);
    let diesel = vec![Some(5_000); 40];
    assert_eq!(run(&meter(Carrier::Diesel, &diesel)), vec![]);
}

#[test]
fn spike_is_found_with_its_statistics() {
    let mut v = clean_load(3);
    let i = 130;
    v[i] = Some(2_000_000); // 2 MWh in a quarter-hour against ~400–550 kWh around it.
    let alerts = run(&meter(Carrier::ElectricityImport, &v));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.kind, AlertKind::Spike);
    assert_eq!((a.start, a.end), (at(i), at(i + 1)));
    assert_eq!(a.evidence.observed, Some(2_000_000));
    // The baseline is the median of the 16 neighbours; recompute it independently.
    let mut window: Vec<i64> = (i - 8..=i + 8)
        .filter(|&j| j != i)
        .map(|j| v[j].unwrap())
        .collect();
    window.sort_unstable();
    let m = (window[7] + window[8]).div_euclid(2);
    assert_eq!(a.evidence.baseline, Some(m));
    assert_eq!(a.evidence.threshold, Some(2 * m)); // the "double the median" bound governs
                                                   // A diesel burst from zero is normal use, not a spike.
    let mut diesel = vec![Some(0); DAY];
    diesel[40] = Some(30_000);
    diesel[41] = Some(30_000);
    assert_eq!(run(&meter(Carrier::Diesel, &diesel)), vec![]);
}

#[test]
fn level_shift_is_found_at_the_boundary() {
    let mut v = clean_load(21);
    let b = 10 * DAY + 37; // mid-morning of day 10: a CT ratio halved, say
    for x in &mut v[b..] {
        *x = x.map(|x| x / 2);
    }
    let alerts = run(&meter(Carrier::ElectricityImport, &v));
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.kind, AlertKind::LevelShift);
    assert_eq!((a.start, a.end), (at(b), at(b + 7 * DAY)));
    let (m0, m1) = (a.evidence.baseline.unwrap(), a.evidence.observed.unwrap());
    assert!((390_000..410_000).contains(&m0), "{m0}");
    assert!((195_000..205_000).contains(&m1), "{m1}");
    // A series shorter than two windows is not checked.
    assert_eq!(
        run(&meter(Carrier::ElectricityImport, &v[..13 * DAY])),
        vec![]
    );
}

#[test]
fn pv_at_night_is_found_in_the_dark_only() {
    let mut v = clean_pv(3);
    // 15:00 UTC = 23:00 Beijing time on day 1.
    let i = DAY + 60;
    v[i] = Some(40_000);
    v[i + 1] = Some(38_000);
    // A small inverter standby reading below the floor (2% of 300 kWh = 6 kWh) is ignored.
    v[i + 10] = Some(500);
    let mut data = meter(Carrier::PvGeneration, &v);
    data.rated_per_interval = Some(300_000);
    let alerts = run(&data);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.kind, AlertKind::PvAtNight);
    assert_eq!((a.start, a.end), (at(i), at(i + 2)));
    assert_eq!(a.evidence.observed, Some(40_000));
    assert_eq!(a.evidence.threshold, Some(6_000));
}

#[test]
fn idle_consumption_in_scheduled_hours() {
    // A line idle 22:00–06:00 local at 20 kWh standby, 400 kWh otherwise.
    let mut v: Vec<Option<i64>> = (0..2 * DAY)
        .map(|i| {
            let local_h = ((i % DAY) / 4 + 8) % 24;
            Some(if !(6..22).contains(&local_h) {
                20_000
            } else {
                400_000
            })
        })
        .collect();
    // 02:00–02:45 local on day 1 = 18:00 UTC: the line ran.
    let i = DAY + 72;
    for x in &mut v[i..i + 3] {
        *x = Some(350_000);
    }
    let mut data = meter(Carrier::ElectricityImport, &v);
    data.idle = Some(IdleSchedule::between(22, 6, 50_000));
    let alerts: Vec<Alert> = run(&data)
        .into_iter()
        .filter(|a| a.kind == AlertKind::IdleConsumption)
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!((alerts[0].start, alerts[0].end), (at(i), at(i + 3)));
    assert_eq!(alerts[0].evidence.observed, Some(350_000));
    // An hourly meter whose interval straddles the end of the idle hours is not idle.
    assert_eq!(IdleSchedule::between(22, 6, 0).hours_mask, 0x00C0_003F);
}

#[test]
fn bad_input_is_an_error() {
    let v = vec![Some(1)];
    let mut data = meter(Carrier::ElectricityImport, &v);
    data.interval_s = 0;
    assert_eq!(
        detect(&data, &Settings::default()),
        Err(Error::ZeroInterval {
            meter: "m-0001-grid".into()
        })
    );
    data.interval_s = 900;
    data.idle = Some(IdleSchedule {
        hours_mask: 1 << 24,
        floor: 0,
    });
    assert!(matches!(
        detect(&data, &Settings::default()),
        Err(Error::BadIdleHours { .. })
    ));
}

#[test]
fn alerts_serialize_with_snake_case_kinds() {
    let mut v = clean_load(1);
    v[10] = None;
    v[11] = None;
    v[12] = None;
    v[13] = None;
    let alerts = run(&meter(Carrier::ElectricityImport, &v));
    let json = serde_json::to_value(&alerts).unwrap();
    assert_eq!(json[0]["kind"], "missing_data");
    assert_eq!(json[0]["start"], at(10));
    assert_eq!(json[0]["end"], at(14));
}

#[test]
fn a_closure_is_a_level_shift_unless_given_as_a_break() {
    // A factory closed for 6 days (days 9–14 of 24) runs at a tenth of its load.
    let mut v = clean_load(24);
    for x in &mut v[9 * DAY..15 * DAY] {
        *x = x.map(|x| x / 10);
    }
    let alerts = run(&meter(Carrier::ElectricityImport, &v));
    assert!(!alerts.is_empty());
    assert!(
        alerts.iter().all(|a| a.kind == AlertKind::LevelShift),
        "{alerts:#?}"
    );
    let breaks = [(at(9 * DAY), at(15 * DAY))];
    let mut data = meter(Carrier::ElectricityImport, &v);
    data.breaks = &breaks;
    assert_eq!(run(&data), vec![]);
}

/// Random series for the fast/naive comparison: `n` values drawn from a few regimes (a small
/// set with many ties, a wide range, negatives, values near the i64 limits) with a share of
/// `None`s and a level change part-way.
fn random_series(seed: u64, n: usize) -> Vec<Option<i64>> {
    let mut noise = Noise(seed);
    let mut u = move || (noise.next() + 1.0) / 2.0; // [0, 1)
    let regime = (u() * 4.0) as u32;
    let missing = u() * 0.6;
    let change_at = (u() * n as f64) as usize;
    let factor = [1, 2, 4, 10][(u() * 4.0) as usize];
    (0..n)
        .map(|i| {
            if u() < missing {
                return None;
            }
            let scale = if i >= change_at { factor } else { 1 };
            Some(match regime {
                0 => (u() * 5.0) as i64 * scale,
                1 => ((u() * 2_000_000.0) as i64 - 1_000_000) * scale,
                2 => ((u() * 1000.0) as i64 + 300) * scale,
                _ => {
                    if u() < 0.5 {
                        i64::MAX - (u() * 10.0) as i64
                    } else {
                        i64::MIN + (u() * 10.0) as i64
                    }
                }
            })
        })
        .collect()
}

#[test]
fn fast_shift_candidates_equal_the_straightforward_ones() {
    for seed in 0..300u64 {
        let n = 40 + (seed as usize * 7) % 160;
        let v = random_series(seed, n);
        for w in [1usize, 2, 3, 8, 17] {
            for (k, p) in [(1, 300), (0, 0), (3, 100), (-1, -50)] {
                let s = Settings {
                    level_k_mad: k,
                    level_min_change_permille: p,
                    ..Settings::default()
                };
                if v.len() < 2 * w {
                    continue;
                }
                assert_eq!(
                    shift_candidates(&v, w, &s),
                    shift_candidates_naive(&v, w, &s),
                    "seed {seed}, n {n}, w {w}, k {k}, p {p}"
                );
            }
        }
    }
}

#[test]
fn fast_detection_equals_the_straightforward_one_on_the_simulated_park() {
    use tanji_simulator::{Park, ParkSpec, INTERVAL_S};
    // 2025-03-03, a Monday; five weeks of four enterprises, with the grid and gas meters'
    // level quartered from day 17 and a flat line, so shifts are found and located.
    let start = 20_150 * 86_400;
    let days = 35u32;
    let park = Park::generate(ParkSpec {
        seed: 2025,
        enterprises: 4,
        start_day: start,
        days,
    });
    let mut alerts = 0;
    for (e, device) in park.devices.iter().enumerate() {
        let day_values: Vec<_> = (0..days).map(|d| park.day_values(e, d).unwrap()).collect();
        for (k, m) in device.meters.iter().enumerate() {
            let mut values: Vec<Option<i64>> = day_values
                .iter()
                .flat_map(|d| d.meters[k].iter().map(|&x| Some(x)))
                .collect();
            if matches!(
                m.role.carrier(),
                Carrier::ElectricityImport | Carrier::NaturalGas
            ) {
                for x in values[17 * DAY + 30..].iter_mut().flatten() {
                    *x /= 4;
                }
                let stuck = values[5 * DAY + 40];
                values[5 * DAY + 40..5 * DAY + 60].fill(stuck);
            }
            let data = MeterData {
                meter: &m.meter,
                carrier: m.role.carrier(),
                start,
                interval_s: INTERVAL_S,
                values: &values,
                rated_per_interval: Some(m.interval_cap()),
                idle: None,
                breaks: &[],
            };
            let s = Settings::default();
            let fast = detect(&data, &s).unwrap();
            assert_eq!(
                fast,
                detect_with(&data, &s, spike_flags_naive, shift_candidates_naive).unwrap(),
                "{}",
                m.meter
            );
            alerts += fast.len();
        }
    }
    assert!(alerts >= 8, "{alerts} alerts");
}

#[test]
fn fast_spike_flags_equal_the_straightforward_ones() {
    for seed in 0..300u64 {
        let n = 10 + (seed as usize * 7) % 120;
        let mut v = random_series(seed, n);
        // A few spikes of varying height.
        for j in (3..n).step_by(11) {
            if let Some(x) = v[j].as_mut() {
                *x = x.saturating_mul(1 + (j as i64 % 5));
            }
        }
        for half in [1usize, 2, 4, 8] {
            for (k, ratio, floor) in [(8, 1000, 0), (0, 0, 0), (2, 200, 50), (-1, -100, 7)] {
                let s = Settings {
                    spike_k_mad: k,
                    spike_min_ratio_permille: ratio,
                    ..Settings::default()
                };
                assert_eq!(
                    spike_flags(&v, half, floor, &s),
                    spike_flags_naive(&v, half, floor, &s),
                    "seed {seed}, n {n}, half {half}, k {k}, ratio {ratio}, floor {floor}"
                );
            }
        }
    }
}
