//! The dashboard on a park a new user has set up by the README: an inputs publication beside
//! the factor series takes no factor view down, and a sequence gap that has been filled since
//! is no longer listed as an issue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{client, config, fixture, publish_factors, start, OPERATOR, START};
use serde_json::Value;
use tanji_park::Park;

async fn get(srv: &common::Running, path: &str) -> (u16, String) {
    let res = client()
        .get(srv.at(path))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn json_at(srv: &common::Running, path: &str) -> Value {
    let (status, body) = get(srv, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn factor_views_answer_with_an_inputs_publication_logged() {
    let fx = fixture(2, 1);
    publish_factors(fx.path(), 1);
    {
        let mut park = Park::open(fx.path()).unwrap();
        let doc = format!("{{\"enterprises\":{{\"{}\":{{}}}}}}", fx.enterprise(0));
        park.publish(&tanji_park::PublicationRequest {
            name: "e1-inputs".into(),
            method: tanji_report::INPUTS_METHOD.into(),
            content: doc.into_bytes(),
            regions: Vec::new(),
            period: (0, 0),
            intervals: 0,
            inputs: Vec::new(),
            calibrations: Vec::new(),
            published_at: START,
        })
        .unwrap();
    }
    let srv = start(fx.path(), config(&fx)).await;
    let list = json_at(&srv, "/api/v1/factors").await;
    let text = list.to_string();
    assert!(text.contains("CN-test-synthetic@v1"), "{text}");
    assert!(!text.contains("e1-inputs"), "{text}");
    let curve = json_at(&srv, "/api/v1/factors/curve?day=2026-01-01").await;
    assert_eq!(curve["publication"], "CN-test-synthetic@v1", "{curve}");
    assert_eq!(curve["hours"].as_array().map(Vec::len), Some(24), "{curve}");
    // Asking for the inputs publication as factors is a 404 naming the factor series.
    let (status, body) = get(&srv, "/api/v1/factors/curve?publication=e1-inputs").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("CN-test-synthetic@v1"), "{body}");
    let status = json_at(&srv, "/api/v1/status").await;
    assert_eq!(
        status["publications"],
        serde_json::json!(["CN-test-synthetic@v1"])
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_filled_sequence_gap_is_no_longer_an_issue() {
    let fx = fixture(2, 3);
    publish_factors(fx.path(), 3);
    let srv = start(fx.path(), config(&fx)).await;
    // The first device's uploads, one a day.
    let device = fx.uploads[0].body.device.clone();
    let mine: Vec<usize> = (0..fx.uploads.len())
        .filter(|&i| fx.uploads[i].body.device == device)
        .collect();
    let seqs: Vec<u64> = mine.iter().map(|&i| fx.uploads[i].body.seq).collect();
    assert_eq!(seqs, [1, 2, 3], "one upload a day");
    let post = |k: usize| {
        let i = mine[k];
        let body = format!("[{}]", fx.json(i));
        let url = srv.at("/api/v1/uploads");
        async move {
            let res = client().post(url).body(body).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let v: Value = res.json().await.unwrap();
            assert_eq!(v[0]["status"], "accepted", "{v}");
            v
        }
    };
    // Seq 1, then 3: records 2..=2 are noted missing.
    post(0).await;
    let answer = post(2).await;
    assert_eq!(answer[0]["issues"][0]["code"], "sequence_gap", "{answer}");
    let issues = json_at(&srv, "/api/v1/park/issues").await;
    assert_eq!(issues["ingest_issue_count"], 1, "{issues}");
    // Seq 2 arrives late: the gap is filled and is no longer listed.
    post(1).await;
    let issues = json_at(&srv, "/api/v1/park/issues").await;
    assert_eq!(issues["ingest_issue_count"], 0, "{issues}");
    assert!(!issues.to_string().contains("may still arrive"), "{issues}");
    srv.stop().await;
}
