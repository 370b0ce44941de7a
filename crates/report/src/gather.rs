//! The publications a report rests on, read through the park's read layer
//! ([`tanji_park::view`]): the factor series and the enterprise inputs document, and how a
//! publication that does not read becomes a report error.

use std::collections::BTreeMap;

use tanji_ledger::NoteVerifier;
use tanji_park::view::{FactorSeries, LogView};
use tanji_park::{PublicationError, PublicationKind};
use tanji_store::Store;

use crate::{Finding, ReportError};

/// A checked factor publication with its parsed series.
pub(crate) type Factors = FactorSeries;

/// The method of an enterprise inputs document.
pub const INPUTS_METHOD: &str = "tanji-inputs/v1";

/// A publication that does not read, as a report error: the entry it is about, then what is
/// wrong.
fn publication_error(e: PublicationError) -> ReportError {
    match (e.index(), e) {
        (_, PublicationError::Store(e)) => ReportError::from(e),
        (Some(index), e) if !e.names_itself() => {
            ReportError::Factors(format!("entry {index}: {e}"))
        }
        (_, e) => ReportError::Factors(e.to_string()),
    }
}

/// The log's entries that did not read, as findings.
pub(crate) fn findings(view: &LogView) -> Vec<Finding> {
    view.problems
        .iter()
        .map(|p| Finding {
            subject: format!("entry {}", p.index()),
            problem: p.to_string(),
        })
        .collect()
}

/// The factor publication `want` (`name@vN`, or a name for its latest version, or `None` for
/// the latest), checked, with its parsed series.
pub(crate) fn load_factors<S: Store>(
    store: &S,
    view: &LogView,
    verifier: &NoteVerifier,
    want: Option<&str>,
) -> Result<Factors, ReportError> {
    view.publications
        .factors(store, verifier, want)
        .map_err(publication_error)
}

/// A published enterprise inputs document (`tanji inputs publish`): market instruments,
/// output and production records per enterprise, and the market-based settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsFile {
    /// How instruments are matched to grid import.
    #[serde(default = "annual")]
    pub matching: tanji_accounting::Matching,
    /// The factor for grid import no instrument covers (default: China's national average
    /// excluding market-traded non-fossil power for the data's year; `grid` = the interval's
    /// location-based factor, reported as a data issue).
    #[serde(default = "residual")]
    pub residual: tanji_accounting::Residual,
    /// Per enterprise id.
    pub enterprises: BTreeMap<String, EnterpriseInputs>,
}

fn annual() -> tanji_accounting::Matching {
    tanji_accounting::Matching::Annual
}

fn residual() -> tanji_accounting::Residual {
    tanji_accounting::Residual::ChinaExcludingTraded
}

/// One enterprise's inputs besides its meters.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseInputs {
    /// Green certificates (1 = 1 MWh) with vintage and validity.
    #[serde(default)]
    pub certificates: Vec<tanji_accounting::Certificate>,
    /// Green-power purchases delivered over their intervals.
    #[serde(default)]
    pub purchases: Vec<tanji_accounting::GreenPurchase>,
    /// Output, for intensities.
    #[serde(default)]
    pub output: Option<tanji_accounting::Output>,
    /// Production records and CBAM settings: products, SEE and CBAM figures.
    #[serde(default)]
    pub products: Option<tanji_accounting::cbam::ProductInputs>,
    /// Per meter id: the fuel table and fuel it burns (e.g. a coal meter burning anthracite)
    /// and, for gas meters, the reference conditions of its m3. Every report names them in
    /// its Scope 1 lines; `tanji audit` recomputes with them (they are in this publication).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meters: BTreeMap<String, tanji_accounting::MeterFuel>,
    /// Value added and output per period, for the outcomes' efficiency and "dual control"
    /// intensities (added after v1 documents were published: absent = none given).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<PeriodEconomics>,
    /// Per meter id: a measured low heating value replacing the GB/T 2589 table coefficient
    /// in the standard-coal figures.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lhv: BTreeMap<String, tanji_accounting::energy::MeasuredLhv>,
    /// Product carbon footprints: the declaring company, the allocation rule and per product
    /// its identity and upstream materials with their suppliers' values (added after the
    /// first inputs documents, which load without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footprint: Option<crate::FootprintInputs>,
}

/// An enterprise's value added and output over `[start, end)`, as its accounts state them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodEconomics {
    /// Start, Unix seconds UTC.
    pub start: i64,
    /// End (exclusive).
    pub end: i64,
    /// Value added (增加值), CNY.
    #[serde(default)]
    pub value_added_cny: Option<f64>,
    /// Output over the period.
    #[serde(default)]
    pub output: Option<tanji_accounting::Output>,
    /// Where the figures come from (the accounts, a statistics office filing, or that they
    /// are illustrative); the outcomes' methods quote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A checked inputs publication.
pub(crate) struct Inputs {
    pub id: String,
    pub index: u64,
    pub content_sha256: [u8; 32],
    pub file: InputsFile,
}

/// The inputs publication `want` (`name@vN` or a name for its latest version).
pub(crate) fn load_inputs<S: Store>(
    store: &S,
    view: &LogView,
    verifier: &NoteVerifier,
    want: &str,
) -> Result<Inputs, ReportError> {
    let (p, content) = view
        .publications
        .open(store, verifier, PublicationKind::Inputs, Some(want))
        .map_err(publication_error)?;
    let file: InputsFile = serde_json::from_slice(&content)
        .map_err(|e| ReportError::Request(format!("{}: the inputs document: {e}", p.id)))?;
    Ok(Inputs {
        id: p.id,
        index: p.index,
        content_sha256: p.content_hash,
        file,
    })
}
