//! The durable outbox: an SQLite file (`outbox.sqlite`, WAL, `synchronous = FULL`: every
//! commit is fsynced) holding what the gateway must not lose.
//!
//! - Each meter's [`Accumulator`] and the closed intervals not yet in a record (`pending`),
//!   written in one transaction per read.
//! - Records: [`Outbox::seal`] moves the pending intervals into a record body with the next
//!   sequence number and commits it, **unsigned**, before anything is signed; then
//!   [`Outbox::sign_reserved`] signs it and commits the signature and the chain head. A power
//!   cut between the two leaves a reserved body, which the next start signs: a sequence number
//!   is only ever signed over the one body committed for it. A record is sent only once its
//!   signature is committed.
//! - A record leaves the outbox only when the park acknowledged it (`accepted` or
//!   `duplicate`, with a checked proof): then its leaf index and leaf hash are kept (`acked`,
//!   70 bytes a record) and the record is forgotten.
//! - The park's last checked checkpoint, and an event journal (gaps, refusals, faults of the
//!   park) for the operator.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tanji_readings::{Channel, Hash, SignedUpload, SigningKey, UploadBody, ZERO_HASH};

use crate::intervals::Accumulator;

/// An outbox failure.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// SQLite failed (disk full, file damaged, …).
    #[error("outbox {path}: {source}")]
    Sqlite {
        /// The outbox file.
        path: String,
        /// The error.
        source: rusqlite::Error,
    },
    /// A stored value does not decode: the file was changed by something else.
    #[error("outbox {path}: {what}")]
    Corrupt {
        /// The outbox file.
        path: String,
        /// What does not decode.
        what: String,
    },
    /// The key could not sign a reserved record (SM2 or ECDSA: a derived nonce out of
    /// range); the record stays reserved and is signed at the next try.
    #[error("record {seq} not signed: {source}")]
    Sign {
        /// The record's sequence number.
        seq: i64,
        /// Why.
        source: tanji_readings::KeyError,
    },
}

/// A closed interval of one meter, waiting for a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInterval {
    /// Meter id.
    pub meter: String,
    /// Carrier code.
    pub carrier: String,
    /// Unit code.
    pub unit: String,
    /// Decimals.
    pub decimals: u8,
    /// Start, Unix seconds.
    pub start: i64,
    /// Length, seconds.
    pub interval_s: u32,
    /// Amount, fixed point.
    pub value: i64,
}

/// An acknowledged record as kept after it is forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// Sequence number.
    pub seq: u64,
    /// Leaf index in the park's log.
    pub index: u64,
    /// RFC 6962 leaf hash of the record's log entry.
    pub leaf_hash: Hash,
}

/// The outbox file, open.
pub struct Outbox {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending (meter TEXT NOT NULL, carrier TEXT NOT NULL, unit TEXT NOT NULL,
  decimals INTEGER NOT NULL, start INTEGER NOT NULL, interval_s INTEGER NOT NULL,
  value INTEGER NOT NULL, PRIMARY KEY (meter, start));
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body BLOB NOT NULL, signature BLOB);
CREATE TABLE IF NOT EXISTS acked (seq INTEGER PRIMARY KEY, leaf_index INTEGER NOT NULL,
  leaf_hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS refused (seq INTEGER PRIMARY KEY, record BLOB NOT NULL,
  code TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, at INTEGER NOT NULL,
  kind TEXT NOT NULL, message TEXT NOT NULL);
";

impl Outbox {
    /// Opens (creating if needed) `dir/outbox.sqlite`.
    pub fn open(dir: &Path) -> Result<Outbox, OutboxError> {
        let path = dir.join("outbox.sqlite");
        let name = path.display().to_string();
        let err = |source| OutboxError::Sqlite {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Outbox { conn, path: name })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        |source| OutboxError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: String) -> OutboxError {
        OutboxError::Corrupt {
            path: self.path.clone(),
            what,
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>, OutboxError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }

    /// A meter's accumulator as last committed.
    pub fn accumulator(&self, meter: &str) -> Result<Option<Accumulator>, OutboxError> {
        self.meta(&format!("acc:{meter}"))?
            .map(|j| {
                serde_json::from_str(&j)
                    .map_err(|e| self.corrupt(format!("accumulator of meter {meter}: {e}")))
            })
            .transpose()
    }

    /// Commits a read's outcome in one transaction: the meter's accumulator, the intervals it
    /// closed and the events to journal.
    pub fn record_read(
        &mut self,
        meter: &str,
        acc: &Accumulator,
        intervals: &[PendingInterval],
        events: &[(&str, String)],
        now: i64,
    ) -> Result<(), OutboxError> {
        let path = self.path.clone();
        let sql = |source| OutboxError::Sqlite {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_string(acc).map_err(|e| self.corrupt(e.to_string()))?;
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![format!("acc:{meter}"), json],
        )
        .map_err(sql)?;
        for p in intervals {
            tx.execute(
                "INSERT OR REPLACE INTO pending VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    p.meter,
                    p.carrier,
                    p.unit,
                    p.decimals,
                    p.start,
                    p.interval_s,
                    p.value
                ],
            )
            .map_err(sql)?;
        }
        for (kind, message) in events {
            tx.execute(
                "INSERT INTO events (at, kind, message) VALUES (?1, ?2, ?3)",
                params![now, kind, message],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Journals an event.
    pub fn event(&self, now: i64, kind: &str, message: &str) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "INSERT INTO events (at, kind, message) VALUES (?1, ?2, ?3)",
                params![now, kind, message],
            )
            .map(drop)
            .map_err(self.sql())
    }

    /// The journal, oldest first: (time, kind, message).
    pub fn events(&self) -> Result<Vec<(i64, String, String)>, OutboxError> {
        let mut st = self
            .conn
            .prepare("SELECT at, kind, message FROM events ORDER BY id")
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// The intervals waiting for a record, by meter and start.
    pub fn pending(&self) -> Result<Vec<PendingInterval>, OutboxError> {
        read_pending(&self.conn).map_err(self.sql())
    }

    /// How many intervals wait for a record.
    pub fn pending_count(&self) -> Result<u64, OutboxError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM pending", [], |r| r.get(0))
            .map_err(self.sql())
    }

    /// Reserves the next sequence number for a body made of the pending intervals (at most
    /// [`tanji_readings::MAX_CHANNELS`] runs of them) and commits it unsigned; returns its
    /// seq, or `None` when nothing is pending. Call [`Outbox::sign_reserved`] next.
    pub fn seal(&mut self, device: &str) -> Result<Option<u64>, OutboxError> {
        let path = self.path.clone();
        let sql = |source| OutboxError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let unsigned: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE signature IS NULL",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        if unsigned > 0 {
            return Err(OutboxError::Corrupt {
                path,
                what: "a reserved record is unsigned: sign it before sealing the next".into(),
            });
        }
        let pending = read_pending(&tx).map_err(sql)?;
        if pending.is_empty() {
            return Ok(None);
        }
        let (channels, used) = channels(&pending);
        let seq = meta_u64(&tx, "next_seq").map_err(sql)?.unwrap_or(1);
        let prev = match meta_str(&tx, "prev").map_err(sql)? {
            Some(h) => parse_hash(&h).ok_or_else(|| OutboxError::Corrupt {
                path: path.clone(),
                what: format!("chain head {h:?} is not 64 hex characters"),
            })?,
            None => ZERO_HASH,
        };
        let body = UploadBody {
            device: device.into(),
            seq,
            prev,
            channels,
        };
        body.check_limits().map_err(|e| OutboxError::Corrupt {
            path: path.clone(),
            what: format!("record {seq} would break the format: {e}"),
        })?;
        let unsigned = SignedUpload {
            body,
            signature: [0; 64],
        }
        .to_bytes();
        tx.execute(
            "INSERT INTO outbox (seq, body, signature) VALUES (?1, ?2, NULL)",
            params![seq as i64, unsigned],
        )
        .map_err(sql)?;
        for p in &pending[..used] {
            tx.execute(
                "DELETE FROM pending WHERE meter = ?1 AND start = ?2",
                params![p.meter, p.start],
            )
            .map_err(sql)?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?1)",
            [(seq + 1).to_string()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Some(seq))
    }

    /// Signs every reserved record (lowest seq first) and commits each signature with the
    /// new chain head. Returns how many were signed.
    pub fn sign_reserved(&mut self, key: &SigningKey) -> Result<usize, OutboxError> {
        let rows: Vec<(i64, Vec<u8>)> = {
            let mut st = self
                .conn
                .prepare("SELECT seq, body FROM outbox WHERE signature IS NULL ORDER BY seq")
                .map_err(self.sql())?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.sql())?;
            rows.collect::<Result<_, _>>().map_err(self.sql())?
        };
        for (seq, bytes) in &rows {
            let unsigned = SignedUpload::from_bytes(bytes)
                .map_err(|e| self.corrupt(format!("reserved record {seq}: {e}")))?;
            let signed = unsigned
                .body
                .try_sign(key)
                .map_err(|source| OutboxError::Sign { seq: *seq, source })?;
            let path = self.path.clone();
            let sql = |source| OutboxError::Sqlite {
                path: path.clone(),
                source,
            };
            let tx = self.conn.transaction().map_err(sql)?;
            tx.execute(
                "UPDATE outbox SET body = ?1, signature = ?2 WHERE seq = ?3",
                params![signed.to_bytes(), signed.signature.to_vec(), seq],
            )
            .map_err(sql)?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('prev', ?1)",
                [hex::encode(signed.record_hash())],
            )
            .map_err(sql)?;
            tx.commit().map_err(sql)?;
        }
        Ok(rows.len())
    }

    /// Up to `limit` signed records not yet acknowledged, lowest seq first.
    pub fn unsent(&self, limit: usize) -> Result<Vec<SignedUpload>, OutboxError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT seq, body FROM outbox WHERE signature IS NOT NULL ORDER BY seq LIMIT ?1",
            )
            .map_err(self.sql())?;
        let rows: Vec<(i64, Vec<u8>)> = st
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.sql())?
            .collect::<Result<_, _>>()
            .map_err(self.sql())?;
        rows.into_iter()
            .map(|(seq, b)| {
                SignedUpload::from_bytes(&b).map_err(|e| self.corrupt(format!("record {seq}: {e}")))
            })
            .collect()
    }

    /// The sequence number the next record will get (1 + the records sealed so far).
    pub fn next_seq(&self) -> Result<u64, OutboxError> {
        Ok(meta_u64(&self.conn, "next_seq")
            .map_err(self.sql())?
            .unwrap_or(1))
    }

    /// The sequence numbers in the outbox (signed or reserved), ascending.
    pub fn seqs(&self) -> Result<Vec<u64>, OutboxError> {
        let mut st = self
            .conn
            .prepare("SELECT seq FROM outbox ORDER BY seq")
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| r.get::<_, i64>(0))
            .map_err(self.sql())?;
        rows.map(|r| r.map(|s| s as u64))
            .collect::<Result<_, _>>()
            .map_err(self.sql())
    }

    /// How many records the park refused for good.
    pub fn refused_count(&self) -> Result<u64, OutboxError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM refused", [], |r| r.get(0))
            .map_err(self.sql())
    }

    /// How many records wait for an acknowledgement (signed or reserved).
    pub fn backlog(&self) -> Result<u64, OutboxError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
            .map_err(self.sql())
    }

    /// Records `seq` as acknowledged at leaf `index` and forgets its bytes; `checkpoint` is
    /// the checked note that proved it, kept as the park's latest.
    pub fn acknowledge(&mut self, acked: Acked, checkpoint: &str) -> Result<(), OutboxError> {
        let path = self.path.clone();
        let sql = |source| OutboxError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute("DELETE FROM outbox WHERE seq = ?1", [acked.seq as i64])
            .map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO acked VALUES (?1, ?2, ?3)",
            params![
                acked.seq as i64,
                acked.index as i64,
                acked.leaf_hash.to_vec()
            ],
        )
        .map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', ?1)",
            [checkpoint],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Moves `seq` out of the outbox into `refused`, with the park's code and reason.
    pub fn refuse(
        &mut self,
        u: &SignedUpload,
        code: &str,
        reason: &str,
    ) -> Result<(), OutboxError> {
        let path = self.path.clone();
        let sql = |source| OutboxError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute("DELETE FROM outbox WHERE seq = ?1", [u.body.seq as i64])
            .map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO refused VALUES (?1, ?2, ?3, ?4)",
            params![u.body.seq as i64, u.to_bytes(), code, reason],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The acknowledged records, by seq.
    pub fn acked(&self) -> Result<Vec<Acked>, OutboxError> {
        let mut st = self
            .conn
            .prepare("SELECT seq, leaf_index, leaf_hash FROM acked ORDER BY seq")
            .map_err(self.sql())?;
        let rows: Vec<(i64, i64, Vec<u8>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.sql())?
            .collect::<Result<_, _>>()
            .map_err(self.sql())?;
        rows.into_iter()
            .map(|(seq, index, h)| {
                Ok(Acked {
                    seq: seq as u64,
                    index: index as u64,
                    leaf_hash: h
                        .try_into()
                        .map_err(|_| self.corrupt(format!("leaf hash of record {seq}")))?,
                })
            })
            .collect()
    }

    /// The park's last checked checkpoint note.
    pub fn checkpoint(&self) -> Result<Option<String>, OutboxError> {
        self.meta("checkpoint")
    }

    /// Keeps `note` as the park's last checked checkpoint.
    pub fn set_checkpoint(&self, note: &str) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', ?1)",
                [note],
            )
            .map(drop)
            .map_err(self.sql())
    }
}

fn read_pending(conn: &Connection) -> rusqlite::Result<Vec<PendingInterval>> {
    let mut st = conn.prepare(
        "SELECT meter, carrier, unit, decimals, start, interval_s, value FROM pending ORDER BY meter, start",
    )?;
    let rows = st.query_map([], |r| {
        Ok(PendingInterval {
            meter: r.get(0)?,
            carrier: r.get(1)?,
            unit: r.get(2)?,
            decimals: r.get(3)?,
            start: r.get(4)?,
            interval_s: r.get(5)?,
            value: r.get(6)?,
        })
    })?;
    rows.collect()
}

fn meta_str(tx: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

fn meta_u64(tx: &Connection, key: &str) -> rusqlite::Result<Option<u64>> {
    Ok(meta_str(tx, key)?.and_then(|s| s.parse().ok()))
}

fn parse_hash(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

/// Runs of contiguous intervals of one meter and length, as channels: at most
/// [`tanji_readings::MAX_CHANNELS`] channels of at most [`tanji_readings::MAX_VALUES`] values.
/// Returns the channels and how many of `pending` (sorted by meter, start) they hold.
fn channels(pending: &[PendingInterval]) -> (Vec<Channel>, usize) {
    let mut out: Vec<Channel> = Vec::new();
    let mut used = 0;
    for p in pending {
        let extends = out.last().is_some_and(|c| {
            c.meter == p.meter
                && c.interval_s == p.interval_s
                && c.decimals == p.decimals
                && c.end() == Some(p.start)
                && c.values.len() < tanji_readings::MAX_VALUES
        });
        if extends {
            if let Some(c) = out.last_mut() {
                c.values.push(p.value);
            }
        } else {
            if out.len() == tanji_readings::MAX_CHANNELS {
                break;
            }
            out.push(Channel {
                meter: p.meter.clone(),
                carrier: p.carrier.clone(),
                unit: p.unit.clone(),
                decimals: p.decimals,
                start: p.start,
                interval_s: p.interval_s,
                values: vec![p.value],
            });
        }
        used += 1;
    }
    (out, used)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Mode;

    fn p(meter: &str, start: i64, interval_s: u32, value: i64) -> PendingInterval {
        PendingInterval {
            meter: meter.into(),
            carrier: "electricity_import".into(),
            unit: "kWh".into(),
            decimals: 3,
            start,
            interval_s,
            value,
        }
    }

    #[test]
    fn runs_become_channels() {
        let (ch, used) = channels(&[
            p("a", 0, 900, 1),
            p("a", 900, 900, 2),
            p("a", 3600, 1800, 3),
            p("b", 0, 900, 4),
        ]);
        assert_eq!(used, 4);
        assert_eq!(ch.len(), 3);
        assert_eq!(ch[0].values, vec![1, 2]);
        assert_eq!((ch[1].start, ch[1].interval_s), (3600, 1800));
    }

    #[test]
    fn seq_is_reserved_before_signing_and_signed_after_a_cut() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[7; 32]));
        let acc = Accumulator::new(900, 60, None, Mode::Cumulative);
        {
            let mut ob = Outbox::open(dir.path()).unwrap();
            ob.record_read("a", &acc, &[p("a", 0, 900, 5)], &[], 0)
                .unwrap();
            assert_eq!(ob.seal("gw").unwrap(), Some(1));
            // Power cut here: reserved, not signed.
        }
        let mut ob = Outbox::open(dir.path()).unwrap();
        assert!(
            ob.unsent(10).unwrap().is_empty(),
            "unsigned records are not sent"
        );
        assert!(
            ob.seal("gw").is_err(),
            "the reserved record is signed first"
        );
        assert_eq!(ob.sign_reserved(&key).unwrap(), 1);
        let first = ob.unsent(10).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].body.seq, 1);
        assert_eq!(first[0].body.channels[0].values, vec![5]);
        assert_eq!(ob.seal("gw").unwrap(), None, "nothing pending");
        ob.record_read("a", &acc, &[p("a", 900, 900, 6)], &[], 0)
            .unwrap();
        assert_eq!(ob.seal("gw").unwrap(), Some(2));
        ob.sign_reserved(&key).unwrap();
        let both = ob.unsent(10).unwrap();
        assert_eq!(both[1].body.prev, both[0].record_hash());
        ob.acknowledge(
            Acked {
                seq: 1,
                index: 3,
                leaf_hash: [1; 32],
            },
            "cp",
        )
        .unwrap();
        assert_eq!(ob.backlog().unwrap(), 1);
        assert_eq!(ob.acked().unwrap()[0].index, 3);
        assert_eq!(ob.checkpoint().unwrap().as_deref(), Some("cp"));
    }
}
