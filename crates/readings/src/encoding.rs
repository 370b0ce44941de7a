//! Canonical binary encoding of uploads, registrations and log entries (see docs/formats.md).

use crate::{DeviceRegistration, Hash, LogEntry, SignedUpload, UploadBody};

/// Domain-separation and version prefix of every upload's signed bytes.
pub const UPLOAD_DOMAIN: &[u8; 16] = b"tanji/upload/v1\n";
/// Version prefix of every registration payload.
pub const REGISTRATION_DOMAIN: &[u8; 22] = b"tanji/registration/v1\n";
/// Log entry kind of an upload.
pub const KIND_UPLOAD: u8 = 0x01;
/// Log entry kind of a registration.
pub const KIND_REGISTRATION: u8 = 0x02;
/// Longest id (device, meter, enterprise, carrier, unit), in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Most channels in one upload.
pub const MAX_CHANNELS: usize = 16;
/// Most values in one channel.
pub const MAX_VALUES: usize = 1440;
/// Longest log entry (kind byte + payload), in bytes: C2SP tlog-tiles entry bundles use
/// uint16 lengths.
pub const MAX_ENTRY_LEN: usize = 65_535;
/// Latest allowed `start` / `registered_at`: 9999-12-31T23:59:59Z. Earliest is 0 (1970).
pub const MAX_START: i64 = 253_402_300_799;

/// Why bytes or JSON could not be decoded into a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("truncated: {field} at byte {offset} needs {needed} bytes but only {available} remain")]
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
    #[error("unknown log entry kind 0x{kind:02x}; known kinds: 0x01 upload, 0x02 registration")]
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

impl UploadBody {
    /// The exact bytes the device signs: [`UPLOAD_DOMAIN`] followed by the body fields.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        todo!()
    }

    /// Signs the body with the device key.
    pub fn sign(self, key: &ed25519_dalek::SigningKey) -> SignedUpload {
        let _ = key;
        todo!()
    }

    /// Checks the format limits (ids, counts, decimals, start range, total size).
    /// [`SignedUpload::from_bytes`] and [`crate::parse_json_upload`] apply it; records built
    /// in memory should be checked before signing.
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        todo!()
    }
}

impl SignedUpload {
    /// Canonical signed encoding = `canonical_bytes || signature`; the log entry payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        todo!()
    }

    /// Strict decoding: rejects truncation, trailing bytes, out-of-limit lengths and values.
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        let _ = b;
        todo!()
    }

    /// SHA-256 of [`SignedUpload::to_bytes`]: what `prev` of the device's next record holds.
    pub fn record_hash(&self) -> Hash {
        todo!()
    }

    /// Verifies the signature with `verify_strict`.
    pub fn verify_signature(&self, key: &ed25519_dalek::VerifyingKey) -> bool {
        let _ = key;
        todo!()
    }

    /// Total number of interval values over all channels.
    pub fn reading_count(&self) -> usize {
        self.body.channels.iter().map(|c| c.values.len()).sum()
    }
}

impl DeviceRegistration {
    /// Canonical payload bytes ([`REGISTRATION_DOMAIN`] followed by the fields).
    pub fn to_bytes(&self) -> Vec<u8> {
        todo!()
    }

    /// Strict decoding, followed by [`DeviceRegistration::check`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        let _ = b;
        todo!()
    }

    /// Checks limits and meaning: ids, known carrier and unit, unit accepted by the carrier,
    /// positive rated capacity, a valid Ed25519 public key, `registered_at` in range.
    pub fn check(&self) -> Result<(), DecodeError> {
        todo!()
    }

    /// The registered key as a verifying key.
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, DecodeError> {
        todo!()
    }

    /// The parsed meter facts validation needs.
    pub fn meter_info(&self) -> Result<crate::MeterInfo, DecodeError> {
        todo!()
    }
}

impl LogEntry {
    /// The kind byte: [`KIND_UPLOAD`] or [`KIND_REGISTRATION`].
    pub fn kind(&self) -> u8 {
        match self {
            LogEntry::Upload(_) => KIND_UPLOAD,
            LogEntry::Registration(_) => KIND_REGISTRATION,
        }
    }

    /// Leaf bytes: kind byte || payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        todo!()
    }

    /// Strict decoding; an unknown kind is an error naming the byte.
    pub fn from_bytes(b: &[u8]) -> Result<Self, DecodeError> {
        let _ = b;
        todo!()
    }
}
