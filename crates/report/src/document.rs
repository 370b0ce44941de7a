//! Which document is made from a report, and in which format: one function for the CLI and
//! the API, so both offer the same documents the same way.

use crate::tabular::ToTabular;
use crate::{InputsFile, ReportDoc, ReportError};

/// A document made from a `tanji-report/v1` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    /// The report itself (JSON, CSV, HTML).
    Report,
    /// The GB/T 32150 GHG inventory of an enterprise (JSON, text, HTML).
    Inventory,
    /// ISO 14067 product footprints of an enterprise (JSON, text, HTML).
    Footprint,
    /// The footprints as PACT ProductFootprints (JSON: `{"data": [...]}`, the shape of the PACT
    /// ListFootprints response).
    Pact,
}

impl std::str::FromStr for Document {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "report" => Document::Report,
            "inventory" => Document::Inventory,
            "footprint" => Document::Footprint,
            "pact" => Document::Pact,
            other => {
                return Err(format!(
                    "document {other:?}: use report, inventory, footprint or pact"
                ))
            }
        })
    }
}

fn json(v: &impl serde::Serialize) -> Result<String, ReportError> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| ReportError::Format(format!("serializing: {e}")))
}

/// `document` of `doc` in `format` (`json`, `csv` for the report, `text` and `html`); the
/// footprints need the inputs document the report was built with (`inputs`) and take
/// `created` (Unix seconds) as the PACT creation time.
pub fn render_document(
    doc: &ReportDoc,
    inputs: Option<&InputsFile>,
    document: Document,
    format: &str,
    created: i64,
) -> Result<String, ReportError> {
    let unsupported = |ok: &str| {
        Err(ReportError::Request(format!(
            "format {format:?} is not offered for this document: use {ok}"
        )))
    };
    let footprints = || {
        let inputs = inputs.ok_or_else(|| {
            ReportError::Request(
                "product footprints need an inputs publication with production records and a \
                 footprint section: give --inputs"
                    .into(),
            )
        })?;
        crate::footprints(doc, inputs)
    };
    match (document, format) {
        (Document::Report, "json") => json(doc),
        (Document::Report, "csv") => Ok(crate::render_csv(doc)),
        (Document::Report, "html") => Ok(crate::render_html(doc)),
        (Document::Report, _) => unsupported("json, csv or html"),
        (Document::Inventory, "json") => json(&crate::inventory(doc)?),
        (Document::Inventory, "text") => {
            Ok(crate::tabular_text(&crate::inventory(doc)?.to_tabular()))
        }
        (Document::Inventory, "html") => {
            Ok(crate::tabular_html(&crate::inventory(doc)?.to_tabular()))
        }
        (Document::Footprint, "json") => json(&footprints()?),
        (Document::Footprint, "text") => Ok(crate::tabular_text(&footprints()?.to_tabular())),
        (Document::Footprint, "html") => Ok(crate::tabular_html(&footprints()?.to_tabular())),
        (Document::Inventory | Document::Footprint, _) => unsupported("json, text or html"),
        (Document::Pact, "json") => json(&serde_json::json!({
            "data": crate::pact(&footprints()?, created)
        })),
        (Document::Pact, _) => unsupported("json"),
    }
}
