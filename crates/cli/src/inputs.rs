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
            check_meter_fuels(&doc).with_context(|| format!("{}", file.display()))?;
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

/// Every meter's fuel table and fuel must exist in tanji's fuel tables, so a report does not
/// fail later on a typo.
fn check_meter_fuels(doc: &InputsFile) -> Result<()> {
    let lib = tanji_accounting::FuelLibrary::default();
    for (e, inputs) in &doc.enterprises {
        for (meter, choice) in &inputs.meters {
            let tables: Vec<&tanji_accounting::FuelTable> =
                match &choice.table {
                    Some(t) => {
                        vec![lib.table(t).with_context(|| {
                            format!(
                        "enterprise {e}, meter {meter}: fuel table {t:?} is unknown; known: {}",
                        lib.tables.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                    )
                        })?]
                    }
                    None => lib.tables.iter().collect(),
                };
            if let Some(f) = &choice.fuel {
                if !tables.iter().any(|t| t.fuels.iter().any(|x| &x.id == f)) {
                    anyhow::bail!(
                        "enterprise {e}, meter {meter}: fuel {f:?} is not in {}; its fuels: {}",
                        choice.table.as_deref().unwrap_or("any fuel table"),
                        tables
                            .iter()
                            .flat_map(|t| t.fuels.iter().map(|x| x.id.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn doc(meters: serde_json::Value) -> InputsFile {
        serde_json::from_value(serde_json::json!({"enterprises": {"e-0001": {"meters": meters}}}))
            .unwrap()
    }

    #[test]
    fn meter_fuels_must_name_known_tables_and_fuels() {
        assert!(check_meter_fuels(&doc(serde_json::json!({
            "m-coal": {"table": "gbt-32150-2015-b", "fuel": "anthracite"},
            "m-wood": {"fuel": "wood"},
            "m-gas": {"gas_reference": "standard_20c"}
        })))
        .is_ok());
        let e = check_meter_fuels(&doc(serde_json::json!({"m-coal": {"table": "ndrc-2013"}})))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("meter m-coal: fuel table \"ndrc-2013\" is unknown; known: ndrc-2015"),
            "{e}"
        );
        let e = check_meter_fuels(&doc(serde_json::json!({
            "m-coal": {"table": "ndrc-2015-other-industry-t2.1", "fuel": "wood"}
        })))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("fuel \"wood\" is not in ndrc-2015-other-industry-t2.1"),
            "{e}"
        );
    }
}
