//! The full audit behind `tanji verify`: everything is recomputed from the stored entry bytes
//! and compared with what the store claims — every leaf, every device signature and chain link
//! (by replaying the same validation as at ingest), every stored tree node, every checkpoint's
//! signature and root, and the upload index.

use std::collections::HashMap;
use std::path::Path;

use tanji_ledger::{leaf_hash, open_checkpoint, Hash, MemoryTree, NodeSource, NoteVerifier};
use tanji_readings::{validate, LogEntry, Policy, Verdict};
use tanji_store::{SqliteStore, Store, StoreError, StoredUpload, UploadRow};

use crate::publication::PublicationKind;
use crate::state::{spans_of, Accepted, State};
use crate::{Park, ParkError};

/// Options of an audit.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// The log key the auditor trusts. `None` = the key the park itself names (a weaker check:
    /// whoever can rewrite the store could also replace that key).
    pub trusted_key: Option<NoteVerifier>,
}

/// One problem found, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFinding {
    /// What it concerns: "entry 17 (upload d-0003#5)", "tree node (3, 2)", "checkpoint at size 40".
    pub subject: String,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for AuditFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.subject, self.problem)
    }
}

/// What the audit saw.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    /// Entries in the log.
    pub size: u64,
    /// Root recomputed from the entries.
    pub root: Hash,
    /// Upload entries.
    pub uploads: u64,
    /// Registration entries.
    pub registrations: u64,
    /// Publication entries of every kind (signature and content checked).
    pub publications: u64,
    /// Of those, factor series that check.
    pub factor_publications: u64,
    /// Of those, enterprise inputs documents that check.
    pub inputs_publications: u64,
    /// Interval values in the uploads.
    pub readings: u64,
    /// Devices registered.
    pub devices: usize,
    /// Stored tree nodes compared.
    pub nodes: u64,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints: u64,
    /// Whether the key checked against was supplied by the auditor.
    pub trusted_key: bool,
    /// Problems, most specific first; empty = the log is intact.
    pub findings: Vec<AuditFinding>,
}

impl AuditReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

fn nodes_in_tree(size: u64) -> u64 {
    let mut n = 0;
    let mut s = size;
    while s > 0 {
        n += s;
        s >>= 1;
    }
    n
}

impl Park<SqliteStore> {
    /// Audits the park in `dir` from its stored bytes alone, without opening it as a [`Park`]:
    /// it needs no log signing key and rebuilds no state, so it can name damage (a corrupt
    /// registration, a missing tree node) that would stop [`Park::open`].
    pub fn audit_dir(
        dir: &Path,
        opts: &AuditOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AuditReport, ParkError> {
        let store = Park::open_store(dir)?;
        let origin = store
            .meta("origin")?
            .ok_or_else(|| ParkError::Directory("the store names no origin".into()))?;
        Self::audit_store(&store, &origin, opts, progress)
    }
}

impl<S: Store> Park<S> {
    /// Audits the whole log. `progress(done, total)` is called as entries are checked.
    pub fn audit(
        &self,
        opts: &AuditOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AuditReport, ParkError> {
        Self::audit_store(&self.store, &self.origin, opts, progress)
    }

    /// The audit of `store`, a log with origin `origin`.
    fn audit_store(
        store: &S,
        origin: &str,
        opts: &AuditOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AuditReport, ParkError> {
        let verifier = match &opts.trusted_key {
            Some(k) => k.clone(),
            None => {
                let text = store
                    .meta("vkey")?
                    .ok_or_else(|| ParkError::Directory("the store names no log key".into()))?;
                text.parse::<NoteVerifier>().map_err(|e| {
                    ParkError::Directory(format!("the stored log key {text:?}: {e}"))
                })?
            }
        };
        let size = store.size()?;
        let mut report = AuditReport {
            size,
            trusted_key: opts.trusted_key.is_some(),
            ..AuditReport::default()
        };
        let mut tree = MemoryTree::new();
        let mut state = State::default();
        // Replay with no clock: a logged record was judged against the clock when it came in.
        let policy = Policy {
            now: i64::MAX / 4,
            clock_skew_s: 0,
        };
        let mut derived: Vec<StoredUpload> = Vec::new();
        let mut seen: HashMap<(String, u64), u64> = HashMap::new();
        let step = (size / 200).max(1);
        store
            .scan_entries(0, size, &mut |index, data| {
                tree.push(leaf_hash(data));
                let finding = |what: String, problem: String| AuditFinding {
                    subject: format!("entry {index}{what}"),
                    problem,
                };
                match LogEntry::from_bytes(data) {
                    Err(e) => report
                        .findings
                        .push(finding(String::new(), format!("does not decode: {e}"))),
                    Ok(LogEntry::Registration(reg)) => {
                        report.registrations += 1;
                        let what =
                            format!(" (registration of {} / meter {})", reg.device, reg.meter);
                        match state.check_registration(&reg) {
                            Ok((key, info)) => state.add_registration(&reg, key, info),
                            Err(e) => report.findings.push(finding(what, e.to_string())),
                        }
                    }
                    Ok(LogEntry::Publication(note)) => {
                        report.publications += 1;
                        match crate::publication::open_publication(store, index, &note, &verifier) {
                            Ok((p, _)) => match p.kind {
                                PublicationKind::Factors => report.factor_publications += 1,
                                PublicationKind::Inputs => report.inputs_publications += 1,
                            },
                            Err(e) => {
                                let what = crate::publication::read_manifest(index, &note)
                                    .map_or(" (publication)".to_string(), |(_, m)| {
                                        format!(" ({})", m.kind.noun())
                                    });
                                report.findings.push(finding(what, e.to_string()));
                            }
                        }
                    }
                    Ok(LogEntry::Upload(u)) => {
                        report.uploads += 1;
                        report.readings += u.reading_count() as u64;
                        let what = format!(" (upload {}#{})", u.body.device, u.body.seq);
                        match validate(&u, &state, &policy) {
                            Ok(Verdict::Accept { .. }) => {
                                let row = UploadRow {
                                    device: u.body.device.clone(),
                                    seq: u.body.seq,
                                    record_hash: u.record_hash(),
                                    prev: u.body.prev,
                                    spans: spans_of(&u),
                                };
                                state.add_upload(
                                    &row.device,
                                    row.seq,
                                    Accepted {
                                        record_hash: row.record_hash,
                                        prev: row.prev,
                                        index,
                                    },
                                    &row.spans,
                                );
                                seen.insert((row.device.clone(), row.seq), index);
                                derived.push(StoredUpload { row, index });
                            }
                            Ok(Verdict::Duplicate) => {
                                let first = seen
                                    .get(&(u.body.device.clone(), u.body.seq))
                                    .copied()
                                    .unwrap_or(index);
                                report.findings.push(finding(
                                    what,
                                    format!("repeats the upload already logged as entry {first}"),
                                ))
                            }
                            Err(rej) => report
                                .findings
                                .push(finding(what, format!("{}: {}", rej.code, rej.message))),
                        }
                    }
                }
                if index % step == 0 {
                    progress(index, size);
                }
                Ok(())
            })
            .or_else(|e| match e {
                StoreError::Corrupt(m) => {
                    // The scan stops at the first entry it cannot read.
                    report.findings.push(AuditFinding {
                        subject: format!("entry {}", tree.size()),
                        problem: format!("is missing or unreadable: {m}"),
                    });
                    Ok(())
                }
                other => Err(other),
            })?;
        progress(size, size);
        report.root = tree.root();
        report.devices = state.devices.len();

        // The checkpoints: signed by the log key, for this origin, over the roots of the entries.
        let checkpoints = store.checkpoints()?;
        let mut latest = 0;
        let mut roots_authentic = true;
        let mut missing_reported = false;
        for (cp_size, note) in &checkpoints {
            report.checkpoints += 1;
            latest = latest.max(*cp_size);
            let subject = format!("checkpoint at size {cp_size}");
            match open_checkpoint(note, &verifier) {
                Err(e) => report.findings.push(AuditFinding {
                    subject,
                    problem: format!("does not verify with the log key {verifier}: {e}"),
                }),
                Ok(cp) => {
                    if cp.size != *cp_size {
                        report.findings.push(AuditFinding {
                            subject: subject.clone(),
                            problem: format!("is stored under size {cp_size} but says {}", cp.size),
                        });
                    }
                    if cp.origin != origin {
                        report.findings.push(AuditFinding {
                            subject: subject.clone(),
                            problem: format!(
                                "names origin {:?}, the park is {:?}",
                                cp.origin, origin
                            ),
                        });
                    }
                    if cp.size > tree.size() {
                        report.findings.push(AuditFinding {
                            subject,
                            problem: format!(
                                "covers {} entries, the log holds {} readable ones",
                                cp.size,
                                tree.size()
                            ),
                        });
                        if tree.size() == size && !missing_reported {
                            // The store ends early: its last entries were removed.
                            missing_reported = true;
                            report.findings.push(AuditFinding {
                                subject: format!("entry {size}"),
                                problem: format!(
                                    "is missing: the signed checkpoint at size {} covers it, the store ends before it",
                                    cp.size
                                ),
                            });
                        }
                        roots_authentic = false;
                    } else {
                        let recomputed = tanji_ledger::root(&tree, cp.size)
                            .map_err(|e| ParkError::Tree(e.to_string()))?;
                        if recomputed != cp.root {
                            roots_authentic = false;
                            report.findings.push(AuditFinding {
                                subject,
                                problem: "its signed root differs from the root of the stored entries: entries were changed after they were logged".into(),
                            });
                        }
                    }
                }
            }
        }
        if latest != size {
            report.findings.push(AuditFinding {
                subject: format!("entries {latest}..{size}"),
                problem: "are not covered by any signed checkpoint".into(),
            });
        }

        // Every stored node must equal the one recomputed from the entries.
        let mut node_findings = Vec::new();
        let mut leaf_findings = Vec::new();
        // Nodes come in (level, index) order; `next` walks the nodes a log of `size` entries
        // must have, so a gap names the missing node.
        let mut next: Option<(u8, u64)> = (size > 0).then_some((0, 0));
        let advance = |(l, i): (u8, u64)| -> Option<(u8, u64)> {
            if i + 1 < size >> l {
                Some((l, i + 1))
            } else if l < 63 && size >> (l + 1) > 0 {
                Some((l + 1, 0))
            } else {
                None
            }
        };
        let mut missing = Vec::new();
        store.scan_nodes(&mut |level, index, hash| {
            report.nodes += 1;
            while let Some(want) = next {
                if want >= (level, index) {
                    break;
                }
                missing.push(want);
                next = advance(want);
            }
            if next == Some((level, index)) {
                next = advance((level, index));
            }
            let subject = format!("tree node ({level}, {index})");
            match tree.node(level, index) {
                Err(_) => node_findings.push(AuditFinding {
                    subject,
                    problem: format!("is stored but a log of {size} entries has no such node"),
                }),
                Ok(h) if h[..] != *hash => {
                    if level == 0 && !roots_authentic {
                        leaf_findings.push(AuditFinding {
                            subject: format!("entry {index}"),
                            problem: "its bytes no longer hash to the leaf hash logged for it (tree node (0, {index})): the record was changed after it was logged".replace("{index}", &index.to_string()),
                        });
                    } else {
                        node_findings.push(AuditFinding {
                            subject,
                            problem: "differs from the hash recomputed from the entries: the stored tree was altered".into(),
                        });
                    }
                }
                Ok(_) => {}
            }
            Ok(())
        })?;
        while let Some(want) = next {
            missing.push(want);
            next = advance(want);
        }
        for (level, index) in missing.iter().take(20) {
            node_findings.push(AuditFinding {
                subject: format!("tree node ({level}, {index})"),
                problem: format!(
                    "is missing: a log of {size} entries has {} nodes",
                    nodes_in_tree(size)
                ),
            });
        }
        if missing.len() > 20 {
            node_findings.push(AuditFinding {
                subject: "tree nodes".into(),
                problem: format!("{} more are missing", missing.len() - 20),
            });
        }

        // The upload index must be exactly what the entries say.
        let stored = store.uploads()?;
        if stored != derived {
            let first = stored
                .iter()
                .zip(&derived)
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "row for {}#{} (entry {}) differs from entry {} ({}#{})",
                        a.row.device, a.row.seq, a.index, b.index, b.row.device, b.row.seq
                    )
                })
                .unwrap_or_else(|| {
                    format!(
                        "{} rows stored, {} uploads logged",
                        stored.len(),
                        derived.len()
                    )
                });
            node_findings.push(AuditFinding {
                subject: "upload index".into(),
                problem: first,
            });
        }

        // Most specific first: entry findings (in log order), then nodes, then the rest.
        let (mut entries, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut report.findings)
            .into_iter()
            .partition(|f| f.subject.starts_with("entry "));
        entries.extend(leaf_findings);
        entries.sort_by_key(|f| {
            f.subject["entry ".len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(u64::MAX)
        });
        report.findings = entries;
        report.findings.extend(node_findings);
        report.findings.extend(rest);
        Ok(report)
    }
}
