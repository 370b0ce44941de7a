//! An enterprise's electricity per interval (site load, PV, import, export) and the published
//! grid factors per interval, read from the park log: what load-shift advice and forecasts
//! start from. Values come from the logged uploads' bytes, as reports do; this module checks
//! the factor publication (signature and content hash) but not each upload's signature —
//! `tanji verify` and reports do that.

use std::collections::BTreeMap;

use tanji_ledger::NoteVerifier;
use tanji_park::view::{add_channel, to_milli, LogView, Registered};
use tanji_store::Store;
use tanji_units::{Carrier, Unit};

use crate::gather::load_factors;
use crate::ReportError;

/// One enterprise's electricity per interval over `[start, start + n·interval_s)`, Wh;
/// `None` where no accepted upload covers the interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSeries {
    /// The enterprise.
    pub enterprise: String,
    /// Start of the first interval, Unix seconds.
    pub start: i64,
    /// Interval length, seconds.
    pub interval_s: u32,
    /// Grid import (all `electricity_import` meters).
    pub import_wh: Vec<Option<i64>>,
    /// Export (`electricity_export`); zeros if the site has no export meter.
    pub export_wh: Vec<Option<i64>>,
    /// On-site PV (`pv_generation`); zeros if the site has no PV meter.
    pub pv_wh: Vec<Option<i64>>,
    /// Site consumption: import + PV − export, where all its meters report.
    pub load_wh: Vec<Option<i64>>,
    /// The grid meters' registered rated capacity per interval, Wh (the connection's limit).
    pub import_limit_wh: Option<i64>,
    /// Whether the site has a PV meter.
    pub has_pv: bool,
}

/// Wh of `v / 10^decimals` in `unit`, rounded; `None` if not energy or it overflows.
fn to_wh(v: i64, decimals: u8, unit: &str) -> Option<i64> {
    to_milli(v, decimals, unit.parse::<Unit>().ok()?, Unit::KWh)
}

/// `enterprise`'s electricity over `n` intervals of `interval_s` from `start`, from every
/// accepted upload in the log.
pub fn site_series<S: Store>(
    store: &S,
    enterprise: &str,
    start: i64,
    interval_s: u32,
    n: usize,
) -> Result<SiteSeries, ReportError> {
    if interval_s == 0 {
        return Err(ReportError::Request("interval length 0 s".into()));
    }
    let view = LogView::read(store, store.size()?)?;
    // Meters of the enterprise, by carrier, with their rated capacity.
    let mut meters: BTreeMap<&str, (Carrier, i64)> = BTreeMap::new();
    for Registered { reg: r, .. } in view.registrations.in_force_all() {
        if r.enterprise != enterprise {
            continue;
        }
        if let Ok(c) = r.carrier.parse::<Carrier>() {
            let cap = to_wh(r.rated_per_hour_milli, 3, &r.unit)
                .map_or(0, |per_h| per_h * i64::from(interval_s) / 3600);
            meters.insert(r.meter.as_str(), (c, cap));
        }
    }
    if meters.is_empty() {
        // Only the enterprise asked for: the caller may not read the others (an API token).
        return Err(ReportError::Request(format!(
            "no enterprise {enterprise:?} is registered in this log; `tanji device list` shows the registrations"
        )));
    }
    let has = |c: Carrier| meters.values().any(|(k, _)| *k == c);
    let zeros_if = |present: bool| vec![if present { None } else { Some(0) }; n];
    let mut import = vec![None; n];
    let (has_export, has_pv) = (has(Carrier::ElectricityExport), has(Carrier::PvGeneration));
    let mut export = zeros_if(has_export);
    let mut pv = zeros_if(has_pv);
    let end = start + n as i64 * i64::from(interval_s);
    for (_, u) in &view.uploads {
        for c in &u.body.channels {
            let Some((carrier, _)) = meters.get(c.meter.as_str()) else {
                continue;
            };
            if c.start >= end || c.end().is_none_or(|e| e <= start) {
                continue;
            }
            let acc = match carrier {
                Carrier::ElectricityImport => &mut import,
                Carrier::ElectricityExport => &mut export,
                Carrier::PvGeneration => &mut pv,
                _ => continue,
            };
            // Thousandths of a kWh: Wh.
            add_channel(acc, start, interval_s, start, c, Unit::KWh);
        }
    }
    let load_wh = (0..n)
        .map(|t| Some(import[t]? + pv[t]? - export[t]?))
        .collect();
    let limit: i64 = meters
        .values()
        .filter(|(c, _)| *c == Carrier::ElectricityImport)
        .map(|(_, cap)| cap)
        .sum();
    Ok(SiteSeries {
        enterprise: enterprise.to_string(),
        start,
        interval_s,
        import_wh: import,
        export_wh: export,
        pv_wh: pv,
        load_wh,
        import_limit_wh: (limit > 0).then_some(limit),
        has_pv,
    })
}

/// A published factor series looked up per interval.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalFactors {
    /// The publication id (`name@vN`).
    pub publication: String,
    /// The region.
    pub region: String,
    /// Consumption-based direct factor, g CO2/kWh, of the hour each interval starts in;
    /// `None` where the series has none.
    pub values: Vec<Option<f64>>,
    /// The series' span for the region: start of its first interval, end of its last.
    pub span: Option<(i64, i64)>,
}

/// The factor publication `want` (id, name, or `None` for the latest), checked against the
/// log key, looked up for `n` intervals of `interval_s` from `start` in `region` (or its
/// only region).
pub fn interval_factors<S: Store>(
    store: &S,
    verifier: &NoteVerifier,
    want: Option<&str>,
    region: Option<&str>,
    start: i64,
    interval_s: u32,
    n: usize,
) -> Result<IntervalFactors, ReportError> {
    let view = LogView::read(store, store.size()?)?;
    let f = load_factors(store, &view, verifier, want)?;
    let region = match region {
        Some(r) if f.regions.iter().any(|x| x == r) => r.to_string(),
        None if f.regions.len() == 1 => f.regions[0].clone(),
        _ => {
            return Err(ReportError::Request(format!(
                "publication {} has regions {}; name one of them",
                f.id,
                f.regions.join(", ")
            )))
        }
    };
    let values = (0..n)
        .map(|i| f.factor_at(&region, start + i as i64 * i64::from(interval_s)))
        .collect();
    Ok(IntervalFactors {
        span: f.span(&region),
        publication: f.id,
        region,
        values,
    })
}
