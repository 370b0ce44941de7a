//! The language of what the server writes for people: the comparison's reason sentence, the
//! method notes, the advice lines, the alert and data-issue texts and the factor note. A
//! request asks with `?lang=en|zh` or, without it, with `Accept-Language` (the first of its
//! languages, by `q`, that is English or Chinese); otherwise English. Numbers, ids, codes and
//! units are the same in every language, and every text is written from the same structured
//! figures in each (the reason by [`tanji_accounting::why::reason`]), so the languages never
//! disagree on a number.
//!
//! Error messages (`{"error", "message"}`) stay English: they name commands, options and
//! files a user types as they are.

use axum::extract::FromRequestParts;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::request::Parts;
use serde_json::Value;

pub use tanji_accounting::Lang;

use crate::ApiError;

/// The language a request asks for (see the module doc).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asked(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for Asked {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(v) = parts
            .uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|kv| kv.strip_prefix("lang="))
        {
            return Lang::from_tag(v).map(Asked).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "lang={v:?}: ask for en or zh (or leave it out to use Accept-Language)"
                ))
            });
        }
        let header = parts
            .headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Ok(Asked(header.and_then(negotiate).unwrap_or_default()))
    }
}

/// The first language of an `Accept-Language` value (`zh-CN,zh;q=0.9,en;q=0.8`), by
/// descending `q` (ties in the order given), that is English or Chinese; `q=0` refuses one.
pub fn negotiate(header: &str) -> Option<Lang> {
    let mut asked: Vec<(f64, Lang)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let lang = Lang::from_tag(parts.next()?)?;
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f64>().ok())?;
            (q > 0.0).then_some((q, lang))
        })
        .collect();
    // A stable sort keeps the header's order among equal weights.
    asked.sort_by(|a, b| b.0.total_cmp(&a.0));
    asked.first().map(|a| a.1)
}

/// The comparison (a `tanji_accounting::Comparison` as the report holds it) with its reason
/// written in `lang`: the report's own sentence in English, the same function's in Chinese.
pub fn comparison(c: &Value, lang: Lang) -> Value {
    if lang == Lang::En || c.is_null() {
        return c.clone();
    }
    let mut out = c.clone();
    if let Some(o) = out.as_object_mut() {
        o.insert("reason".into(), reason(c, lang));
    }
    out
}

/// The reason sentence of a comparison in `lang` (JSON `null` when there is nothing to
/// compare, or when the comparison cannot be read).
pub fn reason(c: &Value, lang: Lang) -> Value {
    if lang == Lang::En {
        return c.get("reason").cloned().unwrap_or(Value::Null);
    }
    match serde_json::from_value::<tanji_accounting::Comparison>(c.clone()) {
        Ok(c) => tanji_accounting::why::reason(&c, lang).map_or(Value::Null, Value::String),
        Err(_) => Value::Null,
    }
}

/// Thousandths of a unit as a short decimal: `12.5`, `3`, `0.125`.
fn milli(v: i64) -> String {
    let s = format!("{:.3}", v as f64 / 1000.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A meter anomaly's sentence in Chinese, from its kind and evidence (values in thousandths of
/// `unit`); in English the detector's own sentence is used.
pub fn alert_zh(kind: &str, e: &tanji_anomaly::Evidence, unit: &str) -> String {
    let v = |x: Option<i64>| x.map_or_else(|| "—".to_string(), |x| format!("{} {unit}", milli(x)));
    match kind {
        "flat_line" => format!(
            "读数连续恒为 {}：此类计量值通常会变化，可能是寄存器卡滞或数值重复。",
            v(e.observed)
        ),
        "spike" => format!(
            "读数 {} 高于前后时段的中位数 {}，超过判定阈值 {}。",
            v(e.observed),
            v(e.baseline),
            v(e.threshold)
        ),
        "level_shift" => format!(
            "此后数日的中位数为 {}，此前为 {}：变化 {}，超过判定阈值。",
            v(e.observed),
            v(e.baseline),
            v(e.threshold)
        ),
        "pv_at_night" => format!(
            "太阳位于地平线附近或以下时，光伏表读数最高 {}（下限 {}）：黑暗中不可能发电。",
            v(e.observed),
            v(e.threshold)
        ),
        "idle_consumption" => format!(
            "停机时段读数高于待机下限 {}：最高 {}。",
            v(e.threshold),
            v(e.observed)
        ),
        "missing_data" => "该时段连续没有已接收的上传数据。".to_string(),
        other => format!("异常（{other}）。"),
    }
}

/// A subject (`meter m-1`, `device d-1`) in Chinese.
fn subject_zh(subject: &str) -> String {
    if let Some(m) = subject.strip_prefix("meter ") {
        format!("计量表 {m}")
    } else if let Some(d) = subject.strip_prefix("device ") {
        format!("设备 {d}")
    } else {
        subject.to_string()
    }
}

/// A log issue of the report (`kind`, `subject`, `message`) with its message in `lang`.
pub fn log_issue(i: &Value, lang: Lang) -> Value {
    if lang == Lang::En {
        return i.clone();
    }
    let kind = i.get("kind").and_then(Value::as_str).unwrap_or("");
    let subject = i.get("subject").and_then(Value::as_str).unwrap_or("");
    let message = match kind {
        "sequence_gap" => {
            "部分上传记录不在日志中（序号缺口）：它们所覆盖的时段显示为缺测。".to_string()
        }
        "no_data" => "本期没有已接收的上传数据，未计入。".to_string(),
        "unconvertible" => "有数值的单位无法换算为计量表的登记单位，未计入。".to_string(),
        "interval_mismatch" => "有上传的时段长度与计量表的序列不匹配，未计入。".to_string(),
        "imported" => "本期部分数值来自运营方导入，而非计量表自己的设备。".to_string(),
        "factor_coverage" => "因子序列未覆盖本期全部时段：没有逐时因子的时段按固定因子计入，逐时结果不完整。请发布覆盖该期间的因子序列。".to_string(),
        k if k.starts_with("anomaly_") => {
            format!(
                "计量异常（{}），仅供人工核查，数值未作修正。",
                &k["anomaly_".len()..]
            )
        }
        other => format!("数据问题（{other}）。"),
    };
    let mut out = i.clone();
    if let Some(o) = out.as_object_mut() {
        o.insert("subject".into(), Value::String(subject_zh(subject)));
        o.insert("message".into(), Value::String(message));
    }
    out
}

/// An ingest issue's message (`code`, the English `message`) in `lang`.
pub fn ingest_issue(code: &str, message: &str, lang: Lang) -> String {
    match (lang, code) {
        (Lang::En, _) => message.to_string(),
        (Lang::Zh, "sequence_gap") => {
            "接收时设备上传序号出现缺口：缺少的记录可能稍后到达，届时该时段会被补上。".to_string()
        }
        (Lang::Zh, other) => format!("接入问题（{other}）。"),
    }
}

/// A data issue of the accounting (`tanji_accounting::DataIssue` as JSON) with its message in
/// `lang`.
pub fn accounting_issue(i: &Value, lang: Lang) -> Value {
    if lang == Lang::En {
        return i.clone();
    }
    let kind = i.get("kind").and_then(Value::as_str).unwrap_or("");
    let meter = i.get("meter").and_then(Value::as_str).unwrap_or("—");
    let n = i.get("intervals").and_then(Value::as_u64).unwrap_or(0);
    let message = match kind {
        "gap_linear" => format!("计量表 {meter}：{n} 个时段缺测，已在前后实测值之间线性插值补齐。"),
        "gap_profile" => format!("计量表 {meter}：{n} 个时段缺测，已按该计量表同一时段的实测均值补齐。"),
        "gap_unfilled" => format!("计量表 {meter}：{n} 个时段缺测且无法补齐，按零计入。"),
        "missing_factor" => format!(
            "计量表 {meter}：{n} 个时段没有逐时因子，按固定因子计入。请发布覆盖该期间的因子序列。"
        ),
        "default_density" => format!(
            "计量表 {meter}：体积按燃料表的默认密度换算为质量，整行排放取决于此；请提供送货单上的密度。"
        ),
        "unconvertible" => format!("计量表 {meter}：单位无法换算为能量或质量，未计入。"),
        other => format!("计量表 {meter}：数据问题（{other}）。"),
    };
    let mut out = i.clone();
    if let Some(o) = out.as_object_mut() {
        o.insert("message".into(), Value::String(message));
    }
    out
}

/// One advice line in Chinese from the optimiser's [`tanji_optimizer::Change`].
pub fn advice_zh(c: &tanji_optimizer::Change, currency: &str) -> String {
    let ranges = |r: &[String]| match r.len() {
        0 => "（无）".to_string(),
        1..=3 => r.join("、"),
        k => format!("{} 等 {k} 个时段", r[..3].join("、")),
    };
    format!(
        "将 {} 的 {} 从 {} 移至 {}：排放 {}，电费 {}",
        c.load,
        tanji_optimizer::format_energy(c.moved_wh),
        ranges(&c.from),
        ranges(&c.to),
        tanji_optimizer::format_emissions(c.emissions_g),
        tanji_optimizer::format_money(c.cost, currency)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_language_we_have_by_weight() {
        assert_eq!(negotiate("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(negotiate("fr-FR, en;q=0.5, zh;q=0.7"), Some(Lang::Zh));
        assert_eq!(negotiate("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(negotiate("zh;q=0, en"), Some(Lang::En));
        assert_eq!(negotiate("fr, de"), None);
        assert_eq!(negotiate("zh;q=abc"), None);
        assert_eq!(negotiate(""), None);
    }

    #[test]
    fn thousandths_are_short_decimals() {
        assert_eq!(milli(12_500), "12.5");
        assert_eq!(milli(3_000), "3");
        assert_eq!(milli(125), "0.125");
        assert_eq!(milli(-1_250), "-1.25");
        assert_eq!(milli(0), "0");
    }
}
