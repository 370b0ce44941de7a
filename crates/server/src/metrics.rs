//! Prometheus metrics (`GET /metrics`, text exposition format), one registry per server so
//! that servers in one process (tests, the load test) do not mix their counts.

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upload counters by outcome.
#[derive(Debug, Clone, Default)]
pub struct UploadCounters {
    /// Records logged.
    pub accepted: Counter,
    /// Records already logged before (not logged again).
    pub duplicate: Counter,
    /// Records refused (quarantined).
    pub rejected: Counter,
}

/// MQTT ingest's counts (see [`crate::mqtt`]).
#[derive(Debug, Clone, Default)]
pub struct MqttMetrics {
    /// Messages being handled now (decoded, logged, answered); at most `[mqtt] max_in_flight`.
    pub in_flight: Gauge,
    /// The most messages handled at once since the server started.
    pub in_flight_peak: Gauge,
    /// QoS 1 messages received while every handler was busy, waiting for one (unacknowledged,
    /// so bounded by the broker's in-flight window).
    pub waiting: Gauge,
    /// Messages refused whole, by reason (`body_too_large`, `too_many_records`, `bad_request`,
    /// `overloaded`, `unexpected_topic`).
    pub refused: Family<[(&'static str, &'static str); 1], Counter>,
}

impl MqttMetrics {
    /// Counts one message refused for `reason`.
    pub fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&[("reason", reason)]).inc();
    }

    /// Messages refused so far for `reason`.
    pub fn refused(&self, reason: &'static str) -> u64 {
        self.refused.get_or_create(&[("reason", reason)]).get()
    }
}

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Uploads by outcome.
    pub uploads: UploadCounters,
    /// Records per logged batch.
    pub batch_records: Histogram,
    /// Seconds to validate, log, fsync and prove one batch.
    pub batch_seconds: Histogram,
    /// Seconds from an upload request's arrival to its acknowledgement.
    pub ack_seconds: Histogram,
    /// Entries in the log.
    pub tree_size: Gauge,
    /// Upload requests refused whole (bad JSON, too large, busy).
    pub requests_refused: Counter,
    /// Seconds to build one report for the query API (the park's or an enterprise's).
    pub report_build_seconds: Histogram,
    /// MQTT ingest.
    pub mqtt: MqttMetrics,
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let uploads = UploadCounters::default();
        let batch_records =
            Histogram::new([1.0, 10.0, 100.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]);
        let batch_seconds = Histogram::new([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]);
        let ack_seconds =
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0]);
        let tree_size = Gauge::default();
        let requests_refused = Counter::default();
        let report_build_seconds =
            Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]);
        let mut r = Registry::with_prefix("tanji");
        r.register(
            "uploads_accepted",
            "Upload records logged",
            uploads.accepted.clone(),
        );
        r.register(
            "uploads_duplicate",
            "Upload records already logged before, acknowledged again",
            uploads.duplicate.clone(),
        );
        r.register(
            "uploads_rejected",
            "Upload records refused and quarantined",
            uploads.rejected.clone(),
        );
        r.register(
            "upload_requests_refused",
            "Upload requests refused whole (malformed JSON, too large, busy, shutting down)",
            requests_refused.clone(),
        );
        r.register(
            "batch_records",
            "Records per logged batch",
            batch_records.clone(),
        );
        r.register(
            "batch_seconds",
            "Seconds to validate, log, fsync and prove one batch",
            batch_seconds.clone(),
        );
        r.register(
            "ack_latency_seconds",
            "Seconds from an upload request's arrival to its durable acknowledgement",
            ack_seconds.clone(),
        );
        r.register("tree_size", "Entries in the park log", tree_size.clone());
        r.register(
            "report_build_seconds",
            "Seconds to build one report for the query API and the dashboard",
            report_build_seconds.clone(),
        );
        let mqtt = MqttMetrics::default();
        r.register(
            "mqtt_in_flight",
            "MQTT messages being handled now (bounded by mqtt.max_in_flight)",
            mqtt.in_flight.clone(),
        );
        r.register(
            "mqtt_in_flight_peak",
            "The most MQTT messages handled at once since the server started",
            mqtt.in_flight_peak.clone(),
        );
        r.register(
            "mqtt_waiting",
            "MQTT QoS 1 messages waiting for a free handler (bounded by the broker's in-flight window)",
            mqtt.waiting.clone(),
        );
        r.register(
            "mqtt_refused",
            "MQTT messages refused whole (acknowledged to the broker, answered on the ack topic unless overloaded), by reason",
            mqtt.refused.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            uploads,
            batch_records,
            batch_seconds,
            ack_seconds,
            tree_size,
            requests_refused,
            report_build_seconds,
            mqtt,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
