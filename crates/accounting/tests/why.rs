//! The "why" sentences of the fixed-vs-hourly comparison, in English and Chinese, as whole
//! texts (`tests/snapshots/`): a change of wording shows in review as the sentences it
//! changes. The figures: 2,000 MWh imported at a fixed
//! 500 g/kWh (1,000 t), a window of 14:00–01:00 carrying 46% of the use at +12%.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tanji_accounting::why::reason;
use tanji_accounting::{Comparison, Lang, NamedFactor, Window};

/// The comparison for a period mean of `mean` g/kWh and a timing part of `timing_g`.
fn comparison(mean: Option<f64>, timing_g: i64) -> Comparison {
    let import_wh = 2_000_000_000;
    let fixed_g = 1_000_000_000;
    let season_g = mean.map_or(0, |m| {
        ((500.0 - m) * import_wh as f64 / 1000.0).round() as i64
    });
    let difference_g = season_g + timing_g;
    Comparison {
        fixed_factor: NamedFactor {
            value: 500.0,
            source: "test".into(),
        },
        import_wh,
        fixed_g,
        dynamic_g: fixed_g - difference_g,
        difference_g,
        difference_pct: difference_g as f64 / fixed_g as f64 * 100.0,
        period_mean_factor_g_per_kwh: mean,
        season_g,
        timing_g,
        intervals_without_factor: 0,
        by_hour: Vec::new(),
        window: mean.map(|m| Window {
            from_hour: 14,
            to_hour: 1,
            share: 0.46,
            factor_g_per_kwh: m * 1.12,
            factor_vs_fixed_pct: 12.0,
            difference_g: timing_g,
        }),
        reason: None,
    }
}

/// Both languages' sentences, or what says there is none.
fn sentences(c: &Comparison) -> String {
    [Lang::En, Lang::Zh]
        .iter()
        .map(|&l| {
            let text = reason(c, l).unwrap_or_else(|| "(no sentence)".into());
            format!("{}: {text}\n", l.code())
        })
        .collect()
}

/// Which part the sentence names first: the larger one when it is material (at least 1% of the
/// fixed-factor figure), neither when both are small, and no sentence with nothing to compare.
#[test]
fn the_dominant_part_is_the_larger_one_when_material() {
    let opening = |c: &Comparison| reason(c, Lang::En).map(|s| s[..30].to_string());
    // The flat-load enterprise of the demo: season −60.4 t, timing −1.7 t.
    let c = comparison(Some(530.2), -1_700_000);
    assert_eq!(c.season_g, -60_400_000);
    assert_eq!(
        opening(&c).as_deref(),
        Some("The season explains most of th")
    );
    // Season −2 t (0.2%), timing −80 t (8%).
    assert_eq!(
        opening(&comparison(Some(501.0), -80_000_000)).as_deref(),
        Some("When you use power explains mo")
    );
    // Both under 1% of the fixed figure.
    assert_eq!(
        opening(&comparison(Some(499.0), 3_000_000)).as_deref(),
        Some("The hourly factors give almost")
    );
    // No interval had an hourly factor: nothing to compare, no sentence.
    let mut c = comparison(None, 0);
    c.intervals_without_factor = 2_880;
    assert_eq!(reason(&c, Lang::En), None);
}

/// The flat-load enterprise of the demo: season −60.4 t, timing −1.7 t. The sentence used to
/// blame 14:00–01:00 and so advise shifting load; the season is the cause.
#[test]
fn the_season_dominates_and_timing_is_not_material() {
    insta::assert_snapshot!(sentences(&comparison(Some(530.2), -1_700_000)));
}

/// Season −2 t (0.2%, not material), timing −80 t (8%): time-of-use and shifting are named.
#[test]
fn timing_dominates_and_shifting_is_advised() {
    insta::assert_snapshot!(sentences(&comparison(Some(501.0), -80_000_000)));
}

/// Material timing under a larger season: named second, with its hours and the advice.
#[test]
fn material_timing_under_a_larger_season_is_named_second() {
    insta::assert_snapshot!(sentences(&comparison(Some(530.2), -20_000_000)));
}

#[test]
fn neither_part_matters_when_both_are_small() {
    insta::assert_snapshot!(sentences(&comparison(Some(499.0), 3_000_000)));
}

#[test]
fn intervals_without_a_factor_are_counted() {
    let mut c = comparison(Some(530.2), -1_700_000);
    c.intervals_without_factor = 96;
    insta::assert_snapshot!(sentences(&c));
}

#[test]
fn no_import_is_said_in_both_languages() {
    let mut c = comparison(None, 0);
    c.import_wh = 0;
    insta::assert_snapshot!(sentences(&c));
}

/// Grid import, but no hourly factor for any of it: every interval fell back to the fixed
/// factor, so there is nothing to compare and no sentence.
#[test]
fn nothing_to_compare_writes_no_sentence() {
    let mut c = comparison(None, 0);
    c.intervals_without_factor = 2_880;
    insta::assert_snapshot!(sentences(&c));
}
