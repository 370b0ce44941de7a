//! Read-only access to the park's store for request handlers.
//!
//! The sequencer thread owns the writing connection. Readers use their own SQLite connections
//! (WAL lets them read while a batch commits), kept in a small pool and used on tokio's
//! blocking threads. A reader sees every batch the sequencer has announced in its
//! [`crate::Head`], since the head is published only after the commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tanji_store::SqliteStore;

use crate::ApiError;

/// Connections kept open between requests.
const KEEP: usize = 4;

/// A pool of read connections to one store.
#[derive(Debug, Clone)]
pub struct Reader {
    path: Arc<PathBuf>,
    pool: Arc<Mutex<Vec<SqliteStore>>>,
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
        }
    }

    /// Runs `f` with a store connection on a blocking thread.
    pub async fn with<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteStore) -> Result<T, ApiError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = this.pool.lock().ok().and_then(|mut p| p.pop());
            let store = match conn {
                Some(s) => s,
                None => SqliteStore::open(&this.path)?,
            };
            let out = f(&store);
            if let Ok(mut p) = this.pool.lock() {
                if p.len() < KEEP {
                    p.push(store);
                }
            }
            out
        })
        .await
        .map_err(|e| ApiError::internal(format!("a store read failed: {e}")))?
    }
}
