//! The gateway of `tanji demo`: one gateway, with an SM2 key, reading two simulated meters
//! ([`crate::sim`]) — a DL/T 645 meter behind a TCP converter (a machine hall's grid supply,
//! through 200/5 A current transformers) and a Modbus TCP PV inverter — over three hours of
//! the demo's last day (10:00–13:00 park time, UTC+8), on a simulated clock 3600 times faster
//! than real time that the meters share and that stops after the last boundary. It runs the
//! real gateway ([`crate::run()`]): reads at each boundary, signs, keeps every record in its
//! outbox, sends them to the park and checks every acknowledgement's proof. Its meters belong
//! to an enterprise of their own, [`ENTERPRISE`], newly connected: the simulated factories'
//! days stay whole.
//!
//! The meters' registers advance once per interval ([`crate::sim::Steps`]), so each interval's
//! value is the same wherever within the boundary tolerance the read lands, and the energy the
//! park logs is known exactly beforehand: [`DemoGateway::expected`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tanji_readings::{DeviceRegistration, KeyType, SigningKey};
use tanji_units::time;

use crate::config::{Config, Meter};
use crate::outbox::Outbox;
use crate::sim::{self, SimClock, Steps};

/// The enterprise of the demo gateway's meters.
pub const ENTERPRISE: &str = "e-gateway";
/// The demo gateway's device id.
pub const DEVICE: &str = "gw-0001";
/// The DL/T 645 meter's id at the park.
pub const DLT_METER: &str = "m-gw-hall3";
/// The PV inverter's id at the park.
pub const PV_METER: &str = "m-gw-pv";
/// The DL/T 645 meter's address (12 digits, as on its plate).
pub const DLT_ADDRESS: &str = "202612030645";
/// Simulated seconds per real second.
pub const SPEED: f64 = 3600.0;
/// The boundary tolerance of the demo's configuration, seconds: wide, because at 3600× a
/// scheduling stall of a tenth of a second is six simulated minutes.
pub const TOLERANCE_S: i64 = 600;
/// Intervals the gateway covers: three hours of quarter-hours.
pub const INTERVALS: usize = 12;
const INTERVAL_S: i64 = 900;

/// Why the demo gateway could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file or socket failed.
    #[error("demo gateway: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The gateway stopped with an error.
    #[error("demo gateway: {0}")]
    Gateway(#[from] crate::GatewayError),
    /// Its configuration was refused.
    #[error("demo gateway: {0}")]
    Config(#[from] crate::ConfigError),
    /// Its outbox could not be read afterwards.
    #[error("demo gateway: {0}")]
    Outbox(#[from] crate::outbox::OutboxError),
    /// It did not deliver everything in time.
    #[error("demo gateway: {0}")]
    Incomplete(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let context = context.into();
    move |source| DemoError::Io { context, source }
}

/// The demo gateway, prepared: its key file written, its meters' registers laid out.
#[derive(Debug)]
pub struct DemoGateway {
    dir: PathBuf,
    key: SigningKey,
    start: i64,
    dlt: Steps,
    pv: Steps,
}

/// The hall's grid supply per quarter-hour from 10:00, in DL/T 645 counts (0.01 kWh on the
/// CT secondary; ×40 through the 200/5 CTs: 200 counts = 2 kWh secondary = 80 kWh, 320 kW),
/// with the lunch break from 12:00.
const HALL_COUNTS: [u64; INTERVALS] = [196, 204, 210, 188, 201, 207, 199, 211, 150, 142, 139, 145];

impl DemoGateway {
    /// Prepares the gateway in `dir` (created; its key file and, when it runs, its
    /// configuration and outbox go there) for the meters of [`ENTERPRISE`], covering 10:00 to
    /// 13:00 park time of the day starting at `day` (Unix seconds, a UTC midnight).
    pub fn prepare(dir: &Path, day: i64) -> Result<DemoGateway, DemoError> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let key_file = dir.join("gw-0001.key");
        let (key, text) = new_key(KeyType::Sm2);
        write_private(&key_file, &text)?;
        // 10:00 park time (UTC+8) is 02:00 UTC.
        let start = day + 10 * 3600 - i64::from(time::PARK_UTC_OFFSET_S);
        // The inverter's yield per quarter-hour, Wh: a 250 kWp plant on a clear day, 60 kWh a
        // quarter-hour at solar noon (12:00 park time) along a half sine from 06:00 to 18:00.
        let pv = (0..INTERVALS)
            .map(|i| {
                let hour = 10.0 + (i as f64 + 0.5) / 4.0;
                (60_000.0 * (std::f64::consts::PI * (hour - 6.0) / 12.0).sin()).round() as u64
            })
            .collect();
        Ok(DemoGateway {
            dir: dir.to_path_buf(),
            key,
            start,
            dlt: Steps {
                base: 1_234_567,
                start,
                step_s: INTERVAL_S,
                increments: HALL_COUNTS.to_vec(),
            },
            pv: Steps {
                base: 48_210_000,
                start,
                step_s: INTERVAL_S,
                increments: pv,
            },
        })
    }

    /// The registrations of its two meters, to log in the park before it runs.
    pub fn registrations(&self, registered_at: i64) -> Vec<DeviceRegistration> {
        let reg = |meter: &str, carrier: &str, rated_kw: i64| DeviceRegistration {
            device: DEVICE.into(),
            public_key: self.key.public_key(),
            enterprise: ENTERPRISE.into(),
            meter: meter.into(),
            carrier: carrier.into(),
            unit: "kWh".into(),
            rated_per_hour_milli: rated_kw * 1000,
            registered_at,
        };
        vec![
            reg(DLT_METER, "electricity_import", 1000),
            reg(PV_METER, "pv_generation", 250),
        ]
    }

    /// The period it covers, Unix seconds.
    pub fn period(&self) -> (i64, i64) {
        (self.start, self.start + INTERVALS as i64 * INTERVAL_S)
    }

    /// The energy each meter's register advanced over the period, Wh: what the park must log.
    /// The hall: counts × 0.01 kWh × 40 (CTs) = counts × 400 Wh; the inverter counts Wh.
    pub fn expected(&self) -> [(&'static str, i64); 2] {
        let counts = |s: &Steps| s.increments.iter().sum::<u64>() as i64;
        [
            (DLT_METER, counts(&self.dlt) * 400),
            (PV_METER, counts(&self.pv)),
        ]
    }

    fn config(
        &self,
        clock: SimClock,
        park_url: &str,
        log_key: &str,
        dlt: &str,
        pv: &str,
    ) -> String {
        let c = clock.config();
        format!(
            r#"# The gateway of `tanji demo` (docs/gateway.md): two simulated meters, a simulated clock.
device = "{DEVICE}"
key_file = "{key}"
state_dir = "{state}"
interval_s = 900
boundary_tolerance_s = {TOLERANCE_S}

[park]
url = "{park_url}"
log_key = "{log_key}"
timeout_s = 10
retry_max_s = 1

# {speed}× real time from {from}; stops after the last boundary.
[clock]
sim_start = {sim_start}
real_start_ms = {real_start_ms}
speed = {speed}
stop_at = {stop_at}

[[meter]]
meter = "{DLT_METER}"
carrier = "electricity_import"
unit = "kWh"
ct = "200/5"
tcp = "{dlt}"
dlt645 = {{ address = "{DLT_ADDRESS}" }}

[[meter]]
meter = "{PV_METER}"
carrier = "pv_generation"
unit = "kWh"
scale = "0.001"
tcp = "{pv}"
modbus = {{ unit_id = 1, register = 100, kind = "input", type = "u32", word_order = "little" }}
"#,
            key = self.dir.join("gw-0001.key").display(),
            state = self.dir.join("state").display(),
            speed = c.speed,
            from = time::rfc3339(c.sim_start),
            sim_start = c.sim_start,
            real_start_ms = c.real_start_ms,
            stop_at = c.stop_at.unwrap_or(c.sim_start),
        )
    }

    /// Starts the simulated meters, runs the gateway against the park at `park_url` (whose
    /// log key is `log_key`) until every record it made is acknowledged, and says what it
    /// delivered. Fails unless it delivered everything within a minute.
    pub async fn run(self, park_url: &str, log_key: &str) -> Result<Summary, DemoError> {
        let t = Instant::now();
        let (start, end) = self.period();
        let clock = SimClock::starting(start - 30, SPEED).stopping_at(end + 120);
        let dlt_address = crate::dlt645::Address::parse(DLT_ADDRESS)
            .map_err(|e| DemoError::Incomplete(format!("address {DLT_ADDRESS}: {e}")))?;
        let dlt = sim::dlt645_meter(clock, Arc::new(self.dlt.clone()), dlt_address)
            .await
            .map_err(io("starting the DL/T 645 meter"))?;
        let pv = sim::modbus_inverter(clock, Arc::new(self.pv.clone()))
            .await
            .map_err(io("starting the Modbus inverter"))?;
        let path = self.dir.join("gateway.toml");
        let text = self.config(clock, park_url, log_key, &dlt.addr, &pv.addr);
        std::fs::write(&path, &text).map_err(io(format!("writing {}", path.display())))?;
        let (config, meters) = Config::parse(&text, &path.display().to_string())?;
        let described: Vec<String> = meters.iter().map(Meter::describe).collect();
        let state = config.state_dir.clone();
        let gateway = crate::run(config, meters, std::future::pending());
        std::fs::create_dir_all(&state).map_err(io(format!("creating {}", state.display())))?;
        let watch = Outbox::open(&state)?;
        let delivered = async {
            let limit = Instant::now() + Duration::from_secs(60);
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if clock.now() >= end + 120 && watch.backlog()? == 0 && watch.pending_count()? == 0
                {
                    return Ok(());
                }
                if Instant::now() > limit {
                    return Err(DemoError::Incomplete(format!(
                        "not everything was acknowledged within 60 s; its outbox is {}",
                        state.display()
                    )));
                }
            }
        };
        tokio::select! {
            r = gateway => {
                r?;
                return Err(DemoError::Incomplete("the gateway stopped early".into()));
            }
            r = delivered => r?,
        }
        let ob = watch;
        let acked = ob.acked()?;
        // Each meter's intervals: from the first boundary read to its last, one a quarter-hour
        // (a missed boundary would be a journaled gap, listed in `problems`).
        let mut intervals = 0;
        for meter in [DLT_METER, PV_METER] {
            if let Some(last) = ob.accumulator(meter)?.and_then(|a| a.last) {
                intervals += usize::try_from((last.boundary - start) / INTERVAL_S).unwrap_or(0);
            }
        }
        let problems: Vec<String> = ob
            .events()?
            .into_iter()
            .map(|(_, kind, msg)| format!("{kind}: {msg}"))
            .collect();
        Ok(Summary {
            key_type: self.key.key_type(),
            meters: described,
            start,
            end,
            records: acked.len(),
            intervals,
            refused: ob.refused_count()?,
            reads: (dlt.served().len(), pv.served().len()),
            problems,
            expected: self.expected(),
            seconds: t.elapsed().as_secs_f64(),
            config: path,
        })
    }
}

/// A new key of `key_type` from the operating system's random source, and its key file text.
fn new_key(key_type: KeyType) -> (SigningKey, String) {
    use rand_core::RngCore as _;
    let mut secret = [0u8; 32];
    loop {
        // A scalar outside 1..n−1 (about 2^-32 likely) is drawn again.
        rand_core::OsRng.fill_bytes(&mut secret);
        if let Ok(key) = SigningKey::from_secret(key_type, &secret) {
            return (key, tanji_readings::device_key_text(key_type, &secret));
        }
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), DemoError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(io(format!("writing {}", path.display())))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .map_err(io(format!("writing {}", path.display())))
}

/// What the demo gateway did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Its key type.
    pub key_type: KeyType,
    /// How each meter is read (`Meter::describe`).
    pub meters: Vec<String>,
    /// Start of the period covered, Unix seconds.
    pub start: i64,
    /// End of the period covered.
    pub end: i64,
    /// Records signed, kept and acknowledged with a checked proof.
    pub records: usize,
    /// Interval values in them, both meters.
    pub intervals: usize,
    /// Records the park refused for good.
    pub refused: u64,
    /// Register reads the DL/T 645 meter and the inverter answered.
    pub reads: (usize, usize),
    /// Gaps, clock and park events the gateway journaled (none in a clean run).
    pub problems: Vec<String>,
    /// The energy of each meter over the period, Wh ([`DemoGateway::expected`]).
    pub expected: [(&'static str, i64); 2],
    /// Real seconds it took.
    pub seconds: f64,
    /// Its configuration file.
    pub config: PathBuf,
}

impl Summary {
    /// Whether everything was delivered with nothing refused or journaled.
    pub fn clean(&self) -> bool {
        self.intervals == 2 * INTERVALS && self.refused == 0 && self.problems.is_empty()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kwh = |wh: i64| format!("{}.{:03} kWh", wh / 1000, wh % 1000);
        write!(
            f,
            "gateway {DEVICE} ({} key, {}): 2 meters (DL/T 645 meter over a TCP converter, Modbus TCP inverter), {} to {} simulated at {SPEED}× in {:.1} s: {} records of {} intervals signed, kept in its outbox until acknowledged, each acknowledgement's inclusion proof and checkpoint checked against the log key ({} and {} register reads; {} refused)",
            self.key_type,
            self.config.display(),
            time::rfc3339(self.start),
            time::rfc3339(self.end),
            self.seconds,
            self.records,
            self.intervals,
            self.reads.0,
            self.reads.1,
            self.refused,
        )?;
        for (m, (meter, wh)) in self.meters.iter().zip(self.expected) {
            write!(f, "\n  {m}\n    {meter}: {} over the period", kwh(wh))?;
        }
        for p in &self.problems {
            write!(f, "\n  journaled: {p}")?;
        }
        Ok(())
    }
}

/// A device run beside `tanji demo`'s fleet: given the park's base URL, it runs and returns
/// its summary, or why it failed — also when it ran but did not deliver every interval
/// cleanly ([`Summary::clean`]). The shape of `tanji_server::fleet::Beside`.
pub type BesideRun = Box<
    dyn FnOnce(
            String,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<String, String>> + Send>,
        > + Send,
>;

impl DemoGateway {
    /// This gateway as a [`BesideRun`] against a park whose log key is `log_key`. It runs on
    /// a thread and runtime of its own, as a gateway box would beside the park.
    pub fn beside(self, log_key: String) -> BesideRun {
        Box::new(move |url: String| {
            Box::pin(async move {
                let ran = tokio::task::spawn_blocking(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| format!("demo gateway: its runtime: {e}"))?;
                    match runtime.block_on(self.run(&url, &log_key)) {
                        Ok(s) if s.clean() => Ok(s.to_string()),
                        Ok(s) => Err(format!(
                            "{s}\nthe demo gateway did not deliver every interval cleanly"
                        )),
                        Err(e) => Err(e.to_string()),
                    }
                })
                .await;
                ran.unwrap_or_else(|e| Err(format!("demo gateway: its thread: {e}")))
            })
        })
    }
}
