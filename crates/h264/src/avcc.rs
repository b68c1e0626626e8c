//! Length-prefixed NAL units ("AVCC", ISO/IEC 14496-15: what MP4 and Matroska store), and
//! conversion to and from Annex B. Splitting borrows from the input; a length that runs
//! past the buffer is an error, never a read past it.

use crate::Error;
use crate::annexb::{split_annex_b, write_annex_b};

/// The size of the length prefix of each NAL unit: 1, 2, 3 or 4 bytes (the configuration
/// record's `lengthSizeMinusOne + 1`; 3 is not allowed there, and accepted here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LengthSize(u8);

impl LengthSize {
    /// 4-byte lengths: what encoders write.
    pub const FOUR: Self = Self(4);

    /// A prefix of `bytes` bytes; [`Error::LengthSize`] unless 1 to 4.
    pub fn new(bytes: usize) -> Result<Self, Error> {
        match u8::try_from(bytes) {
            Ok(n @ 1..=4) => Ok(Self(n)),
            _ => Err(Error::LengthSize(bytes)),
        }
    }

    /// The prefix size in bytes.
    pub fn bytes(self) -> usize {
        usize::from(self.0)
    }

    /// The longest NAL unit a prefix of this size can say.
    pub fn max_len(self) -> u64 {
        (1u64 << (8 * u32::from(self.0))) - 1
    }
}

/// The NAL units of a length-prefixed buffer, borrowed from it, in order; an error (and
/// then nothing more) where a prefix is cut, says 0, or runs past the end.
///
/// ```
/// use kvs_h264::{Error, LengthSize, split_avcc};
/// let frame = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06];
/// let nals: Vec<&[u8]> = split_avcc(&frame, LengthSize::FOUR).collect::<Result<_, _>>()?;
/// assert_eq!(nals, [&[0x65, 0x88][..], &[0x06]]);
/// let cut = split_avcc(&frame[..9], LengthSize::FOUR).collect::<Result<Vec<_>, _>>();
/// assert_eq!(cut, Err(Error::PrefixTruncated { offset: 6 }));
/// # Ok::<(), Error>(())
/// ```
pub fn split_avcc(data: &[u8], length_size: LengthSize) -> AvccNals<'_> {
    AvccNals { data, offset: 0, length_size, failed: false }
}

/// Appends the NAL units to `out`, each behind its length; `out` is left as it was when
/// one is too long for `length_size` ([`Error::NalTooLong`]).
pub fn write_avcc<'a>(
    out: &mut Vec<u8>,
    nals: impl IntoIterator<Item = &'a [u8]>,
    length_size: LengthSize,
) -> Result<(), Error> {
    let start = out.len();
    for nal in nals {
        if nal.len() as u64 > length_size.max_len() {
            out.truncate(start);
            return Err(Error::NalTooLong { length: nal.len(), size: length_size.bytes() });
        }
        let length = (nal.len() as u64).to_be_bytes();
        out.extend_from_slice(&length[8 - length_size.bytes()..]);
        out.extend_from_slice(nal);
    }
    Ok(())
}

/// Appends the NAL units of a length-prefixed buffer to `out` as Annex B (4-byte start
/// codes); `out` is left as it was when `avcc` is malformed.
///
/// ```
/// use kvs_h264::{LengthSize, annex_b_to_avcc, avcc_to_annex_b};
/// let avcc = [0, 0, 0, 2, 0x65, 0x88, 0, 0, 0, 1, 0x06];
/// let mut annex_b = Vec::new();
/// avcc_to_annex_b(&avcc, LengthSize::FOUR, &mut annex_b)?;
/// assert_eq!(annex_b, [0, 0, 0, 1, 0x65, 0x88, 0, 0, 0, 1, 0x06]);
/// let mut back = Vec::new();
/// annex_b_to_avcc(&annex_b, LengthSize::FOUR, &mut back)?;
/// assert_eq!(back, avcc);
/// # Ok::<(), kvs_h264::Error>(())
/// ```
pub fn avcc_to_annex_b(avcc: &[u8], length_size: LengthSize, out: &mut Vec<u8>) -> Result<(), Error> {
    let start = out.len();
    out.reserve(avcc.len() + 4 * (avcc.len() / 64 + 1));
    for nal in split_avcc(avcc, length_size) {
        match nal {
            Ok(nal) => write_annex_b(out, [nal]),
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Appends the NAL units of an Annex B buffer (as [`split_annex_b`] finds them) to `out`,
/// length-prefixed; `out` is left as it was when one is too long for `length_size`.
pub fn annex_b_to_avcc(annex_b: &[u8], length_size: LengthSize, out: &mut Vec<u8>) -> Result<(), Error> {
    out.reserve(annex_b.len());
    write_avcc(out, split_annex_b(annex_b), length_size)
}

/// Iterator over the NAL units of a length-prefixed buffer: see [`split_avcc`].
#[derive(Debug, Clone)]
pub struct AvccNals<'a> {
    data: &'a [u8],
    offset: usize,
    length_size: LengthSize,
    /// Set after an error, so that nothing follows it.
    failed: bool,
}

impl<'a> AvccNals<'a> {
    fn read(&mut self) -> Result<&'a [u8], Error> {
        let offset = self.offset;
        let rest = &self.data[offset..];
        let size = self.length_size.bytes();
        let (prefix, body) = rest.split_at_checked(size).ok_or(Error::PrefixTruncated { offset })?;
        let length = prefix.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        if length == 0 {
            return Err(Error::EmptyNal { offset });
        }
        let nal = usize::try_from(length).ok().and_then(|n| body.get(..n)).ok_or(Error::NalOverrun {
            offset,
            length,
            available: body.len(),
        })?;
        self.offset = offset + size + nal.len();
        Ok(nal)
    }
}

impl<'a> Iterator for AvccNals<'a> {
    type Item = Result<&'a [u8], Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.data.len() {
            return None;
        }
        let nal = self.read();
        self.failed = nal.is_err();
        Some(nal)
    }
}

impl std::iter::FusedIterator for AvccNals<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8], size: usize) -> Result<Vec<&[u8]>, Error> {
        split_avcc(data, LengthSize::new(size).unwrap()).collect()
    }

    #[test]
    fn every_length_size_splits_and_writes_back() {
        let nals: [&[u8]; 3] = [&[0x67, 0x42, 0xC0], &[0x68], &[0x65; 300]];
        for size in [2, 3, 4] {
            let mut out = vec![0xAB];
            write_avcc(&mut out, nals, LengthSize::new(size).unwrap()).unwrap();
            assert_eq!(out.len(), 1 + 3 * size + 304);
            assert_eq!(split(&out[1..], size).unwrap(), nals, "{size}");
        }
        let mut one = Vec::new();
        assert_eq!(
            write_avcc(&mut one, nals, LengthSize::new(1).unwrap()),
            Err(Error::NalTooLong { length: 300, size: 1 })
        );
        assert!(one.is_empty(), "nothing written on error");
        assert_eq!(split(&[1, 9, 2, 0x41, 0x42], 1).unwrap(), [&[9][..], &[0x41, 0x42]]);
        assert!(split(&[], 4).unwrap().is_empty());
    }

    #[test]
    fn malformed_buffers_give_the_error_of_what_is_wrong() {
        assert_eq!(
            split(&[0, 0, 0, 9, 0x65], 4),
            Err(Error::NalOverrun { offset: 0, length: 9, available: 1 })
        );
        assert_eq!(split(&[0, 1, 0x65, 0, 0], 2), Err(Error::EmptyNal { offset: 3 }));
        assert_eq!(split(&[0, 1, 0x65, 0], 2), Err(Error::PrefixTruncated { offset: 3 }));
        assert_eq!(
            split(&[0xFF, 0xFF, 0xFF, 0xFF, 1], 4),
            Err(Error::NalOverrun { offset: 0, length: u64::from(u32::MAX), available: 1 })
        );
        for bad in [0, 5, usize::MAX] {
            assert_eq!(LengthSize::new(bad), Err(Error::LengthSize(bad)));
        }
        // After an error the iterator ends.
        let mut it = split_avcc(&[0, 0, 0, 0, 0, 0, 0, 1, 0x41], LengthSize::FOUR);
        assert_eq!(it.next(), Some(Err(Error::EmptyNal { offset: 0 })));
        assert_eq!(it.next(), None);
    }

    #[test]
    fn conversion_leaves_out_untouched_on_error() {
        let mut out = vec![7];
        assert!(avcc_to_annex_b(&[0, 0, 0, 1, 0x41, 0, 0, 0, 5], LengthSize::FOUR, &mut out).is_err());
        assert_eq!(out, [7]);
        let mut avcc = Vec::new();
        annex_b_to_avcc(
            &[0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0],
            LengthSize::new(2).unwrap(),
            &mut avcc,
        )
        .unwrap();
        assert_eq!(avcc, [0, 2, 0x67, 0x42, 0, 2, 0x68, 0xCE]);
    }
}
