//! Key files. The log's signing key is kept in the text form Go's `golang.org/x/mod/sumdb/note`
//! uses for signer keys, `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`, so
//! other C2SP tooling can read it. Device keys are kept as one line of hex (the 32-byte seed).

use std::io::Write;
use std::path::Path;

use ed25519_dalek::SigningKey;
use tanji_ledger::NoteSigner;

use crate::ParkError;

/// Writes a secret to `path`, readable by the owner only, refusing to overwrite.
pub fn write_secret(path: &Path, text: &str) -> Result<(), ParkError> {
    let io = |e: std::io::Error| ParkError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads the log's signer key (Go / azul `PRIVATE+KEY+…` text).
pub fn read_signer_key(path: &Path) -> Result<NoteSigner, ParkError> {
    let text = std::fs::read_to_string(path).map_err(|e| ParkError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    NoteSigner::from_skey(text.trim_end()).map_err(|e| ParkError::KeyFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Reads a device secret key: 64 hex characters (the Ed25519 seed).
pub fn read_device_key(path: &Path) -> Result<SigningKey, ParkError> {
    let text = std::fs::read_to_string(path).map_err(|e| ParkError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    parse_device_key(text.trim()).map_err(|message| ParkError::KeyFile {
        path: path.display().to_string(),
        message,
    })
}

pub use tanji_readings::parse_device_key;
