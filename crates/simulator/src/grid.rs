//! A **synthetic** "Fujian-like" provincial grid: one year of hourly generation by source for
//! the region [`REGION`] (`CN-FJ-synthetic`), written as the generation CSV that
//! `tanji-factors` reads (`region,start,end,source,mwh`).
//!
//! It is what `tanji demo` uses as a grid when no real hourly data for Fujian are at hand (none
//! are published openly). It is **not** data: no number here was measured, and it is not a
//! forecast. Its shapes follow what drives a coastal East China grid, and its annual mix is set
//! to be roughly that publicly reported for Fujian; nothing is calibrated hour by hour to
//! anything.
//!
//! # The year
//! [`GridYear::generate`] covers the UTC calendar year (`year-01-01T00:00Z` to
//! `year+1-01-01T00:00Z`, 8,760 or 8,784 hours), which covers every UTC day of the park
//! simulator's uploads in that year. All shapes are computed in local time (Asia/Shanghai, UTC+8),
//! through `tanji_units::time`.
//!
//! # The model (all approximate; figures are for the default year and seed, 328 TWh)
//! - **Demand** (served load, MW averaged over the hour): an East China provincial weekday shape
//!   (night trough ~73% of the daily peak, morning peak at 10:00, lunch dip, afternoon peak at
//!   15:00, evening shoulder at 19:00–20:00), Saturdays −4%, Sundays −8%; a monthly industrial
//!   level; air conditioning (up to +24% of the base, heaviest in the afternoon, also at
//!   night) in a cosine season peaking on 24 July (mid May to early October) and a little
//!   heating in January; the Spring Festival shutdown (−38% from New Year's eve to the 6th day,
//!   ramping down over the 7 days before and back up over the 15 after, as migrant workers
//!   travel), Labour Day and National Day (−12%); day-to-day AR(1) noise (σ 2.5%) and
//!   hour-to-hour noise (σ 1%). Mean about 37.5 GW; Fujian used roughly 310 TWh in 2023.
//! - **Nuclear:** [`NUCLEAR_UNITS`] units of [`NUCLEAR_UNIT_MW`] (Fujian has about 11 GW at
//!   Ningde, Fuqing and Zhangzhou), flat baseload; an 18-month fuel cycle gives each unit a
//!   refuelling outage of 30–45 days in two years out of three, outside the summer peak.
//! - **Hydro:** mean about 4.2 GW (4.4 GW in the default year) from about 13.5 GW conventional; monthly level after Fujian's
//!   wet season (spring rain, the "plum rain" peak in June, typhoon rain in August–September;
//!   dry November–February) with day-to-day AR(1) variation (floods and dry spells); within a
//!   day half of the energy runs of the river flat and half follows the demand curve (peaking).
//! - **Wind:** [`WIND_MW`] (on- and offshore, Pingtan and the Taiwan Strait coast). Capacity
//!   factor with a seasonal mean after the north-east monsoon (about 45% in December–January,
//!   about 23% in June), a synoptic lognormal AR(1) (weather systems of ~1.5 days) and a small
//!   afternoon sea-breeze bump in summer; clipped at 93%. Annual capacity factor about 30%.
//! - **Solar:** [`SOLAR_MWP`] at performance ratio 0.80, with the sun's position at
//!   26.0°N 119.3°E and the clear-sky irradiance and daily sky model the park's PV uses (see the crate doc), under the province-wide
//!   sky: the mean clear-sky index of three sites, one of which is the park's own sky for the
//!   same seed (so a cloudy day at the park is cloudier across the grid). Yields about
//!   1,150 kWh/kWp a year. Zero with the sun below the horizon.
//! - **Dispatch:** residual load = demand − nuclear − hydro − wind − solar. Coal never runs
//!   below [`COAL_MIN_MW`] and gas never below [`GAS_MIN_MW`] (must-run for stability and heat);
//!   when the residual falls short of both, wind is curtailed first, then solar, then nuclear
//!   and hydro follow load (as in the Spring Festival nights). Gas (LNG-fired, [`GAS_MAX_MW`])
//!   takes the part of the residual above 85% of the day's highest residual (peaking), but
//!   never so much that coal would fall below its minimum; coal takes the rest. Generation equals demand in every hour; no exchanges are modelled.
//!
//! Annual shares for the default year and seed (2025, [`DEFAULT_SEED`]): coal 45.7%, gas 3.7%,
//! nuclear 27.3%, hydro 11.7%, wind 7.6%, solar 4.0%; other seeds move them by a point or two
//! (hydro most, as wet and dry years do). `tests/grid.rs` asserts, for several seeds: coal
//! 44–50%, gas 3–5%, nuclear 24–30%, hydro 9–15%, wind 6.5–9.5%, solar 3–5%.
//! Publicly reported figures for Fujian (2022–2024, approximate): coal ~45–50%, nuclear
//! ~25–30%, hydro ~10–15%, wind ~7–9%, solar ~3–5%, gas ~3–5%.
//!
//! # Determinism
//! Every draw comes from a ChaCha8 stream named by the seed, "grid", the year and what it
//! describes (as for the park); values are rounded to whole kWh. The same `(year, seed)`
//! gives byte-identical CSV (up to the caveat on `std`'s maths in the crate doc).

use std::f64::consts::PI;
use std::fmt::Write as _;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tanji_factors::{compute_texts, Series, SeriesMeta, TextsError};

use crate::calendar::is_holiday;
use crate::seed::{normal, stream};
use crate::solar::{clear_sky_ghi, cos_zenith, weather, SLOTS};
use tanji_units::time::{
    civil_from_days, day_of_year, days_from_civil, local_day, local_hour, rfc3339, weekday, DAY_S,
    HOUR_S, PARK_UTC_OFFSET_S,
};

/// Region code of the synthetic grid, as written in its CSV. The `-synthetic` suffix is part of
/// the name on purpose: nothing may mistake it for Fujian's real grid.
pub const REGION: &str = "CN-FJ-synthetic";
/// The year the committed sample (`data/synthetic/CN-FJ-synthetic-2025-generation.csv`) covers.
pub const DEFAULT_YEAR: i32 = 2025;
/// The seed of the committed sample (also `tanji demo`'s default seed).
pub const DEFAULT_SEED: u64 = 2026;

/// Number of nuclear units.
pub const NUCLEAR_UNITS: usize = 10;
/// Net output of one nuclear unit, MW.
pub const NUCLEAR_UNIT_MW: f64 = 1_080.0;
/// Installed wind capacity, MW.
pub const WIND_MW: f64 = 9_300.0;
/// Installed solar capacity, MWp.
pub const SOLAR_MWP: f64 = 11_500.0;
/// Minimum coal output, MW (units kept on line for stability and heat supply).
pub const COAL_MIN_MW: f64 = 9_000.0;
/// Minimum gas output, MW (contracted LNG take and combined heat and power).
pub const GAS_MIN_MW: f64 = 600.0;
/// Gas-fired capacity, MW.
pub const GAS_MAX_MW: f64 = 4_600.0;

/// Mean demand scale, MW: the weekday daily peak of a spring day before cooling.
const DEMAND_PEAK_BASE_MW: f64 = 42_600.0;
/// Mean hydro output, MW, before the monthly and daily factors.
const HYDRO_MEAN_MW: f64 = 4_200.0;
/// Conventional hydro capacity, MW.
const HYDRO_MAX_MW: f64 = 13_500.0;
/// Solar performance ratio.
const SOLAR_PR: f64 = 0.80;
/// Share of the day's residual peak above which gas takes the load.
const GAS_THRESHOLD: f64 = 0.85;

/// A generation source of the synthetic grid, named as the factors crate's canonical sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Coal-fired units.
    Coal,
    /// Gas-fired (LNG) units.
    Gas,
    /// Nuclear units.
    Nuclear,
    /// Conventional hydro (pumped storage is not modelled).
    Hydro,
    /// Wind, on- and offshore.
    Wind,
    /// Solar PV, utility and distributed.
    Solar,
}

impl Source {
    /// Every source, in CSV and array order.
    pub const ALL: [Source; 6] = [
        Source::Coal,
        Source::Gas,
        Source::Nuclear,
        Source::Hydro,
        Source::Wind,
        Source::Solar,
    ];

    /// The canonical source name written in the CSV (`coal`, `gas`, …).
    pub const fn code(self) -> &'static str {
        match self {
            Source::Coal => "coal",
            Source::Gas => "gas",
            Source::Nuclear => "nuclear",
            Source::Hydro => "hydro",
            Source::Wind => "wind",
            Source::Solar => "solar",
        }
    }

    /// Index of the source in [`Source::ALL`] and in [`GridHour::kwh`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One hour of the synthetic grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridHour {
    /// Start of the hour, Unix seconds (UTC); the hour is `[start, start + 3600)`.
    pub start: i64,
    /// Generation per source in the order of [`Source::ALL`], kWh (so MWh with 3 decimals).
    pub kwh: [i64; 6],
    /// Wind, solar, nuclear or hydro energy not generated because the must-run minimum of coal
    /// and gas left no room for it, kWh.
    pub curtailed_kwh: i64,
}

impl GridHour {
    /// Generation of `source` in this hour, kWh.
    pub fn get(&self, source: Source) -> i64 {
        self.kwh[source.index()]
    }

    /// Total generation (= demand served) in this hour, kWh.
    pub fn total(&self) -> i64 {
        self.kwh.iter().sum()
    }
}

/// One synthetic year of the `CN-FJ-synthetic` grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridYear {
    /// The UTC calendar year covered.
    pub year: i32,
    /// The seed it was generated from.
    pub seed: u64,
    /// Every hour of the year, in order.
    pub hours: Vec<GridHour>,
}

impl GridYear {
    /// Generates the UTC calendar year `year` from `seed`. Pure: the same arguments give the
    /// same hours.
    pub fn generate(year: i32, seed: u64) -> GridYear {
        generate(year, seed)
    }

    /// Annual generation of `source`, kWh.
    pub fn total_kwh(&self, source: Source) -> i64 {
        self.hours.iter().map(|h| h.get(source)).sum()
    }

    /// Annual share of each source in total generation (fractions summing to 1), in the order
    /// of [`Source::ALL`].
    pub fn shares(&self) -> [f64; 6] {
        let totals = Source::ALL.map(|s| self.total_kwh(s) as f64);
        let all: f64 = totals.iter().sum();
        totals.map(|t| if all > 0.0 { t / all } else { 0.0 })
    }

    /// The year as a generation CSV: header `region,start,end,source,mwh`, then one row per hour
    /// and source (in [`Source::ALL`] order), UTC RFC 3339 instants, MWh with 3 decimals.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(self.hours.len() * 6 * 72 + 32);
        out.push_str("region,start,end,source,mwh\n");
        for h in &self.hours {
            let start = rfc3339(h.start);
            let end = rfc3339(h.start + HOUR_S);
            for s in Source::ALL {
                let kwh = h.get(s);
                // Writing to a String cannot fail.
                let _ = writeln!(
                    out,
                    "{REGION},{start},{end},{},{}.{:03}",
                    s.code(),
                    kwh / 1000,
                    kwh % 1000
                );
            }
        }
        out
    }
}

/// The synthetic `CN-FJ-synthetic` year `year` from `seed`; see the module doc.
pub fn fujian_like_year(year: i32, seed: u64) -> GridYear {
    GridYear::generate(year, seed)
}

/// The synthetic `CN-FJ-synthetic` year `year` from `seed` as a generation CSV
/// (`region,start,end,source,mwh`); see [`GridYear::to_csv`].
pub fn fujian_like_generation_csv(year: i32, seed: u64) -> String {
    GridYear::generate(year, seed).to_csv()
}

/// A named random stream of the grid model for `year`.
fn grid_stream(seed: u64, year: i32, what: &[u8]) -> ChaCha8Rng {
    stream(seed, &[b"grid", b"fujian-like", &year.to_le_bytes(), what])
}

/// Weekday demand shape by local hour (fraction of the daily peak), typical of an East China
/// provincial grid: night trough, morning peak, lunch dip, afternoon peak, evening shoulder.
const DAY_SHAPE: [f64; 24] = [
    0.80, 0.76, 0.74, 0.73, 0.73, 0.75, 0.80, 0.87, 0.94, 0.98, 1.00, 0.98, //
    0.90, 0.93, 0.98, 1.00, 0.99, 0.96, 0.95, 0.97, 0.97, 0.94, 0.89, 0.84,
];

/// Air-conditioning shape by local hour (fraction of the cooling load): afternoon peak, still
/// high in the evening and at night (homes).
const COOLING_SHAPE: [f64; 24] = [
    0.55, 0.50, 0.47, 0.45, 0.44, 0.44, 0.48, 0.58, 0.70, 0.80, 0.88, 0.94, //
    0.96, 0.98, 1.00, 1.00, 0.97, 0.92, 0.86, 0.84, 0.82, 0.76, 0.68, 0.60,
];

/// Industrial demand level by month (before cooling and holidays).
const MONTH_LEVEL: [f64; 12] = [
    1.00, 0.97, 0.97, 0.96, 0.97, 0.99, 1.00, 1.00, 0.98, 0.96, 0.98, 1.02,
];

/// Hydro level by month (mean 1): Fujian's wet season runs March to September, with the plum
/// rain peak in June and typhoon rain in August–September; November to February are dry.
const HYDRO_MONTH: [f64; 12] = [
    0.56, 0.66, 0.92, 1.18, 1.48, 1.79, 1.33, 1.23, 1.02, 0.72, 0.56, 0.55,
];

/// Cooling season weight on day-of-year `doy`: a raised cosine centred on 24 July (doy 205),
/// zero beyond ±75 days.
fn cooling_weight(doy: u32) -> f64 {
    let x = (f64::from(doy) - 205.0) / 75.0;
    if x.abs() >= 1.0 {
        0.0
    } else {
        0.5 * (1.0 + (PI * x).cos())
    }
}

/// Heating weight: a little electric heating around mid January.
fn heating_weight(doy: u32) -> f64 {
    let d = f64::from(doy.min(366));
    let x = (if d > 300.0 { d - 366.0 } else { d } - 15.0) / 45.0;
    if x.abs() >= 1.0 {
        0.0
    } else {
        0.5 * (1.0 + (PI * x).cos())
    }
}

/// Whether local day `n` is in the Spring Festival shutdown (the calendar's holidays in January
/// and February).
fn spring_festival(n: i64) -> bool {
    let m = civil_from_days(n).month;
    (m == 1 || m == 2) && is_holiday(n)
}

/// Demand factor of local day `n` from holidays: the Spring Festival shutdown with its ramps,
/// Labour Day and National Day.
fn holiday_factor(n: i64) -> f64 {
    const DEPTH: f64 = 0.38;
    if spring_festival(n) {
        return 1.0 - DEPTH;
    }
    // Ramp down over the week before (workers leave), back up over 15 days after.
    for k in 1..=7_i64 {
        if spring_festival(n + k) {
            return 1.0 - DEPTH * (1.0 - k as f64 / 8.0) * 0.6;
        }
    }
    for k in 1..=15_i64 {
        if spring_festival(n - k) {
            return 1.0 - DEPTH * (1.0 - k as f64 / 16.0);
        }
    }
    if is_holiday(n) {
        return 0.88;
    }
    1.0
}

/// Noise-free demand of local day `n` at local hour `h`, MW, before the daily noise.
fn demand_shape_mw(n: i64, h: usize) -> f64 {
    let date = civil_from_days(n);
    let doy = day_of_year(n);
    let month = usize::from(date.month).clamp(1, 12) - 1;
    let week = match weekday(n) {
        5 => 0.96,
        6 => 0.92,
        _ => 1.0,
    };
    let base = DAY_SHAPE[h] * MONTH_LEVEL[month] * week * holiday_factor(n);
    let cooling = 0.24 * cooling_weight(doy) * COOLING_SHAPE[h];
    let heating = 0.03 * heating_weight(doy) * DAY_SHAPE[h];
    DEMAND_PEAK_BASE_MW * (base + cooling + heating)
}

/// Per local day quantities, indexed by `n - first_day`.
struct Days {
    first: i64,
    demand_noise: Vec<f64>,
    hydro_mw: Vec<f64>,
    /// Clear-sky index per local quarter-hour of the province-wide sky.
    sky: Vec<[f64; SLOTS]>,
    /// Sum over the day's 24 local hours of the noise-free demand shape, for hydro peaking.
    shape_sum: Vec<f64>,
}

impl Days {
    fn get(&self, n: i64) -> usize {
        usize::try_from(n - self.first).unwrap_or(0)
    }
}

fn days(year: i32, seed: u64, first: i64, last: i64) -> Days {
    let count = usize::try_from(last - first + 1).unwrap_or(0);
    let mut demand_rng = grid_stream(seed, year, b"demand-days");
    let mut hydro_rng = grid_stream(seed, year, b"hydro-days");
    // Two more sites' skies, independent of the park's.
    let site2 = u64::from_le_bytes(first_8(&crate::seed::derive(seed, &[b"grid-sky", b"2"])));
    let site3 = u64::from_le_bytes(first_8(&crate::seed::derive(seed, &[b"grid-sky", b"3"])));
    let mut d_noise = 0.0;
    let mut h_noise = 0.0;
    let mut out = Days {
        first,
        demand_noise: Vec::with_capacity(count),
        hydro_mw: Vec::with_capacity(count),
        sky: Vec::with_capacity(count),
        shape_sum: Vec::with_capacity(count),
    };
    for i in 0..count {
        let n = first + i as i64;
        d_noise = 0.7 * d_noise + 0.025 * (1.0 - 0.49_f64).sqrt() * normal(&mut demand_rng);
        out.demand_noise.push(d_noise);
        // Lognormal AR(1) of daily hydro (σ 0.25, ~10-day memory), mean-corrected.
        h_noise = 0.9 * h_noise + 0.25 * (1.0 - 0.81_f64).sqrt() * normal(&mut hydro_rng);
        let month = usize::from(civil_from_days(n).month).clamp(1, 12) - 1;
        let hydro = HYDRO_MEAN_MW * HYDRO_MONTH[month] * (h_noise - 0.5 * 0.25 * 0.25).exp();
        out.hydro_mw.push(hydro.min(HYDRO_MAX_MW));
        let skies = [weather(seed, n), weather(site2, n), weather(site3, n)];
        let mut k = [0.0; SLOTS];
        for (slot, v) in k.iter_mut().enumerate() {
            *v = skies.iter().map(|w| w.clear_sky_index[slot]).sum::<f64>() / 3.0;
        }
        out.sky.push(k);
        out.shape_sum
            .push((0..24).map(|h| demand_shape_mw(n, h)).sum::<f64>());
    }
    out
}

fn first_8(b: &[u8; 32]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[..8]);
    out
}

/// Nuclear availability (0 or 1) of each unit on each local day of the year: refuelling
/// outages of 30–45 days in two years out of three, starting outside 1 June – 15 September.
fn nuclear_outages(year: i32, seed: u64, first: i64, count: usize) -> Vec<Vec<bool>> {
    let jan1 = days_from_civil(i64::from(year), 1, 1);
    (0..NUCLEAR_UNITS)
        .map(|u| {
            let mut rng = grid_stream(seed, year, &[b"nuclear".as_slice(), &[u as u8]].concat());
            let mut online = vec![true; count];
            if rng.gen::<f64>() < 2.0 / 3.0 {
                // Start day-of-year among the allowed ones (before 1 June or after 15 September).
                let start = loop {
                    let d: i64 = rng.gen_range(0..350);
                    if !(151..258).contains(&d) {
                        break d;
                    }
                };
                let len: i64 = rng.gen_range(30..=45);
                for d in start..start + len {
                    if let Ok(i) = usize::try_from(jan1 + d - first) {
                        if let Some(v) = online.get_mut(i) {
                            *v = false;
                        }
                    }
                }
            }
            online
        })
        .collect()
}

/// Province-wide PV output in local hour `h` of local day `n`, MW.
fn solar_mw(n: i64, h: usize, sky: &[f64; SLOTS]) -> f64 {
    let doy = day_of_year(n);
    let mut sum = 0.0;
    for q in 0..4 {
        let slot = 4 * h + q;
        let minute = (slot as f64 + 0.5) * 15.0;
        let ghi = clear_sky_ghi(cos_zenith(doy, minute));
        sum += ghi * sky[slot];
    }
    SOLAR_MWP * SOLAR_PR * (sum / 4.0) / 1000.0
}

fn generate(year: i32, seed: u64) -> GridYear {
    let y = i64::from(year);
    let start = days_from_civil(y, 1, 1) * DAY_S;
    let end = days_from_civil(y + 1, 1, 1) * DAY_S;
    let hours = usize::try_from((end - start) / HOUR_S).unwrap_or(0);
    let local_day = |t: i64| local_day(t, PARK_UTC_OFFSET_S);
    let first = local_day(start);
    let last = local_day(end - 1);
    let days = days(year, seed, first, last);
    let outages = nuclear_outages(year, seed, first, days.demand_noise.len());

    let mut hour_rng = grid_stream(seed, year, b"demand-hours");
    let mut wind_rng = grid_stream(seed, year, b"wind");
    let phi_w = (-1.0_f64 / 36.0).exp();
    let sigma_w = 0.6;
    let mut z_wind = normal(&mut wind_rng);
    let mut e_hour = 0.0;

    // First pass: demand and the non-dispatchable sources.
    struct Raw {
        n: i64,
        demand: f64,
        nuclear: f64,
        hydro: f64,
        wind: f64,
        solar: f64,
    }
    let mut raw = Vec::with_capacity(hours);
    for k in 0..hours {
        let t = start + k as i64 * HOUR_S;
        let n = local_day(t);
        let h = usize::try_from(local_hour(t, PARK_UTC_OFFSET_S)).unwrap_or(0);
        let di = days.get(n);
        let doy = day_of_year(n);

        e_hour = 0.5 * e_hour + 0.01 * (1.0 - 0.25_f64).sqrt() * normal(&mut hour_rng);
        let shape = demand_shape_mw(n, h);
        let demand = shape * (1.0 + days.demand_noise[di] + e_hour);

        let nuclear = outages.iter().filter(|u| u[di]).count() as f64 * NUCLEAR_UNIT_MW;

        let daily_hydro = days.hydro_mw[di];
        let peaking = 24.0 * shape / days.shape_sum[di];
        let hydro = (daily_hydro * (0.5 + 0.5 * peaking)).min(HYDRO_MAX_MW);

        z_wind = phi_w * z_wind + (1.0 - phi_w * phi_w).sqrt() * normal(&mut wind_rng);
        let season = 0.34 + 0.11 * (2.0 * PI * (f64::from(doy) - 355.0) / 365.25).cos();
        let summer = cooling_weight(doy);
        let breeze = 1.0 + 0.15 * summer * (2.0 * PI * (h as f64 - 14.0) / 24.0).cos();
        let cf =
            (season * (sigma_w * z_wind - 0.5 * sigma_w * sigma_w).exp() * breeze).clamp(0.0, 0.93);
        let wind = WIND_MW * cf;

        let solar = solar_mw(n, h, &days.sky[di]);
        raw.push(Raw {
            n,
            demand,
            nuclear,
            hydro,
            wind,
            solar,
        });
    }

    // Second pass: must-run, curtailment and the residual's daily peak.
    let floor = COAL_MIN_MW + GAS_MIN_MW;
    let mut residual = Vec::with_capacity(hours);
    let mut curtailed = Vec::with_capacity(hours);
    for r in &mut raw {
        let mut short = floor - (r.demand - r.nuclear - r.hydro - r.wind - r.solar);
        let mut cut = 0.0;
        for v in [&mut r.wind, &mut r.solar, &mut r.nuclear, &mut r.hydro] {
            if short <= 0.0 {
                break;
            }
            let c = short.min(*v);
            *v -= c;
            short -= c;
            cut += c;
        }
        residual.push(r.demand - r.nuclear - r.hydro - r.wind - r.solar);
        curtailed.push(cut);
    }
    let mut day_peak = vec![0.0_f64; days.demand_noise.len()];
    for (r, &res) in raw.iter().zip(&residual) {
        let i = days.get(r.n);
        day_peak[i] = day_peak[i].max(res);
    }

    let kwh = |mw: f64| (mw * 1000.0).round() as i64;
    let hours = raw
        .iter()
        .zip(&residual)
        .zip(&curtailed)
        .enumerate()
        .map(|(k, ((r, &res), &cut))| {
            let peak = day_peak[days.get(r.n)];
            // Gas above its minimum never pushes coal below its own.
            let extra = (res - GAS_THRESHOLD * peak).clamp(0.0, (res - floor).max(0.0));
            let gas = (GAS_MIN_MW + extra).min(GAS_MAX_MW);
            let coal = res - gas;
            let mut out = [0_i64; 6];
            out[Source::Coal.index()] = kwh(coal);
            out[Source::Gas.index()] = kwh(gas);
            out[Source::Nuclear.index()] = kwh(r.nuclear);
            out[Source::Hydro.index()] = kwh(r.hydro);
            out[Source::Wind.index()] = kwh(r.wind);
            out[Source::Solar.index()] = kwh(r.solar);
            GridHour {
                start: start + k as i64 * HOUR_S,
                kwh: out,
                curtailed_kwh: kwh(cut),
            }
        })
        .collect();
    GridYear { year, seed, hours }
}

/// Fujian's official 2022 average grid CO2 factor, tCO2/MWh (Ministry of Ecology and
/// Environment with the National Bureau of Statistics; docs/reference/factors.md).
pub const FUJIAN_2022_T_PER_MWH: f64 = 0.4092;

/// The SYNTHETIC Fujian-like grid year the demo, the forecast backtest and the benchmarks
/// use: its generation CSV and its hourly factors (`tanji-factors`), calibrated to
/// [`FUJIAN_2022_T_PER_MWH`].
pub struct FujianLike {
    /// Series name, `CN-FJ-synthetic-<year>`.
    pub name: String,
    /// The generation CSV the factors were computed from.
    pub generation: String,
    /// The computed series.
    pub series: Series,
    /// Its CSV (what is published).
    pub csv: String,
    /// Its sidecar.
    pub meta: SeriesMeta,
}

/// Generates the synthetic Fujian-like `year` and computes its calibrated factors.
pub fn fujian_like(year: i32, seed: u64) -> Result<FujianLike, TextsError> {
    let name = format!("{}-{year}", REGION);
    let generation = fujian_like_generation_csv(year, seed);
    let calibration = vec![(REGION.to_string(), FUJIAN_2022_T_PER_MWH)];
    let (series, csv, meta) = compute_texts(
        (&format!("{name}-generation.csv"), &generation),
        None,
        None,
        &calibration,
    )?;
    Ok(FujianLike {
        name,
        generation,
        series,
        csv,
        meta,
    })
}
