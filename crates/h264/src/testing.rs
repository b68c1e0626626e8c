//! Test helpers: hex literals and a bit writer to make bitstreams field by field.

/// Bytes from a hex string, at compile time.
pub(crate) const fn hex<const N: usize>(s: &str) -> [u8; N] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            _ => c - b'a' + 10,
        }
    }
    let s = s.as_bytes();
    assert!(s.len() == 2 * N);
    let mut out = [0; N];
    let mut i = 0;
    while i < N {
        out[i] = nibble(s[2 * i]) << 4 | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

/// Writes RBSP syntax elements, most significant bit first.
#[derive(Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    /// `u(n)`.
    pub fn u(&mut self, n: u32, value: u32) -> &mut Self {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            let bit = (value >> i) & 1;
            *self.bytes.last_mut().unwrap() |= (bit as u8) << (7 - self.bits % 8);
            self.bits += 1;
        }
        self
    }

    /// `ue(v)`.
    pub fn ue(&mut self, value: u32) -> &mut Self {
        let code = u64::from(value) + 1;
        let len = 64 - code.leading_zeros();
        self.u(len - 1, 0);
        for i in (0..len).rev() {
            self.u(1, (code >> i) as u32 & 1);
        }
        self
    }

    /// `se(v)`.
    pub fn se(&mut self, value: i32) -> &mut Self {
        let k = if value > 0 { 2 * value as u32 - 1 } else { 2 * value.unsigned_abs() };
        self.ue(k)
    }

    /// A NAL unit: `header`, then the RBSP with its stop bit, emulation prevention added.
    pub fn nal(&mut self, header: u8) -> Vec<u8> {
        self.u(1, 1);
        let mut out = vec![header];
        out.extend_from_slice(&crate::rbsp::escape(&self.bytes));
        out
    }
}
