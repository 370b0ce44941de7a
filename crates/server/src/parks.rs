//! Many parks in one process, and one writer per park across instances.
//!
//! A server process serves a *deployment*: either one park directory (a single-park
//! deployment, today's `tanji serve --dir PARK`) or a deployment directory holding one park
//! directory per park under `parks/`:
//!
//! ```text
//! deploy/
//!   parks/
//!     north/   log.key, store (or park.db), tokens.toml
//!     south/   …
//! ```
//!
//! Each park is its own log, key, origin, devices and tokens (`tokens.toml` in its directory,
//! and the config's `[[tokens]]` that name it with `park = "…"`). HTTP: `/parks/{park}/…`
//! carries every route of that park; a single-park deployment answers them at `/…` too.
//! MQTT: the instance that writes a park subscribes to its `tanji/<park>/…` topics.
//! An `admin` token (the deployment's, in the config) lists the parks (`GET /parks`) and
//! creates one (`POST /parks`: its key, origin and store, in `[parks] store` or SQLite, served
//! at once, no restart); it can do nothing inside a park, and a park's tokens nothing in
//! another park (they are unknown there: 401).
//!
//! Any number of instances may serve one deployment on PostgreSQL (from one directory, or
//! copies of it). For each park exactly one instance holds its writer lease
//! ([`crate::lease`]) and sequences it; every instance listens. An instance that does not
//! hold a park's lease forwards each request for that park to the holder, found by the URL its
//! lease names ([`tanji_park::holder_url`], from `advertise_url`), and returns the holder's
//! answer: a device's acknowledgement still comes only after the holder's commit. With no
//! holder known it answers 503 with `Retry-After`. The park's full tiles are the exception:
//! they never change, so it answers them itself from the park's store
//! ([`crate::tlog::StoredTiles`]), the holder alive or not. Every `lease.poll_ms` each instance
//! looks at the deployment's leases (one query per database), takes the lease of every park
//! nobody holds, and notices the parks whose lease it lost: when a holder dies, the other
//! instances take each of its parks within `ttl_ms + poll_ms` and continue each log from its
//! stored frontier.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tanji_park::{Clock, ParkError};
use tanji_store::{PgLocation, PostgresStore, StoreAt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::auth::{Caller, Tokens};
use crate::routes::{Access, RouteInfo};
use crate::tlog::{FullTile, StoredTiles};
use crate::{ApiError, AppState, Config, Server, ServerError};

/// The directory of a deployment that holds its parks, one directory each.
pub const PARKS_DIR: &str = "parks";

/// A park directory's own tokens (`[[tokens]]` entries, as in the config).
pub const TOKENS_FILE: &str = "tokens.toml";

/// Parks opened at once when this instance takes the leases of many (at start, or when
/// another instance died): each opening reads its store's frontier and seal.
const OPEN_AT_ONCE: usize = 8;

/// The header a forwarded request carries: an instance that does not write the park either
/// answers it 503 instead of forwarding it again.
pub const FORWARDED: &str = "tanji-forwarded";

/// The `[parks]` section: where `POST /parks` creates parks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParksConfig {
    /// The PostgreSQL database new parks are stored in (`postgres://…[?schema=NAME]`); each
    /// new park's directory gets a `store` file naming it. None: SQLite in each park's
    /// directory.
    pub store: Option<String>,
}

/// The deployment's own routes (behind an admin token).
pub fn routes() -> Vec<RouteInfo> {
    vec![
        RouteInfo {
            method: "GET",
            path: "/parks",
            access: Access::Admin,
            summary: "The deployment's parks and which instance writes each",
            example: "/parks",
        },
        RouteInfo {
            method: "POST",
            path: "/parks",
            access: Access::Admin,
            summary: "Create a park (its log key, origin and store) and start serving it",
            example: "/parks",
        },
    ]
}

/// The tokens of park `park` in `dir`: the config's that are not an admin's and name this
/// park or none, and those of the park's `tokens.toml`.
pub fn park_tokens(dir: &Path, config: &Config, park: &str) -> Result<Tokens, ServerError> {
    let file = dir.join(TOKENS_FILE);
    let mut all = config.tokens.clone();
    if file.exists() {
        all.extend(Config::load(&file)?.tokens);
    }
    Tokens::of_park(&all, park).map_err(|message| ServerError::Config {
        path: file.display().to_string(),
        message,
    })
}

/// Whether `dir` is a deployment directory (it holds `parks/` and is no park itself).
pub fn is_deployment(dir: &Path) -> bool {
    dir.join(PARKS_DIR).is_dir() && !dir.join(tanji_park::KEY_FILE).exists()
}

/// A park's MQTT ingest: its stop switch and its task.
type MqttTask = (watch::Sender<bool>, JoinHandle<Result<(), ServerError>>);

/// A park served by this instance: its state and router, its MQTT and witnessing tasks.
struct Running {
    state: AppState,
    router: Router,
    mqtt: Mutex<Option<MqttTask>>,
    witnessing: Mutex<Option<JoinHandle<()>>>,
}

impl Running {
    /// Starts the park's MQTT ingest (if configured) and witnessing.
    fn start(server: Server) -> Running {
        let state = server.state.clone();
        let mqtt = state.config().mqtt.clone().map(|m| {
            let (stop, mut stopped) = watch::channel(false);
            let task = tokio::spawn(crate::mqtt::serve(state.clone(), m, async move {
                let _ = stopped.wait_for(|s| *s).await;
            }));
            (stop, task)
        });
        let witnessing = crate::witnessing::start(state.clone(), state.reader().at().clone());
        Running {
            state,
            router: server.router,
            mqtt: Mutex::new(mqtt),
            witnessing: Mutex::new(witnessing),
        }
    }

    /// Stops taking new uploads, logs and answers what is pending (MQTT's too), and stops
    /// the sequencer: nothing acknowledged is lost.
    async fn stop(&self) {
        self.state.0.shutdown.send_replace(true);
        let mqtt = self.mqtt.lock().ok().and_then(|mut m| m.take());
        if let Some((stop, _)) = &mqtt {
            let _ = stop.send(true);
        }
        let sequencer = self.state.sequencer();
        sequencer.drain();
        if let Some((_, task)) = mqtt {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "MQTT ingest failed"),
                Err(e) => tracing::error!(error = %e, "MQTT ingest task failed"),
            }
        }
        sequencer.close().await;
        if let Some(w) = self.witnessing.lock().ok().and_then(|mut w| w.take()) {
            w.abort();
        }
        tracing::info!(
            origin = self.state.origin(),
            size = sequencer.head().size,
            "stopped"
        );
    }

    fn lost(&self) -> bool {
        *self.state.sequencer().writer_lost().borrow() || self.state.sequencer().is_closed()
    }
}

/// One park of the deployment: served here, or standing by (forwarding to its writer).
#[derive(Clone)]
enum Slot {
    Serving(Arc<Running>),
    Standby {
        /// The lease holder's name, when another instance holds the lease.
        holder: Option<String>,
        /// Why this instance does not write it.
        why: String,
    },
}

struct Park {
    dir: PathBuf,
    at: Option<StoreAt>,
    slot: Mutex<Slot>,
    /// Its full tiles, read from its store while another instance writes it (made at the
    /// first request for one, with its tokens as they are then; `None` when its store or
    /// tokens cannot be known here).
    tiles: OnceLock<Option<StoredTiles>>,
    /// Held while the park is being opened: one sequencer per park in a process, whichever
    /// of the lease loop, a request and `POST /parks` gets there first.
    opening: tokio::sync::Mutex<()>,
}

impl Park {
    fn slot(&self) -> Slot {
        match self.slot.lock() {
            Ok(s) => s.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, slot: Slot) {
        match self.slot.lock() {
            Ok(mut s) => *s = slot,
            Err(p) => *p.into_inner() = slot,
        }
    }
}

struct Inner {
    /// The deployment directory; `None` for a single-park deployment.
    deployment: Option<PathBuf>,
    /// The park the root routes serve (a single-park deployment).
    single: Option<String>,
    config: Config,
    admins: Tokens,
    clock: Arc<dyn Clock>,
    parks: Mutex<BTreeMap<String, Arc<Park>>>,
    client: reqwest::Client,
}

/// The parks of a deployment, by name, each served here or forwarded to its writer; cheap to
/// clone.
#[derive(Clone)]
pub struct Parks(Arc<Inner>);

impl std::fmt::Debug for Parks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parks")
            .field("deployment", &self.0.deployment)
            .field("parks", &self.names())
            .finish()
    }
}

/// A park as `GET /parks` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ParkInfo {
    /// The park's name: its `/parks/{park}/…` and `tanji/<park>/…`.
    pub park: String,
    /// Whether this instance writes it.
    pub writer_here: bool,
    /// Who writes it: this instance's or another's lease holder name, if known.
    pub writer: Option<String>,
    /// Its log's origin and size, when served here.
    pub origin: Option<String>,
    /// Entries in its log, when served here.
    pub size: Option<u64>,
}

/// `POST /parks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPark {
    /// The park's name: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or
    /// digit.
    pub park: String,
    /// The log's origin line; `tanji/<park>` by default.
    #[serde(default)]
    pub origin: Option<String>,
}

/// The answer to `POST /parks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedPark {
    /// The park's name.
    pub park: String,
    /// Its log's origin.
    pub origin: String,
    /// Its log's verifier key.
    pub vkey: String,
    /// An operator token of the park, shown once (its SHA-256 is in the park's `tokens.toml`).
    pub operator_token: String,
    /// Whether this instance writes it now.
    pub writer_here: bool,
}

fn config_error(path: &Path, message: String) -> ServerError {
    ServerError::Config {
        path: path.display().to_string(),
        message,
    }
}

impl Parks {
    /// The deployment in `dir` (a deployment directory, or one park directory) with
    /// `config`, on `clock`: every park is tried once ([`Parks::tick`]), so that the parks
    /// nobody else writes are served from the start.
    pub async fn open(
        dir: &Path,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Parks, ServerError> {
        config.check("config")?;
        let admins = Tokens::admins(&config.tokens).map_err(|m| config_error(dir, m))?;
        let (deployment, single, parks) = if is_deployment(dir) {
            if let Some((i, _)) = config
                .tokens
                .iter()
                .enumerate()
                .find(|(_, t)| t.role != "admin" && t.park.is_none())
            {
                return Err(config_error(
                    dir,
                    format!("tokens[{i}]: in a deployment of many parks each park's token names its park (`park = \"…\"`)"),
                ));
            }
            (Some(dir.to_path_buf()), None, BTreeMap::new())
        } else {
            let d = dir.to_path_buf();
            let name = crate::reader::blocking(move || -> Result<String, ServerError> {
                let store = tanji_park::Park::open_store(&d)?;
                Ok(tanji_store::Store::meta(&store, "park")?.unwrap_or_default())
            })?;
            let mut parks = BTreeMap::new();
            parks.insert(name.clone(), Arc::new(standby_park(dir)));
            (None, Some(name), parks)
        };
        let parks = Parks::new(deployment, single, config, admins, clock, parks);
        parks.tick().await;
        // One park directory: a park that cannot be opened for any reason but another
        // instance's lease (a store that fails verification, a database refusing) is an error
        // of `tanji serve`, not a park to stand by for.
        if let Some(name) = &parks.0.single {
            if let Some(Slot::Standby { holder: None, why }) = parks.park(name).map(|p| p.slot()) {
                return Err(ServerError::Unservable {
                    park: dir.display().to_string(),
                    message: why,
                });
            }
        }
        Ok(parks)
    }

    /// A single-park deployment of an opened server (which writes the park).
    pub fn single(server: Server) -> Result<Parks, ServerError> {
        let config = server.state.config().clone();
        let admins = Tokens::admins(&config.tokens).map_err(|m| config_error(&server.dir, m))?;
        let clock = Arc::clone(&server.state.0.clock);
        let name = server.name.clone();
        let park = Park {
            at: Some(server.state.reader().at().clone()),
            dir: server.dir.clone(),
            slot: Mutex::new(Slot::Serving(Arc::new(Running::start(server)))),
            tiles: OnceLock::new(),
            opening: tokio::sync::Mutex::new(()),
        };
        let parks = BTreeMap::from([(name.clone(), Arc::new(park))]);
        Ok(Parks::new(None, Some(name), config, admins, clock, parks))
    }

    fn new(
        deployment: Option<PathBuf>,
        single: Option<String>,
        config: Config,
        admins: Tokens,
        clock: Arc<dyn Clock>,
        parks: BTreeMap<String, Arc<Park>>,
    ) -> Parks {
        let client = reqwest::Client::builder()
            .timeout(config.http.idle_timeout())
            .build()
            .unwrap_or_default();
        Parks(Arc::new(Inner {
            deployment,
            single,
            config,
            admins,
            clock,
            parks: Mutex::new(parks),
            client,
        }))
    }

    /// The parks' names.
    pub fn names(&self) -> Vec<String> {
        self.all().into_iter().map(|(n, _)| n).collect()
    }

    fn all(&self) -> Vec<(String, Arc<Park>)> {
        match self.0.parks.lock() {
            Ok(p) => p.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn park(&self, name: &str) -> Option<Arc<Park>> {
        self.0.parks.lock().ok()?.get(name).cloned()
    }

    /// Park `name`; one added to the deployment directory since the last round of the lease
    /// loop (created at another instance) is added now, and served or forwarded to its writer.
    async fn park_or_new(&self, name: &str) -> Option<Arc<Park>> {
        if let Some(p) = self.park(name) {
            return Some(p);
        }
        let dir = self.0.deployment.as_ref()?.join(PARKS_DIR).join(name);
        let named = name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !named || !dir.join(tanji_park::KEY_FILE).exists() {
            return None;
        }
        let park = {
            let mut parks = self.0.parks.lock().ok()?;
            Arc::clone(
                parks
                    .entry(name.to_string())
                    .or_insert_with(|| Arc::new(standby_park(&dir))),
            )
        };
        if matches!(park.slot(), Slot::Standby { holder: None, .. }) {
            self.try_start(name, &park).await;
        }
        Some(park)
    }

    /// The state of park `name` if this instance writes it.
    pub fn serving(&self, name: &str) -> Option<AppState> {
        match self.park(name)?.slot() {
            Slot::Serving(r) => Some(r.state.clone()),
            Slot::Standby { .. } => None,
        }
    }

    /// Every park as `GET /parks` lists it.
    pub fn list(&self) -> Vec<ParkInfo> {
        self.all()
            .into_iter()
            .map(|(park, p)| match p.slot() {
                Slot::Serving(r) => ParkInfo {
                    park,
                    writer_here: true,
                    writer: Some(tanji_park::lease_holder()),
                    origin: Some(r.state.origin().to_string()),
                    size: Some(r.state.head().size),
                },
                Slot::Standby { holder, .. } => ParkInfo {
                    park,
                    writer_here: false,
                    writer: holder,
                    origin: None,
                    size: None,
                },
            })
            .collect()
    }

    /// One round of the lease loop: finds parks added to the deployment directory, takes the
    /// lease of every park nobody holds and starts serving it, and notes the parks whose
    /// lease this instance lost (drained and stopped in the background) and who writes the
    /// others.
    pub async fn tick(&self) {
        if let Some(d) = &self.0.deployment {
            self.scan(d);
        }
        let all = self.all();
        // Who holds what, one query per database, for the parks standing by.
        let mut locations: Vec<PgLocation> = Vec::new();
        for (_, p) in &all {
            if let (Slot::Standby { .. }, Some(StoreAt::Postgres { at, .. })) = (p.slot(), &p.at) {
                if !locations.contains(at) {
                    locations.push(at.clone());
                }
            }
        }
        let leases: Vec<(PgLocation, Vec<(String, tanji_store::Lease)>)> =
            crate::reader::blocking(move || {
                locations
                    .into_iter()
                    .filter_map(|at| match PostgresStore::live_leases(&at) {
                        Ok(l) => Some((at, l)),
                        Err(e) => {
                            tracing::warn!(error = %e, "reading the writer leases");
                            None
                        }
                    })
                    .collect()
            });
        let me = tanji_park::lease_holder();
        let mut free = Vec::new();
        for (name, p) in all {
            match p.slot() {
                Slot::Serving(r) => {
                    if r.lost() {
                        eprintln!("this instance lost the writer lease of park {name}; forwarding its requests to its writer, standing by");
                        p.set(Slot::Standby {
                            holder: None,
                            why: "this instance lost its writer lease".into(),
                        });
                        tokio::spawn(async move { r.stop().await });
                    }
                }
                Slot::Standby { .. } => {
                    let held = match &p.at {
                        Some(StoreAt::Postgres { at, park }) => leases
                            .iter()
                            .find(|(l, _)| l == at)
                            .and_then(|(_, l)| l.iter().find(|(p, _)| p == park))
                            .map(|(_, l)| l.holder.clone())
                            .filter(|h| *h != me),
                        _ => None,
                    };
                    match held {
                        Some(holder) => p.set(Slot::Standby {
                            why: format!("{holder} holds its writer lease"),
                            holder: Some(holder),
                        }),
                        None => free.push((name, p)),
                    }
                }
            }
        }
        // The parks nobody writes (all of a dead instance's at once): opened a few at a time,
        // so that a takeover of many parks takes about their number ÷ OPEN_AT_ONCE openings.
        use futures_util::StreamExt as _;
        futures_util::stream::iter(free)
            .for_each_concurrent(OPEN_AT_ONCE, |(name, p)| async move {
                self.try_start(&name, &p).await
            })
            .await;
    }

    /// Adds the parks of the deployment directory not known yet, standing by.
    fn scan(&self, deployment: &Path) {
        let Ok(entries) = std::fs::read_dir(deployment.join(PARKS_DIR)) else {
            return;
        };
        let Ok(mut parks) = self.0.parks.lock() else {
            return;
        };
        for e in entries.flatten() {
            let dir = e.path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
                continue;
            };
            if parks.contains_key(&name) || !dir.join(tanji_park::KEY_FILE).exists() {
                continue;
            }
            parks.insert(name, Arc::new(standby_park(&dir)));
        }
    }

    /// The configuration a park of this deployment is served with: in a deployment of many
    /// parks, its MQTT topics and client id are the park's own.
    fn park_config(&self) -> Config {
        let mut config = self.0.config.clone();
        if self.0.deployment.is_some() {
            if let Some(m) = &mut config.mqtt {
                m.park = None;
                m.client_id = None;
            }
        }
        config
    }

    /// Tries to open park `name` for writing (taking its lease) and serve it.
    async fn try_start(&self, name: &str, p: &Park) {
        let _opening = p.opening.lock().await;
        if matches!(p.slot(), Slot::Serving(_)) {
            return;
        }
        let dir = p.dir.clone();
        let config = self.park_config();
        let clock = Arc::clone(&self.0.clock);
        // On a blocking thread, so that several parks open at once ([`OPEN_AT_ONCE`]).
        let opened =
            tokio::task::spawn_blocking(move || Server::open_with_clock(&dir, config, clock))
                .await
                .unwrap_or_else(|e| {
                    Err(ServerError::Unservable {
                        park: name.to_string(),
                        message: format!("opening it failed: {e}"),
                    })
                });
        match opened {
            Ok(server) => {
                let size = server.sequencer().head().size;
                tracing::info!(park = name, size, "sequencing the park");
                p.set(Slot::Serving(Arc::new(Running::start(server))));
            }
            Err(ServerError::Park(ParkError::Leased { holder, .. })) => p.set(Slot::Standby {
                why: format!("{holder} holds its writer lease"),
                holder: Some(holder),
            }),
            Err(e) => {
                let why = e.to_string();
                if !matches!(p.slot(), Slot::Standby { why: w, .. } if w == why) {
                    tracing::warn!(park = name, error = %why, "the park cannot be served here");
                }
                p.set(Slot::Standby { holder: None, why });
            }
        }
    }

    /// Creates park `new` in the deployment directory (its log key, origin and store: in
    /// `[parks] store`, else SQLite), with an operator token in its `tokens.toml`, and starts
    /// serving it.
    pub async fn create(&self, new: NewPark) -> Result<CreatedPark, ApiError> {
        let Some(deployment) = self.0.deployment.clone() else {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "single_park",
                "this server serves one park directory; parks are created in a deployment directory (one holding parks/): see docs/operations.md",
            ));
        };
        let name = new.park.clone();
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(ApiError::bad_request(format!(
                "park {name:?}: a park's name starts with a letter or digit"
            )));
        }
        let dir = deployment.join(PARKS_DIR).join(&name);
        if self.park(&name).is_some() || dir.exists() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "park_exists",
                format!("park {name:?} exists already"),
            ));
        }
        let store = self.0.config.parks.store.clone();
        let (token, hash) = crate::auth::new_token();
        let d = dir.clone();
        let created = crate::reader::blocking(move || -> Result<(String, String), ApiError> {
            let park =
                tanji_park::Park::create_on(&d, &name, new.origin.as_deref(), store.as_deref())
                    .map_err(|e| match e {
                        ParkError::Directory(m) => ApiError::bad_request(m),
                        other => ApiError::internal(format!("creating the park: {other}")),
                    })?;
            let out = (park.origin().to_string(), park.verifier().to_string());
            let lines = Config::token_entry(
                &hash,
                &crate::Role::Operator,
                Some(&format!("operator of {name}")),
            );
            Config::append_to_file(&d.join(TOKENS_FILE), &lines)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(out)
        })?;
        let park = Arc::new(standby_park(&dir));
        if let Ok(mut parks) = self.0.parks.lock() {
            parks.insert(new.park.clone(), Arc::clone(&park));
        }
        self.try_start(&new.park, &park).await;
        Ok(CreatedPark {
            park: new.park,
            origin: created.0,
            vkey: created.1,
            operator_token: token,
            writer_here: matches!(park.slot(), Slot::Serving(_)),
        })
    }

    /// Stops every park served here (each logs and answers what is pending first).
    pub async fn stop(&self) {
        let running: Vec<Arc<Running>> = self
            .all()
            .into_iter()
            .filter_map(|(_, p)| match p.slot() {
                Slot::Serving(r) => Some(r),
                Slot::Standby { .. } => None,
            })
            .collect();
        futures_util::future::join_all(running.iter().map(|r| r.stop())).await;
    }

    /// The deployment's HTTP router: `/parks`, `/parks/{park}/…`, and, for a single-park
    /// deployment, every route of its park at `/…`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/parks", get(list_parks).post(create_park))
            .route("/parks/{park}", any(to_park))
            .route("/parks/{park}/{*rest}", any(to_park))
            .fallback(to_single)
            .layer(axum::middleware::from_fn(crate::error::json_errors))
            .with_state(self.clone())
    }

    /// Answers `req` for park `name` with `path` (the park's own route): served here, or
    /// forwarded to the park's writer.
    async fn dispatch(&self, name: &str, path: &str, req: Request) -> Response {
        let Some(park) = self.park_or_new(name).await else {
            return ApiError::not_found(format!("no park {name:?} in this deployment"))
                .into_response();
        };
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        match park.slot() {
            Slot::Serving(r) => {
                let req = match format!("{path}{query}").parse::<Uri>() {
                    Ok(uri) => for_park(req, uri),
                    Err(e) => {
                        return ApiError::bad_request(format!("path {path:?}: {e}")).into_response()
                    }
                };
                match r.router.clone().oneshot(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                }
            }
            Slot::Standby { holder, why } => {
                let stored = FullTile::requested(req.method(), path)
                    .and_then(|tile| Some((tile, self.stored_tiles(name, &park)?)));
                if let Some((tile, tiles)) = stored {
                    if let Some(res) = tiles.answer(tile, req.headers()).await {
                        return res;
                    }
                }
                self.forward(name, &format!("{path}{query}"), holder, &why, req)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            }
        }
    }

    /// The full tiles of park `name`, which this instance does not write, from its store and
    /// checked against its tokens as its writer checks them.
    fn stored_tiles<'p>(&self, name: &str, park: &'p Park) -> Option<&'p StoredTiles> {
        park.tiles
            .get_or_init(|| {
                let at = park.at.clone()?;
                let tokens =
                    crate::reader::blocking(|| park_tokens(&park.dir, &self.0.config, name));
                Some(StoredTiles::new(at, tokens.ok()?))
            })
            .as_ref()
    }

    /// Forwards `req` for park `name` to its writer `holder` and returns its answer.
    async fn forward(
        &self,
        name: &str,
        path: &str,
        holder: Option<String>,
        why: &str,
        req: Request,
    ) -> Result<Response, ApiError> {
        let retry = self.0.config.lease.poll_ms.div_ceil(1000).max(1);
        let unavailable = |message: String| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_writer", message).retry_after(retry)
        };
        if req.headers().contains_key(FORWARDED) {
            return Err(unavailable(format!(
                "park {name}: this instance does not write it either ({why}); nothing was logged, retry"
            )));
        }
        let Some(url) = holder.as_deref().and_then(tanji_park::holder_url) else {
            return Err(unavailable(format!(
                "park {name}: no writer is known to this instance ({why}); nothing was logged, retry in {retry} s"
            )));
        };
        let target = format!("{url}/parks/{name}{path}");
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, self.0.config.http.max_body_bytes)
            .await
            .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
        let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut out = self.0.client.request(method, &target).body(body);
        for (k, v) in &parts.headers {
            if k != header::HOST && k != header::CONNECTION && k != header::CONTENT_LENGTH {
                out = out.header(k.as_str(), v.as_bytes());
            }
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            out = out.header("x-forwarded-for", peer.ip().to_string());
        }
        let res = out.header(FORWARDED, "1").send().await.map_err(|e| {
            unavailable(format!(
                "park {name}: its writer at {url} did not answer ({e}); nothing was logged here, retry"
            ))
        })?;
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut answer = Response::builder().status(status);
        for (k, v) in res.headers() {
            let k = k.as_str();
            if k != "connection" && k != "transfer-encoding" && k != "content-length" {
                answer = answer.header(k, v.as_bytes());
            }
        }
        let bytes = res.bytes().await.map_err(|e| {
            unavailable(format!(
                "park {name}: reading its writer's answer: {e}; retry"
            ))
        })?;
        answer
            .body(Body::from(bytes))
            .map_err(|e| ApiError::internal(format!("forwarding the answer: {e}")))
    }

    fn caller(&self, req: &Request) -> Result<Caller, ApiError> {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        let caller = self.0.admins.caller(header)?;
        Access::Admin.check(&caller)?;
        Ok(caller)
    }
}

/// `req` as the park's own router takes it: at `uri` (the park's route), with its method,
/// headers, body and peer address, and without the deployment router's path parameters
/// (`park`, `rest`), to which axum would add the park route's own (a `Path` extractor then
/// finds four parameters where its route has two).
fn for_park(req: Request, uri: Uri) -> Request {
    let (parts, body) = req.into_parts();
    let mut out = Request::new(body);
    *out.method_mut() = parts.method;
    *out.uri_mut() = uri;
    *out.version_mut() = parts.version;
    *out.headers_mut() = parts.headers;
    if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        out.extensions_mut().insert(*peer);
    }
    out
}

fn standby_park(dir: &Path) -> Park {
    Park {
        dir: dir.to_path_buf(),
        at: tanji_park::store_at(dir).ok(),
        slot: Mutex::new(Slot::Standby {
            holder: None,
            why: "not opened yet".into(),
        }),
        tiles: OnceLock::new(),
        opening: tokio::sync::Mutex::new(()),
    }
}

async fn list_parks(State(parks): State<Parks>, req: Request) -> Result<Response, ApiError> {
    parks.caller(&req)?;
    Ok(Json(parks.list()).into_response())
}

async fn create_park(State(parks): State<Parks>, req: Request) -> Result<Response, ApiError> {
    let caller = parks.caller(&req)?;
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    let new: NewPark = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be {{\"park\": NAME, \"origin\": optional}}: {e}"
        ))
    })?;
    let created = parks.create(new).await?;
    tracing::info!(park = created.park, by = ?caller.name, "park created");
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn to_park(State(parks): State<Parks>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix("/parks/").unwrap_or_default();
    let (name, sub) = match rest.split_once('/') {
        Some((n, s)) => (n.to_string(), format!("/{s}")),
        None => (rest.to_string(), "/".to_string()),
    };
    parks.dispatch(&name, &sub, req).await
}

async fn to_single(State(parks): State<Parks>, req: Request) -> Response {
    match parks.0.single.clone() {
        Some(name) => {
            let path = req.uri().path().to_string();
            parks.dispatch(&name, &path, req).await
        }
        None => ApiError::not_found(format!(
            "no route {}: this deployment serves many parks, each under /parks/{{park}}/… (GET /parks lists them)",
            req.uri().path()
        ))
        .into_response(),
    }
}

/// Serves the deployment on `listener` until `shutdown` resolves, running the lease loop
/// every `lease.poll_ms`; then stops accepting connections, logs and answers what is pending
/// in every park served here, and returns.
pub async fn serve(
    listener: TcpListener,
    parks: Parks,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let addr = listener.local_addr().map_err(|e| ServerError::Io {
        context: "reading the listener's address".into(),
        source: e,
    })?;
    tracing::info!(%addr, parks = parks.names().len(), "serving");
    let http = &parks.0.config.http;
    let limits = crate::serve::Limits {
        header_read: http.header_read_timeout(),
        idle: http.idle_timeout(),
        max_connections: crate::serve::connection_limit(
            http.max_connections,
            crate::serve::open_file_limit(),
        ),
    };
    let (stop, stopped) = watch::channel(false);
    let serving = tokio::spawn(crate::serve::serve(
        listener,
        parks.router(),
        limits,
        stopped.clone(),
    ));
    let poll = parks.0.config.lease.poll();
    let looping = {
        let parks = parks.clone();
        let mut stopped = stopped;
        tokio::spawn(async move {
            loop {
                let stop = tokio::select! {
                    () = tokio::time::sleep(poll) => false,
                    changed = stopped.changed() => changed.is_err() || *stopped.borrow(),
                };
                if stop {
                    return;
                }
                parks.tick().await;
            }
        })
    };
    shutdown.await;
    tracing::info!("shutdown: no new connections; logging what is pending");
    let _ = stop.send(true);
    let _ = looping.await;
    parks.stop().await;
    let served = serving.await;
    served.map_err(|e| ServerError::Io {
        context: format!("serving on {addr}"),
        source: std::io::Error::other(e),
    })
}

/// Starts serving the deployment in `dir` for a server listening on `addr`: advertises this
/// instance's URL (`advertise_url`, else `http://<addr>` unless `addr` is a wildcard address)
/// as part of its lease holder name, and opens the deployment on the system clock
/// ([`Parks::open`]).
pub async fn start(dir: &Path, config: Config, addr: SocketAddr) -> Result<Parks, ServerError> {
    let url = config
        .advertise_url
        .clone()
        .or_else(|| (!addr.ip().is_unspecified()).then(|| format!("http://{addr}")));
    match &url {
        Some(url) => {
            tanji_park::advertise_url(url);
        }
        None => eprintln!(
            "no advertise_url and listening on a wildcard address: other instances cannot forward requests to this one (set advertise_url in the config)"
        ),
    }
    Parks::open(dir, config, Arc::new(tanji_park::SystemClock)).await
}

impl Parks {
    /// What `tanji serve` says once listening on `addr`: what it serves and writes.
    pub fn describe(&self, addr: SocketAddr) -> String {
        let stops = "Ctrl-C or SIGTERM stops after logging what is pending";
        let list = self.list();
        let mut out = String::new();
        if let Some(m) = &self.0.config.mqtt {
            let park = match (&self.0.single, &m.park) {
                (_, Some(p)) | (Some(p), None) => p.clone(),
                (None, None) => "<park>".into(),
            };
            out.push_str(&format!(
                "MQTT ingest from {} (by the writer of each park): uploads on {}, answers on {}\n",
                m.url,
                crate::mqtt::up_topic(&park, "+"),
                crate::mqtt::ack_topic(&park, "<device>")
            ));
        }
        match (&self.0.single, list.first()) {
            (Some(name), Some(p)) => match (&p.origin, self.park(name).map(|p| p.slot())) {
                (Some(origin), _) => out.push_str(&format!(
                    "tanji serving {origin} on http://{addr} (log size {}); {stops}",
                    p.size.unwrap_or(0)
                )),
                (None, Some(Slot::Standby { why, .. })) => out.push_str(&format!(
                    "tanji serving park {name} on http://{addr}, not writing it ({why}): forwarding its requests to its writer and standing by for its writer lease (tried every {} ms); {stops}",
                    self.0.config.lease.poll_ms
                )),
                _ => out.push_str(&format!("tanji serving park {name} on http://{addr}; {stops}")),
            },
            _ => out.push_str(&format!(
                "tanji serving {} parks ({} written here) on http://{addr}, each under /parks/{{park}}/…; {stops}",
                list.len(),
                list.iter().filter(|p| p.writer_here).count()
            )),
        }
        out
    }
}

/// How long a lease holder that died keeps others from writing its parks: `ttl_ms + poll_ms`.
pub fn failover_time(config: &Config) -> Duration {
    config.lease.ttl() + config.lease.poll()
}
