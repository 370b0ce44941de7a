//! `tanji simulate`: a park's devices, simulated, writing signed uploads as JSON lines — and,
//! with `--mqtt URL`, publishing them to a broker as the devices would.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use tanji_readings::{registration_to_json, upload_to_json, SignedUpload};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_units::time;

use crate::util;

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Output directory: registrations.jsonl and uploads.jsonl are written there.
    #[arg(long)]
    pub out: PathBuf,
    /// Also register the simulated devices in this park (logged entries).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Number of enterprises (one collection device each).
    #[arg(long, default_value_t = 20)]
    pub enterprises: usize,
    /// Number of days (one upload per device per UTC day, 96 quarter-hours per meter).
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of every random choice and device key: the same seed gives the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First day, YYYY-MM-DD (UTC). Default: so that the last day ends at today's UTC midnight.
    #[arg(long)]
    pub start: Option<String>,
    /// Also publish every upload to this MQTT broker (`mqtt://host:port`) as the devices would:
    /// each device connects on its own, publishes its uploads in order on
    /// `tanji/<park>/<device>/up` with QoS 1 and waits for each answer on `…/ack` (a server
    /// with `--mqtt` on the same broker logs them).
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// The `<park>` level of the MQTT topics (default: the name of the park in `--dir`).
    #[arg(long, requires = "mqtt")]
    pub park: Option<String>,
}

/// What a simulation wrote.
pub struct Written {
    pub registrations: PathBuf,
    pub uploads: PathBuf,
    pub upload_count: u64,
    pub readings: u64,
    pub park: SimPark,
}

pub fn spec(enterprises: usize, days: u32, seed: u64, start: Option<&str>) -> Result<ParkSpec> {
    let start_day = match start {
        Some(s) => util::parse_day(s).with_context(|| format!("--start {s}"))?,
        None => (util::now().div_euclid(time::DAY_S) - i64::from(days)) * time::DAY_S,
    };
    anyhow::ensure!(enterprises > 0, "--enterprises must be at least 1");
    anyhow::ensure!(days > 0, "--days must be at least 1");
    Ok(ParkSpec {
        seed,
        enterprises,
        start_day,
        days,
    })
}

/// Generates the park, with `faults` injected into its meters' values, and writes its
/// registrations and uploads into `out`.
pub fn write(
    spec: ParkSpec,
    faults: Vec<tanji_simulator::Fault>,
    out: &Path,
    registered_at: i64,
) -> Result<Written> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut park = SimPark::generate(spec);
    park.faults = faults;
    let registrations = out.join("registrations.jsonl");
    let uploads = out.join("uploads.jsonl");
    let mut w = BufWriter::new(
        std::fs::File::create(&registrations)
            .with_context(|| format!("creating {}", registrations.display()))?,
    );
    for r in park.registrations(registered_at) {
        writeln!(w, "{}", registration_to_json(&r))?;
    }
    w.flush()?;
    let total = park.uploads().len() as u64;
    let pb = util::bar(total, "simulate");
    let mut w = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(&uploads)
            .with_context(|| format!("creating {}", uploads.display()))?,
    );
    let mut upload_count = 0;
    let mut readings = 0;
    for u in park.uploads() {
        writeln!(w, "{}", upload_to_json(&u))
            .with_context(|| format!("writing {}", uploads.display()))?;
        upload_count += 1;
        readings += u.reading_count() as u64;
        pb.inc(1);
    }
    w.flush()
        .with_context(|| format!("writing {}", uploads.display()))?;
    pb.finish_and_clear();
    Ok(Written {
        registrations,
        uploads,
        upload_count,
        readings,
        park,
    })
}

pub fn run(a: SimulateArgs) -> Result<ExitCode> {
    let spec = spec(a.enterprises, a.days, a.seed, a.start.as_deref())?;
    let registered_at = util::now();
    let written = write(spec, Vec::new(), &a.out, registered_at)?;
    println!(
        "simulated {} enterprises × {} days from {} (seed {}): {} uploads, {} readings",
        spec.enterprises,
        spec.days,
        time::rfc3339(written.park.spec.start_day),
        spec.seed,
        written.upload_count,
        written.readings
    );
    println!("  {}", written.registrations.display());
    println!("  {}", written.uploads.display());
    let end = written.park.spec.start_day + i64::from(spec.days) * time::DAY_S;
    if end > registered_at {
        eprintln!(
            "warning: the simulated days run to {}, after now ({}): `tanji ingest` rejects uploads whose intervals end in the future (future_interval) unless given --now; choose --start so that the last day ends by today",
            time::rfc3339(end),
            time::rfc3339(registered_at)
        );
    }
    if let Some(dir) = &a.dir {
        let mut park = util::open(dir)?;
        let regs = written.park.registrations(registered_at);
        let s = park.register(&regs)?;
        println!(
            "registered {} meter(s) of {} device(s) in {} ({} already registered)",
            s.logged.len(),
            written.park.devices.len(),
            dir.display(),
            s.already
        );
        println!(
            "next: tanji ingest --dir {} {}",
            dir.display(),
            written.uploads.display()
        );
    }
    if let Some(url) = &a.mqtt {
        let park = match (&a.park, &a.dir) {
            (Some(p), _) => p.clone(),
            (None, Some(dir)) => util::open_read(dir)?.name()?,
            (None, None) => anyhow::bail!(
                "--mqtt needs the park's name for the topics: give --park NAME (or --dir of the park)"
            ),
        };
        let uploads: Vec<SignedUpload> = written.park.uploads().collect();
        let summary = publish_mqtt(url, &park, &uploads)?;
        println!("{summary}");
        if summary.rejected + summary.errors > 0 {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How long a device waits for an answer before publishing the same upload again.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Publications of one upload before a device gives up.
const ATTEMPTS: u32 = 4;

/// What publishing over MQTT came to.
#[derive(Debug, Default)]
pub struct MqttSummary {
    pub url: String,
    pub devices: usize,
    pub published: u64,
    pub accepted: u64,
    pub duplicate: u64,
    pub rejected: u64,
    /// Error answers (`{"error": …}`): the payload was refused whole.
    pub errors: u64,
    /// Uploads published again because no answer came within [`ACK_WAIT`].
    pub republished: u64,
    /// Rejection codes and their counts.
    pub codes: BTreeMap<String, u64>,
    /// Publish-to-answer latency of each upload, seconds.
    pub latencies: Vec<f64>,
    pub seconds: f64,
}

impl std::fmt::Display for MqttSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        // Nearest-rank percentile over every answered upload.
        let pct = |p: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
            sorted[rank.min(sorted.len()) - 1] * 1000.0
        };
        writeln!(
            f,
            "published {} uploads from {} devices over MQTT ({}) in {:.1} s ({:.1} uploads/s answered)",
            self.published,
            self.devices,
            self.url,
            self.seconds,
            self.latencies.len() as f64 / self.seconds.max(1e-9)
        )?;
        write!(
            f,
            "  answers: {} accepted, {} duplicate, {} rejected, {} refused whole; {} republished after no answer within {} s",
            self.accepted,
            self.duplicate,
            self.rejected,
            self.errors,
            self.republished,
            ACK_WAIT.as_secs()
        )?;
        for (code, n) in &self.codes {
            write!(f, "\n    rejected {code}: {n}")?;
        }
        write!(
            f,
            "\n  acknowledgement latency (publish to answer, nearest rank over {} uploads): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            sorted.len(),
            pct(50.0),
            pct(99.0),
            sorted.last().map_or(0.0, |m| m * 1000.0)
        )
    }
}

/// Publishes `uploads` to the broker at `url` as their devices would: one MQTT connection per
/// device, its uploads in order, each on `tanji/<park>/<device>/up` with QoS 1, the next one
/// after the answer to the previous came on `tanji/<park>/<device>/ack` (published again if
/// none came within [`ACK_WAIT`]: the server answers a repeat `duplicate`).
pub fn publish_mqtt(url: &str, park: &str, uploads: &[SignedUpload]) -> Result<MqttSummary> {
    let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in uploads {
        by_device
            .entry(u.body.device.clone())
            .or_default()
            .push(upload_to_json(u));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(publish_devices(url, park, by_device))
}

/// [`publish_mqtt`] on the caller's runtime, for uploads already written as JSON and grouped
/// by device (each device's in the order it sends them).
pub async fn publish_devices(
    url: &str,
    park: &str,
    by_device: BTreeMap<String, Vec<String>>,
) -> Result<MqttSummary> {
    let broker = tanji_server::mqtt::Broker::parse(url)?;
    let started = Instant::now();
    let devices = by_device.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (device, payloads) in by_device {
        tasks.spawn(run_device(
            broker.clone(),
            park.to_string(),
            device,
            payloads,
        ));
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.context("a simulated device failed")?);
    }
    let mut summary = MqttSummary {
        url: url.to_string(),
        devices,
        ..MqttSummary::default()
    };
    for r in results {
        let d = r?;
        summary.published += d.published;
        summary.accepted += d.accepted;
        summary.duplicate += d.duplicate;
        summary.rejected += d.rejected;
        summary.errors += d.errors;
        summary.republished += d.republished;
        for (c, n) in d.codes {
            *summary.codes.entry(c).or_default() += n;
        }
        summary.latencies.extend(d.latencies);
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Waits until a tanji server says it is online for `park` on the broker at `url` (its
/// retained `{"status":"online"}` on `tanji/<park>/status`), at most `wait`: uploads published
/// before it subscribed would reach nobody.
pub async fn wait_for_server(url: &str, park: &str, wait: Duration) -> Result<()> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let broker = tanji_server::mqtt::Broker::parse(url)?;
    let topic = tanji_server::mqtt::status_topic(park);
    let mut options = MqttOptions::new(
        format!("tanji-sim-{park}-watch-{}", std::process::id()),
        broker.host.clone(),
        broker.port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    if let Some(user) = &broker.username {
        options.set_credentials(user.clone(), broker.password.clone().unwrap_or_default());
    }
    let (client, mut events) = AsyncClient::new(options, 16);
    let watch = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    client
                        .subscribe(topic.clone(), QoS::AtLeastOnce)
                        .await
                        .with_context(|| format!("subscribing to {topic}"))?;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let online = serde_json::from_slice::<serde_json::Value>(&p.payload)
                        .is_ok_and(|v| v["status"] == "online");
                    if online {
                        return Ok::<_, anyhow::Error>(());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "watching the server's status; retrying");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    let result = tokio::time::timeout(wait, watch).await;
    let _ = client.disconnect().await;
    result.map_err(|_| {
        anyhow::anyhow!(
            "no tanji server said it was online on {topic} at {url} within {} s",
            wait.as_secs()
        )
    })?
}

/// One simulated device: connects, subscribes to its answers, publishes its uploads in order.
async fn run_device(
    broker: tanji_server::mqtt::Broker,
    park: String,
    device: String,
    payloads: Vec<String>,
) -> Result<MqttSummary> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let up = tanji_server::mqtt::up_topic(&park, &device);
    let ack = tanji_server::mqtt::ack_topic(&park, &device);
    let mut options = MqttOptions::new(
        format!("tanji-sim-{park}-{device}"),
        broker.host.clone(),
        broker.port,
    );
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(8 << 20, 8 << 20);
    if let Some(user) = &broker.username {
        options.set_credentials(user.clone(), broker.password.clone().unwrap_or_default());
    }
    let (client, mut events) = AsyncClient::new(options, 16);
    let (tx, mut answers) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let (ready_tx, ready) = tokio::sync::oneshot::channel::<()>();
    let subscriber = client.clone();
    let ack_topic = ack.clone();
    let poller = tokio::spawn(async move {
        let mut ready_tx = Some(ready_tx);
        let mut backoff = Duration::from_millis(100);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(100);
                    // A clean session: subscribe again on every connection.
                    let _ = subscriber.try_subscribe(ack_topic.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready_tx.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload.to_vec());
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT connection failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    let addr = format!("{}:{}", broker.host, broker.port);
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .map_err(|_| {
            anyhow::anyhow!("device {device}: no MQTT broker answered at {addr} within 10 s")
        })?
        .map_err(|_| anyhow::anyhow!("device {device}: the MQTT connection ended"))?;
    let mut tally = MqttSummary::default();
    // The leaf index of this device's last logged upload: a late `duplicate` answer pointing
    // at it belongs to a republished upload, not to the next one.
    let mut last_index: Option<u64> = None;
    for payload in payloads {
        let started = Instant::now();
        let mut attempts = 0;
        let answer = 'answered: loop {
            attempts += 1;
            anyhow::ensure!(
                attempts <= ATTEMPTS,
                "device {device}: no answer on {ack} after publishing an upload {ATTEMPTS} times; is `tanji serve --mqtt` running for park {park:?}?"
            );
            if attempts > 1 {
                tally.republished += 1;
            }
            client
                .publish(
                    up.clone(),
                    QoS::AtLeastOnce,
                    false,
                    payload.as_bytes().to_vec(),
                )
                .await
                .with_context(|| format!("device {device}: publishing on {up}"))?;
            let deadline = tokio::time::Instant::now() + ACK_WAIT;
            loop {
                let Ok(got) = tokio::time::timeout_at(deadline, answers.recv()).await else {
                    continue 'answered;
                };
                let got = got
                    .ok_or_else(|| anyhow::anyhow!("device {device}: the MQTT connection ended"))?;
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&got) else {
                    continue;
                };
                let stale = v["status"] == "duplicate"
                    && v["index"].as_u64() == last_index
                    && last_index.is_some();
                if !stale {
                    break 'answered v;
                }
            }
        };
        tally.latencies.push(started.elapsed().as_secs_f64());
        tally.published += 1;
        let items = match answer.as_array() {
            Some(a) => a.clone(),
            None => vec![answer],
        };
        for v in items {
            match v["status"].as_str() {
                Some("accepted") => tally.accepted += 1,
                Some("duplicate") => tally.duplicate += 1,
                Some("rejected") => {
                    tally.rejected += 1;
                    let code = v["code"].as_str().unwrap_or("unknown").to_string();
                    *tally.codes.entry(code).or_default() += 1;
                }
                _ => {
                    tally.errors += 1;
                    tracing::warn!(device, answer = %v, "upload refused");
                }
            }
            if let Some(i) = v["index"].as_u64() {
                last_index = Some(i);
            }
        }
    }
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), poller).await;
    Ok(tally)
}
