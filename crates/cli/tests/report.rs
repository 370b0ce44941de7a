//! `tanji report` and `tanji audit` on the demo park: the demo writes and audits a report;
//! every format renders; an altered figure or logged record makes the audit fail by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{s, tanji};

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
