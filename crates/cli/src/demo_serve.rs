//! The demo park as a running service: the simulated devices' uploads POSTed to an in-process
//! `tanji-server` (the same path a real device takes) and, when an MQTT broker answers, one
//! device in four publishing over MQTT instead, and `tanji demo --serve` keeping the server and
//! its dashboard up afterwards.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use tanji_server::{Config, Server};

use crate::util;

/// Requests in flight at once (as many devices sending at the same moment).
const IN_FLIGHT: usize = 64;

/// How long the demo waits for a broker to accept a TCP connection.
const BROKER_CONNECT: std::time::Duration = std::time::Duration::from_secs(1);

/// Where the demo's MQTT devices publish: the broker, and the `<park>` segment of the topics.
#[derive(Debug, Clone)]
pub struct MqttPlan {
    /// `mqtt://host:port`.
    pub url: String,
    /// The topics' park segment, `demo-` and 8 hex digits of the directory's path: one per demo
    /// directory, so that demos in two directories never share topics or the server's session.
    pub park: String,
}

/// The plan for publishing over MQTT if a broker at `url` accepts a connection within a second;
/// otherwise why not.
pub fn mqtt_plan(url: &str, dir: &Path) -> std::result::Result<MqttPlan, String> {
    let broker = tanji_server::mqtt::Broker::parse(url).map_err(|e| e.to_string())?;
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

/// What the devices' ingest answered.
pub struct DeviceIngest {
    /// Answers by status (`accepted`, `duplicate`, `rejected`, or the HTTP error).
    pub by_status: BTreeMap<String, u64>,
    /// The address the server listened on.
    pub addr: String,
    /// Seconds, end to end.
    pub seconds: f64,
    /// Uploads posted over HTTP.
    pub posted: u64,
    /// What the devices that published over MQTT got, if any did.
    pub mqtt: Option<tanji_server::mqtt_devices::MqttSummary>,
}

/// Sends every upload of the JSON-lines file to a server started over the park in `dir` on
/// 127.0.0.1 (a free port): with `mqtt`, one device in four (every fourth by id) publishes its
/// uploads over MQTT, in order, each after the answer to the last; the others POST theirs to
/// `/api/v1/uploads`. Waits for every acknowledgement, and stops the server.
pub fn ingest_as_devices(
    dir: &Path,
    uploads: &Path,
    mqtt: Option<&MqttPlan>,
) -> Result<DeviceIngest> {
    let file =
        std::fs::File::open(uploads).with_context(|| format!("opening {}", uploads.display()))?;
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", uploads.display()))?;
        if !line.trim().is_empty() {
            lines.push(line);
        }
    }
    // Which devices publish over MQTT: every fourth, in the order of their ids.
    let (by_device, bodies) = if mqtt.is_some() {
        tanji_server::mqtt_devices::every_fourth_device(lines)
    } else {
        (BTreeMap::new(), lines)
    };
    let posted = bodies.len() as u64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let dir = dir.to_path_buf();
    let mqtt = mqtt.cloned();
    runtime.block_on(async move {
        let mut config = Config::default();
        // Short batches: the demo's devices all send at once.
        config.batch.window_ms = 20;
        if let Some(plan) = &mqtt {
            let mut m = tanji_server::mqtt::MqttConfig::new(&plan.url);
            m.park = Some(plan.park.clone());
            config.mqtt = Some(m);
        }
        let server = Server::open(&dir, config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let addr = listener
            .local_addr()
            .context("reading the listen address")?
            .to_string();
        let url = Arc::new(format!("http://{addr}/api/v1/uploads"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(tanji_server::run(listener, server, async move {
            let _ = stopped.await;
        }));
        let started = Instant::now();
        let publishing = async {
            match &mqtt {
                Some(plan) if !by_device.is_empty() => {
                    tanji_server::mqtt_devices::wait_for_server(
                        &plan.url,
                        &plan.park,
                        std::time::Duration::from_secs(10),
                    )
                    .await?;
                    tanji_server::mqtt_devices::publish_devices(&plan.url, &plan.park, by_device)
                        .await
                        .map(Some)
                }
                _ => Ok(None),
            }
        };
        let (by_status, published) = tokio::join!(post_all(&url, bodies), publishing);
        let (by_status, published) = (by_status?, published?);
        let seconds = started.elapsed().as_secs_f64();
        let _ = stop.send(());
        serving
            .await
            .context("the server task failed")?
            .context("the server failed")?;
        Ok(DeviceIngest {
            by_status,
            addr,
            seconds,
            posted,
            mqtt: published,
        })
    })
}

/// POSTs `bodies` to `url`, at most [`IN_FLIGHT`] at once, and counts the answers by status.
async fn post_all(url: &Arc<String>, bodies: Vec<String>) -> Result<BTreeMap<String, u64>> {
    let client = reqwest::Client::new();
    let pb = util::bar(bodies.len() as u64, "http");
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for body in bodies {
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .context("the request limiter closed")?;
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
    while let Some(done) = tasks.join_next().await {
        let status = done.context("a sender task failed")?;
        *by_status.entry(status).or_default() += 1;
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(by_status)
}

/// Serves the demo park on `listen` until Ctrl-C, with a fresh operator token for the
/// dashboard (its hash goes into `dir/tanji.toml`; the token is printed once).
pub fn serve(dir: &Path, listen: &str, mqtt: Option<&MqttPlan>) -> Result<ExitCode> {
    let (token, hash) = tanji_server::auth::new_token();
    let config_file = dir.join("tanji.toml");
    let mut text = format!(
        "# written by `tanji demo --serve`: one operator token for the dashboard\nlisten = {listen:?}\n\n[[tokens]]\nname = \"demo operator\"\nsha256 = \"{hash}\"\nrole = \"operator\"\n"
    );
    if let Some(plan) = mqtt {
        text.push_str(&format!(
            "\n# devices may publish on tanji/{}/<device>/up\n[mqtt]\nurl = {:?}\npark = {:?}\n",
            plan.park, plan.url, plan.park
        ));
    }
    std::fs::write(&config_file, text)
        .with_context(|| format!("writing {}", config_file.display()))?;
    println!();
    println!("dashboard: http://{listen}/dashboard/");
    println!("  operator token (paste it into the dashboard; not stored anywhere): {token}");
    println!("  config: {}", config_file.display());
    let matches =
        <crate::serve::ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"))
            .try_get_matches_from([
                "serve",
                "--dir",
                &dir.display().to_string(),
                "--config",
                &config_file.display().to_string(),
            ])
            .context("building the serve arguments")?;
    let args = <crate::serve::ServeArgs as clap::FromArgMatches>::from_arg_matches(&matches)
        .context("building the serve arguments")?;
    crate::serve::run(args)
}
