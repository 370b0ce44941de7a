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
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<tanji_store::StoreError> for ApiError {
    fn from(e: tanji_store::StoreError) -> Self {
        ApiError::internal(format!("reading the store: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
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
