//! Tests of the synthetic `CN-FJ-synthetic` grid year (`tanji_simulator::grid`).

use tanji_simulator::grid::{
    fujian_like_generation_csv, fujian_like_year, GridYear, Source, COAL_MIN_MW, DEFAULT_SEED,
    DEFAULT_YEAR, GAS_MAX_MW, GAS_MIN_MW, REGION,
};
use tanji_units::time::{local_hour as hour_at, PARK_UTC_OFFSET_S};

/// Direct (operational) factors, gCO2/kWh, from docs/reference/factors.md (Electricity Maps'
/// defaults: IPCC AR5 WG3 Annex III, EIA/BEIS for oil); nuclear, hydro, wind and solar are 0.
fn direct_g_per_kwh(s: Source) -> f64 {
    match s {
        Source::Coal => 760.0,
        Source::Gas => 370.0,
        Source::Nuclear | Source::Hydro | Source::Wind | Source::Solar => 0.0,
    }
}

/// Production-based direct factor of one hour, g/kWh.
fn production_factor(h: &tanji_simulator::grid::GridHour) -> f64 {
    let emitted: f64 = Source::ALL
        .iter()
        .map(|&s| h.get(s) as f64 * direct_g_per_kwh(s))
        .sum();
    emitted / h.total() as f64
}

fn local_hour(t: i64) -> i64 {
    hour_at(t, PARK_UTC_OFFSET_S)
}

/// Mean production factor over the hours whose local start hour is in `hours`.
fn mean_factor(y: &GridYear, hours: std::ops::RangeInclusive<i64>) -> f64 {
    let f: Vec<f64> = y
        .hours
        .iter()
        .filter(|h| hours.contains(&local_hour(h.start)))
        .map(production_factor)
        .collect();
    f.iter().sum::<f64>() / f.len() as f64
}

/// The annual share ranges the module doc states, in percent.
const SHARE_RANGES: [(Source, f64, f64); 6] = [
    (Source::Coal, 44.0, 50.0),
    (Source::Gas, 3.0, 5.0),
    (Source::Nuclear, 24.0, 30.0),
    (Source::Hydro, 9.0, 15.0),
    (Source::Wind, 6.5, 9.5),
    (Source::Solar, 3.0, 5.0),
];

#[test]
fn deterministic_and_seed_dependent() {
    let a = fujian_like_generation_csv(2025, 7);
    let b = fujian_like_generation_csv(2025, 7);
    assert_eq!(a, b);
    assert_ne!(a, fujian_like_generation_csv(2025, 8));
}

#[test]
fn one_row_per_utc_hour_of_the_year() {
    let y = fujian_like_year(2025, 1);
    assert_eq!(y.hours.len(), 8760);
    // 2025-01-01T00:00:00Z and 2026-01-01T00:00:00Z.
    assert_eq!(y.hours[0].start, 1_735_689_600);
    assert_eq!(y.hours[8759].start + 3600, 1_767_225_600);
    for w in y.hours.windows(2) {
        assert_eq!(w[1].start - w[0].start, 3600);
    }
    let leap = fujian_like_year(2024, 1);
    assert_eq!(leap.hours.len(), 8784);
    assert_eq!(leap.hours[0].start, 1_704_067_200); // 2024-01-01T00:00:00Z
}

#[test]
fn annual_shares_are_fujian_like() {
    for (year, seed) in [
        (DEFAULT_YEAR, DEFAULT_SEED),
        (2025, 1),
        (2024, 7),
        (2026, 99),
    ] {
        let y = fujian_like_year(year, seed);
        let shares = y.shares();
        for (s, lo, hi) in SHARE_RANGES {
            let pct = 100.0 * shares[s.index()];
            assert!(
                (lo..=hi).contains(&pct),
                "{year}/{seed}: {} share {pct:.2}% outside {lo}–{hi}%",
                s.code()
            );
        }
        // Annual generation about 320–335 TWh (Fujian used about 310 TWh in 2023).
        let twh = y.hours.iter().map(|h| h.total() as f64).sum::<f64>() / 1e9;
        assert!((315.0..340.0).contains(&twh), "{year}/{seed}: {twh:.1} TWh");
    }
}

#[test]
fn default_year_figures() {
    // The figures data/README.md quotes for the committed file; rounded so a change to the
    // model shows here.
    let y = fujian_like_year(DEFAULT_YEAR, DEFAULT_SEED);
    let pct: Vec<String> = y
        .shares()
        .iter()
        .map(|s| format!("{:.1}", 100.0 * s))
        .collect();
    assert_eq!(pct, ["45.7", "3.7", "27.3", "11.7", "7.6", "4.0"]);
    let midday = mean_factor(&y, 11..=13);
    let evening = mean_factor(&y, 19..=20);
    assert_eq!(format!("{midday:.0} {evening:.0}"), "324 392");
}

#[test]
fn solar_is_zero_at_night() {
    let y = fujian_like_year(2025, 3);
    for h in &y.hours {
        let lh = local_hour(h.start);
        // Sunset is before 19:10 and sunrise after 05:15 local all year at 26°N.
        if !(5..=19).contains(&lh) {
            assert_eq!(h.get(Source::Solar), 0, "solar at local hour {lh}");
        }
    }
    // And there is sun by day.
    let noon: i64 = y
        .hours
        .iter()
        .filter(|h| local_hour(h.start) == 12)
        .map(|h| h.get(Source::Solar))
        .sum();
    assert!(noon > 0);
}

#[test]
fn midday_factor_is_below_the_evening_factor() {
    for seed in [DEFAULT_SEED, 1, 42] {
        let y = fujian_like_year(2025, seed);
        let midday = mean_factor(&y, 11..=13); // 11:00–14:00 local
        let evening = mean_factor(&y, 19..=20); // 19:00–21:00 local
        assert!(
            midday + 30.0 < evening,
            "seed {seed}: midday {midday:.1} g/kWh, evening {evening:.1} g/kWh"
        );
    }
}

#[test]
fn dispatch_respects_must_run_and_capacities() {
    let y = fujian_like_year(2025, 5);
    for h in &y.hours {
        for s in Source::ALL {
            assert!(h.get(s) >= 0, "{} negative at {}", s.code(), h.start);
        }
        // kWh per hour = kW; allow 1 kWh of rounding.
        assert!(h.get(Source::Coal) as f64 >= COAL_MIN_MW * 1000.0 - 1.0);
        let gas = h.get(Source::Gas) as f64;
        assert!((GAS_MIN_MW * 1000.0 - 1.0..=GAS_MAX_MW * 1000.0 + 1.0).contains(&gas));
    }
}

#[test]
fn seasons_holidays_and_refuelling_show() {
    let y = fujian_like_year(2025, DEFAULT_SEED);
    let mean_in =
        |from: (i64, i64), to: (i64, i64), f: &dyn Fn(&tanji_simulator::grid::GridHour) -> i64| {
            let (a, b) = (instant(from.0, from.1), instant(to.0, to.1));
            let v: Vec<i64> = y
                .hours
                .iter()
                .filter(|h| h.start >= a && h.start < b)
                .map(f)
                .collect();
            v.iter().sum::<i64>() as f64 / v.len() as f64
        };
    let total = |h: &tanji_simulator::grid::GridHour| h.total();
    // Spring Festival 2025 (29 January): the holiday week is far below mid January.
    let festival = mean_in((1, 28), (2, 4), &total);
    let january = mean_in((1, 6), (1, 20), &total);
    assert!(festival < 0.75 * january, "{festival} vs {january}");
    // Summer cooling peak.
    assert!(mean_in((7, 1), (8, 31), &total) > 1.15 * mean_in((4, 1), (5, 31), &total));
    // North-east monsoon: winter wind well above summer wind.
    let wind = |h: &tanji_simulator::grid::GridHour| h.get(Source::Wind);
    assert!(mean_in((11, 1), (12, 31), &wind) > 1.4 * mean_in((6, 1), (7, 31), &wind));
    // Wet season hydro.
    let hydro = |h: &tanji_simulator::grid::GridHour| h.get(Source::Hydro);
    assert!(mean_in((5, 1), (6, 30), &hydro) > 1.8 * mean_in((11, 1), (12, 31), &hydro));
    // Refuelling outages: nuclear is not flat all year.
    let nuclear: Vec<i64> = y.hours.iter().map(|h| h.get(Source::Nuclear)).collect();
    assert!(nuclear.iter().min() < nuclear.iter().max());
}

/// Unix seconds of the UTC midnight starting `2025-MM-DD`.
fn instant(month: i64, day: i64) -> i64 {
    // Days from civil (Howard Hinnant), for 2025 (not a leap year).
    const CUMULATIVE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let jan1_2025 = 20_089; // days since 1970-01-01
    (jan1_2025 + CUMULATIVE[(month - 1) as usize] + day - 1) * 86_400
}

#[test]
fn csv_is_the_generation_format() {
    let csv = fujian_like_generation_csv(2025, 11);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("region,start,end,source,mwh"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 8760 * 6);
    assert_eq!(
        rows[0].rsplit_once(',').map(|(a, _)| a),
        Some("CN-FJ-synthetic,2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,coal")
    );
    assert!(rows[8760 * 6 - 1]
        .starts_with("CN-FJ-synthetic,2025-12-31T23:00:00Z,2026-01-01T00:00:00Z,solar,"));
    let y = fujian_like_year(2025, 11);
    for (i, row) in rows.iter().enumerate() {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 5);
        assert_eq!(f[0], REGION);
        let h = &y.hours[i / 6];
        let s = Source::ALL[i % 6];
        assert_eq!(f[3], s.code());
        let (int, frac) = f[4].split_once('.').unwrap();
        assert_eq!(frac.len(), 3);
        assert_eq!(
            int.parse::<i64>().unwrap() * 1000 + frac.parse::<i64>().unwrap(),
            h.get(s)
        );
    }
}

#[test]
fn committed_sample_matches_the_generator() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/synthetic/CN-FJ-synthetic-2025-generation.csv"
    );
    let committed = std::fs::read_to_string(path).expect("committed sample");
    // Regenerate with:
    // cargo run -p tanji-simulator --example fujian_like_csv > data/synthetic/CN-FJ-synthetic-2025-generation.csv
    assert!(
        committed == fujian_like_generation_csv(DEFAULT_YEAR, DEFAULT_SEED),
        "data/synthetic/CN-FJ-synthetic-2025-generation.csv is stale; regenerate it"
    );
}
