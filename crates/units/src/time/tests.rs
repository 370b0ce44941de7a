#![allow(clippy::unwrap_used, clippy::expect_used)]
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
    assert_eq!(civil_from_days(leap).to_string(), "2024-02-29");
    assert_eq!(day_of_year(leap), 60);
    assert_eq!(day_of_year(days_from_civil(2024, 12, 31)), 366);
    assert_eq!(day_of_year(20_454), 1); // 2026-01-01
    for n in -1000..30_000 {
        let d = civil_from_days(n);
        assert_eq!(days_from_civil(d.year, d.month, d.day), n);
    }
}

#[test]
fn the_parks_local_day_starts_at_16h_utc_of_the_previous_day() {
    let o = PARK_UTC_OFFSET_S;
    assert_eq!(o, 28_800);
    // 2025-03-03T00:00:00Z = 1740960000 is 08:00 local on 2025-03-03.
    assert_eq!(local_day(1_740_960_000, o), 20_150);
    assert_eq!(local_second(1_740_960_000, o), 8 * 3600);
    assert_eq!(local_hour(1_740_960_000, o), 8);
    // 2025-03-02T16:00:00Z is local midnight of 2025-03-03.
    assert_eq!(local_day_start(20_150, o), 1_740_931_200);
    assert_eq!(local_day(1_740_931_200, o), 20_150);
    assert_eq!(local_second(1_740_931_200, o), 0);
    assert_eq!(local_day(1_740_931_199, o), 20_149);
    assert_eq!(local_second(1_740_931_199, o), 86_399);
    // 2025-12-31T16:00:00Z is already 2026 in Shanghai, still 2025 in UTC.
    let t = rfc3339_back("2025-12-31T16:00:00Z");
    assert_eq!((local_year(t, o), local_year(t, 0)), (2026, 2025));
    assert_eq!(local_year(t - 1, o), 2025);
}

fn rfc3339_back(s: &str) -> i64 {
    parse_rfc3339(s).unwrap()
}

#[test]
fn rfc3339_writes_whole_seconds_in_utc_and_marks_what_it_cannot_write() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_793_491_199), "2026-10-31T23:59:59Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    let year0 = days_from_civil(0, 1, 1) * DAY_S;
    let year10000 = days_from_civil(10_000, 1, 1) * DAY_S;
    assert_eq!(rfc3339(year0), "0000-01-01T00:00:00Z");
    assert_eq!(rfc3339(year0 - 1), format!("@{}", year0 - 1));
    assert_eq!(
        format_rfc3339(year10000 - 1).unwrap(),
        "9999-12-31T23:59:59Z"
    );
    assert_eq!(format_rfc3339(year10000), None);
    for t in [0, 1_793_491_200, -86_401, year0, year10000 - 1] {
        assert_eq!(parse_rfc3339(&rfc3339(t)), Ok(t));
    }
}

#[test]
fn rfc3339_parses_offsets_and_refuses_what_is_not_an_instant() {
    assert_eq!(
        parse_rfc3339("2026-11-01T08:00:00+08:00"),
        parse_rfc3339("2026-11-01T00:00:00Z")
    );
    assert_eq!(parse_rfc3339("2026-11-01T00:00:00.75Z"), Ok(1_793_491_200));
    assert_eq!(
        parse_rfc3339_whole("2026-11-01T00:00:00.75Z"),
        Err(InstantError::Fractional {
            text: "2026-11-01T00:00:00.75Z".into()
        })
    );
    for bad in ["2026-11-01", "2026-11-01T00:00:00", "1793491200", ""] {
        assert!(
            matches!(parse_rfc3339(bad), Err(InstantError::NotRfc3339 { ref text, .. }) if text == bad),
            "{bad}"
        );
    }
}

#[test]
fn utc_offsets_parse_with_their_sign() {
    assert_eq!(parse_utc_offset(PARK_UTC_OFFSET), Some(PARK_UTC_OFFSET_S));
    assert_eq!(parse_utc_offset("-05:30"), Some(-19_800));
    assert_eq!(parse_utc_offset("+00:00"), Some(0));
    for bad in ["08:00", "+8", "+08", "UTC+8", ""] {
        assert_eq!(parse_utc_offset(bad), None, "{bad}");
    }
}

#[test]
fn dates_parse_to_day_numbers() {
    assert_eq!(parse_date("2025-03-03"), Ok(20_150));
    assert_eq!(parse_date("1970-01-01"), Ok(0));
    for bad in [
        "2025-3-3",
        "2025-02-30",
        "03/03/2025",
        "2025-03-03T00:00:00Z",
    ] {
        assert!(
            matches!(parse_date(bad), Err(DateError { ref text, .. }) if text == bad),
            "{bad}"
        );
    }
}
