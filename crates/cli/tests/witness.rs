//! `tanji witness` and `tanji verify --witnesses K-of-N` with the real binary: two witnesses
//! served on loopback (port 0) cosign a park's checkpoint; verify requires both, names the one
//! missing, and refuses a stale or altered cosignature; a witness stops cleanly on SIGTERM
//! with what it cosigned kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};

use common::{command, s, sim_park, tanji, Run};

/// A `tanji witness serve` process, killed (by its own handle) when dropped.
struct Served {
    child: Child,
    url: String,
    /// Kept open: the server's later output must not hit a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    let mut child = command([
        "witness",
        "serve",
        "--dir",
        s(dir),
        "--listen",
        "127.0.0.1:0",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .rsplit(' ')
        .next()
        .filter(|u| u.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    Served {
        child,
        url,
        _stdout: stdout,
    }
}

fn verify(dir: &Path, quorum: &str, keys: &[&str]) -> Run {
    let mut args = vec!["verify", "--dir", s(dir), "--witnesses", quorum];
    for k in keys {
        args.extend(["--witness-key", k]);
    }
    tanji(&args)
}

#[test]
fn verify_requires_the_cosignatures_of_both_witnesses() {
    let park = sim_park(2, 1, 7);
    let dir = &park.dir;
    let log_key = tanji(["log", "key", "--dir", s(dir)]).ok().stdout;
    let log_key = log_key.trim();

    let mut keys = Vec::new();
    let mut served = Vec::new();
    for name in ["witness.test/w1", "witness.test/w2"] {
        let wdir = park.tmp.path().join(name.replace('/', "_"));
        let vkey = tanji(["witness", "init", "--dir", s(&wdir), "--name", name])
            .ok()
            .stdout;
        assert!(vkey.starts_with(&format!("{name}+")), "{vkey}");
        keys.push(vkey.trim().to_string());
        let added = tanji(["witness", "add-log", "--dir", s(&wdir), "--vkey", log_key]).ok();
        assert!(
            added.stdout.starts_with("witnessing log tanji/test-park"),
            "{}",
            added.stdout
        );
        served.push(serve(&wdir));
    }
    let (k1, k2) = (keys[0].as_str(), keys[1].as_str());
    let id = |k: &str| {
        let mut parts = k.split('+');
        format!("{}+{}", parts.next().unwrap(), parts.next().unwrap())
    };

    // Nothing cosigned yet: 2-of-2 fails (exit 1) naming both.
    let none = verify(dir, "2-of-2", &[k1, k2]).expect_code(1);
    assert!(
        none.stdout
            .contains(&format!("missing: {}, {}", id(k1), id(k2))),
        "{}",
        none.stdout
    );

    // w1 cosigns: 2-of-2 still fails and names w2 only; 1-of-2 passes.
    let sub = tanji([
        "witness",
        "submit",
        "--dir",
        s(dir),
        "--url",
        &served[0].url,
        "--witness-key",
        k1,
    ])
    .ok();
    assert!(sub.stdout.contains("proof from size 0"), "{}", sub.stdout);
    let one = verify(dir, "2-of-2", &[k1, k2]).expect_code(1);
    assert!(
        one.stdout.contains(&format!(
            "cosigned by 1 of 2 witnesses, 2 required; missing: {}",
            id(k2)
        )),
        "{}",
        one.stdout
    );
    verify(dir, "1-of-2", &[k1, k2]).ok();

    // w2 cosigns: 2-of-2 passes.
    tanji([
        "witness",
        "submit",
        "--dir",
        s(dir),
        "--url",
        &served[1].url,
        "--witness-key",
        k2,
    ])
    .ok();
    let both = verify(dir, "2-of-2", &[k1, k2]).ok();
    assert!(
        both.stdout.contains("is cosigned by 2 of 2 witnesses"),
        "{}",
        both.stdout
    );

    // The log grows: the new checkpoint is not cosigned, so 2-of-2 fails again until both
    // witnesses cosign it (each with a consistency proof from the size it cosigned).
    let size_before: u64 = both
        .stdout
        .split("checkpoint of size ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    tanji(["ingest", "--dir", s(dir), s(&park.uploads)]).ok();
    verify(dir, "2-of-2", &[k1, k2]).expect_code(1);
    for (w, k) in served.iter().zip([k1, k2]) {
        let sub = tanji([
            "witness",
            "submit",
            "--dir",
            s(dir),
            "--url",
            &w.url,
            "--witness-key",
            k,
        ])
        .ok();
        assert!(
            sub.stdout
                .contains(&format!("proof from size {size_before}")),
            "{}",
            sub.stdout
        );
    }
    verify(dir, "2-of-2", &[k1, k2]).ok();

    // An altered cosignature does not count, and is named.
    let db = rusqlite::Connection::open(dir.join("park.db")).unwrap();
    let n = db
        .execute(
            "UPDATE cosignatures SET line = substr(line, 1, length(line) - 6) || 'AAAA==' \
             WHERE witness = ?1 AND size = (SELECT MAX(size) FROM cosignatures)",
            [id(k2)],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let altered = verify(dir, "2-of-2", &[k1, k2]).expect_code(1);
    assert!(
        altered.stdout.contains("does not verify"),
        "{}",
        altered.stdout
    );

    // The quorum must name as many witnesses as keys are given.
    tanji([
        "verify",
        "--dir",
        s(dir),
        "--witnesses",
        "2-of-3",
        "--witness-key",
        k1,
        "--witness-key",
        k2,
    ])
    .expect_code(2);
}

#[test]
fn witness_serve_stops_cleanly_on_sigterm_keeping_what_it_cosigned() {
    let park = sim_park(2, 1, 7);
    let dir = &park.dir;
    let log_key = tanji(["log", "key", "--dir", s(dir)]).ok().stdout;
    let wdir = park.tmp.path().join("witness");
    let vkey = tanji([
        "witness",
        "init",
        "--dir",
        s(&wdir),
        "--name",
        "witness.test/w",
    ])
    .ok()
    .stdout;
    tanji([
        "witness",
        "add-log",
        "--dir",
        s(&wdir),
        "--vkey",
        log_key.trim(),
    ])
    .ok();
    let mut served = serve(&wdir);
    tanji([
        "witness",
        "submit",
        "--dir",
        s(dir),
        "--url",
        &served.url,
        "--witness-key",
        vkey.trim(),
    ])
    .ok();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = served.child.wait().unwrap();
    assert!(exit.success(), "witness serve on SIGTERM: {exit:?}");
    // Its state holds the cosigned size, and the park holds the cosignature.
    verify(dir, "1-of-1", &[vkey.trim()]).ok();
}
