//! Image files: JPEG (through `jpeg-encoder`) and PNG (through `png`) of decoded pictures
//! or RGB frames, and their names. Names are built from the validated fragment number and
//! integers only, never from text that came with the stream.
//!
//! Cost model: a JPEG is coded in Y'CbCr, which is what a decoder hands out, so a picture
//! is encoded straight from its planes: JFIF means BT.601 at full range, and a picture of
//! another matrix or range is mapped to it sample by sample (one affine map, in fixed
//! point), never through RGB, which would convert every pixel twice. PNG is RGB,
//! compressed with `png`'s fast (fdeflate) setting: frames are exported by the hundred,
//! and its default level costs ten times the time for a file a few percent smaller.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use jpeg_encoder::{ImageBuffer, JpegColorType, SamplingFactor};
use ndarray::Array3;

use crate::colour::{Colour, Matrix, YuvPlanes};
use crate::{Error, FrameInfo, VideoFrame};

/// The file format of saved frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// JPEG with a quality from 1 (smallest) to 100 (best).
    Jpeg {
        /// 1-100; values outside are clamped.
        quality: u8,
    },
    /// Lossless PNG.
    Png,
}

impl ImageFormat {
    /// The file extension, without dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg { .. } => "jpg",
            Self::Png => "png",
        }
    }
}

/// `<fragment number>-<frame index>.<ext>`: the fragment number is the validated
/// `AWS_KINESISVIDEO_FRAGMENT_NUMBER` (digits only); a fragment without one (a plain MKV
/// file) is named by its position in the stream instead.
///
/// ```
/// let info = kvs_media::FrameInfo::example(7, Some("91343852333181432392682062607743920146159169392"));
/// assert_eq!(kvs_media::file_name(&info, kvs_media::ImageFormat::Png),
///            "91343852333181432392682062607743920146159169392-7.png");
/// ```
pub fn file_name(info: &FrameInfo, format: ImageFormat) -> String {
    let fragment = match &info.fragment_number {
        Some(number) => number.as_str().to_owned(),
        None => info.fragment_index.to_string(),
    };
    format!("{fragment}-{}.{}", info.index, format.extension())
}

/// Encodes an RGB array `(height, width, 3)` as JPEG or PNG bytes.
pub fn encode_image(rgb: &Array3<u8>, format: ImageFormat) -> Result<Vec<u8>, Error> {
    let (height, width, channels) = rgb.dim();
    if channels != 3 {
        return Err(Error::NotRgb { shape: rgb.dim() });
    }
    let pixels = rgb.as_standard_layout();
    let data = pixels.as_slice().ok_or(Error::NotRgb { shape: rgb.dim() })?;
    encode_rgb(data, width, height, format)
}

/// Scales an RGB array `(height, width, 3)` to `width` x `height` pixels with
/// `fast_image_resize` (bilinear convolution, SIMD where the CPU has it): the output size
/// GetImages' `WidthPixels` / `HeightPixels` ask for. The same size is returned as is.
///
/// ```
/// let rgb = ndarray::Array3::<u8>::from_elem((4, 6, 3), 200);
/// let small = kvs_media::resize_rgb(&rgb, 3, 2)?;
/// assert_eq!(small.dim(), (2, 3, 3));
/// assert!(small.iter().all(|&v| v == 200));
/// # Ok::<(), kvs_media::Error>(())
/// ```
pub fn resize_rgb(rgb: &Array3<u8>, width: usize, height: usize) -> Result<Array3<u8>, Error> {
    use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer, images::Image};
    let (src_height, src_width, channels) = rgb.dim();
    if channels != 3 {
        return Err(Error::NotRgb { shape: rgb.dim() });
    }
    if (src_width, src_height) == (width, height) {
        return Ok(rgb.clone());
    }
    let too_big = |_| Error::TooLarge { format: "scaled picture", width, height };
    let dims = |w: usize, h: usize| -> Result<(u32, u32), Error> {
        Ok((u32::try_from(w).map_err(too_big)?, u32::try_from(h).map_err(too_big)?))
    };
    let (sw, sh) = dims(src_width, src_height)?;
    let (dw, dh) = dims(width, height)?;
    let resize_error =
        |e: &dyn std::fmt::Display| Error::Encode { format: "scaled picture", source: e.to_string().into() };
    let data = rgb.as_standard_layout().into_owned().into_raw_vec_and_offset().0;
    let src = Image::from_vec_u8(sw, sh, data, PixelType::U8x3).map_err(|e| resize_error(&e))?;
    let mut dst = Image::new(dw, dh, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).map_err(|e| resize_error(&e))?;
    Array3::from_shape_vec((height, width, 3), dst.into_vec()).map_err(|e| resize_error(&e))
}

/// Whether [`encode_yuv`] converts pictures to RGB for this format.
pub(crate) fn goes_through_rgb(format: ImageFormat) -> bool {
    format == ImageFormat::Png
}

/// Encodes a decoded picture as JPEG or PNG bytes: JPEG straight from the planes, PNG
/// through RGB.
pub fn encode_yuv(planes: &YuvPlanes<'_>, colour: Colour, format: ImageFormat) -> Result<Vec<u8>, Error> {
    planes.validate()?;
    match format {
        ImageFormat::Jpeg { quality } => {
            let (width, height) = jpeg_size(planes.width, planes.height)?;
            let mut out = Vec::with_capacity(planes.width * planes.height / 4);
            let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
            // The source is 4:2:0: finer chroma in the file would only repeat samples.
            encoder.set_sampling_factor(SamplingFactor::F_2_2);
            encoder.encode_image(YuvImage::new(*planes, colour, width, height)).map_err(jpeg_error)?;
            Ok(out)
        }
        ImageFormat::Png => {
            let mut rgb = vec![0u8; planes.width * planes.height * 3];
            planes.write_rgb(colour, &mut rgb)?;
            encode_rgb(&rgb, planes.width, planes.height, format)
        }
    }
}

fn jpeg_error(e: jpeg_encoder::EncodingError) -> Error {
    Error::Encode { format: "jpeg", source: Box::new(e) }
}

fn jpeg_size(width: usize, height: usize) -> Result<(u16, u16), Error> {
    let too_big = |_| Error::TooLarge { format: "jpeg", width, height };
    Ok((u16::try_from(width).map_err(too_big)?, u16::try_from(height).map_err(too_big)?))
}

/// Encodes packed RGB bytes, `width * height * 3` of them.
fn encode_rgb(data: &[u8], width: usize, height: usize, format: ImageFormat) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(width * height / 2);
    match format {
        ImageFormat::Jpeg { quality } => {
            let (w, h) = jpeg_size(width, height)?;
            jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
                .encode(data, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(jpeg_error)?;
        }
        ImageFormat::Png => {
            let too_big = |_| Error::TooLarge { format: "png", width, height };
            let mut encoder = png::Encoder::new(
                &mut out,
                u32::try_from(width).map_err(too_big)?,
                u32::try_from(height).map_err(too_big)?,
            );
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let png_error = |e: png::EncodingError| Error::Encode { format: "png", source: Box::new(e) };
            let mut writer = encoder.write_header().map_err(png_error)?;
            writer.write_image_data(data).map_err(png_error)?;
            writer.finish().map_err(png_error)?;
        }
    }
    Ok(out)
}

/// YUV 4:2:0 planes as the rows of Y'CbCr 4:4:4 `jpeg-encoder` reads, mapped to BT.601
/// full range. The encoder subsamples the chroma again by picking one sample of each 2x2
/// block ([`ChromaSubsamplingMethod::Nearest`], its default): each chroma sample of the
/// source, mapped.
///
/// [`ChromaSubsamplingMethod::Nearest`]: jpeg_encoder::ChromaSubsamplingMethod::Nearest
struct YuvImage<'a> {
    planes: YuvPlanes<'a>,
    width: u16,
    height: u16,
    map: ToJfif,
    /// The chroma row of the last luma row filled.
    chroma: RefCell<ChromaRow>,
}

impl<'a> YuvImage<'a> {
    fn new(planes: YuvPlanes<'a>, colour: Colour, width: u16, height: u16) -> Self {
        Self { planes, width, height, map: ToJfif::new(colour), chroma: RefCell::default() }
    }
}

/// Fixed-point scale of [`ToJfif`]'s coefficients.
const ONE: f64 = (1 << 16) as f64;

/// The affine map from a colour's Y'CbCr samples to JFIF's (BT.601, full range), in 16.16
/// fixed point, the rounding half folded into the offsets. Luma takes chroma only when the
/// matrices differ (its chroma coefficients are 0 for BT.601).
struct ToJfif {
    y_y: i32,
    y_cb: i32,
    y_cr: i32,
    y_0: i32,
    cb_cb: i32,
    cb_cr: i32,
    cb_0: i32,
    cr_cb: i32,
    cr_cr: i32,
    cr_0: i32,
}

/// `(Kr, Kb)` of a matrix.
fn weights(matrix: Matrix) -> (f64, f64) {
    match matrix {
        Matrix::Bt601 => (0.299, 0.114),
        Matrix::Bt709 => (0.2126, 0.0722),
        Matrix::Bt2020 => (0.2627, 0.0593),
    }
}

impl ToJfif {
    fn new(colour: Colour) -> Self {
        // Normalised Y in 0..1 and Pb, Pr in -0.5..0.5, from 8-bit samples.
        let (y_offset, y_scale, c_scale) =
            if colour.full_range { (0.0, 255.0, 255.0) } else { (16.0, 219.0, 224.0) };
        let (kr, kb) = weights(colour.matrix);
        let (jr, jb) = weights(Matrix::Bt601);
        // Normalised (Y, Pb, Pr) of the source to JFIF's, through linear R'G'B'.
        let to_jfif = |y: f64, pb: f64, pr: f64| -> [f64; 3] {
            let r = y + 2.0 * (1.0 - kr) * pr;
            let b = y + 2.0 * (1.0 - kb) * pb;
            let g = (y - kr * r - kb * b) / (1.0 - kr - kb);
            let jy = jr * r + (1.0 - jr - jb) * g + jb * b;
            [jy, (b - jy) / (2.0 * (1.0 - jb)), (r - jy) / (2.0 * (1.0 - jr))]
        };
        let (from_y, from_pb, from_pr) =
            (to_jfif(1.0, 0.0, 0.0), to_jfif(0.0, 1.0, 0.0), to_jfif(0.0, 0.0, 1.0));
        let fixed = |v: f64| (v * ONE).round() as i32;
        // Per 8-bit sample of the source, in JFIF samples.
        let (gy, gc) = (255.0 / y_scale, 255.0 / c_scale);
        let out = |row: usize, centre: f64| {
            let (y, cb, cr) = (from_y[row] * gy, from_pb[row] * gc, from_pr[row] * gc);
            let offset = centre + 0.5 - y * y_offset - (cb + cr) * 128.0;
            (fixed(y), fixed(cb), fixed(cr), fixed(offset))
        };
        let ((y_y, y_cb, y_cr, y_0), (_, cb_cb, cb_cr, cb_0), (_, cr_cb, cr_cr, cr_0)) =
            (out(0, 0.0), out(1, 128.0), out(2, 128.0));
        Self { y_y, y_cb, y_cr, y_0, cb_cb, cb_cr, cb_0, cr_cb, cr_cr, cr_0 }
    }
}

/// A 16.16 fixed-point sum to a sample, clamped.
#[inline(always)]
fn to_sample(sum: i32) -> u8 {
    (sum >> 16).clamp(0, 255) as u8
}

/// Appends `len` zeroes to `buffer` and returns them, to be written in place (a loop
/// over a slice vectorises; pushes do not).
fn grow(buffer: &mut Vec<u8>, len: usize) -> &mut [u8] {
    let start = buffer.len();
    buffer.resize(start + len, 0);
    &mut buffer[start..]
}

impl ImageBuffer for YuvImage<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        // `validate` has checked that every row read here lies inside its plane.
        let p = &self.planes;
        let (w, y) = (p.width, usize::from(y));
        let mut row = self.chroma.borrow_mut();
        if row.line != Some(y / 2) {
            row.map(&self.map, p, y / 2);
        }
        buffers[1].extend_from_slice(&row.cb[..w]);
        buffers[2].extend_from_slice(&row.cr[..w]);
        let luma = &p.y[y * p.strides.0..][..w];
        let m = &self.map;
        for ((out, &s), &share) in grow(&mut buffers[0], w).iter_mut().zip(luma).zip(&row.shares) {
            *out = to_sample(m.y_y * i32::from(s) + share);
        }
    }
}

/// One chroma row mapped, for the two luma rows that share it: each pixel's Cb and Cr,
/// and its luma's share of them.
#[derive(Default)]
struct ChromaRow {
    /// The chroma row these are of.
    line: Option<usize>,
    cb: Vec<u8>,
    cr: Vec<u8>,
    shares: Vec<i32>,
}

impl ChromaRow {
    fn map(&mut self, m: &ToJfif, p: &YuvPlanes<'_>, line: usize) {
        let cw = p.width.div_ceil(2);
        let u = &p.u[line * p.strides.1..][..cw];
        let v = &p.v[line * p.strides.2..][..cw];
        let pairs = || u.iter().zip(v).map(|(&cb, &cr)| (i32::from(cb), i32::from(cr)));
        self.cb.clear();
        self.cb.extend(pairs().flat_map(|(cb, cr)| [to_sample(m.cb_cb * cb + m.cb_cr * cr + m.cb_0); 2]));
        self.cr.clear();
        self.cr.extend(pairs().flat_map(|(cb, cr)| [to_sample(m.cr_cb * cb + m.cr_cr * cr + m.cr_0); 2]));
        self.shares.clear();
        self.shares.extend(pairs().flat_map(|(cb, cr)| [m.y_cb * cb + m.y_cr * cr + m.y_0; 2]));
        self.line = Some(line);
    }
}

/// Saves a frame in `dir` under [`file_name`] and returns the path.
pub fn save_image(frame: &VideoFrame, dir: &Path, format: ImageFormat) -> Result<PathBuf, Error> {
    write_image(&encode_image(&frame.rgb, format)?, &frame.info, dir, format)
}

/// Writes encoded bytes in `dir` under [`file_name`] and returns the path.
pub(crate) fn write_image(
    bytes: &[u8],
    info: &FrameInfo,
    dir: &Path,
    format: ImageFormat,
) -> Result<PathBuf, Error> {
    let path = dir.join(file_name(info, format));
    std::fs::write(&path, bytes).map_err(|source| Error::Io { path: path.clone(), source })?;
    Ok(path)
}

impl FrameInfo {
    /// Metadata for examples and tests: frame `index` of a fragment with this number.
    #[doc(hidden)]
    pub fn example(index: usize, fragment_number: Option<&str>) -> Self {
        Self {
            track: 1,
            index,
            keyframe: index == 0,
            timestamp_ns: 0,
            fragment_index: 0,
            fragment_number: fragment_number.and_then(|n| n.parse().ok()),
            producer_timestamp: None,
            server_timestamp: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_validated_numbers_only() {
        assert_eq!(file_name(&FrameInfo::example(3, None), ImageFormat::Jpeg { quality: 90 }), "0-3.jpg");
        // A fragment number that failed validation (path characters) never reaches a name.
        assert_eq!(file_name(&FrameInfo::example(3, Some("../../etc/passwd")), ImageFormat::Png), "0-3.png");
        assert_eq!(file_name(&FrameInfo::example(0, Some("0042")), ImageFormat::Png), "42-0.png");
    }

    #[test]
    fn png_round_trips_exactly_and_jpeg_has_its_markers() {
        let rgb = Array3::from_shape_fn((5, 7, 3), |(y, x, c)| (y * 40 + x * 20 + c * 7) as u8);
        let png_bytes = encode_image(&rgb, ImageFormat::Png).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (7, 5));
        assert_eq!(&buf[..info.buffer_size()], rgb.as_slice().unwrap());

        let jpeg = encode_image(&rgb, ImageFormat::Jpeg { quality: 80 }).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        assert_eq!(&jpeg[jpeg.len() - 2..], &[0xFF, 0xD9]);
        let small = encode_image(&rgb, ImageFormat::Jpeg { quality: 1 }).unwrap();
        assert!(small.len() < jpeg.len());
    }

    fn decode_jpeg(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut decoder = jpeg_decoder::Decoder::new(bytes);
        let pixels = decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        (usize::from(info.width), usize::from(info.height), pixels)
    }

    /// Planes of an odd-sized picture: a flat colour on the left half, another on the right.
    fn two_colours(width: usize, height: usize, left: [u8; 3], right: [u8; 3]) -> [Vec<u8>; 3] {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let plane = |w: usize, h: usize, i: usize| {
            (0..w * h).map(|n| if n % w < w / 2 { left[i] } else { right[i] }).collect()
        };
        [plane(width, height, 0), plane(cw, ch, 1), plane(cw, ch, 2)]
    }

    #[test]
    fn jpeg_from_planes_shows_the_colours_the_rgb_path_shows() {
        // Limited-range BT.601 red and mid grey, on a picture whose odd width and height
        // leave a half chroma sample at the edges.
        let (width, height) = (37, 19);
        let planes = two_colours(width, height, [81, 90, 240], [126, 128, 128]);
        let strides = (width, width.div_ceil(2), width.div_ceil(2));
        let yuv = YuvPlanes { width, height, y: &planes[0], u: &planes[1], v: &planes[2], strides };
        let colour = Colour { matrix: Matrix::Bt601, full_range: false };
        assert_both_paths_show(&yuv, colour, [[255, 0, 0], [128, 128, 128]]);
        // The same colours in BT.709, and in full range: mapped to JFIF's BT.601 without
        // going through RGB, they still show as the same red and grey.
        let planes = two_colours(width, height, [63, 102, 240], [126, 128, 128]);
        let yuv = YuvPlanes { width, height, y: &planes[0], u: &planes[1], v: &planes[2], strides };
        assert_both_paths_show(
            &yuv,
            Colour { matrix: Matrix::Bt709, full_range: false },
            [[255, 0, 0], [128, 128, 128]],
        );
        let planes = two_colours(width, height, [54, 99, 255], [128, 128, 128]);
        let yuv = YuvPlanes { width, height, y: &planes[0], u: &planes[1], v: &planes[2], strides };
        assert_both_paths_show(
            &yuv,
            Colour { matrix: Matrix::Bt709, full_range: true },
            [[255, 0, 0], [128, 128, 128]],
        );
    }

    /// Encodes `yuv` as JPEG from its planes and through RGB: away from the edge between
    /// its two colours (where JPEG rings), both show `expected` (left, right) within 3.
    fn assert_both_paths_show(yuv: &YuvPlanes<'_>, colour: Colour, expected: [[u8; 3]; 2]) {
        let (width, height) = (yuv.width, yuv.height);
        let format = ImageFormat::Jpeg { quality: 95 };
        let direct = decode_jpeg(&encode_yuv(yuv, colour, format).unwrap());
        let via_rgb = decode_jpeg(&encode_image(&yuv.to_rgb(colour).unwrap(), format).unwrap());
        assert_eq!((direct.0, direct.1), (width, height));
        assert_eq!((via_rgb.0, via_rgb.1), (width, height));
        for (x, expected) in [(4, expected[0]), (30, expected[1])] {
            for y in [2, height - 1] {
                let at = |p: &[u8]| -> [u8; 3] { p[(y * width + x) * 3..][..3].try_into().unwrap() };
                for got in [at(&direct.2), at(&via_rgb.2)] {
                    assert!(
                        got.iter().zip(expected).all(|(&g, e)| g.abs_diff(e) <= 3),
                        "{colour:?}: {got:?} at {x},{y}, expected {expected:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn png_of_planes_is_their_rgb_conversion_exactly() {
        let (width, height) = (9, 5);
        let planes = two_colours(width, height, [81, 90, 240], [200, 100, 150]);
        let strides = (width, 5, 5);
        let yuv = YuvPlanes { width, height, y: &planes[0], u: &planes[1], v: &planes[2], strides };
        let colour = Colour { matrix: Matrix::Bt709, full_range: true };
        let png_bytes = encode_yuv(&yuv, colour, ImageFormat::Png).unwrap();
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        assert_eq!(buf, yuv.to_rgb(colour).unwrap().into_raw_vec_and_offset().0);
    }

    #[test]
    fn pictures_too_large_or_malformed_are_typed_errors() {
        let rgb = Array3::<u8>::zeros((2, 2, 4));
        assert!(matches!(encode_image(&rgb, ImageFormat::Png), Err(Error::NotRgb { shape: (2, 2, 4) })));
        let wide = Array3::<u8>::zeros((1, 70_000, 3));
        let error = encode_image(&wide, ImageFormat::Jpeg { quality: 80 }).unwrap_err();
        assert!(matches!(error, Error::TooLarge { format: "jpeg", width: 70_000, height: 1 }), "{error}");
    }
}
