//! `tanji-gateway bench`: how fast one core signs uploads, and how fast the outbox makes them
//! durable (reserve, sign, commit: two fsynced transactions a record) on this disk.

use std::path::Path;
use std::time::Instant;

use ed25519_dalek::SigningKey;
use tanji_readings::{Channel, UploadBody, ZERO_HASH};

use crate::config::Mode;
use crate::intervals::Accumulator;
use crate::outbox::{Outbox, OutboxError, PendingInterval};

/// Measured rates.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Records signed per second in memory (Ed25519, two one-value channels).
    pub signed_per_s: f64,
    /// Records read, sealed, signed and committed per second by the outbox.
    pub durable_per_s: f64,
}

/// Signs `n` records in memory, then seals `n` records through an outbox in `dir` (which
/// must be empty: the outbox file is created there).
pub fn run(dir: &Path, n: u32) -> Result<Figures, OutboxError> {
    let key = SigningKey::from_bytes(&[3; 32]);
    let channel = |meter: &str, start: i64| Channel {
        meter: meter.into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        decimals: 3,
        start,
        interval_s: 900,
        values: vec![12_345],
    };
    let t = Instant::now();
    let mut prev = ZERO_HASH;
    for seq in 1..=u64::from(n) {
        let start = 1_767_225_600 + seq as i64 * 900;
        let signed = UploadBody {
            device: "gw-bench".into(),
            seq,
            prev,
            channels: vec![channel("m-1", start), channel("m-2", start)],
        }
        .sign(&key);
        prev = signed.record_hash();
    }
    let signed_per_s = f64::from(n) / t.elapsed().as_secs_f64();
    let mut outbox = Outbox::open(dir)?;
    let acc = Accumulator::new(900, 60, None, Mode::Cumulative);
    let t = Instant::now();
    for k in 0..n {
        let start = 1_767_225_600 + i64::from(k) * 900;
        let intervals: Vec<PendingInterval> = ["m-1", "m-2"]
            .iter()
            .map(|m| PendingInterval {
                meter: (*m).into(),
                carrier: "electricity_import".into(),
                unit: "kWh".into(),
                decimals: 3,
                start,
                interval_s: 900,
                value: 12_345,
            })
            .collect();
        outbox.record_read("m-1", &acc, &intervals, &[], start)?;
        outbox.seal("gw-bench")?;
        outbox.sign_reserved(&key)?;
    }
    let durable_per_s = f64::from(n) / t.elapsed().as_secs_f64();
    Ok(Figures {
        signed_per_s,
        durable_per_s,
    })
}
