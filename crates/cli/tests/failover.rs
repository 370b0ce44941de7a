//! One writer per park on PostgreSQL, with failover: two `tanji serve` instances, each from its
//! own copy of the park directory, against one PostgreSQL park.
//!
//! - Fencing: the writer is paused (SIGSTOP) with an upload waiting in its batch, past its
//!   lease, and the other instance takes the lease; resumed (SIGCONT), the paused one cannot
//!   commit: the upload is answered 503 `not_writer`, is not in the log, and is accepted by
//!   the new writer.
//! - Failover: devices post to both instances (retrying at the other on a refused connection
//!   or a 503; the instance that does not write forwards to the one that does) while the
//!   lease holder is SIGKILLed 20 times at random moments and restarted
//!   each time: every acknowledged record is in the log exactly once at its acknowledged
//!   index, `tanji verify` passes, and every checkpoint served during the run is one of the
//!   log's stored checkpoints (one chain, no fork).
//! - Tiles from any instance: a full tile of the park written by A is served by B, which
//!   stands by, byte for byte as A serves it and as the store makes it, with A's immutable
//!   `Cache-Control` — also while A is paused (SIGSTOP) and still holds the lease, when B can
//!   forward nothing to it. A partial tile B forwards to A (A's bytes while A answers).
//!
//! PostgreSQL: SKIPPED when unreachable outside CI, required under CI=true.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::net::{parse, Res, HANG};
use common::{command, logged_uploads, pg, s, simulate, tanji, verify, Rng, SIM_START};

/// Lease TTL and poll of the instances: failover within 1.1 s of the holder's death.
const CONFIG: &str = "[lease]\nttl_ms = 1000\npoll_ms = 100\n\n[batch]\nwindow_ms = 20\n";

/// A park on PostgreSQL with simulated devices registered, and a second directory naming it.
struct PgPark {
    tmp: tempfile::TempDir,
    dirs: [PathBuf; 2],
    uploads: PathBuf,
    _schema: pg::Schema,
}

fn pg_park(tag: &str, enterprises: usize, days: u32) -> Option<PgPark> {
    let url = pg::url()?;
    let schema = pg::Schema::new(&url, tag);
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    tanji([
        "init",
        "--dir",
        s(&a),
        "--park",
        "failover",
        "--store",
        &schema.store_url(),
    ])
    .ok();
    let uploads = simulate(
        &a,
        &tmp.path().join("sim"),
        enterprises,
        days,
        11,
        SIM_START,
    );
    // Another instance's directory: the same log key and store file.
    std::fs::create_dir(&b).unwrap();
    for f in [tanji_park::KEY_FILE, tanji_park::STORE_FILE] {
        std::fs::copy(a.join(f), b.join(f)).unwrap();
    }
    std::fs::write(tmp.path().join("tanji.toml"), CONFIG).unwrap();
    Some(PgPark {
        tmp,
        dirs: [a, b],
        uploads,
        _schema: schema,
    })
}

/// Held by each test that times leases (TTL 1 s): run one at a time, so that none starves
/// another's lease renewals of the machine's cores (a renewal late by a second loses the
/// lease, as it should).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A free loopback port.
fn free_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// One `tanji serve` instance (its directory and address), restartable.
struct Instance {
    dir: PathBuf,
    addr: String,
    config: PathBuf,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

impl Instance {
    fn new(dir: &Path, config: &Path) -> Self {
        let mut i = Instance {
            dir: dir.to_path_buf(),
            addr: free_port(),
            config: config.to_path_buf(),
            child: None,
            log: Arc::default(),
        };
        i.start();
        i
    }

    fn start(&mut self) {
        let mut child = command([
            "serve",
            "--dir",
            s(&self.dir),
            "--listen",
            &self.addr,
            "--config",
            s(&self.config),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                log.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        self.child = Some(child);
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it holds the writer lease of the PostgreSQL park in `dir` (every instance
    /// listens; the lease row names its holder's process).
    fn writes(&self, dir: &Path) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        writer_pid(dir) == Some(child.id())
    }
}

/// The process id of the holder of the writer lease of the PostgreSQL park in `dir`.
fn writer_pid(dir: &Path) -> Option<u32> {
    let tanji_store::StoreAt::Postgres { at, park } = tanji_park::store_at(dir).unwrap() else {
        panic!("not a PostgreSQL park");
    };
    let store = tanji_store::PostgresStore::open(&at, &park).ok()?;
    let holder = store.lease_holder().ok()??.holder;
    holder
        .split_once(" pid ")?
        .1
        .split(' ')
        .next()?
        .parse()
        .ok()
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until one of `instances` holds the lease of the park in `dir`, and returns its
/// position.
fn holder(instances: &[Instance], dir: &Path) -> usize {
    let start = Instant::now();
    loop {
        if let Some(i) = instances.iter().position(|i| i.writes(dir)) {
            return i;
        }
        assert!(
            start.elapsed() < HANG,
            "no instance took the lease\n{}",
            instances
                .iter()
                .map(|i| i.log.lock().unwrap().clone())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One request; `None` when the connection is refused or breaks (the instance is down).
fn request(addr: &str, method: &str, path: &str, body: &str) -> Option<Res> {
    use std::io::{Read, Write};
    let mut c = TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(HANG)).ok()?;
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    c.read_to_string(&mut raw).ok()?;
    raw.starts_with("HTTP/1.1 ").then(|| parse(&raw))
}

/// POSTs one upload ([`request`]).
fn post(addr: &str, upload: &str) -> Option<Res> {
    request(addr, "POST", "/api/v1/uploads", upload)
}

/// (device, seq) of a JSON upload line.
fn key_of(line: &str) -> (String, u64) {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    (
        v["device"].as_str().unwrap().to_string(),
        v["seq"].as_u64().unwrap(),
    )
}

/// The stored checkpoints of the park in `dir`, by size.
fn stored_checkpoints(dir: &Path) -> BTreeMap<u64, String> {
    use tanji_store::Store as _;
    let store = tanji_park::Park::open_store(dir).unwrap();
    store.checkpoints().unwrap().into_iter().collect()
}

#[test]
fn a_paused_writer_whose_lease_was_taken_cannot_commit() {
    let _serial = one_at_a_time();
    let Some(park) = pg_park("fencing", 1, 2) else {
        return;
    };
    // A long batch window: the upload waits in the batch while the writer is paused.
    let config = park.tmp.path().join("slow.toml");
    std::fs::write(
        &config,
        "[lease]\nttl_ms = 1000\npoll_ms = 100\n\n[batch]\nwindow_ms = 1500\n",
    )
    .unwrap();
    let a = Instance::new(&park.dirs[0], &config);
    assert_eq!(holder(std::slice::from_ref(&a), &park.dirs[0]), 0);
    // While A sequences, a writing command from another directory of the park is refused,
    // naming the holder.
    let refused = tanji(["ingest", "--dir", s(&park.dirs[1]), s(&park.uploads)]).expect_code(2);
    assert!(
        refused.stderr.contains("holds its writer lease"),
        "{}",
        refused.stderr
    );
    let b = Instance::new(&park.dirs[1], &config);
    let upload = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let addr = a.addr.clone();
    let body = upload.clone();
    let pending = std::thread::spawn(move || post(&addr, &body));
    std::thread::sleep(Duration::from_millis(300));
    a.signal("-STOP");
    // B takes the lease once A's has expired.
    let start = Instant::now();
    while !b.writes(&park.dirs[0]) {
        assert!(start.elapsed() < HANG, "{}", b.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    a.signal("-CONT");
    let res = pending.join().unwrap();
    if let Some(res) = &res {
        assert_ne!(res.status, 200, "the paused writer acknowledged: {res:?}");
        assert!(!res.error(503, "not_writer").is_empty());
    }
    let key = key_of(&upload);
    assert!(
        !logged_uploads(&park.dirs[0]).contains_key(&key),
        "the fenced batch was committed"
    );
    // The new writer logs it.
    let res = post(&b.addr, &upload).unwrap();
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.json()["status"], "accepted", "{res:?}");
    assert!(logged_uploads(&park.dirs[0]).contains_key(&key));
    // A no longer writes: it stands by for the lease, and forwards to B meanwhile.
    let start = Instant::now();
    while !a.log.lock().unwrap().contains("standing by") {
        assert!(start.elapsed() < HANG, "{}", a.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let next = std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let res = post(&a.addr, &next).unwrap();
    assert_eq!(res.status, 200, "forwarded to the writer: {res:?}");
    assert_eq!(res.json()["status"], "accepted", "{res:?}");
    assert!(logged_uploads(&park.dirs[0]).contains_key(&key_of(&next)));
    drop((a, b));
    verify(&park.dirs[0]).ok();
}

/// One GET with an optional bearer token: status, lower-cased head, body bytes; `None` when
/// the connection is refused or breaks.
fn get_bytes(addr: &str, path: &str, token: Option<&str>) -> Option<(u16, String, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut c = TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(HANG)).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(!head.contains("transfer-encoding: chunked"), "{head}");
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head, raw[split + 4..].to_vec()))
}

/// The value of header `name` (lower case) in a lower-cased head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

#[test]
fn an_instance_standing_by_serves_full_tiles_from_the_store_while_the_writer_is_paused() {
    let _serial = one_at_a_time();
    let Some(park) = pg_park("tiles", 8, 36) else {
        return;
    };
    // A long lease: B does not take it while A is paused; a short idle timeout: what B
    // forwards to the paused A fails fast.
    let config = park.tmp.path().join("tiles.toml");
    std::fs::write(
        &config,
        "[lease]\nttl_ms = 60000\npoll_ms = 100\n\n[batch]\nwindow_ms = 20\n\n[http]\nidle_timeout_ms = 2000\n",
    )
    .unwrap();
    let token = tanji(["token", "new", "--role", "auditor", "--config", s(&config)])
        .ok()
        .stdout
        .trim()
        .to_string();
    let a = Instance::new(&park.dirs[0], &config);
    assert_eq!(holder(std::slice::from_ref(&a), &park.dirs[0]), 0);
    let b = Instance::new(&park.dirs[1], &config);
    // A writes the park: every upload posted to it, by device in parallel.
    let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(&park.uploads).unwrap().lines() {
        by_device
            .entry(key_of(line).0)
            .or_default()
            .push(line.to_string());
    }
    let posting: Vec<_> = by_device
        .into_values()
        .map(|lines| {
            let addr = a.addr.clone();
            std::thread::spawn(move || {
                for line in lines {
                    let res = post(&addr, &line).unwrap();
                    assert_eq!(res.status, 200, "{res:?}");
                }
            })
        })
        .collect();
    for p in posting {
        p.join().unwrap();
    }
    let store = tanji_park::Park::open_store(&park.dirs[0]).unwrap();
    let size = tanji_park::latest_size(&store).unwrap();
    assert!(size >= 256, "only {size} entries: simulate more days");
    let tile = tanji_ledger::TileRef {
        level: 0,
        index: 0,
        width: 256,
    };
    let expected = tanji_ledger::tile_bytes(&store, &tile).unwrap();
    let path = format!("/{}", tile.path());
    let bundle = format!("/{}", tile.entries_path());
    // B is up (it forwards the checkpoint to A).
    let start = Instant::now();
    while request(&b.addr, "GET", "/checkpoint", "").is_none_or(|r| r.status != 200) {
        assert!(start.elapsed() < HANG, "{}", b.log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    let served = |addr: &str, path: &str, token: Option<&str>| {
        let (status, head, body) = get_bytes(addr, path, token).unwrap();
        assert_eq!(
            status,
            200,
            "{path} from {addr}: {head} {}",
            String::from_utf8_lossy(&body)
        );
        (head, body)
    };
    let (head_a, tile_a) = served(&a.addr, &path, None);
    let (head_b, tile_b) = served(&b.addr, &path, None);
    assert_eq!(tile_a, expected);
    assert_eq!(tile_b, expected);
    for head in [&head_a, &head_b] {
        assert_eq!(
            header(head, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{head}"
        );
    }
    let (_, bundle_a) = served(&a.addr, &bundle, Some(&token));
    let (head, bundle_b) = served(&b.addr, &bundle, Some(&token));
    assert_eq!(bundle_a, bundle_b);
    assert_eq!(
        header(&head, "cache-control"),
        Some("private, max-age=31536000, immutable")
    );
    // A partial tile is the writer's to serve: B forwards it, and answers A's bytes.
    assert_ne!(
        size % 256,
        0,
        "no partial tile: simulate another number of days"
    );
    let partial = tanji_ledger::TileRef {
        level: 0,
        index: size / 256,
        width: (size % 256) as u16,
    };
    let partial = format!("/{}", partial.path());
    let (head_a, partial_a) = served(&a.addr, &partial, None);
    let (head_b, partial_b) = served(&b.addr, &partial, None);
    assert_eq!(partial_a, partial_b);
    assert_eq!(header(&head_a, "cache-control"), Some("public, max-age=60"));
    assert_eq!(header(&head_b, "cache-control"), Some("public, max-age=60"));
    // B checks the token as A does.
    assert_eq!(get_bytes(&b.addr, &bundle, None).unwrap().0, 401);
    assert_eq!(
        get_bytes(&b.addr, &bundle, Some("tanji_nobody")).unwrap().0,
        401
    );

    // A paused, still holding the lease: B serves the full tiles from the store all the same.
    a.signal("-STOP");
    let (head, tile_b) = served(&b.addr, &path, None);
    assert_eq!(tile_b, expected);
    assert_eq!(
        header(&head, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let (_, bundle_b) = served(&b.addr, &bundle, Some(&token));
    assert_eq!(bundle_b, bundle_a);
    assert!(
        a.writes(&park.dirs[0]),
        "B took the lease: the test proves nothing"
    );
    // What only the writer answers, B cannot answer now: it forwards, and A does not answer.
    let (status, head, _) = get_bytes(&b.addr, &partial, None).unwrap();
    assert_eq!(status, 503, "{head}");
    let (status, head, _) = get_bytes(&b.addr, "/checkpoint", None).unwrap();
    assert_eq!(status, 503, "{head}");
    a.signal("-CONT");
    drop((a, b));
}

/// An acknowledged upload: (device, seq) and the index it was acknowledged at.
type Acked = ((String, u64), u64);

/// SIGKILLs of the lease holder.
const KILLS: usize = 20;

#[test]
fn killing_the_lease_holder_loses_no_acknowledged_record() {
    let _serial = one_at_a_time();
    let Some(park) = pg_park("failover", 2, 150) else {
        return;
    };
    let config = park.tmp.path().join("tanji.toml");
    let instances = Arc::new(Mutex::new(vec![
        Instance::new(&park.dirs[0], &config),
        Instance::new(&park.dirs[1], &config),
    ]));
    let addrs: Vec<String> = instances
        .lock()
        .unwrap()
        .iter()
        .map(|i| i.addr.clone())
        .collect();
    // Each device posts its uploads in order, retrying each at the other instance until one
    // acknowledges it.
    let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in std::fs::read_to_string(&park.uploads).unwrap().lines() {
        by_device
            .entry(key_of(line).0)
            .or_default()
            .push(line.to_string());
    }
    let total: usize = by_device.values().map(Vec::len).sum();
    let acks: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let killing = Arc::new(AtomicBool::new(true));
    let devices: Vec<_> = by_device
        .into_values()
        .enumerate()
        .map(|(n, lines)| {
            let (addrs, acks, killing) = (addrs.clone(), Arc::clone(&acks), Arc::clone(&killing));
            std::thread::spawn(move || {
                let mut at = n % 2;
                for line in lines {
                    let start = Instant::now();
                    loop {
                        assert!(start.elapsed() < HANG, "upload never acknowledged: {line}");
                        match post(&addrs[at], &line) {
                            Some(res) if res.status == 200 => {
                                let v = res.json();
                                let status = v["status"].as_str().unwrap().to_string();
                                assert!(status == "accepted" || status == "duplicate", "{v}");
                                let index = v["index"].as_u64().unwrap();
                                acks.lock().unwrap().push((key_of(&line), index));
                                break;
                            }
                            Some(res) if res.status == 503 => {}
                            Some(res) => panic!("unexpected answer: {res:?}"),
                            None => {}
                        }
                        at = 1 - at;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    // Paced while the holder is being killed, so that uploads span all kills.
                    if killing.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(150));
                    }
                }
            })
        })
        .collect();
    // Checkpoints as served during the run.
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let watcher = {
        let (addrs, seen, done) = (addrs.clone(), Arc::clone(&seen), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                for a in &addrs {
                    if let Some(res) = request(a, "GET", "/checkpoint", "") {
                        if res.status == 200 {
                            seen.lock().unwrap().insert(res.body);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut rng = Rng(0x5eed_f00d);
    let started = Instant::now();
    for _ in 0..KILLS {
        let mut all = instances.lock().unwrap();
        let h = holder(&all, &park.dirs[0]);
        std::thread::sleep(Duration::from_millis(100 + rng.below(400)));
        all[h].kill();
        all[h].start();
    }
    let during = acks.lock().unwrap().len();
    assert!(
        during < total,
        "the devices were done before the last kill: pace them slower"
    );
    killing.store(false, Ordering::SeqCst);
    let killing = started.elapsed();
    for d in devices {
        d.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    // Stop cleanly (the holder releases its lease), then check the log.
    for mut i in instances.lock().unwrap().drain(..) {
        i.signal("-TERM");
        let status = i.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "{status:?}\n{}", i.log.lock().unwrap());
    }
    let acks = acks.lock().unwrap().clone();
    assert_eq!(acks.len(), total, "every upload was acknowledged once");
    let logged = logged_uploads(&park.dirs[0]);
    let mut at_index: HashMap<u64, &(String, u64)> = HashMap::new();
    for (key, index) in &acks {
        assert_eq!(
            logged.get(key),
            Some(index),
            "acknowledged {key:?} at {index}, the log has it at {:?}",
            logged.get(key)
        );
        assert!(
            at_index.insert(*index, key).is_none(),
            "two acks at {index}"
        );
    }
    let uploads = common::entry_kinds(&park.dirs[0])
        .get(&i64::from(tanji_readings::KIND_UPLOAD))
        .copied()
        .unwrap_or(0);
    assert_eq!(uploads as usize, total, "each upload logged exactly once");
    verify(&park.dirs[0]).ok();
    let stored = stored_checkpoints(&park.dirs[0]);
    let stored: HashSet<&String> = stored.values().collect();
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    for note in seen.iter() {
        assert!(
            stored.contains(note),
            "a served checkpoint is not in the log's chain:\n{note}"
        );
    }
    eprintln!(
        "{KILLS} kills in {:.1} s ({during} of {total} uploads acknowledged meanwhile), {} checkpoints seen",
        killing.as_secs_f64(),
        seen.len()
    );
}

/// README's "On PostgreSQL" commands, run as written in a new directory, with the database URL
/// replaced by this test's schema.
#[test]
fn the_readme_postgres_commands_run_as_written() {
    const README: &str = include_str!("../../../README.md");
    const URL: &str = "postgres://postgres@127.0.0.1:5432/test?schema=tanji_readme";
    let Some(url) = pg::url() else { return };
    let schema = pg::Schema::new(&url, "readme");
    let section = README
        .split("\n## On PostgreSQL\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has an \"On PostgreSQL\" section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has an sh block");
    assert!(
        block.contains(URL),
        "the README's URL changed: update this test"
    );
    let tmp = tempfile::tempdir().unwrap();
    let bin = Path::new(common::TANJI).parent().unwrap();
    let script = format!(
        "set -euo pipefail\nexport PATH=\"{}:$PATH\"\n{}",
        s(bin),
        block.replace(URL, &schema.store_url())
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(tmp.path())
        .env_remove("TANJI_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\nOK: "), "{stdout}");
    assert!(tmp.path().join("pgpark").join("store").exists());
    assert!(!tmp.path().join("pgpark").join("park.db").exists());
}

/// `--store` takes a PostgreSQL URL only, and says what to write instead.
#[test]
fn init_refuses_a_store_that_is_not_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let run = tanji([
        "init",
        "--dir",
        s(&dir),
        "--park",
        "p",
        "--store",
        "mysql://root@127.0.0.1/db",
    ])
    .expect_code(2);
    assert!(
        run.stderr
            .contains("expected a PostgreSQL URL, postgres://"),
        "{}",
        run.stderr
    );
    assert!(!dir.join(tanji_park::KEY_FILE).exists());
}

/// Parks of the deployment test (PostgreSQL connections: each park written uses two of the
/// server's 100, its store's and its lease's).
const PARKS: usize = 12;

/// POSTs `body` to `path` with an admin `token`.
fn post_as(addr: &str, path: &str, body: &str, token: &str) -> Option<Res> {
    use std::io::{Read, Write};
    let mut c = TcpStream::connect(addr).ok()?;
    c.set_read_timeout(Some(HANG)).ok()?;
    write!(
        c,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    c.read_to_string(&mut raw).ok()?;
    raw.starts_with("HTTP/1.1 ").then(|| parse(&raw))
}

/// A deployment of many parks on PostgreSQL served by two instances from one deployment
/// directory: each instance writes some parks and forwards the others' requests; devices post
/// to both instances, and every upload is acknowledged once, at the index the park's log has
/// it at; each park's log verifies. An admin creates a park on the second instance while
/// both run: it is served (and written by one of them) without a restart.
#[test]
fn two_instances_serve_a_deployment_of_many_parks_forwarding_to_each_writer() {
    let _serial = one_at_a_time();
    let Some(url) = pg::url() else { return };
    let schema = pg::Schema::new(&url, "deployment");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("deploy");
    let mut uploads = Vec::new();
    for p in 0..PARKS {
        let name = format!("p{p:03}");
        let dir = root.join("parks").join(&name);
        tanji([
            "init",
            "--dir",
            s(&dir),
            "--park",
            &name,
            "--store",
            &schema.store_url(),
        ])
        .ok();
        let file = simulate(
            &dir,
            &tmp.path().join(format!("sim{p}")),
            1,
            2,
            20 + p as u64,
            SIM_START,
        );
        let lines: Vec<String> = std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        uploads.push((name, dir, lines));
    }
    let (admin, hash) = tanji_server::auth::new_token();
    let config = tmp.path().join("tanji.toml");
    std::fs::write(
        &config,
        format!(
            "{CONFIG}\n[parks]\nstore = \"{}\"\n\n[[tokens]]\nsha256 = \"{hash}\"\nrole = \"admin\"\n",
            schema.store_url()
        ),
    )
    .unwrap();
    let instances = [Instance::new(&root, &config), Instance::new(&root, &config)];
    // Both listen; each park has one writer, and both instances write some once the second
    // has taken the parks the first had not reached (or the other way round).
    let start = Instant::now();
    let addrs: Vec<String> = instances.iter().map(|i| i.addr.clone()).collect();
    for (_, dir, _) in &uploads {
        while !instances.iter().any(|i| i.writes(dir)) {
            assert!(
                start.elapsed() < HANG,
                "{}",
                instances[0].log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // Devices post to both instances in turn.
    let mut acks: Vec<(usize, (String, u64), u64)> = Vec::new();
    let mut forwarded = 0;
    for (p, (name, dir, lines)) in uploads.iter().enumerate() {
        for (n, line) in lines.iter().enumerate() {
            let at = (p + n) % 2;
            if !instances[at].writes(dir) {
                forwarded += 1;
            }
            let start = Instant::now();
            let res = loop {
                let res = request(
                    &addrs[at],
                    "POST",
                    &format!("/parks/{name}/api/v1/uploads"),
                    line,
                );
                match res {
                    Some(r) if r.status == 503 => {}
                    Some(r) => break r,
                    None => {}
                }
                assert!(start.elapsed() < HANG, "never acknowledged: {line}");
                std::thread::sleep(Duration::from_millis(20));
            };
            assert_eq!(res.status, 200, "{name} at instance {at}: {res:?}");
            let v = res.json();
            assert_eq!(v["status"], "accepted", "{v}");
            acks.push((p, key_of(line), v["index"].as_u64().unwrap()));
        }
    }
    assert!(
        forwarded > 0,
        "no upload reached an instance that does not write its park"
    );
    // An admin creates a park at the second instance; it is served at once by one of them.
    let res = post_as(&addrs[1], "/parks", r#"{"park":"late"}"#, &admin).unwrap();
    assert_eq!(res.status, 201, "{res:?}");
    assert_eq!(res.json()["writer_here"], true, "{res:?}");
    let res = request(&addrs[0], "GET", "/parks/late/api/v1/log", "");
    let start = Instant::now();
    let mut res = res;
    while res.as_ref().map(|r| r.status) != Some(200) {
        assert!(start.elapsed() < HANG, "{res:?}");
        std::thread::sleep(Duration::from_millis(50));
        res = request(&addrs[0], "GET", "/parks/late/api/v1/log", "");
    }
    assert_eq!(res.unwrap().json()["origin"], "tanji/late");
    for mut i in instances {
        i.signal("-TERM");
        let status = i.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "{status:?}\n{}", i.log.lock().unwrap());
    }
    for (p, (name, dir, lines)) in uploads.iter().enumerate() {
        let logged = logged_uploads(dir);
        assert_eq!(logged.len(), lines.len(), "{name}: each upload logged once");
        for (_, key, index) in acks.iter().filter(|(q, _, _)| *q == p) {
            assert_eq!(logged.get(key), Some(index), "{name}: {key:?}");
        }
        verify(dir).ok();
    }
}

/// An acknowledged upload of the province-scale test: park, (device, seq), index.
type ParkAcked = (usize, (String, u64), u64);

/// Parks of the province-scale deployment test.
const MANY_PARKS: usize = 200;

/// The parks' writers on the PostgreSQL database `at`: park → process id of its live lease.
fn writers(at: &tanji_store::PgLocation) -> HashMap<String, u32> {
    tanji_store::PostgresStore::live_leases(at)
        .unwrap()
        .into_iter()
        .filter_map(|(park, lease)| {
            let pid = lease.holder.split_once(" pid ")?.1.split(' ').next()?;
            Some((park, pid.parse().ok()?))
        })
        .collect()
}

/// Waits until the instance with process `pid` writes all `parks`; the time it took.
fn all_written_by(
    at: &tanji_store::PgLocation,
    pid: u32,
    parks: usize,
    log: &Mutex<String>,
) -> Duration {
    let start = Instant::now();
    loop {
        let w = writers(at);
        if w.len() == parks && w.values().all(|p| *p == pid) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < 4 * HANG,
            "{} of {parks} parks written by {pid} after {:?}\n{}",
            w.values().filter(|p| **p == pid).count(),
            start.elapsed(),
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A province-scale deployment: 200 parks on one PostgreSQL served by two `tanji serve`
/// instances from one deployment directory. Devices post to both (the one that does not write
/// a park forwards to the one that does; a refused connection or a 503 is retried at the
/// other). The writer of every park is SIGKILLed, then, restarted, the other one: each time
/// the survivor takes every park's lease and ingest continues; in the end every acknowledged
/// upload is in its park's log exactly once at its acknowledged index and every park's log
/// verifies. The takeover times are printed (docs/operations.md states them).
#[test]
fn two_instances_serve_two_hundred_parks_and_either_may_die() {
    let _serial = one_at_a_time();
    // Each park written holds a connection (its store's), reads take up to four more.
    let Some(pg) = pg::Server::with_connections(900) else {
        return;
    };
    let schema = pg::Schema::new(&pg.url, "province");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("deploy");
    let store_url = schema.store_url();
    // 2026-01-01: each park one enterprise with its devices, three days of uploads.
    let start_day = 1_767_225_600;
    let started = Instant::now();
    let parks: Vec<(String, Vec<Vec<String>>)> = (0..MANY_PARKS)
        .map(|p| {
            let name = format!("p{p:03}");
            let sim = tanji_simulator::Park::generate(tanji_simulator::ParkSpec {
                seed: 1000 + p as u64,
                enterprises: 1,
                start_day,
                days: 3,
            });
            let dir = root.join("parks").join(&name);
            let mut park =
                tanji_park::Park::create_on(&dir, &name, None, Some(&store_url)).unwrap();
            park.register(&sim.registrations(start_day - 86_400))
                .unwrap();
            // The uploads by day.
            let mut days: Vec<Vec<String>> = vec![Vec::new(); 3];
            for u in sim.uploads() {
                let day = ((u.body.channels[0].start - start_day) / 86_400) as usize;
                days[day.min(2)].push(tanji_readings::upload_to_json(&u));
            }
            (name, days)
        })
        .collect();
    eprintln!(
        "{MANY_PARKS} parks created on PostgreSQL in {:?}",
        started.elapsed()
    );
    let config = tmp.path().join("tanji.toml");
    std::fs::write(
        &config,
        format!("{CONFIG}\n[parks]\nstore = \"{store_url}\"\n"),
    )
    .unwrap();
    let tanji_store::StoreAt::Postgres { at, .. } =
        tanji_park::store_at(&root.join("parks").join("p000")).unwrap()
    else {
        panic!("not a PostgreSQL park");
    };
    let mut instances = [Instance::new(&root, &config), Instance::new(&root, &config)];
    let pid = |i: &Instance| i.child.as_ref().unwrap().id();
    // Every park gets a writer.
    let first = Instant::now();
    while writers(&at).len() < MANY_PARKS {
        assert!(
            first.elapsed() < 4 * HANG,
            "{}",
            instances[0].log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "every park written {:?} after the instances started",
        first.elapsed()
    );
    let acks: Mutex<Vec<ParkAcked>> = Mutex::default();
    // Posts the uploads of `day` of every park, at both instances in turn.
    let post_day = |instances: &[Instance; 2], day: usize| {
        let addrs: Vec<String> = instances.iter().map(|i| i.addr.clone()).collect();
        for (p, (name, days)) in parks.iter().enumerate() {
            for (n, line) in days[day].iter().enumerate() {
                let mut at = (p + n) % 2;
                let start = Instant::now();
                let res = loop {
                    let path = format!("/parks/{name}/api/v1/uploads");
                    match request(&addrs[at], "POST", &path, line) {
                        Some(r) if r.status != 503 => break r,
                        _ => at = 1 - at,
                    }
                    assert!(
                        start.elapsed() < 4 * HANG,
                        "{name}: never acknowledged: {line}"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                };
                assert_eq!(res.status, 200, "{name}: {res:?}");
                let v = res.json();
                assert!(
                    v["status"] == "accepted" || v["status"] == "duplicate",
                    "{v}"
                );
                acks.lock()
                    .unwrap()
                    .push((p, key_of(line), v["index"].as_u64().unwrap()));
            }
        }
    };
    let t = Instant::now();
    post_day(&instances, 0);
    eprintln!("day 1 of {MANY_PARKS} parks posted in {:?}", t.elapsed());
    // Kill whichever writes the most parks; the other takes them all; then the other way.
    let w = writers(&at);
    let mut victim =
        usize::from(w.values().filter(|p| **p == pid(&instances[1])).count() > MANY_PARKS / 2);
    for day in [1, 2] {
        let survivor = 1 - victim;
        instances[victim].signal("-KILL");
        let _ = instances[victim].child.take().unwrap().wait();
        let took = all_written_by(
            &at,
            pid(&instances[survivor]),
            MANY_PARKS,
            &instances[survivor].log,
        );
        eprintln!("instance {victim} SIGKILLed: instance {survivor} writes all {MANY_PARKS} parks {took:?} later");
        instances[victim].start();
        post_day(&instances, day);
        victim = survivor;
    }
    for i in &mut instances {
        i.signal("-TERM");
        let status = i.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "{status:?}\n{}", i.log.lock().unwrap());
    }
    let acks = acks.into_inner().unwrap();
    for (p, (name, days)) in parks.iter().enumerate() {
        let dir = root.join("parks").join(name);
        let logged = logged_uploads(&dir);
        let sent: usize = days.iter().map(Vec::len).sum();
        assert_eq!(logged.len(), sent, "{name}: each upload logged once");
        for (_, key, index) in acks.iter().filter(|(q, _, _)| *q == p) {
            assert_eq!(logged.get(key), Some(index), "{name}: {key:?}");
        }
        verify(&dir).ok();
    }
    eprintln!(
        "{} uploads acknowledged over {MANY_PARKS} parks, each logged once; every park verifies",
        acks.len()
    );
}
