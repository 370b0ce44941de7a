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

    /// Posts `records` as one array; returns one answer per record, in order, and the park's
    /// clock (its `Date` header, Unix seconds) if it sent one.
    pub async fn upload(
        &self,
        records: &[SignedUpload],
    ) -> Result<(Vec<Answer>, Option<i64>), UplinkError> {
        let url = format!("{}/api/v1/uploads", self.base);
        let body = format!(
            "[{}]",
            records
                .iter()
                .map(upload_to_json)
                .collect::<Vec<_>>()
                .join(",")
        );
        let (text, date) = self.call(self.client.post(&url).body(body), &url).await?;
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
        Ok((answers, date))
    }

    /// The consistency proof between the trees of `from` and `to` leaves.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<Consistency, UplinkError> {
        let url = format!("{}/api/v1/proof/consistency?from={from}&to={to}", self.base);
        let (text, _) = self.call(self.client.get(&url), &url).await?;
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

    async fn call(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(String, Option<i64>), UplinkError> {
        let http = |source| UplinkError::Http {
            url: url.into(),
            source,
        };
        let res = req.send().await.map_err(http)?;
        let date = res
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(http_date);
        let status = res.status().as_u16();
        let text = res.text().await.map_err(http)?;
        if status != 200 {
            return Err(UplinkError::Status {
                url: url.into(),
                status,
                body: text.chars().take(500).collect(),
            });
        }
        Ok((text, date))
    }
}

/// Parses an HTTP date (IMF-fixdate, `Thu, 03 Dec 2026 20:41:11 GMT`) into Unix seconds.
pub fn http_date(text: &str) -> Option<i64> {
    let [_, day, month, year, hms, "GMT"] = text.split_whitespace().collect::<Vec<_>>()[..] else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    tanji_units::time::parse_rfc3339(&format!("{year}-{month:02}-{day:0>2}T{hms}Z")).ok()
}

/// The park over MQTT (docs/api.md, "Uploads over MQTT"): records published QoS 1 on
/// `tanji/<park>/<device>/up`, answers read from `tanji/<park>/<device>/ack`. One message in
/// flight at a time. Consistency proofs still come over HTTP.
pub struct Mqtt {
    client: rumqttc::AsyncClient,
    up: String,
    broker: String,
    answers: tokio::sync::mpsc::Receiver<Vec<u8>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mqtt {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Splits `mqtt://host[:port]` into host and port (1883 by default).
pub fn parse_mqtt_url(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("mqtt://")?.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) => {
            Some((host.to_string(), port.parse().ok()?)).filter(|(h, _)| !h.is_empty())
        }
        None => Some((rest.to_string(), 1883)).filter(|(h, _)| !h.is_empty()),
    }
}

impl Mqtt {
    /// Connects (in the background, reconnecting) to the broker at `url` as the device
    /// `device` of the park whose topics are `tanji/<park>/…`.
    pub fn new(url: &str, park: &str, device: &str) -> Result<Mqtt, UplinkError> {
        use rumqttc::{Event, MqttOptions, Packet, QoS};
        let (host, port) = parse_mqtt_url(url).ok_or_else(|| UplinkError::Garbled {
            url: url.into(),
            reason: "not mqtt://host[:port]".into(),
        })?;
        let mut options = MqttOptions::new(format!("tanji-gw-{park}-{device}"), host, port);
        options
            .set_clean_session(true)
            .set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(options, 16);
        let ack = format!("tanji/{park}/{device}/ack");
        let (tx, answers) = tokio::sync::mpsc::channel(16);
        let sub = client.clone();
        let topic = ack.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = sub.subscribe(&topic, QoS::AtLeastOnce).await;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                        let _ = tx.send(p.payload.to_vec()).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("MQTT broker: {e}; reconnecting in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Mqtt {
            client,
            up: format!("tanji/{park}/{device}/up"),
            broker: url.into(),
            answers,
            task,
        })
    }

    /// Publishes `records` as one array and waits at most `timeout` for the answer.
    pub async fn upload(
        &mut self,
        records: &[SignedUpload],
        timeout: Duration,
    ) -> Result<Vec<Answer>, UplinkError> {
        let garbled = |reason: String| UplinkError::Garbled {
            url: self.broker.clone(),
            reason,
        };
        // Answers to earlier messages that came after their wait ended.
        while self.answers.try_recv().is_ok() {}
        let body = format!(
            "[{}]",
            records
                .iter()
                .map(upload_to_json)
                .collect::<Vec<_>>()
                .join(",")
        );
        self.client
            .publish(&self.up, rumqttc::QoS::AtLeastOnce, false, body)
            .await
            .map_err(|e| garbled(format!("publishing on {}: {e}", self.up)))?;
        let payload = tokio::time::timeout(timeout, self.answers.recv())
            .await
            .map_err(|_| garbled(format!("no answer on the ack topic within {timeout:?}")))?
            .ok_or_else(|| garbled("the MQTT client stopped".into()))?;
        let answers: Vec<Answer> = serde_json::from_slice(&payload).map_err(|e| {
            garbled(format!(
                "{e}: {}",
                String::from_utf8_lossy(&payload)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))
        })?;
        if answers.len() != records.len() {
            return Err(garbled(format!(
                "{} answers to {} records (an answer to an earlier message?)",
                answers.len(),
                records.len()
            )));
        }
        Ok(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date("Thu, 01 Jan 2026 00:00:00 GMT"),
            Some(1_767_225_600)
        );
        assert_eq!(http_date("Thu, 01 Jan 2026 00:00:00 UTC"), None);
        assert_eq!(http_date("yesterday"), None);
        assert_eq!(
            parse_mqtt_url("mqtt://127.0.0.1:1883"),
            Some(("127.0.0.1".into(), 1883))
        );
        assert_eq!(
            parse_mqtt_url("mqtt://broker"),
            Some(("broker".into(), 1883))
        );
        assert_eq!(parse_mqtt_url("http://broker"), None);
    }
}
