//! `tanji audit`: recompute a report from the log alone and say OK or name every difference.

use base64::Engine as _;
use serde_json::Value;
use tanji_ledger::{inclusion_proof, leaf_hash, open_checkpoint, verify_inclusion, NoteVerifier};
use tanji_store::Store;
use tanji_units::time::parse_rfc3339;

use crate::build::{build, FixedChoice, Request, Scope, Source};
use crate::doc::{IssueDoc, ReportDoc};
use crate::{Finding, ReportError, FORMAT};

/// What the audit did and found.
#[derive(Debug, Clone, Default)]
pub struct AuditResult {
    /// Tree size of the report's checkpoint.
    pub size: u64,
    /// Listed leaves whose bytes and inclusion were checked.
    pub leaves: u64,
    /// Numbers (and strings) of the report compared with the recomputation.
    pub values: u64,
    /// Whether the checkpoint was checked against a key the auditor supplied.
    pub trusted_key: bool,
    /// Every problem; empty = the report follows from the log.
    pub findings: Vec<Finding>,
}

impl AuditResult {
    /// True when nothing differs.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

fn finding(subject: impl Into<String>, problem: impl Into<String>) -> Finding {
    Finding {
        subject: subject.into(),
        problem: problem.into(),
    }
}

/// Audits `report_json` against the log in `store`: checks the checkpoint note (with
/// `trusted_key` if given, else the key the store names), that the log still has that root at
/// that size, every listed leaf's bytes and inclusion, completeness, the factor publication,
/// and recomputes every figure. Errors only when the report cannot be read at all.
pub fn audit<S: Store>(
    report_json: &str,
    store: &S,
    trusted_key: Option<&NoteVerifier>,
) -> Result<AuditResult, ReportError> {
    let (value, doc) = parse_report(report_json)?;
    let size = doc.provenance.checkpoint.size;
    let mut out = AuditResult {
        size,
        trusted_key: trusted_key.is_some(),
        ..AuditResult::default()
    };
    let verifier = check_key(&doc, store, trusted_key, &mut out.findings)?;
    let signed_root = check_checkpoint(&doc, &verifier, &mut out.findings);
    if !check_log_root(store, size, signed_root, &mut out.findings)? {
        return Ok(out);
    }
    out.leaves = check_leaves(&doc, store, signed_root, &mut out.findings)?;
    // Recompute with the report's own parameters.
    let req = match request_of(&doc) {
        Ok(req) => req,
        Err(f) => {
            out.findings.push(f);
            return Ok(out);
        }
    };
    let built = match build(store, &verifier, &req) {
        Ok(b) => b,
        Err(e) => {
            out.findings.push(finding("recomputation", e.to_string()));
            return Ok(out);
        }
    };
    out.findings.extend(built.problems);
    check_completeness(&doc, &built.doc, &mut out.findings);
    // Every value.
    let recomputed = serde_json::to_value(&built.doc)
        .map_err(|e| ReportError::Format(format!("serializing the recomputation: {e}")))?;
    walk("", &value, &recomputed, &mut out.findings, &mut out.values);
    compare_issues(&value, &built.doc.issues, &mut out.findings);
    Ok(out)
}

/// The report as JSON and as a [`ReportDoc`]; an error if it is not a `tanji-report/v1`.
fn parse_report(report_json: &str) -> Result<(Value, ReportDoc), ReportError> {
    let value: Value =
        serde_json::from_str(report_json).map_err(|e| ReportError::Format(e.to_string()))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(ReportError::Format(format!(
            "its \"format\" is {}, expected {FORMAT:?}",
            value
                .get("format")
                .map_or("missing".into(), Value::to_string)
        )));
    }
    let doc: ReportDoc =
        serde_json::from_value(value.clone()).map_err(|e| ReportError::Format(e.to_string()))?;
    Ok((value, doc))
}

/// The key to check the checkpoint with: the auditor's if given, else the store's; a report
/// naming another key than the store's is a finding.
fn check_key<S: Store>(
    doc: &ReportDoc,
    store: &S,
    trusted_key: Option<&NoteVerifier>,
    f: &mut Vec<Finding>,
) -> Result<NoteVerifier, ReportError> {
    let stored_vkey = store.meta("vkey")?.unwrap_or_default();
    let stored: NoteVerifier = stored_vkey
        .parse()
        .map_err(|e| ReportError::Log(format!("the store's log key {stored_vkey:?}: {e}")))?;
    if doc.provenance.log.verifier_key != stored_vkey {
        f.push(finding(
            "provenance.log.verifier_key",
            format!(
                "the report names {}, the log's key is {stored_vkey}",
                doc.provenance.log.verifier_key
            ),
        ));
    }
    Ok(trusted_key.cloned().unwrap_or(stored))
}

/// The checkpoint note: signed with `verifier`, for the report's origin, size and root.
/// Returns the signed root (the report's own if the note does not open).
fn check_checkpoint(
    doc: &ReportDoc,
    verifier: &NoteVerifier,
    f: &mut Vec<Finding>,
) -> Option<[u8; 32]> {
    let checkpoint = &doc.provenance.checkpoint;
    let size = checkpoint.size;
    let b64 = base64::engine::general_purpose::STANDARD;
    let cp = match open_checkpoint(&checkpoint.note, verifier) {
        Ok(cp) => cp,
        Err(e) => {
            f.push(finding(
                "checkpoint",
                format!("the note does not verify with the log key {verifier}: {e}"),
            ));
            return b64
                .decode(&checkpoint.root)
                .ok()
                .and_then(|b| b.try_into().ok());
        }
    };
    if cp.size != size || b64.encode(cp.root) != checkpoint.root {
        f.push(finding(
            "checkpoint",
            format!(
                "the signed note says size {} root {}, the report says size {size} root {}",
                cp.size,
                b64.encode(cp.root),
                checkpoint.root
            ),
        ));
    }
    if cp.origin != doc.provenance.log.origin {
        f.push(finding(
            "checkpoint",
            format!(
                "the note is for log {:?}, the report names {:?}",
                cp.origin, doc.provenance.log.origin
            ),
        ));
    }
    Some(cp.root)
}

/// Whether the log reaches `size` (if not, nothing more can be checked); its root there must
/// be the signed one.
fn check_log_root<S: Store>(
    store: &S,
    size: u64,
    signed_root: Option<[u8; 32]>,
    f: &mut Vec<Finding>,
) -> Result<bool, ReportError> {
    let log_size = store.size()?;
    if size > log_size {
        f.push(finding(
            "checkpoint",
            format!("size {size} is beyond the log's {log_size} entries: this is not this park's log, or it was truncated"),
        ));
        return Ok(false);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    match tanji_ledger::root(store, size) {
        Ok(r) if Some(r) == signed_root => {}
        Ok(r) => f.push(finding(
            "checkpoint",
            format!(
                "the log's root at size {size} is {}, not the checkpoint's: the log was rewritten",
                b64.encode(r)
            ),
        )),
        Err(e) => f.push(finding(
            "checkpoint",
            format!("the log's tree at size {size}: {e}"),
        )),
    }
    Ok(true)
}

/// Every listed leaf: its bytes hash to the listed hash and lie under the signed root.
/// Returns how many were checked.
fn check_leaves<S: Store>(
    doc: &ReportDoc,
    store: &S,
    signed_root: Option<[u8; 32]>,
    f: &mut Vec<Finding>,
) -> Result<u64, ReportError> {
    let size = doc.provenance.checkpoint.size;
    let mut checked = 0;
    for leaf in &doc.provenance.leaves {
        checked += 1;
        let subject = format!("entry {} ({} {})", leaf.index, leaf.kind, leaf.what);
        if leaf.index >= size {
            f.push(finding(
                subject,
                format!("is beyond the checkpoint's size {size}"),
            ));
            continue;
        }
        let data = store.entry(leaf.index)?;
        let lh = leaf_hash(&data);
        if hex::encode(lh) != leaf.leaf_hash {
            f.push(finding(
                subject,
                format!(
                    "its logged bytes hash to {}, the report lists {}: the record was changed",
                    hex::encode(lh),
                    leaf.leaf_hash
                ),
            ));
            continue;
        }
        let included = signed_root.is_some_and(|root| {
            inclusion_proof(store, leaf.index, size)
                .ok()
                .is_some_and(|p| verify_inclusion(&lh, leaf.index, size, &p, &root).is_ok())
        });
        if !included {
            f.push(finding(
                subject,
                format!("its inclusion in the checkpoint's tree of size {size} does not verify"),
            ));
        }
    }
    Ok(checked)
}

/// The request that recomputes the report: its own parameters, from the log, with every
/// device signature checked again.
fn request_of(doc: &ReportDoc) -> Result<Request, Finding> {
    let period = match (
        parse_rfc3339(&doc.period.start).ok(),
        parse_rfc3339(&doc.period.end).ok(),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(finding(
                "period",
                format!(
                    "{:?}..{:?} is not RFC 3339",
                    doc.period.start, doc.period.end
                ),
            ))
        }
    };
    let scope = match (doc.scope.kind.as_str(), &doc.scope.enterprise) {
        ("enterprise", Some(e)) => Scope::Enterprise(e.clone()),
        ("park", None) => Scope::Park,
        (k, e) => {
            return Err(finding(
                "scope",
                format!("kind {k:?} with enterprise {e:?} is not a scope"),
            ))
        }
    };
    let fixed = if doc.parameters.fixed_factor.basis == "given" {
        FixedChoice::Given(doc.parameters.fixed_factor.t_per_mwh)
    } else {
        FixedChoice::Default
    };
    Ok(Request {
        scope,
        period: Some(period),
        factors: Some(doc.parameters.factors.clone()),
        region: Some(doc.parameters.region.clone()),
        fixed,
        checkpoint_size: Some(doc.provenance.checkpoint.size),
        utc_offset_s: doc.parameters.utc_offset_s,
        device_signatures: true,
        source: Source::Log,
        inputs: doc.parameters.inputs.clone(),
        anomalies: doc.parameters.anomalies,
    })
}

/// Completeness: the recomputation uses exactly the listed leaves.
fn check_completeness(doc: &ReportDoc, recomputed: &ReportDoc, f: &mut Vec<Finding>) {
    let listed: std::collections::BTreeMap<u64, &crate::LeafDoc> =
        doc.provenance.leaves.iter().map(|l| (l.index, l)).collect();
    for l in &recomputed.provenance.leaves {
        if !listed.contains_key(&l.index) {
            f.push(finding(
                format!("entry {} ({} {})", l.index, l.kind, l.what),
                "the figures depend on it (it is in the scope and the period) but the report does not list it: the report is incomplete",
            ));
        }
    }
    let used: std::collections::BTreeSet<u64> = recomputed
        .provenance
        .leaves
        .iter()
        .map(|l| l.index)
        .collect();
    for (i, l) in &listed {
        if !used.contains(i) {
            f.push(finding(
                format!("entry {i} ({} {})", l.kind, l.what),
                "listed by the report, but the recomputation does not use it",
            ));
        }
    }
}

/// Issues by content too: an issue removed, added or changed is named by what it says, not
/// only by the positions that then differ.
fn compare_issues(value: &Value, recomputed: &[IssueDoc], f: &mut Vec<Finding>) {
    let Ok(listed) = serde_json::from_value::<Vec<IssueDoc>>(value["issues"].clone()) else {
        return;
    };
    let mut left: Vec<&IssueDoc> = listed.iter().collect();
    for issue in recomputed {
        match left.iter().position(|l| *l == issue) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => f.push(finding(
                format!("issue {} of {}", issue.kind, issue.subject),
                format!(
                    "recomputed from the log but missing from the report: {}",
                    issue.message
                ),
            )),
        }
    }
    for issue in left {
        f.push(finding(
            format!("issue {} of {}", issue.kind, issue.subject),
            format!(
                "in the report but not in the recomputation: {}",
                issue.message
            ),
        ));
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        // Floats are written with the shortest round-trip form; allow for a parser that is
        // not correctly rounded in the last place.
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
        _ => false,
    }
}

/// Compares the report (`a`) with the recomputation (`b`), naming every differing path.
fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<Finding>, n: &mut u64) {
    if path == "provenance.leaves" {
        return; // checked leaf by leaf above
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => walk(&join(path, k), va, vb, out, n),
                    None => out.push(finding(
                        join(path, k),
                        format!("is in the report ({va}) but not in the recomputation"),
                    )),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(finding(
                        join(path, k),
                        format!("is missing from the report; recomputed: {vb}"),
                    ));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(finding(
                    path,
                    format!(
                        "the report has {} items, the recomputation {}",
                        x.len(),
                        y.len()
                    ),
                ));
            }
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                walk(&format!("{path}[{i}]"), va, vb, out, n);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            *n += 1;
            if !same_number(x, y) {
                out.push(finding(
                    path,
                    format!("the report says {x}, recomputed from the log: {y}"),
                ));
            }
        }
        _ => {
            *n += 1;
            if a != b {
                out.push(finding(
                    path,
                    format!("the report says {a}, recomputed from the log: {b}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(kind: &str, message: &str) -> IssueDoc {
        IssueDoc {
            kind: kind.into(),
            subject: "meter m-1".into(),
            message: message.into(),
        }
    }

    #[test]
    fn issues_are_compared_by_what_they_say() {
        let report = serde_json::json!({
            "issues": [issue("no_data", "a"), issue("imported", "b")],
        });
        let mut f = Vec::new();
        compare_issues(
            &report,
            &[issue("imported", "b"), issue("no_data", "a")],
            &mut f,
        );
        assert!(f.is_empty(), "the same issues in another order: {f:?}");
        compare_issues(
            &report,
            &[issue("imported", "b"), issue("no_data", "c")],
            &mut f,
        );
        let said: Vec<String> = f.iter().map(ToString::to_string).collect();
        assert_eq!(
            said,
            [
                "issue no_data of meter m-1: recomputed from the log but missing from the report: c",
                "issue no_data of meter m-1: in the report but not in the recomputation: a",
            ]
        );
    }

    #[test]
    fn every_differing_value_is_named_by_its_path() {
        let report = serde_json::json!({"a": {"g": 10, "x": [1, 2]}, "only": true});
        let again = serde_json::json!({"a": {"g": 11, "x": [1, 2, 3]}, "new": "n"});
        let (mut f, mut n) = (Vec::new(), 0);
        walk("", &report, &again, &mut f, &mut n);
        let paths: Vec<&str> = f.iter().map(|x| x.subject.as_str()).collect();
        assert_eq!(paths, ["a.g", "a.x", "only", "new"]);
        assert_eq!(n, 3);
    }
}
