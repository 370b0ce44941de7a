//! Checks before solving: malformed input ([`Infeasible::Invalid`]) and the obvious
//! conflicts ([`Infeasible::Conflicts`]) named in words, so the solver only sees problems
//! that are well formed and not trivially impossible.

use crate::advice::{format_energy, ranges};
use crate::{Conflict, FlexKind, FlexLoad, Infeasible, Problem, Window};
use tanji_units::time::Zone;

fn invalid(what: String) -> Infeasible {
    Infeasible::Invalid { what }
}

/// The allowed-interval mask of `windows` over `n` intervals.
pub(crate) fn mask(windows: &[Window], n: usize) -> Vec<bool> {
    let mut m = vec![false; n];
    for w in windows {
        for a in m.iter_mut().take(w.to.min(n)).skip(w.from) {
            *a = true;
        }
    }
    m
}

/// Feasible start intervals of a batch of `len` intervals over `allowed`.
pub(crate) fn batch_starts(allowed: &[bool], len: usize) -> Vec<usize> {
    if len == 0 || len > allowed.len() {
        return Vec::new();
    }
    (0..=allowed.len() - len)
        .filter(|&s| allowed[s..s + len].iter().all(|&a| a))
        .collect()
}

/// Shape checks: lengths, signs, finiteness, windows in range, batch energy = baseline energy.
pub(crate) fn validate(p: &Problem) -> Result<(), Infeasible> {
    let n = p.len();
    if n == 0 {
        return Err(invalid("the horizon has no intervals".into()));
    }
    if p.interval_s == 0 {
        return Err(invalid(
            "interval length 0 s; quarter-hours are 900 s".into(),
        ));
    }
    for (what, len) in [
        ("pv_wh", p.pv_wh.len()),
        ("factors", p.factors.len()),
        ("prices", p.prices.len()),
    ] {
        if len != n {
            return Err(invalid(format!(
                "{what} has {len} values, fixed_wh {n}; give one per interval"
            )));
        }
    }
    let zone = Zone::named(&p.zone).map_err(|e| invalid(e.to_string()))?;
    let at = |i: usize| zone.hhmm(p.start + i as i64 * i64::from(p.interval_s));
    for i in 0..n {
        if p.fixed_wh[i] < 0 {
            return Err(invalid(format!(
                "the fixed load at {} is {} Wh: negative (do the flexible loads' baselines exceed the site's metered load there?)",
                at(i),
                p.fixed_wh[i]
            )));
        }
        if p.pv_wh[i] < 0 {
            return Err(invalid(format!(
                "PV at {} is {} Wh: negative",
                at(i),
                p.pv_wh[i]
            )));
        }
        if !(p.factors[i].is_finite() && p.factors[i] >= 0.0) {
            return Err(invalid(format!(
                "the grid factor at {} is {}: give a finite, non-negative g/kWh",
                at(i),
                p.factors[i]
            )));
        }
        if !(p.prices[i].is_finite() && p.prices[i] >= 0.0) {
            return Err(invalid(format!(
                "the price at {} is {}: give a finite, non-negative {}/kWh",
                at(i),
                p.prices[i],
                p.currency
            )));
        }
    }
    if let Some(l) = p.import_limit_wh {
        if l < 0 {
            return Err(invalid(format!("the import limit is {l} Wh: negative")));
        }
    }
    if let crate::Objective::Blend { price_per_t } = p.objective {
        if !(price_per_t.is_finite() && price_per_t >= 0.0) {
            return Err(invalid(format!(
                "the blend's carbon price {price_per_t} is not a finite, non-negative {}/t",
                p.currency
            )));
        }
    }
    for l in &p.loads {
        validate_load(l, n)?;
    }
    Ok(())
}

fn validate_load(l: &FlexLoad, n: usize) -> Result<(), Infeasible> {
    if l.baseline_wh.len() != n {
        return Err(invalid(format!(
            "{}: its baseline has {} values for {n} intervals",
            l.name,
            l.baseline_wh.len()
        )));
    }
    if let Some((i, v)) = l.baseline_wh.iter().enumerate().find(|(_, v)| **v < 0) {
        return Err(invalid(format!(
            "{}: its baseline is {v} Wh in interval {i}: negative",
            l.name
        )));
    }
    let windows = match &l.kind {
        FlexKind::Shiftable {
            windows,
            min_wh,
            max_wh,
        } => {
            if *min_wh < 0 || max_wh < min_wh {
                return Err(invalid(format!(
                    "{}: min {min_wh} Wh and max {max_wh} Wh per interval: need 0 <= min <= max",
                    l.name
                )));
            }
            windows
        }
        FlexKind::Batch {
            profile_wh,
            windows,
        } => {
            if profile_wh.is_empty() || profile_wh.iter().any(|v| *v < 0) {
                return Err(invalid(format!(
                    "{}: a batch profile needs at least one interval and no negative energy",
                    l.name
                )));
            }
            let e: i64 = profile_wh.iter().sum();
            if e != l.energy_wh() {
                return Err(invalid(format!(
                    "{}: its batch profile sums to {e} Wh but its baseline to {} Wh; they must be the same run",
                    l.name,
                    l.energy_wh()
                )));
            }
            windows
        }
    };
    if let Some(w) = windows.iter().find(|w| w.from >= w.to || w.to > n) {
        return Err(invalid(format!(
            "{}: window {}..{} is empty or beyond the {n} intervals",
            l.name, w.from, w.to
        )));
    }
    Ok(())
}

/// The obvious conflicts: a load that cannot fit its window, a batch longer than any
/// window, fixed load alone above the import limit, loads that need more than the limit
/// leaves.
pub(crate) fn precheck(p: &Problem) -> Result<(), Infeasible> {
    let n = p.len();
    let zone = Zone::named(&p.zone).map_err(|e| invalid(e.to_string()))?;
    let hours = |k: usize| k as f64 * f64::from(p.interval_s) / 3600.0;
    let power = |wh: i64| format_power(wh as f64 * 3600.0 / f64::from(p.interval_s));
    let mut conflicts = Vec::new();
    let mut min_at = vec![0i64; n];
    for l in &p.loads {
        let e = l.energy_wh();
        match &l.kind {
            FlexKind::Shiftable {
                windows,
                min_wh,
                max_wh,
            } => {
                let m = mask(windows, n);
                let k = m.iter().filter(|&&a| a).count();
                let span = ranges(&zone, p.start, p.interval_s, &m).join(", ");
                if e > *max_wh * k as i64 {
                    conflicts.push(Conflict {
                        constraint: format!("{}: window and max power", l.name),
                        message: format!(
                            "{} needs {} in {span} but its max power ({}) allows {} ({:.2} h)",
                            l.name,
                            format_energy(e),
                            power(*max_wh),
                            format_energy(*max_wh * k as i64),
                            hours(k)
                        ),
                    });
                }
                if e < *min_wh * k as i64 {
                    conflicts.push(Conflict {
                        constraint: format!("{}: window and min power", l.name),
                        message: format!(
                            "{} has {} to use but its min power ({}) over {span} draws at least {}",
                            l.name,
                            format_energy(e),
                            power(*min_wh),
                            format_energy(*min_wh * k as i64)
                        ),
                    });
                }
                for (t, a) in m.iter().enumerate() {
                    if *a {
                        min_at[t] += *min_wh;
                    }
                }
            }
            FlexKind::Batch {
                profile_wh,
                windows,
            } => {
                let m = mask(windows, n);
                if batch_starts(&m, profile_wh.len()).is_empty() {
                    let longest = longest_run(&m);
                    conflicts.push(Conflict {
                        constraint: format!("{}: no-pause run and window", l.name),
                        message: format!(
                            "{} must run {:.2} h without pause but its longest allowed stretch is {:.2} h ({})",
                            l.name,
                            hours(profile_wh.len()),
                            hours(longest),
                            ranges(&zone, p.start, p.interval_s, &m).join(", ")
                        ),
                    });
                }
            }
        }
    }
    if let Some(limit) = p.import_limit_wh {
        let over: Vec<usize> = (0..n)
            .filter(|&t| p.fixed_wh[t] - p.pv_wh[t] + min_at[t] > limit)
            .collect();
        if let Some(&t) = over.first() {
            conflicts.push(Conflict {
                constraint: "site import limit".into(),
                message: format!(
                    "at {} the fixed load ({}) less PV ({}) plus the loads' minimum ({}) needs {} of import, above the limit of {} per interval ({} interval(s) like this)",
                    zone.hhmm(p.start + t as i64 * i64::from(p.interval_s)),
                    format_energy(p.fixed_wh[t]),
                    format_energy(p.pv_wh[t]),
                    format_energy(min_at[t]),
                    format_energy(p.fixed_wh[t] - p.pv_wh[t] + min_at[t]),
                    format_energy(limit),
                    over.len()
                ),
            });
        } else {
            // Room under the limit in intervals some load may use, against all flexible energy.
            let mut any = vec![false; n];
            for l in &p.loads {
                let w = match &l.kind {
                    FlexKind::Shiftable { windows, .. } | FlexKind::Batch { windows, .. } => {
                        windows
                    }
                };
                for (a, b) in any.iter_mut().zip(mask(w, n)) {
                    *a |= b;
                }
            }
            let room: i64 = (0..n)
                .filter(|&t| any[t])
                .map(|t| (limit - (p.fixed_wh[t] - p.pv_wh[t])).max(0))
                .sum();
            let need: i64 = p.loads.iter().map(FlexLoad::energy_wh).sum();
            if need > room {
                conflicts.push(Conflict {
                    constraint: "site import limit".into(),
                    message: format!(
                        "the flexible loads need {} but the import limit of {} per interval leaves {} in their windows",
                        format_energy(need),
                        format_energy(limit),
                        format_energy(room)
                    ),
                });
            }
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        Err(Infeasible::Conflicts { conflicts })
    }
}

fn longest_run(m: &[bool]) -> usize {
    let (mut best, mut cur) = (0, 0);
    for &a in m {
        cur = if a { cur + 1 } else { 0 };
        best = best.max(cur);
    }
    best
}

/// `1.2 MW`, `450 kW`.
fn format_power(w: f64) -> String {
    if w.abs() >= 1e6 {
        format!("{:.2} MW", w / 1e6)
    } else {
        format!("{:.0} kW", w / 1e3)
    }
}
