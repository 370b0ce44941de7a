//! The park's seal: a note signed with the log key over the tables the store keeps beside the
//! log, so that whoever edits the database without that key cannot change them unnoticed.
//!
//! The log itself is bound by its signed checkpoints. The reporting index (`channels`) and the
//! data issues are derived from logged entries (the audit re-derives and compares them); the
//! seal also carries a running digest of each, so that opening a park can check them cheaply
//! before serving a report. The quarantine holds input that was refused, which no log entry
//! says: the seal is what binds it — a SHA-256 chain over the kept rows in the order they were
//! written, the number of records ever refused, and a digest of the summaries of rows no
//! longer kept one by one. Witness cosignatures verify on their own (each is a signature over
//! its checkpoint), but a deleted one would go unnoticed; the seal carries their number and a
//! set digest, rewritten in the same transaction as every cosignature kept.
//!
//! The seal is a C2SP signed note (the checkpoints' format and key), whose first line
//! `tanji-seal/v1` and second line `origin …` can never be read as a checkpoint (a checkpoint's
//! second line is its size), so a witness never cosigns it and it never replaces one:
//!
//! ```text
//! tanji-seal/v1
//! origin <log origin>
//! park <park name>
//! channels <rows> <base64 chain head>
//! issues <rows> <base64 chain head>
//! quarantine <kept rows> <base64 chain head>
//! refused <records refused, kept or summarised>
//! summaries <rows> <base64 SHA-256 of the summaries>
//! cosignatures <rows> <base64 set digest>
//! ```
//!
//! The cosignature digest is the XOR of `SHA-256("tanji-seal/v1 cosignatures" ‖ 0x00 ‖ row
//! encoding)` over the kept (checkpoint size, witness, line) rows, so that a witness's newer
//! line for a checkpoint can replace its older one without reading them all. A seal written
//! before the `cosignatures` line existed binds none (the next one written does).
//!
//! Chain heads start at 32 zero bytes; each row moves the head to
//! `SHA-256("tanji-seal/v1 " ‖ table ‖ 0x00 ‖ head ‖ row encoding)`, where a row's encoding is
//! its fields in order, each as an 8-byte big-endian length followed by the bytes (integers as
//! their 8-byte big-endian two's complement, absent values as length `u64::MAX`).

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tanji_ledger::{sign_note, Hash, Note, NoteSigner, NoteVerifier};
use tanji_store::{ChannelRow, QuarantineSummary, Quarantined, Store, StoreError, StoredIssue};

const FIRST_LINE: &str = "tanji-seal/v1";

/// A running digest of one table: rows folded and the chain head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chain {
    /// Rows folded in.
    pub rows: u64,
    /// The chain head (32 zero bytes when empty).
    pub head: Hash,
}

impl Chain {
    fn push(&mut self, table: &str, row: &[u8]) {
        let mut h = Sha256::new();
        h.update(FIRST_LINE.as_bytes());
        h.update(b" ");
        h.update(table.as_bytes());
        h.update([0]);
        h.update(self.head);
        h.update(row);
        self.head = h.finalize().into();
        self.rows += 1;
    }

    /// Folds a reporting index row.
    pub fn push_channel(&mut self, r: &ChannelRow) {
        let mut e = Enc::default();
        e.int(r.index as i64)
            .text(&r.device)
            .int(r.seq as i64)
            .text(&r.meter)
            .int(r.start)
            .int(i64::from(r.interval_s))
            .text(&r.unit)
            .int(i64::from(r.decimals));
        for v in &r.values {
            e.int(*v);
        }
        self.push("channels", &e.0);
    }

    /// Folds a data issue.
    pub fn push_issue(&mut self, i: &StoredIssue) {
        let mut e = Enc::default();
        e.int(i.index as i64).text(&i.code).text(&i.message);
        self.push("issues", &e.0);
    }

    /// Folds a kept quarantine row, as the store holds it.
    pub fn push_quarantined(&mut self, q: &Quarantined) {
        self.push("quarantine", &quarantine_row(q));
    }
}

fn quarantine_row(q: &Quarantined) -> Vec<u8> {
    let mut e = Enc::default();
    e.int(q.received_at)
        .text(&q.source)
        .text(&q.code)
        .text(&q.message)
        .opt(q.device.as_deref().map(str::as_bytes))
        .opt_int(q.seq.map(|s| s as i64))
        .bytes(&q.raw)
        .int(q.raw_len as i64);
    e.0
}

/// The digest of the quarantine's summaries, in (source, code) order.
pub fn summaries_digest(summaries: &[QuarantineSummary]) -> Hash {
    let mut sorted: Vec<&QuarantineSummary> = summaries.iter().collect();
    sorted.sort_by(|a, b| (&a.source, &a.code).cmp(&(&b.source, &b.code)));
    let mut h = Sha256::new();
    h.update(b"tanji-seal/v1 summaries\0");
    for s in sorted {
        let mut e = Enc::default();
        e.text(&s.source)
            .text(&s.code)
            .int(s.count as i64)
            .int(s.bytes as i64)
            .int(s.first_at)
            .int(s.last_at);
        h.update(e.0);
    }
    h.finalize().into()
}

#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(&(b.len() as u64).to_be_bytes());
        self.0.extend_from_slice(b);
        self
    }
    fn text(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    fn int(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }
    fn opt(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => self.bytes(b),
            None => {
                self.0.extend_from_slice(&u64::MAX.to_be_bytes());
                self
            }
        }
    }
    fn opt_int(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            Some(v) => self.int(v),
            None => self.opt(None),
        }
    }
}

/// What the seal says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seal {
    /// The log's origin.
    pub origin: String,
    /// The park's name.
    pub park: String,
    /// The reporting index.
    pub channels: Chain,
    /// The data issues.
    pub issues: Chain,
    /// The kept quarantine rows.
    pub quarantine: Chain,
    /// Records ever refused: kept rows plus the summaries' counts.
    pub refused: u64,
    /// Summary rows.
    pub summaries: u64,
    /// Digest of the summaries (`summaries_digest`).
    pub summaries_digest: Hash,
    /// Kept cosignature rows.
    pub cosignatures: u64,
    /// Their set digest (each row's `cosignature_hash`, XORed).
    pub cosignatures_digest: Hash,
    /// Whether the seal binds cosignatures (seals written before they did: not).
    pub binds_cosignatures: bool,
}

/// One kept cosignature row's hash in the seal's set digest.
pub fn cosignature_hash(size: u64, witness: &str, line: &str) -> Hash {
    let mut row = Enc::default();
    row.int(i64::try_from(size).unwrap_or(i64::MAX))
        .text(witness)
        .text(line);
    let mut h = Sha256::new();
    h.update(FIRST_LINE.as_bytes());
    h.update(b" cosignatures");
    h.update([0]);
    h.update(&row.0);
    h.finalize().into()
}

/// The witness (`name+hex key ID`, as the park names it) of a kept cosignature line; empty
/// if the line is not one signature line.
pub fn witness_of_line(line: &str) -> String {
    Note::parse(&format!("seal\n\n{line}\n"))
        .ok()
        .and_then(|n| {
            n.signatures()
                .first()
                .map(|s| format!("{}+{:08x}", s.name(), s.key_id()))
        })
        .unwrap_or_default()
}

impl Seal {
    /// Folds a kept cosignature row in (or, folded in already, out: XOR).
    pub fn toggle_cosignature(&mut self, size: u64, witness: &str, line: &str, add: bool) {
        let h = cosignature_hash(size, witness, line);
        for (d, b) in self.cosignatures_digest.iter_mut().zip(h) {
            *d ^= b;
        }
        if add {
            self.cosignatures += 1;
        } else {
            self.cosignatures = self.cosignatures.saturating_sub(1);
        }
    }
}

fn b64(h: &Hash) -> String {
    base64::engine::general_purpose::STANDARD.encode(h)
}

impl Seal {
    /// The seal of a park whose sealed tables are empty.
    pub fn empty(origin: &str, park: &str) -> Seal {
        Seal {
            origin: origin.to_string(),
            park: park.to_string(),
            summaries_digest: summaries_digest(&[]),
            binds_cosignatures: true,
            ..Seal::default()
        }
    }

    /// The note body.
    pub fn body(&self) -> String {
        format!(
            "{FIRST_LINE}\norigin {}\npark {}\nchannels {} {}\nissues {} {}\nquarantine {} {}\nrefused {}\nsummaries {} {}\ncosignatures {} {}\n",
            self.origin,
            self.park,
            self.channels.rows,
            b64(&self.channels.head),
            self.issues.rows,
            b64(&self.issues.head),
            self.quarantine.rows,
            b64(&self.quarantine.head),
            self.refused,
            self.summaries,
            b64(&self.summaries_digest),
            self.cosignatures,
            b64(&self.cosignatures_digest)
        )
    }

    /// The signed note.
    pub fn sign(&self, signer: &NoteSigner) -> Result<String, String> {
        sign_note(&self.body(), &[signer]).map_err(|e| format!("signing the seal: {e}"))
    }

    /// Reads a signed seal, checking its signature with `verifier`.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Seal, String> {
        let note =
            Note::parse(note).map_err(|e| format!("does not parse as a signed note: {e}"))?;
        note.verify(std::slice::from_ref(verifier))
            .map_err(|e| format!("does not verify with the log key {verifier}: {e}"))?;
        Self::parse(note.text())
    }

    fn parse(text: &str) -> Result<Seal, String> {
        let lines: Vec<&str> = text.lines().collect();
        let field = |i: usize, name: &str| -> Result<Vec<&str>, String> {
            let line = lines.get(i).ok_or_else(|| format!("has no {name} line"))?;
            let rest = line
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(' '))
                .ok_or_else(|| format!("line {} is {line:?}, expected {name} …", i + 1))?;
            Ok(rest.split(' ').collect())
        };
        let num = |s: &str| -> Result<u64, String> {
            s.parse::<u64>()
                .map_err(|_| format!("{s:?} is not a count"))
        };
        let hash = |s: &str| -> Result<Hash, String> {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("{s:?} is not a base64 SHA-256"))
        };
        let chain = |i: usize, name: &str| -> Result<Chain, String> {
            match field(i, name)?.as_slice() {
                [n, h] => Ok(Chain {
                    rows: num(n)?,
                    head: hash(h)?,
                }),
                _ => Err(format!("the {name} line needs a count and a hash")),
            }
        };
        if lines.first() != Some(&FIRST_LINE) {
            return Err(format!("does not start with {FIRST_LINE:?}"));
        }
        let summaries = chain(7, "summaries")?;
        let cosignatures = match lines.get(8) {
            Some(_) => Some(chain(8, "cosignatures")?),
            None => None,
        };
        Ok(Seal {
            origin: field(1, "origin")?.join(" "),
            park: field(2, "park")?.join(" "),
            channels: chain(3, "channels")?,
            issues: chain(4, "issues")?,
            quarantine: chain(5, "quarantine")?,
            refused: num(field(6, "refused")?.first().copied().unwrap_or(""))?,
            summaries: summaries.rows,
            summaries_digest: summaries.head,
            cosignatures: cosignatures.map_or(0, |c| c.rows),
            cosignatures_digest: cosignatures.map(|c| c.head).unwrap_or_default(),
            binds_cosignatures: cosignatures.is_some(),
        })
    }

    /// The seal of what `store` holds now, recomputed by reading every sealed table; also
    /// returns the bytes the kept quarantine rows take (`row_bytes`).
    pub fn of_store<S: Store>(
        store: &S,
        origin: &str,
        park: &str,
    ) -> Result<(Seal, u64), StoreError> {
        let mut seal = Seal::empty(origin, park);
        store.scan_channels(&mut |r| {
            seal.channels.push_channel(&r);
            Ok(())
        })?;
        for i in store.issues()? {
            seal.issues.push_issue(&i);
        }
        let mut bytes = 0;
        store.scan_quarantine(&mut |r| {
            seal.quarantine.push_quarantined(&r.item);
            bytes += row_bytes(&r.item);
            Ok(())
        })?;
        let summaries = store.quarantine_summaries()?;
        seal.summaries = summaries.len() as u64;
        seal.summaries_digest = summaries_digest(&summaries);
        seal.refused = seal.quarantine.rows + summaries.iter().map(|s| s.count).sum::<u64>();
        for (size, _) in store.checkpoints()? {
            for line in store.cosignatures(size)? {
                seal.toggle_cosignature(size, &witness_of_line(&line), &line, true);
            }
        }
        Ok((seal, bytes))
    }

    /// Each way `self` (what the store holds) differs from `sealed` (what the park signed), as
    /// (table, problem).
    pub fn differences(&self, sealed: &Seal) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let chain = |out: &mut Vec<_>,
                     table: &'static str,
                     what: &str,
                     now: &Chain,
                     was: &Chain| {
            if now != was {
                out.push((
                    table,
                    format!(
                        "{} {what} hash to {}, the park's signed seal says {} {what} hashing to {}: rows were added, removed or changed outside tanji",
                        now.rows,
                        b64(&now.head),
                        was.rows,
                        b64(&was.head)
                    ),
                ));
            }
        };
        chain(
            &mut out,
            "channels",
            "rows",
            &self.channels,
            &sealed.channels,
        );
        chain(&mut out, "issues", "rows", &self.issues, &sealed.issues);
        chain(
            &mut out,
            "quarantine",
            "kept rows",
            &self.quarantine,
            &sealed.quarantine,
        );
        if self.summaries != sealed.summaries || self.summaries_digest != sealed.summaries_digest {
            out.push((
                "quarantine_summary",
                format!(
                    "{} summary rows hash to {}, the park's signed seal says {} hashing to {}",
                    self.summaries,
                    b64(&self.summaries_digest),
                    sealed.summaries,
                    b64(&sealed.summaries_digest)
                ),
            ));
        }
        if sealed.binds_cosignatures
            && (self.cosignatures != sealed.cosignatures
                || self.cosignatures_digest != sealed.cosignatures_digest)
        {
            out.push((
                "cosignatures",
                format!(
                    "{} cosignature rows hash to {}, the park's signed seal says {} hashing to {}: rows were added, removed or changed outside tanji",
                    self.cosignatures,
                    b64(&self.cosignatures_digest),
                    sealed.cosignatures,
                    b64(&sealed.cosignatures_digest)
                ),
            ));
        }
        if self.refused != sealed.refused {
            out.push((
                "quarantine",
                format!(
                    "kept rows and summaries count {} refused records, the park's signed seal says {}",
                    self.refused, sealed.refused
                ),
            ));
        }
        if self.park != sealed.park {
            out.push((
                "meta",
                format!(
                    "the park's name is {:?}, its signed seal says {:?}",
                    self.park, sealed.park
                ),
            ));
        }
        if self.origin != sealed.origin {
            out.push((
                "meta",
                format!(
                    "the origin is {:?}, the park's signed seal says {:?}",
                    self.origin, sealed.origin
                ),
            ));
        }
        out
    }
}

/// What a kept quarantine row counts against the quarantine's byte bound: its raw bytes, its
/// message and source, and 64 bytes for the rest of the row.
pub fn row_bytes(q: &Quarantined) -> u64 {
    (q.raw.len() + q.message.len() + q.source.len() + 64) as u64
}
