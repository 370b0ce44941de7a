//! Read-only access to the park's store for request handlers.
//!
//! The sequencer thread owns the writing connection. Readers use their own SQLite connections
//! (WAL lets them read while a batch commits), kept in a small pool and used on tokio's
//! blocking threads. A reader sees every batch the sequencer has announced in its
//! [`crate::Head`], since the head is published only after the commit.
//!
//! Work nobody waits for (refreshing a dashboard report while uploads arrive) runs on one
//! background thread at a lower CPU priority ([`Reader::in_background`]), so that it takes the
//! cores only when acknowledging uploads does not need them.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use tanji_store::SqliteStore;

use crate::ApiError;

/// Connections kept open between requests.
const KEEP: usize = 4;

/// The background thread's niceness (Linux): a weight of about a tenth of a normal thread's
/// while both want a core.
const BACKGROUND_NICE: i32 = 10;

type BackgroundJob = Box<dyn FnOnce() + Send>;

/// A pool of read connections to one store.
#[derive(Debug, Clone)]
pub struct Reader {
    path: Arc<PathBuf>,
    pool: Arc<Mutex<Vec<SqliteStore>>>,
    background: Arc<OnceLock<Option<mpsc::Sender<BackgroundJob>>>>,
}

impl Reader {
    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Readers of the store file at `path`.
    pub fn new(path: &Path) -> Self {
        Reader {
            path: Arc::new(path.to_path_buf()),
            pool: Arc::new(Mutex::new(Vec::new())),
            background: Arc::default(),
        }
    }

    /// Runs `f` with a pooled store connection on the calling thread.
    fn run<T>(&self, f: impl FnOnce(&SqliteStore) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let conn = self.pool.lock().ok().and_then(|mut p| p.pop());
        let store = match conn {
            Some(s) => s,
            None => SqliteStore::open(&self.path)?,
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
        F: FnOnce(&SqliteStore) -> Result<T, ApiError> + Send + 'static,
    {
        let Some(sender) = self.background.get_or_init(start_background) else {
            return self.with(f).await;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let this = self.clone();
        let job: BackgroundJob = Box::new(move || {
            let _ = tx.send(this.run(f));
        });
        if sender.send(job).is_err() {
            return Err(ApiError::internal(
                "the background report thread has stopped",
            ));
        }
        rx.await
            .map_err(|_| ApiError::internal("a background store read failed"))?
    }

    /// Runs `f` with a store connection on a blocking thread.
    pub async fn with<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, ApiError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.run(f))
            .await
            .map_err(|e| ApiError::internal(format!("a store read failed: {e}")))?
    }
}

/// Starts the background thread; `None` (with a warning) if it cannot be started.
fn start_background() -> Option<mpsc::Sender<BackgroundJob>> {
    let (tx, rx) = mpsc::channel::<BackgroundJob>();
    let started = std::thread::Builder::new()
        .name("tanji-reports".into())
        .spawn(move || {
            lower_priority();
            while let Ok(job) = rx.recv() {
                // A job that panics drops its answer (its caller gets an error); the thread
                // goes on with the next.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    tracing::error!("a background report job panicked");
                }
            }
        });
    match started {
        Ok(_) => Some(tx),
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
