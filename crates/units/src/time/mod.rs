//! Time: the one module that knows the park's zone, the civil calendar, local days and the
//! RFC 3339 text of instants. Every other crate asks it; none defines an offset or a formatter.
//!
//! Instants are `i64` Unix seconds (UTC). A *day number* counts days since 1970-01-01 in the
//! proleptic Gregorian calendar; a *local day* is the day number of local midnight, so with a
//! fixed offset `o` local day `n` is `[n·86400 − o, (n+1)·86400 − o)` in Unix seconds. The park
//! keeps China Standard Time ([`PARK_UTC_OFFSET_S`], UTC+8 all year), so the fixed-offset
//! helpers here are exact for it; [`Zone`] (jiff, the IANA database compiled in) handles any
//! named zone, including those whose offset changes.
//!
//! Pure: no clock (callers pass "now"), no files (the zone database is in the binary).

mod zone;

pub use zone::{
    in_range, parse_clock, parse_range, Clock, LocalDate, TimeError, Zone, DEFAULT_ZONE,
};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Seconds in a day (no leap seconds: Unix time).
pub const DAY_S: i64 = 86_400;

/// Seconds in an hour.
pub const HOUR_S: i64 = 3_600;

/// The park's UTC offset, seconds: China Standard Time, UTC+8, Asia/Shanghai's offset all
/// year (no daylight saving since 1991). Local hours, local days and "today" of the park's
/// reports, dashboard, anomaly rules and simulation are taken at this offset.
pub const PARK_UTC_OFFSET_S: i32 = 8 * 3600;

/// [`PARK_UTC_OFFSET_S`] as text, `+08:00` (what [`parse_utc_offset`] reads).
pub const PARK_UTC_OFFSET: &str = "+08:00";

/// A proleptic Gregorian calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDate {
    /// The year (astronomical: year 0 is 1 BC).
    pub year: i64,
    /// The month, 1–12.
    pub month: u8,
    /// The day of the month, 1–31.
    pub day: u8,
}

impl std::fmt::Display for CivilDate {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The civil date of day number `n` (days since 1970-01-01), after Howard Hinnant's
/// `civil_from_days` ("chrono-compatible low-level date algorithms").
pub fn civil_from_days(n: i64) -> CivilDate {
    let z = n + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    CivilDate {
        year: if m <= 2 { y + 1 } else { y },
        // Both are range-checked by construction above.
        month: m as u8,
        day: d as u8,
    }
}

/// Day number of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Day of the year of day number `n`, 1 = 1 January.
pub fn day_of_year(n: i64) -> u32 {
    let date = civil_from_days(n);
    // At most 366, so the conversion cannot fail; 1 is a harmless fallback.
    u32::try_from(n - days_from_civil(date.year, 1, 1) + 1).unwrap_or(1)
}

/// Day of the week of day number `n`: 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub fn weekday(n: i64) -> u8 {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (n + 3).rem_euclid(7) as u8
}

/// The local day (day number) the instant `t` falls in at UTC offset `utc_offset_s`.
pub fn local_day(t: i64, utc_offset_s: i32) -> i64 {
    (t + i64::from(utc_offset_s)).div_euclid(DAY_S)
}

/// Seconds since local midnight (0–86 399) of the instant `t` at UTC offset `utc_offset_s`.
pub fn local_second(t: i64, utc_offset_s: i32) -> i64 {
    (t + i64::from(utc_offset_s)).rem_euclid(DAY_S)
}

/// The local hour of day (0–23) of the instant `t` at UTC offset `utc_offset_s`.
pub fn local_hour(t: i64, utc_offset_s: i32) -> i64 {
    local_second(t, utc_offset_s) / HOUR_S
}

/// The instant (Unix seconds) local day `day` starts at, at UTC offset `utc_offset_s`.
pub fn local_day_start(day: i64, utc_offset_s: i32) -> i64 {
    day * DAY_S - i64::from(utc_offset_s)
}

/// The civil year of the local day the instant `t` falls in at UTC offset `utc_offset_s`
/// (saturating at the ends of `i32`).
pub fn local_year(t: i64, utc_offset_s: i32) -> i32 {
    let y = civil_from_days(local_day(t, utc_offset_s)).year;
    i32::try_from(y).unwrap_or(if y < 0 { i32::MIN } else { i32::MAX })
}

/// Unix seconds as RFC 3339 UTC, `2026-11-01T00:00:00Z`; `None` outside the years
/// 0000–9999, which RFC 3339 cannot write.
pub fn format_rfc3339(t: i64) -> Option<String> {
    let d = civil_from_days(t.div_euclid(DAY_S));
    if !(0..=9999).contains(&d.year) {
        return None;
    }
    let s = t.rem_euclid(DAY_S);
    Some(format!(
        "{d}T{:02}:{:02}:{:02}Z",
        s / HOUR_S,
        s / 60 % 60,
        s % 60
    ))
}

/// Unix seconds as RFC 3339 UTC, `2026-11-01T00:00:00Z`, or `@t` outside the years
/// 0000–9999: the formatter of every instant tanji writes as text.
pub fn rfc3339(t: i64) -> String {
    format_rfc3339(t).unwrap_or_else(|| format!("@{t}"))
}

/// Why a text is not an RFC 3339 instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    /// Not RFC 3339 at all.
    #[error("{text:?} is not an RFC 3339 instant such as 2026-11-01T00:00:00Z ({reason})")]
    NotRfc3339 {
        /// The text given.
        text: String,
        /// What the parser found wrong.
        reason: String,
    },
    /// RFC 3339 with a fraction of a second where whole seconds are required.
    #[error("{text:?} has a fraction of a second; instants are whole seconds")]
    Fractional {
        /// The text given.
        text: String,
    },
}

fn parse(text: &str) -> Result<OffsetDateTime, InstantError> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| InstantError::NotRfc3339 {
        text: text.to_string(),
        reason: e.to_string(),
    })
}

/// Parses an RFC 3339 instant (any offset; a fraction of a second is dropped) into Unix
/// seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, InstantError> {
    parse(text).map(OffsetDateTime::unix_timestamp)
}

/// Parses an RFC 3339 instant with whole seconds into Unix seconds; a fraction of a second
/// is refused ([`InstantError::Fractional`]).
pub fn parse_rfc3339_whole(text: &str) -> Result<i64, InstantError> {
    let t = parse(text)?;
    if t.nanosecond() != 0 {
        return Err(InstantError::Fractional {
            text: text.to_string(),
        });
    }
    Ok(t.unix_timestamp())
}

/// Why a text is not a date `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a date such as 2026-11-01 ({reason})")]
pub struct DateError {
    /// The text given.
    pub text: String,
    /// What the parser found wrong.
    pub reason: String,
}

/// Parses a date `YYYY-MM-DD` (four-digit year, two-digit month and day) into its day number.
pub fn parse_date(text: &str) -> Result<i64, DateError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(text, &fmt).map_err(|e| DateError {
        text: text.to_string(),
        reason: e.to_string(),
    })?;
    Ok(days_from_civil(
        i64::from(d.year()),
        u8::from(d.month()),
        d.day(),
    ))
}

/// Parses a UTC offset `±HH:MM` (sign required, e.g. `+08:00`) into seconds.
pub fn parse_utc_offset(text: &str) -> Option<i32> {
    let fmt = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    time::UtcOffset::parse(text, &fmt)
        .ok()
        .map(time::UtcOffset::whole_seconds)
}

#[cfg(test)]
mod tests;
