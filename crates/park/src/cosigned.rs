//! Witness cosignatures of the park's checkpoints (c2sp.org/tlog-cosignature), kept in the
//! store next to the checkpoint they sign, and the check a client makes before trusting a
//! checkpoint: K of N given witnesses cosigned it.

use tanji_ledger::{open_checkpoint, CosignatureVerifier, Note, NoteVerifier};
use tanji_store::Store;

use crate::{Park, ParkError};

/// The store's name for a witness key: `name+hex key ID`.
pub fn witness_id(key: &CosignatureVerifier) -> String {
    format!("{}+{:08x}", key.name(), key.key_id())
}

/// The signed checkpoint of `size` kept in `store`.
pub fn checkpoint_at<S: Store>(store: &S, size: u64) -> Result<String, ParkError> {
    if let Some(latest) = store.latest_checkpoint()? {
        if note_size(&latest) == Some(size) {
            return Ok(latest);
        }
    }
    store
        .checkpoints()?
        .into_iter()
        .find(|(s, _)| *s == size)
        .map(|(_, note)| note)
        .ok_or_else(|| ParkError::Tree(format!("the log has no checkpoint of size {size}")))
}

fn note_size(note: &str) -> Option<u64> {
    note.split('\n').nth(1)?.parse().ok()
}

/// The tree size of the latest checkpoint in `store` (0 when the log has none): the durable
/// state of the log, which every tile and proof is served for. The signature is not checked
/// (the store is the park's own).
pub fn latest_size<S: Store>(store: &S) -> Result<u64, ParkError> {
    match store.latest_checkpoint()? {
        None => Ok(0),
        Some(note) => note_size(&note).ok_or_else(|| {
            ParkError::Inconsistent(format!(
                "the latest checkpoint has no tree size on its second line: {note:?}"
            ))
        }),
    }
}

/// A checkpoint note with cosignature lines appended to its signatures.
pub fn with_cosignatures(note: &str, lines: &[String]) -> String {
    let mut out = note.to_string();
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What the cosignatures on a checkpoint say, witness by witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessCheck {
    /// The checkpoint's tree size.
    pub size: u64,
    /// The checkpoint note with its kept cosignatures.
    pub note: String,
    /// For each given witness, in order: the timestamp of its valid cosignature, or why there is
    /// none.
    pub witnesses: Vec<Result<u64, String>>,
}

impl WitnessCheck {
    /// How many of the given witnesses cosigned.
    pub fn cosigned(&self) -> usize {
        self.witnesses.iter().filter(|w| w.is_ok()).count()
    }
}

/// Checks the latest checkpoint in `store` (the tree the store holds now): the log's signature
/// with `log_key`, and each of `witnesses`' cosignatures over it.
pub fn check_witnesses<S: Store>(
    store: &S,
    log_key: &NoteVerifier,
    witnesses: &[CosignatureVerifier],
) -> Result<WitnessCheck, ParkError> {
    let latest = store
        .latest_checkpoint()?
        .ok_or_else(|| ParkError::Inconsistent("the log has no checkpoint".into()))?;
    let cp = open_checkpoint(&latest, log_key).map_err(|e| {
        ParkError::Witness(format!(
            "the latest checkpoint does not verify with the log key {log_key}: {e}"
        ))
    })?;
    let size = store.size()?;
    if cp.size != size {
        return Err(ParkError::Inconsistent(format!(
            "the latest checkpoint has size {}, the log holds {size} entries",
            cp.size
        )));
    }
    let lines = store.cosignatures(cp.size)?;
    let note = with_cosignatures(&latest, &lines);
    let parsed = Note::parse(&note)
        .map_err(|e| ParkError::Witness(format!("the kept cosignatures do not parse: {e}")))?;
    let text = parsed.text();
    let results = witnesses
        .iter()
        .map(|w| {
            let mut best: Result<u64, String> = Err(format!(
                "no cosignature by {} on the checkpoint of size {}",
                witness_id(w),
                cp.size
            ));
            for sig in parsed.signatures().iter().filter(|s| w.matches(s)) {
                match w.verify(text, sig) {
                    Ok(ts) if best.as_ref().map_or(true, |b| *b < ts) => best = Ok(ts),
                    Ok(_) => {}
                    Err(e) if best.is_err() => best = Err(e.to_string()),
                    Err(_) => {}
                }
            }
            best
        })
        .collect();
    Ok(WitnessCheck {
        size: cp.size,
        note,
        witnesses: results,
    })
}

impl<S: Store> Park<S> {
    /// Keeps witness cosignature lines (`— name base64…`, without newline) for the checkpoint
    /// of `size`, each checked first against the witness keys given; a line by none of them,
    /// or one that does not verify, refuses the whole call. Returns how many were kept.
    pub fn add_cosignatures(
        &mut self,
        size: u64,
        lines: &[String],
        witnesses: &[CosignatureVerifier],
    ) -> Result<usize, ParkError> {
        self.writable()?;
        let note = checkpoint_at(&self.store, size)?;
        let text = Note::parse(&note)
            .map_err(|e| ParkError::Inconsistent(format!("checkpoint {size}: {e}")))?
            .text()
            .to_string();
        let mut rows = Vec::with_capacity(lines.len());
        for line in lines {
            let sig = Note::parse(&format!("{text}\n{line}\n"))
                .ok()
                .and_then(|n| n.signatures().first().cloned())
                .ok_or_else(|| ParkError::Witness(format!("{line:?} is not one signature line")))?;
            let w = witnesses.iter().find(|w| w.matches(&sig)).ok_or_else(|| {
                ParkError::Witness(format!(
                    "cosignature by {}+{:08x} is not by a configured witness",
                    sig.name(),
                    sig.key_id()
                ))
            })?;
            w.verify(&text, &sig).map_err(|e| {
                ParkError::Witness(format!("cosignature on checkpoint {size}: {e}"))
            })?;
            rows.push((witness_id(w), sig.to_string()));
        }
        // The seal after these rows: a witness's older line for the checkpoint folded out.
        let mut seal = self.seal.clone();
        let mut kept: Vec<(String, String)> = self
            .store
            .cosignatures(size)?
            .into_iter()
            .map(|line| (crate::seal::witness_of_line(&line), line))
            .collect();
        for (witness, line) in &rows {
            if let Some(at) = kept.iter().position(|(w, _)| w == witness) {
                let (w, old) = kept.remove(at);
                seal.toggle_cosignature(size, &w, &old, false);
            }
            seal.toggle_cosignature(size, witness, line, true);
            kept.push((witness.clone(), line.clone()));
        }
        seal.binds_cosignatures = true;
        let note = seal.sign(&self.signer).map_err(ParkError::Tree)?;
        self.store.add_cosignatures(size, &rows, &note)?;
        self.seal = seal;
        Ok(rows.len())
    }

    /// The cosignature lines kept for the checkpoint of `size`.
    pub fn cosignatures(&self, size: u64) -> Result<Vec<String>, ParkError> {
        Ok(self.store.cosignatures(size)?)
    }

    /// The latest checkpoint with every cosignature kept for it (none yet, right after a
    /// batch, until the witnesses answer).
    pub fn cosigned_checkpoint(&self) -> Result<String, ParkError> {
        let note = self.checkpoint()?;
        let lines = self.store.cosignatures(self.size())?;
        Ok(with_cosignatures(&note, &lines))
    }

    /// The largest checkpoint size `witness` has cosigned, by the cosignatures kept (0 if
    /// none): where the next submission's consistency proof starts.
    pub fn witnessed_size(&self, witness: &CosignatureVerifier) -> Result<u64, ParkError> {
        Ok(self
            .store
            .latest_cosigned(Some(&witness_id(witness)))?
            .unwrap_or(0))
    }
}
