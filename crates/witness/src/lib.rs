//! tanji-witness: a transparency-log witness speaking C2SP tlog-witness
//! (<https://c2sp.org/tlog-witness>) with tlog-cosignature v1 (Ed25519) signatures.
//!
//! A witness holds a cosigning key and, for every log it witnesses (by origin), the log's
//! verifier keys and the latest checkpoint it cosigned. It cosigns a new checkpoint only if the
//! log signed it and a consistency proof shows it extends that latest checkpoint; it records the
//! new checkpoint durably (SQLite, one immediate transaction that checks and updates together)
//! before answering. So it never cosigns two checkpoints of one log that are not consistent with
//! each other, across restarts too: a log that shows different trees to different parties
//! (a split view) is refused by every witness that saw the other tree first.
//!
//! - [`Witness`]: the key, the state and the `add-checkpoint` decision (sync, no clock: the
//!   caller passes the time);
//! - [`run`]/[`router`]: `POST /add-checkpoint` over HTTP (axum), statuses and bodies as the
//!   spec prescribes (404 unknown log, 403 bad signature, 400, 409 with the latest size as
//!   `text/x.tlog.size`, 422 bad proof);
//! - [`WitnessClient`]/[`add_checkpoint`]: the log's side, with the 409 retry;
//! - [`Quorum`]: `K-of-N`, how many witnesses a verifier requires.
//!
//! What it is not: it does not fetch or mirror the log, keeps no history beyond the latest
//! checkpoint per log, and has no monitor retrieval API (the spec leaves that open).

mod client;
mod http;
mod quorum;
mod state;
mod witness;

pub use client::{add_checkpoint, ClientError, Cosignature, WitnessClient};
pub use http::{router, run, TLOG_SIZE_CONTENT_TYPE};
pub use quorum::{Quorum, QuorumError};
pub use state::LogState;
pub use witness::{
    AddCheckpoint, AddCheckpointError, Witness, DB_FILE, KEY_FILE, MAX_BODY_BYTES, MAX_PROOF_LINES,
};

/// What went wrong with a witness's files or state.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    /// The state database reported an error.
    #[error("witness state {path}: {context}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What the witness was doing.
        context: String,
        /// The database's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The key file is unreadable.
    #[error("witness key file {path}: {message}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The state holds data the witness never writes.
    #[error("witness state {path} is damaged: {message}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The directory is not a witness, or is one already; or an argument is unusable.
    #[error("{0}")]
    Directory(String),
}
