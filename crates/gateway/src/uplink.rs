//! The park over HTTP: `POST /api/v1/uploads` and the consistency proofs of
//! `GET /api/v1/proof/consistency` (docs/api.md).

use std::time::Duration;

use serde::Deserialize;
use tanji_readings::{upload_to_json, SignedUpload};

/// The park could not be asked, or answered something that is not an answer.
#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    /// No connection, a timeout, or a body that could not be read.
    #[error("park {url}: {source}")]
    Http {
        /// The URL.
        url: String,
        /// The error.
        source: reqwest::Error,
    },
    /// A status other than 200 (the park refused the request whole: busy, shutting down, …).
    #[error("park {url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The body (its `error` and `message`).
        body: String,
    },
    /// A 200 whose body is not the answer expected.
    #[error("park {url} answered what is not an answer: {reason}")]
    Garbled {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The park's answer to one record.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Answer {
    /// `accepted`, `duplicate` or `rejected`.
    pub status: String,
    /// Leaf index (accepted, duplicate).
    pub index: Option<u64>,
    /// The tree size of the proof (accepted, duplicate).
    pub tree_size: Option<u64>,
    /// Inclusion proof, base64 (accepted, duplicate).
    #[serde(default)]
    pub proof: Vec<String>,
    /// Signed checkpoint note (accepted, duplicate).
    pub checkpoint: Option<String>,
    /// Rejection code.
    pub code: Option<String>,
    /// Rejection reason.
    pub reason: Option<String>,
}

/// A consistency proof as the park serves it.
#[derive(Debug, Clone, Deserialize)]
pub struct Consistency {
    /// Older size.
    pub from: u64,
    /// Newer size.
    pub to: u64,
    /// The proof, base64.
    pub proof: Vec<String>,
}

/// An HTTP client of one park.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    /// A client of the park at `base` (`http://host:port`), each request bounded by `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Result<Http, UplinkError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|source| UplinkError::Http {
                url: base.into(),
                source,
            })?;
        Ok(Http {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// Posts `records` as one array; returns one answer per record, in order.
    pub async fn upload(&self, records: &[SignedUpload]) -> Result<Vec<Answer>, UplinkError> {
        let url = format!("{}/api/v1/uploads", self.base);
        let body = format!(
            "[{}]",
            records
                .iter()
                .map(upload_to_json)
                .collect::<Vec<_>>()
                .join(",")
        );
        let text = self.call(self.client.post(&url).body(body), &url).await?;
        let answers: Vec<Answer> =
            serde_json::from_str(&text).map_err(|e| UplinkError::Garbled {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if answers.len() != records.len() {
            return Err(UplinkError::Garbled {
                url,
                reason: format!("{} answers to {} records", answers.len(), records.len()),
            });
        }
        Ok(answers)
    }

    /// The consistency proof between the trees of `from` and `to` leaves.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<Consistency, UplinkError> {
        let url = format!("{}/api/v1/proof/consistency?from={from}&to={to}", self.base);
        let text = self.call(self.client.get(&url), &url).await?;
        let c: Consistency = serde_json::from_str(&text).map_err(|e| UplinkError::Garbled {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        if (c.from, c.to) != (from, to) {
            return Err(UplinkError::Garbled {
                url,
                reason: format!("proof from {} to {}, asked {from} to {to}", c.from, c.to),
            });
        }
        Ok(c)
    }

    async fn call(&self, req: reqwest::RequestBuilder, url: &str) -> Result<String, UplinkError> {
        let http = |source| UplinkError::Http {
            url: url.into(),
            source,
        };
        let res = req.send().await.map_err(http)?;
        let status = res.status().as_u16();
        let text = res.text().await.map_err(http)?;
        if status != 200 {
            return Err(UplinkError::Status {
                url: url.into(),
                status,
                body: text.chars().take(500).collect(),
            });
        }
        Ok(text)
    }
}
