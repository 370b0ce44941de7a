//! tanji-park (being written).
