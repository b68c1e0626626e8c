//! The picture of the synthetic camera, drawn frame by frame, and read back from decoded
//! pixels. No encoding here.
//!
//! Picture, top to bottom:
//! - rows `0..height / 4`: the frame index, 16 equal-width cells (cell `c` spans columns
//!   `c * width / 16 .. (c + 1) * width / 16`), white (RGB 255) for a 1 bit and black for a
//!   0, most significant bit first, encoding `index % 65536`;
//! - rows `height / 4 .. (3 * height / 4) & !1`: the classic 75% colour bars of [`BARS`],
//!   left to right, bar `k` spanning columns `k * width / 16 * 2 .. (k + 1) * width / 16 * 2`
//!   (even edges, so each 2x2 chroma sample lies inside one bar);
//! - the rest: black, with a white box `width / 8` wide sliding right by `width / 64`
//!   (rounded down to even, at least 2) pixels a frame and wrapping around, so motion shows.
//!
//! Colour: the picture is drawn in RGB and converted to I420 (4:2:0, chroma the rounded
//! mean of each 2x2 block) with the BT.601 matrix in limited ("TV") range: Y 16..235,
//! Cb/Cr 16..240 (the encoder's SPS says so). Decoding with BT.601 limited (openh264's
//! `write_rgb8` does) gives back [`BARS`] within coding loss.

/// The classic 75% colour bars, left to right: name and RGB (75% of 255, rounded down).
/// In the stream they are BT.601 limited-range Y/Cb/Cr (180/128/128 for white, 162/44/142
/// for yellow and so on); [`bar_at`] says where each one is.
pub const BARS: [(&str, [u8; 3]); 8] = [
    ("white", [191, 191, 191]),
    ("yellow", [191, 191, 0]),
    ("cyan", [0, 191, 191]),
    ("green", [0, 191, 0]),
    ("magenta", [191, 0, 191]),
    ("red", [191, 0, 0]),
    ("blue", [0, 0, 191]),
    ("black", [0, 0, 0]),
];

/// The expected RGB at pixel (`x`, `y`) of a `width` x `height` camera picture when it
/// lies in the middle of a colour bar (the middle half of the bar's width and of the bar
/// band's height, away from edges that lossy coding blurs); `None` elsewhere, or for an
/// odd size.
///
/// ```
/// use kvs_local::camera::{BARS, bar_at};
/// assert_eq!(bar_at(20, 120, 320, 240), Some(BARS[0].1));
/// assert_eq!(bar_at(300, 120, 320, 240), Some([0, 0, 0]));
/// assert_eq!(bar_at(40, 120, 320, 240), None); // the edge between white and yellow
/// assert_eq!(bar_at(20, 10, 320, 240), None); // the frame index
/// ```
pub fn bar_at(x: usize, y: usize, width: usize, height: usize) -> Option<[u8; 3]> {
    if !width.is_multiple_of(2) || !height.is_multiple_of(2) || x >= width || y >= height {
        return None;
    }
    let (top, bottom) = bar_rows(height);
    let margin_y = bottom.checked_sub(top)? / 4;
    if y < top + margin_y || y + margin_y >= bottom {
        return None;
    }
    let bar = (0..8).find(|&k| x < bar_edge(k + 1, width))?;
    let (left, right) = (bar_edge(bar, width), bar_edge(bar + 1, width));
    let margin_x = (right - left) / 4;
    if x < left + margin_x || x + margin_x >= right {
        return None;
    }
    Some(BARS[bar].1)
}

/// Rows `top..bottom` hold the colour bars (`bottom` even, so chroma rows do not straddle
/// the bars and the moving box).
pub(super) fn bar_rows(height: usize) -> (usize, usize) {
    (height / 4, (height * 3 / 4) & !1)
}

/// The left edge of bar `k` (0 to 8, where 8 is the right edge of the picture): always even.
pub(super) fn bar_edge(k: usize, width: usize) -> usize {
    k * width / 16 * 2
}

/// The moving box: its left column (it wraps around the right edge) and width.
pub(super) fn moving_box(width: usize, index: u64) -> (usize, usize) {
    let step = ((width / 64) & !1).max(2) as u64;
    (((index % width as u64) * step % width as u64) as usize, ((width / 8) & !1).max(2))
}

/// The colours drawn: the eight bars, then full white and black.
const PALETTE: [[u8; 3]; 10] = [
    BARS[0].1,
    BARS[1].1,
    BARS[2].1,
    BARS[3].1,
    BARS[4].1,
    BARS[5].1,
    BARS[6].1,
    BARS[7].1,
    [255, 255, 255],
    [0, 0, 0],
];
const WHITE: u8 = 8;
const BLACK: u8 = 9;

/// RGB to BT.601 limited-range Y, Cb, Cr (rounded to nearest).
const fn bt601_limited([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (r as i32, g as i32, b as i32);
    // Coefficients scaled by 1000 * 255 (65.481 = 219 * 0.299 etc.), offsets pre-added.
    let y = (16 * 255_000 + 127_500 + 65_481 * r + 128_553 * g + 24_966 * b) / 255_000;
    let cb = (128 * 255_000 + 127_500 - 37_797 * r - 74_203 * g + 112_000 * b) / 255_000;
    let cr = (128 * 255_000 + 127_500 + 112_000 * r - 93_786 * g - 18_214 * b) / 255_000;
    [y as u8, cb as u8, cr as u8]
}

/// The four kinds of row in the picture, top to bottom.
#[derive(Clone, Copy)]
enum Row {
    /// The frame index cells.
    Index,
    /// The colour bars.
    Bars,
    /// Black, crossed by the moving box.
    Box,
    /// Black, above and below the moving box.
    Background,
}

impl Row {
    fn of(y: usize, height: usize) -> Self {
        let (top, bottom) = bar_rows(height);
        let quarter = height.saturating_sub(bottom) / 4;
        if y < top {
            Row::Index
        } else if y < bottom {
            Row::Bars
        } else if y >= bottom + quarter && y + quarter < height {
            Row::Box
        } else {
            Row::Background
        }
    }

    /// The palette entries of this row in frame `index`, column by column.
    fn colours(self, width: usize, index: u64) -> Vec<u8> {
        let (left, size) = moving_box(width, index);
        (0..width)
            .map(|x| match self {
                Row::Index => {
                    let cell = (x * 16 / width).min(15);
                    if (index % 65_536) >> (15 - cell) & 1 == 1 { WHITE } else { BLACK }
                }
                Row::Bars => (0..8).find(|&k| x < bar_edge(k + 1, width)).unwrap_or(7) as u8,
                Row::Box if (x + width - left) % width < size => WHITE,
                Row::Box | Row::Background => BLACK,
            })
            .collect()
    }
}

/// Draws frame `index` into an I420 buffer of `width * height * 3 / 2` bytes (even sizes).
pub(super) fn draw(yuv: &mut [u8], width: usize, height: usize, index: u64) {
    let yuv_of = PALETTE.map(bt601_limited);
    // Each kind of row, in declaration order so that `Row as usize` indexes it.
    let rows = [Row::Index, Row::Bars, Row::Box, Row::Background].map(|row| row.colours(width, index));
    let colours = |y: usize| &rows[Row::of(y, height) as usize];
    let (luma, chroma) = yuv.split_at_mut(width * height);
    let (cb, cr) = chroma.split_at_mut(width * height / 4);
    for y in (0..height).step_by(2) {
        let pair = [colours(y), colours(y + 1)];
        for x in (0..width).step_by(2) {
            let (mut u, mut v) = (0u32, 0u32);
            for (dy, row) in pair.iter().enumerate() {
                for dx in 0..2 {
                    let [py, pu, pv] = yuv_of[usize::from(row[x + dx])];
                    luma[(y + dy) * width + x + dx] = py;
                    u += u32::from(pu);
                    v += u32::from(pv);
                }
            }
            let c = y / 2 * (width / 2) + x / 2;
            cb[c] = ((u + 2) / 4) as u8;
            cr[c] = ((v + 2) / 4) as u8;
        }
    }
}

/// Reads back the frame index drawn in the picture: `rgb` is `height * width * 3` bytes,
/// row-major RGB. `None` when the picture is too small or does not carry the pattern
/// (a cell neither clearly dark nor clearly bright).
///
/// The index is `index % 65536`. Each cell's luma is averaged over its middle half, so the
/// pattern survives lossy coding.
pub fn read_frame_index(rgb: &[u8], width: usize, height: usize) -> Option<u64> {
    if width < 32 || height < 8 || rgb.len() < width.checked_mul(height)?.checked_mul(3)? {
        return None;
    }
    let band = height / 4;
    let (y0, y1) = (band / 4, band * 3 / 4);
    let mut value = 0u64;
    for cell in 0..16 {
        let (x_start, x_end) = (cell * width / 16, (cell + 1) * width / 16);
        let quarter = (x_end - x_start) / 4;
        let (x0, x1) = (x_start + quarter, x_end - quarter);
        let (mut sum, mut n) = (0u64, 0u64);
        for y in y0..y1.max(y0 + 1) {
            for x in x0..x1.max(x0 + 1) {
                let p = (y * width + x) * 3;
                let (r, g, b) = (u64::from(rgb[p]), u64::from(rgb[p + 1]), u64::from(rgb[p + 2]));
                sum += (r * 77 + g * 150 + b * 29) >> 8;
                n += 1;
            }
        }
        let mean = sum / n.max(1);
        if (96..160).contains(&mean) {
            return None;
        }
        value = value << 1 | u64::from(mean >= 128);
    }
    Some(value)
}

/// The centre pixel of bar `k`.
#[cfg(test)]
pub(super) fn bar_centre(k: usize, width: usize, height: usize) -> (usize, usize) {
    let (top, bottom) = bar_rows(height);
    ((bar_edge(k, width) + bar_edge(k + 1, width)) / 2, (top + bottom) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_reads_back_at_any_size_and_wraps_at_65536() {
        for (w, h, index) in [(64usize, 32usize, 0u64), (320, 240, 65_535), (642, 360, 65_536 + 4660)] {
            let mut yuv = vec![128u8; w * h * 3 / 2];
            draw(&mut yuv, w, h, index);
            let rgb: Vec<u8> = yuv[..w * h].iter().flat_map(|&y| [y, y, y]).collect();
            assert_eq!(read_frame_index(&rgb, w, h), Some(index % 65_536), "{w}x{h}");
        }
        assert_eq!(read_frame_index(&vec![128u8; 64 * 32 * 3], 64, 32), None);
        assert_eq!(read_frame_index(&[0u8; 10], 64, 32), None);
    }

    #[test]
    fn bars_are_exact_bt601_limited_range_in_every_sample() {
        // BARS in 8-bit BT.601 limited range, computed independently in floating point
        // (Y = 16 + 219 E'y, Cb = 128 + 224 (E'b - E'y) / 1.772, Cr = 128 + 224 (E'r - E'y) /
        // 1.402 with E' = 191 / 255). The textbook table for exactly 75% (EBU/SMPTE bars)
        // differs only in yellow's Y: 162 (161.53) instead of 161 (161.33).
        let expected: [[u8; 3]; 8] = [
            [180, 128, 128],
            [161, 44, 142],
            [131, 156, 44],
            [112, 72, 58],
            [84, 184, 198],
            [65, 100, 212],
            [35, 212, 114],
            [16, 128, 128],
        ];
        for (w, h) in [(320usize, 240usize), (642, 362), (34, 32)] {
            let mut yuv = vec![0u8; w * h * 3 / 2];
            draw(&mut yuv, w, h, 7);
            let (luma, chroma) = yuv.split_at(w * h);
            let (cb, cr) = chroma.split_at(w * h / 4);
            let (top, bottom) = bar_rows(h);
            // Every luma and chroma sample of the bar band is exactly its bar's value.
            for y in top.next_multiple_of(2)..bottom {
                for x in 0..w {
                    let k = (0..8).find(|&k| x < bar_edge(k + 1, w)).unwrap();
                    let c = y / 2 * (w / 2) + x / 2;
                    let got = [luma[y * w + x], cb[c], cr[c]];
                    assert_eq!(got, expected[k], "{w}x{h} ({x}, {y}), {}", BARS[k].0);
                }
            }
            for (k, (name, rgb)) in BARS.iter().enumerate() {
                let (x, y) = bar_centre(k, w, h);
                assert_eq!(bar_at(x, y, w, h), Some(*rgb), "{w}x{h} {name}");
                assert_eq!(bar_at(bar_edge(k, w), y, w, h), None, "{w}x{h} left edge of {name}");
            }
            assert_eq!(bar_at(w / 2, top, w, h), None);
            assert_eq!(bar_at(w / 2, bottom - 1, w, h), None);
            assert_eq!(bar_at(w, h / 2, w, h), None);
        }
        assert_eq!(bar_at(10, 120, 321, 240), None);
        assert_eq!(PALETTE.map(bt601_limited)[usize::from(WHITE)], [235, 128, 128]);
        assert_eq!(PALETTE.map(bt601_limited)[usize::from(BLACK)], [16, 128, 128]);
    }
}
