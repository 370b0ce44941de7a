//! tanji-units (being written).
