//! README.md's "Using it", run as written: every fenced `sh` block of that section, in order,
//! one command at a time, in one `bash` (so `$TOKEN`, `$W1`, `$REPO` and `cd` carry over), each
//! required to exit 0. Then the figures it produced are checked: every report it wrote has
//! hourly figures (no `missing_factor`), the audit and the witnesses' cosignatures pass, and the
//! dashboard's JSON routes answer 200 with the README's token, inputs published. The inputs
//! example of docs/report.md is published and reported on in the same park.
//!
//! What the test changes in the README's commands, and only this:
//! - the `cargo build --release -p tanji-cli -p tanji-bench` line puts the binary under test
//!   first on PATH instead of building (bash starts in the repository root, as the README's
//!   reader does, and `TMPDIR` is this test's temporary directory, so the README's `mktemp -d`
//!   lands in it). The benches are the `tanji-bench` binary of another package, which Cargo
//!   gives this test no path to: it is taken from beside the binary under test
//!   (`target/<profile>/tanji-bench`), where `cargo test --workspace` builds it before any test
//!   runs; run alone (`cargo test -p tanji-cli --test readme`), build it first with
//!   `cargo build -p tanji-bench`, or the test stops and says so;
//! - each `127.0.0.1:PORT` is replaced by a free port (tests run side by side);
//! - a command ending in `&` (`tanji serve`, `tanji witness serve`) writes its output to a log
//!   of its own, and the next step starts once its `--listen` port accepts connections (a
//!   reader types the next command seconds later); all of them are stopped at the end;
//! - `tanji verify … --witnesses K-of-N` first waits until the server's `/checkpoint` carries K
//!   cosignatures (the server asks the witnesses as it starts, in the background);
//! - benches and the forecast backtest run at the tiny sizes of [`TINY`] (same code, smaller
//!   inputs); `tanji-bench report` needs Python's `duckdb` and says SKIPPED without it (under
//!   `CI=true` it must run).
//!
//! Needs `bash` and `curl` (the README uses curl too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{s, tanji, TANJI};

const README: &str = include_str!("../../../README.md");
const REPORT_DOC: &str = include_str!("../../../docs/report.md");
const EXAMPLE_INPUTS: &str = include_str!("../../../examples/e1-inputs.json");

/// Size flags for the long-running commands of the README (set or replaced): the same code on
/// inputs small enough for a test. Every `tanji-bench` command of the README must be listed.
const TINY: &[(&str, &[(&str, &str)])] = &[
    (
        "tanji-bench ingest",
        &[("--uploads", "200"), ("--devices", "4")],
    ),
    (
        "tanji-bench factors",
        &[("--regions", "3"), ("--hours", "48"), ("--rounds", "1")],
    ),
    (
        "tanji-bench report",
        &[("--enterprises", "1"), ("--days", "2"), ("--rounds", "1")],
    ),
    (
        "tanji-bench optimize",
        &[("--loads", "4"), ("--rounds", "1")],
    ),
    (
        "tanji-bench serve",
        &[
            ("--devices", "5"),
            ("--days", "2"),
            ("--rate", "200"),
            ("--readers", "1"),
        ],
    ),
    (
        "tanji forecast backtest",
        &[("--days", "3"), ("--enterprises", "2")],
    ),
];

/// The JSON routes the dashboard's pages fetch (web/views/*.js), for enterprise e-0001.
const DASHBOARD_ROUTES: &[&str] = &[
    "/api/v1/status",
    "/api/v1/factors",
    "/api/v1/factors/curve",
    "/api/v1/enterprises",
    "/api/v1/park/emissions",
    "/api/v1/park/indicators",
    "/api/v1/park/comparison",
    "/api/v1/park/issues",
    "/api/v1/park/anomalies",
    "/api/v1/enterprises/e-0001/loads",
    "/api/v1/enterprises/e-0001/emissions",
    "/api/v1/enterprises/e-0001/comparison",
    "/api/v1/enterprises/e-0001/indicators",
    "/api/v1/enterprises/e-0001/issues",
    "/api/v1/enterprises/e-0001/anomalies",
    "/api/v1/enterprises/e-0001/optimize",
];

/// The whole README run may take this long (it takes seconds; this bounds a hang).
const DEADLINE: Duration = Duration::from_secs(600);

/// The text of the section under `## {title}`, up to the next `## ` heading.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let head = format!("\n## {title}\n");
    let start = doc
        .find(&head)
        .unwrap_or_else(|| panic!("no '## {title}' section"))
        + head.len();
    let rest = &doc[start..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// The contents of the fenced blocks of `text` whose info string is `lang`.
fn fenced<'a>(text: &'a str, lang: &str) -> Vec<&'a str> {
    let open = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(a) = rest.find(&open) {
        let body = &rest[a + open.len()..];
        let b = body.find("```").expect("an unclosed code block");
        out.push(&body[..b]);
        rest = &body[b + 3..];
    }
    out
}

/// The part of a command before its comment (a `#` that starts a word, outside quotes).
fn code_part(cmd: &str) -> &str {
    let (mut single, mut double) = (false, false);
    let mut prev = ' ';
    for (i, c) in cmd.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return cmd[..i].trim_end(),
            _ => {}
        }
        prev = c;
    }
    cmd.trim_end()
}

/// The terminator of a here-document the command opens (`<<EOF`, `<<'EOF'`, `<<-EOF`).
fn heredoc_tag(cmd: &str) -> Option<String> {
    let at = code_part(cmd).find("<<")?;
    let tag: String = cmd[at + 2..]
        .trim_start_matches('-')
        .trim_start()
        .chars()
        .filter(|c| *c != '\'' && *c != '"')
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!tag.is_empty()).then_some(tag)
}

/// A block cut into commands: continuation lines (`\`) and here-documents stay with their
/// command; blank lines and comment lines are dropped.
fn commands(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = block.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let mut cmd = line.to_string();
        while cmd.ends_with('\\') {
            let next = lines
                .next()
                .expect("a continued line at the end of a block");
            cmd.push('\n');
            cmd.push_str(next);
        }
        if let Some(tag) = heredoc_tag(&cmd) {
            loop {
                let l = lines
                    .next()
                    .unwrap_or_else(|| panic!("here-document {tag} is not closed"));
                cmd.push('\n');
                cmd.push_str(l);
                if l.trim() == tag {
                    break;
                }
            }
        }
        out.push(cmd);
    }
    out
}

/// The value of `--flag V` in a command.
fn flag<'a>(cmd: &'a str, name: &str) -> Option<&'a str> {
    let mut words = code_part(cmd).split_whitespace();
    while let Some(w) = words.next() {
        if w == name {
            return words.next();
        }
    }
    None
}

/// `cmd` (its code part) with each of `flags` set to its value: replaced if present, appended
/// if not.
fn with_flags(cmd: &str, flags: &[(&str, &str)]) -> String {
    let mut words: Vec<String> = code_part(cmd)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    for (name, value) in flags {
        match words.iter().position(|w| w == name) {
            Some(i) if i + 1 < words.len() => words[i + 1] = (*value).to_string(),
            _ => words.extend([(*name).to_string(), (*value).to_string()]),
        }
    }
    words.join(" ")
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every `127.0.0.1:PORT` of `text` mapped to a free port.
fn port_map(text: &str) -> BTreeMap<String, u16> {
    let mut map = BTreeMap::new();
    for (at, _) in text.match_indices("127.0.0.1:") {
        let digits: String = text[at + 10..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() {
            map.entry(format!("127.0.0.1:{digits}"))
                .or_insert_with(free_port);
        }
    }
    map
}

fn python_has_duckdb() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One README command as the test runs it.
struct Step {
    /// As written in the README.
    readme: String,
    /// As run (see the crate doc for what may differ).
    run: String,
}

/// Bash functions the rewritten steps call.
const PRELUDE: &str = r#"set -o pipefail
trap 'kill $(jobs -p) 2>/dev/null' EXIT
wait_listening() {  # port pid log
  local deadline=$((SECONDS + 60))
  until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
    if ! kill -0 "$2" 2>/dev/null; then echo "background command exited; its output:"; cat "$3"; return 1; fi
    if [ "$SECONDS" -ge "$deadline" ]; then echo "nothing listens on port $1 after 60 s; output:"; cat "$3"; return 1; fi
    sleep 0.05
  done
}
wait_cosigned() {  # url count
  local deadline=$((SECONDS + 60)) n
  while :; do
    n=$(curl -fsS "$1/checkpoint" | grep -c '^— ')
    [ "${n:-0}" -gt "$2" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then echo "$1/checkpoint is not cosigned by $2 after 60 s:"; curl -sS "$1/checkpoint"; return 1; fi
    sleep 0.05
  done
}
"#;

/// README.md's "Using it" as steps to run; `state` holds the test's own files.
fn steps(state: &Path, ports: &BTreeMap<String, u16>) -> (Vec<Step>, Vec<String>) {
    let bin_dir = Path::new(TANJI).parent().unwrap();
    let mut skipped = Vec::new();
    let mut server: Option<u16> = None;
    let mut out = Vec::new();
    let mut seen_cd = false;
    let mut build_lines = 0;
    let blocks = fenced(section(README, "Using it"), "sh");
    assert!(!blocks.is_empty(), "README.md's 'Using it' has no sh block");
    for readme in blocks.into_iter().flat_map(commands) {
        let mut run = readme.clone();
        for (from, to) in ports {
            run = run.replace(from.as_str(), &format!("127.0.0.1:{to}"));
        }
        let code = code_part(&run).to_string();
        if let Some(rest) = code.strip_prefix("cargo build --release -p tanji-cli -p tanji-bench") {
            build_lines += 1;
            let bench = bin_dir.join("tanji-bench");
            assert!(
                bench.is_file(),
                "{} is missing: the README's benches run the tanji-bench binary from beside the tanji under test; `cargo test --workspace` builds it, or run `cargo build -p tanji-bench` (the same profile) before this test",
                bench.display()
            );
            let rest = rest.trim_start().trim_start_matches("&&").trim_start();
            assert!(
                rest.starts_with("export PATH="),
                "the build line should put target/release on PATH: {readme}"
            );
            run = format!("export PATH=\"{}:$PATH\"", bin_dir.display());
        } else if code.starts_with("tanji ") {
            assert!(
                seen_cd,
                "a tanji command before the README moves into its own directory: {readme}"
            );
        }
        if code.split_whitespace().any(|w| w == "cd") {
            seen_cd = true;
        }
        if code.starts_with("tanji-bench ") || code.starts_with("tanji forecast backtest") {
            let (_, flags) = TINY
                .iter()
                .find(|(prefix, _)| code.starts_with(prefix))
                .unwrap_or_else(|| panic!("no tiny size in TINY for the README's {code:?}"));
            run = with_flags(&code, flags);
            if code.starts_with("tanji-bench report") && !python_has_duckdb() {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but python3 cannot import duckdb for `tanji-bench report`"
                );
                eprintln!("SKIPPED: {code} (python3 cannot import duckdb)");
                skipped.push(code.clone());
                run = ":".into();
            }
        }
        if code.contains("--witnesses") && code.starts_with("tanji verify") {
            let port = server.expect("a witnesses check before `tanji serve` started");
            let k = flag(&code, "--witnesses")
                .and_then(|q| q.split("-of-").next())
                .expect("--witnesses K-of-N");
            run = format!("wait_cosigned http://127.0.0.1:{port} {k} && {run}");
        }
        if let Some(cmd) = code.strip_suffix('&').filter(|c| !c.ends_with('&')) {
            let listen = flag(cmd, "--listen")
                .unwrap_or_else(|| panic!("a background command without --listen: {readme}"));
            let port: u16 = listen.rsplit(':').next().unwrap().parse().unwrap();
            if cmd.starts_with("tanji serve") {
                server = Some(port);
            }
            let log = state.join(format!("background-{}.log", out.len()));
            run = format!(
                "{cmd} > '{log}' 2>&1 &\npid=$!; echo $pid >> '{pids}'; wait_listening {port} $pid '{log}'",
                log = log.display(),
                pids = state.join("pids").display()
            );
        }
        out.push(Step { readme, run });
    }
    assert_eq!(
        build_lines, 1,
        "README.md's 'Using it' should build the release binary once"
    );
    (out, skipped)
}

/// Kills the background servers the README started, whatever happens to the test.
struct Background(PathBuf);

impl Drop for Background {
    fn drop(&mut self) {
        for pid in std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .split_whitespace()
        {
            let _ = Command::new("kill")
                .args(["-KILL", pid])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The script's output of step `i` (between its marker and the next).
fn step_output(log: &str, i: usize) -> &str {
    let mark = format!("::: step {i}\n");
    let start = log.find(&mark).map_or(log.len(), |a| a + mark.len());
    let rest = &log[start..];
    &rest[..rest.find("::: ").unwrap_or(rest.len())]
}

/// The last lines of each background command's output, for a failure message.
fn background_logs(state: &Path) -> String {
    let mut out = String::new();
    let mut logs: Vec<PathBuf> = std::fs::read_dir(state)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("background-"))
        })
        .collect();
    logs.sort();
    for p in logs {
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(20)..];
        let _ = write!(out, "\n--- {}\n{}", p.display(), tail.join("\n"));
    }
    out
}

fn find_step(steps: &[Step], prefix: &str) -> usize {
    steps
        .iter()
        .position(|s| code_part(&s.readme).starts_with(prefix))
        .unwrap_or_else(|| panic!("README.md's 'Using it' has no `{prefix}` step"))
}

/// The first day (Unix seconds) and day count of the README's `tanji simulate`.
fn simulated_period(steps: &[Step]) -> (i64, i64) {
    let sim = &steps[find_step(steps, "tanji simulate")].readme;
    let start = flag(sim, "--start").expect("the README's simulate names --start");
    let days: i64 = flag(sim, "--days")
        .expect("the README's simulate names --days")
        .parse()
        .unwrap();
    let d = time::Date::parse(
        start,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    (d.midnight().assume_utc().unix_timestamp(), days)
}

#[test]
fn the_readme_using_it_section_runs_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("test-state");
    std::fs::create_dir(&state).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = repo.canonicalize().unwrap();
    let benchmarks_before = std::fs::read_to_string(repo.join("docs/benchmarks.md")).unwrap();

    let ports = port_map(section(README, "Using it"));
    let (steps, skipped) = steps(&state, &ports);
    let serve_port = ports
        .get("127.0.0.1:8080")
        .expect("the README serves on 127.0.0.1:8080");

    let mut script = String::from(PRELUDE);
    for (i, step) in steps.iter().enumerate() {
        writeln!(script, "echo '::: step {i}'").unwrap();
        writeln!(script, "{}", step.run).unwrap();
        writeln!(
            script,
            "rc=$?; if [ $rc -ne 0 ]; then echo \"::: step {i} exited $rc\"; exit 100; fi"
        )
        .unwrap();
    }
    // With the servers still up: where the README worked, its token, the dashboard's routes.
    let st = state.display();
    writeln!(script, "echo '::: epilogue'").unwrap();
    writeln!(
        script,
        "pwd > '{st}/workdir'; printf '%s' \"$TOKEN\" > '{st}/token'"
    )
    .unwrap();
    for route in DASHBOARD_ROUTES {
        writeln!(
            script,
            "printf '%s %s\\n' '{route}' \"$(curl -s -o /dev/null -w '%{{http_code}}' -H \"Authorization: Bearer $TOKEN\" 'http://127.0.0.1:{serve_port}{route}')\" >> '{st}/routes'"
        )
        .unwrap();
    }
    writeln!(script, "kill $(jobs -p) 2>/dev/null; wait; exit 0").unwrap();
    std::fs::write(state.join("readme.sh"), &script).unwrap();

    let log_path = state.join("readme.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let _background = Background(state.join("pids"));
    let mut child: Child = Command::new("bash")
        .arg(state.join("readme.sh"))
        .current_dir(&repo)
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .env_remove("TANJI_LOG")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("running bash");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&log_path).unwrap();
    if !status.success() {
        let last = log
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("::: step "))
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok());
        panic!(
            "README.md's 'Using it' failed ({status}, after {:?}) at:\n  {}\nas run:\n  {}\n--- its output\n{}{}",
            started.elapsed(),
            last.map_or("(before the first step)", |i| steps[i].readme.as_str()),
            last.map_or("", |i| steps[i].run.as_str()),
            last.map_or(log.as_str(), |i| step_output(&log, i)),
            background_logs(&state)
        );
    }
    // The servers' own output, for a route that did not answer 200.
    let servers = background_logs(&state);

    let workdir = PathBuf::from(
        std::fs::read_to_string(state.join("workdir"))
            .unwrap()
            .trim(),
    );
    assert!(
        workdir.starts_with(tmp.path()) && workdir != repo,
        "the README must work in a new directory, not in {}",
        workdir.display()
    );

    // Every report the README wrote has hourly figures: no interval fell back to the fixed
    // factor for want of an hourly one.
    let mut reports = 0;
    for entry in std::fs::read_dir(&workdir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if v["format"] != "tanji-report/v1" {
            continue;
        }
        reports += 1;
        assert!(
            !text.contains("missing_factor"),
            "{} has intervals without an hourly factor",
            path.display()
        );
        let mut coverage = Vec::new();
        values_named(&v, "factor_coverage", &mut coverage);
        for c in coverage {
            assert!(
                c["complete"] == true && c["intervals_without_factor"] == 0,
                "{}: the factor series does not cover the period: {c}",
                path.display()
            );
        }
        let issues = v["issues"].as_array().unwrap();
        assert!(
            !issues.iter().any(|i| i["kind"] == "factor_coverage"),
            "{}: {issues:?}",
            path.display()
        );
        let figures = &v["reports"][0]["figures"];
        assert!(
            figures["scope2_location"]["total_g"].as_i64().unwrap() > 0,
            "{}: no location-based emissions",
            path.display()
        );
        assert_eq!(
            figures["comparison"]["by_hour"].as_array().map(Vec::len),
            Some(24),
            "{}: no hour-of-day comparison",
            path.display()
        );
    }
    assert!(
        reports >= 3,
        "only {reports} JSON report(s) in {}",
        workdir.display()
    );
    let csv = std::fs::read_to_string(workdir.join("park.csv")).unwrap();
    assert!(csv.starts_with("path,value,unit\n") && !csv.contains("missing_factor"));

    // The audit and the witnesses said yes.
    let audit = step_output(&log, find_step(&steps, "tanji audit"));
    assert!(audit.contains("audit OK"), "{audit}");
    let witnessed = step_output(
        &log,
        steps
            .iter()
            .position(|s| s.readme.contains("--witnesses 2-of-2"))
            .expect("a 2-of-2 witness check"),
    );
    assert!(
        witnessed.contains("is cosigned by 2 of 2 witnesses"),
        "{witnessed}"
    );

    // The dashboard's JSON routes answer 200 with the README's token, inputs published.
    let token = std::fs::read_to_string(state.join("token")).unwrap();
    assert!(token.starts_with("tanji_"), "no token in $TOKEN: {token:?}");
    let routes = std::fs::read_to_string(state.join("routes")).unwrap();
    let failed: Vec<&str> = routes.lines().filter(|l| !l.ends_with(" 200")).collect();
    assert!(
        failed.is_empty(),
        "dashboard routes not answering 200 (route status):\n{}{servers}",
        failed.join("\n")
    );
    assert_eq!(routes.lines().count(), DASHBOARD_ROUTES.len());

    // The benches recorded their tables here, not in the repository's docs/benchmarks.md.
    let recorded = std::fs::read_to_string(workdir.join("benchmarks.md")).unwrap();
    for name in ["ingest", "factors", "report", "optimize", "serve"] {
        let mark = format!("<!-- bench:{name}:start -->");
        let ran = !skipped
            .iter()
            .any(|c| c.starts_with(&format!("tanji-bench {name}")));
        assert_eq!(recorded.contains(&mark), ran, "bench {name} in\n{recorded}");
    }
    assert_eq!(
        std::fs::read_to_string(repo.join("docs/benchmarks.md")).unwrap(),
        benchmarks_before,
        "the README's benches rewrote the repository's docs/benchmarks.md"
    );

    report_doc_inputs_example_publishes(&workdir.join("park"), simulated_period(&steps));
}

/// docs/report.md's inputs example is JSON as shown (no comments), is the shipped
/// examples/e1-inputs.json, names times inside the README's simulated period, and publishes
/// and reports in the README's park.
fn report_doc_inputs_example_publishes(park: &Path, (start, days): (i64, i64)) {
    let blocks = fenced(
        section(
            REPORT_DOC,
            "Enterprise inputs: instruments, output, production records",
        ),
        "json",
    );
    assert_eq!(blocks.len(), 1, "one inputs example in docs/report.md");
    let shown: serde_json::Value = serde_json::from_str(blocks[0])
        .unwrap_or_else(|e| panic!("docs/report.md's inputs example is not JSON: {e}"));
    let shipped: serde_json::Value = serde_json::from_str(EXAMPLE_INPUTS).unwrap();
    assert_eq!(
        shown, shipped,
        "docs/report.md shows examples/e1-inputs.json"
    );

    // Every instant it names is inside the simulated period (a validity may run past it).
    let end = start + days * 86_400;
    let mut instants = Vec::new();
    collect_instants(&shown, "", &mut instants);
    assert!(!instants.is_empty());
    for (path, t) in &instants {
        let inside = (start..=end).contains(t) || (path.ends_with("valid_until") && *t > start);
        assert!(inside, "{path} = {t} is outside [{start}, {end}]");
    }

    let file = park.parent().unwrap().join("docs-report-inputs.json");
    std::fs::write(&file, blocks[0]).unwrap();
    let d = s(park);
    let published = tanji([
        "inputs",
        "publish",
        "--dir",
        d,
        "--name",
        "docs-example",
        s(&file),
    ])
    .ok()
    .stdout;
    // The same bytes as the README's publication of examples/e1-inputs.json: the log holds
    // them once, and `publish` names that publication.
    let id = published
        .strip_prefix("published ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no publication id in {published:?}"));
    let out = park.parent().unwrap().join("docs-example-report.json");
    tanji([
        "report",
        "--dir",
        d,
        "--enterprise",
        "e-0001",
        "--inputs",
        id,
        "--out",
        s(&out),
    ])
    .ok();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("missing_factor"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let f = &v["reports"][0]["figures"];
    // Market-based without double counting: the 7 MWh of certificates and purchase count at
    // zero, and only the import they leave uncovered at the default residual (China's average
    // excluding market-traded non-fossil power), so the figure is that import × residual.
    let m = &f["scope2_market"];
    let import = f["scope2_location"]["import_wh"].as_i64().unwrap();
    let applied = m["applied_wh"].as_i64().unwrap();
    let uncovered = m["uncovered_import_wh"].as_i64().unwrap();
    let residual = m["residual_factor"]["value"].as_f64().unwrap();
    assert_eq!(m["residual"], "china_excluding_traded", "{f}");
    assert_eq!(
        applied, 7_000_000,
        "the example's 5 MWh certificate and 2 MWh purchase: {f}"
    );
    assert_eq!(uncovered, import - applied, "{f}");
    let expected = uncovered as f64 * residual / 1000.0;
    let market = m["electricity_g"].as_i64().unwrap() as f64;
    assert!(
        (market - expected).abs() <= 1.0,
        "market-based electricity is the uncovered import at the residual: {market} g against {expected} g: {f}"
    );
    assert_eq!(
        v["reports"][0]["products"]["products"][0]["product"],
        shown["enterprises"]["e-0001"]["products"]["production"][0]["product"]
    );
    tanji(["audit", s(&out), "--dir", d]).ok();
}

/// Every value of a field named `name`, at any depth.
fn values_named<'a>(v: &'a serde_json::Value, name: &str, out: &mut Vec<&'a serde_json::Value>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                if k == name {
                    out.push(x);
                }
                values_named(x, name, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| values_named(x, name, out)),
        _ => {}
    }
}

/// Every integer field whose name says it is an instant, with its JSON path.
fn collect_instants(v: &serde_json::Value, path: &str, out: &mut Vec<(String, i64)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{path}.{k}");
                let instant = ["start", "end", "_from", "_until"]
                    .iter()
                    .any(|s| k.ends_with(s));
                match x.as_i64() {
                    Some(t) if instant => out.push((p, t)),
                    _ => collect_instants(x, &p, out),
                }
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                collect_instants(x, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn commands_keep_continuations_and_here_documents() {
    let block = "# a comment\na \\\n  b   # tail\n\ncat > f <<'EOF'\nx # not a comment\nEOF\nc &\n";
    assert_eq!(
        commands(block),
        [
            "a \\\n  b   # tail",
            "cat > f <<'EOF'\nx # not a comment\nEOF",
            "c &"
        ]
    );
    assert_eq!(code_part("tanji x \"#no\" # yes"), "tanji x \"#no\"");
    assert_eq!(
        with_flags(
            "tanji-bench factors --write b.md  # c",
            &[("--rounds", "1"), ("--write", "x.md")]
        ),
        "tanji-bench factors --write x.md --rounds 1"
    );
}
