//! `tanji serve` (the park as a service) and `tanji token new` (an API token and its config
//! lines).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tanji_server::{Config, Role, Server};

use crate::util;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The park's data directory.
    #[arg(long)]
    pub dir: PathBuf,
    /// Address to listen on (overrides the config's `listen`; default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    /// TOML configuration file (batching, limits, tokens).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Batch window in milliseconds (overrides the config's `batch.window_ms`).
    #[arg(long)]
    pub window_ms: Option<u64>,
    /// Also ingest over MQTT from this broker (`mqtt://host:port`; overrides the config's
    /// `[mqtt] url`): uploads on `tanji/<park>/<device>/up`, answers on `…/ack`.
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a fresh random API token and the `[[tokens]]` lines to add to the server config
    /// (the config holds only the token's SHA-256).
    New {
        /// operator, auditor or `enterprise:<id>`.
        #[arg(long)]
        role: String,
        /// A name for the holder, shown in logs.
        #[arg(long)]
        name: Option<String>,
        /// Append the `[[tokens]]` lines to this server config (created if missing) and print
        /// only the token, e.g. `TOKEN=$(tanji token new --role operator --config tanji.toml)`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub fn token(cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::New { role, name, config } => {
            let role = Role::parse(&role).map_err(anyhow::Error::msg)?;
            let (token, hash) = tanji_server::auth::new_token();
            let lines = Config::token_entry(&hash, &role, name.as_deref());
            match config {
                Some(path) => {
                    Config::append_to_file(&path, &lines)?;
                    eprintln!(
                        "added a token for role {role} to {} (only its SHA-256; the token is printed once, here)",
                        path.display()
                    );
                    println!("{token}");
                }
                None => {
                    println!(
                        "token (give it to its holder; it is not stored anywhere):\n  {token}\n"
                    );
                    println!("add to the server config:\n");
                    print!("{lines}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The park's name, the MQTT topics' `<park>` segment unless the config names another.
fn park_name(dir: &std::path::Path) -> Result<String> {
    let store = tanji_park::Park::open_store(dir)
        .with_context(|| format!("opening the park in {}", dir.display()))?;
    Ok(tanji_store::Store::meta(&store, "park")?.unwrap_or_default())
}

pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let mut config = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(l) = a.listen {
        util::check_listen("--listen", &l)?;
        config.listen = l;
    } else {
        util::check_listen("the config's listen", &config.listen)?;
    }
    if let Some(w) = a.window_ms {
        config.batch.window_ms = w;
    }
    if let Some(url) = a.mqtt {
        config.set_mqtt_url(url).context("--mqtt")?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            tanji_server::stop_signal().await;
            stop_tx.send_replace(true);
        });
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        // A park on PostgreSQL is served by the instance holding its writer lease; this one
        // stands by until it gets it, and again after losing it.
        let clock = std::sync::Arc::new(tanji_park::SystemClock);
        loop {
            let wait =
                tanji_server::lease::wait_for_writer(&a.dir, &config, clock.clone(), stopped());
            let Some(server) = wait.await? else { break };
            let lost = server.sequencer().writer_lost();
            serve(&a.dir, server, stopped()).await?;
            if !*lost.borrow() {
                break;
            }
            eprintln!("this instance lost the park's writer lease; standing by");
        }
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Serves an opened park until `stop` resolves or the instance loses the park's writer lease.
async fn serve(
    dir: &Path,
    server: Server,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listen = server.state().config().listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| {
                format!("listening on {listen} (is another server running on it? choose another address with --listen HOST:PORT)")
            })?;
    let addr = listener
        .local_addr()
        .context("reading the listen address")?;
    let head = server.sequencer().head();
    if let Some(m) = &server.state().config().mqtt {
        let park = match &m.park {
            Some(p) => p.clone(),
            None => {
                let dir = dir.to_path_buf();
                tokio::task::spawn_blocking(move || park_name(&dir)).await??
            }
        };
        eprintln!(
            "MQTT ingest from {}: uploads on {}, answers on {}",
            m.url,
            tanji_server::mqtt::up_topic(&park, "+"),
            tanji_server::mqtt::ack_topic(&park, "<device>")
        );
    }
    eprintln!(
            "tanji serving {} on http://{addr} (log size {}); Ctrl-C or SIGTERM stops after logging what is pending",
            server.state().origin(),
            head.size
        );
    tanji_server::run(listener, server, stop).await?;
    Ok(())
}
