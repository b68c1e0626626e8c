//! The encoder of the synthetic camera: each frame of the pattern encoded with openh264,
//! converted from its Annex B output to AVCC, and muxed into the producer MKV stream (EBML
//! header, Segment, Info, Tracks with the AVCDecoderConfigurationRecord, then one Cluster
//! a fragment). The bitstream work goes through `kvs_h264`.
//!
//! The SPS declares the colour of the pattern explicitly: openh264 always writes a VUI,
//! and without our setting its `video_signal_type_present_flag` is 0 (no colour
//! description, which decoders take as BT.601 limited for SD but may take as BT.709 for
//! HD sizes); the encoder is configured with `VuiConfig::bt601()`, so the VUI declares
//! limited range and colour primaries, transfer and matrix 6 (SMPTE 170M, i.e. BT.601).

use bytes::Bytes;
use kvs_h264::{AvcDecoderConfig, LengthSize, NalType};
use kvs_mkv::{EbmlWriter, ids};
use openh264::OpenH264API;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, QpRange, RateControlMode, VuiConfig};
use openh264::formats::YUVBuffer;

use super::CameraConfig;
use super::pattern::draw;
use crate::Error;

/// An encoder that produces the producer stream fragment by fragment.
pub(crate) struct Camera {
    config: CameraConfig,
    encoder: Encoder,
    start_ms: i64,
    next_frame: u64,
    header_sent: bool,
    yuv: Vec<u8>,
}

impl Camera {
    /// A camera whose frame 0 is at `start_ms` (ms since the epoch).
    pub fn new(config: CameraConfig, start_ms: i64) -> Result<Self, Error> {
        config.validate()?;
        let pixels = u64::from(config.width) * u64::from(config.height);
        let bps = (pixels * u64::from(config.fps) / 3).clamp(200_000, 20_000_000) as u32;
        let encoder_config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bps))
            .max_frame_rate(FrameRate::from_hz(config.fps as f32))
            .rate_control_mode(RateControlMode::Off)
            .skip_frames(false)
            .qp(QpRange::new(24, 30))
            .vui(VuiConfig::bt601())
            .num_threads(1);
        let encoder =
            Encoder::with_api_config(OpenH264API::from_source(), encoder_config).map_err(Error::Encoder)?;
        let yuv = vec![128u8; (pixels * 3 / 2) as usize];
        Ok(Self { config, encoder, start_ms, next_frame: 0, header_sent: false, yuv })
    }

    /// Whether the configured number of frames has been filmed.
    pub fn done(&self) -> bool {
        self.config.frames.is_some_and(|total| self.next_frame >= total)
    }

    /// Wall-clock time (ms since the epoch) at which the next fragment is complete.
    pub fn next_fragment_end_ms(&self) -> i64 {
        self.start_ms + self.config.frame_ms(self.next_frame + u64::from(self.config.frames_per_fragment))
    }

    /// The bytes of the next fragment (preceded, the first time, by the EBML header,
    /// Segment, Info and Tracks); `None` when all frames are done.
    pub fn next_fragment(&mut self) -> Result<Option<Bytes>, Error> {
        if self.done() {
            return Ok(None);
        }
        let count = match self.config.frames {
            Some(total) => (total - self.next_frame).min(u64::from(self.config.frames_per_fragment)),
            None => u64::from(self.config.frames_per_fragment),
        };
        let first = self.next_frame;
        let cluster_ms = self.start_ms + self.config.frame_ms(first);
        let mut blocks = Vec::with_capacity(count as usize);
        let mut sps_pps = None;
        for index in first..first + count {
            draw(&mut self.yuv, self.config.width as usize, self.config.height as usize, index);
            if index == first {
                self.encoder.force_intra_frame();
            }
            let source = YUVBuffer::from_vec(
                self.yuv.clone(),
                self.config.width as usize,
                self.config.height as usize,
            );
            let annex_b = self.encoder.encode(&source).map_err(Error::Encoder)?.to_vec();
            let mut avcc = Vec::with_capacity(annex_b.len() + 8);
            kvs_h264::annex_b_to_avcc(&annex_b, LengthSize::FOUR, &mut avcc).map_err(Error::EncoderOutput)?;
            if sps_pps.is_none() {
                sps_pps = parameter_sets(&annex_b);
            }
            let offset = self.start_ms + self.config.frame_ms(index) - cluster_ms;
            blocks.push((offset as i16, index == first, avcc));
        }
        self.next_frame += count;
        let mut w = EbmlWriter::new();
        if !self.header_sent {
            let record = configuration_record(sps_pps)?;
            self.write_header(&mut w, &record);
            self.header_sent = true;
        }
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, cluster_ms.max(0) as u64);
            for (offset, key, payload) in &blocks {
                c.simple_block(1, *offset, *key, payload);
            }
        });
        Ok(Some(w.into_bytes()))
    }

    /// EBML header, Segment, Info and Tracks, whose one track has `record` as its
    /// CodecPrivate.
    fn write_header(&self, w: &mut EbmlWriter, record: &[u8]) {
        let c = &self.config;
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |info| {
            info.uint(ids::TIMECODE_SCALE, 1_000_000)
                .string(ids::MUXING_APP, "kvs-local")
                .string(ids::WRITING_APP, "kvs-local camera");
        });
        w.master(ids::TRACKS, |t| {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, 1)
                    .uint(ids::TRACK_UID, 1)
                    .uint(ids::TRACK_TYPE, 1)
                    .string(ids::NAME, "kvs-local camera")
                    .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                    .binary(ids::CODEC_PRIVATE, record)
                    .uint(ids::DEFAULT_DURATION, 1_000_000_000 / u64::from(c.fps))
                    .master(ids::VIDEO, |v| {
                        v.uint(ids::PIXEL_WIDTH, u64::from(c.width))
                            .uint(ids::PIXEL_HEIGHT, u64::from(c.height));
                    });
            });
        });
    }
}

/// The AVCDecoderConfigurationRecord of the first keyframe's SPS and PPS, if it has both.
fn configuration_record(sps_pps: Option<(Vec<u8>, Vec<u8>)>) -> Result<Vec<u8>, Error> {
    let (sps, pps) = sps_pps.ok_or(Error::NoParameterSets)?;
    AvcDecoderConfig::from_parameter_sets(&sps, &pps)
        .and_then(|config| config.to_bytes())
        .map_err(Error::ConfigurationRecord)
}

/// The last SPS and PPS of an access unit in Annex B, where it has both: a keyframe's.
fn parameter_sets(annex_b: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (mut sps, mut pps) = (None, None);
    for nal in kvs_h264::split_annex_b(annex_b) {
        match kvs_h264::nal_type(nal) {
            Some(NalType::Sps) => sps = Some(nal),
            Some(NalType::Pps) => pps = Some(nal),
            _ => {}
        }
    }
    Some((sps?.to_vec(), pps?.to_vec()))
}

/// A whole producer MKV stream of `frames` frames (EBML header, Segment, Info, Tracks with
/// an AVCDecoderConfigurationRecord, one Cluster per fragment, AVCC SimpleBlocks), frame 0
/// at the current time. An invalid configuration gives an empty stream.
///
/// ```
/// use kvs_local::camera::{CameraConfig, encode};
/// let mkv = encode(&CameraConfig { frames_per_fragment: 5, ..Default::default() }, 10);
/// assert_eq!(&mkv[..4], &[0x1A, 0x45, 0xDF, 0xA3]);
/// ```
pub fn encode(config: &CameraConfig, frames: u64) -> Bytes {
    encode_at(config, frames, crate::clock::now_ms()).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "camera cannot encode");
        Bytes::new()
    })
}

/// As [`encode`], with frame 0 at `start_ms` (ms since the Unix epoch), and errors
/// reported.
pub fn encode_at(config: &CameraConfig, frames: u64, start_ms: i64) -> Result<Bytes, Error> {
    let mut camera = Camera::new(CameraConfig { frames: Some(frames), ..config.clone() }, start_ms)?;
    let mut out = Vec::new();
    while let Some(fragment) = camera.next_fragment()? {
        out.extend_from_slice(&fragment);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use kvs_mkv::Fragment;
    use openh264::decoder::{Decoder, DecoderConfig};

    use super::*;
    use crate::camera::pattern::{BARS, bar_centre, bar_rows, moving_box};
    use crate::camera::read_frame_index;

    /// AVCC (4-byte lengths) to Annex B.
    fn annex_b(avcc: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        kvs_h264::avcc_to_annex_b(avcc, LengthSize::FOUR, &mut out).unwrap();
        out
    }

    /// Splits the camera's producer stream with the GetMedia splitter (it has no KVS
    /// tags, so it is one fragment) and returns its frames.
    fn frames_of(mkv: Bytes) -> Vec<kvs_mkv::Frame> {
        let fragment = Fragment::from_bytes(mkv).unwrap();
        let tracks = fragment.tracks().unwrap();
        assert_eq!(tracks[0].codec_id, "V_MPEG4/ISO/AVC");
        fragment.frames().unwrap()
    }

    #[test]
    fn decoded_frames_carry_their_index() {
        let config = CameraConfig { width: 320, height: 240, frames_per_fragment: 10, ..Default::default() };
        let mkv = encode_at(&config, 30, 1_700_000_000_000).unwrap();
        let size = mkv.len();
        let frames = frames_of(mkv);
        assert_eq!(frames.len(), 30);
        assert!(size < 100_000, "30 frames of 320x240 take {size} bytes");
        let keyframes: Vec<usize> =
            frames.iter().enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect();
        assert_eq!(keyframes, [0, 10, 20]);
        assert_eq!(frames[1].timestamp_ns - frames[0].timestamp_ns, 66_000_000);
        let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new()).unwrap();
        let mut rgb = vec![0u8; 320 * 240 * 3];
        let mut read = Vec::new();
        for frame in &frames {
            if let Some(picture) = decoder.decode(&annex_b(&frame.payload)).unwrap() {
                picture.write_rgb8(&mut rgb);
                read.push(read_frame_index(&rgb, 320, 240));
            }
        }
        for picture in decoder.flush_remaining().unwrap() {
            picture.write_rgb8(&mut rgb);
            read.push(read_frame_index(&rgb, 320, 240));
        }
        let expected: Vec<Option<u64>> = (0..30).map(Some).collect();
        assert_eq!(read, expected);
    }

    /// Decodes a camera stream of `frames` frames with openh264 and converts each picture
    /// to RGB with openh264's BT.601 limited-range `write_rgb8`.
    fn decode_rgb(config: &CameraConfig, frames: u64) -> Vec<Vec<u8>> {
        let (w, h) = (config.width as usize, config.height as usize);
        let stream = frames_of(encode_at(config, frames, 1_700_000_000_000).unwrap());
        let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new()).unwrap();
        let mut pictures = Vec::new();
        for frame in &stream {
            if let Some(picture) = decoder.decode(&annex_b(&frame.payload)).unwrap() {
                let mut rgb = vec![0u8; w * h * 3];
                picture.write_rgb8(&mut rgb);
                pictures.push(rgb);
            }
        }
        for picture in decoder.flush_remaining().unwrap() {
            let mut rgb = vec![0u8; w * h * 3];
            picture.write_rgb8(&mut rgb);
            pictures.push(rgb);
        }
        pictures
    }

    #[test]
    fn decoded_bars_keep_their_colours_and_the_box_moves() {
        for (w, h) in [(320usize, 240usize), (640, 360)] {
            let config = CameraConfig {
                width: w as u32,
                height: h as u32,
                frames_per_fragment: 8,
                ..Default::default()
            };
            let pictures = decode_rgb(&config, 16);
            assert_eq!(pictures.len(), 16, "{w}x{h}");
            let mut worst = 0u8;
            for (index, rgb) in pictures.iter().enumerate() {
                assert_eq!(read_frame_index(rgb, w, h), Some(index as u64), "{w}x{h}");
                for (k, (name, want)) in BARS.iter().enumerate() {
                    let (x, y) = bar_centre(k, w, h);
                    let p = (y * w + x) * 3;
                    let got = &rgb[p..p + 3];
                    let error = (0..3).map(|c| got[c].abs_diff(want[c])).max().unwrap();
                    assert!(error <= 12, "{w}x{h} frame {index} {name}: {got:?}, expected {want:?}");
                    worst = worst.max(error);
                }
                // The box is white where it is and black half a picture away.
                let (left, size) = moving_box(w, index as u64);
                let y = (bar_rows(h).1 + h) / 2;
                let luma_at = |x: usize| rgb[(y * w + x % w) * 3 + 1];
                assert!(luma_at(left + size / 2) > 220, "{w}x{h} frame {index}: box at {left}");
                assert!(luma_at(left + size / 2 + w / 2) < 30, "{w}x{h} frame {index}: away from the box");
            }
            println!("{w}x{h}: worst bar error {worst} per channel");
        }
        assert_ne!(moving_box(320, 0).0, moving_box(320, 1).0);
    }

    #[test]
    fn the_sps_declares_the_picture_size_and_bt601_limited_range() {
        for (w, h) in [(320u32, 240u32), (1280, 720), (642, 362)] {
            let config = CameraConfig { width: w, height: h, ..Default::default() };
            let frames = frames_of(encode_at(&config, 1, 0).unwrap());
            let nals: Vec<&[u8]> =
                kvs_h264::split_avcc(&frames[0].payload, LengthSize::FOUR).collect::<Result<_, _>>().unwrap();
            let sps = nals.iter().find(|n| kvs_h264::nal_type(n) == Some(NalType::Sps)).unwrap();
            let sps = kvs_h264::Sps::parse(sps).unwrap();
            assert_eq!((sps.width(), sps.height()), (w, h));
            let signal = sps.vui.unwrap().video_signal.unwrap();
            // Limited range, BT.601 (SMPTE 170M) primaries, transfer and matrix.
            assert!(!signal.full_range, "{w}x{h}");
            let colour = signal.colour.unwrap();
            assert_eq!((colour.primaries, colour.transfer, colour.matrix), (6, 6, 6), "{w}x{h}");
        }
    }

    #[test]
    fn codec_private_is_the_record_of_the_in_band_parameter_sets() {
        let mkv = encode_at(&CameraConfig::default(), 2, 0).unwrap();
        let fragment = Fragment::from_bytes(mkv).unwrap();
        let record = fragment.tracks().unwrap()[0].codec_private.clone().unwrap();
        let config = AvcDecoderConfig::parse(&record).unwrap();
        let frames = fragment.frames().unwrap();
        let in_band: Vec<&[u8]> =
            kvs_h264::split_avcc(&frames[0].payload, LengthSize::FOUR).collect::<Result<_, _>>().unwrap();
        let of_type =
            |t| in_band.iter().filter(|n| kvs_h264::nal_type(n) == Some(t)).map(|n| n.to_vec()).collect();
        assert_eq!((config.sps, config.pps), (of_type(NalType::Sps), of_type(NalType::Pps)));
        assert_eq!(config.length_size, LengthSize::FOUR);
        assert_eq!(
            AvcDecoderConfig::parse(&record).unwrap().to_bytes().unwrap(),
            record.to_vec(),
            "byte-exact"
        );
        // Only the keyframe carries parameter sets.
        let split = |f: &kvs_mkv::Frame| kvs_h264::split_avcc(&f.payload, LengthSize::FOUR).count();
        assert_eq!(split(&frames[1]), 1);
    }

    #[test]
    fn bad_configurations_are_refused() {
        use crate::CameraConfigError::{Fps, FragmentLength, Size};
        for (config, expected) in [
            (CameraConfig { width: 321, ..Default::default() }, Size { width: 321, height: 240 }),
            // Beyond openh264's 3840x2160, which it would refuse at the first frame.
            (CameraConfig { width: 4096, ..Default::default() }, Size { width: 4096, height: 240 }),
            (CameraConfig { height: 2304, ..Default::default() }, Size { width: 320, height: 2304 }),
            (CameraConfig { fps: 0, ..Default::default() }, Fps { fps: 0 }),
            (CameraConfig { fps: 121, ..Default::default() }, Fps { fps: 121 }),
            (
                CameraConfig { fps: 1, frames_per_fragment: 11, ..Default::default() },
                FragmentLength { frames_per_fragment: 11, fps: 1 },
            ),
            (
                CameraConfig { frames_per_fragment: 0, ..Default::default() },
                FragmentLength { frames_per_fragment: 0, fps: 15 },
            ),
        ] {
            match encode_at(&config, 1, 0) {
                Err(Error::Camera(e)) => assert_eq!(e, expected),
                other => panic!("{config:?}: expected {expected:?}, got {other:?}"),
            }
        }
        assert!(encode(&CameraConfig { height: 7, ..Default::default() }, 3).is_empty());
    }

    #[test]
    fn a_keyframe_without_parameter_sets_makes_no_header() {
        let frames = frames_of(encode_at(&CameraConfig::default(), 1, 0).unwrap());
        let nals: Vec<&[u8]> =
            kvs_h264::split_avcc(&frames[0].payload, LengthSize::FOUR).collect::<Result<_, _>>().unwrap();
        let sps = nals.iter().find(|n| kvs_h264::nal_type(n) == Some(NalType::Sps)).unwrap().to_vec();
        assert!(matches!(configuration_record(None), Err(Error::NoParameterSets)));
        // An SPS where the PPS should be.
        match configuration_record(Some((sps.clone(), sps))) {
            Err(Error::ConfigurationRecord(kvs_h264::Error::UnexpectedNalType { expected, found })) => {
                assert_eq!((expected, found), (NalType::Pps, Some(NalType::Sps)));
            }
            other => panic!("expected a configuration record error, got {other:?}"),
        }
    }

    #[test]
    fn each_fragment_is_one_cluster() {
        let mkv = encode_at(&CameraConfig { frames_per_fragment: 4, ..Default::default() }, 10, 0).unwrap();
        let mut reader = kvs_mkv::SegmentReader::new();
        reader.feed(mkv);
        reader.finish();
        let mut clusters = 0;
        while let Some(item) = reader.poll() {
            if let kvs_mkv::SegmentItem::Child(e) = item.unwrap() {
                clusters += usize::from(e.id == ids::CLUSTER);
            }
        }
        assert_eq!(clusters, 3);
    }
}
