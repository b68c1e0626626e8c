//! EBML variable-length integers: element ids (1-4 bytes, marker kept) and data sizes
//! (1-8 bytes, marker stripped, all-ones meaning "unknown").

/// A decoded element size: `None` is the EBML "unknown size" (all value bits set).
pub type Size = Option<u64>;

/// Result of decoding a vint from a prefix of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vint<T> {
    /// Decoded value and the number of bytes it took.
    Done(T, usize),
    /// The buffer ends before the vint does.
    Partial,
    /// Not a valid vint.
    Invalid,
}

/// Reads an element id: 1-4 bytes, the length marker kept as part of the value.
#[inline]
pub(crate) fn read_id(buf: &[u8]) -> Vint<u32> {
    let Some(&first) = buf.first() else {
        return Vint::Partial;
    };
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return Vint::Invalid;
    }
    if buf.len() < len {
        return Vint::Partial;
    }
    let id = buf[..len].iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    Vint::Done(id, len)
}

/// Reads a data size: 1-8 bytes, marker stripped; all value bits set means unknown.
#[inline]
pub(crate) fn read_size(buf: &[u8]) -> Vint<Size> {
    let Some(&first) = buf.first() else {
        return Vint::Partial;
    };
    if first == 0 {
        return Vint::Invalid;
    }
    let len = first.leading_zeros() as usize + 1;
    if buf.len() < len {
        return Vint::Partial;
    }
    let mask = (0xFFu16 >> len) as u8;
    let mut value = u64::from(first & mask);
    let mut all_ones = first & mask == mask;
    for &b in &buf[1..len] {
        value = (value << 8) | u64::from(b);
        all_ones &= b == 0xFF;
    }
    Vint::Done(if all_ones { None } else { Some(value) }, len)
}

/// Number of bytes an element id takes (ids carry their own length marker).
pub fn id_len(id: u32) -> usize {
    match id {
        0..=0xFF => 1,
        0x100..=0xFFFF => 2,
        0x1_0000..=0xFF_FFFF => 3,
        _ => 4,
    }
}

/// Appends an element id.
pub fn write_id(out: &mut Vec<u8>, id: u32) {
    let len = id_len(id);
    out.extend_from_slice(&id.to_be_bytes()[4 - len..]);
}

/// Smallest vint length that can hold `value` as a known size.
pub fn size_len(value: u64) -> usize {
    // A length-n vint holds 7n value bits, and the all-ones pattern is reserved.
    (1..=8).find(|&n| value < (1u64 << (7 * n)) - 1).unwrap_or(8)
}

/// Appends a known data size using exactly `len` bytes (1-8).
///
/// # Panics
/// If `value` does not fit in `len` bytes; callers size with [`size_len`].
pub fn write_size_with_len(out: &mut Vec<u8>, value: u64, len: usize) {
    assert!((1..=8).contains(&len) && value < (1u64 << (7 * len)) - 1);
    let marked = value | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// Appends a known data size in the fewest bytes.
pub fn write_size(out: &mut Vec<u8>, value: u64) {
    write_size_with_len(out, value, size_len(value));
}

/// The 8-byte unknown-size marker that KVS writes for Segments and Clusters.
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_marker() {
        assert_eq!(read_id(&[0x1A, 0x45, 0xDF, 0xA3]), Vint::Done(0x1A45_DFA3, 4));
        assert_eq!(read_id(&[0xA3]), Vint::Done(0xA3, 1));
        assert_eq!(read_id(&[0x1A, 0x45]), Vint::Partial);
        assert_eq!(read_id(&[0x08]), Vint::Invalid);
        assert_eq!(read_id(&[0x00]), Vint::Invalid);
    }

    #[test]
    fn sizes_strip_marker_and_know_unknown() {
        assert_eq!(read_size(&[0x81]), Vint::Done(Some(1), 1));
        assert_eq!(read_size(&[0x40, 0x02]), Vint::Done(Some(2), 2));
        assert_eq!(read_size(&[0xFF]), Vint::Done(None, 1));
        assert_eq!(read_size(&UNKNOWN_SIZE), Vint::Done(None, 8));
        assert_eq!(read_size(&[0x01, 0, 0, 0, 0, 0, 0, 0x23]), Vint::Done(Some(0x23), 8));
        assert_eq!(read_size(&[0x01, 0, 0]), Vint::Partial);
        assert_eq!(read_size(&[0x00]), Vint::Invalid);
    }

    #[test]
    fn written_sizes_read_back() {
        for value in [0, 1, 126, 127, 16_382, 16_383, 1 << 30, (1 << 56) - 2] {
            let mut out = Vec::new();
            write_size(&mut out, value);
            assert_eq!(read_size(&out), Vint::Done(Some(value), out.len()), "{value}");
        }
        let mut out = Vec::new();
        write_id(&mut out, 0x1F43_B675);
        assert_eq!(read_id(&out), Vint::Done(0x1F43_B675, 4));
    }
}
