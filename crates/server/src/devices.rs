//! `POST /api/v1/devices`: the operator registers a device's meter while the server runs.
//!
//! The server's sequencer holds the park's writer lock, so `tanji device register` refuses
//! while it runs; this route is how a running park registers devices. The body is what the
//! command takes, as JSON ([`tanji_park::RegistrationRequest`]: `device`, `public_key`,
//! `enterprise`, `meter`, `rated_kw` or `rated_per_hour`, optionally `carrier` and `unit`),
//! turned into the same log entry by the same code. The registration is logged through the
//! [`crate::Sequencer`] like every write, in its own batch with its checkpoint, and answered
//! with its leaf index and inclusion proof once durable.
//!
//! `POST /api/v1/devices/{device}/revoke` revokes a device's key the same way (body: optional
//! `{"reason": "..."}`, at most 256 bytes): the revocation entry is logged through the
//! sequencer after the uploads submitted before it, in its own batch; from then on every upload
//! the device signs is refused (`device_revoked`). Answers 201 `revoked` with its leaf index
//! and inclusion proof once durable, 200 `already_revoked` (with the index of the revocation),
//! 404 for a device that is not registered.
//!
//! Answers: 201 `registered` (logged now), 200 `already_registered` (identical to a logged
//! registration; nothing written), 400 naming the field at fault, 409 when the park refuses
//! it (the device has another key or enterprise, the meter is bound to another device).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Json;
use serde::{Deserialize, Serialize};
use tanji_park::{ParkError, RegistrationError, RegistrationRequest, RevocationError};
use tanji_readings::DeviceRevocation;

use crate::routes::{Access, ApiRouter, RouteInfo};
use crate::sequencer::{Logged, Revocation};
use crate::{ApiError, AppState, ServerError};

/// Adds the device registration route.
pub fn routes(r: ApiRouter) -> ApiRouter {
    r.route(
        RouteInfo {
            method: "POST",
            path: "/api/v1/devices",
            access: Access::Operator,
            summary: "Register a device's meter (the body `tanji device register` takes, as JSON); logged, answered with its leaf index once durable",
            example: "/api/v1/devices",
        },
        post(register),
    )
    .route(
        RouteInfo {
            method: "POST",
            path: "/api/v1/devices/{device}/revoke",
            access: Access::Operator,
            summary: "Revoke a device's key (body: optional {\"reason\"}); logged, answered with its leaf index once durable; the device's later uploads are refused (device_revoked)",
            example: "/api/v1/devices/d-0001/revoke",
        },
        post(revoke),
    )
}

/// The body of a revocation: all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    /// Why, for the log (at most [`tanji_readings::MAX_REASON_LEN`] bytes).
    #[serde(default)]
    reason: String,
}

/// The answer to a revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RevocationAnswer {
    /// Logged now, at `index`.
    Revoked {
        /// Device id.
        device: String,
        /// The entry's place in the log and its inclusion proof.
        #[serde(flatten)]
        logged: Logged,
    },
    /// Revoked already by the entry at `index`; nothing was written.
    AlreadyRevoked {
        /// Device id.
        device: String,
        /// Leaf index of the revocation.
        index: u64,
    },
}

async fn revoke(
    State(state): State<AppState>,
    Path(device): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    let parsed: RevokeBody = if body.iter().all(u8::is_ascii_whitespace) {
        RevokeBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body is not a revocation: {e}; send nothing, or a JSON object with an optional \"reason\" (at most {} bytes)",
                tanji_readings::MAX_REASON_LEN
            ))
        })?
    };
    let rev = DeviceRevocation {
        device: device.clone(),
        revoked_at: state.clock().now_s(),
        reason: parsed.reason,
    };
    rev.check().map_err(|e| {
        ApiError::bad_request(format!(
            "revocation of device {device:?}: {e}; nothing was logged"
        ))
    })?;
    let answer = state.sequencer().revoke(rev).await.map_err(|e| match e {
        ServerError::Park(ParkError::Revocation(RevocationError::UnknownDevice { .. })) => {
            ApiError::not_found(format!(
                "device {device:?} is not registered; there is nothing to revoke"
            ))
        }
        ServerError::Park(ParkError::Revocation(r)) => {
            ApiError::bad_request(format!("{r}; nothing was logged"))
        }
        other => other.into(),
    })?;
    Ok(match answer {
        Revocation::Logged(logged) => (
            StatusCode::CREATED,
            Json(RevocationAnswer::Revoked { device, logged }),
        )
            .into_response(),
        Revocation::Already(index) => {
            Json(RevocationAnswer::AlreadyRevoked { device, index }).into_response()
        }
    })
}

/// The answer to a registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RegistrationAnswer {
    /// Logged now, at `index`.
    Registered {
        /// Device id.
        device: String,
        /// Meter id.
        meter: String,
        /// The entry's place in the log and its inclusion proof.
        #[serde(flatten)]
        logged: Logged,
    },
    /// Identical to a registration already logged; nothing was written.
    AlreadyRegistered {
        /// Device id.
        device: String,
        /// Meter id.
        meter: String,
    },
}

/// What the body must hold, for the messages.
const EXPECTED: &str = "send a JSON object with \"device\", \"public_key\" (64 hex), \"enterprise\", \"meter\", \"rated_kw\" or \"rated_per_hour\", and optionally \"carrier\" (default electricity_import) and \"unit\"";

async fn register(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the body is larger than the limit of {} bytes; a registration is one small JSON object",
                    state.config().http.max_body_bytes
                ),
            )
        } else {
            ApiError::bad_request(format!("reading the body: {e}"))
        }
    })?;
    let request: RegistrationRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not a device registration: {e}; {EXPECTED}"
        ))
    })?;
    check_rated(&request)?;
    let reg = request
        .to_registration(state.clock().now_s())
        .map_err(|e| ApiError::bad_request(format!("{e}; nothing was logged")))?;
    let (device, meter) = (reg.device.clone(), reg.meter.clone());
    let registered = state
        .sequencer()
        .register(vec![reg])
        .await
        .map_err(refusal)?;
    Ok(match registered.logged.into_iter().next() {
        Some(logged) => (
            StatusCode::CREATED,
            Json(RegistrationAnswer::Registered {
                device,
                meter,
                logged,
            }),
        )
            .into_response(),
        None => Json(RegistrationAnswer::AlreadyRegistered { device, meter }).into_response(),
    })
}

/// The rated capacities the API takes, in kW or in the meter's unit per hour (1 W to 100 GW):
/// bounds on the number given, whatever the unit, so that `openapi.json` can state them
/// exactly (the park's own bounds, positive and below 10^12 of the unit per hour after
/// conversion, depend on the unit).
pub const RATED: std::ops::RangeInclusive<f64> = 0.001..=1e8;

fn check_rated(request: &tanji_park::RegistrationRequest) -> Result<(), ApiError> {
    for (field, value) in [
        ("rated_kw", request.rated_kw),
        ("rated_per_hour", request.rated_per_hour),
    ] {
        if let Some(v) = value {
            if !RATED.contains(&v) {
                return Err(ApiError::bad_request(format!(
                    "{field}: rated capacity {v}: must be from 0.001 to 10^8; nothing was logged"
                )));
            }
        }
    }
    Ok(())
}

/// A registration the park refuses is the caller's to fix (400 or 409); anything else is the
/// server's.
fn refusal(e: ServerError) -> ApiError {
    match e {
        ServerError::Park(ParkError::Registration(r)) => match r {
            RegistrationError::Invalid { .. } => {
                ApiError::bad_request(format!("{r}; nothing was logged"))
            }
            _ => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{r}; nothing was logged"),
            ),
        },
        other => other.into(),
    }
}
