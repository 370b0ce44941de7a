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

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tanji_store::{Lease, LeaseRenewer, StoreAt};

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
/// do otherwise), until the sequencer's writer is lost or closed; marks it lost as soon as a
/// renewal finds the lease gone or no renewal has succeeded for a whole TTL.
///
/// Every lease this process holds in one database (and with one TTL) is renewed by one
/// thread, on one connection, in one statement every third of the TTL ([`Keeper`]): an
/// instance writing 200 parks holds 200 store connections and one more for their leases, not
/// 400. The lease is checked once here, on the keeper's connection, before it is kept.
pub(crate) fn keep(
    at: &StoreAt,
    holder: Lease,
    sequencer: Sequencer,
    config: &LeaseConfig,
) -> Result<(), ServerError> {
    let StoreAt::Postgres { at, park } = at else {
        return Ok(());
    };
    let ttl = config.ttl();
    let key = (at.url.clone(), at.schema.clone(), config.ttl_ms);
    let mut keepers = KEEPERS.lock().unwrap_or_else(|p| p.into_inner());
    let keeper = match keepers.get(&key) {
        Some(k) => Arc::clone(k),
        None => {
            let keeper = Arc::new(Keeper {
                renewer: Mutex::new(LeaseRenewer::connect(at)?),
                held: Mutex::new(Vec::new()),
                ttl,
            });
            let k = Arc::clone(&keeper);
            let own = key.clone();
            std::thread::Builder::new()
                .name("tanji-leases".into())
                .spawn(move || k.run(own))
                .map_err(|e| ServerError::Io {
                    context: "starting the lease thread".into(),
                    source: e,
                })?;
            keepers.insert(key, Arc::clone(&keeper));
            keeper
        }
    };
    // The registry stays locked until the lease is kept: the keeper cannot end meanwhile.
    let first = keeper
        .lock_renewer()
        .renew(&[(park.clone(), holder.clone())], ttl);
    if !matches!(first.as_deref(), Ok([true])) {
        if let Err(e) = first {
            tracing::error!(park, error = %e, "the writer lease could not be renewed; standing by");
        }
        sequencer.mark_writer_lost();
        return Ok(());
    }
    keeper.lock_held().push(Held {
        park: park.clone(),
        lease: holder,
        sequencer,
        renewed: Instant::now(),
    });
    Ok(())
}

/// The keepers of this process, by (database URL, schema, TTL in milliseconds).
type KeeperKey = (String, String, u64);

static KEEPERS: LazyLock<Mutex<HashMap<KeeperKey, Arc<Keeper>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The leases held in one database, renewed together.
struct Keeper {
    renewer: Mutex<LeaseRenewer>,
    held: Mutex<Vec<Held>>,
    ttl: Duration,
}

/// One park's lease as kept.
struct Held {
    park: String,
    lease: Lease,
    sequencer: Sequencer,
    /// When the lease was last renewed.
    renewed: Instant,
}

impl Keeper {
    fn lock_renewer(&self) -> std::sync::MutexGuard<'_, LeaseRenewer> {
        self.renewer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_held(&self) -> std::sync::MutexGuard<'_, Vec<Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every third of the TTL, renews every lease still kept; ends (and leaves the registry)
    /// once it keeps none.
    fn run(&self, key: KeeperKey) {
        loop {
            std::thread::sleep(self.ttl / 3);
            {
                // Under the registry's lock: a park being kept now either finds this keeper
                // still registered (and is renewed below) or a new one.
                let mut keepers = KEEPERS.lock().unwrap_or_else(|p| p.into_inner());
                let mut held = self.lock_held();
                held.retain(|h| !h.sequencer.is_closed() && !*h.sequencer.writer_lost().borrow());
                if held.is_empty() {
                    keepers.remove(&key);
                    return;
                }
            }
            self.renew_all();
        }
    }

    fn renew_all(&self) {
        let asked: Vec<(String, Lease)> = self
            .lock_held()
            .iter()
            .map(|h| (h.park.clone(), h.lease.clone()))
            .collect();
        let answer = self.lock_renewer().renew(&asked, self.ttl);
        let now = Instant::now();
        let mut held = self.lock_held();
        match answer {
            Ok(renewed) => {
                // Only this thread removes entries and others only append: the first
                // `asked.len()` entries are the ones asked about, in order.
                let mut answers = renewed.into_iter();
                held.retain_mut(|h| match answers.next() {
                    Some(true) => {
                        h.renewed = now;
                        true
                    }
                    Some(false) => {
                        tracing::error!(park = %h.park, "the writer lease was taken over; stopping");
                        h.sequencer.mark_writer_lost();
                        false
                    }
                    // Kept after the leases were read: renewed at the next round.
                    None => true,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "renewing the writer leases failed; retrying");
                held.retain(|h| {
                    if h.renewed.elapsed() < self.ttl {
                        return true;
                    }
                    tracing::error!(park = %h.park, "the writer lease could not be renewed for a whole TTL; stopping");
                    h.sequencer.mark_writer_lost();
                    false
                });
            }
        }
    }
}
