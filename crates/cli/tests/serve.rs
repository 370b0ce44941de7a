//! `tanji serve` as a process: it prints where it listens, acknowledges uploads over HTTP,
//! stops cleanly on SIGINT and on SIGTERM (exit 0) with the uploads on disk; `tanji token new` prints a token and the
//! config lines holding its SHA-256, or appends them to a config with `--config`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use common::{command, s, sim_park, tanji};
use sha2::{Digest, Sha256};

/// One HTTP/1.1 request over a fresh connection; the whole response as text.
fn http(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut c = TcpStream::connect(addr).unwrap();
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

/// Serves a park, uploads two records over HTTP, sends `signal` (`INT`, `TERM`) and requires a
/// clean exit (status 0) with both acknowledged uploads in a log that verifies.
fn serve_upload_then_stop_on(signal: &str) {
    let park = sim_park(2, 2, 5);
    let uploads: Vec<String> = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .take(2)
        .map(str::to_string)
        .collect();
    let mut child = command([
        "serve",
        "--dir",
        s(&park.dir),
        "--listen",
        "127.0.0.1:0",
        "--window-ms",
        "20",
    ])
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "tanji serve exited early"
        );
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(line.contains("Ctrl-C or SIGTERM stops"), "{line}");
    for upload in &uploads {
        let res = http(&addr, "POST", "/api/v1/uploads", upload);
        assert!(res.starts_with("HTTP/1.1 200"), "{res}");
        assert!(res.contains(r#"{"status":"accepted","index":"#), "{res}");
    }
    let res = http(&addr, "GET", "/checkpoint", "");
    assert!(res.contains("tanji/test-park"), "{res}");

    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "SIG{signal}: {exit:?}\n{rest}");
    assert!(rest.contains(&format!("(SIG{signal}): stopping")), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    // The acknowledged uploads are in the log, and the log audits clean.
    let out = tanji(["verify", "--dir", s(&park.dir)]).ok().stdout;
    assert!(out.contains("2 uploads"), "{out}");
}

#[test]
fn serve_acknowledges_an_upload_and_stops_cleanly_on_sigint() {
    serve_upload_then_stop_on("INT");
}

#[test]
fn serve_drains_and_exits_cleanly_on_sigterm() {
    serve_upload_then_stop_on("TERM");
}

#[test]
fn token_new_prints_a_token_and_its_config_lines() {
    let out = tanji([
        "token",
        "new",
        "--role",
        "enterprise:e-0002",
        "--name",
        "energy office",
    ])
    .ok()
    .stdout;
    let token = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("tanji_"))
        .unwrap();
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    assert!(out.contains(&format!("sha256 = \"{hash}\"")), "{out}");
    assert!(out.contains("role = \"enterprise:e-0002\""), "{out}");
    assert!(out.contains("name = \"energy office\""), "{out}");
    let bad = tanji(["token", "new", "--role", "root"]).expect_code(2);
    assert!(
        bad.stderr.contains("operator, auditor or enterprise:<id>"),
        "{}",
        bad.stderr
    );
}

#[test]
fn token_new_with_config_appends_its_lines_and_prints_only_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("tanji.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:9000\"\n").unwrap();
    let mut tokens = Vec::new();
    for role in ["operator", "enterprise:e-0001"] {
        let out = tanji(["token", "new", "--role", role, "--config", s(&config)])
            .ok()
            .stdout;
        let token = out.trim().to_string();
        assert!(
            token.starts_with("tanji_") && !token.contains('\n'),
            "{out}"
        );
        tokens.push(token);
    }
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.starts_with("listen = \"127.0.0.1:9000\"\n\n[[tokens]]\n"),
        "{text}"
    );
    for (token, role) in tokens.iter().zip(["operator", "enterprise:e-0001"]) {
        let hash = hex::encode(Sha256::digest(token.as_bytes()));
        assert!(
            text.contains(&format!("sha256 = \"{hash}\"\nrole = \"{role}\"\n")),
            "{text}"
        );
        assert!(
            !text.contains(token.as_str()),
            "the token itself is not stored"
        );
    }
    assert_eq!(text.matches("[[tokens]]").count(), 2, "{text}");

    // A config that would not parse is left alone.
    std::fs::write(&config, "listen = [\n").unwrap();
    let bad = tanji(["token", "new", "--role", "operator", "--config", s(&config)]).expect_code(2);
    assert!(bad.stdout.is_empty(), "{}", bad.stdout);
    assert!(bad.stderr.contains("nothing was written"), "{}", bad.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "listen = [\n");
}
