//! From schedules to advice: modelled outcomes, the per-interval table, and one line per
//! load that moves, in local clock times.

use crate::solve::Solved;
use crate::{Change, IntervalPlan, LoadPlan, Outcome, Plan, Problem};
use tanji_units::time::Zone;

/// `1.25 MWh`, `340 kWh`, `12.5 kWh`, `800 Wh`.
pub fn format_energy(wh: i64) -> String {
    let x = wh as f64;
    let a = x.abs();
    if a >= 10e6 {
        format!("{:.1} MWh", x / 1e6)
    } else if a >= 1e6 {
        format!("{:.2} MWh", x / 1e6)
    } else if a >= 10e3 {
        format!("{:.0} kWh", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1} kWh", x / 1e3)
    } else {
        format!("{wh} Wh")
    }
}

fn signed(x: f64, body: String) -> String {
    if x < 0.0 {
        format!("\u{2212}{body}")
    } else {
        format!("+{body}")
    }
}

/// `−0.31 t CO2` (from 0.1 t), `+12 kg CO2`: how advice lines write emissions, in every language.
pub fn format_emissions(g: i64) -> String {
    let a = g.unsigned_abs() as f64;
    let body = if a >= 1e5 {
        format!("{:.2} t CO2", a / 1e6)
    } else if a >= 1e3 {
        format!("{:.0} kg CO2", a / 1e3)
    } else {
        format!("{a:.0} g CO2")
    };
    signed(g as f64, body)
}

/// `−412 CNY`, `+3.50 CNY`: how advice lines write money, in every language.
pub fn format_money(x: f64, currency: &str) -> String {
    let a = x.abs();
    let body = if a >= 10.0 {
        format!("{a:.0} {currency}")
    } else {
        format!("{a:.2} {currency}")
    };
    signed(x, body)
}

/// The marked intervals as local time ranges, `"19:00–21:00"`.
pub(crate) fn ranges(zone: &Zone, start: i64, interval_s: u32, marked: &[bool]) -> Vec<String> {
    let at = |i: usize| start + i as i64 * i64::from(interval_s);
    let mut out = Vec::new();
    let mut i = 0;
    while i < marked.len() {
        if !marked[i] {
            i += 1;
            continue;
        }
        let a = i;
        while i < marked.len() && marked[i] {
            i += 1;
        }
        let end = zone.hhmm(at(i));
        let end = if end == "00:00" { "24:00".into() } else { end };
        out.push(format!("{}\u{2013}{end}", zone.hhmm(at(a))));
    }
    out
}

fn join_ranges(r: &[String]) -> String {
    match r.len() {
        0 => "nowhere".into(),
        1..=3 => r.join(", "),
        k => format!("{} and {} more", r[..3].join(", "), k - 3),
    }
}

/// Where a load leaves and where it goes, for the advice's clock times: intervals whose change
/// is at least 5% of the load's largest change (so a few stray Wh do not list a dozen ranges),
/// with one-interval gaps between marked intervals closed.
fn marks(before: &[i64], after: &[i64]) -> (Vec<bool>, Vec<bool>) {
    let delta: Vec<i64> = before.iter().zip(after).map(|(b, a)| a - b).collect();
    let big = delta.iter().map(|d| d.abs()).max().unwrap_or(0);
    let thr = (big / 20).max(1);
    let from: Vec<bool> = delta.iter().map(|&d| d <= -thr).collect();
    let to: Vec<bool> = delta.iter().map(|&d| d >= thr).collect();
    let close = |m: &[bool], other: &[bool]| -> Vec<bool> {
        (0..m.len())
            .map(|i| m[i] || (i > 0 && i + 1 < m.len() && m[i - 1] && m[i + 1] && !other[i]))
            .collect()
    };
    (close(&from, &to), close(&to, &from))
}

/// Totals of flexible schedules `flex` on `p`.
pub(crate) fn outcome(p: &Problem, flex: &[&[i64]]) -> Outcome {
    let (mut cons, mut imp, mut exp) = (0i64, 0i64, 0i64);
    let (mut g, mut cost) = (0.0f64, 0.0f64);
    for t in 0..p.len() {
        let load = p.fixed_wh[t] + flex.iter().map(|s| s[t]).sum::<i64>();
        let net = load - p.pv_wh[t];
        cons += load;
        let i = net.max(0);
        imp += i;
        exp += (-net).max(0);
        g += i as f64 * p.factors[t] / 1000.0;
        cost += i as f64 * p.prices[t] / 1000.0;
    }
    Outcome {
        consumption_wh: cons,
        import_wh: imp,
        export_wh: exp,
        emissions_g: g.round() as i64,
        cost,
    }
}

/// The plan for `p` from solved schedules.
pub(crate) fn plan(p: &Problem, solved: Solved) -> Plan {
    let zone = Zone::named(&p.zone).unwrap_or_else(|_| Zone::shanghai());
    let n = p.len();
    let before_s: Vec<&[i64]> = p.loads.iter().map(|l| &l.baseline_wh[..]).collect();
    let after_s: Vec<&[i64]> = solved.schedules.iter().map(|s| &s[..]).collect();
    let before = outcome(p, &before_s);
    let after = outcome(p, &after_s);

    // Changes, applied load by load so their figures add up to the total.
    let mut current: Vec<Vec<i64>> = p.loads.iter().map(|l| l.baseline_wh.clone()).collect();
    let mut prev = before;
    let mut changes = Vec::new();
    let mut loads = Vec::with_capacity(p.loads.len());
    for (l, load) in p.loads.iter().enumerate() {
        let after_l = &solved.schedules[l];
        let moved: i64 = (0..n)
            .map(|t| (load.baseline_wh[t] - after_l[t]).max(0))
            .sum();
        loads.push(LoadPlan {
            name: load.name.clone(),
            energy_wh: load.energy_wh(),
            before_wh: load.baseline_wh.clone(),
            after_wh: after_l.clone(),
            moved_wh: moved,
        });
        if moved == 0 {
            continue;
        }
        current[l] = after_l.clone();
        let cur: Vec<&[i64]> = current.iter().map(|s| &s[..]).collect();
        let now = outcome(p, &cur);
        let (from_m, to_m) = marks(&load.baseline_wh, after_l);
        let from = ranges(&zone, p.start, p.interval_s, &from_m);
        let to = ranges(&zone, p.start, p.interval_s, &to_m);
        let dg = now.emissions_g - prev.emissions_g;
        let dc = now.cost - prev.cost;
        let text = format!(
            "move {} of {} from {} to {}: {}, {}",
            format_energy(moved),
            load.name,
            join_ranges(&from),
            join_ranges(&to),
            format_emissions(dg),
            format_money(dc, &p.currency)
        );
        changes.push(Change {
            load: load.name.clone(),
            moved_wh: moved,
            from,
            to,
            emissions_g: dg,
            cost: dc,
            text,
        });
        prev = now;
    }

    let intervals = (0..n)
        .map(|t| {
            let start = p.start + t as i64 * i64::from(p.interval_s);
            let fb: i64 = before_s.iter().map(|s| s[t]).sum();
            let fa: i64 = after_s.iter().map(|s| s[t]).sum();
            IntervalPlan {
                start,
                local: zone.hhmm(start),
                factor: p.factors[t],
                price: p.prices[t],
                fixed_wh: p.fixed_wh[t],
                pv_wh: p.pv_wh[t],
                flex_before_wh: fb,
                flex_after_wh: fa,
                import_before_wh: (p.fixed_wh[t] + fb - p.pv_wh[t]).max(0),
                import_after_wh: (p.fixed_wh[t] + fa - p.pv_wh[t]).max(0),
            }
        })
        .collect();
    Plan {
        enterprise: p.enterprise.clone(),
        start: p.start,
        interval_s: p.interval_s,
        zone: zone.name().to_string(),
        currency: p.currency.clone(),
        objective: p.objective,
        before,
        after,
        loads,
        intervals,
        changes,
        solver: solved.note,
    }
}

impl Plan {
    /// The plan as text: one line per change, then before/after totals.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let d = |a: i64, b: i64| b - a;
        if self.changes.is_empty() {
            s.push_str("no change: the loads already run at their best times\n");
        }
        for c in &self.changes {
            s.push_str(&c.text);
            s.push('\n');
        }
        let pct = |a: f64, b: f64| if a != 0.0 { (b - a) / a * 100.0 } else { 0.0 };
        s.push_str(&format!(
            "emissions {:.3} t -> {:.3} t ({:+.1}%); cost {:.0} -> {:.0} {} ({:+.1}%); grid import {} -> {}; consumption {} (unchanged: {})\n",
            self.before.emissions_g as f64 / 1e6,
            self.after.emissions_g as f64 / 1e6,
            pct(self.before.emissions_g as f64, self.after.emissions_g as f64),
            self.before.cost,
            self.after.cost,
            self.currency,
            pct(self.before.cost, self.after.cost),
            format_energy(self.before.import_wh),
            format_energy(self.after.import_wh),
            format_energy(self.after.consumption_wh),
            if d(self.before.consumption_wh, self.after.consumption_wh) == 0 {
                "yes"
            } else {
                "NO"
            }
        ));
        if !self.solver.proven_optimal {
            s.push_str(&format!("solver: {}\n", self.solver.describe()));
        }
        s
    }
}
