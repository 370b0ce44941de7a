//! The demo park as a running service: the simulated devices' uploads POSTed to an in-process
//! `tanji-server` (the same path a real device takes), and `tanji demo --serve` keeping the
//! server and its dashboard up afterwards.

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

/// What the HTTP ingest answered.
pub struct HttpIngest {
    /// Answers by status (`accepted`, `duplicate`, `rejected`, or the HTTP error).
    pub by_status: BTreeMap<String, u64>,
    /// The address the server listened on.
    pub addr: String,
    /// Seconds, end to end.
    pub seconds: f64,
}

/// POSTs every upload of the JSON-lines file to `/api/v1/uploads` of a server started over the
/// park in `dir` on 127.0.0.1 (a free port), waits for every acknowledgement, and stops it.
pub fn ingest_over_http(dir: &Path, uploads: &Path) -> Result<HttpIngest> {
    let file =
        std::fs::File::open(uploads).with_context(|| format!("opening {}", uploads.display()))?;
    let mut bodies = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", uploads.display()))?;
        if !line.trim().is_empty() {
            bodies.push(line);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let dir = dir.to_path_buf();
    runtime.block_on(async move {
        let mut config = Config::default();
        // Short batches: the demo's devices all send at once.
        config.batch.window_ms = 20;
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
        let client = reqwest::Client::new();
        let started = Instant::now();
        let pb = util::bar(bodies.len() as u64, "http");
        let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        for body in bodies {
            let permit = Arc::clone(&permits)
                .acquire_owned()
                .await
                .context("the request limiter closed")?;
            let (client, url) = (client.clone(), Arc::clone(&url));
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
        let seconds = started.elapsed().as_secs_f64();
        let _ = stop.send(());
        serving
            .await
            .context("the server task failed")?
            .context("the server failed")?;
        Ok(HttpIngest {
            by_status,
            addr,
            seconds,
        })
    })
}

/// Serves the demo park on `listen` until Ctrl-C, with a fresh operator token for the
/// dashboard (its hash goes into `dir/tanji.toml`; the token is printed once).
pub fn serve(dir: &Path, listen: &str) -> Result<ExitCode> {
    let (token, hash) = tanji_server::auth::new_token();
    let config_file = dir.join("tanji.toml");
    std::fs::write(
        &config_file,
        format!(
            "# written by `tanji demo --serve`: one operator token for the dashboard\nlisten = {listen:?}\n\n[[tokens]]\nname = \"demo operator\"\nsha256 = \"{hash}\"\nrole = \"operator\"\n"
        ),
    )
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
