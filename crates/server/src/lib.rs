//! tanji-server: tanji as a running service — signed uploads in over HTTP, sequenced into the
//! park log in short durable batches and acknowledged with their inclusion proofs; the log out
//! over HTTP in the C2SP tlog-tiles layout; bearer tokens with roles; Prometheus metrics.
//!
//! The one [`tanji_park::Park`] is owned by the [`Sequencer`] thread, which batches uploads
//! from every handler into one fsynced transaction each; handlers read the store through their
//! own connections ([`Reader`]). Every route is declared with its [`Access`] in one table
//! ([`Server::routes`]), which the access tests and the OpenAPI document are checked against.
//! [`run`] serves a bound listener until a shutdown future resolves, then stops accepting,
//! logs and answers what is pending, and returns: nothing acknowledged is lost.
//!
//! What it is not: it does not validate, hash or store records itself (the park does), and it
//! is the only async crate of tanji — everything below it is synchronous.

pub mod auth;
pub mod config;
pub mod devices;
mod error;
pub mod fleet;
pub mod ingest;
pub mod lang;
pub mod lease;
pub mod limits;
pub mod metrics;
pub mod mqtt;
pub mod mqtt_devices;
pub mod parks;
pub mod query;
mod reader;
pub mod routes;
pub mod sequencer;
mod serve;
pub mod tlog;
mod web;
pub mod witnessing;

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tanji_park::{Clock, Park, SystemClock};
use tokio::net::TcpListener;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{Caller, Role, Tokens};
pub use config::Config;
pub use error::{ApiError, ErrorBody, ServerError};
pub use metrics::Metrics;
pub use reader::Reader;
pub use routes::{Access, ApiRouter, RouteInfo};
pub use sequencer::{Answer, Head, Logged, Registered, Sequencer};
pub use serve::{listen, LISTEN_BACKLOG};

/// The OpenAPI 3.1 document of every route, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

struct Inner {
    config: Config,
    sequencer: Sequencer,
    reader: Reader,
    tokens: Tokens,
    metrics: Metrics,
    origin: String,
    vkey: String,
    /// A cosigned checkpoint `(size, note)` to serve instead of the log's own while the log
    /// is at that size.
    cosigned: RwLock<Option<(u64, Arc<str>)>>,
    /// Turns `true` when shutdown begins: long-lived responses (the checkpoint event stream)
    /// end then, so that a graceful shutdown does not wait for open dashboards.
    shutdown: tokio::sync::watch::Sender<bool>,
    /// Refused uploads per peer address.
    refusals: limits::Refusals,
    mqtt_refusals: limits::Refusals<String>,
    /// Now, for the sequencer, the report cache and the queries.
    clock: Arc<dyn Clock>,
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("origin", &self.0.origin)
            .field("sequencer", &self.0.sequencer)
            .finish()
    }
}

impl AppState {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The sequencer (submit records, watch the log head).
    pub fn sequencer(&self) -> &Sequencer {
        &self.0.sequencer
    }

    /// Read access to the store.
    pub fn reader(&self) -> &Reader {
        &self.0.reader
    }

    /// The configured tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.0.origin
    }

    /// The log's verifier key (C2SP signed-note vkey).
    pub fn vkey(&self) -> &str {
        &self.0.vkey
    }

    /// The server's clock: the sequencer's "now" and the report cache's refresh times.
    pub fn clock(&self) -> &dyn Clock {
        self.0.clock.as_ref()
    }

    /// The latest durable log head.
    pub fn head(&self) -> Head {
        self.0.sequencer.head()
    }

    /// Refused uploads per peer address (`http.refusals_per_window`).
    pub fn refusals(&self) -> &limits::Refusals {
        &self.0.refusals
    }

    /// Refused MQTT messages per device topic (`http.refusals_per_window` too).
    pub fn mqtt_refusals(&self) -> &limits::Refusals<String> {
        &self.0.mqtt_refusals
    }

    /// A receiver that turns `true` when shutdown begins.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }

    /// Sets a cosigned version of the checkpoint of tree size `size`; `/checkpoint` serves it
    /// while the log is at that size.
    pub fn set_cosigned_checkpoint(&self, size: u64, note: &str) {
        if let Ok(mut c) = self.0.cosigned.write() {
            *c = Some((size, note.into()));
        }
    }

    /// The checkpoint `/checkpoint` serves: the cosigned one if it is for the latest size,
    /// else the log's own.
    pub fn served_checkpoint(&self) -> Arc<str> {
        let head = self.head();
        let cosigned = self.0.cosigned.read().ok().and_then(|c| c.clone());
        match cosigned {
            Some((size, note)) if size == head.size => note,
            _ => head.checkpoint,
        }
    }
}

/// A server over one park, ready to [`run`].
#[derive(Debug)]
pub struct Server {
    state: AppState,
    routes: Vec<RouteInfo>,
    router: Router,
    dir: std::path::PathBuf,
    name: String,
}

impl Server {
    /// Opens the park in `dir` and starts its sequencer, on the system clock.
    pub fn open(dir: &Path, config: Config) -> Result<Server, ServerError> {
        Self::open_with_clock(dir, config, Arc::new(SystemClock))
    }

    /// [`Server::open`] on `clock`: the time records are validated and quarantined at, the
    /// sequencer's batch window and the report cache's refresh interval all read it (tests
    /// pass a [`tanji_park::ManualClock`] and move it instead of sleeping).
    pub fn open_with_clock(
        dir: &Path,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Server, ServerError> {
        config.check("config")?;
        let at = tanji_park::store_at(dir)?;
        let mut park = Park::open(dir)?;
        let name = park.name()?;
        let tokens = parks::park_tokens(dir, &config, &name)?;
        park.set_quarantine_limits(config.quarantine.limits());
        park.take_writer_lease(config.lease.ttl())?;
        let lease = park.store().lease().cloned();
        let origin = park.origin().to_string();
        let vkey = park.verifier().to_string();
        let metrics = Metrics::new();
        let sequencer =
            Sequencer::start_with_clock(park, &config.batch, metrics.clone(), Arc::clone(&clock))?;
        if let Some(lease) = lease {
            lease::keep(&at, lease, sequencer.clone(), &config.lease)?;
        }
        let refusals = limits::Refusals::new(
            config.http.refusals_per_window,
            config.http.refusal_window(),
            "address",
        );
        let mqtt_refusals = limits::Refusals::new(
            config.http.refusals_per_window,
            config.http.refusal_window(),
            "device topic",
        );
        let state = AppState(Arc::new(Inner {
            reader: Reader::new(at),
            config,
            sequencer,
            tokens,
            metrics,
            origin,
            vkey,
            cosigned: RwLock::new(None),
            shutdown: tokio::sync::watch::channel(false).0,
            refusals,
            mqtt_refusals,
            clock,
        }));
        let (api, mut routes) = api_routes().into_parts();
        routes.extend(parks::routes());
        let router = api
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::authenticate,
            ))
            .layer(DefaultBodyLimit::max(state.config().http.max_body_bytes))
            .layer(RequestBodyTimeoutLayer::new(
                state.config().http.idle_timeout(),
            ))
            .layer(axum::middleware::from_fn(error::json_errors))
            .layer(TraceLayer::new_for_http())
            .with_state(state.clone());
        Ok(Server {
            state,
            routes,
            router,
            dir: dir.to_path_buf(),
            name,
        })
    }

    /// The shared state (sequencer, reader, tokens, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The sequencer.
    pub fn sequencer(&self) -> &Sequencer {
        self.state.sequencer()
    }

    /// Every route of the park with its access, in the order they were added, then the
    /// deployment's routes ([`parks::routes`]).
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// The park's name (its `<park>` in `/parks/<park>/…` and MQTT topics).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The park's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Every route of the service.
fn api_routes() -> ApiRouter {
    let r = ApiRouter::default();
    let r = tlog::routes(r);
    let r = ingest::routes(r);
    let r = devices::routes(r);
    let r = query::routes(r);
    let r = web::routes(r);
    service_routes(r)
}

fn service_routes(r: ApiRouter) -> ApiRouter {
    r.route(
        RouteInfo {
            method: "GET",
            path: "/metrics",
            access: Access::Public,
            summary: "Prometheus metrics (counts and latencies; no meter data)",
            example: "/metrics",
        },
        get(metrics_text),
    )
    .route(
        RouteInfo {
            method: "GET",
            path: "/openapi.json",
            access: Access::Public,
            summary: "This API's OpenAPI document",
            example: "/openapi.json",
        },
        get(openapi),
    )
    .route(
        RouteInfo {
            method: "GET",
            path: "/api/v1/log",
            access: Access::Public,
            summary: "The log's origin, verifier key, size and latest checkpoint",
            example: "/api/v1/log",
        },
        get(log_info),
    )
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics().render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

/// `GET /api/v1/log`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct LogInfo {
    /// The origin line.
    pub origin: String,
    /// The verifier key.
    pub vkey: String,
    /// Entries.
    pub size: u64,
    /// The served checkpoint note.
    pub checkpoint: String,
}

async fn log_info(State(state): State<AppState>) -> axum::Json<LogInfo> {
    let checkpoint = state.served_checkpoint();
    axum::Json(LogInfo {
        origin: state.origin().to_string(),
        vkey: state.vkey().to_string(),
        size: state.head().size,
        checkpoint: checkpoint.to_string(),
    })
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route {}; the API is described at /openapi.json",
        uri.path()
    ))
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what service managers and container
/// runtimes send): the `shutdown` of [`run`] for a server run from a terminal or a service
/// manager. Says on stderr which arrived.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => eprintln!("interrupted (SIGINT): stopping"),
                    _ = term.recv() => eprintln!("terminated (SIGTERM): stopping"),
                }
                return;
            }
            Err(e) => eprintln!("SIGTERM cannot be caught ({e}); only Ctrl-C stops gracefully"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("interrupted (SIGINT): stopping");
}

/// Serves `server` on `listener` until `shutdown` resolves: its park at `/…` and
/// `/parks/{park}/…` (a single-park deployment, [`parks::Parks::single`]). If the instance
/// loses the park's writer lease it forwards the park's requests to the new writer and stands
/// by to take the lease again. On shutdown it stops accepting connections, logs and answers
/// every pending upload, waits for open requests, stops the sequencer and returns. Nothing
/// acknowledged is lost: an answer is sent only after its batch is durable.
pub async fn run(
    listener: TcpListener,
    server: Server,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let parks = parks::Parks::single(server)?;
    parks::serve(listener, parks, shutdown).await
}
