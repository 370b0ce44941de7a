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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tanji_ledger::{
        consistency_proof, inclusion_proof, leaf_hash, sign_checkpoint, MemoryTree, NoteSigner,
    };

    fn signer() -> NoteSigner {
        NoteSigner::new("test/park", ed25519_dalek::SigningKey::from_bytes(&[5; 32])).unwrap()
    }

    fn tree(entries: &[&[u8]]) -> MemoryTree {
        MemoryTree::from_leaf_hashes(entries.iter().map(|e| leaf_hash(e)))
    }

    fn note(t: &MemoryTree, s: &NoteSigner) -> String {
        let cp = Checkpoint {
            origin: "test/park".into(),
            size: t.size(),
            root: t.root(),
            extensions: vec![],
        };
        sign_checkpoint(&cp, s).unwrap()
    }

    fn b64(hashes: Vec<Hash>) -> Vec<String> {
        hashes.iter().map(|h| BASE64.encode(h)).collect()
    }

    #[test]
    fn an_honest_log_passes() {
        let s = signer();
        let mut log = ParkLog::new(s.verifier(), None).unwrap();
        let t3 = tree(&[b"a", b"mine", b"c"]);
        let n3 = note(&t3, &s);
        let proof = b64(inclusion_proof(&t3, 1, 3).unwrap());
        let cp = log.check_inclusion(7, b"mine", 1, &proof, &n3).unwrap();
        assert_eq!(log.needs_proof(&cp).unwrap(), None);
        log.advance(cp, &n3, &[]).unwrap();
        let t5 = tree(&[b"a", b"mine", b"c", b"d", b"e"]);
        let n5 = note(&t5, &s);
        let cp5 = log.open(&n5).unwrap();
        assert_eq!(log.needs_proof(&cp5).unwrap(), Some((3, 5)));
        log.advance(cp5, &n5, &b64(consistency_proof(&t5, 3, 5).unwrap()))
            .unwrap();
        assert_eq!(log.latest().unwrap().size, 5);
        // The older checkpoint again: checked, not taken.
        let cp3 = log.open(&n3).unwrap();
        log.advance(cp3, &n3, &b64(consistency_proof(&t5, 3, 5).unwrap()))
            .unwrap();
        assert_eq!(log.latest().unwrap().size, 5);
    }

    #[test]
    fn a_wrong_key_a_bad_proof_a_fork_and_a_dropped_record_are_named() {
        let s = signer();
        let other =
            NoteSigner::new("test/park", ed25519_dalek::SigningKey::from_bytes(&[6; 32])).unwrap();
        let mut log = ParkLog::new(s.verifier(), None).unwrap();
        let t = tree(&[b"a", b"mine"]);
        let proof = b64(inclusion_proof(&t, 1, 2).unwrap());
        assert!(matches!(
            log.check_inclusion(1, b"mine", 1, &proof, &note(&t, &other)),
            Err(ParkFault::BadCheckpoint { size: Some(2), .. })
        ));
        assert!(matches!(
            log.check_inclusion(1, b"not mine", 1, &proof, &note(&t, &s)),
            Err(ParkFault::BadInclusion {
                seq: 1,
                index: 1,
                size: 2,
                ..
            })
        ));
        let n = note(&t, &s);
        let cp = log.check_inclusion(1, b"mine", 1, &proof, &n).unwrap();
        log.advance(cp, &n, &[]).unwrap();
        // Same size, another root: a fork.
        let forked = tree(&[b"a", b"changed"]);
        let cp = log.open(&note(&forked, &s)).unwrap();
        assert!(matches!(
            log.needs_proof(&cp),
            Err(ParkFault::Fork { size: 2, .. })
        ));
        // A bigger log without the acknowledged record: no consistency proof can pass.
        let dropped = tree(&[b"a", b"c", b"d"]);
        let nd = note(&dropped, &s);
        let cp = log.open(&nd).unwrap();
        let err = log
            .advance(cp, &nd, &b64(consistency_proof(&dropped, 2, 3).unwrap()))
            .unwrap_err();
        assert!(
            matches!(
                err,
                ParkFault::Inconsistent {
                    old_size: 2,
                    new_size: 3,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            log.latest().unwrap().size,
            2,
            "the last good checkpoint is kept"
        );
    }
}
