//! The query API: every figure it serves is the `tanji-report/v1` report's (built here
//! independently from the same store and compared), the cached report follows the log as it
//! grows, measured loads add up to the report's grid import, the factor curve is the published
//! series, the checkpoint stream announces growth, witness cosignatures show in the status, and
//! malformed queries get a 400 that says what to send.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use base64::Engine;
use common::{client, config, fixture, post_uploads, start, OPERATOR};
use serde_json::{json, Value};
use tanji_ledger::NoteVerifier;
use tanji_park::{ManualClock, Park};
use tanji_report::{Request, Scope};

/// JSON trees equal, numbers to 1e-12 relative: serde_json's default float parsing may be one
/// unit in the last place off (as `tanji audit` allows for the JSON round trip).
#[track_caller]
fn same(a: &Value, b: &Value) {
    fn walk(a: &Value, b: &Value, path: &str) -> Result<(), String> {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                if (x - y).abs() <= 1e-12 * x.abs().max(y.abs()) {
                    Ok(())
                } else {
                    Err(format!("{path}: {x} != {y}"))
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
                .iter()
                .zip(y)
                .enumerate()
                .try_for_each(|(i, (x, y))| walk(x, y, &format!("{path}[{i}]"))),
            (Value::Object(x), Value::Object(y)) if x.len() == y.len() => {
                x.iter().try_for_each(|(k, v)| {
                    walk(
                        v,
                        y.get(k).ok_or(format!("{path}.{k} missing"))?,
                        &format!("{path}.{k}"),
                    )
                })
            }
            _ if a == b => Ok(()),
            _ => Err(format!("{path}: {a} != {b}")),
        }
    }
    if let Err(e) = walk(a, b, "$") {
        panic!("{e}");
    }
}

async fn get(srv: &common::Running, path: &str) -> (u16, String) {
    let res = client()
        .get(srv.at(path))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn json_at(srv: &common::Running, path: &str) -> Value {
    let (status, body) = get(srv, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The report built straight from the store at the server's current tree size.
fn report(
    fx: &common::Fixture,
    scope: Scope,
    size: u64,
    period: Option<(i64, i64)>,
) -> tanji_report::ReportDoc {
    let store = tanji_store::SqliteStore::open(&Park::db_path(fx.path())).unwrap();
    let v: NoteVerifier = fx.vkey.parse().unwrap();
    let mut req = Request::new(scope);
    req.checkpoint_size = Some(size);
    req.period = period;
    let built = tanji_report::build(&store, &v, &req).unwrap();
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    built.doc
}

#[tokio::test(flavor = "multi_thread")]
async fn query_routes_serve_the_reports_figures() {
    let fx = fixture(3, 3);
    common::publish_factors(fx.path(), 3);
    let srv = start(fx.path(), config(&fx)).await;
    // Two days of the three enterprises (uploads are ordered by day, then device).
    post_uploads(&srv, &fx, 0..6).await;
    let size = srv.state.head().size;

    // Status.
    let status = json_at(&srv, "/api/v1/status").await;
    assert_eq!(status["size"], size);
    assert_eq!(status["checkpoint"]["size"], size);
    assert_eq!(status["enterprises"], 3);
    assert_eq!(status["devices"], 3);
    assert_eq!(status["publications"], json!(["CN-test-synthetic@v1"]));
    assert_eq!(status["cosignatures"], json!([]));
    assert_eq!(status["verifier_key"], fx.vkey);

    // Park views = the park report's numbers.
    let park = report(&fx, Scope::Park, size, None);
    let totals = park.park_totals.clone().unwrap();
    let em = json_at(&srv, "/api/v1/park/emissions").await;
    same(&em["totals"], &json!(totals));
    assert_eq!(em["checkpoint_size"], size);
    assert_eq!(em["period"], json!(park.period));
    assert!(totals.scope2_location_g > 0 && totals.consumption_wh > 0);
    let rows = em["enterprises"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for (row, e) in rows.iter().zip(&park.reports) {
        assert_eq!(row["enterprise"], e.enterprise);
        assert_eq!(row["scope1_g"], e.figures["scope1"]["fossil_g"]);
        assert_eq!(
            row["scope2_location_g"],
            e.figures["scope2_location"]["total_g"]
        );
        assert_eq!(
            row["scope2_market_g"],
            e.figures["scope2_market"]["total_g"]
        );
    }
    let cmp = json_at(&srv, "/api/v1/park/comparison").await;
    assert_eq!(cmp["totals"]["difference_g"], totals.difference_g);
    for (row, e) in cmp["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&park.reports)
    {
        assert_eq!(row["reason"], e.figures["comparison"]["reason"]);
        assert_eq!(row["difference_g"], e.figures["comparison"]["difference_g"]);
    }
    let ind = json_at(&srv, "/api/v1/park/indicators").await;
    same(&ind["totals"]["green_share"], &json!(totals.green_share));
    let issues = json_at(&srv, "/api/v1/park/issues").await;
    assert_eq!(issues["quarantine"]["count"], 0);
    assert_eq!(
        issues["count"].as_u64().unwrap(),
        issues["log_issues"].as_array().unwrap().len() as u64
            + issues["accounting_issues"].as_array().unwrap().len() as u64
            + issues["ingest_issue_count"].as_u64().unwrap()
    );

    // One enterprise's views = its own report's.
    let e = fx.enterprise(0);
    let own = report(&fx, Scope::Enterprise(e.clone()), size, None);
    let f = &own.reports[0].figures;
    let cmp = json_at(&srv, &format!("/api/v1/enterprises/{e}/comparison")).await;
    same(&cmp["comparison"], &f["comparison"]);
    assert!(cmp["comparison"]["reason"].as_str().unwrap().len() > 20);
    same(&cmp["fixed_factor"], &json!(own.parameters.fixed_factor));
    let em = json_at(&srv, &format!("/api/v1/enterprises/{e}/emissions")).await;
    same(&em["scope1"], &f["scope1"]);
    same(&em["scope2_location"], &f["scope2_location"]);
    same(&em["scope2_market"], &f["scope2_market"]);
    let ind = json_at(&srv, &format!("/api/v1/enterprises/{e}/indicators")).await;
    same(&ind["indicators"], &f["indicators"]);

    // Factor coverage and filled values, verbatim, in every enterprise and park view.
    let mine = &own.reports[0];
    let coverage = json!(mine.factor_coverage);
    assert_eq!(coverage["complete"], true, "{coverage}");
    assert!(coverage["intervals"].as_u64().unwrap() > 0);
    for view in [&cmp, &em, &ind] {
        assert_eq!(view["factor_coverage"], coverage);
        assert_eq!(view["filled_share"], json!(mine.filled_share));
    }
    for what in ["emissions", "comparison", "indicators"] {
        let v = json_at(&srv, &format!("/api/v1/park/{what}")).await;
        assert_eq!(
            v["factor_coverage"],
            json!(totals.factor_coverage),
            "{what}"
        );
        assert_eq!(v["filled_share"], json!(totals.filled_share), "{what}");
        for (row, r) in v["enterprises"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&park.reports)
        {
            assert_eq!(row["factor_coverage"], json!(r.factor_coverage), "{what}");
            assert_eq!(row["filled_share"], json!(r.filled_share), "{what}");
        }
    }

    // The downloads are the report, byte for byte as `tanji report` renders it.
    let (status, csv) = get(&srv, &format!("/api/v1/enterprises/{e}/report?format=csv")).await;
    assert_eq!(status, 200);
    assert_eq!(csv, tanji_report::render_csv(&own));
    let (_, html) = get(&srv, &format!("/api/v1/enterprises/{e}/report?format=html")).await;
    assert_eq!(html, tanji_report::render_html(&own));
    let (_, doc) = get(&srv, &format!("/api/v1/enterprises/{e}/report")).await;
    assert_eq!(
        doc,
        format!("{}\n", serde_json::to_string_pretty(&own).unwrap())
    );
    let (_, doc) = get(&srv, "/api/v1/park/report?format=json").await;
    assert_eq!(
        doc,
        format!("{}\n", serde_json::to_string_pretty(&park).unwrap())
    );
    // The workbook and the PDF: their media types, file names, and the workbook's Provenance
    // sheet carries the SHA-256 of the JSON download.
    for (format, media, magic) in [
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &b"PK"[..],
        ),
        ("pdf", "application/pdf", &b"%PDF-"[..]),
    ] {
        let res = client()
            .get(srv.at(&format!("/api/v1/enterprises/{e}/report?format={format}")))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let h = |n: &str| res.headers()[n].to_str().unwrap().to_string();
        assert_eq!(h("content-type"), media);
        assert_eq!(
            h("content-disposition"),
            format!("attachment; filename=\"{e}.{format}\"")
        );
        let bytes = res.bytes().await.unwrap().to_vec();
        assert!(bytes.starts_with(magic), "{format}");
        if format == "xlsx" {
            use calamine::Reader as _;
            use sha2::Digest as _;
            let mut wb: calamine::Xlsx<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
            let names = wb.sheet_names();
            let prov = wb.worksheet_range(names.last().unwrap()).unwrap();
            let (_, json) = get(&srv, &format!("/api/v1/enterprises/{e}/report")).await;
            let want = hex::encode(sha2::Sha256::digest(json.as_bytes()));
            assert!(
                prov.rows()
                    .any(|r| r.get(1) == Some(&calamine::Data::String(want.clone()))),
                "no content hash {want} in the Provenance sheet"
            );
        }
    }
    let (status, body) = get(&srv, &format!("/api/v1/enterprises/{e}/report?format=docx")).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("use json, csv, html, text, xlsx or pdf"),
        "{body}"
    );

    // Measured loads over the first day add up to that day's grid import in the report.
    let day = "2026-01-01";
    let loads = json_at(
        &srv,
        &format!("/api/v1/enterprises/{e}/loads?from={day}&to={day}"),
    )
    .await;
    assert_eq!(loads["start"], "2026-01-01T00:00:00Z");
    assert_eq!(loads["end"], "2026-01-02T00:00:00Z");
    let import = loads["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["carrier"] == "electricity_import")
        .unwrap();
    assert_eq!(import["unit"], "kWh");
    let values = import["values_milli"].as_array().unwrap();
    assert_eq!(values.len(), 96);
    let sum: i64 = values.iter().map(|v| v.as_i64().unwrap()).sum();
    assert_eq!(import["total_milli"], sum);
    let day_report = report(
        &fx,
        Scope::Enterprise(e.clone()),
        size,
        Some((common::START, common::START + 86_400)),
    );
    assert_eq!(
        json!(sum),
        day_report.reports[0].figures["scope2_location"]["import_wh"]
    );
    assert_eq!(loads["factors"]["g_per_kwh"].as_array().unwrap().len(), 24);

    // The factor curve is the published series: local day 2026-01-01 starts at 16:00 UTC the
    // day before; the fixture's factor is 500 − 150·cos(2π(h − 4)/24) g/kWh at UTC hour h.
    let curve = json_at(&srv, "/api/v1/factors/curve?day=2026-01-01").await;
    assert_eq!(curve["publication"], "CN-test-synthetic@v1");
    assert_eq!(curve["day"], "2026-01-01");
    assert_eq!(curve["synthetic"], true);
    let g = |utc_hour: i64| {
        let phase = (utc_hour.rem_euclid(24) as f64 - 4.0) / 24.0 * std::f64::consts::TAU;
        (5000.0 - 1500.0 * phase.cos()).round() / 10.0
    };
    let hours = curve["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    for (h, row) in hours.iter().enumerate() {
        assert_eq!(row["hour"], h);
        assert_eq!(
            row["g_per_kwh"].as_f64().unwrap(),
            g(h as i64 + 16),
            "hour {h}"
        );
    }
    // Equal weights: the annual mean is the plain mean of the published hours (5 days).
    let all: Vec<f64> = (-24..4 * 24).map(g).collect();
    let mean = all.iter().sum::<f64>() / all.len() as f64;
    let served = curve["annual_mean"]["g_per_kwh"].as_f64().unwrap();
    assert!((served - mean).abs() < 1e-3, "{served} vs {mean}");
    assert_eq!(curve["annual_mean"]["intervals"], all.len());

    // Malformed queries say what to send; unknown things are 404.
    for (path, needle) in [
        ("/api/v1/park/emissions?from=2026-01-01", "give both"),
        (
            "/api/v1/park/emissions?from=2026-01-02&to=2026-01-01",
            "is empty",
        ),
        (
            "/api/v1/park/emissions?from=yesterday&to=2026-01-01",
            "YYYY-MM-DD",
        ),
        ("/api/v1/factors/curve?day=1.1.2026", "YYYY-MM-DD"),
    ] {
        let (status, body) = get(&srv, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    for path in [
        "/api/v1/enterprises/e-9999/emissions",
        "/api/v1/enterprises/e-9999/loads",
        "/api/v1/factors/curve?publication=nope",
        "/api/v1/factors/curve?region=nowhere",
    ] {
        let (status, body) = get(&srv, path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }

    // The cache follows the log: a third day changes the figures and the checkpoint.
    post_uploads(&srv, &fx, 6..9).await;
    let grown = srv.state.head().size;
    assert_eq!(grown, size + 3);
    let em = json_at(&srv, "/api/v1/park/emissions").await;
    assert_eq!(em["checkpoint_size"], grown);
    let park = report(&fx, Scope::Park, grown, None);
    same(&em["totals"], &json!(park.park_totals.unwrap()));
    assert!(
        em["totals"]["consumption_wh"].as_i64().unwrap() > totals.consumption_wh,
        "{em}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn while_the_log_grows_a_report_is_rebuilt_at_most_once_per_refresh_interval() {
    let fx = fixture(2, 3);
    common::publish_factors(fx.path(), 3);
    let mut cfg = config(&fx);
    let refresh = std::time::Duration::from_secs(600);
    cfg.dashboard.report_refresh_ms = refresh.as_millis() as u64;
    // The server's clock moves only when told: the interval passes when the test says so.
    let clock = Arc::new(ManualClock::at_system_now());
    let srv = common::start_on(fx.path(), cfg, clock.clone()).await;
    post_uploads(&srv, &fx, 0..2).await;
    let first = srv.state.head().size;
    let em = json_at(&srv, "/api/v1/park/emissions").await;
    assert_eq!(em["checkpoint_size"], first);
    post_uploads(&srv, &fx, 2..4).await;
    let grown = srv.state.head().size;
    assert_eq!(grown, first + 2);
    // Within the interval (up to its last millisecond): the last build, which names its
    // (earlier) checkpoint.
    clock.advance(refresh - std::time::Duration::from_millis(1));
    let again = json_at(&srv, "/api/v1/park/emissions").await;
    assert_eq!(again["checkpoint_size"], first);
    assert_eq!(again["totals"], em["totals"]);
    // The status always names the latest checkpoint.
    assert_eq!(json_at(&srv, "/api/v1/status").await["size"], grown);

    // Past the interval: the first request gets the last build and starts one rebuild in the
    // background; the rebuilt report at the latest checkpoint follows.
    clock.advance(std::time::Duration::from_millis(1));
    let stale = json_at(&srv, "/api/v1/park/emissions").await;
    assert_eq!(stale["checkpoint_size"], first);
    // Waiting for the background build, not for time: the clock stands still meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let fresh = loop {
        let v = json_at(&srv, "/api/v1/park/emissions").await;
        if v["checkpoint_size"] == grown {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rebuilt report at size {grown} within 60 s: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let park = report(&fx, Scope::Park, grown, None);
    same(&fresh["totals"], &json!(park.park_totals.unwrap()));

    // The rebuilt report is the one served for the next interval, though the log grows again.
    post_uploads(&srv, &fx, 4..6).await;
    let last = srv.state.head().size;
    assert_eq!(last, grown + 2);
    clock.advance(refresh - std::time::Duration::from_millis(1));
    assert_eq!(
        json_at(&srv, "/api/v1/park/emissions").await["checkpoint_size"],
        grown
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_announces_each_new_checkpoint() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let size = srv.state.head().size;
    let mut res = client()
        .get(srv.at("/api/v1/events?max=2"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // The first event is the current head.
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = res.chunk().await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    post_uploads(&srv, &fx, 0..2).await;
    // The second is the grown log; then the stream ends (max=2).
    while let Some(chunk) = res.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events: Vec<Value> = text
        .split("\n\n")
        .filter(|b| b.contains("event: checkpoint"))
        .map(|b| {
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            serde_json::from_str(data).unwrap()
        })
        .collect();
    assert_eq!(events.len(), 2, "{text}");
    assert_eq!(events[0]["size"], size);
    assert_eq!(events[1]["size"], size + 2);
    assert!(events[1]["checkpoint"]
        .as_str()
        .unwrap()
        .contains(&format!("\n{}\n", size + 2)));
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_event_stream_ends_when_the_server_shuts_down() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let mut res = client()
        .get(srv.at("/api/v1/events"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    let first = res.chunk().await.unwrap().unwrap();
    assert!(std::str::from_utf8(&first)
        .unwrap()
        .contains("event: checkpoint"));
    // A graceful shutdown does not wait for the dashboard to close its stream: the stream
    // ends, and `run` returns.
    srv.stop().await;
    while let Some(chunk) = res.chunk().await.unwrap() {
        assert!(!std::str::from_utf8(&chunk).unwrap().contains("event:"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_lists_the_witness_cosignatures_of_the_served_checkpoint() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let head = srv.state.head();
    // A cosigned copy: the log's note with one more signature line (key id 0a0b0c0d).
    let mut sig = vec![0x0a, 0x0b, 0x0c, 0x0d];
    sig.extend([7u8; 72]);
    let cosigned = format!(
        "{}— witness.example/w1 {}\n",
        head.checkpoint,
        base64::engine::general_purpose::STANDARD.encode(&sig)
    );
    srv.state.set_cosigned_checkpoint(head.size, &cosigned);
    let status = json_at(&srv, "/api/v1/status").await;
    assert_eq!(
        status["cosignatures"],
        json!([{"name": "witness.example/w1", "key_id": "0a0b0c0d"}])
    );
    assert_eq!(status["checkpoint"]["note"], cosigned);
    srv.stop().await;
}

/// GETs `path` with `Accept-Language: accept` (when given) and returns the JSON.
async fn json_lang(srv: &common::Running, path: &str, accept: Option<&str>) -> Value {
    let mut req = client().get(srv.at(path)).bearer_auth(OPERATOR);
    if let Some(a) = accept {
        req = req.header("accept-language", a);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    serde_json::from_str(&res.text().await.unwrap()).unwrap()
}

/// Whether `s` holds a CJK character.
fn has_han(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// The Chinese dashboard gets the server's sentences in Chinese: the reason (the same
/// function's, from the same figures), method notes, alert and issue texts; every number the
/// same as in English.
#[tokio::test(flavor = "multi_thread")]
async fn texts_come_in_the_language_asked() {
    let fx = fixture(2, 3);
    common::publish_factors(fx.path(), 3);
    let srv = start(fx.path(), config(&fx)).await;
    post_uploads(&srv, &fx, 0..4).await;
    let e = fx.enterprise(0);
    let path = format!("/api/v1/enterprises/{e}/comparison");
    let en = json_lang(&srv, &path, None).await;
    let zh = json_lang(&srv, &format!("{path}?lang=zh"), None).await;
    let by_header = json_lang(&srv, &path, Some("zh-CN,zh;q=0.9,en;q=0.8")).await;
    let en_reason = en["comparison"]["reason"].as_str().unwrap();
    let zh_reason = zh["comparison"]["reason"].as_str().unwrap();
    assert!(!has_han(en_reason), "{en_reason}");
    assert!(has_han(zh_reason), "{zh_reason}");
    assert_eq!(
        by_header["comparison"]["reason"],
        zh["comparison"]["reason"]
    );
    // ?lang= wins over the header.
    let en_again = json_lang(&srv, &format!("{path}?lang=en"), Some("zh-CN")).await;
    assert_eq!(en_again["comparison"]["reason"], en_reason);
    // The sentence is the accounting's own, in Chinese, from the figures served.
    let c: tanji_accounting::Comparison = serde_json::from_value(en["comparison"].clone()).unwrap();
    assert_eq!(
        tanji_accounting::why::reason(&c, tanji_accounting::Lang::Zh).as_deref(),
        Some(zh_reason)
    );
    // Nothing else differs.
    let mut zh_c = zh["comparison"].clone();
    zh_c["reason"] = en["comparison"]["reason"].clone();
    same(&zh_c, &en["comparison"]);
    let park = json_lang(&srv, "/api/v1/park/comparison?lang=zh", None).await;
    assert!(park["enterprises"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| has_han(r["reason"].as_str().unwrap())));

    // Method notes and the factor note.
    let loads = json_lang(
        &srv,
        &format!("/api/v1/enterprises/{e}/loads?lang=zh"),
        None,
    )
    .await;
    assert!(has_han(loads["method"].as_str().unwrap()));
    let curve = json_lang(&srv, "/api/v1/factors/curve", Some("zh")).await;
    assert!(has_han(curve["annual_mean"]["method"].as_str().unwrap()));
    let anomalies = json_lang(&srv, "/api/v1/park/anomalies?lang=zh", None).await;
    assert!(has_han(anomalies["method"].as_str().unwrap()));
    for a in anomalies["alerts"].as_array().unwrap() {
        assert!(has_han(a["evidence"]["reason"].as_str().unwrap()), "{a}");
    }
    let issues = json_lang(&srv, "/api/v1/park/issues?lang=zh", None).await;
    for i in issues["log_issues"]
        .as_array()
        .unwrap()
        .iter()
        .chain(issues["accounting_issues"].as_array().unwrap())
        .chain(issues["ingest_issues"].as_array().unwrap())
    {
        assert!(has_han(i["message"].as_str().unwrap()), "{i}");
    }
    let en_issues = json_lang(&srv, "/api/v1/park/issues", None).await;
    assert_eq!(issues["count"], en_issues["count"]);

    // A language we do not have is refused, saying which we have.
    let res = client()
        .get(srv.at(&format!("{path}?lang=fr")))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("en or zh"));
    // An Accept-Language without en or zh gets English.
    let fr = json_lang(&srv, &path, Some("fr-FR,de;q=0.5")).await;
    assert_eq!(fr["comparison"]["reason"], en_reason);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_quarantine_is_listed_a_page_at_a_time_without_raw_bytes() {
    let fx = fixture(2, 1);
    common::publish_factors(fx.path(), 1);
    {
        let mut park = Park::open(fx.path()).unwrap();
        let bad: Vec<tanji_park::Incoming> = (0..7)
            .map(|k| {
                let text = format!("{{not json {k}");
                tanji_park::Incoming {
                    source: format!("peer-{k}"),
                    parsed: tanji_readings::parse_json_upload(&text),
                    raw: text.into_bytes(),
                    checked: None,
                }
            })
            .collect();
        park.ingest(bad, common::START).unwrap();
    }
    let srv = start(fx.path(), config(&fx)).await;
    post_uploads(&srv, &fx, 0..1).await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/park/issues?limit=3".to_string();
    loop {
        let issues = json_at(&srv, &path).await;
        let q = &issues["quarantine"];
        assert_eq!(q["count"], 7);
        assert_eq!(q["refused"], 7);
        let page = q["latest"].as_array().unwrap();
        assert!(page.len() <= 3, "a page holds at most its limit");
        for row in page {
            assert!(row.get("raw").is_none(), "a listing carries no raw bytes");
            seen.push(row["id"].as_u64().unwrap());
        }
        match q["next"].as_u64() {
            Some(next) => path = format!("/api/v1/park/issues?limit=3&before={next}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "pages of 3, 3 and 1: {seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    // Any u64 is a cursor: one past the store's ids reads from the newest row.
    let newest = json_at(
        &srv,
        "/api/v1/park/issues?limit=3&before=18446744073709551615",
    )
    .await;
    assert_eq!(
        newest["quarantine"]["latest"][0]["id"].as_u64(),
        Some(seen[0])
    );
    let (status, body) = get(&srv, "/api/v1/park/issues?limit=501").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("limit 501"), "{body}");
    srv.stop().await;
}

/// The outcomes route answers with `tanji_report::outcomes`' figures (asked periods, and by
/// default the two halves of the data's whole days), with value added and output from an
/// inputs publication, and downloads the workbook and the PDF as files.
#[tokio::test(flavor = "multi_thread")]
async fn park_outcomes_are_the_librarys_and_download_as_files() {
    let fx = fixture(2, 4);
    common::publish_factors(fx.path(), 4);
    let store = tanji_store::SqliteStore::open(&Park::db_path(fx.path())).unwrap();
    let day = |d: i64| common::START + d * 86_400;
    let inputs = tanji_report::illustrative_inputs(&store, (day(0), day(4))).unwrap();
    let mut park = Park::open(fx.path()).unwrap();
    let content = serde_json::to_vec(&inputs).unwrap();
    tanji_report::publish_inputs(&mut park, "econ", content, common::START).unwrap();
    drop(park);
    let srv = start(fx.path(), config(&fx)).await;
    post_uploads(&srv, &fx, 0..fx.uploads.len()).await;
    let status = json_at(&srv, "/api/v1/status").await;
    assert_eq!(status["inputs"], json!(["econ@v1"]));

    let v: NoteVerifier = fx.vkey.parse().unwrap();
    let mut req =
        tanji_report::OutcomesRequest::new((day(2), day(4)), (day(0), day(2)), None, None).unwrap();
    req.inputs = Some("econ".into());
    let want = json!(tanji_report::outcomes(&store, &v, &req).unwrap());
    let asked = "from=2026-01-03&to=2026-01-04&baseline_from=2026-01-01&baseline_to=2026-01-02";
    let got = json_at(&srv, &format!("/api/v1/park/outcomes?{asked}&inputs=econ")).await;
    same(&got, &want);
    // Without periods: the first two days are the baseline, the last two the period.
    let halves = json_at(&srv, "/api/v1/park/outcomes?inputs=econ").await;
    same(&halves, &want);
    let park_o = &got["park_outcomes"];
    assert!(park_o["period"]["tce"]["value"].as_f64().unwrap() > 0.0);
    assert!(park_o["change"]["value_added_per_tce_pct"]["value"].is_number());
    let method = park_o["period"]["value_added"]["method"].as_str().unwrap();
    assert!(method.contains("ILLUSTRATIVE"), "{method}");
    assert_eq!(got["enterprises"].as_array().unwrap().len(), 2);
    // Without inputs: efficiency is absent with its reason, never 0.
    let bare = json_at(&srv, "/api/v1/park/outcomes").await;
    let eff = &bare["park_outcomes"]["period"]["value_added_per_tce"];
    assert_eq!(eff["value"], Value::Null);
    assert!(
        eff["absent"].as_str().unwrap().contains("no value added"),
        "{eff}"
    );

    for (format, media, magic) in [
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &b"PK"[..],
        ),
        ("pdf", "application/pdf", &b"%PDF-"[..]),
    ] {
        let res = client()
            .get(srv.at(&format!(
                "/api/v1/park/outcomes?{asked}&inputs=econ&format={format}"
            )))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "{format}");
        let h = |n: &str| res.headers()[n].to_str().unwrap().to_string();
        assert_eq!(h("content-type"), media);
        assert_eq!(
            h("content-disposition"),
            format!("attachment; filename=\"test-outcomes.{format}\"")
        );
        let bytes = res.bytes().await.unwrap().to_vec();
        assert!(bytes.starts_with(magic), "{format}");
        if format == "xlsx" {
            // The park's period tce, as the JSON has it, in the park's sheet.
            use calamine::Reader as _;
            let mut wb: calamine::Xlsx<_> =
                calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
            let tce = park_o["period"]["tce"]["value"].as_f64().unwrap();
            let found = wb.sheet_names().iter().any(|n| {
                wb.worksheet_range(n).unwrap().rows().any(|r| {
                    r.iter().any(|c| match c {
                        calamine::Data::Float(x) => (x - tce).abs() < 1e-4,
                        _ => false,
                    })
                })
            });
            assert!(found, "no {tce} tce in the workbook");
        }
    }
    let (status, text) = get(&srv, &format!("/api/v1/park/outcomes?{asked}&format=text")).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("Outcomes of park test"), "{text}");
    for (path, code) in [
        ("/api/v1/park/outcomes?from=2026-01-03&to=2026-01-04", 400),
        ("/api/v1/park/outcomes?format=csv", 400),
        ("/api/v1/park/outcomes?inputs=nope", 404),
    ] {
        let (status, body) = get(&srv, path).await;
        assert_eq!(status, code, "{path}: {body}");
    }
    let res = client()
        .get(srv.at("/api/v1/park/outcomes"))
        .bearer_auth(common::ENTERPRISE_1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    srv.stop().await;
}
