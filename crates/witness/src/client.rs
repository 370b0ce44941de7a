//! A log's side of c2sp.org/tlog-witness: submit a checkpoint with a consistency proof, learn
//! the witness's size from a 409 and retry, and keep only cosignatures that verify with the
//! witness key the log was configured with.

use std::time::Duration;

use tanji_ledger::{Checkpoint, CosignatureError, CosignatureVerifier, Hash, Note};

use crate::http::TLOG_SIZE_CONTENT_TYPE;
use crate::AddCheckpoint;

/// Why a witness did not cosign.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The witness could not be reached, or the exchange failed.
    #[error("witness {url}: {source}")]
    Http {
        /// The add-checkpoint URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The witness answered 409: the latest checkpoint it cosigned has size `latest`.
    #[error(
        "witness {url} answered 409 Conflict: the latest checkpoint it cosigned has size {latest}"
    )]
    Conflict {
        /// The add-checkpoint URL.
        url: String,
        /// The size it reported.
        latest: u64,
    },
    /// The witness refused with another status.
    #[error("witness {url} refused the checkpoint with {status}: {body}")]
    Refused {
        /// The add-checkpoint URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Its answer (trimmed).
        body: String,
    },
    /// The witness's answer is not what the spec says it must be.
    #[error("witness {url} answered something unusable: {reason}")]
    BadResponse {
        /// The add-checkpoint URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A cosignature by the configured key does not verify.
    #[error("witness {url}: {source}")]
    Cosignature {
        /// The add-checkpoint URL.
        url: String,
        /// Why.
        #[source]
        source: CosignatureError,
    },
    /// The witness has cosigned a tree the log cannot prove this checkpoint consistent with.
    #[error("witness {url} has cosigned size {latest}; the checkpoint has size {size}: {reason}")]
    Diverged {
        /// The add-checkpoint URL.
        url: String,
        /// The witness's size.
        latest: u64,
        /// The checkpoint's size.
        size: u64,
        /// Why no proof can be given.
        reason: String,
    },
    /// The checkpoint to submit is malformed.
    #[error("the checkpoint to submit is malformed: {0}")]
    Checkpoint(String),
}

/// Sends one `add-checkpoint` request to `url` (the submission prefix; `/add-checkpoint` is
/// appended) and returns the response body: the witness's cosignature lines, not yet verified.
pub async fn add_checkpoint(
    http: &reqwest::Client,
    url: &str,
    old_size: u64,
    proof: &[Hash],
    signed_note: &str,
) -> Result<String, ClientError> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let body = AddCheckpoint {
        old_size,
        proof: proof.to_vec(),
        checkpoint: signed_note.to_string(),
    }
    .to_body();
    let http_err = |source| ClientError::Http {
        url: endpoint.clone(),
        source,
    };
    let resp = http
        .post(&endpoint)
        .body(body)
        .send()
        .await
        .map_err(http_err)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.map_err(http_err)?;
    match status {
        200 => Ok(text),
        409 if content_type.starts_with(TLOG_SIZE_CONTENT_TYPE) => {
            let latest = text
                .strip_suffix('\n')
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| ClientError::BadResponse {
                    url: endpoint.clone(),
                    reason: format!("409 body {text:?} is not a size and a newline"),
                })?;
            Err(ClientError::Conflict {
                url: endpoint,
                latest,
            })
        }
        _ => Err(ClientError::Refused {
            url: endpoint,
            status,
            body: text.trim().chars().take(500).collect(),
        }),
    }
}

/// A cosignature a witness returned, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// The signature line, without its newline.
    pub line: String,
    /// Its timestamp (POSIX seconds).
    pub timestamp: u64,
    /// The old size the accepted request carried.
    pub old_size: u64,
}

/// One witness as a log sees it: where it is and the key its cosignatures must verify with.
#[derive(Debug, Clone)]
pub struct WitnessClient {
    http: reqwest::Client,
    url: String,
    key: CosignatureVerifier,
}

impl WitnessClient {
    /// A client for the witness at `url` (its submission prefix) with key `key`.
    pub fn new(url: impl Into<String>, key: CosignatureVerifier) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        WitnessClient {
            http,
            url: url.into(),
            key,
        }
    }

    /// The witness's key.
    pub fn key(&self) -> &CosignatureVerifier {
        &self.key
    }

    /// The witness's submission prefix.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Submits `signed_note`, first with a proof from `old_size` (the size this log believes
    /// the witness cosigned last; 0 if none), and if the witness answers 409 with another size,
    /// once more with a proof from that size. `prove(from, to)` gives the consistency proof
    /// (it is not called for `from == 0`, whose proof is empty). Returns the witness's
    /// cosignature, checked against its key.
    pub async fn submit<E: std::fmt::Display>(
        &self,
        signed_note: &str,
        old_size: u64,
        mut prove: impl FnMut(u64, u64) -> Result<Vec<Hash>, E>,
    ) -> Result<Cosignature, ClientError> {
        let note = Note::parse(signed_note).map_err(|e| ClientError::Checkpoint(e.to_string()))?;
        let cp =
            Checkpoint::parse(note.text()).map_err(|e| ClientError::Checkpoint(e.to_string()))?;
        let mut old = old_size.min(cp.size);
        let mut tried = Vec::new();
        loop {
            let proof = if old == 0 {
                Vec::new()
            } else {
                prove(old, cp.size).map_err(|e| ClientError::Diverged {
                    url: self.url.clone(),
                    latest: old,
                    size: cp.size,
                    reason: e.to_string(),
                })?
            };
            tried.push(old);
            match add_checkpoint(&self.http, &self.url, old, &proof, signed_note).await {
                Ok(body) => return self.check(note.text(), &body, old),
                Err(ClientError::Conflict { latest, url }) => {
                    if latest > cp.size {
                        return Err(ClientError::Diverged {
                            url,
                            latest,
                            size: cp.size,
                            reason: "the witness has seen a larger tree than this checkpoint"
                                .into(),
                        });
                    }
                    if tried.contains(&latest) || tried.len() >= 3 {
                        return Err(ClientError::Conflict { url, latest });
                    }
                    old = latest;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Keeps the response lines by this witness's key, which must verify; at least one must.
    fn check(&self, text: &str, body: &str, old_size: u64) -> Result<Cosignature, ClientError> {
        let bad = |reason: String| ClientError::BadResponse {
            url: self.url.clone(),
            reason,
        };
        let note = Note::parse(&format!("{text}\n{body}"))
            .map_err(|e| bad(format!("the cosignature lines do not parse: {e}")))?;
        let mut best: Option<Cosignature> = None;
        for sig in note.signatures().iter().filter(|s| self.key.matches(s)) {
            let timestamp =
                self.key
                    .verify(text, sig)
                    .map_err(|source| ClientError::Cosignature {
                        url: self.url.clone(),
                        source,
                    })?;
            if best.as_ref().is_none_or(|b| b.timestamp < timestamp) {
                best = Some(Cosignature {
                    line: sig.to_string(),
                    timestamp,
                    old_size,
                });
            }
        }
        best.ok_or_else(|| {
            bad(format!(
                "no cosignature by the configured key {}+{:08x}",
                self.key.name(),
                self.key.key_id()
            ))
        })
    }
}
