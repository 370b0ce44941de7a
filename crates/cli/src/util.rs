//! Small pieces the commands share: time, progress bars, opening a park.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tanji_park::{Clock as _, Park, SystemClock};
use tanji_units::time::{self, DAY_S};

/// Now, Unix seconds UTC.
pub fn now() -> i64 {
    SystemClock.now_s()
}

/// Parses `YYYY-MM-DD` as the UTC midnight starting that day.
pub fn parse_day(s: &str) -> Result<i64> {
    let day = time::parse_date(s)
        .map_err(|e| anyhow!(e.reason))
        .with_context(|| {
            format!("date {s:?}: expected YYYY-MM-DD with two-digit month and day, e.g. 2026-11-01")
        })?;
    Ok(day * DAY_S)
}

/// A period `[start, end)` given as RFC 3339 instants, as a user reads it: `2026-11-01 to
/// 2026-11-30` when both are UTC midnights (the end day included), else the instants.
pub fn period_dates(start: &str, end: &str) -> String {
    match (parse_instant(start), parse_instant(end)) {
        (Ok(s), Ok(e)) if s % DAY_S == 0 && e % DAY_S == 0 && e > s => {
            let day = |t: i64| time::civil_from_days(t.div_euclid(DAY_S));
            format!("{} to {} (UTC)", day(s), day(e - DAY_S))
        }
        _ => format!("{start} to {end}"),
    }
}

/// Parses an RFC 3339 instant.
pub fn parse_instant(s: &str) -> Result<i64> {
    time::parse_rfc3339(s)
        .map_err(|e| match e {
            time::InstantError::NotRfc3339 { reason, .. } => anyhow!(reason),
            e @ time::InstantError::Fractional { .. } => anyhow!(e),
        })
        .with_context(|| format!("time {s:?}: expected RFC 3339, e.g. 2026-11-01T00:00:00Z"))
}

/// Checks that `value` (of option `option`) is a listen address, `HOST:PORT`.
pub fn check_listen(option: &str, value: &str) -> Result<()> {
    let ok = value
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !ok {
        anyhow::bail!(
            "{option} {value:?}: expected HOST:PORT, e.g. 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every interface)"
        );
    }
    Ok(())
}

/// Checks that `value` (of option `option`) is a listen address nothing else listens on, so
/// that a command that serves at its end fails before its work, not after.
pub fn check_port_free(option: &str, value: &str) -> Result<()> {
    check_listen(option, value)?;
    std::net::TcpListener::bind(value).map(drop).map_err(|e| {
        let (host, port) = value.rsplit_once(':').unwrap_or((value, "8080"));
        let next = port.parse::<u16>().map_or(8081, |p| p.saturating_add(1));
        anyhow::anyhow!(
            "{option} {value}: cannot listen there ({e}); is another server running on it? choose another address, e.g. {option} {host}:{next}"
        )
    })
}

/// How to run this binary again, for the commands printed as hints: `tanji` when the `tanji`
/// on PATH is this binary, else this binary's path (as after `cargo run`).
pub fn invocation() -> String {
    let Ok(exe) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "tanji".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths)
            .any(|d| std::fs::canonicalize(d.join("tanji")).is_ok_and(|p| p == exe))
    });
    if on_path {
        return "tanji".into();
    }
    let shown = exe.display().to_string();
    if shown.contains([' ', '\'', '"']) {
        format!("'{}'", shown.replace('\'', "'\\''"))
    } else {
        shown
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {percent:>3}% {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A progress bar counting bytes.
pub fn byte_bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_prefix(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Opens the park in `dir` for writing, with the path in the error. It takes the park's
/// writer lock, so it fails at once, naming the holder, while another process (a running
/// `tanji serve`) writes to the park: only commands that log entries open a park this way.
pub fn open(dir: &Path) -> Result<Park> {
    Park::open(dir).with_context(|| format!("opening the park in {} for writing", dir.display()))
}

/// Opens the park in `dir` to read only (no writer lock), with the path in the error: what
/// every command that logs nothing uses, so that it works while a server runs.
pub fn open_read(dir: &Path) -> Result<Park> {
    Park::open_read(dir).with_context(|| format!("opening the park in {}", dir.display()))
}

/// `tanji init`.
pub fn init(dir: &Path, name: &str, origin: Option<&str>, store: Option<&str>) -> Result<ExitCode> {
    let park = Park::create_on(dir, name, origin, store)
        .with_context(|| format!("creating a park in {}", dir.display()))?;
    println!("created park {name} in {}", dir.display());
    if let Ok(at @ tanji_store::StoreAt::Postgres { .. }) = tanji_park::store_at(dir) {
        println!("store:       {at}");
    }
    println!("log origin:  {}", park.origin());
    println!("log key:     {}", park.verifier());
    println!(
        "secret key:  {} (keep it private; it signs the log's checkpoints)",
        dir.join(tanji_park::KEY_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tanji quarantine`: the park's quarantine listing ([`Park::quarantine_listing`]).
pub fn quarantine(dir: &Path, limit: usize) -> Result<ExitCode> {
    print!("{}", open(dir)?.quarantine_listing(limit)?);
    Ok(ExitCode::SUCCESS)
}
