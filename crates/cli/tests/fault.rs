//! Fault injection against a running `tanji serve` (docs/reliability.md, "Fault injection"):
//!
//! - the server is SIGKILLed again and again while devices upload over HTTP and over MQTT:
//!   nothing acknowledged is lost, nothing is logged twice, and the store verifies;
//! - the park's disk fills up under uploads: they are answered with a retryable 503
//!   `storage_full`, reads go on, nothing acknowledged is lost, and once space is freed uploads
//!   are accepted again without a restart.
//!
//! The MQTT part needs Mosquitto on 127.0.0.1:1883 (SKIPPED when unreachable, required under
//! CI=true). The disk-full test mounts a small tmpfs, which needs root (CAP_SYS_ADMIN): it says
//! SKIPPED, with the reason, where the machine does not allow mounting.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::net::{broker_up, parse, serve, subscriber, wait_online, Res, HANG};
use common::{s, tanji, verify, Rng, SimPark};
use tanji_readings::parse_json_upload;

/// (device, seq) of an upload.
type Key = (String, u64);

/// SIGKILLs delivered under load.
const KILLS: usize = 12;

/// One upload to send: its key and JSON line.
#[derive(Clone)]
struct Upload {
    key: Key,
    json: String,
}

/// What the park answered for each record it acknowledged, by key: the leaf indices of every
/// `accepted` or `duplicate` answer seen (over all rounds and both transports).
type Acks = Arc<Mutex<HashMap<Key, BTreeSet<u64>>>>;

fn read_uploads(park: &SimPark) -> Vec<Upload> {
    std::fs::read_to_string(&park.uploads)
        .unwrap()
        .lines()
        .map(|l| {
            let u = parse_json_upload(l).unwrap();
            Upload {
                key: (u.body.device.clone(), u.body.seq),
                json: l.to_string(),
            }
        })
        .collect()
}

/// Every record logged exactly once, and every acknowledgement seen points at its record's leaf.
fn assert_all_logged_once(dir: &Path, uploads: &[Upload], acks: &Acks) {
    let index = common::logged_uploads(dir);
    let entries = common::entry_kinds(dir).get(&1).copied().unwrap_or(0);
    assert_eq!(
        entries,
        uploads.len() as u64,
        "upload entries in the log vs records sent"
    );
    let acks = acks.lock().unwrap();
    for u in uploads {
        let at = index
            .get(&u.key)
            .unwrap_or_else(|| panic!("{:?} was never logged", u.key));
        let seen = acks
            .get(&u.key)
            .unwrap_or_else(|| panic!("{:?} was never acknowledged", u.key));
        assert_eq!(
            seen.iter().copied().collect::<Vec<_>>(),
            vec![*at],
            "{:?}: acknowledged at other leaves than where it is logged",
            u.key
        );
    }
}

/// One POST of one record; `None` when the server is gone (refused, reset, closed early).
fn post(addr: &str, json: &str) -> Option<Res> {
    use std::io::{Read, Write};
    let mut c = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(HANG)).unwrap();
    let body = format!("[{json}]");
    write!(
        c,
        "POST /api/v1/uploads HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut out = String::new();
    c.read_to_string(&mut out).ok()?;
    (!out.is_empty()).then(|| parse(&out))
}

/// Posts the records not yet acknowledged, one by one, until all are or the server is gone.
fn http_loader(addr: String, mine: Vec<Upload>, acks: Acks) {
    for u in mine {
        if acks.lock().unwrap().contains_key(&u.key) {
            continue;
        }
        // A server standing by for the writer lease of the killed one (until its lease
        // expires) or draining answers 503: the record is sent again.
        let start = Instant::now();
        let res = loop {
            let Some(res) = post(&addr, &u.json) else {
                return;
            };
            if res.status != 503 {
                break res;
            }
            assert!(start.elapsed() < HANG, "503 for too long: {res:?}");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(res.status, 200, "{res:?}");
        let answer = &res.json()[0];
        let status = answer["status"].as_str().unwrap();
        assert!(
            status == "accepted" || status == "duplicate",
            "{:?}: {answer}",
            u.key
        );
        let index = answer["index"].as_u64().unwrap();
        acks.lock()
            .unwrap()
            .entry(u.key.clone())
            .or_default()
            .insert(index);
    }
}

/// A device-side MQTT client: publishes each record not yet acknowledged on its device's `up`
/// topic at QoS 1 and waits for the answer on its `ack` topic, until all are acknowledged or
/// `stop` is set. Answers that repeat a leaf already acknowledged for the device (a message the
/// broker redelivered to the restarted server) are set aside, so each answer is paired with the
/// record it answers.
struct MqttDevices {
    client: rumqttc::Client,
    answers: Mutex<mpsc::Receiver<(String, serde_json::Value)>>,
    park: String,
}

impl MqttDevices {
    fn connect(park: &str) -> Self {
        use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
        let mut options = MqttOptions::new(format!("{park}-devices"), "127.0.0.1", 1883);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(options, 1000);
        client
            .subscribe(format!("tanji/{park}/+/ack"), QoS::AtLeastOnce)
            .unwrap();
        let (tx, answers) = mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let device = p.topic.split('/').nth(2).unwrap_or("").to_string();
                        if let Ok(v) = serde_json::from_slice(&p.payload) {
                            if tx.send((device, v)).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        Self {
            client,
            answers: Mutex::new(answers),
            park: park.to_string(),
        }
    }

    fn run(&self, mine: &[Upload], acks: &Acks, stop: &AtomicBool) {
        let answers = self.answers.lock().unwrap();
        for u in mine {
            if acks.lock().unwrap().contains_key(&u.key) {
                continue;
            }
            self.client
                .publish(
                    format!("tanji/{}/{}/up", self.park, u.key.0),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    u.json.clone().into_bytes(),
                )
                .unwrap();
            loop {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok((device, v)) = answers.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let status = v["status"].as_str().unwrap_or_default();
                assert!(
                    status == "accepted" || status == "duplicate",
                    "MQTT answer for {device}: {v}"
                );
                let index = v["index"].as_u64().unwrap();
                let mut acks = acks.lock().unwrap();
                let repeat = acks
                    .iter()
                    .any(|((d, _), leaves)| *d == device && leaves.contains(&index));
                if repeat || device != u.key.0 {
                    continue;
                }
                acks.entry(u.key.clone()).or_default().insert(index);
                break;
            }
        }
    }
}

fn kill9(server: &mut common::net::Server) {
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

/// The server is SIGKILLed at random moments while one client uploads over HTTP and devices
/// upload over MQTT; after the last kill it is started once more and every record not yet
/// acknowledged is sent again. Every acknowledged record is logged, at the leaf its answer
/// named, each record exactly once, and the store verifies.
#[test]
fn sigkills_under_http_and_mqtt_load_lose_nothing_acknowledged() {
    sigkills_under_load(None);
}

/// The same with the park on PostgreSQL (the restarted server takes over the killed one's
/// writer lease); SKIPPED when PostgreSQL is unreachable outside CI.
#[test]
fn sigkills_under_load_on_postgres_lose_nothing_acknowledged() {
    let Some(url) = common::pg::url() else { return };
    let schema = common::pg::Schema::new(&url, "fault");
    sigkills_under_load(Some(&schema.store_url()));
}

/// SIGKILLs of `tanji serve` under HTTP (and MQTT, when the broker runs) load; the park on
/// PostgreSQL when `store` is given.
fn sigkills_under_load(store: Option<&str>) {
    let mqtt = broker_up();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("fault-kill-{}-{nanos}", std::process::id());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    let sim = tmp.path().join("sim");
    let mut init = vec!["init", "--dir", s(&dir), "--park", &name];
    init.extend(store.iter().flat_map(|url| ["--store", *url]));
    tanji(init).ok();
    let uploads_file = common::simulate(&dir, &sim, 12, 40, 21, common::SIM_START);
    let park = SimPark {
        tmp,
        dir,
        sim,
        uploads: uploads_file,
    };
    let uploads = read_uploads(&park);
    // A third of the devices upload over MQTT (when the broker runs), the rest over HTTP.
    let devices: BTreeSet<String> = uploads.iter().map(|u| u.key.0.clone()).collect();
    let over_mqtt: BTreeSet<String> = if mqtt {
        devices.iter().step_by(3).cloned().collect()
    } else {
        BTreeSet::new()
    };
    let (by_mqtt, by_http): (Vec<Upload>, Vec<Upload>) = uploads
        .iter()
        .cloned()
        .partition(|u| over_mqtt.contains(&u.key.0));
    let config = park.tmp.path().join("tanji.toml");
    let mut text = String::from("[batch]\nwindow_ms = 20\n");
    if mqtt {
        text.push_str("\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n");
    }
    std::fs::write(&config, text).unwrap();

    let acks: Acks = Arc::default();
    let devices_client = mqtt.then(|| Arc::new(MqttDevices::connect(&name)));
    let status =
        mqtt.then(|| subscriber(&format!("{name}-status"), &format!("tanji/{name}/status")));
    let mut rng = Rng(0x5eed_f417);
    let mut kills = 0;
    let mut under_load = 0;
    for round in 0..=KILLS {
        let mut server = serve(&park.dir, s(&config), &[]);
        if round == 0 {
            if let Some((_, rx)) = &status {
                // The server's persistent session exists from here on: messages published
                // while it is down wait for it at the broker.
                wait_online(rx);
            }
        }
        let stop = Arc::new(AtomicBool::new(false));
        let http = {
            let (addr, mine, acks) = (server.addr.clone(), by_http.clone(), Arc::clone(&acks));
            std::thread::spawn(move || http_loader(addr, mine, acks))
        };
        let mqtt_thread = devices_client.as_ref().map(|c| {
            let (c, mine, acks, stop) = (
                Arc::clone(c),
                by_mqtt.clone(),
                Arc::clone(&acks),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || c.run(&mine, &acks, &stop))
        });
        if round < KILLS {
            std::thread::sleep(Duration::from_millis(100 + rng.below(600)));
            let pending = |mine: &[Upload]| {
                let acks = acks.lock().unwrap();
                mine.iter().filter(|u| !acks.contains_key(&u.key)).count()
            };
            // Count the kills that land while both transports still have records to send.
            if pending(&by_http) > 0 && (!mqtt || pending(&by_mqtt) > 0) {
                under_load += 1;
            }
            kill9(&mut server);
            kills += 1;
            stop.store(true, Ordering::SeqCst);
            http.join().unwrap();
            if let Some(t) = mqtt_thread {
                t.join().unwrap();
            }
            // The store opens and verifies after every kill.
            verify(&park.dir).ok();
        } else {
            let start = Instant::now();
            http.join().unwrap();
            if let Some(t) = mqtt_thread {
                // The last round ends when every MQTT record is answered.
                while !t.is_finished() {
                    assert!(start.elapsed() < HANG, "MQTT records left unanswered");
                    std::thread::sleep(Duration::from_millis(50));
                }
                t.join().unwrap();
            }
            server.stop();
        }
    }
    assert_eq!(kills, KILLS);
    assert!(
        under_load >= KILLS / 2,
        "only {under_load} of {KILLS} kills landed under load"
    );
    let acked = acks.lock().unwrap().len();
    assert_eq!(acked, uploads.len(), "every record acknowledged in the end");
    assert_all_logged_once(&park.dir, &uploads, &acks);
    let v = verify(&park.dir).ok();
    assert!(v.stdout.contains("OK"), "{}", v.stdout);
    if let Some((client, _)) = status {
        common::net::clear_status(&client, &name);
    }
    eprintln!(
        "{KILLS} SIGKILLs ({under_load} under load on both transports): {} records over HTTP, {} over MQTT{}, all logged once",
        by_http.len(),
        by_mqtt.len(),
        if mqtt { "" } else { " (SKIPPED: no broker)" }
    );
}

/// A tmpfs of `bytes` mounted at `at`, unmounted on drop; `None` (with the reason) where the
/// machine does not allow mounting.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, bytes: u64) -> Result<Self, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes}"),
                "tmpfs",
                s(at),
            ])
            .output()
            .map_err(|e| format!("mount not runnable: {e}"))?;
        if out.status.success() {
            Ok(Self(at.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l", s(&self.0)])
            .status();
    }
}

/// The park's disk fills under uploads: each refused upload is a 503 `storage_full` with
/// `Retry-After`, the checkpoint and queries still answer, and after space is freed the rest
/// are accepted by the same server. Every acknowledged record is logged once and the store
/// verifies.
#[test]
fn a_full_disk_refuses_uploads_retryably_and_recovers_without_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk");
    let mount = match Tmpfs::mount(&disk, 64 << 20) {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED: this machine does not allow mounting a tmpfs ({why})");
            return;
        }
    };
    let dir = disk.join("park");
    let sim = tmp.path().join("sim");
    tanji(["init", "--dir", s(&dir), "--park", "full-disk"]).ok();
    let uploads_file = common::simulate(&dir, &sim, 3, 10, 33, common::SIM_START);
    let park = SimPark {
        tmp,
        dir,
        sim,
        uploads: uploads_file,
    };
    let uploads = read_uploads(&park);
    let config = park.tmp.path().join("tanji.toml");
    std::fs::write(&config, "[batch]\nwindow_ms = 5\n").unwrap();
    let server = serve(&park.dir, s(&config), &[]);
    let acks: Acks = Arc::default();

    // Fill the disk but for 96 KiB: a few records fit, then it is full.
    let free = |path: &Path| -> u64 {
        let st = rustix::fs::statvfs(path).unwrap();
        st.f_bavail * st.f_frsize
    };
    let filler = disk.join("filler");
    let room = free(&disk).saturating_sub(96 << 10);
    std::fs::write(&filler, vec![0u8; room as usize]).unwrap();

    let mut refused = 0;
    let mut sent = 0;
    for u in &uploads {
        let res = post(&server.addr, &u.json).expect("the server stays up on a full disk");
        sent += 1;
        if res.status == 503 {
            let msg = res.error(503, "storage_full");
            assert!(msg.contains("disk is full"), "{msg}");
            assert!(res.retry_after() > 0);
            refused += 1;
            if refused >= 3 {
                break;
            }
            continue;
        }
        assert_eq!(res.status, 200, "{res:?}");
        let answer = &res.json()[0];
        assert_eq!(answer["status"], "accepted", "{answer}");
        acks.lock()
            .unwrap()
            .entry(u.key.clone())
            .or_default()
            .insert(answer["index"].as_u64().unwrap());
    }
    assert_eq!(refused, 3, "the disk never filled after {sent} uploads");
    // Reads go on.
    let cp = common::net::http(&server.addr, "GET", "/checkpoint", "", "");
    assert_eq!(cp.status, 200, "{cp:?}");

    // Space is freed: the same server accepts the rest (refused ones are sent again).
    std::fs::remove_file(&filler).unwrap();
    for u in &uploads {
        if acks.lock().unwrap().contains_key(&u.key) {
            continue;
        }
        let start = Instant::now();
        loop {
            let res = post(&server.addr, &u.json).expect("the server is up");
            if res.status == 503 {
                // Retryable: a batch may still be failing over from the full disk.
                assert!(
                    start.elapsed() < HANG,
                    "still refused after space was freed"
                );
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            assert_eq!(res.status, 200, "{res:?}");
            let answer = &res.json()[0];
            let status = answer["status"].as_str().unwrap();
            assert!(status == "accepted" || status == "duplicate", "{answer}");
            acks.lock()
                .unwrap()
                .entry(u.key.clone())
                .or_default()
                .insert(answer["index"].as_u64().unwrap());
            break;
        }
    }
    server.stop();
    assert_all_logged_once(&park.dir, &uploads, &acks);
    verify(&park.dir).ok();
    drop(park);
    drop(mount);
}
