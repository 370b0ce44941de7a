//! The log's entries up to a size, decoded: registrations, uploads and publication notes, with
//! every entry's leaf hash and the entries that did not decode.

use tanji_ledger::leaf_hash;
use tanji_readings::{DecodeError, LogEntry, SignedUpload, KIND_PUBLICATION, KIND_REGISTRATION};
use tanji_store::{Store, StoreError};

use super::registrations::{Registered, Registrations};
use super::PublicationLog;

/// A logged entry a reader could not use. The message does not repeat the index; the caller
/// names it (`entry 7: …`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EntryProblem {
    /// The entry's bytes do not decode as any kind of entry (or not as the kind it is
    /// indexed as).
    #[error("does not decode: {error}")]
    Undecodable {
        /// Its leaf index.
        index: u64,
        /// Why.
        error: DecodeError,
    },
    /// The store indexes the entry as one kind, its bytes decode as another.
    #[error("is marked as a {kind} but does not decode as one")]
    NotOfKind {
        /// Its leaf index.
        index: u64,
        /// The kind the store indexes it as: `registration`, `publication`, …
        kind: &'static str,
    },
    /// The entry's bytes do not hash to its leaf in the stored tree.
    #[error("its bytes do not hash to its leaf in the tree: the record was changed")]
    Changed {
        /// Its leaf index.
        index: u64,
    },
}

impl EntryProblem {
    /// The leaf index of the entry.
    pub fn index(&self) -> u64 {
        match self {
            EntryProblem::Undecodable { index, .. }
            | EntryProblem::NotOfKind { index, .. }
            | EntryProblem::Changed { index } => *index,
        }
    }
}

/// The log's entries `0..size`, decoded.
#[derive(Debug, Clone, Default)]
pub struct LogView {
    /// The registration directory.
    pub registrations: Registrations,
    /// Accepted uploads with their leaf index, in log order (none from [`LogView::read_headers`]).
    pub uploads: Vec<(u64, SignedUpload)>,
    /// Publication notes with their leaf index, in log order.
    pub publications: PublicationLog,
    /// Leaf hash of every entry.
    pub leaf_hashes: Vec<[u8; 32]>,
    /// Entries that did not decode or do not match their leaf, in log order.
    pub problems: Vec<EntryProblem>,
}

impl LogView {
    /// Reads every entry `0..size` from its stored bytes (not from the store's indexes, which
    /// an auditor need not trust), hashing each to its leaf.
    pub fn read<S: Store>(store: &S, size: u64) -> Result<LogView, StoreError> {
        let mut view = LogView {
            leaf_hashes: Vec::with_capacity(usize::try_from(size).unwrap_or(0)),
            ..LogView::default()
        };
        store.scan_entries(0, size, &mut |index, data| {
            view.leaf_hashes.push(leaf_hash(data));
            match LogEntry::from_bytes(data) {
                Ok(LogEntry::Registration(r)) => view.registrations.push(index, r),
                Ok(LogEntry::Upload(u)) => view.uploads.push((index, u)),
                Ok(LogEntry::Publication(n)) => view.publications.push(index, n),
                // A revoked device's meters keep their history: nothing to read here.
                Ok(LogEntry::Revocation(_)) => {}
                Err(error) => view
                    .problems
                    .push(EntryProblem::Undecodable { index, error }),
            }
            Ok(())
        })?;
        Ok(view)
    }

    /// Reads what a report needs besides the readings: the registrations and publications up to
    /// `size` (from their own entries, decoded, each checked against its leaf), and the leaf
    /// hash of every entry from the stored tree (the readings then come from the reporting
    /// index).
    pub fn read_headers<S: Store>(store: &S, size: u64) -> Result<LogView, StoreError> {
        let mut view = LogView {
            leaf_hashes: store.leaf_hashes(size)?,
            ..LogView::default()
        };
        let mut indices: Vec<u64> = store
            .entries_of_kind(KIND_REGISTRATION)?
            .into_iter()
            .chain(store.entries_of_kind(KIND_PUBLICATION)?)
            .filter(|&i| i < size)
            .collect();
        indices.sort_unstable();
        for index in indices {
            let data = store.entry(index)?;
            let leaf = usize::try_from(index)
                .ok()
                .and_then(|i| view.leaf_hashes.get(i));
            if leaf != Some(&leaf_hash(&data)) {
                view.problems.push(EntryProblem::Changed { index });
                continue;
            }
            // Hashed to its leaf above: the bytes are those logged, keys checked then.
            match LogEntry::from_logged_bytes(&data) {
                Ok(LogEntry::Registration(r)) => view.registrations.push(index, r),
                Ok(LogEntry::Publication(n)) => view.publications.push(index, n),
                Ok(LogEntry::Upload(_) | LogEntry::Revocation(_)) => {}
                Err(error) => view
                    .problems
                    .push(EntryProblem::Undecodable { index, error }),
            }
        }
        Ok(view)
    }

    /// The registration in force for a meter (the latest logged).
    pub fn meter(&self, meter: &str) -> Option<&Registered> {
        self.registrations.in_force(meter)
    }
}
