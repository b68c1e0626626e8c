//! Inside a NAL unit: emulation prevention (7.4.1), removed to get the RBSP and put back
//! to write one, and the bit reader of RBSP syntax (`u(n)`, `ue(v)`, `se(v)`, 7.2 and 9.1).

use crate::Error;

/// Removes the emulation prevention bytes of a NAL unit payload (the `03` of every
/// `00 00 03`), giving its RBSP.
///
/// ```
/// assert_eq!(kvs_h264::unescape(&[0x42, 0, 0, 3, 1, 0, 0, 3]), [0x42, 0, 0, 1, 0, 0]);
/// ```
pub fn unescape(nal_payload: &[u8]) -> Vec<u8> {
    let mut rbsp = Vec::with_capacity(nal_payload.len());
    let mut zeros = 0;
    for &b in nal_payload {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    rbsp
}

/// The inverse of [`unescape`]: puts a `03` after every two zero bytes followed by a byte
/// of 3 or less, and after two trailing zeros. `unescape(&escape(x)) == x` for any bytes,
/// and `escape(&unescape(nal)) == nal` for a conforming NAL unit payload.
///
/// ```
/// assert_eq!(kvs_h264::escape(&[0x42, 0, 0, 1, 0, 0]), [0x42, 0, 0, 3, 1, 0, 0, 3]);
/// ```
pub fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    if zeros >= 2 {
        out.push(3);
    }
    out
}

/// Reads RBSP syntax elements, most significant bit first; reading past the end is
/// [`Error::EndOfBitstream`], never a panic.
///
/// ```
/// use kvs_h264::BitReader;
/// // 1 (ue 0), 010 (ue 1), 011 (se -1), 00100 (ue 3), then 1 bit.
/// let mut r = BitReader::new(&[0b1010_0110, 0b0100_1000]);
/// assert_eq!((r.ue()?, r.ue()?, r.se()?, r.ue()?), (0, 1, -1, 3));
/// assert_eq!((r.position(), r.flag()?, r.bits(8)), (12, true, Err(kvs_h264::Error::EndOfBitstream)));
/// # Ok::<(), kvs_h264::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Bits read so far.
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `rbsp` (emulation prevention already removed).
    pub fn new(rbsp: &'a [u8]) -> Self {
        Self { data: rbsp, pos: 0 }
    }

    /// Bits read so far: the position of the next bit.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bits left to read.
    pub fn remaining(&self) -> usize {
        self.data.len() * 8 - self.pos
    }

    /// One bit.
    pub fn bit(&mut self) -> Result<u32, Error> {
        let byte = *self.data.get(self.pos / 8).ok_or(Error::EndOfBitstream)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(bit))
    }

    /// One bit, as a flag.
    pub fn flag(&mut self) -> Result<bool, Error> {
        Ok(self.bit()? == 1)
    }

    /// `u(n)`: `n` bits (0 to 32), unsigned; [`Error::OutOfRange`] for more than 32.
    pub fn bits(&mut self, n: u32) -> Result<u32, Error> {
        if n > 32 {
            return Err(Error::OutOfRange { field: "bit count", value: i64::from(n) });
        }
        if self.remaining() < n as usize {
            return Err(Error::EndOfBitstream);
        }
        (0..n).try_fold(0u32, |acc, _| Ok(acc << 1 | self.bit()?))
    }

    /// `ue(v)`: an unsigned Exp-Golomb code; [`Error::ExpGolombTooLong`] past 32 bits of value.
    pub fn ue(&mut self) -> Result<u32, Error> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(Error::ExpGolombTooLong);
            }
        }
        // At most 2^31 - 1 + 2^31 - 1: fits.
        Ok((1u32 << zeros) - 1 + self.bits(zeros)?)
    }

    /// `se(v)`: a signed Exp-Golomb code.
    pub fn se(&mut self) -> Result<i32, Error> {
        let k = self.ue()?;
        // k <= 2^32 - 2, so the magnitude is at most 2^31 - 1.
        let magnitude = k.div_ceil(2) as i32;
        Ok(if k % 2 == 1 { magnitude } else { -magnitude })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_codes_read_at_their_limits() {
        // 31 zeros, a one, 31 ones: the largest ue, 2^32 - 2.
        let mut bits = vec![0u8; 3];
        bits.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFE]);
        assert_eq!(BitReader::new(&bits).ue(), Ok(u32::MAX - 1));
        assert_eq!(BitReader::new(&bits).se(), Ok(-(i32::MAX)));
        assert_eq!(BitReader::new(&[0, 0, 0, 0, 0x80]).ue(), Err(Error::ExpGolombTooLong));
        assert_eq!(BitReader::new(&[0, 0x80]).ue(), Err(Error::EndOfBitstream), "value bits missing");
        assert_eq!(BitReader::new(&[]).flag(), Err(Error::EndOfBitstream));
        let mut r = BitReader::new(&[0xAB, 0xCD, 0xEF, 0x12, 0x34]);
        assert_eq!(r.bits(0), Ok(0));
        assert_eq!(r.bits(33), Err(Error::OutOfRange { field: "bit count", value: 33 }));
        assert_eq!(r.bits(32), Ok(0xABCD_EF12));
        assert_eq!((r.remaining(), r.bits(9)), (8, Err(Error::EndOfBitstream)));
        assert_eq!(r.bits(8), Ok(0x34), "a failed read consumes nothing");
    }

    #[test]
    fn exp_golomb_codes_read_back_as_written() {
        let unsigned = [0, 1, 2, 3, 7, 8, 255, 65_535, 1 << 20, u32::MAX - 1];
        let signed = [0, 1, -1, 2, -2, 127, -128, 1 << 24, -(1 << 24), i32::MAX, -i32::MAX];
        let mut w = crate::testing::BitWriter::default();
        unsigned.iter().for_each(|&v| _ = w.ue(v));
        signed.iter().for_each(|&v| _ = w.se(v));
        let nal = w.nal(0x67);
        let rbsp = unescape(&nal[1..]);
        let mut r = BitReader::new(&rbsp);
        assert_eq!(unsigned.map(|_| r.ue().unwrap()), unsigned);
        assert_eq!(signed.map(|_| r.se().unwrap()), signed);
        assert_eq!((r.flag(), r.remaining() < 8), (Ok(true), true), "the stop bit");
    }

    #[test]
    fn escape_inverts_unescape() {
        // Every sequence of up to 6 bytes drawn from 0, 1, 3 and 4.
        for len in 0..=6u32 {
            for n in 0..4usize.pow(len) {
                let rbsp: Vec<u8> = (0..len).map(|i| [0, 1, 3, 4][n / 4usize.pow(i) % 4]).collect();
                let escaped = escape(&rbsp);
                assert_eq!(unescape(&escaped), rbsp);
                assert!(!escaped.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2), "{escaped:?}");
            }
        }
    }
}
