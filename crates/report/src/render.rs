//! Readable forms of a report: CSV (one row per figure) and a self-contained HTML page
//! (inline CSS and SVG, no scripts).

use std::fmt::Write as _;

use serde_json::Value;

use crate::doc::{EnterpriseDoc, ReportDoc};

/// The unit of a figure, from its field name (the accounting report names units in its
/// field suffixes).
fn unit_of(key: &str) -> &'static str {
    const SUFFIXES: [(&str, &str); 12] = [
        ("_g_per_kwh", "gCO2/kWh"),
        ("_t_per_gj", "tCO2/GJ"),
        ("_t_per_unit", "tCO2/unit"),
        ("_kwh_per_unit", "kWh/unit"),
        ("_gj_per_unit", "GJ/unit"),
        ("_t_per_mwh", "tCO2/MWh"),
        ("_wh", "Wh"),
        ("_g", "gCO2"),
        ("_mj", "MJ"),
        ("_pct", "%"),
        ("_s", "s"),
        ("_milli", "1/1000 of the meter unit"),
    ];
    for (s, u) in SUFFIXES {
        if key.ends_with(s) {
            return u;
        }
    }
    match key {
        "share" | "green_share" | "cfe_score" | "oxidation" => "fraction",
        "ncv" => "NCV (see ncv_basis)",
        "carbon_tc_per_tj" => "tC/TJ",
        "value" => "see the factor's field",
        _ => "",
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_walk(path: &str, key: &str, v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                csv_walk(&p, k, x, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                csv_walk(&format!("{path}[{i}]"), key, x, out);
            }
        }
        Value::Number(n) => {
            let _ = writeln!(out, "{},{n},{}", csv_field(path), csv_field(unit_of(key)));
        }
        _ => {}
    }
}

/// The report as CSV: `path,value,unit`, one row per number, paths as in the JSON
/// (`reports[0].figures.scope1.fossil_g`) — the same paths `tanji audit` names.
pub fn render_csv(doc: &ReportDoc) -> String {
    let mut out = String::from("path,value,unit\n");
    // Warnings first: a factor series that does not cover the period.
    for (i, x) in doc.issues.iter().enumerate() {
        if x.kind == "factor_coverage" {
            let _ = writeln!(
                out,
                "issues[{i}].warning,{},{}",
                csv_field(&x.message),
                csv_field(&x.kind)
            );
        }
    }
    if let Ok(v) = serde_json::to_value(doc) {
        for key in ["parameters", "reports", "park_totals"] {
            if let Some(x) = v.get(key) {
                csv_walk(key, key, x, &mut out);
            }
        }
        let _ = writeln!(
            out,
            "provenance.checkpoint.size,{},entries",
            doc.provenance.checkpoint.size
        );
    }
    out
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = cur.get(p).unwrap_or(&Value::Null);
    }
    cur
}

fn int(v: &Value, path: &[&str]) -> i64 {
    at(v, path).as_i64().unwrap_or(0)
}

fn float(v: &Value, path: &[&str]) -> Option<f64> {
    at(v, path).as_f64()
}

/// Grams as tonnes with one decimal and thousands separators.
fn t(g: i64) -> String {
    let tenths = (g as f64 / 100_000.0).round() as i64;
    let (sign, a) = if tenths < 0 {
        ("−", -tenths)
    } else {
        ("", tenths)
    };
    format!("{sign}{}.{} t", group(a / 10), a % 10)
}

/// Wh as MWh with one decimal.
fn mwh(wh: i64) -> String {
    let tenths = (wh as f64 / 100_000.0).round() as i64;
    format!("{}.{} MWh", group(tenths / 10), tenths % 10)
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "–".into(), |x| format!("{:.1}%", x * 100.0))
}

fn bar(width: f64, max: f64, color: &str) -> String {
    let w = if max > 0.0 {
        (width / max * 160.0).clamp(0.0, 160.0)
    } else {
        0.0
    };
    format!(
        "<svg width=\"162\" height=\"12\" role=\"img\"><rect x=\"0\" y=\"1\" width=\"{w:.1}\" height=\"10\" fill=\"{color}\"/></svg>"
    )
}

const CSS: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1d2630}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #d5dde5;padding-bottom:.2em;font-size:1.2em}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .7em;border-bottom:1px solid #e6ebf0;text-align:right;vertical-align:middle}\
th{background:#f3f6f9}td:first-child,th:first-child{text-align:left}.muted{color:#607080}.big{font-size:1.25em;font-weight:600}\
.banner{background:#fff4d6;border:1px solid #e0b84c;padding:.6em 1em;border-radius:6px}.banner.warn{background:#fde2e1;border-color:#c0392b}.reason{background:#eef7ee;border-left:4px solid #3a8f3a;padding:.6em 1em}\
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #d5dde5;border-radius:6px;padding:.6em 1em;min-width:180px}\
pre{background:#f3f6f9;padding:.6em;overflow-x:auto;font-size:12px}code{font-size:12px;word-break:break-all}";

/// One enterprise's section: filled share, totals by scope with the Scope 1 and heat lines,
/// fixed vs dynamic, indicators and data issues.
fn enterprise_section(doc: &ReportDoc, e: &EnterpriseDoc, out: &mut String) {
    scope_totals(e, out);
    fuel_lines(&e.figures, out);
    comparison_section(doc, &e.figures, out);
    indicators_section(&e.figures, out);
    issues_section(e, out);
}

/// The filled-share banner and the totals by scope.
fn scope_totals(e: &EnterpriseDoc, out: &mut String) {
    let f = &e.figures;
    let s1 = int(f, &["scope1", "fossil_g"]);
    let s2 = int(f, &["scope2_location", "total_g"]);
    let s2m = int(f, &["scope2_market", "total_g"]);
    if let Some(fs) = &e.filled_share {
        let _ = write!(
            out,
            "<p class=\"{}\"><b>Filled values (插补数据) of {}: {}</b> ({} of {} interval values are not measured but filled: interpolated, from the interval-of-day profile, or counted as zero).</p>",
            if fs.share > 0.0 { "banner" } else { "muted" },
            esc(&e.enterprise),
            pct(Some(fs.share)),
            group(i64::try_from(fs.filled_values).unwrap_or(i64::MAX)),
            group(i64::try_from(fs.values).unwrap_or(i64::MAX)),
        );
    }
    let _ = write!(
        out,
        "<h2>Totals by scope (按范围汇总) — {}</h2><div class=\"cards\">\
<div class=\"card\">Scope 1, fuels (范围一)<div class=\"big\">{}</div></div>\
<div class=\"card\">Scope 2, location-based (范围二, 基于位置)<div class=\"big\">{}</div><span class=\"muted\">electricity {} + heat/steam {}</span></div>\
<div class=\"card\">Scope 2, market-based (范围二, 基于市场)<div class=\"big\">{}</div></div>\
<div class=\"card\">Scope 1 + 2 (location)<div class=\"big\">{}</div></div></div>",
        esc(&e.enterprise),
        t(s1),
        t(s2),
        t(int(f, &["scope2_location", "electricity_g"])),
        t(int(f, &["scope2_location", "heat_g"])),
        t(s2m),
        t(s1 + s2),
    );
}

/// The Scope 1 lines and heat/steam lines: meter, quantity, emissions and their parameters.
fn fuel_lines(f: &Value, out: &mut String) {
    let lines = at(f, &["scope1", "lines"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let heat = at(f, &["scope2_location", "heat"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !lines.is_empty() || !heat.is_empty() {
        out.push_str(
            "<table><tr><th>meter</th><th>carrier</th><th>quantity</th><th>emissions</th><th>parameters</th></tr>",
        );
        for l in lines.iter().chain(&heat) {
            let q = int(l, &["quantity_milli"]) as f64 / 1000.0;
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td class=\"muted\">{}</td></tr>",
                esc(at(l, &["meter"]).as_str().unwrap_or("")),
                esc(at(l, &["carrier"]).as_str().unwrap_or("")),
                group(q.round() as i64),
                esc(at(l, &["unit"]).as_str().unwrap_or("")),
                t(int(l, &["emissions_g"])),
                esc(&line_basis(l))
            );
        }
        out.push_str("</table>");
    }
}

/// Fixed vs dynamic grid factor, with the reason and the hour-of-day table.
fn comparison_section(doc: &ReportDoc, f: &Value, out: &mut String) {
    let c = at(f, &["comparison"]);
    if !c.is_null() {
        let fixed = int(c, &["fixed_g"]);
        let dynamic = int(c, &["dynamic_g"]);
        let diff = int(c, &["difference_g"]);
        let pctd = float(c, &["difference_pct"]).unwrap_or(0.0);
        let ff = float(c, &["fixed_factor", "value"]).unwrap_or(0.0);
        let max = fixed.max(dynamic) as f64;
        let _ = write!(
            out,
            "<h2>Fixed vs dynamic grid factor (固定因子 vs 动态因子)</h2>\
<p>Grid import (电网购电) {}: at one fixed annual factor of {:.4} tCO2/MWh ({}) against each hour's own factor from publication <code>{}</code>.</p>\
<table><tr><th></th><th>emissions</th><th></th></tr>\
<tr><td>Fixed annual factor (固定年均因子)</td><td class=\"big\">{}</td><td>{}</td></tr>\
<tr><td>Dynamic hourly factor (动态小时因子)</td><td class=\"big\">{}</td><td>{}</td></tr>\
<tr><td>Difference, fixed − dynamic (差值)</td><td class=\"big\">{} ({:+.1}%)</td><td class=\"muted\">{}</td></tr></table>\
<p class=\"reason\"><b>Why (原因):</b> {}</p>",
            mwh(int(c, &["import_wh"])),
            ff / 1000.0,
            esc(&doc.parameters.fixed_factor.source),
            esc(&doc.parameters.factors),
            t(fixed),
            bar(fixed as f64, max, "#8a99a8"),
            t(dynamic),
            bar(dynamic as f64, max, "#3a8f3a"),
            t(diff),
            pctd,
            if diff > 0 {
                "positive: the fixed factor over-counts"
            } else if diff < 0 {
                "negative: the fixed factor under-counts"
            } else {
                "no difference"
            },
            // No reason when there is nothing to compare (no hourly factor for the import).
            esc(at(c, &["reason"]).as_str().unwrap_or(
                "nothing to compare: no hourly factor covers this period's grid import (see the factor coverage above)"
            )),
        );
        let hours = at(c, &["by_hour"]).as_array().cloned().unwrap_or_default();
        let max_share = hours
            .iter()
            .filter_map(|h| h.get("share").and_then(Value::as_f64))
            .fold(0.0, f64::max);
        let max_f = hours
            .iter()
            .filter_map(|h| h.get("mean_factor_g_per_kwh").and_then(Value::as_f64))
            .fold(0.0, f64::max);
        let _ = write!(
            out,
            "<h3>Hour of day (分时段, local time UTC{:+})</h3><table><tr><th>hour</th><th>share of use (用电占比)</th><th></th><th>mean factor gCO2/kWh (平均因子)</th><th></th><th>fixed − dynamic</th></tr>",
            doc.parameters.utc_offset_s / 3600
        );
        for h in &hours {
            let share = h.get("share").and_then(Value::as_f64);
            let mf = h.get("mean_factor_g_per_kwh").and_then(Value::as_f64);
            let color = if mf.is_some_and(|m| m < ff) {
                "#3a8f3a"
            } else {
                "#c0504d"
            };
            let _ = write!(
                out,
                "<tr><td>{:02}:00</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                int(h, &["hour"]),
                pct(share),
                bar(share.unwrap_or(0.0), max_share, "#4f81bd"),
                mf.map_or_else(|| "–".into(), |m| format!("{m:.1}")),
                bar(mf.unwrap_or(0.0), max_f, color),
                t(int(h, &["difference_g"])),
            );
        }
        let _ = write!(
            out,
            "</table><p class=\"muted\">Green factor bars: hours below the fixed factor ({:.1} gCO2/kWh); red: above.</p>",
            ff
        );
    }
}

/// The indicators: consumption, import, PV, export, green share, hourly match.
fn indicators_section(f: &Value, out: &mut String) {
    let i = at(f, &["indicators"]);
    let _ = write!(
        out,
        "<h2>Indicators (指标)</h2><table>\
<tr><td>Electricity consumed (用电量)</td><td>{}</td></tr>\
<tr><td>Grid import (电网购电)</td><td>{}</td></tr>\
<tr><td>On-site PV consumed (光伏自用)</td><td>{}</td></tr>\
<tr><td>Export (上网电量)</td><td>{}</td></tr>\
<tr><td>Green-power share (绿电使用率)</td><td>{}</td></tr>\
<tr><td>Hourly carbon-free-energy match (逐时绿电匹配率)</td><td>{}</td></tr></table>",
        mwh(int(i, &["consumption_wh"])),
        mwh(int(f, &["scope2_location", "import_wh"])),
        mwh(int(f, &["scope2_location", "pv_self_consumed_wh"])),
        mwh(int(f, &["scope2_location", "export_wh"])),
        pct(float(i, &["green_share"])),
        pct(float(i, &["cfe_score"])),
    );
}

/// The data issues accounting found, and the uploads and meters counted.
fn issues_section(e: &EnterpriseDoc, out: &mut String) {
    let f = &e.figures;
    let issues = at(f, &["issues"]).as_array().cloned().unwrap_or_default();
    let _ = write!(out, "<h2>Data issues (数据问题) — {}</h2>", issues.len());
    if issues.is_empty() {
        out.push_str("<p>None: every interval of every meter in the period is covered by an accepted, signed upload.</p>");
    } else {
        out.push_str("<table><tr><th>kind</th><th>meter</th><th>intervals</th><th>effect</th><th>what happened</th></tr>");
        for x in &issues {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                esc(at(x, &["kind"]).as_str().unwrap_or("")),
                esc(at(x, &["meter"]).as_str().unwrap_or("")),
                int(x, &["intervals"]),
                t(int(x, &["effect_g"])),
                esc(at(x, &["message"]).as_str().unwrap_or("")),
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(
        out,
        "<p class=\"muted\">{} accepted uploads from {} meter(s): {}.</p>",
        e.uploads,
        e.meters.len(),
        e.meters
            .iter()
            .map(|m| format!(
                "{} ({}, {} of {} intervals missing)",
                esc(&m.meter),
                esc(&m.carrier),
                m.missing,
                m.intervals
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// The report as a self-contained HTML page (inline CSS and SVG, no scripts): totals by scope,
/// fixed vs dynamic with the difference and the reason, the hour-of-day table, indicators,
/// data issues and their effect, and the provenance an auditor needs.
pub fn render_html(doc: &ReportDoc) -> String {
    let who = match &doc.scope.enterprise {
        Some(e) => format!("Enterprise {e}"),
        None => format!("Park {}", doc.scope.park),
    };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — carbon report (碳排放报告)</title><style>{CSS}</style></head><body>\
<h1>{} — carbon report (碳排放报告)</h1><p class=\"muted\">Park {} · period {} to {} (UTC, end exclusive) · grid factors <code>{}</code>, region {}</p>",
        esc(&who),
        esc(&who),
        esc(&doc.scope.park),
        esc(&doc.period.start),
        esc(&doc.period.end),
        esc(&doc.parameters.factors),
        esc(&doc.parameters.region),
    );
    for x in doc.issues.iter().filter(|x| x.kind == "factor_coverage") {
        let _ = write!(
            out,
            "<p class=\"banner warn\"><b>No hourly grid factors for part of this period (部分时段缺少小时排放因子).</b> {}</p>",
            esc(&x.message)
        );
    }
    if doc.provenance.factors.synthetic {
        let _ = write!(
            out,
            "<p class=\"banner\"><b>SYNTHETIC grid factors (合成数据).</b> Region {} is a synthetic grid year made for demonstration; these figures illustrate the method and are not a measurement of any real grid or enterprise.</p>",
            esc(&doc.parameters.region)
        );
    }
    if let Some(tt) = &doc.park_totals {
        if let Some(fs) = &tt.filled_share {
            let _ = write!(
                out,
                "<p class=\"{}\"><b>Filled values (插补数据): {} of the park's values</b> ({} of {} interval values are not measured but filled: interpolated, from the interval-of-day profile, or counted as zero).</p>",
                if fs.share > 0.0 { "banner" } else { "muted" },
                pct(Some(fs.share)),
                group(i64::try_from(fs.filled_values).unwrap_or(i64::MAX)),
                group(i64::try_from(fs.values).unwrap_or(i64::MAX)),
            );
        }
        let _ = write!(
            out,
            "<h2>Park totals (园区合计) — {} enterprises</h2><table>\
<tr><td>Scope 1 (范围一)</td><td>{}</td></tr><tr><td>Scope 2 location-based (范围二)</td><td>{}</td></tr>\
<tr><td>Scope 2 market-based</td><td>{}</td></tr><tr><td>Grid import at the fixed factor (固定因子)</td><td>{}</td></tr>\
<tr><td>Grid import at hourly factors (动态因子)</td><td>{}</td></tr><tr><td>Difference, fixed − dynamic</td><td>{} ({})</td></tr>\
<tr><td>Green-power share (绿电使用率)</td><td>{}</td></tr></table>",
            tt.enterprises,
            t(tt.scope1_g),
            t(tt.scope2_location_g),
            t(tt.scope2_market_g),
            t(tt.fixed_g),
            t(tt.dynamic_g),
            t(tt.difference_g),
            tt.difference_pct
                .map_or_else(|| "–".into(), |p| format!("{p:+.1}%")),
            pct(tt.green_share),
        );
    }
    for e in &doc.reports {
        enterprise_section(doc, e, &mut out);
    }
    if !doc.issues.is_empty() {
        out.push_str("<h2>Log data issues (日志数据问题)</h2><ul>");
        for i in &doc.issues {
            let _ = write!(
                out,
                "<li><b>{}</b> {}: {}</li>",
                esc(&i.kind),
                esc(&i.subject),
                esc(&i.message)
            );
        }
        out.push_str("</ul>");
    }
    let p = &doc.provenance;
    let uploads = p.leaves.iter().filter(|l| l.kind == "upload").count();
    let _ = writeln!(
        out,
        "<h2>Provenance (数据溯源)</h2><table>\
<tr><td>Log (账本)</td><td><code>{}</code></td></tr><tr><td>Log key</td><td><code>{}</code></td></tr>\
<tr><td>Checkpoint (检查点)</td><td>size {} · root <code>{}</code></td></tr>\
<tr><td>Factor publication (排放因子)</td><td><code>{}</code> (log entry {}) · sha256 <code>{}</code> · {}</td></tr>\
<tr><td>Methods (方法版本)</td><td>{} · {} · {}</td></tr>\
<tr><td>Log entries used</td><td>{} (uploads {}, registrations {}, publication 1), each listed with its leaf hash in the JSON report</td></tr></table>\
<p>Recompute and check every figure of this report from the log alone: <code>tanji audit REPORT.json --dir PARK_DIR --key '{}'</code></p>\
<pre>{}</pre></body></html>",
        esc(&p.log.origin),
        esc(&p.log.verifier_key),
        p.checkpoint.size,
        esc(&p.checkpoint.root),
        esc(&p.factors.id),
        p.factors.index,
        esc(&p.factors.content_sha256),
        esc(&p.factors.method),
        esc(&doc.methods.accounting),
        esc(&doc.methods.factors),
        esc(&doc.methods.report),
        p.leaves.len(),
        uploads,
        p.leaves.iter().filter(|l| l.kind == "registration").count(),
        esc(&p.log.verifier_key),
        esc(&p.checkpoint.note),
    );
    out
}

/// Where a Scope 1 or heat line's parameters come from: fuel, table and whether its values are
/// confirmed (fuel lines; with a gas meter's reference conditions), or the heat factor's source.
fn line_basis(l: &Value) -> String {
    let s = |path: &[&str]| at(l, path).as_str().unwrap_or("").to_owned();
    if at(l, &["fuel"]).is_null() {
        return format!(
            "{} tCO2/GJ: {}",
            float(l, &["factor", "value"]).unwrap_or(0.0),
            s(&["factor", "source"])
        );
    }
    let mut out = format!("{} from {}", s(&["fuel"]), s(&["table"]));
    if at(l, &["verified"]) != &Value::Bool(true) {
        out.push_str(" (unverified)");
    }
    let gas = at(l, &["gas_volume"]);
    if !gas.is_null() {
        out.push_str("; ");
        out.push_str(gas["note"].as_str().unwrap_or(""));
    }
    out
}
