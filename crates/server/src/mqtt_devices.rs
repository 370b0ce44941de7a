//! Devices over MQTT: the client side of MQTT ingest ([`crate::mqtt`]), as the simulated
//! devices of `tanji simulate --mqtt` and `tanji demo` use it — one connection per device, its
//! uploads published in order, each after the answer to the last — and what they were
//! answered ([`MqttSummary`]).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::mqtt::MqttError;

/// Why the devices could not publish.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The broker's URL is not one MQTT ingest takes.
    #[error(transparent)]
    Url(#[from] MqttError),
    /// The MQTT client refused a request.
    #[error("{what}")]
    Client {
        /// What was asked.
        what: String,
        /// Why it failed.
        #[source]
        source: rumqttc::ClientError,
    },
    /// No answer came in time: from whom, to what.
    #[error("{0}")]
    Unanswered(String),
    /// A device's connection ended before its uploads were answered.
    #[error("device {0}: the MQTT connection ended")]
    Ended(String),
    /// A device's task failed.
    #[error("a simulated device failed: {0}")]
    Task(String),
}

/// How long a device waits for an answer before publishing the same upload again.
pub const ACK_WAIT: Duration = Duration::from_secs(30);
/// Publications of one upload before a device gives up.
const ATTEMPTS: u32 = 4;

/// What publishing over MQTT came to.
#[derive(Debug, Default)]
pub struct MqttSummary {
    /// The broker's URL.
    pub url: String,
    /// Devices that published.
    pub devices: usize,
    /// Uploads published (each once, however often it was sent).
    pub published: u64,
    /// Answered `accepted`.
    pub accepted: u64,
    /// Answered `duplicate`.
    pub duplicate: u64,
    /// Answered `rejected`.
    pub rejected: u64,
    /// Error answers (`{"error": …}`): the payload was refused whole.
    pub errors: u64,
    /// Uploads published again because no answer came within [`ACK_WAIT`].
    pub republished: u64,
    /// Rejection codes and their counts.
    pub codes: BTreeMap<String, u64>,
    /// Publish-to-answer latency of each upload, seconds.
    pub latencies: Vec<f64>,
    /// Seconds, end to end.
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

/// Publishes uploads already written as JSON and grouped by device (each device's in the
/// order it sends them) to the broker at `url` as their devices would: one MQTT connection per
/// device, its uploads in order, each on `tanji/<park>/<device>/up` with QoS 1, the next one
/// after the answer to the previous came on `tanji/<park>/<device>/ack` (published again if
/// none came within [`ACK_WAIT`]: the server answers a repeat `duplicate`).
pub async fn publish_devices(
    url: &str,
    park: &str,
    by_device: BTreeMap<String, Vec<String>>,
) -> Result<MqttSummary, DeviceError> {
    let broker = crate::mqtt::Broker::parse(url)?;
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
        results.push(r.map_err(|e| DeviceError::Task(e.to_string()))?);
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
pub async fn wait_for_server(url: &str, park: &str, wait: Duration) -> Result<(), DeviceError> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let broker = crate::mqtt::Broker::parse(url)?;
    let topic = crate::mqtt::status_topic(park);
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
                        .map_err(|source| DeviceError::Client {
                            what: format!("subscribing to {topic}"),
                            source,
                        })?;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let online = serde_json::from_slice::<serde_json::Value>(&p.payload)
                        .is_ok_and(|v| v["status"] == "online");
                    if online {
                        return Ok::<_, DeviceError>(());
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
        DeviceError::Unanswered(format!(
            "no tanji server said it was online on {topic} at {url} within {} s",
            wait.as_secs()
        ))
    })?
}

/// One simulated device: connects, subscribes to its answers, publishes its uploads in order.
async fn run_device(
    broker: crate::mqtt::Broker,
    park: String,
    device: String,
    payloads: Vec<String>,
) -> Result<MqttSummary, DeviceError> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let up = crate::mqtt::up_topic(&park, &device);
    let ack = crate::mqtt::ack_topic(&park, &device);
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
            DeviceError::Unanswered(format!(
                "device {device}: no MQTT broker answered at {addr} within 10 s"
            ))
        })?
        .map_err(|_| DeviceError::Ended(device.clone()))?;
    let mut tally = MqttSummary::default();
    // The leaf index of this device's last logged upload: a late `duplicate` answer pointing
    // at it belongs to a republished upload, not to the next one.
    let mut last_index: Option<u64> = None;
    for payload in payloads {
        let started = Instant::now();
        let mut attempts = 0;
        let answer = 'answered: loop {
            attempts += 1;
            if attempts > ATTEMPTS {
                return Err(DeviceError::Unanswered(format!(
                    "device {device}: no answer on {ack} after publishing an upload {ATTEMPTS} times; is `tanji serve --mqtt` running for park {park:?}?"
                )));
            }
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
                .map_err(|source| DeviceError::Client {
                    what: format!("device {device}: publishing on {up}"),
                    source,
                })?;
            let deadline = tokio::time::Instant::now() + ACK_WAIT;
            loop {
                let Ok(got) = tokio::time::timeout_at(deadline, answers.recv()).await else {
                    continue 'answered;
                };
                let got = got.ok_or_else(|| DeviceError::Ended(device.clone()))?;
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

/// Splits JSON-lines uploads between MQTT and HTTP as `tanji demo` does: every fourth device,
/// in the order of their ids, publishes its uploads over MQTT (returned by device, in file
/// order); the rest, and lines that do not decode (they have no device), go over HTTP.
pub fn every_fourth_device(lines: Vec<String>) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let lines: Vec<(Option<String>, String)> = lines
        .into_iter()
        .map(|l| {
            let device = tanji_readings::parse_json_upload(&l)
                .ok()
                .map(|u| u.body.device);
            (device, l)
        })
        .collect();
    let devices: std::collections::BTreeSet<&str> =
        lines.iter().filter_map(|(d, _)| d.as_deref()).collect();
    let over_mqtt: std::collections::BTreeSet<String> =
        devices.into_iter().step_by(4).map(str::to_string).collect();
    let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut http = Vec::new();
    for (device, line) in lines {
        match device {
            Some(d) if over_mqtt.contains(&d) => by_device.entry(d).or_default().push(line),
            _ => http.push(line),
        }
    }
    (by_device, http)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fourth_device_by_id_goes_over_mqtt() {
        let park = tanji_simulator::Park::generate(tanji_simulator::ParkSpec {
            seed: 3,
            enterprises: 5,
            start_day: 1_740_960_000,
            days: 1,
        });
        let mut lines: Vec<String> = park
            .uploads()
            .map(|u| tanji_readings::upload_to_json(&u))
            .collect();
        lines.push("not an upload".into());
        let total = lines.len();
        let (mqtt, http) = every_fourth_device(lines);
        let mut sorted: Vec<String> = park.devices.iter().map(|d| d.device.clone()).collect();
        sorted.sort();
        let expected: Vec<&String> = sorted.iter().step_by(4).collect();
        assert_eq!(mqtt.keys().collect::<Vec<_>>(), expected);
        assert_eq!(http.last().map(String::as_str), Some("not an upload"));
        assert_eq!(
            mqtt.values().map(Vec::len).sum::<usize>() + http.len(),
            total
        );
    }
}
