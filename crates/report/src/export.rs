//! A report's file formats, and the content hash that ties every file back to the JSON.
//!
//! The JSON is the report (`tanji audit` reads it); the CSV and HTML are its readable forms
//! (`crate::render_csv`, `crate::render_html`); the Excel workbook and the PDF are made from
//! its tables ([`crate::tabular::Tabular`]) and carry its **content hash**: the SHA-256 of the
//! report's canonical JSON ([`canonical_json`]: the bytes `tanji report --format json` writes),
//! so a spreadsheet or a printout can be tied to the JSON it came from.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::doc::ReportDoc;
use crate::tabular::{Tabular, ToTabular};

/// The provenance label under which a report's [`content_hash`] is listed in its
/// [`Tabular`] (the Provenance sheet of the workbook, the provenance of the PDF).
pub const CONTENT_HASH_LABEL: &str = "Content hash 内容哈希 (SHA-256 of the report's JSON)";

/// A report's canonical JSON: pretty-printed by `serde_json` (two-space indent, fields in
/// declaration order) with one final newline — exactly what `tanji report --format json` and
/// the API's `format=json` write.
pub fn canonical_json<T: Serialize + ?Sized>(report: &T) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(s) => s + "\n",
        // The report types are plain data (strings, numbers, maps with string keys), which
        // serde_json always writes; an error here is a bug in a report type.
        Err(e) => format!("{{\"error\": {:?}}}\n", e.to_string()),
    }
}

/// The content hash of a report: SHA-256 of its [`canonical_json`], lowercase hex.
/// Recompute it from a saved JSON file with `sha256sum report.json`.
pub fn content_hash<T: Serialize + ?Sized>(report: &T) -> String {
    hex::encode(Sha256::digest(canonical_json(report).as_bytes()))
}

/// Why a report could not be written in a format.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The workbook writer failed.
    #[error("writing the Excel workbook: {0}")]
    Xlsx(String),
    /// The PDF writer failed.
    #[error("writing the PDF: {0}")]
    Pdf(String),
    /// A format name that is not one of [`Format`]'s.
    #[error("format {0:?}: use json, csv, html, text, xlsx or pdf")]
    UnknownFormat(String),
    /// A known format this document is not written in.
    #[error("format {format:?} is not offered for this document: use {offered}")]
    NotOffered {
        /// The format asked for.
        format: &'static str,
        /// The formats that are.
        offered: &'static str,
    },
}

/// The formats a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The `tanji-report/v1` JSON contract; what `tanji audit` checks.
    Json,
    /// One row per figure: `path,value,unit`.
    Csv,
    /// A self-contained page.
    Html,
    /// Plain text, the tables as a reader sees them.
    Text,
    /// An Excel workbook: a Summary sheet, one sheet per section, a Provenance sheet with the
    /// content hash.
    Xlsx,
    /// A PDF with Chinese text (an embedded CJK font), tables, provenance and page numbers.
    Pdf,
}

impl std::str::FromStr for Format {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "html" => Format::Html,
            "text" => Format::Text,
            "xlsx" => Format::Xlsx,
            "pdf" => Format::Pdf,
            other => return Err(ExportError::UnknownFormat(other.into())),
        })
    }
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::Text => "txt",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
        }
    }

    /// The media type (HTTP `Content-Type`).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Text => "text/plain; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
        }
    }

    /// Whether the format is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        matches!(self, Format::Xlsx | Format::Pdf)
    }
}

/// A report laid out as tables, in a table format (`Xlsx` or `Pdf`); the text formats of a
/// [`ReportDoc`] come from [`render`].
pub fn render_tabular(t: &Tabular, format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Xlsx => crate::xlsx::render_xlsx(t),
        Format::Pdf => crate::pdf::render_pdf(t),
        other => Err(ExportError::NotOffered {
            format: other.extension(),
            offered: "xlsx or pdf",
        }),
    }
}

/// An enterprise or park report in `format`.
pub fn render(doc: &ReportDoc, format: Format) -> Result<Vec<u8>, ExportError> {
    Ok(match format {
        Format::Json => canonical_json(doc).into_bytes(),
        Format::Csv => crate::render_csv(doc).into_bytes(),
        Format::Html => crate::render_html(doc).into_bytes(),
        Format::Text => crate::tabular_text(&doc.to_tabular()).into_bytes(),
        Format::Xlsx | Format::Pdf => render_tabular(&doc.to_tabular(), format)?,
    })
}

/// A document made from a report (outcomes, inventory, footprints) in `format`: its
/// canonical JSON, or its tables as text, HTML, a workbook or a PDF — the last two carrying
/// the content hash of that JSON. CSV is the enterprise and park report's own format.
pub fn render_document_as<T: Serialize + ToTabular>(
    doc: &T,
    format: Format,
) -> Result<Vec<u8>, ExportError> {
    let tables = || {
        let mut t = doc.to_tabular();
        if !t.provenance.iter().any(|(k, _)| k == CONTENT_HASH_LABEL) {
            t.provenance
                .push((CONTENT_HASH_LABEL.into(), content_hash(doc)));
        }
        t
    };
    Ok(match format {
        Format::Json => canonical_json(doc).into_bytes(),
        Format::Text => crate::tabular_text(&tables()).into_bytes(),
        Format::Html => crate::tabular_html(&tables()).into_bytes(),
        Format::Xlsx | Format::Pdf => render_tabular(&tables(), format)?,
        Format::Csv => {
            return Err(ExportError::NotOffered {
                format: "csv",
                offered: "json, text, html, xlsx or pdf (csv is the enterprise and park report's)",
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_hash_is_sha256_of_the_pretty_json_with_a_newline() {
        let v = serde_json::json!({"a": 1});
        // "{\n  \"a\": 1\n}\n"; sha256 of those 13 bytes, as `printf '{\n  "a": 1\n}\n' |
        // sha256sum` prints it.
        assert_eq!(canonical_json(&v), "{\n  \"a\": 1\n}\n");
        assert_eq!(
            content_hash(&v),
            "5e36b6560513586ced65eca0e8b025fe88edbcab82ba2cb67a5fcb2d7b202383"
        );
    }

    #[test]
    fn formats_parse_and_name_their_media_types() {
        assert_eq!("xlsx".parse::<Format>().unwrap(), Format::Xlsx);
        assert_eq!(
            "pdf".parse::<Format>().unwrap().content_type(),
            "application/pdf"
        );
        let e = "docx".parse::<Format>().unwrap_err().to_string();
        assert!(e.contains("\"docx\"") && e.contains("xlsx"), "{e}");
        assert!(Format::Pdf.is_binary() && !Format::Csv.is_binary());
    }
}
