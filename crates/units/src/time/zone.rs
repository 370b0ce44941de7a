//! Named time zones: UTC instants to local dates and clock times (tariff periods, allowed
//! windows, advice text) and local days to UTC intervals, in any IANA zone. Backed by `jiff`
//! with the IANA time-zone database compiled in, so nothing is read from the system.
//! Asia/Shanghai (UTC+8, no daylight saving since 1991) is the default.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The default zone of tanji's parks, whose offset is [`super::PARK_UTC_OFFSET_S`].
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// Why a local time could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The zone name is not in the bundled database.
    #[error("time zone {name:?} is unknown ({reason}); use an IANA name such as Asia/Shanghai")]
    UnknownZone {
        /// The name given.
        name: String,
        /// What the database said.
        reason: String,
    },
    /// Not a `YYYY-MM-DD` date.
    #[error("{text:?} is not a date; write YYYY-MM-DD, e.g. 2026-03-14")]
    BadDate {
        /// The text given.
        text: String,
    },
    /// Not an `HH:MM` clock time.
    #[error("{text:?} is not a clock time; write HH:MM from 00:00 to 24:00, e.g. 08:30")]
    BadClock {
        /// The text given.
        text: String,
    },
    /// Not a `HH:MM-HH:MM` range.
    #[error("{text:?} is not a time range; write HH:MM-HH:MM, e.g. 22:00-08:00")]
    BadRange {
        /// The text given.
        text: String,
    },
    /// An instant or date outside what the calendar can represent.
    #[error("{what} is out of range: {reason}")]
    OutOfRange {
        /// What was converted.
        what: String,
        /// Why it failed.
        reason: String,
    },
}

/// A local calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate(Date);

impl LocalDate {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<LocalDate, TimeError> {
        text.trim()
            .parse::<Date>()
            .map(LocalDate)
            .map_err(|_| TimeError::BadDate {
                text: text.to_string(),
            })
    }

    /// Year, month (1–12), day (1–31).
    pub fn ymd(self) -> (i16, i8, i8) {
        (self.0.year(), self.0.month(), self.0.day())
    }

    /// Day of the week, Monday = 0 … Sunday = 6.
    pub fn weekday(self) -> u8 {
        self.0.weekday().to_monday_zero_offset().unsigned_abs()
    }

    /// The date `days` later (earlier if negative).
    pub fn add_days(self, days: i32) -> Result<LocalDate, TimeError> {
        self.0
            .checked_add(jiff::Span::new().days(days))
            .map(LocalDate)
            .map_err(|e| TimeError::OutOfRange {
                what: format!("{self} + {days} days"),
                reason: e.to_string(),
            })
    }
}

impl std::fmt::Display for LocalDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A time zone.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

/// Where an instant falls on the local clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// The local date.
    pub date: LocalDate,
    /// Minutes since local midnight (0–1439).
    pub minute: u32,
    /// Month, 1–12.
    pub month: u8,
    /// Monday = 0 … Sunday = 6.
    pub weekday: u8,
}

impl Zone {
    /// The zone named `name` (IANA, e.g. `Asia/Shanghai`).
    pub fn named(name: &str) -> Result<Zone, TimeError> {
        let tz = TimeZone::get(name).map_err(|e| TimeError::UnknownZone {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Zone {
            name: name.to_string(),
            tz,
        })
    }

    /// Asia/Shanghai (China Standard Time, UTC+8).
    pub fn shanghai() -> Zone {
        Zone::named(DEFAULT_ZONE).unwrap_or_else(|_| Zone {
            // The bundled database always has it; a fixed UTC+8 is the same clock since 1991.
            name: DEFAULT_ZONE.to_string(),
            tz: TimeZone::fixed(jiff::tz::Offset::constant(8)),
        })
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn timestamp(t: i64) -> Result<Timestamp, TimeError> {
        Timestamp::from_second(t).map_err(|e| TimeError::OutOfRange {
            what: format!("instant {t}"),
            reason: e.to_string(),
        })
    }

    /// Where the instant `t` (Unix seconds) falls on the local clock.
    pub fn clock(&self, t: i64) -> Result<Clock, TimeError> {
        let dt = self.tz.to_datetime(Zone::timestamp(t)?);
        let date = LocalDate(dt.date());
        Ok(Clock {
            date,
            minute: u32::from(dt.hour().unsigned_abs()) * 60
                + u32::from(dt.minute().unsigned_abs()),
            month: dt.month().unsigned_abs(),
            weekday: date.weekday(),
        })
    }

    /// `HH:MM` of the instant `t` on the local clock (`"?"` if out of range).
    pub fn hhmm(&self, t: i64) -> String {
        self.clock(t).map_or_else(
            |_| "?".to_string(),
            |c| format!("{:02}:{:02}", c.minute / 60, c.minute % 60),
        )
    }

    /// `[start, end)` of the local day `date`, Unix seconds (86 400 s apart unless the zone
    /// changes its offset that day).
    pub fn day_bounds(&self, date: LocalDate) -> Result<(i64, i64), TimeError> {
        let start = |d: LocalDate| {
            d.0.to_zoned_datetime(self.tz.clone())
                .map(|z| z.timestamp().as_second())
                .map_err(|e| TimeError::OutOfRange {
                    what: format!("{d} in {}", self.name),
                    reason: e.to_string(),
                })
        };
        Ok((start(date)?, start(date.add_days(1)?)?))
    }
}

/// Parses `HH:MM` (00:00 to 24:00) into minutes since midnight.
pub fn parse_clock(text: &str) -> Result<u32, TimeError> {
    let bad = || TimeError::BadClock {
        text: text.to_string(),
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Parses `HH:MM-HH:MM` into `(from, to)` minutes; `to <= from` means the range wraps past
/// midnight (22:00-08:00), and `00:00-24:00` is the whole day.
pub fn parse_range(text: &str) -> Result<(u32, u32), TimeError> {
    let (a, b) = text
        .split_once(['-', '–'])
        .ok_or_else(|| TimeError::BadRange {
            text: text.to_string(),
        })?;
    Ok((parse_clock(a)?, parse_clock(b)?))
}

/// Whether minute-of-day `m` lies in the range `(from, to)` (half-open, wrapping past
/// midnight when `to <= from`; `from == to` is the whole day).
pub fn in_range(m: u32, (from, to): (u32, u32)) -> bool {
    if from < to {
        (from..to).contains(&m)
    } else {
        m >= from || m < to
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn shanghai_day_starts_at_16_utc_the_day_before() {
        let z = Zone::shanghai();
        let d = LocalDate::parse("2026-03-14").unwrap();
        let (s, e) = z.day_bounds(d).unwrap();
        // 2026-03-13T16:00:00Z = 1773417600
        assert_eq!(s, 1_773_417_600);
        assert_eq!(e - s, 86_400);
        let c = z.clock(s + 8 * 3600 + 15 * 60).unwrap();
        assert_eq!((c.minute, c.month, c.weekday), (8 * 60 + 15, 3, 5));
        assert_eq!(z.hhmm(s + 19 * 3600), "19:00");
    }

    #[test]
    fn clock_ranges_parse_and_wrap() {
        assert_eq!(parse_clock("24:00").unwrap(), 1440);
        assert!(parse_clock("24:15").is_err());
        assert!(parse_clock("8").is_err());
        let r = parse_range("22:00-08:00").unwrap();
        assert!(in_range(23 * 60, r) && in_range(60, r) && !in_range(12 * 60, r));
        assert!(in_range(0, parse_range("00:00-24:00").unwrap()));
        assert!(Zone::named("Mars/Olympus").is_err());
    }
}
