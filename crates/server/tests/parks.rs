//! Many parks in one process: a deployment directory with two parks, each with its own
//! devices and tokens, and an admin who creates a third over HTTP.
//!
//! - Isolation: a park's tokens are unknown (401) in the other park and on the deployment's
//!   routes; the admin's token is unknown inside a park; an upload reaches only the park it is
//!   posted to (a device of park A is unknown to park B: rejected there, nothing logged).
//! - Every route of a park answers under `/parks/{park}/…`, those with path parameters too
//!   (a tile).
//! - `POST /parks` creates a park that is served at once (no restart): its operator registers
//!   a device and the device's uploads are acknowledged there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{client, START};
use serde_json::{json, Value};
use tanji_park::{ManualClock, Park};
use tanji_readings::upload_to_json;
use tanji_server::parks::{self, Parks};
use tanji_server::Config;
use tanji_simulator::{Park as SimPark, ParkSpec};

const ADMIN: &str = "tanji_test_admin";
const OPERATOR_A: &str = "tanji_test_operator_a";
const OPERATOR_B: &str = "tanji_test_operator_b";

fn hash(token: &str) -> String {
    hex::encode(tanji_server::auth::token_hash(token))
}

fn sim(seed: u64) -> SimPark {
    SimPark::generate(ParkSpec {
        seed,
        enterprises: 1,
        start_day: START,
        days: 1,
    })
}

/// A park `name` in the deployment `root` with `sim`'s devices registered.
fn park(root: &Path, name: &str, sim: &SimPark) {
    let mut park = Park::create(&root.join(parks::PARKS_DIR).join(name), name, None).unwrap();
    park.register(&sim.registrations(START - 86_400)).unwrap();
}

struct Deployment {
    url: String,
    parks: Parks,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), tanji_server::ServerError>>,
}

async fn serve(root: &Path, clock: Arc<ManualClock>) -> Deployment {
    let config = Config::parse(
        &format!(
            r#"
[batch]
window_ms = 20

[[tokens]]
sha256 = "{}"
role = "admin"

[[tokens]]
sha256 = "{}"
role = "operator"
park = "a"

[[tokens]]
sha256 = "{}"
role = "operator"
park = "b"
"#,
            hash(ADMIN),
            hash(OPERATOR_A),
            hash(OPERATOR_B)
        ),
        "test config",
    )
    .unwrap();
    let parks = Parks::open(root, config, clock).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(parks::serve(listener, parks.clone(), async move {
        let _ = stopped.await;
    }));
    Deployment {
        url,
        parks,
        stop,
        task,
    }
}

async fn call(method: &str, url: &str, token: Option<&str>, body: Option<String>) -> (u16, Value) {
    let http = client();
    let mut req = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parks_of_one_process_are_isolated_and_an_admin_adds_one_without_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let (sim_a, sim_b, sim_c) = (sim(11), sim(12), sim(13));
    park(root.path(), "a", &sim_a);
    park(root.path(), "b", &sim_b);
    let clock = Arc::new(ManualClock::at(START + 2 * 86_400));
    let d = serve(root.path(), clock.clone()).await;
    let at = |p: &str| format!("{}{p}", d.url);

    // An upload lands in the park it is posted to: accepted in A, and A's device is unknown
    // to B (rejected, nothing logged there).
    let upload = upload_to_json(&sim_a.uploads().next().unwrap());
    let size_b = d.parks.serving("b").unwrap().head().size;
    let (status, a) = call(
        "POST",
        &at("/parks/a/api/v1/uploads"),
        None,
        Some(upload.clone()),
    )
    .await;
    assert_eq!(
        (status, a["status"].as_str()),
        (200, Some("accepted")),
        "{a}"
    );
    let (status, b) = call("POST", &at("/parks/b/api/v1/uploads"), None, Some(upload)).await;
    assert_eq!(
        (status, b["status"].as_str()),
        (200, Some("rejected")),
        "{b}"
    );
    assert_eq!(d.parks.serving("b").unwrap().head().size, size_b);
    // Each park's log is its own: its own origin.
    let (_, log_a) = call("GET", &at("/parks/a/api/v1/log"), None, None).await;
    let (_, log_b) = call("GET", &at("/parks/b/api/v1/log"), None, None).await;
    assert_eq!(log_a["origin"], "tanji/a");
    assert_eq!(log_b["origin"], "tanji/b");
    assert_ne!(log_a["vkey"], log_b["vkey"]);
    // A route with path parameters answers under /parks/{park}/… too: a tile of A's log, as
    // its store makes it.
    let size_a = d.parks.serving("a").unwrap().head().size;
    let tile = tanji_ledger::TileRef {
        level: 0,
        index: 0,
        width: u16::try_from(size_a).unwrap(),
    };
    let res = client()
        .get(at(&format!("/parks/a/{}", tile.path())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let store = Park::open_store(&root.path().join(parks::PARKS_DIR).join("a")).unwrap();
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        tanji_ledger::tile_bytes(&store, &tile).unwrap()
    );

    // A park's token works in its park only; the admin's in none.
    let (status, _) = call("GET", &at("/parks/a/api/v1/status"), Some(OPERATOR_A), None).await;
    assert_eq!(status, 200);
    for (token, url) in [
        (OPERATOR_A, "/parks/b/api/v1/status"),
        (OPERATOR_B, "/parks/a/api/v1/status"),
        (ADMIN, "/parks/a/api/v1/status"),
        (OPERATOR_A, "/parks"),
    ] {
        let (status, body) = call("GET", &at(url), Some(token), None).await;
        assert_eq!(status, 401, "{url}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    // A park's operator cannot create parks either, nor can an anonymous caller.
    let new = json!({"park": "c"}).to_string();
    let (status, _) = call("POST", &at("/parks"), Some(OPERATOR_A), Some(new.clone())).await;
    assert_eq!(status, 401);
    let (status, _) = call("POST", &at("/parks"), None, Some(new.clone())).await;
    assert_eq!(status, 401);
    // The deployment has no park at the root.
    let (status, _) = call("GET", &at("/api/v1/log"), None, None).await;
    assert_eq!(status, 404);
    let (status, body) = call("GET", &at("/parks/nowhere/api/v1/log"), None, None).await;
    assert_eq!(status, 404, "{body}");

    // The admin lists the parks, and creates a third.
    let (status, list) = call("GET", &at("/parks"), Some(ADMIN), None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["park"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let (status, bad) = call(
        "POST",
        &at("/parks"),
        Some(ADMIN),
        Some(json!({"park": ".."}).to_string()),
    )
    .await;
    assert_eq!(status, 400, "{bad}");
    clock.set(START - 3600);
    let (status, created) = call("POST", &at("/parks"), Some(ADMIN), Some(new.clone())).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["origin"], "tanji/c");
    assert_eq!(created["writer_here"], true);
    let (status, _) = call("POST", &at("/parks"), Some(ADMIN), Some(new)).await;
    assert_eq!(status, 409);
    let token_c = created["operator_token"].as_str().unwrap().to_string();
    // Its operator registers its device's meters, and the device's uploads are logged there.
    for dev in &sim_c.devices {
        for m in &dev.meters {
            let body = json!({
                "device": dev.device,
                "public_key": hex::encode(dev.key.verifying_key().to_bytes()),
                "enterprise": dev.enterprise,
                "meter": m.meter,
                "carrier": m.carrier,
                "unit": m.unit,
                "rated_per_hour": m.rated_per_hour_milli as f64 / 1000.0,
            });
            let (status, r) = call(
                "POST",
                &at("/parks/c/api/v1/devices"),
                Some(&token_c),
                Some(body.to_string()),
            )
            .await;
            assert_eq!(status, 201, "{r}");
        }
    }
    let (status, _) = call("GET", &at("/parks/a/api/v1/status"), Some(&token_c), None).await;
    assert_eq!(status, 401, "park c's operator in park a");
    clock.set(START + 2 * 86_400);
    let registered = d.parks.serving("c").unwrap().head().size;
    let uploads: Vec<String> = sim_c.uploads().map(|u| upload_to_json(&u)).collect();
    let body = format!("[{}]", uploads.join(","));
    let (status, answers) = call("POST", &at("/parks/c/api/v1/uploads"), None, Some(body)).await;
    assert_eq!(status, 200, "{answers}");
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), uploads.len());
    assert!(
        answers.iter().all(|a| a["status"] == "accepted"),
        "{answers:?}"
    );
    // Park c's log grew by its uploads, one entry each; a's and b's did not.
    assert_eq!(
        d.parks.serving("c").unwrap().head().size,
        registered + uploads.len() as u64
    );
    assert_eq!(d.parks.serving("b").unwrap().head().size, size_b);
    assert!(root
        .path()
        .join("parks/c")
        .join(parks::TOKENS_FILE)
        .exists());

    d.stop.send(()).unwrap();
    d.task.await.unwrap().unwrap();
}

/// Parks of the many-parks test.
const MANY: usize = 200;

/// A deployment of 200 parks in one process: each is opened (its own sequencer), and an
/// upload posted to each lands in that park's log, one entry, and in no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_serves_two_hundred_parks() {
    let root = tempfile::tempdir().unwrap();
    let sims: Vec<SimPark> = (0..MANY).map(|p| sim(100 + p as u64)).collect();
    for (p, s) in sims.iter().enumerate() {
        park(root.path(), &format!("p{p:03}"), s);
    }
    let d = serve(root.path(), Arc::new(ManualClock::at(START + 2 * 86_400))).await;
    assert_eq!(d.parks.names().len(), MANY);
    let sizes: Vec<u64> = (0..MANY)
        .map(|p| d.parks.serving(&format!("p{p:03}")).unwrap().head().size)
        .collect();
    for (p, s) in sims.iter().enumerate() {
        let upload = upload_to_json(&s.uploads().next().unwrap());
        let url = format!("{}/parks/p{p:03}/api/v1/uploads", d.url);
        let (status, a) = call("POST", &url, None, Some(upload)).await;
        assert_eq!(
            (status, a["status"].as_str()),
            (200, Some("accepted")),
            "p{p:03}: {a}"
        );
        // Acknowledged at the park's next index: its own log.
        assert_eq!(a["index"].as_u64(), Some(sizes[p]), "p{p:03}: {a}");
    }
    for (p, size) in sizes.iter().enumerate() {
        let state = d.parks.serving(&format!("p{p:03}")).unwrap();
        assert_eq!(
            state.head().size,
            size + 1,
            "p{p:03}: one upload, one entry"
        );
    }
    d.stop.send(()).unwrap();
    d.task.await.unwrap().unwrap();
}
