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
//! header_read_timeout_ms = 10000  # a request head must arrive within this
//! idle_timeout_ms = 60000         # a connection with no traffic and no request is closed
//! # max_connections = 700         # default: the open-file limit less a reserve
//! refusals_per_window = 1000      # refused records/requests per peer (address; MQTT: device topic) before 429
//! refusal_window_ms = 60000
//!
//! [reports]
//! enterprise_max_days = 366   # longest period an enterprise token may ask a report for
//! max_days = 3660             # longest period for operators and auditors
//! builds_per_caller = 2       # report builds one token may have waiting or running
//! builds_total = 8            # report builds waiting or running in all
//!
//! [[tokens]]             # `tanji token new --role operator` prints these lines
//! name = "ops"
//! sha256 = "…64 hex digits…"
//! role = "operator"      # operator | auditor | enterprise:<id> | admin
//! park = "north"         # in a deployment of many parks: the token's park (not for admin)
//!
//! [mqtt]                 # optional: ingest over MQTT too (see `crate::mqtt`)
//! url = "mqtt://127.0.0.1:1883"
//!
//! [dashboard]
//! report_refresh_ms = 5000  # rebuild a served report at most this often while data arrives
//!
//! advertise_url = "http://10.0.0.5:8080"  # where other instances forward uploads to
//!
//! [parks]                # a deployment of many parks: where `POST /parks` puts new parks
//! store = "postgres://postgres@127.0.0.1:5432/tanji"  # default: SQLite in each park's directory
//!
//! [lease]                # a park on PostgreSQL: one instance sequences it at a time
//! ttl_ms = 10000         # a dead holder's lease expires after this
//! poll_ms = 1000         # a standby tries to take the lease this often
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
    /// Bounds on the reports callers may ask for.
    #[serde(default)]
    pub reports: ReportsConfig,
    /// The quarantine's bounds.
    #[serde(default)]
    pub quarantine: QuarantineConfig,
    /// The writer lease of a park on PostgreSQL.
    #[serde(default)]
    pub lease: crate::lease::LeaseConfig,
    /// The URL other instances reach this one at (`http://host:port`), which they forward
    /// the uploads of the parks this one writes to; `http://<listen>` by default, none when
    /// `listen` is a wildcard address (`0.0.0.0`, `[::]`).
    #[serde(default)]
    pub advertise_url: Option<String>,
    /// A deployment of many parks: where `POST /parks` creates them.
    #[serde(default)]
    pub parks: crate::parks::ParksConfig,
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
            reports: ReportsConfig::default(),
            quarantine: QuarantineConfig::default(),
            lease: crate::lease::LeaseConfig::default(),
            advertise_url: None,
            parks: crate::parks::ParksConfig::default(),
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

/// Bounds on report building: how long a period each role may ask for, and how many builds
/// may wait or run at once, per caller and in all (`docs/api.md`, "Limits").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// The longest period, in days, an enterprise token may ask a report for (a longer one
    /// gets 400 naming this limit). The default, 366, holds any calendar year.
    pub enterprise_max_days: u32,
    /// The longest period, in days, an operator or auditor may ask a report for.
    pub max_days: u32,
    /// Report builds one caller (one token) may have waiting or running; one more gets 429
    /// with `Retry-After`.
    pub builds_per_caller: usize,
    /// Report builds waiting or running in all; one more gets 503 with `Retry-After`.
    pub builds_total: usize,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            enterprise_max_days: 366,
            max_days: 3660,
            builds_per_caller: 2,
            builds_total: 8,
        }
    }
}

/// HTTP request and connection limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes (larger gets 413).
    pub max_body_bytes: usize,
    /// Most records in one upload request (more gets 413).
    pub max_records_per_request: usize,
    /// A request's head (request line and headers) must have arrived this many milliseconds
    /// after the server began waiting for it — on a new connection and between the requests
    /// of a kept-alive one; otherwise the connection is closed.
    pub header_read_timeout_ms: u64,
    /// A connection on which nothing was read or written for this many milliseconds, and no
    /// request is being answered, is closed; so is a request body that stalls this long.
    pub idle_timeout_ms: u64,
    /// Most connections open at once. Default: the process's open-file limit
    /// (`RLIMIT_NOFILE`) less a reserve for the store, MQTT and files. At the limit the
    /// longest-idle connection is closed to make room; if every connection is busy, a new one
    /// gets 503 `too_many_connections` and is closed.
    pub max_connections: Option<usize>,
    /// Refusals (a rejected record, a request refused whole) one peer address may earn on the
    /// upload route within `refusal_window_ms` before its uploads get 429 until the window
    /// ends.
    pub refusals_per_window: u32,
    /// The window of `refusals_per_window`, in milliseconds.
    pub refusal_window_ms: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 4 << 20,
            max_records_per_request: 1000,
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            max_connections: None,
            refusals_per_window: 1000,
            refusal_window_ms: 60_000,
        }
    }
}

impl HttpConfig {
    /// The header-read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }

    /// The refusal window.
    pub fn refusal_window(&self) -> Duration {
        Duration::from_millis(self.refusal_window_ms)
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
    /// `operator`, `auditor`, `enterprise:<id>` or `admin`.
    pub role: String,
    /// The park the token belongs to, in a deployment of many parks (required there for
    /// every role but `admin`); a token is unknown in every other park.
    #[serde(default)]
    pub park: Option<String>,
}

impl Config {
    /// Points MQTT ingest at the broker `url` (`--mqtt`), keeping the rest of the `[mqtt]`
    /// section if there is one.
    pub fn set_mqtt_url(&mut self, url: String) -> Result<(), crate::mqtt::MqttError> {
        let mut m = self
            .mqtt
            .take()
            .unwrap_or_else(|| crate::mqtt::MqttConfig::new(&url));
        m.url = url;
        m.check()?;
        self.mqtt = Some(m);
        Ok(())
    }

    /// Parses a TOML configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ServerError> {
        let config: Config = toml::from_str(text).map_err(|e| ServerError::Config {
            path: origin.into(),
            message: e.to_string(),
        })?;
        config.check(origin)?;
        Ok(config)
    }

    /// The `[[tokens]]` entry of a token with SHA-256 `hash` (hex) for `role`, named `name`.
    pub fn token_entry(hash: &str, role: &crate::Role, name: Option<&str>) -> String {
        let quoted = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"));
        let mut lines = String::from("[[tokens]]\n");
        if let Some(n) = name {
            lines.push_str(&format!("name = {}\n", quoted(n)));
        }
        lines.push_str(&format!("sha256 = \"{hash}\"\n"));
        lines.push_str(&format!("role = {}\n", quoted(&role.to_string())));
        lines
    }

    /// Appends `lines` (whole TOML entries) to the configuration file at `path`, created if
    /// missing, after checking that the result is still a valid configuration: nothing is
    /// written otherwise.
    pub fn append_to_file(path: &Path, lines: &str) -> Result<(), ServerError> {
        let io = |context: String| move |source| ServerError::Io { context, source };
        let old = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(format!("reading {}", path.display()))(e)),
        };
        let sep = match old.as_str() {
            "" => "",
            s if s.ends_with("\n\n") => "",
            s if s.ends_with('\n') => "\n",
            _ => "\n\n",
        };
        let new = format!("{old}{sep}{lines}");
        Config::parse(&new, &path.display().to_string()).map_err(|e| ServerError::Config {
            path: path.display().to_string(),
            message: format!(
                "would not be a valid server config with the new entry; nothing was written: {e}"
            ),
        })?;
        std::fs::write(path, new).map_err(io(format!("writing {}", path.display())))
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
        if self.lease.ttl_ms < 300 || self.lease.poll_ms == 0 {
            return Err(bad(
                "lease.ttl_ms must be at least 300 and lease.poll_ms at least 1".into(),
            ));
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
        if self.http.header_read_timeout_ms == 0 || self.http.idle_timeout_ms == 0 {
            return Err(bad(
                "http.header_read_timeout_ms and http.idle_timeout_ms must be at least 1".into(),
            ));
        }
        if self.http.max_connections == Some(0) {
            return Err(bad(
                "http.max_connections must be at least 1 (or left out: the open-file limit less a reserve)".into(),
            ));
        }
        if self.http.refusals_per_window == 0 || self.http.refusal_window_ms == 0 {
            return Err(bad(
                "http.refusals_per_window and http.refusal_window_ms must be at least 1".into(),
            ));
        }
        let r = &self.reports;
        if r.enterprise_max_days == 0 || r.max_days == 0 {
            return Err(bad(
                "reports.enterprise_max_days and reports.max_days must be at least 1".into(),
            ));
        }
        if r.builds_per_caller == 0 || r.builds_total < r.builds_per_caller {
            return Err(bad(format!(
                "reports.builds_per_caller ({}) must be at least 1 and at most reports.builds_total ({})",
                r.builds_per_caller, r.builds_total
            )));
        }
        if let Some(m) = &self.mqtt {
            m.check().map_err(|e| bad(e.to_string()))?;
        }
        crate::witnessing::check(&self.witness).map_err(bad)?;
        if let Some(url) = &self.advertise_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(format!(
                    "advertise_url {url:?}: expected http://HOST:PORT, the address other instances reach this one at"
                )));
            }
        }
        if let Some(url) = &self.parks.store {
            tanji_park::check_store_url(url).map_err(|e| bad(format!("parks.store: {e}")))?;
        }
        for (i, t) in self.tokens.iter().enumerate() {
            crate::auth::Role::parse(&t.role).map_err(|m| bad(format!("tokens[{i}].role: {m}")))?;
            if t.role == "admin" && t.park.is_some() {
                return Err(bad(format!(
                    "tokens[{i}]: an admin token belongs to the deployment, not to park {:?}: remove its `park`",
                    t.park.as_deref().unwrap_or_default()
                )));
            }
            crate::auth::parse_token_hash(&t.sha256)
                .map_err(|m| bad(format!("tokens[{i}].sha256: {m}")))?;
        }
        Ok(())
    }
}
