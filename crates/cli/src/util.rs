//! Small pieces the commands share: time, progress bars, opening a park.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use tanji_park::Park;

/// Now, Unix seconds UTC.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{t}"))
}

/// Parses `YYYY-MM-DD` as the UTC midnight starting that day.
pub fn parse_day(s: &str) -> Result<i64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d =
        time::Date::parse(s, &fmt).with_context(|| format!("date {s:?}: expected YYYY-MM-DD"))?;
    Ok(d.midnight().assume_utc().unix_timestamp())
}

/// Parses an RFC 3339 instant.
pub fn parse_instant(s: &str) -> Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("time {s:?}: expected RFC 3339, e.g. 2026-11-01T00:00:00Z"))?;
    Ok(t.unix_timestamp())
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

/// Opens the park in `dir`, with the path in the error.
pub fn open(dir: &Path) -> Result<Park> {
    Park::open(dir).with_context(|| format!("opening the park in {}", dir.display()))
}

/// `tanji init`.
pub fn init(dir: &Path, name: &str, origin: Option<&str>) -> Result<ExitCode> {
    let park = Park::create(dir, name, origin)
        .with_context(|| format!("creating a park in {}", dir.display()))?;
    println!("created park {name} in {}", dir.display());
    println!("log origin:  {}", park.origin());
    println!("log key:     {}", park.verifier());
    println!(
        "secret key:  {} (keep it private; it signs the log's checkpoints)",
        dir.join(tanji_park::KEY_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tanji quarantine`.
pub fn quarantine(dir: &Path, limit: usize) -> Result<ExitCode> {
    let park = open(dir)?;
    let items = tanji_store::Store::quarantined(park.store())?;
    println!("{} rejected upload(s) in quarantine", items.len());
    let skip = items.len().saturating_sub(limit);
    for q in items.iter().skip(skip) {
        println!(
            "{}  {}  {}  {}",
            rfc3339(q.received_at),
            q.source,
            q.code,
            q.message
        );
    }
    Ok(ExitCode::SUCCESS)
}
