//! `POST /api/v1/uploads`: signed upload records as JSON, one object or an array of them.
//!
//! Each record is decoded exactly as `tanji ingest` decodes a line
//! ([`tanji_readings::parse_json_upload`]) and validated and logged by [`tanji_park::Park::ingest`]
//! through the [`crate::Sequencer`]; the answer comes once the batch is durable, one
//! [`Answer`] per record (an object for an object, an array for an array). A record that does
//! not decode is answered `rejected` (`malformed`) and quarantined, as `tanji ingest` does.
//!
//! A request that is not JSON at all, is empty, is no object or array of objects, or is too
//! large is refused whole with a 4xx and a message saying what and where; nothing of it is
//! logged or quarantined.
//!
//! Each rejected record and each request refused whole counts against its peer address
//! ([`crate::limits::Refusals`]): past `http.refusals_per_window` in a window, the peer's
//! uploads get 429 with `Retry-After` until the window ends, before anything is read.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde_json::value::RawValue;
use tanji_park::Incoming;
use tanji_readings::parse_json_upload;

use crate::routes::{Access, ApiRouter, RouteInfo};
use crate::sequencer::Answer;
use crate::{ApiError, AppState};

/// Adds the upload route.
pub fn routes(r: ApiRouter) -> ApiRouter {
    r.route(
        RouteInfo {
            method: "POST",
            path: "/api/v1/uploads",
            access: Access::Device,
            summary:
                "Log signed upload records (one JSON object or an array); answers once durable",
            example: "/api/v1/uploads",
        },
        post(uploads),
    )
}

/// The body decoded into records: each record's exact JSON text decoded as `tanji ingest`
/// decodes a line, and whether the body was an array. `source` names the sender.
pub fn decode_body(
    body: &[u8],
    max_records: usize,
    source: &str,
) -> Result<(Vec<Incoming>, bool), ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not UTF-8 (byte {}); send JSON",
            e.valid_up_to()
        ))
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; send one upload record (a JSON object) or an array of them",
        ));
    }
    let not_json = |e: serde_json::Error| {
        ApiError::bad_request(format!(
            "the body is not valid JSON: {e}; nothing was logged"
        ))
    };
    let incoming = |text: &str, source: String| Incoming {
        source,
        raw: text.as_bytes().to_vec(),
        parsed: parse_json_upload(text),
        checked: None,
    };
    if !text.starts_with('[') {
        // One record: decode it directly (one pass over the text); only if that fails, tell
        // a body that is not JSON at all or not an object (400) from a record that is
        // malformed (rejected).
        let one = incoming(text, source.to_string());
        if one.parsed.is_err() {
            let value: &RawValue = serde_json::from_str(text).map_err(not_json)?;
            not_an_object(value, None)?;
        }
        return Ok((vec![one], false));
    }
    let records: Vec<&RawValue> = serde_json::from_str(text).map_err(not_json)?;
    if records.is_empty() {
        return Err(ApiError::bad_request(
            "the array is empty; send at least one upload record",
        ));
    }
    if records.len() > max_records {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!(
                "{} records in one request; the limit is {max_records}: split them over several requests",
                records.len()
            ),
        ));
    }
    for (i, r) in records.iter().enumerate() {
        not_an_object(r, Some(i))?;
    }
    let items = records
        .iter()
        .enumerate()
        .map(|(i, r)| incoming(r.get(), format!("{source} [{i}]")))
        .collect();
    Ok((items, true))
}

/// Refuses a body (or array item `index`) that is JSON but no object: it is no record at all.
fn not_an_object(value: &RawValue, index: Option<usize>) -> Result<(), ApiError> {
    if value.get().starts_with('{') {
        return Ok(());
    }
    let what = match index {
        Some(i) => format!("item {i} of the array"),
        None => "the body".to_string(),
    };
    let shown: String = value.get().chars().take(40).collect();
    Err(ApiError::bad_request(format!(
        "{what} is {shown}, not a JSON object: send one upload record (a JSON object) or an array of them; nothing was logged"
    )))
}

async fn uploads(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let metrics = state.metrics().clone();
    if let Err(e) = state.refusals().check(&peer.ip()) {
        metrics.requests_refused.inc();
        return Err(e);
    }
    let result = async {
        let limit = state.config().http.max_body_bytes;
        let body = axum::body::to_bytes(body, limit).await.map_err(|e| {
            let e = e.into_inner();
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!(
                        "the body is larger than the limit of {} bytes; send fewer records per request",
                        state.config().http.max_body_bytes
                    ),
                )
            } else {
                ApiError::bad_request(format!("reading the body: {e}"))
            }
        })?;
        let (items, array) = decode_body(
            &body,
            state.config().http.max_records_per_request,
            &format!("http {peer}"),
        )?;
        let answers = state.sequencer().submit(items).await?;
        Ok::<_, ApiError>((answers, array))
    }
    .await;
    match result {
        Ok((answers, array)) => {
            metrics.ack_seconds.observe(started.elapsed().as_secs_f64());
            let rejected = answers
                .iter()
                .filter(|a| matches!(a, Answer::Rejected { .. }))
                .count();
            state
                .refusals()
                .add(&peer.ip(), u32::try_from(rejected).unwrap_or(u32::MAX));
            Ok(if array {
                Json(answers).into_response()
            } else {
                let one: Option<Answer> = answers.into_iter().next();
                Json(one).into_response()
            })
        }
        Err(e) => {
            metrics.requests_refused.inc();
            // The server's own trouble (busy, shutting down, a full disk) is not the peer's.
            if e.status.is_client_error() {
                state.refusals().add(&peer.ip(), 1);
            }
            Err(e)
        }
    }
}
