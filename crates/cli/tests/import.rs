//! `tanji import`: history of a meter that has no device yet, signed with an operator import
//! key, logged through the ingest path, marked as imported in the report, and audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;

use common::{s, tanji};

/// 2026-09-01T00:00:00Z: before the demo's days, inside the published factor year.
const HISTORY_START: i64 = 1_788_220_800;

#[test]
fn imported_history_is_logged_reported_as_import_and_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let d = s(&dir);
    tanji(["demo", "--dir", d, "--enterprises", "2", "--days", "2"]).ok();
    let key = tmp.path().join("import.key");
    tanji(["device", "keygen", "--out", s(&key)]).ok();
    tanji([
        "device",
        "register",
        "--dir",
        d,
        "--device",
        "import-ops",
        "--key-file",
        s(&key),
        "--enterprise",
        "e-0001",
        "--meter",
        "m-hist-grid",
        "--rated-kw",
        "500",
    ])
    .ok();

    // Two days of quarter-hours at 25.5 kWh, and a third day with a gap.
    let mut csv = String::from("meter,start,value\n");
    for i in 0..(2 * 96 + 40) {
        if i == 2 * 96 + 10 {
            continue;
        }
        writeln!(csv, "m-hist-grid,{},25.5", HISTORY_START + 900 * i).unwrap();
    }
    let file = tmp.path().join("history.csv");
    std::fs::write(&file, &csv).unwrap();
    let run = tanji([
        "import",
        "--dir",
        d,
        "--key",
        s(&key),
        "--device",
        "import-ops",
        s(&file),
        "--strict",
    ])
    .ok();
    assert!(run.stdout.contains("3 accepted"), "{}", run.stdout);

    // The report counts it and marks it as imported; the audit recomputes it from the log.
    let report = tmp.path().join("e1.json");
    tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--out",
        s(&report),
    ])
    .ok();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let leaves = v["provenance"]["leaves"].as_array().unwrap();
    let imports: Vec<_> = leaves.iter().filter(|l| l["kind"] == "import").collect();
    assert_eq!(imports.len(), 3, "{leaves:?}");
    assert!(imports
        .iter()
        .all(|l| l["what"].as_str().unwrap().starts_with("import-ops#")));
    assert!(leaves
        .iter()
        .any(|l| l["kind"] == "registration" && l["what"] == "import-ops/m-hist-grid"));
    let issue = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "imported")
        .expect("an imported issue");
    assert!(
        issue["message"]
            .as_str()
            .unwrap()
            .starts_with("231 value(s) of meter m-hist-grid"),
        "{issue}"
    );
    assert_eq!(v["period"]["start"], "2026-09-01T00:00:00Z");
    tanji(["audit", s(&report), "--dir", d]).ok();

    // Importing the same file again logs nothing twice: its intervals are taken.
    let again = tanji([
        "import",
        "--dir",
        d,
        "--key",
        s(&key),
        "--device",
        "import-ops",
        s(&file),
    ])
    .ok();
    assert!(
        again.stdout.contains("0 accepted") && again.stdout.contains("overlapping_interval"),
        "{}",
        again.stdout
    );
}

#[test]
fn bad_import_input_is_refused_before_anything_is_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let d = s(&dir);
    tanji(["demo", "--dir", d, "--enterprises", "1", "--days", "1"]).ok();
    let size = || tanji(["log", "checkpoint", "--dir", d]).ok().stdout;
    let before = size();
    let key = tmp.path().join("import.key");
    tanji(["device", "keygen", "--out", s(&key)]).ok();
    let file = tmp.path().join("h.csv");
    let import = |device: &str, body: &str| {
        std::fs::write(&file, body).unwrap();
        tanji([
            "import",
            "--dir",
            d,
            "--key",
            s(&key),
            "--device",
            device,
            s(&file),
        ])
        .expect_code(2)
        .stderr
    };
    let t = HISTORY_START;
    let e = import("ops", &format!("meter,start,value\nm-0001-grid,{t},1\n"));
    assert!(e.contains("starts with \"import-\""), "{e}");
    let e = import(
        "import-ops",
        &format!("meter,start,value\nm-0001-grid,{t},1\n"),
    );
    assert!(e.contains("bound to device d-0001"), "{e}");
    let e = import(
        "import-ops",
        &format!("meter,start,value\nm-x,{t},1\nm-x,{},1.2.3\n", t + 900),
    );
    assert!(e.contains("h.csv:3: value \"1.2.3\""), "{e}");
    let e = import(
        "import-ops",
        &format!("meter,start,value\nm-x,{},1\n", t + 60),
    );
    assert!(
        e.contains("h.csv:2: start") && e.contains("boundary"),
        "{e}"
    );
    let e = import(
        "import-ops",
        &format!("meter,start,value\nm-x,{t},1\nm-x,{t},2\n"),
    );
    assert!(
        e.contains("h.csv:2: meter m-x has two values") && e.contains("(lines 2 and 3)"),
        "{e}"
    );
    let e = import("import-ops", "meter,begin,value\n");
    assert!(e.contains("no column \"start\""), "{e}");
    assert_eq!(size(), before, "a refused import changed the log");
}

/// A meter counts from its first interval (or its registration) to its last: importing one
/// meter's history moves the park's default period back, but every other meter is neither
/// filled nor counted before it existed — the other enterprise's figures stay exactly what
/// they were, and the report says how much of each enterprise's data is filled.
#[test]
fn imported_history_does_not_fill_other_meters_before_they_existed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let d = s(&dir);
    tanji(["demo", "--dir", d, "--enterprises", "2", "--days", "2"]).ok();
    let park = |d: &str| -> serde_json::Value {
        let run = tanji(["report", "--dir", d, "--park"]).ok();
        serde_json::from_str(&run.stdout).unwrap()
    };
    let before = park(d);
    let e2 = |v: &serde_json::Value| v["reports"][1].clone();
    assert_eq!(e2(&before)["enterprise"], "e-0002");
    assert_eq!(e2(&before)["filled_share"]["filled_values"], 0);

    let key = tmp.path().join("import.key");
    tanji(["device", "keygen", "--out", s(&key)]).ok();
    tanji([
        "device",
        "register",
        "--dir",
        d,
        "--device",
        "import-ops",
        "--key-file",
        s(&key),
        "--enterprise",
        "e-0001",
        "--meter",
        "m-hist-grid",
        "--rated-kw",
        "500",
    ])
    .ok();
    // One day of quarter-hours at 25.5 kWh, two months before the demo's days.
    let mut csv = String::from("meter,start,value\n");
    for i in 0..96 {
        writeln!(csv, "m-hist-grid,{},25.5", HISTORY_START + 900 * i).unwrap();
    }
    let file = tmp.path().join("history.csv");
    std::fs::write(&file, &csv).unwrap();
    tanji([
        "import",
        "--dir",
        d,
        "--key",
        s(&key),
        "--device",
        "import-ops",
        s(&file),
        "--strict",
    ])
    .ok();

    let after = park(d);
    assert_eq!(after["period"]["start"], "2026-09-01T00:00:00Z");
    // e-0002 did not exist in September: nothing invented for it.
    let (b, a) = (e2(&before), e2(&after));
    for path in [
        ["scope2_location", "import_wh"],
        ["scope2_location", "total_g"],
        ["scope2_location", "consumption_wh"],
        ["comparison", "fixed_g"],
    ] {
        assert_eq!(
            a["figures"][path[0]][path[1]], b["figures"][path[0]][path[1]],
            "{path:?}"
        );
    }
    assert_eq!(a["filled_share"], b["filled_share"]);
    assert_eq!(a["filled_share"]["filled_values"], 0);
    assert!(a["meters"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["missing"] == 0));
    // e-0001: its demo meters are not filled either; the imported day counts 96 × 25.5 kWh
    // more grid import.
    let (b1, a1) = (&before["reports"][0], &after["reports"][0]);
    assert_eq!(
        a1["filled_share"]["filled_values"], 0,
        "{}",
        a1["filled_share"]
    );
    assert_eq!(
        a1["figures"]["scope2_location"]["import_wh"]
            .as_i64()
            .unwrap()
            - b1["figures"]["scope2_location"]["import_wh"]
                .as_i64()
                .unwrap(),
        96 * 25_500
    );
    assert_eq!(
        a1["filled_share"]["values"].as_u64().unwrap()
            - b1["filled_share"]["values"].as_u64().unwrap(),
        96
    );
    assert_eq!(after["park_totals"]["filled_share"]["filled_values"], 0);
    // Every other meter is said to count only from its first interval.
    let life = after["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "outside_meter_life")
        .count();
    assert!(life >= 2, "{}", after["issues"]);

    // Nor after it stopped: a period running past the last logged interval fills nothing.
    let run = tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0002",
        "--from",
        "2026-09-01",
        "--to",
        "2027-01-31",
    ])
    .ok();
    let long: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let l = &long["reports"][0];
    assert_eq!(
        l["filled_share"], b["filled_share"],
        "{}",
        l["filled_share"]
    );
    assert_eq!(
        l["figures"]["scope2_location"]["import_wh"],
        b["figures"]["scope2_location"]["import_wh"]
    );
}

/// Each key type end to end: `device keygen --key-type T` writes the secret and prints the
/// public key, `device register --key-type T --public-key …` takes it as printed, `device
/// list` names the type, and an upload signed with the key file (`tanji import`) is accepted
/// and verifies in the log.
#[test]
fn keygen_register_and_a_signed_upload_for_each_key_type() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let d = s(&dir);
    tanji(["init", "--dir", d, "--park", "keys"]).ok();
    for (t, hex_len) in [("ed25519", 64), ("sm2", 66), ("p256", 66)] {
        let key = tmp.path().join(format!("{t}.key"));
        let out = tanji(["device", "keygen", "--key-type", t, "--out", s(&key)]).ok();
        let public = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("public key: "))
            .unwrap_or_else(|| panic!("{}", out.stdout))
            .to_string();
        assert_eq!(public.len(), hex_len, "{t}: {public}");
        let device = format!("import-{t}");
        let meter = format!("m-{t}");
        tanji([
            "device",
            "register",
            "--dir",
            d,
            "--device",
            &device,
            "--key-type",
            t,
            "--public-key",
            &public,
            "--enterprise",
            "e-0001",
            "--meter",
            &meter,
            "--rated-kw",
            "500",
        ])
        .ok();
        // One day of quarter-hours at 25.5 kWh: one signed record.
        let mut csv = String::from("meter,start,value\n");
        for i in 0..96 {
            writeln!(csv, "{meter},{},25.5", HISTORY_START + 900 * i).unwrap();
        }
        let file = tmp.path().join(format!("{t}.csv"));
        std::fs::write(&file, &csv).unwrap();
        let run = tanji([
            "import",
            "--dir",
            d,
            "--key",
            s(&key),
            "--device",
            &device,
            s(&file),
            "--strict",
        ])
        .ok();
        assert!(run.stdout.contains("1 accepted"), "{t}: {}", run.stdout);
    }
    // A key file of one type for a device registered with another is refused by signature.
    let run = tanji([
        "import",
        "--dir",
        d,
        "--key",
        s(&tmp.path().join("p256.key")),
        "--device",
        "import-sm2",
        s(&tmp.path().join("sm2.csv")),
    ]);
    assert!(
        run.stdout.contains("0 accepted") && run.stdout.contains("bad_signature"),
        "a P-256 key signed for an SM2 device: {}",
        run.stdout
    );
    let list = tanji(["device", "list", "--dir", d]).ok();
    for t in ["ed25519", "sm2", "p256"] {
        let line = list
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("import-{t} ")))
            .unwrap_or_else(|| panic!("{}", list.stdout));
        assert!(line.contains(&format!(" {t} ")), "{line}");
    }
    let verify = tanji(["verify", "--dir", d]).ok();
    assert!(verify.stdout.contains("OK"), "{}", verify.stdout);
}
