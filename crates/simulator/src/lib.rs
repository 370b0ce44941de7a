//! tanji-simulator (being written).
