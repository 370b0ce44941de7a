//! `tanji log …` and `tanji verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use base64::Engine;
use clap::{Args, Subcommand};
use tanji_ledger::NoteVerifier;
use tanji_park::{AuditOptions, Park};

use crate::util;

fn b64(h: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print the latest signed checkpoint (a C2SP tlog-checkpoint signed note).
    Checkpoint {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Print the log's verifier key: name+hex(key id)+base64(0x01 || Ed25519 public key).
    Key {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Print an inclusion proof for one leaf (RFC 6962 audit path), checked before printing.
    Prove {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Leaf index.
        #[arg(long)]
        index: u64,
        /// Tree size (default: the latest checkpoint's).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Print a consistency proof between two tree sizes, checked before printing.
    Consistency {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// The older tree size.
        #[arg(long)]
        from: u64,
        /// The newer tree size (default: the latest checkpoint's).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Write the log in the C2SP tlog-tiles layout (checkpoint, hash tiles, entry bundles).
    ExportTiles {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Output directory (servable as-is as a tlog-tiles prefix).
        out: PathBuf,
    },
    /// Check an exported tiles directory against a log key: the checkpoint signature, that the
    /// tiles reproduce its root, and that the entry bundles hash to the level-0 tiles.
    CheckTiles {
        /// The exported directory.
        tiles: PathBuf,
        /// The log's verifier key (as printed by `tanji log key`).
        #[arg(long)]
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The park's data directory.
    #[arg(long)]
    dir: PathBuf,
    /// The log key you trust (from `tanji log key`, obtained out of band). Without it the
    /// audit uses the key the park names, which a forger could replace too.
    #[arg(long)]
    key: Option<String>,
    /// Print every problem found, not just the first twenty.
    #[arg(long)]
    all: bool,
    /// Require witness cosignatures: K of the N witnesses given with --witness-key must have
    /// cosigned the latest checkpoint (the park's current tree), e.g. `2-of-3`. Every kept
    /// cosignature is then also checked against these keys.
    #[arg(long, value_name = "K-of-N", requires = "witness_key")]
    witnesses: Option<tanji_witness::Quorum>,
    /// A witness's verifier key (as printed by `tanji witness init`); repeat for each of N.
    #[arg(long = "witness-key", value_name = "VKEY", requires = "witnesses")]
    witness_key: Vec<String>,
}

pub fn run(cmd: LogCommand) -> Result<ExitCode> {
    match cmd {
        LogCommand::Checkpoint { dir } => {
            print!("{}", util::open_read(&dir)?.checkpoint()?);
        }
        LogCommand::Key { dir } => {
            println!("{}", util::open_read(&dir)?.verifier());
        }
        LogCommand::Prove { dir, index, size } => {
            let park = util::open_read(&dir)?;
            let p = park.prove(index, size)?;
            println!("leaf index: {}", p.index);
            println!("tree size:  {}", p.size);
            println!("leaf hash:  {}", b64(&p.leaf_hash));
            println!("root hash:  {}", b64(&p.root));
            println!(
                "proof ({} hashes, RFC 6962 audit path, leaf to root):",
                p.proof.len()
            );
            for h in &p.proof {
                println!("  {}", b64(h));
            }
            println!(
                "entry (base64): {}",
                b64(&tanji_store::Store::entry(park.store(), index)?)
            );
            if p.size == park.size() {
                println!("checkpoint:");
                print!("{}", park.checkpoint()?);
            }
        }
        LogCommand::Consistency { dir, from, to } => {
            let park = util::open_read(&dir)?;
            let p = park.consistency(from, to)?;
            println!("from size:  {}  root {}", p.from, b64(&p.from_root));
            println!("to size:    {}  root {}", p.to, b64(&p.to_root));
            println!("proof ({} hashes, RFC 9162 §2.1.4):", p.proof.len());
            for h in &p.proof {
                println!("  {}", b64(h));
            }
        }
        LogCommand::ExportTiles { dir, out } => {
            let park = util::open_read(&dir)?;
            let pb = util::bar(0, "tiles");
            let s = park.export_tiles(&out, &mut |done, total| {
                pb.set_length(total);
                pb.set_position(done);
            });
            pb.finish_and_clear();
            let s = s?;
            println!(
                "exported tree size {} to {}: {} hash tile(s), {} entry bundle(s), {} bytes",
                s.size,
                out.display(),
                s.hash_tiles,
                s.entry_bundles,
                s.bytes
            );
        }
        LogCommand::CheckTiles { tiles, key } => return check_tiles(&tiles, &key),
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads an exported tiles directory back and checks it against `key`.
pub fn check_tiles(dir: &Path, key: &str) -> Result<ExitCode> {
    let verifier: NoteVerifier = key
        .parse()
        .map_err(|e| anyhow::anyhow!("--key {key:?}: {e}"))?;
    let check = tanji_park::check_tiles(dir, &verifier)?;
    println!(
        "OK: checkpoint of {} (size {}) verifies with {}; the tiles reproduce its root {}; {} entries hash to their leaves",
        check.origin,
        check.size,
        verifier.name(),
        b64(&check.root),
        check.entries
    );
    Ok(ExitCode::SUCCESS)
}

pub fn verify(a: VerifyArgs) -> Result<ExitCode> {
    let trusted_key = a
        .key
        .as_deref()
        .map(|k| {
            k.parse::<NoteVerifier>()
                .map_err(|e| anyhow::anyhow!("--key {k:?}: {e}"))
        })
        .transpose()?;
    // Every argument is checked before any work, so that nothing is printed as OK first.
    let witnesses = a
        .witnesses
        .map(|q| q.keys(&a.witness_key).map(|keys| (q, keys)))
        .transpose()?;
    // Audit the stored bytes without opening the park for ingest: that needs neither the log's
    // secret key nor a consistent state, so damage that stops `Park::open` is named here.
    let pb = util::bar(0, "verify");
    let log_key = trusted_key.clone();
    let opts = AuditOptions {
        trusted_key,
        witnesses: witnesses
            .as_ref()
            .map(|(_, keys)| keys.clone())
            .unwrap_or_default(),
    };
    let report = Park::audit_dir(&a.dir, &opts, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    let report = report.with_context(|| format!("auditing the park in {}", a.dir.display()))?;
    if report.ok() {
        println!(
            "OK: {} entries ({} uploads with {} readings, {} registrations of {} devices, {} factor publications{}), {} tree nodes and {} checkpoints check out; root {}",
            report.size,
            report.uploads,
            report.readings,
            report.registrations,
            report.devices,
            report.factor_publications,
            match report.inputs_publications {
                0 => String::new(),
                n => format!(", {n} inputs publications"),
            },
            report.nodes,
            report.checkpoints,
            b64(&report.root)
        );
        if !report.trusted_key {
            println!("(checked against the key the park names; pass --key to check against a key you obtained independently)");
        }
        if let Some((quorum, keys)) = &witnesses {
            let met = crate::witness::verify_witnesses(&a.dir, log_key.as_ref(), *quorum, keys)?;
            if !met {
                return Ok(ExitCode::from(1));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "FAILED: {} problem(s). First: {}",
        report.findings.len(),
        report.findings[0]
    );
    let limit = if a.all { usize::MAX } else { 20 };
    for f in report.findings.iter().take(limit) {
        println!("  {f}");
    }
    if report.findings.len() > limit {
        println!("  … {} more (use --all)", report.findings.len() - limit);
    }
    Ok(ExitCode::from(1))
}
