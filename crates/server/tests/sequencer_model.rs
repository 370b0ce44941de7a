//! Model test of the sequencer: several devices submit at once, each in random chunks, their
//! good records in order but for random delays (so records arrive after a gap and fill it
//! later) and resends, mixed with poison records — a bad signature, `seq` ≥ 2^63, a negative
//! value, a value above the meter's capacity — through the server's `Sequencer` (the thread
//! that batches, logs and answers).
//!
//! Properties: every good record is acknowledged `accepted` exactly once (a resend is answered
//! `duplicate` with the same leaf), with an inclusion proof that verifies against the signed
//! checkpoint of its answer; every poison record is refused with its code and a reason; the
//! log holds exactly the accepted records; and the park's audit of the log passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use base64::Engine as _;
use proptest::prelude::*;
use tanji_ledger::{leaf_hash, verify_inclusion, Checkpoint, Hash, Note};
use tanji_park::{AuditOptions, Incoming, Park};
use tanji_readings::{SignedUpload, KIND_UPLOAD};
use tanji_server::config::BatchConfig;
use tanji_server::{Answer, Metrics, Sequencer};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_store::Store;

const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z, in the past of any run

/// What a record is in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A good record; index into `good`.
    Good(usize),
    /// Poison: refused with this code.
    Poison(&'static str),
}

/// The poison records of one device, built from its last good record.
fn poison(last: &SignedUpload, key: &ed25519_dalek::SigningKey) -> Vec<(SignedUpload, Kind)> {
    let mut out = Vec::new();
    // A bad signature on a record the device could have sent.
    let mut body = last.body.clone();
    body.seq += 1_000;
    let mut bad = body.sign(key);
    bad.signature[0] ^= 0x55;
    out.push((bad, Kind::Poison("bad_signature")));
    // seq 2^63: validly signed, beyond what the store can hold.
    let mut body = last.body.clone();
    body.seq = 1 << 63;
    body.prev = last.record_hash();
    out.push((body.sign(key), Kind::Poison("out_of_range")));
    // A negative value.
    let mut body = last.body.clone();
    body.seq += 2_000;
    body.channels[0].values[0] = -1;
    out.push((body.sign(key), Kind::Poison("negative_value")));
    // A value far above the meter's rated capacity.
    let mut body = last.body.clone();
    body.seq += 3_000;
    body.channels[0].values[0] = i64::MAX / 2;
    out.push((body.sign(key), Kind::Poison("above_capacity")));
    out
}

/// One device's stream: its good records in order, `delays` moving some of them later (a
/// gap filled afterwards), `resends` sending some twice, the poison inserted at `spots`.
fn stream(
    good: &[(usize, SignedUpload)],
    poison: Vec<(SignedUpload, Kind)>,
    delays: &[(usize, usize)],
    resends: &[usize],
    spots: &[usize],
) -> Vec<(SignedUpload, Kind)> {
    let mut s: Vec<(SignedUpload, Kind)> = good
        .iter()
        .map(|(i, u)| (u.clone(), Kind::Good(*i)))
        .collect();
    for &(from, by) in delays {
        let from = from % s.len();
        let to = (from + by).min(s.len() - 1);
        let r = s.remove(from);
        s.insert(to, r);
    }
    for &r in resends {
        let again = s[r % s.len()].clone();
        s.push(again);
    }
    for (p, &spot) in poison.into_iter().zip(spots.iter().cycle()) {
        let at = spot % (s.len() + 1);
        s.insert(at, p);
    }
    s
}

/// A device's stream cut into requests of 1..=`max_chunk` records.
fn chunks(s: Vec<(SignedUpload, Kind)>, sizes: &[usize]) -> Vec<Vec<(SignedUpload, Kind)>> {
    let mut out = Vec::new();
    let mut it = s.into_iter().peekable();
    let mut k = 0;
    while it.peek().is_some() {
        let n = 1 + sizes.get(k % sizes.len().max(1)).copied().unwrap_or(0);
        out.push(it.by_ref().take(n).collect());
        k += 1;
    }
    out
}

fn root_of(checkpoint: &str) -> (u64, Hash) {
    let note = Note::parse(checkpoint).unwrap();
    let cp = Checkpoint::parse(note.text()).unwrap();
    (cp.size, cp.root)
}

#[derive(Debug, Clone)]
struct Plan {
    enterprises: usize,
    window_ms: u64,
    max_records: usize,
    delays: Vec<(usize, usize)>,
    resends: Vec<usize>,
    spots: Vec<usize>,
    sizes: Vec<usize>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        2usize..4,
        prop_oneof![Just(0u64), Just(2), Just(20)],
        1usize..40,
        prop::collection::vec((0usize..64, 1usize..6), 0..3),
        prop::collection::vec(0usize..64, 0..3),
        prop::collection::vec(0usize..64, 1..4),
        prop::collection::vec(0usize..8, 1..5),
    )
        .prop_map(
            |(enterprises, window_ms, max_records, delays, resends, spots, sizes)| Plan {
                enterprises,
                window_ms,
                max_records,
                delays,
                resends,
                spots,
                sizes,
            },
        )
}

fn run(p: Plan) {
    let sim = SimPark::generate(ParkSpec {
        seed: 11,
        enterprises: p.enterprises,
        start_day: START,
        days: 1,
    });
    let dir = tempfile::tempdir().unwrap();
    let mut park = Park::create(dir.path(), "model", None).unwrap();
    park.register(&sim.registrations(START)).unwrap();
    let registered = park.size();

    let good: Vec<SignedUpload> = sim.uploads().collect();
    let mut streams = Vec::new();
    for d in &sim.devices {
        let mine: Vec<(usize, SignedUpload)> = good
            .iter()
            .enumerate()
            .filter(|(_, u)| u.body.device == d.device)
            .map(|(i, u)| (i, u.clone()))
            .collect();
        let last = &mine.last().unwrap().1;
        let s = stream(&mine, poison(last, &d.key), &p.delays, &p.resends, &p.spots);
        streams.push(chunks(s, &p.sizes));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = BatchConfig {
        window_ms: p.window_ms,
        max_records: p.max_records,
        ..BatchConfig::default()
    };
    let seq = Sequencer::start(park, &config, Metrics::new()).unwrap();
    // Every device submits its requests one after the other; the devices at once.
    let answers: Vec<Vec<(SignedUpload, Kind, Answer)>> = rt.block_on(async {
        let mut tasks = Vec::new();
        for (n, requests) in streams.into_iter().enumerate() {
            let seq = seq.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for (r, request) in requests.into_iter().enumerate() {
                    let items = request
                        .iter()
                        .enumerate()
                        .map(|(i, (u, _))| Incoming {
                            source: format!("device {n} request {r} [{i}]"),
                            raw: Vec::new(),
                            parsed: Ok(u.clone()),
                            checked: None,
                        })
                        .collect();
                    let answers = seq.submit(items).await.unwrap();
                    assert_eq!(answers.len(), request.len());
                    out.extend(
                        request
                            .into_iter()
                            .zip(answers)
                            .map(|((u, k), a)| (u, k, a)),
                    );
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.push(t.await.unwrap());
        }
        seq.close().await;
        all
    });

    let mut accepted: BTreeMap<usize, u64> = BTreeMap::new();
    let mut duplicates: Vec<(usize, u64)> = Vec::new();
    for (u, kind, answer) in answers.into_iter().flatten() {
        match (kind, &answer) {
            (Kind::Good(i), Answer::Accepted(l)) => {
                assert!(
                    accepted.insert(i, l.index).is_none(),
                    "good record {i} accepted twice"
                );
                let (size, root) = root_of(&l.checkpoint);
                assert_eq!(size, l.tree_size);
                let proof: Vec<Hash> = l
                    .proof
                    .iter()
                    .map(|h| {
                        let b = base64::engine::general_purpose::STANDARD.decode(h).unwrap();
                        Hash::try_from(b.as_slice()).unwrap()
                    })
                    .collect();
                verify_inclusion(
                    &leaf_hash(&u.to_entry_bytes()),
                    l.index,
                    size,
                    &proof,
                    &root,
                )
                .unwrap_or_else(|e| panic!("good record {i}: inclusion proof: {e}"));
            }
            (Kind::Good(i), Answer::Duplicate(l)) => duplicates.push((i, l.index)),
            (Kind::Poison(code), Answer::Rejected { code: got, reason }) => {
                assert_eq!(*got, code, "poison refused for another reason: {reason}");
                assert!(!reason.is_empty(), "a refusal without a reason");
            }
            (k, a) => panic!("{k:?} record {}#{}: {a:?}", u.body.device, u.body.seq),
        }
    }
    assert_eq!(accepted.len(), good.len(), "every good record acknowledged");
    for (i, index) in duplicates {
        assert_eq!(
            accepted.get(&i),
            Some(&index),
            "a resend of {i} points elsewhere"
        );
    }

    let park = Park::open(dir.path()).unwrap();
    let logged = park.store().entries_of_kind(KIND_UPLOAD).unwrap();
    let mut acked: Vec<u64> = accepted.values().copied().collect();
    acked.sort_unstable();
    assert_eq!(logged, acked, "every good record logged once, nothing else");
    assert_eq!(park.size(), registered + good.len() as u64);
    assert!(park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap()
        .ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn every_good_record_is_acknowledged_and_logged_once_and_every_poison_refused(p in plan()) {
        run(p);
    }
}
