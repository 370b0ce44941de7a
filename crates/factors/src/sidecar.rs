//! A computed series' sidecar ([`SeriesMeta`]: method, the hash of its CSV, the name and hash
//! of every input, calibrations, regions, period, issues) and [`compute_texts`], which
//! computes a series from CSV texts and writes its sidecar: what `tanji factors compute`
//! writes beside a series and `tanji factors publish` logs with it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    compute, parse_exchanges_csv, parse_generation_csv, FactorError, InputError, Options, Series,
    SourceFactors, METHOD,
};

/// Why a series could not be computed from its texts.
#[derive(Debug, thiserror::Error)]
pub enum TextsError {
    /// An input file does not parse.
    #[error("{what} {name}")]
    Input {
        /// Which input (`generation file`, `exchanges file`, `source factors file`).
        what: &'static str,
        /// Its file name.
        name: String,
        /// Why.
        #[source]
        source: Box<InputError>,
    },
    /// The computation refused the inputs.
    #[error(transparent)]
    Compute(#[from] FactorError),
}

fn input<'a>(what: &'static str, name: &'a str) -> impl FnOnce(InputError) -> TextsError + 'a {
    move |source| TextsError::Input {
        what,
        name: name.to_string(),
        source: Box::new(source),
    }
}

/// SHA-256 of `b`, hex.
pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The sidecar written beside a computed series.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesMeta {
    /// Method and version.
    pub method: String,
    /// SHA-256 (hex) of the series CSV.
    pub content_sha256: String,
    /// (role, file name, SHA-256 hex) of every input.
    pub inputs: Vec<(String, String, String)>,
    /// Calibration lines.
    pub calibrations: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// First start, last end (Unix s).
    pub period: (i64, i64),
    /// Intervals per region (the most any region has).
    pub intervals: u64,
    /// Data issues found while computing.
    pub issues: Vec<String>,
}

/// Computes a series from CSV texts, each with the file name it is known by (the sidecar
/// records names and hashes). Returns the series, its CSV and its sidecar.
pub fn compute_texts(
    generation: (&str, &str),
    exchanges: Option<(&str, &str)>,
    source_factors: Option<(&str, &str)>,
    calibrate: &[(String, f64)],
) -> Result<(Series, String, SeriesMeta), TextsError> {
    let gen = parse_generation_csv(generation.1).map_err(input("generation file", generation.0))?;
    let ex = match exchanges {
        Some((name, text)) => parse_exchanges_csv(text).map_err(input("exchanges file", name))?,
        None => Vec::new(),
    };
    let factors = match source_factors {
        Some((name, text)) => {
            SourceFactors::parse_csv(text).map_err(input("source factors file", name))?
        }
        None => SourceFactors::default_table(),
    };
    let opts = Options {
        calibrate: calibrate.to_vec(),
    };
    let series = compute(&gen, &ex, &factors, &opts)?;
    let csv = series.to_csv();
    let mut inputs = vec![(
        "generation".to_string(),
        generation.0.to_string(),
        sha256_hex(generation.1.as_bytes()),
    )];
    if let Some((name, text)) = exchanges {
        inputs.push(("exchanges".into(), name.into(), sha256_hex(text.as_bytes())));
    }
    if let Some((name, text)) = source_factors {
        inputs.push((
            "source-factors".into(),
            name.into(),
            sha256_hex(text.as_bytes()),
        ));
    }
    let regions = series.regions();
    let period = (
        series.rows.iter().map(|r| r.start).min().unwrap_or(0),
        series.rows.iter().map(|r| r.end).max().unwrap_or(0),
    );
    let intervals = regions
        .iter()
        .map(|r| series.rows.iter().filter(|row| &row.region == r).count() as u64)
        .max()
        .unwrap_or(0);
    let meta = SeriesMeta {
        method: METHOD.to_string(),
        content_sha256: sha256_hex(csv.as_bytes()),
        inputs,
        calibrations: series.calibrations.iter().map(|c| c.to_string()).collect(),
        regions,
        period,
        intervals,
        issues: series.issues.iter().map(|i| i.to_string()).collect(),
    };
    Ok((series, csv, meta))
}
