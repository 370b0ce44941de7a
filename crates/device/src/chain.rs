//! A device's hash chain: each record names the record hash of the one before.

use crate::encode::{sign_into, ChannelRef, EncodeError, UploadRef};
use crate::keys::UploadSigner;
use crate::{Hash, ZERO_HASH};

/// A record signed into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signed {
    /// Length of the record (`body || signature`) at the start of the buffer.
    pub len: usize,
    /// The record's sequence number.
    pub seq: u64,
    /// The signature (the record's last 64 bytes).
    pub signature: [u8; 64],
    /// SHA-256 of the record: the `prev` of the device's next record.
    pub record_hash: Hash,
}

/// Where a device's chain stands: the last signed sequence number and its record hash. The
/// device persists both (with the signed record, before sending it) so that after a restart it
/// neither reuses a sequence number nor breaks the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chain<'a> {
    device: &'a str,
    last_seq: u64,
    last_hash: Hash,
}

impl<'a> Chain<'a> {
    /// A device that has signed nothing yet: its first record is seq 1 with an all-zero
    /// `prev`.
    pub const fn new(device: &'a str) -> Self {
        Chain {
            device,
            last_seq: 0,
            last_hash: ZERO_HASH,
        }
    }

    /// A device whose last signed record was `last_seq` with record hash `last_hash` (as it
    /// persisted them).
    pub const fn resume(device: &'a str, last_seq: u64, last_hash: Hash) -> Self {
        Chain {
            device,
            last_seq,
            last_hash,
        }
    }

    /// The device id.
    pub const fn device(&self) -> &'a str {
        self.device
    }

    /// The last signed sequence number (0 before the first record).
    pub const fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The record hash of the last signed record (all zero before the first).
    pub const fn last_hash(&self) -> Hash {
        self.last_hash
    }

    /// Signs the device's next record (seq `last_seq + 1`, `prev` = the last record hash)
    /// into `buf` and moves the chain on. On error nothing moves: the same sequence number is
    /// used by the next attempt.
    pub fn sign_next(
        &mut self,
        channels: &[ChannelRef<'_>],
        signer: &(impl UploadSigner + ?Sized),
        buf: &mut [u8],
    ) -> Result<Signed, EncodeError> {
        let seq = self.last_seq.checked_add(1).ok_or(EncodeError::Seq)?;
        let body = UploadRef {
            device: self.device,
            seq,
            prev: &self.last_hash,
            channels,
        };
        let signed = sign_into(&body, signer, buf)?;
        self.last_seq = seq;
        self.last_hash = signed.record_hash;
        Ok(signed)
    }
}
