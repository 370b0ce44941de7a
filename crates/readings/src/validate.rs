//! Validation of uploads before they are logged.

use crate::{Channel, Hash, SignedUpload, UploadBody, MAX_SEQ, ZERO_HASH};
use std::fmt;
use tanji_units::time::rfc3339;
use tanji_units::{is_aligned, is_allowed_interval, pow10, Carrier, Fixed, Unit};

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
    /// `overlapping_interval`: another accepted upload already reported this meter for an
    /// overlapping time span (the energy would be counted twice).
    OverlappingInterval,
    /// `out_of_range`: a field is within the format but beyond what a park can log: `seq`
    /// above [`crate::MAX_SEQ`] (2^63 − 1; the store keeps signed 64-bit integers).
    OutOfRange,
    /// `store_refused`: the record passed validation but the park's store refused to write it;
    /// it alone is refused (the rest of its batch is logged). Validation enforces every limit
    /// the store has, so this means a limit was missed: the park logs it as an error.
    StoreRefused,
    /// `device_revoked`: the device's key was revoked (a revocation entry is logged for it);
    /// nothing it signs is logged any more.
    DeviceRevoked,
}

impl RejectCode {
    /// Every code, in table order.
    pub const ALL: [RejectCode; 20] = [
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
        RejectCode::OverlappingInterval,
        RejectCode::OutOfRange,
        RejectCode::StoreRefused,
        RejectCode::DeviceRevoked,
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
            RejectCode::OverlappingInterval => "overlapping_interval",
            RejectCode::OutOfRange => "out_of_range",
            RejectCode::StoreRefused => "store_refused",
            RejectCode::DeviceRevoked => "device_revoked",
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
    /// The key of its registered type (`crate::VerifyingKey`), checked when it was registered.
    fn device_key(&self, device: &str) -> Option<crate::VerifyingKey>;
    /// The meter `meter` if it is bound to `device`; `None` = not bound to this device.
    fn meter(&self, device: &str, meter: &str) -> Option<MeterInfo>;
    /// `(record_hash, prev)` of the accepted record of `device` at `seq`, if any.
    fn accepted(&self, device: &str, seq: u64) -> Option<(Hash, Hash)>;
    /// The highest accepted seq of `device`, if any.
    fn last_seq(&self, device: &str) -> Option<u64>;
    /// An accepted upload `(device, seq)` with a channel of `meter` whose intervals overlap
    /// `[start, end)`, if any.
    fn overlapping(&self, meter: &str, start: i64, end: i64) -> Option<(String, u64)>;
    /// The log index of `device`'s revocation, if it is revoked.
    fn revoked(&self, device: &str) -> Option<u64> {
        let _ = device;
        None
    }
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

/// Validates an upload before it is logged.
///
/// Checks, in this order (the first failure is returned):
/// 1. format limits ([`crate::UploadBody::check_limits`]) and no two channels of one meter
///    overlapping in time → `malformed`; then the park's limits beyond the format (`seq` at
///    most [`crate::MAX_SEQ`]) → `out_of_range`;
/// 2. device known → signature with its registered key type (Ed25519 `verify_strict`, SM2
///    with SM3, ECDSA P-256) → device not revoked (`device_revoked`);
/// 3. same seq already accepted: same record_hash → [`Verdict::Duplicate`], else
///    `replay_conflict`;
/// 4. at least one channel (`empty`), then every channel in order: carrier and unit known, meter bound to the device, carrier equal
///    to the meter's, unit accepted by the carrier and of the meter unit's dimension, interval
///    allowed, start aligned, values non-empty, no value negative, no value above the rated
///    capacity for its interval, last interval ending no later than `now + clock_skew_s`;
/// 5. hash chain: `prev` equals the record_hash of an accepted `seq - 1` (zero for seq 1), and
///    an already accepted `seq + 1` has `prev` equal to this record's hash;
///    then no channel overlaps, for its meter, the intervals of another accepted upload
///    (`overlapping_interval`);
/// 6. a gap after the device's last accepted seq is accepted with a
///    [`DataIssueKind::SequenceGap`] issue.
pub fn validate(
    u: &SignedUpload,
    ctx: &impl ValidationContext,
    policy: &Policy,
) -> Result<Verdict, Rejection> {
    validate_checked(u, ctx, policy, None)
}

/// Proof that an upload's signature verified with a key: made only by
/// [`SignatureChecked::check`], and bound to the record's hash, so it says nothing about
/// any other record. It lets the signature check (the costliest step of validation) run on
/// many threads before the one thread that validates and logs in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureChecked {
    key: crate::PublicKey,
    record: Hash,
}

impl SignatureChecked {
    /// Verifies `u`'s signature with `key` (any key type; Ed25519 `verify_strict`); `None` if
    /// it does not verify.
    pub fn check(u: &SignedUpload, key: &(impl crate::UploadVerifier + ?Sized)) -> Option<Self> {
        u.verify_signature(key).then(|| SignatureChecked {
            key: key.upload_public_key(),
            record: u.record_hash(),
        })
    }
}

/// [`validate`], where `checked`, if it is for this record and the key registered now,
/// stands for the signature check (otherwise the signature is verified here).
pub fn validate_checked(
    u: &SignedUpload,
    ctx: &impl ValidationContext,
    policy: &Policy,
    checked: Option<&SignatureChecked>,
) -> Result<Verdict, Rejection> {
    let b = &u.body;
    let rec = Rec(b);

    if let Err(e) = b.check_limits() {
        return Err(reject(
            RejectCode::Malformed,
            format_args!("{rec}: {e}; fix the device's encoder"),
        ));
    }
    check_overlaps(u)?;
    check_park_limits(rec)?;

    let Some(key) = ctx.device_key(&b.device) else {
        return Err(reject(
            RejectCode::UnknownDevice,
            format_args!(
                "{rec}, field device: device {:?} is not registered; register its key and meters first",
                b.device
            ),
        ));
    };
    let hash = u.record_hash();
    check_signature(u, rec, &key, hash, checked)?;
    if let Some(index) = ctx.revoked(&b.device) {
        return Err(reject(
            RejectCode::DeviceRevoked,
            format_args!(
                "{rec}, field device: device {:?} was revoked by log entry {index}; nothing it signs is logged any more — register a new key under a new device id",
                b.device
            ),
        ));
    }

    if let Some((accepted, _)) = ctx.accepted(&b.device, b.seq) {
        if accepted == hash {
            return Ok(Verdict::Duplicate);
        }
        return Err(reject(
            RejectCode::ReplayConflict,
            format_args!(
                "{rec}, field seq: seq {} was already accepted with record_hash {}, this record has record_hash {}; a device must never reuse a sequence number",
                b.seq,
                short_hex(&accepted),
                short_hex(&hash)
            ),
        ));
    }

    if b.channels.is_empty() {
        return Err(reject(
            RejectCode::Empty,
            format_args!(
                "{rec}, field channels: the upload has 0 channels; send at least one channel with values"
            ),
        ));
    }
    for (i, c) in b.channels.iter().enumerate() {
        check_channel(rec, i, c, ctx, policy)?;
    }
    // Hash chain.
    if b.seq == 1 {
        if b.prev != ZERO_HASH {
            return Err(reject(
                RejectCode::ChainBroken,
                format_args!(
                    "{rec}, field prev: prev is {} but the first record (seq 1) must have an all-zero prev",
                    short_hex(&b.prev)
                ),
            ));
        }
    } else if let Some((before, _)) = ctx.accepted(&b.device, b.seq - 1) {
        if before != b.prev {
            return Err(reject(
                RejectCode::ChainBroken,
                format_args!(
                    "{rec}, field prev: prev is {} but the accepted record seq {} has record_hash {}; the device must chain each record to the previous one it sent",
                    short_hex(&b.prev),
                    b.seq - 1,
                    short_hex(&before)
                ),
            ));
        }
    }
    if let Some(next) = b.seq.checked_add(1) {
        if let Some((_, next_prev)) = ctx.accepted(&b.device, next) {
            if next_prev != hash {
                return Err(reject(
                    RejectCode::ChainBroken,
                    format_args!(
                        "{rec}, field prev: this record's record_hash is {} but the already accepted record seq {next} has prev {}; this is not the record the device chained to",
                        short_hex(&hash),
                        short_hex(&next_prev)
                    ),
                ));
            }
        }
    }

    for (i, c) in b.channels.iter().enumerate() {
        // check_channel has bounded start and end.
        let end = c.end().unwrap_or(i64::MAX);
        if let Some((device, seq)) = ctx.overlapping(&c.meter, c.start, end) {
            return Err(reject(
                RejectCode::OverlappingInterval,
                format_args!(
                    "{rec}, {}, field start: meter {} is already reported for intervals overlapping {} to {} by accepted upload {device}#{seq}; each interval of a meter is reported once",
                    Chan(i, c),
                    c.meter,
                    rfc3339(c.start),
                    rfc3339(end)
                ),
            ));
        }
    }

    // Sequence gaps: accepted, flagged.
    let mut issues = Vec::new();
    let expected = ctx.last_seq(&b.device).map_or(1, |l| l.saturating_add(1));
    if b.seq > expected {
        issues.push(DataIssue {
            kind: DataIssueKind::SequenceGap {
                missing_from: expected,
                missing_to: b.seq - 1,
            },
            message: format!(
                "{rec}: records seq {expected} to {} of device {:?} have not arrived; they may still arrive out of order",
                b.seq - 1,
                b.device
            ),
        });
    }
    Ok(Verdict::Accept { issues })
}

/// The signature check of [`validate_checked`]: skipped when `checked` is for this record
/// and key.
fn check_signature(
    u: &SignedUpload,
    rec: Rec<'_>,
    key: &crate::VerifyingKey,
    hash: Hash,
    checked: Option<&SignatureChecked>,
) -> Result<(), Rejection> {
    let prechecked = checked.is_some_and(|c| c.key == key.public_key() && c.record == hash);
    if prechecked || u.verify_signature(key) {
        return Ok(());
    }
    let algorithm = match key.key_type() {
        crate::KeyType::Ed25519 => "strict Ed25519",
        crate::KeyType::Sm2 => "SM2 with SM3",
        crate::KeyType::P256 => "ECDSA P-256 with SHA-256",
    };
    Err(reject(
        RejectCode::BadSignature,
        format_args!(
            "{rec}, field signature: signature {} does not verify ({algorithm}) with the registered key {}; the record was altered or signed with another key",
            short_hex(&u.signature),
            short_hex(key.public_key().as_bytes())
        ),
    ))
}

fn reject(code: RejectCode, message: fmt::Arguments<'_>) -> Rejection {
    Rejection {
        code,
        message: message.to_string(),
    }
}

/// `upload d-0042#17`.
#[derive(Clone, Copy)]
struct Rec<'a>(&'a UploadBody);

impl fmt::Display for Rec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upload {}#{}", self.0.device, self.0.seq)
    }
}

/// `channel 0 (meter m-1)`.
struct Chan<'a>(usize, &'a Channel);

impl fmt::Display for Chan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel {} (meter {})", self.0, self.1.meter)
    }
}

/// The first 8 bytes of a hash, key or signature in hex, for messages.
fn short_hex(b: &[u8]) -> String {
    let n = b.len().min(8);
    format!("{}…", hex::encode(&b[..n]))
}

/// The limits a park's store has beyond the format's: what passes here, the store can hold
/// (the times, lengths and counts it keeps are bounded by the format limits already).
fn check_park_limits(rec: Rec<'_>) -> Result<(), Rejection> {
    let seq = rec.0.seq;
    if seq > MAX_SEQ {
        return Err(reject(
            RejectCode::OutOfRange,
            format_args!(
                "{rec}, field seq: seq {seq} is above {MAX_SEQ} (2^63 − 1), the highest sequence number a park logs; the device's record counter is corrupt; fix the device (it counts records from 1, one per record)"
            ),
        ));
    }
    Ok(())
}

fn check_overlaps(u: &SignedUpload) -> Result<(), Rejection> {
    let chans = &u.body.channels;
    let span = |c: &Channel| {
        let end = i128::from(c.start)
            + i128::from(c.interval_s) * i128::try_from(c.values.len()).unwrap_or(i128::MAX / 2);
        (i128::from(c.start), end)
    };
    for (i, a) in chans.iter().enumerate() {
        for (j, b) in chans.iter().enumerate().skip(i + 1) {
            if a.meter != b.meter {
                continue;
            }
            let ((s1, e1), (s2, e2)) = (span(a), span(b));
            if s1 < e2 && s2 < e1 {
                return Err(reject(
                    RejectCode::Malformed,
                    format_args!(
                        "{}, {} and channel {j}: both report meter {} for overlapping intervals starting {} and {}; send one channel per meter and time span",
                        Rec(&u.body),
                        Chan(i, a),
                        a.meter,
                        rfc3339(a.start),
                        rfc3339(b.start)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_channel(
    rec: Rec<'_>,
    i: usize,
    c: &Channel,
    ctx: &impl ValidationContext,
    policy: &Policy,
) -> Result<(), Rejection> {
    let ch = Chan(i, c);
    let carrier: Carrier = c.carrier.parse().map_err(|e| {
        reject(
            RejectCode::UnknownCarrier,
            format_args!("{rec}, {ch}, field carrier: {e}"),
        )
    })?;
    let unit: Unit = c.unit.parse().map_err(|e| {
        reject(
            RejectCode::UnknownUnit,
            format_args!("{rec}, {ch}, field unit: {e}"),
        )
    })?;
    let Some(m) = ctx.meter(&rec.0.device, &c.meter) else {
        return Err(reject(
            RejectCode::MeterNotBound,
            format_args!(
                "{rec}, {ch}, field meter: meter {:?} is not registered to device {:?}; register the meter for this device or fix the meter id",
                c.meter, rec.0.device
            ),
        ));
    };
    if carrier != m.carrier {
        return Err(reject(
            RejectCode::CarrierMismatch,
            format_args!(
                "{rec}, {ch}, field carrier: carrier {carrier} differs from the meter's registered carrier {}; fix the device configuration or the registration",
                m.carrier
            ),
        ));
    }
    if !carrier.accepts(unit) {
        return Err(reject(
            RejectCode::UnitMismatch,
            format_args!(
                "{rec}, {ch}, field unit: a {carrier} channel cannot report in {unit}; use a unit the carrier accepts"
            ),
        ));
    }
    let Some(factor) = unit.factor_to(m.unit) else {
        return Err(reject(
            RejectCode::UnitMismatch,
            format_args!(
                "{rec}, {ch}, field unit: unit {unit} ({}) cannot be converted to the meter's registered unit {} ({}); report in a unit of the same kind",
                unit.dimension(),
                m.unit,
                m.unit.dimension()
            ),
        ));
    };
    if !is_allowed_interval(c.interval_s) {
        return Err(reject(
            RejectCode::BadInterval,
            format_args!(
                "{rec}, {ch}, field interval_s: {} s is not an allowed interval length; use one of 60, 300, 600, 900, 1800, 3600",
                c.interval_s
            ),
        ));
    }
    if !is_aligned(c.start, c.interval_s) {
        return Err(reject(
            RejectCode::MisalignedInterval,
            format_args!(
                "{rec}, {ch}, field start: {} ({}) is not a multiple of the {} s interval since the Unix epoch; intervals start on the interval grid (e.g. :00, :15, :30, :45 for 900 s)",
                rfc3339(c.start),
                c.start,
                c.interval_s
            ),
        ));
    }
    if c.values.is_empty() {
        return Err(reject(
            RejectCode::Empty,
            format_args!(
                "{rec}, {ch}, field values: the channel has 0 values; omit empty channels"
            ),
        ));
    }

    // raw × fn / (10^d × fd) ≤ rated_milli / 1000 × interval_s / 3600   (in the meter's unit)
    // ⟺ raw × fn × 3_600_000 ≤ rated_milli × interval_s × 10^d × fd
    // ⟺ raw ≤ floor(rated_milli × interval_s × 10^d × fd / (fn × 3_600_000)).
    // Bounds: fn, fd ≤ 2.5e6, so both sides fit in i128 for every i64 input.
    let a = i128::from(factor.num) * 3_600_000;
    let bnum = i128::from(m.rated_per_hour_milli)
        * i128::from(c.interval_s)
        * i128::from(pow10(c.decimals))
        * i128::from(factor.den);
    let max_raw = bnum.div_euclid(a);

    for (j, &v) in c.values.iter().enumerate() {
        if v < 0 || i128::from(v) > max_raw {
            return Err(value_rejection(rec, ch, j, v, unit, &m, max_raw));
        }
    }

    let end = i128::from(c.start)
        + i128::from(c.interval_s) * i128::try_from(c.values.len()).unwrap_or(i128::MAX / 2);
    let latest = i128::from(policy.now) + i128::from(policy.clock_skew_s);
    if end > latest {
        let end_s = i64::try_from(end).unwrap_or(i64::MAX);
        return Err(reject(
            RejectCode::FutureInterval,
            format_args!(
                "{rec}, {ch}, field start: the last of {} intervals from {} ends at {}, after now ({}) plus the allowed clock skew of {} s; check the device clock",
                c.values.len(),
                rfc3339(c.start),
                rfc3339(end_s),
                rfc3339(policy.now),
                policy.clock_skew_s
            ),
        ));
    }
    Ok(())
}

#[cold]
fn value_rejection(
    rec: Rec<'_>,
    ch: Chan<'_>,
    j: usize,
    v: i64,
    unit: Unit,
    m: &MeterInfo,
    max_raw: i128,
) -> Rejection {
    let c = ch.1;
    let at = c.interval_start(j).map_or(String::from("?"), rfc3339);
    let q = Fixed::new(v, c.decimals).unwrap_or(Fixed::from_int(v));
    let noun = unit.dimension().noun();
    if v < 0 {
        return reject(
            RejectCode::NegativeValue,
            format_args!(
                "{rec}, {ch}, value {j} ({at}): {noun} {q} {unit} is negative; meters report consumption per interval, not negative values"
            ),
        );
    }
    let max = i64::try_from(max_raw.max(i128::from(i64::MIN))).unwrap_or(i64::MIN);
    let max = Fixed::new(max, c.decimals).unwrap_or(Fixed::from_int(max));
    let rated = Fixed::new(m.rated_per_hour_milli, 3).unwrap_or(Fixed::from_int(0));
    reject(
        RejectCode::AboveCapacity,
        format_args!(
            "{rec}, {ch}, value {j} ({at}): {noun} {q} {unit} exceeds the meter's rated capacity of {rated} {} per hour, at most {max} {unit} per {} s interval; check the channel's unit and decimals or the meter's rated capacity",
            m.unit, c.interval_s
        ),
    )
}
