//! The park writer lock: one writer per park directory, enforced by the OS.
//!
//! Whoever opens a park for writing ([`crate::Park::open`], [`crate::Park::create`]: the
//! server's sequencer and every CLI command that logs) holds an exclusive `flock(2)` on
//! `writer.lock` in the park directory for as long as the park is open. A second writer is
//! refused at once with [`crate::ParkError::Locked`], which names the directory and, from the
//! lock file's contents, the holder's process id and command line. The OS lock is the truth;
//! the contents only inform (they may be stale or empty). A holder that crashes, even by
//! SIGKILL, loses the lock with its file descriptors, so the next writer succeeds without any
//! clean-up. Readers never take the lock: they read the store through SQLite, whose own
//! locking keeps them consistent with the writer.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::ParkError;

/// The lock file inside a park directory.
pub const LOCK_FILE: &str = "writer.lock";

/// Who holds a park's writer lock, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The lock file.
    pub path: PathBuf,
    /// What the holder wrote into it: `pid N: COMMAND`, or empty if it wrote nothing yet.
    pub says: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.says.is_empty() {
            write!(f, "another process (lock file {})", self.path.display())
        } else {
            write!(f, "{} (lock file {})", self.says, self.path.display())
        }
    }
}

/// An exclusive writer lock on a park directory, released when dropped (or when the process
/// ends, however it ends).
#[derive(Debug)]
pub struct WriterLock {
    file: File,
    path: PathBuf,
}

impl WriterLock {
    /// Takes the writer lock of the park in `dir`, or says at once who holds it.
    pub fn acquire(dir: &Path) -> Result<WriterLock, ParkError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| ParkError::Io {
            path: path.display().to_string(),
            source,
        };
        // Not truncated on open: the holder's note must survive a refused attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if !try_lock(&file).map_err(io)? {
            let mut says = String::new();
            // The note is informative only; an unreadable one is shown as empty.
            let _ = file.read_to_string(&mut says);
            return Err(ParkError::Locked {
                dir: dir.display().to_string(),
                holder: Holder {
                    path,
                    says: says.trim().to_string(),
                },
            });
        }
        let note = format!("pid {}: {}\n", std::process::id(), command_line());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(note.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(WriterLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        // Clear the note while still holding the lock; closing the file releases it.
        let _ = self.file.set_len(0);
    }
}

/// This process's command line, as the holder's note shows it.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    if args.is_empty() {
        "(unknown command)".to_string()
    } else {
        args.join(" ")
    }
}

/// Tries an exclusive, non-blocking `flock`: `Ok(false)` if another open file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Elsewhere than Unix there is no writer lock (tanji is built and run on Linux).
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}
