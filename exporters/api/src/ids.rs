//! Trace and span identifiers, as W3C Trace Context spells them.

use std::fmt;

/// A 16-byte trace id; all-zero is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub u128);

/// An 8-byte span id; all-zero is invalid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

/// The W3C trace flags byte; bit 0 is `sampled`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(pub u8);

impl TraceId {
    /// The invalid, all-zero id.
    pub const INVALID: TraceId = TraceId(0);

    /// Whether the id is not all zeros.
    pub fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// The 16 bytes, big-endian (as on the wire).
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Reads 32 lowercase hex digits; `None` for anything else (all-zero included).
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 32)
            .then(|| parse_lower_hex(hex.as_bytes()))
            .flatten()
            .map(TraceId)
            .filter(|id| id.is_valid())
    }
}

impl SpanId {
    /// The invalid, all-zero id.
    pub const INVALID: SpanId = SpanId(0);

    /// Whether the id is not all zeros.
    pub fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// The 8 bytes, big-endian (as on the wire).
    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }

    /// Reads 16 lowercase hex digits; `None` for anything else (all-zero included).
    pub fn from_hex(hex: &str) -> Option<Self> {
        (hex.len() == 16)
            .then(|| parse_lower_hex(hex.as_bytes()))
            .flatten()
            .map(|v| SpanId(v as u64))
            .filter(|id| id.is_valid())
    }
}

impl TraceFlags {
    /// Sampled: the caller may have recorded this trace.
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);

    /// Whether the sampled bit is set.
    pub fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// These flags with the sampled bit set or cleared.
    pub fn with_sampled(self, sampled: bool) -> Self {
        TraceFlags(if sampled {
            self.0 | 0x01
        } else {
            self.0 & !0x01
        })
    }
}

/// Parses up to 32 lowercase hex digits; uppercase and anything else is `None`.
pub fn parse_lower_hex(digits: &[u8]) -> Option<u128> {
    // Two halves of at most 16 digits each: 64-bit arithmetic, no branch per digit.
    let split = digits.len().saturating_sub(16);
    let (high, low) = digits.split_at(split);
    let shift = 4 * low.len();
    let (high, high_bad) = parse_u64(high);
    let (low, low_bad) = parse_u64(low);
    let high = u128::from(high) << shift;
    ((high_bad | low_bad) & INVALID == 0).then_some(high | u128::from(low))
}

/// The value of each byte as a lowercase hex digit, or [`INVALID`].
const DIGIT: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut d = 0;
    while d < 10 {
        table[b'0' as usize + d] = d as u8;
        d += 1;
    }
    let mut d = 0;
    while d < 6 {
        table[b'a' as usize + d] = 10 + d as u8;
        d += 1;
    }
    table
};
const INVALID: u8 = 0x80;

/// The value of `digits` (wrapping past 16), and the bits of every digit's table entry
/// or-ed together (holding [`INVALID`] if one was not a lowercase hex digit).
fn parse_u64(digits: &[u8]) -> (u64, u8) {
    let (mut value, mut seen) = (0u64, 0u8);
    for &d in digits {
        let nibble = DIGIT[d as usize];
        seen |= nibble;
        value = (value << 4) | u64::from(nibble & 0x0f);
    }
    (value, seen)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `value`'s low `out.len()` nibbles as lowercase hex, most significant first.
pub fn write_lower_hex(value: u128, out: &mut [u8]) {
    let split = out.len().saturating_sub(16);
    let (high, low) = out.split_at_mut(split);
    write_u64(value as u64, low);
    write_u64((value >> 64) as u64, high);
}

/// Writes `value`'s low `out.len()` (at most 16) nibbles, most significant first.
fn write_u64(mut value: u64, out: &mut [u8]) {
    for byte in out.iter_mut().rev() {
        *byte = HEX[(value & 0x0f) as usize];
        value >>= 4;
    }
}

macro_rules! hex_display {
    ($ty:ty, $digits:expr) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; $digits];
                write_lower_hex(self.0 as u128, &mut buf);
                // Hex digits are ASCII.
                f.write_str(std::str::from_utf8(&buf).unwrap_or_default())
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

hex_display!(TraceId, 32);
hex_display!(SpanId, 16);
hex_display!(TraceFlags, 2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_of_every_length_round_trips_and_any_other_byte_is_refused() {
        let value = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128;
        for len in 0..=32 {
            let mut out = vec![0u8; len];
            write_lower_hex(value, &mut out);
            let kept = if len == 32 {
                value
            } else {
                value & ((1u128 << (4 * len)) - 1)
            };
            assert_eq!(parse_lower_hex(&out), Some(kept), "{len} digits");
            let text = format!("{value:032x}");
            assert_eq!(out, text.as_bytes()[32 - len..], "{len} digits");
            for at in 0..len {
                for bad in [b'A', b'F', b'g', b'G', b'/', b':', b'`', b' ', 0, 0xff] {
                    let mut digits = out.clone();
                    digits[at] = bad;
                    assert_eq!(parse_lower_hex(&digits), None, "{bad} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn hex_round_trips_and_rejects_what_w3c_rejects() {
        let id = TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(TraceId::from_hex(&id.to_string()), Some(id));
        assert_eq!(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"), None);
        assert_eq!(TraceId::from_hex("00000000000000000000000000000000"), None);
        assert_eq!(TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e473"), None);
        assert_eq!(SpanId(0xf0).to_string(), "00000000000000f0");
        assert_eq!(
            SpanId::from_hex("00f067aa0ba902b7"),
            Some(SpanId(0x00f067aa0ba902b7))
        );
        assert_eq!(SpanId::from_hex("0000000000000000"), None);
        assert_eq!(SpanId::from_hex("00f067aa0ba902bg"), None);
        assert_eq!(TraceFlags(1).to_string(), "01");
        assert!(TraceFlags(0x03).is_sampled());
        assert_eq!(TraceFlags(0x03).with_sampled(false), TraceFlags(0x02));
    }
}
