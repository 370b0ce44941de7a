//! The sun over the park and the park's weather: solar elevation, clear-sky irradiance and a
//! day-by-day cloud model.

use std::f64::consts::PI;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::seed::{normal, stream};
use tanji_units::time::civil_from_days;

/// Latitude of the synthetic park, degrees north (Fuzhou, Fujian, is at about 26.1°N).
pub const LATITUDE_DEG: f64 = 26.0;
/// Longitude of the synthetic park, degrees east (Fuzhou is at about 119.3°E).
pub const LONGITUDE_DEG: f64 = 119.3;
/// Meridian of the UTC+8 clock, degrees east.
const CLOCK_MERIDIAN_DEG: f64 = 120.0;

/// Cosine of the solar zenith angle at the park on day-of-year `doy` (1-based) at `minute`
/// minutes after local clock midnight. Negative when the sun is below the horizon.
///
/// Declination and equation of time: J. W. Spencer (1971), "Fourier series representation of
/// the position of the sun", Search 2(5), as given in M. Iqbal, An Introduction to Solar
/// Radiation (1983). Accurate to a few minutes of sunrise time, which is all a 15-minute
/// meter needs.
pub fn cos_zenith(doy: u32, minute: f64) -> f64 {
    let g = 2.0 * PI * (f64::from(doy) - 1.0) / 365.0;
    let decl = 0.006918 - 0.399912 * g.cos() + 0.070257 * g.sin() - 0.006758 * (2.0 * g).cos()
        + 0.000907 * (2.0 * g).sin()
        - 0.002697 * (3.0 * g).cos()
        + 0.00148 * (3.0 * g).sin();
    let eot_min = 229.18
        * (0.000075 + 0.001868 * g.cos()
            - 0.032077 * g.sin()
            - 0.014615 * (2.0 * g).cos()
            - 0.040849 * (2.0 * g).sin());
    let solar_minute = minute + 4.0 * (LONGITUDE_DEG - CLOCK_MERIDIAN_DEG) + eot_min;
    let hour_angle = (solar_minute / 4.0 - 180.0).to_radians();
    let lat = LATITUDE_DEG.to_radians();
    lat.sin() * decl.sin() + lat.cos() * decl.cos() * hour_angle.cos()
}

/// Clear-sky global horizontal irradiance, W/m², from the zenith cosine. Haurwitz (1945)
/// model, `GHI = 1098 · cos z · exp(−0.059 / cos z)` (the form pvlib's `clearsky.haurwitz`
/// uses); zero with the sun below the horizon.
pub fn clear_sky_ghi(cos_z: f64) -> f64 {
    if cos_z <= 0.0 {
        0.0
    } else {
        1098.0 * cos_z * (-0.059 / cos_z).exp()
    }
}

/// The character of one day's sky.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sky {
    /// Clear or hazy: 84–97% of clear-sky irradiance.
    Clear,
    /// Broken clouds: sun and shade alternating every few quarter-hours.
    Broken,
    /// Overcast or rain: 8–30% of clear-sky irradiance.
    Overcast,
}

/// Probabilities of (clear, broken, overcast) days by month in the synthetic park. Shaped
/// after Fuzhou's climate: a wet, cloudy spring and "plum rain" season (March–June), sunnier
/// July–November. Calibrated so the annual yield of a rooftop system lands in the typical
/// Fujian range of about 1,100–1,200 kWh/kWp (see the crate doc); not observed data.
const SKY_BY_MONTH: [(f64, f64); 12] = [
    // (P(clear), P(broken)); P(overcast) is the rest.
    (0.30, 0.35), // Jan
    (0.20, 0.35), // Feb
    (0.15, 0.35), // Mar
    (0.15, 0.40), // Apr
    (0.15, 0.40), // May
    (0.15, 0.45), // Jun
    (0.40, 0.45), // Jul
    (0.35, 0.45), // Aug
    (0.35, 0.40), // Sep
    (0.45, 0.35), // Oct
    (0.40, 0.35), // Nov
    (0.35, 0.35), // Dec
];

/// Slots (quarter-hours) in a day.
pub const SLOTS: usize = 96;

/// One local day's weather over the park: the sky type and, per local quarter-hour slot,
/// the clear-sky index (measured / clear-sky irradiance).
#[derive(Clone, Debug)]
pub struct DayWeather {
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the PV model needs only the index; tests check the sky mix"
        )
    )]
    pub sky: Sky,
    pub clear_sky_index: [f64; SLOTS],
}

/// The park's weather on local day `n`. One sky for the whole park (it spans a few km);
/// rooftops differ only by their own small noise. A pure function of `(seed, n)`.
pub fn weather(seed: u64, n: i64) -> DayWeather {
    let mut rng: ChaCha8Rng = stream(seed, &[b"weather", &n.to_le_bytes()]);
    let month = usize::from(civil_from_days(n).month).clamp(1, 12) - 1;
    let (p_clear, p_broken) = SKY_BY_MONTH[month];
    let u: f64 = rng.gen();
    let sky = if u < p_clear {
        Sky::Clear
    } else if u < p_clear + p_broken {
        Sky::Broken
    } else {
        Sky::Overcast
    };
    let mut k = [0.0; SLOTS];
    match sky {
        Sky::Clear => {
            let level = rng.gen_range(0.84..0.97);
            for v in &mut k {
                *v = level * (1.0 + 0.02 * normal(&mut rng));
            }
        }
        Sky::Broken => {
            // Two-state Markov chain (sun / cloud shadow) with mean sunny fraction `f` and
            // spells of about `dwell` quarter-hours; sunny slots show cloud-edge enhancement.
            let f: f64 = rng.gen_range(0.35..0.85);
            let dwell = 3.0;
            let p_cloud = (1.0 - f) / dwell;
            let p_sun = f / dwell;
            let mut sunny = rng.gen::<f64>() < f;
            for v in &mut k {
                *v = if sunny {
                    rng.gen_range(0.86..1.04)
                } else {
                    rng.gen_range(0.2..0.5)
                };
                let flip = if sunny { p_cloud } else { p_sun };
                if rng.gen::<f64>() < flip {
                    sunny = !sunny;
                }
            }
        }
        Sky::Overcast => {
            let level = rng.gen_range(0.08..0.30);
            let mut drift = 0.0;
            for v in &mut k {
                drift = 0.8 * drift + 0.1 * normal(&mut rng);
                *v = (level * (1.0 + drift)).max(0.02);
            }
        }
    }
    DayWeather {
        sky,
        clear_sky_index: k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tanji_units::time::days_from_civil;

    /// Minutes of daylight (sun above the horizon) on a day-of-year, at 1-minute resolution.
    fn day_length_min(doy: u32) -> u32 {
        (0..1440)
            .filter(|&m| cos_zenith(doy, f64::from(m)) > 0.0)
            .count() as u32
    }

    fn sunrise_min(doy: u32) -> u32 {
        (0..1440)
            .find(|&m| cos_zenith(doy, f64::from(m)) > 0.0)
            .unwrap()
    }

    #[test]
    fn day_length_at_26n_matches_the_astronomical_formula() {
        // cos ω0 = −tan φ tan δ; at φ = 26°, δ = ±23.44°: 13.64 h and 10.36 h (geometric
        // sunrise, no refraction).
        let summer = day_length_min(172); // 21 June
        let winter = day_length_min(355); // 21 December
        assert!((813..=825).contains(&summer), "summer day {summer} min");
        assert!((615..=628).contains(&winter), "winter day {winter} min");
        // Equinox: about 12 h.
        let equinox = day_length_min(80);
        assert!((712..=728).contains(&equinox), "equinox day {equinox} min");
    }

    #[test]
    fn sunrise_times_in_local_clock() {
        // Fuzhou: sunrise ~05:22 in late June, ~06:52 in late December (UTC+8 clock).
        let june = sunrise_min(172);
        let december = sunrise_min(355);
        assert!((315..=330).contains(&june), "June sunrise {june}");
        assert!(
            (405..=420).contains(&december),
            "December sunrise {december}"
        );
    }

    #[test]
    fn clear_sky_noon_irradiance() {
        // Summer noon near the zenith: ~1,030 W/m²; winter noon (elevation ~40.6°): ~650 W/m².
        let summer = clear_sky_ghi(cos_zenith(172, 12.0 * 60.0 + 10.0));
        let winter = clear_sky_ghi(cos_zenith(355, 12.0 * 60.0 + 5.0));
        assert!((1000.0..1060.0).contains(&summer), "{summer}");
        assert!((600.0..700.0).contains(&winter), "{winter}");
        assert_eq!(clear_sky_ghi(cos_zenith(172, 0.0)), 0.0);
    }

    #[test]
    fn weather_is_a_pure_function_of_seed_and_day() {
        let n = days_from_civil(2025, 7, 1);
        assert_eq!(weather(7, n).clear_sky_index, weather(7, n).clear_sky_index);
        let skies: Vec<Sky> = (0..365).map(|d| weather(7, n + d).sky).collect();
        for sky in [Sky::Clear, Sky::Broken, Sky::Overcast] {
            let count = skies.iter().filter(|&&s| s == sky).count();
            assert!(count > 40, "{sky:?} only {count} days a year");
        }
    }
}
