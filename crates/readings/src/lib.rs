//! tanji-readings (being written).
