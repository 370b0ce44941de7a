//! The gateway end to end: simulated meters → the `tanji-gateway` binary → HTTP → the park's
//! server; power cuts (SIGKILL) with the park reachable and not; a day's outage; a park that
//! forks its log.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use rand::{Rng, SeedableRng};

/// Waits (bounded) until the park holds uploads covering both meters up to `end`.
async fn wait_for_park(
    dir: &std::path::Path,
    end: i64,
    bound: Duration,
) -> Vec<(u64, tanji_readings::SignedUpload)> {
    let t0 = Instant::now();
    loop {
        let uploads = logged_uploads(dir);
        let covered = [DLT_METER, PV_METER].iter().all(|m| {
            uploads.iter().any(|(_, u)| {
                u.body
                    .channels
                    .iter()
                    .any(|c| c.meter == *m && c.end().unwrap() >= end)
            })
        });
        if covered {
            return uploads;
        }
        assert!(
            t0.elapsed() < bound,
            "the park did not get intervals up to {end} within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until the gateway has checked and forgotten `n` records.
async fn wait_acked(dir: &std::path::Path, n: usize) {
    let t0 = Instant::now();
    while outbox(dir).acked().unwrap().len() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "{n} records logged but not acknowledged: {}",
            gateway_log(dir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Meters whose energy grows only inside a window that lies between two boundary reads: the
/// park's logged energy per meter must equal the registers' growth, to the Wh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_to_park_energy_matches() {
    let park = ParkUnderTest::start().await;
    let clock = SimClock::starting(START - 300, 300.0);
    // DL/T 645: 0.01 kWh secondary counts, one per 9 s; × CT 40 → 400 Wh a count.
    let dlt = Growth {
        base: 1_234_500,
        from: START + 1200,
        to: START + 3000,
        per_s: 1,
        div: 9,
    };
    // PV: a Wh register, 5 Wh a second.
    let pv = Growth {
        base: 7_000_000,
        from: START + 1200,
        to: START + 3000,
        per_s: 5,
        div: 1,
    };
    let dlt_addr = dlt645_meter(clock, dlt).await;
    let pv_addr = modbus_inverter(clock, pv).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}", park.addr);
    let cfg = gateway_config(
        dir.path(),
        &url,
        &park.vkey,
        clock,
        &dlt_addr,
        &pv_addr,
        "poll_s = 30\nboundary_tolerance_s = 450",
    );
    let mut gw = spawn_gateway(dir.path(), &cfg);
    let uploads = wait_for_park(park.dir.path(), START + 5 * 900, Duration::from_secs(90)).await;
    wait_acked(dir.path(), uploads.len()).await;
    gw.kill().unwrap();
    gw.wait().unwrap();
    let log = gateway_log(dir.path());
    let (energy, _) = check_chain(&uploads);
    let dlt_wh = (dlt.at(dlt.to) - dlt.at(dlt.from)) as i64 * 400;
    let pv_wh = (pv.at(pv.to) - pv.at(pv.from)) as i64;
    assert_eq!((dlt_wh, pv_wh), (80_000, 9_000));
    assert_eq!(energy.get(DLT_METER), Some(&dlt_wh), "{log}");
    assert_eq!(energy.get(PV_METER), Some(&pv_wh), "{log}");
    // Every interval is 900 s (no read missed) and they are contiguous from the first.
    for (_, u) in &uploads {
        assert!(u.body.channels.iter().all(|c| c.interval_s == 900), "{log}");
    }
    let ob = outbox(dir.path());
    assert_eq!(ob.refused_count().unwrap(), 0);
    eprintln!(
        "end to end: {} records, DL/T 645 {} Wh and PV {} Wh logged, equal to the registers",
        uploads.len(),
        dlt_wh,
        pv_wh
    );
    park.stop().await;
}

/// Both meters on serial lines (pseudo-terminals): the DL/T 645 meter at 2400 baud 8E1, its
/// register rolling over mid-test, and the inverter as Modbus RTU at 9600 baud 8N1. The same
/// exact energy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_on_serial_lines() {
    let park = ParkUnderTest::start().await;
    let clock = SimClock::starting(START - 300, 300.0);
    let dlt = Growth {
        base: 99_999_900,
        from: START + 1200,
        to: START + 3000,
        per_s: 1,
        div: 9,
    };
    let pv = Growth {
        base: 4_294_960_000,
        from: START + 1200,
        to: START + 3000,
        per_s: 11,
        div: 1,
    };
    let (dlt_tty, _keep) = dlt645_meter_on_pty(clock, dlt);
    let (pv_tty, _keep_pv) = modbus_rtu_on_pty(clock, pv);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}", park.addr);
    let cfg = gateway_config(
        dir.path(),
        &url,
        &park.vkey,
        clock,
        "dlt-line",
        "pv-line",
        "poll_s = 30\nboundary_tolerance_s = 450",
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(
            "tcp = \"dlt-line\"",
            &format!("serial = {{ path = \"{dlt_tty}\", baud = 2400, parity = \"even\" }}"),
        )
        .replace(
            "tcp = \"pv-line\"",
            &format!("serial = {{ path = \"{pv_tty}\", baud = 9600, parity = \"none\" }}"),
        );
    std::fs::write(&cfg, text).unwrap();
    let mut gw = spawn_gateway(dir.path(), &cfg);
    let uploads = wait_for_park(park.dir.path(), START + 5 * 900, Duration::from_secs(90)).await;
    gw.kill().unwrap();
    gw.wait().unwrap();
    let log = gateway_log(dir.path());
    let (energy, _) = check_chain(&uploads);
    // 200 counts of 400 Wh, across the DL/T 645 register's rollover at 10^8 counts
    // (999999.99 kWh); 19,800 Wh across the u32 Wh register's rollover at 2^32.
    assert_eq!(energy.get(DLT_METER), Some(&80_000), "{log}");
    assert_eq!(energy.get(PV_METER), Some(&19_800), "{log}");
    park.stop().await;
}

/// The same over MQTT: the gateway publishes to Mosquitto, the park's server takes the
/// uploads from there and answers on the device's ack topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_to_park_over_mqtt() {
    if !broker_up() {
        return;
    }
    let topic_park = format!("gwtest{}", rand::random::<u32>());
    let park = ParkUnderTest::start_with(&format!(
        "[mqtt]\nurl = \"mqtt://{BROKER}\"\npark = \"{topic_park}\"\n"
    ))
    .await;
    let clock = SimClock::starting(START - 300, 300.0);
    let dlt = Growth {
        base: 5_000,
        from: START + 1200,
        to: START + 3000,
        per_s: 1,
        div: 9,
    };
    let pv = Growth {
        base: 0,
        from: START + 1200,
        to: START + 3000,
        per_s: 7,
        div: 1,
    };
    let dlt_addr = dlt645_meter(clock, dlt).await;
    let pv_addr = modbus_inverter(clock, pv).await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}", park.addr);
    let cfg = gateway_config(
        dir.path(),
        &url,
        &park.vkey,
        clock,
        &dlt_addr,
        &pv_addr,
        "poll_s = 30\nboundary_tolerance_s = 450",
    );
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "timeout_s = 2",
        &format!("timeout_s = 5\nmqtt = \"mqtt://{BROKER}\"\nmqtt_park = \"{topic_park}\""),
    );
    std::fs::write(&cfg, text).unwrap();
    let mut gw = spawn_gateway(dir.path(), &cfg);
    let uploads = wait_for_park(park.dir.path(), START + 5 * 900, Duration::from_secs(90)).await;
    wait_acked(dir.path(), uploads.len()).await;
    gw.kill().unwrap();
    gw.wait().unwrap();
    let log = gateway_log(dir.path());
    let (energy, _) = check_chain(&uploads);
    assert_eq!(energy.get(DLT_METER), Some(&(200 * 400)), "{log}");
    assert_eq!(energy.get(PV_METER), Some(&(1800 * 7)), "{log}");

    park.stop().await;
}

/// Every Wh the gateway read is accounted for: logged at the park, in a record still in the
/// outbox, in an interval waiting for a record, or journaled in a gap (reads missed while
/// the gateway was down) — so the sum of all four is the register's last committed read minus
/// a value the meter served (the first committed read). `meters`: id, simulator address, Wh
/// per register count.
fn no_reading_lost(
    ob: &mut tanji_gateway::outbox::Outbox,
    uploads: &[(u64, tanji_readings::SignedUpload)],
    meters: &[(&str, &str, u64)],
    log: &str,
) {
    // A record reserved when the power was cut is signed at the next start; do it here.
    ob.sign_reserved(&tanji_readings::SigningKey::Ed25519(device_key()))
        .unwrap();
    let logged = uploads.len() as u64;
    let waiting = ob.unsent(1_000_000).unwrap();
    let events = ob.events().unwrap();
    let pending = ob.pending().unwrap();
    for (meter, addr, wh) in meters {
        let mut total: i128 = 0;
        let in_records = uploads
            .iter()
            .map(|(_, u)| &u.body)
            .chain(waiting.iter().map(|u| &u.body).filter(|b| b.seq > logged));
        for body in in_records {
            for c in body.channels.iter().filter(|c| c.meter == *meter) {
                total += c.values.iter().map(|v| i128::from(*v)).sum::<i128>();
            }
        }
        total += pending
            .iter()
            .filter(|p| p.meter == *meter)
            .map(|p| i128::from(p.value))
            .sum::<i128>();
        for (_, kind, message) in &events {
            if kind == "gap" && message.starts_with(&format!("meter {meter}:")) {
                let energy = message
                    .split("; ")
                    .nth(1)
                    .and_then(|m| m.split(' ').next())
                    .and_then(|n| n.parse::<i128>().ok())
                    .unwrap_or_else(|| panic!("a gap other than missed reads: {message}"));
                total += energy;
            }
        }
        let last = ob.accumulator(meter).unwrap().unwrap().last.unwrap().value;
        let first = last - total;
        let gaps = events
            .iter()
            .filter(|(_, k, m)| k == "gap" && m.starts_with(&format!("meter {meter}:")))
            .count();
        eprintln!("meter {meter}: {total} Wh read, all accounted for ({gaps} gaps journaled, {} intervals pending)", pending.iter().filter(|p| p.meter == *meter).count());
        assert!(
            served(addr).iter().any(|v| i128::from(*v) * i128::from(*wh) == first),
            "meter {meter}: {total} accounted for up to the last read {last}; {first} is no value the meter served: {log}"
        );
    }
}

/// SIGKILL the gateway at random moments, 12 times with the park cut off and 12 times with it
/// reachable: afterwards every record sealed is logged once, in order, the chain unbroken
/// (so no sequence number was signed over two bodies), nothing left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_cuts_lose_nothing_and_reuse_no_seq() {
    let park = ParkUnderTest::start().await;
    let clock = SimClock::starting(START - 100, 900.0);
    let dlt = Growth {
        base: 10,
        from: START,
        to: START + 86_400,
        per_s: 1,
        div: 9,
    };
    let pv = Growth {
        base: 0,
        from: START,
        to: START + 86_400,
        per_s: 3,
        div: 1,
    };
    let dlt_addr = dlt645_meter(clock, dlt).await;
    let pv_addr = modbus_inverter(clock, pv).await;
    let proxy = Proxy::start(park.addr.clone(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(
        dir.path(),
        &proxy.url,
        &park.vkey,
        clock,
        &dlt_addr,
        &pv_addr,
        "poll_s = 20\nboundary_tolerance_s = 300",
    );
    let seed: u64 = rand::random();
    eprintln!("power cuts: seed {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    for k in 0..24 {
        proxy.set_up(k >= 12);
        let mut gw = spawn_gateway(dir.path(), &cfg);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(30..900))).await;
        gw.kill().unwrap();
        gw.wait().unwrap();
    }
    // Power back for good: run until everything sealed so far is logged, and one more.
    proxy.set_up(true);
    let sealed_before = outbox(dir.path()).next_seq().unwrap() - 1;
    assert!(sealed_before >= 5, "{}", gateway_log(dir.path()));
    let mut gw = spawn_gateway(dir.path(), &cfg);
    let t0 = Instant::now();
    while (logged_uploads(park.dir.path()).len() as u64) <= sealed_before {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "backlog not delivered: {}",
            gateway_log(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw.kill().unwrap();
    gw.wait().unwrap();
    let log = gateway_log(dir.path());
    let uploads = logged_uploads(park.dir.path());
    check_chain(&uploads);
    let mut ob = outbox(dir.path());
    assert_eq!(ob.refused_count().unwrap(), 0, "{log}");
    let sealed = ob.next_seq().unwrap() - 1;
    // Every record sealed is logged (seqs 1..=L, checked above) or still in the outbox.
    let waiting = ob.seqs().unwrap();
    for seq in uploads.len() as u64 + 1..=sealed {
        assert!(
            waiting.contains(&seq),
            "record {seq} is neither logged nor in the outbox: {log}"
        );
    }
    assert!(
        !log.contains("park_fault") && !log.contains("refused by the park"),
        "{log}"
    );
    no_reading_lost(
        &mut ob,
        &uploads,
        &[(DLT_METER, &dlt_addr, 400), (PV_METER, &pv_addr, 1)],
        &log,
    );
    eprintln!(
        "power cuts: 24 kills in {:?}; {} records sealed, {} logged in order",
        started.elapsed(),
        sealed,
        uploads.len()
    );
    park.stop().await;
}

/// The park unreachable for a simulated day: the backlog waits in the outbox and is
/// delivered, in order, once the park is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_backlog_delivered_in_order() {
    let park = ParkUnderTest::start().await;
    let speed = 3600.0;
    let clock = SimClock::starting(START - 60, speed);
    let dlt = Growth {
        base: 10,
        from: START,
        to: START + 2 * 86_400,
        per_s: 1,
        div: 9,
    };
    let pv = Growth {
        base: 0,
        from: START,
        to: START + 2 * 86_400,
        per_s: 3,
        div: 1,
    };
    let dlt_addr = dlt645_meter(clock, dlt).await;
    let pv_addr = modbus_inverter(clock, pv).await;
    let proxy = Proxy::start(park.addr.clone(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(
        dir.path(),
        &proxy.url,
        &park.vkey,
        clock,
        &dlt_addr,
        &pv_addr,
        "poll_s = 30\nboundary_tolerance_s = 300\n",
    );
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("timeout_s = 2", "timeout_s = 2\nretry_max_s = 0.5"),
    )
    .unwrap();
    let mut gw = spawn_gateway(dir.path(), &cfg);
    clock.until(START + 86_400).await;
    assert!(logged_uploads(park.dir.path()).is_empty());
    let backlog = outbox(dir.path()).backlog().unwrap();
    assert!(
        backlog >= 80,
        "a day is 96 intervals; {backlog} records waiting: {}",
        gateway_log(dir.path())
    );
    proxy.set_up(true);
    let t0 = Instant::now();
    loop {
        if logged_uploads(park.dir.path()).len() as u64 >= backlog {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "backlog not delivered: {}",
            gateway_log(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    gw.kill().unwrap();
    gw.wait().unwrap();
    let uploads = logged_uploads(park.dir.path());
    let (_, end) = check_chain(&uploads);
    assert!(end >= START + 86_400 - 3600);
    eprintln!(
        "outage: a simulated day's backlog of {backlog} records delivered in order in {took:?} ({:.0} records/s, including the first retry)",
        backlog as f64 / took.as_secs_f64()
    );
    park.stop().await;
}

/// A fake park that answers the first upload from one tree and later ones from another whose
/// first leaf differs: valid signatures and inclusion proofs, but no consistency between the
/// two. The gateway must detect it, journal it, stop with status 3 and keep the records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forking_park_is_detected() {
    let fake = fake::ForkingPark::start().await;
    let clock = SimClock::starting(START - 100, 900.0);
    let g = Growth {
        base: 0,
        from: START,
        to: START + 86_400,
        per_s: 1,
        div: 1,
    };
    let dlt_addr = dlt645_meter(clock, g).await;
    let pv_addr = modbus_inverter(clock, g).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = gateway_config(
        dir.path(),
        &fake.url,
        &fake.vkey,
        clock,
        &dlt_addr,
        &pv_addr,
        "poll_s = 20\nboundary_tolerance_s = 300",
    );
    let mut gw = spawn_gateway(dir.path(), &cfg);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = gw.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            gw.kill().unwrap();
            panic!("the fork was not detected: {}", gateway_log(dir.path()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = gateway_log(dir.path());
    assert_eq!(status.code(), Some(3), "{log}");
    assert!(log.contains("does not extend the one of size"), "{log}");
    let ob = outbox(dir.path());
    let events = ob.events().unwrap();
    assert!(
        events.iter().any(|(_, kind, _)| kind == "park_fault"),
        "{events:?}"
    );
    assert!(
        ob.backlog().unwrap() >= 1,
        "the record answered from the forked tree is kept"
    );
    assert!(
        !ob.acked().unwrap().is_empty(),
        "the first answer was acknowledged"
    );
}

mod fake {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use std::sync::{Arc, Mutex};
    use tanji_ledger::{
        consistency_proof, inclusion_proof, leaf_hash, sign_checkpoint, Checkpoint, MemoryTree,
        NoteSigner,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    pub struct ForkingPark {
        pub url: String,
        pub vkey: String,
    }

    struct State {
        signer: NoteSigner,
        tree: MemoryTree,
        requests: usize,
    }

    impl State {
        fn note(&self) -> String {
            let cp = Checkpoint {
                origin: "fake/park".into(),
                size: self.tree.size(),
                root: self.tree.root(),
                extensions: vec![],
            };
            sign_checkpoint(&cp, &self.signer).unwrap()
        }

        fn answer(&mut self, path: &str, body: &str) -> String {
            if path.starts_with("/api/v1/uploads") {
                self.requests += 1;
                if self.requests == 2 {
                    // The fork: a tree whose first leaf is another.
                    self.tree = MemoryTree::new();
                    self.tree.push(leaf_hash(b"\x01not the device's record"));
                }
                let records: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
                let mut indices = Vec::new();
                for r in &records {
                    let u = tanji_readings::parse_json_upload(&r.to_string()).unwrap();
                    indices.push(self.tree.size());
                    self.tree.push(leaf_hash(&u.to_entry_bytes()));
                }
                let size = self.tree.size();
                let note = self.note();
                let answers: Vec<serde_json::Value> = indices
                    .into_iter()
                    .map(|i| {
                        let proof: Vec<String> = inclusion_proof(&self.tree, i, size)
                            .unwrap()
                            .iter()
                            .map(|h| BASE64.encode(h))
                            .collect();
                        serde_json::json!({"status": "accepted", "index": i, "tree_size": size,
                                           "proof": proof, "checkpoint": note})
                    })
                    .collect();
                serde_json::to_string(&answers).unwrap()
            } else {
                // /api/v1/proof/consistency?from=A&to=B
                let q: std::collections::HashMap<&str, u64> = path
                    .split_once('?')
                    .unwrap()
                    .1
                    .split('&')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap();
                        (k, v.parse().unwrap())
                    })
                    .collect();
                let (from, to) = (q["from"], q["to"]);
                let proof: Vec<String> = consistency_proof(&self.tree, from, to)
                    .unwrap()
                    .iter()
                    .map(|h| BASE64.encode(h))
                    .collect();
                serde_json::json!({"from": from, "to": to, "from_root": "", "to_root": "", "proof": proof})
                    .to_string()
            }
        }
    }

    impl ForkingPark {
        pub async fn start() -> ForkingPark {
            let signer =
                NoteSigner::new("fake/park", ed25519_dalek::SigningKey::from_bytes(&[9; 32]))
                    .unwrap();
            let vkey = signer.verifier().to_string();
            let state = Arc::new(Mutex::new(State {
                signer,
                tree: MemoryTree::new(),
                requests: 0,
            }));
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = listener.accept().await else {
                        return;
                    };
                    let state = state.clone();
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        let (head_len, body_len) = loop {
                            let n = s.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                                let len = head
                                    .lines()
                                    .find_map(|l| l.strip_prefix("content-length:"))
                                    .map_or(0, |v| v.trim().parse().unwrap());
                                break (p + 4, len);
                            }
                        };
                        while buf.len() < head_len + body_len {
                            let n = s.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                return;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        let head = String::from_utf8_lossy(&buf[..head_len]).to_string();
                        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                        let body = String::from_utf8_lossy(&buf[head_len..]).to_string();
                        let answer = state.lock().unwrap().answer(&path, &body);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                            answer.len()
                        );
                        let _ = s.write_all(reply.as_bytes()).await;
                    });
                }
            });
            ForkingPark { url, vkey }
        }
    }
}
