//! What can move, described in local clock terms (the `--flex` TOML file), turned into
//! [`FlexLoad`]s over a metered day.
//!
//! A shiftable load's baseline is either a `share` of the site's load above the day's
//! minimum (the always-on base), or a constant `baseline_kw` over a local `baseline` range;
//! a batch's baseline is `power_kw` for `hours` from its current `start`. The fixed load is
//! what the site drew less every baseline. [`FlexSpec::default_for_site`] is the documented
//! default the demo park uses when no file is given.

use serde::{Deserialize, Serialize};

use crate::{FlexKind, FlexLoad, Objective, Problem, Tariff, Window};
use tanji_units::time::{self as local, TimeError, Zone};

/// A site's metered day: what it consumed and generated per interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SiteDay {
    /// Whose.
    pub enterprise: String,
    /// Start of the first interval, Unix seconds.
    pub start: i64,
    /// Interval length, seconds.
    pub interval_s: u32,
    /// Site consumption (import + PV − export), Wh per interval.
    pub load_wh: Vec<i64>,
    /// On-site PV, Wh per interval (zeros without PV).
    pub pv_wh: Vec<i64>,
    /// The grid connection's rating per interval, Wh, if known.
    pub import_limit_wh: Option<i64>,
}

/// How a load may move and what it drew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum LoadSpec {
    /// Energy that may be spread over its windows.
    Shiftable {
        /// Its name in the advice.
        name: String,
        /// Allowed local time ranges, `"HH:MM-HH:MM"`.
        windows: Vec<String>,
        /// Baseline: this share (0–1) of the site's load above the day's minimum.
        #[serde(default)]
        share: Option<f64>,
        /// Baseline: this constant power, kW, over `baseline`.
        #[serde(default)]
        baseline_kw: Option<f64>,
        /// The local range of `baseline_kw`.
        #[serde(default)]
        baseline: Option<String>,
        /// Least power in its windows, kW.
        #[serde(default)]
        min_kw: f64,
        /// Most power, kW (default: 1.5 × its baseline's peak).
        #[serde(default)]
        max_kw: Option<f64>,
    },
    /// A run that cannot pause.
    Batch {
        /// Its name in the advice.
        name: String,
        /// Allowed local time ranges; the whole run must lie in them.
        windows: Vec<String>,
        /// Power while it runs, kW.
        power_kw: f64,
        /// How long it runs, hours (a whole number of intervals).
        hours: f64,
        /// When it starts today, `"HH:MM"` local.
        start: String,
    },
}

/// The flexible part of a site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FlexSpec {
    /// Site import limit, kW (default: the grid connection's rating, if known).
    #[serde(default)]
    pub import_limit_kw: Option<f64>,
    /// The loads that may move.
    #[serde(default, rename = "load")]
    pub loads: Vec<LoadSpec>,
}

/// Why a spec does not fit a day.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// A clock time or range is malformed.
    #[error("{load}: {source}")]
    Time {
        /// The load.
        load: String,
        /// The time error.
        #[source]
        source: TimeError,
    },
    /// A number is out of range.
    #[error("{load}: {what}")]
    Value {
        /// The load.
        load: String,
        /// What is wrong.
        what: String,
    },
    /// The baselines draw more than the site did.
    #[error("the flexible loads' baselines draw {flex_wh} Wh at {clock} but the site drew only {site_wh} Wh: lower a share or baseline_kw")]
    Exceeds {
        /// Local time.
        clock: String,
        /// Baselines' sum, Wh.
        flex_wh: i64,
        /// Site load, Wh.
        site_wh: i64,
    },
}

fn wh(kw: f64, interval_s: u32) -> i64 {
    (kw * f64::from(interval_s) / 3.6).round() as i64
}

/// Intervals whose start lies in any of `ranges` on the local clock, as [`Window`]s.
pub fn windows(
    zone: &Zone,
    start: i64,
    interval_s: u32,
    n: usize,
    ranges: &[String],
) -> Result<Vec<Window>, TimeError> {
    let parsed = ranges
        .iter()
        .map(|r| local::parse_range(r))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out: Vec<Window> = Vec::new();
    for i in 0..n {
        let c = zone.clock(start + i as i64 * i64::from(interval_s))?;
        if parsed.iter().any(|&r| local::in_range(c.minute, r)) {
            match out.last_mut() {
                Some(w) if w.to == i => w.to = i + 1,
                _ => out.push(Window { from: i, to: i + 1 }),
            }
        }
    }
    Ok(out)
}

impl FlexSpec {
    /// The default used when a site has no description: one shiftable load, "flexible
    /// production", a fifth of the load above the day's minimum, that may run 06:00–24:00
    /// local at up to 1.5 × its own peak; the import limit is the grid connection's rating.
    /// An assumption for demonstration, not a survey of any site.
    pub fn default_for_site() -> FlexSpec {
        FlexSpec {
            import_limit_kw: None,
            loads: vec![LoadSpec::Shiftable {
                name: "flexible production".into(),
                windows: vec!["06:00-24:00".into()],
                share: Some(0.2),
                baseline_kw: None,
                baseline: None,
                min_kw: 0.0,
                max_kw: None,
            }],
        }
    }

    /// The flexible loads over `day` and the fixed load left.
    pub fn loads(
        &self,
        day: &SiteDay,
        zone: &Zone,
    ) -> Result<(Vec<FlexLoad>, Vec<i64>), SpecError> {
        let n = day.load_wh.len();
        let base = day.load_wh.iter().copied().min().unwrap_or(0).max(0);
        let mut loads = Vec::new();
        for l in &self.loads {
            let (name, win) = match l {
                LoadSpec::Shiftable { name, windows, .. }
                | LoadSpec::Batch { name, windows, .. } => (name, windows),
            };
            let time = |source| SpecError::Time {
                load: name.clone(),
                source,
            };
            let value = |what: String| SpecError::Value {
                load: name.clone(),
                what,
            };
            let w = windows(zone, day.start, day.interval_s, n, win).map_err(time)?;
            match l {
                LoadSpec::Shiftable {
                    share,
                    baseline_kw,
                    baseline,
                    min_kw,
                    max_kw,
                    ..
                } => {
                    let baseline_wh: Vec<i64> = match (share, baseline_kw, baseline) {
                        (Some(s), None, None) if (0.0..=1.0).contains(s) => day
                            .load_wh
                            .iter()
                            .map(|&x| ((x - base).max(0) as f64 * s).round() as i64)
                            .collect(),
                        (None, Some(kw), Some(range)) if kw.is_finite() && *kw >= 0.0 => {
                            let r = windows(zone, day.start, day.interval_s, n, std::slice::from_ref(range))
                                .map_err(time)?;
                            let m = crate::check::mask(&r, n);
                            m.iter()
                                .map(|&a| if a { wh(*kw, day.interval_s) } else { 0 })
                                .collect()
                        }
                        _ => {
                            return Err(value(
                                "give either share (0 to 1) or baseline_kw (>= 0) with a baseline range \"HH:MM-HH:MM\"".into(),
                            ))
                        }
                    };
                    let peak = baseline_wh.iter().copied().max().unwrap_or(0);
                    let max_wh = match max_kw {
                        Some(kw) if kw.is_finite() && *kw >= 0.0 => wh(*kw, day.interval_s),
                        Some(kw) => {
                            return Err(value(format!("max_kw {kw} is not a non-negative number")))
                        }
                        None => (peak as f64 * 1.5).ceil() as i64,
                    };
                    if !(min_kw.is_finite() && *min_kw >= 0.0) {
                        return Err(value(format!(
                            "min_kw {min_kw} is not a non-negative number"
                        )));
                    }
                    loads.push(FlexLoad {
                        name: name.clone(),
                        baseline_wh,
                        kind: FlexKind::Shiftable {
                            windows: w,
                            min_wh: wh(*min_kw, day.interval_s),
                            max_wh,
                        },
                    });
                }
                LoadSpec::Batch {
                    power_kw,
                    hours,
                    start,
                    ..
                } => {
                    let k = hours * 3600.0 / f64::from(day.interval_s);
                    if !(k.is_finite() && k >= 1.0 && (k - k.round()).abs() < 1e-9) {
                        return Err(value(format!(
                            "hours {hours} is not a whole number of {}-minute intervals",
                            day.interval_s / 60
                        )));
                    }
                    if !(power_kw.is_finite() && *power_kw >= 0.0) {
                        return Err(value(format!(
                            "power_kw {power_kw} is not a non-negative number"
                        )));
                    }
                    let k = k.round() as usize;
                    let s = local::parse_clock(start).map_err(time)?;
                    let first = (0..n)
                        .find(|&i| {
                            zone.clock(day.start + i as i64 * i64::from(day.interval_s))
                                .is_ok_and(|c| c.minute == s)
                        })
                        .filter(|&i| i + k <= n)
                        .ok_or_else(|| {
                            value(format!(
                                "its start {start} plus {hours} h does not lie within the day"
                            ))
                        })?;
                    let e = wh(*power_kw, day.interval_s);
                    let mut baseline_wh = vec![0; n];
                    for b in baseline_wh.iter_mut().skip(first).take(k) {
                        *b = e;
                    }
                    loads.push(FlexLoad {
                        name: name.clone(),
                        baseline_wh,
                        kind: FlexKind::Batch {
                            profile_wh: vec![e; k],
                            windows: w,
                        },
                    });
                }
            }
        }
        let mut fixed = day.load_wh.clone();
        for (t, f) in fixed.iter_mut().enumerate() {
            let flex: i64 = loads.iter().map(|l| l.baseline_wh[t]).sum();
            if flex > *f {
                return Err(SpecError::Exceeds {
                    clock: zone.hhmm(day.start + t as i64 * i64::from(day.interval_s)),
                    flex_wh: flex,
                    site_wh: *f,
                });
            }
            *f -= flex;
        }
        Ok((loads, fixed))
    }

    /// The problem for `day`: its loads, the fixed load left, `factors` (g/kWh per interval),
    /// the tariff's prices, the import limit (this spec's, else the day's).
    pub fn problem(
        &self,
        day: &SiteDay,
        factors: Vec<f64>,
        tariff: &Tariff,
        objective: Objective,
        zone: &Zone,
    ) -> Result<Problem, SpecError> {
        let (loads, fixed_wh) = self.loads(day, zone)?;
        let prices = tariff
            .prices(day.start, day.interval_s, day.load_wh.len())
            .map_err(|e| SpecError::Value {
                load: "tariff".into(),
                what: e.to_string(),
            })?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let import_limit_wh = match self.import_limit_kw {
            Some(kw) => Some(wh(kw, day.interval_s)),
            None => day.import_limit_wh,
        };
        Ok(Problem {
            enterprise: day.enterprise.clone(),
            start: day.start,
            interval_s: day.interval_s,
            zone: zone.name().to_string(),
            fixed_wh,
            pv_wh: day.pv_wh.clone(),
            factors,
            prices,
            currency: tariff.currency.clone(),
            loads,
            import_limit_wh,
            objective,
        })
    }
}
