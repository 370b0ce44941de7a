//! `tanji report` and `tanji audit` on the demo park: the demo writes and audits a report;
//! every format renders; an altered figure or logged record makes the audit fail by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{s, simulate, tanji};

#[test]
fn demo_report_formats_and_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = s(&dir);
    let demo = tanji(["demo", "--dir", d, "--enterprises", "6", "--days", "4"]).ok();
    assert!(demo.stdout.contains("audit OK"), "{}", demo.stdout);
    assert!(demo.stdout.contains("fixed − dynamic"), "{}", demo.stdout);
    assert!(demo.stdout.contains("why: "), "{}", demo.stdout);
    let reports: Vec<_> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(reports.iter().any(|f| f.ends_with(".html")), "{reports:?}");

    // Each format.
    let json = tmp.path().join("e1.json");
    tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--format",
        "json",
        "--out",
        s(&json),
    ])
    .ok();
    let html = tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--format",
        "html",
    ])
    .ok();
    assert!(html.stdout.starts_with("<!DOCTYPE html>"));
    assert!(html.stdout.contains("Fixed annual factor (固定年均因子)"));
    assert!(html.stdout.contains("Why (原因):"));
    let csv = tanji(["report", "--dir", d, "--park", "--format", "csv"]).ok();
    assert!(csv.stdout.starts_with("path,value,unit\n"));
    assert!(csv.stdout.contains("park_totals.difference_g,"));
    // The workbook and the PDF are written to --out; the workbook's Provenance sheet carries
    // the SHA-256 of the JSON file.
    let xlsx = tmp.path().join("e1.xlsx");
    let pdf = tmp.path().join("e1.pdf");
    for (format, out) in [("xlsx", &xlsx), ("pdf", &pdf)] {
        tanji([
            "report",
            "--dir",
            d,
            "--enterprise",
            "e-0001",
            "--format",
            format,
            "--out",
            s(out),
        ])
        .ok();
    }
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    {
        use calamine::Reader as _;
        use sha2::Digest as _;
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
        let names = wb.sheet_names();
        let prov = wb.worksheet_range(names.last().unwrap()).unwrap();
        let want = hex::encode(sha2::Sha256::digest(std::fs::read(&json).unwrap()));
        assert!(
            prov.rows()
                .any(|r| r.get(1) == Some(&calamine::Data::String(want.clone()))),
            "no content hash {want} in {names:?}"
        );
    }
    let refused = tanji(["report", "--dir", d, "--park", "--format", "docx"]).expect_code(2);
    assert!(
        refused
            .stderr
            .contains("use json, csv, html, text, xlsx or pdf"),
        "{}",
        refused.stderr
    );

    // A fresh report audits OK, with the trusted key.
    let key = tanji(["log", "key", "--dir", d]).ok().stdout;
    let key = key
        .lines()
        .find(|l| l.contains('+'))
        .unwrap()
        .trim()
        .to_string();
    let ok = tanji(["audit", s(&json), "--dir", d, "--key", &key]).ok();
    assert!(ok.stdout.starts_with("audit OK"), "{}", ok.stdout);

    // An altered total fails, naming it.
    let text = std::fs::read_to_string(&json).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let total = &mut v["reports"][0]["figures"]["scope2_location"]["total_g"];
    *total = serde_json::Value::from(total.as_i64().unwrap() - 1_000_000);
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let run = tanji(["audit", s(&bad), "--dir", d]).expect_code(1);
    assert!(
        run.stdout
            .contains("reports[0].figures.scope2_location.total_g: the report says"),
        "{}",
        run.stdout
    );

    // An altered logged upload fails, naming the record.
    let upload = v["provenance"]["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "upload")
        .unwrap()
        .clone();
    let index = upload["index"].as_i64().unwrap();
    {
        let db = rusqlite::Connection::open(dir.join("park.db")).unwrap();
        let mut data: Vec<u8> = db
            .query_row("SELECT data FROM entries WHERE idx = ?1", [index], |r| {
                r.get(0)
            })
            .unwrap();
        let at = data.len() - 65;
        data[at] ^= 0x02;
        db.execute(
            "UPDATE entries SET data = ?1 WHERE idx = ?2",
            rusqlite::params![data, index],
        )
        .unwrap();
    }
    let run = tanji(["audit", s(&json), "--dir", d, "--key", &key]).expect_code(1);
    let named = format!(
        "entry {index} (upload {})",
        upload["what"].as_str().unwrap()
    );
    assert!(run.stdout.contains(&named), "{}", run.stdout);

    // Bad usage is an error (exit 2), not a failed audit.
    tanji(["report", "--dir", d, "--enterprise", "e-9999"]).expect_code(2);
}

#[test]
fn the_demo_fault_is_an_anomaly_issue_that_audits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = s(&dir);
    let demo = tanji(["demo", "--dir", d, "--enterprises", "3", "--days", "3"]).ok();
    // "injected meter fault: m-0001-grid stuck at one value from A to B (…)"
    let line = demo
        .stdout
        .lines()
        .find(|l| l.starts_with("injected meter fault: m-0001-grid"))
        .unwrap_or_else(|| panic!("{}", demo.stdout));
    let words: Vec<&str> = line.split_whitespace().collect();
    let from = words[words.iter().position(|w| *w == "from").unwrap() + 1];
    let to = words[words.iter().position(|w| *w == "to").unwrap() + 1];

    let json = tmp.path().join("e1.json");
    let report = [
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--anomalies",
        "--out",
        s(&json),
    ];
    tanji(report).ok();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["parameters"]["anomalies"], true);
    let issues = v["issues"].as_array().unwrap().clone();
    let at = issues
        .iter()
        .position(|i| i["kind"] == "anomaly_flat_line" && i["subject"] == "meter m-0001-grid")
        .unwrap_or_else(|| panic!("{issues:#?}"));
    let message = issues[at]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{from} to {to}: 20 consecutive intervals")),
        "{message}"
    );
    assert!(
        message.ends_with("they are counted as logged, not corrected."),
        "{message}"
    );
    tanji(["audit", s(&json), "--dir", d]).ok();

    // Without the issue the audit fails and names it.
    v["issues"].as_array_mut().unwrap().remove(at);
    let cut = tmp.path().join("cut.json");
    std::fs::write(&cut, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let run = tanji(["audit", s(&cut), "--dir", d]).expect_code(1);
    assert!(
        run.stdout
            .contains("issue anomaly_flat_line of meter m-0001-grid"),
        "{}",
        run.stdout
    );
}

/// The documented path with a factor year that does not cover the simulated days: the
/// report says so loudly — on the terminal first, as a structured `factor_coverage` and a
/// data issue naming the series, its span, the period and the fix, as an HTML banner and in
/// the CSV — and the audit recomputes it.
#[test]
fn report_warns_when_factor_series_does_not_cover_the_period() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let d = s(&dir);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let generation = root.join("data/synthetic/CN-FJ-synthetic-2025-generation.csv");
    let series = tmp.path().join("fj-2025.csv");
    tanji(["init", "--dir", d, "--park", "p"]).ok();
    tanji([
        "factors",
        "compute",
        "--generation",
        s(&generation),
        "--calibrate",
        "CN-FJ-synthetic=0.4092",
        "--out",
        s(&series),
    ])
    .ok();
    tanji(["factors", "publish", s(&series), "--dir", d]).ok();
    // Two days from 2026-03-02: after the 2025 series ends.
    let uploads = simulate(&dir, &tmp.path().join("sim"), 1, 2, 3, "2026-03-02");
    tanji(["ingest", "--dir", d, s(&uploads)]).ok();

    let json = tmp.path().join("e1.json");
    let run = tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--out",
        s(&json),
    ])
    .ok();
    assert!(
        run.stderr
            .starts_with("warning: factor series fj-2025@v1 (CN-FJ-synthetic) covers 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z, but the period asked is 2026-03-02T00:00:00Z to 2026-03-04T00:00:00Z"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("tanji factors publish"),
        "{}",
        run.stderr
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = &v["reports"][0]["factor_coverage"];
    assert_eq!(c["series"], "fj-2025@v1");
    assert_eq!(c["series_from"], "2025-01-01T00:00:00Z");
    assert_eq!(c["series_to"], "2026-01-01T00:00:00Z");
    // One grid import meter, two days of quarter-hours, none with a factor.
    let grid = v["reports"][0]["meters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["carrier"] == "electricity_import" || m["carrier"] == "electricity_export")
        .count() as u64;
    assert!(grid >= 1);
    assert_eq!(c["intervals"], grid * 2 * 96, "{c}");
    assert_eq!(c["intervals_without_factor"], grid * 2 * 96, "{c}");
    assert_eq!(c["complete"], false);
    let first = &v["issues"][0];
    assert_eq!(first["kind"], "factor_coverage", "{}", v["issues"]);
    assert!(first["message"]
        .as_str()
        .unwrap()
        .contains("have no hourly factor"));
    tanji(["audit", s(&json), "--dir", d]).ok();

    let html = tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--format",
        "html",
    ])
    .ok();
    let banner = html
        .stdout
        .find("<p class=\"banner warn\">")
        .expect("a banner");
    assert!(
        banner < html.stdout.find("<h2>").unwrap(),
        "the banner is at the top"
    );
    let csv = tanji(["report", "--dir", d, "--park", "--format", "csv"]).ok();
    let second = csv.stdout.lines().nth(1).unwrap();
    assert!(
        second.starts_with("issues[0].warning,\"factor series fj-2025@v1"),
        "{second}"
    );
    assert!(csv.stdout.contains(&format!(
        "park_totals.factor_coverage.intervals_without_factor,{}",
        grid * 2 * 96
    )));

    // Two days straddling the series' end: the second day has no factors, the first has.
    let edge = tmp.path().join("edge");
    let e = s(&edge);
    tanji(["init", "--dir", e, "--park", "edge"]).ok();
    tanji(["factors", "publish", s(&series), "--dir", e]).ok();
    let uploads = simulate(&edge, &tmp.path().join("sim-edge"), 1, 2, 3, "2025-12-31");
    tanji(["ingest", "--dir", e, s(&uploads)]).ok();
    let run = tanji(["report", "--dir", e, "--enterprise", "e-0001"]).ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let c = &v["reports"][0]["factor_coverage"];
    assert_eq!(c["intervals"], grid * 2 * 96, "{c}");
    assert_eq!(c["intervals_without_factor"], grid * 96, "{c}");
    assert!(
        run.stderr.contains(&format!(
            "{} of {} grid intervals",
            grid * 96,
            grid * 2 * 96
        )),
        "{}",
        run.stderr
    );
    // Only the covered day: complete, and nothing on the terminal.
    let run = tanji([
        "report",
        "--dir",
        e,
        "--enterprise",
        "e-0001",
        "--from",
        "2025-12-31",
        "--to",
        "2025-12-31",
    ])
    .ok();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["reports"][0]["factor_coverage"]["complete"], true);
    assert_eq!(v["reports"][0]["factor_coverage"]["intervals"], grid * 96);

    // Inside the series' span there is nothing to say (no data there: the coverage of the
    // demo below is complete).
    let demo = tmp.path().join("demo");
    tanji([
        "demo",
        "--dir",
        s(&demo),
        "--enterprises",
        "2",
        "--days",
        "2",
    ])
    .ok();
    let run = tanji(["report", "--dir", s(&demo), "--park"]).ok();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let c = &v["park_totals"]["factor_coverage"];
    assert_eq!(c["complete"], true, "{c}");
    assert_eq!(c["intervals_without_factor"], 0);
    assert!(c["intervals"].as_u64().unwrap() > 0);
}

/// The demo's gateway: simulated DL/T 645 and Modbus meters → `tanji_gateway` (SM2 key,
/// outbox, proofs checked) → the park. Its records are logged under gw-0001 with exactly the
/// energy of the simulated registers, and the report of its enterprise counts its two meters
/// whole.
#[test]
fn the_demo_gateway_delivers_its_meters_exact_energy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = s(&dir);
    let demo = tanji([
        "demo",
        "--dir",
        d,
        "--enterprises",
        "2",
        "--days",
        "1",
        "--no-mqtt",
    ])
    .ok();
    let line = demo
        .stdout
        .lines()
        .find(|l| l.starts_with("gateway gw-0001 (sm2 key"))
        .unwrap_or_else(|| panic!("{}", demo.stdout));
    assert!(line.contains("12 records of 24 intervals"), "{line}");
    assert!(line.contains("0 refused"), "{line}");
    // The hall: 196+204+210+188+201+207+199+211+150+142+139+145 = 2192 counts of 0.01 kWh on
    // the CT secondary, ×40 (200/5 A) = 876.8 kWh. The inverter: round(60000·sin(π(h−6)/12))
    // Wh at the middle h of each quarter-hour from 10:00 to 13:00 = 52915 + 54652 + 56154 +
    // 57416 + 58433 + 59199 + 59711 + 59968 + 59968 + 59711 + 59199 + 58433 = 695759 Wh.
    assert!(
        demo.stdout.contains("m-gw-hall3: 876.800 kWh"),
        "{}",
        demo.stdout
    );
    assert!(
        demo.stdout.contains("m-gw-pv: 695.759 kWh"),
        "{}",
        demo.stdout
    );

    // What the park logged from gw-0001, summed per meter, in Wh (3 decimals of kWh).
    use tanji_store::Store as _;
    let store = tanji_park::Park::open_store(&dir).unwrap();
    let mut logged = std::collections::BTreeMap::<String, (i64, usize)>::new();
    let mut seqs = Vec::new();
    for i in store.entries_of_kind(tanji_readings::KIND_UPLOAD).unwrap() {
        let entry = tanji_readings::LogEntry::from_logged_bytes(&store.entry(i).unwrap()).unwrap();
        let tanji_readings::LogEntry::Upload(u) = entry else {
            continue;
        };
        if u.body.device != "gw-0001" {
            continue;
        }
        seqs.push(u.body.seq);
        for c in &u.body.channels {
            assert_eq!((c.decimals, c.interval_s), (3, 900));
            let e = logged.entry(c.meter.clone()).or_default();
            e.0 += c.values.iter().sum::<i64>();
            e.1 += c.values.len();
        }
    }
    assert_eq!(
        seqs,
        (1..=12).collect::<Vec<u64>>(),
        "in order, none missing"
    );
    assert_eq!(logged["m-gw-hall3"], (876_800, 12));
    assert_eq!(logged["m-gw-pv"], (695_759, 12));

    let report = tmp.path().join("e1.json");
    tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-gateway",
        "--out",
        s(&report),
    ])
    .ok();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let meters = v["reports"][0]["meters"].as_array().unwrap();
    for m in ["m-gw-hall3", "m-gw-pv"] {
        let row = meters
            .iter()
            .find(|r| r["meter"] == m)
            .unwrap_or_else(|| panic!("{m}: {v}"));
        assert_eq!(row["device"], "gw-0001");
        assert_eq!(
            (row["intervals"].as_u64(), row["missing"].as_u64()),
            (Some(12), Some(0))
        );
    }
    let audit = tanji(["audit", s(&report), "--dir", d]).ok();
    assert!(audit.stdout.contains("OK"), "{}", audit.stdout);
}
