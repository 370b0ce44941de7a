//! The public holidays that close the park's factories, by local day number (dates and
//! local days are `tanji_units::time`'s).

use tanji_units::time::{civil_from_days, days_from_civil};

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
