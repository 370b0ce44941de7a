//! Key files. The log's signing key is kept in the text form Go's `golang.org/x/mod/sumdb/note`
//! uses for signer keys, `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`, so
//! other C2SP tooling can read it. Device keys are kept as one line: the hex Ed25519 seed, or
//! `sm2:` / `p256:` and the hex scalar (`tanji_readings::parse_device_key`).

use std::io::Write;
use std::path::Path;

use tanji_ledger::NoteSigner;
use tanji_readings::SigningKey;

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

/// Reads a device secret key file of any key type (`tanji_readings::parse_device_key`).
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

/// Makes a device key of `key_type` from the operating system's random source and writes it
/// to `path` (owner-readable only, never over an existing file) in the form
/// [`read_device_key`] reads. Returns the key, whose public key is what to register.
pub fn write_new_device_key(
    path: &Path,
    key_type: tanji_readings::KeyType,
) -> Result<SigningKey, ParkError> {
    use rand_core::RngCore as _;
    let mut secret = [0u8; 32];
    // An SM2 or P-256 scalar must lie in 1..n−1: 32 random bytes miss it with a probability
    // of about 2^-32 (n is just below 2^256), so a second draw is all it ever takes.
    let key = loop {
        rand_core::OsRng.fill_bytes(&mut secret);
        if let Ok(key) = SigningKey::from_secret(key_type, &secret) {
            break key;
        }
    };
    write_secret(path, &tanji_readings::device_key_text(key_type, &secret))?;
    Ok(key)
}
