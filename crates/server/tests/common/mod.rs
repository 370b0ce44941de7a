//! Shared fixtures: a simulated park registered in a fresh park directory, and a server on
//! 127.0.0.1:0 with a shutdown switch.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::Path;

use tanji_park::Park;
use tanji_readings::{upload_to_json, SignedUpload};
use tanji_server::{AppState, Config, Server, ServerError};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// 2026-01-01T00:00:00Z: simulated days start here (in the past, so no interval is in the future).
pub const START: i64 = 1_767_225_600;

/// Tokens the fixtures configure.
pub const OPERATOR: &str = "tanji_test_operator";
pub const AUDITOR: &str = "tanji_test_auditor";
pub const ENTERPRISE_1: &str = "tanji_test_enterprise_1";
pub const ENTERPRISE_2: &str = "tanji_test_enterprise_2";

pub struct Fixture {
    pub dir: TempDir,
    pub sim: SimPark,
    /// The simulated uploads, in order (day, then device).
    pub uploads: Vec<SignedUpload>,
    pub vkey: String,
    pub origin: String,
}

/// A park with `enterprises` simulated devices registered and `days` of their uploads made
/// (not yet logged).
pub fn fixture(enterprises: usize, days: u32) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimPark::generate(ParkSpec {
        seed: 11,
        enterprises,
        start_day: START,
        days,
    });
    let mut park = Park::create(dir.path(), "test", None).unwrap();
    park.register(&sim.registrations(START - 86_400)).unwrap();
    let uploads: Vec<SignedUpload> = sim.uploads().collect();
    Fixture {
        vkey: park.verifier().to_string(),
        origin: park.origin().to_string(),
        dir,
        sim,
        uploads,
    }
}

impl Fixture {
    pub fn json(&self, i: usize) -> String {
        upload_to_json(&self.uploads[i])
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Enterprise id of simulated enterprise `i`.
    pub fn enterprise(&self, i: usize) -> String {
        self.sim.devices[i].enterprise.clone()
    }
}

/// Publishes a small SYNTHETIC hourly factor series (one region, a day-shaped curve) covering
/// the fixture's `days` and the day around them, so that the report-based query routes have
/// factors to compute with.
pub fn publish_factors(dir: &Path, days: u32) {
    let mut park = Park::open(dir).unwrap();
    let rows: Vec<tanji_factors::FactorRow> = (-24..(i64::from(days) + 1) * 24)
        .map(|h| {
            let start = START + h * 3600;
            // Low at local midday (04:00 UTC), high in the evening.
            let phase = (h.rem_euclid(24) as f64 - 4.0) / 24.0 * std::f64::consts::TAU;
            let g = (5000.0 - 1500.0 * phase.cos()).round() / 10.0;
            tanji_factors::FactorRow {
                region: "CN-test-synthetic".into(),
                start,
                end: start + 3600,
                production_direct: Some(g),
                production_lifecycle: None,
                consumption_direct: Some(g),
                consumption_lifecycle: None,
                consumption_mwh: 1000.0,
            }
        })
        .collect();
    let series = tanji_factors::Series {
        rows,
        issues: Vec::new(),
        calibrations: Vec::new(),
    };
    park.publish(&tanji_park::PublicationRequest {
        name: "CN-test-synthetic".into(),
        method: tanji_factors::METHOD.into(),
        content: series.to_csv().into_bytes(),
        regions: vec!["CN-test-synthetic".into()],
        period: (START - 86_400, START + (i64::from(days) + 1) * 86_400),
        intervals: series.rows.len() as u64,
        inputs: Vec::new(),
        calibrations: Vec::new(),
        published_at: START,
    })
    .unwrap();
}

/// The default test config: tokens for each role, a short batch window, and reports rebuilt
/// at every request after the log grew (tests compare them with the latest checkpoint).
pub fn config(fx: &Fixture) -> Config {
    let text = format!(
        r#"
[batch]
window_ms = 20

[dashboard]
report_refresh_ms = 0

[[tokens]]
name = "op"
sha256 = "{}"
role = "operator"

[[tokens]]
sha256 = "{}"
role = "auditor"

[[tokens]]
sha256 = "{}"
role = "enterprise:{}"

[[tokens]]
sha256 = "{}"
role = "enterprise:{}"
"#,
        hash(OPERATOR),
        hash(AUDITOR),
        hash(ENTERPRISE_1),
        fx.enterprise(0),
        hash(ENTERPRISE_2),
        fx.enterprise(1),
    );
    Config::parse(&text, "test config").unwrap()
}

fn hash(token: &str) -> String {
    hex::encode(tanji_server::auth::token_hash(token))
}

pub struct Running {
    pub url: String,
    pub state: AppState,
    pub routes: Vec<tanji_server::RouteInfo>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Running {
    /// Triggers a graceful shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    /// Triggers shutdown without waiting.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for `run` to return after [`Running::begin_stop`].
    pub async fn join(mut self) {
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }
}

pub async fn start(dir: &Path, config: Config) -> Running {
    start_on(dir, config, std::sync::Arc::new(tanji_park::SystemClock)).await
}

/// [`start`] on `clock`.
pub async fn start_on(
    dir: &Path,
    config: Config,
    clock: std::sync::Arc<dyn tanji_park::Clock>,
) -> Running {
    let server = Server::open_with_clock(dir, config, clock).unwrap();
    let state = server.state().clone();
    let routes = server.routes().to_vec();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(tanji_server::run(listener, server, async move {
        let _ = rx.await;
    }));
    Running {
        url,
        state,
        routes,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs uploads `range` of the fixture in one request; each must be answered `accepted`.
pub async fn post_uploads(srv: &Running, fx: &Fixture, range: std::ops::Range<usize>) {
    let body = format!(
        "[{}]",
        range.map(|i| fx.json(i)).collect::<Vec<_>>().join(",")
    );
    let res = client()
        .post(srv.at("/api/v1/uploads"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answers: serde_json::Value = res.json().await.unwrap();
    assert!(
        answers
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "accepted"),
        "{answers}"
    );
}

/// Publishes an enterprise inputs document `name` in which every enterprise of `fx` made one
/// product over the fixture's `days` and declares it for footprints, so that the inventory and
/// footprint routes answer.
pub fn publish_footprint_inputs(fx: &Fixture, days: u32, name: &str) {
    let end = START + i64::from(days) * 86_400;
    let enterprises: serde_json::Map<String, serde_json::Value> = (0..fx.sim.devices.len())
        .map(|i| {
            let e = fx.enterprise(i);
            let doc = serde_json::json!({
                "products": {
                    "production": [{"product": "P", "cn_code": "7208 51 20", "kg": 10_000, "start": START, "end": end}],
                    "country_default": {"value": 581.0, "source": "illustrative country average for the test, gCO2/kWh"}
                },
                "footprint": {
                    "company_name": format!("Test {e}"), "company_ids": [format!("urn:test:company:{e}")], "country": "CN",
                    "products": {"P": {"name": "Plate", "description": "steel plate", "cpc": "41231", "ids": [format!("urn:test:{e}:plate")]}}
                }
            });
            (e, doc)
        })
        .collect();
    let mut park = Park::open(fx.path()).unwrap();
    park.publish(&tanji_park::PublicationRequest {
        name: name.into(),
        method: tanji_report::INPUTS_METHOD.into(),
        content: serde_json::to_vec(&serde_json::json!({ "enterprises": enterprises })).unwrap(),
        regions: Vec::new(),
        period: (0, 0),
        intervals: 0,
        inputs: Vec::new(),
        calibrations: Vec::new(),
        published_at: START,
    })
    .unwrap();
}
