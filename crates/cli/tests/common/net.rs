//! A running `tanji serve` and its clients for the integration tests: a minimal HTTP/1.1
//! client that checks every 4xx is the JSON error body, and MQTT clients of the shared broker
//! (Mosquitto on 127.0.0.1:1883: SKIPPED when unreachable, required under CI=true).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{command, s};

/// The longest any one step may take before the test calls it a hang.
pub const HANG: Duration = Duration::from_secs(90);

/// An HTTP answer: status, lower-cased head, body.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Res {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    /// Every 4xx and 503 is the JSON error body `{"error", "message"}` with `code`.
    pub fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.head.contains("content-type: application/json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["error"], code, "{self:?}");
        let msg = v["message"].as_str().unwrap().to_string();
        assert!(!msg.is_empty(), "{self:?}");
        msg
    }

    pub fn retry_after(&self) -> u64 {
        let line = self
            .head
            .lines()
            .find(|l| l.starts_with("retry-after:"))
            .unwrap_or_else(|| panic!("no Retry-After: {self:?}"));
        line["retry-after:".len()..].trim().parse().unwrap()
    }
}

pub fn parse(raw: &str) -> Res {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw:?}"));
    let res = Res {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_string(),
    };
    if (400..500).contains(&status) {
        // Every 4xx is the JSON error body.
        assert!(res.json()["error"].is_string(), "{res:?}");
    }
    res
}

/// One HTTP/1.1 request over `c`; the whole answer.
pub fn send(
    mut c: TcpStream,
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Res {
    c.set_read_timeout(Some(HANG)).unwrap();
    let auth = if token.is_empty() {
        String::new()
    } else {
        // The scheme in lower case: it is case-insensitive.
        format!("Authorization: bearer {token}\r\n")
    };
    write!(
        c,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    parse(&out)
}

pub fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> Res {
    send(
        TcpStream::connect(addr).unwrap(),
        addr,
        method,
        path,
        token,
        body,
    )
}

/// A running `tanji serve`; killed on drop if still running.
pub struct Server {
    pub child: Child,
    pub addr: String,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Sends `SIGTERM` and requires exit 0 within the hang guard.
    pub fn stop(mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let start = Instant::now();
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                assert!(exit.success(), "{exit:?}\n{}", self.log.lock().unwrap());
                return;
            }
            assert!(
                start.elapsed() < HANG,
                "tanji serve did not stop on SIGTERM\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(park: &Path, config: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "serve",
        "--dir",
        s(park),
        "--listen",
        "127.0.0.1:0",
        "--config",
        config,
    ];
    args.extend_from_slice(extra);
    let mut child = command(args)
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
            let addr = rest.split_whitespace().next().unwrap();
            break addr.trim_end_matches([',', ';', ':']).to_string();
        }
    };
    let log = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap_or(0) > 0 {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    Server { child, addr, log }
}

pub const BROKER: &str = "127.0.0.1:1883";

pub fn broker_up() -> bool {
    let up = TcpStream::connect_timeout(&BROKER.parse().unwrap(), Duration::from_secs(2)).is_ok();
    if !up {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Mosquitto not reachable at {BROKER} (CI=true: the broker must run)"
        );
        eprintln!("SKIPPED: Mosquitto not reachable at {BROKER}");
    }
    up
}

/// A client of the broker on its own thread: what arrives on `topic`, by channel.
pub fn subscriber(
    id: &str,
    topic: &str,
) -> (
    rumqttc::Client,
    std::sync::mpsc::Receiver<serde_json::Value>,
) {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut options = MqttOptions::new(id, "127.0.0.1", 1883);
    options.set_keep_alive(Duration::from_secs(5));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 1000);
    client.subscribe(topic, QoS::AtLeastOnce).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Ok(v) = serde_json::from_slice(&p.payload) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    (client, rx)
}

pub fn wait_online(rx: &std::sync::mpsc::Receiver<serde_json::Value>) {
    loop {
        let v = rx.recv_timeout(HANG).expect("the server never said online");
        if v["status"] == "online" {
            return;
        }
    }
}

pub fn clear_status(client: &rumqttc::Client, park: &str) {
    let _ = client.publish(
        format!("tanji/{park}/status"),
        rumqttc::QoS::AtLeastOnce,
        true,
        Vec::new(),
    );
    std::thread::sleep(Duration::from_millis(200));
    let _ = client.disconnect();
}
