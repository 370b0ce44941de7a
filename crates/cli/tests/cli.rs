//! End-to-end user flows of the `tanji` binary: help everywhere, a park made by hand (keygen,
//! register, hand-signed uploads), every rejection with its stable code in the ingest summary
//! and the quarantine, idempotent duplicates, sequence gaps as data issues, `--strict`, and
//! errors that say what to do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{redact_hashes, s, tanji, verify, Run};
use ed25519_dalek::SigningKey;
use tanji_readings::{upload_to_json, Channel, Hash, SignedUpload, UploadBody, ZERO_HASH};

/// The day the hand-made uploads cover, and the clock the ingests run at (a week later).
const DAY: i64 = time::macros::datetime!(2025-03-03 00:00 UTC).unix_timestamp();
const NOW: &str = "2025-03-10T00:00:00Z";
const QUARTER: i64 = 900;
/// 500 kW for a quarter hour = 125 kWh = 125 000 in milli-kWh (3 decimals).
const CAPACITY_MILLI: i64 = 125_000;

fn log_size(dir: &Path) -> u64 {
    let note = tanji(["log", "checkpoint", "--dir", s(dir)]).ok().stdout;
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// Subcommand names listed under "Commands:" in a help text (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The top-level help as a user reads it (`tests/snapshots/`): every command and its one line.
#[test]
fn top_level_help() {
    insta::assert_snapshot!("tanji_help", tanji(["--help"]).ok().stdout);
}

#[test]
fn help_of_every_command() {
    let mut queue = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let run = tanji(&args).ok();
        assert!(
            run.stdout.contains("Usage: tanji"),
            "{args:?}: {}",
            run.stdout
        );
        seen += 1;
        for sub in subcommands(&run.stdout) {
            let mut p = path.clone();
            p.push(sub);
            queue.push(p);
        }
    }
    // tanji, its 9 commands, device's 3, log's 6 at least.
    assert!(seen >= 20, "only {seen} help texts");
    // The benchmarks are the tanji-bench binary, not a command of the shipped tanji.
    let top = subcommands(&tanji(["--help"]).ok().stdout);
    assert!(!top.iter().any(|c| c == "bench"), "{top:?}");
    tanji(["--version"]).ok();
    // No command: usage on stderr, exit 2.
    let run = tanji::<[&str; 0], &str>([]).expect_code(2);
    assert!(run.stderr.contains("Usage: tanji"), "{}", run.stderr);
}

#[test]
fn init_twice_and_missing_dirs_say_what_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let created = tanji(["init", "--dir", s(&dir), "--park", "p1"]).ok();
    assert!(created.stdout.contains("created park p1"));
    let key = tanji(["log", "key", "--dir", s(&dir)]).ok().stdout;

    let again = tanji(["init", "--dir", s(&dir), "--park", "p1"]).expect_code(2);
    assert!(
        again.stderr.contains(s(&dir)) && again.stderr.contains("already holds a park"),
        "{}",
        again.stderr
    );
    // The park is untouched.
    assert_eq!(tanji(["log", "key", "--dir", s(&dir)]).ok().stdout, key);
    verify(&dir).ok();

    let bad_name = tanji(["init", "--dir", s(&tmp.path().join("q")), "--park", "a b"]);
    let bad_name = bad_name.expect_code(2);
    assert!(bad_name.stderr.contains("park name"), "{}", bad_name.stderr);

    let missing = tmp.path().join("no-such-park");
    let file = tmp.path().join("x.jsonl");
    std::fs::write(&file, "").unwrap();
    for args in [
        vec!["ingest", "--dir", s(&missing), s(&file)],
        vec!["verify", "--dir", s(&missing)],
        vec!["quarantine", "--dir", s(&missing)],
        vec!["log", "checkpoint", "--dir", s(&missing)],
        vec!["log", "prove", "--dir", s(&missing), "--index", "0"],
        vec!["device", "list", "--dir", s(&missing)],
    ] {
        let run = tanji(&args).expect_code(2);
        assert!(
            run.stderr.contains(s(&missing)) && run.stderr.contains("tanji init"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(!missing.exists(), "a read command created the directory");
}

/// A device's hand-made uploads.
struct Device {
    name: &'static str,
    key: SigningKey,
}

fn channel(meter: &str, start: i64, values: Vec<i64>) -> Channel {
    Channel {
        meter: meter.into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        decimals: 3,
        start,
        interval_s: QUARTER as u32,
        values,
    }
}

/// Hour `h` of the day, as four quarter-hour values.
fn hour(meter: &str, h: i64, values: [i64; 4]) -> Channel {
    channel(meter, DAY + h * 3600, values.to_vec())
}

impl Device {
    fn sign(&self, seq: u64, prev: Hash, channels: Vec<Channel>) -> SignedUpload {
        UploadBody {
            device: self.name.into(),
            seq,
            prev,
            channels,
        }
        .sign(&self.key)
    }
}

fn read_key(path: &Path) -> SigningKey {
    let text = std::fs::read_to_string(path).unwrap();
    let seed: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

fn write_lines(path: &Path, lines: &[String]) -> PathBuf {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    path.to_path_buf()
}

fn ingest(dir: &Path, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["ingest", "--dir", s(dir), "--now", NOW, "--acks", "-"];
    args.extend_from_slice(extra);
    args.push(s(file));
    tanji(&args)
}

/// `verdict → [(line number, rest)]` from ack lines `verdict <file>:<line> <device> <seq> <x>`.
fn acks(out: &str) -> BTreeMap<u64, (String, String)> {
    out.lines()
        .filter(|l| {
            l.starts_with("accepted ") || l.starts_with("duplicate ") || l.starts_with("rejected ")
        })
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let line: u64 = f[1].rsplit(':').next().unwrap().parse().unwrap();
            (line, (f[0].to_string(), f[4].to_string()))
        })
        .collect()
}

#[test]
fn a_hand_made_park_accepts_dedups_and_rejects_with_stable_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    tanji(["init", "--dir", s(&dir), "--park", "hand"]).ok();
    assert_eq!(log_size(&dir), 0);

    // Keys and registrations.
    let k1 = tmp.path().join("d-1.key");
    let k2 = tmp.path().join("d-2.key");
    let gen = tanji(["device", "keygen", "--out", s(&k1)]).ok();
    let d1 = Device {
        name: "d-1",
        key: read_key(&k1),
    };
    assert!(gen
        .stdout
        .contains(&hex::encode(d1.key.verifying_key().to_bytes())));
    let refused = tanji(["device", "keygen", "--out", s(&k1)]).expect_code(2);
    assert!(refused.stderr.contains(s(&k1)), "{}", refused.stderr);
    assert_eq!(
        read_key(&k1).to_bytes(),
        d1.key.to_bytes(),
        "keygen overwrote a key"
    );
    tanji(["device", "keygen", "--out", s(&k2)]).ok();
    let d2 = Device {
        name: "d-2",
        key: read_key(&k2),
    };
    let register = |device: &str, key: &Path, meter: &str| {
        tanji([
            "device",
            "register",
            "--dir",
            s(&dir),
            "--device",
            device,
            "--key-file",
            s(key),
            "--enterprise",
            "e-1",
            "--meter",
            meter,
            "--rated-kw",
            "500",
        ])
        .ok()
    };
    let r = register("d-1", &k1, "m-1");
    assert!(
        r.stdout.contains("registered device d-1 for meter m-1")
            && r.stdout.contains("as log entry 0"),
        "{}",
        r.stdout
    );
    assert_eq!(log_size(&dir), 1);
    let again = register("d-1", &k1, "m-1");
    assert!(
        again.stdout.contains("1 already registered"),
        "{}",
        again.stdout
    );
    assert_eq!(log_size(&dir), 1);
    register("d-2", &k2, "m-2");
    assert_eq!(log_size(&dir), 2);
    let list = tanji(["device", "list", "--dir", s(&dir)]).ok();
    assert!(list.stdout.contains("d-1") && list.stdout.contains("m-2"));

    // Good uploads: seq 1 twice in one file (the second is an exact duplicate), 2, and 3 at
    // exactly the rated capacity.
    let u1 = d1.sign(1, ZERO_HASH, vec![hour("m-1", 0, [1000, 2000, 3000, 4000])]);
    let u2 = d1.sign(2, u1.record_hash(), vec![hour("m-1", 1, [0, 0, 10, 1])]);
    let cap = [CAPACITY_MILLI; 4];
    let u3 = d1.sign(3, u2.record_hash(), vec![hour("m-1", 2, cap)]);
    let good: Vec<String> = [&u1, &u1, &u2, &u3]
        .iter()
        .map(|u| upload_to_json(u))
        .collect();
    let good = write_lines(&tmp.path().join("good.jsonl"), &good);
    let run = ingest(&dir, &good, &[]).ok();
    assert!(
        run.stdout.contains("4 record(s)")
            && run
                .stdout
                .contains("3 accepted (12 readings), 1 duplicate (already logged), 0 rejected"),
        "{}",
        run.stdout
    );
    let a = acks(&run.stdout);
    let want = |v: &str, x: &str| (v.to_string(), x.to_string());
    assert_eq!(a[&1], want("accepted", "2"));
    assert_eq!(a[&2], want("duplicate", "2"));
    assert_eq!(a[&3], want("accepted", "3"));
    assert_eq!(a[&4], want("accepted", "4"));
    assert_eq!(log_size(&dir), 5);

    // The same file again: all duplicates, answered with the original indices; the log does
    // not grow.
    let run = ingest(&dir, &good, &["--strict"]).ok();
    assert!(
        run.stdout.contains("0 accepted (0 readings), 4 duplicate"),
        "{}",
        run.stdout
    );
    let a = acks(&run.stdout);
    assert_eq!(a[&1], want("duplicate", "2"));
    assert_eq!(a[&4], want("duplicate", "4"));
    assert_eq!(log_size(&dir), 5);

    // Every way to be rejected, one per line, each for seq 4 (03:00 to 04:00) unless the
    // case needs otherwise.
    let prev = u3.record_hash();
    let next = |channels: Vec<Channel>| d1.sign(4, prev, channels);
    let ok_hour = || hour("m-1", 3, [5, 5, 5, 5]);
    let mut tampered = next(vec![ok_hour()]);
    tampered.body.channels[0].values[0] += 1;
    // d-1's record signed with d-2's key.
    let wrong_key = Device {
        name: "d-1",
        key: d2.key.clone(),
    };
    let unknown = Device {
        name: "d-9",
        key: d1.key.clone(),
    };
    let mut bad_unit = ok_hour();
    bad_unit.unit = "kWx".into();
    let mut bad_carrier = ok_hour();
    bad_carrier.carrier = "plasma".into();
    let cases: Vec<(&str, String)> = vec![
        (
            "bad_signature",
            upload_to_json(&wrong_key.sign(4, prev, vec![ok_hour()])),
        ),
        ("bad_signature", upload_to_json(&tampered)),
        (
            "unknown_device",
            upload_to_json(&unknown.sign(1, ZERO_HASH, vec![ok_hour()])),
        ),
        (
            "meter_not_bound",
            upload_to_json(&next(vec![hour("m-2", 3, [5; 4])])),
        ),
        (
            "replay_conflict",
            upload_to_json(&d1.sign(2, u1.record_hash(), vec![hour("m-1", 1, [0, 0, 10, 2])])),
        ),
        (
            "chain_broken",
            upload_to_json(&d1.sign(4, [7; 32], vec![ok_hour()])),
        ),
        (
            "negative_value",
            upload_to_json(&next(vec![hour("m-1", 3, [5, -1, 5, 5])])),
        ),
        (
            "above_capacity",
            upload_to_json(&next(vec![hour("m-1", 3, [5, CAPACITY_MILLI + 1, 5, 5])])),
        ),
        (
            "misaligned_interval",
            upload_to_json(&next(vec![channel("m-1", DAY + 3 * 3600 + 60, vec![5; 4])])),
        ),
        (
            "future_interval",
            upload_to_json(&next(vec![channel(
                "m-1",
                time::macros::datetime!(2025-03-10 00:00 UTC).unix_timestamp(),
                vec![5; 4],
            )])),
        ),
        ("unknown_unit", upload_to_json(&next(vec![bad_unit]))),
        ("unknown_carrier", upload_to_json(&next(vec![bad_carrier]))),
        (
            "malformed",
            "{\"device\": \"d-1\", this is not JSON".to_string(),
        ),
    ];
    let lines: Vec<String> = cases.iter().map(|(_, l)| l.clone()).collect();
    let bad = write_lines(&tmp.path().join("bad.jsonl"), &lines);
    let run = ingest(&dir, &bad, &[]).ok();
    assert!(
        run.stdout.contains(&format!(
            "0 accepted (0 readings), 0 duplicate (already logged), {} rejected",
            cases.len()
        )),
        "{}",
        run.stdout
    );
    let a = acks(&run.stdout);
    for (i, (code, _)) in cases.iter().enumerate() {
        assert_eq!(
            a[&(i as u64 + 1)],
            want("rejected", code),
            "line {} should be rejected as {code}",
            i + 1
        );
    }
    assert!(run.stdout.contains("tanji quarantine --dir"));
    // The summary names each code with a count and the first message, which says what and
    // where: its rejection lines whole (`tests/snapshots/`), as the operator reads them.
    let rejections: String = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  rejected"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!(
        "ingest_rejections",
        redact_hashes(&rejections.replace(s(tmp.path()), "[tmp]"))
    );
    assert_eq!(log_size(&dir), 5, "rejections are not logged");

    // The quarantine keeps each with its code and source line.
    let q = tanji(["quarantine", "--dir", s(&dir)]).ok();
    assert!(
        q.stdout
            .starts_with(&format!("{} rejected upload(s) in quarantine", cases.len())),
        "{}",
        q.stdout
    );
    for (i, (code, _)) in cases.iter().enumerate() {
        let source = format!("bad.jsonl:{}", i + 1);
        assert!(
            q.stdout
                .lines()
                .any(|l| l.contains(&source) && l.contains(&format!("  {code}  "))),
            "{source} {code} not in the quarantine\n{}",
            q.stdout
        );
    }

    // --strict: a run with rejections exits 1 (and still quarantines them).
    let strict = ingest(&dir, &bad, &["--strict"]).expect_code(1);
    assert!(strict.stdout.contains(&format!("{} rejected", cases.len())));
    let q = tanji(["quarantine", "--dir", s(&dir), "--limit", "3"]).ok();
    assert!(
        q.stdout
            .starts_with(&format!("{} rejected upload(s)", 2 * cases.len())),
        "{}",
        q.stdout
    );
    assert_eq!(q.stdout.lines().count(), 1 + 3, "--limit 3\n{}", q.stdout);

    // A sequence gap (seq 6 after 3) is accepted and reported as a data issue.
    let u6 = d1.sign(6, [9; 32], vec![hour("m-1", 5, [1, 1, 1, 1])]);
    let gap = write_lines(&tmp.path().join("gap.jsonl"), &[upload_to_json(&u6)]);
    let run = ingest(&dir, &gap, &["--strict"]).ok();
    assert!(
        run.stdout.contains("1 accepted (4 readings)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 data issue(s) noted"),
        "{}",
        run.stdout
    );
    assert_eq!(acks(&run.stdout)[&1], want("accepted", "5"));
    // The late seq 4 and 5, chained correctly, fill the gap.
    let u4 = d1.sign(4, prev, vec![ok_hour()]);
    let u5 = d1.sign(5, u4.record_hash(), vec![hour("m-1", 4, [2, 2, 2, 2])]);
    let u6_prev_ok = u6.body.prev == u5.record_hash();
    assert!(
        !u6_prev_ok,
        "seq 6 was chained to a made-up hash on purpose"
    );
    let late = write_lines(
        &tmp.path().join("late.jsonl"),
        &[upload_to_json(&u4), upload_to_json(&u5)],
    );
    let run = ingest(&dir, &late, &[]).ok();
    let a = acks(&run.stdout);
    assert_eq!(a[&1], want("accepted", "6"));
    // seq 5 is not the record seq 6 chained to: the chain check catches it from the other side.
    assert_eq!(a[&2], want("rejected", "chain_broken"));
    assert_eq!(log_size(&dir), 7);

    let v = verify(&dir).ok();
    assert!(
        v.stdout.starts_with(
            "OK: 7 entries (5 uploads with 20 readings, 2 registrations of 2 devices, 0 factor publications)"
        ),
        "{}",
        v.stdout
    );

    // An auditor's copy: the store alone (no log signing key), checked against the log key
    // obtained out of band; a different key of the same name fails it.
    let vkey = tanji(["log", "key", "--dir", s(&dir)]).ok().stdout;
    let copy = tmp.path().join("auditor");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(dir.join("park.db"), copy.join("park.db")).unwrap();
    let v = tanji(["verify", "--dir", s(&copy), "--key", vkey.trim()]).ok();
    assert!(
        v.stdout.starts_with("OK: 7 entries") && !v.stdout.contains("pass --key"),
        "{}",
        v.stdout
    );
    let other = tmp.path().join("other");
    tanji(["init", "--dir", s(&other), "--park", "hand"]).ok();
    let other_key = tanji(["log", "key", "--dir", s(&other)]).ok().stdout;
    let v = tanji(["verify", "--dir", s(&copy), "--key", other_key.trim()]).expect_code(1);
    assert!(
        common::first_problem(&v).starts_with("checkpoint at size 0: does not verify"),
        "{}",
        v.stdout
    );
}
