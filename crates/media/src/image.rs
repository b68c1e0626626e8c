//! Image files: JPEG (through `jpeg-encoder`) and PNG (through `png`) of RGB frames, and
//! their names. Names are built from the validated fragment number and integers only,
//! never from text that came with the stream.

use std::path::{Path, PathBuf};

use ndarray::Array3;

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
        return Err(Error::Conversion(format!("{channels} channels, expected 3")));
    }
    let pixels = rgb.as_standard_layout();
    let data = pixels.as_slice().ok_or_else(|| Error::Conversion("array not contiguous".into()))?;
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg { quality } => {
            let too_big =
                |_| Error::Encode { format: "jpeg", message: format!("{width}x{height} exceeds 65535") };
            let (w, h) = (u16::try_from(width).map_err(too_big)?, u16::try_from(height).map_err(too_big)?);
            jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
                .encode(data, w, h, jpeg_encoder::ColorType::Rgb)
                .map_err(|e| Error::Encode { format: "jpeg", message: e.to_string() })?;
        }
        ImageFormat::Png => {
            let too_big = |_| Error::Encode { format: "png", message: "picture too large".into() };
            let mut encoder = png::Encoder::new(
                &mut out,
                u32::try_from(width).map_err(too_big)?,
                u32::try_from(height).map_err(too_big)?,
            );
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let png_error = |e: png::EncodingError| Error::Encode { format: "png", message: e.to_string() };
            let mut writer = encoder.write_header().map_err(png_error)?;
            writer.write_image_data(data).map_err(png_error)?;
            writer.finish().map_err(png_error)?;
        }
    }
    Ok(out)
}

/// Saves a frame in `dir` under [`file_name`] and returns the path.
pub fn save_image(frame: &VideoFrame, dir: &Path, format: ImageFormat) -> Result<PathBuf, Error> {
    let bytes = encode_image(&frame.rgb, format)?;
    let path = dir.join(file_name(&frame.info, format));
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
}
