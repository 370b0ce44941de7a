//! `tanji inputs`: an enterprise inputs document (green certificates and purchases, output,
//! production records and CBAM settings) logged as a signed, versioned publication, so that
//! every market-based, product and CBAM figure names the exact inputs it used.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

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
            let mut park = util::open(&dir)?;
            let (p, enterprises) =
                tanji_report::publish_inputs(&mut park, &name, content, util::now())
                    .with_context(|| format!("{}", file.display()))?;
            println!(
                "published {} at entry {} (sha256:{}, {} enterprise(s))",
                p.id,
                p.index,
                hex::encode(p.content_hash),
                enterprises
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
