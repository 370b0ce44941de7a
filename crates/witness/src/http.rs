//! The witness's HTTP interface: `POST /add-checkpoint` (c2sp.org/tlog-witness), with the
//! submission prefix and the monitoring prefix both the server's root.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::witness::MAX_BODY_BYTES;
use crate::Witness;

/// The content type of a 409 answer's body (the latest cosigned size).
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The witness's routes: `POST /add-checkpoint`, and `GET /` answering the witness's verifier
/// key (a convenience for operators; not part of the spec).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/", get(vkey))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(witness)
}

/// Serves the witness on `listener` until `shutdown` completes, then finishes the requests in
/// flight. Tests bind port 0 and pass the listener.
pub async fn run(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown)
        .await
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn vkey(State(witness): State<Arc<Witness>>) -> String {
    format!("{}\n", witness.verifier())
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let w = witness.clone();
    // SQLite commits (fsync) block; keep them off the async workers.
    let result = tokio::task::spawn_blocking(move || w.add_checkpoint(&body, now())).await;
    let text = |status: StatusCode, body: String| {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response()
    };
    match result {
        Ok(Ok(lines)) => text(StatusCode::OK, lines),
        Ok(Err(e)) => {
            let status =
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(witness = witness.name(), "add-checkpoint failed: {e}");
            } else {
                tracing::info!(witness = witness.name(), %status, "add-checkpoint refused: {e}");
            }
            match e.latest_size() {
                Some(latest) if status == StatusCode::CONFLICT => (
                    status,
                    [(header::CONTENT_TYPE, TLOG_SIZE_CONTENT_TYPE)],
                    format!("{latest}\n"),
                )
                    .into_response(),
                _ => text(status, format!("{e}\n")),
            }
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("add-checkpoint task failed: {e}\n"),
        ),
    }
}
