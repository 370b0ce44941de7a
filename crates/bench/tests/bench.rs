//! `tanji-bench … --write FILE`: FILE is checked before anything is measured, and only the
//! bench's own section of it is replaced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

/// A finished `tanji-bench` run.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit status is `code`.
    fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "tanji-bench {} exited {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    fn ok(self) -> Self {
        self.expect_code(0)
    }
}

/// Runs `tanji-bench args…` to completion, with no inherited log filter.
fn bench<const N: usize>(args: [&str; N]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tanji-bench"))
        .args(args)
        .env_remove("TANJI_LOG")
        .output()
        .expect("running tanji-bench");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `p` as a `&str` (test paths are UTF-8).
fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 test path")
}

#[test]
fn bench_write_into_a_missing_directory_fails_before_measuring() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("no-such-dir").join("benchmarks.md");
    let run = bench([
        "ingest",
        "--uploads",
        "20",
        "--devices",
        "2",
        "--write",
        s(&file),
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("does not exist") && run.stderr.contains("nothing was measured"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "measured anyway:\n{}", run.stdout);
    assert!(!file.exists());

    // A directory is not a file to write a table into.
    let run = bench([
        "optimize",
        "--loads",
        "2",
        "--rounds",
        "1",
        "--write",
        s(tmp.path()),
    ])
    .expect_code(2);
    assert!(
        run.stderr.contains("is not a regular file"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn bench_write_replaces_only_its_own_section() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("benchmarks.md");
    let before = "# Benchmarks\n\nkept\n\n<!-- bench:optimize:start -->\nold table\n<!-- bench:optimize:end -->\n\nalso kept\n";
    std::fs::write(&file, before).unwrap();
    let run = bench([
        "optimize",
        "--loads",
        "3",
        "--rounds",
        "1",
        "--write",
        s(&file),
    ])
    .ok();
    assert!(run.stdout.contains("recorded in"), "{}", run.stdout);
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.starts_with("# Benchmarks\n\nkept\n\n<!-- bench:optimize:start -->\n"),
        "{after}"
    );
    assert!(
        after.ends_with("<!-- bench:optimize:end -->\n\nalso kept\n"),
        "{after}"
    );
    assert!(!after.contains("old table"), "{after}");
    assert!(after.contains("3 flexible loads"), "{after}");

    // A new file in an existing directory is created with the section.
    let new = tmp.path().join("new.md");
    bench([
        "factors",
        "--regions",
        "2",
        "--hours",
        "24",
        "--rounds",
        "1",
        "--write",
        s(&new),
    ])
    .ok();
    let text = std::fs::read_to_string(&new).unwrap();
    assert!(
        text.contains("<!-- bench:factors:start -->") && text.contains("2 regions × 24 hours"),
        "{text}"
    );
}
