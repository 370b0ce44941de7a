//! Witnessing end to end: two witnesses on loopback, a server configured with both; uploads
//! over HTTP make new checkpoints, which the server has cosigned (with consistency proofs from
//! the size each witness cosigned last), keeps next to the checkpoint, and serves on
//! `/checkpoint`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{client, config, fixture, start};
use tanji_ledger::{open_checkpoint, verify_cosignatures, CosignatureVerifier, Note, NoteVerifier};
use tanji_server::witnessing::WitnessConfig;
use tanji_witness::Witness;
use tokio::sync::oneshot;

/// Polls `/checkpoint` until it is cosigned by `n` witnesses at `size` (or 60 s pass, which
/// fails the test: this bounds a hang, it does not measure anything).
async fn cosigned_checkpoint(url: &str, size: u64, n: usize, keys: &[CosignatureVerifier]) -> Note {
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = http
            .get(format!("{url}/checkpoint"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let note = Note::parse(&text).unwrap();
        let at_size = note.text().split('\n').nth(1) == Some(size.to_string().as_str());
        if at_size && verify_cosignatures(&note, keys).unwrap().len() == n {
            return note;
        }
        assert!(
            Instant::now() < deadline,
            "/checkpoint not cosigned by {n} at size {size}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_checkpoints_are_cosigned_kept_and_served() {
    let fx = fixture(3, 4);
    let log_key: NoteVerifier = fx.vkey.parse().unwrap();

    let mut cfg = config(&fx);
    let mut witnesses = Vec::new();
    let mut stops = Vec::new();
    for name in ["witness.test/w1", "witness.test/w2"] {
        let dir = fx.path().join(name.replace('/', "_"));
        let w = Arc::new(Witness::create(&dir, name).unwrap());
        w.add_log(&fx.origin, &log_key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(tanji_witness::run(listener, w.clone(), async {
            let _ = rx.await;
        }));
        cfg.witness.push(WitnessConfig {
            name: name.into(),
            url,
            vkey: w.verifier().to_string(),
        });
        witnesses.push(w);
        stops.push(tx);
    }
    let keys: Vec<CosignatureVerifier> = witnesses.iter().map(|w| w.verifier()).collect();
    let srv = start(fx.path(), cfg).await;
    let http = client();

    // The registrations' checkpoint is cosigned at start.
    let registered = srv.state.head().size;
    cosigned_checkpoint(&srv.url, registered, 2, &keys).await;

    for round in 0..2 {
        for i in round * 5..round * 5 + 5 {
            let res = http
                .post(srv.at("/api/v1/uploads"))
                .body(fx.json(i))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
        let size = srv.state.head().size;
        assert_eq!(size, registered + (round as u64 + 1) * 5);
        let note = cosigned_checkpoint(&srv.url, size, 2, &keys).await;
        // The log's own signature is on it too, and each witness's state is this checkpoint.
        let cp = open_checkpoint(&note.to_string(), &log_key).unwrap();
        assert_eq!(cp.size, size);
        for w in &witnesses {
            let state = w.log(&fx.origin).unwrap().unwrap();
            assert_eq!((state.size, state.root), (size, Some(cp.root)));
        }
    }
    let final_size = srv.state.head().size;
    srv.stop().await;
    for tx in stops {
        let _ = tx.send(());
    }

    // The cosignatures were kept in the park's store, next to the checkpoint.
    let store = tanji_store::SqliteStore::open(&tanji_park::Park::db_path(fx.path())).unwrap();
    let check = tanji_park::check_witnesses(&store, &log_key, &keys).unwrap();
    assert_eq!(check.size, final_size);
    assert_eq!(check.cosigned(), 2, "{:?}", check.witnesses);
}
