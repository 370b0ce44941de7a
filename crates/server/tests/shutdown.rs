//! Graceful shutdown: requests waiting for their batch when shutdown begins are logged and
//! answered, nothing acknowledged is lost, and later submissions are refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{client, config, fixture, start};
use serde_json::Value;
use tanji_park::{Incoming, Park};
use tanji_readings::parse_json_upload;
use tanji_server::ServerError;

#[tokio::test]
async fn shutdown_logs_and_answers_what_is_pending() {
    let fx = fixture(4, 5);
    let mut cfg = config(&fx);
    // A window far longer than the test: the batch is logged because shutdown begins, not
    // because the window ended.
    cfg.batch.window_ms = 600_000;
    let mut srv = start(fx.path(), cfg).await;
    let registered = srv.state.head().size;
    let sequencer = srv.state.sequencer().clone();
    let http = client();
    let n = fx.uploads.len();
    let mut requests = Vec::new();
    for i in 0..n {
        let req = http.post(srv.at("/api/v1/uploads")).body(fx.json(i));
        requests.push(tokio::spawn(async move { req.send().await }));
    }
    // Wait until every record is with the sequencer (a condition, not a duration).
    while sequencer.pending() < n as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        srv.state.head().size,
        registered,
        "nothing logged before shutdown"
    );
    srv.begin_stop();
    let mut indices = Vec::new();
    for r in requests {
        let res = r.await.unwrap().unwrap();
        assert_eq!(res.status(), 200);
        let a: Value = res.json().await.unwrap();
        assert_eq!(a["status"], "accepted", "{a}");
        indices.push(a["index"].as_u64().unwrap());
    }
    let url = srv.at("/checkpoint");
    srv.join().await;

    // Every acknowledged record is in the log, at the index it was given.
    indices.sort_unstable();
    assert_eq!(
        indices,
        (registered..registered + n as u64).collect::<Vec<_>>()
    );
    let park = Park::open(fx.path()).unwrap();
    assert_eq!(park.size(), registered + n as u64);
    let audit = park.audit(&Default::default(), &mut |_, _| {}).unwrap();
    assert!(audit.ok(), "{:?}", audit.findings);

    // The listener is closed and the sequencer refuses new work.
    assert!(http.get(&url).send().await.is_err());
    let item = Incoming {
        source: "late".into(),
        raw: fx.json(0).into_bytes(),
        parsed: parse_json_upload(&fx.json(0)),
        checked: None,
    };
    assert!(matches!(
        sequencer.submit(vec![item]).await,
        Err(ServerError::ShuttingDown)
    ));
}
