//! `tanji factors …` end to end with the real binary: compute a calibrated series from the
//! synthetic Fujian-like year (`data/synthetic/CN-FJ-synthetic-2025-generation.csv`), publish it
//! into a park (idempotent, versioned, refused when the file no longer matches its sidecar),
//! verify it, tamper with the stored blob, show a day, refuse bad input; and `tanji demo`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{first_problem, s, tanji, verify, Run};
use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

const REGION: &str = "CN-FJ-synthetic";
/// Fujian's official 2022 average grid factor, tCO2/MWh, as the demo uses.
const TARGET: &str = "0.4092";

fn fj_generation() -> PathBuf {
    PathBuf::from(format!(
        "{}/../../data/synthetic/CN-FJ-synthetic-2025-generation.csv",
        env!("CARGO_MANIFEST_DIR")
    ))
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn compute(out: &Path, calibrate: bool) -> Run {
    let gen = fj_generation();
    let cal = format!("{REGION}={TARGET}");
    let mut args = vec!["factors", "compute", "--generation", s(&gen)];
    if calibrate {
        args.extend(["--calibrate", &cal]);
    }
    args.extend(["--out", s(out)]);
    tanji(args)
}

fn publish(series: &Path, dir: &Path) -> Run {
    tanji([
        "factors",
        "publish",
        s(series),
        "--dir",
        s(dir),
        "--name",
        "fj",
    ])
}

/// `published ID as log entry N …` and `log size M; …` → (ID, N, M).
fn published(run: &Run) -> (String, u64, u64) {
    let line = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("published "))
        .unwrap_or_else(|| panic!("no 'published' line in\n{}", run.stdout));
    let mut w = line.split_whitespace();
    let id = w.next().unwrap().to_string();
    assert_eq!(w.next(), Some("as"));
    assert_eq!(w.next(), Some("log"));
    assert_eq!(w.next(), Some("entry"));
    let index = w.next().unwrap().parse().unwrap();
    let size = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("log size "))
        .and_then(|l| l.split(';').next())
        .unwrap_or_else(|| panic!("no 'log size' line in\n{}", run.stdout))
        .parse()
        .unwrap();
    (id, index, size)
}

/// The consumption-weighted mean of `consumption_direct`, g/kWh, recomputed from the series
/// CSV by hand (not through tanji_factors).
fn weighted_mean(csv: &str, region: &str) -> f64 {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (r, x, w) = (
        col("region"),
        col("consumption_direct"),
        col("consumption_mwh"),
    );
    let (mut num, mut den, mut n) = (0.0, 0.0, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[r] != region {
            continue;
        }
        let x: f64 = f[x].parse().unwrap();
        let w: f64 = f[w].parse().unwrap();
        num += x * w;
        den += w;
        n += 1;
    }
    assert_eq!(n, 8760, "hours of {region}");
    num / den
}

/// The rows of a `tanji factors show` table: local hour → (consumption, production).
fn table(stdout: &str) -> BTreeMap<u32, (f64, f64)> {
    let mut rows = BTreeMap::new();
    for line in stdout.lines() {
        let b = line.as_bytes();
        if b.len() > 5 && b[2] == b':' && b[..2].iter().all(u8::is_ascii_digit) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let h: u32 = f[0][..2].parse().unwrap();
            assert_eq!(&f[0][2..], ":00", "{line}");
            let prev = rows.insert(h, (f[1].parse().unwrap(), f[2].parse().unwrap()));
            assert!(prev.is_none(), "hour {h} twice in\n{stdout}");
        }
    }
    rows
}

/// Mean consumption factor over local hours `[from, to)`.
fn mean_over(t: &BTreeMap<u32, (f64, f64)>, from: u32, to: u32) -> f64 {
    (from..to).map(|h| t[&h].0).sum::<f64>() / f64::from(to - from)
}

/// The table lines and the mean line of a `show` output, without the label line (which names
/// the publication or file).
fn numbers(stdout: &str) -> Vec<&str> {
    stdout.lines().skip(1).collect()
}

/// The local (UTC+8) day with the most solar generation in the input, YYYY-MM-DD, among days
/// whose 24 hours are all in the year.
fn sunniest_day() -> String {
    let text = std::fs::read_to_string(fj_generation()).unwrap();
    let mut solar: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let start =
            time::OffsetDateTime::parse(f[1], &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp();
        let e = solar
            .entry((start + 8 * 3600).div_euclid(86_400))
            .or_default();
        if f[3] == "solar" {
            e.0 += f[4].parse::<f64>().unwrap();
            e.1 += 1;
        }
    }
    let (day, _) = solar
        .iter()
        .filter(|(_, (_, hours))| *hours == 24)
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
        .unwrap();
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .unwrap()
        .date()
        .to_string()
}

fn show(dir: &Path, id: &str, day: &str) -> Run {
    tanji([
        "factors",
        "show",
        "--dir",
        s(dir),
        "--id",
        id,
        "--region",
        REGION,
        "--day",
        day,
    ])
}

fn show_file(file: &Path, day: &str) -> Run {
    tanji([
        "factors",
        "show",
        "--file",
        s(file),
        "--region",
        REGION,
        "--day",
        day,
    ])
}

/// One local day of a computed series as `tanji factors show` prints it, whole
/// (`tests/snapshots/`): the local hours (UTC+8), the three factors per hour, the period mean
/// and the lowest and highest hour. The series file's path is shown as `[series]`.
#[test]
fn a_local_day_of_factors_as_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let series = tmp.path().join("s.csv");
    compute(&series, true).ok();
    let out = show_file(&series, "2025-07-15").ok().stdout;
    insta::assert_snapshot!("factors_show_day", out.replace(s(&series), "[series]"));
}

#[test]
fn compute_publish_version_show_verify_tamper() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    tanji(["init", "--dir", s(&dir), "--park", "fj-test"]).ok();

    // compute, calibrated: the sidecar names method, input hash and calibration.
    let s1 = tmp.path().join("s.csv");
    let run = compute(&s1, true).ok();
    assert!(
        run.stdout
            .contains("CN-FJ-synthetic: consumption-weighted mean 0.4092 tCO2/MWh"),
        "{}",
        run.stdout
    );
    let csv1 = std::fs::read(&s1).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("s.csv.meta.json")).unwrap())
            .unwrap();
    assert_eq!(meta["method"], "tanji-factors/flow-tracing-v1");
    assert_eq!(meta["method"], tanji_factors::METHOD);
    assert_eq!(meta["content_sha256"], sha256_hex(&csv1));
    let input_sha = sha256_hex(&std::fs::read(fj_generation()).unwrap());
    assert_eq!(
        meta["inputs"],
        serde_json::json!([[
            "generation",
            "CN-FJ-synthetic-2025-generation.csv",
            input_sha
        ]]),
    );
    let cals = meta["calibrations"].as_array().unwrap();
    assert_eq!(cals.len(), 1, "{cals:?}");
    let cal = cals[0].as_str().unwrap();
    assert!(
        cal.starts_with("CN-FJ-synthetic: direct factors x")
            && cal.contains("-> 0.409200 t/MWh, target 0.4092;")
            && cal.contains("8760 intervals"),
        "{cal}"
    );
    assert_eq!(meta["regions"], serde_json::json!([REGION]));
    assert_eq!(meta["intervals"], 8760);
    // 2025-01-01T00:00:00Z .. 2026-01-01T00:00:00Z
    assert_eq!(
        meta["period"],
        serde_json::json!([1_735_689_600, 1_767_225_600])
    );

    // The calibrated mean, recomputed from the 4-decimal CSV, rounds to the target.
    let mean = weighted_mean(std::str::from_utf8(&csv1).unwrap(), REGION);
    assert_eq!(format!("{:.4}", mean / 1000.0), TARGET, "mean {mean} g/kWh");
    assert!((mean - 409.2).abs() < 1e-3, "mean {mean} g/kWh");

    // publish: fj@v1; again: the same publication, the log does not grow.
    let (id, v1_index, size) = published(&publish(&s1, &dir).ok());
    assert_eq!(id, "fj@v1");
    let again = published(&publish(&s1, &dir).ok());
    assert_eq!(again, (id.clone(), v1_index, size), "republishing");

    // A series changed after compute is refused, naming the mismatch.
    let mut changed = csv1.clone();
    let at = changed.iter().position(|&b| b == b'\n').unwrap() + 40;
    changed[at] = if changed[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(&s1, &changed).unwrap();
    let run = publish(&s1, &dir).expect_code(2);
    assert!(
        run.stderr.contains("its .meta.json says")
            && run
                .stderr
                .contains("the file was changed after it was computed"),
        "{}",
        run.stderr
    );
    std::fs::write(&s1, &csv1).unwrap();

    // A different series (uncalibrated) is a new version; v1 is unchanged.
    let s2 = tmp.path().join("s2.csv");
    compute(&s2, false).ok();
    let csv2 = std::fs::read(&s2).unwrap();
    assert_ne!(csv1, csv2);
    let (id2, v2_index, size2) = published(&publish(&s2, &dir).ok());
    assert_eq!(id2, "fj@v2");
    assert_eq!((v2_index, size2), (v1_index + 1, size + 1));
    let list = tanji(["factors", "list", "--dir", s(&dir)]).ok();
    let ids: Vec<&str> = list
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids, ["fj@v1", "fj@v2"], "{}", list.stdout);

    let day = sunniest_day();
    let v1 = show(&dir, "fj@v1", &day).ok();
    let v2 = show(&dir, "fj@v2", &day).ok();
    assert!(v1
        .stdout
        .starts_with("publication fj@v1 (tanji-factors/flow-tracing-v1): "));
    assert_eq!(
        numbers(&v1.stdout),
        numbers(&show_file(&s1, &day).ok().stdout)
    );
    assert_eq!(
        numbers(&v2.stdout),
        numbers(&show_file(&s2, &day).ok().stdout)
    );
    assert!(v1
        .stdout
        .contains("period mean (consumption-weighted, consumption-based direct): 409.2 gCO2/kWh = 0.4092 tCO2/MWh"));
    // Latest version without --id is v2.
    let latest = tanji([
        "factors",
        "show",
        "--dir",
        s(&dir),
        "--region",
        REGION,
        "--day",
        &day,
    ])
    .ok();
    assert_eq!(numbers(&latest.stdout), numbers(&v2.stdout));

    // The sunniest day: 24 hours, midday (11:00–14:00 local) cleaner than evening (19:00–22:00).
    let t1 = table(&v1.stdout);
    assert_eq!(t1.len(), 24, "{}", v1.stdout);
    assert_eq!(
        t1.keys().copied().collect::<Vec<_>>(),
        (0..24).collect::<Vec<_>>()
    );
    for (h, (c, p)) in &t1 {
        assert_eq!(c, p, "isolated region: consumption = production at {h}:00");
    }
    let (mid, eve) = (mean_over(&t1, 11, 14), mean_over(&t1, 19, 22));
    println!("{day}: midday mean {mid:.1}, evening mean {eve:.1} g/kWh (fj@v1)");
    assert!(
        mid < eve,
        "{day}: midday {mid} vs evening {eve}\n{}",
        v1.stdout
    );
    // v2 is the same series before calibration: every hour scaled by one factor.
    let t2 = table(&v2.stdout);
    let scale = t1[&12].0 / t2[&12].0;
    assert!(scale > 0.5 && scale < 2.0, "{scale}");
    for h in 0..24 {
        assert!(
            (t1[&h].0 - scale * t2[&h].0).abs() < 0.2,
            "hour {h}: {} vs {scale} × {}",
            t1[&h].0,
            t2[&h].0
        );
    }

    // A region not in the series: an error listing the ones it has.
    let run = tanji([
        "factors",
        "show",
        "--dir",
        s(&dir),
        "--id",
        "fj@v1",
        "--region",
        "CN-FJ",
        "--day",
        &day,
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains("region \"CN-FJ\" is not in publication fj@v1")
            && run.stderr.contains("it has: CN-FJ-synthetic"),
        "{}",
        run.stderr
    );

    // verify: OK, and the whole park audits clean.
    let run = tanji(["factors", "verify", "--dir", s(&dir), "fj@v1"]).ok();
    assert!(
        run.stdout
            .starts_with(&format!("OK: fj@v1 is log entry {v1_index};")),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains(&format!("content sha256:{}", sha256_hex(&csv1))));
    assert!(run
        .stdout
        .contains(&format!("input generation sha256:{input_sha}")));
    verify(&dir).ok();

    // Flip one byte of v1's stored series.
    let conn = Connection::open(dir.join("park.db")).unwrap();
    let hash = Sha256::digest(&csv1).to_vec();
    let mut blob: Vec<u8> = conn
        .query_row(
            "SELECT data FROM blobs WHERE hash = ?1",
            params![hash],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(blob, csv1);
    let at = blob.len() / 2;
    blob[at] ^= 0x01;
    let n = conn
        .execute(
            "UPDATE blobs SET data = ?1 WHERE hash = ?2",
            params![blob, hash],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);

    let run = tanji(["factors", "verify", "--dir", s(&dir), "fj@v1"]);
    assert_ne!(run.code, Some(0), "{}", run.stdout);
    assert!(
        run.stderr.contains("publication fj@v1")
            && run
                .stderr
                .contains("the series was changed after it was published"),
        "{}",
        run.stderr
    );
    let run = verify(&dir).expect_code(1);
    let first = first_problem(&run);
    assert!(
        first.starts_with(&format!("entry {v1_index} (factor publication): blobs table: publication fj@v1: the stored content hashes to")),
        "{first}"
    );
}

#[test]
fn compute_refuses_bad_csv_naming_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "negative.csv",
            "region,start,end,source,mwh\n\
             X,2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,coal,100\n\
             X,2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,gas,-5\n",
            "generation CSV line 3, column `mwh`: \"-5\" is negative",
        ),
        (
            "unknown.csv",
            "region,start,end,source,mwh\n\
             X,2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,fusion,100\n",
            "generation CSV line 2, column `source`: \"fusion\" unknown generation source",
        ),
    ];
    for (name, text, want) in cases {
        let input = tmp.path().join(name);
        std::fs::write(&input, text).unwrap();
        let out = tmp.path().join(format!("{name}.out.csv"));
        let run = tanji([
            "factors",
            "compute",
            "--generation",
            s(&input),
            "--out",
            s(&out),
        ])
        .expect_code(2);
        assert!(
            run.stderr
                .contains(&format!("generation file {name}: {want}")),
            "{name}: {}",
            run.stderr
        );
        assert!(!out.exists(), "{name}: an output was written");
    }
}

#[test]
fn demo_publishes_and_shows_factors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let run = tanji(["demo", "--dir", s(&dir)]).ok();
    let out = &run.stdout;
    assert!(out.contains("published as CN-FJ-synthetic-"), "{out}");
    assert!(out.contains("verify OK"), "{out}");
    let t = table(out);
    assert_eq!(t.len(), 24, "{out}");
    let (noon, evening) = (t[&12].0, t[&20].0);
    assert!(noon < evening, "12:00 {noon} vs 20:00 {evening}\n{out}");
    // The demo's publication verifies on its own, too.
    let id = out
        .split("published as ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    tanji(["factors", "verify", "--dir", s(&dir), id]).ok();
}
