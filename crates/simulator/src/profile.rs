//! Enterprises of the park and how they use energy: sectors, shift patterns, load shapes,
//! rooftop PV, gas, purchased steam and backup generators.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::calendar::is_holiday;
use crate::seed::{normal, stream};
use crate::solar::{clear_sky_ghi, cos_zenith, weather, SLOTS};
use tanji_units::time::{civil_from_days, day_of_year, weekday};

/// What an enterprise makes. The park is a smart-equipment park (see docs/reference/pilot.md); the sector
/// decides the likely shift pattern and which fuels the site burns or buys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sector {
    /// CNC machine tools: machining halls, compressed air; sometimes a gas boiler for washing.
    CncMachineTools,
    /// Industrial robots and automation cells: assembly and test, day shifts.
    IndustrialRobots,
    /// Electrical switchgear and control cabinets: sheet metal, often gas-fired powder coating.
    Switchgear,
    /// Precision castings: gas melting/holding furnaces that run around the clock.
    PrecisionCastings,
    /// Heat treatment: gas-fired furnaces held at temperature day and night.
    HeatTreatment,
    /// Sheet metal and coating: gas curing ovens, steam-heated pretreatment baths.
    SheetMetalCoating,
    /// Electronics assembly (SMT): clean-room HVAC, often three shifts.
    ElectronicsAssembly,
    /// Electric motors: winding, varnish ovens.
    ElectricMotors,
    /// Hydraulic components: machining, washing, some heat treatment.
    HydraulicComponents,
    /// Injection moulding of technical parts: presses run continuously.
    InjectionMoulding,
    /// Battery packs for equipment: electrode drying and dry rooms use purchased steam.
    BatteryPacks,
    /// Meters and instruments: light assembly, day shift.
    Instruments,
}

impl Sector {
    /// Every sector, in a fixed order.
    pub const ALL: [Sector; 12] = [
        Sector::CncMachineTools,
        Sector::IndustrialRobots,
        Sector::Switchgear,
        Sector::PrecisionCastings,
        Sector::HeatTreatment,
        Sector::SheetMetalCoating,
        Sector::ElectronicsAssembly,
        Sector::ElectricMotors,
        Sector::HydraulicComponents,
        Sector::InjectionMoulding,
        Sector::BatteryPacks,
        Sector::Instruments,
    ];

    /// A short English name, e.g. `"CNC machine tools"`.
    pub const fn name(self) -> &'static str {
        match self {
            Sector::CncMachineTools => "CNC machine tools",
            Sector::IndustrialRobots => "industrial robots",
            Sector::Switchgear => "switchgear",
            Sector::PrecisionCastings => "precision castings",
            Sector::HeatTreatment => "heat treatment",
            Sector::SheetMetalCoating => "sheet metal and coating",
            Sector::ElectronicsAssembly => "electronics assembly",
            Sector::ElectricMotors => "electric motors",
            Sector::HydraulicComponents => "hydraulic components",
            Sector::InjectionMoulding => "injection moulding",
            Sector::BatteryPacks => "battery packs",
            Sector::Instruments => "instruments",
        }
    }

    fn traits(self) -> Traits {
        use ShiftPattern::*;
        let t = |weight, shifts, gas, gas_per_kw, gas_base, steam| Traits {
            weight,
            shifts,
            gas,
            gas_per_kw,
            gas_base,
            steam,
        };
        // Gas intensity in m3/h per kW of electric peak: 0.03 m3/h ≈ 0.3 kW of fuel (natural
        // gas ≈ 9.9 kWh/m3 NCV), i.e. a boiler or oven a third the size of the electric load;
        // furnace-based sectors burn several times more gas than they use electricity.
        match self {
            Sector::CncMachineTools => t(
                3,
                &[DayShift, ExtendedDay, TwoShift],
                0.4,
                (0.01, 0.03),
                (0.05, 0.15),
                0.0,
            ),
            Sector::IndustrialRobots => t(
                2,
                &[DayShift, ExtendedDay],
                0.3,
                (0.01, 0.02),
                (0.05, 0.15),
                0.0,
            ),
            Sector::Switchgear => t(
                2,
                &[DayShift, ExtendedDay],
                0.4,
                (0.03, 0.06),
                (0.02, 0.06),
                0.0,
            ),
            Sector::PrecisionCastings => t(1, &[ThreeShift], 1.0, (0.12, 0.25), (0.40, 0.55), 0.0),
            Sector::HeatTreatment => t(
                1,
                &[ThreeShift, TwoShift],
                1.0,
                (0.15, 0.30),
                (0.45, 0.60),
                0.0,
            ),
            Sector::SheetMetalCoating => t(
                2,
                &[TwoShift, ExtendedDay],
                0.9,
                (0.05, 0.10),
                (0.02, 0.06),
                0.3,
            ),
            Sector::ElectronicsAssembly => t(
                2,
                &[ThreeShift, TwoShift],
                0.2,
                (0.005, 0.015),
                (0.10, 0.20),
                0.2,
            ),
            Sector::ElectricMotors => t(
                2,
                &[TwoShift, DayShift],
                0.6,
                (0.03, 0.06),
                (0.03, 0.08),
                0.0,
            ),
            Sector::HydraulicComponents => t(
                1,
                &[TwoShift, ExtendedDay],
                0.7,
                (0.03, 0.08),
                (0.05, 0.15),
                0.0,
            ),
            Sector::InjectionMoulding => t(
                1,
                &[ThreeShift, TwoShift],
                0.1,
                (0.005, 0.015),
                (0.10, 0.20),
                0.0,
            ),
            Sector::BatteryPacks => t(
                1,
                &[TwoShift, ThreeShift],
                0.2,
                (0.01, 0.03),
                (0.10, 0.20),
                0.6,
            ),
            Sector::Instruments => t(
                2,
                &[DayShift, ExtendedDay],
                0.2,
                (0.005, 0.015),
                (0.05, 0.15),
                0.0,
            ),
        }
    }
}

struct Traits {
    weight: u32,
    shifts: &'static [ShiftPattern],
    gas: f64,
    gas_per_kw: (f64, f64),
    gas_base: (f64, f64),
    steam: f64,
}

/// When an enterprise works, in Asia/Shanghai local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftPattern {
    /// One shift, about 07:30–17:45 with a lunch break 11:45–13:00.
    DayShift,
    /// A long day, about 07:45–20:15 (overtime is common in export factories), lunch and
    /// dinner breaks.
    ExtendedDay,
    /// Two shifts, about 07:30–23:45, a lighter evening shift, breaks and a shift change at 16:00.
    TwoShift,
    /// Three shifts around the clock: near-flat load, dips at the 00:00/08:00/16:00 changes.
    ThreeShift,
}

impl ShiftPattern {
    /// Whether production concentrates in daytime (every pattern but three shifts).
    pub const fn is_daytime_heavy(self) -> bool {
        !matches!(self, ShiftPattern::ThreeShift)
    }

    /// Production level in `[0, 1]` at local hour `h` (0–24) on a working day.
    fn level(self, h: f64) -> f64 {
        match self {
            ShiftPattern::DayShift => window(h, 7.5, 17.75, 0.75) * dip(h, 11.75, 13.0, 0.5),
            ShiftPattern::ExtendedDay => {
                window(h, 7.75, 20.25, 0.75) * dip(h, 11.75, 13.0, 0.45) * dip(h, 17.25, 18.0, 0.35)
            }
            ShiftPattern::TwoShift => {
                let evening = 1.0 - 0.15 * ((h - 15.5) / 1.0).clamp(0.0, 1.0);
                window(h, 7.5, 23.75, 0.5)
                    * dip(h, 11.75, 12.75, 0.4)
                    * dip(h, 15.75, 16.25, 0.3)
                    * dip(h, 18.0, 18.75, 0.35)
                    * evening
            }
            ShiftPattern::ThreeShift => {
                (0.88 + 0.12 * window(h, 8.0, 20.0, 1.0))
                    * dip(h, -0.25, 0.25, 0.2)
                    * dip(h, 23.75, 24.25, 0.2)
                    * dip(h, 7.75, 8.25, 0.2)
                    * dip(h, 15.75, 16.25, 0.2)
                    * dip(h, 11.75, 12.5, 0.15)
            }
        }
    }
}

/// 1 inside `[on, off]` with linear ramps of `ramp` hours inside the edges, 0 outside.
fn window(h: f64, on: f64, off: f64, ramp: f64) -> f64 {
    ((h - on) / ramp).clamp(0.0, 1.0) * ((off - h) / ramp).clamp(0.0, 1.0)
}

/// A break: the level falls by `depth` inside `[a, b]`, with 15-minute ramps.
fn dip(h: f64, a: f64, b: f64, depth: f64) -> f64 {
    1.0 - depth * window(h, a, b, 0.25)
}

/// How an enterprise's electric load varies over the day and week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoadShape {
    /// Shift pattern.
    pub shift: ShiftPattern,
    /// Nominal peak site load, kW: full production on a summer weekday.
    pub peak_kw: f64,
    /// Share of the peak drawn around the clock (lighting, IT, compressors leaking, furnace
    /// holding, clean-room HVAC).
    pub base_fraction: f64,
    /// Share of the peak that is air conditioning at the height of summer (Fujian's cooling
    /// season runs roughly May–October).
    pub cooling_fraction: f64,
    /// Production on Saturdays relative to a weekday (0 = closed).
    pub saturday: f64,
    /// Production on Sundays relative to a weekday.
    pub sunday: f64,
    /// This site's shift times relative to the pattern's, hours (−0.5 … +0.5).
    pub start_offset_h: f64,
    /// Standard deviation of the quarter-hour load noise (relative, AR(1) correlated).
    pub noise: f64,
}

/// A rooftop PV system.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PvArray {
    /// DC nameplate, kWp.
    pub kwp: f64,
    /// Performance ratio: AC energy / (kWp × irradiation in kWh/m²); covers temperature,
    /// inverter, wiring and soiling losses.
    pub performance_ratio: f64,
    /// DC/AC ratio: AC output is clipped at `kwp / dc_ac_ratio`.
    pub dc_ac_ratio: f64,
}

/// A fuel or purchased heat carrier that follows production (gas, steam).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FuelUse {
    /// Use per hour at full production, in the meter's unit (m3/h of gas, t/h of steam).
    pub peak_per_hour: f64,
    /// Share of the peak used around the clock (furnaces held at temperature, pilot flames).
    pub base_fraction: f64,
}

/// A diesel backup generator, exercised monthly on a load bank.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BackupGenerator {
    /// Electrical rating, kW.
    pub kw: f64,
    /// Weekday of the monthly test (0 = Monday): the first such day of each month.
    pub test_weekday: u8,
}

/// One enterprise of the park and its energy model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimEnterprise {
    /// Enterprise id, `e-0001` …
    pub id: String,
    /// A synthetic company name.
    pub name: String,
    /// What it makes.
    pub sector: Sector,
    /// Electric load model.
    pub load: LoadShape,
    /// Rooftop PV, if any.
    pub pv: Option<PvArray>,
    /// Natural gas use (m3), if any.
    pub gas: Option<FuelUse>,
    /// Purchased steam use (t), if any.
    pub steam: Option<FuelUse>,
    /// Diesel backup generator, if any.
    pub diesel: Option<BackupGenerator>,
}

/// Place names around Fuzhou, for synthetic company names.
const PLACES: [&str; 16] = [
    "Minjiang",
    "Rongcheng",
    "Haixi",
    "Mawei",
    "Qishan",
    "Wuyi",
    "Jinshan",
    "Nanyu",
    "Langqi",
    "Cangshan",
    "Taijiang",
    "Gushan",
    "Fuqing",
    "Changle",
    "Minhou",
    "Lianjiang",
];

/// Share of enterprises with rooftop PV.
pub const PV_SHARE: f64 = 0.6;
/// Share of enterprises with a diesel backup generator.
const DIESEL_SHARE: f64 = 0.15;

/// Generates enterprise `index` (0-based) of the park. Each enterprise draws from its own
/// random stream, so enterprise 3 is the same in a park of 5 and a park of 50.
pub fn enterprise(seed: u64, index: usize) -> SimEnterprise {
    let id = format!("e-{:04}", index + 1);
    let mut rng: ChaCha8Rng = stream(seed, &[b"enterprise", id.as_bytes()]);

    let total: u32 = Sector::ALL.iter().map(|s| s.traits().weight).sum();
    let mut pick = rng.gen_range(0..total);
    let mut sector = Sector::CncMachineTools;
    for s in Sector::ALL {
        let w = s.traits().weight;
        if pick < w {
            sector = s;
            break;
        }
        pick -= w;
    }
    let traits = sector.traits();
    let shift = traits.shifts[rng.gen_range(0..traits.shifts.len())];

    // Peak load log-uniform between 200 kW and 5 MW, rounded to 10 kW.
    let peak_kw = (200.0 * 25f64.powf(rng.gen::<f64>()) / 10.0).round() * 10.0;
    let (base_fraction, saturday, sunday) = match shift {
        ShiftPattern::DayShift => (
            rng.gen_range(0.10..0.22),
            rng.gen_range(0.0..0.7),
            rng.gen_range(0.0..0.08),
        ),
        ShiftPattern::ExtendedDay => (
            rng.gen_range(0.12..0.25),
            rng.gen_range(0.4..0.9),
            rng.gen_range(0.03..0.15),
        ),
        ShiftPattern::TwoShift => (
            rng.gen_range(0.15..0.30),
            rng.gen_range(0.5..0.9),
            rng.gen_range(0.05..0.2),
        ),
        ShiftPattern::ThreeShift => (
            rng.gen_range(0.40..0.55),
            rng.gen_range(0.85..1.0),
            rng.gen_range(0.6..0.9),
        ),
    };
    let load = LoadShape {
        shift,
        peak_kw,
        base_fraction,
        cooling_fraction: rng.gen_range(0.05..0.15),
        saturday,
        sunday,
        start_offset_h: f64::from(rng.gen_range(-2i32..=2)) * 0.25,
        noise: rng.gen_range(0.03..0.06),
    };

    // PV on a golden-ratio (low-discrepancy) sequence, so that any run of enterprises has
    // very nearly PV_SHARE of them with PV: the share does not wobble with the park size.
    let offset = stream(seed, &[b"pv-offset"]).gen::<f64>();
    let has_pv = (offset + index as f64 * 0.618_033_988_749_895).fract() < PV_SHARE;
    let pv_draw: f64 = rng.gen_range(0.3..0.9);
    let pv = has_pv.then(|| PvArray {
        kwp: ((peak_kw * pv_draw).clamp(100.0, 2000.0) / 10.0).round() * 10.0,
        performance_ratio: rng.gen_range(0.78..0.84),
        dc_ac_ratio: 1.15,
    });

    let gas_draw: f64 = rng.gen();
    let gas = (gas_draw < traits.gas).then(|| FuelUse {
        peak_per_hour: (peak_kw * rng.gen_range(traits.gas_per_kw.0..traits.gas_per_kw.1)).max(5.0),
        base_fraction: rng.gen_range(traits.gas_base.0..traits.gas_base.1),
    });
    let steam_draw: f64 = rng.gen();
    let steam = (steam_draw < traits.steam).then(|| FuelUse {
        // 0.8–2 kg/h of steam per kW of electric peak: a 1 MW plant buys ~1–2 t/h.
        peak_per_hour: peak_kw * rng.gen_range(0.0008..0.002),
        base_fraction: rng.gen_range(0.05..0.15),
    });
    let diesel_draw: f64 = rng.gen();
    let diesel = (diesel_draw < DIESEL_SHARE).then(|| BackupGenerator {
        kw: ((peak_kw * rng.gen_range(0.3..0.6)) / 50.0).ceil().max(1.0) * 50.0,
        test_weekday: rng.gen_range(0..5),
    });

    let place = PLACES[rng.gen_range(0..PLACES.len())];
    let name = format!("{place} {} Co., Ltd.", title_case(sector.name()));
    SimEnterprise {
        id,
        name,
        sector,
        load,
        pv,
        gas,
        steam,
        diesel,
    }
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            if w == "and" || w.chars().all(|c| c.is_ascii_uppercase()) {
                w.to_string()
            } else {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Specific fuel use of a diesel set at part load, L per kWh (mid-size sets use ~0.27 L/kWh
/// at full load and ~0.3–0.35 L/kWh at 40–50% load; manufacturers' fuel tables).
pub const DIESEL_L_PER_KWH_PART_LOAD: f64 = 0.32;
/// Full-load fuel use used for the diesel meter's rated capacity, L per kWh (with headroom).
pub const DIESEL_L_PER_KWH_RATED: f64 = 0.30;
/// Load of the generator during its monthly test, as a share of its rating.
const DIESEL_TEST_LOAD: f64 = 0.4;

/// One local day of an enterprise, per local quarter-hour slot, as physical amounts per slot
/// (kWh of load and PV, m3 of gas, t of steam, L of diesel). Not yet clamped or rounded.
pub struct LocalDay {
    pub load_kwh: [f64; SLOTS],
    pub pv_kwh: [f64; SLOTS],
    pub gas_m3: [f64; SLOTS],
    pub steam_t: [f64; SLOTS],
    pub diesel_l: [f64; SLOTS],
}

/// AR(1) noise with standard deviation `sd` and lag-1 correlation `phi`, one value per slot.
fn ar1(rng: &mut ChaCha8Rng, sd: f64, phi: f64) -> [f64; SLOTS] {
    let mut out = [0.0; SLOTS];
    let mut e = sd * normal(rng);
    let innovation = sd * (1.0 - phi * phi).sqrt();
    for v in &mut out {
        *v = e;
        e = phi * e + innovation * normal(rng);
    }
    out
}

/// Computes local day `n` (days since 1970-01-01 in Asia/Shanghai) of enterprise `e`.
/// A pure function of `(seed, e, n)`.
pub fn local_day(seed: u64, e: &SimEnterprise, n: i64) -> LocalDay {
    let id = e.id.as_bytes();
    let day = n.to_le_bytes();
    let doy = day_of_year(n);
    let shape = &e.load;

    // Weekly and holiday pattern, and the day's order-book factor.
    let mut day_rng = stream(seed, &[b"day", id, &day]);
    let week = if is_holiday(n) {
        if shape.shift == ShiftPattern::ThreeShift {
            0.3
        } else {
            0.02
        }
    } else {
        match weekday(n) {
            5 => shape.saturday,
            6 => shape.sunday,
            _ => 1.0,
        }
    };
    let day_factor = (1.0 + 0.06 * normal(&mut day_rng)).clamp(0.8, 1.15);
    // Cooling season weight: peaks in late July, zero from late October to mid April.
    let summer = (2.0 * std::f64::consts::PI * (f64::from(doy) - 205.0) / 365.0)
        .cos()
        .max(0.0);

    let load_noise = ar1(&mut stream(seed, &[b"load", id, &day]), shape.noise, 0.7);
    let fuel_noise = ar1(&mut stream(seed, &[b"fuel", id, &day]), 0.05, 0.6);

    let mut out = LocalDay {
        load_kwh: [0.0; SLOTS],
        pv_kwh: [0.0; SLOTS],
        gas_m3: [0.0; SLOTS],
        steam_t: [0.0; SLOTS],
        diesel_l: [0.0; SLOTS],
    };
    let mut production = [0.0; SLOTS];
    for (slot, p) in production.iter_mut().enumerate() {
        let h = (slot as f64 + 0.5) * 0.25 - shape.start_offset_h;
        *p = shape.shift.level(h) * week * day_factor;
    }

    for slot in 0..SLOTS {
        let prod = production[slot];
        let occupied = prod.min(1.0);
        let cooling = shape.cooling_fraction * summer * (0.35 + 0.65 * occupied);
        let relative = shape.base_fraction
            + (1.0 - shape.base_fraction - shape.cooling_fraction) * prod
            + cooling;
        let kw = shape.peak_kw * relative * (1.0 + load_noise[slot]).clamp(0.6, 1.4);
        out.load_kwh[slot] = kw * 0.25;

        for (fuel, series) in [(&e.gas, &mut out.gas_m3), (&e.steam, &mut out.steam_t)] {
            if let Some(f) = fuel {
                let per_hour = f.peak_per_hour
                    * (f.base_fraction + (1.0 - f.base_fraction) * prod)
                    * (1.0 + fuel_noise[slot]).clamp(0.7, 1.3);
                series[slot] = per_hour * 0.25;
            }
        }
    }

    if let Some(pv) = &e.pv {
        let sky = weather(seed, n);
        let mut pv_rng = stream(seed, &[b"pv", id, &day]);
        let ac_limit_kw = pv.kwp / pv.dc_ac_ratio;
        for slot in 0..SLOTS {
            // Average irradiance over the quarter-hour from three samples (minutes 2.5, 7.5,
            // 12.5), so sunrise and sunset slots get partial energy.
            let start_min = slot as f64 * 15.0;
            let ghi = [2.5, 7.5, 12.5]
                .iter()
                .map(|m| clear_sky_ghi(cos_zenith(doy, start_min + m)))
                .sum::<f64>()
                / 3.0;
            // Roofs a few hundred metres apart see slightly different cloud shadows.
            let local = (1.0 + 0.03 * normal(&mut pv_rng)).max(0.0);
            let kw =
                (pv.kwp * pv.performance_ratio * ghi / 1000.0 * sky.clear_sky_index[slot] * local)
                    .min(ac_limit_kw);
            out.pv_kwh[slot] = kw * 0.25;
        }
    }

    if let Some(gen) = &e.diesel {
        // NFPA 110 §8.4.2 asks for a monthly exercise of at least 30 minutes; here on the
        // first `test_weekday` of each month, 10:00–10:30 local, on a load bank (so the
        // generator's output does not feed the site and the electricity balance is unchanged).
        if civil_from_days(n).day <= 7 && weekday(n) == gen.test_weekday {
            let mut rng = stream(seed, &[b"diesel", id, &day]);
            for slot in [40, 41] {
                let litres_per_hour = gen.kw * DIESEL_TEST_LOAD * DIESEL_L_PER_KWH_PART_LOAD;
                out.diesel_l[slot] =
                    litres_per_hour * 0.25 * (1.0 + 0.05 * normal(&mut rng)).clamp(0.85, 1.15);
            }
        }
    }
    out
}
