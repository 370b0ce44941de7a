//! Two witnesses on loopback (port 0) cosign a park's checkpoints; a fork of the same log (same
//! origin and key, different entries) is refused by both with the spec's statuses and leaves
//! their state unchanged; a restarted witness remembers what it cosigned.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use tanji_ledger::{
    sign_checkpoint, verify_cosignatures, Checkpoint, CosignatureVerifier, Hash, Note, NoteSigner,
};
use tanji_park::Park;
use tanji_readings::DeviceRegistration;
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_witness::{
    add_checkpoint, AddCheckpoint, ClientError, Witness, WitnessClient, TLOG_SIZE_CONTENT_TYPE,
};
use tokio::sync::oneshot;

const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const ORIGIN: &str = "tanji.test/fork-park";

fn registrations(seed: u64) -> Vec<DeviceRegistration> {
    SimPark::generate(ParkSpec {
        seed,
        enterprises: 8,
        start_day: START,
        days: 1,
    })
    .registrations(START)
}

/// A running witness: its state, its URL, and the switch that stops its server.
struct Running {
    witness: Arc<Witness>,
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(witness: Arc<Witness>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(tanji_witness::run(listener, witness.clone(), async {
            let _ = stopped.await;
        }));
        Running {
            witness,
            url,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    fn client(&self) -> WitnessClient {
        WitnessClient::new(self.url.clone(), self.witness.verifier())
    }
}

/// Submits the park's latest checkpoint to `w` from the size the park believes `w` cosigned,
/// and keeps the cosignature in the park.
async fn cosign(park: &mut Park, w: &Running) -> Result<u64, ClientError> {
    let note = park.checkpoint().unwrap();
    let key = w.witness.verifier();
    let old = park.witnessed_size(&key).unwrap();
    let cos = w
        .client()
        .submit(&note, old, |from, to| {
            park.consistency(from, Some(to)).map(|p| p.proof)
        })
        .await?;
    park.add_cosignatures(park.size(), &[cos.line], &[key])
        .unwrap();
    Ok(cos.old_size)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn state(w: &Witness) -> (u64, Option<Hash>) {
    let log = w.log(ORIGIN).unwrap().unwrap();
    (log.size, log.root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_witnesses_cosign_and_refuse_a_forked_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    // One log key and origin, two diverging histories: B is a copy of A made before any entry.
    drop(Park::create(&dir_a, "fork-park", Some(ORIGIN)).unwrap());
    copy_dir(&dir_a, &dir_b);
    let mut a = Park::open(&dir_a).unwrap();
    let mut b = Park::open(&dir_b).unwrap();
    assert_eq!(a.verifier(), b.verifier());

    let mut ws = Vec::new();
    for name in ["witness.test/w1", "witness.test/w2"] {
        let w = Witness::create(&tmp.path().join(name.replace('/', "_")), name).unwrap();
        assert!(w.add_log(ORIGIN, &a.verifier()).unwrap());
        ws.push(Running::start(Arc::new(w)).await);
    }
    let keys: Vec<CosignatureVerifier> = ws.iter().map(|w| w.witness.verifier()).collect();

    // A logs four registrations; both witnesses cosign from nothing (old size 0).
    let regs_a = registrations(21);
    a.register(&regs_a[..4]).unwrap();
    assert_eq!(a.size(), 4);
    for w in &ws {
        assert_eq!(cosign(&mut a, w).await.unwrap(), 0);
    }
    // A grows; each witness cosigns with a consistency proof from 4.
    a.register(&regs_a[4..9]).unwrap();
    assert_eq!(a.size(), 9);
    for w in &ws {
        assert_eq!(cosign(&mut a, w).await.unwrap(), 4);
        assert_eq!(state(&w.witness), (9, Some(a.root())));
    }
    let cosigned = a.cosigned_checkpoint().unwrap();
    let note = Note::parse(&cosigned).unwrap();
    assert_eq!(note.signatures().len(), 3, "{cosigned}");
    let found = verify_cosignatures(&note, &keys).unwrap();
    assert_eq!(
        found.iter().map(|c| c.witness).collect::<Vec<_>>(),
        vec![0, 1]
    );

    // A client that believes the witness is at 0 learns 9 from the 409 and retries: the same
    // checkpoint is cosigned again (old size 9, empty proof).
    let again = ws[0]
        .client()
        .submit(&a.checkpoint().unwrap(), 0, |from, to| {
            a.consistency(from, Some(to)).map(|p| p.proof)
        })
        .await
        .unwrap();
    assert_eq!(again.old_size, 9);

    // B: same key, different entries. At A's size 9 B has another root.
    let regs_b = registrations(22);
    for r in &regs_b[..9] {
        b.register(std::slice::from_ref(r)).unwrap();
    }
    assert_eq!(b.size(), 9);
    assert_ne!(b.root(), a.root());
    let fork_9 = b.checkpoint().unwrap();
    b.register(&regs_b[9..14]).unwrap();
    assert_eq!(b.size(), 14);
    let fork_14 = b.checkpoint().unwrap();
    let proof_9_14 = b.consistency(9, None).unwrap().proof;
    let http = reqwest::Client::new();
    for w in &ws {
        let before = state(&w.witness);
        // Same size, other root: 409 (the body is the latest size, as text/x.tlog.size).
        let resp = http
            .post(format!("{}/add-checkpoint", w.url))
            .body(
                AddCheckpoint {
                    old_size: 9,
                    proof: vec![],
                    checkpoint: fork_9.clone(),
                }
                .to_body(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 409);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            TLOG_SIZE_CONTENT_TYPE
        );
        assert_eq!(resp.text().await.unwrap(), "9\n");
        // A larger fork with B's own (valid for B) proof from 9: 422.
        match add_checkpoint(&http, &w.url, 9, &proof_9_14, &fork_14).await {
            Err(ClientError::Refused {
                status: 422, body, ..
            }) => {
                assert!(body.contains("does not verify"), "{body}")
            }
            other => panic!("expected 422, got {other:?}"),
        }
        // A fork client following the protocol (old size 0, learn 9, retry) is refused too.
        let refused = w
            .client()
            .submit(&fork_14, 0, |from, to| {
                b.consistency(from, Some(to)).map(|p| p.proof)
            })
            .await;
        assert!(
            matches!(refused, Err(ClientError::Refused { status: 422, .. })),
            "{refused:?}"
        );
        // From size 0 with the fork's checkpoint: 409, the witness is at 9.
        match add_checkpoint(&http, &w.url, 0, &[], &fork_14).await {
            Err(ClientError::Conflict { latest: 9, .. }) => {}
            other => panic!("expected 409 with size 9, got {other:?}"),
        }
        assert_eq!(
            state(&w.witness),
            before,
            "a refusal must not change the state"
        );
    }

    // Statuses for requests the spec rules out.
    let other_key =
        NoteSigner::new(ORIGIN, ed25519_dalek::SigningKey::from_bytes(&[7; 32])).unwrap();
    let forged = sign_checkpoint(
        &Checkpoint {
            origin: ORIGIN.into(),
            size: 20,
            root: [1; 32],
            extensions: vec![],
        },
        &other_key,
    )
    .unwrap();
    let unknown = sign_checkpoint(
        &Checkpoint {
            origin: "tanji.test/unknown".into(),
            size: 1,
            root: [1; 32],
            extensions: vec![],
        },
        &other_key,
    )
    .unwrap();
    let status = |r: Result<String, ClientError>| match r {
        Err(ClientError::Refused { status, .. }) => status,
        Err(ClientError::Conflict { .. }) => 409,
        Ok(_) => 200,
        Err(e) => panic!("{e}"),
    };
    let w = &ws[0];
    assert_eq!(
        status(add_checkpoint(&http, &w.url, 9, &[], &forged).await),
        403
    );
    assert_eq!(
        status(add_checkpoint(&http, &w.url, 0, &[], &unknown).await),
        404
    );
    let a_note = a.checkpoint().unwrap();
    assert_eq!(
        status(add_checkpoint(&http, &w.url, 10, &[], &a_note).await),
        400
    );
    let garbage = http
        .post(format!("{}/add-checkpoint", w.url))
        .body("old 01\n\nnot a checkpoint\n")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status().as_u16(), 400);

    // Restart both witnesses: the state (size 9, A's root) is read back from disk, and they
    // go on cosigning A from 9 and refusing B.
    let root_a = a.root();
    let mut restarted = Vec::new();
    for w in ws {
        let dir = tmp.path().join(w.witness.name().replace('/', "_"));
        let witness = w.witness.clone();
        w.stop().await;
        drop(witness);
        let reopened = Witness::open(&dir).unwrap();
        assert_eq!(state(&reopened), (9, Some(root_a)));
        restarted.push(Running::start(Arc::new(reopened)).await);
    }
    a.register(&regs_a[9..12]).unwrap();
    for w in &restarted {
        assert_eq!(cosign(&mut a, w).await.unwrap(), 9);
        assert_eq!(state(&w.witness), (12, Some(a.root())));
        assert!(matches!(
            add_checkpoint(&http, &w.url, 9, &proof_9_14, &fork_14).await,
            Err(ClientError::Conflict { latest: 12, .. })
        ));
    }
    for w in restarted {
        w.stop().await;
    }
}

#[test]
fn spec_example_request_body_parses_and_round_trips() {
    let body = "old 20852014\n\
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
\n\
example.com/behind-the-sofa\n\
20852163\n\
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
\n\
— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";
    let req = AddCheckpoint::parse(body.as_bytes()).unwrap();
    assert_eq!(req.old_size, 20_852_014);
    assert_eq!(req.proof.len(), 4);
    let note = Note::parse(&req.checkpoint).unwrap();
    assert_eq!(note.signatures().len(), 2);
    assert_eq!(Checkpoint::parse(note.text()).unwrap().size, 20_852_163);
    assert_eq!(req.to_body(), body);

    // The format rules: leading zeroes, more than 63 proof lines, no blank line.
    assert!(AddCheckpoint::parse(b"old 007\n\nx\n").is_err());
    let many = format!(
        "old 1\n{}\ncp\n",
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n".repeat(64)
    );
    assert!(AddCheckpoint::parse(many.as_bytes()).is_err());
    assert!(
        AddCheckpoint::parse(b"old 1\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n").is_err()
    );
}

/// c2sp.org/tlog-witness: checking the old size and recording the new checkpoint must be one
/// atomic step, or two requests from the same old size could both be cosigned (and the later
/// write roll the state back). Eight threads race from size 4 to sizes 5..=12: exactly one
/// wins, the others get 409 naming the winner's size, and the state is the winner's.
#[test]
fn racing_requests_from_the_same_old_size_cosign_exactly_one() {
    use tanji_ledger::{consistency_proof, leaf_hash, MemoryTree};
    use tanji_witness::AddCheckpointError;

    let tmp = tempfile::tempdir().unwrap();
    let signer = NoteSigner::new(
        "tanji.test/race",
        ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
    )
    .unwrap();
    let tree = MemoryTree::from_leaf_hashes((0u8..12).map(|i| leaf_hash(&[i])));
    let note = |size: u64| {
        let root = tanji_ledger::root(&tree, size).unwrap();
        sign_checkpoint(
            &Checkpoint {
                origin: "tanji.test/race".into(),
                size,
                root,
                extensions: vec![],
            },
            &signer,
        )
        .unwrap()
    };
    let w = Witness::create(tmp.path(), "witness.test/race").unwrap();
    w.add_log("tanji.test/race", &signer.verifier()).unwrap();
    let first = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: note(4),
    };
    w.add(&first, 1_000).unwrap();

    let requests: Vec<AddCheckpoint> = (5..=12)
        .map(|size| AddCheckpoint {
            old_size: 4,
            proof: consistency_proof(&tree, 4, size).unwrap(),
            checkpoint: note(size),
        })
        .collect();
    let results: Vec<(u64, Result<String, AddCheckpointError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .iter()
            .zip(5u64..)
            .map(|(req, size)| {
                let w = &w;
                s.spawn(move || (size, w.add(req, 2_000)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<u64> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(size, _)| *size)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0];
    for (size, r) in &results {
        if *size != winner {
            match r {
                Err(e @ AddCheckpointError::OldSizeMismatch { latest, .. }) => {
                    assert_eq!(*latest, winner);
                    assert_eq!(e.status(), 409);
                }
                other => panic!("size {size}: expected 409, got {other:?}"),
            }
        }
    }
    let log = w.log("tanji.test/race").unwrap().unwrap();
    assert_eq!(log.size, winner);
    assert_eq!(log.root, Some(tanji_ledger::root(&tree, winner).unwrap()));
}
