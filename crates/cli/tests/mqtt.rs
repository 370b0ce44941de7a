//! `tanji simulate --mqtt` against `tanji serve --mqtt`, both as processes, over the real broker
//! (Mosquitto on 127.0.0.1:1883): every simulated upload is answered `accepted` and logged;
//! publishing them all again is answered `duplicate` and logs nothing more.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use common::{command, s, tanji};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const BROKER: &str = "127.0.0.1:1883";

fn broker_up() -> bool {
    let addr = BROKER.parse().unwrap();
    let up = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok();
    if !up {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Mosquitto not reachable at {BROKER} (CI=true: the broker must run)"
        );
        eprintln!("SKIPPED: Mosquitto not reachable at {BROKER}");
    }
    up
}

/// Waits for the server's retained `online` status on `tanji/<park>/status`.
fn wait_online(park: &str) {
    let mut options = MqttOptions::new(format!("{park}-watch"), "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut connection) = Client::new(options, 10);
    client
        .subscribe(format!("tanji/{park}/status"), QoS::AtLeastOnce)
        .unwrap();
    for event in connection.iter() {
        match event.unwrap() {
            Event::Incoming(Packet::Publish(p)) => {
                let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                if v["status"] == "online" {
                    client.disconnect().unwrap();
                }
            }
            Event::Outgoing(rumqttc::Outgoing::Disconnect) => return,
            _ => {}
        }
    }
}

/// Removes the server's retained status from the shared broker.
fn clear_status(park: &str) {
    let options = MqttOptions::new(format!("{park}-clear"), "127.0.0.1", 1883);
    let (client, mut connection) = Client::new(options, 10);
    client
        .publish(
            format!("tanji/{park}/status"),
            QoS::AtLeastOnce,
            true,
            Vec::new(),
        )
        .unwrap();
    for event in connection.iter() {
        match event.unwrap() {
            Event::Incoming(Packet::PubAck(_)) => client.disconnect().unwrap(),
            Event::Outgoing(rumqttc::Outgoing::Disconnect) => return,
            _ => {}
        }
    }
}

#[test]
fn simulated_devices_publish_over_mqtt_and_a_second_run_is_all_duplicates() {
    if !broker_up() {
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let park = format!("mqtt-cli-{}-{nanos}", std::process::id());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("park");
    tanji(["init", "--dir", s(&dir), "--park", &park]).ok();
    let sim = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "--out",
            out,
            "--enterprises",
            "3",
            "--days",
            "2",
            "--start",
            "2026-01-01",
        ];
        args.extend_from_slice(extra);
        tanji(args)
    };
    // Register the devices while no server holds the park.
    let out1 = tmp.path().join("sim1");
    sim(s(&out1), &["--dir", s(&dir)]).ok();

    let mut child = command([
        "serve",
        "--dir",
        s(&dir),
        "--listen",
        "127.0.0.1:0",
        "--window-ms",
        "20",
        "--mqtt",
        "mqtt://127.0.0.1:1883",
    ])
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "tanji serve exited early"
        );
        if line.contains("http://") {
            break;
        }
    }
    wait_online(&park);

    let out2 = tmp.path().join("sim2");
    let url = "mqtt://127.0.0.1:1883";
    let first = sim(s(&out2), &["--park", &park, "--mqtt", url]).ok().stdout;
    assert!(
        first.contains("published 6 uploads from 3 devices over MQTT"),
        "{first}"
    );
    assert!(
        first.contains("6 accepted, 0 duplicate, 0 rejected, 0 refused whole"),
        "{first}"
    );
    let again = sim(s(&out2), &["--park", &park, "--mqtt", url]).ok().stdout;
    assert!(
        again.contains("0 accepted, 6 duplicate, 0 rejected, 0 refused whole"),
        "{again}"
    );

    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    clear_status(&park);
    // Each upload logged once, and the log audits clean.
    let out = tanji(["verify", "--dir", s(&dir)]).ok().stdout;
    assert!(out.contains("6 uploads"), "{out}");
}

/// `tanji demo` with a broker: one device in four publishes over MQTT, the others POST over
/// HTTP, and every upload of both is acknowledged, logged once and verified.
#[test]
fn the_demo_publishes_over_mqtt_when_a_broker_answers() {
    if !broker_up() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let demo = |broker: &str| {
        tanji([
            "demo",
            "--dir",
            s(&dir),
            "--enterprises",
            "8",
            "--days",
            "3",
            broker,
        ])
        .ok()
    };
    let run = demo(&format!("--mqtt=mqtt://{BROKER}"));
    let line = |prefix: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in\n{}", run.stdout))
            .to_string()
    };
    // 8 devices × 3 days: devices 0 and 4 publish over MQTT (6 uploads), the rest over HTTP.
    let mqtt = line("ingested over MQTT");
    assert!(
        mqtt.contains(": 6 uploads from 2 devices: 6 accepted, 0 duplicate, 0 rejected"),
        "{mqtt}"
    );
    let http = line("ingested over HTTP");
    assert!(http.contains(": 18 uploads: 18 accepted"), "{http}");
    assert!(line("all 24 uploads acknowledged").contains("durable"));
    // The 24 simulated devices' uploads and the demo gateway's 12 records.
    assert!(
        line("verify OK").contains("36 device signatures"),
        "{}",
        run.stdout
    );
    // Without a broker, or told not to try one, every device posts over HTTP.
    let run = demo("--no-mqtt");
    assert!(!run.stdout.contains("over MQTT"), "{}", run.stdout);
    assert!(
        run.stdout.contains("24 uploads: 24 accepted"),
        "{}",
        run.stdout
    );
}
