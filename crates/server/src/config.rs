//! The server's configuration: a TOML file, overridden by command-line flags.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//!
//! [batch]
//! window_ms = 250        # collect uploads for at most this long before logging them
//! max_records = 5000     # log at once when this many are waiting
//!
//! [http]
//! max_body_bytes = 4194304
//! max_records_per_request = 1000
//!
//! [[tokens]]             # `tanji token new --role operator` prints these lines
//! name = "ops"
//! sha256 = "…64 hex digits…"
//! role = "operator"      # operator | auditor | enterprise:<id>
//!
//! [mqtt]                 # optional: ingest over MQTT too (see `crate::mqtt`)
//! url = "mqtt://127.0.0.1:1883"
//!
//! [dashboard]
//! report_refresh_ms = 5000  # rebuild a served report at most this often while data arrives
//!
//! [quarantine]           # beyond these the oldest rejected records are summarised
//! raw_prefix_bytes = 1024
//! rows_per_source = 1000
//! max_age_days = 30
//! max_bytes = 67108864
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::ServerError;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (default `127.0.0.1:8080`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// How uploads are batched.
    #[serde(default)]
    pub batch: BatchConfig,
    /// HTTP limits.
    #[serde(default)]
    pub http: HttpConfig,
    /// API tokens, by SHA-256 hash, with their roles.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Witnesses every new checkpoint is submitted to (`[[witness]]` name, url, vkey).
    #[serde(default)]
    pub witness: Vec<crate::witnessing::WitnessConfig>,
    /// MQTT ingest from a broker, if configured.
    #[serde(default)]
    pub mqtt: Option<crate::mqtt::MqttConfig>,
    /// How the query API and the dashboard keep their reports current.
    #[serde(default)]
    pub dashboard: DashboardConfig,
    /// The quarantine's bounds.
    #[serde(default)]
    pub quarantine: QuarantineConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            batch: BatchConfig::default(),
            http: HttpConfig::default(),
            tokens: Vec::new(),
            witness: Vec::new(),
            mqtt: None,
            dashboard: DashboardConfig::default(),
            quarantine: QuarantineConfig::default(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

/// How the sequencer batches uploads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// The longest an upload waits for others before its batch is logged, in milliseconds
    /// (default 250). Under thousands of uploads per second 100 ms keeps batches small enough
    /// to be logged while the next fills (`docs/benchmarks.md`, the service under load); each
    /// batch is one fsync and one signed checkpoint.
    pub window_ms: u64,
    /// A batch is logged as soon as it holds this many records.
    pub max_records: usize,
    /// Records that may wait for the sequencer before new requests get 503 `busy`.
    pub queue_records: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            window_ms: 250,
            max_records: 5000,
            queue_records: 100_000,
        }
    }
}

impl BatchConfig {
    /// The window as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_millis(self.window_ms)
    }
}

/// The quarantine's bounds (`tanji_park::QuarantineLimits`): beyond them the oldest rejected
/// records are summarised per source and rejection code (count, bytes, first and last time),
/// never dropped uncounted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuarantineConfig {
    /// Bytes of each rejected record kept (its length is always kept).
    pub raw_prefix_bytes: usize,
    /// Rows kept one by one per source (network peer, MQTT topic or file).
    pub rows_per_source: u64,
    /// Days a row is kept one by one (0: no age bound).
    pub max_age_days: u32,
    /// Bytes all kept rows may take.
    pub max_bytes: u64,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        let l = tanji_park::QuarantineLimits::default();
        QuarantineConfig {
            raw_prefix_bytes: l.raw_prefix,
            rows_per_source: l.rows_per_source,
            max_age_days: u32::try_from(l.max_age_s / 86_400).unwrap_or(u32::MAX),
            max_bytes: l.max_bytes,
        }
    }
}

impl QuarantineConfig {
    /// The park's limits.
    pub fn limits(&self) -> tanji_park::QuarantineLimits {
        tanji_park::QuarantineLimits {
            raw_prefix: self.raw_prefix_bytes,
            rows_per_source: self.rows_per_source,
            max_age_s: i64::from(self.max_age_days) * 86_400,
            max_bytes: self.max_bytes,
        }
    }
}

/// How the reports behind the query API and the dashboard follow the log.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// While the log grows, a report (the park's, an enterprise's) is rebuilt at most this
    /// often, in milliseconds: a request within this time of the last build gets that build,
    /// and one after it starts a rebuild in the background and gets the last build until the
    /// new one is done. Every answer names the checkpoint (tree size) its figures are for.
    /// `0`: every request after the log grew waits for a report at the latest checkpoint.
    pub report_refresh_ms: u64,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        // The dashboard polls every 5 s; a park report for thousands of enterprises takes
        // seconds of CPU, which must not be spent again at every batch of uploads.
        DashboardConfig {
            report_refresh_ms: 5000,
        }
    }
}

/// HTTP request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes (larger gets 413).
    pub max_body_bytes: usize,
    /// Most records in one upload request (more gets 413).
    pub max_records_per_request: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 4 << 20,
            max_records_per_request: 1000,
        }
    }
}

/// One API token: its SHA-256 (hex) and role. The token itself is never stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for logs (who holds it).
    #[serde(default)]
    pub name: Option<String>,
    /// SHA-256 of the token, 64 lowercase hex digits.
    pub sha256: String,
    /// `operator`, `auditor` or `enterprise:<id>`.
    pub role: String,
}

impl Config {
    /// Parses a TOML configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ServerError> {
        let config: Config = toml::from_str(text).map_err(|e| ServerError::Config {
            path: origin.into(),
            message: e.to_string(),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// Reads and parses a TOML configuration file.
    pub fn load(path: &Path) -> Result<Config, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::Io {
            context: format!("reading config {}", path.display()),
            source: e,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks values that TOML types cannot.
    pub fn check(&self, origin: &str) -> Result<(), ServerError> {
        let bad = |message: String| ServerError::Config {
            path: origin.into(),
            message,
        };
        if self.batch.max_records == 0 {
            return Err(bad("batch.max_records must be at least 1".into()));
        }
        if self.batch.queue_records < self.http.max_records_per_request {
            return Err(bad(format!(
                "batch.queue_records ({}) must be at least http.max_records_per_request ({})",
                self.batch.queue_records, self.http.max_records_per_request
            )));
        }
        if self.http.max_records_per_request == 0 || self.http.max_body_bytes == 0 {
            return Err(bad(
                "http.max_records_per_request and http.max_body_bytes must be at least 1".into(),
            ));
        }
        if let Some(m) = &self.mqtt {
            m.check().map_err(|e| bad(e.to_string()))?;
        }
        crate::witnessing::check(&self.witness).map_err(bad)?;
        for (i, t) in self.tokens.iter().enumerate() {
            crate::auth::Role::parse(&t.role).map_err(|m| bad(format!("tokens[{i}].role: {m}")))?;
            crate::auth::parse_token_hash(&t.sha256)
                .map_err(|m| bad(format!("tokens[{i}].sha256: {m}")))?;
        }
        Ok(())
    }
}
