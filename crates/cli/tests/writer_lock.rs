//! One writer per park: while `tanji serve` holds a park, every command that writes to it
//! refuses at once, naming the park and the holder, and the server's uploads keep working
//! (before the lock, a CLI write under a running server broke every later upload until the
//! server restarted); read-only commands keep working; a holder killed with SIGKILL leaves no
//! lock behind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};

use common::{command, s, sim_park, tanji, Run};

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

/// `tanji serve` on the park in `dir` and port 0; returns the child, its stderr and the
/// address it listens on (printed once the park is open, so its lock is held).
fn serve(dir: &Path) -> (Child, BufReader<ChildStderr>, String) {
    let mut child = command([
        "serve",
        "--dir",
        s(dir),
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
    (child, stderr, addr)
}

const KEY: &str = "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

/// `tanji device register` of a new device and meter of enterprise e-0001.
fn register(dir: &Path, device: &str) -> Run {
    tanji([
        "device",
        "register",
        "--dir",
        s(dir),
        "--device",
        device,
        "--public-key",
        KEY,
        "--enterprise",
        "e-0001",
        "--meter",
        &format!("{device}-grid"),
        "--rated-kw",
        "100",
    ])
}

/// The refusal names the park directory, the lock file and the holder (pid and command).
fn assert_refused_by(run: &Run, dir: &Path, holder: u32) {
    assert_ne!(run.code, Some(0), "{run:?}");
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains(s(dir)), "{text}");
    assert!(text.contains("writer.lock"), "{text}");
    assert!(text.contains(&format!("pid {holder}")), "{text}");
    assert!(text.contains("serve"), "{text}");
    assert!(text.contains("POST /api/v1/devices"), "{text}");
}

#[test]
fn cli_write_refuses_while_server_holds_the_park() {
    let park = sim_park(2, 2, 5);
    let uploads: Vec<String> = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let (mut child, mut stderr, addr) = serve(&park.dir);
    let res = http(&addr, "POST", "/api/v1/uploads", &uploads[0]);
    assert!(res.contains(r#"{"status":"accepted""#), "{res}");

    // Every writer refuses at once, and writes nothing.
    let refused = register(&park.dir, "d-cli");
    assert_refused_by(&refused, &park.dir, child.id());
    let rest = park.tmp.path().join("rest.jsonl");
    std::fs::write(&rest, format!("{}\n", uploads[1])).unwrap();
    let refused = tanji(["ingest", "--dir", s(&park.dir), s(&rest)]);
    assert_refused_by(&refused, &park.dir, child.id());

    // Read-only commands work while the server runs.
    let listed = tanji(["device", "list", "--dir", s(&park.dir)]).ok().stdout;
    assert!(!listed.contains("d-cli"), "{listed}");
    tanji(["log", "checkpoint", "--dir", s(&park.dir)]).ok();
    tanji(["verify", "--dir", s(&park.dir)]).ok();

    // Uploads still succeed, at the next index.
    let res = http(&addr, "POST", "/api/v1/uploads", &uploads[1]);
    assert!(res.starts_with("HTTP/1.1 200"), "{res}");
    assert!(res.contains(r#"{"status":"accepted""#), "{res}");

    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(child.wait().unwrap().success(), "{log}");

    // Once the server has stopped, the same command writes.
    let out = register(&park.dir, "d-cli").ok().stdout;
    assert!(out.contains("registered device d-cli"), "{out}");
    let out = tanji(["verify", "--dir", s(&park.dir)]).ok().stdout;
    assert!(out.contains("2 uploads"), "{out}");
}

#[test]
fn lock_released_when_holder_killed() {
    let park = sim_park(1, 1, 6);
    let (mut child, _stderr, _addr) = serve(&park.dir);
    assert_refused_by(&register(&park.dir, "d-late"), &park.dir, child.id());
    // SIGKILL: no clean-up runs; the OS releases the lock with the process.
    child.kill().unwrap();
    child.wait().unwrap();
    let out = register(&park.dir, "d-late").ok().stdout;
    assert!(out.contains("registered device d-late"), "{out}");
    tanji(["verify", "--dir", s(&park.dir)]).ok();
}

#[test]
fn cli_revoke_refuses_while_server_holds_the_park() {
    let park = sim_park(1, 1, 7);
    let upload = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let record: serde_json::Value = serde_json::from_str(&upload).unwrap();
    let device = record["device"].as_str().unwrap().to_string();
    let revoke = || {
        tanji([
            "device",
            "revoke",
            "--dir",
            s(&park.dir),
            "--device",
            &device,
            "--reason",
            "key leaked",
        ])
    };
    let (mut child, mut stderr, _addr) = serve(&park.dir);
    assert_refused_by(&revoke(), &park.dir, child.id());
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(child.wait().unwrap().success(), "{log}");

    // Once the server has stopped, the revocation is logged; then the device's upload is
    // refused, naming the revocation, and the log still verifies.
    let out = revoke().ok().stdout;
    assert!(
        out.contains(&format!("revoked device {device} as log entry")),
        "{out}"
    );
    let again = revoke().ok().stdout;
    assert!(again.contains("already revoked"), "{again}");
    // `device list` marks every meter of the revoked device, and nothing else.
    let listed = tanji(["device", "list", "--dir", s(&park.dir)]).ok().stdout;
    for line in listed.lines().skip(1) {
        assert_eq!(
            line.contains(", revoked by entry "),
            line.starts_with(&format!("{device} ")),
            "{listed}"
        );
    }
    assert!(listed.contains(", revoked by entry "), "{listed}");
    let one = park.tmp.path().join("one.jsonl");
    std::fs::write(&one, format!("{upload}\n")).unwrap();
    let run = tanji(["ingest", "--dir", s(&park.dir), s(&one)]);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(text.contains("device_revoked"), "{text}");
    tanji(["verify", "--dir", s(&park.dir)]).ok();
}
