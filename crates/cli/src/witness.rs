//! `tanji witness …`: run a C2SP tlog-witness (init, add-log, serve), have a park's latest
//! checkpoint cosigned by one (submit), and the `--witnesses K-of-N` check of `tanji verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use tanji_ledger::{CosignatureVerifier, NoteVerifier};
use tanji_park::{check_witnesses, witness_id, Park};
use tanji_units::time;
use tanji_witness::{Quorum, Witness, WitnessClient};

use crate::util;

#[derive(Debug, Subcommand)]
pub enum WitnessCommand {
    /// Create a witness: a new Ed25519 cosigning key and an empty state. Prints its verifier
    /// key (name+hex key ID+base64(0x04 || public key)) for the logs and clients that rely on it.
    Init {
        /// The witness's directory (created; must not hold a witness).
        #[arg(long)]
        dir: PathBuf,
        /// The witness's name, a schema-less URL such as `witness.example/w1`.
        #[arg(long)]
        name: String,
    },
    /// Witness a log: trust its verifier key (as printed by `tanji log key`) for its origin.
    AddLog {
        /// The witness's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The log's verifier key.
        #[arg(long)]
        vkey: String,
        /// The log's origin line (default: the key's name, which is what tanji parks use).
        #[arg(long)]
        origin: Option<String>,
    },
    /// List the logs this witness witnesses and the latest checkpoint it cosigned for each.
    Logs {
        /// The witness's directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Serve `POST /add-checkpoint` (c2sp.org/tlog-witness) until interrupted.
    Serve {
        /// The witness's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
    },
    /// Have a park's latest checkpoint cosigned by a witness and keep the cosignature next to
    /// it (what `tanji serve` does for each new checkpoint, here by hand).
    Submit {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// The witness's URL (its submission prefix), e.g. http://127.0.0.1:8090.
        #[arg(long)]
        url: String,
        /// The witness's verifier key; its cosignature must verify with it.
        #[arg(long)]
        witness_key: String,
    },
}

/// Parses a witness verifier key given on the command line.
pub fn parse_witness_key(vkey: &str) -> Result<CosignatureVerifier> {
    // The parse error names the key itself (`witness key "…" is malformed: …`).
    vkey.parse()
        .map_err(|e: tanji_ledger::CosignatureError| anyhow::anyhow!("{e}"))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(cmd: WitnessCommand) -> Result<ExitCode> {
    match cmd {
        WitnessCommand::Init { dir, name } => {
            let w = Witness::create(&dir, &name)?;
            println!("{}", w.verifier());
        }
        WitnessCommand::AddLog { dir, vkey, origin } => {
            let key: NoteVerifier = vkey
                .parse()
                .map_err(|e| anyhow::anyhow!("--vkey {vkey:?}: {e}"))?;
            let origin = origin.unwrap_or_else(|| key.name().to_string());
            let w = Witness::open(&dir)?;
            let added = w.add_log(&origin, &key)?;
            println!(
                "{} log {origin} with key {key}",
                if added {
                    "witnessing"
                } else {
                    "already witnessing"
                }
            );
        }
        WitnessCommand::Logs { dir } => {
            let w = Witness::open(&dir)?;
            for log in w.logs()? {
                println!("{}  size {}", log.origin, log.size);
                for k in &log.keys {
                    println!("  key {k}");
                }
            }
        }
        WitnessCommand::Serve { dir, listen } => serve(&dir, &listen)?,
        WitnessCommand::Submit {
            dir,
            url,
            witness_key,
        } => submit(&dir, &url, &witness_key)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(dir: &Path, listen: &str) -> Result<()> {
    let witness = Arc::new(Witness::open(dir)?);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        println!(
            "witness {} listening on http://{addr}\nkey {}",
            witness.name(),
            witness.verifier()
        );
        tanji_witness::run(listener, witness, tanji_server::stop_signal())
            .await
            .context("serving")
    })
}

fn submit(dir: &Path, url: &str, witness_key: &str) -> Result<()> {
    let key = parse_witness_key(witness_key)?;
    let mut park = util::open(dir)?;
    let note = park.checkpoint()?;
    let old = park.witnessed_size(&key)?;
    let client = WitnessClient::new(url, key.clone());
    let cos = runtime()?.block_on(client.submit(&note, old, |from, to| {
        park.consistency(from, Some(to)).map(|p| p.proof)
    }))?;
    let size = park.size();
    park.add_cosignatures(
        size,
        std::slice::from_ref(&cos.line),
        std::slice::from_ref(&key),
    )?;
    println!(
        "checkpoint of size {size} cosigned by {} at {} (proof from size {}):\n{}",
        witness_id(&key),
        time::rfc3339(i64::try_from(cos.timestamp).unwrap_or(i64::MAX)),
        cos.old_size,
        cos.line
    );
    Ok(())
}

/// Prints each witness's cosignature on the park's latest checkpoint and whether `quorum`
/// of `keys` (checked by `Quorum::keys`) cosigned it.
pub fn verify_witnesses(
    dir: &Path,
    log_key: Option<&NoteVerifier>,
    quorum: Quorum,
    keys: &[CosignatureVerifier],
) -> Result<bool> {
    let store =
        Park::open_store(dir).with_context(|| format!("opening the park in {}", dir.display()))?;
    let log_key = match log_key {
        Some(k) => k.clone(),
        None => tanji_store::Store::meta(&store, "vkey")?
            .context("the park names no log key; pass --key")?
            .parse()
            .map_err(|e| anyhow::anyhow!("the park's log key: {e}"))?,
    };
    let check = check_witnesses(&store, &log_key, keys)?;
    let cosigned = check.cosigned();
    for (k, r) in keys.iter().zip(&check.witnesses) {
        match r {
            Ok(ts) => println!(
                "  witness {}: cosigned at {}",
                witness_id(k),
                time::rfc3339(i64::try_from(*ts).unwrap_or(i64::MAX))
            ),
            Err(why) => println!("  witness {}: MISSING — {why}", witness_id(k)),
        }
    }
    if quorum.is_met(cosigned) {
        println!(
            "OK: the checkpoint of size {} is cosigned by {cosigned} of {} witnesses ({} required)",
            check.size, quorum.n, quorum.k
        );
        Ok(true)
    } else {
        let missing: Vec<String> = keys
            .iter()
            .zip(&check.witnesses)
            .filter(|(_, r)| r.is_err())
            .map(|(k, _)| witness_id(k))
            .collect();
        println!(
            "FAILED: the checkpoint of size {} is cosigned by {cosigned} of {} witnesses, {} required; missing: {}",
            check.size,
            quorum.n,
            quorum.k,
            missing.join(", ")
        );
        Ok(false)
    }
}
