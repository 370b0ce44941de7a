//! The per-slot ridge regression: features of day `d` at slot `s` are
//! `[1, y(d−1,s), y(d−7,s), mean₇(s), mean(d−1), Sat, Sun, Mon, weather…]`; fitted by the
//! normal equations on standardised features with penalty λ (the intercept unpenalised).

use nalgebra::{DMatrix, DVector};

use crate::Day;

/// The longest lag a row needs (a week).
pub(crate) const MIN_LAG: usize = 7;
/// Fewest training rows per slot.
pub(crate) const MIN_ROWS: usize = 14;

fn features(history: &[Day], d: usize, s: usize, day: &Day, weather: bool, out: &mut Vec<f64>) {
    out.clear();
    let y = |k: usize, s: usize| history[d - k].values[s];
    let prev = &history[d - 1].values;
    out.push(y(1, s));
    out.push(y(7, s));
    out.push((1..=7).map(|k| y(k, s)).sum::<f64>() / 7.0);
    out.push(prev.iter().sum::<f64>() / prev.len().max(1) as f64);
    out.push(f64::from(u8::from(day.weekday == 5)));
    out.push(f64::from(u8::from(day.weekday == 6)));
    out.push(f64::from(u8::from(day.weekday == 0)));
    if weather {
        out.extend_from_slice(&day.weather);
    }
}

/// Ridge forecast of the day after `history` (which has at least MIN_LAG + MIN_ROWS days).
pub(crate) fn forecast(history: &[Day], next: &Day, train_days: usize, lambda: f64) -> Vec<f64> {
    let h = history.len();
    let slots = history[h - 1].values.len();
    let weather = !next.weather.is_empty()
        && history
            .iter()
            .all(|d| d.weather.len() == next.weather.len());
    let first = h.saturating_sub(train_days.max(MIN_ROWS)).max(MIN_LAG);
    let rows: Vec<usize> = (first..h).collect();
    let nonneg = history.iter().all(|d| d.values.iter().all(|v| *v >= 0.0));
    let mut x = Vec::new();
    let mut out = Vec::with_capacity(slots);
    for s in 0..slots {
        // Design matrix for this slot.
        features(history, MIN_LAG, s, &history[MIN_LAG], weather, &mut x);
        let k = x.len();
        let mut a = DMatrix::<f64>::zeros(rows.len(), k);
        let mut b = DVector::<f64>::zeros(rows.len());
        for (r, &d) in rows.iter().enumerate() {
            features(history, d, s, &history[d], weather, &mut x);
            for (c, v) in x.iter().enumerate() {
                a[(r, c)] = *v;
            }
            b[r] = history[d].values[s];
        }
        // Standardise columns; constant columns get weight zero.
        let n = rows.len() as f64;
        let mean: Vec<f64> = (0..k).map(|c| a.column(c).sum() / n).collect();
        let sd: Vec<f64> = (0..k)
            .map(|c| {
                let m = mean[c];
                (a.column(c).iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt()
            })
            .collect();
        let ymean = b.sum() / n;
        for c in 0..k {
            for r in 0..rows.len() {
                a[(r, c)] = if sd[c] > 1e-12 {
                    (a[(r, c)] - mean[c]) / sd[c]
                } else {
                    0.0
                };
            }
        }
        let yc = b.map(|v| v - ymean);
        let mut g = a.transpose() * &a;
        for c in 0..k {
            g[(c, c)] += lambda;
        }
        let rhs = a.transpose() * yc;
        let w = g.cholesky().map(|ch| ch.solve(&rhs));
        features(history, h, s, next, weather, &mut x);
        let pred = match w {
            Some(w) => {
                ymean
                    + (0..k)
                        .map(|c| {
                            if sd[c] > 1e-12 {
                                (x[c] - mean[c]) / sd[c] * w[c]
                            } else {
                                0.0
                            }
                        })
                        .sum::<f64>()
            }
            // Singular only if λ = 0 and columns are collinear: fall back to the 7-day mean.
            None => x[2],
        };
        // A quantity that never went negative (load, PV, a factor) is not forecast negative.
        out.push(if nonneg { pred.max(0.0) } else { pred });
    }
    out
}
