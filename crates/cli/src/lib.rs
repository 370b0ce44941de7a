//! The `tanji` binary's commands that are also a library: the park set-up steps
//! `tanji-bench` builds its parks with — [`simulate`] (devices and their uploads), [`ingest`],
//! [`factors`] (the Fujian-like grid series and its publication), [`report`] (opening a store,
//! the report and audit commands), [`record`] (a measured table into its section of
//! `docs/benchmarks.md`) — and [`util`], what every command shares. The other
//! commands are modules of the binary.
//!
//! What it is not: an API for other programs. Its functions return `anyhow` errors worded for
//! the command line; libraries with typed errors are the crates below it.
// Its items are the commands' own, documented for the command line (clap help) rather than as an API.
#![allow(missing_docs)]

pub mod factors;
pub mod ingest;
pub mod record;
pub mod report;
pub mod simulate;
pub mod util;

/// `tanji … | head` closes stdout early; print! then panics with "Broken pipe". Exit quietly
/// with the shell's SIGPIPE status instead of printing a panic.
pub fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// An error and its causes on one line, `outer: inner: …`, each text once: a cause whose text
/// the line already ends with (an error that prints its source and also returns it as its
/// source, as `std::io::Error` wrappers and `time`'s parse errors do) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) || text.contains(&format!("{part}: ")) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
