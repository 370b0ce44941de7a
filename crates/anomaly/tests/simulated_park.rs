//! The detectors on the synthetic park (`tanji-simulator`): the clean simulation raises few
//! alerts, and faults injected into it are found with the right spans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use tanji_anomaly::{detect, Alert, AlertKind, MeterData, Settings};
use tanji_simulator::{MeterRole, Park, ParkSpec, INTERVAL_S};

/// 2025-03-03 00:00 UTC, a Monday; 28 days of March have no simulated holiday.
const START: i64 = 20_150 * 86_400;
const DAYS: u32 = 28;

/// One simulated meter over the whole period: its values and its interval cap.
struct Series {
    meter: String,
    role: MeterRole,
    cap: i64,
    values: Vec<Option<i64>>,
}

fn park_series(park: &Park) -> Vec<Series> {
    let mut out = Vec::new();
    for (e, device) in park.devices.iter().enumerate() {
        let days: Vec<_> = (0..DAYS).map(|d| park.day_values(e, d).unwrap()).collect();
        for (k, m) in device.meters.iter().enumerate() {
            out.push(Series {
                meter: m.meter.clone(),
                role: m.role,
                cap: m.interval_cap(),
                values: days
                    .iter()
                    .flat_map(|d| d.meters[k].iter().map(|&x| Some(x)))
                    .collect(),
            });
        }
    }
    out
}

fn run(s: &Series, values: &[Option<i64>]) -> Vec<Alert> {
    let data = MeterData {
        meter: &s.meter,
        carrier: s.role.carrier(),
        start: START,
        interval_s: INTERVAL_S,
        values,
        rated_per_interval: Some(s.cap),
        idle: None,
        breaks: &[],
    };
    detect(&data, &Settings::default()).unwrap()
}

fn park() -> Park {
    Park::generate(ParkSpec {
        seed: 2025,
        enterprises: 20,
        start_day: START,
        days: DAYS,
    })
}

#[test]
fn clean_simulation_raises_few_alerts() {
    let park = park();
    let series = park_series(&park);
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut flagged_intervals = 0usize;
    let mut intervals = 0usize;
    for s in &series {
        let alerts = run(s, &s.values);
        intervals += s.values.len();
        for a in &alerts {
            *by_kind.entry(a.kind.code()).or_default() += 1;
            flagged_intervals +=
                usize::try_from((a.end - a.start) / i64::from(INTERVAL_S)).unwrap();
            eprintln!(
                "{} {} [{}, {}): {}",
                a.meter,
                a.kind.code(),
                a.start,
                a.end,
                a.evidence.reason
            );
        }
    }
    let meter_days = series.len() * DAYS as usize;
    let total: usize = by_kind.values().sum();
    eprintln!(
        "clean park: {} meters × {DAYS} days = {meter_days} meter-days, {intervals} intervals; {total} alerts {by_kind:?}; {:.3} alerts per meter-day; {:.4}% of intervals flagged",
        series.len(),
        total as f64 / meter_days as f64,
        100.0 * flagged_intervals as f64 / intervals as f64
    );
    assert!(series.len() >= 40, "{} meters", series.len());
    // At most one alert per 100 meter-days on clean data (measured: none).
    assert!(total * 100 <= meter_days, "{total} alerts on clean data");
}

const DAY: usize = 96;

fn span(i: usize, n: usize) -> (i64, i64) {
    let at = |i: usize| START + i as i64 * i64::from(INTERVAL_S);
    (at(i), at(i + n))
}

fn kinds_and_spans(alerts: &[Alert]) -> Vec<(AlertKind, (i64, i64))> {
    alerts.iter().map(|a| (a.kind, (a.start, a.end))).collect()
}

#[test]
fn faults_injected_into_the_simulation_are_found() {
    let park = park();
    let series = park_series(&park);
    let mut checked_grid = 0;
    let mut shift_errors = Vec::new();
    for s in series.iter().filter(|s| s.role == MeterRole::GridImport) {
        let mut v = s.values.clone();
        // Day 3, 10:00 local (02:00 UTC): the register sticks for 3 h.
        let flat = 3 * DAY + 8;
        let stuck = v[flat];
        for x in &mut v[flat..flat + 12] {
            *x = stuck;
        }
        // Day 8, 02:00 local (18:00 UTC): one quarter-hour reads three times what it should,
        // or 60% of the meter's rating more, whichever is more.
        let spike = 8 * DAY + 72;
        v[spike] = v[spike].map(|x| (3 * x).max(x + s.cap * 6 / 10));
        // Day 11: 8 quarter-hours never uploaded.
        let gap = 11 * DAY + 30;
        for x in &mut v[gap..gap + 8] {
            *x = None;
        }
        // From day 17, 18:00 local: the CT ratio is set wrong and the meter reads a quarter.
        let shift = 17 * DAY + 40;
        for x in &mut v[shift..] {
            *x = x.map(|x| x / 4);
        }
        let mut got = kinds_and_spans(&run(s, &v));
        // The level shift's boundary is located to within 2 h (its error is reported);
        // everything else exactly.
        let level = got.pop().unwrap();
        assert_eq!(level.0, AlertKind::LevelShift, "{}: {got:?}", s.meter);
        let error_s = level.1 .0 - span(shift, 0).0;
        assert!(
            error_s.abs() <= 7_200,
            "{}: level shift placed {error_s} s off",
            s.meter
        );
        assert_eq!(level.1 .1 - level.1 .0, 7 * 86_400);
        shift_errors.push(error_s);
        let want = vec![
            (AlertKind::FlatLine, span(flat, 12)),
            (AlertKind::Spike, span(spike, 1)),
            (AlertKind::MissingData, span(gap, 8)),
        ];
        assert_eq!(got, want, "{}", s.meter);
        checked_grid += 1;
    }
    assert_eq!(checked_grid, 20);
    let exact = shift_errors.iter().filter(|&&e| e == 0).count();
    eprintln!(
        "level shift located exactly on {exact} of {checked_grid} grid meters; errors (s): {shift_errors:?}"
    );

    let mut checked_pv = 0;
    for s in series.iter().filter(|s| s.role == MeterRole::PvGeneration) {
        let mut v = s.values.clone();
        // Day 5, 22:00–22:30 local (14:00 UTC): 5% of the rating in the dark.
        let night = 5 * DAY + 56;
        v[night] = Some(s.cap / 20);
        v[night + 1] = Some(s.cap / 20);
        let got = kinds_and_spans(&run(s, &v));
        assert_eq!(
            got,
            vec![(AlertKind::PvAtNight, span(night, 2))],
            "{}",
            s.meter
        );
        checked_pv += 1;
    }
    assert!(checked_pv >= 8, "{checked_pv} PV meters");
}
