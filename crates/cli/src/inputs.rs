//! `tanji inputs`: an enterprise inputs document (green certificates and purchases, output,
//! production records and CBAM settings) logged as a signed, versioned publication, so that
//! every market-based, product and CBAM figure names the exact inputs it used.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use tanji_park::PublicationRequest;
use tanji_report::{InputsFile, INPUTS_METHOD};

use crate::util;

#[derive(Debug, Subcommand)]
pub enum InputsCommand {
    /// Check and log an inputs document (JSON; `docs/report.md`, "Enterprise inputs").
    Publish {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Name; the publication id becomes NAME@vN.
        #[arg(long)]
        name: String,
        /// The JSON document.
        file: PathBuf,
    },
}

pub fn run(cmd: InputsCommand) -> Result<ExitCode> {
    match cmd {
        InputsCommand::Publish { dir, name, file } => {
            let content =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let doc: InputsFile = serde_json::from_slice(&content)
                .with_context(|| format!("{}: not a tanji inputs document", file.display()))?;
            let mut park = util::open(&dir)?;
            let known: std::collections::BTreeSet<String> = park
                .registrations()?
                .into_iter()
                .map(|(_, r)| r.enterprise)
                .collect();
            if let Some(e) = doc.enterprises.keys().find(|e| !known.contains(*e)) {
                anyhow::bail!(
                    "{}: enterprise {e:?} has no registered meter in this park; registered: {}",
                    file.display(),
                    known.into_iter().collect::<Vec<_>>().join(", ")
                );
            }
            doc.check_fuels(&tanji_accounting::FuelLibrary::default())
                .with_context(|| format!("{}", file.display()))?;
            let p = park.publish(&PublicationRequest {
                name,
                method: INPUTS_METHOD.into(),
                content,
                regions: Vec::new(),
                period: (0, 0),
                intervals: 0,
                inputs: Vec::new(),
                calibrations: Vec::new(),
                published_at: util::now(),
            })?;
            println!(
                "published {} at entry {} (sha256:{}, {} enterprise(s))",
                p.id,
                p.index,
                hex::encode(p.content_hash),
                doc.enterprises.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
