//! `tanji-gateway bench`: how fast one core signs uploads with each key type, and how fast the
//! outbox makes them durable (read, reserve, sign: three fsynced commits a record) on this
//! disk. `tanji-bench gateway` runs it beside the park's ingest.

use std::path::Path;
use std::time::Instant;

use tanji_readings::{Channel, KeyType, SigningKey, UploadBody, ZERO_HASH};

use crate::config::Mode;
use crate::intervals::Accumulator;
use crate::outbox::{Outbox, OutboxError, PendingInterval};

/// Measured rates.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Records signed per second in memory (two one-value channels).
    pub signed_per_s: f64,
    /// Records read, sealed, signed and committed per second by the outbox.
    pub durable_per_s: f64,
}

/// The bench's key of `key_type`: the secret bytes `03 03 … 03`.
pub fn key(key_type: KeyType) -> SigningKey {
    match SigningKey::from_secret(key_type, &[3; 32]) {
        Ok(k) => k,
        // 0x0303…03 is below every curve order: each type takes it.
        Err(e) => unreachable!("the bench key: {e}"),
    }
}

/// The record the bench signs as `seq` (two meters, one 900 s value each), unsigned.
pub fn record(seq: u64, prev: tanji_readings::Hash) -> UploadBody {
    let start = 1_767_225_600 + seq as i64 * 900;
    let channel = |meter: &str| Channel {
        meter: meter.into(),
        carrier: "electricity_import".into(),
        unit: "kWh".into(),
        decimals: 3,
        start,
        interval_s: 900,
        values: vec![12_345],
    };
    UploadBody {
        device: "gw-bench".into(),
        seq,
        prev,
        channels: vec![channel("m-1"), channel("m-2")],
    }
}

/// Signs `n` records in memory with `key`, then seals `n` records through an outbox in `dir`
/// (which must be empty: the outbox file is created there).
pub fn run(dir: &Path, n: u32, key: &SigningKey) -> Result<Figures, OutboxError> {
    let t = Instant::now();
    let mut prev = ZERO_HASH;
    for seq in 1..=u64::from(n) {
        let signed = record(seq, prev)
            .try_sign(key)
            .map_err(|source| OutboxError::Sign {
                seq: seq as i64,
                source,
            })?;
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
        outbox.sign_reserved(key)?;
    }
    let durable_per_s = f64::from(n) / t.elapsed().as_secs_f64();
    Ok(Figures {
        signed_per_s,
        durable_per_s,
    })
}
