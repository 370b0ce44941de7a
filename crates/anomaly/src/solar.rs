//! The sun's elevation, for "PV producing at night".

use std::f64::consts::PI;

use tanji_units::time::{day_of_year, DAY_S};

/// The sun's elevation above the horizon, degrees, at Unix time `t` (UTC) seen from
/// `latitude_deg` N / `longitude_deg` E.
///
/// Declination and equation of time from J. W. Spencer (1971), "Fourier series
/// representation of the position of the sun", Search 2(5) (as given in M. Iqbal, An
/// Introduction to Solar Radiation, 1983): a few minutes' accuracy in sunrise time, enough for
/// 15-minute meters. No refraction correction (it only moves sunrise by ~2 minutes, and the
/// detector adds its own margin).
pub fn elevation_deg(t: i64, latitude_deg: f64, longitude_deg: f64) -> f64 {
    let day = t.div_euclid(DAY_S);
    let second = t.rem_euclid(DAY_S);
    let doy = day_of_year(day);
    let g = 2.0 * PI * (f64::from(doy) - 1.0) / 365.0;
    let declination = 0.006918 - 0.399912 * g.cos() + 0.070257 * g.sin()
        - 0.006758 * (2.0 * g).cos()
        + 0.000907 * (2.0 * g).sin()
        - 0.002697 * (3.0 * g).cos()
        + 0.00148 * (3.0 * g).sin();
    let equation_of_time_min = 229.18
        * (0.000075 + 0.001868 * g.cos()
            - 0.032077 * g.sin()
            - 0.014615 * (2.0 * g).cos()
            - 0.040849 * (2.0 * g).sin());
    // Minutes of true solar time: UTC minutes + 4 min per degree east + equation of time.
    let utc_minute = second as f64 / 60.0;
    let solar_minute = utc_minute + 4.0 * longitude_deg + equation_of_time_min;
    let hour_angle = (solar_minute / 4.0 - 180.0).to_radians();
    let lat = latitude_deg.to_radians();
    let sin_elevation =
        lat.sin() * declination.sin() + lat.cos() * declination.cos() * hour_angle.cos();
    sin_elevation.clamp(-1.0, 1.0).asin().to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzhou_noon_and_midnight() {
        // 2026-06-21 04:00 UTC = 12:00 Beijing time: the sun is high over Fuzhou (≈ 87°).
        let noon = 20_625 * 86_400 + 4 * 3600;
        let e = elevation_deg(noon, 26.08, 119.30);
        assert!(e > 80.0 && e < 90.0, "{e}");
        // 16:00 UTC = midnight local: far below the horizon (≈ −40°).
        let midnight = 20_625 * 86_400 + 16 * 3600;
        let e = elevation_deg(midnight, 26.08, 119.30);
        assert!(e < -35.0, "{e}");
    }
}
