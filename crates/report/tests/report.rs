//! Reports on a small simulated park with a published synthetic Fujian-like factor year: a
//! fresh report audits OK; any altered number, logged record, checkpoint or leaf list fails,
//! naming what differs; with anomaly detection, an injected flat line is listed as a data
//! issue the audit checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use tanji_park::{Incoming, Park, PublicationRequest};
use tanji_report::{audit, build, render_csv, render_html, FixedChoice, Request, Scope, Source};
use tanji_simulator::{Fault, Park as SimPark, ParkSpec};

const DAY: i64 = 86_400;
const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const NOW: i64 = START + 40 * DAY;

/// A park of 3 enterprises × 3 days with a published, calibrated factor year.
fn park() -> (tempfile::TempDir, Park) {
    park_with(Vec::new())
}

/// [`park`] with meter faults injected into the simulated uploads.
fn park_with(faults: Vec<Fault>) -> (tempfile::TempDir, Park) {
    let dir = tempfile::tempdir().unwrap();
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    let generation = tanji_simulator::grid::fujian_like_generation_csv(2026, 7);
    let gen = tanji_factors::parse_generation_csv(&generation).unwrap();
    let opts = tanji_factors::Options {
        calibrate: vec![(tanji_simulator::grid::REGION.to_string(), 0.4092)],
    };
    let series = tanji_factors::compute(
        &gen,
        &[],
        &tanji_factors::SourceFactors::default_table(),
        &opts,
    )
    .unwrap();
    let csv = series.to_csv();
    park.publish(&PublicationRequest {
        name: "fj".into(),
        method: tanji_factors::METHOD.into(),
        content: csv.into_bytes(),
        regions: series.regions(),
        period: (
            series.rows.first().unwrap().start,
            series.rows.last().unwrap().end,
        ),
        intervals: 8760,
        inputs: Vec::new(),
        calibrations: series.calibrations.iter().map(|c| c.to_string()).collect(),
        published_at: NOW,
    })
    .unwrap();
    let mut sim = SimPark::generate(ParkSpec {
        seed: 5,
        enterprises: 3,
        start_day: START,
        days: 3,
    });
    sim.faults = faults;
    park.register(&sim.registrations(START)).unwrap();
    let batch = sim
        .uploads()
        .enumerate()
        .map(|(i, u)| Incoming {
            source: format!("t:{i}"),
            raw: Vec::new(),
            parsed: Ok(u),
            checked: None,
        })
        .collect();
    park.ingest(batch, NOW).unwrap();
    (dir, park)
}

fn report_json(park: &Park, scope: Scope) -> String {
    let built = build(park.store(), &park.verifier(), &Request::new(scope)).unwrap();
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    serde_json::to_string_pretty(&built.doc).unwrap()
}

fn subjects(park: &Park, json: &str) -> Vec<String> {
    let r = audit(json, park.store(), Some(&park.verifier())).unwrap();
    r.findings.iter().map(|f| f.subject.clone()).collect()
}

fn set(v: &mut Value, path: &[&str], f: impl FnOnce(&Value) -> Value) {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*p],
        };
    }
    *cur = f(cur);
}

#[test]
fn a_fresh_report_audits_ok_and_names_its_provenance() {
    let (_dir, park) = park();
    let json = report_json(&park, Scope::Enterprise("e-0001".into()));
    let r = audit(&json, park.store(), Some(&park.verifier())).unwrap();
    assert!(r.ok(), "{:?}", r.findings);
    assert!(r.values > 100, "{}", r.values);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["format"], "tanji-report/v1");
    assert_eq!(v["parameters"]["factors"], "fj@v1");
    assert_eq!(
        v["parameters"]["fixed_factor"]["basis"],
        "calibration_target"
    );
    assert_eq!(v["parameters"]["fixed_factor"]["t_per_mwh"], 0.4092);
    assert_eq!(v["provenance"]["factors"]["synthetic"], true);
    assert_eq!(v["provenance"]["checkpoint"]["size"], park.size());
    assert_eq!(v["period"]["start"], "2026-10-01T00:00:00Z");
    assert_eq!(v["period"]["end"], "2026-10-04T00:00:00Z");
    // Every upload of e-0001's device is listed: 3 days, one upload per device per day.
    let leaves = v["provenance"]["leaves"].as_array().unwrap();
    assert_eq!(leaves.iter().filter(|l| l["kind"] == "upload").count(), 3);
    assert_eq!(
        leaves.iter().filter(|l| l["kind"] == "publication").count(),
        1
    );
    assert!(leaves.iter().any(|l| l["kind"] == "registration"));
    // Same log, same request: same bytes.
    assert_eq!(json, report_json(&park, Scope::Enterprise("e-0001".into())));
    let c = &v["reports"][0]["figures"]["comparison"];
    assert_eq!(
        c["fixed_g"].as_i64().unwrap() - c["dynamic_g"].as_i64().unwrap(),
        c["difference_g"].as_i64().unwrap()
    );
}

#[test]
fn a_park_report_has_totals_and_audits_ok() {
    let (_dir, park) = park();
    let json = report_json(&park, Scope::Park);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["reports"].as_array().unwrap().len(), 3);
    let sum: i64 = v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["figures"]["scope2_location"]["total_g"].as_i64().unwrap())
        .sum();
    assert_eq!(v["park_totals"]["scope2_location_g"].as_i64().unwrap(), sum);
    assert!(subjects(&park, &json).is_empty());
}

#[test]
fn an_altered_number_fails_naming_its_path() {
    let (_dir, park) = park();
    // An enterprise with a fuel meter, so Scope 1 has a line.
    let (json, v) = ["e-0001", "e-0002", "e-0003"]
        .iter()
        .map(|e| {
            let j = report_json(&park, Scope::Enterprise((*e).into()));
            let v: Value = serde_json::from_str(&j).unwrap();
            (j, v)
        })
        .find(|(_, v)| {
            v["reports"][0]["figures"]["scope1"]["lines"]
                .as_array()
                .is_some_and(|l| !l.is_empty())
        })
        .expect("an enterprise with a fuel meter");
    assert!(subjects(&park, &json).is_empty());
    let cases: [(&[&str], &str); 5] = [
        (
            &["reports", "0", "figures", "scope2_location", "total_g"],
            "reports[0].figures.scope2_location.total_g",
        ),
        (
            &[
                "reports",
                "0",
                "figures",
                "comparison",
                "by_hour",
                "12",
                "share",
            ],
            "reports[0].figures.comparison.by_hour[12].share",
        ),
        (
            &[
                "reports",
                "0",
                "figures",
                "scope1",
                "lines",
                "0",
                "emissions_g",
            ],
            "reports[0].figures.scope1.lines[0].emissions_g",
        ),
        (
            &["reports", "0", "figures", "comparison", "difference_pct"],
            "reports[0].figures.comparison.difference_pct",
        ),
        (
            &["parameters", "fixed_factor", "t_per_mwh"],
            "parameters.fixed_factor.t_per_mwh",
        ),
    ];
    for (path, name) in cases {
        let mut w = v.clone();
        set(&mut w, path, |x| match x.as_i64() {
            Some(i) => Value::from(i + 1),
            None => Value::from(x.as_f64().unwrap() * 1.001 + 0.0001),
        });
        let found = subjects(&park, &serde_json::to_string(&w).unwrap());
        assert!(found.contains(&name.to_string()), "{name}: {found:?}");
    }
    // The reason sentence is a figure too.
    let mut w = v.clone();
    set(
        &mut w,
        &["reports", "0", "figures", "comparison", "reason"],
        |_| Value::from("Your emissions are fine."),
    );
    let found = subjects(&park, &serde_json::to_string(&w).unwrap());
    assert_eq!(found, ["reports[0].figures.comparison.reason"]);
}

#[test]
fn an_altered_logged_record_fails_naming_the_record() {
    let (dir, park) = park();
    let json = report_json(&park, Scope::Enterprise("e-0002".into()));
    let v: Value = serde_json::from_str(&json).unwrap();
    let leaf = v["provenance"]["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "upload")
        .unwrap()
        .clone();
    let index = leaf["index"].as_i64().unwrap();
    drop(park);
    {
        let db = rusqlite::Connection::open(dir.path().join("park.db")).unwrap();
        let mut data: Vec<u8> = db
            .query_row("SELECT data FROM entries WHERE idx = ?1", [index], |r| {
                r.get(0)
            })
            .unwrap();
        // The low byte of the last interval value of the last channel (before the signature).
        let at = data.len() - 65;
        data[at] ^= 0x01;
        db.execute(
            "UPDATE entries SET data = ?1 WHERE idx = ?2",
            rusqlite::params![data, index],
        )
        .unwrap();
    }
    let store = tanji_store::SqliteStore::open(&dir.path().join("park.db")).unwrap();
    let r = audit(&json, &store, None).unwrap();
    let named = format!("entry {index} (upload {})", leaf["what"].as_str().unwrap());
    assert!(
        r.findings
            .iter()
            .any(|f| f.subject == named && f.problem.contains("changed")),
        "{:?}",
        r.findings
    );
    // Its device signature no longer verifies either.
    assert!(r
        .findings
        .iter()
        .any(|f| f.problem.contains("device signature")));
}

#[test]
fn an_altered_checkpoint_note_fails() {
    let (_dir, park) = park();
    let json = report_json(&park, Scope::Enterprise("e-0001".into()));
    let mut v: Value = serde_json::from_str(&json).unwrap();
    set(&mut v, &["provenance", "checkpoint", "note"], |n| {
        let n = n.as_str().unwrap();
        let size = park.size().to_string();
        Value::from(n.replacen(
            &format!("\n{size}\n"),
            &format!("\n{}\n", park.size() - 1),
            1,
        ))
    });
    let found = subjects(&park, &serde_json::to_string(&v).unwrap());
    assert!(found.contains(&"checkpoint".to_string()), "{found:?}");
}

#[test]
fn a_report_that_leaves_out_a_record_fails() {
    let (_dir, park) = park();
    let json = report_json(&park, Scope::Enterprise("e-0003".into()));
    let mut v: Value = serde_json::from_str(&json).unwrap();
    let leaves = v["provenance"]["leaves"].as_array_mut().unwrap();
    let pos = leaves.iter().position(|l| l["kind"] == "upload").unwrap();
    let dropped = leaves.remove(pos);
    let r = audit(
        &serde_json::to_string(&v).unwrap(),
        park.store(),
        Some(&park.verifier()),
    )
    .unwrap();
    let named = format!(
        "entry {} (upload {})",
        dropped["index"],
        dropped["what"].as_str().unwrap()
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.subject == named && f.problem.contains("incomplete")),
        "{:?}",
        r.findings
    );
}

#[test]
fn a_given_fixed_factor_is_used_and_named() {
    let (_dir, park) = park();
    let mut req = Request::new(Scope::Enterprise("e-0001".into()));
    req.fixed = FixedChoice::Given(0.5703);
    req.period = Some((START + DAY, START + 2 * DAY));
    let built = build(park.store(), &park.verifier(), &req).unwrap();
    let v = serde_json::to_value(&built.doc).unwrap();
    assert_eq!(v["parameters"]["fixed_factor"]["basis"], "given");
    let c = &v["reports"][0]["figures"]["comparison"];
    assert_eq!(c["fixed_factor"]["value"].as_f64().unwrap(), 570.3);
    assert_eq!(
        v["provenance"]["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["kind"] == "upload")
            .count(),
        1
    );
    let json = serde_json::to_string(&v).unwrap();
    assert!(subjects(&park, &json).is_empty());
}

/// `text` with what a fresh park makes different every time replaced: its log key by `[log
/// key]`, and each hash, root or signature (a run of 32 or more base64 or hex characters) by
/// a placeholder numbered in order of first appearance, so equal hashes stay visibly equal.
fn redact(text: &str, park: &Park) -> String {
    let text = text.replace(&park.verifier().to_string(), "[log key]");
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let is_token = |c: char| c.is_ascii_alphanumeric() || "+/=".contains(c);
    let mut flush = |token: &mut String, out: &mut String| {
        let hashlike = token.len() >= 32
            && token.chars().any(|c| c.is_ascii_digit())
            && token.chars().any(|c| c.is_ascii_alphabetic());
        if hashlike {
            let n = match seen.iter().position(|t| t == token) {
                Some(n) => n,
                None => {
                    seen.push(token.clone());
                    seen.len() - 1
                }
            };
            out.push_str(&format!("[hash {}]", n + 1));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if is_token(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// The whole HTML and CSV of one enterprise's report (`tests/snapshots/`): the fixed and
/// dynamic figures, the reason sentence, the hour-of-day table, the fuel table's name, the
/// synthetic-factors warning and every figure's path, value and unit.
#[test]
fn html_shows_fixed_vs_dynamic_and_the_reason_and_csv_lists_figures() {
    let (_dir, park) = park();
    let built = build(
        park.store(),
        &park.verifier(),
        &Request::new(Scope::Enterprise("e-0001".into())),
    )
    .unwrap();
    let html = render_html(&built.doc);
    let c = &built.doc.reports[0].figures["comparison"];
    let reason = c["reason"].as_str().unwrap();
    assert!(!reason.is_empty());
    assert!(html.contains(&reason.replace('&', "&amp;")), "{reason}");
    assert!(!html.contains("<script"));
    insta::assert_snapshot!("enterprise_report_html", redact(&html, &park));

    let csv = render_csv(&built.doc);
    let line = csv
        .lines()
        .find(|l| l.starts_with("reports[0].figures.comparison.difference_g,"))
        .unwrap();
    assert_eq!(
        line,
        format!(
            "reports[0].figures.comparison.difference_g,{},gCO2",
            c["difference_g"]
        )
    );
    insta::assert_snapshot!("enterprise_report_csv", redact(&csv, &park));
}

/// The reporting index and the log give the same report, byte for byte, for the park and for
/// one enterprise over a part of the data.
#[test]
fn the_index_and_the_log_give_the_same_report() {
    let (_dir, park) = park();
    for (scope, period) in [
        (Scope::Park, None),
        (
            Scope::Enterprise("e-0001".into()),
            Some((START + DAY / 2, START + 2 * DAY)),
        ),
    ] {
        let mut req = Request::new(scope);
        req.period = period;
        let from_index = build(park.store(), &park.verifier(), &req).unwrap();
        req.source = Source::Log;
        req.device_signatures = true;
        let from_log = build(park.store(), &park.verifier(), &req).unwrap();
        assert!(from_log.problems.is_empty(), "{:?}", from_log.problems);
        assert_eq!(
            serde_json::to_string(&from_index.doc).unwrap(),
            serde_json::to_string(&from_log.doc).unwrap()
        );
    }
}

/// A damaged reporting index: the park refuses to open on it (the seal names the table), and
/// figures built from it anyway are named by the audit, which recomputes from the log.
#[test]
fn a_damaged_index_row_is_caught_by_the_audit() {
    let (dir, park) = park();
    let verifier = park.verifier();
    drop(park);
    {
        let db = rusqlite::Connection::open(dir.path().join("park.db")).unwrap();
        let (meter, start, vals): (String, i64, Vec<u8>) = db
            .query_row(
                "SELECT c.meter, c.start, c.vals FROM channels c WHERE c.meter LIKE '%grid%' ORDER BY c.idx LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let mut values = tanji_store::unpack(&vals, &String::new).unwrap();
        values[10] += 5_000; // 5 kWh more in one quarter-hour
        db.execute(
            "UPDATE channels SET vals = ?1 WHERE meter = ?2 AND start = ?3",
            rusqlite::params![tanji_store::pack(&values), meter, start],
        )
        .unwrap();
    }
    // The park refuses to open (so nothing serves figures from the damaged index)...
    let refused = Park::open(dir.path()).unwrap_err().to_string();
    assert!(refused.contains("channels table"), "{refused}");
    // ...and a report built straight from the store anyway is caught by the audit, which
    // recomputes from the log.
    let store = tanji_store::SqliteStore::open(&dir.path().join("park.db")).unwrap();
    let built = build(&store, &verifier, &Request::new(Scope::Park)).unwrap();
    let json = serde_json::to_string_pretty(&built.doc).unwrap();
    let found: Vec<String> = audit(&json, &store, Some(&verifier))
        .unwrap()
        .findings
        .iter()
        .map(|f| f.subject.clone())
        .collect();
    assert!(
        found
            .iter()
            .any(|s| s.contains("scope2_location.import_wh")),
        "{found:?}"
    );
}

/// A store made before the reporting index existed gets it rebuilt from the log when the
/// park is opened, and reports the same.
#[test]
fn a_store_without_the_index_is_rebuilt_on_open() {
    let (dir, park) = park();
    let before = report_json(&park, Scope::Park);
    drop(park);
    {
        let db = rusqlite::Connection::open(dir.path().join("park.db")).unwrap();
        db.execute_batch("DROP TABLE channels; DELETE FROM meta WHERE key = 'channels';")
            .unwrap();
    }
    // Read straight from the store, the report falls back to the log.
    let store = tanji_store::SqliteStore::open(&dir.path().join("park.db")).unwrap();
    use tanji_store::Store as _;
    assert!(!store.channels_complete().unwrap());
    let verifier = Park::open(dir.path()).unwrap().verifier();
    let fallback = build(&store, &verifier, &Request::new(Scope::Park)).unwrap();
    assert_eq!(serde_json::to_string_pretty(&fallback.doc).unwrap(), before);
    drop(store);
    let park = Park::open(dir.path()).unwrap();
    assert!(park.store().channels_complete().unwrap());
    assert_eq!(report_json(&park, Scope::Park), before);
}

/// An enterprise inputs publication: certificates lower the market-based figure, production
/// records give products with SEE and CBAM figures; the report names the publication, lists
/// its leaf, and audits OK; an altered product figure fails by its path.
#[test]
fn inputs_give_market_based_and_product_figures_that_audit() {
    let (_dir, mut park) = park();
    // Without inputs: the default residual, no instruments.
    let plain = build(
        park.store(),
        &park.verifier(),
        &Request::new(Scope::Enterprise("e-0001".into())),
    )
    .unwrap()
    .doc;
    // A gas meter of the enterprise, if it has one, billed in 20 °C m3.
    let gas_meter = plain.reports[0].figures["scope1"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["carrier"] == "natural_gas")
        .map(|l| l["meter"].as_str().unwrap().to_owned());
    let mut meters = serde_json::Map::new();
    if let Some(m) = &gas_meter {
        meters.insert(
            m.clone(),
            serde_json::json!({"gas_reference": "standard_20c"}),
        );
    }
    let inputs = serde_json::json!({
        "matching": "hourly",
        "enterprises": {
            "e-0001": {
                "meters": meters,
                "certificates": [{
                    "id": "GEC-2026-000123",
                    "mwh": 5,
                    "generation_start": START,
                    "generation_end": START + 3 * DAY,
                    "valid_from": START,
                    "valid_until": START + 365 * DAY
                }],
                "output": {"quantity_milli": 120_000, "unit": "t"},
                "products": {
                    "production": [{
                        "product": "hot-rolled coil",
                        "cn_code": "7208 51 20",
                        "kg": 120_000,
                        "start": START,
                        "end": START + 3 * DAY
                    }],
                    "country_default": {
                        "value": 581.0,
                        "source": "illustrative country default for the test, gCO2/kWh"
                    }
                }
            }
        }
    });
    let p = park
        .publish(&PublicationRequest {
            name: "e1-inputs".into(),
            method: tanji_report::INPUTS_METHOD.into(),
            content: serde_json::to_vec(&inputs).unwrap(),
            regions: Vec::new(),
            period: (0, 0),
            intervals: 0,
            inputs: Vec::new(),
            calibrations: Vec::new(),
            published_at: NOW,
        })
        .unwrap();
    let mut req = Request::new(Scope::Enterprise("e-0001".into()));
    req.inputs = Some("e1-inputs".into());
    let built = build(park.store(), &park.verifier(), &req).unwrap();
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    let doc = built.doc;
    let f = |d: &tanji_report::ReportDoc, path: &[&str]| {
        let mut v = &d.reports[0].figures;
        for p in path {
            v = &v[p];
        }
        v.as_i64().unwrap()
    };
    // Without inputs, market-based = import × the default residual (data of 2026: the latest
    // published, 2023, 609.6 g/kWh), not the location-based figure (no double counting).
    let import = f(&plain, &["scope2_location", "import_wh"]) as f64;
    let market = f(&plain, &["scope2_market", "electricity_g"]) as f64;
    assert!(
        (market - import * 0.6096).abs() <= 1.0,
        "{market} vs {import}"
    );
    assert_eq!(
        plain.reports[0].figures["scope2_market"]["residual_factor"]["value"],
        609.6
    );
    assert!(
        f(&doc, &["scope2_market", "total_g"]) < f(&plain, &["scope2_market", "total_g"]),
        "certificates must lower the market-based figure"
    );
    // The gas meter's choice is in its Scope 1 line: 20 °C m3 converted to normal m3.
    assert!(
        gas_meter.is_some(),
        "e-0001 of the simulated park has a gas meter"
    );
    if let Some(m) = &gas_meter {
        let lines = doc.reports[0].figures["scope1"]["lines"]
            .as_array()
            .unwrap();
        let line = lines.iter().find(|l| l["meter"] == m.as_str()).unwrap();
        assert_eq!(line["gas_volume"]["reference"], "standard_20c", "{line}");
        assert_eq!(line["gas_volume"]["stated"], true);
        let before = plain.reports[0].figures["scope1"]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["meter"] == m.as_str())
            .unwrap()["emissions_g"]
            .as_f64()
            .unwrap();
        let after = line["emissions_g"].as_f64().unwrap();
        assert!(
            (after - before * 273.15 / 293.15).abs() <= 1.0,
            "{before} → {after}"
        );
    }
    assert_eq!(doc.parameters.inputs.as_deref(), Some(p.id.as_str()));
    assert_eq!(doc.provenance.inputs.as_ref().unwrap().index, p.index);
    assert!(doc.provenance.leaves.iter().any(|l| l.index == p.index));
    let products = doc.reports[0].products.as_ref().expect("products");
    let product = &products["products"][0];
    assert_eq!(product["product"], "hot-rolled coil");
    assert!(
        product["cbam"]["see_t_per_t"].as_f64().unwrap() >= 0.0,
        "{product}"
    );

    // The audit recomputes it all, inputs included.
    let json = serde_json::to_string_pretty(&doc).unwrap();
    assert!(
        subjects(&park, &json).is_empty(),
        "{:?}",
        subjects(&park, &json)
    );
    // A fuel line claiming normal m3 where the inputs say 20 °C is found by its path.
    let mut v: Value = serde_json::from_str(&json).unwrap();
    let lines = v["reports"][0]["figures"]["scope1"]["lines"]
        .as_array_mut()
        .unwrap();
    let i = lines
        .iter()
        .position(|l| l["carrier"] == "natural_gas")
        .unwrap();
    lines[i]["gas_volume"]["reference"] = serde_json::json!("normal");
    let found = subjects(&park, &serde_json::to_string(&v).unwrap());
    assert!(
        found.contains(&format!(
            "reports[0].figures.scope1.lines[{i}].gas_volume.reference"
        )),
        "{found:?}"
    );
    let mut v: Value = serde_json::from_str(&json).unwrap();
    v["reports"][0]["products"]["products"][0]["footprint"]["total_g"] = serde_json::json!(1);
    let found = subjects(&park, &serde_json::to_string(&v).unwrap());
    assert!(
        found
            .iter()
            .any(|s| s == "reports[0].products.products[0].footprint.total_g"),
        "{found:?}"
    );
}

/// Meter m-0002-grid stuck from 00:00 to 05:00 local time on 2 October (16:00–21:00 UTC on
/// 1 October is the evening before; this is 2026-10-02T16:00Z–21:00Z).
const STUCK: (i64, i64) = (START + DAY + 16 * 3600, START + DAY + 21 * 3600);

fn stuck_park() -> (tempfile::TempDir, Park) {
    park_with(vec![Fault::FlatLine {
        meter: "m-0002-grid".into(),
        start: STUCK.0,
        end: STUCK.1,
    }])
}

fn anomaly_report(park: &Park) -> Value {
    let mut req = Request::new(Scope::Enterprise("e-0002".into()));
    req.anomalies = true;
    let built = build(park.store(), &park.verifier(), &req).unwrap();
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    serde_json::to_value(&built.doc).unwrap()
}

#[test]
fn an_injected_flat_line_is_a_data_issue_with_its_span_and_effect_and_audits() {
    let (_dir, park) = stuck_park();
    let v = anomaly_report(&park);
    assert_eq!(v["parameters"]["anomalies"], Value::Bool(true));
    let issues = v["issues"].as_array().unwrap();
    let flat: Vec<&Value> = issues
        .iter()
        .filter(|i| i["kind"] == "anomaly_flat_line")
        .collect();
    assert_eq!(flat.len(), 1, "{issues:#?}");
    assert_eq!(flat[0]["subject"], "meter m-0002-grid");
    let message = flat[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("2026-10-02T16:00:00Z to 2026-10-02T21:00:00Z: 20 consecutive intervals (5.00 h) all read exactly "),
        "{message}"
    );
    assert!(
        message.contains("(values in thousandths of kWh)"),
        "{message}"
    );
    assert!(
        message.contains(" t CO2 (")
            && message.ends_with("they are counted as logged, not corrected."),
        "{message}"
    );
    // The effect is the span's import at the factors the figures use: positive, and less
    // than the whole three days' location-based total.
    let grams: f64 = message
        .split(" t CO2 (")
        .nth(1)
        .and_then(|r| r.split(" g)").next())
        .unwrap()
        .parse()
        .unwrap();
    let total = v["reports"][0]["figures"]["scope2_location"]["total_g"]
        .as_f64()
        .unwrap();
    assert!(grams > 0.0 && grams < total / 5.0, "{grams} g of {total} g");

    // Audited: it passes as written, and fails when the issue is removed, naming it.
    let json = serde_json::to_string_pretty(&v).unwrap();
    assert!(subjects(&park, &json).is_empty());
    let mut cut = v.clone();
    let kept: Vec<Value> = issues
        .iter()
        .filter(|i| i["kind"] != "anomaly_flat_line")
        .cloned()
        .collect();
    cut["issues"] = Value::Array(kept);
    let found = subjects(&park, &serde_json::to_string(&cut).unwrap());
    assert!(
        found.contains(&"issue anomaly_flat_line of meter m-0002-grid".to_string()),
        "{found:?}"
    );
    // Or when its span is altered.
    let mut moved = v.clone();
    let at = issues
        .iter()
        .position(|i| i["kind"] == "anomaly_flat_line")
        .unwrap();
    moved["issues"][at]["message"] = Value::String(message.replace("T21:00:00Z", "T20:00:00Z"));
    let found = subjects(&park, &serde_json::to_string(&moved).unwrap());
    assert!(
        found.contains(&format!("issues[{at}].message")),
        "{found:?}"
    );
    // Or when the parameter is dropped (the recomputation then lists no anomaly).
    let mut dropped = v.clone();
    dropped["parameters"]
        .as_object_mut()
        .unwrap()
        .remove("anomalies");
    let found = subjects(&park, &serde_json::to_string(&dropped).unwrap());
    assert!(
        found.contains(&"issue anomaly_flat_line of meter m-0002-grid".to_string()),
        "{found:?}"
    );
}

#[test]
fn without_the_parameter_no_anomaly_is_listed() {
    let (_dir, park) = stuck_park();
    let json = report_json(&park, Scope::Enterprise("e-0002".into()));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(v["parameters"].get("anomalies").is_none());
    assert!(!v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"].as_str().unwrap().starts_with("anomaly_")));
    assert!(subjects(&park, &json).is_empty());
}

/// The GB/T 32150 inventory of a real report carries the report's own totals, and the
/// footprints of two products made from its inputs publication (with a footprint section)
/// share exactly the enterprise's allocated emissions; the report with that inputs document
/// still audits OK.
#[test]
fn the_inventory_and_footprints_come_from_the_report_and_its_inputs() {
    let (_dir, mut park) = park();
    let inputs = serde_json::json!({
        "enterprises": {"e-0001": {
            "products": {
                "production": [
                    {"product": "coil", "cn_code": "7208 51 20", "kg": 30_000, "start": START, "end": START + 3 * DAY},
                    {"product": "sheet", "cn_code": "7209 16 90", "kg": 10_000, "start": START, "end": START + 3 * DAY}
                ],
                "country_default": {"value": 581.0, "source": "illustrative country average for the test, gCO2/kWh"}
            },
            "footprint": {
                "company_name": "Test Steel", "company_ids": ["urn:test:company:1"], "country": "CN",
                "products": {
                    "coil": {"name": "Coil", "description": "hot-rolled coil", "cpc": "41231", "ids": ["urn:test:coil"],
                             "materials": [{"material": "slab", "supplier": "S", "kg_per_t": 1_050.0, "kg_co2e_per_kg": 2.0, "source": "S declaration 2026"}]},
                    "sheet": {"name": "Sheet", "description": "cold-rolled sheet", "cpc": "41232", "ids": ["urn:test:sheet"]}
                }
            }
        }}
    });
    park.publish(&PublicationRequest {
        name: "fp".into(),
        method: tanji_report::INPUTS_METHOD.into(),
        content: serde_json::to_vec(&inputs).unwrap(),
        regions: Vec::new(),
        period: (0, 0),
        intervals: 0,
        inputs: Vec::new(),
        calibrations: Vec::new(),
        published_at: NOW,
    })
    .unwrap();
    let mut req = Request::new(Scope::Enterprise("e-0001".into()));
    req.inputs = Some("fp".into());
    let built = build(park.store(), &park.verifier(), &req).unwrap();
    let doc = &built.doc;
    let json = serde_json::to_string_pretty(doc).unwrap();
    assert!(subjects(&park, &json).is_empty());

    let inv = tanji_report::inventory(doc).unwrap();
    let fig = &doc.reports[0].figures;
    let g = |path: &[&str]| {
        let mut v = fig;
        for p in path {
            v = &v[p];
        }
        v.as_i64().unwrap()
    };
    // Equal to the report's: Scope 1, Scope 2 location (electricity + heat) and market.
    assert_eq!(inv.totals.fuel_combustion_g, g(&["scope1", "fossil_g"]));
    assert_eq!(
        inv.totals.electricity_location_g + inv.totals.heat_g,
        g(&["scope2_location", "total_g"])
    );
    assert_eq!(
        inv.totals.total_location_g,
        g(&["scope1", "fossil_g"]) + g(&["scope2_location", "total_g"])
    );
    assert_eq!(
        inv.totals.total_market_g,
        g(&["scope1", "fossil_g"]) + g(&["scope2_market", "total_g"])
    );
    // The source lines add up to the totals.
    let lines: i64 = inv.sources.iter().map(|s| s.emissions_g).sum();
    assert_eq!(lines, inv.totals.total_location_g);
    assert_eq!(
        inv.iso_categories[0].emissions_g,
        Some(g(&["scope1", "fossil_g"]))
    );
    // A park report is refused with what to do.
    let park_doc = build(park.store(), &park.verifier(), &Request::new(Scope::Park))
        .unwrap()
        .doc;
    let e = tanji_report::inventory(&park_doc).unwrap_err().to_string();
    assert!(e.contains("report with --enterprise"), "{e}");

    let fp = tanji_report::footprints(doc, built.inputs.as_ref().unwrap()).unwrap();
    let products = &doc.reports[0].products.as_ref().unwrap()["totals"];
    let direct: i64 = fp.products.iter().map(|p| p.direct_g).sum();
    let location: i64 = fp.products.iter().map(|p| p.electricity_location_g).sum();
    assert_eq!(direct, products["direct_g"].as_i64().unwrap());
    assert_eq!(
        location,
        products["electricity_precise_g"].as_i64().unwrap()
    );
    // coil: 30 t × 1,050 kg/t × 2 kg/kg = 63,000 kg = 63,000,000 g upstream.
    assert_eq!(fp.products[0].product, "coil");
    assert_eq!(fp.products[0].upstream_g, 63_000_000);
    // Mass share 3:1 of the direct emissions (each rounded to the gram).
    assert!((fp.products[0].direct_g - 3 * fp.products[1].direct_g).abs() <= 3);
}

/// A workbook's sheet as rows of cells.
fn sheet(xlsx: &[u8], name: &str) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader as _;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    let range = wb.worksheet_range(name).unwrap();
    assert_eq!(range.start(), Some((0, 0)), "{name} starts at A1");
    range.rows().map(<[calamine::Data]>::to_vec).collect()
}

fn sheet_names(xlsx: &[u8]) -> Vec<String> {
    use calamine::Reader as _;
    let wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx.to_vec())).unwrap();
    wb.sheet_names()
}

/// The content hash as `sha256sum` of the JSON file `tanji report --format json` writes.
fn sha256_of_json(doc: &tanji_report::ReportDoc) -> String {
    use sha2::Digest as _;
    let json = serde_json::to_string_pretty(doc).unwrap() + "\n";
    hex::encode(sha2::Sha256::digest(json.as_bytes()))
}

#[test]
fn the_park_workbook_read_back_holds_the_json_figures_and_the_content_hash() {
    use calamine::Data;
    let (_dir, park) = park();
    let doc = build(park.store(), &park.verifier(), &Request::new(Scope::Park))
        .unwrap()
        .doc;
    let xlsx = tanji_report::render(&doc, tanji_report::Format::Xlsx).unwrap();
    let names = sheet_names(&xlsx);
    assert_eq!(names.first().map(String::as_str), Some("Summary 摘要"));
    assert_eq!(
        names.last().map(String::as_str),
        Some("Provenance 数据溯源")
    );
    for n in &names {
        assert!(n.chars().count() <= 31, "{n}");
        assert!(!n.contains(['[', ']', ':', '*', '?', '/', '\\']), "{n}");
    }
    let v: Value = serde_json::to_value(&doc).unwrap();
    let num = |d: &Data| match d {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        _ => None,
    };
    // Every numeric cell of the totals tables equals the JSON value it was copied from:
    // (sheet, header text, JSON path under reports[i], park_totals field).
    let checks: [(&str, &str, &[&str], Option<&str>); 10] = [
        (
            "Totals by scope 按范围汇总",
            "Scope 1 fossil 范围一 (g CO2)",
            &["figures", "scope1", "fossil_g"],
            Some("scope1_g"),
        ),
        (
            "Totals by scope 按范围汇总",
            "Scope 1 biogenic 生物质 (g CO2)",
            &["figures", "scope1", "biogenic_g"],
            None,
        ),
        (
            "Totals by scope 按范围汇总",
            "Scope 2 location-based 范围二(基于位置) (g CO2)",
            &["figures", "scope2_location", "total_g"],
            Some("scope2_location_g"),
        ),
        (
            "Totals by scope 按范围汇总",
            "Scope 2 market-based 范围二(基于市场) (g CO2)",
            &["figures", "scope2_market", "total_g"],
            Some("scope2_market_g"),
        ),
        (
            "Electricity 电力",
            "Consumed 用电量 (Wh)",
            &["figures", "indicators", "consumption_wh"],
            Some("consumption_wh"),
        ),
        (
            "Electricity 电力",
            "Green share 绿电使用率 (fraction)",
            &["figures", "indicators", "green_share"],
            Some("green_share"),
        ),
        (
            "Fixed vs hourly factor 固定因子与动态因子",
            "At the fixed factor 按固定因子 (g CO2)",
            &["figures", "comparison", "fixed_g"],
            Some("fixed_g"),
        ),
        (
            "Fixed vs hourly factor 固定因子与动态因子",
            "At hourly factors 按动态因子 (g CO2)",
            &["figures", "comparison", "dynamic_g"],
            Some("dynamic_g"),
        ),
        (
            "Fixed vs hourly factor 固定因子与动态因子",
            "Difference fixed − hourly 差值 (g CO2)",
            &["figures", "comparison", "difference_g"],
            Some("difference_g"),
        ),
        (
            "Fixed vs hourly factor 固定因子与动态因子",
            "Difference 差值 (%)",
            &["figures", "comparison", "difference_pct"],
            Some("difference_pct"),
        ),
    ];
    let mut compared = 0;
    for (name, header, path, total) in checks {
        let sheet_name = names
            .iter()
            .find(|n| name.starts_with(n.as_str()))
            .unwrap_or_else(|| panic!("no sheet for {name} in {names:?}"));
        let rows = sheet(&xlsx, sheet_name);
        let col = rows[0]
            .iter()
            .position(|h| h == &Data::String(header.into()))
            .unwrap_or_else(|| panic!("{header} not in {:?}", rows[0]));
        for (i, e) in doc.reports.iter().enumerate() {
            let row = &rows[1 + i];
            assert_eq!(row[0], Data::String(e.enterprise.clone()));
            let mut want = &v["reports"][i];
            for p in path {
                want = &want[p];
            }
            assert_eq!(
                num(&row[col]),
                want.as_f64(),
                "{name} {header} {}",
                e.enterprise
            );
            compared += 1;
        }
        let last = &rows[1 + doc.reports.len()];
        assert_eq!(last[0], Data::String(tanji_report::PARK_TOTAL.into()));
        match total {
            Some(f) => {
                assert_eq!(num(&last[col]), v["park_totals"][f].as_f64(), "{name} {f}");
                compared += 1;
            }
            None => assert_eq!(last[col], Data::Empty),
        }
    }
    // 3 enterprises × 10 columns + 9 park totals.
    assert_eq!(compared, 39);
    // The Provenance sheet carries the content hash of the JSON.
    let prov = sheet(&xlsx, "Provenance 数据溯源");
    let hash = prov
        .iter()
        .find(|r| r[0] == Data::String(tanji_report::CONTENT_HASH_LABEL.into()))
        .map(|r| r[1].clone());
    assert_eq!(hash, Some(Data::String(sha256_of_json(&doc))));
    assert_eq!(tanji_report::content_hash(&doc), sha256_of_json(&doc));
    let summary = sheet(&xlsx, "Summary 摘要");
    assert_eq!(
        summary[0][0],
        Data::String("Carbon report 碳排放报告 — park t".into())
    );
}

/// Runs `program args…` if it is installed: `None` (with SKIPPED printed) when it is not and
/// CI is not set; under `CI=true` a missing program fails the test.
fn run_tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match std::process::Command::new(program).args(args).output() {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(out)
        }
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            println!("SKIPPED: {program} is not installed ({e}); apt-get install poppler-utils");
            None
        }
        Err(e) => panic!("{program}: {e} (CI=true needs poppler-utils)"),
    }
}

#[test]
fn the_pdf_has_chinese_text_the_figures_and_the_content_hash() {
    let (dir, park) = park();
    let doc = build(
        park.store(),
        &park.verifier(),
        &Request::new(Scope::Enterprise("e-0001".into())),
    )
    .unwrap()
    .doc;
    let pdf = tanji_report::render(&doc, tanji_report::Format::Pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let path = dir.path().join("e-0001.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let p = path.to_str().unwrap();
    let Some(out) = run_tool("pdftotext", &["-layout", p, "-"]) else {
        return;
    };
    let text = String::from_utf8(out.stdout).unwrap();
    // Figures as the PDF shows them: g with thousands separators.
    let grouped = |g: i64| {
        let s = g.abs().to_string();
        let mut o = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                o.push(',');
            }
            o.push(c);
        }
        if g < 0 {
            format!("-{o}")
        } else {
            o
        }
    };
    let f = &doc.reports[0].figures;
    for want in [
        "碳排放报告".to_string(),
        "按范围汇总".into(),
        "范围一".into(),
        "固定因子与动态因子".into(),
        "数据溯源".into(),
        grouped(f["scope1"]["fossil_g"].as_i64().unwrap()),
        grouped(f["scope2_location"]["total_g"].as_i64().unwrap()),
        grouped(f["comparison"]["difference_g"].as_i64().unwrap()),
        sha256_of_json(&doc),
        doc.provenance.checkpoint.root.clone(),
        "第 1 /".into(),
    ] {
        assert!(
            text.contains(&want),
            "{want:?} not in the PDF's text:\n{text}"
        );
    }
    // Every page renders (poppler draws it); with TANJI_SCREENSHOT_DIR the PDF and its first
    // page as a PNG are kept there to look at.
    if let Some(to) = std::env::var_os("TANJI_SCREENSHOT_DIR") {
        std::fs::copy(&path, std::path::Path::new(&to).join("report-e-0001.pdf")).unwrap();
    }
    let png = dir.path().join("page");
    if run_tool(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            p,
            png.to_str().unwrap(),
        ],
    )
    .is_some()
    {
        let made = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().ends_with(".png"))
            .expect("pdftoppm wrote a PNG");
        if let Some(to) = std::env::var_os("TANJI_SCREENSHOT_DIR") {
            std::fs::copy(
                made.path(),
                std::path::Path::new(&to).join("report-e-0001-page1.png"),
            )
            .unwrap();
        }
    }
}

/// The outcomes' electricity cost is priced from the meters' own quarter-hours: at one price
/// for every hour of the day, the park's cost over a day is its grid import that day × the
/// price, exactly as the park report of that day counts the import.
#[test]
fn outcomes_price_the_quarter_hours_of_grid_import() {
    let (_dir, park) = park();
    let tariff = r#"
name = "one price for the test"
source = "a test tariff: 0.5 CNY/kWh at every hour"
[prices]
valley = 0.5
flat = 0.5
peak = 0.5
[[periods]]
kind = "peak"
from = "08:00"
to = "22:00"
[[periods]]
kind = "valley"
from = "22:00"
to = "08:00"
"#;
    let (baseline, period) = ((START, START + DAY), (START + DAY, START + 2 * DAY));
    let req = tanji_report::OutcomesRequest::new(period, baseline, Some(tariff), None).unwrap();
    let doc = tanji_report::outcomes(park.store(), &park.verifier(), &req).unwrap();
    let mut r = Request::new(Scope::Park);
    r.period = Some(period);
    let report = build(park.store(), &park.verifier(), &r).unwrap().doc;
    let import_wh = report.park_totals.as_ref().unwrap().import_wh;
    assert!(import_wh > 0);
    let cost = &doc.park_outcomes.period.cost;
    let cny = cost.value.unwrap_or_else(|| panic!("no cost: {cost:?}"));
    // 0.5 CNY/kWh × Wh ÷ 1000.
    let want = import_wh as f64 / 1000.0 * 0.5;
    assert!((cny - want).abs() < 1e-6 * want, "{cny} != {want}");
    // The park's hours are its three enterprises' (3 × 24).
    assert!(
        cost.method.contains("72 of 72 hours have import data"),
        "{}",
        cost.method
    );
}
