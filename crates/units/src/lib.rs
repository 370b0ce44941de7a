//! Quantities, units and codes shared by every tanji crate: energy carriers, measurement units
//! with exact conversions, a fixed-point decimal type, and interval helpers.
//!
//! This crate is pure: no IO, no clock, no floats. Conversions between units are exact
//! rational factors ([`Ratio`]), so `1 MJ = 2500/9 Wh` is never rounded behind the caller's back.
//! It is not a general units library: it knows only the units that meters in an industrial park
//! report, and the carriers tanji accounts for.
//!
//! [`Carrier`] and [`Unit`] serialize (serde) as their codes.
//!
//! Timestamps everywhere in tanji are `i64` Unix seconds (UTC); intervals are half-open
//! `[start, start + interval_s)`. [`time`] is the one place that turns them into local days,
//! civil dates and RFC 3339 text, and that knows the park's zone.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

pub mod time;

/// An energy carrier a meter measures. Codes are stable snake_case strings used in the
/// canonical record encoding, JSON and the database; never renumber or rename them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Carrier {
    /// Electricity imported from the grid (`electricity_import`).
    ElectricityImport,
    /// Electricity exported to the grid (`electricity_export`).
    ElectricityExport,
    /// On-site photovoltaic generation (`pv_generation`).
    PvGeneration,
    /// Natural gas (`natural_gas`).
    NaturalGas,
    /// Diesel oil (`diesel`).
    Diesel,
    /// Gasoline / petrol (`gasoline`).
    Gasoline,
    /// Coal (`coal`).
    Coal,
    /// Liquefied petroleum gas (`lpg`).
    Lpg,
    /// Fuel oil (`fuel_oil`).
    FuelOil,
    /// Purchased steam (`steam`).
    Steam,
    /// Purchased heat / hot water (`heat`).
    Heat,
}

impl Carrier {
    /// Every carrier, in code-table order.
    pub const ALL: [Carrier; 11] = [
        Carrier::ElectricityImport,
        Carrier::ElectricityExport,
        Carrier::PvGeneration,
        Carrier::NaturalGas,
        Carrier::Diesel,
        Carrier::Gasoline,
        Carrier::Coal,
        Carrier::Lpg,
        Carrier::FuelOil,
        Carrier::Steam,
        Carrier::Heat,
    ];

    /// The stable snake_case code, e.g. `"electricity_import"`.
    pub const fn code(self) -> &'static str {
        match self {
            Carrier::ElectricityImport => "electricity_import",
            Carrier::ElectricityExport => "electricity_export",
            Carrier::PvGeneration => "pv_generation",
            Carrier::NaturalGas => "natural_gas",
            Carrier::Diesel => "diesel",
            Carrier::Gasoline => "gasoline",
            Carrier::Coal => "coal",
            Carrier::Lpg => "lpg",
            Carrier::FuelOil => "fuel_oil",
            Carrier::Steam => "steam",
            Carrier::Heat => "heat",
        }
    }

    /// Whether a meter of this carrier may report in `unit`.
    ///
    /// | carrier | units |
    /// |---|---|
    /// | electricity_import, electricity_export, pv_generation | Wh, kWh, MWh |
    /// | natural_gas | m3, MJ, GJ, kWh |
    /// | diesel, gasoline, fuel_oil | L, kg, t |
    /// | coal | kg, t |
    /// | lpg | kg, t, m3 |
    /// | steam | t, kg, GJ, MJ |
    /// | heat | GJ, MJ, kWh, MWh |
    pub const fn accepts(self, unit: Unit) -> bool {
        use Unit::*;
        match self {
            Carrier::ElectricityImport | Carrier::ElectricityExport | Carrier::PvGeneration => {
                matches!(unit, Wh | KWh | MWh)
            }
            Carrier::NaturalGas => matches!(unit, M3 | MJ | GJ | KWh),
            Carrier::Diesel | Carrier::Gasoline | Carrier::FuelOil => matches!(unit, L | Kg | T),
            Carrier::Coal => matches!(unit, Kg | T),
            Carrier::Lpg => matches!(unit, Kg | T | M3),
            Carrier::Steam => matches!(unit, T | Kg | GJ | MJ),
            Carrier::Heat => matches!(unit, GJ | MJ | KWh | MWh),
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A carrier code that tanji does not know. Carries the offending text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown carrier {0:?}; known carriers: electricity_import, electricity_export, pv_generation, natural_gas, diesel, gasoline, coal, lpg, fuel_oil, steam, heat")]
pub struct UnknownCarrier(pub String);

impl FromStr for Carrier {
    type Err = UnknownCarrier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Carrier::ALL
            .iter()
            .copied()
            .find(|c| c.code() == s)
            .ok_or_else(|| UnknownCarrier(s.to_owned()))
    }
}

/// What a unit measures. Only units of the same dimension convert into each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Energy; base unit Wh.
    Energy,
    /// Volume; base unit L.
    Volume,
    /// Mass; base unit kg.
    Mass,
}

impl Dimension {
    /// The base unit of this dimension: Wh, L or kg.
    pub const fn base(self) -> Unit {
        match self {
            Dimension::Energy => Unit::Wh,
            Dimension::Volume => Unit::L,
            Dimension::Mass => Unit::Kg,
        }
    }

    /// A lower-case noun for messages: "energy", "volume", "mass".
    pub const fn noun(self) -> &'static str {
        match self {
            Dimension::Energy => "energy",
            Dimension::Volume => "volume",
            Dimension::Mass => "mass",
        }
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// A measurement unit a meter reports in. Codes are stable and case-sensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    /// Watt-hour (`Wh`), the energy base unit.
    Wh,
    /// Kilowatt-hour (`kWh`) = 1000 Wh.
    KWh,
    /// Megawatt-hour (`MWh`) = 1 000 000 Wh.
    MWh,
    /// Megajoule (`MJ`) = 2500/9 Wh (1 Wh = 3600 J).
    MJ,
    /// Gigajoule (`GJ`) = 2 500 000/9 Wh.
    GJ,
    /// Cubic metre (`m3`) = 1000 L.
    M3,
    /// Litre (`L`), the volume base unit.
    L,
    /// Kilogram (`kg`), the mass base unit.
    Kg,
    /// Tonne (`t`) = 1000 kg.
    T,
}

/// An exact positive rational factor `num / den`, always in lowest terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ratio {
    /// Numerator (> 0).
    pub num: u64,
    /// Denominator (> 0).
    pub den: u64,
}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a
}

impl Ratio {
    /// `num / den` reduced to lowest terms. `den` must not be zero (a zero denominator is
    /// treated as 1 so the function stays total; no unit factor has one).
    pub const fn new(num: u64, den: u64) -> Ratio {
        let den = if den == 0 { 1 } else { den };
        let g = gcd(num, den);
        let g = if g == 0 { 1 } else { g };
        Ratio {
            num: num / g,
            den: den / g,
        }
    }
}

impl Unit {
    /// Every unit, in code-table order.
    pub const ALL: [Unit; 9] = [
        Unit::Wh,
        Unit::KWh,
        Unit::MWh,
        Unit::MJ,
        Unit::GJ,
        Unit::M3,
        Unit::L,
        Unit::Kg,
        Unit::T,
    ];

    /// The stable code, e.g. `"kWh"`, `"m3"`.
    pub const fn code(self) -> &'static str {
        match self {
            Unit::Wh => "Wh",
            Unit::KWh => "kWh",
            Unit::MWh => "MWh",
            Unit::MJ => "MJ",
            Unit::GJ => "GJ",
            Unit::M3 => "m3",
            Unit::L => "L",
            Unit::Kg => "kg",
            Unit::T => "t",
        }
    }

    /// What this unit measures.
    pub const fn dimension(self) -> Dimension {
        match self {
            Unit::Wh | Unit::KWh | Unit::MWh | Unit::MJ | Unit::GJ => Dimension::Energy,
            Unit::M3 | Unit::L => Dimension::Volume,
            Unit::Kg | Unit::T => Dimension::Mass,
        }
    }

    /// The exact factor from this unit to the base unit of its dimension
    /// (Wh, L or kg): `1 self = num/den base`. E.g. MJ → `2500/9` (Wh).
    pub const fn to_base(self) -> Ratio {
        match self {
            Unit::Wh | Unit::L | Unit::Kg => Ratio { num: 1, den: 1 },
            Unit::KWh | Unit::M3 | Unit::T => Ratio { num: 1000, den: 1 },
            Unit::MWh => Ratio {
                num: 1_000_000,
                den: 1,
            },
            Unit::MJ => Ratio { num: 2500, den: 9 },
            Unit::GJ => Ratio {
                num: 2_500_000,
                den: 9,
            },
        }
    }

    /// The exact factor from `self` to `to` (`1 self = num/den to`), or `None` if the units
    /// have different dimensions.
    pub const fn factor_to(self, to: Unit) -> Option<Ratio> {
        if !matches!(
            (self.dimension(), to.dimension()),
            (Dimension::Energy, Dimension::Energy)
                | (Dimension::Volume, Dimension::Volume)
                | (Dimension::Mass, Dimension::Mass)
        ) {
            return None;
        }
        let a = self.to_base();
        let b = to.to_base();
        // (a.num/a.den) / (b.num/b.den); all factors are < 2^32 so the products fit.
        Some(Ratio::new(a.num * b.den, a.den * b.num))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A unit code that tanji does not know. Carries the offending text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit {0:?}; known units (case-sensitive): Wh, kWh, MWh, MJ, GJ, m3, L, kg, t")]
pub struct UnknownUnit(pub String);

impl FromStr for Unit {
    type Err = UnknownUnit;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Unit::ALL
            .iter()
            .copied()
            .find(|u| u.code() == s)
            .ok_or_else(|| UnknownUnit(s.to_owned()))
    }
}

/// The largest number of decimals a [`Fixed`] may carry.
pub const MAX_DECIMALS: u8 = 6;

/// A fixed-point decimal: the value is `raw / 10^decimals`, with `decimals` in `0..=6`.
///
/// Equality and ordering compare the *values*, so `1.50 == 1.5`; use [`Fixed::raw`] and
/// [`Fixed::decimals`] when the representation matters (as in canonical encodings).
#[derive(Clone, Copy, Debug)]
pub struct Fixed {
    raw: i64,
    decimals: u8,
}

/// Why a [`Fixed`] could not be built, parsed or computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FixedError {
    /// More than [`MAX_DECIMALS`] decimals.
    #[error("{0} decimals is more than the maximum of 6")]
    TooManyDecimals(u8),
    /// Text that is not a plain decimal number such as `-12.345`.
    #[error("{0:?} is not a decimal number like \"-12.345\" (at most 6 decimals, no exponent)")]
    Syntax(String),
    /// The result does not fit in an `i64` raw value.
    #[error("fixed-point overflow")]
    Overflow,
}

const POW10: [i64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/// `10^decimals` for `decimals` in `0..=6`.
pub const fn pow10(decimals: u8) -> i64 {
    POW10[if decimals as usize > 6 {
        6
    } else {
        decimals as usize
    }]
}

impl Fixed {
    /// `raw / 10^decimals`. Fails if `decimals > 6`.
    pub const fn new(raw: i64, decimals: u8) -> Result<Fixed, FixedError> {
        if decimals > MAX_DECIMALS {
            return Err(FixedError::TooManyDecimals(decimals));
        }
        Ok(Fixed { raw, decimals })
    }

    /// The integer `n` with no decimals.
    pub const fn from_int(n: i64) -> Fixed {
        Fixed {
            raw: n,
            decimals: 0,
        }
    }

    /// The raw integer (value × 10^decimals).
    pub const fn raw(self) -> i64 {
        self.raw
    }

    /// The number of decimals.
    pub const fn decimals(self) -> u8 {
        self.decimals
    }

    /// Whether the value is below zero.
    pub const fn is_negative(self) -> bool {
        self.raw < 0
    }

    /// The same value with `decimals` decimals, if exact and in range
    /// (`None` if digits would be lost, on overflow, or if `decimals > 6`).
    pub fn rescale(self, decimals: u8) -> Option<Fixed> {
        if decimals > MAX_DECIMALS {
            return None;
        }
        if decimals >= self.decimals {
            let f = pow10(decimals - self.decimals);
            Some(Fixed {
                raw: self.raw.checked_mul(f)?,
                decimals,
            })
        } else {
            let f = pow10(self.decimals - decimals);
            if self.raw % f != 0 {
                return None;
            }
            Some(Fixed {
                raw: self.raw / f,
                decimals,
            })
        }
    }

    fn common(self, other: Fixed) -> Option<(i64, i64, u8)> {
        let d = self.decimals.max(other.decimals);
        Some((self.rescale(d)?.raw, other.rescale(d)?.raw, d))
    }

    /// `self + other` at the larger of the two decimals; `None` on overflow.
    pub fn checked_add(self, other: Fixed) -> Option<Fixed> {
        let (a, b, d) = self.common(other)?;
        Some(Fixed {
            raw: a.checked_add(b)?,
            decimals: d,
        })
    }

    /// `self - other` at the larger of the two decimals; `None` on overflow.
    pub fn checked_sub(self, other: Fixed) -> Option<Fixed> {
        let (a, b, d) = self.common(other)?;
        Some(Fixed {
            raw: a.checked_sub(b)?,
            decimals: d,
        })
    }

    /// `self × n`; `None` on overflow.
    pub fn checked_mul_int(self, n: i64) -> Option<Fixed> {
        Some(Fixed {
            raw: self.raw.checked_mul(n)?,
            decimals: self.decimals,
        })
    }

    /// `self × ratio`, exact, at `decimals` decimals; `None` if the exact result is not
    /// representable with `decimals` decimals or overflows. Use it with
    /// [`Unit::factor_to`]: `Fixed 1.8 (MJ) × 2500/9 = 500 Wh` is exact, `1 MJ` in Wh is not.
    pub fn checked_mul_ratio(self, ratio: Ratio, decimals: u8) -> Option<Fixed> {
        if decimals > MAX_DECIMALS || ratio.den == 0 {
            return None;
        }
        // value = raw/10^ds × num/den; raw' = value × 10^dt
        let n = i128::from(self.raw)
            .checked_mul(i128::from(ratio.num))?
            .checked_mul(i128::from(pow10(decimals)))?;
        let d = i128::from(ratio.den) * i128::from(pow10(self.decimals));
        if n % d != 0 {
            return None;
        }
        Some(Fixed {
            raw: i64::try_from(n / d).ok()?,
            decimals,
        })
    }

    /// Converts an amount in `from` to `to` exactly at `decimals` decimals; `None` if the
    /// dimensions differ or the result is not exactly representable.
    pub fn convert_exact(self, from: Unit, to: Unit, decimals: u8) -> Option<Fixed> {
        self.checked_mul_ratio(from.factor_to(to)?, decimals)
    }
}

impl PartialEq for Fixed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Fixed {}

impl PartialOrd for Fixed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fixed {
    fn cmp(&self, other: &Self) -> Ordering {
        // Scale both to 6 decimals in i128: never overflows.
        let a = i128::from(self.raw) * i128::from(pow10(MAX_DECIMALS - self.decimals));
        let b = i128::from(other.raw) * i128::from(pow10(MAX_DECIMALS - other.decimals));
        a.cmp(&b)
    }
}

impl fmt::Display for Fixed {
    /// Exactly `decimals` digits after the point: `Fixed::new(12345, 3)` → `12.345`,
    /// `Fixed::new(-5, 2)` → `-0.05`, `Fixed::new(7, 0)` → `7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.raw < 0 { "-" } else { "" };
        let abs = self.raw.unsigned_abs();
        if self.decimals == 0 {
            return write!(f, "{sign}{abs}");
        }
        let p = pow10(self.decimals).unsigned_abs();
        write!(
            f,
            "{sign}{}.{:0width$}",
            abs / p,
            abs % p,
            width = usize::from(self.decimals)
        )
    }
}

impl FromStr for Fixed {
    type Err = FixedError;
    /// Parses `[-]digits[.digits]` exactly; the number of digits after the point becomes
    /// `decimals` (so `"1.50"` has 2 decimals). No `+`, exponent, spaces or empty parts.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FixedError::Syntax(s.to_owned());
        let (neg, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(err());
        }
        let frac = frac.unwrap_or("");
        let decimals = u8::try_from(frac.len()).map_err(|_| err())?;
        if decimals > MAX_DECIMALS {
            return Err(err());
        }
        // Accumulate negatively so i64::MIN parses.
        let mut raw: i64 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            raw = raw
                .checked_mul(10)
                .and_then(|r| r.checked_sub(i64::from(b - b'0')))
                .ok_or(FixedError::Overflow)?;
        }
        if !neg {
            raw = raw.checked_neg().ok_or(FixedError::Overflow)?;
        }
        Ok(Fixed { raw, decimals })
    }
}

macro_rules! serde_as_code {
    ($t:ty, $what:literal) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

serde_as_code!(Carrier, "a carrier code such as \"electricity_import\"");
serde_as_code!(Unit, "a unit code such as \"kWh\"");

/// Interval lengths (seconds) a channel may use: 1, 5, 10, 15, 30 and 60 minutes.
pub const ALLOWED_INTERVALS: [u32; 6] = [60, 300, 600, 900, 1800, 3600];

/// Whether `interval_s` is one of [`ALLOWED_INTERVALS`].
pub fn is_allowed_interval(interval_s: u32) -> bool {
    ALLOWED_INTERVALS.contains(&interval_s)
}

/// Whether `start_unix_s` is a whole multiple of `interval_s` seconds since the Unix epoch
/// (so 15-minute intervals start at :00, :15, :30, :45 UTC). False for `interval_s == 0`.
pub fn is_aligned(start_unix_s: i64, interval_s: u32) -> bool {
    interval_s != 0 && start_unix_s.rem_euclid(i64::from(interval_s)) == 0
}

#[cfg(test)]
mod tests;
