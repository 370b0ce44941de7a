//! The canonical upload body (docs/formats.md, "Upload body"): the one encoder of uploads.

use crate::keys::UploadSigner;
use crate::{Hash, KeyError};
use sha2::{Digest, Sha256};

/// Domain-separation and version prefix of every upload's signed bytes.
pub const UPLOAD_DOMAIN: &[u8; 16] = b"tanji/upload/v1\n";
/// Longest id (device, meter, carrier, unit), in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Most channels in one upload.
pub const MAX_CHANNELS: usize = 16;
/// Most values in one channel.
pub const MAX_VALUES: usize = 1440;
/// Most decimals of a channel's fixed-point values (the same as `tanji_units::MAX_DECIMALS`).
pub const MAX_DECIMALS: u8 = 6;
/// Longest log entry (kind byte + payload), in bytes: C2SP tlog-tiles entry bundles use
/// uint16 lengths.
pub const MAX_ENTRY_LEN: usize = 65_535;
/// Latest allowed `start`: 9999-12-31T23:59:59Z. Earliest is 0 (1970).
pub const MAX_START: i64 = 253_402_300_799;
/// Length of every signature, whatever the key type: Ed25519 `R || S`, SM2 and ECDSA
/// `r || s` as two 32-byte big-endian integers.
pub const SIGNATURE_LEN: usize = 64;

/// Whether `s` is a valid id: 1 to [`MAX_ID_LEN`] bytes of printable ASCII without space
/// (0x21..=0x7e).
pub fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID_LEN && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Whether `d` is an allowed number of decimals (0 to [`MAX_DECIMALS`]).
pub fn decimals_ok(d: u8) -> bool {
    d <= MAX_DECIMALS
}

/// Whether `t` (Unix seconds) lies between 1970-01-01T00:00:00Z and [`MAX_START`].
pub fn time_ok(t: i64) -> bool {
    (0..=MAX_START).contains(&t)
}

/// What a channel must tell the encoder. [`ChannelRef`] is the borrowed form a device fills;
/// `tanji_readings::Channel` (owned strings and vectors) implements it too.
pub trait ChannelFields {
    /// Meter id.
    fn meter(&self) -> &str;
    /// Carrier code.
    fn carrier(&self) -> &str;
    /// Unit code.
    fn unit(&self) -> &str;
    /// Decimals of every value.
    fn decimals(&self) -> u8;
    /// Start of the first interval, Unix seconds UTC.
    fn start(&self) -> i64;
    /// Length of every interval, seconds.
    fn interval_s(&self) -> u32;
    /// Fixed-point interval values.
    fn values(&self) -> &[i64];
}

/// One meter's interval values, borrowed: what firmware fills from its registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelRef<'a> {
    /// Meter id, as registered for the device.
    pub meter: &'a str,
    /// Carrier code (e.g. `electricity_import`).
    pub carrier: &'a str,
    /// Unit code (e.g. `kWh`).
    pub unit: &'a str,
    /// Decimals of every value, `0..=6`.
    pub decimals: u8,
    /// Start of the first interval, Unix seconds UTC.
    pub start: i64,
    /// Length of every interval, seconds.
    pub interval_s: u32,
    /// Value `i` covers `[start + i·interval_s, start + (i+1)·interval_s)`.
    pub values: &'a [i64],
}

impl ChannelFields for ChannelRef<'_> {
    fn meter(&self) -> &str {
        self.meter
    }
    fn carrier(&self) -> &str {
        self.carrier
    }
    fn unit(&self) -> &str {
        self.unit
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
        self.values
    }
}

/// An upload body, borrowed: what a device signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadRef<'a, C = ChannelRef<'a>> {
    /// Device id.
    pub device: &'a str,
    /// Sequence number, from 1.
    pub seq: u64,
    /// Record hash of the device's record `seq - 1`; all zero for seq 1.
    pub prev: &'a Hash,
    /// One channel per meter.
    pub channels: &'a [C],
}

/// Why a body was not encoded or signed. The park's decoder (`tanji-readings`) gives the
/// same rules as messages naming the field and value; firmware gets this small, copyable
/// form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The device id breaks the id rules ([`id_ok`]).
    Device,
    /// `seq` is 0; sequence numbers start at 1.
    Seq,
    /// More than [`MAX_CHANNELS`] channels.
    Channels(usize),
    /// A channel's meter, carrier or unit breaks the id rules; the channel's index.
    ChannelId(usize),
    /// A channel's decimals above [`MAX_DECIMALS`]; the channel's index.
    Decimals(usize),
    /// A channel's start outside `0..=MAX_START`; the channel's index.
    Start(usize),
    /// A channel with more than [`MAX_VALUES`] values; the channel's index.
    Values(usize),
    /// The signed record would make a log entry longer than [`MAX_ENTRY_LEN`]; its length.
    TooLong(usize),
    /// The caller's buffer is too small: bytes needed.
    Buffer {
        /// Bytes the record needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// The signer failed.
    Sign(KeyError),
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EncodeError::Device => f.write_str(
                "device: ids are 1 to 64 bytes of printable ASCII without spaces (0x21..=0x7e)",
            ),
            EncodeError::Seq => f.write_str("seq: sequence numbers start at 1"),
            EncodeError::Channels(n) => {
                write!(f, "channels: {n} channels, at most {MAX_CHANNELS} allowed")
            }
            EncodeError::ChannelId(i) => write!(
                f,
                "channels[{i}]: meter, carrier and unit are 1 to 64 bytes of printable ASCII without spaces"
            ),
            EncodeError::Decimals(i) => {
                write!(f, "channels[{i}].decimals: must be 0 to {MAX_DECIMALS}")
            }
            EncodeError::Start(i) => write!(
                f,
                "channels[{i}].start: must lie between 0 (1970) and {MAX_START} (9999-12-31T23:59:59Z)"
            ),
            EncodeError::Values(i) => {
                write!(f, "channels[{i}].values: at most {MAX_VALUES} values")
            }
            EncodeError::TooLong(n) => write!(
                f,
                "the log entry would be {n} bytes, longer than the maximum of {MAX_ENTRY_LEN}; send fewer values per upload"
            ),
            EncodeError::Buffer { needed, available } => write!(
                f,
                "the record needs {needed} bytes but the buffer has {available}"
            ),
            EncodeError::Sign(e) => write!(f, "signing failed: {e}"),
        }
    }
}

/// Where encoded bytes go: a buffer, a vector, a hash.
pub trait Sink {
    /// Appends `b`.
    fn put(&mut self, b: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, b: &[u8]) {
        self.update(b);
    }
}

/// Writes into a slice already known to be long enough (checked by the caller against
/// [`body_len`]).
struct SliceSink<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, b: &[u8]) {
        // The caller checked the length; `get_mut` keeps a wrong length from panicking.
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + b.len()) {
            dst.copy_from_slice(b);
        }
        self.pos += b.len();
    }
}

const fn str_len(s: &str) -> usize {
    2 + s.len()
}

fn channel_len<C: ChannelFields>(c: &C) -> usize {
    str_len(c.meter())
        + str_len(c.carrier())
        + str_len(c.unit())
        + 1
        + 8
        + 4
        + 2
        + 8 * c.values().len()
}

/// Length of the canonical body in bytes (without the signature).
pub fn body_len<C: ChannelFields>(b: &UploadRef<'_, C>) -> usize {
    UPLOAD_DOMAIN.len()
        + str_len(b.device)
        + 8
        + 32
        + 2
        + b.channels.iter().map(channel_len).sum::<usize>()
}

/// Length of the signed record (body and signature): the log entry's payload.
pub fn signed_len<C: ChannelFields>(b: &UploadRef<'_, C>) -> usize {
    body_len(b) + SIGNATURE_LEN
}

/// Length prefixes saturate; bodies that break the limits are refused before anyone relies on
/// their bytes ([`UploadRef::check`]).
fn put_u16_len(s: &mut impl Sink, n: usize) {
    s.put(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn put_str(s: &mut impl Sink, v: &str) {
    put_u16_len(s, v.len());
    s.put(v.as_bytes());
}

fn put_values(s: &mut impl Sink, values: &[i64]) {
    let mut buf = [0u8; 512];
    for chunk in values.chunks(buf.len() / 8) {
        for (dst, v) in buf.chunks_exact_mut(8).zip(chunk) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
        s.put(&buf[..chunk.len() * 8]);
    }
}

/// Writes the canonical body: [`UPLOAD_DOMAIN`], device, seq, prev, then each channel
/// (meter, carrier, unit, decimals, start, interval, values). Strings are u16-length-prefixed,
/// integers big-endian. It does not check the limits ([`UploadRef::check`] does).
pub fn write_body<C: ChannelFields>(s: &mut impl Sink, b: &UploadRef<'_, C>) {
    s.put(UPLOAD_DOMAIN);
    put_str(s, b.device);
    s.put(&b.seq.to_be_bytes());
    s.put(b.prev);
    put_u16_len(s, b.channels.len());
    for c in b.channels {
        put_str(s, c.meter());
        put_str(s, c.carrier());
        put_str(s, c.unit());
        s.put(&[c.decimals()]);
        s.put(&c.start().to_be_bytes());
        s.put(&c.interval_s().to_be_bytes());
        put_u16_len(s, c.values().len());
        put_values(s, c.values());
    }
}

impl<C: ChannelFields> UploadRef<'_, C> {
    /// Checks the format limits: ids, seq ≥ 1, at most 16 channels of at most 1440 values,
    /// decimals 0..=6, start in `0..=MAX_START`, and a log entry (kind byte, body, signature)
    /// of at most [`MAX_ENTRY_LEN`] bytes. A body that passes is one the park can decode.
    pub fn check(&self) -> Result<(), EncodeError> {
        if !id_ok(self.device) {
            return Err(EncodeError::Device);
        }
        if self.seq == 0 {
            return Err(EncodeError::Seq);
        }
        if self.channels.len() > MAX_CHANNELS {
            return Err(EncodeError::Channels(self.channels.len()));
        }
        for (i, c) in self.channels.iter().enumerate() {
            if !(id_ok(c.meter()) && id_ok(c.carrier()) && id_ok(c.unit())) {
                return Err(EncodeError::ChannelId(i));
            }
            if !decimals_ok(c.decimals()) {
                return Err(EncodeError::Decimals(i));
            }
            if !time_ok(c.start()) {
                return Err(EncodeError::Start(i));
            }
            if c.values().len() > MAX_VALUES {
                return Err(EncodeError::Values(i));
            }
        }
        let entry = 1 + signed_len(self);
        if entry > MAX_ENTRY_LEN {
            return Err(EncodeError::TooLong(entry));
        }
        Ok(())
    }
}

fn need(buf: &[u8], needed: usize) -> Result<(), EncodeError> {
    if buf.len() < needed {
        return Err(EncodeError::Buffer {
            needed,
            available: buf.len(),
        });
    }
    Ok(())
}

/// Checks the limits and writes the canonical body into `buf`; returns its length.
pub fn encode_body<C: ChannelFields>(
    b: &UploadRef<'_, C>,
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    b.check()?;
    let len = body_len(b);
    need(buf, len)?;
    write_body(&mut SliceSink { buf, pos: 0 }, b);
    Ok(len)
}

/// Checks the limits, writes the signed record `body || signature` into `buf` and returns
/// its length, signature and record hash (SHA-256 of the record: the next record's `prev`).
pub fn sign_into<C: ChannelFields>(
    b: &UploadRef<'_, C>,
    signer: &(impl UploadSigner + ?Sized),
    buf: &mut [u8],
) -> Result<crate::Signed, EncodeError> {
    let body = encode_body(b, buf)?;
    let len = body + SIGNATURE_LEN;
    need(buf, len)?;
    let signature = signer
        .sign_upload(&buf[..body])
        .map_err(EncodeError::Sign)?;
    buf[body..len].copy_from_slice(&signature);
    let record_hash: Hash = Sha256::digest(&buf[..len]).into();
    Ok(crate::Signed {
        len,
        seq: b.seq,
        signature,
        record_hash,
    })
}

impl core::error::Error for EncodeError {}
