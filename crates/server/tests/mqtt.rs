//! MQTT ingest end to end against the real broker (Mosquitto on 127.0.0.1:1883): a device
//! publishes signed uploads on `tanji/<park>/<device>/up`, the server answers on `…/ack` with
//! the HTTP answer once the record is durable, the record is in the log with a proof that
//! verifies, a redelivered message is answered `duplicate` and not logged twice, and the server
//! reconnects (and gets what was published meanwhile) after its connection is cut or after it
//! was stopped and started again.
//!
//! No message stops ingest: a message over the size limit is refused, answered, acknowledged
//! and counted while the next device's upload is logged, and it is not delivered again after a
//! restart. A QoS 0 flood keeps the messages handled at once within `[mqtt] max_in_flight`
//! (QoS 1 messages beyond it wait and are all answered), and the server still stops.
//!
//! The server reaches the broker through a TCP relay the test can cut. Each run uses its own
//! park name, so its topics are its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::Value;
use tanji_ledger::{leaf_hash, open_checkpoint, verify_inclusion, NoteVerifier};
use tanji_park::Park;
use tanji_readings::{upload_to_json, LogEntry, SignedUpload};
use tanji_server::{Config, Server, ServerError};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_store::Store;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const BROKER: &str = "127.0.0.1:1883";
/// 2026-01-01T00:00:00Z.
const START: i64 = 1_767_225_600;
/// The longest any one answer may take before the test fails (not a timing assertion: a
/// bound so that a broken server fails the test instead of hanging it).
const PATIENCE: Duration = Duration::from_secs(10);

/// Whether the broker is reachable; in CI its absence fails the test.
async fn broker_up() -> bool {
    let up = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(BROKER))
        .await
        .is_ok_and(|c| c.is_ok());
    if !up {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Mosquitto not reachable at {BROKER} (CI=true: the broker must run)"
        );
        eprintln!("SKIPPED: Mosquitto not reachable at {BROKER}");
    }
    up
}

/// A TCP relay to the broker whose connections can be cut.
struct Relay {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Relay {
    async fn start() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let held = Arc::clone(&conns);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(BROKER).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                held.lock().unwrap().push(task);
            }
        });
        Relay {
            addr,
            conns,
            accept,
        }
    }

    /// Drops every open connection (both sides see the TCP connection close).
    fn cut(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// A device (or observer) connected to the broker: its client and incoming publishes.
struct Device {
    client: AsyncClient,
    rx: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: JoinHandle<()>,
}

impl Device {
    async fn connect(id: &str, topics: &[String]) -> Device {
        let mut options = MqttOptions::new(id, "127.0.0.1", 1883);
        options.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events): (AsyncClient, EventLoop) = AsyncClient::new(options, 64);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (subscribed_tx, subscribed) = oneshot::channel();
        let mut subscribed_tx = Some(subscribed_tx);
        for t in topics {
            client.subscribe(t.clone(), QoS::AtLeastOnce).await.unwrap();
        }
        let mut subacks = topics.len();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic, p.payload.to_vec()));
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subacks = subacks.saturating_sub(1);
                        if subacks == 0 {
                            if let Some(s) = subscribed_tx.take() {
                                let _ = s.send(());
                            }
                        }
                    }
                    Ok(_) => {}
                    // Disconnected (by the test, at its end): `next_on` says so if awaited.
                    Err(_) => return,
                }
            }
        });
        tokio::time::timeout(PATIENCE, subscribed)
            .await
            .expect("no SUBACK from the broker")
            .unwrap();
        Device { client, rx, task }
    }

    async fn publish(&self, topic: &str, payload: &str) {
        self.client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .unwrap();
    }

    /// The next message on `topic` (others are skipped), as JSON.
    async fn next_on(&mut self, topic: &str) -> Value {
        loop {
            let (t, payload) = tokio::time::timeout(PATIENCE, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("nothing on {topic} within {PATIENCE:?}"))
                .expect("the test client lost its connection to the broker");
            if t == topic && !payload.is_empty() {
                return serde_json::from_slice(&payload).unwrap();
            }
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks an `accepted`/`duplicate` answer against the log's key and returns its index.
fn check_logged(answer: &Value, upload: &SignedUpload, vkey: &str) -> u64 {
    let verifier = vkey.parse::<NoteVerifier>().unwrap();
    let cp = open_checkpoint(answer["checkpoint"].as_str().unwrap(), &verifier).unwrap();
    let size = answer["tree_size"].as_u64().unwrap();
    assert_eq!(cp.size, size);
    let index = answer["index"].as_u64().unwrap();
    let proof: Vec<[u8; 32]> = answer["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            base64::engine::general_purpose::STANDARD
                .decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let leaf = leaf_hash(&LogEntry::Upload(upload.clone()).to_bytes());
    verify_inclusion(&leaf, index, size, &proof, &cp.root).unwrap();
    index
}

/// Starts a server on `dir`; its state, its stop switch and its task.
async fn serve(
    dir: &std::path::Path,
    config: Config,
) -> (
    tanji_server::AppState,
    oneshot::Sender<()>,
    JoinHandle<Result<(), ServerError>>,
) {
    let server = Server::open(dir, config).unwrap();
    let state = server.state().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(tanji_server::run(listener, server, async move {
        let _ = stopped.await;
    }));
    (state, stop, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_acknowledge_log_redeliver_reconnect() {
    if !broker_up().await {
        return;
    }
    // A park of its own: two simulated devices, four days of uploads.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("mqtt-test-{}-{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let sim = SimPark::generate(ParkSpec {
        seed: 5,
        enterprises: 2,
        start_day: START,
        days: 4,
    });
    let (vkey, registered) = {
        let mut park = Park::create(dir.path(), &name, None).unwrap();
        park.register(&sim.registrations(START - 86_400)).unwrap();
        (park.verifier().to_string(), park.size())
    };
    // Uploads of device 0 (day 1..3), then of device 1.
    let uploads: Vec<SignedUpload> = sim.uploads().collect();
    let dev = sim.devices[0].device.clone();
    let other = sim.devices[1].device.clone();
    let mine: Vec<&SignedUpload> = uploads.iter().filter(|u| u.body.device == dev).collect();
    let theirs = uploads.iter().find(|u| u.body.device == other).unwrap();
    assert_eq!(mine.len(), 4);

    let up = format!("tanji/{name}/{dev}/up");
    let ack = format!("tanji/{name}/{dev}/ack");
    let status = format!("tanji/{name}/status");
    let mut device =
        Device::connect(&format!("{name}-{dev}"), &[ack.clone(), status.clone()]).await;

    // The server, through a relay the test can cut.
    let relay = Relay::start().await;
    let config = Config::parse(
        &format!(
            "[batch]\nwindow_ms = 20\n\n[mqtt]\nurl = \"mqtt://{}\"\n",
            relay.addr
        ),
        "test config",
    )
    .unwrap();
    let (state, stop, running) = serve(dir.path(), config.clone()).await;

    // Online (retained) once subscribed, with the log size.
    let s = device.next_on(&status).await;
    assert_eq!(s["status"], "online", "{s}");
    assert_eq!(s["log_size"], registered);

    // Publish: answered once durable, with the HTTP answer; the record is in the log.
    device.publish(&up, &upload_to_json(mine[0])).await;
    let a = device.next_on(&ack).await;
    assert_eq!(a["status"], "accepted", "{a}");
    assert_eq!(check_logged(&a, mine[0], &vkey), registered);
    assert_eq!(state.head().size, registered + 1);

    // The same message again (as a redelivery after a lost PUBACK): `duplicate`, pointing at
    // the first copy; the log does not grow.
    device.publish(&up, &upload_to_json(mine[0])).await;
    let a = device.next_on(&ack).await;
    assert_eq!(a["status"], "duplicate", "{a}");
    assert_eq!(check_logged(&a, mine[0], &vkey), registered);
    assert_eq!(state.head().size, registered + 1);

    // An array in, an array of answers out, in order.
    device
        .publish(
            &up,
            &format!("[{},{}]", upload_to_json(mine[1]), upload_to_json(theirs)),
        )
        .await;
    let a = device.next_on(&ack).await;
    let answers = a.as_array().unwrap();
    assert_eq!(answers.len(), 2, "{a}");
    assert_eq!(answers[0]["status"], "accepted", "{a}");
    assert_eq!(check_logged(&answers[0], mine[1], &vkey), registered + 1);
    // Another device's record on this device's topic is refused and not logged.
    assert_eq!(answers[1]["status"], "rejected", "{a}");
    assert_eq!(answers[1]["code"], "wrong_topic", "{a}");
    assert_eq!(state.head().size, registered + 2);

    // A payload that is not JSON: the HTTP 400 body, nothing logged.
    device.publish(&up, "not json").await;
    let a = device.next_on(&ack).await;
    assert_eq!(a["error"], "bad_request", "{a}");
    assert!(
        a["message"].as_str().unwrap().contains("not valid JSON"),
        "{a}"
    );
    assert_eq!(state.head().size, registered + 2);

    // Cut the server's connection: the broker announces it offline (its last will); it comes
    // back by itself, and what was published meanwhile reaches it through its session.
    relay.cut();
    let s = device.next_on(&status).await;
    assert_eq!(s["status"], "offline", "{s}");
    device.publish(&up, &upload_to_json(mine[2])).await;
    let a = device.next_on(&ack).await;
    assert_eq!(a["status"], "accepted", "{a}");
    assert_eq!(check_logged(&a, mine[2], &vkey), registered + 2);
    assert_eq!(state.head().size, registered + 3);

    // Graceful stop: offline. What is published while the server is down waits in its
    // session at the broker and is logged when it starts again.
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    loop {
        let s = device.next_on(&status).await;
        if s["status"] == "offline" {
            break;
        }
    }
    device.publish(&up, &upload_to_json(mine[3])).await;
    let (state, stop, running) = serve(dir.path(), config).await;
    let a = device.next_on(&ack).await;
    assert_eq!(a["status"], "accepted", "{a}");
    assert_eq!(check_logged(&a, mine[3], &vkey), registered + 3);
    assert_eq!(state.head().size, registered + 4);
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    // The log holds each record once, as published.
    let park = Park::open(dir.path()).unwrap();
    assert_eq!(park.size(), registered + 4);
    for (k, u) in mine.iter().enumerate() {
        let entry = park.store().entry(registered + k as u64).unwrap();
        assert_eq!(entry, LogEntry::Upload((*u).clone()).to_bytes());
    }
    // Leave no retained status or session behind on the shared broker.
    clear_status(&device, &name).await;
}

/// A fresh park name for one run of a test.
fn park_name(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("mqtt-{test}-{}-{nanos}", std::process::id())
}

/// A park named `name` in `dir` with `enterprises` simulated enterprises registered; the
/// simulation and the log's size.
fn registered_park(dir: &std::path::Path, name: &str, enterprises: usize) -> (SimPark, u64) {
    let sim = SimPark::generate(ParkSpec {
        seed: 7,
        enterprises,
        start_day: START,
        days: 3,
    });
    let mut park = Park::create(dir, name, None).unwrap();
    park.register(&sim.registrations(START - 86_400)).unwrap();
    let size = park.size();
    (sim, size)
}

/// The value of the sample `name` (with its labels, as exposed) in the server's `/metrics`
/// text; 0 if it has none yet.
fn metric(state: &tanji_server::AppState, name: &str) -> f64 {
    let text = state.metrics().render();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// Removes the retained status and the persistent session a test's server left on the shared
/// broker (a clean-session connection with its client id ends the session).
async fn clear_status(device: &Device, name: &str) {
    let mut options = MqttOptions::new(format!("tanji-server-{name}"), "127.0.0.1", 1883);
    options.set_clean_session(true);
    let (client, mut events) = AsyncClient::new(options, 8);
    tokio::time::timeout(PATIENCE, async {
        while !matches!(events.poll().await, Ok(Event::Incoming(Packet::ConnAck(_)))) {}
    })
    .await
    .expect("no CONNACK from the broker");
    client.disconnect().await.unwrap();
    let _ = tokio::time::timeout(PATIENCE, async { while events.poll().await.is_ok() {} }).await;
    device
        .client
        .publish(
            format!("tanji/{name}/status"),
            QoS::AtLeastOnce,
            true,
            Vec::new(),
        )
        .await
        .unwrap();
    device.client.disconnect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_is_refused_acknowledged_and_never_blocks_the_next() {
    if !broker_up().await {
        return;
    }
    let name = park_name("oversized");
    let dir = tempfile::tempdir().unwrap();
    let (sim, registered) = registered_park(dir.path(), &name, 2);
    let uploads: Vec<SignedUpload> = sim.uploads().collect();
    let big_dev = sim.devices[0].device.clone();
    let dev = sim.devices[1].device.clone();
    let mine: Vec<&SignedUpload> = uploads.iter().filter(|u| u.body.device == dev).collect();
    let big_ack = format!("tanji/{name}/{big_dev}/ack");
    let ack = format!("tanji/{name}/{dev}/ack");
    let mut big =
        Device::connect(&format!("{name}-{big_dev}"), std::slice::from_ref(&big_ack)).await;
    let mut device = Device::connect(&format!("{name}-{dev}"), std::slice::from_ref(&ack)).await;

    let config = Config::parse(
        &format!("[batch]\nwindow_ms = 20\n\n[mqtt]\nurl = \"mqtt://{BROKER}\"\n"),
        "test config",
    )
    .unwrap();
    let limit = config.http.max_body_bytes;
    let (state, stop, running) = serve(dir.path(), config.clone()).await;

    // 5 MiB of upload JSON (over the 4 MiB limit) at QoS 1, then another device's upload.
    let record = upload_to_json(uploads.iter().find(|u| u.body.device == big_dev).unwrap());
    let copies = (5 << 20) / (record.len() + 1) + 1;
    let payload = format!("[{}]", vec![record; copies].join(","));
    assert!(payload.len() >= 5 << 20 && payload.len() > limit);
    big.publish(&format!("tanji/{name}/{big_dev}/up"), &payload)
        .await;
    device
        .publish(&format!("tanji/{name}/{dev}/up"), &upload_to_json(mine[0]))
        .await;

    // The next device's upload is logged and acknowledged.
    let a = device.next_on(&ack).await;
    assert_eq!(a["status"], "accepted", "{a}");
    assert_eq!(a["index"], registered, "{a}");
    // The oversized one is answered with the HTTP 413 body, naming its size and the limit.
    let a = big.next_on(&big_ack).await;
    assert_eq!(a["error"], "body_too_large", "{a}");
    let message = a["message"].as_str().unwrap();
    assert!(message.contains(&format!("{} bytes", payload.len())), "{a}");
    assert!(message.contains(&format!("{limit} bytes")), "{a}");
    assert_eq!(state.head().size, registered + 1);
    assert_eq!(
        metric(
            &state,
            r#"tanji_mqtt_refused_total{reason="body_too_large"}"#
        ),
        1.0
    );
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    // Started again: the refused message was acknowledged, so the broker does not deliver it
    // again; the next upload is answered, and nothing more was refused.
    let (state, stop, running) = serve(dir.path(), config).await;
    device
        .publish(&format!("tanji/{name}/{dev}/up"), &upload_to_json(mine[1]))
        .await;
    let a = device.next_on(&ack).await;
    assert_eq!(a["status"], "accepted", "{a}");
    assert_eq!(a["index"], registered + 1, "{a}");
    assert_eq!(
        metric(
            &state,
            r#"tanji_mqtt_refused_total{reason="body_too_large"}"#
        ),
        0.0
    );
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    while let Ok((topic, _)) = big.rx.try_recv() {
        assert_ne!(topic, big_ack, "the oversized message was answered again");
    }
    clear_status(&device, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qos0_flood_stays_within_max_in_flight_and_shutdown_finishes() {
    if !broker_up().await {
        return;
    }
    const FLOOD: usize = 20_000;
    const BOUND: usize = 4;
    let name = park_name("flood");
    let dir = tempfile::tempdir().unwrap();
    let (sim, _) = registered_park(dir.path(), &name, 1);
    let dev = sim.devices[0].device.clone();
    let config = Config::parse(
        &format!(
            "[mqtt]\nurl = \"mqtt://{BROKER}\"\nmax_in_flight = {BOUND}\nshutdown_ms = 5000\n"
        ),
        "test config",
    )
    .unwrap();
    let status = format!("tanji/{name}/status");
    let mut observer =
        Device::connect(&format!("{name}-observer"), std::slice::from_ref(&status)).await;
    let (state, stop, running) = serve(dir.path(), config).await;
    let s = observer.next_on(&status).await;
    assert_eq!(s["status"], "online", "{s}");

    // A device floods its topic with small malformed QoS 0 messages.
    let up = format!("tanji/{name}/{dev}/up");
    let mut options = MqttOptions::new(format!("{name}-flood"), "127.0.0.1", 1883);
    options.set_max_packet_size(1 << 16, 1 << 16);
    let (client, mut events) = AsyncClient::new(options, 1024);
    let polling = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    let flood = tokio::spawn(async move {
        for i in 0..FLOOD {
            let payload = format!("not json {i}").into_bytes();
            if client
                .publish(&up, QoS::AtMostOnce, false, payload)
                .await
                .is_err()
            {
                return; // the test is over
            }
        }
    });

    // Meanwhile another device publishes QoS 1 messages (malformed too): beyond the bound
    // they wait for a handler, and every one is answered.
    const QOS1: usize = 200;
    let q1_ack = format!("tanji/{name}/q1/ack");
    let mut q1 = Device::connect(&format!("{name}-q1"), std::slice::from_ref(&q1_ack)).await;
    for i in 0..QOS1 {
        q1.publish(
            &format!("tanji/{name}/q1/up"),
            &format!("not json either {i}"),
        )
        .await;
    }

    // While it lasts, the messages being handled never exceed the bound.
    let refused = |state: &tanji_server::AppState| {
        metric(state, r#"tanji_mqtt_refused_total{reason="bad_request"}"#)
            + metric(state, r#"tanji_mqtt_refused_total{reason="overloaded"}"#)
    };
    let mut samples = 0;
    let mut answered_q1 = 0;
    let guard = tokio::time::Instant::now() + Duration::from_secs(120);
    while answered_q1 < QOS1 || refused(&state) < (FLOOD / 10) as f64 {
        assert!(
            tokio::time::Instant::now() < guard,
            "{answered_q1} of {QOS1} QoS 1 messages answered, {} refused",
            refused(&state)
        );
        let in_flight = metric(&state, "tanji_mqtt_in_flight");
        assert!(
            in_flight <= BOUND as f64,
            "{in_flight} messages in flight, bound {BOUND}"
        );
        samples += 1;
        while let Ok((topic, payload)) = q1.rx.try_recv() {
            assert_eq!(topic, q1_ack);
            let a: Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(a["error"], "bad_request", "{a}");
            answered_q1 += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(answered_q1, QOS1);

    // Stop in the middle of the flood: the server finishes (the timeout only guards a hang).
    let stopping = std::time::Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), running)
        .await
        .expect("the server did not stop during a QoS 0 flood")
        .unwrap()
        .unwrap();
    let took = stopping.elapsed();
    let peak = metric(&state, "tanji_mqtt_in_flight_peak");
    assert!(
        peak >= 1.0 && peak <= BOUND as f64,
        "peak {peak}, bound {BOUND}"
    );
    assert_eq!(metric(&state, "tanji_mqtt_in_flight"), 0.0);
    let answered = metric(&state, r#"tanji_mqtt_refused_total{reason="bad_request"}"#);
    let dropped = metric(&state, r#"tanji_mqtt_refused_total{reason="overloaded"}"#);
    assert!(answered + dropped <= (FLOOD + QOS1) as f64);
    // Nothing of it was logged.
    assert_eq!(metric(&state, "tanji_uploads_accepted_total"), 0.0);
    eprintln!(
        "flood of {FLOOD}: {answered} answered, {dropped} dropped, peak in flight {peak} (bound {BOUND}, {samples} samples); stopped in {} ms",
        took.as_millis()
    );
    flood.abort();
    polling.abort();
    clear_status(&observer, &name).await;
}
