//! Annex B byte streams: NAL units behind start codes (`00 00 01`, or `00 00 00 01`).
//! Splitting borrows from the input; writing always uses the 4-byte start code.
//! Length-prefixed (AVCC) buffers are [`avcc`](crate::avcc)'s.

/// The start code written before every NAL unit.
pub const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// The NAL units of an Annex B buffer, borrowed from it, in order.
///
/// Bytes before the first start code are not a NAL unit and are skipped; so are the zero
/// bytes that end a unit (`trailing_zero_8bits`, and the first byte of a 4-byte start
/// code), and units left empty by that. A NAL unit never ends in a zero byte (7.4.1), so
/// nothing of one is lost.
///
/// ```
/// let stream = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 0x88];
/// let nals: Vec<&[u8]> = kvs_h264::split_annex_b(&stream).collect();
/// assert_eq!(nals, [&[0x67, 0x42][..], &[0x68, 0xCE], &[0x65, 0x88]]);
/// ```
pub fn split_annex_b(data: &[u8]) -> AnnexBNals<'_> {
    let rest = match find_start_code(data) {
        Some(at) => &data[at + 3..],
        None => &[],
    };
    AnnexBNals { rest }
}

/// True when `data` begins with a start code (and so is taken for Annex B, not AVCC).
pub fn is_annex_b(data: &[u8]) -> bool {
    data.starts_with(&[0, 0, 1]) || data.starts_with(&START_CODE)
}

/// Appends the NAL units to `out`, each behind a 4-byte start code.
///
/// ```
/// let mut out = Vec::new();
/// kvs_h264::write_annex_b(&mut out, [&[0x67, 0x42][..], &[0x68, 0xCE]]);
/// assert_eq!(out, [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE]);
/// ```
pub fn write_annex_b<'a>(out: &mut Vec<u8>, nals: impl IntoIterator<Item = &'a [u8]>) {
    for nal in nals {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

/// Iterator over the NAL units of an Annex B buffer: see [`split_annex_b`].
#[derive(Debug, Clone)]
pub struct AnnexBNals<'a> {
    /// What follows the last start code found.
    rest: &'a [u8],
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while !self.rest.is_empty() {
            let (mut nal, rest) = match find_start_code(self.rest) {
                Some(at) => (&self.rest[..at], &self.rest[at + 3..]),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            while let [head @ .., 0] = nal {
                nal = head;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

impl std::iter::FusedIterator for AnnexBNals<'_> {}

/// The offset of the first `00 00 01` in `data`.
fn find_start_code(data: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(&[a, b, c]) = data.get(i..i + 3) {
        match c {
            // Neither this window nor the two after it (which hold `c` in a zero's place)
            // can be a start code.
            2.. => i += 3,
            1 if a == 0 && b == 0 => return Some(i),
            1 => i += 3,
            0 => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8]) -> Vec<&[u8]> {
        split_annex_b(data).collect()
    }

    #[test]
    fn three_and_four_byte_start_codes_split_alike() {
        let nals: [&[u8]; 3] = [&[0x67, 1], &[0x68, 2], &[0x65, 3, 0, 0, 3, 1]];
        assert_eq!(split(&[0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 3, 0, 0, 3, 1]), nals);
        let mut four = Vec::new();
        write_annex_b(&mut four, nals);
        assert_eq!(split(&four), nals);
    }

    #[test]
    fn leading_bytes_trailing_zeros_and_empty_units_are_skipped() {
        assert_eq!(
            split(&[9, 9, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0x41, 0, 0]),
            [&[0x09, 0xF0][..], &[0x41]]
        );
        assert!(split(&[]).is_empty());
        assert!(split(&[0, 0, 1]).is_empty());
        assert!(split(&[0x41, 0x9A, 0, 0, 2]).is_empty(), "no start code");
        assert_eq!(split(&[0, 0, 1, 1, 0, 0, 1, 2]), [&[1][..], &[2]]);
    }

    #[test]
    fn the_start_code_search_finds_every_position() {
        for len in 3..12 {
            for at in 0..=len - 3 {
                let mut data = vec![1u8; len];
                data[at..at + 3].copy_from_slice(&[0, 0, 1]);
                assert_eq!(find_start_code(&data), Some(at), "{data:?}");
                data[at + 2] = 2;
                assert_eq!(find_start_code(&data), None, "{data:?}");
            }
        }
        assert_eq!(find_start_code(&[1, 0, 0, 0, 0, 1]), Some(3));
        assert_eq!(find_start_code(&[0, 1, 0, 0, 1]), Some(2));
        assert!(is_annex_b(&[0, 0, 1, 5]) && is_annex_b(&[0, 0, 0, 1]) && !is_annex_b(&[0, 0, 0, 2]));
    }
}
