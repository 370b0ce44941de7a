//! The first hour of a new user, as regression tests: publications of different kinds are
//! never confused, nothing succeeds silently when it should not (a report without data, a
//! file that is not JSON lines, future-dated simulated uploads), argument errors come before
//! any work, the demo checks its port before it runs and prints commands that work, and
//! error messages say what is expected, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{command, s, tanji, Run, TANJI};

/// A 2-enterprise, 1-day demo park (HTTP only): its directory and the demo's stdout.
fn demo(tmp: &Path) -> (PathBuf, String) {
    let dir = tmp.join("demo");
    let run = tanji([
        "demo",
        "--dir",
        s(&dir),
        "--enterprises",
        "2",
        "--days",
        "1",
        "--no-mqtt",
    ])
    .ok();
    (dir, run.stdout)
}

/// The demo's `factors show … --day D` hint's day.
fn shown_day(demo_out: &str) -> String {
    demo_out
        .split("--day ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a factors show hint")
        .to_string()
}

fn publish_inputs(dir: &Path, tmp: &Path) -> Run {
    let doc = tmp.join("e1-inputs.json");
    std::fs::write(&doc, r#"{"enterprises": {"e-0001": {}}}"#).unwrap();
    tanji([
        "inputs",
        "publish",
        "--dir",
        s(dir),
        "--name",
        "e1",
        s(&doc),
    ])
    .ok()
}

#[test]
fn factor_commands_and_verify_ignore_an_inputs_publication() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = demo(tmp.path());
    publish_inputs(&dir, tmp.path());
    let list = tanji(["factors", "list", "--dir", s(&dir)]).ok().stdout;
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.starts_with("CN-FJ-synthetic-"), "{list}");
    assert!(!list.contains("e1@v1"), "{list}");
    // The latest factor publication is shown, though the inputs were logged after it.
    let day = shown_day(&out);
    let show = tanji([
        "factors",
        "show",
        "--dir",
        s(&dir),
        "--region",
        "CN-FJ-synthetic",
        "--day",
        &day,
    ])
    .ok();
    assert!(
        show.stdout.contains("publication CN-FJ-synthetic-"),
        "{}",
        show.stdout
    );
    // Asked for by name, the inputs publication is not a factor series.
    let run = tanji(["factors", "verify", "--dir", s(&dir), "e1"]).expect_code(2);
    assert!(
        run.stderr.contains("no factor publication \"e1\""),
        "{}",
        run.stderr
    );
    let verify = tanji(["verify", "--dir", s(&dir)]).ok().stdout;
    assert!(
        verify.contains("1 factor publications, 1 inputs publications"),
        "{verify}"
    );
}

#[test]
fn a_report_of_a_period_without_data_says_so_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = demo(tmp.path());
    let args = [
        "report",
        "--dir",
        s(&dir),
        "--park",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-31",
    ];
    let run = tanji(args).expect_code(1);
    assert!(
        run.stderr
            .contains("no data for 2020-01-01 to 2020-01-31 (UTC) (the park)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--allow-empty"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let mut allowed = args.to_vec();
    allowed.push("--allow-empty");
    let run = tanji(allowed).ok();
    assert!(
        run.stdout.contains("\"consumption_wh\": 0"),
        "{}",
        run.stdout
    );
    // A period with data is reported as before.
    tanji(["report", "--dir", s(&dir), "--park"]).ok();
}

#[test]
fn ingest_refuses_a_file_that_is_not_json_lines_and_keeps_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = demo(tmp.path());
    let size = |dir: &Path| {
        let cp = tanji(["log", "checkpoint", "--dir", s(dir)]).ok().stdout;
        cp.lines().nth(1).unwrap().to_string()
    };
    let before = size(&dir);
    let page = tmp.path().join("page.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html>\n<html>\n<head><title>x</title></head>\n<body>{}</body>\n</html>\n",
    )
    .unwrap();
    let csv = tmp.path().join("history.csv");
    std::fs::write(&csv, "meter,start,kwh\nm-1,2026-01-01T00:00:00Z,1.5\n").unwrap();
    for file in [&page, &csv] {
        let run = tanji(["ingest", "--dir", s(&dir), s(file)]).expect_code(2);
        assert!(
            run.stderr.contains("line 1 is not a JSON object")
                && run.stderr.contains("nothing of this file was ingested"),
            "{}",
            run.stderr
        );
    }
    // Refused whole even beside a good file: nothing of either is kept.
    let quarantine = tanji(["quarantine", "--dir", s(&dir)]).ok().stdout;
    assert!(
        quarantine.starts_with("0 rejected upload(s)"),
        "{quarantine}"
    );
    assert_eq!(size(&dir), before);
}

#[test]
fn simulate_warns_when_it_writes_future_dated_uploads() {
    let tmp = tempfile::tempdir().unwrap();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let out = tmp.path().join("future");
    let run = tanji([
        "simulate",
        "--out",
        s(&out),
        "--enterprises",
        "1",
        "--days",
        "2",
        "--start",
        &today,
    ])
    .ok();
    assert!(
        run.stderr.contains("warning: the simulated days run to")
            && run.stderr.contains("future_interval"),
        "{}",
        run.stderr
    );
    let out = tmp.path().join("past");
    let run = tanji([
        "simulate",
        "--out",
        s(&out),
        "--enterprises",
        "1",
        "--days",
        "2",
        "--start",
        "2025-01-06",
    ])
    .ok();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
}

#[test]
fn verify_refuses_witness_arguments_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = demo(tmp.path());
    let run = tanji([
        "verify",
        "--dir",
        s(&dir),
        "--witnesses",
        "2-of-2",
        "--witness-key",
        "",
        "--witness-key",
        "",
    ])
    .expect_code(2);
    assert!(!run.stdout.contains("OK"), "{}", run.stdout);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("--witness-key: witness key \"\" is malformed: expected"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("witness key").count(),
        1,
        "{}",
        run.stderr
    );
    let run = tanji([
        "verify",
        "--dir",
        s(&dir),
        "--witnesses",
        "2-of-3",
        "--witness-key",
        "x",
    ])
    .expect_code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("names 3 witnesses, but 1 --witness-key were given"),
        "{}",
        run.stderr
    );
}

#[test]
fn demo_serve_checks_its_port_before_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tmp.path().join("demo");
    let run = tanji([
        "demo",
        "--dir",
        s(&dir),
        "--serve",
        "--listen",
        &addr,
        "--no-mqtt",
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains(&format!("--listen {addr}: cannot listen there"))
            && run
                .stderr
                .contains("choose another address, e.g. --listen 127.0.0.1:"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "the demo ran: {}", run.stdout);
    assert!(!dir.exists());
}

#[test]
fn serve_prints_the_real_mqtt_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    tanji(["init", "--dir", s(&dir), "--park", "north-park"]).ok();
    // No broker needs to answer: the topics are printed before the server connects.
    let mut child = command([
        "serve",
        "--dir",
        s(&dir),
        "--listen",
        "127.0.0.1:0",
        "--mqtt",
        "mqtt://127.0.0.1:9",
    ])
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("MQTT ingest") || l.starts_with("error"))
        .unwrap_or_default();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.contains("uploads on tanji/north-park/+/up")
            && line.contains("answers on tanji/north-park/<device>/ack")
            && !line.contains("<park>"),
        "{line}"
    );
}

#[test]
fn the_demo_hints_run_this_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, out) = demo(tmp.path());
    let exe = std::fs::canonicalize(TANJI).unwrap();
    let hints: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("Try:"))
        .skip(1)
        .collect();
    assert!(hints.len() >= 8, "{out}");
    for h in &hints {
        assert!(
            h.trim_start().starts_with(&exe.display().to_string()),
            "not this binary (not on PATH): {h}"
        );
    }
    // The hints run as printed (those that only read the park).
    for h in hints.iter().filter(|h| {
        [
            "verify --dir",
            "log prove",
            "device list",
            "factors verify",
            "factors show",
        ]
        .iter()
        .any(|c| h.contains(c))
    }) {
        let args: Vec<&str> = h.split_whitespace().skip(1).collect();
        tanji(&args).ok();
    }
    assert!(dir.exists());
}

#[test]
fn messages_say_what_is_expected_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = demo(tmp.path());
    let run = tanji([
        "report",
        "--dir",
        s(&dir),
        "--park",
        "--from",
        "2026-11-1",
        "--to",
        "2026-11-30",
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("--from 2026-11-1")
            && run.stderr.contains("expected YYYY-MM-DD")
            && run.stderr.matches("could not be parsed").count() == 1,
        "{}",
        run.stderr
    );
    let run = tanji(["report", "--dir", s(&dir)]).expect_code(2);
    assert!(
        run.stderr.contains("--enterprise") && run.stderr.contains("--park"),
        "{}",
        run.stderr
    );
    let run = tanji(["serve", "--dir", s(&dir), "--listen", "localhost"]).expect_code(2);
    assert!(
        run.stderr
            .contains("--listen \"localhost\": expected HOST:PORT, e.g. 127.0.0.1:8080"),
        "{}",
        run.stderr
    );
    // An OS error wrapped with its path is printed once.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let run = tanji(["init", "--dir", s(&file), "--park", "p"]).expect_code(2);
    let os = std::io::Error::from_raw_os_error(17).to_string();
    assert_eq!(run.stderr.matches(&os).count(), 1, "{}", run.stderr);
}
