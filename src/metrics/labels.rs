//! A series' label values, packed into one allocation.

use std::hash::{BuildHasher, Hasher};

/// Label values stored as `[len: u32 LE][bytes]...` in a single boxed slice.
///
/// One allocation per series instead of one per value keeps a labelled counter series
/// small, and comparing against the `&[&str]` a caller passes is a walk over bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LabelValues(Box<[u8]>);

const LEN: usize = size_of::<u32>();

impl LabelValues {
    /// Packs `values`. A value longer than `u32::MAX` bytes is cut at the last character
    /// boundary before that length, so every stored value is valid UTF-8.
    pub(crate) fn new(values: &[&str]) -> Self {
        let size = values.iter().map(|v| LEN + v.len()).sum();
        let mut packed = Vec::with_capacity(size);
        for value in values {
            let mut cut = value.len().min(u32::MAX as usize);
            while !value.is_char_boundary(cut) {
                cut -= 1;
            }
            packed.extend_from_slice(&(cut as u32).to_le_bytes());
            packed.extend_from_slice(&value.as_bytes()[..cut]);
        }
        LabelValues(packed.into_boxed_slice())
    }

    /// Whether these are exactly `values`, in order.
    #[inline]
    pub(crate) fn matches(&self, values: &[&str]) -> bool {
        let mut rest = &self.0[..];
        for value in values {
            let Some((len, tail)) = split_len(rest) else {
                return false;
            };
            let Some((stored, next)) = tail.split_at_checked(len) else {
                return false;
            };
            if len != value.len() || !same_bytes(stored, value.as_bytes()) {
                return false;
            }
            rest = next;
        }
        rest.is_empty()
    }

    /// Where the packed values start in memory.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    /// The values in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (len, tail) = split_len(rest)?;
            let (value, next) = tail.split_at_checked(len)?;
            rest = next;
            // SAFETY: `new` copied each value whole from a `&str`, or cut it at a character
            // boundary, and the bytes are never modified, so each is valid UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(value) })
        })
    }

    /// Heap bytes held by this value set.
    #[cfg(test)]
    pub(crate) fn heap_size(&self) -> usize {
        self.0.len()
    }
}

/// Whether `a` and `b`, of one length, hold the same bytes. Label values are short: up to
/// 16 bytes, two overlapping word loads from each compare them without calling `memcmp`
/// (a call that cost more than the rest of a labelled increment's lookup).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    debug_assert_eq!(len, b.len());
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default())
    };
    let half = |bytes: &[u8], at: usize| {
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or_default())
    };
    match len {
        0 => true,
        1..=3 => a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1],
        4..=7 => half(a, 0) == half(b, 0) && half(a, len - 4) == half(b, len - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8),
        _ => a == b,
    }
}

#[inline]
fn split_len(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let (len, tail) = bytes.split_first_chunk::<LEN>()?;
    Some((u32::from_le_bytes(*len) as usize, tail))
}

/// Hashes label values for a family's series map; the same values always give the same hash.
#[inline]
pub(crate) fn hash_values(state: &foldhash::fast::RandomState, values: &[&str]) -> u64 {
    let mut hasher = state.build_hasher();
    // foldhash mixes each write's length in, so value boundaries count without separators.
    for value in values {
        hasher.write(value.as_bytes());
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_matches_exactly() {
        let values = ["coder", "", "line\nbreak \"q\" \\ ünï"];
        let packed = LabelValues::new(&values);
        assert!(packed.matches(&values));
        assert_eq!(packed.iter().collect::<Vec<_>>(), values);
        assert!(!packed.matches(&values[..2]));
        assert!(!packed.matches(&["coder", "", "line"]));
        assert!(!packed.matches(&["coder", "", "line\nbreak \"q\" \\ ünï", "x"]));
        assert!(LabelValues::new(&[]).matches(&[]));
        assert_eq!(packed.heap_size(), 3 * 4 + 5 + values[2].len());
    }

    #[test]
    fn every_length_compares_every_byte() {
        for len in 0..40 {
            let value: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            let packed = LabelValues::new(&[&value]);
            assert!(packed.matches(&[&value]), "{len}");
            for at in 0..len {
                let mut other = value.clone().into_bytes();
                other[at] = b'Z';
                let other = String::from_utf8(other).unwrap();
                assert!(
                    !packed.matches(&[&other]),
                    "length {len}, byte {at} differs"
                );
            }
        }
    }

    #[test]
    fn hash_separates_value_boundaries() {
        let state = foldhash::fast::RandomState::default();
        assert_ne!(
            hash_values(&state, &["ab", "c"]),
            hash_values(&state, &["a", "bc"])
        );
        assert_eq!(
            hash_values(&state, &["a", "b"]),
            hash_values(&state, &["a", "b"])
        );
    }
}
