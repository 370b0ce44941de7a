//! The reporting index: every channel of every accepted upload, by meter and time, with its
//! values packed compactly. Reports read it instead of decoding the whole log; the audit
//! still recomputes from the log's bytes, so a wrong index row shows up as a differing figure.

use crate::StoreError;

/// One channel of an accepted upload, as the reporting index keeps it. Derived from the log
/// entry at `index` and written in the same transaction as that entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRow {
    /// Leaf index of the upload.
    pub index: u64,
    /// The uploading device.
    pub device: String,
    /// The upload's sequence number.
    pub seq: u64,
    /// Meter id.
    pub meter: String,
    /// Start of the first interval, Unix seconds UTC.
    pub start: i64,
    /// Interval length, seconds.
    pub interval_s: u32,
    /// Unit code of the values.
    pub unit: String,
    /// Decimals of every value.
    pub decimals: u8,
    /// The values, as logged.
    pub values: Vec<i64>,
}

impl ChannelRow {
    /// End of the last interval (`start` if there are no values), saturating.
    pub fn end(&self) -> i64 {
        let n = i64::try_from(self.values.len()).unwrap_or(i64::MAX);
        self.start
            .saturating_add(n.saturating_mul(i64::from(self.interval_s)))
    }
}

/// Packs values as LEB128 varints of the zig-zagged difference to the previous value (the
/// first to 0): quarter-hour meter values change little, so most take one or two bytes.
pub fn pack(values: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 2 + 4);
    let mut prev = 0i64;
    for &v in values {
        let d = v.wrapping_sub(prev);
        prev = v;
        let mut z = ((d << 1) ^ (d >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }
    out
}

/// The inverse of [`pack`]; `what` names the row in the error.
pub fn unpack(bytes: &[u8], what: &dyn Fn() -> String) -> Result<Vec<i64>, StoreError> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut prev = 0i64;
    let mut z = 0u64;
    let mut shift = 0u32;
    for &b in bytes {
        if shift >= 64 || (shift == 63 && b > 1) {
            return Err(StoreError::Corrupt(format!(
                "{}: a packed value is longer than 64 bits",
                what()
            )));
        }
        z |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let d = ((z >> 1) as i64) ^ -((z & 1) as i64);
            prev = prev.wrapping_add(d);
            out.push(prev);
            z = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    if shift != 0 {
        return Err(StoreError::Corrupt(format!(
            "{}: the packed values end inside a value",
            what()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        // 0 → 0; 1 → +1 = zigzag 2; 0 → −1 = zigzag 1; 300 → +300 = zigzag 600 = 0xd8 0x04.
        assert_eq!(pack(&[0, 1, 0, 300]), vec![0x00, 0x02, 0x01, 0xd8, 0x04]);
        assert_eq!(
            unpack(&[0x00, 0x02, 0x01, 0xd8, 0x04], &String::new).unwrap(),
            vec![0, 1, 0, 300]
        );
    }

    #[test]
    fn extremes_round_trip() {
        let v = vec![i64::MIN, i64::MAX, 0, -1, i64::MIN, i64::MIN, i64::MAX];
        assert_eq!(unpack(&pack(&v), &String::new).unwrap(), v);
    }

    #[test]
    fn truncated_and_overlong_are_refused() {
        let what = || "row 7".to_string();
        let e = unpack(&[0x80], &what).unwrap_err().to_string();
        assert!(e.contains("row 7") && e.contains("end inside"), "{e}");
        let e = unpack(&[0xff; 11], &what).unwrap_err().to_string();
        assert!(e.contains("longer than 64 bits"), "{e}");
    }

    proptest! {
        #[test]
        fn round_trips(v in proptest::collection::vec(any::<i64>(), 0..200)) {
            prop_assert_eq!(unpack(&pack(&v), &String::new).unwrap(), v);
        }
    }
}
