//! The server's limits against clients that hold or flood it: idle connections beyond the cap,
//! slow-loris heads, stalled bodies, over-long report periods, one caller's share of report
//! builds, the whole build queue, peers whose uploads keep being refused; and the shape of
//! every error answer (the JSON error body, also for the framework's own rejections), the
//! case of the `Bearer` scheme, and a full disk answered as retryable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::{config, fixture, publish_factors, start, ENTERPRISE_1, OPERATOR};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bound on how long a test waits for the server to do what it must; reaching it fails the
/// test (the server held the connection), it is not a measurement.
const GUARD: Duration = Duration::from_secs(20);

/// Reads until the server closes the connection (or resets it); what it sent before.
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

/// Requires the documented error body: `application/json`, `{"error": "<code>", "message": …}`.
async fn error_body(res: reqwest::Response, what: &str) -> Value {
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(
        ct.starts_with("application/json"),
        "{what}: {status} with content-type {ct:?}: {text}"
    );
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: {status} body is not JSON ({e}): {text}"));
    assert!(
        v["error"].as_str().is_some_and(|c| !c.is_empty())
            && v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {status} body is not {{error, message}}: {v}"
    );
    v
}

#[tokio::test]
async fn idle_connections_beyond_the_cap_do_not_stop_a_normal_request() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.max_connections = Some(8);
    let srv = start(fx.path(), cfg).await;
    let addr = srv.url.trim_start_matches("http://").to_string();
    // Three times the cap of connections that never send a byte.
    let mut idle = Vec::new();
    for _ in 0..24 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let res = tokio::time::timeout(GUARD, common::client().get(srv.at("/checkpoint")).send())
        .await
        .expect("a normal request was not answered while idle connections filled the cap")
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().starts_with(&fx.origin));
    // The server made room by closing idle connections: all but the cap's worth are closed.
    let mut closed = 0;
    for s in idle {
        let s = s.into_std().unwrap();
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        if matches!(std::io::Read::read(&mut &s, &mut buf), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert!(
        closed >= 24 - 8,
        "only {closed} of 24 idle connections were closed"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_new_connection_when_every_allowed_one_is_busy_gets_503_and_is_closed() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.max_connections = Some(2);
    let srv = start(fx.path(), cfg).await;
    let addr = srv.url.trim_start_matches("http://").to_string();
    // Two uploads whose bodies never finish: their handlers are running, so neither
    // connection may be closed to make room.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/uploads HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{\"a\":",
        )
        .await
        .unwrap();
        busy.push(s);
    }
    // The third connection is answered at once, with the JSON error body, and closed. (The
    // first two may still be waiting to be accepted: retry until one is refused.)
    let mut refused = String::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /checkpoint HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let got = read_until_closed(&mut s).await;
        if got.starts_with("HTTP/1.1 503") {
            refused = got;
            break;
        }
    }
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("retry-after: 1"), "{refused}");
    let body: Value = serde_json::from_str(refused.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"], "too_many_connections");
    assert!(body["message"].as_str().unwrap().contains("2 connections"));
    drop(busy);
    srv.stop().await;
}

#[tokio::test]
async fn a_slow_loris_client_is_closed_after_the_header_read_timeout() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.header_read_timeout_ms = 200;
    let srv = start(fx.path(), cfg).await;
    let addr = srv.url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    // Half a head, then nothing.
    s.write_all(b"GET /checkpoint HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .unwrap();
    let got = read_until_closed(&mut s).await;
    assert!(
        !got.contains("200 OK"),
        "a half head must not be answered: {got}"
    );
    // A kept-alive connection that sends no next request is closed the same way.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /checkpoint HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut s).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    srv.stop().await;
}

#[tokio::test]
async fn a_stalled_upload_body_ends_after_the_idle_timeout() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.idle_timeout_ms = 200;
    let srv = start(fx.path(), cfg).await;
    let addr = srv.url.trim_start_matches("http://").to_string();
    let mut s = TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /api/v1/uploads HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n[{")
        .await
        .unwrap();
    let got = read_until_closed(&mut s).await;
    // Answered (a 4xx with the JSON body) or just closed; never held.
    assert!(!got.contains("200 OK"), "{got}");
    srv.stop().await;
}

#[tokio::test]
async fn a_period_longer_than_an_enterprise_may_ask_is_400_naming_the_limit() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let e = fx.enterprise(0);
    for path in [
        format!("/api/v1/enterprises/{e}/emissions?from=1926-01-01&to=2026-12-31"),
        format!("/api/v1/enterprises/{e}/report?format=csv&from=2025-01-01&to=2026-01-02"),
        format!("/api/v1/enterprises/{e}/loads?from=2020-01-01&to=2026-01-01"),
    ] {
        let res = common::client()
            .get(srv.at(&path))
            .bearer_auth(ENTERPRISE_1)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let v = error_body(res, &path).await;
        assert_eq!(v["error"], "period_too_long", "{v}");
        let m = v["message"].as_str().unwrap();
        assert!(
            m.contains("at most 366 days") && m.contains("reports.enterprise_max_days"),
            "{m}"
        );
    }
    // A calendar year is within it; the operator may ask for more.
    let year = format!("/api/v1/enterprises/{e}/emissions?from=2024-01-01&to=2024-12-31");
    let res = common::client()
        .get(srv.at(&year))
        .bearer_auth(ENTERPRISE_1)
        .send()
        .await
        .unwrap();
    assert_ne!(res.status(), 400, "{}", res.text().await.unwrap());
    let century = "/api/v1/park/emissions?from=1926-01-01&to=2026-12-31";
    let res = common::client()
        .get(srv.at(century))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v = error_body(res, century).await;
    assert!(v["message"].as_str().unwrap().contains("reports.max_days"));
    srv.stop().await;
}

/// Blocks the background report thread until the returned sender is dropped or sent to, so
/// that every report build waits in the queue; returns once the thread is blocked.
async fn block_report_builds(srv: &common::Running) -> std::sync::mpsc::Sender<()> {
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, blocked) = tokio::sync::oneshot::channel();
    let reader = srv.state.reader().clone();
    tokio::spawn(async move {
        reader
            .in_background(move |_| {
                let _ = started.send(());
                let _ = wait.recv();
                Ok(())
            })
            .await
    });
    blocked.await.unwrap();
    release
}

async fn get_as(srv: &common::Running, token: &str, path: &str) -> reqwest::Response {
    common::client()
        .get(srv.at(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_caller_over_its_share_of_report_builds_gets_429_and_others_are_still_served() {
    let fx = fixture(2, 1);
    publish_factors(fx.path(), 1);
    let mut cfg = config(&fx);
    cfg.reports.builds_per_caller = 1;
    cfg.reports.builds_total = 4;
    let srv = start(fx.path(), cfg).await;
    common::post_uploads(&srv, &fx, 0..fx.uploads.len()).await;
    let srv = std::sync::Arc::new(srv);
    let release = block_report_builds(&srv).await;
    let e = fx.enterprise(0);
    // Two builds by one token (two periods): one waits in the queue, the other is refused.
    let ask = |day: &'static str| {
        let (srv, e) = (std::sync::Arc::clone(&srv), e.clone());
        tokio::spawn(async move {
            get_as(
                &srv,
                ENTERPRISE_1,
                &format!("/api/v1/enterprises/{e}/emissions?from={day}&to={day}"),
            )
            .await
        })
    };
    let (mut a, mut b) = (ask("2026-01-01"), ask("2026-01-02"));
    let (first, waiting) = tokio::select! {
        r = &mut a => (r.unwrap(), b),
        r = &mut b => (r.unwrap(), a),
    };
    assert_eq!(first.status(), 429);
    let retry: u64 = first.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let v = error_body(first, "over the share").await;
    assert_eq!(v["error"], "too_many_requests");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("reports.builds_per_caller"));
    // Another caller is not refused: its build queues and is served once the thread is free.
    let other = {
        let srv = std::sync::Arc::clone(&srv);
        tokio::spawn(async move { get_as(&srv, OPERATOR, "/api/v1/park/emissions").await })
    };
    release.send(()).unwrap();
    let other = other.await.unwrap();
    assert_eq!(other.status(), 200, "{}", other.text().await.unwrap());
    assert_eq!(waiting.await.unwrap().status(), 200);
    std::sync::Arc::into_inner(srv).unwrap().stop().await;
}

#[tokio::test]
async fn report_builds_are_taken_in_turn_by_caller_not_first_come() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    let release = block_report_builds(&srv).await;
    let reader = srv.state.reader().clone();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let job = |owner: &str, name: &'static str| {
        let order = std::sync::Arc::clone(&order);
        reader.in_background_for(owner, move |_| {
            order.lock().unwrap().push(name);
            Ok(())
        })
    };
    // One caller queues three builds, then another caller one: the other's comes second.
    let queued = vec![
        job("a", "a1"),
        job("a", "a2"),
        job("a", "a3"),
        job("b", "b1"),
    ];
    release.send(()).unwrap();
    for q in queued {
        q.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["a1", "b1", "a2", "a3"]);
    srv.stop().await;
}

#[tokio::test]
async fn when_the_whole_build_queue_is_full_a_request_gets_503_with_retry_after() {
    let fx = fixture(2, 1);
    publish_factors(fx.path(), 1);
    let mut cfg = config(&fx);
    cfg.reports.builds_per_caller = 1;
    cfg.reports.builds_total = 2;
    let srv = start(fx.path(), cfg).await;
    common::post_uploads(&srv, &fx, 0..fx.uploads.len()).await;
    let srv = std::sync::Arc::new(srv);
    let release = block_report_builds(&srv).await;
    let (e1, e2) = (fx.enterprise(0), fx.enterprise(1));
    let ask = |token: &'static str, path: String| {
        let srv = std::sync::Arc::clone(&srv);
        tokio::spawn(async move { get_as(&srv, token, &path).await })
    };
    // Three callers, room for two: one of them is refused at once.
    let mut asks = vec![
        ask(ENTERPRISE_1, format!("/api/v1/enterprises/{e1}/emissions")),
        ask(
            common::ENTERPRISE_2,
            format!("/api/v1/enterprises/{e2}/emissions"),
        ),
        ask(OPERATOR, "/api/v1/park/emissions".into()),
    ];
    let (first, _, rest) = futures_util::future::select_all(asks.drain(..)).await;
    let first = first.unwrap();
    assert_eq!(first.status(), 503);
    assert!(first.headers().contains_key("retry-after"));
    let v = error_body(first, "queue full").await;
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("reports.builds_total"));
    release.send(()).unwrap();
    for r in rest {
        assert_eq!(r.await.unwrap().status(), 200);
    }
    std::sync::Arc::into_inner(srv).unwrap().stop().await;
}

#[tokio::test]
async fn a_peer_whose_uploads_keep_being_refused_is_slowed_and_others_are_not() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.refusals_per_window = 3;
    cfg.http.refusal_window_ms = 3_600_000;
    let srv = start(fx.path(), cfg).await;
    let from = |ip: &str| {
        reqwest::Client::builder()
            .local_address(ip.parse::<IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let bad = from("127.0.0.1");
    // Three refusals: a malformed record (rejected), a body that is not JSON (400), a
    // malformed record again.
    for body in ["{\"device\": 1}", "not json", "{\"seq\": \"x\"}"] {
        let res = bad
            .post(srv.at("/api/v1/uploads"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 429, "{body}");
    }
    // Now even a good record from that peer is slowed.
    let res = bad
        .post(srv.at("/api/v1/uploads"))
        .body(fx.json(0))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let v = error_body(res, "slowed peer").await;
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("http.refusals_per_window"));
    // Another peer's good record is logged.
    let good = from("127.0.0.2");
    let res = good
        .post(srv.at("/api/v1/uploads"))
        .body(fx.json(0))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "accepted", "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let fx = fixture(2, 1);
    let srv = start(fx.path(), config(&fx)).await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let res = common::client()
            .get(srv.at("/api/v1/status"))
            .header("authorization", format!("{scheme} {OPERATOR}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{scheme}");
    }
    for value in [format!("Basic {OPERATOR}"), format!("Bearer{OPERATOR}")] {
        let res = common::client()
            .get(srv.at("/api/v1/status"))
            .header("authorization", value.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{value}");
        error_body(res, &value).await;
    }
    srv.stop().await;
}

/// A concrete path for a route pattern, its parameters replaced by `value`.
fn fill(pattern: &str, value: &str) -> String {
    pattern
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                value.to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_error_answer_over_the_route_table_is_the_json_error_body() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.max_body_bytes = 1024;
    let srv = start(fx.path(), cfg).await;
    let c = common::client();
    let mut checked = 0;
    for r in &srv.routes {
        let example = r.example.replace("{enterprise}", &fx.enterprise(0));
        let other_method = if r.method == "GET" { "DELETE" } else { "PUT" };
        let wrong = reqwest::Method::from_bytes(other_method.as_bytes()).unwrap();
        let res = c
            .request(wrong, srv.at(&example))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{other_method} {}", r.path);
        error_body(res, &format!("{other_method} {}", r.path)).await;
        // Malformed parameters in the path and the query.
        let bad = [
            format!(
                "{}?from=yesterday&to=&days=many&max=-1&day=31-12&format=pdf&lang=xx",
                fill(r.path, "e-0001")
            ),
            fill(r.path, "%FF%FE"),
            format!("{}?%zz=1", fill(r.path, "..")),
        ];
        for url in bad {
            let req = if r.method == "GET" {
                c.get(srv.at(&url))
            } else {
                c.post(srv.at(&url)).body("{\"truncated\": ")
            };
            let res = req.bearer_auth(OPERATOR).send().await.unwrap();
            if res.status().is_client_error() || res.status().is_server_error() {
                error_body(res, &format!("{} {url}", r.method)).await;
                checked += 1;
            }
        }
    }
    assert!(
        checked > srv.routes.len(),
        "only {checked} error answers walked"
    );
    // Unknown routes, bodies over the limit, JSON syntax, unknown and malformed tokens.
    let cases = [
        (c.get(srv.at("/no/such/route")), 404),
        (
            c.post(srv.at("/api/v1/uploads")).body(vec![b' '; 4096]),
            413,
        ),
        (c.post(srv.at("/api/v1/uploads")).body("[{\"a\": }]"), 400),
        (c.get(srv.at("/api/v1/status")).bearer_auth("nope"), 401),
        (
            c.get(srv.at("/api/v1/park/emissions"))
                .bearer_auth(ENTERPRISE_1),
            403,
        ),
    ];
    for (req, status) in cases {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), status);
        error_body(res, &format!("expected {status}")).await;
    }
    srv.stop().await;
}

#[test]
fn a_full_disk_is_a_retryable_503_not_an_internal_error() {
    let full = || tanji_store::StoreError::Sqlite {
        path: "park.db".into(),
        context: "appending a batch".into(),
        source: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            Some("database or disk is full".into()),
        ),
    };
    assert!(full().is_storage_full());
    // Read path (a handler's store error) and write path (the sequencer's batch failure).
    let batch = tanji_server::ServerError::batch_failed(&tanji_park::ParkError::Store(full()));
    assert!(matches!(batch, tanji_server::ServerError::StorageFull(_)));
    for e in [
        tanji_server::ApiError::from(full()),
        tanji_server::ApiError::from(batch),
    ] {
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.body.error, "storage_full");
        let res = e.into_response();
        assert!(res.headers().contains_key("retry-after"));
    }
    // Another store failure stays an internal error.
    let other = tanji_store::StoreError::Corrupt("a hash of 3 bytes".into());
    assert!(!other.is_storage_full());
    assert_eq!(
        tanji_server::ApiError::from(other).status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
