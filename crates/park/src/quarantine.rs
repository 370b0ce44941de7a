//! The quarantine as `tanji quarantine` lists it.

use std::fmt::Write as _;

use tanji_store::{QuarantineFilter, Store};
use tanji_units::time::rfc3339;

use crate::{Park, ParkError};

impl<S: Store> Park<S> {
    /// The quarantine as text: the kept rows counted, the newest `limit` of them (newest last,
    /// read a page at a time without their raw bytes), and the summaries of those no longer
    /// kept.
    pub fn quarantine_listing(&self, limit: usize) -> Result<String, ParkError> {
        let store = self.store();
        let counts = store.quarantine_counts(QuarantineFilter::All)?;
        let mut out = format!("{} rejected upload(s) in quarantine\n", counts.kept);
        let mut rows = store.quarantine_page(None, limit, None)?;
        rows.reverse();
        for q in &rows {
            let at = rfc3339(q.received_at);
            let _ = writeln!(out, "{at}  {}  {}  {}", q.source, q.code, q.message);
        }
        let summaries = store.quarantine_summaries()?;
        if !summaries.is_empty() {
            let n: u64 = summaries.iter().map(|s| s.count).sum();
            let _ = writeln!(
                out,
                "{n} older rejected upload(s) summarised ({} refused in all):",
                self.refused()
            );
            for s in &summaries {
                let _ = writeln!(
                    out,
                    "  {}  {}  {} record(s), {} bytes, {} .. {}",
                    s.source,
                    s.code,
                    s.count,
                    s.bytes,
                    rfc3339(s.first_at),
                    rfc3339(s.last_at)
                );
            }
        }
        Ok(out)
    }
}
