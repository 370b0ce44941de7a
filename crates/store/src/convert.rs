//! Conversions every backend makes between tanji's values and what a database column holds:
//! counts and indices as signed 64-bit integers, hashes as 32 bytes.

use tanji_ledger::Hash;

use crate::StoreError;

/// `v` as the signed integer a column holds; [`StoreError::Corrupt`] beyond `i64::MAX`.
pub(crate) fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("{what} {v} exceeds the store's range")))
}

/// A column's signed integer as a count or index; [`StoreError::Corrupt`] if negative.
pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

/// A column's bytes as a SHA-256; [`StoreError::Corrupt`] naming `what` unless 32 bytes.
pub(crate) fn to_hash(bytes: &[u8], what: &dyn Fn() -> String) -> Result<Hash, StoreError> {
    bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "{} holds {} bytes, a hash has 32",
            what(),
            bytes.len()
        ))
    })
}
