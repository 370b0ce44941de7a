//! tanji-ledger (being written).
