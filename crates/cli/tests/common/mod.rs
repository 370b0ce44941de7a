//! Helpers shared by the `tanji` integration tests: run the real binary, build small parks.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod net;
pub mod pg;

/// The `tanji` binary under test.
pub const TANJI: &str = env!("CARGO_BIN_EXE_tanji");

/// A finished `tanji` run.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit status is `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "tanji {} exited {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics with the whole output unless the run succeeded.
    pub fn ok(self) -> Self {
        self.expect_code(0)
    }
}

/// A `tanji` command with a quiet log and no inherited log filter.
pub fn command<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut c = Command::new(TANJI);
    c.args(args).env_remove("TANJI_LOG");
    c
}

/// Runs `tanji args…` to completion.
pub fn tanji<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let out: Output = command(&args).output().expect("running tanji");
    Run {
        args: args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `p` as a `&str` (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 test path")
}

/// A park with simulated devices: `dir` holds the park, `sim` the simulator's output.
pub struct SimPark {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub sim: PathBuf,
    pub uploads: PathBuf,
}

/// The first simulated day: far enough back that no simulated interval is in the future.
pub const SIM_START: &str = "2025-01-06";

/// `tanji init` + `tanji simulate --dir` (registers the devices); uploads not yet ingested.
pub fn sim_park(enterprises: usize, days: u32, seed: u64) -> SimPark {
    sim_park_on(None, enterprises, days, seed)
}

/// [`sim_park`] with the data in PostgreSQL (`tanji init --store URL`) when `store` is given.
pub fn sim_park_on(store: Option<&str>, enterprises: usize, days: u32, seed: u64) -> SimPark {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("park");
    let sim = tmp.path().join("sim");
    let mut init = vec!["init", "--dir", s(&dir), "--park", "test-park"];
    if let Some(url) = store {
        init.extend(["--store", url]);
    }
    tanji(init).ok();
    let uploads = simulate(&dir, &sim, enterprises, days, seed, SIM_START);
    SimPark {
        tmp,
        dir,
        sim,
        uploads,
    }
}

/// `tanji simulate --dir dir --out out` from local day `start` (registers the devices in
/// `dir`); returns the uploads file, not yet ingested.
pub fn simulate(
    dir: &Path,
    out: &Path,
    enterprises: usize,
    days: u32,
    seed: u64,
    start: &str,
) -> PathBuf {
    tanji([
        "simulate",
        "--out",
        s(out),
        "--dir",
        s(dir),
        "--enterprises",
        &enterprises.to_string(),
        "--days",
        &days.to_string(),
        "--seed",
        &seed.to_string(),
        "--start",
        start,
    ])
    .ok();
    out.join("uploads.jsonl")
}

/// `tanji verify --dir dir`.
pub fn verify(dir: &Path) -> Run {
    tanji(["verify", "--dir", s(dir)])
}

/// The text after "First: " in a failed verify's stdout.
pub fn first_problem(run: &Run) -> &str {
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("FAILED: "))
        .unwrap_or_else(|| panic!("no FAILED line in\n{}", run.stdout));
    let at = line
        .find("First: ")
        .unwrap_or_else(|| panic!("no 'First:' in {line:?}"));
    &line[at + "First: ".len()..]
}

/// A small deterministic generator (SplitMix64) for shuffles and kill points.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// `text` with each hash, key or signature (a run of 32 or more base64 or hex characters, or
/// of 16 or more hex digits as in a shortened `0e0ce0c7fedf0cfa…`, with a digit and a letter)
/// replaced by a placeholder numbered in order of first appearance, so a snapshot does not
/// depend on freshly generated keys while equal values stay visibly equal.
pub fn redact_hashes(text: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let mut flush = |token: &mut String, out: &mut String| {
        let long = token.len() >= 32
            || (token.len() >= 16 && token.chars().all(|c| c.is_ascii_hexdigit()));
        let hashlike = long
            && token.chars().any(|c| c.is_ascii_digit())
            && token.chars().any(|c| c.is_ascii_alphabetic());
        if hashlike {
            let n = seen.iter().position(|t| t == token).unwrap_or_else(|| {
                seen.push(token.clone());
                seen.len() - 1
            });
            out.push_str(&format!("[hash {}]", n + 1));
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "+/=".contains(c) {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// The upload index of the park's store (SQLite or PostgreSQL): (device, seq) -> leaf index.
pub fn logged_uploads(dir: &Path) -> std::collections::HashMap<(String, u64), u64> {
    use tanji_store::Store as _;
    let store = tanji_park::Park::open_store(dir).unwrap();
    store
        .uploads()
        .unwrap()
        .into_iter()
        .map(|u| ((u.row.device, u.row.seq), u.index))
        .collect()
}

/// Entry count by kind (1 = upload, 2 = registration) in the park's store.
pub fn entry_kinds(dir: &Path) -> std::collections::BTreeMap<i64, u64> {
    use tanji_store::Store as _;
    let store = tanji_park::Park::open_store(dir).unwrap();
    (0..=u8::MAX)
        .filter_map(|k| {
            let n = store.entries_of_kind(k).unwrap().len() as u64;
            (n > 0).then_some((i64::from(k), n))
        })
        .collect()
}
