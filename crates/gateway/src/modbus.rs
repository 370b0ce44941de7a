//! Modbus register values: which registers a value spans and how their words make a number.
//!
//! Modbus carries 16-bit registers; a meter's 32- and 64-bit values span two or four of them,
//! high word first ("big", ABCD, the Modbus convention) or low word first ("little", CDAB,
//! common in inverters and power analysers). Pure: the transport (`tokio-modbus`, TCP or RTU)
//! is in [`crate::meter`].

use serde::Deserialize;

/// The type of a register value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// Unsigned 16-bit, one register.
    U16,
    /// Signed 16-bit, one register.
    I16,
    /// Unsigned 32-bit, two registers.
    U32,
    /// Signed 32-bit, two registers.
    I32,
    /// Unsigned 64-bit, four registers.
    U64,
    /// Signed 64-bit, four registers.
    I64,
    /// IEEE 754 single precision, two registers.
    F32,
    /// IEEE 754 double precision, four registers.
    F64,
}

impl ValueType {
    /// How many 16-bit registers the value spans.
    pub const fn registers(self) -> u16 {
        match self {
            ValueType::U16 | ValueType::I16 => 1,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 2,
            ValueType::U64 | ValueType::I64 | ValueType::F64 => 4,
        }
    }
}

/// The order of the 16-bit words of a multi-register value (bytes within a word are always
/// big-endian, as Modbus sends them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WordOrder {
    /// High word first (ABCD).
    #[default]
    Big,
    /// Low word first (CDAB).
    Little,
}

/// Holding (function 03) or input (function 04) registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterKind {
    /// Holding registers, read with function code 03.
    #[default]
    Holding,
    /// Input registers, read with function code 04.
    Input,
}

/// A decoded register value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue {
    /// An integer register.
    Int(i128),
    /// A floating-point register.
    Float(f64),
}

/// The registers do not make a value of the type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{found} registers read for a {ty:?} value, which spans {expected}")]
pub struct WordCountError {
    /// The type asked for.
    pub ty: ValueType,
    /// Registers it spans.
    pub expected: u16,
    /// Registers given.
    pub found: usize,
}

/// Decodes `words` (as read, lowest address first) as a value of type `ty`.
pub fn decode(words: &[u16], ty: ValueType, order: WordOrder) -> Result<RawValue, WordCountError> {
    let expected = ty.registers();
    if words.len() != usize::from(expected) {
        return Err(WordCountError {
            ty,
            expected,
            found: words.len(),
        });
    }
    // Most significant word first.
    let mut bits: u64 = 0;
    let mut push = |w: u16| bits = (bits << 16) | u64::from(w);
    match order {
        WordOrder::Big => words.iter().copied().for_each(&mut push),
        WordOrder::Little => words.iter().rev().copied().for_each(&mut push),
    }
    Ok(match ty {
        ValueType::U16 => RawValue::Int(i128::from(bits as u16)),
        ValueType::I16 => RawValue::Int(i128::from(bits as u16 as i16)),
        ValueType::U32 => RawValue::Int(i128::from(bits as u32)),
        ValueType::I32 => RawValue::Int(i128::from(bits as u32 as i32)),
        ValueType::U64 => RawValue::Int(i128::from(bits)),
        ValueType::I64 => RawValue::Int(i128::from(bits as i64)),
        ValueType::F32 => RawValue::Float(f64::from(f32::from_bits(bits as u32))),
        ValueType::F64 => RawValue::Float(f64::from_bits(bits)),
    })
}

/// The registers holding `value` as type `ty` in `order`: what the tests' simulated meters
/// serve. Integers are truncated to the type's width.
pub fn encode(value: RawValue, ty: ValueType, order: WordOrder) -> Vec<u16> {
    let bits: u64 = match (value, ty) {
        (RawValue::Float(f), ValueType::F32) => u64::from((f as f32).to_bits()),
        (RawValue::Float(f), ValueType::F64) => f.to_bits(),
        (RawValue::Float(f), _) => f as i64 as u64,
        (RawValue::Int(i), ValueType::F32) => u64::from((i as f32).to_bits()),
        (RawValue::Int(i), ValueType::F64) => (i as f64).to_bits(),
        (RawValue::Int(i), _) => i as u64,
    };
    let n = usize::from(ty.registers());
    let mut words: Vec<u16> = (0..n).rev().map(|k| (bits >> (16 * k)) as u16).collect();
    if order == WordOrder::Little {
        words.reverse();
    }
    words
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_word_orders() {
        // 0x12345678 = 305419896: big order 1234 5678, little order 5678 1234.
        assert_eq!(
            decode(&[0x1234, 0x5678], ValueType::U32, WordOrder::Big).unwrap(),
            RawValue::Int(305_419_896)
        );
        assert_eq!(
            decode(&[0x5678, 0x1234], ValueType::U32, WordOrder::Little).unwrap(),
            RawValue::Int(305_419_896)
        );
        assert_eq!(
            decode(&[0xFFFF, 0xFFFE], ValueType::I32, WordOrder::Big).unwrap(),
            RawValue::Int(-2)
        );
        assert_eq!(
            decode(&[0xFF38], ValueType::I16, WordOrder::Big).unwrap(),
            RawValue::Int(-200)
        );
        // 64-bit Wh counter 0x0000_0001_0000_0002 = 4294967298.
        assert_eq!(
            decode(&[2, 0, 1, 0], ValueType::U64, WordOrder::Little).unwrap(),
            RawValue::Int(4_294_967_298)
        );
        assert_eq!(
            decode(&[0xFFFF; 4], ValueType::I64, WordOrder::Big).unwrap(),
            RawValue::Int(-1)
        );
    }

    #[test]
    fn floats() {
        // 123.5 as IEEE 754 single: 0x42F70000.
        assert_eq!(
            decode(&[0x42F7, 0x0000], ValueType::F32, WordOrder::Big).unwrap(),
            RawValue::Float(123.5)
        );
        assert_eq!(
            decode(&[0x0000, 0x42F7], ValueType::F32, WordOrder::Little).unwrap(),
            RawValue::Float(123.5)
        );
        // 1.0 as double: 0x3FF0_0000_0000_0000.
        assert_eq!(
            decode(&[0x3FF0, 0, 0, 0], ValueType::F64, WordOrder::Big).unwrap(),
            RawValue::Float(1.0)
        );
    }

    #[test]
    fn wrong_word_count_is_named() {
        let err = decode(&[1], ValueType::U32, WordOrder::Big).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1 registers read for a U32 value, which spans 2"
        );
    }

    proptest! {
        #[test]
        fn integers_round_trip(v in any::<u32>(), little in any::<bool>()) {
            let order = if little { WordOrder::Little } else { WordOrder::Big };
            let words = encode(RawValue::Int(i128::from(v)), ValueType::U32, order);
            prop_assert_eq!(decode(&words, ValueType::U32, order).unwrap(), RawValue::Int(i128::from(v)));
        }

        #[test]
        fn i64_round_trip(v in any::<i64>(), little in any::<bool>()) {
            let order = if little { WordOrder::Little } else { WordOrder::Big };
            let words = encode(RawValue::Int(i128::from(v)), ValueType::I64, order);
            prop_assert_eq!(decode(&words, ValueType::I64, order).unwrap(), RawValue::Int(i128::from(v)));
        }
    }
}
