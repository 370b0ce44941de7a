//! `tanji optimize` on the demo park: advice from the logged loads and published factors,
//! energy kept to the Wh in the JSON plan, example flex and tariff files, a forecast plan
//! scored on the published factors, and infeasible or missing inputs explained.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{s, simulate, tanji};

/// The demo's first simulated UTC day, from its summary line.
fn first_day(stdout: &str) -> time::Date {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("simulated "))
        .expect("the demo prints what it simulated");
    let day = line.split(" from ").nth(1).unwrap().get(..10).unwrap();
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(day, &fmt).unwrap()
}

fn sum(v: &serde_json::Value) -> i64 {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .sum()
}

#[test]
fn optimize_on_the_demo_park() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = s(&dir);
    let demo = tanji(["demo", "--dir", d, "--enterprises", "4", "--days", "3"]).ok();
    // Local day (UTC+8) after the first UTC day lies wholly inside the simulated days.
    let day = first_day(&demo.stdout).next_day().unwrap().to_string();

    let text = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--day",
        &day,
    ])
    .ok();
    assert!(
        text.stdout.contains("energy kept to the Wh"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("(unchanged: yes)"), "{}", text.stdout);

    for objective in ["emissions", "cost", "blend"] {
        let json = tanji([
            "optimize",
            "--dir",
            d,
            "--enterprise",
            "e-0002",
            "--day",
            &day,
            "--objective",
            objective,
            "--format",
            "json",
        ])
        .ok();
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let plan = &doc["plan"];
        assert_eq!(plan["objective"]["kind"], objective);
        for load in plan["loads"].as_array().unwrap() {
            assert_eq!(sum(&load["before_wh"]), sum(&load["after_wh"]));
            assert_eq!(sum(&load["after_wh"]), load["energy_wh"].as_i64().unwrap());
        }
        assert_eq!(
            plan["before"]["consumption_wh"], plan["after"]["consumption_wh"],
            "{objective}"
        );
        let key = if objective == "cost" {
            "cost"
        } else {
            "emissions_g"
        };
        assert!(
            plan["after"][key].as_f64().unwrap() <= plan["before"][key].as_f64().unwrap() + 1e-6,
            "{objective}: {}",
            plan["after"]
        );
        assert_eq!(plan["intervals"].as_array().unwrap().len(), 96);
    }

    // The example files: a batch that cannot pause stays one block.
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/optimize");
    let flex = format!("{examples}/flex-machining.toml");
    let tariff = format!("{examples}/tariff-illustrative.toml");
    // e-0001..4 differ in size: use the largest, so the machining baselines fit its load.
    let json = (1..=4)
        .map(|e| {
            tanji([
                "optimize",
                "--dir",
                d,
                "--enterprise",
                &format!("e-{e:04}"),
                "--day",
                &day,
                "--flex",
                &flex,
                "--tariff",
                &tariff,
                "--format",
                "json",
            ])
        })
        .find(|r| r.code == Some(0))
        .expect("one demo enterprise is large enough for the machining example");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let batch = doc["plan"]["loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "furnace batch")
        .unwrap();
    let on: Vec<usize> = batch["after_wh"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, v)| v.as_i64().unwrap() > 0)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(on.len(), 12, "3 h of quarter-hours");
    assert_eq!(on[11] - on[0], 11, "the batch does not pause: {on:?}");

    // Planned on a forecast, scored on the published factors.
    let f = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--day",
        &day,
        "--factors",
        "forecast",
    ])
    .ok();
    assert!(
        f.stdout.contains("realised on the published factors"),
        "{}",
        f.stdout
    );
    assert!(f.stdout.contains("ridge"), "{}", f.stdout);

    // Two days in a row: one line each, the total, energy unchanged, emissions not raised.
    let w = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0003",
        "--day",
        &day,
        "--days",
        "2",
        "--format",
        "json",
    ])
    .ok();
    let doc: serde_json::Value = serde_json::from_str(&w.stdout).unwrap();
    let total = &doc["total"];
    assert_eq!(total["planned_days"], 2);
    assert_eq!(
        total["before_consumption_wh"],
        total["after_consumption_wh"]
    );
    assert!(
        total["after_emissions_g"].as_i64().unwrap()
            <= total["before_emissions_g"].as_i64().unwrap()
    );
    let w = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0003",
        "--day",
        &day,
        "--days",
        "2",
    ])
    .ok();
    assert!(
        w.stdout.contains("total over 2 planned day(s)"),
        "{}",
        w.stdout
    );

    // A window too small for the energy: exit 1, the constraint named.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[load]]\nkind = \"shiftable\"\nname = \"line 3\"\nshare = 0.5\nwindows = [\"08:00-09:00\"]\nmax_kw = 1\n",
    )
    .unwrap();
    let r = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--day",
        &day,
        "--flex",
        s(&bad),
    ])
    .expect_code(1);
    assert!(
        r.stderr
            .contains("line 3: window and max power: line 3 needs"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("in 08:00\u{2013}09:00 but its max power (1 kW) allows"),
        "{}",
        r.stderr
    );

    // A day without data (inside the published factor year): exit 2 naming what is missing.
    let r = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--day",
        "2026-01-05",
    ])
    .expect_code(2);
    assert!(
        r.stderr.contains("missing for 96 of 96 intervals"),
        "{}",
        r.stderr
    );
}

/// A plan made on a forecast is headlined by what it does on the day's published factors
/// (realised); the forecast's own figure stands beside it, labelled.
#[test]
fn forecast_plan_headline_is_the_realised_figure() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = s(&dir);
    let demo = tanji(["demo", "--dir", d, "--enterprises", "2", "--days", "3"]).ok();
    let day = first_day(&demo.stdout).next_day().unwrap().to_string();
    let args = |format: &str| {
        tanji([
            "optimize",
            "--dir",
            d,
            "--enterprise",
            "e-0001",
            "--day",
            &day,
            "--factors",
            "forecast",
            "--format",
            format,
        ])
        .ok()
    };
    let doc: serde_json::Value = serde_json::from_str(&args("json").stdout).unwrap();
    let (headline, realised, plan) = (&doc["headline"], &doc["realised"], &doc["plan"]);
    assert_eq!(
        headline["figures"], "realised on the published factors",
        "{headline}"
    );
    assert_eq!(headline["before"], realised["before"]);
    assert_eq!(headline["after"], realised["after"]);
    // The forecast's own figure is the plan's, on the forecast factors.
    let own = |o: &serde_json::Value| o["emissions_g"].as_i64().unwrap();
    let realised_cut = own(&realised["before"]) - own(&realised["after"]);
    let forecast_cut = own(&plan["before"]) - own(&plan["after"]);

    let text = args("text").stdout;
    let lines: Vec<&str> = text.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("realised on the published factors: "))
        .expect("a realised headline");
    let own_line = lines
        .iter()
        .position(|l| l.contains("forecast's own figure (modelled on the forecast factors"))
        .expect("the forecast's figure, labelled");
    assert!(head < own_line, "{text}");
    // The headline is the first figure after the title and the forecast note.
    assert!(
        lines[..head].iter().all(|l| !l.contains(" t -> ")),
        "{text}"
    );
    let kg = |cut: i64| format!("({:+.1} kg,", -cut as f64 / 1e3);
    assert!(lines[head].contains(&kg(realised_cut)), "{}", lines[head]);
    assert!(
        lines[own_line].contains(&kg(forecast_cut)),
        "{}",
        lines[own_line]
    );
}

/// Days the factor series does not cover are refused once, before any planning, naming the
/// series' span and the command that fixes it.
#[test]
fn optimize_refuses_days_without_factors_with_one_message() {
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
        "--out",
        s(&series),
    ])
    .ok();
    tanji(["factors", "publish", s(&series), "--dir", d]).ok();
    let uploads = simulate(&dir, &tmp.path().join("sim"), 1, 3, 3, "2026-03-02");
    tanji(["ingest", "--dir", d, s(&uploads)]).ok();
    let run = tanji([
        "optimize",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--day",
        "2026-03-03",
        "--days",
        "2",
    ]);
    assert_ne!(run.code, Some(0));
    assert!(run.stdout.is_empty(), "nothing planned: {}", run.stdout);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "series fj-2025@v1 (CN-FJ-synthetic) covers 2025-01-01T00:00:00Z to 2026-01-01T00:00:00Z, but the local days 2026-03-03 to 2026-03-04"
        ) && run.stderr.contains("192 of their 192 intervals")
            && run.stderr.contains("tanji factors publish"),
        "{}",
        run.stderr
    );
}
