//! The sequencer's "now" comes from the clock it is given, not from the wall: the time a
//! record's validation measures "in the future" against (its policy time) is the clock's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tanji_park::{Clock, Incoming, ManualClock, Park, SystemClock};
use tanji_readings::SignedUpload;
use tanji_server::config::BatchConfig;
use tanji_server::{Answer, Metrics, Sequencer};
use tanji_simulator::{Park as SimPark, ParkSpec};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// The last second of a record's intervals (the end the future check compares).
fn end_of(u: &SignedUpload) -> i64 {
    u.body
        .channels
        .iter()
        .map(|c| c.start + i64::from(c.interval_s) * i64::try_from(c.values.len()).unwrap())
        .max()
        .unwrap()
}

/// Submits `upload` to a fresh park's sequencer on `clock`; its one answer.
fn submit_at(clock: ManualClock, sim: &SimPark, start_day: i64, upload: &SignedUpload) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    let mut park = Park::create(dir.path(), "clock", None).unwrap();
    park.register(&sim.registrations(start_day)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = BatchConfig {
        window_ms: 0,
        ..BatchConfig::default()
    };
    let seq = Sequencer::start_with_clock(park, &config, Metrics::new(), Arc::new(clock)).unwrap();
    let mut answers = rt.block_on(async {
        let a = seq
            .submit(vec![Incoming {
                source: "clock test".into(),
                raw: Vec::new(),
                parsed: Ok(upload.clone()),
                checked: None,
            }])
            .await
            .unwrap();
        seq.close().await;
        a
    });
    assert_eq!(answers.len(), 1);
    answers.remove(0)
}

#[test]
fn a_record_ahead_of_the_wall_clock_is_accepted_only_when_the_sequencer_clock_is_as_far_ahead() {
    let wall = SystemClock.now_s();
    // Readings of tomorrow (UTC): every record ends after the real wall clock.
    let start_day = (wall.div_euclid(DAY) + 1) * DAY;
    let sim = SimPark::generate(ParkSpec {
        seed: 3,
        enterprises: 1,
        start_day,
        days: 1,
    });
    let first = sim.uploads().next().unwrap();
    let end = end_of(&first);
    // Pretend the record was stamped 1 h ahead of the wall clock: the wall clock here stands
    // 1 h before its end (a clock skew of minutes is allowed, an hour is not).
    let wall_here = end - HOUR;
    assert!(
        end > wall,
        "the record ends at {end}, after the wall clock {wall}"
    );

    // The sequencer's clock at the (pretended) wall time: 1 h in the future, refused.
    match submit_at(ManualClock::at(wall_here), &sim, start_day, &first) {
        Answer::Rejected { code, reason } => {
            assert_eq!(code, "future_interval", "{reason}");
        }
        other => panic!("expected future_interval, got {}", other.status()),
    }
    // The same record with the clock set 1 h ahead: accepted, although the real wall clock
    // is still behind the record's end.
    let ahead = ManualClock::at(wall_here);
    ahead.advance(std::time::Duration::from_secs(HOUR as u64));
    let answer = submit_at(ahead, &sim, start_day, &first);
    assert_eq!(answer.status(), "accepted");
    assert!(
        SystemClock.now_s() < end,
        "the wall clock passed the record"
    );
}
