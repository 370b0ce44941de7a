#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Validation: every reject code with its message, duplicates, gaps, out-of-order chains.

mod common;
use common::*;
use ed25519_dalek::SigningKey;
use std::collections::HashMap;
use tanji_readings::*;
use tanji_units::{Carrier, Unit};

#[derive(Default)]
struct Ctx {
    keys: HashMap<String, VerifyingKey>,
    meters: HashMap<(String, String), MeterInfo>,
    accepted: HashMap<(String, u64), (Hash, Hash)>,
    spans: Vec<(String, i64, i64, String, u64)>,
}

impl Ctx {
    fn register(&mut self, r: &DeviceRegistration) {
        self.keys
            .insert(r.device.clone(), r.verifying_key().unwrap());
        self.meters
            .insert((r.device.clone(), r.meter.clone()), r.meter_info().unwrap());
    }
    fn accept(&mut self, u: &SignedUpload) {
        self.accepted.insert(
            (u.body.device.clone(), u.body.seq),
            (u.record_hash(), u.body.prev),
        );
        for c in &u.body.channels {
            self.spans.push((
                c.meter.clone(),
                c.start,
                c.end().unwrap(),
                u.body.device.clone(),
                u.body.seq,
            ));
        }
    }
}

impl ValidationContext for Ctx {
    fn device_key(&self, device: &str) -> Option<VerifyingKey> {
        self.keys.get(device).cloned()
    }
    fn meter(&self, device: &str, meter: &str) -> Option<MeterInfo> {
        self.meters
            .get(&(device.to_owned(), meter.to_owned()))
            .cloned()
    }
    fn accepted(&self, device: &str, seq: u64) -> Option<(Hash, Hash)> {
        self.accepted.get(&(device.to_owned(), seq)).copied()
    }
    fn last_seq(&self, device: &str) -> Option<u64> {
        self.accepted
            .keys()
            .filter(|(d, _)| d == device)
            .map(|&(_, s)| s)
            .max()
    }
    fn overlapping(&self, meter: &str, start: i64, end: i64) -> Option<(String, u64)> {
        self.spans
            .iter()
            .find(|(m, s, e, _, _)| m == meter && *s < end && start < *e)
            .map(|(_, _, _, d, q)| (d.clone(), *q))
    }
}

fn gas_registration() -> DeviceRegistration {
    DeviceRegistration {
        meter: "m-0001-gas".into(),
        carrier: "natural_gas".into(),
        unit: "m3".into(),
        rated_per_hour_milli: 200_000, // 200 m3/h
        ..vector_registration()
    }
}

/// d-0001 with its grid meter (500 kW, kWh) and gas meter (200 m3/h).
fn ctx() -> Ctx {
    let mut c = Ctx::default();
    c.register(&vector_registration());
    c.register(&gas_registration());
    c
}

fn policy() -> Policy {
    Policy::at(NOV1 + 86_400)
}

fn signed(edit: impl FnOnce(&mut UploadBody)) -> SignedUpload {
    let mut b = vector_body();
    edit(&mut b);
    b.sign(&vector_key())
}

fn accepted_issues(u: &SignedUpload, ctx: &Ctx) -> Vec<DataIssue> {
    match validate(u, ctx, &policy()) {
        Ok(Verdict::Accept { issues }) => issues,
        other => panic!("expected Accept, got {other:?}"),
    }
}

/// Validates, expects `code`, checks the message names the record, and returns the message.
fn rejected(u: &SignedUpload, ctx: &Ctx, code: RejectCode) -> String {
    let r = validate(u, ctx, &policy()).unwrap_err();
    assert_eq!(r.code, code, "{}", r.message);
    let rec = format!("upload {}#{}", u.body.device, u.body.seq);
    assert!(r.message.starts_with(&rec), "{}", r.message);
    assert_eq!(r.to_string(), format!("{}: {}", code.code(), r.message));
    r.message
}

#[test]
fn the_vector_upload_is_accepted() {
    assert_eq!(accepted_issues(&vector_upload(), &ctx()), vec![]);
}

#[test]
fn codes_are_stable() {
    let codes: Vec<&str> = RejectCode::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(
        codes,
        [
            "malformed",
            "unknown_device",
            "bad_signature",
            "meter_not_bound",
            "carrier_mismatch",
            "unknown_carrier",
            "unknown_unit",
            "unit_mismatch",
            "replay_conflict",
            "chain_broken",
            "negative_value",
            "above_capacity",
            "misaligned_interval",
            "bad_interval",
            "future_interval",
            "empty",
            "overlapping_interval",
            "out_of_range",
            "store_refused",
            "device_revoked"
        ]
    );
}

/// A park's store keeps sequence numbers as signed 64-bit integers: a validly signed record
/// with a larger `seq` must be refused by validation, by itself, and not reach the store
/// (which would fail the whole batch it came in).
#[test]
fn a_seq_the_store_cannot_hold_is_out_of_range() {
    for seq in [1u64 << 63, u64::MAX] {
        let u = signed(|b| {
            b.seq = seq;
            b.prev = [9; 32];
        });
        let m = rejected(&u, &ctx(), RejectCode::OutOfRange);
        assert_eq!(
            m,
            format!("upload d-0001#{seq}, field seq: seq {seq} is above 9223372036854775807 (2^63 − 1), the highest sequence number a park logs; the device's record counter is corrupt; fix the device (it counts records from 1, one per record)")
        );
    }
    // The highest seq the store holds passes (a gap, flagged, as for any jump ahead).
    let u = signed(|b| {
        b.seq = MAX_SEQ;
        b.prev = [9; 32];
    });
    assert_eq!(MAX_SEQ, i64::MAX as u64);
    let issues = accepted_issues(&u, &ctx());
    assert_eq!(
        issues.iter().map(|i| &i.kind).collect::<Vec<_>>(),
        [&DataIssueKind::SequenceGap {
            missing_from: 1,
            missing_to: MAX_SEQ - 1
        }]
    );
}

#[test]
fn malformed() {
    let u = signed(|b| b.seq = 0);
    let m = rejected(&u, &ctx(), RejectCode::Malformed);
    assert!(m.contains("seq = 0"), "{m}");

    let u = signed(|b| b.channels[0].meter = "m 1".into());
    let m = rejected(&u, &ctx(), RejectCode::Malformed);
    assert!(m.contains("channels[0].meter = \"m 1\""), "{m}");

    let u = signed(|b| {
        let mut c = b.channels[0].clone();
        c.start += 1800; // overlaps the last two intervals of channel 0
        b.channels.push(c);
    });
    let m = rejected(&u, &ctx(), RejectCode::Malformed);
    assert!(
        m.contains("channel 0 (meter m-0001-grid) and channel 2: both report meter m-0001-grid for overlapping intervals starting 2026-11-01T00:00:00Z and 2026-11-01T00:30:00Z"),
        "{m}"
    );

    // The same meter in adjacent, non-overlapping spans is fine.
    let u = signed(|b| {
        let mut c = b.channels[0].clone();
        c.start += 3600;
        b.channels.push(c);
    });
    accepted_issues(&u, &ctx());
}

#[test]
fn unknown_device() {
    let u = signed(|b| b.device = "d-0042".into());
    let m = rejected(&u, &ctx(), RejectCode::UnknownDevice);
    assert_eq!(
        m,
        "upload d-0042#1, field device: device \"d-0042\" is not registered; register its key and meters first"
    );
}

#[test]
fn bad_signature() {
    let mut u = vector_upload();
    u.body.channels[0].values[0] += 1;
    let m = rejected(&u, &ctx(), RejectCode::BadSignature);
    assert!(
        m.starts_with(&format!(
            "upload d-0001#1, field signature: signature {}… does not verify",
            hex::encode(&u.signature[..8])
        )),
        "{m}"
    );
    // Signed by another key.
    let u = vector_body().sign(&SigningKey::from_bytes(&[7; 32]));
    rejected(&u, &ctx(), RejectCode::BadSignature);
}

#[test]
fn a_signature_checked_ahead_counts_only_for_its_record_and_the_registered_key() {
    let u = vector_upload();
    let key = vector_registration().verifying_key().unwrap();
    let checked = SignatureChecked::check(&u, &key).unwrap();
    assert!(matches!(
        validate_checked(&u, &ctx(), &policy(), Some(&checked)),
        Ok(Verdict::Accept { .. })
    ));
    // A token is not made for a signature that does not verify.
    let mut altered = u.clone();
    altered.body.channels[0].values[0] += 1;
    assert!(SignatureChecked::check(&altered, &key).is_none());
    // The token of the unaltered record does not stand for the altered one.
    let r = validate_checked(&altered, &ctx(), &policy(), Some(&checked)).unwrap_err();
    assert_eq!(r.code, RejectCode::BadSignature);
    // A token for another key (say, the device's key before it was registered anew) does not
    // stand for the key registered now.
    let other = SigningKey::from_bytes(&[7; 32]);
    let resigned = vector_body().sign(&other);
    let checked = SignatureChecked::check(&resigned, &other.verifying_key()).unwrap();
    let r = validate_checked(&resigned, &ctx(), &policy(), Some(&checked)).unwrap_err();
    assert_eq!(r.code, RejectCode::BadSignature);
}

#[test]
fn meter_not_bound() {
    let u = signed(|b| b.channels[1].meter = "m-0002-gas".into());
    let m = rejected(&u, &ctx(), RejectCode::MeterNotBound);
    assert_eq!(
        m,
        "upload d-0001#1, channel 1 (meter m-0002-gas), field meter: meter \"m-0002-gas\" is not registered to device \"d-0001\"; register the meter for this device or fix the meter id"
    );
}

#[test]
fn carrier_mismatch() {
    let u = signed(|b| b.channels[0].carrier = "electricity_export".into());
    let m = rejected(&u, &ctx(), RejectCode::CarrierMismatch);
    assert!(
        m.starts_with("upload d-0001#1, channel 0 (meter m-0001-grid), field carrier: carrier electricity_export differs from the meter's registered carrier electricity_import"),
        "{m}"
    );
}

#[test]
fn unknown_carrier() {
    let u = signed(|b| b.channels[0].carrier = "electricity".into());
    let m = rejected(&u, &ctx(), RejectCode::UnknownCarrier);
    assert!(
        m.starts_with("upload d-0001#1, channel 0 (meter m-0001-grid), field carrier: unknown carrier \"electricity\"; known carriers: electricity_import,"),
        "{m}"
    );
}

#[test]
fn unknown_unit() {
    let u = signed(|b| b.channels[0].unit = "kwh".into());
    let m = rejected(&u, &ctx(), RejectCode::UnknownUnit);
    assert!(
        m.starts_with(
            "upload d-0001#1, channel 0 (meter m-0001-grid), field unit: unknown unit \"kwh\""
        ),
        "{m}"
    );
}

#[test]
fn unit_mismatch() {
    // natural gas is never reported in kg
    let u = signed(|b| b.channels[1].unit = "kg".into());
    let m = rejected(&u, &ctx(), RejectCode::UnitMismatch);
    assert!(
        m.starts_with("upload d-0001#1, channel 1 (meter m-0001-gas), field unit: a natural_gas channel cannot report in kg"),
        "{m}"
    );
    // natural gas may be reported in kWh, but not on a meter registered in m3
    let u = signed(|b| b.channels[1].unit = "kWh".into());
    let m = rejected(&u, &ctx(), RejectCode::UnitMismatch);
    assert!(
        m.contains("field unit: unit kWh (energy) cannot be converted to the meter's registered unit m3 (volume)"),
        "{m}"
    );
    // the same dimension converts: a kWh meter reporting in Wh
    let u = signed(|b| {
        b.channels[0].unit = "Wh".into();
        b.channels[0].decimals = 0;
    });
    accepted_issues(&u, &ctx());
}

#[test]
fn bad_interval() {
    let u = signed(|b| b.channels[0].interval_s = 120);
    let m = rejected(&u, &ctx(), RejectCode::BadInterval);
    assert!(
        m.starts_with("upload d-0001#1, channel 0 (meter m-0001-grid), field interval_s: 120 s is not an allowed interval length"),
        "{m}"
    );
}

#[test]
fn misaligned_interval() {
    let u = signed(|b| b.channels[1].start += 60);
    let m = rejected(&u, &ctx(), RejectCode::MisalignedInterval);
    assert!(
        m.starts_with("upload d-0001#1, channel 1 (meter m-0001-gas), field start: 2026-11-01T00:01:00Z (1793491260) is not a multiple of the 900 s interval"),
        "{m}"
    );
}

#[test]
fn empty() {
    let u = signed(|b| b.channels.clear());
    let m = rejected(&u, &ctx(), RejectCode::Empty);
    assert!(
        m.starts_with("upload d-0001#1, field channels: the upload has 0 channels"),
        "{m}"
    );
    let u = signed(|b| b.channels[1].values.clear());
    let m = rejected(&u, &ctx(), RejectCode::Empty);
    assert!(
        m.starts_with(
            "upload d-0001#1, channel 1 (meter m-0001-gas), field values: the channel has 0 values"
        ),
        "{m}"
    );
}

#[test]
fn negative_value() {
    let u = signed(|b| b.channels[0].values[1] = -3_200);
    let m = rejected(&u, &ctx(), RejectCode::NegativeValue);
    assert_eq!(
        m,
        "upload d-0001#1, channel 0 (meter m-0001-grid), value 1 (2026-11-01T00:15:00Z): energy -3.200 kWh is negative; meters report consumption per interval, not negative values"
    );
}

#[test]
fn above_capacity_is_exact_at_the_boundary() {
    // 500 kW × 900 s = 125.000 kWh
    let u = signed(|b| b.channels[0].values[3] = 125_000);
    accepted_issues(&u, &ctx());
    let u = signed(|b| b.channels[0].values[3] = 125_001);
    let m = rejected(&u, &ctx(), RejectCode::AboveCapacity);
    assert_eq!(
        m,
        "upload d-0001#1, channel 0 (meter m-0001-grid), value 3 (2026-11-01T00:45:00Z): energy 125.001 kWh exceeds the meter's rated capacity of 500.000 kWh per hour, at most 125.000 kWh per 900 s interval; check the channel's unit and decimals or the meter's rated capacity"
    );
    // 200 m3/h × 900 s = 50.00 m3
    let u = signed(|b| b.channels[1].values[0] = 5_000);
    accepted_issues(&u, &ctx());
    let u = signed(|b| b.channels[1].values[0] = 5_001);
    let m = rejected(&u, &ctx(), RejectCode::AboveCapacity);
    assert!(
        m.contains("value 0 (2026-11-01T00:00:00Z): volume 50.01 m3 exceeds"),
        "{m}"
    );
}

#[test]
fn above_capacity_converts_units_exactly() {
    // A heat meter registered in kWh at 1 kWh/h, reporting in MJ with 3 decimals:
    // 1 kWh/h × 900 s = 0.25 kWh = 0.900 MJ exactly; 1 kWh = 3.6 MJ.
    let mut c = ctx();
    c.register(&DeviceRegistration {
        meter: "m-heat".into(),
        carrier: "heat".into(),
        unit: "kWh".into(),
        rated_per_hour_milli: 1_000,
        ..vector_registration()
    });
    let heat = |v: i64, interval_s: u32| {
        signed(|b| {
            b.channels = vec![Channel {
                meter: "m-heat".into(),
                carrier: "heat".into(),
                unit: "MJ".into(),
                decimals: 3,
                start: NOV1,
                interval_s,
                values: vec![v],
            }]
        })
    };
    accepted_issues(&heat(900, 900), &c);
    rejected(&heat(901, 900), &c, RejectCode::AboveCapacity);
    accepted_issues(&heat(3_600, 3600), &c);
    rejected(&heat(3_601, 3600), &c, RejectCode::AboveCapacity);
    // 1 kWh/h × 60 s = 1/60 kWh = 0.06 MJ exactly.
    accepted_issues(&heat(60, 60), &c);
    rejected(&heat(61, 60), &c, RejectCode::AboveCapacity);

    // A heat meter in GJ at 0.001 GJ/h reporting in MWh with 6 decimals: 1 GJ = 0.2777… MWh.
    c.register(&DeviceRegistration {
        meter: "m-heat2".into(),
        carrier: "heat".into(),
        unit: "GJ".into(),
        rated_per_hour_milli: 1,
        ..vector_registration()
    });
    let heat2 = |v: i64| {
        signed(|b| {
            b.channels = vec![Channel {
                meter: "m-heat2".into(),
                carrier: "heat".into(),
                unit: "MWh".into(),
                decimals: 6,
                start: NOV1,
                interval_s: 3600,
                values: vec![v],
            }]
        })
    };
    // 0.001 GJ = 0.000277… MWh → 277 raw at 6 decimals passes, 278 does not.
    accepted_issues(&heat2(277), &c);
    let m = rejected(&heat2(278), &c, RejectCode::AboveCapacity);
    assert!(
        m.contains("at most 0.000277 MWh per 3600 s interval"),
        "{m}"
    );
}

#[test]
fn future_interval() {
    // The vector's last interval ends 2026-11-01T01:00:00Z; 300 s of skew are allowed.
    let end = NOV1 + 3600;
    let at = |now| validate(&vector_upload(), &ctx(), &Policy::at(now));
    assert!(at(end - 300).is_ok());
    let r = at(end - 301).unwrap_err();
    assert_eq!(r.code, RejectCode::FutureInterval);
    assert_eq!(
        r.message,
        "upload d-0001#1, channel 0 (meter m-0001-grid), field start: the last of 4 intervals from 2026-11-01T00:00:00Z ends at 2026-11-01T01:00:00Z, after now (2026-11-01T00:54:59Z) plus the allowed clock skew of 300 s; check the device clock"
    );
    let strict = Policy {
        now: end - 1,
        clock_skew_s: 0,
    };
    assert_eq!(
        validate(&vector_upload(), &ctx(), &strict)
            .unwrap_err()
            .code,
        RejectCode::FutureInterval
    );
}

fn chain(n: u64) -> Vec<SignedUpload> {
    let mut out: Vec<SignedUpload> = Vec::new();
    for seq in 1..=n {
        let prev = out.last().map_or(ZERO_HASH, |u| u.record_hash());
        out.push(signed(|b| {
            b.seq = seq;
            b.prev = prev;
            for c in &mut b.channels {
                c.start = NOV1 + (seq as i64 - 1) * 3600;
            }
        }));
    }
    out
}

#[test]
fn duplicates_and_replays() {
    let mut c = ctx();
    let u = vector_upload();
    c.accept(&u);
    assert_eq!(validate(&u, &c, &policy()), Ok(Verdict::Duplicate));
    // Same seq, different content.
    let other = signed(|b| b.channels[0].values[0] = 1);
    let m = rejected(&other, &c, RejectCode::ReplayConflict);
    assert!(
        m.starts_with(&format!(
            "upload d-0001#1, field seq: seq 1 was already accepted with record_hash {}…, this record has record_hash {}…",
            hex::encode(&u.record_hash()[..8]),
            hex::encode(&other.record_hash()[..8])
        )),
        "{m}"
    );
    // A duplicate is recognised before the content checks: even if the meter was unbound since.
    c.meters.clear();
    assert_eq!(validate(&u, &c, &policy()), Ok(Verdict::Duplicate));
}

#[test]
fn chain_broken() {
    // seq 1 must have a zero prev
    let u = signed(|b| b.prev = [1; 32]);
    let m = rejected(&u, &ctx(), RejectCode::ChainBroken);
    assert_eq!(
        m,
        "upload d-0001#1, field prev: prev is 0101010101010101… but the first record (seq 1) must have an all-zero prev"
    );

    let recs = chain(3);
    let mut c = ctx();
    c.accept(&recs[0]);
    // seq 2 pointing elsewhere
    let bad = signed(|b| {
        b.seq = 2;
        b.prev = [9; 32];
    });
    let m = rejected(&bad, &c, RejectCode::ChainBroken);
    assert!(
        m.starts_with(&format!(
            "upload d-0001#2, field prev: prev is 0909090909090909… but the accepted record seq 1 has record_hash {}…",
            hex::encode(&recs[0].record_hash()[..8])
        )),
        "{m}"
    );
    accepted_issues(&recs[1], &c);

    // Out of order: 3 arrives before 2; a forged 2 must match 3's prev.
    let mut c = ctx();
    c.accept(&recs[0]);
    assert_eq!(
        accepted_issues(&recs[2], &c)[0].kind,
        DataIssueKind::SequenceGap {
            missing_from: 2,
            missing_to: 2
        }
    );
    c.accept(&recs[2]);
    let forged = signed(|b| {
        b.seq = 2;
        b.prev = recs[0].record_hash();
        b.channels[0].values[0] = 7;
    });
    let m = rejected(&forged, &c, RejectCode::ChainBroken);
    assert!(
        m.contains(&format!(
            "field prev: this record's record_hash is {}… but the already accepted record seq 3 has prev {}…",
            hex::encode(&forged.record_hash()[..8]),
            hex::encode(&recs[1].record_hash()[..8])
        )),
        "{m}"
    );
    // The real 2 fills the gap with no issues.
    assert_eq!(accepted_issues(&recs[1], &c), vec![]);
}

#[test]
fn sequence_gaps_are_accepted_and_flagged() {
    // First record with seq 3: 1 and 2 are missing; prev cannot be checked.
    let u = signed(|b| {
        b.seq = 3;
        b.prev = [5; 32];
    });
    let issues = accepted_issues(&u, &ctx());
    assert_eq!(issues.len(), 1);
    assert_eq!(
        issues[0].kind,
        DataIssueKind::SequenceGap {
            missing_from: 1,
            missing_to: 2
        }
    );
    assert_eq!(
        issues[0].message,
        "upload d-0001#3: records seq 1 to 2 of device \"d-0001\" have not arrived; they may still arrive out of order"
    );

    let recs = chain(8);
    let mut c = ctx();
    for r in &recs[..5] {
        assert_eq!(accepted_issues(r, &c), vec![]);
        c.accept(r);
    }
    let issues = accepted_issues(&recs[7], &c);
    assert_eq!(
        issues[0].kind,
        DataIssueKind::SequenceGap {
            missing_from: 6,
            missing_to: 7
        }
    );
}

#[test]
fn registrations_feed_meter_info() {
    let info = gas_registration().meter_info().unwrap();
    assert_eq!(
        info,
        MeterInfo {
            enterprise: "e-0001".into(),
            carrier: Carrier::NaturalGas,
            unit: Unit::M3,
            rated_per_hour_milli: 200_000
        }
    );
}

#[test]
fn overlapping_interval_counts_a_meter_interval_once() {
    let mut c = ctx();
    let first = vector_upload();
    c.accept(&first);
    let next = |offset: i64| {
        signed(|b| {
            b.seq = 2;
            b.prev = first.record_hash();
            for ch in &mut b.channels {
                ch.start += offset;
            }
        })
    };
    // The same hour again under a new seq: the energy would be counted twice.
    let m = rejected(&next(0), &c, RejectCode::OverlappingInterval);
    assert!(
        m.contains(
            "channel 0 (meter m-0001-grid), field start: meter m-0001-grid is already reported"
        ) && m.contains("by accepted upload d-0001#1"),
        "{m}"
    );
    // One interval of overlap is enough.
    rejected(&next(2700), &c, RejectCode::OverlappingInterval);
    // Adjacent spans are fine.
    assert_eq!(accepted_issues(&next(3600), &c), vec![]);
}
