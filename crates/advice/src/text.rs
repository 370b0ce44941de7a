//! An [`AdvicePlan`] as `tanji optimize` prints it: text for people (one day in full, or a
//! line per day and the period's total) and JSON.

use serde_json::{json, Value};
use tanji_optimizer::{format_energy, Outcome, Plan};

use crate::plan::moved_wh;
use tanji_units::time::LocalDate;

use crate::{AdvicePlan, DayAdvice, Planning, Setup};

/// Percent change from `a` to `b` (0 when `a` is 0).
fn pct(a: f64, b: f64) -> f64 {
    if a != 0.0 {
        (b - a) / a * 100.0
    } else {
        0.0
    }
}

/// A refused day's line: `no plan for E on D: why` (`None` if the day has a plan).
pub fn refusal(enterprise: &str, d: &DayAdvice) -> Option<String> {
    let why = d.plan.as_ref().err()?;
    Some(format!("no plan for {enterprise} on {}: {why}", d.date))
}

/// One planned day in full: what was planned on, the totals and the changes (with a forecast:
/// what the plan does on the published factors first, the forecast's own figure labelled),
/// the schedule per interval if `intervals`, and how it was modelled.
pub fn day(p: &AdvicePlan, d: &DayAdvice, plan: &Plan, intervals: bool) -> String {
    let mut s = format!(
        "load-shift advice for {} on {} ({}), objective {}, factors {}{}; {} flexible load(s), energy kept to the Wh\n",
        p.enterprise,
        d.date,
        p.zone,
        plan.objective.code(),
        d.publication,
        if d.realised.is_some() { " (planned on a forecast)" } else { "" },
        plan.loads.len()
    );
    if let Some(note) = &d.forecast {
        s.push_str(&format!("  forecast: {note}\n"));
    }
    s.push('\n');
    match &d.realised {
        None => s.push_str(&plan.summary()),
        Some((before, after)) => s.push_str(&forecast_headline(plan, before, after)),
    }
    if intervals {
        s.push_str(&interval_table(plan));
    }
    s.push_str(&format!(
        "  modelled: grid import × the interval's factor and tariff price; solved as a {}\n",
        plan.solver.describe()
    ));
    s
}

/// One planned day as JSON: the headline on the published factors, the plan (the forecast's
/// own figures when planned on a forecast) and the realised outcomes.
pub fn day_json(p: &AdvicePlan, d: &DayAdvice, plan: &Plan) -> Value {
    json!({
        "enterprise": p.enterprise,
        "day": d.date.to_string(),
        "zone": p.zone,
        "factors": d.publication,
        "planned_on": if d.realised.is_some() { "forecast" } else { "published" },
        "forecast": d.forecast,
        // The headline: on the published factors (realised when planned on a forecast; `plan`
        // then holds the forecast's own figures).
        "headline": match &d.realised {
            Some((before, after)) => json!({"figures": "realised on the published factors", "before": before, "after": after}),
            None => json!({"figures": "modelled on the published factors", "before": plan.before, "after": plan.after}),
        },
        "plan": plan,
        "realised": d.realised.map(|(before, after)| json!({"before": before, "after": after})),
    })
}

/// The schedule per interval, after a blank line.
fn interval_table(plan: &Plan) -> String {
    let mut s = String::from("\nlocal  factor g/kWh  price  fixed kWh  PV kWh  flex before  flex after  import before  import after\n");
    for iv in &plan.intervals {
        s.push_str(&format!(
            "{}  {:>12.1}  {:>5.2}  {:>9.1}  {:>6.1}  {:>11.1}  {:>10.1}  {:>13.1}  {:>12.1}\n",
            iv.local,
            iv.factor,
            iv.price,
            iv.fixed_wh as f64 / 1e3,
            iv.pv_wh as f64 / 1e3,
            iv.flex_before_wh as f64 / 1e3,
            iv.flex_after_wh as f64 / 1e3,
            iv.import_before_wh as f64 / 1e3,
            iv.import_after_wh as f64 / 1e3
        ));
    }
    s
}

/// The text of a plan made on a forecast: the headline is what the plan does on the day's
/// published factors (realised); the forecast's own figure follows, labelled, then the
/// changes as modelled on the forecast.
fn forecast_headline(plan: &Plan, before: &Outcome, after: &Outcome) -> String {
    let line = |b: &Outcome, a: &Outcome| {
        format!(
            "emissions {:.3} t -> {:.3} t ({:+.1} kg, {:+.2}%); cost {:.0} -> {:.0} {} ({:+.1}%)",
            b.emissions_g as f64 / 1e6,
            a.emissions_g as f64 / 1e6,
            (a.emissions_g - b.emissions_g) as f64 / 1e3,
            pct(b.emissions_g as f64, a.emissions_g as f64),
            b.cost,
            a.cost,
            plan.currency,
            pct(b.cost, a.cost),
        )
    };
    let mut s = format!(
        "realised on the published factors: {}; grid import {} -> {}; consumption {} (unchanged: {})\n",
        line(before, after),
        format_energy(before.import_wh),
        format_energy(after.import_wh),
        format_energy(after.consumption_wh),
        if before.consumption_wh == after.consumption_wh { "yes" } else { "NO" },
    );
    s.push_str(&format!(
        "  forecast's own figure (modelled on the forecast factors the plan was made on, not realised): {}\n",
        line(&plan.before, &plan.after)
    ));
    if plan.changes.is_empty() {
        s.push_str("no change: on the forecast, the loads already run at their best times\n");
    } else {
        s.push_str("changes (their emissions and cost as modelled on the forecast):\n");
    }
    for c in &plan.changes {
        s.push_str(&format!("  {}\n", c.text));
    }
    s
}

/// The first line of several days: what they are planned on.
pub fn days_header(
    enterprise: &str,
    (first, days): (LocalDate, u32),
    zone: &str,
    setup: &Setup,
) -> String {
    format!(
        "load-shift advice for {enterprise}, {days} days from {first} ({zone}), objective {}, planned on {} factors; emissions and cost {}:\n",
        setup.objective.code(),
        setup.planning.code(),
        if setup.planning == Planning::Forecast { "as realised on the published factors" } else { "modelled" }
    )
}

/// A planned day's line among several: its headline outcomes, energy moved and changes
/// (`None` if the day has no plan).
pub fn day_line(d: &DayAdvice) -> Option<String> {
    let (Ok(plan), Some((b, f))) = (&d.plan, d.headline()) else {
        return None;
    };
    Some(format!(
        "  {}: emissions {:.3} t -> {:.3} t, cost {:.0} -> {:.0} {}, {} moved, {} change(s)\n",
        d.date,
        b.emissions_g as f64 / 1e6,
        f.emissions_g as f64 / 1e6,
        b.cost,
        f.cost,
        plan.currency,
        format_energy(moved_wh(plan)),
        plan.changes.len()
    ))
}

/// The total over the planned days of several (with a forecast: realised on the published
/// factors, then the forecast's own figure, labelled).
pub fn days_total(p: &AdvicePlan) -> String {
    let forecast = p.planning == Planning::Forecast;
    let mut s = String::new();
    let t = p.totals();
    let (b, f) = t.headline();
    s.push_str(&format!(
        "total over {} planned day(s){}: emissions {:.3} t -> {:.3} t ({:+.2}%), cost {:.0} -> {:.0} ({:+.2}%), {} moved; consumption {} -> {} ({})\n",
        t.planned,
        if t.refused > 0 { format!(" ({} refused)", t.refused) } else { String::new() },
        b.emissions_g as f64 / 1e6,
        f.emissions_g as f64 / 1e6,
        pct(b.emissions_g as f64, f.emissions_g as f64),
        b.cost,
        f.cost,
        pct(b.cost, f.cost),
        format_energy(t.moved_wh),
        format_energy(b.consumption_wh),
        format_energy(f.consumption_wh),
        if b.consumption_wh == f.consumption_wh { "unchanged" } else { "CHANGED" }
    ));
    if forecast {
        let (ob, oa) = (t.own.0.emissions_g as f64, t.own.1.emissions_g as f64);
        s.push_str(&format!(
            "  forecast's own figure (modelled on the forecast factors the plans were made on, not realised): emissions {:.3} t -> {:.3} t ({:+.2}%)\n",
            ob / 1e6,
            oa / 1e6,
            pct(ob, oa)
        ));
    }
    s
}

/// Several days as JSON: each planned day's headline outcomes and changes, and the total.
pub fn days_json(p: &AdvicePlan) -> Value {
    let days: Vec<Value> = p
        .days
        .iter()
        .filter_map(|d| {
            let plan = d.plan.as_ref().ok()?;
            let (b, f) = d.headline()?;
            Some(json!({
                "day": d.date.to_string(),
                "factors": d.publication,
                "forecast": d.forecast,
                "before": b,
                "after": f,
                "moved_wh": moved_wh(plan),
                "changes": plan.changes,
            }))
        })
        .collect();
    let t = p.totals();
    let (b, f) = t.headline();
    let forecast = p.planning == Planning::Forecast;
    json!({
        "enterprise": p.enterprise,
        "zone": p.zone,
        "days": days,
        "total": {
            "planned_days": t.planned,
            "refused_days": t.refused,
            "before_emissions_g": b.emissions_g,
            "after_emissions_g": f.emissions_g,
            "before_cost": b.cost,
            "after_cost": f.cost,
            "before_consumption_wh": b.consumption_wh,
            "after_consumption_wh": f.consumption_wh,
            "moved_wh": t.moved_wh,
            "figures": if forecast { "realised on the published factors" } else { "modelled on the published factors" },
            "forecast": forecast.then(|| json!({
                "label": "as modelled on the forecast factors the plans were made on, not realised",
                "before_emissions_g": t.own.0.emissions_g,
                "after_emissions_g": t.own.1.emissions_g,
            })),
        },
    })
}
