//! `tanji serve` (the park as a service) and `tanji token new` (an API token and its config
//! lines).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use tanji_server::{Config, Role};

use crate::util;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The park's data directory, or a deployment directory of many parks (holding parks/).
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
        /// operator, auditor, `enterprise:<id>` or admin (creates and lists parks).
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
        // Every instance listens; each park is written by the instance holding its writer
        // lease, and the others forward its requests there (tanji_server::parks).
        let listen = config.listen.clone();
        let listener = tanji_server::listen(&listen).await.with_context(|| {
            format!("listening on {listen} (is another server running on it? choose another address with --listen HOST:PORT)")
        })?;
        let addr = listener.local_addr().context("reading the listen address")?;
        let parks = tanji_server::parks::start(&a.dir, config, addr).await?;
        eprintln!("{}", parks.describe(addr));
        tanji_server::parks::serve(listener, parks, stopped()).await?;
        eprintln!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}
