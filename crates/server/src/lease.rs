//! One writer per park on PostgreSQL: the writer lease a serving instance holds, renews and
//! gives up.
//!
//! Any number of `tanji serve` instances may run against one PostgreSQL park (each from its
//! own copy of the park directory: the same `log.key` and `store` file). The one holding the
//! park's lease sequences; the others forward the park's requests to it and try to take the
//! lease every `poll_ms` ([`crate::parks`]). The holder renews
//! its lease every third of `ttl_ms` from a thread of its own (`keep`); when a renewal finds
//! the lease gone, or renewals have failed for a whole TTL (the database unreachable), it marks
//! the sequencer's writer lost, refuses every upload with 503 `not_writer` and stands by; every
//! batch is also fenced in the database, so even a paused instance that missed all of that
//! cannot commit once another holds the lease. A holder that dies keeps its lease until it
//! expires: the next instance sequences within `ttl_ms + poll_ms` (a holder that stops
//! cleanly releases it at once).

use std::time::{Duration, Instant};

use serde::Deserialize;
use tanji_store::{PostgresStore, StoreAt};

use crate::{Sequencer, ServerError};

/// The `[lease]` section: the writer lease of a park on PostgreSQL.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseConfig {
    /// How long a lease lasts unless renewed (renewed every third of it), in milliseconds
    /// (default 10,000).
    pub ttl_ms: u64,
    /// How often an instance without the lease tries to take it, in milliseconds (default
    /// 1,000). Failover takes at most `ttl_ms + poll_ms` after the holder dies.
    pub poll_ms: u64,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            ttl_ms: 10_000,
            poll_ms: 1_000,
        }
    }
}

impl LeaseConfig {
    /// The lease's time to live.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms)
    }

    /// The wait between attempts to take the lease.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }
}

/// Renews the lease the park's sequencer writes under, for a park on PostgreSQL (nothing to
/// do otherwise), on a thread of its own, until the sequencer's writer is lost or closed;
/// marks it lost as soon as a renewal finds the lease gone or no renewal has succeeded for a
/// whole TTL.
pub(crate) fn keep(
    at: &StoreAt,
    holder: tanji_store::Lease,
    sequencer: Sequencer,
    config: &LeaseConfig,
) -> Result<(), ServerError> {
    let StoreAt::Postgres { at, park } = at else {
        return Ok(());
    };
    let mut store = PostgresStore::open(at, park)?;
    let ttl = config.ttl();
    let taken = store.take_lease(&holder.holder, ttl)?;
    if taken.as_ref() != Some(&holder) {
        sequencer.mark_writer_lost();
        return Ok(());
    }
    let mut lost = sequencer.writer_lost();
    std::thread::Builder::new()
        .name("tanji-lease".into())
        .spawn(move || {
            let mut renewed = Instant::now();
            loop {
                std::thread::sleep(ttl / 3);
                if *lost.borrow_and_update() || sequencer.is_closed() {
                    return;
                }
                match store.renew_lease(ttl) {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => {
                        tracing::error!(park = store.park(), "the writer lease was taken over; stopping");
                        break;
                    }
                    Err(e) if renewed.elapsed() >= ttl => {
                        tracing::error!(error = %e, "the writer lease could not be renewed for a whole TTL; stopping");
                        break;
                    }
                    Err(e) => tracing::warn!(error = %e, "renewing the writer lease failed; retrying"),
                }
            }
            sequencer.mark_writer_lost();
        })
        .map_err(|e| ServerError::Io {
            context: "starting the lease thread".into(),
            source: e,
        })?;
    Ok(())
}
