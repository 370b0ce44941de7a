//! HTTP ingest: answers come after the batch is durable, with a proof that verifies against
//! the signed checkpoint; bad requests get a 4xx that says what and where, and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::{client, config, fixture, start};
use serde_json::Value;
use tanji_ledger::{leaf_hash, open_checkpoint, verify_inclusion, NoteVerifier};
use tanji_park::Park;
use tanji_readings::LogEntry;
use tanji_store::{Store, StoreExt};

fn b64(s: &str) -> [u8; 32] {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap()
        .try_into()
        .unwrap()
}

/// Checks an `accepted`/`duplicate` answer: the checkpoint is signed by the log, and the proof
/// leads from the record's leaf hash to its root.
fn check_logged(answer: &Value, upload: &tanji_readings::SignedUpload, vkey: &str) -> u64 {
    let verifier = vkey.parse::<NoteVerifier>().unwrap();
    let cp = open_checkpoint(answer["checkpoint"].as_str().unwrap(), &verifier).unwrap();
    let size = answer["tree_size"].as_u64().unwrap();
    assert_eq!(cp.size, size);
    let index = answer["index"].as_u64().unwrap();
    let proof: Vec<[u8; 32]> = answer["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| b64(h.as_str().unwrap()))
        .collect();
    let leaf = leaf_hash(&LogEntry::Upload(upload.clone()).to_bytes());
    verify_inclusion(&leaf, index, size, &proof, &cp.root).unwrap();
    index
}

#[tokio::test]
async fn one_record_then_an_array_then_duplicates_and_a_bad_signature() {
    let fx = fixture(3, 4);
    let srv = start(fx.path(), config(&fx)).await;
    let http = client();
    let registered = srv.state.head().size;

    // One object in, one answer object out.
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(fx.json(0))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["status"], "accepted", "{a}");
    assert_eq!(check_logged(&a, &fx.uploads[0], &fx.vkey), registered);

    // An array in, an array of answers out, in order; every proof verifies.
    let body = format!(
        "[{}]",
        (1..8).map(|i| fx.json(i)).collect::<Vec<_>>().join(",")
    );
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answers: Vec<Value> = res.json().await.unwrap();
    assert_eq!(answers.len(), 7);
    for (k, a) in answers.iter().enumerate() {
        assert_eq!(a["status"], "accepted", "{a}");
        assert_eq!(
            check_logged(a, &fx.uploads[k + 1], &fx.vkey),
            registered + 1 + k as u64
        );
    }

    // The same record again: a duplicate pointing at the first copy, with a proof against the
    // current tree; nothing new is logged.
    let size_before = srv.state.head().size;
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(fx.json(0))
        .send()
        .await
        .unwrap();
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["status"], "duplicate", "{a}");
    assert_eq!(check_logged(&a, &fx.uploads[0], &fx.vkey), registered);
    assert_eq!(srv.state.head().size, size_before);

    // A record whose signature does not verify is rejected with its code and reason, and
    // kept in the quarantine.
    let mut forged = fx.uploads[8].clone();
    forged.signature[0] ^= 1;
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(tanji_readings::upload_to_json(&forged))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["status"], "rejected");
    assert_eq!(a["code"], "bad_signature");
    assert!(a["reason"].as_str().unwrap().contains("signature"), "{a}");
    assert_eq!(srv.state.head().size, size_before);

    // In an array, a record that does not decode is rejected (malformed) and the others logged.
    let body = format!("[{}, {{\"device\": 5}}]", fx.json(9));
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(body)
        .send()
        .await
        .unwrap();
    let answers: Vec<Value> = res.json().await.unwrap();
    assert_eq!(answers[0]["status"], "accepted");
    assert_eq!(answers[1]["status"], "rejected");
    assert_eq!(answers[1]["code"], "malformed");
    assert!(
        answers[1]["reason"].as_str().unwrap().contains("device"),
        "{}",
        answers[1]
    );

    // Metrics count what happened.
    let m = http
        .get(srv.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("tanji_uploads_accepted_total 9"), "{m}");
    assert!(m.contains("tanji_uploads_duplicate_total 1"), "{m}");
    assert!(m.contains("tanji_uploads_rejected_total 2"), "{m}");
    assert!(
        m.contains(&format!("tanji_tree_size {}", registered + 9)),
        "{m}"
    );

    srv.stop().await;
    let park = Park::open(fx.path()).unwrap();
    assert_eq!(park.size(), registered + 9);
    assert_eq!(park.store().quarantined().map(|q| q.len()).unwrap_or(0), 2);
}

/// Bad requests: each gets the right status and a message saying what and where, and none
/// changes the log or the quarantine.
#[tokio::test]
async fn bad_requests_are_refused_whole_and_change_nothing() {
    let fx = fixture(2, 1);
    let mut cfg = config(&fx);
    cfg.http.max_body_bytes = 64 * 1024;
    cfg.http.max_records_per_request = 3;
    let srv = start(fx.path(), cfg).await;
    let http = client();
    let before = srv.state.head();

    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            "{\"device\": \"d-0001\",".into(),
            400,
            "bad_request",
            "line 1 column",
        ),
        ("[{}, {}".into(), 400, "bad_request", "EOF"),
        ("".into(), 400, "bad_request", "empty"),
        ("[]".into(), 400, "bad_request", "empty"),
        ("   \n".into(), 400, "bad_request", "empty"),
        ("{} trailing".into(), 400, "bad_request", "trailing"),
        (
            "5".into(),
            400,
            "bad_request",
            "the body is 5, not a JSON object",
        ),
        ("null".into(), 400, "bad_request", "not a JSON object"),
        (
            format!("[{}, [null]]", fx.json(0)),
            400,
            "bad_request",
            "item 1 of the array is [null], not a JSON object",
        ),
        (
            format!("[{}]", vec![fx.json(0); 4].join(",")),
            413,
            "too_many_records",
            "limit is 3",
        ),
        (
            format!("[{}]", vec![fx.json(0); 40].join(",")),
            413,
            "body_too_large",
            "65536 bytes",
        ),
    ];
    for (body, status, code, needle) in cases {
        let res = http
            .post(srv.at("/api/v1/uploads"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{body:.60}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"], code, "{e}");
        assert!(
            e["message"].as_str().unwrap().contains(needle),
            "{e} lacks {needle:?}"
        );
    }
    // Invalid UTF-8.
    let res = http
        .post(srv.at("/api/v1/uploads"))
        .body(vec![b'{', 0xff, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    assert_eq!(srv.state.head(), before);
    let m = http
        .get(srv.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("tanji_upload_requests_refused_total 12"), "{m}");
    srv.stop().await;
    let park = Park::open(fx.path()).unwrap();
    assert_eq!(park.size(), before.size);
    assert!(park.store().quarantined().unwrap().is_empty());
}

/// One device cannot stop the others: in one sequencer batch, made of concurrent requests of
/// several devices, a record validation refuses for a store limit (`seq` 2^63) and a record the
/// store itself refuses (made so by a trigger, as a missed limit would be) are each rejected
/// alone; every other record is acknowledged once and logged once.
#[tokio::test]
async fn a_poison_record_in_a_batch_fails_only_itself() {
    let fx = fixture(4, 2);
    let refused = fx.sim.devices[2].device.clone();
    let conn = rusqlite::Connection::open(Park::db_path(fx.path())).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER poison BEFORE INSERT ON uploads WHEN NEW.device = '{refused}' AND NEW.seq = 2
         BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;"
    ))
    .unwrap();
    drop(conn);
    let mut cfg = config(&fx);
    // A long window, so that the concurrent requests below share one batch.
    cfg.batch.window_ms = 300;
    let srv = start(fx.path(), cfg).await;

    // Device 1's record with seq 2^63, validly signed.
    let first = fx
        .uploads
        .iter()
        .position(|u| u.body.device == fx.sim.devices[1].device)
        .unwrap();
    let mut body = fx.uploads[first].body.clone();
    body.seq = 1 << 63;
    body.prev = fx.uploads[first].record_hash();
    for c in &mut body.channels {
        c.start += 3 * 86_400;
    }
    let out_of_range = tanji_readings::upload_to_json(&body.sign(&fx.sim.devices[1].key));
    let mut bodies: Vec<(String, &str)> = (0..fx.uploads.len())
        .map(|i| {
            let u = &fx.uploads[i];
            let expect = if u.body.device == refused && u.body.seq == 2 {
                "store_refused"
            } else {
                "accepted"
            };
            (fx.json(i), expect)
        })
        .collect();
    bodies.insert(3, (out_of_range, "out_of_range"));
    let http = client();
    let answers = futures_util::future::join_all(bodies.iter().map(|(body, _)| {
        let req = http.post(srv.at("/api/v1/uploads")).body(body.clone());
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    }))
    .await;
    let mut indices = Vec::new();
    for ((_, expect), answer) in bodies.iter().zip(&answers) {
        let answer = if answer.is_array() {
            &answer[0]
        } else {
            answer
        };
        if *expect == "accepted" {
            assert_eq!(answer["status"], "accepted", "{answer}");
            indices.push(answer["index"].as_u64().unwrap());
        } else {
            assert_eq!(answer["status"], "rejected", "{answer}");
            assert_eq!(answer["code"], *expect, "{answer}");
        }
    }
    // Each good record logged once: distinct indices, and as many uploads in the log.
    let good = fx.uploads.len() - 1;
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), good);
    srv.stop().await;
    let park = Park::open(fx.path()).unwrap();
    let logged = park
        .store()
        .entries_of_kind(tanji_readings::KIND_UPLOAD)
        .unwrap();
    assert_eq!(logged, indices);
    let codes: Vec<String> = park
        .store()
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|q| q.code)
        .collect();
    assert_eq!(codes.len(), 2);
    assert!(
        codes.contains(&"out_of_range".to_string()) && codes.contains(&"store_refused".to_string())
    );
}
