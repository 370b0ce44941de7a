//! The witness: its key, its state, and the `add-checkpoint` decision of c2sp.org/tlog-witness.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tanji_ledger::{
    verify_consistency, Checkpoint, CosignatureSigner, CosignatureVerifier, Hash, Note,
    NoteVerifier,
};

use crate::state::{Db, LogState};
use crate::WitnessError;

/// The witness's cosigning key file inside its directory.
pub const KEY_FILE: &str = "witness.key";
/// The witness's state database inside its directory.
pub const DB_FILE: &str = "witness.db";
/// The most consistency-proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body the witness reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An `add-checkpoint` request: the size of the checkpoint the client believes the witness
/// cosigned last, a consistency proof from it, and the signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The old size.
    pub old_size: u64,
    /// RFC 6962 consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body: `old <size>\n`, one base64 hash per line, a blank line, the note.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for h in &self.proof {
            body.push_str(&BASE64.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a request body, enforcing the format rules of the spec.
    pub fn parse(body: &[u8]) -> Result<Self, AddCheckpointError> {
        let bad = |reason: String| AddCheckpointError::Malformed { reason };
        if body.len() > MAX_BODY_BYTES {
            return Err(bad(format!(
                "the body has {} bytes; at most {MAX_BODY_BYTES} are read",
                body.len()
            )));
        }
        let text = std::str::from_utf8(body).map_err(|e| {
            bad(format!(
                "the body is not UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ))
        })?;
        let (first, mut rest) = text
            .split_once('\n')
            .ok_or_else(|| bad("the body has no old size line".into()))?;
        let size_text = first
            .strip_prefix("old ")
            .ok_or_else(|| bad(format!("the first line {first:?} is not `old <size>`")))?;
        let canonical = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        let old_size = canonical
            .then(|| size_text.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                bad(format!(
                    "old size {size_text:?} is not a decimal without leading zeroes that fits in 64 bits"
                ))
            })?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or_else(|| {
                bad("the proof lines are not followed by an empty line and a checkpoint".into())
            })?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad(format!(
                    "more than {MAX_PROOF_LINES} consistency proof lines"
                )));
            }
            let hash = BASE64
                .decode(line)
                .ok()
                .and_then(|b| Hash::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    bad(format!(
                        "proof line {} {line:?} is not the base64 of a 32-byte hash",
                        proof.len() + 1
                    ))
                })?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_string(),
        })
    }
}

/// Why a checkpoint was not cosigned. [`AddCheckpointError::status`] is the HTTP status the
/// spec prescribes.
#[derive(Debug, thiserror::Error)]
pub enum AddCheckpointError {
    /// The request body or the checkpoint is malformed (400).
    #[error("malformed add-checkpoint request: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The witness does not witness this origin (404).
    #[error("this witness does not witness log {origin:?}; add it with `tanji witness add-log`")]
    UnknownOrigin {
        /// The checkpoint's origin.
        origin: String,
    },
    /// No signature on the checkpoint verifies with a key trusted for its origin (403).
    #[error(
        "checkpoint of {origin:?} is not signed by a key this witness trusts for it: {reason}"
    )]
    NotSigned {
        /// The checkpoint's origin.
        origin: String,
        /// What the note verification said.
        reason: String,
    },
    /// The old size is larger than the checkpoint's size (400).
    #[error("old size {old_size} is larger than the checkpoint's size {size}")]
    OldSizeTooLarge {
        /// The old size sent.
        old_size: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size of the latest checkpoint cosigned for the origin (409; the
    /// body tells the latest size).
    #[error(
        "old size {old_size} is not the size of the latest checkpoint of {origin:?} this \
         witness cosigned, {latest}; send a consistency proof from {latest}"
    )]
    OldSizeMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The old size sent.
        old_size: u64,
        /// The size of the latest checkpoint cosigned.
        latest: u64,
    },
    /// Same size as the latest cosigned checkpoint, different root: a split view (409).
    #[error(
        "checkpoint of {origin:?} at size {size} has root {new}, but this witness cosigned root \
         {old} at that size: the log shows two different trees (split view)"
    )]
    RootMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The tree size.
        size: u64,
        /// The root cosigned before (base64).
        old: String,
        /// The root offered now (base64).
        new: String,
    },
    /// The consistency proof does not verify against the latest cosigned root (422).
    #[error(
        "consistency proof of {origin:?} from size {old_size} to {size} does not verify against \
         the root this witness cosigned at {old_size}: {reason}; the log may have been forked"
    )]
    Inconsistent {
        /// The checkpoint's origin.
        origin: String,
        /// The old size.
        old_size: u64,
        /// The checkpoint's size.
        size: u64,
        /// What the verification said.
        reason: String,
    },
    /// The witness could not read or write its state or sign (500).
    #[error(transparent)]
    Internal(#[from] WitnessError),
}

impl AddCheckpointError {
    /// The HTTP status code c2sp.org/tlog-witness prescribes for this refusal.
    pub fn status(&self) -> u16 {
        match self {
            AddCheckpointError::Malformed { .. } | AddCheckpointError::OldSizeTooLarge { .. } => {
                400
            }
            AddCheckpointError::NotSigned { .. } => 403,
            AddCheckpointError::UnknownOrigin { .. } => 404,
            AddCheckpointError::OldSizeMismatch { .. }
            | AddCheckpointError::RootMismatch { .. } => 409,
            AddCheckpointError::Inconsistent { .. } => 422,
            AddCheckpointError::Internal(_) => 500,
        }
    }

    /// For a 409 answer, the size of the latest cosigned checkpoint (the response body).
    pub fn latest_size(&self) -> Option<u64> {
        match self {
            AddCheckpointError::OldSizeMismatch { latest, .. } => Some(*latest),
            AddCheckpointError::RootMismatch { size, .. } => Some(*size),
            _ => None,
        }
    }
}

/// A witness: a cosigning key and the durable record of what it cosigned, per log.
pub struct Witness {
    signer: CosignatureSigner,
    db: Mutex<Db>,
    dir: PathBuf,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.signer.name())
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn write_secret(path: &Path, text: &str) -> Result<(), WitnessError> {
    let io = |source| WitnessError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

impl Witness {
    /// Creates a witness named `name` in `dir` (which must not hold one): a new Ed25519 key
    /// (`witness.key`, owner-readable only) and an empty state (`witness.db`).
    pub fn create(dir: &Path, name: &str) -> Result<Self, WitnessError> {
        let signer = CosignatureSigner::new(name, SigningKey::generate(&mut OsRng))
            .map_err(|e| WitnessError::Directory(format!("witness name {name:?}: {e}")))?;
        std::fs::create_dir_all(dir).map_err(|source| WitnessError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let (key, db) = (dir.join(KEY_FILE), dir.join(DB_FILE));
        if key.exists() || db.exists() {
            return Err(WitnessError::Directory(format!(
                "{} already holds a witness; use another --dir",
                dir.display()
            )));
        }
        let db = Db::create(&db)?;
        write_secret(&key, &format!("{}\n", signer.to_skey()))?;
        Ok(Witness {
            signer,
            db: Mutex::new(db),
            dir: dir.to_path_buf(),
        })
    }

    /// Opens the witness in `dir`.
    pub fn open(dir: &Path) -> Result<Self, WitnessError> {
        let key_path = dir.join(KEY_FILE);
        let text = std::fs::read_to_string(&key_path).map_err(|source| WitnessError::Io {
            path: key_path.display().to_string(),
            source,
        })?;
        let signer =
            CosignatureSigner::from_skey(text.trim_end()).map_err(|e| WitnessError::KeyFile {
                path: key_path.display().to_string(),
                message: e.to_string(),
            })?;
        let db = Db::open(&dir.join(DB_FILE))?;
        Ok(Witness {
            signer,
            db: Mutex::new(db),
            dir: dir.to_path_buf(),
        })
    }

    /// The witness's verifier key (`<name>+<hex key ID>+base64(0x04 || key)`), for the logs
    /// and clients that rely on it.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.signer.verifier()
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        self.signer.name()
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, Db>, WitnessError> {
        self.db
            .lock()
            .map_err(|_| WitnessError::Directory("the witness state lock is poisoned".into()))
    }

    /// Starts witnessing the log `origin` signed by `key` (another key for a known origin is
    /// added to its trusted keys). Returns whether anything was added.
    pub fn add_log(&self, origin: &str, key: &NoteVerifier) -> Result<bool, WitnessError> {
        if origin.is_empty() || origin.chars().any(|c| c < ' ') {
            return Err(WitnessError::Directory(format!(
                "origin {origin:?} must be one non-empty line"
            )));
        }
        self.db()?.add_log(origin, key)
    }

    /// Every log this witness witnesses, with the latest checkpoint it cosigned.
    pub fn logs(&self) -> Result<Vec<LogState>, WitnessError> {
        self.db()?.logs()
    }

    /// One log's state.
    pub fn log(&self, origin: &str) -> Result<Option<LogState>, WitnessError> {
        self.db()?.log(origin)
    }

    /// Handles an `add-checkpoint` request body at time `now` (POSIX seconds): checks the
    /// log's signature, the old size and the consistency proof against the latest checkpoint
    /// cosigned for the origin, records the new checkpoint durably and only then returns the
    /// response body: the cosignature line, newline-terminated.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<String, AddCheckpointError> {
        let req = AddCheckpoint::parse(body)?;
        self.add(&req, now)
    }

    /// [`Witness::add_checkpoint`] on a parsed request.
    pub fn add(&self, req: &AddCheckpoint, now: u64) -> Result<String, AddCheckpointError> {
        let malformed = |what: String| AddCheckpointError::Malformed { reason: what };
        let note = Note::parse(&req.checkpoint)
            .map_err(|e| malformed(format!("the checkpoint note: {e}")))?;
        let cp = Checkpoint::parse(note.text())
            .map_err(|e| malformed(format!("the checkpoint: {e}")))?;
        let origin = cp.origin.clone();
        let mut db = self.db()?;
        let outcome: Result<(), AddCheckpointError> = db.advance(&origin, now, |state| {
            let state = state.ok_or_else(|| AddCheckpointError::UnknownOrigin {
                origin: origin.clone(),
            })?;
            note.verify(&state.keys)
                .map_err(|e| AddCheckpointError::NotSigned {
                    origin: origin.clone(),
                    reason: e.to_string(),
                })?;
            check(state, req, &cp)?;
            Ok((cp.size, cp.root))
        })?;
        drop(db);
        outcome?;
        let sig = self
            .signer
            .cosign(note.text(), now)
            .map_err(|e| WitnessError::Directory(format!("cosigning: {e}")))?;
        let mut out = String::new();
        let _ = writeln!(out, "{sig}");
        Ok(out)
    }
}

/// The spec's checks of a request against the log's state, in the spec's order.
fn check(state: &LogState, req: &AddCheckpoint, cp: &Checkpoint) -> Result<(), AddCheckpointError> {
    let origin = &state.origin;
    if req.old_size > cp.size {
        return Err(AddCheckpointError::OldSizeTooLarge {
            old_size: req.old_size,
            size: cp.size,
        });
    }
    if req.old_size != state.size {
        return Err(AddCheckpointError::OldSizeMismatch {
            origin: origin.clone(),
            old_size: req.old_size,
            latest: state.size,
        });
    }
    let inconsistent = |reason: String| AddCheckpointError::Inconsistent {
        origin: origin.clone(),
        old_size: req.old_size,
        size: cp.size,
        reason,
    };
    let Some(old_root) = state.root.filter(|_| req.old_size > 0) else {
        // Nothing cosigned yet (or only the empty tree): every tree extends the empty tree.
        if !req.proof.is_empty() {
            return Err(inconsistent(format!(
                "the proof from size 0 must be empty, it has {} hashes",
                req.proof.len()
            )));
        }
        return Ok(());
    };
    if req.old_size == cp.size && old_root != cp.root {
        return Err(AddCheckpointError::RootMismatch {
            origin: origin.clone(),
            size: cp.size,
            old: BASE64.encode(old_root),
            new: BASE64.encode(cp.root),
        });
    }
    verify_consistency(req.old_size, cp.size, &old_root, &cp.root, &req.proof)
        .map_err(|e| inconsistent(e.to_string()))
}
