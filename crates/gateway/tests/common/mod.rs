//! Test support: a simulated clock, simulated meters (a DL/T 645 meter behind a TCP
//! converter and a Modbus TCP inverter) whose energy grows over a window of simulated time, a
//! park (`tanji serve`'s server library in process) behind a proxy that can cut it off, and
//! the gateway binary run as a child process.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tanji_gateway::dlt645;
use tanji_gateway::modbus::{self, RawValue, ValueType, WordOrder};
use tanji_park::Park;
use tanji_readings::{DeviceRegistration, LogEntry, SignedUpload, KIND_UPLOAD};
use tanji_store::Store;
use tokio::net::{TcpListener, TcpStream};

/// 2026-01-01T00:00:00Z: a boundary of every interval length.
pub const START: i64 = 1_767_225_600;

pub const DEVICE: &str = "gw-test";
pub const DLT_METER: &str = "m-dlt645";
pub const PV_METER: &str = "m-pv";
pub const DLT_ADDRESS: &str = "000000000042";

pub use tanji_gateway::sim::{Growth, Register, SimClock};

/// The running meter simulators, by address (kept for the whole test).
static METERS: std::sync::Mutex<std::collections::BTreeMap<String, tanji_gateway::sim::SimMeter>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn keep(meter: tanji_gateway::sim::SimMeter) -> String {
    let addr = meter.addr.clone();
    METERS.lock().unwrap().insert(addr.clone(), meter);
    addr
}

/// The register values the meter simulator at `addr` served.
pub fn served(addr: &str) -> Vec<u64> {
    METERS
        .lock()
        .unwrap()
        .get(addr)
        .map(|m| m.served())
        .unwrap_or_default()
}

/// A DL/T 645 meter (address [`DLT_ADDRESS`]) behind a serial-to-TCP converter
/// (`tanji_gateway::sim`). Returns its address.
pub async fn dlt645_meter(clock: SimClock, growth: Growth) -> String {
    let address = dlt645::Address::parse(DLT_ADDRESS).unwrap();
    keep(
        tanji_gateway::sim::dlt645_meter(clock, Arc::new(growth), address)
            .await
            .unwrap(),
    )
}

/// A DL/T 645 meter on a serial line: the master side of a pseudo-terminal answers reads,
/// the gateway opens the slave side as its serial port. Returns the slave's path and a handle
/// of it kept open (so the master never sees a hang-up between the gateway's opens).
pub fn dlt645_meter_on_pty(clock: SimClock, growth: Growth) -> (String, std::fs::File) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use std::io::{Read, Write};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let path = ptsname(&master, Vec::new()).unwrap().into_string().unwrap();
    let keep = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let meter = dlt645::Address::parse(DLT_ADDRESS).unwrap();
    let mut file = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 256];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            match dlt645::decode_frame(&buf) {
                Err(dlt645::Dlt645Error::Incomplete { .. }) => continue,
                Err(_) => buf.clear(),
                Ok((frame, used)) => {
                    buf.drain(..used);
                    if frame.address == meter && frame.control == dlt645::CONTROL_READ {
                        let di = dlt645::DI_FORWARD_ACTIVE_TOTAL;
                        // Eight digits: the register rolls over at 10^8 counts.
                        let value = growth.at(clock.now()) % 100_000_000;
                        let answer = dlt645::energy_answer(meter, di, &[value]).unwrap();
                        let mut out = vec![0xFE, 0xFE];
                        out.extend(answer.encode());
                        let _ = file.write_all(&out);
                    }
                }
            }
        }
    });
    (path, keep)
}

/// CRC-16/MODBUS (polynomial A001H reflected, initial FFFFH), sent low byte first.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for b in bytes {
        crc ^= u16::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// A Modbus RTU inverter (unit 1) on a serial line (a pseudo-terminal): input registers
/// 100..102 hold its yield in Wh, u32 low word first. Written from the Modbus serial line
/// specification (RTU frames with CRC-16), independently of the gateway's client library.
pub fn modbus_rtu_on_pty(clock: SimClock, growth: Growth) -> (String, std::fs::File) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    use std::io::{Read, Write};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let path = ptsname(&master, Vec::new()).unwrap().into_string().unwrap();
    let keep = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut file = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 256];
        loop {
            let n = match file.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            // Requests of functions 03 and 04 are 8 bytes: unit, function, start, count, CRC.
            while buf.len() >= 8 {
                let req: Vec<u8> = buf.drain(..8).collect();
                let crc = crc16(&req[..6]).to_le_bytes();
                if req[6..] != crc || req[0] != 1 {
                    buf.clear();
                    break;
                }
                let start = u16::from_be_bytes([req[2], req[3]]);
                let count = u16::from_be_bytes([req[4], req[5]]);
                let mut reply = vec![1, req[1]];
                if req[1] == 0x04 && start == 100 && count == 2 {
                    let words = modbus::encode(
                        RawValue::Int(i128::from(growth.at(clock.now()))),
                        ValueType::U32,
                        WordOrder::Little,
                    );
                    reply.push(4);
                    for w in words {
                        reply.extend_from_slice(&w.to_be_bytes());
                    }
                } else {
                    reply = vec![1, req[1] | 0x80, 0x02];
                }
                let crc = crc16(&reply).to_le_bytes();
                reply.extend_from_slice(&crc);
                let _ = file.write_all(&reply);
            }
        }
    });
    (path, keep)
}

/// A Modbus TCP inverter (`tanji_gateway::sim`): input registers 100..102 hold its yield in
/// Wh (u32, low word first). Returns its address.
pub async fn modbus_inverter(clock: SimClock, growth: Growth) -> String {
    keep(
        tanji_gateway::sim::modbus_inverter(clock, Arc::new(growth))
            .await
            .unwrap(),
    )
}

/// A TCP proxy in front of the park that can cut it off: while down, connections are refused
/// (accepted and closed at once) and open ones are dropped.
pub struct Proxy {
    pub url: String,
    up: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(target: String, up: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let flag = Arc::new(AtomicBool::new(up));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let f = flag.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !f.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cuts = cuts.clone();
                // Only cuts from now on drop this connection.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Proxy { url, up: flag, cut }
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// A park with the test device's two meters registered, served in process.
pub struct ParkUnderTest {
    pub dir: tempfile::TempDir,
    pub addr: String,
    pub vkey: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

pub fn device_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42; 32])
}

impl ParkUnderTest {
    pub async fn start() -> ParkUnderTest {
        Self::start_with("").await
    }

    /// A park whose server config has `extra` after its `[batch]` table.
    pub async fn start_with(extra: &str) -> ParkUnderTest {
        let dir = tempfile::tempdir().unwrap();
        let vkey = {
            let mut park = Park::create(dir.path(), "test", None).unwrap();
            let reg = |meter: &str, carrier: &str| DeviceRegistration {
                device: DEVICE.into(),
                public_key: tanji_readings::PublicKey::Ed25519(
                    device_key().verifying_key().to_bytes(),
                ),
                enterprise: "e-test".into(),
                meter: meter.into(),
                carrier: carrier.into(),
                unit: "kWh".into(),
                rated_per_hour_milli: 5_000_000,
                registered_at: START - 86_400,
            };
            park.register(&[
                reg(DLT_METER, "electricity_import"),
                reg(PV_METER, "pv_generation"),
            ])
            .unwrap();
            park.verifier().to_string()
        };
        let config =
            tanji_server::Config::parse(&format!("[batch]\nwindow_ms = 20\n{extra}"), "test")
                .unwrap();
        let server = tanji_server::Server::open(dir.path(), config).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            tanji_server::run(listener, server, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        ParkUnderTest {
            dir,
            addr,
            vkey,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap();
        }
        self.dir
    }
}

/// The uploads logged in the park at `dir`, in log order, with their leaf indices.
pub fn logged_uploads(dir: &Path) -> Vec<(u64, SignedUpload)> {
    let park = Park::open_read(dir).unwrap();
    let store = park.store();
    store
        .entries_of_kind(KIND_UPLOAD)
        .unwrap()
        .into_iter()
        .map(
            |i| match LogEntry::from_logged_bytes(&store.entry(i).unwrap()).unwrap() {
                LogEntry::Upload(u) => (i, u),
                other => panic!("entry {i} is not an upload: {other:?}"),
            },
        )
        .collect()
}

pub const BROKER: &str = "127.0.0.1:1883";

/// Whether Mosquitto is reachable; under CI=true it must be.
pub fn broker_up() -> bool {
    let up = std::net::TcpStream::connect_timeout(
        &BROKER.parse().unwrap(),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    if !up {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Mosquitto not reachable at {BROKER} (CI=true: the broker must run)"
        );
        eprintln!("SKIPPED: Mosquitto not reachable at {BROKER}");
    }
    up
}

/// Writes the gateway's key and configuration in `dir`; returns the config path.
pub fn gateway_config(
    dir: &Path,
    park_url: &str,
    vkey: &str,
    clock: SimClock,
    dlt_addr: &str,
    pv_addr: &str,
    extra: &str,
) -> PathBuf {
    let key = dir.join("gw.key");
    std::fs::write(&key, format!("{}\n", hex::encode(device_key().to_bytes()))).unwrap();
    let text = format!(
        r#"
device = "{DEVICE}"
key_file = "{key}"
state_dir = "{state}"
interval_s = 900
{extra}

[park]
url = "{park_url}"
log_key = "{vkey}"
timeout_s = 2

[clock]
sim_start = {sim_start}
real_start_ms = {real_start_ms}
speed = {speed}

[[meter]]
meter = "{DLT_METER}"
carrier = "electricity_import"
unit = "kWh"
ct = "200/5"
tcp = "{dlt_addr}"
dlt645 = {{ address = "{DLT_ADDRESS}" }}

[[meter]]
meter = "{PV_METER}"
carrier = "pv_generation"
unit = "kWh"
scale = "0.001"
tcp = "{pv_addr}"
modbus = {{ unit_id = 1, register = 100, kind = "input", type = "u32", word_order = "little" }}
"#,
        key = key.display(),
        state = dir.join("state").display(),
        sim_start = clock.sim_start,
        real_start_ms = clock.real_start_ms,
        speed = clock.speed,
    );
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts the gateway binary; its log is appended to `dir/gateway.log`.
pub fn spawn_gateway(dir: &Path, config: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("gateway.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_tanji-gateway"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub fn gateway_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default()
}

/// The gateway's outbox, opened read-write by the test after the gateway stopped.
pub fn outbox(dir: &Path) -> tanji_gateway::outbox::Outbox {
    tanji_gateway::outbox::Outbox::open(&dir.join("state")).unwrap()
}

/// Checks the park's uploads of the test device: seqs 1..=n in log order, each chaining to the
/// one before, and no two intervals of a meter overlapping. Returns the energy per meter (Wh)
/// and the end of the last interval.
pub fn check_chain(
    uploads: &[(u64, SignedUpload)],
) -> (std::collections::BTreeMap<String, i64>, i64) {
    let mut prev = tanji_readings::ZERO_HASH;
    let mut energy = std::collections::BTreeMap::new();
    let mut covered: std::collections::BTreeMap<String, Vec<(i64, i64)>> = Default::default();
    let mut end = i64::MIN;
    for (k, (_, u)) in uploads.iter().enumerate() {
        assert_eq!(
            u.body.seq,
            k as u64 + 1,
            "records in order, no seq skipped or repeated"
        );
        assert_eq!(
            u.body.prev, prev,
            "record {} chains to the one before",
            u.body.seq
        );
        prev = u.record_hash();
        for c in &u.body.channels {
            assert_eq!(c.decimals, 3);
            *energy.entry(c.meter.clone()).or_insert(0) += c.values.iter().sum::<i64>();
            covered
                .entry(c.meter.clone())
                .or_default()
                .push((c.start, c.end().unwrap()));
            end = end.max(c.end().unwrap());
        }
    }
    for (meter, mut spans) in covered {
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "meter {meter}: intervals {w:?} overlap");
        }
    }
    (energy, end)
}
