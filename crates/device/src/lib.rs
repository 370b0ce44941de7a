//! The signing core of a tanji collection device: the canonical upload encoding, the hash
//! chain of a device's records, and signatures with the key types a device has (Ed25519, SM2
//! with SM3, ECDSA P-256 with SHA-256). `#![no_std]` and no allocator: everything is written
//! into buffers the caller provides, so the same code runs in a meter gateway's firmware on a
//! bare-metal ARM or RISC-V MCU, in the Linux gateway, in the simulator, and in the park that
//! decodes and verifies (`tanji-readings` encodes every upload through [`write_body`]).
//!
//! A device fills [`ChannelRef`]s with its interval values, and [`Chain::sign_next`] writes
//! the signed record (`canonical body || signature`) into a `&mut [u8]`, returns its record
//! hash and moves the chain on by one sequence number. `docs/formats.md` specifies every
//! byte; the key types and their encodings are in its "Key types" section.
//!
//! It is not a decoder (the park decodes, in `tanji-readings`), keeps no state beyond a
//! [`Chain`] the caller owns and persists, does no IO and reads no clock.

#![no_std]

mod chain;
mod encode;
mod keys;

pub use chain::{Chain, Signed};
pub use encode::{
    body_len, decimals_ok, encode_body, id_ok, sign_into, signed_len, time_ok, write_body,
    ChannelFields, ChannelRef, EncodeError, Sink, UploadRef, MAX_CHANNELS, MAX_DECIMALS,
    MAX_ENTRY_LEN, MAX_ID_LEN, MAX_START, MAX_VALUES, SIGNATURE_LEN, UPLOAD_DOMAIN,
};
pub use keys::{
    KeyError, KeyType, PublicKey, SigningKey, UploadSigner, UploadVerifier, VerifyingKey,
    SM2_DEFAULT_ID,
};

/// A SHA-256 digest: a record hash, the `prev` of the next record.
pub type Hash = [u8; 32];

/// The `prev` of a device's first record (seq 1).
pub const ZERO_HASH: Hash = [0; 32];
