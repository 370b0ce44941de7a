//! Where grid factors come from: the [`FactorLookup`] trait, so accounting does not depend on
//! how factors are stored.

use serde::{Deserialize, Serialize};

/// One factor interval `[start, end)` and its grid factor.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorInterval {
    /// Start, Unix seconds UTC.
    pub start: i64,
    /// End (exclusive), Unix seconds UTC.
    pub end: i64,
    /// Grid factor, gCO2/kWh (= kg/MWh).
    pub g_per_kwh: f64,
}

/// A source of grid emission factors for one region.
pub trait FactorLookup {
    /// The id (name@version or content hash) of the factor series; every report names it.
    fn series_id(&self) -> &str;
    /// The factor interval containing `t` (`start <= t < end`), or `None` if there is no
    /// factor for `t` (outside the series, or undefined there).
    fn factor_at(&self, t: i64) -> Option<FactorInterval>;
}

/// A region of a computed or published [`tanji_factors::Series`], using its
/// `consumption_direct` column (flow-traced, direct CO2).
#[derive(Clone, Debug)]
pub struct SeriesFactors<'a> {
    /// The series.
    pub series: &'a tanji_factors::Series,
    /// The region whose factors apply.
    pub region: String,
    /// The series' id, e.g. `CN-FJ-synthetic-2026@v1` or `sha256:…`.
    pub id: String,
}

impl FactorLookup for SeriesFactors<'_> {
    fn series_id(&self) -> &str {
        &self.id
    }
    fn factor_at(&self, t: i64) -> Option<FactorInterval> {
        let row = self.series.factor_at(&self.region, t)?;
        let g = row.consumption_direct?;
        g.is_finite().then_some(FactorInterval {
            start: row.start,
            end: row.end,
            g_per_kwh: g,
        })
    }
}

/// A plain table of factor intervals (sorted by start, not overlapping): for tests, fixed
/// tariffs of factors, and callers that hold factors in memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableFactors {
    /// The table's id.
    pub id: String,
    /// Intervals sorted by start.
    pub rows: Vec<FactorInterval>,
}

impl TableFactors {
    /// Consecutive intervals of `len_s` seconds from `start`, one per value.
    pub fn regular(id: &str, start: i64, len_s: i64, g_per_kwh: &[f64]) -> TableFactors {
        TableFactors {
            id: id.to_owned(),
            rows: g_per_kwh
                .iter()
                .enumerate()
                .map(|(i, &g)| FactorInterval {
                    start: start + i as i64 * len_s,
                    end: start + (i as i64 + 1) * len_s,
                    g_per_kwh: g,
                })
                .collect(),
        }
    }
}

impl FactorLookup for TableFactors {
    fn series_id(&self) -> &str {
        &self.id
    }
    fn factor_at(&self, t: i64) -> Option<FactorInterval> {
        let after = self.rows.partition_point(|r| r.start <= t);
        let row = *self.rows[..after].last()?;
        (t < row.end && row.g_per_kwh.is_finite()).then_some(row)
    }
}
