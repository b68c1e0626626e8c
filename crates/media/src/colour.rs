//! Colour: the YUV 4:2:0 planes a decoder hands out, and their conversion to RGB with the
//! stream's matrix (BT.601/BT.709/BT.2020) and range (limited/full), through the SIMD
//! routines of `yuvutils-rs` (faster than openh264's own, which knows only BT.601 limited;
//! see `benches/decode.rs`). Choosing *which* pictures get converted is `video`'s job.

use ndarray::Array3;
use yuvutils_rs::{YuvPlanarImage, YuvRange, YuvStandardMatrix};

use crate::Error;

/// The matrix that turns Y'CbCr into R'G'B'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Matrix {
    /// ITU-R BT.601 (SD).
    Bt601,
    /// ITU-R BT.709 (HD).
    Bt709,
    /// ITU-R BT.2020 non-constant luminance.
    Bt2020,
}

/// How a picture's samples map to colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Colour {
    /// The matrix.
    pub matrix: Matrix,
    /// Full range (0-255) rather than limited (16-235 luma).
    pub full_range: bool,
}

impl Colour {
    /// Chooses from what the stream signals; what it leaves out is guessed the usual way:
    /// BT.709 from 720 lines up, BT.601 below, limited range.
    pub(crate) fn from_signalling(matrix: Option<u8>, full_range: Option<bool>, height: usize) -> Self {
        let matrix = match matrix {
            Some(1) => Matrix::Bt709,
            Some(5 | 6) => Matrix::Bt601,
            Some(9 | 10) => Matrix::Bt2020,
            _ if height >= 720 => Matrix::Bt709,
            _ => Matrix::Bt601,
        };
        Self { matrix, full_range: full_range.unwrap_or(false) }
    }
}

/// One decoded picture in 8-bit YUV 4:2:0, borrowed from the decoder: valid only inside
/// the callback that receives it.
#[derive(Debug, Clone, Copy)]
pub struct YuvPlanes<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Luma plane, `y_stride` bytes per row.
    pub y: &'a [u8],
    /// Cb plane, `(width + 1) / 2` samples per row used.
    pub u: &'a [u8],
    /// Cr plane.
    pub v: &'a [u8],
    /// Bytes per row of each plane (y, u, v).
    pub strides: (usize, usize, usize),
}

impl YuvPlanes<'_> {
    /// Checks that the planes hold the rows the size promises, so no conversion can read
    /// past them.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let fits = |plane: &[u8], stride: usize, w: usize, h: usize| {
            stride >= w && h.checked_sub(1).is_none_or(|last| last * stride + w <= plane.len())
        };
        if self.width == 0 || self.height == 0 {
            return Err(Error::BadPlanes { width: self.width, height: self.height });
        }
        if !(fits(self.y, self.strides.0, self.width, self.height)
            && fits(self.u, self.strides.1, cw, ch)
            && fits(self.v, self.strides.2, cw, ch))
        {
            return Err(Error::BadPlanes { width: self.width, height: self.height });
        }
        Ok(())
    }

    /// Copies the visible samples into tightly packed planes (Y, then U, then V).
    pub fn to_packed(&self) -> Vec<u8> {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let mut out = Vec::with_capacity(self.width * self.height + 2 * cw * ch);
        for (plane, stride, w, h) in [
            (self.y, self.strides.0, self.width, self.height),
            (self.u, self.strides.1, cw, ch),
            (self.v, self.strides.2, cw, ch),
        ] {
            for row in 0..h {
                out.extend_from_slice(&plane[row * stride..row * stride + w]);
            }
        }
        out
    }

    /// Converts to RGB, `(height, width, 3)`.
    pub fn to_rgb(&self, colour: Colour) -> Result<Array3<u8>, Error> {
        self.validate()?;
        let mut rgb = vec![0u8; self.width * self.height * 3];
        self.write_rgb(colour, &mut rgb)?;
        Array3::from_shape_vec((self.height, self.width, 3), rgb).map_err(|e| Error::Conversion(Box::new(e)))
    }

    /// Converts into `rgb`, which must hold exactly `width * height * 3` bytes.
    pub fn write_rgb(&self, colour: Colour, rgb: &mut [u8]) -> Result<(), Error> {
        self.validate()?;
        if rgb.len() != self.width * self.height * 3 {
            return Err(Error::RgbBufferSize { expected: self.width * self.height * 3, got: rgb.len() });
        }
        let too_big = |_| Error::TooLarge { format: "rgb", width: self.width, height: self.height };
        let image = YuvPlanarImage {
            y_plane: self.y,
            y_stride: u32::try_from(self.strides.0).map_err(too_big)?,
            u_plane: self.u,
            u_stride: u32::try_from(self.strides.1).map_err(too_big)?,
            v_plane: self.v,
            v_stride: u32::try_from(self.strides.2).map_err(too_big)?,
            width: u32::try_from(self.width).map_err(too_big)?,
            height: u32::try_from(self.height).map_err(too_big)?,
        };
        let range = if colour.full_range { YuvRange::Full } else { YuvRange::Limited };
        let matrix = match colour.matrix {
            Matrix::Bt601 => YuvStandardMatrix::Bt601,
            Matrix::Bt709 => YuvStandardMatrix::Bt709,
            Matrix::Bt2020 => YuvStandardMatrix::Bt2020,
        };
        yuvutils_rs::yuv420_to_rgb(&image, rgb, image.width * 3, range, matrix)
            .map_err(|e| Error::Conversion(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(y: u8, u: u8, v: u8) -> [Vec<u8>; 3] {
        [vec![y; 16 * 4], vec![u; 8 * 2], vec![v; 8 * 2]]
    }

    fn convert(planes: &[Vec<u8>; 3], colour: Colour) -> [u8; 3] {
        let p = YuvPlanes {
            width: 16,
            height: 4,
            y: &planes[0],
            u: &planes[1],
            v: &planes[2],
            strides: (16, 8, 8),
        };
        let rgb = p.to_rgb(colour).unwrap();
        [rgb[[3, 15, 0]], rgb[[3, 15, 1]], rgb[[3, 15, 2]]]
    }

    fn close(a: [u8; 3], b: [u8; 3]) -> bool {
        a.iter().zip(b).all(|(&x, y)| x.abs_diff(y) <= 2)
    }

    #[test]
    fn range_and_matrix_change_the_colour_as_the_standards_say() {
        let limited = Colour { matrix: Matrix::Bt601, full_range: false };
        let full = Colour { matrix: Matrix::Bt601, full_range: true };
        assert!(close(convert(&flat(16, 128, 128), limited), [0, 0, 0]));
        assert!(close(convert(&flat(235, 128, 128), limited), [255, 255, 255]));
        assert!(close(convert(&flat(16, 128, 128), full), [16, 16, 16]));
        // Pure red in BT.601 limited is Y=81 U=90 V=240; in BT.709 it is Y=63 U=102 V=240.
        assert!(close(convert(&flat(81, 90, 240), limited), [255, 0, 0]));
        let bt709 = Colour { matrix: Matrix::Bt709, full_range: false };
        assert!(close(convert(&flat(63, 102, 240), bt709), [255, 0, 0]));
        assert!(!close(convert(&flat(63, 102, 240), limited), [255, 0, 0]));
    }

    #[test]
    fn short_planes_are_an_error_not_a_panic() {
        let planes = flat(16, 128, 128);
        let p = YuvPlanes {
            width: 16,
            height: 8,
            y: &planes[0],
            u: &planes[1],
            v: &planes[2],
            strides: (16, 8, 8),
        };
        let error = p.to_rgb(Colour::from_signalling(None, None, 8)).unwrap_err();
        assert!(matches!(error, Error::BadPlanes { width: 16, height: 8 }), "{error}");
    }

    #[test]
    fn unsignalled_colour_follows_picture_height() {
        assert_eq!(Colour::from_signalling(None, None, 720).matrix, Matrix::Bt709);
        assert_eq!(Colour::from_signalling(None, None, 360).matrix, Matrix::Bt601);
        assert_eq!(
            Colour::from_signalling(Some(6), Some(true), 1080),
            Colour { matrix: Matrix::Bt601, full_range: true }
        );
    }
}
