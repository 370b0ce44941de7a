//! Ingest over MQTT: the server subscribes to `tanji/<park>/+/up` on a broker and answers each
//! upload on `tanji/<park>/<device>/ack` with the same JSON as `POST /api/v1/uploads`.
//!
//! A message's payload is what an HTTP upload body is: one signed upload record (a JSON
//! object) or an array of them. It is decoded by [`crate::ingest::decode_body`] and logged
//! through the one [`crate::Sequencer`], so validation, quarantine and answers are those of
//! HTTP and `tanji ingest`. A record whose `device` is not the device of the topic is answered
//! `rejected` (`wrong_topic`) and not logged: its acknowledgement would go to another device.
//!
//! Delivery is at least once, end to end. The server's session is persistent (clean session
//! off, a fixed client id) and its subscription QoS 1; a message is acknowledged to the
//! broker (PUBACK) only after its answer — given once the batch is durable — has been
//! published (QoS 1). A message the server received but did not acknowledge (it stopped, or
//! the connection dropped) is delivered again by the broker; logging it again is harmless,
//! since the park answers an identical record `duplicate` with its first index and logs
//! nothing. A lost connection is retried with exponential backoff ([`BACKOFF_MIN`] doubling
//! to [`BACKOFF_MAX`]).
//!
//! No message can stop ingest. The client takes any packet MQTT allows ([`MQTT_MAX_PACKET`]):
//! rumqttc refuses a packet over its own limit by dropping the connection, and the broker
//! would deliver the same message again on every reconnection. A message over
//! `http.max_body_bytes` is instead refused by size (`body_too_large`), and one that is not
//! upload JSON gets the HTTP 400/413 body; both are answered on the device's ack topic,
//! acknowledged to the broker and counted (`tanji_mqtt_refused_total{reason}`).
//!
//! Work in flight is bounded: at most [`MqttConfig::max_in_flight`] messages are handled at
//! once (`tanji_mqtt_in_flight`). Beyond it a QoS 1 message waits, unacknowledged, for a free
//! handler (`tanji_mqtt_waiting`): the broker sends no more than its in-flight window of
//! unacknowledged messages, which is the backpressure (the event loop itself is polled all the
//! time, since it also sends the answers and PUBACKs). A QoS 0 message, which nothing would
//! deliver again, is dropped and counted (`overloaded`). Shutdown takes at most
//! [`MqttConfig::shutdown_ms`] (10 s by default) whatever the broker does.
//!
//! The server's state is published, retained, on `tanji/<park>/status`: `{"status":"online",…}`
//! once subscribed, `{"status":"offline"}` on a graceful stop and, as the broker's last will,
//! when the connection is lost.
//!
//! Configured by `[mqtt] url = "mqtt://host:1883"` (user and password may be given in the URL;
//! TLS is not supported — run a broker or bridge on the server's network) or by
//! `tanji serve --mqtt URL`.
//!
//! What it is not: not a broker, and not a second ingest path — it never validates records.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, LastWill, MqttOptions, Packet, Publish, QoS,
    SubscribeReasonCode,
};
use serde::Deserialize;
use tanji_park::Incoming;
use tanji_store::Store;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::ingest::decode_body;
use crate::metrics::MqttMetrics;
use crate::sequencer::Answer;
use crate::{AppState, ErrorBody, ServerError};

/// The first wait before reconnecting to a broker.
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// The longest wait between reconnection attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// The answer code of a record published on another device's topic.
pub const WRONG_TOPIC: &str = "wrong_topic";
/// The largest packet MQTT 3.1.1 can frame (its remaining length's maximum, 256 MiB): the
/// client's limit, so that no message breaks the connection (see [`serve`]).
pub const MQTT_MAX_PACKET: usize = 268_435_455;
/// `[mqtt] max_in_flight` by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The largest `[mqtt] max_in_flight` accepted.
pub const MAX_IN_FLIGHT_LIMIT: usize = 4096;
/// `[mqtt] shutdown_ms` by default.
pub const DEFAULT_SHUTDOWN_MS: u64 = 10_000;
/// How often dropped QoS 0 messages are reported in the log (at most).
const OVERLOAD_REPORT_EVERY: Duration = Duration::from_secs(10);
/// The refusal reason of a QoS 0 message dropped because every handler was busy.
pub const OVERLOADED: &str = "overloaded";
/// The refusal reason of a message on a topic that is not an upload topic of the park.
pub const UNEXPECTED_TOPIC: &str = "unexpected_topic";

/// The `[mqtt]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// The broker: `mqtt://[user[:password]@]host[:port]` (port 1883 by default).
    pub url: String,
    /// The `<park>` segment of the topics; the park's name by default.
    #[serde(default)]
    pub park: Option<String>,
    /// The server's MQTT client id (its persistent session); `tanji-server-<park>` by default.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The most messages handled at once (decoded, logged, answered): beyond it a QoS 1
    /// message waits, unacknowledged, for a free handler (the broker sends no more than its
    /// in-flight window of those), and a QoS 0 message is dropped (counted as `overloaded`).
    /// [`DEFAULT_MAX_IN_FLIGHT`] by default.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// The longest MQTT ingest takes to stop once shutdown begins, in milliseconds: messages
    /// being logged are answered until then, the rest is left unacknowledged for the broker to
    /// deliver again. [`DEFAULT_SHUTDOWN_MS`] by default.
    #[serde(default = "default_shutdown_ms")]
    pub shutdown_ms: u64,
}

fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}

fn default_shutdown_ms() -> u64 {
    DEFAULT_SHUTDOWN_MS
}

impl MqttConfig {
    /// A configuration for the broker at `url`, with the defaults.
    pub fn new(url: &str) -> Self {
        MqttConfig {
            url: url.to_string(),
            park: None,
            client_id: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            shutdown_ms: DEFAULT_SHUTDOWN_MS,
        }
    }

    /// Checks the URL, the topic segment and the limits.
    pub fn check(&self) -> Result<(), MqttError> {
        Broker::parse(&self.url)?;
        if let Some(p) = &self.park {
            check_segment(p, "mqtt.park")?;
        }
        if !(1..=MAX_IN_FLIGHT_LIMIT).contains(&self.max_in_flight) {
            return Err(MqttError::Limit {
                what: "mqtt.max_in_flight",
                value: self.max_in_flight as u64,
                range: format!("1 to {MAX_IN_FLIGHT_LIMIT}"),
            });
        }
        if !(100..=3_600_000).contains(&self.shutdown_ms) {
            return Err(MqttError::Limit {
                what: "mqtt.shutdown_ms",
                value: self.shutdown_ms,
                range: "100 to 3600000 (an hour)".into(),
            });
        }
        Ok(())
    }
}

/// What is wrong with an MQTT setting.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MqttError {
    /// The broker URL does not parse.
    #[error("MQTT broker URL {url:?}: {message}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// A limit is out of its range.
    #[error("{what} = {value} is out of range: write a value from {range}")]
    Limit {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The values allowed.
        range: String,
    },
    /// A park or device name cannot be a topic level.
    #[error("{what} {value:?} cannot be an MQTT topic level: it must be non-empty and hold no '/', '+', '#' or NUL")]
    Topic {
        /// Which name.
        what: String,
        /// The name.
        value: String,
    },
}

/// A broker address parsed from an `mqtt://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name, if the URL has one.
    pub username: Option<String>,
    /// Password, if the URL has one.
    pub password: Option<String>,
}

impl Broker {
    /// Parses `mqtt://[user[:password]@]host[:port][/]` (`tcp://` is accepted too).
    pub fn parse(url: &str) -> Result<Broker, MqttError> {
        let bad = |message: &str| MqttError::Url {
            url: url.to_string(),
            message: message.to_string(),
        };
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(|| {
                if url.starts_with("mqtts://") || url.starts_with("ssl://") {
                    bad("TLS is not supported; connect to a broker (or a bridge) on a trusted network with mqtt://")
                } else {
                    bad("write mqtt://host:port, e.g. mqtt://127.0.0.1:1883")
                }
            })?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') {
            return Err(bad(
                "a path or query is not allowed; write mqtt://host:port",
            ));
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((n, p)) => (Some(n.to_string()), Some(p.to_string())),
                None => (Some(u.to_string()), None),
            },
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address needs its closing ']'"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| bad("write [address]:port"))?,
                    ),
                ),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad("the host is missing"));
        }
        let port = match port {
            None => 1883,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(&format!("port {p:?} is not a number from 1 to 65535")))?,
        };
        Ok(Broker {
            host: host.to_string(),
            port,
            username,
            password,
        })
    }
}

fn check_segment(value: &str, what: &str) -> Result<(), MqttError> {
    if value.is_empty() || value.contains(['/', '+', '#', '\0']) {
        return Err(MqttError::Topic {
            what: what.to_string(),
            value: value.to_string(),
        });
    }
    Ok(())
}

/// The topic a device publishes its uploads to.
pub fn up_topic(park: &str, device: &str) -> String {
    format!("tanji/{park}/{device}/up")
}

/// The topic a device's answers are published to.
pub fn ack_topic(park: &str, device: &str) -> String {
    format!("tanji/{park}/{device}/ack")
}

/// The topic of the server's retained online/offline state.
pub fn status_topic(park: &str) -> String {
    format!("tanji/{park}/status")
}

/// The device of an upload topic of `park`, if `topic` is one.
pub fn device_of<'a>(topic: &'a str, park: &str) -> Option<&'a str> {
    let device = topic
        .strip_prefix("tanji/")?
        .strip_prefix(park)?
        .strip_prefix('/')?
        .strip_suffix("/up")?;
    (!device.is_empty() && !device.contains('/')).then_some(device)
}

/// The retained status payload.
fn status(online: bool, log_size: Option<u64>) -> Vec<u8> {
    let v = match (online, log_size) {
        (true, Some(size)) => serde_json::json!({"status": "online", "log_size": size}),
        (true, None) => serde_json::json!({"status": "online"}),
        (false, _) => serde_json::json!({"status": "offline"}),
    };
    v.to_string().into_bytes()
}

/// Serves MQTT ingest for `state`'s park until `shutdown` resolves; then stops taking
/// messages, answers and acknowledges those being logged for at most
/// [`MqttConfig::shutdown_ms`] in all, marks itself offline and disconnects. Messages not
/// acknowledged are delivered again by the broker next time.
///
/// Connection failures are not errors: they are logged and retried with backoff. An error is
/// returned only for a configuration that cannot work.
pub async fn serve(
    state: AppState,
    config: MqttConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let bad = |e: MqttError| ServerError::Config {
        path: "mqtt".into(),
        message: e.to_string(),
    };
    config.check().map_err(bad)?;
    let broker = Broker::parse(&config.url).map_err(bad)?;
    let park = park_name(&state, &config).await?;
    check_segment(&park, "the park name").map_err(bad)?;
    let client_id = config
        .client_id
        .clone()
        .unwrap_or_else(|| format!("tanji-server-{park}"));
    let options = client_options(&broker, &park, client_id.clone());
    // Each handler queues at most two requests (its answer and its PUBACK), so the queue never
    // fills while the event loop waits for a free handler (which would deadlock).
    let (client, events) = AsyncClient::new(options, 2 * config.max_in_flight + 16);
    let (tx, mut rx) = mpsc::channel(64);
    let connected = Arc::new(AtomicBool::new(false));
    let poller = tokio::spawn(poll_events(events, tx, Arc::clone(&connected)));
    tracing::info!(
        broker = %format!("{}:{}", broker.host, broker.port),
        client_id,
        topics = %up_topic(&park, "+"),
        max_in_flight = config.max_in_flight,
        "MQTT ingest starting"
    );
    let mut d = Dispatch::new(state, client, park, config.max_in_flight);
    let shutdown = std::pin::pin!(shutdown);
    let mut shutdown = shutdown;
    // The event loop is polled all the time (it also sends the answers and PUBACKs), so
    // nothing here may wait on the client: requests are queued from tasks.
    loop {
        let event = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = d.handlers.join_next(), if !d.handlers.is_empty() => {
                d.resume_waiting();
                continue;
            }
            event = rx.recv() => event,
        };
        match event {
            None => break,
            Some(event) => d.event(event),
        }
    }
    // Waiting messages are left unacknowledged: the broker delivers them again next session.
    d.waiting.clear();
    d.metrics.waiting.set(0);
    stop(StopArgs {
        park: &d.park,
        client: &d.client,
        rx: &mut rx,
        handlers: &mut d.handlers,
        connected: &connected,
        bound: Duration::from_millis(config.shutdown_ms),
    })
    .await;
    poller.abort();
    tracing::info!("MQTT ingest stopped");
    Ok(())
}

/// The park's name: the configured one, else the one its store names.
async fn park_name(state: &AppState, config: &MqttConfig) -> Result<String, ServerError> {
    match &config.park {
        Some(p) => Ok(p.clone()),
        None => state
            .reader()
            .with(|s| Ok(s.meta("park")?.unwrap_or_default()))
            .await
            .map_err(|e| ServerError::Config {
                path: "mqtt".into(),
                message: format!("reading the park's name: {}", e.body.message),
            }),
    }
}

/// The MQTT session: persistent, acknowledged by hand, the offline status as last will.
fn client_options(broker: &Broker, park: &str, client_id: String) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        // rumqttc refuses a packet over its limit by dropping the whole connection, and the
        // broker then delivers the same message again on every reconnection: one oversized
        // message would stop ingest for good. So the client takes any packet MQTT allows and
        // `handle` refuses what is over `http.max_body_bytes` (acknowledged and answered).
        .set_max_packet_size(MQTT_MAX_PACKET, MQTT_MAX_PACKET)
        .set_last_will(LastWill::new(
            status_topic(park),
            status(false, None),
            QoS::AtLeastOnce,
            true,
        ));
    if let Some(user) = &broker.username {
        options.set_credentials(user.clone(), broker.password.clone().unwrap_or_default());
    }
    options
}

/// Hands the broker's events out: subscribes on each connection, announces the park online,
/// and gives each message a handler as one is free.
struct Dispatch {
    state: AppState,
    client: AsyncClient,
    park: String,
    /// The subscription: every device's upload topic.
    filter: String,
    metrics: MqttMetrics,
    permits: Arc<Semaphore>,
    max_in_flight: usize,
    /// Payloads over this are refused by size.
    max_bytes: usize,
    overload: Overload,
    /// QoS 1 messages received while every handler is busy, in order. The broker sends at most
    /// its in-flight window of unacknowledged messages (Mosquitto `max_inflight_messages`), so
    /// this queue is bounded by it; oversized ones are held without their payload.
    waiting: VecDeque<Message>,
    handlers: JoinSet<()>,
}

impl Dispatch {
    fn new(state: AppState, client: AsyncClient, park: String, max_in_flight: usize) -> Dispatch {
        Dispatch {
            filter: up_topic(&park, "+"),
            metrics: state.metrics().mqtt.clone(),
            permits: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            max_bytes: state.config().http.max_body_bytes,
            overload: Overload::default(),
            waiting: VecDeque::new(),
            handlers: JoinSet::new(),
            state,
            client,
            park,
        }
    }

    /// Hands `message` to a new handler that holds `permit`.
    fn spawn(&mut self, message: Message, permit: OwnedSemaphorePermit) {
        let in_flight = InFlight::enter(&self.metrics, permit);
        self.handlers.spawn(handle(
            self.state.clone(),
            self.client.clone(),
            self.park.clone(),
            message,
            in_flight,
        ));
    }

    /// A handler finished: the waiting messages get the free handlers, in order.
    fn resume_waiting(&mut self) {
        while let Some(message) = self.waiting.pop_front() {
            match Arc::clone(&self.permits).try_acquire_owned() {
                Ok(permit) => self.spawn(message, permit),
                Err(_) => {
                    self.waiting.push_front(message);
                    break;
                }
            }
        }
        self.metrics.waiting.set(self.waiting.len() as i64);
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(c)) => {
                // Messages of an earlier connection are delivered again on this one; their
                // packet ids are not this connection's to acknowledge.
                self.waiting.clear();
                self.metrics.waiting.set(0);
                if c.code == ConnectReturnCode::Success {
                    tracing::info!(session_present = c.session_present, "MQTT connected");
                    // Subscribing again on a resumed session is harmless and covers a
                    // broker that lost it.
                    let (client, filter) = (self.client.clone(), self.filter.clone());
                    tokio::spawn(async move {
                        if let Err(e) = client.subscribe(filter, QoS::AtLeastOnce).await {
                            tracing::error!(error = %e, "MQTT subscribe could not be queued");
                        }
                    });
                } else {
                    tracing::error!(code = ?c.code, "MQTT broker refused the connection");
                }
            }
            Event::Incoming(Packet::SubAck(s)) => {
                let filter = &self.filter;
                if s.return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure))
                {
                    tracing::error!(
                        topic = filter,
                        "MQTT broker refused the subscription; check its ACL"
                    );
                } else {
                    tracing::info!(topic = filter, "MQTT subscribed");
                    let size = self.state.head().size;
                    let (client, topic) = (self.client.clone(), status_topic(&self.park));
                    tokio::spawn(async move {
                        let _ = client
                            .publish(topic, QoS::AtLeastOnce, true, status(true, Some(size)))
                            .await;
                    });
                }
            }
            Event::Incoming(Packet::Publish(p)) => self.publish(Message::new(p, self.max_bytes)),
            _ => {}
        }
    }

    /// A message: to a free handler, else queued (QoS 1) or dropped (QoS 0).
    fn publish(&mut self, message: Message) {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) if self.waiting.is_empty() => self.spawn(message, permit),
            _ if message.publish.qos == QoS::AtMostOnce => {
                // Nothing asks the broker to send it again: dropped, and counted.
                self.metrics.refuse(OVERLOADED);
                self.overload.dropped(self.max_in_flight);
            }
            _ => {
                // Unacknowledged, it holds a place of the broker's in-flight window:
                // the broker sends no more than that window until handlers free up.
                self.waiting.push_back(message);
                self.metrics.waiting.set(self.waiting.len() as i64);
            }
        }
    }
}

/// What [`stop`] works on.
struct StopArgs<'a> {
    park: &'a str,
    client: &'a AsyncClient,
    rx: &'a mut mpsc::Receiver<Event>,
    handlers: &'a mut JoinSet<()>,
    connected: &'a AtomicBool,
    bound: Duration,
}

/// Stops within `bound` whatever the broker does: messages arriving from now on are left
/// unacknowledged (the broker keeps them for the next session); those being logged are
/// answered and acknowledged until the disconnection's share of `bound` (a second, or half of
/// `bound` if shorter) is all that is left; then the rest is abandoned (not acknowledged, so
/// delivered again), `offline` is published and the client disconnects.
async fn stop(a: StopArgs<'_>) {
    let started = Instant::now();
    let deadline = started + a.bound;
    let drain_until = deadline - (a.bound / 2).min(Duration::from_secs(1));
    tracing::info!(
        pending = a.handlers.len(),
        bound_ms = a.bound.as_millis() as u64,
        "MQTT ingest stopping: answering what is being logged"
    );
    let mut poller_gone = false;
    while !a.handlers.is_empty() {
        tokio::select! {
            _ = a.handlers.join_next() => {}
            event = a.rx.recv() => if event.is_none() { poller_gone = true; break },
            () = tokio::time::sleep_until(drain_until) => {
                tracing::warn!(
                    left = a.handlers.len(),
                    "MQTT messages not answered in time; left unacknowledged, the broker delivers them again"
                );
                break;
            }
        }
    }
    a.handlers.abort_all();
    if poller_gone {
        return;
    }
    let disconnected = tokio::time::timeout_at(deadline, async {
        let send = async {
            let _ = a
                .client
                .publish(
                    status_topic(a.park),
                    QoS::AtLeastOnce,
                    true,
                    status(false, None),
                )
                .await;
            let _ = a.client.disconnect().await;
        };
        let mut send = std::pin::pin!(send);
        // Events are taken meanwhile, so the event loop keeps being polled and sends them.
        loop {
            tokio::select! {
                () = &mut send => break,
                event = a.rx.recv() => if event.is_none() { return },
            }
        }
        // The event loop ends once the disconnect is written; with no connection there is
        // nothing to wait for (the broker's last will says the server is offline).
        if a.connected.load(Ordering::SeqCst) {
            while a.rx.recv().await.is_some() {}
        }
    })
    .await;
    if disconnected.is_err() {
        tracing::warn!(
            bound_ms = a.bound.as_millis() as u64,
            "MQTT disconnect not confirmed within the shutdown bound; closing anyway"
        );
    }
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "MQTT shutdown took"
    );
}

/// Reports dropped QoS 0 messages in the log at most every [`OVERLOAD_REPORT_EVERY`] (a flood
/// must not flood the log too); the metric counts each one.
#[derive(Default)]
struct Overload {
    dropped: u64,
    reported: Option<Instant>,
}

impl Overload {
    fn dropped(&mut self, bound: usize) {
        self.dropped += 1;
        if self
            .reported
            .is_none_or(|t| t.elapsed() >= OVERLOAD_REPORT_EVERY)
        {
            tracing::warn!(
                max_in_flight = bound,
                dropped = self.dropped,
                "MQTT handlers all busy: QoS 0 messages dropped since the last report (counted in tanji_mqtt_refused_total{{reason=\"overloaded\"}})"
            );
            self.dropped = 0;
            self.reported = Some(Instant::now());
        }
    }
}

/// A message received: the publish (without its payload if it is over the size limit) and the
/// payload's size.
struct Message {
    publish: Publish,
    size: usize,
}

impl Message {
    /// Keeps the payload only if it is within `max` bytes: an oversized one is refused by size,
    /// and is not held in memory meanwhile.
    fn new(mut publish: Publish, max: usize) -> Message {
        let size = publish.payload.len();
        if size > max {
            publish.payload = Default::default();
        }
        Message { publish, size }
    }
}

/// One message being handled: holds its handler permit and counts itself in the in-flight
/// gauge (taken after the permit, given back before it, so the gauge never exceeds the bound).
struct InFlight {
    gauge: prometheus_client::metrics::gauge::Gauge,
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    fn enter(metrics: &MqttMetrics, permit: OwnedSemaphorePermit) -> InFlight {
        let now = metrics.in_flight.inc() + 1;
        metrics
            .in_flight_peak
            .inner()
            .fetch_max(now, Ordering::Relaxed);
        InFlight {
            gauge: metrics.in_flight.clone(),
            _permit: permit,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Polls the event loop (never cancelled mid-poll), forwards events, and reconnects with
/// backoff. Ends when the receiver is gone or after the disconnect was sent.
async fn poll_events(mut events: EventLoop, tx: mpsc::Sender<Event>, connected: Arc<AtomicBool>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        match events.poll().await {
            Ok(event) => {
                if let Event::Incoming(Packet::ConnAck(c)) = &event {
                    backoff = BACKOFF_MIN;
                    connected.store(c.code == ConnectReturnCode::Success, Ordering::SeqCst);
                }
                let done = matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect));
                if tx.send(event).await.is_err() || done {
                    return;
                }
            }
            Err(e) => {
                connected.store(false, Ordering::SeqCst);
                if tx.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "MQTT connection failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Logs one message, publishes its answer, then acknowledges it to the broker. A message over
/// `http.max_body_bytes` is refused unread (`body_too_large`), and one that is not upload JSON
/// gets the HTTP 400/413 body: both are answered and acknowledged like any other, so that the
/// broker never delivers them again.
async fn handle(
    state: AppState,
    client: AsyncClient,
    park: String,
    message: Message,
    _in_flight: InFlight,
) {
    let Message { publish, size } = message;
    let metrics = &state.metrics().mqtt;
    let Some(device) = device_of(&publish.topic, &park).map(str::to_string) else {
        metrics.refuse(UNEXPECTED_TOPIC);
        tracing::warn!(
            topic = publish.topic,
            "MQTT message on an unexpected topic; acknowledged and ignored"
        );
        let _ = client.ack(&publish).await;
        return;
    };
    let max = state.config().http.max_body_bytes;
    let reply = if size > max {
        let refusal = too_large(size, max);
        metrics.refuse(refusal.error);
        tracing::warn!(
            device,
            bytes = size,
            max,
            "MQTT message over the size limit refused"
        );
        serde_json::to_vec(&refusal).unwrap_or_default()
    } else {
        match answer(&state, &park, &device, &publish).await {
            Some(reply) => reply,
            // Shutting down: no answer, no PUBACK; the broker delivers it again next session.
            None => return,
        }
    };
    if let Err(e) = client
        .publish(ack_topic(&park, &device), QoS::AtLeastOnce, false, reply)
        .await
    {
        tracing::warn!(error = %e, device, "MQTT answer not published; the message will come again");
        return;
    }
    if let Err(e) = client.ack(&publish).await {
        tracing::warn!(error = %e, device, "MQTT PUBACK not queued; the message will come again");
    }
}

/// The answer to a message over the size limit: the body HTTP answers with 413.
fn too_large(size: usize, max: usize) -> ErrorBody {
    ErrorBody {
        error: "body_too_large",
        message: format!(
            "the message is {size} bytes, larger than the limit of {max} bytes (http.max_body_bytes); nothing was logged: publish fewer records per message"
        ),
    }
}

/// The answer payload to a message: answers as HTTP gives them (an object for an object, an
/// array for an array), or an error body (`{"error", "message"}`) for a payload that is not
/// upload JSON. `None` if the server is shutting down.
async fn answer(state: &AppState, park: &str, device: &str, publish: &Publish) -> Option<Vec<u8>> {
    let source = format!("mqtt {}", publish.topic);
    let max = state.config().http.max_records_per_request;
    let refusals = state.mqtt_refusals();
    // A device topic whose messages keep being refused is answered 429's body, unread and
    // unquarantined, for the rest of the refusal window (as an HTTP peer is).
    if let Err(e) = refusals.check(&publish.topic) {
        state.metrics().mqtt.refuse(e.body.error);
        return serde_json::to_vec(&e.body).ok();
    }
    let mut wait = BACKOFF_MIN;
    loop {
        let (items, array) = match decode_body(&publish.payload, max, &source) {
            Ok(d) => d,
            Err(e) => {
                state.metrics().mqtt.refuse(e.body.error);
                refusals.add(&publish.topic, 1);
                return serde_json::to_vec(&e.body).ok();
            }
        };
        // Records of another device are answered here and not logged.
        let mut answers: Vec<Option<Answer>> = Vec::with_capacity(items.len());
        let mut mine: Vec<Incoming> = Vec::with_capacity(items.len());
        for item in items {
            match &item.parsed {
                Ok(u) if u.body.device != device => answers.push(Some(Answer::Rejected {
                    code: WRONG_TOPIC,
                    reason: format!(
                        "{}: the record is of device {:?} but was published on the topic of device {device:?}; publish it on {}",
                        item.source,
                        u.body.device,
                        up_topic(park, &u.body.device)
                    ),
                })),
                _ => {
                    answers.push(None);
                    mine.push(item);
                }
            }
        }
        match state.sequencer().submit(mine).await {
            Ok(logged) => {
                let mut logged = logged.into_iter();
                let answers: Vec<Answer> = answers
                    .into_iter()
                    .filter_map(|a| a.or_else(|| logged.next()))
                    .collect();
                let rejected = answers
                    .iter()
                    .filter(|a| matches!(a, Answer::Rejected { .. }))
                    .count();
                refusals.add(&publish.topic, u32::try_from(rejected).unwrap_or(u32::MAX));
                return if array {
                    serde_json::to_vec(&answers).ok()
                } else {
                    serde_json::to_vec(&answers.first()).ok()
                };
            }
            Err(ServerError::Busy(n)) => {
                // The broker holds further messages back while this one is unacknowledged.
                tracing::debug!(waiting = n, "ingest queue full; MQTT message retried");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(ServerError::ShuttingDown) => return None,
            Err(e) => return serde_json::to_vec(&crate::ApiError::from(e).body).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn broker_urls() {
        let b = Broker::parse("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("127.0.0.1", 1883));
        assert_eq!(b.username, None);
        let b = Broker::parse("mqtt://dev:s3cret@broker.example/").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("broker.example", 1883));
        assert_eq!(b.username.as_deref(), Some("dev"));
        assert_eq!(b.password.as_deref(), Some("s3cret"));
        let b = Broker::parse("tcp://[::1]:2883").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 2883));
        for bad in [
            "127.0.0.1:1883",
            "mqtts://broker:8883",
            "mqtt://:1883",
            "mqtt://host:0",
            "mqtt://host:99999",
            "mqtt://host:1883/topic",
        ] {
            let e = Broker::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn limits_are_checked_and_named() {
        let mut c = MqttConfig::new("mqtt://127.0.0.1:1883");
        assert_eq!(c.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        assert_eq!(c.shutdown_ms, DEFAULT_SHUTDOWN_MS);
        assert!(c.check().is_ok());
        c.max_in_flight = 0;
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("mqtt.max_in_flight = 0"), "{e}");
        c.max_in_flight = 1;
        c.shutdown_ms = 10;
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("mqtt.shutdown_ms = 10"), "{e}");
        let parsed: MqttConfig =
            toml::from_str("url = \"mqtt://h\"\nmax_in_flight = 8\nshutdown_ms = 2000\n").unwrap();
        assert_eq!((parsed.max_in_flight, parsed.shutdown_ms), (8, 2000));
    }

    #[test]
    fn oversized_messages_are_held_without_their_payload() {
        let p = Publish::new("tanji/p/d/up", QoS::AtLeastOnce, vec![b'x'; 11]);
        let m = Message::new(p.clone(), 10);
        assert_eq!((m.size, m.publish.payload.len()), (11, 0));
        let m = Message::new(p, 11);
        assert_eq!((m.size, m.publish.payload.len()), (11, 11));
        let e = too_large(11, 10);
        assert_eq!(e.error, "body_too_large");
        assert!(e.message.contains("11 bytes") && e.message.contains("limit of 10 bytes"));
    }

    #[test]
    fn topics() {
        assert_eq!(up_topic("p1", "d-0001"), "tanji/p1/d-0001/up");
        assert_eq!(ack_topic("p1", "d-0001"), "tanji/p1/d-0001/ack");
        assert_eq!(device_of("tanji/p1/d-0001/up", "p1"), Some("d-0001"));
        assert_eq!(device_of("tanji/p1/d-0001/ack", "p1"), None);
        assert_eq!(device_of("tanji/p2/d-0001/up", "p1"), None);
        assert_eq!(device_of("tanji/p1/a/b/up", "p1"), None);
        assert_eq!(device_of("tanji/p1//up", "p1"), None);
        assert!(check_segment("park.a_1", "x").is_ok());
        assert!(check_segment("a/b", "x").is_err());
        assert!(check_segment("a+", "x").is_err());
    }
}
