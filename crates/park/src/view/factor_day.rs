//! One local day of a region's hourly factors as a readable table: what `tanji factors show`
//! and `tanji demo` print.

use std::fmt;

use tanji_factors::{FactorRow, Series};
use tanji_units::time;

use super::weighted_mean;

/// Why a day of a series cannot be shown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DayError {
    /// The region is not in the series.
    #[error("region {region:?} is not in {label}; it has: {}", regions.join(", "))]
    UnknownRegion {
        /// The series, as the user named it.
        label: String,
        /// The region asked for.
        region: String,
        /// The regions the series has.
        regions: Vec<String>,
    },
    /// The series has no interval of the region on that local day.
    #[error("{label} has no intervals for {region} on {day} (UTC{:+})", offset_s / 3600)]
    NoIntervals {
        /// The series, as the user named it.
        label: String,
        /// The region.
        region: String,
        /// The local day, `YYYY-MM-DD`.
        day: String,
        /// The local time's offset from UTC, seconds.
        offset_s: i32,
    },
}

/// A region's intervals on one local day, with the series' consumption-weighted mean.
#[derive(Debug)]
pub struct FactorDay<'a> {
    label: &'a str,
    region: &'a str,
    day: &'a str,
    offset_s: i32,
    rows: Vec<&'a FactorRow>,
    mean: Option<f64>,
}

impl<'a> FactorDay<'a> {
    /// The intervals of `region` in `series` (called `label` in messages) that start on the
    /// local day `day` (`YYYY-MM-DD`), which begins at Unix second `day_start` UTC in local
    /// time `offset_s` seconds from UTC.
    pub fn new(
        series: &'a Series,
        label: &'a str,
        region: &'a str,
        (day, day_start): (&'a str, i64),
        offset_s: i32,
    ) -> Result<FactorDay<'a>, DayError> {
        let rows: Vec<_> = series
            .rows
            .iter()
            .filter(|r| {
                r.region == region && r.start >= day_start && r.start < day_start + time::DAY_S
            })
            .collect();
        if rows.is_empty() {
            let regions = series.regions();
            if !regions.iter().any(|r| r == region) {
                return Err(DayError::UnknownRegion {
                    label: label.into(),
                    region: region.into(),
                    regions,
                });
            }
            return Err(DayError::NoIntervals {
                label: label.into(),
                region: region.into(),
                day: day.into(),
                offset_s,
            });
        }
        Ok(FactorDay {
            label,
            region,
            day,
            offset_s,
            rows,
            mean: weighted_mean(series, region),
        })
    }
}

impl fmt::Display for FactorDay<'_> {
    /// The table: one line per interval with a bar of its consumption-based direct factor,
    /// the period mean, and the day's lowest and highest hours.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (rows, offset_s) = (&self.rows, self.offset_s);
        let max = rows
            .iter()
            .filter_map(|r| r.consumption_direct)
            .fold(0.0_f64, f64::max)
            .max(self.mean.unwrap_or(0.0));
        writeln!(
            f,
            "{}: {}, {} (local time UTC{:+03}:00)",
            self.label,
            self.region,
            self.day,
            offset_s / 3600
        )?;
        writeln!(
            f,
            "{:<13} {:>12} {:>12} {:>12}  consumption-based, direct",
            "local time", "consumption", "production", "lifecycle*"
        )?;
        writeln!(
            f,
            "{:<13} {:>12} {:>12} {:>12}",
            "", "gCO2/kWh", "gCO2/kWh", "gCO2/kWh"
        )?;
        let show = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |x| format!("{x:.1}"));
        for r in rows {
            let second = time::local_second(r.start, offset_s);
            let (h, m) = (second / time::HOUR_S, second % time::HOUR_S / 60);
            let bar = r
                .consumption_direct
                .map(|x| "█".repeat(((x / max.max(1.0)) * 30.0).round() as usize))
                .unwrap_or_default();
            writeln!(
                f,
                "{h:02}:{m:02}         {:>12} {:>12} {:>12}  {bar}",
                show(r.consumption_direct),
                show(r.production_direct),
                show(r.consumption_lifecycle)
            )?;
        }
        if let Some(mean) = self.mean {
            writeln!(
                f,
                "period mean (consumption-weighted, consumption-based direct): {mean:.1} gCO2/kWh = {:.4} tCO2/MWh",
                mean / 1000.0
            )?;
        }
        writeln!(f, "* consumption-based lifecycle (IPCC AR5 medians); calibration to an official figure scales direct factors only")?;
        let named: Vec<_> = rows
            .iter()
            .filter_map(|r| r.consumption_direct.map(|x| (r.start, x)))
            .collect();
        if let (Some(lo), Some(hi)) = (
            named.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
            named.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
        ) {
            writeln!(
                f,
                "lowest {:.1} at {:02}:00, highest {:.1} at {:02}:00",
                lo.1,
                time::local_hour(lo.0, offset_s),
                hi.1,
                time::local_hour(hi.0, offset_s)
            )?;
        }
        Ok(())
    }
}
