//! The full audit behind `tanji verify`: everything is recomputed from the stored entry bytes
//! and compared with what the store claims — every leaf, every device signature and chain link
//! (by replaying the same validation as at ingest), every stored tree node, every checkpoint's
//! signature and root, and every table beside the log that a report, the API or the dashboard
//! reads: the upload index and its spans, the reporting index (`channels`) and the data issues
//! are re-derived from the entries and compared row by row; the quarantine (refused input, which
//! no entry holds) and its summaries are checked against the park's signed seal; blobs against
//! the publications that name them; witness cosignatures against the witness keys given.

use std::collections::HashMap;
use std::path::Path;

use tanji_ledger::{
    leaf_hash, open_checkpoint, CosignatureVerifier, Hash, MemoryTree, NodeSource, Note,
    NoteVerifier,
};
use tanji_readings::{validate, LogEntry, Policy, Verdict};
use tanji_store::{AnyStore, ChannelRow, Store, StoreError, StoredIssue, StoredUpload, UploadRow};

use crate::publication::PublicationError;
use crate::seal::Seal;
use crate::state::{spans_of, Accepted, State};
use crate::{Park, ParkError};
use tanji_readings::PublicationKind;

/// Options of an audit.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// The log key the auditor trusts. `None` = the key the park itself names (a weaker check:
    /// whoever can rewrite the store could also replace that key).
    pub trusted_key: Option<NoteVerifier>,
    /// Witness keys: every kept cosignature by one of them must verify, and one by another
    /// key is named. Empty = cosignatures are checked for their form and checkpoint only.
    pub witnesses: Vec<CosignatureVerifier>,
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

impl Park<AnyStore> {
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

    /// The audit of `store`, a log with origin `origin`: the entries are replayed, then the
    /// checkpoints, the tree nodes and the tables beside the log are compared with them.
    fn audit_store(
        store: &S,
        origin: &str,
        opts: &AuditOptions,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AuditReport, ParkError> {
        let verifier = log_verifier(store, opts)?;
        let size = store.size()?;
        let mut report = AuditReport {
            size,
            trusted_key: opts.trusted_key.is_some(),
            ..AuditReport::default()
        };
        let mut replay = Replay::new(store, &verifier);
        replay.scan(size, &mut report, progress)?;
        report.root = replay.tree.root();
        report.devices = replay.state.devices.len();

        let checkpoints = store.checkpoints()?;
        let roots_authentic = check_checkpoints(
            &checkpoints,
            origin,
            &verifier,
            &replay.tree,
            size,
            &mut report,
        )?;
        let nodes = check_nodes(store, &replay.tree, size, roots_authentic, &mut report)?;
        let mut node_findings = nodes.node_findings;
        node_findings.extend(check_upload_index(store, &replay.derived)?);
        let mut rest_findings = Vec::new();
        check_spans(store, &replay.derived, &mut rest_findings)?;
        check_channels(store, &replay.derived_channels, &mut rest_findings)?;
        check_issues(store, &replay.derived_issues, &mut rest_findings)?;
        check_seal(store, origin, &verifier, &mut rest_findings)?;
        check_cosignatures(store, &checkpoints, &opts.witnesses, &mut rest_findings)?;
        report.findings.extend(quick_check_findings(store)?);
        order_findings(
            &mut report,
            nodes.leaf_findings,
            node_findings,
            rest_findings,
        );
        Ok(report)
    }
}

/// The key the checkpoints and publications are checked against: the auditor's, else the one
/// the store names.
fn log_verifier<S: Store>(store: &S, opts: &AuditOptions) -> Result<NoteVerifier, ParkError> {
    match &opts.trusted_key {
        Some(k) => Ok(k.clone()),
        None => {
            let text = store
                .meta("vkey")?
                .ok_or_else(|| ParkError::Directory("the store names no log key".into()))?;
            text.parse::<NoteVerifier>()
                .map_err(|e| ParkError::Directory(format!("the stored log key {text:?}: {e}")))
        }
    }
}

/// The replay of the entries: the tree they hash to, the state the ingest validation keeps, and
/// the rows of the tables beside the log that they imply.
struct Replay<'a, S: Store> {
    store: &'a S,
    verifier: &'a NoteVerifier,
    tree: MemoryTree,
    state: State,
    policy: Policy,
    /// The upload index the entries imply.
    derived: Vec<StoredUpload>,
    /// The reporting index rows the entries imply, as (entry, meter, start, row hash).
    derived_channels: Vec<(u64, String, i64, Hash)>,
    derived_issues: Vec<StoredIssue>,
    /// The entry each accepted (device, seq) was logged as.
    seen: HashMap<(String, u64), u64>,
}

impl<'a, S: Store> Replay<'a, S> {
    fn new(store: &'a S, verifier: &'a NoteVerifier) -> Self {
        Replay {
            store,
            verifier,
            tree: MemoryTree::new(),
            state: State::default(),
            // Replay with no clock: a logged record was judged against the clock when it came in.
            policy: Policy {
                now: i64::MAX / 4,
                clock_skew_s: 0,
            },
            derived: Vec::new(),
            derived_channels: Vec::new(),
            derived_issues: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// Replays entries `0..size`, recording what is wrong with each in `report`; an entry the
    /// store cannot read ends the scan with a finding.
    fn scan(
        &mut self,
        size: u64,
        report: &mut AuditReport,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), StoreError> {
        let step = (size / 200).max(1);
        let store = self.store;
        store
            .scan_entries(0, size, &mut |index, data| {
                self.entry(index, data, report);
                if index % step == 0 {
                    progress(index, size);
                }
                Ok(())
            })
            .or_else(|e| match e {
                StoreError::Corrupt(m) => {
                    // The scan stops at the first entry it cannot read.
                    report.findings.push(AuditFinding {
                        subject: format!("entry {}", self.tree.size()),
                        problem: format!("is missing or unreadable: {m}"),
                    });
                    Ok(())
                }
                other => Err(other),
            })?;
        progress(size, size);
        Ok(())
    }

    /// Replays one entry.
    fn entry(&mut self, index: u64, data: &[u8], report: &mut AuditReport) {
        self.tree.push(leaf_hash(data));
        let finding = |what: String, problem: String| AuditFinding {
            subject: format!("entry {index}{what}"),
            problem,
        };
        let found = match LogEntry::from_bytes(data) {
            Err(e) => Some(finding(String::new(), format!("does not decode: {e}"))),
            Ok(LogEntry::Registration(reg)) => {
                report.registrations += 1;
                let what = format!(" (registration of {} / meter {})", reg.device, reg.meter);
                match self.state.check_registration(&reg) {
                    Ok((key, info)) => {
                        self.state.add_registration(&reg, key, info);
                        None
                    }
                    Err(e) => Some(finding(what, e.to_string())),
                }
            }
            Ok(LogEntry::Revocation(rev)) => {
                let what = format!(" (revocation of {})", rev.device);
                match self.state.check_revocation(&rev.device) {
                    Ok(None) => {
                        self.state.add_revocation(&rev.device, index);
                        None
                    }
                    Ok(Some(first)) => Some(finding(
                        what,
                        format!("repeats the revocation already logged as entry {first}"),
                    )),
                    Err(e) => Some(finding(what, e.to_string())),
                }
            }
            Ok(LogEntry::Publication(note)) => {
                report.publications += 1;
                self.publication(index, &note, report)
                    .map(|(what, problem)| finding(what, problem))
            }
            Ok(LogEntry::Upload(u)) => {
                report.uploads += 1;
                report.readings += u.reading_count() as u64;
                self.upload(index, &u).map(|problem| {
                    finding(
                        format!(" (upload {}#{})", u.body.device, u.body.seq),
                        problem,
                    )
                })
            }
        };
        report.findings.extend(found);
    }

    /// Checks a publication's signature and content; what is wrong, as (what, problem).
    fn publication(
        &self,
        index: u64,
        note: &str,
        report: &mut AuditReport,
    ) -> Option<(String, String)> {
        match crate::publication::open_publication(self.store, index, note, self.verifier) {
            Ok((p, _)) => {
                match p.kind {
                    PublicationKind::Factors => report.factor_publications += 1,
                    PublicationKind::Inputs => report.inputs_publications += 1,
                }
                None
            }
            Err(e) => {
                let what = crate::publication::read_manifest(index, note)
                    .map_or(" (publication)".to_string(), |(_, m)| {
                        format!(" ({})", m.kind.noun())
                    });
                let problem = match e {
                    PublicationError::ContentMissing { .. }
                    | PublicationError::ContentChanged { .. } => format!("blobs table: {e}"),
                    e => e.to_string(),
                };
                Some((what, problem))
            }
        }
    }

    /// Validates an upload as at ingest; an accepted one adds the rows it implies. Returns what
    /// is wrong with it.
    fn upload(&mut self, index: u64, u: &tanji_readings::SignedUpload) -> Option<String> {
        match validate(u, &self.state, &self.policy) {
            Ok(Verdict::Accept { issues }) => {
                let mut rows: Vec<ChannelRow> = crate::channel_rows(u, index).collect();
                rows.sort_by(|a, b| (&a.meter, a.start).cmp(&(&b.meter, b.start)));
                for r in rows {
                    let h = channel_hash(&r);
                    self.derived_channels.push((index, r.meter, r.start, h));
                }
                self.derived_issues
                    .extend(issues.iter().map(|i| StoredIssue {
                        index,
                        code: crate::issue_code(&i.kind).to_string(),
                        message: i.message.clone(),
                    }));
                let row = UploadRow {
                    device: u.body.device.clone(),
                    seq: u.body.seq,
                    record_hash: u.record_hash(),
                    prev: u.body.prev,
                    spans: spans_of(u),
                };
                self.state.add_upload(
                    &row.device,
                    row.seq,
                    Accepted {
                        record_hash: row.record_hash,
                        prev: row.prev,
                        index,
                    },
                    &row.spans,
                );
                self.seen.insert((row.device.clone(), row.seq), index);
                self.derived.push(StoredUpload { row, index });
                None
            }
            Ok(Verdict::Duplicate) => {
                let first = self
                    .seen
                    .get(&(u.body.device.clone(), u.body.seq))
                    .copied()
                    .unwrap_or(index);
                Some(format!(
                    "repeats the upload already logged as entry {first}"
                ))
            }
            Err(rej) => Some(format!("{}: {}", rej.code, rej.message)),
        }
    }
}

/// The checkpoints: signed by the log key, for this origin, over the roots of the entries.
/// Returns whether every checkpoint's root is that of the stored entries.
fn check_checkpoints(
    checkpoints: &[(u64, String)],
    origin: &str,
    verifier: &NoteVerifier,
    tree: &MemoryTree,
    size: u64,
    report: &mut AuditReport,
) -> Result<bool, ParkError> {
    let mut latest = 0;
    let mut roots_authentic = true;
    let mut missing_reported = false;
    for (cp_size, note) in checkpoints {
        report.checkpoints += 1;
        latest = latest.max(*cp_size);
        let subject = format!("checkpoint at size {cp_size}");
        let cp = match open_checkpoint(note, verifier) {
            Err(e) => {
                report.findings.push(AuditFinding {
                    subject,
                    problem: format!("does not verify with the log key {verifier}: {e}"),
                });
                continue;
            }
            Ok(cp) => cp,
        };
        if cp.size != *cp_size {
            report.findings.push(AuditFinding {
                subject: subject.clone(),
                problem: format!("is stored under size {cp_size} but says {}", cp.size),
            });
        }
        if cp.origin != origin {
            report.findings.push(AuditFinding {
                subject: subject.clone(),
                problem: format!("names origin {:?}, the park is {:?}", cp.origin, origin),
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
            let recomputed =
                tanji_ledger::root(tree, cp.size).map_err(|e| ParkError::Tree(e.to_string()))?;
            if recomputed != cp.root {
                roots_authentic = false;
                report.findings.push(AuditFinding {
                    subject,
                    problem: "its signed root differs from the root of the stored entries: entries were changed after they were logged".into(),
                });
            }
        }
    }
    if latest != size {
        report.findings.push(AuditFinding {
            subject: format!("entries {latest}..{size}"),
            problem: format!(
                "are not covered by any signed checkpoint (the checkpoints table holds none of size {size})"
            ),
        });
    }
    Ok(roots_authentic)
}

/// What the comparison of the stored tree nodes found.
struct NodeFindings {
    /// Stored nodes that are wrong or missing.
    node_findings: Vec<AuditFinding>,
    /// Entries whose leaf no longer matches (named only when the roots do not vouch for them).
    leaf_findings: Vec<AuditFinding>,
}

/// Every stored node must equal the one recomputed from the entries.
fn check_nodes<S: Store>(
    store: &S,
    tree: &MemoryTree,
    size: u64,
    roots_authentic: bool,
    report: &mut AuditReport,
) -> Result<NodeFindings, StoreError> {
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
    Ok(NodeFindings {
        node_findings,
        leaf_findings,
    })
}

/// The upload index must be exactly what the entries say.
fn check_upload_index<S: Store>(
    store: &S,
    derived: &[StoredUpload],
) -> Result<Option<AuditFinding>, StoreError> {
    let stored = store.uploads()?;
    if stored == derived {
        return Ok(None);
    }
    let first = stored
        .iter()
        .zip(derived)
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
    Ok(Some(AuditFinding {
        subject: "uploads table (the upload index)".into(),
        problem: first,
    }))
}

/// The store's own integrity check, each problem named by the table or row it concerns.
fn quick_check_findings<S: Store>(store: &S) -> Result<Vec<AuditFinding>, StoreError> {
    Ok(store
        .quick_check()?
        .into_iter()
        .map(|problem| {
            let (subject, problem) = match problem.split_once(": ") {
                Some((s, p)) if s.ends_with(')') || s.contains(" table") => {
                    (s.to_string(), p.to_string())
                }
                _ => ("store".to_string(), problem),
            };
            AuditFinding { subject, problem }
        })
        .collect())
}

/// Most specific first: entry findings (in log order), then nodes, then the rest; the tables
/// beside the log last, since a damaged log makes them differ too.
fn order_findings(
    report: &mut AuditReport,
    leaf_findings: Vec<AuditFinding>,
    node_findings: Vec<AuditFinding>,
    rest_findings: Vec<AuditFinding>,
) {
    let (mut entries, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut report.findings)
        .into_iter()
        .partition(|f| {
            f.subject.starts_with("entry ") || f.subject.starts_with("entries table, entry ")
        });
    entries.extend(leaf_findings);
    entries.sort_by_key(|f| {
        f.subject[f.subject.find("entry ").map_or(0, |i| i + "entry ".len())..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    });
    report.findings = entries;
    report.findings.extend(node_findings);
    report.findings.extend(rest);
    report.findings.extend(rest_findings);
}

/// The hash a reporting index row is compared by.
fn channel_hash(r: &ChannelRow) -> Hash {
    let mut c = crate::seal::Chain::default();
    c.push_channel(r);
    c.head
}

/// The spans table must hold exactly the spans of the logged uploads.
fn check_spans<S: Store>(
    store: &S,
    derived: &[StoredUpload],
    out: &mut Vec<AuditFinding>,
) -> Result<(), StoreError> {
    let mut want: Vec<(u64, tanji_store::Span)> = Vec::new();
    for u in derived {
        let mut spans = u.row.spans.clone();
        spans.sort_by(|a, b| (&a.meter, a.start).cmp(&(&b.meter, b.start)));
        want.extend(spans.into_iter().map(|s| (u.index, s)));
    }
    let stored = store.spans()?;
    if stored != want {
        let problem = match stored.iter().zip(&want).find(|(a, b)| a != b) {
            Some(((i, s), (j, w))) => format!(
                "the row of entry {i}, meter {} [{}, {}) differs from what entry {j} says (meter {} [{}, {}))",
                s.meter, s.start, s.end, w.meter, w.start, w.end
            ),
            None => format!(
                "{} rows stored, the logged uploads have {} spans",
                stored.len(),
                want.len()
            ),
        };
        out.push(AuditFinding {
            subject: "spans table".into(),
            problem,
        });
    }
    Ok(())
}

/// The reporting index must hold exactly the channels of the logged uploads, value for value.
fn check_channels<S: Store>(
    store: &S,
    derived: &[(u64, String, i64, Hash)],
    out: &mut Vec<AuditFinding>,
) -> Result<(), StoreError> {
    let mut next = 0;
    let mut problem: Option<String> = None;
    let scan = store.scan_channels(&mut |r| {
        if problem.is_some() {
            return Ok(());
        }
        match derived.get(next) {
            None => {
                problem = Some(format!(
                    "the row of meter {} at {} (entry {}) is not in any logged upload",
                    r.meter, r.start, r.index
                ))
            }
            Some((i, m, s, h)) if (*i, m.as_str(), *s) == (r.index, r.meter.as_str(), r.start) => {
                if *h != channel_hash(&r) {
                    problem = Some(format!(
                        "the row of meter {} at {} (entry {}) differs from the logged upload: a report would use values that were never logged",
                        r.meter, r.start, r.index
                    ));
                }
            }
            Some((i, m, s, _)) => {
                problem = Some(if (*i, m.as_str(), *s) < (r.index, r.meter.as_str(), r.start) {
                    format!("the row of meter {m} at {s} (entry {i}) is missing")
                } else {
                    format!(
                        "the row of meter {} at {} (entry {}) is not in any logged upload",
                        r.meter, r.start, r.index
                    )
                })
            }
        }
        next += 1;
        Ok(())
    });
    if let Err(e) = scan {
        match e {
            StoreError::Corrupt(m) => problem = problem.or(Some(m)),
            other => return Err(other),
        }
    }
    if problem.is_none() && next < derived.len() {
        let (i, m, s, _) = &derived[next];
        problem = Some(format!(
            "the row of meter {m} at {s} (entry {i}) is missing ({} rows stored, the log implies {})",
            next,
            derived.len()
        ));
    }
    if let Some(problem) = problem {
        out.push(AuditFinding {
            subject: "channels table (the reporting index)".into(),
            problem,
        });
    }
    Ok(())
}

/// The data issues must be exactly those validation notes when it replays the log.
fn check_issues<S: Store>(
    store: &S,
    derived: &[StoredIssue],
    out: &mut Vec<AuditFinding>,
) -> Result<(), StoreError> {
    let stored = store.issues()?;
    if stored != derived {
        let problem = match stored.iter().zip(derived).find(|(a, b)| a != b) {
            Some((a, b)) => format!(
                "the issue {} on entry {} ({:?}) differs from what replaying the log notes: {} on entry {} ({:?})",
                a.code, a.index, a.message, b.code, b.index, b.message
            ),
            None => format!(
                "{} rows stored, replaying the log notes {}",
                stored.len(),
                derived.len()
            ),
        };
        out.push(AuditFinding {
            subject: "issues table".into(),
            problem,
        });
    }
    Ok(())
}

/// The quarantine, its summaries, the park's name and the derived tables' digests must be what
/// the park signed in its seal.
fn check_seal<S: Store>(
    store: &S,
    origin: &str,
    verifier: &NoteVerifier,
    out: &mut Vec<AuditFinding>,
) -> Result<(), StoreError> {
    let Some(note) = store.meta("seal")? else {
        out.push(AuditFinding {
            subject: "meta table".into(),
            problem: "holds no seal: the quarantine cannot be checked (a park made before the seal existed gets one the next time it is opened)".into(),
        });
        return Ok(());
    };
    let sealed = match Seal::open(&note, verifier) {
        Ok(s) => s,
        Err(e) => {
            out.push(AuditFinding {
                subject: "meta table".into(),
                problem: format!("the park's seal {e}"),
            });
            return Ok(());
        }
    };
    let name = store.meta("park")?.unwrap_or_default();
    let now = match Seal::of_store(store, origin, &name) {
        Ok((s, _)) => s,
        // An unreadable reporting index row is named by the channels check.
        Err(StoreError::Corrupt(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    for (table, problem) in now.differences(&sealed) {
        out.push(AuditFinding {
            subject: format!("{table} table"),
            problem,
        });
    }
    Ok(())
}

/// Every kept cosignature line must be one signature line on a stored checkpoint, by the
/// witness its row names; with witness keys given, it must verify.
fn check_cosignatures<S: Store>(
    store: &S,
    checkpoints: &[(u64, String)],
    witnesses: &[CosignatureVerifier],
    out: &mut Vec<AuditFinding>,
) -> Result<(), StoreError> {
    for (size, note) in checkpoints {
        let lines = store.cosignatures(*size)?;
        if lines.is_empty() {
            continue;
        }
        let Ok(text) = Note::parse(note).map(|n| n.text().to_string()) else {
            continue; // named by the checkpoint check
        };
        for line in lines {
            let subject = format!("cosignatures table, checkpoint {size}");
            let sig = Note::parse(&format!("{text}\n{line}\n"))
                .ok()
                .and_then(|n| n.signatures().first().cloned());
            let Some(sig) = sig else {
                out.push(AuditFinding {
                    subject,
                    problem: format!("{line:?} is not one signature line"),
                });
                continue;
            };
            match witnesses.iter().find(|w| w.matches(&sig)) {
                Some(w) => {
                    if let Err(e) = w.verify(&text, &sig) {
                        out.push(AuditFinding {
                            subject,
                            problem: format!(
                                "the cosignature by {} does not verify: {e}",
                                crate::witness_id(w)
                            ),
                        });
                    }
                }
                None if !witnesses.is_empty() => out.push(AuditFinding {
                    subject,
                    problem: format!(
                        "a cosignature by {}+{:08x}, none of the witness keys given",
                        sig.name(),
                        sig.key_id()
                    ),
                }),
                None => {}
            }
        }
    }
    Ok(())
}
