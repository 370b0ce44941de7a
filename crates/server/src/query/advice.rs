//! `GET /api/v1/enterprises/{enterprise}/optimize`: load-shift advice for up to a week of an
//! enterprise's logged days, planned by `tanji_optimizer` with the documented default
//! flexible-load description and the illustrative tariff — what `tanji optimize` gives without
//! `--flex`/`--tariff` (the same [`AdvicePlan`] of `tanji-advice`, its totals included). Per
//! interval: the grid factor and the site's load before and after; totals before and after
//! (energy unchanged to the Wh, modelled emissions and cost); the advice lines; the factor
//! publication and the log size read. Plans are solved on the blocking pool and cached per
//! (enterprise, days, objective, log size).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use tanji_advice::{AdviceError, AdvicePlan, Gaps, Planning, Setup, Sum};
use tanji_optimizer::Objective;
use tanji_report::ReportError;
use tanji_store::Store;
use tanji_units::time::{LocalDate, Zone};

use super::{check_enterprise, data, verifier, Shared};
use crate::lang::{Asked, Lang};
use crate::{ApiError, AppState, Caller};

/// The longest period one request plans, days.
pub const MAX_DAYS: u32 = 7;

/// How the figures are modelled.
pub const ADVICE_METHOD: &str = "per local day (Asia/Shanghai, 15-minute intervals): the logged site load and PV, a fifth of the load above the day's minimum movable within 06:00–24:00 at up to 1.5 × its peak (docs/optimizer.md), the illustrative time-of-use tariff; grid import × the interval's published factor and price, minimised by the linear program of tanji-optimizer with each load's energy kept to the Wh";

/// How a plan on a forecast is made and scored (added to [`ADVICE_METHOD`]).
pub const FORECAST_METHOD: &str = "planned on a forecast: each 15-minute factor of the day forecast from the publication's factors of up to 56 local days before it (at least 21), by the per-slot ridge regression of tanji-forecast (the slot the day before and a week before, its 7-day mean, the previous day's mean, Saturday, Sunday, Monday), as a plan made the day before would have them; the intervals and totals are on the forecast, totals.realised scores the same plan on the day's published factors";

/// [`ADVICE_METHOD`] in Chinese.
pub const ADVICE_METHOD_ZH: &str = "按本地日（Asia/Shanghai，15 分钟时段）：记录的场站负荷与光伏；负荷中高于当日最低值部分的五分之一可在 06:00–24:00 内移动，功率最高为其峰值的 1.5 倍（docs/optimizer.md）；示例分时电价；电网购电 × 该时段发布的因子与电价，由 tanji-optimizer 的线性规划求最小值，每个负荷的电量精确到瓦时不变";

/// [`FORECAST_METHOD`] in Chinese.
pub const FORECAST_METHOD_ZH: &str = "基于预测规划：当日每个 15 分钟因子由该发布此前最多 56 个本地日（至少 21 个）的因子，用 tanji-forecast 的逐时段岭回归预测（前一日与一周前的同一时段、7 日均值、前一日均值、周六、周日、周一），如同前一天做出的计划；时段与合计基于预测，totals.realised 用当日发布的因子为同一计划打分";

/// The answer with its method and advice lines in `lang` (the lines written again from their
/// figures: load, energy moved, from, to, emissions and cost).
fn in_lang(mut v: Value, lang: Lang) -> Value {
    if lang == Lang::En {
        return v;
    }
    let currency = v["currency"].as_str().unwrap_or("").to_string();
    if let Some(lines) = v["advice"].as_array_mut() {
        for line in lines {
            let strings = |k: &str| -> Vec<String> {
                line[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let change = tanji_optimizer::Change {
                load: line["load"].as_str().unwrap_or("").to_string(),
                moved_wh: line["moved_wh"].as_i64().unwrap_or(0),
                from: strings("from"),
                to: strings("to"),
                emissions_g: line["emissions_g"].as_i64().unwrap_or(0),
                cost: line["cost"].as_f64().unwrap_or(0.0),
                text: String::new(),
            };
            line["text"] = json!(crate::lang::advice_zh(&change, &currency));
        }
    }
    if let Some(refused) = v["refused"].as_array_mut() {
        for r in refused {
            r["reason"] = json!("该日无法规划：缺少完整一天的已记录数据或覆盖该日的因子，或负荷约束无解（英文界面列出具体原因）。");
        }
    }
    if let Some(solver) = v["provenance"]["solver"].as_str() {
        let zh = if solver.starts_with("mixed-integer") {
            "混合整数线性规划，按批次启动时刻分支定界（microlp 0.6，纯 Rust），按最大余数取整到瓦时"
        } else {
            "线性规划，单纯形法（microlp 0.6，纯 Rust），按最大余数取整到瓦时"
        };
        v["provenance"]["solver"] = json!(zh);
    }
    let forecast = v["planned_on"] == "forecast";
    v["method"] = json!(if forecast {
        format!("{ADVICE_METHOD_ZH}；{FORECAST_METHOD_ZH}")
    } else {
        ADVICE_METHOD_ZH.to_string()
    });
    v
}

/// Cached answers, keyed by (enterprise, first day, days, objective, planning, log size).
type Key = (String, String, u32, String, &'static str, u64);

/// Computed advice answers.
#[derive(Debug, Default)]
pub struct AdviceCache {
    answers: Mutex<BTreeMap<Key, Arc<Value>>>,
}

/// Answers kept; the cache is emptied when it grows past this.
const KEEP: usize = 64;

impl AdviceCache {
    fn get(&self, k: &Key) -> Option<Arc<Value>> {
        self.answers.lock().ok().and_then(|m| m.get(k).cloned())
    }

    fn put(&self, k: Key, v: Arc<Value>) {
        if let Ok(mut m) = self.answers.lock() {
            if m.len() >= KEEP {
                m.clear();
            }
            m.insert(k, v);
        }
    }
}

/// Query of the advice route.
#[derive(Debug, Default, Deserialize)]
pub struct OptimizeQuery {
    /// First local day `YYYY-MM-DD`; default: the latest `days` whole days of data (fewer if
    /// the data begins later).
    pub day: Option<String>,
    /// Days to plan, 1–7 (default 1).
    pub days: Option<u32>,
    /// `emissions` (default), `cost` or `blend` (carbon price 150 CNY/t).
    pub objective: Option<String>,
    /// Plan on the day's `published` factors (default: what the best plan was), or on a
    /// `forecast` of them from the previous days (as a plan made the day before; it is then
    /// also scored on the published factors).
    pub factors: Option<String>,
}

fn advice_error(e: AdviceError) -> ApiError {
    match e {
        AdviceError::Report(ReportError::Factors(_)) => ApiError::not_found(e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// The first and the last local day of `zone` wholly covered by `enterprise`'s logged uploads
/// (spans from the first upload's start to the last one's end).
fn full_days<S: Store>(
    store: &S,
    size: u64,
    enterprise: &str,
    zone: &Zone,
) -> Result<(LocalDate, LocalDate), ApiError> {
    let all = data::enterprises(store, size)?;
    let meters = data::meters_of(&all, enterprise)?;
    let spans: Vec<(i64, i64)> = store
        .uploads()?
        .into_iter()
        .filter(|u| u.index < size)
        .flat_map(|u| u.row.spans)
        .filter(|s| meters.iter().any(|m| m.meter == s.meter))
        .map(|s| (s.start, s.end))
        .collect();
    let (Some(first), Some(last)) = (
        spans.iter().map(|s| s.0).min(),
        spans.iter().map(|s| s.1).max(),
    ) else {
        return Err(ApiError::not_found(format!(
            "no accepted upload of {enterprise} is in the log (up to entry {size}); advice needs a whole day of data"
        )));
    };
    let bad = |e: tanji_units::time::TimeError| ApiError::internal(e.to_string());
    let mut to = zone.clock(last - 1).map_err(bad)?.date;
    if zone.day_bounds(to).map_err(bad)?.1 > last {
        to = to.add_days(-1).map_err(bad)?;
    }
    let mut from = zone.clock(first).map_err(bad)?.date;
    if zone.day_bounds(from).map_err(bad)?.0 < first {
        from = from.add_days(1).map_err(bad)?;
    }
    if to < from {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "advice",
            format!(
                "{enterprise}'s data covers no whole local day ({}) yet",
                zone.name()
            ),
        ));
    }
    Ok((from, to))
}

fn totals_json(s: &Sum) -> Value {
    json!({
        "consumption_wh": s.consumption_wh,
        "import_wh": s.import_wh,
        "export_wh": s.export_wh,
        "emissions_g": s.emissions_g,
        "cost": s.cost,
    })
}

/// Before and after summed over days, with what the plan cut.
fn summary((b, a): (Sum, Sum)) -> Value {
    let cut_g = b.emissions_g - a.emissions_g;
    json!({
        "before": totals_json(&b),
        "after": totals_json(&a),
        "energy_unchanged": b.consumption_wh == a.consumption_wh,
        "emissions_cut_g": cut_g,
        "emissions_cut_pct": if b.emissions_g != 0 { cut_g as f64 / b.emissions_g as f64 * 100.0 } else { 0.0 },
        "cost_cut": b.cost - a.cost,
    })
}

/// The totals of the planned days: the headline on the day's published factors (planned on
/// them, the plans' own figures; planned on a forecast, the same plans scored on them,
/// realised), with the forecast's own figures beside it, labelled.
fn totals(p: &AdvicePlan) -> Value {
    let t = p.totals();
    let planned = summary(t.own);
    let (mut totals, realised, forecast) = match t.realised {
        None => (planned, Value::Null, Value::Null),
        Some(r) => {
            let r = summary(r);
            let mut f = planned;
            f["label"] = json!("as modelled on the forecast factors the plan was made on, not what it does on the day's published factors");
            (r.clone(), r, f)
        }
    };
    totals["planned_days"] = json!(t.planned);
    totals["moved_wh"] = json!(t.moved_wh);
    totals["figures"] = json!(match p.planning {
        Planning::Published => "modelled on the day's published factors",
        Planning::Forecast => "realised: the plan scored on the day's published factors",
    });
    totals["realised"] = realised;
    totals["forecast"] = forecast;
    totals
}

/// The answer for the planned days.
fn answer(p: &AdvicePlan, checkpoint_size: u64, log_size: u64) -> Value {
    let mut intervals = Vec::new();
    let mut per_day = Vec::new();
    let mut refused = Vec::new();
    let mut advice = Vec::new();
    let mut publications: Vec<String> = Vec::new();
    let mut forecasts = Vec::new();
    let mut currency = String::new();
    let mut solver = None;
    for d in &p.days {
        if !d.publication.is_empty() && !publications.contains(&d.publication) {
            publications.push(d.publication.clone());
        }
        let plan = match &d.plan {
            Ok(p) => p,
            Err(reason) => {
                refused.push(json!({"day": d.date.to_string(), "reason": reason}));
                continue;
            }
        };
        currency.clone_from(&plan.currency);
        solver.get_or_insert_with(|| plan.solver.method.clone());
        for iv in &plan.intervals {
            intervals.push(json!({
                "start": iv.start,
                "local": iv.local,
                "factor": iv.factor,
                "price": iv.price,
                "pv_wh": iv.pv_wh,
                "load_before_wh": iv.fixed_wh + iv.flex_before_wh,
                "load_after_wh": iv.fixed_wh + iv.flex_after_wh,
                "import_before_wh": iv.import_before_wh,
                "import_after_wh": iv.import_after_wh,
            }));
        }
        for c in &plan.changes {
            advice.push(json!({
                "day": d.date.to_string(),
                "load": c.load,
                "moved_wh": c.moved_wh,
                "from": c.from,
                "to": c.to,
                "emissions_g": c.emissions_g,
                "cost": c.cost,
                "text": c.text,
            }));
        }
        let mut day = json!({
            "day": d.date.to_string(),
            "factors": d.publication,
            "before": plan.before,
            "after": plan.after,
            "moved_wh": tanji_advice::moved_wh(plan),
            "changes": plan.changes.len(),
            "solver": plan.solver,
        });
        if let Some((b, a)) = &d.realised {
            day["realised"] = json!({"before": b, "after": a});
        }
        if let Some(note) = &d.forecast {
            day["forecast"] = json!(note);
            forecasts.push(json!({"day": d.date.to_string(), "fitted": note}));
        }
        per_day.push(day);
    }
    json!({
        "enterprise": p.enterprise,
        "zone": p.zone,
        "objective": p.objective.code(),
        "planned_on": p.planning.code(),
        "first_day": p.first.to_string(),
        "days": p.days.len(),
        "interval_s": tanji_advice::ADVICE_INTERVAL_S,
        "currency": currency,
        "intervals": intervals,
        "per_day": per_day,
        "refused": refused,
        "totals": totals(p),
        "advice": advice,
        "method": match p.planning {
            Planning::Published => ADVICE_METHOD.to_string(),
            Planning::Forecast => format!("{ADVICE_METHOD}; {FORECAST_METHOD}"),
        },
        "provenance": {
            "factors": publications,
            "checkpoint_size": checkpoint_size,
            "log_size": log_size,
            "solver": solver,
            "flex": "default (FlexSpec::default_for_site)",
            "tariff": "illustrative",
            "forecasts": forecasts,
        },
    })
}

/// `GET /api/v1/enterprises/{enterprise}/optimize`.
pub(super) async fn enterprise_optimize(
    State(state): State<AppState>,
    caller: Caller,
    Extension(q): Shared,
    Asked(lang): Asked,
    Path(id): Path<String>,
    Query(oq): Query<OptimizeQuery>,
) -> Result<Json<Value>, ApiError> {
    check_enterprise(&caller, &id)?;
    let objective = match oq.objective.as_deref().unwrap_or("emissions") {
        "emissions" => Objective::Emissions,
        "cost" => Objective::Cost,
        "blend" => Objective::Blend {
            price_per_t: Objective::DEFAULT_CARBON_PRICE,
        },
        other => {
            return Err(ApiError::bad_request(format!(
                "objective {other:?} is not one of emissions, cost, blend"
            )))
        }
    };
    let planning = match oq.factors.as_deref().unwrap_or("published") {
        "published" => Planning::Published,
        "forecast" => Planning::Forecast,
        other => {
            return Err(ApiError::bad_request(format!(
                "factors {other:?} is not one of published, forecast"
            )))
        }
    };
    let days = oq.days.unwrap_or(1);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(format!(
            "days={days}: plan 1 to {MAX_DAYS} days per request"
        )));
    }
    let day = match &oq.day {
        Some(d) => Some(LocalDate::parse(d).map_err(|e| {
            ApiError::bad_request(format!("day {d:?}: {e}; give a local day YYYY-MM-DD"))
        })?),
        None => None,
    };
    let size = state.head().size;
    let key_day = day.map_or_else(|| "latest".to_string(), |d| d.to_string());
    let key: Key = (
        id.clone(),
        key_day,
        days,
        objective.code().to_string(),
        planning.code(),
        size,
    );
    if let Some(v) = q.advice.get(&key) {
        return Ok(Json(in_lang((*v).clone(), lang)));
    }
    let v = verifier(&state)?;
    let value = state
        .reader()
        .with(move |store| {
            let zone = Zone::shanghai();
            let (first, days) = match day {
                Some(d) => (d, days),
                None => {
                    // The latest whole days, at most `days`, not before the first whole day.
                    let (from, to) = full_days(store, size, &id, &zone)?;
                    let bad = |e: tanji_units::time::TimeError| ApiError::internal(e.to_string());
                    let mut first = to
                        .add_days(1 - i32::try_from(days).unwrap_or(1))
                        .map_err(bad)?;
                    let mut n = days;
                    while first < from {
                        first = first.add_days(1).map_err(bad)?;
                        n -= 1;
                    }
                    (first, n)
                }
            };
            // A day without whole-day data or factors is refused, with the reason.
            let setup = Setup::default_for(objective, planning);
            let plan = AdvicePlan::plan(store, &v, &id, &zone, first, days, &setup, Gaps::Refuse)
                .map_err(advice_error)?;
            if plan.days.iter().all(|d| d.plan.is_err()) {
                let why: Vec<String> = plan
                    .days
                    .iter()
                    .filter_map(|d| d.plan.as_ref().err().map(|m| format!("{}: {m}", d.date)))
                    .collect();
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "advice",
                    format!("no day could be planned for {id}: {}", why.join("; ")),
                ));
            }
            let log_size = store.size()?;
            Ok(answer(&plan, size, log_size))
        })
        .await?;
    let value = Arc::new(value);
    q.advice.put(key, value.clone());
    Ok(Json(in_lang((*value).clone(), lang)))
}
