//! Time-varying grid emission factors: from each region's generation by source and the physical
//! flows between regions to a factor for every interval — production-based (what a region
//! generates) and consumption-based (what it consumes, imports included, by flow tracing) —
//! direct CO2 and lifecycle CO2eq, in g/kWh, optionally calibrated to an official annual figure.
//!
//! The method, [`METHOD`]:
//! - per-source factors from [`SourceFactors`] (default: `docs/reference/factors.md`);
//!   provider names (ENTSO-E, EIA) map onto [`Source`] through the one table [`ALIASES`];
//! - storage discharge at the mix it most plausibly charged from, [`STORAGE_METHOD`];
//! - consumption factors by flow tracing, one linear system per interval (Tranberg et al. 2019,
//!   "Real-time carbon accounting method for the European electricity markets", Energy Strategy
//!   Reviews 26, 100367 — the method Electricity Maps uses), solved block by block over the
//!   loops of the flow graph (see `trace.rs`);
//! - calibration of a region's direct columns to an official annual factor, [`Calibration`].
//!
//! Bad data does not fail the computation: regions with nothing consumed, no generation or no
//! traceable supply get an empty factor and a [`DataIssue`], never a NaN. Input that is wrong as
//! such (negative energy, end before start, overlapping intervals, an unknown source) is refused
//! with the line, column and value.
//!
//! This crate is pure computation over in-memory text and values: no files, no network, no
//! async. It does not fetch data, publish series or sign them (the CLI and the ledger do). The
//! [`bench`](mod@bench) module is its only use of a clock.

mod compute;
mod input;
mod series;
mod sidecar;
mod source;
mod trace;

pub mod bench;

pub use compute::{
    compute, issue_counts, Calibration, DataIssue, FactorError, FactorRow, IssueKind, Options,
    Series, STORAGE_METHOD,
};
pub use input::{
    parse_exchanges_csv, parse_generation_csv, ExchangeRow, GenerationRow, InputError,
};
pub use series::SERIES_HEADER;
pub use sidecar::{compute_texts, sha256_hex, SeriesMeta, TextsError};
pub use source::{Source, SourceFactor, SourceFactors, UnknownSource, ALIASES};

/// The named method version. Every published series names it; bump it on any change that can
/// change a result (factors, storage rule, netting, solver tolerance, number formatting).
pub const METHOD: &str = "tanji-factors/flow-tracing-v1";
