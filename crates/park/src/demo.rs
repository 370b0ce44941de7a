//! The demo park's directory: created by `tanji demo`, marked as a demo's, and replaced by the
//! next demo run there — never a directory that holds anything else.

use std::path::Path;

use tanji_store::SqliteStore;

use crate::{Park, ParkError, WriterLock};

/// The file that marks a directory as a demo's.
const MARKER: &str = ".tanji-demo";

impl Park<SqliteStore> {
    /// Creates the park `name` in `dir` for a demo, marked as a demo's. An earlier demo there
    /// is replaced first (a write, so under the park's writer lock: not while a server or
    /// another demo runs on it); any other non-empty directory is refused. Returns the park
    /// and whether an earlier demo was replaced.
    pub fn create_demo(dir: &Path, name: &str) -> Result<(Park, bool), ParkError> {
        let shown = dir.display();
        let io = |source| ParkError::Io {
            path: shown.to_string(),
            source,
        };
        let mut replaced = false;
        if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io)?;
            if dir.join(MARKER).exists() {
                // Held until the directory is gone.
                let _writer = WriterLock::acquire(dir)?;
                std::fs::remove_dir_all(dir).map_err(io)?;
                replaced = true;
            } else if entries.next().is_some() {
                return Err(ParkError::Directory(format!(
                    "{shown} exists and is not a tanji demo directory; choose another directory"
                )));
            }
        }
        let park = Park::create(dir, name, None)?;
        std::fs::write(
            dir.join(MARKER),
            "created by `tanji demo`; replaced by the next demo run\n",
        )
        .map_err(io)?;
        Ok((park, replaced))
    }
}
