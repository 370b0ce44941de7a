//! Read-only access to the park's store for request handlers.
//!
//! The sequencer thread owns the writing connection. Readers use their own connections
//! (SQLite's WAL, PostgreSQL's MVCC let them read while a batch commits), kept in a small pool and used on tokio's
//! blocking threads. A reader sees every batch the sequencer has announced in its
//! [`crate::Head`], since the head is published only after the commit.
//!
//! Work nobody waits for (refreshing a dashboard report while uploads arrive) runs on one
//! background thread at a lower CPU priority ([`Reader::in_background`]), so that it takes the
//! cores only when acknowledging uploads does not need them. Its jobs are taken in turn by
//! owner ([`Reader::in_background_for`]: one job of each caller with jobs waiting, round
//! robin), so one caller's queue of report builds does not hold everyone else's behind it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use tanji_store::{AnyStore, StoreAt};

use crate::ApiError;

/// Connections kept open between requests.
const KEEP: usize = 4;

/// The background thread's niceness (Linux): a weight of about a tenth of a normal thread's
/// while both want a core.
const BACKGROUND_NICE: i32 = 10;

type BackgroundJob = Box<dyn FnOnce() + Send>;

/// Background jobs waiting, by owner, taken in turn.
#[derive(Default)]
struct Turns {
    by_owner: HashMap<String, VecDeque<BackgroundJob>>,
    /// Owners with jobs waiting, in the order they are served next.
    turn: VecDeque<String>,
    /// No more jobs will come: the thread ends when the queues are empty.
    closed: bool,
}

/// The background thread's queue.
#[derive(Default)]
struct Fair {
    turns: Mutex<Turns>,
    ready: Condvar,
}

impl Fair {
    fn push(&self, owner: &str, job: BackgroundJob) -> bool {
        let Ok(mut t) = self.turns.lock() else {
            return false;
        };
        let q = t.by_owner.entry(owner.to_string()).or_default();
        let was_empty = q.is_empty();
        q.push_back(job);
        if was_empty {
            t.turn.push_back(owner.to_string());
        }
        self.ready.notify_one();
        true
    }

    /// The next job: the first waiting one of the owner whose turn it is; `None` once closed
    /// and empty.
    fn pop(&self) -> Option<BackgroundJob> {
        let mut t = self.turns.lock().ok()?;
        loop {
            if let Some(owner) = t.turn.pop_front() {
                let (job, more) = match t.by_owner.get_mut(&owner) {
                    Some(q) => (q.pop_front(), !q.is_empty()),
                    None => (None, false),
                };
                if more {
                    t.turn.push_back(owner);
                } else {
                    t.by_owner.remove(&owner);
                }
                if job.is_some() {
                    return job;
                }
                continue;
            }
            if t.closed {
                return None;
            }
            t = self.ready.wait(t).ok()?;
        }
    }
}

/// The readers' handle on the background thread: closing its queue when the last reader goes.
struct Background(Arc<Fair>);

impl std::fmt::Debug for Background {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Background")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(mut t) = self.0.turns.lock() {
            t.closed = true;
        }
        self.0.ready.notify_all();
    }
}

/// Runs blocking store work `f` from async code: on a multi-threaded runtime, with the
/// worker thread handed over to blocking work meanwhile (the PostgreSQL client drives a
/// runtime of its own, which may not be entered from a worker thread); elsewhere, directly.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// A pool of read connections to one store.
#[derive(Debug, Clone)]
pub struct Reader {
    at: Arc<StoreAt>,
    pool: Arc<Mutex<Vec<AnyStore>>>,
    background: Arc<OnceLock<Option<Background>>>,
}

impl Reader {
    /// Where the store is.
    pub fn at(&self) -> &StoreAt {
        &self.at
    }

    /// Readers of the store at `at`.
    pub fn new(at: StoreAt) -> Self {
        Reader {
            at: Arc::new(at),
            pool: Arc::new(Mutex::new(Vec::new())),
            background: Arc::default(),
        }
    }

    /// Runs `f` with a pooled store connection on the calling thread.
    fn run<T>(&self, f: impl FnOnce(&AnyStore) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let conn = self.pool.lock().ok().and_then(|mut p| p.pop());
        let store = match conn {
            Some(s) => s,
            None => self.at.open()?,
        };
        let out = f(&store);
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < KEEP {
                p.push(store);
            }
        }
        out
    }

    /// Runs `f` with a store connection on the background thread, one job at a time, at a
    /// lower CPU priority than the request handlers and the sequencer (nice +10 on Linux).
    /// If that thread cannot be started, `f` runs as [`Reader::with`] runs it.
    pub async fn in_background<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AnyStore) -> Result<T, ApiError> + Send + 'static,
    {
        self.in_background_for("", f).await
    }

    /// [`Reader::in_background`] for `owner` (a caller): the job is queued when this is called
    /// and run in `owner`'s turn — the thread takes one job of each owner with jobs waiting,
    /// round robin.
    pub fn in_background_for<T, F>(
        &self,
        owner: &str,
        f: F,
    ) -> impl Future<Output = Result<T, ApiError>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(&AnyStore) -> Result<T, ApiError> + Send + 'static,
    {
        let this = self.clone();
        let queued = match self.background.get_or_init(start_background) {
            Some(Background(fair)) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let runner = self.clone();
                let job: BackgroundJob = Box::new(move || {
                    let _ = tx.send(runner.run(f));
                });
                Ok(fair.push(owner, job).then_some(rx))
            }
            None => Err(f),
        };
        async move {
            match queued {
                Err(f) => this.with(f).await,
                Ok(None) => Err(ApiError::internal(
                    "the background report thread has stopped",
                )),
                Ok(Some(rx)) => rx
                    .await
                    .map_err(|_| ApiError::internal("a background store read failed"))?,
            }
        }
    }

    /// Runs `f` with a store connection on a blocking thread.
    pub async fn with<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&AnyStore) -> Result<T, ApiError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.run(f))
            .await
            .map_err(|e| ApiError::internal(format!("a store read failed: {e}")))?
    }
}

/// Starts the background thread; `None` (with a warning) if it cannot be started.
fn start_background() -> Option<Background> {
    let fair = Arc::new(Fair::default());
    let queue = Arc::clone(&fair);
    let started = std::thread::Builder::new()
        .name("tanji-reports".into())
        .spawn(move || {
            lower_priority();
            while let Some(job) = queue.pop() {
                // A job that panics drops its answer (its caller gets an error); the thread
                // goes on with the next.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    tracing::error!("a background report job panicked");
                }
            }
        });
    match started {
        Ok(_) => Some(Background(fair)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start the background report thread; refreshing reports on the request threads");
            None
        }
    }
}

/// Lowers the calling thread's CPU priority to [`BACKGROUND_NICE`] (Linux: the niceness of
/// one thread); elsewhere, or if refused, it stays as it is.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
            tracing::warn!(error = %e, "cannot lower the background report thread's priority");
        }
    }
}
