//! Publications by kind: the notes logged up to a size, found by kind and name, opened
//! (signature and content checked by [`crate::open_publication`], the one manifest reader)
//! and, for factor series, parsed.

use tanji_ledger::NoteVerifier;
use tanji_readings::{LogEntry, KIND_PUBLICATION};
use tanji_store::Store;

use crate::publication::{open_publication, read_manifest, Publication};
use crate::PublicationError;
use tanji_readings::PublicationKind;

/// The publication notes logged up to a size, with their leaf index, in log order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicationLog {
    notes: Vec<(u64, String)>,
}

impl PublicationLog {
    /// The publications logged below `size`, from the store's index of publication entries.
    pub fn read<S: Store>(store: &S, size: u64) -> Result<PublicationLog, PublicationError> {
        let mut out = PublicationLog::default();
        for index in store.entries_of_kind(KIND_PUBLICATION)? {
            if index >= size {
                continue;
            }
            match LogEntry::from_bytes(&store.entry(index)?) {
                Ok(LogEntry::Publication(note)) => out.push(index, note),
                _ => return Err(PublicationError::NotAPublication { index }),
            }
        }
        Ok(out)
    }

    /// Adds the note logged at `index` (after every one added before it).
    pub fn push(&mut self, index: u64, note: String) {
        self.notes.push((index, note));
    }

    /// The publications' leaf indices and signed notes, in log order.
    pub fn notes(&self) -> impl Iterator<Item = (u64, &str)> + '_ {
        self.notes.iter().map(|(i, n)| (*i, n.as_str()))
    }

    /// Opens every publication (of both kinds), in log order, each checked against its
    /// content.
    pub fn open_all<S: Store>(
        &self,
        store: &S,
        verifier: &NoteVerifier,
    ) -> Result<Vec<(Publication, Vec<u8>)>, PublicationError> {
        self.notes
            .iter()
            .map(|(index, note)| open_publication(store, *index, note, verifier))
            .collect()
    }

    /// The ids (`name@vN`) of the publications of `kind`, in log order (their manifests are
    /// read, their content is not opened).
    pub fn ids(&self, kind: PublicationKind) -> Result<Vec<String>, PublicationError> {
        let mut out = Vec::new();
        for (index, note) in &self.notes {
            let (_, m) = read_manifest(*index, note)?;
            if m.kind == kind {
                out.push(m.id);
            }
        }
        Ok(out)
    }

    /// The note of the publication of `kind` named `want` (`name@vN`, or a name for its
    /// latest version, or `None` for the latest of that kind), with its leaf index.
    pub fn find(
        &self,
        kind: PublicationKind,
        want: Option<&str>,
    ) -> Result<(u64, &str), PublicationError> {
        let mut found = None;
        let mut published = Vec::new();
        for (index, note) in &self.notes {
            let (_, m) = read_manifest(*index, note)?;
            if m.kind != kind {
                continue;
            }
            if want.is_none_or(|w| m.is_named(w)) {
                found = Some((*index, note.as_str()));
            }
            published.push(m.id);
        }
        found.ok_or_else(|| PublicationError::NotFound {
            kind,
            want: want.map(str::to_string),
            published,
        })
    }

    /// The publication of `kind` named `want` (see [`PublicationLog::find`]) and its content,
    /// its signature and content checked.
    pub fn open<S: Store>(
        &self,
        store: &S,
        verifier: &NoteVerifier,
        kind: PublicationKind,
        want: Option<&str>,
    ) -> Result<(Publication, Vec<u8>), PublicationError> {
        let (index, note) = self.find(kind, want)?;
        open_publication(store, index, note, verifier)
    }

    /// The factor publication `want` (see [`PublicationLog::find`]) with its parsed series.
    pub fn factors<S: Store>(
        &self,
        store: &S,
        verifier: &NoteVerifier,
        want: Option<&str>,
    ) -> Result<FactorSeries, PublicationError> {
        let (p, content) = self.open(store, verifier, PublicationKind::Factors, want)?;
        FactorSeries::parse(p, &content)
    }
}

/// A checked factor publication with its parsed series.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorSeries {
    /// `name@vN`.
    pub id: String,
    /// Its log entry.
    pub index: u64,
    /// SHA-256 of the series CSV.
    pub content_hash: [u8; 32],
    /// The method named in the manifest.
    pub method: String,
    /// Regions: the manifest's, or the series' own when the manifest names none.
    pub regions: Vec<String>,
    /// The manifest's `calibration` lines, verbatim.
    pub calibration_lines: Vec<String>,
    /// The official annual figures those lines name.
    pub calibrations: Vec<CalibrationTarget>,
    /// The series.
    pub series: tanji_factors::Series,
}

impl FactorSeries {
    /// Parses the content of the factor publication `p`.
    pub fn parse(p: Publication, content: &[u8]) -> Result<FactorSeries, PublicationError> {
        if p.kind != PublicationKind::Factors {
            return Err(PublicationError::NotFactors {
                id: p.id,
                index: p.index,
                kind: p.kind,
            });
        }
        let text = match std::str::from_utf8(content) {
            Ok(t) => t,
            Err(error) => {
                return Err(PublicationError::SeriesNotUtf8 {
                    id: p.id,
                    index: p.index,
                    error,
                })
            }
        };
        let series = match tanji_factors::Series::parse_csv(text) {
            Ok(s) => s,
            Err(error) => {
                return Err(PublicationError::SeriesCsv {
                    id: p.id,
                    index: p.index,
                    error,
                })
            }
        };
        let regions = if p.regions.is_empty() {
            series.regions()
        } else {
            p.regions
        };
        Ok(FactorSeries {
            calibrations: p
                .calibrations
                .iter()
                .filter_map(|c| calibration_target(c))
                .collect(),
            calibration_lines: p.calibrations,
            id: p.id,
            index: p.index,
            content_hash: p.content_hash,
            method: p.method,
            regions,
            series,
        })
    }

    /// The consumption-weighted mean of the region's consumption-based direct factors, g/kWh
    /// (see [`weighted_mean`]).
    pub fn weighted_mean(&self, region: &str) -> Option<f64> {
        weighted_mean(&self.series, region)
    }

    /// The series' span for `region`: start of its first interval, end of its last.
    pub fn span(&self, region: &str) -> Option<(i64, i64)> {
        self.series
            .rows
            .iter()
            .filter(|r| r.region == region)
            .map(|r| (r.start, r.end))
            .reduce(|(a, b), (s, e)| (a.min(s), b.max(e)))
    }

    /// The consumption-based direct factor of the hour `t` falls in, g/kWh (`None` where the
    /// series has none).
    pub fn factor_at(&self, region: &str, t: i64) -> Option<f64> {
        self.series
            .factor_at(region, t)
            .and_then(|r| r.consumption_direct)
    }
}

/// The consumption-weighted mean of `region`'s consumption-based direct factors over the
/// series (weights: the region's `consumption_mwh`), g/kWh; `None` if nothing weighs.
pub fn weighted_mean(series: &tanji_factors::Series, region: &str) -> Option<f64> {
    let (mut num, mut den) = (0.0, 0.0);
    for r in series.rows.iter().filter(|r| r.region == region) {
        if let Some(x) = r.consumption_direct {
            num += x * r.consumption_mwh;
            den += r.consumption_mwh;
        }
    }
    (den > 0.0).then(|| num / den)
}

/// The official annual figure a publication's series was calibrated to for a region.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationTarget {
    /// The region.
    pub region: String,
    /// tCO2/MWh.
    pub t_per_mwh: f64,
}

/// The target of a manifest's `calibration` line, if it names one.
pub fn calibration_target(line: &str) -> Option<CalibrationTarget> {
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
        let short = calibration_target("CN-SD target=0.6 from the yearbook");
        assert_eq!(
            short.map(|t| (t.region, t.t_per_mwh)),
            Some(("CN-SD".to_string(), 0.6))
        );
        assert_eq!(calibration_target("CN-SD: scaled by hand"), None);
    }
}
