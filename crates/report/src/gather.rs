//! Reading what a report needs out of the log: registrations, uploads and factor publications
//! up to a tree size, each entry decoded from its stored bytes (not from the store's indexes,
//! which an auditor need not trust).

use std::collections::BTreeMap;

use tanji_ledger::{leaf_hash, NoteVerifier};
use tanji_park::{open_publication, read_manifest, Publication, PublicationError, PublicationKind};
use tanji_readings::{
    DeviceRegistration, LogEntry, SignedUpload, KIND_PUBLICATION, KIND_REGISTRATION,
};
use tanji_store::Store;

use crate::{Finding, ReportError};

/// A registration with the leaf index of its entry.
#[derive(Clone, Debug)]
pub(crate) struct Registered {
    /// Leaf index of the registration's entry.
    pub index: u64,
    pub reg: DeviceRegistration,
}

/// The log's entries up to a size, decoded.
pub(crate) struct LogView {
    /// Registrations by meter, in log order.
    pub registrations: BTreeMap<String, Vec<Registered>>,
    /// Accepted uploads with their leaf index, in log order.
    pub uploads: Vec<(u64, SignedUpload)>,
    /// Publication notes with their leaf index, in log order.
    pub publications: Vec<(u64, String)>,
    /// Leaf hash of every entry.
    pub leaf_hashes: Vec<[u8; 32]>,
    /// Entries that did not decode.
    pub problems: Vec<Finding>,
}

impl LogView {
    /// Reads entries `0..size`.
    pub fn read<S: Store>(store: &S, size: u64) -> Result<LogView, ReportError> {
        let mut view = LogView {
            registrations: BTreeMap::new(),
            uploads: Vec::new(),
            publications: Vec::new(),
            leaf_hashes: Vec::with_capacity(usize::try_from(size).unwrap_or(0)),
            problems: Vec::new(),
        };
        store.scan_entries(0, size, &mut |index, data| {
            view.leaf_hashes.push(leaf_hash(data));
            match LogEntry::from_bytes(data) {
                Ok(LogEntry::Registration(r)) => view
                    .registrations
                    .entry(r.meter.clone())
                    .or_default()
                    .push(Registered { index, reg: r }),
                Ok(LogEntry::Upload(u)) => view.uploads.push((index, u)),
                Ok(LogEntry::Publication(n)) => view.publications.push((index, n)),
                // A revoked device's meters keep their history: nothing for a report here.
                Ok(LogEntry::Revocation(_)) => {}
                Err(e) => view.problems.push(Finding {
                    subject: format!("entry {index}"),
                    problem: format!("does not decode: {e}"),
                }),
            }
            Ok(())
        })?;
        Ok(view)
    }

    /// Reads what a report needs besides the readings: the registrations and publications up to
    /// `size` (from their own entries, decoded), and the leaf hash of every entry from the
    /// stored tree (the readings then come from the reporting index).
    pub fn read_headers<S: Store>(store: &S, size: u64) -> Result<LogView, ReportError> {
        let mut view = LogView {
            registrations: BTreeMap::new(),
            uploads: Vec::new(),
            publications: Vec::new(),
            leaf_hashes: store.leaf_hashes(size)?,
            problems: Vec::new(),
        };
        let mut indices: Vec<u64> = store
            .entries_of_kind(KIND_REGISTRATION)?
            .into_iter()
            .chain(store.entries_of_kind(KIND_PUBLICATION)?)
            .filter(|&i| i < size)
            .collect();
        indices.sort_unstable();
        for index in indices {
            let data = store.entry(index)?;
            if leaf_hash(&data) != view.leaf_hashes[usize::try_from(index).unwrap_or(0)] {
                view.problems.push(Finding {
                    subject: format!("entry {index}"),
                    problem:
                        "its bytes do not hash to its leaf in the tree: the record was changed"
                            .into(),
                });
                continue;
            }
            // Hashed to its leaf above: the bytes are those logged, keys checked then.
            match LogEntry::from_logged_bytes(&data) {
                Ok(LogEntry::Registration(r)) => view
                    .registrations
                    .entry(r.meter.clone())
                    .or_default()
                    .push(Registered { index, reg: r }),
                Ok(LogEntry::Publication(n)) => view.publications.push((index, n)),
                Ok(LogEntry::Upload(_) | LogEntry::Revocation(_)) => {}
                Err(e) => view.problems.push(Finding {
                    subject: format!("entry {index}"),
                    problem: format!("does not decode: {e}"),
                }),
            }
        }
        Ok(view)
    }

    /// The registration in force for a meter (the latest logged).
    pub fn meter(&self, meter: &str) -> Option<&Registered> {
        self.registrations.get(meter).and_then(|v| v.last())
    }
}

/// A checked factor publication with its parsed series.
pub(crate) struct Factors {
    pub id: String,
    pub index: u64,
    pub content_sha256: [u8; 32],
    pub method: String,
    pub regions: Vec<String>,
    /// Targets from `calibration` lines.
    pub calibrations: Vec<CalibrationTarget>,
    pub series: tanji_factors::Series,
}

/// The official annual figure a publication's series was calibrated to for a region.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CalibrationTarget {
    pub region: String,
    /// tCO2/MWh.
    pub t_per_mwh: f64,
}

/// The target of a manifest's `calibration` line, if it names one.
fn calibration_target(line: &str) -> Option<CalibrationTarget> {
    // tanji-factors writes `REGION: direct factors x0.947012 (mean … -> … t/MWh, target
    // 0.4092; 8760 intervals, … MWh)`; `REGION target=0.4092 …` is read too.
    let region = line
        .split([' ', ':'])
        .next()
        .unwrap_or_default()
        .to_string();
    let target = line
        .split_once("target=")
        .or_else(|| line.split_once("target "))
        .and_then(|(_, rest)| {
            rest.split([' ', ';', ')', ','])
                .next()
                .and_then(|t| t.parse::<f64>().ok())
        })?;
    (!region.is_empty()).then_some(CalibrationTarget {
        region,
        t_per_mwh: target,
    })
}

/// The method of an enterprise inputs document.
pub const INPUTS_METHOD: &str = "tanji-inputs/v1";

/// Finds the publication of `kind` named `want` (`name@vN`, or a name for its latest version,
/// or `None` for the latest of that kind), and checks its signature and content (one reader
/// for every kind: [`tanji_park::open_publication`]).
fn load_publication<S: Store>(
    store: &S,
    view: &LogView,
    verifier: &NoteVerifier,
    want: Option<&str>,
    kind: PublicationKind,
) -> Result<(Publication, Vec<u8>), ReportError> {
    let mut found = None;
    let mut ids = Vec::new();
    for (index, note) in &view.publications {
        let (_, m) = read_manifest(*index, note)
            .map_err(|e| ReportError::Factors(format!("entry {index}: {e}")))?;
        if m.kind != kind {
            continue;
        }
        if want.is_none_or(|w| m.is_named(w)) {
            found = Some((*index, note));
        }
        ids.push(m.id);
    }
    let Some((index, note)) = found else {
        return Err(ReportError::Factors(format!(
            "no {} {} in the log; published: {}; publish one with `{}`",
            kind.noun(),
            want.map_or_else(|| "at all".to_string(), |w| format!("{w:?}")),
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.join(", ")
            },
            kind.publish_command()
        )));
    };
    open_publication(store, index, note, verifier).map_err(|e| match e {
        PublicationError::Store(e) => ReportError::from(e),
        e => ReportError::Factors(format!("entry {index}: {e}")),
    })
}

/// The factor publication `want` (see [`load_publication`]) with its parsed series.
pub(crate) fn load_factors<S: Store>(
    store: &S,
    view: &LogView,
    verifier: &NoteVerifier,
    want: Option<&str>,
) -> Result<Factors, ReportError> {
    let (p, content) = load_publication(store, view, verifier, want, PublicationKind::Factors)?;
    let text = std::str::from_utf8(&content)
        .map_err(|e| ReportError::Factors(format!("{}: the series is not UTF-8: {e}", p.id)))?;
    let series = tanji_factors::Series::parse_csv(text)
        .map_err(|e| ReportError::Factors(format!("{}: the series CSV: {e}", p.id)))?;
    Ok(Factors {
        calibrations: p
            .calibrations
            .iter()
            .filter_map(|c| calibration_target(c))
            .collect(),
        id: p.id,
        index: p.index,
        content_sha256: p.content_hash,
        method: p.method,
        regions: p.regions,
        series,
    })
}

/// The factor series' span for `region`: start of its first interval, end of its last.
pub(crate) fn series_span(series: &tanji_factors::Series, region: &str) -> Option<(i64, i64)> {
    series
        .rows
        .iter()
        .filter(|r| r.region == region)
        .map(|r| (r.start, r.end))
        .reduce(|(a, b), (s, e)| (a.min(s), b.max(e)))
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
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    let (p, content) =
        load_publication(store, view, verifier, Some(want), PublicationKind::Inputs)?;
    let file: InputsFile = serde_json::from_slice(&content)
        .map_err(|e| ReportError::Request(format!("{}: the inputs document: {e}", p.id)))?;
    Ok(Inputs {
        id: p.id,
        index: p.index,
        content_sha256: p.content_hash,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_line_gives_its_region_and_target() {
        let written = "CN-FJ: direct factors x0.947012 (mean 0.4321 -> 0.4092 t/MWh, target 0.4092; 8760 intervals, 1.0 MWh)";
        assert_eq!(
            calibration_target(written),
            Some(CalibrationTarget {
                region: "CN-FJ".into(),
                t_per_mwh: 0.4092
            })
        );
        let short = calibration_target("CN-SD target=0.6 from the yearbook").expect("a target");
        assert_eq!((short.region.as_str(), short.t_per_mwh), ("CN-SD", 0.6));
        assert_eq!(calibration_target("CN-SD: scaled by hand"), None);
    }
}
