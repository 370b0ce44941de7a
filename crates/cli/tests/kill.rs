//! SIGKILL durability: `tanji ingest` acknowledges a record only once its batch is durable, so
//! killing the process at any moment loses no acknowledged record, the store always opens and
//! verifies, and a later full ingest logs every upload exactly once.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{command, entry_kinds, logged_uploads, pg, s, sim_park_on, tanji, verify, Rng};

const ENTERPRISES: usize = 8;
const DAYS: u32 = 40;
const UPLOADS: usize = ENTERPRISES * DAYS as usize;
const BATCH: &str = "7";
/// SIGKILLs to deliver in all.
const KILLS: usize = 50;

type Key = (String, u64);

/// One acknowledgement line: `accepted|duplicate|rejected <source> <device> <seq> <index|code>`.
#[derive(Debug, Clone)]
struct Ack {
    verdict: String,
    device: String,
    seq: u64,
    index: u64,
    line: String,
}

fn parse_ack(line: &str) -> Ack {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 5, "ack line {line:?}: expected 5 fields");
    assert!(
        f[0] == "accepted" || f[0] == "duplicate",
        "a simulated upload was not accepted: {line:?}"
    );
    Ack {
        verdict: f[0].to_string(),
        device: f[2].to_string(),
        seq: f[3].parse().unwrap(),
        index: f[4].parse().unwrap(),
        line: line.to_string(),
    }
}

/// (device, seq) of a JSON upload line.
fn key_of(line: &str) -> Key {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    (
        v["device"].as_str().unwrap().to_string(),
        v["seq"].as_u64().unwrap(),
    )
}

/// Totals from ingest's summary line:
/// `ingested N record(s) in T s: A accepted (R readings), D duplicate (…), X rejected`.
fn summary(stdout: &str) -> (u64, u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ingested "))
        .unwrap_or_else(|| panic!("no summary in {stdout}"));
    let num_before = |word: &str| -> u64 {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("{word:?} in {line}"));
        line[..at]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        num_before(" record(s)"),
        num_before(" accepted"),
        num_before(" duplicate"),
        num_before(" rejected"),
    )
}

/// Writes this round's input: the uploads in a round-specific order, split over 1 to 3 files.
fn round_input(
    work: &Path,
    round: usize,
    lines: &[String],
    logged: &HashMap<Key, u64>,
    rng: &mut Rng,
) -> Vec<PathBuf> {
    let mut order: Vec<usize> = (0..lines.len()).collect();
    match round % 3 {
        // Not yet logged first (so the kill lands among appends), then the rest.
        0 => {
            rng.shuffle(&mut order);
            order.sort_by_key(|&i| logged.contains_key(&key_of(&lines[i])));
        }
        // Fully shuffled: sequence gaps and out-of-order chain links.
        1 => rng.shuffle(&mut order),
        // File order, not yet logged first.
        _ => order.sort_by_key(|&i| logged.contains_key(&key_of(&lines[i]))),
    }
    let parts = 1 + rng.below(3) as usize;
    let per = order.len().div_ceil(parts);
    let mut files = Vec::new();
    for (p, chunk) in order.chunks(per).enumerate() {
        let path = work.join(format!("round{round:02}-part{p}.jsonl"));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for &i in chunk {
            writeln!(f, "{}", lines[i]).unwrap();
        }
        f.flush().unwrap();
        files.push(path);
    }
    files
}

/// Runs `tanji ingest --acks -` on `files` and SIGKILLs it after `kill_after` ack lines (0 =
/// right after spawning). Returns every complete ack line the process wrote before it died
/// (including those still in the pipe at the kill) and whether the kill ended it (rather than
/// the process finishing first).
fn ingest_and_kill(dir: &Path, files: &[PathBuf], kill_after: usize) -> (Vec<Ack>, bool) {
    let mut args = vec![
        "ingest".to_string(),
        "--dir".into(),
        s(dir).into(),
        "--batch".into(),
        BATCH.into(),
        "--acks".into(),
        "-".into(),
    ];
    args.extend(files.iter().map(|f| s(f).to_string()));
    let mut child = command(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut acks = Vec::new();
    let mut buf = String::new();
    let is_ack = |l: &str| {
        l.starts_with("accepted ") || l.starts_with("duplicate ") || l.starts_with("rejected ")
    };
    while acks.len() < kill_after {
        buf.clear();
        if out.read_line(&mut buf).unwrap() == 0 {
            break;
        }
        if is_ack(&buf) && buf.ends_with('\n') {
            acks.push(parse_ack(buf.trim_end()));
        }
    }
    // SIGKILL (if the child finished meanwhile, killing the zombie is harmless).
    child.kill().unwrap();
    let status = child.wait().unwrap();
    // Whatever reached the pipe before the kill was acknowledged too.
    loop {
        buf.clear();
        if out.read_line(&mut buf).unwrap() == 0 {
            break;
        }
        if is_ack(&buf) && buf.ends_with('\n') {
            acks.push(parse_ack(buf.trim_end()));
        }
    }
    let killed = status.signal() == Some(9);
    assert!(
        killed || status.success(),
        "ingest failed on its own: {status}"
    );
    (acks, killed)
}

/// What the kill rounds on one park saw.
#[derive(Default)]
struct Tally {
    rounds: usize,
    kills: usize,
    kills_while_appending: usize,
    acks: usize,
    parks: usize,
}

/// One park, killed round after round until its log holds every upload or the tally has
/// `want_kills` kills; then completed by a full ingest and checked.
/// On PostgreSQL when `pg_url` is given (each park in a schema of its own).
fn kill_rounds(seed: u64, want_kills: usize, tally: &mut Tally, pg_url: Option<&str>) {
    let schema = pg_url.map(|u| pg::Schema::new(u, "kill"));
    let store = schema.as_ref().map(pg::Schema::store_url);
    let park = sim_park_on(store.as_deref(), ENTERPRISES, DAYS, seed);
    let dir = &park.dir;
    tally.parks += 1;
    let registrations = entry_kinds(dir).get(&2).copied().unwrap_or(0);
    assert!(registrations >= ENTERPRISES as u64);
    let lines: Vec<String> = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), UPLOADS);

    let mut rng = Rng(seed ^ 0x7a4e_11c0_de5e_ed00);
    // Every acknowledgement so far: (device, seq) -> index it was acknowledged at.
    let mut acked: HashMap<Key, u64> = HashMap::new();
    let mut accepted_acks: HashSet<Key> = HashSet::new();
    // The first rounds kill at fixed points (right away, after one ack, mid-batch, at a batch
    // boundary), the rest at seeded random ones.
    let fixed_points = [0usize, 1, 3, 7, 10, 0, 13];
    for round in 0.. {
        let before = logged_uploads(dir);
        if before.len() == UPLOADS || tally.kills >= want_kills {
            break;
        }
        let files = round_input(park.tmp.path(), round, &lines, &before, &mut rng);
        let kill_after = fixed_points
            .get(round)
            .copied()
            .unwrap_or_else(|| rng.below(24) as usize);
        let (acks, killed) = ingest_and_kill(dir, &files, kill_after);
        tally.rounds += 1;
        tally.kills += usize::from(killed);

        // The store opens and audits clean after the kill …
        let v = verify(dir).ok();
        assert!(v.stdout.starts_with("OK: "), "{}", v.stdout);
        // … and holds every record acknowledged in this and every earlier round, where it was
        // acknowledged.
        let logged = logged_uploads(dir);
        if killed && logged.len() > before.len() {
            tally.kills_while_appending += 1;
        }
        for a in &acks {
            let key = (a.device.clone(), a.seq);
            assert_eq!(
                logged.get(&key),
                Some(&a.index),
                "round {round} (killed after {kill_after} acks): acknowledged {:?} is not in the log at that index",
                a.line
            );
            if let Some(prev) = acked.insert(key.clone(), a.index) {
                assert_eq!(prev, a.index, "{:?} acknowledged at two indices", a.line);
            }
            if a.verdict == "accepted" {
                assert!(
                    accepted_acks.insert(key),
                    "{:?} was accepted twice (logged twice)",
                    a.line
                );
            }
        }
        tally.acks += acks.len();
        for (key, index) in &acked {
            assert_eq!(
                logged.get(key),
                Some(index),
                "round {round}: {key:?}, acknowledged earlier at {index}, was lost"
            );
        }
        // Nothing is logged that the upload index does not know, and nothing twice.
        let kinds = entry_kinds(dir);
        assert_eq!(kinds.get(&1).copied().unwrap_or(0), logged.len() as u64);
        assert_eq!(kinds.get(&2).copied().unwrap_or(0), registrations);
    }

    // A full ingest completes the log: every upload exactly once.
    let ingest = || {
        tanji([
            "ingest",
            "--dir",
            s(dir),
            "--batch",
            BATCH,
            s(&park.uploads),
        ])
        .ok()
    };
    let (records, accepted, duplicate, rejected) = summary(&ingest().stdout);
    assert_eq!((records, rejected), (UPLOADS as u64, 0));
    assert_eq!(accepted + duplicate, UPLOADS as u64);
    let logged = logged_uploads(dir);
    assert_eq!(logged.len(), UPLOADS, "uploads logged");
    assert_eq!(
        entry_kinds(dir).get(&1).copied(),
        Some(UPLOADS as u64),
        "upload entries (each once)"
    );
    for (key, index) in &acked {
        assert_eq!(logged.get(key), Some(index), "{key:?} lost at the end");
    }
    // Later runs answer every upload as a duplicate.
    assert_eq!(
        summary(&ingest().stdout),
        (UPLOADS as u64, 0, UPLOADS as u64, 0)
    );
    let v = verify(dir).ok();
    assert!(
        v.stdout
            .starts_with(&format!("OK: {} entries", UPLOADS as u64 + registrations)),
        "{}",
        v.stdout
    );
}

#[test]
fn acknowledged_uploads_survive_sigkill() {
    sigkill_rounds(KILLS, None);
}

/// The same on PostgreSQL (a killed command's writer lease is taken over by the next, as its
/// process is gone); SKIPPED when PostgreSQL is unreachable outside CI.
#[test]
fn acknowledged_uploads_survive_sigkill_on_postgres() {
    let Some(url) = pg::url() else { return };
    sigkill_rounds(KILLS / 2, Some(&url));
}

fn sigkill_rounds(kills: usize, pg_url: Option<&str>) {
    let mut tally = Tally::default();
    let mut seed = 20_251_129;
    // Parks until there were enough kills (a park whose log is complete is finished and
    // replaced by a fresh one, so most kills land while batches are being appended).
    while tally.kills < kills {
        kill_rounds(seed, kills, &mut tally, pg_url);
        seed += 1;
        assert!(tally.rounds < 4 * kills, "too few runs could be killed");
    }
    println!(
        "{} SIGKILLs in {} rounds over {} parks ({} while appending), {} acknowledgements checked, 0 lost",
        tally.kills, tally.rounds, tally.parks, tally.kills_while_appending, tally.acks
    );
}
