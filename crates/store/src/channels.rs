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

/// A reporting index row as the store holds it, borrowed while a visitor runs
/// ([`crate::Store::channels_packed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRef<'a> {
    /// Leaf index of the upload.
    pub index: u64,
    /// The uploading device.
    pub device: &'a str,
    /// The upload's sequence number.
    pub seq: u64,
    /// Start of the first interval, Unix seconds UTC.
    pub start: i64,
    /// Interval length, seconds.
    pub interval_s: u32,
    /// Unit code of the values.
    pub unit: &'a str,
    /// Decimals of every value.
    pub decimals: u8,
    /// The values, packed by [`pack`].
    pub packed: &'a [u8],
}

impl ChannelRef<'_> {
    /// Names the row in errors.
    pub fn describe(&self, meter: &str) -> String {
        format!("reporting index row of meter {meter}, entry {}", self.index)
    }

    /// The row with its values unpacked.
    pub fn to_row(&self, meter: &str) -> Result<ChannelRow, StoreError> {
        Ok(ChannelRow {
            index: self.index,
            device: self.device.to_string(),
            seq: self.seq,
            meter: meter.to_string(),
            start: self.start,
            interval_s: self.interval_s,
            unit: self.unit.to_string(),
            decimals: self.decimals,
            values: unpack(self.packed, &|| self.describe(meter))?,
        })
    }
}

/// How [`pack`] lays values out; the store records it beside the index, and an index packed
/// otherwise is rebuilt from the log.
pub const PACKING: &str = "zigzag-delta-fixed-width";

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Packs values for the reporting index. Nothing for no values; otherwise one byte `w` (1, 2,
/// 4 or 8), the first value zig-zagged as a LEB128 varint, then the difference of each further
/// value to the one before it, zig-zagged, as a `w`-byte little-endian integer, `w` the
/// fewest bytes that hold the largest. Quarter-hour meter values change little, so `w` is
/// mostly 1 or 2; and a fixed width decodes without the chain of branches a varint per value
/// needs (reports unpack every value of a park-year).
pub fn pack(values: &[i64]) -> Vec<u8> {
    let Some((&first, rest)) = values.split_first() else {
        return Vec::new();
    };
    let mut prev = first;
    let deltas: Vec<u64> = rest
        .iter()
        .map(|&v| {
            let d = v.wrapping_sub(prev);
            prev = v;
            zigzag(d)
        })
        .collect();
    let w = match deltas.iter().copied().max().unwrap_or(0) {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 4,
        _ => 8,
    };
    let mut out = Vec::with_capacity(11 + deltas.len() * w);
    out.push(w as u8);
    let mut z = zigzag(first);
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
    for d in deltas {
        out.extend_from_slice(&d.to_le_bytes()[..w]);
    }
    out
}

/// The inverse of [`pack`]; `what` names the row in the error.
pub fn unpack(bytes: &[u8], what: &dyn Fn() -> String) -> Result<Vec<i64>, StoreError> {
    let mut out = Vec::new();
    unpack_into(bytes, &mut out, what)?;
    Ok(out)
}

/// [`unpack`], appending to `out`; on an error, `out` is unchanged.
pub fn unpack_into(
    bytes: &[u8],
    out: &mut Vec<i64>,
    what: &dyn Fn() -> String,
) -> Result<(), StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("{}: {why}", what()));
    let Some((&w, rest)) = bytes.split_first() else {
        return Ok(());
    };
    let w = usize::from(w);
    if !matches!(w, 1 | 2 | 4 | 8) {
        return Err(corrupt(&format!(
            "the packed values have width {w}, not 1, 2, 4 or 8"
        )));
    }
    // The first value.
    let mut z = 0u64;
    let mut used = None;
    for (i, &b) in rest.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return Err(corrupt("a packed value is longer than 64 bits"));
        }
        z |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            used = Some(i + 1);
            break;
        }
    }
    let Some(used) = used else {
        return Err(corrupt(if rest.len() >= 10 {
            "a packed value is longer than 64 bits"
        } else {
            "the packed values end inside a value"
        }));
    };
    let body = &rest[used..];
    if body.len() % w != 0 {
        return Err(corrupt("the packed values end inside a value"));
    }
    let mut prev = unzigzag(z);
    out.reserve(1 + body.len() / w);
    out.push(prev);
    let mut add = |z: u64| {
        prev = prev.wrapping_add(unzigzag(z));
        prev
    };
    match w {
        1 => out.extend(body.iter().map(|&b| add(u64::from(b)))),
        2 => out.extend(
            body.chunks_exact(2)
                .map(|c| add(u64::from(u16::from_le_bytes([c[0], c[1]])))),
        ),
        4 => out.extend(
            body.chunks_exact(4)
                .map(|c| add(u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))),
        ),
        _ => out.extend(
            body.chunks_exact(8)
                .map(|c| add(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))),
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        // 300 first: zigzag 600 = varint 0xd8 0x04; then +1 = zigzag 2, −1 = zigzag 1, and
        // +300 = zigzag 600: two bytes each, little-endian.
        let bytes = vec![2, 0xd8, 0x04, 2, 0, 1, 0, 0x58, 0x02];
        assert_eq!(pack(&[300, 301, 300, 600]), bytes);
        assert_eq!(
            unpack(&bytes, &String::new).unwrap(),
            vec![300, 301, 300, 600]
        );
        // Small differences take a byte each; one value is its varint alone; none is nothing.
        assert_eq!(pack(&[5, 6, 4]), vec![1, 10, 2, 3]);
        assert_eq!(pack(&[-1]), vec![1, 1]);
        assert!(pack(&[]).is_empty());
        assert!(unpack(&[], &String::new).unwrap().is_empty());
    }

    #[test]
    fn extremes_round_trip() {
        let v = vec![i64::MIN, i64::MAX, 0, -1, i64::MIN, i64::MIN, i64::MAX];
        assert_eq!(unpack(&pack(&v), &String::new).unwrap(), v);
    }

    #[test]
    fn truncated_and_overlong_are_refused() {
        let what = || "row 7".to_string();
        let e = unpack(&[1, 0x80], &what).unwrap_err().to_string();
        assert!(e.contains("row 7") && e.contains("end inside"), "{e}");
        let e = unpack(&[2, 0, 1], &what).unwrap_err().to_string();
        assert!(e.contains("end inside"), "{e}");
        let e = unpack(
            &[
                1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            &what,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("longer than 64 bits"), "{e}");
        let e = unpack(&[3, 0], &what).unwrap_err().to_string();
        assert!(e.contains("width 3"), "{e}");
    }

    proptest! {
        #[test]
        fn round_trips(v in proptest::collection::vec(any::<i64>(), 0..200)) {
            prop_assert_eq!(unpack(&pack(&v), &String::new).unwrap(), v);
        }

        #[test]
        fn round_trips_every_length(
            v in proptest::collection::vec((0u32..63).prop_flat_map(|b| -(1i64 << b)..(1i64 << b)), 0..200)
        ) {
            // Differences of every size, so values of 1 to 10 bytes meet at every offset.
            let mut acc = 0i64;
            let v: Vec<i64> = v.into_iter().map(|d| { acc = acc.wrapping_add(d); acc }).collect();
            prop_assert_eq!(unpack(&pack(&v), &String::new).unwrap(), v);
        }

        #[test]
        fn truncated_anywhere_is_refused_or_shorter(v in proptest::collection::vec(any::<i64>(), 1..50), cut in 0usize..1000) {
            let bytes = pack(&v);
            let cut = cut % bytes.len();
            // A prefix either ends on a value boundary (decodes to a prefix of the values) or
            // is refused; it never decodes to anything else.
            match unpack(&bytes[..cut], &String::new) {
                Ok(p) => prop_assert_eq!(&p[..], &v[..p.len()]),
                Err(e) => prop_assert!(e.to_string().contains("end inside")),
            }
        }
    }
}
