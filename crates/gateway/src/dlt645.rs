//! DL/T 645-2007 (multi-function watt-hour meter communication protocol): the frame codec.
//!
//! A frame is `68 A0..A5 68 C L DATA CS 16`: the address is six BCD bytes, lowest first
//! (meter `000000000001` is `01 00 00 00 00 00`); `C` the control code; `L` the data length;
//! every data byte is sent plus 33H; `CS` the sum modulo 256 of every byte from the first `68`
//! to the last data byte. A master may send `FE` bytes first to wake the meter's receiver, and
//! a meter may answer with them too. A read (`C = 11H`) carries the four data-identifier bytes
//! `DI0..DI3` (lowest first); the normal answer (`91H`, or `B1H` when more frames follow)
//! repeats them followed by the value; the abnormal answer (`D1H`) carries one error byte.
//! Energy values are `XXXXXX.XX` kWh: four BCD bytes, lowest first.
//!
//! Pure: no IO. [`decode_frame`] takes any bytes and never panics.

/// The read-data control code (master → meter).
pub const CONTROL_READ: u8 = 0x11;
/// A normal answer to a read, no follow-up frame.
pub const CONTROL_READ_OK: u8 = 0x91;
/// A normal answer to a read with a follow-up frame.
pub const CONTROL_READ_OK_MORE: u8 = 0xB1;
/// An abnormal answer to a read.
pub const CONTROL_READ_ERROR: u8 = 0xD1;

/// Forward (imported) active energy, total: DI 00 01 00 00.
pub const DI_FORWARD_ACTIVE_TOTAL: DataId = DataId(0x0001_0000);
/// Reverse (exported) active energy, total: DI 00 02 00 00.
pub const DI_REVERSE_ACTIVE_TOTAL: DataId = DataId(0x0002_0000);

/// The wake-up preamble a master sends before a frame.
pub const PREAMBLE: [u8; 4] = [0xFE; 4];

/// What is wrong with bytes read from a DL/T 645 meter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Dlt645Error {
    /// Not enough bytes yet for a whole frame.
    #[error("DL/T 645 frame incomplete: {have} bytes, at least {need} needed")]
    Incomplete {
        /// Bytes at hand.
        have: usize,
        /// Bytes needed (at least).
        need: usize,
    },
    /// The bytes are not a frame.
    #[error("DL/T 645 frame malformed at byte {at}: {what}")]
    Malformed {
        /// Offset of the offending byte.
        at: usize,
        /// What was expected there.
        what: &'static str,
    },
    /// The checksum does not match.
    #[error("DL/T 645 frame checksum {found:02X}H, computed {computed:02X}H")]
    Checksum {
        /// The frame's CS byte.
        found: u8,
        /// The sum of the frame's bytes.
        computed: u8,
    },
    /// A value byte is not two BCD digits.
    #[error("DL/T 645 value byte {byte:02X}H is not BCD")]
    NotBcd {
        /// The byte (after removing 33H).
        byte: u8,
    },
    /// The meter answered with an error byte.
    #[error("meter {address} refused to read DI {di}: {}", describe_error(*.code))]
    Refused {
        /// The meter's address.
        address: Address,
        /// The data identifier asked for.
        di: DataId,
        /// The error byte (bit 1: no such data; bit 2: password/authority; …).
        code: u8,
    },
    /// The answer is not to the request made.
    #[error("meter answer does not match the request: {what}")]
    Mismatch {
        /// What differs.
        what: String,
    },
    /// A meter address that is not 12 decimal digits.
    #[error("DL/T 645 address {text:?} is not 12 decimal digits")]
    BadAddress {
        /// The text given.
        text: String,
    },
    /// A data identifier that is not 8 hex digits.
    #[error("DL/T 645 data identifier {text:?} is not 8 hex digits (e.g. 00010000)")]
    BadDataId {
        /// The text given.
        text: String,
    },
}

fn describe_error(code: u8) -> String {
    let names = [
        "other error",
        "no such data",
        "password or authority error",
        "baud rate cannot change",
        "too many annual time zones",
        "too many daily periods",
        "too many tariffs",
        "reserved",
    ];
    let set: Vec<&str> = (0..8)
        .filter(|b| code & (1 << b) != 0)
        .map(|b| names[b])
        .collect();
    format!("error byte {code:02X}H ({})", set.join(", "))
}

/// A meter address: 12 BCD digits, as printed on the meter's plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(pub [u8; 6]);

impl Address {
    /// The broadcast/wildcard address `AAAAAAAAAAAA` (answered by the one meter on a line).
    pub const WILDCARD: Address = Address([0xAA; 6]);

    /// Parses 12 decimal digits (most significant first, as on the plate), or
    /// `AAAAAAAAAAAA`.
    pub fn parse(text: &str) -> Result<Address, Dlt645Error> {
        let bad = || Dlt645Error::BadAddress { text: text.into() };
        if text.eq_ignore_ascii_case("AAAAAAAAAAAA") {
            return Ok(Address::WILDCARD);
        }
        let digits = text.as_bytes();
        if digits.len() != 12 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let mut a = [0u8; 6];
        for (i, pair) in digits.chunks(2).enumerate() {
            // Most significant pair first in the text, last on the wire.
            a[5 - i] = ((pair[0] - b'0') << 4) | (pair[1] - b'0');
        }
        Ok(Address(a))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0.iter().rev() {
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// A data identifier `DI3 DI2 DI1 DI0`, written as 8 hex digits (`00010000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataId(pub u32);

impl DataId {
    /// Parses 8 hex digits, `DI3` first.
    pub fn parse(text: &str) -> Result<DataId, Dlt645Error> {
        if text.len() != 8 {
            return Err(Dlt645Error::BadDataId { text: text.into() });
        }
        u32::from_str_radix(text, 16)
            .map(DataId)
            .map_err(|_| Dlt645Error::BadDataId { text: text.into() })
    }

    /// Forward active energy of tariff `t` (1 = 尖 sharp, 2 = 峰 peak, 3 = 平 flat, 4 = 谷
    /// valley): DI 00 01 0t 00.
    pub const fn forward_active_tariff(t: u8) -> DataId {
        DataId(0x0001_0000 | ((t as u32) << 8))
    }

    fn wire(self) -> [u8; 4] {
        self.0.to_le_bytes()
    }
}

impl std::fmt::Display for DataId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08X}", self.0)
    }
}

/// One frame, its data bytes with 33H already removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The meter's address.
    pub address: Address,
    /// The control code.
    pub control: u8,
    /// The data bytes (without the 33H offset), at most 255.
    pub data: Vec<u8>,
}

fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b))
}

impl Frame {
    /// The frame's bytes, without preamble. Data beyond 255 bytes cannot be framed and is cut.
    pub fn encode(&self) -> Vec<u8> {
        let data = &self.data[..self.data.len().min(255)];
        let mut v = Vec::with_capacity(12 + data.len());
        v.push(0x68);
        v.extend_from_slice(&self.address.0);
        v.push(0x68);
        v.push(self.control);
        v.push(data.len() as u8);
        v.extend(data.iter().map(|b| b.wrapping_add(0x33)));
        v.push(checksum(&v));
        v.push(0x16);
        v
    }
}

/// The bytes a master sends to read `di` from the meter at `address`: the `FE` preamble and
/// the read frame.
pub fn read_request(address: Address, di: DataId) -> Vec<u8> {
    let mut v = PREAMBLE.to_vec();
    v.extend(
        Frame {
            address,
            control: CONTROL_READ,
            data: di.wire().to_vec(),
        }
        .encode(),
    );
    v
}

/// Decodes the first frame in `bytes`, skipping any `FE` preamble. Returns the frame and the
/// number of bytes it used (preamble included). Never panics, whatever the bytes.
pub fn decode_frame(bytes: &[u8]) -> Result<(Frame, usize), Dlt645Error> {
    let start = bytes.iter().take_while(|b| **b == 0xFE).count();
    let b = &bytes[start..];
    let incomplete = |need: usize| Dlt645Error::Incomplete {
        have: bytes.len(),
        need: start + need,
    };
    if b.len() < 10 {
        return Err(incomplete(12));
    }
    if b[0] != 0x68 {
        return Err(Dlt645Error::Malformed {
            at: start,
            what: "start byte 68H",
        });
    }
    if b[7] != 0x68 {
        return Err(Dlt645Error::Malformed {
            at: start + 7,
            what: "second start byte 68H",
        });
    }
    let len = usize::from(b[9]);
    let total = 12 + len;
    if b.len() < total {
        return Err(incomplete(total));
    }
    let computed = checksum(&b[..10 + len]);
    if b[10 + len] != computed {
        return Err(Dlt645Error::Checksum {
            found: b[10 + len],
            computed,
        });
    }
    if b[11 + len] != 0x16 {
        return Err(Dlt645Error::Malformed {
            at: start + 11 + len,
            what: "end byte 16H",
        });
    }
    let mut address = [0u8; 6];
    address.copy_from_slice(&b[1..7]);
    let frame = Frame {
        address: Address(address),
        control: b[8],
        data: b[10..10 + len]
            .iter()
            .map(|x| x.wrapping_sub(0x33))
            .collect(),
    };
    Ok((frame, start + total))
}

/// Decodes BCD bytes, lowest byte first, into an integer (`67 45 23 01` → 1234567).
pub fn bcd_to_u64(bytes: &[u8]) -> Result<u64, Dlt645Error> {
    let mut v: u64 = 0;
    for &byte in bytes.iter().rev() {
        let (hi, lo) = (byte >> 4, byte & 0x0F);
        if hi > 9 || lo > 9 {
            return Err(Dlt645Error::NotBcd { byte });
        }
        v = v
            .checked_mul(100)
            .and_then(|v| v.checked_add(u64::from(hi) * 10 + u64::from(lo)))
            .ok_or(Dlt645Error::NotBcd { byte })?;
    }
    Ok(v)
}

/// Encodes `value` as `n` BCD bytes, lowest first; `None` if it does not fit.
pub fn u64_to_bcd(mut value: u64, n: usize) -> Option<Vec<u8>> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let pair = (value % 100) as u8;
        v.push(((pair / 10) << 4) | (pair % 10));
        value /= 100;
    }
    (value == 0).then_some(v)
}

/// Parses the meter's answer to a read of `di` from `address`: the energy values in
/// hundredths of a kWh (`XXXXXX.XX`), one for a single identifier, several for a block
/// (`DI1 = FF`: total, then each tariff).
pub fn parse_energy_answer(
    frame: &Frame,
    address: Address,
    di: DataId,
) -> Result<Vec<u64>, Dlt645Error> {
    if address != Address::WILDCARD && frame.address != address {
        return Err(Dlt645Error::Mismatch {
            what: format!("answer from meter {}, asked {address}", frame.address),
        });
    }
    match frame.control {
        CONTROL_READ_ERROR => {
            let code = frame.data.first().copied().unwrap_or(0);
            return Err(Dlt645Error::Refused {
                address: frame.address,
                di,
                code,
            });
        }
        CONTROL_READ_OK | CONTROL_READ_OK_MORE => {}
        other => {
            return Err(Dlt645Error::Mismatch {
                what: format!(
                    "control code {other:02X}H is not an answer to a read (91H, B1H or D1H)"
                ),
            })
        }
    }
    let (ident, values) = frame
        .data
        .split_at_checked(4)
        .ok_or(Dlt645Error::Mismatch {
            what: format!("{} data bytes, no data identifier", frame.data.len()),
        })?;
    if ident != di.wire() {
        return Err(Dlt645Error::Mismatch {
            what: format!(
                "answer for DI {:02X}{:02X}{:02X}{:02X}, asked {di}",
                ident[3], ident[2], ident[1], ident[0]
            ),
        });
    }
    if values.is_empty() || values.len() % 4 != 0 {
        return Err(Dlt645Error::Mismatch {
            what: format!(
                "{} value bytes; energy values are 4 bytes each",
                values.len()
            ),
        });
    }
    values.chunks(4).map(bcd_to_u64).collect()
}

/// The answer a meter gives to a read of `di` with `values` (hundredths of a kWh): what the
/// tests' simulated meters send.
pub fn energy_answer(address: Address, di: DataId, values: &[u64]) -> Option<Frame> {
    let mut data = di.wire().to_vec();
    for v in values {
        data.extend(u64_to_bcd(*v, 4)?);
    }
    Some(Frame {
        address,
        control: CONTROL_READ_OK,
        data,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// The read of forward active energy total (DI 00 01 00 00) from meter 000000000001, as
    /// DL/T 645-2007's examples and meter manuals give it:
    /// `68 01 00 00 00 00 00 68 11 04 33 33 34 33 B3 16`.
    #[test]
    fn read_request_of_the_standard_example() {
        let addr = Address::parse("000000000001").unwrap();
        assert_eq!(
            read_request(addr, DI_FORWARD_ACTIVE_TOTAL),
            hex("FE FE FE FE 68 01 00 00 00 00 00 68 11 04 33 33 34 33 B3 16")
        );
        let plate = Address::parse("123456789012").unwrap();
        assert_eq!(plate.0, [0x12, 0x90, 0x78, 0x56, 0x34, 0x12]);
        assert_eq!(plate.to_string(), "123456789012");
        // Tariff 1 (sharp) forward active: DI 00 01 01 00 → data 33 34 34 33.
        let req = read_request(addr, DataId::forward_active_tariff(1));
        assert_eq!(&req[14..18], &hex("33 34 34 33")[..]);
    }

    /// A meter's answer: 12345.67 kWh is BCD 67 45 23 01, sent plus 33H as 9A 78 56 34;
    /// CS = D3H (the sum of 68 01 00 00 00 00 00 68 91 08 33 33 34 33 9A 78 56 34 mod 256).
    #[test]
    fn answer_of_the_standard_form() {
        let bytes = hex("FE FE 68 01 00 00 00 00 00 68 91 08 33 33 34 33 9A 78 56 34 D3 16");
        let (frame, used) = decode_frame(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        let addr = Address::parse("000000000001").unwrap();
        assert_eq!(
            parse_energy_answer(&frame, addr, DI_FORWARD_ACTIVE_TOTAL).unwrap(),
            vec![1_234_567]
        );
        let built = energy_answer(addr, DI_FORWARD_ACTIVE_TOTAL, &[1_234_567]).unwrap();
        assert_eq!(built.encode(), bytes[2..].to_vec());
    }

    #[test]
    fn abnormal_answer_names_the_error() {
        // D1H, one byte: 02H (no such data) + 33H = 35H.
        let bytes = hex("68 01 00 00 00 00 00 68 D1 01 35 D8 16");
        let (frame, _) = decode_frame(&bytes).unwrap();
        let addr = Address::parse("000000000001").unwrap();
        let err = parse_energy_answer(&frame, addr, DI_FORWARD_ACTIVE_TOTAL).unwrap_err();
        assert_eq!(
            err.to_string(),
            "meter 000000000001 refused to read DI 00010000: error byte 02H (no such data)"
        );
    }

    #[test]
    fn bad_frames_are_named() {
        let good = hex("68 01 00 00 00 00 00 68 91 08 33 33 34 33 9A 78 56 34 D3 16");
        let mut bad_cs = good.clone();
        bad_cs[18] = 0xD4;
        assert_eq!(
            decode_frame(&bad_cs).unwrap_err(),
            Dlt645Error::Checksum {
                found: 0xD4,
                computed: 0xD3
            }
        );
        assert!(matches!(
            decode_frame(&good[..15]),
            Err(Dlt645Error::Incomplete { need: 20, .. })
        ));
        let (frame, _) = decode_frame(&good).unwrap();
        let other = Address::parse("000000000002").unwrap();
        assert!(matches!(
            parse_energy_answer(&frame, other, DI_FORWARD_ACTIVE_TOTAL),
            Err(Dlt645Error::Mismatch { .. })
        ));
        assert!(matches!(
            parse_energy_answer(&frame, frame.address, DI_REVERSE_ACTIVE_TOTAL),
            Err(Dlt645Error::Mismatch { .. })
        ));
        assert!(matches!(
            bcd_to_u64(&[0x1A]),
            Err(Dlt645Error::NotBcd { byte: 0x1A })
        ));
        assert!(Address::parse("12345").is_err());
        assert!(DataId::parse("0001000G").is_err());
    }

    #[test]
    fn block_read_gives_total_and_tariffs() {
        let addr = Address::parse("000000000001").unwrap();
        let block = DataId::parse("0001FF00").unwrap();
        let vals = [1000, 100, 200, 300, 400];
        let frame = energy_answer(addr, block, &vals).unwrap();
        let (back, _) = decode_frame(&frame.encode()).unwrap();
        assert_eq!(parse_energy_answer(&back, addr, block).unwrap(), vals);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok((frame, used)) = decode_frame(&bytes) {
                prop_assert!(used <= bytes.len());
                let _ = parse_energy_answer(&frame, frame.address, DI_FORWARD_ACTIVE_TOTAL);
            }
        }

        #[test]
        fn frames_round_trip(addr in any::<[u8; 6]>(), control in any::<u8>(),
                             data in proptest::collection::vec(any::<u8>(), 0..=255),
                             preamble in 0usize..5) {
            let frame = Frame { address: Address(addr), control, data };
            let mut bytes = vec![0xFE; preamble];
            bytes.extend(frame.encode());
            let (back, used) = decode_frame(&bytes).unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(back, frame);
        }

        #[test]
        fn energy_values_round_trip(values in proptest::collection::vec(0u64..100_000_000, 1..6)) {
            let addr = Address::parse("000000000001").unwrap();
            let di = DataId(0x0001_FF00);
            let frame = energy_answer(addr, di, &values).unwrap();
            let (back, _) = decode_frame(&frame.encode()).unwrap();
            prop_assert_eq!(parse_energy_answer(&back, addr, di).unwrap(), values);
        }
    }
}
