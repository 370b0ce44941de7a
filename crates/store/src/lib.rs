//! tanji-store (being written).
