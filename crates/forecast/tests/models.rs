//! The models on series with known structure: the baselines do exactly what they say, and the
//! ridge model learns a weekly pattern with a moving level that the naive models cannot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_forecast::{backtest, forecast, spread, Day, ForecastError, Model};

fn day(weekday: u8, values: Vec<f64>) -> Day {
    Day {
        weekday,
        values,
        weather: Vec::new(),
    }
}

#[test]
fn baselines_repeat_yesterday_last_week_and_the_weekly_mean() {
    let days: Vec<Day> = (0..8)
        .map(|d| day((d % 7) as u8, vec![d as f64, 10.0 * d as f64]))
        .collect();
    let next = day(1, vec![]);
    assert_eq!(
        forecast(Model::NaiveDay, &days, &next).unwrap(),
        vec![7.0, 70.0]
    );
    assert_eq!(
        forecast(Model::NaiveWeek, &days, &next).unwrap(),
        vec![1.0, 10.0]
    );
    assert_eq!(
        forecast(Model::MeanWeek, &days, &next).unwrap(),
        vec![4.0, 40.0]
    );
    assert_eq!(
        forecast(Model::RIDGE, &days, &next).unwrap_err(),
        ForecastError::TooShort {
            model: "ridge (calendar + recent values)",
            need: 21,
            got: 8
        }
    );
}

/// A factory: weekdays at a profile, Saturdays at 60%, Sundays at 20%, a slowly drifting
/// level, and deterministic noise.
fn factory(n: usize) -> Vec<Day> {
    let mut state = 12345u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.1
    };
    (0..n)
        .map(|d| {
            let wd = (d % 7) as u8;
            let scale = match wd {
                5 => 0.6,
                6 => 0.2,
                _ => 1.0,
            };
            let level = 100.0 + 20.0 * (d as f64 / 30.0).sin();
            let values = (0..24)
                .map(|h| {
                    let shape = if (8..18).contains(&h) { 1.0 } else { 0.3 };
                    level * (0.2 + scale * shape) * (1.0 + noise())
                })
                .collect();
            day(wd, values)
        })
        .collect()
}

#[test]
fn ridge_beats_both_naive_models_on_a_weekly_factory() {
    let days = factory(200);
    let held = spread(60, 200, 40);
    let scores = backtest(&Model::ALL, &days, &held).unwrap();
    let mae = |name: &str| {
        scores
            .iter()
            .find(|s| s.model.starts_with(name))
            .unwrap()
            .mae
    };
    let ridge = mae("ridge");
    assert!(scores.iter().all(|s| s.days == 40));
    assert!(
        ridge < 0.8 * mae("seasonal-naive (yesterday)"),
        "{scores:?}"
    );
    assert!(ridge < mae("seasonal-naive (last week)"), "{scores:?}");
    assert!(ridge < mae("7-day slot mean"), "{scores:?}");
}

#[test]
fn the_backtest_never_sees_the_day_it_forecasts() {
    // A series whose held-out day is wildly different: no model can know it, so every error
    // is at least the jump.
    let mut days = factory(60);
    for v in &mut days[50].values {
        *v += 1000.0;
    }
    let scores = backtest(&Model::ALL, &days, &[50]).unwrap();
    for s in scores {
        assert!(s.mae > 900.0, "{s:?}");
    }
}

#[test]
fn weather_features_are_used_when_every_day_has_them() {
    // PV-like: each day's output is proportional to a known clear-sky index.
    let days: Vec<Day> = (0..80)
        .map(|d| {
            let index = 0.2 + 0.8 * (((d * 37) % 11) as f64 / 10.0);
            Day {
                weekday: (d % 7) as u8,
                values: (0..24)
                    .map(|h| {
                        if (7..17).contains(&h) {
                            50.0 * index
                        } else {
                            0.0
                        }
                    })
                    .collect(),
                weather: vec![index],
            }
        })
        .collect();
    let scores = backtest(&[Model::NaiveDay, Model::RIDGE], &days, &spread(30, 80, 30)).unwrap();
    assert!(scores[1].mae < 0.1 * scores[0].mae, "{scores:?}");
}
