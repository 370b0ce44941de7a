//! Reports for the query API: built with [`tanji_report::build`] at the log's latest
//! checkpoint, cached per (scope, period) and rebuilt at most every
//! `dashboard.report_refresh_ms` while the log grows ([`ReportCache`]), and cut into the views the
//! dashboard reads. The views only select and rename fields of the report; every number is
//! the report's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tanji_report::{
    Comparison, OutcomesDoc, OutcomesRequest, ReportDoc, ReportError, Request, Scope,
};
use tanji_store::{QuarantineFilter, Store, StoredIssue};
use tanji_units::time::rfc3339;

use super::verifier;
use crate::lang::{self, Lang};
use crate::limits::{self, BuildQueue};
use crate::{ApiError, AppState, Caller};

/// At most this many (scope, period) reports are kept; the dashboard asks for a handful.
const MAX_CACHED: usize = 64;
/// Ingest issues and quarantined records listed in full (the rest are counted).
const LIST_LIMIT: usize = 100;

/// Which report.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// `None`: the park.
    enterprise: Option<String>,
    /// `[start, end)`; `None`: all data of the scope.
    period: Option<(i64, i64)>,
    /// The enterprise inputs publication to build with (`name@vN` or a name); `None`: none.
    inputs: Option<String>,
}

impl Key {
    /// One enterprise's report.
    pub fn enterprise(id: String, period: Option<(i64, i64)>) -> Key {
        Key {
            enterprise: Some(id),
            period,
            inputs: None,
        }
    }

    /// This report built with the enterprise inputs publication `inputs`.
    pub fn with_inputs(self, inputs: Option<String>) -> Key {
        Key { inputs, ..self }
    }

    /// The park's report.
    pub fn park(period: Option<(i64, i64)>) -> Key {
        Key {
            enterprise: None,
            period,
            inputs: None,
        }
    }
}

/// A built report.
#[derive(Debug)]
pub struct Report {
    /// The `tanji-report/v1` document.
    pub doc: ReportDoc,
    /// The inputs document it was built with, if any.
    pub inputs: Option<tanji_report::InputsFile>,
    /// Problems found in the log while building (undecodable entries, bad device
    /// signatures): shown as alerts; a report with problems is not offered for download.
    pub problems: Vec<String>,
    /// Views already cut from it, as JSON bytes, by name (`park emissions`, …) and language:
    /// a park's view lists every enterprise, and dashboards ask for the same ones again and
    /// again.
    views: Mutex<HashMap<(&'static str, Lang), axum::body::Bytes>>,
}

impl Report {
    /// The view `name` in `lang` as a JSON response: made by `make` the first time, then
    /// served from the bytes kept with the report.
    pub fn view(
        &self,
        name: &'static str,
        lang: Lang,
        make: impl FnOnce(&Report) -> Value,
    ) -> Response {
        let kept = self
            .views
            .lock()
            .ok()
            .and_then(|v| v.get(&(name, lang)).cloned());
        let bytes = match kept {
            Some(b) => b,
            None => {
                let b = match serde_json::to_vec(&make(self)) {
                    Ok(b) => axum::body::Bytes::from(b),
                    Err(e) => {
                        return ApiError::internal(format!("writing the {name} view: {e}"))
                            .into_response()
                    }
                };
                if let Ok(mut v) = self.views.lock() {
                    v.insert((name, lang), b.clone());
                }
                b
            }
        };
        (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response()
    }
}

/// A report built at a tree size, and when.
#[derive(Debug, Clone)]
struct Built {
    size: u64,
    /// When it was built, on the server's clock (Unix milliseconds).
    at_ms: i64,
    result: Result<Arc<Report>, ApiError>,
}

/// One (scope, period): its last build and whether a rebuild is running in the background.
#[derive(Debug, Default)]
struct SlotState {
    built: Option<Built>,
    rebuilding: bool,
}

type Slot = Arc<tokio::sync::Mutex<SlotState>>;

/// Built reports by (scope, period), each with the tree size it was built at.
///
/// While the log grows, a report is rebuilt at most every `dashboard.report_refresh_ms`
/// ([`crate::config::DashboardConfig`]): within that time of its build a report is served as
/// it is; after it, the first request starts one rebuild in the background and every request
/// gets the last report until the new one is done. A report that failed, or that is not there
/// yet, is built while the request waits (one build; whoever else asks waits for it). With a
/// refresh of 0 every request after the log grew waits for a report at the latest checkpoint.
///
/// Builds are bounded ([`crate::limits::BuildQueue`]): a caller may have
/// `reports.builds_per_caller` builds waiting or running (one more gets 429), the server
/// `reports.builds_total` (one more gets 503); a report already built is served whatever the
/// queue holds, and a background rebuild is skipped, not queued, while the caller is at its
/// share.
#[derive(Debug, Default)]
pub struct ReportCache {
    slots: Mutex<HashMap<Key, Slot>>,
    queue: BuildQueue,
    /// Park outcomes by (comparison, inputs), each with the tree size it was built at.
    outcomes: Mutex<HashMap<OutcomesKey, (u64, Arc<OutcomesDoc>)>>,
}

/// Which outcomes: the period and baseline, and the inputs publication asked for.
type OutcomesKey = (Comparison, Option<String>);

fn report_error(e: ReportError) -> ApiError {
    match e {
        ReportError::Log(m) => ApiError::new(
            StatusCode::CONFLICT,
            "log_problems",
            format!("the log has problems: {m}; run `tanji verify`"),
        ),
        ReportError::Request(m) => ApiError::not_found(m),
        ReportError::Factors(_) => ApiError::not_found(e.to_string()),
        ReportError::Accounting { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "accounting",
            e.to_string(),
        ),
        other => ApiError::internal(other.to_string()),
    }
}

impl ReportCache {
    /// The report `key` for `caller`: at the log's latest checkpoint, or at an earlier one
    /// built less than the refresh interval ago (see [`ReportCache`]); the report names its
    /// checkpoint. A period longer than the caller's role may ask for is refused (400), and a
    /// build beyond the caller's share or the server's queue gets 429 or 503.
    pub async fn get(
        &self,
        state: &AppState,
        caller: &Caller,
        key: Key,
    ) -> Result<Arc<Report>, ApiError> {
        let bounds = &state.config().reports;
        limits::check_period(caller, key.period, bounds)?;
        let size = state.head().size;
        let refresh_ms =
            i64::try_from(state.config().dashboard.report_refresh_ms).unwrap_or(i64::MAX);
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .map_err(|_| ApiError::internal("the report cache lock is poisoned"))?;
            if slots.len() >= MAX_CACHED && !slots.contains_key(&key) {
                slots.clear();
            }
            slots.entry(key.clone()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(b) = cached.built.clone() {
            let usable = b.result.is_ok() && refresh_ms > 0;
            // Built in the future (the clock was set back) counts as stale.
            let age_ms = state.clock().now_ms().saturating_sub(b.at_ms);
            if b.size >= size || (usable && (0..refresh_ms).contains(&age_ms)) {
                return b.result.clone();
            }
            if usable {
                // Stale: one rebuild in the background; meanwhile the last report is served.
                // A caller at its share of builds is served the last report without one.
                let permit = if cached.rebuilding {
                    None
                } else {
                    self.queue.enter(caller, bounds).ok()
                };
                if let Some(permit) = permit {
                    cached.rebuilding = true;
                    let (state, slot, key) = (state.clone(), Arc::clone(&slot), key.clone());
                    tokio::spawn(async move {
                        let size = state.head().size;
                        let result = build(&state, &key, size, permit.owner()).await;
                        drop(permit);
                        let mut s = slot.lock().await;
                        s.rebuilding = false;
                        s.built = Some(Built {
                            size,
                            at_ms: state.clock().now_ms(),
                            result,
                        });
                    });
                }
                return b.result.clone();
            }
        }
        let permit = self.queue.enter(caller, bounds)?;
        let result = build(state, &key, size, permit.owner()).await;
        drop(permit);
        cached.built = Some(Built {
            size,
            at_ms: state.clock().now_ms(),
            result: result.clone(),
        });
        result
    }
}

impl ReportCache {
    /// The park's outcomes over `c` with the inputs publication `inputs`
    /// ([`tanji_report::outcomes`]: two park reports at the log's latest checkpoint), built on
    /// the background thread in the caller's turn, as a report is, and kept until the log
    /// grows. Each period is bounded as a report's is (400), and the build takes one of the
    /// caller's report builds (429, 503).
    pub async fn outcomes(
        &self,
        state: &AppState,
        caller: &Caller,
        c: Comparison,
        inputs: Option<String>,
    ) -> Result<Arc<OutcomesDoc>, ApiError> {
        let bounds = &state.config().reports;
        limits::check_period(caller, Some(c.period), bounds)?;
        limits::check_period(caller, Some(c.baseline), bounds)?;
        let size = state.head().size;
        let key = (c, inputs);
        let lock = || {
            self.outcomes
                .lock()
                .map_err(|_| ApiError::internal("the outcomes cache lock is poisoned"))
        };
        if let Some((at, doc)) = lock()?.get(&key) {
            if *at >= size {
                return Ok(Arc::clone(doc));
            }
        }
        let permit = self.queue.enter(caller, bounds)?;
        let mut req =
            OutcomesRequest::new(c.period, c.baseline, None, None).map_err(report_error)?;
        req.inputs.clone_from(&key.1);
        let v = verifier(state)?;
        let job = move |store: &tanji_store::AnyStore| {
            Ok(tanji_report::outcomes(store, &v, &req).map_err(report_error))
        };
        let doc = Arc::new(
            state
                .reader()
                .in_background_for(permit.owner(), job)
                .await??,
        );
        drop(permit);
        let mut kept = lock()?;
        if kept.len() >= MAX_CACHED {
            kept.clear();
        }
        kept.insert(key, (size, Arc::clone(&doc)));
        Ok(doc)
    }
}

/// Builds the report `key` at tree size `size` on the background thread of lower CPU priority
/// ([`crate::reader::Reader::in_background_for`]), in `owner`'s turn: reports take the cores
/// that acknowledging uploads leaves, and callers take turns.
async fn build(
    state: &AppState,
    key: &Key,
    size: u64,
    owner: &str,
) -> Result<Arc<Report>, ApiError> {
    let v = verifier(state)?;
    let mut req = Request::new(match &key.enterprise {
        Some(e) => Scope::Enterprise(e.clone()),
        None => Scope::Park,
    });
    req.period = key.period;
    req.inputs.clone_from(&key.inputs);
    req.checkpoint_size = Some(size);
    let took = state.metrics().report_build_seconds.clone();
    let job = move |store: &tanji_store::AnyStore| {
        let started = Instant::now();
        let built = tanji_report::build(store, &v, &req)
            .map(|b| {
                Arc::new(Report {
                    doc: b.doc,
                    inputs: b.inputs,
                    problems: b.problems.iter().map(ToString::to_string).collect(),
                    views: Mutex::default(),
                })
            })
            .map_err(report_error);
        took.observe(started.elapsed().as_secs_f64());
        Ok(built)
    };
    state.reader().in_background_for(owner, job).await?
}

/// What every view starts with: whose figures, the period, the checkpoint and the factors.
fn header(r: &Report) -> serde_json::Map<String, Value> {
    let d = &r.doc;
    let mut m = serde_json::Map::new();
    m.insert("scope".into(), json!(d.scope));
    m.insert("period".into(), json!(d.period));
    m.insert(
        "checkpoint_size".into(),
        json!(d.provenance.checkpoint.size),
    );
    m.insert("factors".into(), json!(d.parameters.factors));
    m.insert(
        "synthetic_factors".into(),
        json!(d.provenance.factors.synthetic),
    );
    m.insert("fixed_factor".into(), json!(d.parameters.fixed_factor));
    m.insert("methods".into(), json!(d.methods));
    m.insert("problems".into(), json!(r.problems));
    // How far the factors cover the period and how much of the data is filled, verbatim:
    // the park's totals in a park view, the enterprise's in an enterprise view.
    let (coverage, filled) = match (&d.park_totals, d.reports.first()) {
        (Some(t), _) => (json!(t.factor_coverage), json!(t.filled_share)),
        (None, Some(e)) => (json!(e.factor_coverage), json!(e.filled_share)),
        (None, None) => (Value::Null, Value::Null),
    };
    m.insert("factor_coverage".into(), coverage);
    m.insert("filled_share".into(), filled);
    m
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter()
        .fold(v, |cur, k| cur.get(k).unwrap_or(&Value::Null))
}

/// One enterprise's view: `emissions`, `comparison` or `indicators`; the reason sentence in
/// `lang`.
pub fn enterprise_view(r: &Report, what: &str, lang: Lang) -> Value {
    let mut m = header(r);
    let Some(e) = r.doc.reports.first() else {
        return Value::Object(m);
    };
    let f = &e.figures;
    m.insert("enterprise".into(), json!(e.enterprise));
    match what {
        "emissions" => {
            m.insert("scope1".into(), at(f, &["scope1"]).clone());
            m.insert(
                "scope2_location".into(),
                at(f, &["scope2_location"]).clone(),
            );
            m.insert("scope2_market".into(), at(f, &["scope2_market"]).clone());
            m.insert("meters".into(), json!(e.meters));
            m.insert("uploads".into(), json!(e.uploads));
        }
        "comparison" => {
            m.insert(
                "comparison".into(),
                lang::comparison(at(f, &["comparison"]), lang),
            );
        }
        _ => {
            m.insert("indicators".into(), at(f, &["indicators"]).clone());
        }
    }
    Value::Object(m)
}

/// The park's view: `emissions`, `comparison` or `indicators`, by enterprise and in total;
/// the reason sentences in `lang`.
pub fn park_view(r: &Report, what: &str, lang: Lang) -> Value {
    let mut m = header(r);
    let t = r.doc.park_totals.as_ref();
    let rows: Vec<Value> = r
        .doc
        .reports
        .iter()
        .map(|e| {
            let f = &e.figures;
            let mut row = match what {
                "emissions" => json!({
                    "enterprise": e.enterprise,
                    "scope1_g": at(f, &["scope1", "fossil_g"]),
                    "scope1_biogenic_g": at(f, &["scope1", "biogenic_g"]),
                    "scope2_location_g": at(f, &["scope2_location", "total_g"]),
                    "scope2_market_g": at(f, &["scope2_market", "total_g"]),
                    "import_wh": at(f, &["scope2_location", "import_wh"]),
                    "consumption_wh": at(f, &["scope2_location", "consumption_wh"]),
                }),
                "comparison" => json!({
                    "enterprise": e.enterprise,
                    "fixed_g": at(f, &["comparison", "fixed_g"]),
                    "dynamic_g": at(f, &["comparison", "dynamic_g"]),
                    "difference_g": at(f, &["comparison", "difference_g"]),
                    "difference_pct": at(f, &["comparison", "difference_pct"]),
                    "season_g": at(f, &["comparison", "season_g"]),
                    "timing_g": at(f, &["comparison", "timing_g"]),
                    "reason": lang::reason(at(f, &["comparison"]), lang),
                }),
                _ => json!({
                    "enterprise": e.enterprise,
                    "green_share": at(f, &["indicators", "green_share"]),
                    "cfe_score": at(f, &["indicators", "cfe_score"]),
                    "green_wh": at(f, &["indicators", "green_wh"]),
                    "cfe_matched_wh": at(f, &["indicators", "cfe_matched_wh"]),
                    "consumption_wh": at(f, &["indicators", "consumption_wh"]),
                }),
            };
            if let Value::Object(o) = &mut row {
                o.insert("factor_coverage".into(), json!(e.factor_coverage));
                o.insert("filled_share".into(), json!(e.filled_share));
            }
            row
        })
        .collect();
    m.insert("enterprises".into(), Value::Array(rows));
    let totals = match (what, t) {
        (_, None) => Value::Null,
        ("emissions", Some(t)) => json!(t),
        ("comparison", Some(t)) => json!({
            "fixed_g": t.fixed_g,
            "dynamic_g": t.dynamic_g,
            "difference_g": t.difference_g,
            "difference_pct": t.difference_pct,
        }),
        (_, Some(t)) => json!({
            "green_share": t.green_share,
            "green_wh": t.green_wh,
            "consumption_wh": t.consumption_wh,
        }),
    };
    m.insert("totals".into(), totals);
    Value::Object(m)
}

/// The quarantine (rejected records), optionally only `devices`' records: the kept rows
/// counted by rejection code, one page of them, newest first and without their raw bytes, the
/// cursor of the next page, and (park view) the records refused in all and the summaries of
/// those no longer kept one by one. Everything is counted and paged by the store's queries;
/// no listing reads raw bytes.
pub fn quarantine<S: Store>(
    store: &S,
    devices: Option<&[String]>,
    page: &super::PageQuery,
) -> Result<Value, ApiError> {
    let limit = page.limit()?;
    let counts = store
        .quarantine_counts(devices.map_or(QuarantineFilter::All, QuarantineFilter::Devices))?;
    let rows = store.quarantine_page(page.before(), limit, devices)?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let latest: Vec<Value> = rows
        .iter()
        .map(|q| {
            json!({
                "id": q.id,
                "received_at": rfc3339(q.received_at),
                "source": q.source,
                "code": q.code,
                "message": q.message,
                "device": q.device,
                "seq": q.seq,
                "bytes": q.raw_len,
            })
        })
        .collect();
    let mut out = json!({
        "count": counts.kept,
        "by_code": counts.by_code,
        "latest": latest,
        "next": next,
    });
    if devices.is_none() {
        let summaries = store.quarantine_summaries()?;
        let summarised: u64 = summaries.iter().map(|s| s.count).sum();
        out["refused"] = json!(counts.kept + summarised);
        out["summaries"] = summaries
            .iter()
            .map(|s| {
                json!({
                    "source": s.source,
                    "code": s.code,
                    "count": s.count,
                    "bytes": s.bytes,
                    "first_at": rfc3339(s.first_at),
                    "last_at": rfc3339(s.last_at),
                })
            })
            .collect();
    }
    Ok(out)
}

/// Every data issue: the report's log issues, each enterprise's gaps (with their effect), the
/// ingest issues (park view only) and the quarantine. `count` adds the first three. The log
/// and accounting issues' messages are in `lang`.
pub fn issues_view(
    r: &Report,
    ingest: Option<Vec<StoredIssue>>,
    quarantine: Value,
    lang: Lang,
) -> Value {
    let mut m = header(r);
    let mut accounting = Vec::new();
    for e in &r.doc.reports {
        if let Some(list) = e.figures.get("issues").and_then(Value::as_array) {
            for i in list {
                let mut i = lang::accounting_issue(i, lang);
                if let Some(o) = i.as_object_mut() {
                    o.insert("enterprise".into(), json!(e.enterprise));
                }
                accounting.push(i);
            }
        }
    }
    let ingest_count = ingest.as_ref().map_or(0, Vec::len);
    let ingest_list: Vec<Value> = ingest
        .unwrap_or_default()
        .iter()
        .rev()
        .take(LIST_LIMIT)
        .map(|i| {
            json!({"index": i.index, "code": i.code, "message": lang::ingest_issue(&i.code, &i.message, lang)})
        })
        .collect();
    m.insert(
        "count".into(),
        json!(r.doc.issues.len() + accounting.len() + ingest_count),
    );
    let log_issues: Vec<Value> = r
        .doc
        .issues
        .iter()
        .map(|i| lang::log_issue(&json!(i), lang))
        .collect();
    m.insert("log_issues".into(), Value::Array(log_issues));
    m.insert("accounting_issues".into(), Value::Array(accounting));
    m.insert("ingest_issue_count".into(), json!(ingest_count));
    m.insert("ingest_issues".into(), Value::Array(ingest_list));
    m.insert("quarantine".into(), quarantine);
    Value::Object(m)
}

/// `document` of the report `r` (the report itself, an enterprise's GHG inventory, product
/// footprints or their PACT export) in `format` (`json` by default; `csv` for the report;
/// `text`, `html`, `xlsx` and `pdf`, the last two carrying the JSON's content hash), as an
/// attachment. Refused when building the report found problems in the log, as `tanji report`
/// refuses.
pub async fn document(
    now: i64,
    r: Arc<Report>,
    document: tanji_report::Document,
    format: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    if !r.problems.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "log_problems",
            format!(
                "the log has problems, so this report would not pass `tanji audit`: {}; run `tanji verify`",
                r.problems.join("; ")
            ),
        ));
    }
    let format: tanji_report::Format = format
        .unwrap_or("json")
        .parse()
        .map_err(|e: tanji_report::ExportError| ApiError::bad_request(e.to_string()))?;
    // A workbook or a PDF of a large park takes a while to lay out: off the async threads.
    let bytes = tokio::task::spawn_blocking(move || {
        tanji_report::render_document(&r.doc, r.inputs.as_ref(), document, format, now)
    })
    .await
    .map_err(|e| ApiError::internal(format!("writing the report: {e}")))?
    .map_err(|e| match e {
        ReportError::Request(m) => ApiError::bad_request(m),
        e => report_error(e),
    })?;
    Ok(super::body(
        format.content_type(),
        bytes,
        Some(format!("{name}.{}", format.extension())),
    ))
}

/// The report as a download, in any of [`document`]'s formats.
pub async fn download(
    state: &AppState,
    r: Arc<Report>,
    format: Option<&str>,
    name: &str,
) -> Result<Response, ApiError> {
    let now = state.clock().now_s();
    document(now, r, tanji_report::Document::Report, format, name).await
}

/// Park outcomes in `format` as an attachment named after the park (`None`: the JSON document
/// itself, not as an attachment), laid out off the async threads.
pub async fn outcomes_document(
    doc: Arc<OutcomesDoc>,
    format: Option<&str>,
) -> Result<Response, ApiError> {
    let Some(format) = format else {
        let bytes = tanji_report::canonical_json(&*doc).into_bytes();
        return Ok(super::body("application/json", bytes, None));
    };
    let format: tanji_report::Format = format
        .parse()
        .map_err(|e: tanji_report::ExportError| ApiError::bad_request(e.to_string()))?;
    let name = format!("{}-outcomes.{}", doc.park, format.extension());
    let bytes = tokio::task::spawn_blocking(move || tanji_report::render_outcomes(&doc, format))
        .await
        .map_err(|e| ApiError::internal(format!("writing the outcomes: {e}")))?
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(super::body(format.content_type(), bytes, Some(name)))
}
