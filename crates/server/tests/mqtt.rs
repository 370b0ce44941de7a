//! MQTT ingest end to end against the real broker (Mosquitto on 127.0.0.1:1883): a device
//! publishes signed uploads on `tanji/<park>/<device>/up`, the server answers on `…/ack` with
//! the HTTP answer once the record is durable, the record is in the log with a proof that
//! verifies, a redelivered message is answered `duplicate` and not logged twice, and the server
//! reconnects (and gets what was published meanwhile) after its connection is cut or after it
//! was stopped and started again.
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
        options.set_max_packet_size(1 << 20, 1 << 20);
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
                    Err(e) => panic!("test client {e}"),
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
                .unwrap();
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
    // Leave no retained status behind on the shared broker.
    device
        .client
        .publish(&status, QoS::AtLeastOnce, true, Vec::new())
        .await
        .unwrap();
    device.client.disconnect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
}
