//! Local time at the park (Asia/Shanghai, UTC+8, no daylight saving), civil dates and the
//! public holidays that close factories.
//!
//! The simulator's only time-zone logic lives here. Days are counted as "local day numbers":
//! days since 1970-01-01 in local time, so local day `n` is `[n·86400 − 8 h, (n+1)·86400 − 8 h)`
//! in Unix seconds.

/// Offset of Asia/Shanghai from UTC, in seconds (UTC+8 all year; China has had no DST since 1991).
pub const LOCAL_OFFSET_S: i64 = 8 * 3600;

const DAY_S: i64 = 86_400;

/// The local day number and the seconds since local midnight of the instant `t` (Unix s).
pub fn local_day_and_second(t: i64) -> (i64, i64) {
    let local = t + LOCAL_OFFSET_S;
    (local.div_euclid(DAY_S), local.rem_euclid(DAY_S))
}

/// Day of the week of local day `n`: 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday).
pub fn weekday(n: i64) -> u8 {
    // rem_euclid(7) is in 0..7, so the cast cannot truncate.
    (n + 3).rem_euclid(7) as u8
}

/// A proleptic Gregorian calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDate {
    pub year: i64,
    pub month: u8,
    pub day: u8,
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

/// Day of the year of local day `n`, 1 = 1 January.
pub fn day_of_year(n: i64) -> u32 {
    let date = civil_from_days(n);
    // At most 366, so the conversion cannot fail; 1 is a harmless fallback.
    u32::try_from(n - days_from_civil(date.year, 1, 1) + 1).unwrap_or(1)
}

/// Spring Festival (Chinese New Year's day) dates, from the published Chinese lunar calendar.
const SPRING_FESTIVAL: [(i64, u8, u8); 10] = [
    (2022, 2, 1),
    (2023, 1, 22),
    (2024, 2, 10),
    (2025, 1, 29),
    (2026, 2, 17),
    (2027, 2, 6),
    (2028, 1, 26),
    (2029, 2, 13),
    (2030, 2, 3),
    (2031, 1, 23),
];

/// Whether factories are closed for a national holiday on local day `n`.
///
/// Modelled holidays: the Spring Festival shutdown (New Year's eve to the 6th day: export
/// factories commonly stop for longer than the 8 official days, since migrant staff travel
/// home), Labour Day (1–5 May) and National Day (1–7 October), which are the State Council's
/// usual windows. Make-up working days on weekends are not modelled. Outside 2022–2031 only
/// the fixed-date holidays apply.
pub fn is_holiday(n: i64) -> bool {
    let date = civil_from_days(n);
    if (date.month == 5 && date.day <= 5) || (date.month == 10 && date.day <= 7) {
        return true;
    }
    SPRING_FESTIVAL.iter().any(|&(y, m, d)| {
        let festival = days_from_civil(y, m, d);
        (festival - 1..=festival + 6).contains(&n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_known_dates() {
        assert_eq!(
            civil_from_days(0),
            CivilDate {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        // 2025-03-03 is day 20150 and a Monday.
        assert_eq!(days_from_civil(2025, 3, 3), 20_150);
        assert_eq!(weekday(20_150), 0);
        // 2024-02-29 (leap day) round-trips.
        let leap = days_from_civil(2024, 2, 29);
        assert_eq!(
            civil_from_days(leap),
            CivilDate {
                year: 2024,
                month: 2,
                day: 29
            }
        );
        assert_eq!(day_of_year(leap), 60);
        assert_eq!(day_of_year(days_from_civil(2024, 12, 31)), 366);
        for n in -1000..30_000 {
            let d = civil_from_days(n);
            assert_eq!(days_from_civil(d.year, d.month, d.day), n);
        }
    }

    #[test]
    fn local_day_starts_at_utc_16h_of_the_previous_day() {
        // 2025-03-03T00:00:00Z = 1740960000 is 08:00 local on 2025-03-03.
        assert_eq!(local_day_and_second(1_740_960_000), (20_150, 8 * 3600));
        // 2025-03-02T16:00:00Z is local midnight of 2025-03-03.
        assert_eq!(local_day_and_second(1_740_931_200), (20_150, 0));
        assert_eq!(local_day_and_second(1_740_931_199), (20_149, 86_399));
    }

    #[test]
    fn holidays() {
        assert!(is_holiday(days_from_civil(2026, 2, 16))); // New Year's eve
        assert!(is_holiday(days_from_civil(2026, 2, 23)));
        assert!(!is_holiday(days_from_civil(2026, 2, 24)));
        assert!(is_holiday(days_from_civil(2025, 10, 1)));
        assert!(is_holiday(days_from_civil(2025, 5, 5)));
        assert!(!is_holiday(days_from_civil(2025, 5, 6)));
        assert!(!is_holiday(days_from_civil(2025, 3, 3)));
    }
}
