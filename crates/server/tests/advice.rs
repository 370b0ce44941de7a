//! The advice route on a simulated park with a week of data: the week's plan keeps the energy
//! to the Wh and cuts the modelled emissions; the per-interval figures add up to the totals;
//! an enterprise token reads only its own advice; malformed queries get a 400.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, config, fixture, post_uploads, start, ENTERPRISE_2, OPERATOR};
use serde_json::Value;

async fn get(srv: &common::Running, token: &str, path: &str) -> (u16, Value) {
    let res = client()
        .get(srv.at(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_weeks_advice_cuts_emissions_at_unchanged_energy() {
    // Eight UTC days give seven whole local (UTC+8) days, 2026-01-02 to 2026-01-08.
    let fx = fixture(2, 8);
    common::publish_factors(fx.path(), 8);
    let srv = start(fx.path(), config(&fx)).await;
    post_uploads(&srv, &fx, 0..fx.uploads.len()).await;
    let e = fx.enterprise(0);

    let (status, a) = get(
        &srv,
        OPERATOR,
        &format!("/api/v1/enterprises/{e}/optimize?days=7"),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["first_day"], "2026-01-02", "{}", a["first_day"]);
    assert_eq!(a["days"], 7);
    assert_eq!(a["totals"]["planned_days"], 7, "{}", a["refused"]);
    let t = &a["totals"];
    let (before, after) = (&t["before"], &t["after"]);
    let energy = before["consumption_wh"].as_i64().unwrap();
    assert!(energy > 0);
    assert_eq!(energy, after["consumption_wh"].as_i64().unwrap());
    assert_eq!(t["energy_unchanged"], true);
    let (eb, ea) = (
        before["emissions_g"].as_i64().unwrap(),
        after["emissions_g"].as_i64().unwrap(),
    );
    assert!(ea < eb, "emissions {eb} g -> {ea} g");
    assert_eq!(t["emissions_cut_g"].as_i64().unwrap(), eb - ea);
    eprintln!(
        "week of {e}: {:.3} kWh, emissions {:.3} t -> {:.3} t ({:.2}%), moved {} Wh, {} advice lines",
        energy as f64 / 1e3,
        eb as f64 / 1e6,
        ea as f64 / 1e6,
        t["emissions_cut_pct"].as_f64().unwrap(),
        t["moved_wh"],
        a["advice"].as_array().unwrap().len()
    );

    // The intervals: 7 × 96, loads adding up to the totals, import × factor to the emissions
    // (each day rounded once, so within a gram a day).
    let iv = a["intervals"].as_array().unwrap();
    assert_eq!(iv.len(), 7 * 96);
    let sum = |k: &str| iv.iter().map(|x| x[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("load_before_wh"), energy);
    assert_eq!(sum("load_after_wh"), energy);
    assert_ne!(
        iv.iter()
            .map(|x| x["load_before_wh"].clone())
            .collect::<Vec<_>>(),
        iv.iter()
            .map(|x| x["load_after_wh"].clone())
            .collect::<Vec<_>>(),
        "the plan moves some load"
    );
    let g = |k: &str| {
        iv.iter()
            .map(|x| x[k].as_f64().unwrap() * x["factor"].as_f64().unwrap() / 1e3)
            .sum::<f64>()
    };
    assert!((g("import_before_wh") - eb as f64).abs() <= 7.0);
    assert!((g("import_after_wh") - ea as f64).abs() <= 7.0);
    let advice = a["advice"].as_array().unwrap();
    assert!(!advice.is_empty());
    let lines: i64 = advice
        .iter()
        .map(|c| c["emissions_g"].as_i64().unwrap())
        .sum();
    assert_eq!(lines, ea - eb, "the advice lines add up to the change");
    assert_eq!(a["provenance"]["factors"][0], "CN-test-synthetic@v1");

    // In Chinese: the same plan, its lines and method written in Chinese from the same figures.
    let (status, zh) = get(
        &srv,
        OPERATOR,
        &format!("/api/v1/enterprises/{e}/optimize?days=7&lang=zh"),
    )
    .await;
    assert_eq!(status, 200, "{zh}");
    assert_eq!(zh["totals"], a["totals"]);
    let han = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    assert!(han(zh["method"].as_str().unwrap()));
    for (z, e) in zh["advice"].as_array().unwrap().iter().zip(advice) {
        let text = z["text"].as_str().unwrap();
        assert!(text.starts_with("将 "), "{text}");
        assert_eq!(z["emissions_g"], e["emissions_g"]);
        // The load, energy and clock times of the English line are in the Chinese one.
        assert!(text.contains(e["load"].as_str().unwrap()), "{text}");
        for r in e["from"].as_array().unwrap().iter().take(3) {
            assert!(text.contains(r.as_str().unwrap()), "{text}");
        }
    }

    // A named day is the same day's plan as in the week.
    let (status, d) = get(
        &srv,
        OPERATOR,
        &format!("/api/v1/enterprises/{e}/optimize?day=2026-01-04"),
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["totals"]["after"], a["per_day"][2]["after"]);

    // Another enterprise's token may not read it; bad queries say what to send.
    let (status, _) = get(
        &srv,
        ENTERPRISE_2,
        &format!("/api/v1/enterprises/{e}/optimize"),
    )
    .await;
    assert_eq!(status, 403);
    for q in ["days=8", "objective=cheapest", "day=2026-13-01"] {
        let (status, body) = get(
            &srv,
            OPERATOR,
            &format!("/api/v1/enterprises/{e}/optimize?{q}"),
        )
        .await;
        assert_eq!(status, 400, "{q}: {body}");
    }
    // A day without data is refused with the reason.
    let (status, body) = get(
        &srv,
        OPERATOR,
        &format!("/api/v1/enterprises/{e}/optimize?day=2026-02-01"),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn advice_planned_on_a_forecast_is_scored_on_the_published_factors() {
    // 30 UTC days: the ridge forecast needs 21 days of factors before the planned day.
    let fx = fixture(2, 30);
    common::publish_factors(fx.path(), 30);
    let srv = start(fx.path(), config(&fx)).await;
    post_uploads(&srv, &fx, 0..fx.uploads.len()).await;
    let e = fx.enterprise(0);
    let q = |extra: &str| format!("/api/v1/enterprises/{e}/optimize?day=2026-01-28{extra}");

    let (status, hindsight) = get(&srv, OPERATOR, &q("")).await;
    assert_eq!(status, 200, "{hindsight}");
    assert_eq!(hindsight["planned_on"], "published");
    assert!(hindsight["totals"]["realised"].is_null());
    let (status, f) = get(&srv, OPERATOR, &q("&factors=forecast")).await;
    assert_eq!(status, 200, "{f}");
    assert_eq!(f["planned_on"], "forecast");
    let fitted = f["provenance"]["forecasts"][0]["fitted"].as_str().unwrap();
    assert!(
        fitted.contains("days of CN-test-synthetic@v1 before 2026-01-28"),
        "{fitted}"
    );
    assert!(f["method"]
        .as_str()
        .unwrap()
        .contains("planned on a forecast"));
    // The plan's own figures are on the forecast factors, not the published ones.
    assert_ne!(
        f["intervals"][40]["factor"],
        hindsight["intervals"][40]["factor"]
    );
    // Scored on the published factors: the same day before any shift, the same energy, and
    // no better than the plan made in hindsight on those factors.
    let r = &f["totals"]["realised"];
    let h = &hindsight["totals"];
    assert_eq!(r["before"], h["before"], "{r}");
    assert_eq!(
        r["after"]["consumption_wh"], h["after"]["consumption_wh"],
        "energy unchanged"
    );
    let (realised_after, best_after) = (
        r["after"]["emissions_g"].as_i64().unwrap(),
        h["after"]["emissions_g"].as_i64().unwrap(),
    );
    assert!(
        realised_after >= best_after,
        "a plan on a forecast ({realised_after} g) cannot beat hindsight ({best_after} g)"
    );
    assert_eq!(
        r["emissions_cut_g"].as_i64().unwrap(),
        r["before"]["emissions_g"].as_i64().unwrap() - realised_after
    );
    assert_eq!(f["per_day"][0]["realised"]["after"], r["after"]);
    // The headline of a forecast plan is the realised figure; the forecast's own figure is
    // beside it, labelled.
    let t = &f["totals"];
    assert_eq!(t["before"], r["before"], "{t}");
    assert_eq!(t["after"], r["after"], "{t}");
    assert_eq!(t["emissions_cut_g"], r["emissions_cut_g"], "{t}");
    assert!(
        t["figures"].as_str().unwrap().starts_with("realised"),
        "{t}"
    );
    let own = &t["forecast"];
    assert_eq!(
        own["after"]["emissions_g"],
        f["per_day"][0]["after"]["emissions_g"]
    );
    assert!(own["label"]
        .as_str()
        .unwrap()
        .contains("modelled on the forecast factors"));
    assert!(h["forecast"].is_null());
    eprintln!(
        "{e} 2026-01-28: before {} g; after, planned in hindsight {best_after} g, planned on the forecast {realised_after} g",
        h["before"]["emissions_g"]
    );

    let (status, body) = get(&srv, OPERATOR, &q("&factors=tomorrow")).await;
    assert_eq!(status, 400, "{body}");
    srv.stop().await;
}
