//! Device upload records and meter registrations: their canonical bytes, signatures (Ed25519,
//! SM2 with SM3, ECDSA P-256; the key type is registered), JSON forms, and the validation a
//! park server applies before logging an upload.
//!
//! A collection device signs one [`UploadBody`] per window: device id, sequence number, the
//! hash of its previous record, and one [`Channel`] of fixed-point interval values per meter.
//! The signed record ([`SignedUpload`]) is stored byte-for-byte as a leaf of the park's
//! Merkle log, wrapped in a [`LogEntry`]. `docs/formats.md` specifies every byte and carries
//! test vectors. Uploads are encoded, signed and verified by the no_std signing core
//! `tanji-device` (the same code a device's firmware runs); this crate adds the owned records,
//! the strict decoder and what a park checks.
//!
//! This crate does no IO, keeps no state and reads no clock: [`validate`] gets what it needs
//! to know about registered devices and earlier records through [`ValidationContext`], and the
//! current time through [`Policy`]. It does not compute emissions (that is `accounting`) and
//! does not store anything (that is `store`).

mod encoding;
mod import;
mod json;
mod manifest;
mod validate;

pub use encoding::{
    DecodeError, KIND_PUBLICATION, KIND_REGISTRATION, KIND_REVOCATION, KIND_UPLOAD, MAX_CHANNELS,
    MAX_ENTRY_LEN, MAX_ID_LEN, MAX_REASON_LEN, MAX_SEQ, MAX_START, MAX_VALUES, REGISTRATION_DOMAIN,
    REGISTRATION_DOMAIN_V2, REVOCATION_DOMAIN, UPLOAD_DOMAIN,
};
pub use import::{
    import_channels, parse_import_csv, parse_import_decimal, ImportError, ImportRow,
    MAX_IMPORT_DECIMALS,
};
pub use json::{
    parse_json_registration, parse_json_registrations, parse_json_upload, registration_to_json,
    upload_to_json,
};
pub use manifest::{
    is_named, parse_manifest, Manifest, ManifestError, PublicationKind, MANIFEST_HEADER,
};
pub use tanji_device::{
    Hash, KeyError, KeyType, PublicKey, SigningKey, UploadSigner, UploadVerifier, VerifyingKey,
    ZERO_HASH,
};
pub use validate::{
    validate, validate_checked, DataIssue, DataIssueKind, MeterInfo, Policy, RejectCode, Rejection,
    SignatureChecked, ValidationContext, Verdict,
};

/// Device ids that start with this are operator imports of historical meter data (`tanji
/// import`): signed by the operator's import key rather than by a meter's own device, and
/// marked as imports in every report's provenance. A meter bound to an import device may be
/// handed over to its real device once that exists; never the other way.
pub const IMPORT_DEVICE_PREFIX: &str = "import-";

/// Parses a device secret key file's text (docs/formats.md, "Device key files"): 64 hex
/// characters, the Ed25519 seed (as `tanji device keygen` writes an Ed25519 key), or
/// `<type>:` then 64 hex characters, the 32 secret bytes of a key of that type (`sm2:…`,
/// `p256:…`, `ed25519:…`; an SM2 or P-256 secret is the big-endian scalar, in `1..n−1`). The
/// error says what is wrong with the text.
pub fn parse_device_key(text: &str) -> Result<SigningKey, String> {
    let (key_type, hex_text) = match text.split_once(':') {
        None => (KeyType::Ed25519, text),
        Some((name, rest)) => (
            KeyType::from_name(name.trim()).ok_or_else(|| {
                format!("unknown key type {name:?} before ':' (ed25519, sm2 or p256)")
            })?,
            rest.trim(),
        ),
    };
    let bytes = hex::decode(hex_text).map_err(|e| format!("not hex: {e}"))?;
    let secret: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        format!(
            "{} bytes, an {key_type} secret key has 32 (64 hex characters)",
            b.len()
        )
    })?;
    SigningKey::from_secret(key_type, &secret).map_err(|e| e.to_string())
}

/// The text of a device secret key file for `secret` of `key_type`, as
/// [`parse_device_key`] reads it: the bare hex seed for Ed25519 (the form every earlier key
/// file has), `sm2:` or `p256:` then the hex scalar for the others; one line.
pub fn device_key_text(key_type: KeyType, secret: &[u8; 32]) -> String {
    match key_type {
        KeyType::Ed25519 => format!("{}\n", hex::encode(secret)),
        other => format!("{}:{}\n", other.name(), hex::encode(secret)),
    }
}

/// Whether `device` is an operator import (see [`IMPORT_DEVICE_PREFIX`]).
pub fn is_import_device(device: &str) -> bool {
    device.starts_with(IMPORT_DEVICE_PREFIX)
}

/// One meter's interval values in an upload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Channel {
    /// Meter id, as registered for this device.
    pub meter: String,
    /// Carrier code (see [`tanji_units::Carrier::code`]); checked by [`validate`], not by decoding.
    pub carrier: String,
    /// Unit code (see [`tanji_units::Unit::code`]); checked by [`validate`], not by decoding.
    pub unit: String,
    /// Decimals of every value, `0..=6`.
    pub decimals: u8,
    /// Start of the first interval, Unix seconds UTC.
    pub start: i64,
    /// Length of every interval in seconds (one of [`tanji_units::ALLOWED_INTERVALS`]).
    pub interval_s: u32,
    /// The amount consumed (or generated/exported) in each interval, fixed-point with
    /// `decimals` decimals: value `i` covers `[start + i·interval_s, start + (i+1)·interval_s)`.
    pub values: Vec<i64>,
}

impl Channel {
    /// Start of interval `i` (Unix seconds), `None` on overflow.
    pub fn interval_start(&self, i: usize) -> Option<i64> {
        let i = i64::try_from(i).ok()?;
        self.start
            .checked_add(i.checked_mul(i64::from(self.interval_s))?)
    }

    /// End (exclusive) of the last interval, `None` on overflow.
    pub fn end(&self) -> Option<i64> {
        self.interval_start(self.values.len())
    }
}

/// What a device signs: one record of its hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UploadBody {
    /// Device id.
    pub device: String,
    /// Sequence number; the first record of a device has seq 1.
    pub seq: u64,
    /// `record_hash` of this device's record `seq - 1`; all zero for seq 1.
    pub prev: Hash,
    /// One channel per meter (at most [`MAX_CHANNELS`]).
    pub channels: Vec<Channel>,
}

/// An upload body with the device's signature over [`UploadBody::canonical_bytes`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignedUpload {
    /// The signed content.
    pub body: UploadBody,
    /// Signature over `body.canonical_bytes()` with the device's registered key type: Ed25519
    /// `R || S`, SM2 or ECDSA P-256 `r || s` (docs/formats.md, "Key types").
    pub signature: [u8; 64],
}

/// A registration binds a device key to ONE meter of an enterprise (a device with 4 meters
/// is 4 registrations with the same key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceRegistration {
    /// Device id.
    pub device: String,
    /// The device's public key and its type (registrations written before key types are
    /// Ed25519).
    pub public_key: PublicKey,
    /// Enterprise id the meter belongs to.
    pub enterprise: String,
    /// Meter id.
    pub meter: String,
    /// Carrier code of the meter.
    pub carrier: String,
    /// Unit code the meter reports in.
    pub unit: String,
    /// Rated capacity per hour in `unit`, ×1000 (500 kW on a kWh meter = `500_000`).
    pub rated_per_hour_milli: i64,
    /// When the registration was made, Unix seconds UTC.
    pub registered_at: i64,
}

/// A revocation withdraws a device's key: from the revocation's place in the log on, every
/// upload signed by the device is refused (`device_revoked`); its uploads logged before stay
/// valid. The device id is not registered again (a new key needs a new device id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeviceRevocation {
    /// Device id.
    pub device: String,
    /// When the revocation was made, Unix seconds UTC.
    pub revoked_at: i64,
    /// Why, as the operator said it (at most [`MAX_REASON_LEN`] bytes; may be empty).
    pub reason: String,
}

/// Everything the park log holds. Leaf entry bytes = 1 kind byte || payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LogEntry {
    /// Kind `0x01`, payload = [`SignedUpload::to_bytes`].
    Upload(SignedUpload),
    /// Kind `0x02`, payload = [`DeviceRegistration::to_bytes`].
    Registration(DeviceRegistration),
    /// Kind `0x03`, payload = a grid-factor publication: a C2SP signed note (UTF-8) whose text
    /// is the publication manifest. Its meaning is the park's business; here it is only
    /// checked to be UTF-8 and non-empty.
    Publication(String),
    /// Kind `0x04`, payload = [`DeviceRevocation::to_bytes`].
    Revocation(DeviceRevocation),
}
