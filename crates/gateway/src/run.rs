//! The gateway at work: one task reads the meters at each interval boundary and seals closed
//! intervals into signed records in the outbox; another sends the outbox to the park, checks
//! every acknowledgement, and forgets what is proved logged.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tanji_ledger::NoteVerifier;
use tanji_readings::{SignedUpload, SigningKey};
use tracing::{error, info, warn};

use crate::config::{ClockConfig, Config, Meter};
use crate::intervals::{Accumulator, Event};
use crate::meter::MeterReader;
use crate::outbox::{Acked, Outbox, OutboxError, PendingInterval};
use crate::parkcheck::{ParkFault, ParkLog};
use crate::uplink::{Answer, Http, Mqtt, UplinkError};

/// Why the gateway stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The key file is missing or not a key.
    #[error("device key {path}: {what}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// The park's log key in the configuration is not a verifier key.
    #[error("park.log_key {key:?} is not a log verifier key: {what}")]
    LogKey {
        /// The text.
        key: String,
        /// Why.
        what: String,
    },
    /// The outbox failed: nothing more can be kept safely.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The park misbehaved: the fault is journaled and delivery stops.
    #[error(transparent)]
    Park(#[from] ParkFault),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Uplink(#[from] UplinkError),
    /// The state directory cannot be created.
    #[error("state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// The gateway's clock: the system's, or a simulated one for demonstrations and tests.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Option<ClockConfig>);

impl Clock {
    /// The clock a configuration asks for.
    pub fn new(config: Option<ClockConfig>) -> Clock {
        Clock(config)
    }

    /// Now, Unix milliseconds of the clock.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        match self.0 {
            None => real,
            Some(c) => {
                let now =
                    c.sim_start * 1000 + ((real - c.real_start_ms) as f64 * c.speed).floor() as i64;
                c.stop_at
                    .map_or(now, |stop| now.min(stop.saturating_mul(1000)))
            }
        }
    }

    /// Now, Unix seconds of the clock.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The real time `secs` seconds of this clock take.
    pub fn real(&self, secs: f64) -> Duration {
        let speed = self.0.map_or(1.0, |c| c.speed);
        Duration::from_secs_f64((secs / speed).max(0.001))
    }
}

/// Reads the device key file `path`, of any key type (as `tanji device keygen --key-type`
/// writes it; `tanji_readings::parse_device_key`).
pub fn read_key(path: &std::path::Path) -> Result<SigningKey, GatewayError> {
    let bad = |what: String| GatewayError::Key {
        path: path.display().to_string(),
        what,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    tanji_readings::parse_device_key(text.trim()).map_err(|why| {
        bad(format!(
            "{why} (tanji device keygen writes 64 hex characters, after sm2: or p256: for those key types)"
        ))
    })
}

fn lock(outbox: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    outbox
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the gateway until `shutdown` completes, or the outbox fails.
pub async fn run(
    config: Config,
    meters: Vec<Meter>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let key = read_key(&config.key_file)?;
    let verifier: NoteVerifier =
        config
            .park
            .log_key
            .parse()
            .map_err(|e: tanji_ledger::NoteError| GatewayError::LogKey {
                key: config.park.log_key.clone(),
                what: e.to_string(),
            })?;
    std::fs::create_dir_all(&config.state_dir).map_err(|source| GatewayError::StateDir {
        path: config.state_dir.display().to_string(),
        source,
    })?;
    let mut outbox = Outbox::open(&config.state_dir)?;
    let signed = outbox.sign_reserved(&key)?;
    if signed > 0 {
        info!("signed {signed} record(s) reserved before the last stop");
    }
    let log = ParkLog::new(verifier, outbox.checkpoint()?.as_deref())?;
    let clock = Clock::new(config.clock);
    let http = Http::new(
        &config.park.url,
        Duration::from_secs_f64(config.park.timeout_s),
    )?;
    let outbox = Arc::new(Mutex::new(outbox));
    info!(
        device = %config.device,
        meters = meters.len(),
        backlog = lock(&outbox).backlog()?,
        "gateway started"
    );
    let collect = collect(&config, meters, &key, &outbox, clock);
    let deliver = deliver(&config, &outbox, log, http, clock);
    tokio::select! {
        r = collect => r,
        r = deliver => r,
        () = shutdown => Ok(()),
    }
}

fn readers(
    config: &Config,
    meters: Vec<Meter>,
    outbox: &Mutex<Outbox>,
) -> Result<Vec<(MeterReader, Accumulator)>, GatewayError> {
    let ob = lock(outbox);
    meters
        .into_iter()
        .map(|m| {
            let acc = match ob.accumulator(&m.meter)? {
                Some(a) => a,
                None => Accumulator::new(
                    config.interval_s,
                    config.boundary_tolerance_s,
                    m.rollover_fixed(),
                    m.mode,
                ),
            };
            let timeout = Duration::from_secs(5);
            Ok((MeterReader::new(m, timeout), acc))
        })
        .collect()
}

/// Reads every meter at each boundary, and seals the boundary's intervals into a record.
async fn collect(
    config: &Config,
    meters: Vec<Meter>,
    key: &SigningKey,
    outbox: &Mutex<Outbox>,
    clock: Clock,
) -> Result<(), GatewayError> {
    let mut readers = readers(config, meters, outbox)?;
    let interval = i64::from(config.interval_s);
    let mut sealed = i64::MIN;
    loop {
        for (reader, acc) in &mut readers {
            let now = clock.now();
            if !acc.wants_read(now) {
                continue;
            }
            match reader.read().await {
                Ok(raw) => take_read(&reader.meter, acc, raw, clock.now(), outbox)?,
                Err(e) => warn!("{e}; retrying"),
            }
        }
        let now = clock.now();
        let boundary = now.div_euclid(interval) * interval;
        let all_read = readers
            .iter()
            .all(|(_, a)| a.last.is_some_and(|l| l.boundary >= boundary));
        if sealed < boundary && (all_read || now - boundary > config.boundary_tolerance_s) {
            let mut ob = lock(outbox);
            while let Some(seq) = ob.seal(&config.device)? {
                ob.sign_reserved(key)?;
                info!(seq, "record signed and queued");
            }
            sealed = boundary;
        }
        tokio::time::sleep(clock.real(config.poll_s)).await;
    }
}

fn take_read(
    meter: &Meter,
    acc: &mut Accumulator,
    raw: crate::modbus::RawValue,
    now: i64,
    outbox: &Mutex<Outbox>,
) -> Result<(), GatewayError> {
    let Some(value) = meter.to_fixed(raw) else {
        warn!(meter = %meter.meter, ?raw, "register value out of range; not used");
        return Ok(());
    };
    let mut intervals = Vec::new();
    let mut events = Vec::new();
    for e in acc.read(now, value) {
        match e {
            Event::Interval {
                start,
                interval_s,
                value,
            } => intervals.push(PendingInterval {
                meter: meter.meter.clone(),
                carrier: meter.carrier.clone(),
                unit: meter.unit.clone(),
                decimals: meter.decimals,
                start,
                interval_s,
                value,
            }),
            Event::Gap { start, end, reason } => {
                let msg = format!(
                    "meter {}: no value for [{}, {}): {reason}",
                    meter.meter,
                    tanji_units::time::rfc3339(start),
                    tanji_units::time::rfc3339(end)
                );
                warn!("{msg}");
                events.push(("gap", msg));
            }
            Event::ClockBack { last, now } => {
                let msg = format!(
                    "meter {}: the clock reads {} but the boundary {} was read already; read not used until the clock passes it",
                    meter.meter,
                    tanji_units::time::rfc3339(now),
                    tanji_units::time::rfc3339(last)
                );
                warn!("{msg}");
                events.push(("clock", msg));
            }
            Event::Late { .. } => {}
        }
    }
    lock(outbox).record_read(&meter.meter, acc, &intervals, &events, now)?;
    Ok(())
}

/// Rejection codes that a later try may turn into an acceptance: the record stays in the
/// outbox and is sent again.
const RETRY_CODES: [&str; 4] = [
    "future_interval",
    "unknown_device",
    "meter_not_bound",
    "store_refused",
];

/// Sends the outbox in order until each record is acknowledged with a checked proof.
async fn deliver(
    config: &Config,
    outbox: &Mutex<Outbox>,
    mut log: ParkLog,
    http: Http,
    clock: Clock,
) -> Result<(), GatewayError> {
    let mut backoff = Duration::from_millis(100);
    let max_backoff = Duration::from_secs_f64(config.park.retry_max_s.max(0.1));
    let mut mqtt = match (&config.park.mqtt, &config.park.mqtt_park) {
        (Some(url), Some(park)) => Some(Mqtt::new(url, park, &config.device)?),
        _ => None,
    };
    let timeout = Duration::from_secs_f64(config.park.timeout_s);
    let mut skew = Skew::default();
    loop {
        let records = lock(outbox).unsent(config.park.max_records_per_request)?;
        if records.is_empty() {
            tokio::time::sleep(clock.real(config.poll_s).min(Duration::from_secs(1))).await;
            continue;
        }
        let sent = match &mut mqtt {
            Some(m) => m.upload(&records, timeout).await,
            None => http.upload(&records).await.map(|(answers, date)| {
                if let Some(park_now) = date.filter(|_| config.clock.is_none()) {
                    skew.observe(park_now, clock.now(), outbox);
                }
                answers
            }),
        };
        let exact = mqtt.is_none();
        let retry = match sent {
            Ok(answers) => {
                match settle(&records, &answers, &mut log, &http, outbox, clock, exact).await {
                    Ok(retry) => retry,
                    Err(GatewayError::Park(fault)) => {
                        let msg = fault.to_string();
                        error!("{msg}; delivery stopped, the records stay in the outbox");
                        lock(outbox).event(clock.now(), "park_fault", &msg)?;
                        return Err(GatewayError::Park(fault));
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => {
                warn!(
                    "{e}; {} record(s) kept, retrying in {backoff:?}",
                    records.len()
                );
                true
            }
        };
        if retry {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(max_backoff);
        } else {
            backoff = Duration::from_millis(100);
        }
    }
}

/// The gateway's clock against the park's (the `Date` of its answers, to the second): an
/// offset beyond [`Skew::LIMIT_S`] is logged and journaled, at most once an hour. Nothing is
/// corrected: intervals stay on the gateway's clock (docs/gateway.md, "The clock").
#[derive(Default)]
struct Skew {
    last_warned: Option<i64>,
}

impl Skew {
    const LIMIT_S: i64 = 60;

    fn observe(&mut self, park_now: i64, now: i64, outbox: &Mutex<Outbox>) {
        let offset = now - park_now;
        if offset.abs() <= Self::LIMIT_S || self.last_warned.is_some_and(|t| now - t < 3600) {
            return;
        }
        self.last_warned = Some(now);
        let msg = format!(
            "the gateway's clock is {offset} s {} the park's; intervals are placed by the gateway's clock — synchronise it",
            if offset > 0 { "ahead of" } else { "behind" }
        );
        warn!("{msg}");
        if let Err(e) = lock(outbox).event(now, "clock", &msg) {
            warn!("{e}");
        }
    }
}

/// Handles the answers to `records`; returns whether to wait before sending again. `exact`:
/// the answers are paired with the records by the transport (HTTP). Over MQTT an answer that
/// came late for an earlier message may be taken for this one's: a proof that does not prove
/// the record is then not taken as the park's fault — the record stays and is sent again. The
/// checkpoint's signature and the log's consistency are checked either way.
async fn settle(
    records: &[SignedUpload],
    answers: &[Answer],
    log: &mut ParkLog,
    http: &Http,
    outbox: &Mutex<Outbox>,
    clock: Clock,
    exact: bool,
) -> Result<bool, GatewayError> {
    for (u, a) in records.iter().zip(answers) {
        let seq = u.body.seq;
        match a.status.as_str() {
            "accepted" | "duplicate" => {
                let (Some(index), Some(note)) = (a.index, a.checkpoint.as_deref()) else {
                    return Err(ParkFault::BadInclusion {
                        seq,
                        index: a.index.unwrap_or(0),
                        size: a.tree_size.unwrap_or(0),
                        reason: "the answer has no index or checkpoint".into(),
                    }
                    .into());
                };
                let entry = u.to_entry_bytes();
                let cp = match log.check_inclusion(seq, &entry, index, &a.proof, note) {
                    Ok(cp) => cp,
                    Err(e @ ParkFault::BadInclusion { .. }) if !exact => {
                        warn!("{e}; taken for an answer to an earlier message, record kept");
                        return Ok(true);
                    }
                    Err(e) => return Err(e.into()),
                };
                if let Some((from, to)) = log.needs_proof(&cp)? {
                    let proof = match http.consistency(from, to).await {
                        Ok(c) => c.proof,
                        Err(e) => {
                            warn!(
                                "{e}; record {seq} kept until the park proves its log consistent"
                            );
                            return Ok(true);
                        }
                    };
                    log.advance(cp, note, &proof)?;
                } else {
                    log.advance(cp, note, &[])?;
                }
                let latest = log.latest_note().unwrap_or(note).to_string();
                lock(outbox).acknowledge(
                    Acked {
                        seq,
                        index,
                        leaf_hash: tanji_ledger::leaf_hash(&entry),
                    },
                    &latest,
                )?;
            }
            _ => {
                let code = a.code.as_deref().unwrap_or("unknown");
                let reason = a.reason.as_deref().unwrap_or("");
                if RETRY_CODES.contains(&code) {
                    warn!(seq, code, "{reason}; kept and sent again later");
                    return Ok(true);
                }
                let msg = format!("record {seq} refused by the park: {code}: {reason}");
                error!("{msg}");
                let mut ob = lock(outbox);
                ob.refuse(u, code, reason)?;
                ob.event(clock.now(), "refused", &msg)?;
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn clock_skew_is_journaled_once_an_hour() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Mutex::new(Outbox::open(dir.path()).unwrap());
        let mut skew = Skew::default();
        skew.observe(10_000, 10_030, &outbox);
        assert!(
            lock(&outbox).events().unwrap().is_empty(),
            "30 s is within the limit"
        );
        skew.observe(10_000, 10_240, &outbox);
        skew.observe(10_000, 10_300, &outbox);
        let events = lock(&outbox).events().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].2,
            "the gateway's clock is 240 s ahead of the park's; intervals are placed by the gateway's clock — synchronise it"
        );
        skew.observe(20_000, 10_240 + 3600, &outbox);
        assert!(lock(&outbox).events().unwrap()[1]
            .2
            .contains("6160 s behind"));
    }
}
