//! Validation of uploads before they are logged.

use crate::{Hash, SignedUpload};
use std::fmt;
use tanji_units::{Carrier, Unit};

/// Why an upload was rejected. Codes are stable snake_case strings ([`RejectCode::code`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// `malformed`: the record breaks the format limits (ids, counts, seq 0, overlapping channels).
    Malformed,
    /// `unknown_device`: no key is registered for the device.
    UnknownDevice,
    /// `bad_signature`: the signature does not verify (strictly) with the registered key.
    BadSignature,
    /// `meter_not_bound`: a channel's meter is not registered to this device.
    MeterNotBound,
    /// `carrier_mismatch`: a channel's carrier differs from the meter's registered carrier.
    CarrierMismatch,
    /// `unknown_carrier`: a channel's carrier code is not known.
    UnknownCarrier,
    /// `unknown_unit`: a channel's unit code is not known.
    UnknownUnit,
    /// `unit_mismatch`: the unit is not accepted by the carrier or has another dimension
    /// than the meter's registered unit.
    UnitMismatch,
    /// `replay_conflict`: a different record was already accepted at this seq.
    ReplayConflict,
    /// `chain_broken`: `prev` does not match the neighbouring records.
    ChainBroken,
    /// `negative_value`: an interval value is below zero.
    NegativeValue,
    /// `above_capacity`: an interval value exceeds the meter's rated capacity for the interval.
    AboveCapacity,
    /// `misaligned_interval`: `start` is not a multiple of `interval_s`.
    MisalignedInterval,
    /// `bad_interval`: `interval_s` is not an allowed interval length.
    BadInterval,
    /// `future_interval`: the last interval ends after now + clock skew.
    FutureInterval,
    /// `empty`: no channels, or a channel with no values.
    Empty,
}

impl RejectCode {
    /// Every code, in table order.
    pub const ALL: [RejectCode; 16] = [
        RejectCode::Malformed,
        RejectCode::UnknownDevice,
        RejectCode::BadSignature,
        RejectCode::MeterNotBound,
        RejectCode::CarrierMismatch,
        RejectCode::UnknownCarrier,
        RejectCode::UnknownUnit,
        RejectCode::UnitMismatch,
        RejectCode::ReplayConflict,
        RejectCode::ChainBroken,
        RejectCode::NegativeValue,
        RejectCode::AboveCapacity,
        RejectCode::MisalignedInterval,
        RejectCode::BadInterval,
        RejectCode::FutureInterval,
        RejectCode::Empty,
    ];

    /// The stable snake_case code, e.g. `"bad_signature"`.
    pub const fn code(self) -> &'static str {
        match self {
            RejectCode::Malformed => "malformed",
            RejectCode::UnknownDevice => "unknown_device",
            RejectCode::BadSignature => "bad_signature",
            RejectCode::MeterNotBound => "meter_not_bound",
            RejectCode::CarrierMismatch => "carrier_mismatch",
            RejectCode::UnknownCarrier => "unknown_carrier",
            RejectCode::UnknownUnit => "unknown_unit",
            RejectCode::UnitMismatch => "unit_mismatch",
            RejectCode::ReplayConflict => "replay_conflict",
            RejectCode::ChainBroken => "chain_broken",
            RejectCode::NegativeValue => "negative_value",
            RejectCode::AboveCapacity => "above_capacity",
            RejectCode::MisalignedInterval => "misaligned_interval",
            RejectCode::BadInterval => "bad_interval",
            RejectCode::FutureInterval => "future_interval",
            RejectCode::Empty => "empty",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejected upload: a stable code and a message naming the record, field and value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    /// Machine-readable reason.
    pub code: RejectCode,
    /// Human-readable explanation: which record, field and value, and what to do.
    pub message: String,
}

/// The kind of a data-quality issue found in an accepted upload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataIssueKind {
    /// Records `missing_from..=missing_to` of the device have not arrived (yet).
    SequenceGap {
        /// First missing seq.
        missing_from: u64,
        /// Last missing seq (inclusive).
        missing_to: u64,
    },
}

/// A data-quality issue: the upload is accepted and the issue is reported.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataIssue {
    /// What kind of issue.
    pub kind: DataIssueKind,
    /// Human-readable explanation.
    pub message: String,
}

/// The outcome of validating an upload that was not rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log the record; report the issues.
    Accept {
        /// Data-quality issues (may be empty).
        issues: Vec<DataIssue>,
    },
    /// The exact same record (same record_hash) was already accepted at this seq:
    /// acknowledge it idempotently and do not log it again.
    Duplicate,
}

/// What validation needs to know about a meter bound to a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterInfo {
    /// Enterprise the meter belongs to.
    pub enterprise: String,
    /// Registered carrier.
    pub carrier: Carrier,
    /// Registered unit.
    pub unit: Unit,
    /// Rated capacity per hour in `unit`, ×1000.
    pub rated_per_hour_milli: i64,
}

/// What validation needs to know about registered devices and accepted records.
pub trait ValidationContext {
    /// The registered key of `device`, if any.
    fn device_key(&self, device: &str) -> Option<ed25519_dalek::VerifyingKey>;
    /// The meter `meter` if it is bound to `device`; `None` = not bound to this device.
    fn meter(&self, device: &str, meter: &str) -> Option<MeterInfo>;
    /// `(record_hash, prev)` of the accepted record of `device` at `seq`, if any.
    fn accepted(&self, device: &str, seq: u64) -> Option<(Hash, Hash)>;
    /// The highest accepted seq of `device`, if any.
    fn last_seq(&self, device: &str) -> Option<u64>;
}

/// Validation settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The current time, Unix seconds UTC.
    pub now: i64,
    /// How far (seconds) an interval may end after `now` (device clocks drift). Default 300.
    pub clock_skew_s: i64,
}

impl Policy {
    /// The default clock skew allowance, 300 s.
    pub const DEFAULT_CLOCK_SKEW_S: i64 = 300;

    /// A policy at `now` with the default clock skew.
    pub const fn at(now: i64) -> Policy {
        Policy {
            now,
            clock_skew_s: Self::DEFAULT_CLOCK_SKEW_S,
        }
    }
}

/// Validates an upload. See docs/formats.md, "Validation", for the check order.
pub fn validate(
    u: &SignedUpload,
    ctx: &impl ValidationContext,
    policy: &Policy,
) -> Result<Verdict, Rejection> {
    let _ = (u, ctx, policy);
    todo!()
}
