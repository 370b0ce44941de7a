//! A fleet of devices sending their signed uploads to a server over its park, the way real
//! devices do: `POST /api/v1/uploads` and, when an MQTT broker answers, one device in four
//! publishing over MQTT instead ([`crate::mqtt_devices`]). `tanji demo` ingests its simulated
//! park this way, so that its log is built by the same path a deployment's is.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mqtt_devices::{DeviceError, MqttSummary};
use crate::{Config, Server, ServerError};

/// Requests in flight at once (as many devices sending at the same moment).
const IN_FLIGHT: usize = 64;

/// How long a fleet waits for a broker to accept a TCP connection.
const BROKER_CONNECT: Duration = Duration::from_secs(1);

/// How long the MQTT devices wait for the server to say it is online on the broker.
const SERVER_ONLINE: Duration = Duration::from_secs(10);

/// Why a fleet could not deliver its uploads.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The uploads file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The server over the park could not be opened, or failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The MQTT devices could not publish.
    #[error(transparent)]
    Mqtt(#[from] DeviceError),
    /// A sender task failed.
    #[error("a sender task failed: {0}")]
    Task(String),
}

/// Where a fleet's MQTT devices publish: the broker, and the `<park>` segment of the topics.
#[derive(Debug, Clone)]
pub struct MqttPlan {
    /// `mqtt://host:port`.
    pub url: String,
    /// The topics' park segment, `demo-` and 8 hex digits of the directory's path: one per park
    /// directory, so that parks in two directories never share topics or the server's session.
    pub park: String,
}

impl MqttPlan {
    /// The plan for publishing over MQTT if a broker at `url` accepts a connection within a
    /// second; otherwise why not.
    pub fn probe(url: &str, dir: &Path) -> Result<MqttPlan, String> {
        let broker = crate::mqtt::Broker::parse(url).map_err(|e| e.to_string())?;
        let addrs: Vec<std::net::SocketAddr> =
            std::net::ToSocketAddrs::to_socket_addrs(&(broker.host.as_str(), broker.port))
                .map_err(|e| format!("{}:{}: {e}", broker.host, broker.port))?
                .collect();
        let mut last = format!("{}:{} has no address", broker.host, broker.port);
        for addr in addrs {
            match std::net::TcpStream::connect_timeout(&addr, BROKER_CONNECT) {
                Ok(_) => {
                    let path = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
                    let digest = <sha2::Sha256 as sha2::Digest>::digest(path.display().to_string());
                    return Ok(MqttPlan {
                        url: url.to_string(),
                        park: format!("demo-{}", hex::encode(&digest[..4])),
                    });
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(last)
    }
}

/// What the fleet's uploads were answered.
pub struct FleetIngest {
    /// HTTP answers by status (`accepted`, `duplicate`, `rejected`, or the HTTP error).
    pub by_status: BTreeMap<String, u64>,
    /// The address the server listened on.
    pub addr: String,
    /// Seconds, end to end.
    pub seconds: f64,
    /// Uploads posted over HTTP.
    pub posted: u64,
    /// What the devices that published over MQTT got, if any did.
    pub mqtt: Option<MqttSummary>,
    /// The MQTT plan the fleet followed, if any.
    pub plan: Option<MqttPlan>,
    /// What the [`Beside`] device reported (its summary, or why it failed), if one ran.
    pub beside: Option<Result<String, String>>,
}

/// A device run beside the fleet against the same server (`tanji demo`'s gateway): given the
/// server's base URL (`http://127.0.0.1:PORT`), it runs to its end and returns its summary
/// line, or why it failed. The server stops only after it has finished.
pub type Beside = Box<
    dyn FnOnce(
            String,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<String, String>> + Send>,
        > + Send,
>;

impl FleetIngest {
    /// Uploads answered `accepted`, over both transports.
    pub fn accepted(&self) -> u64 {
        self.by_status.get("accepted").copied().unwrap_or(0)
            + self.mqtt.as_ref().map_or(0, |m| m.accepted)
    }

    /// The HTTP answers, `N status` joined by commas (`none` for none).
    pub fn http_answers(&self) -> String {
        if self.by_status.is_empty() {
            return "none".to_string();
        }
        let answers: Vec<String> = self
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        answers.join(", ")
    }
}

impl fmt::Display for FleetIngest {
    /// One line per transport, as `tanji demo` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ingested over HTTP (POST /api/v1/uploads to tanji-server on {}, acknowledged once durable): {} uploads: {}",
            self.addr,
            self.posted,
            self.http_answers(),
        )?;
        if let (Some(plan), Some(m)) = (&self.plan, &self.mqtt) {
            let mut latencies = m.latencies.clone();
            latencies.sort_by(f64::total_cmp);
            let p50 = latencies
                .get(latencies.len() / 2)
                .map_or(0.0, |s| s * 1000.0);
            write!(
                f,
                "\ningested over MQTT ({}, topics tanji/{}/<device>/up, answers on …/ack, QoS 1): {} uploads from {} devices: {} accepted, {} duplicate, {} rejected, {} refused whole; acknowledgement p50 {p50:.0} ms",
                plan.url, plan.park, m.published, m.devices, m.accepted, m.duplicate, m.rejected, m.errors,
            )?;
        }
        if let Some(Ok(line)) = &self.beside {
            write!(f, "\n{line}")?;
        }
        Ok(())
    }
}

/// A multi-threaded runtime for a fleet run from synchronous code.
fn runtime() -> Result<tokio::runtime::Runtime, ServerError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServerError::Io {
            context: "starting the async runtime".into(),
            source,
        })
}

/// Reads the non-empty lines of a JSON-lines uploads file.
fn read_lines(uploads: &Path) -> Result<Vec<String>, FleetError> {
    let read = |source| FleetError::Read {
        path: uploads.display().to_string(),
        source,
    };
    let text = std::fs::read_to_string(uploads).map_err(read)?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect())
}

/// Sends every upload of the JSON-lines file to a server started over the park in `dir` on
/// 127.0.0.1 (a free port): with `mqtt`, one device in four (every fourth by id) publishes its
/// uploads over MQTT, in order, each after the answer to the last; the others POST theirs to
/// `/api/v1/uploads`, at most 64 at once. Waits for every acknowledgement, and
/// stops the server. `progress(done, total)` follows the HTTP answers.
pub fn ingest_as_devices(
    dir: &Path,
    uploads: &Path,
    mqtt: Option<&MqttPlan>,
    progress: &(dyn Fn(u64, u64) + Sync),
    beside: Option<Beside>,
) -> Result<FleetIngest, FleetError> {
    let lines = read_lines(uploads)?;
    // Which devices publish over MQTT: every fourth, in the order of their ids.
    let (by_device, bodies) = if mqtt.is_some() {
        crate::mqtt_devices::every_fourth_device(lines)
    } else {
        (BTreeMap::new(), lines)
    };
    let posted = bodies.len() as u64;
    let runtime = runtime()?;
    runtime.block_on(async move {
        let mut config = Config::default();
        // Short batches: the fleet's devices all send at once.
        config.batch.window_ms = 20;
        if let Some(plan) = mqtt {
            let mut m = crate::mqtt::MqttConfig::new(&plan.url);
            m.park = Some(plan.park.clone());
            config.mqtt = Some(m);
        }
        let server = Server::open(dir, config)?;
        let io = |context: &str| {
            let context = context.to_string();
            move |source| ServerError::Io { context, source }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("binding 127.0.0.1:0"))?;
        let addr = listener
            .local_addr()
            .map_err(io("reading the listen address"))?
            .to_string();
        let url = Arc::new(format!("http://{addr}/api/v1/uploads"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(crate::run(listener, server, async move {
            let _ = stopped.await;
        }));
        let started = Instant::now();
        let publishing = async {
            match mqtt {
                Some(plan) if !by_device.is_empty() => {
                    let (url, park) = (&plan.url, &plan.park);
                    crate::mqtt_devices::wait_for_server(url, park, SERVER_ONLINE).await?;
                    crate::mqtt_devices::publish_devices(url, park, by_device)
                        .await
                        .map(Some)
                }
                _ => Ok(None),
            }
        };
        let base = format!("http://{addr}");
        let beside = async move {
            match beside {
                Some(device) => Some(device(base).await),
                None => None,
            }
        };
        // The fleet's time is its own: the device beside it may run longer.
        let fleet = async {
            let sent = tokio::join!(post_all(&url, bodies, progress), publishing);
            (sent, started.elapsed().as_secs_f64())
        };
        let (((by_status, published), seconds), beside) = tokio::join!(fleet, beside);
        let (by_status, published) = (by_status?, published?);
        let _ = stop.send(());
        serving
            .await
            .map_err(|e| FleetError::Task(format!("the server task: {e}")))??;
        Ok(FleetIngest {
            by_status,
            addr,
            seconds,
            posted,
            mqtt: published,
            plan: mqtt.cloned(),
            beside,
        })
    })
}

/// POSTs `bodies` to `url`, at most [`IN_FLIGHT`] at once, and counts the answers by status.
async fn post_all(
    url: &Arc<String>,
    bodies: Vec<String>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<BTreeMap<String, u64>, FleetError> {
    let client = reqwest::Client::new();
    let total = bodies.len() as u64;
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for body in bodies {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(|e| FleetError::Task(format!("the request limiter closed: {e}")))?;
        let (client, url) = (client.clone(), Arc::clone(url));
        tasks.spawn(async move {
            let _permit = permit;
            let res = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() => match r.bytes().await {
                    Ok(b) => serde_json::from_slice::<serde_json::Value>(&b)
                        .ok()
                        .and_then(|v| v["status"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "unreadable answer".to_string()),
                    Err(e) => format!("unreadable answer ({e})"),
                },
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => format!("failed ({e})"),
            }
        });
    }
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut done = 0;
    while let Some(answer) = tasks.join_next().await {
        let status = answer.map_err(|e| FleetError::Task(e.to_string()))?;
        *by_status.entry(status).or_default() += 1;
        done += 1;
        progress(done, total);
    }
    Ok(by_status)
}

/// Publishes `uploads` (as JSON, grouped by device in their order) to the broker at `url` as
/// their devices would, on a runtime of its own: what `tanji simulate --mqtt` does.
pub fn publish_uploads(
    url: &str,
    park: &str,
    uploads: &[tanji_readings::SignedUpload],
) -> Result<MqttSummary, FleetError> {
    let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in uploads {
        by_device
            .entry(u.body.device.clone())
            .or_default()
            .push(tanji_readings::upload_to_json(u));
    }
    let runtime = runtime()?;
    Ok(runtime.block_on(crate::mqtt_devices::publish_devices(url, park, by_device))?)
}
