//! Errors: [`ServerError`] for the library's callers, [`ApiError`] for HTTP answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// What went wrong in the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The park could not be opened or failed while logging.
    #[error(transparent)]
    Park(#[from] tanji_park::ParkError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] tanji_store::StoreError),
    /// A park directory that cannot be opened (its store fails verification, its database
    /// refuses), when it is the one park served.
    #[error("park {park} cannot be served: {message}")]
    Unservable {
        /// The park directory.
        park: String,
        /// Why it could not be opened.
        message: String,
    },
    /// The configuration file is unreadable or invalid.
    #[error("config {path}: {message}")]
    Config {
        /// The file (or `--flag` for a command-line value).
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A socket or file failed.
    #[error("{context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A batch could not be logged; nothing of it was acknowledged.
    #[error("logging a batch failed, nothing of it was acknowledged: {0}")]
    Ingest(String),
    /// The sequencer's queue is full; try again shortly.
    #[error("the ingest queue is full ({0} records waiting); retry in a second")]
    Busy(usize),
    /// The server is shutting down and no longer logs records.
    #[error("the server is shutting down; nothing of this request was logged, retry later")]
    ShuttingDown,
    /// The disk holding the park is full: nothing of the batch was written; retry once the
    /// operator has made room.
    #[error("the park's disk is full, nothing of this request was logged; retry later: {0}")]
    StorageFull(String),
    /// This instance no longer holds the park's writer lease (on PostgreSQL): another
    /// instance writes the park now; nothing of the request was logged, retry (at another
    /// instance).
    #[error("this instance is no longer the park's writer, nothing of this request was logged; retry: {0}")]
    NotWriter(String),
}

impl ServerError {
    /// The error a failed batch is answered with: [`ServerError::StorageFull`] when the disk
    /// is full (retryable), else [`ServerError::Ingest`].
    pub fn batch_failed(e: &tanji_park::ParkError) -> ServerError {
        if park_storage_full(e) {
            ServerError::StorageFull(e.to_string())
        } else if matches!(
            e,
            tanji_park::ParkError::Store(tanji_store::StoreError::LeaseLost(_))
        ) {
            ServerError::NotWriter(e.to_string())
        } else {
            ServerError::Ingest(e.to_string())
        }
    }
}

/// Whether `e` says the disk is full: SQLite's `SQLITE_FULL` or the OS's `ENOSPC`.
pub fn park_storage_full(e: &tanji_park::ParkError) -> bool {
    match e {
        tanji_park::ParkError::Store(s) => s.is_storage_full(),
        tanji_park::ParkError::Io { source, .. } => io_storage_full(source),
        _ => false,
    }
}

fn io_storage_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
}

/// The JSON body of every error answer: `{"error": "<code>", "message": "<what, where, what to do>"}`.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    /// A stable snake_case code, e.g. `body_too_large`.
    pub error: &'static str,
    /// What was wrong, where, and what to do.
    pub message: String,
}

/// An HTTP error answer: status, stable code and message.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
    /// The `Retry-After` header, in seconds (a 503 without one says 1).
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    /// An error with `status`, a stable `code` and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: code,
                message: message.into(),
            },
            retry_after_s: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 429 `too_many_requests`: this caller is over its share; retry after `retry_after_s`.
    pub fn too_many_requests(retry_after_s: u64, message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
            .retry_after(retry_after_s)
    }

    /// 503 `storage_full`: the disk is full; retryable.
    pub fn storage_full(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "the disk is full");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage_full", message).retry_after(30)
    }

    /// The same error with `Retry-After: seconds` (at least 1).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_s = Some(seconds.max(1));
        self
    }

    /// 500 `internal`, logged.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(%message, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Busy(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            ServerError::ShuttingDown => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                e.to_string(),
            ),
            ServerError::StorageFull(_) => ApiError::storage_full(e.to_string()),
            ServerError::NotWriter(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_writer", e.to_string())
                    .retry_after(1)
            }
            ServerError::Store(s) => ApiError::from(s),
            ServerError::Park(p) if park_storage_full(&p) => {
                ApiError::storage_full(format!("the park's disk is full; retry later: {p}"))
            }
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<tanji_store::StoreError> for ApiError {
    fn from(e: tanji_store::StoreError) -> Self {
        if e.is_storage_full() {
            return ApiError::storage_full(format!("the park's disk is full; retry later: {e}"));
        }
        ApiError::internal(format!("reading the store: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body)).into_response();
        let retry = match self.retry_after_s {
            Some(s) => Some(s),
            None if self.status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            None => None,
        };
        if let Some(s) = retry {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(s),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

/// The largest error body of a framework rejection read to put its text into the JSON body.
const REJECTION_TEXT_MAX: usize = 16 << 10;

/// The stable code of an error status without a JSON body (axum's own rejections).
fn status_code_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_ACCEPTABLE => "not_acceptable",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    }
}

/// Middleware around every route: an error answer that is not already the JSON error body —
/// axum's own rejections (malformed JSON, query or path, 405, 413 from the body limit) — is
/// turned into it, `{"error": "<code>", "message": "<axum's text>"}`, with its status and
/// headers (`Allow`, `Retry-After`) kept.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = match axum::body::to_bytes(body, REJECTION_TEXT_MAX).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            let allowed = parts
                .headers
                .get(axum::http::header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            format!("{method} is not allowed on {path}; allowed: {allowed} (the API is described at /openapi.json)")
        }
        (_, true) => format!(
            "{method} {path}: {}",
            status.canonical_reason().unwrap_or("error")
        ),
        (_, false) => format!("{method} {path}: {text}"),
    };
    let body = ErrorBody {
        error: status_code_name(status),
        message,
    };
    let json = match serde_json::to_vec(&body) {
        Ok(j) => j,
        Err(_) => return (status, axum::Json(body)).into_response(),
    };
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json))
}
