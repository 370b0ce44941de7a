//! Which document is made from a report, and in which format: one function for the CLI and
//! the API, so both offer the same documents the same way.

use crate::export::{canonical_json, render_document_as, ExportError, Format};
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

/// `document` of `doc` in `format` (every document in json, text, html, xlsx and pdf; csv for
/// the report; the PACT export in json only); the footprints need the inputs document the
/// report was built with (`inputs`) and take `created` (Unix seconds) as the PACT creation
/// time.
pub fn render_document(
    doc: &ReportDoc,
    inputs: Option<&InputsFile>,
    document: Document,
    format: Format,
    created: i64,
) -> Result<Vec<u8>, ReportError> {
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
    let export = |e: ExportError| match e {
        e @ (ExportError::UnknownFormat(_) | ExportError::NotOffered { .. }) => {
            ReportError::Request(e.to_string())
        }
        e => ReportError::Format(e.to_string()),
    };
    match document {
        Document::Report => crate::render(doc, format).map_err(export),
        Document::Inventory => render_document_as(&crate::inventory(doc)?, format).map_err(export),
        Document::Footprint => render_document_as(&footprints()?, format).map_err(export),
        Document::Pact if format == Format::Json => Ok(canonical_json(&serde_json::json!({
            "data": crate::pact(&footprints()?, created)
        }))
        .into_bytes()),
        Document::Pact => Err(ReportError::Request(format!(
            "format {:?} is not offered for the PACT export: use json",
            format.extension()
        ))),
    }
}
