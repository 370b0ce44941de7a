//! tanji-report: carbon reports an auditor can recompute from the park log alone.
//!
//! [`build`] reads a park's log up to a signed checkpoint (registrations map meters to
//! enterprises, carriers and units; accepted uploads give interval values; a logged factor
//! publication gives the hourly grid factors), runs `tanji_accounting::compute` for one
//! enterprise or every enterprise of the park, and returns a [`ReportDoc`]: the versioned JSON
//! contract `tanji-report/v1` (documented field by field in `docs/report.md`) with the figures
//! and their provenance — log origin and key, the checkpoint used, the factor publication and
//! every log leaf the figures depend on. [`render_csv`] and [`render_html`] are its readable
//! forms; [`render`] also writes it as an Excel workbook or a PDF with Chinese text, made from
//! its tables ([`tabular::ToTabular`]) and carrying its [`content_hash`]. [`audit`] takes a
//! report and the park's store and recomputes it: it checks the checkpoint signature and
//! root, that every listed leaf is in the log with the listed hash, that no accepted upload of
//! the scope was left out, the factor publication's signature and content hash, and compares
//! every number, naming each JSON path that differs. With
//! [`Request::anomalies`] each meter's series also goes through `tanji_anomaly`, and every
//! alert is a data issue (`anomaly_<kind>`: meter, span, evidence, and the emissions of the
//! flagged values as logged), recomputed by the audit like any figure.
//!
//! What it is not: it does no accounting of its own (that is `tanji-accounting`, pure), writes
//! nothing to the store, and needs no secret key — only the store and the log's verifier key.
//! A report is a pure function of (the log up to the checkpoint, the request): the same log
//! and request give the same bytes, which is what makes the audit possible.

mod anomalies;
mod audit;
mod build;
mod doc;
mod document;
mod export;
mod footprint;
mod gather;
mod inputs;
mod inventory;
mod layout;
mod outcomes;
mod parks;
mod pdf;
mod render;
mod series;
mod tables;
pub mod tabular;
mod xlsx;

pub use audit::{audit, AuditResult};
pub use build::{build, Built, FixedChoice, Request, Scope, Source};
pub use doc::{
    CheckpointDoc, EnterpriseDoc, FactorCoverage, FactorsDoc, FilledShare, FixedFactorDoc,
    InputsDoc, IssueDoc, LeafDoc, LogDoc, MeterDoc, Methods, Parameters, PeriodDoc, Provenance,
    ReportDoc, ScopeDoc, SteamEnthalpyDoc, Totals,
};
pub use document::{render_document, Document};
pub use export::{
    canonical_json, content_hash, render, render_document_as, render_tabular, ExportError, Format,
    CONTENT_HASH_LABEL,
};
pub use footprint::{
    footprints, pact, AllocationRule, ElectricityBasis, FootprintDoc, FootprintInputs,
    MaterialLine, ProductDeclaration, ProductFootprint, UpstreamMaterial, Variants, VariantsPerKg,
    BATTERY_RULE, FOOTPRINT_FORMAT, PACT_SPEC_VERSION,
};
pub use gather::{EnterpriseInputs, InputsFile, PeriodEconomics, INPUTS_METHOD};
pub use inputs::{publish_inputs, FuelChoiceError, InputsRefusal};
pub use inventory::{
    inventory, Boundary, DataQuality, EnterpriseInfo, InventoryDoc, InventoryTotals, IsoCategory,
    SourceLine, GBT_32150, INVENTORY_FORMAT, ISO_14064_1,
};
pub use layout::{tabular_html, tabular_text};
pub use outcomes::{
    compare, illustrative_inputs, illustrative_outcomes, outcomes, render_outcomes,
    render_outcomes_summary, render_outcomes_text, Change, Comparison, Cost, EnterprisePeriods,
    Figure, OutcomesDoc, OutcomesParameters, OutcomesRequest, PeriodInput, PeriodOutcomes,
    SubjectOutcomes, ILLUSTRATIVE_INPUTS, ILLUSTRATIVE_SOURCE, LOAD_SHIFT_NOT_MEASURABLE,
    OUTCOMES_FORMAT, YEAR_S,
};
pub use parks::{
    park_emissions, parks_emissions, stored_verifier, EnterpriseEmissions, ParkEmissions,
    ParkFigures, ParksEmissions,
};
pub use pdf::render_pdf;
pub use render::{render_csv, render_html};
pub use series::{interval_factors, site_series, IntervalFactors, SiteSeries};
pub use tables::PARK_TOTAL;
pub use xlsx::{render_xlsx, sheet_name};

/// The contract id every report carries in `format`; bump it on any change to the JSON shape
/// or to how a report is assembled from the log.
pub const FORMAT: &str = "tanji-report/v1";

/// One problem, naming what it concerns: a log entry, the checkpoint, a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What it concerns: "entry 17 (upload d-0003#5)", "checkpoint", `reports[0].figures.scope1.fossil_g`.
    pub subject: String,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.problem)
    }
}

/// Why a report could not be made (bad data inside a valid log is a report issue instead).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tanji_store::StoreError),
    /// The request does not fit the log (unknown enterprise, empty period, no data).
    #[error("{0}")]
    Request(String),
    /// The factor publication is missing, unsigned or does not match its content.
    #[error("factor publication: {0}")]
    Factors(String),
    /// The log or its checkpoint contradicts itself.
    #[error("the log is inconsistent: {0}; run `tanji verify` for a full audit")]
    Log(String),
    /// Accounting refused its input.
    #[error("accounting for {enterprise}: {source}")]
    Accounting {
        /// The enterprise.
        enterprise: String,
        /// Why.
        #[source]
        source: tanji_accounting::AccountingError,
    },
    /// The report is not a `tanji-report/v1` document.
    #[error("not a {FORMAT} report: {0}")]
    Format(String),
}
