//! tanji-simulator: a deterministic generator of a **synthetic** industrial park's metered
//! energy data, emitted as the signed device uploads real collection devices would send.
//!
//! It is pure: no IO, no clock, no global state. A [`ParkSpec`] (seed, number of enterprises,
//! first day, number of days) fully determines the [`Park`], its device keys, its
//! [`registrations`](Park::registrations) and every byte of its [`uploads`](Park::uploads).
//! It is what `tanji simulate` and `tanji demo` feed the system with; it is not a forecast
//! model, not calibrated to any real enterprise, and nothing it prints is a measurement.
//!
//! # The park
//! A smart-equipment park near Fuzhou, Fujian (26.0°N, 119.3°E; clock Asia/Shanghai, UTC+8,
//! no DST). Each enterprise ([`SimEnterprise`]) has a sector ([`Sector`]: machine tools,
//! robots, switchgear, castings, heat treatment, coating, electronics, …), one collection
//! device (`d-0001`, …) with its own Ed25519 key, and meters (`m-0001-grid`, …):
//!
//! | meter | carrier | unit | who has it |
//! |---|---|---|---|
//! | `m-NNNN-grid` | `electricity_import` | kWh | everyone |
//! | `m-NNNN-export` | `electricity_export` | kWh | sites with PV |
//! | `m-NNNN-pv` | `pv_generation` | kWh | ~60% of sites ([`PV_SHARE`]) |
//! | `m-NNNN-gas` | `natural_gas` | m3 | ~50%, by sector (furnaces, ovens, boilers) |
//! | `m-NNNN-steam` | `steam` | t | a few (coating pretreatment, battery drying) |
//! | `m-NNNN-diesel` | `diesel` | L | ~15% (backup generators) |
//!
//! All values are 15-minute amounts with 3 decimals (Wh, L of gas, kg of steam, mL of diesel).
//! Each device signs one upload per UTC day: 96 values per channel, `seq` 1, 2, … and a
//! correct `prev` hash chain.
//!
//! # The model (synthetic; where the numbers come from)
//! - **Load.** Peak load log-uniform over 200 kW–5 MW. Production follows a shift pattern
//!   ([`ShiftPattern`]): a day shift (07:30–17:45), a long day (to 20:15), two shifts (to
//!   23:45, lighter evening) or three shifts (near flat), with 45-minute ramps, a lunch dip and
//!   dips at shift changes, each site shifted by up to ±30 min. Load =
//!   peak × (base + (1 − base − cooling) × production + cooling × summer × occupancy) ×
//!   (1 + AR(1) noise, σ 3–6%). Base load is 10–30% of peak for one- and two-shift sites and
//!   40–55% for three-shift sites. Saturdays run at 0–90% of a weekday depending on the
//!   site (85–100% for three-shift sites), Sundays at 0–20% (60–90%); the Spring Festival
//!   (eve to 6th day), Labour Day (1–5 May) and National Day (1–7 Oct) close factories. A
//!   daily order-book factor (σ 6%) moves whole days. Air conditioning (5–15% of peak)
//!   follows a cosine cooling season peaking in late July, zero from late October to mid
//!   April.
//! - **Rooftop PV** on ~60% of sites, 0.3–0.9 kWp per kW of peak load, clamped to 100 kWp–2
//!   MWp. Solar position from Spencer's (1971) declination and equation of time; clear-sky
//!   irradiance from the Haurwitz (1945) model; AC = kWp × PR (0.78–0.84) × GHI/1000 ×
//!   clear-sky index, clipped at DC/AC 1.15. Each day is clear (index 0.84–0.97), broken
//!   (sun and cloud shadow alternating every ~45 min) or overcast (0.08–0.3), with monthly odds
//!   shaped after Fuzhou's wet spring and sunny autumn. The mix is calibrated so a system
//!   yields about 1,100–1,200 kWh/kWp a year, the typical range for rooftop PV in Fujian
//!   (horizontal irradiation there is about 1,300–1,500 kWh/m² a year; see Solargis / the
//!   Global Solar Atlas). Zero with the sun below the horizon.
//! - **Meters.** Grid import = max(load − PV, 0), export = max(PV − load, 0), so
//!   `load = import + PV − export` holds exactly in every interval (after rounding to Wh).
//! - **Gas** follows production above a base (furnaces held at temperature: 40–60% base for
//!   castings and heat treatment, 2–20% elsewhere), 5–300 m3/h per MW of electric peak by
//!   sector (natural gas ≈ 9.9 kWh/m3, so 0.05–3 MW of fuel per MW of electric peak).
//!   **Steam** likewise (0.8–2 t/h per MW). **Diesel** sets (0.3–0.6 × peak) run
//!   30 minutes a month on a load bank (NFPA 110 §8.4.2 monthly exercise) at 40% load,
//!   0.32 L/kWh.
//! - **Capacities.** Registered rated capacity is 1.6 × peak for the grid meter (load is
//!   clamped at 1.45 × peak), kWp for PV and export, 1.5 × peak use for gas and steam and
//!   0.30 L/kWh × rating for diesel; values are clamped to it, so none exceeds what the
//!   validator allows.
//!
//! # Faults
//! A clean simulation has no meter faults. [`Park::faults`] injects them on request
//! ([`Fault::FlatLine`]: a register stuck at one value for a span); the uploads then carry
//! the faulty values, signed and chained as usual. `tanji demo` injects one so the
//! dashboard's anomaly detection has something real to find.
//!
//! # Determinism
//! Every random draw comes from a ChaCha8 stream keyed by SHA-256 of the seed and what it
//! describes (enterprise id, local day): the same seed gives byte-identical uploads, a day's
//! values do not depend on the park's first day, and enterprise 3 is the same whatever the
//! number of enterprises. Device keys are SHA-256 of the seed and device id. Floating-point
//! maths uses `std`'s `sin`/`cos`/`exp`/`ln`, which may differ in the last bit between
//! platforms' math libraries; values are rounded to 0.001 unit, so an output difference
//! would need a value to sit within ~1e-13 of a rounding boundary.

mod calendar;
pub mod grid;
mod profile;
mod seed;
mod solar;

use ed25519_dalek::SigningKey;
use tanji_readings::{
    Channel, DeviceRegistration, Hash, PublicKey, SignedUpload, UploadBody, ZERO_HASH,
};
use tanji_units::time::{local_day, local_second, DAY_S, PARK_UTC_OFFSET_S};
use tanji_units::{Carrier, Unit};

pub use profile::{
    BackupGenerator, FuelUse, LoadShape, PvArray, Sector, ShiftPattern, SimEnterprise, PV_SHARE,
};
pub use solar::{LATITUDE_DEG, LONGITUDE_DEG};

/// Interval length of every channel, seconds (15 minutes).
pub const INTERVAL_S: u32 = 900;
/// Intervals per UTC day.
pub const INTERVALS_PER_DAY: usize = 96;
/// Decimals of every channel's values.
pub const DECIMALS: u8 = 3;

/// What park to simulate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ParkSpec {
    /// Seed of every random choice and every device key.
    pub seed: u64,
    /// Number of enterprises (about 20 for a realistic park).
    pub enterprises: usize,
    /// First simulated day, Unix seconds of a UTC midnight ([`Park::generate`] rounds down to one).
    pub start_day: i64,
    /// Number of UTC days to simulate.
    pub days: u32,
}

/// What a meter measures, which decides its carrier, unit and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterRole {
    /// Electricity imported from the grid, kWh.
    GridImport,
    /// Electricity exported to the grid, kWh.
    GridExport,
    /// Rooftop PV generation (AC, at the inverter), kWh.
    PvGeneration,
    /// Natural gas, m3.
    NaturalGas,
    /// Purchased steam, t.
    Steam,
    /// Diesel for the backup generator, L.
    Diesel,
}

impl MeterRole {
    /// The meter's carrier.
    pub const fn carrier(self) -> Carrier {
        match self {
            MeterRole::GridImport => Carrier::ElectricityImport,
            MeterRole::GridExport => Carrier::ElectricityExport,
            MeterRole::PvGeneration => Carrier::PvGeneration,
            MeterRole::NaturalGas => Carrier::NaturalGas,
            MeterRole::Steam => Carrier::Steam,
            MeterRole::Diesel => Carrier::Diesel,
        }
    }

    /// The meter's unit.
    pub const fn unit(self) -> Unit {
        match self {
            MeterRole::GridImport | MeterRole::GridExport | MeterRole::PvGeneration => Unit::KWh,
            MeterRole::NaturalGas => Unit::M3,
            MeterRole::Steam => Unit::T,
            MeterRole::Diesel => Unit::L,
        }
    }

    /// Suffix of the meter id, e.g. `grid` in `m-0001-grid`.
    pub const fn suffix(self) -> &'static str {
        match self {
            MeterRole::GridImport => "grid",
            MeterRole::GridExport => "export",
            MeterRole::PvGeneration => "pv",
            MeterRole::NaturalGas => "gas",
            MeterRole::Steam => "steam",
            MeterRole::Diesel => "diesel",
        }
    }
}

/// One meter read by a simulated device.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct SimMeter {
    /// Meter id, e.g. `m-0001-grid`.
    pub meter: String,
    /// What it measures.
    pub role: MeterRole,
    /// Carrier code, e.g. `electricity_import`.
    pub carrier: &'static str,
    /// Unit code, e.g. `kWh`.
    pub unit: &'static str,
    /// Decimals of its values (always [`DECIMALS`]).
    pub decimals: u8,
    /// Registered rated capacity per hour in `unit`, ×1000.
    pub rated_per_hour_milli: i64,
}

impl SimMeter {
    /// The largest value (fixed-point, [`DECIMALS`]) one interval of this meter may carry.
    pub fn interval_cap(&self) -> i64 {
        self.rated_per_hour_milli * i64::from(INTERVAL_S) / 3600
    }
}

/// A collection device: one per enterprise, reading all of its meters.
#[derive(Clone, Debug)]
pub struct SimDevice {
    /// Device id, e.g. `d-0001`.
    pub device: String,
    /// Enterprise id, e.g. `e-0001`.
    pub enterprise: String,
    /// The device's signing key, derived from the park seed and the device id.
    pub key: SigningKey,
    /// Its meters, in channel order: grid, export, pv, gas, steam, diesel (those it has).
    pub meters: Vec<SimMeter>,
}

/// A simulated park: its enterprises and their devices (index `i` of one is index `i` of the
/// other).
#[derive(Clone, Debug)]
pub struct Park {
    /// What was asked for (with `start_day` rounded down to a UTC midnight).
    pub spec: ParkSpec,
    /// The enterprises and their energy models.
    pub enterprises: Vec<SimEnterprise>,
    /// One collection device per enterprise.
    pub devices: Vec<SimDevice>,
    /// Meter faults injected into the values (none unless the caller adds some).
    pub faults: Vec<Fault>,
}

/// A meter fault injected into the simulated values, so anomaly detection has something real
/// to find. The uploads carry the faulty values, signed and chained like any others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The meter's register sticks: every interval in `[start, end)` (Unix seconds) reads
    /// the value of the interval containing `start`, as if nothing changed.
    FlatLine {
        /// Meter id (`m-0003-grid`).
        meter: String,
        /// First interval stuck (its value is the one repeated).
        start: i64,
        /// End of the stuck run (exclusive).
        end: i64,
    },
}

impl Fault {
    /// The one meter fault `tanji demo` injects, so that anomaly detection finds something
    /// real: the first enterprise's grid meter stuck at one value for five hours of its last
    /// night (00:00–05:00 park time, 16:00–21:00 UTC, on the last simulated UTC day), when the
    /// factory's base load is well above the flat-line rule's floor.
    pub fn demo(spec: &ParkSpec) -> Fault {
        let last_day = spec.start_day.div_euclid(DAY_S) + i64::from(spec.days.saturating_sub(1));
        // The local midnight that ends the last UTC day's local date.
        let start = tanji_units::time::local_day_start(last_day + 1, PARK_UTC_OFFSET_S);
        Fault::FlatLine {
            meter: "m-0001-grid".into(),
            start,
            end: start + 5 * tanji_units::time::HOUR_S,
        }
    }
}

/// The exact values of one enterprise's meters over one UTC day, with the site load they
/// come from: the ground truth behind an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayValues {
    /// Start of the first interval, Unix seconds (a UTC midnight).
    pub start: i64,
    /// Site electricity consumption per interval, Wh (kWh with 3 decimals). Not metered
    /// directly: it equals import + PV − export.
    pub site_load: Vec<i64>,
    /// Values per meter, in the order of [`SimDevice::meters`], fixed-point with [`DECIMALS`].
    pub meters: Vec<Vec<i64>>,
}

/// Clamp multiple of peak for the site load (below the grid meter's 1.6 × peak rating).
const LOAD_CEILING: f64 = 1.45;
/// Grid connection rating as a multiple of peak load.
const GRID_RATING: f64 = 1.6;
/// Gas and steam meter rating as a multiple of peak use.
const FUEL_RATING: f64 = 1.5;

fn milli(x: f64) -> i64 {
    // Saturating float-to-int conversion; inputs are small, finite and non-negative.
    (x * 1000.0).round() as i64
}

fn to_fixed(amount: f64, cap: i64) -> i64 {
    milli(amount).clamp(0, cap)
}

impl Park {
    /// Builds the park: `spec.enterprises` enterprises, each with one device and its meters.
    pub fn generate(spec: ParkSpec) -> Park {
        let spec = ParkSpec {
            start_day: spec.start_day.div_euclid(DAY_S) * DAY_S,
            ..spec
        };
        let enterprises: Vec<SimEnterprise> = (0..spec.enterprises)
            .map(|i| profile::enterprise(spec.seed, i))
            .collect();
        let devices = enterprises
            .iter()
            .enumerate()
            .map(|(i, e)| device_for(spec.seed, i, e))
            .collect();
        Park {
            spec,
            enterprises,
            devices,
            faults: Vec::new(),
        }
    }

    /// One registration per meter, binding the device key to it, all made at `registered_at`.
    /// Ordered by device, then meter.
    pub fn registrations(&self, registered_at: i64) -> Vec<DeviceRegistration> {
        self.devices
            .iter()
            .flat_map(|d| {
                let public_key = PublicKey::Ed25519(d.key.verifying_key().to_bytes());
                d.meters.iter().map(move |m| DeviceRegistration {
                    device: d.device.clone(),
                    public_key,
                    enterprise: d.enterprise.clone(),
                    meter: m.meter.clone(),
                    carrier: m.carrier.to_string(),
                    unit: m.unit.to_string(),
                    rated_per_hour_milli: m.rated_per_hour_milli,
                    registered_at,
                })
            })
            .collect()
    }

    /// Start of UTC day `day` (0-based) of the simulation, Unix seconds.
    pub fn day_start(&self, day: u32) -> i64 {
        self.spec.start_day + i64::from(day) * DAY_S
    }

    /// The values of enterprise `enterprise`'s meters on simulated UTC day `day`, or `None`
    /// if either is out of range. Interval `i` covers `[start + 900·i, start + 900·(i+1))`.
    /// Values include the park's [`faults`](Park::faults).
    pub fn day_values(&self, enterprise: usize, day: u32) -> Option<DayValues> {
        if day >= self.spec.days {
            return None;
        }
        let mut values = self.clean_day(enterprise, self.day_start(day))?;
        let device = self.devices.get(enterprise)?;
        for fault in &self.faults {
            let Fault::FlatLine { meter, start, end } = fault;
            let Some(k) = device.meters.iter().position(|m| &m.meter == meter) else {
                continue;
            };
            let step = i64::from(INTERVAL_S);
            let first = start.div_euclid(step) * step;
            if *end <= values.start || first >= values.start + DAY_S {
                continue;
            }
            // The value the meter read when it stuck (on this day or an earlier one).
            let day_of_first = first.div_euclid(DAY_S) * DAY_S;
            let slot = usize::try_from((first - day_of_first) / step).unwrap_or(0);
            let stuck = if day_of_first == values.start {
                values.meters.get(k).and_then(|m| m.get(slot)).copied()
            } else {
                self.clean_day(enterprise, day_of_first)
                    .and_then(|d| d.meters.get(k).and_then(|m| m.get(slot)).copied())
            };
            let (Some(stuck), Some(series)) = (stuck, values.meters.get_mut(k)) else {
                continue;
            };
            for (i, v) in series.iter_mut().enumerate() {
                let t = values.start + i as i64 * step;
                if t >= first && t < *end {
                    *v = stuck;
                }
            }
        }
        Some(values)
    }

    /// The values of enterprise `enterprise`'s meters on the UTC day starting at `start`,
    /// without faults.
    fn clean_day(&self, enterprise: usize, start: i64) -> Option<DayValues> {
        let e = self.enterprises.get(enterprise)?;
        let device = self.devices.get(enterprise)?;

        // A UTC day spans two local days (08:00 to 08:00 next morning); compute each once.
        let mut local: Vec<(i64, profile::LocalDay)> = Vec::with_capacity(2);
        let mut load_kwh = [0.0; INTERVALS_PER_DAY];
        let mut pv_kwh = [0.0; INTERVALS_PER_DAY];
        let mut gas = [0.0; INTERVALS_PER_DAY];
        let mut steam = [0.0; INTERVALS_PER_DAY];
        let mut diesel = [0.0; INTERVALS_PER_DAY];
        for i in 0..INTERVALS_PER_DAY {
            let t = start + i as i64 * i64::from(INTERVAL_S);
            let (n, second) = (
                local_day(t, PARK_UTC_OFFSET_S),
                local_second(t, PARK_UTC_OFFSET_S),
            );
            let slot = usize::try_from(second / i64::from(INTERVAL_S)).unwrap_or(0);
            let pos = match local.iter().position(|(m, _)| *m == n) {
                Some(p) => p,
                None => {
                    local.push((n, profile::local_day(self.spec.seed, e, n)));
                    local.len() - 1
                }
            };
            let d = &local[pos].1;
            load_kwh[i] = d.load_kwh[slot];
            pv_kwh[i] = d.pv_kwh[slot];
            gas[i] = d.gas_m3[slot];
            steam[i] = d.steam_t[slot];
            diesel[i] = d.diesel_l[slot];
        }

        let cap = |role: MeterRole| {
            device
                .meters
                .iter()
                .find(|m| m.role == role)
                .map_or(0, SimMeter::interval_cap)
        };
        let load_cap = milli(e.load.peak_kw * LOAD_CEILING * 0.25).min(cap(MeterRole::GridImport));
        let pv_cap = cap(MeterRole::PvGeneration).min(cap(MeterRole::GridExport));
        let site_load: Vec<i64> = load_kwh.iter().map(|&x| to_fixed(x, load_cap)).collect();
        let pv: Vec<i64> = pv_kwh.iter().map(|&x| to_fixed(x, pv_cap)).collect();

        let meters = device
            .meters
            .iter()
            .map(|m| match m.role {
                MeterRole::GridImport => site_load
                    .iter()
                    .zip(&pv)
                    .map(|(l, p)| (l - p).max(0))
                    .collect(),
                MeterRole::GridExport => site_load
                    .iter()
                    .zip(&pv)
                    .map(|(l, p)| (p - l).max(0))
                    .collect(),
                MeterRole::PvGeneration => pv.clone(),
                MeterRole::NaturalGas => {
                    gas.iter().map(|&x| to_fixed(x, m.interval_cap())).collect()
                }
                MeterRole::Steam => steam
                    .iter()
                    .map(|&x| to_fixed(x, m.interval_cap()))
                    .collect(),
                MeterRole::Diesel => diesel
                    .iter()
                    .map(|&x| to_fixed(x, m.interval_cap()))
                    .collect(),
            })
            .collect();
        Some(DayValues {
            start,
            site_load,
            meters,
        })
    }

    /// The upload body device `device` would sign for day `day` (not signed, `seq` and `prev`
    /// as given).
    fn body(&self, device: usize, day: u32, prev: Hash) -> Option<UploadBody> {
        let values = self.day_values(device, day)?;
        let d = self.devices.get(device)?;
        let start = values.start;
        let channels = d
            .meters
            .iter()
            .zip(values.meters)
            .map(|(m, values)| Channel {
                meter: m.meter.clone(),
                carrier: m.carrier.to_string(),
                unit: m.unit.to_string(),
                decimals: m.decimals,
                start,
                interval_s: INTERVAL_S,
                values,
            })
            .collect();
        Some(UploadBody {
            device: d.device.clone(),
            seq: u64::from(day) + 1,
            prev,
            channels,
        })
    }

    /// All uploads, one per device per UTC day (96 quarter-hour values per channel), ordered
    /// by day then device; each device's `seq` runs 1, 2, … with `prev` = the record hash of
    /// its previous upload (zeros for seq 1). Generated lazily, one upload at a time.
    pub fn uploads(&self) -> Uploads<'_> {
        Uploads {
            park: self,
            day: 0,
            device: 0,
            prev: vec![ZERO_HASH; self.devices.len()],
            buf: Vec::new(),
        }
    }
}

/// Builds enterprise `index`'s device and meters.
fn device_for(seed: u64, index: usize, e: &SimEnterprise) -> SimDevice {
    let n = index + 1;
    let device = format!("d-{n:04}");
    let key = SigningKey::from_bytes(&seed::derive(seed, &[b"device-key", device.as_bytes()]));
    let meter = |role: MeterRole, rated_per_hour: f64| SimMeter {
        meter: format!("m-{n:04}-{}", role.suffix()),
        role,
        carrier: role.carrier().code(),
        unit: role.unit().code(),
        decimals: DECIMALS,
        // Round up so the rating never falls below the model's own ceiling.
        rated_per_hour_milli: (rated_per_hour * 1000.0).ceil().max(1.0) as i64,
    };
    let mut meters = vec![meter(MeterRole::GridImport, e.load.peak_kw * GRID_RATING)];
    if let Some(pv) = &e.pv {
        meters.push(meter(MeterRole::GridExport, pv.kwp));
        meters.push(meter(MeterRole::PvGeneration, pv.kwp));
    }
    if let Some(gas) = &e.gas {
        meters.push(meter(
            MeterRole::NaturalGas,
            gas.peak_per_hour * FUEL_RATING,
        ));
    }
    if let Some(steam) = &e.steam {
        meters.push(meter(MeterRole::Steam, steam.peak_per_hour * FUEL_RATING));
    }
    if let Some(gen) = &e.diesel {
        meters.push(meter(
            MeterRole::Diesel,
            gen.kw * profile::DIESEL_L_PER_KWH_RATED,
        ));
    }
    SimDevice {
        device,
        enterprise: e.id.clone(),
        key,
        meters,
    }
}

/// Iterator over a park's signed uploads; see [`Park::uploads`].
#[derive(Debug)]
pub struct Uploads<'a> {
    park: &'a Park,
    day: u32,
    device: usize,
    prev: Vec<Hash>,
    /// The signing core's output buffer, reused for every record.
    buf: Vec<u8>,
}

impl Iterator for Uploads<'_> {
    type Item = SignedUpload;

    fn next(&mut self) -> Option<SignedUpload> {
        if self.park.devices.is_empty() {
            return None;
        }
        let prev = *self.prev.get(self.device)?;
        let body = self.park.body(self.device, self.day, prev)?;
        let key = &self.park.devices.get(self.device)?.key;
        // Signed as a device's firmware signs: the core encodes into a buffer, signs it and
        // hashes the record for the next `prev`.
        let view = body.as_ref();
        self.buf.resize(tanji_device::signed_len(&view), 0);
        let signed = match tanji_device::sign_into(&view, key, &mut self.buf) {
            Ok(s) => s,
            // The simulator makes its own ids (`d-0001`, `m-…`), at most a day of quarter
            // hours per channel and a few meters per device: always inside the format's limits,
            // and Ed25519 signing cannot fail.
            Err(e) => unreachable!(
                "simulated upload of {} seq {} cannot be signed: {e}",
                body.device, body.seq
            ),
        };
        if let Some(p) = self.prev.get_mut(self.device) {
            *p = signed.record_hash;
        }
        let upload = SignedUpload {
            body,
            signature: signed.signature,
        };
        self.device += 1;
        if self.device == self.park.devices.len() {
            self.device = 0;
            self.day += 1;
        }
        Some(upload)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let devices = self.park.devices.len();
        let total = devices * self.park.spec.days as usize;
        let done = self.day as usize * devices + self.device;
        let left = total.saturating_sub(done);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Uploads<'_> {}

#[cfg(test)]
mod tests;
