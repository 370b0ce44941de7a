//! Model test of batch isolation: random batches of good records (shuffled, split at random,
//! some sent twice) with poison records among them — a validly signed record whose `seq` the
//! store cannot hold, and a record the store refuses (a trigger, as a missed limit would be).
//! Whatever the batching, every good record is acknowledged `accepted` exactly once and
//! logged exactly once, every poison record is rejected with its code, and the log audits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use tanji_park::{AuditOptions, Incoming, Outcome, Park};
use tanji_readings::{RejectCode, SignedUpload, KIND_UPLOAD};
use tanji_simulator::{Park as SimPark, ParkSpec};
use tanji_store::Store;

const DAY: i64 = 86_400;
const START: i64 = 1_790_812_800; // 2026-10-01T00:00:00Z
const NOW: i64 = START + 40 * DAY;

/// What a record is in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Good,
    /// `seq` 2^63: validation refuses it (`out_of_range`).
    OutOfRange,
    /// The store refuses it (`store_refused`).
    Refused,
}

fn run(enterprises: usize, days: u32, order_seed: u64, cuts: &[usize], resend: &[bool]) {
    let s = SimPark::generate(ParkSpec {
        seed: 3,
        enterprises,
        start_day: START,
        days,
    });
    let dir = tempfile::tempdir().unwrap();
    let mut park = Park::create(dir.path(), "t", None).unwrap();
    park.register(&s.registrations(START)).unwrap();
    drop(park);
    // The store refuses the last device's second record.
    let victim = (s.devices[enterprises - 1].device.clone(), 2u64);
    let conn = rusqlite::Connection::open(Park::db_path(dir.path())).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER poison BEFORE INSERT ON uploads WHEN NEW.device = '{}' AND NEW.seq = 2
         BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
        victim.0
    ))
    .unwrap();
    drop(conn);
    let mut park = Park::open(dir.path()).unwrap();

    let mut records: Vec<(SignedUpload, Kind)> = s
        .uploads()
        .map(|u| {
            let k = if (u.body.device.clone(), u.body.seq) == victim {
                Kind::Refused
            } else {
                Kind::Good
            };
            (u, k)
        })
        .collect();
    // One out-of-range record per device, after its last day.
    for d in &s.devices {
        let last = records
            .iter()
            .rev()
            .find(|(u, _)| u.body.device == d.device)
            .map(|(u, _)| u.clone())
            .unwrap();
        let mut body = last.body.clone();
        body.seq = u64::MAX - body.seq;
        body.prev = last.record_hash();
        for c in &mut body.channels {
            c.start += DAY;
        }
        records.push((body.sign(&d.key), Kind::OutOfRange));
    }
    // Shuffle (a fixed permutation from the seed), then send some records twice.
    let mut order: Vec<usize> = (0..records.len()).collect();
    let mut x = order_seed | 1;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let mut stream: Vec<usize> = order.clone();
    for (i, &again) in order.iter().zip(resend) {
        if again {
            stream.push(*i);
        }
    }
    // Split into batches at the cuts.
    let mut bounds: BTreeSet<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    bounds.insert(0);
    bounds.insert(stream.len());
    let bounds: Vec<usize> = bounds.into_iter().collect();

    let mut accepted: BTreeMap<usize, u64> = BTreeMap::new();
    for w in bounds.windows(2) {
        let batch: Vec<Incoming> = stream[w[0]..w[1]]
            .iter()
            .map(|&i| Incoming {
                source: format!("r{i}"),
                raw: Vec::new(),
                parsed: Ok(records[i].0.clone()),
                checked: None,
            })
            .collect();
        let out = park.ingest(batch, NOW).unwrap();
        for (&i, o) in stream[w[0]..w[1]].iter().zip(&out) {
            match (records[i].1, o) {
                (Kind::Good, Outcome::Accepted { index, .. }) => {
                    assert!(
                        accepted.insert(i, *index).is_none(),
                        "record {i} accepted twice"
                    );
                }
                (Kind::Good, Outcome::Duplicate { index }) => {
                    assert_eq!(accepted.get(&i), Some(index), "record {i}")
                }
                (Kind::OutOfRange, Outcome::Rejected(r)) => {
                    assert_eq!(r.code, RejectCode::OutOfRange)
                }
                // Sent again after its refusal, it is refused again.
                (Kind::Refused, Outcome::Rejected(r)) => {
                    assert_eq!(r.code, RejectCode::StoreRefused)
                }
                (k, o) => panic!("record {i} ({k:?}): {o:?}"),
            }
        }
    }
    let good = records.iter().filter(|r| r.1 == Kind::Good).count();
    assert_eq!(accepted.len(), good, "every good record acknowledged");
    let logged = park.store().entries_of_kind(KIND_UPLOAD).unwrap();
    let mut acked: Vec<u64> = accepted.values().copied().collect();
    acked.sort_unstable();
    assert_eq!(logged, acked, "every good record logged once, nothing else");
    assert!(park
        .audit(&AuditOptions::default(), &mut |_, _| {})
        .unwrap()
        .ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn every_good_record_is_acknowledged_and_logged_once_whatever_the_poison(
        enterprises in 2usize..4,
        days in 2u32..4,
        order_seed in any::<u64>(),
        cuts in proptest::collection::vec(0usize..64, 0..4),
        resend in proptest::collection::vec(any::<bool>(), 16),
    ) {
        run(enterprises, days, order_seed, &cuts, &resend);
    }
}
