//! The sun's elevation, for "PV producing at night".

use std::f64::consts::PI;

/// The sun's elevation above the horizon, degrees, at Unix time `t` (UTC) seen from
/// `latitude_deg` N / `longitude_deg` E.
///
/// Declination and equation of time from J. W. Spencer (1971), "Fourier series
/// representation of the position of the sun", Search 2(5) (as given in M. Iqbal, An
/// Introduction to Solar Radiation, 1983): a few minutes' accuracy in sunrise time, enough for
/// 15-minute meters. No refraction correction (it only moves sunrise by ~2 minutes, and the
/// detector adds its own margin).
pub fn elevation_deg(t: i64, latitude_deg: f64, longitude_deg: f64) -> f64 {
    let day = t.div_euclid(86_400);
    let second = t.rem_euclid(86_400);
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

/// Day of the year (1-based) of the UTC day `day` days after 1970-01-01.
fn day_of_year(day: i64) -> u32 {
    // Civil-from-days (H. Hinnant's algorithm), keeping only the year.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_march = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_march + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let jan1 = days_from_civil_jan1(year);
    u32::try_from(day - jan1 + 1).unwrap_or(1)
}

fn days_from_civil_jan1(year: i64) -> i64 {
    let y = year - 1; // January is in the previous March-based year.
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = 306; // 1 January, counted from 1 March.
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_of_year_known_dates() {
        assert_eq!(day_of_year(0), 1); // 1970-01-01
        assert_eq!(day_of_year(31), 32); // 1970-02-01
        assert_eq!(day_of_year(20_454), 1); // 2026-01-01
        assert_eq!(day_of_year(20_454 + 364), 365); // 2026-12-31
        assert_eq!(day_of_year(19_723 + 365), 366); // 2024-12-31 (leap year)
    }

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
