//! The device checks the park: every acknowledgement must prove the record is in a log whose
//! checkpoint the park's key signed, and every checkpoint must extend the last one the device
//! saw. A park that forks its log, or drops or rewrites an acknowledged record, fails one of
//! these checks. Pure: the proofs are fetched by [`crate::uplink`].

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use tanji_ledger::{
    open_checkpoint, verify_consistency, verify_inclusion, Checkpoint, NoteVerifier,
};
use tanji_readings::Hash;

/// What the park did wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParkFault {
    /// The checkpoint is not signed by the park's log key (or is not a checkpoint).
    #[error("the park's checkpoint for tree size {size:?} does not verify with the log key {key}: {reason}")]
    BadCheckpoint {
        /// Its size, if it parsed.
        size: Option<u64>,
        /// The key expected.
        key: String,
        /// Why.
        reason: String,
    },
    /// The checkpoint is of another log.
    #[error("the park's checkpoint is of log {found:?}, expected {expected:?}")]
    WrongOrigin {
        /// The log expected (the key's name).
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// The inclusion proof does not prove the record at its index.
    #[error("record {seq}: the park says leaf {index} of tree size {size}, but the inclusion proof does not verify: {reason}")]
    BadInclusion {
        /// The record's seq.
        seq: u64,
        /// The leaf index claimed.
        index: u64,
        /// The tree size.
        size: u64,
        /// Why.
        reason: String,
    },
    /// Two checkpoints of one size with different roots: the log forked.
    #[error("the park's log forked: two signed checkpoints of size {size} with roots {a} and {b}")]
    Fork {
        /// The size.
        size: u64,
        /// One root (base64).
        a: String,
        /// The other root (base64).
        b: String,
    },
    /// A newer checkpoint that is not an extension of the older (consistency proof fails):
    /// records acknowledged before may have been dropped or changed.
    #[error("the park's checkpoint of size {new_size} does not extend the one of size {old_size} it signed before: {reason}; records acknowledged in the older log may have been dropped or changed")]
    Inconsistent {
        /// The older size.
        old_size: u64,
        /// The newer size.
        new_size: u64,
        /// Why.
        reason: String,
    },
}

/// The park's log as the device knows it: its key and the latest checkpoint checked.
#[derive(Debug, Clone)]
pub struct ParkLog {
    verifier: NoteVerifier,
    latest: Option<(Checkpoint, String)>,
}

/// Decodes base64 hashes, naming the bad one.
pub fn decode_hashes(proof: &[String]) -> Result<Vec<Hash>, String> {
    proof
        .iter()
        .enumerate()
        .map(|(i, h)| {
            BASE64
                .decode(h)
                .ok()
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| format!("proof hash {i} {h:?} is not base64 of 32 bytes"))
        })
        .collect()
}

impl ParkLog {
    /// The park log of `verifier`, with `latest` (a note checked before) if there is one.
    pub fn new(verifier: NoteVerifier, latest: Option<&str>) -> Result<ParkLog, ParkFault> {
        let mut log = ParkLog {
            verifier,
            latest: None,
        };
        if let Some(note) = latest {
            let cp = log.open(note)?;
            log.latest = Some((cp, note.to_string()));
        }
        Ok(log)
    }

    /// The latest checkpoint checked.
    pub fn latest(&self) -> Option<&Checkpoint> {
        self.latest.as_ref().map(|(c, _)| c)
    }

    /// Opens a signed checkpoint note with the park's key and checks its origin.
    pub fn open(&self, note: &str) -> Result<Checkpoint, ParkFault> {
        let cp = open_checkpoint(note, &self.verifier).map_err(|e| ParkFault::BadCheckpoint {
            size: note.lines().nth(1).and_then(|l| l.parse().ok()),
            key: self.verifier.to_string(),
            reason: e.to_string(),
        })?;
        if cp.origin != self.verifier.name() {
            return Err(ParkFault::WrongOrigin {
                expected: self.verifier.name().into(),
                found: cp.origin,
            });
        }
        Ok(cp)
    }

    /// Checks that `entry` (the record's log entry bytes) is leaf `index` of the tree of the
    /// signed checkpoint `note`, by `proof`. Returns the checkpoint.
    pub fn check_inclusion(
        &self,
        seq: u64,
        entry: &[u8],
        index: u64,
        proof: &[String],
        note: &str,
    ) -> Result<Checkpoint, ParkFault> {
        let cp = self.open(note)?;
        let bad = |reason: String| ParkFault::BadInclusion {
            seq,
            index,
            size: cp.size,
            reason,
        };
        let hashes = decode_hashes(proof).map_err(bad)?;
        verify_inclusion(
            &tanji_ledger::leaf_hash(entry),
            index,
            cp.size,
            &hashes,
            &cp.root,
        )
        .map_err(|e| bad(e.to_string()))?;
        Ok(cp)
    }

    /// What is needed before `new` can be taken as the latest: `None` if nothing (no latest
    /// yet, or the same checkpoint), `Some((old, new))` sizes when a consistency proof is.
    /// A checkpoint of the latest's size with another root is a fork; a smaller one must be
    /// proved consistent the other way round (the park served an older head).
    pub fn needs_proof(&self, new: &Checkpoint) -> Result<Option<(u64, u64)>, ParkFault> {
        let Some((old, _)) = &self.latest else {
            return Ok(None);
        };
        if old.size == new.size {
            if old.root != new.root {
                return Err(ParkFault::Fork {
                    size: old.size,
                    a: BASE64.encode(old.root),
                    b: BASE64.encode(new.root),
                });
            }
            return Ok(None);
        }
        Ok(Some((old.size.min(new.size), old.size.max(new.size))))
    }

    /// Takes `new` (opened from `note`) as the latest, given the consistency proof between it
    /// and the latest (from the smaller size to the larger). A `new` smaller than the latest
    /// is checked but not taken.
    pub fn advance(
        &mut self,
        new: Checkpoint,
        note: &str,
        proof: &[String],
    ) -> Result<(), ParkFault> {
        if let Some((old, _)) = &self.latest {
            let (small, big) = if old.size <= new.size {
                (old, &new)
            } else {
                (&new, old)
            };
            let inconsistent = |reason: String| ParkFault::Inconsistent {
                old_size: small.size,
                new_size: big.size,
                reason,
            };
            if small.size > 0 {
                let hashes = decode_hashes(proof).map_err(inconsistent)?;
                verify_consistency(small.size, big.size, &small.root, &big.root, &hashes)
                    .map_err(|e| inconsistent(e.to_string()))?;
            }
            if new.size < old.size {
                return Ok(());
            }
        }
        self.latest = Some((new, note.to_string()));
        Ok(())
    }

    /// The latest note, as kept in the outbox.
    pub fn latest_note(&self) -> Option<&str> {
        self.latest.as_ref().map(|(_, n)| n.as_str())
    }
}
