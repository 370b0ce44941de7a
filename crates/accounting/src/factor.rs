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
    /// factor for `t` (outside the series, or undefined there). The same interval is the
    /// answer for every instant inside it, so a caller may reuse it without asking again.
    fn factor_at(&self, t: i64) -> Option<FactorInterval>;
}

/// A region of a computed or published [`tanji_factors::Series`], using its
/// `consumption_direct` column (flow-traced, direct CO2). Its regions must share their
/// intervals, as in every series tanji-factors computes (the lookup searches the rows
/// starting last at or before `t`). For many lookups, [`TableFactors::from_series`] answers
/// the same, faster.
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

impl TableFactors {
    /// One region of a [`tanji_factors::Series`] as a table: the intervals and factors
    /// [`SeriesFactors`] looks up, searched among that region's rows alone (for a series whose
    /// regions share their intervals, as every computed series does, the same answers).
    pub fn from_series(factors: &SeriesFactors<'_>) -> TableFactors {
        TableFactors {
            id: factors.id.clone(),
            rows: factors
                .series
                .rows
                .iter()
                .filter(|r| r.region == factors.region)
                .map(|r| FactorInterval {
                    start: r.start,
                    end: r.end,
                    // Not a factor (undefined there): the lookup answers `None`, as SeriesFactors.
                    g_per_kwh: r.consumption_direct.unwrap_or(f64::NAN),
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
        // The last row starting at or before t: where a regular table (hourly factors) has it,
        // else found by binary search.
        let guess = self.rows.first().and_then(|r| {
            let len = r.end.checked_sub(r.start)?.max(1);
            let i = usize::try_from(t.checked_sub(r.start)?.div_euclid(len)).ok()?;
            let row = self.rows.get(i)?;
            let next_after = self.rows.get(i + 1).is_none_or(|n| n.start > t);
            (row.start <= t && next_after).then_some(*row)
        });
        let row = match guess {
            Some(row) => row,
            None => *self.rows[..self.rows.partition_point(|r| r.start <= t)].last()?,
        };
        (t < row.end && row.g_per_kwh.is_finite()).then_some(row)
    }
}
