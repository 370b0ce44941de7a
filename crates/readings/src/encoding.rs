//! Canonical binary encoding of uploads, registrations and log entries (see docs/formats.md).

use crate::{
    Channel, DeviceRegistration, DeviceRevocation, Hash, LogEntry, MeterInfo, SignedUpload,
    UploadBody,
};
use sha2::{Digest, Sha256};
use std::fmt;
use tanji_device::{
    ChannelFields, KeyType, PublicKey, Sink, UploadRef, UploadSigner, UploadVerifier, VerifyingKey,
};
use tanji_units::{Carrier, Unit};

pub use tanji_device::{
    MAX_CHANNELS, MAX_ENTRY_LEN, MAX_ID_LEN, MAX_START, MAX_VALUES, UPLOAD_DOMAIN,
};

/// Version prefix of an Ed25519 registration payload (the format before key types; every
/// Ed25519 registration is still written this way).
pub const REGISTRATION_DOMAIN: &[u8; 22] = b"tanji/registration/v1\n";
/// Version prefix of a registration payload with a key type byte: SM2 and P-256 keys.
pub const REGISTRATION_DOMAIN_V2: &[u8; 22] = b"tanji/registration/v2\n";
/// Log entry kind of an upload.
pub const KIND_UPLOAD: u8 = 0x01;
/// Log entry kind of a registration.
pub const KIND_REGISTRATION: u8 = 0x02;
/// Log entry kind of a grid-factor publication (a signed note).
pub const KIND_PUBLICATION: u8 = 0x03;
/// Version prefix of every revocation payload.
pub const REVOCATION_DOMAIN: &[u8; 20] = b"tanji/revocation/v1\n";
/// Log entry kind of a device revocation.
pub const KIND_REVOCATION: u8 = 0x04;
/// Longest revocation reason, in bytes of UTF-8.
pub const MAX_REASON_LEN: usize = 256;
/// Highest sequence number a park logs: 2^63 − 1. The format carries a `u64`, but a park's
/// store keeps sequence numbers as signed 64-bit integers (SQLite `INTEGER`), so validation
/// refuses larger ones (`out_of_range`) rather than let the store refuse them mid-batch.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// Why bytes or JSON could not be decoded into a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error(
        "truncated: {field} at byte {offset} needs {needed} bytes but only {available} remain"
    )]
    Truncated {
        /// Field path, e.g. `channels[1].values[3]`.
        field: String,
        /// Byte offset where the field starts.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// Bytes after the end of the record.
    #[error("{count} trailing bytes after the end of the record at byte {offset}")]
    TrailingBytes {
        /// Where the record ended.
        offset: usize,
        /// How many bytes follow.
        count: usize,
    },
    /// The input is longer than any valid entry.
    #[error("{len} bytes is longer than the maximum of {max}")]
    TooLarge {
        /// Input length.
        len: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// A log entry's kind byte is not known.
    #[error("unknown log entry kind 0x{kind:02x}; known kinds: 0x01 upload, 0x02 registration, 0x03 publication, 0x04 revocation")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// A field has a value the format does not allow.
    #[error("{field} = {value}: {reason}")]
    Invalid {
        /// Field path, e.g. `channels[0].decimals`.
        field: String,
        /// The offending value, rendered for humans.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// JSON that does not parse or has the wrong shape.
    #[error("JSON {field}: {message}")]
    Json {
        /// Field path, e.g. `channels[0].values`, or `record` when not known.
        field: String,
        /// The parser's message (includes line and column).
        message: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Field paths (allocation-free until an error is rendered)

/// A field path such as `channels[1].values[3]`, rendered only when an error is built.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    pub(crate) channel: Option<usize>,
    pub(crate) name: &'static str,
    pub(crate) index: Option<usize>,
}

impl Field {
    pub(crate) const fn top(name: &'static str) -> Field {
        Field {
            channel: None,
            name,
            index: None,
        }
    }
    pub(crate) const fn ch(channel: usize, name: &'static str) -> Field {
        Field {
            channel: Some(channel),
            name,
            index: None,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.channel {
            write!(f, "channels[{c}].")?;
        }
        f.write_str(self.name)?;
        if let Some(i) = self.index {
            write!(f, "[{i}]")?;
        }
        Ok(())
    }
}

fn invalid(field: Field, value: impl fmt::Display, reason: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        field: field.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Limits shared by binary decoding, JSON decoding and in-memory checks

/// Ids are 1..=64 bytes of printable ASCII without space (0x21..=0x7e).
pub(crate) fn check_id(field: Field, s: &str) -> Result<(), DecodeError> {
    if !tanji_device::id_ok(s) {
        return Err(invalid(
            field,
            format_args!("{s:?}"),
            "ids are 1 to 64 bytes of printable ASCII without spaces (0x21..=0x7e)",
        ));
    }
    Ok(())
}

pub(crate) fn check_decimals(field: Field, d: u8) -> Result<(), DecodeError> {
    if !tanji_device::decimals_ok(d) {
        return Err(invalid(field, d, "decimals must be 0 to 6"));
    }
    Ok(())
}

pub(crate) fn check_time(field: Field, t: i64) -> Result<(), DecodeError> {
    if !tanji_device::time_ok(t) {
        return Err(invalid(
            field,
            t,
            "times must lie between 1970-01-01T00:00:00Z (0) and 9999-12-31T23:59:59Z (253402300799)",
        ));
    }
    Ok(())
}

fn check_count(field: Field, n: usize, max: usize) -> Result<(), DecodeError> {
    if n > max {
        return Err(invalid(field, n, format!("at most {max} allowed")));
    }
    Ok(())
}

fn check_seq(seq: u64) -> Result<(), DecodeError> {
    if seq == 0 {
        return Err(invalid(Field::top("seq"), 0, "sequence numbers start at 1"));
    }
    Ok(())
}

fn check_channel_head(i: usize, c: &Channel) -> Result<(), DecodeError> {
    check_id(Field::ch(i, "meter"), &c.meter)?;
    check_id(Field::ch(i, "carrier"), &c.carrier)?;
    check_id(Field::ch(i, "unit"), &c.unit)?;
    check_decimals(Field::ch(i, "decimals"), c.decimals)?;
    check_time(Field::ch(i, "start"), c.start)?;
    Ok(())
}

const fn str_len(s: &str) -> usize {
    2 + s.len()
}

impl ChannelFields for Channel {
    fn meter(&self) -> &str {
        &self.meter
    }
    fn carrier(&self) -> &str {
        &self.carrier
    }
    fn unit(&self) -> &str {
        &self.unit
    }
    fn decimals(&self) -> u8 {
        self.decimals
    }
    fn start(&self) -> i64 {
        self.start
    }
    fn interval_s(&self) -> u32 {
        self.interval_s
    }
    fn values(&self) -> &[i64] {
        &self.values
    }
}

impl UploadBody {
    /// The body as the signing core (`tanji-device`) sees it: borrowed, same bytes.
    pub fn as_ref(&self) -> UploadRef<'_, Channel> {
        UploadRef {
            device: &self.device,
            seq: self.seq,
            prev: &self.prev,
            channels: &self.channels,
        }
    }
}

fn body_len(b: &UploadBody) -> usize {
    tanji_device::body_len(&b.as_ref())
}

fn registration_len(r: &DeviceRegistration) -> usize {
    let key = match r.public_key {
        PublicKey::Ed25519(_) => 0,
        _ => 1,
    } + r.public_key.as_bytes().len();
    REGISTRATION_DOMAIN.len()
        + str_len(&r.device)
        + key
        + str_len(&r.enterprise)
        + str_len(&r.meter)
        + str_len(&r.carrier)
        + str_len(&r.unit)
        + 8
        + 8
}

fn revocation_len(r: &DeviceRevocation) -> usize {
    REVOCATION_DOMAIN.len() + str_len(&r.device) + 8 + str_len(&r.reason)
}

/// A revocation reason: at most [`MAX_REASON_LEN`] bytes of UTF-8 without control characters
/// (it is shown to people in messages and reports); may be empty.
pub(crate) fn check_reason(s: &str) -> Result<(), DecodeError> {
    let field = Field::top("reason");
    if s.len() > MAX_REASON_LEN {
        return Err(invalid(
            field,
            format_args!("{} bytes", s.len()),
            format!("a revocation reason is at most {MAX_REASON_LEN} bytes of UTF-8"),
        ));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(invalid(
            field,
            format_args!("{c:?}"),
            "a revocation reason is one line of text without control characters",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing: to a Vec or straight into a hash, through the signing core's sink

/// A vector as a [`Sink`] of the core's encoder.
struct VecSink<'a>(&'a mut Vec<u8>);

impl Sink for VecSink<'_> {
    fn put(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
}

/// Length prefixes saturate; records that break the limits are rejected before anyone
/// relies on their bytes ([`UploadBody::check_limits`]).
fn put_u16_len(s: &mut impl Sink, n: usize) {
    s.put(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn put_str(s: &mut impl Sink, v: &str) {
    put_u16_len(s, v.len());
    s.put(v.as_bytes());
}

/// The one upload encoder: the signing core's.
fn write_body(s: &mut impl Sink, b: &UploadBody) {
    tanji_device::write_body(s, &b.as_ref());
}

/// An Ed25519 registration is written as v1 (no key type byte), any other as v2 with the key
/// type's code before the key: one encoding per registration, and every registration logged
/// before key types existed keeps its bytes.
fn write_registration(s: &mut impl Sink, r: &DeviceRegistration) {
    match r.public_key {
        PublicKey::Ed25519(k) => {
            s.put(REGISTRATION_DOMAIN);
            put_str(s, &r.device);
            s.put(&k);
        }
        key => {
            s.put(REGISTRATION_DOMAIN_V2);
            put_str(s, &r.device);
            s.put(&[key.key_type().code()]);
            s.put(key.as_bytes());
        }
    }
    put_str(s, &r.enterprise);
    put_str(s, &r.meter);
    put_str(s, &r.carrier);
    put_str(s, &r.unit);
    s.put(&r.rated_per_hour_milli.to_be_bytes());
    s.put(&r.registered_at.to_be_bytes());
}

fn write_revocation(s: &mut impl Sink, r: &DeviceRevocation) {
    s.put(REVOCATION_DOMAIN);
    put_str(s, &r.device);
    s.put(&r.revoked_at.to_be_bytes());
    put_str(s, &r.reason);
}

// ---------------------------------------------------------------------------------------------
// Reading

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], DecodeError> {
        let rest = &self.b[self.pos..];
        if rest.len() < n {
            return Err(DecodeError::Truncated {
                field: field.to_string(),
                offset: self.pos,
                needed: n,
                available: rest.len(),
            });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    fn array<const N: usize>(&mut self, field: Field) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: Field) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }
    fn u16(&mut self, field: Field) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }
    fn u32(&mut self, field: Field) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    fn u64(&mut self, field: Field) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
    fn i64(&mut self, field: Field) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// A u16-length-prefixed id, checked against the id rules.
    fn id(&mut self, field: Field) -> Result<String, DecodeError> {
        let len = usize::from(self.u16(field)?);
        if len == 0 || len > MAX_ID_LEN {
            return Err(invalid(
                field,
                format_args!("length {len}"),
                "ids are 1 to 64 bytes long",
            ));
        }
        let bytes = self.take(len, field)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                check_id(field, s)?;
                Ok(s.to_owned())
            }
            Err(_) => Err(invalid(
                field,
                format_args!("0x{}", hex::encode(bytes)),
                "ids are printable ASCII",
            )),
        }
    }

    fn domain(&mut self, expected: &'static [u8]) -> Result<(), DecodeError> {
        let field = Field::top("domain");
        let got = self.take(expected.len(), field)?;
        if got != expected {
            return Err(invalid(
                field,
                format_args!("{:?}", String::from_utf8_lossy(got)),
                format!(
                    "expected {:?}; this is not a record of this type and version",
                    String::from_utf8_lossy(expected)
                ),
            ));
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.pos != self.b.len() {
            return Err(DecodeError::TrailingBytes {
                offset: self.pos,
                count: self.b.len() - self.pos,
            });
        }
        Ok(())
    }
}

fn read_upload(r: &mut Reader<'_>) -> Result<SignedUpload, DecodeError> {
    r.domain(UPLOAD_DOMAIN)?;
    let device = r.id(Field::top("device"))?;
    let seq = r.u64(Field::top("seq"))?;
    check_seq(seq)?;
    let prev = r.array::<32>(Field::top("prev"))?;
    let n = usize::from(r.u16(Field::top("channels"))?);
    check_count(Field::top("channels"), n, MAX_CHANNELS)?;
    let mut channels = Vec::with_capacity(n);
    for i in 0..n {
        let meter = r.id(Field::ch(i, "meter"))?;
        let carrier = r.id(Field::ch(i, "carrier"))?;
        let unit = r.id(Field::ch(i, "unit"))?;
        let decimals = r.u8(Field::ch(i, "decimals"))?;
        check_decimals(Field::ch(i, "decimals"), decimals)?;
        let start = r.i64(Field::ch(i, "start"))?;
        check_time(Field::ch(i, "start"), start)?;
        let interval_s = r.u32(Field::ch(i, "interval_s"))?;
        let count = usize::from(r.u16(Field::ch(i, "values"))?);
        check_count(Field::ch(i, "values"), count, MAX_VALUES)?;
        let raw = r.take(count * 8, Field::ch(i, "values"))?;
        let values = raw
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                i64::from_be_bytes(a)
            })
            .collect();
        channels.push(Channel {
            meter,
            carrier,
            unit,
            decimals,
            start,
            interval_s,
            values,
        });
    }
    let signature = r.array::<64>(Field::top("signature"))?;
    Ok(SignedUpload {
        body: UploadBody {
            device,
            seq,
            prev,
            channels,
        },
        signature,
    })
}

/// Whether decoding a registration checks its public key as a curve point.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyCheck {
    /// [`DeviceRegistration::check`]: every check.
    Point,
    /// [`DeviceRegistration::check_logged`]: every check but the key's point decompression.
    Logged,
}

fn read_registration(
    r: &mut Reader<'_>,
    keys: KeyCheck,
) -> Result<DeviceRegistration, DecodeError> {
    let field = Field::top("domain");
    let v2 = match r.b.get(r.pos..r.pos + REGISTRATION_DOMAIN.len()) {
        Some(d) if d == REGISTRATION_DOMAIN_V2 => true,
        _ => {
            r.domain(REGISTRATION_DOMAIN)?;
            false
        }
    };
    if v2 {
        r.take(REGISTRATION_DOMAIN_V2.len(), field)?;
    }
    let device = r.id(Field::top("device"))?;
    let public_key = if v2 {
        read_typed_key(r)?
    } else {
        PublicKey::Ed25519(r.array::<32>(Field::top("public_key"))?)
    };
    let reg = DeviceRegistration {
        device,
        public_key,
        enterprise: r.id(Field::top("enterprise"))?,
        meter: r.id(Field::top("meter"))?,
        carrier: r.id(Field::top("carrier"))?,
        unit: r.id(Field::top("unit"))?,
        rated_per_hour_milli: r.i64(Field::top("rated_per_hour_milli"))?,
        registered_at: r.i64(Field::top("registered_at"))?,
    };
    match keys {
        KeyCheck::Point => reg.check()?,
        KeyCheck::Logged => reg.check_logged()?,
    }
    Ok(reg)
}

/// A v2 registration's key type byte and key (Ed25519 keys are written as v1 only).
fn read_typed_key(r: &mut Reader<'_>) -> Result<PublicKey, DecodeError> {
    let field = Field::top("key_type");
    let code = r.u8(field)?;
    let key_type =
        match KeyType::from_code(code) {
            Some(KeyType::Ed25519) => return Err(invalid(
                field,
                format_args!("0x{code:02x} (ed25519)"),
                "an Ed25519 registration is written as tanji/registration/v1, without a key type",
            )),
            Some(t) => t,
            None => {
                return Err(invalid(
                    field,
                    format_args!("0x{code:02x}"),
                    "known key types: 0x02 sm2, 0x03 p256 (0x01 ed25519 is written as v1)",
                ))
            }
        };
    let field = Field::top("public_key");
    let bytes = r.take(key_type.public_key_len(), field)?;
    PublicKey::from_bytes(key_type, bytes)
        .map_err(|e| invalid(field, hex::encode(bytes), e.to_string()))
}

fn read_revocation(r: &mut Reader<'_>) -> Result<DeviceRevocation, DecodeError> {
    r.domain(REVOCATION_DOMAIN)?;
    let device = r.id(Field::top("device"))?;
    let revoked_at = r.i64(Field::top("revoked_at"))?;
    let field = Field::top("reason");
    let len = usize::from(r.u16(field)?);
    if len > MAX_REASON_LEN {
        return Err(invalid(
            field,
            format_args!("length {len}"),
            format!("a revocation reason is at most {MAX_REASON_LEN} bytes of UTF-8"),
        ));
    }
    let bytes = r.take(len, field)?;
    let reason = std::str::from_utf8(bytes)
        .map_err(|e| {
            invalid(
                field,
                format_args!("{len} bytes"),
                format!("not UTF-8 ({e})"),
            )
        })?
        .to_owned();
    let rev = DeviceRevocation {
        device,
        revoked_at,
        reason,
    };
    rev.check()?;
    Ok(rev)
}

fn check_total(len: usize, max: usize) -> Result<(), DecodeError> {
    if len > max {
        return Err(DecodeError::TooLarge { len, max });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Public API

impl UploadBody {
    /// The exact bytes the device signs: [`UPLOAD_DOMAIN`] followed by the body fields
    /// (docs/formats.md, "Upload body").
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(body_len(self));
        write_body(&mut VecSink(&mut v), self);
        v
    }

    /// Signs the body with an Ed25519 device key (over [`UploadBody::canonical_bytes`],
    /// through the signing core); Ed25519 signing cannot fail. Any key type:
    /// [`UploadBody::try_sign`].
    pub fn sign(self, key: &ed25519_dalek::SigningKey) -> SignedUpload {
        let signature = ed25519_dalek::Signer::sign(key, &self.canonical_bytes()).to_bytes();
        SignedUpload {
            body: self,
            signature,
        }
    }

    /// Signs the body with a device key of any type (`tanji_device::SigningKey`, or one key
    /// type's key): the signing core's signature over [`UploadBody::canonical_bytes`].
    pub fn try_sign(
        self,
        key: &(impl UploadSigner + ?Sized),
    ) -> Result<SignedUpload, tanji_device::KeyError> {
        let signature = key.sign_upload(&self.canonical_bytes())?;
        Ok(SignedUpload {
            body: self,
            signature,
        })
    }

    /// Checks the format limits: ids (1..=64 bytes of 0x21..=0x7e), seq ≥ 1, at most 16
    /// channels of at most 1440 values, decimals 0..=6, start in `0..=MAX_START`, and a
    /// log entry of at most [`MAX_ENTRY_LEN`] bytes. Every decoded record satisfies it;
    /// check records built in memory before signing them.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        check_id(Field::top("device"), &self.device)?;
        check_seq(self.seq)?;
        check_count(Field::top("channels"), self.channels.len(), MAX_CHANNELS)?;
        for (i, c) in self.channels.iter().enumerate() {
            check_channel_head(i, c)?;
            check_count(Field::ch(i, "values"), c.values.len(), MAX_VALUES)?;
        }
        check_total(1 + body_len(self) + 64, MAX_ENTRY_LEN)
    }
}

impl SignedUpload {
    /// Canonical signed encoding = `canonical_bytes || signature` (64 bytes); the log
    /// entry payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(body_len(&self.body) + 64);
        write_body(&mut VecSink(&mut v), &self.body);
        v.extend_from_slice(&self.signature);
        v
    }

    /// The bytes of the log entry holding this upload (`LogEntry::Upload(u).to_bytes()`),
    /// without giving up the upload.
    pub fn to_entry_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(1 + body_len(&self.body) + 64);
        v.push(KIND_UPLOAD);
        write_body(&mut VecSink(&mut v), &self.body);
        v.extend_from_slice(&self.signature);
        v
    }

    /// Strict decoding: rejects truncation, trailing bytes, a wrong domain prefix, and
    /// anything outside the limits of [`UploadBody::check_limits`]. It does not check the
    /// signature or whether carrier and unit codes are known ([`crate::validate`] does).
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        check_total(b.len(), MAX_ENTRY_LEN - 1)?;
        let mut r = Reader { b, pos: 0 };
        let u = read_upload(&mut r)?;
        r.finish()?;
        Ok(u)
    }

    /// SHA-256 of [`SignedUpload::to_bytes`]: what `prev` of the device's next record
    /// must hold. Computed without building the byte vector.
    pub fn record_hash(&self) -> Hash {
        let mut h = Sha256::new();
        write_body(&mut h, &self.body);
        h.update(self.signature);
        h.finalize().into()
    }

    /// Verifies the signature over the canonical bytes with `key` (any key type; Ed25519
    /// with `verify_strict`, which rejects non-canonical signatures and small-order keys).
    pub fn verify_signature(&self, key: &(impl UploadVerifier + ?Sized)) -> bool {
        key.verify_upload(&self.body.canonical_bytes(), &self.signature)
    }

    /// Total number of interval values over all channels.
    pub fn reading_count(&self) -> usize {
        self.body.channels.iter().map(|c| c.values.len()).sum()
    }
}

impl DeviceRegistration {
    /// Canonical payload bytes ([`REGISTRATION_DOMAIN`] followed by the fields).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(registration_len(self));
        write_registration(&mut VecSink(&mut v), self);
        v
    }

    /// Strict decoding, followed by [`DeviceRegistration::check`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(b, KeyCheck::Point)
    }

    fn decode(b: &[u8], keys: KeyCheck) -> Result<Self, DecodeError> {
        check_total(b.len(), MAX_ENTRY_LEN - 1)?;
        let mut r = Reader { b, pos: 0 };
        let reg = read_registration(&mut r, keys)?;
        r.finish()?;
        Ok(reg)
    }

    /// [`DeviceRegistration::check`] without decompressing the public key to check that it
    /// is a valid, not small-order curve point: for registrations read back from the log,
    /// whose keys were checked when they were logged. Whoever uses the key builds it with
    /// [`DeviceRegistration::verifying_key`] (or `VerifyingKey::from_bytes`), which checks it
    /// then. The decompression is most of the cost of decoding a registration.
    pub fn check_logged(&self) -> Result<(), DecodeError> {
        check_id(Field::top("device"), &self.device)?;
        check_id(Field::top("enterprise"), &self.enterprise)?;
        check_id(Field::top("meter"), &self.meter)?;
        check_id(Field::top("carrier"), &self.carrier)?;
        check_id(Field::top("unit"), &self.unit)?;
        self.meter_info()?;
        check_time(Field::top("registered_at"), self.registered_at)?;
        Ok(())
    }

    /// Checks limits and meaning: ids, a known carrier and unit, the unit accepted by the
    /// carrier, a positive rated capacity, a valid public key of its type (a point of its
    /// curve; Ed25519 not of small order), `registered_at` in `0..=MAX_START`.
    pub fn check(&self) -> Result<(), DecodeError> {
        self.check_logged()?;
        self.verifying_key()?;
        Ok(())
    }

    /// The registered key as a verifying key of its type; fails if the bytes are not a valid
    /// point of the key type's curve, or are an Ed25519 point of small order (such keys would
    /// make `verify_strict` reject everything).
    pub fn verifying_key(&self) -> Result<VerifyingKey, DecodeError> {
        self.public_key.verifying_key().map_err(|e| {
            invalid(
                Field::top("public_key"),
                hex::encode(self.public_key.as_bytes()),
                e.to_string(),
            )
        })
    }

    /// The parsed meter facts validation needs; fails on an unknown carrier or unit, a unit
    /// the carrier does not accept, or a rated capacity ≤ 0.
    pub fn meter_info(&self) -> Result<MeterInfo, DecodeError> {
        let carrier: Carrier = self.carrier.parse().map_err(|e| {
            invalid(
                Field::top("carrier"),
                format_args!("{:?}", self.carrier),
                format!("{e}"),
            )
        })?;
        let unit: Unit = self.unit.parse().map_err(|e| {
            invalid(
                Field::top("unit"),
                format_args!("{:?}", self.unit),
                format!("{e}"),
            )
        })?;
        if !carrier.accepts(unit) {
            return Err(invalid(
                Field::top("unit"),
                unit,
                format!("a {carrier} meter cannot report in {unit}"),
            ));
        }
        if self.rated_per_hour_milli <= 0 {
            return Err(invalid(
                Field::top("rated_per_hour_milli"),
                self.rated_per_hour_milli,
                "the rated capacity must be positive",
            ));
        }
        Ok(MeterInfo {
            enterprise: self.enterprise.clone(),
            carrier,
            unit,
            rated_per_hour_milli: self.rated_per_hour_milli,
        })
    }
}

impl DeviceRevocation {
    /// Canonical payload bytes ([`REVOCATION_DOMAIN`] followed by the fields).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(revocation_len(self));
        write_revocation(&mut VecSink(&mut v), self);
        v
    }

    /// Strict decoding, followed by [`DeviceRevocation::check`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        check_total(b.len(), MAX_ENTRY_LEN - 1)?;
        let mut r = Reader { b, pos: 0 };
        let rev = read_revocation(&mut r)?;
        r.finish()?;
        Ok(rev)
    }

    /// Checks the device id, `revoked_at` in `0..=MAX_START` and the reason (at most
    /// [`MAX_REASON_LEN`] bytes, no control characters).
    pub fn check(&self) -> Result<(), DecodeError> {
        check_id(Field::top("device"), &self.device)?;
        check_time(Field::top("revoked_at"), self.revoked_at)?;
        check_reason(&self.reason)
    }
}

impl LogEntry {
    /// The kind byte: [`KIND_UPLOAD`], [`KIND_REGISTRATION`], [`KIND_PUBLICATION`] or
    /// [`KIND_REVOCATION`].
    pub fn kind(&self) -> u8 {
        match self {
            LogEntry::Upload(_) => KIND_UPLOAD,
            LogEntry::Registration(_) => KIND_REGISTRATION,
            LogEntry::Publication(_) => KIND_PUBLICATION,
            LogEntry::Revocation(_) => KIND_REVOCATION,
        }
    }

    /// Leaf bytes: kind byte || payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            LogEntry::Upload(u) => u.to_entry_bytes(),
            LogEntry::Registration(reg) => {
                let mut v = Vec::with_capacity(1 + registration_len(reg));
                v.push(KIND_REGISTRATION);
                write_registration(&mut VecSink(&mut v), reg);
                v
            }
            LogEntry::Publication(note) => {
                let mut v = Vec::with_capacity(1 + note.len());
                v.push(KIND_PUBLICATION);
                v.extend_from_slice(note.as_bytes());
                v
            }
            LogEntry::Revocation(rev) => {
                let mut v = Vec::with_capacity(1 + revocation_len(rev));
                v.push(KIND_REVOCATION);
                write_revocation(&mut VecSink(&mut v), rev);
                v
            }
        }
    }

    /// Strict decoding; an unknown kind is an error naming the byte (kinds `0x05..` are
    /// reserved).
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(b, KeyCheck::Point)
    }

    /// [`LogEntry::from_bytes`] for an entry read back from the log, whose registration keys
    /// were checked when it was logged: a registration is checked with
    /// [`DeviceRegistration::check_logged`] (its key's curve point is checked only where the
    /// key is used). Every other check is the same.
    pub fn from_logged_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(b, KeyCheck::Logged)
    }

    fn decode(b: &[u8], keys: KeyCheck) -> Result<Self, DecodeError> {
        check_total(b.len(), MAX_ENTRY_LEN)?;
        match b.split_first() {
            None => Err(DecodeError::Truncated {
                field: "kind".to_owned(),
                offset: 0,
                needed: 1,
                available: 0,
            }),
            Some((&KIND_UPLOAD, rest)) => SignedUpload::from_bytes(rest).map(LogEntry::Upload),
            Some((&KIND_REGISTRATION, rest)) => {
                DeviceRegistration::decode(rest, keys).map(LogEntry::Registration)
            }
            Some((&KIND_PUBLICATION, rest)) => {
                let text = std::str::from_utf8(rest).map_err(|e| DecodeError::Invalid {
                    field: "publication".to_owned(),
                    value: format!("{} bytes", rest.len()),
                    reason: format!("not UTF-8 ({e})"),
                })?;
                if text.is_empty() {
                    return Err(DecodeError::Invalid {
                        field: "publication".to_owned(),
                        value: "0 bytes".to_owned(),
                        reason: "empty".to_owned(),
                    });
                }
                Ok(LogEntry::Publication(text.to_owned()))
            }
            Some((&KIND_REVOCATION, rest)) => {
                DeviceRevocation::from_bytes(rest).map(LogEntry::Revocation)
            }
            Some((&kind, _)) => Err(DecodeError::UnknownKind { kind }),
        }
    }
}
