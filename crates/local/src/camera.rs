//! The synthetic camera: an H.264 test pattern encoded with openh264 (built from source),
//! muxed as a producer MKV stream, with each frame's index drawn in large blocks so a
//! decoder test can read it back from pixels ([`read_frame_index`]).
//!
//! Picture: the top quarter is 16 equal-width cells, white for a 1 bit and black for a 0,
//! most significant bit first, encoding `index % 65536`; below it, a diagonal gradient that
//! moves with the frame index. A keyframe (IDR, with SPS and PPS) starts every fragment.
//!
//! This module encodes and muxes; feeding a running server is
//! [`LocalKvs::spawn_camera`](crate::LocalKvs::spawn_camera).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, ids};
use openh264::OpenH264API;
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, QpRange, RateControlMode};
use openh264::formats::YUVBuffer;

use crate::Error;

/// What the camera films.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraConfig {
    /// Picture width in pixels (even, 32 to 4096; default 320).
    pub width: u32,
    /// Picture height in pixels (even, 32 to 2304; default 240).
    pub height: u32,
    /// Frames per second (1 to 120; default 15).
    pub fps: u32,
    /// Frames per fragment: one keyframe, then P-frames (default 15, one second at 15 fps;
    /// a fragment may not exceed 10 s).
    pub frames_per_fragment: u32,
    /// Total frames to film; `None` (default) films until stopped.
    pub frames: Option<u64>,
    /// Pace fragments at real time (a live demo) instead of as fast as possible
    /// (default false).
    pub realtime: bool,
}

impl Default for CameraConfig {
    fn default() -> Self {
        Self { width: 320, height: 240, fps: 15, frames_per_fragment: 15, frames: None, realtime: false }
    }
}

impl CameraConfig {
    fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::Camera(what.to_owned()));
        if !self.width.is_multiple_of(2)
            || !self.height.is_multiple_of(2)
            || !(32..=4096).contains(&self.width)
            || !(32..=2304).contains(&self.height)
        {
            return bad("width and height must be even, 32x32 to 4096x2304");
        }
        if !(1..=120).contains(&self.fps) {
            return bad("fps must be 1 to 120");
        }
        if self.frames_per_fragment == 0
            || u64::from(self.frames_per_fragment) * 1000 / u64::from(self.fps) > 10_000
        {
            return bad("frames_per_fragment must be at least 1 and a fragment at most 10 s");
        }
        Ok(())
    }

    fn frame_ms(&self, index: u64) -> i64 {
        (index * 1000 / u64::from(self.fps)) as i64
    }
}

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
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), encoder_config)
            .map_err(|e| Error::Encoder(e.to_string()))?;
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
            let annex_b = self.encoder.encode(&source).map_err(|e| Error::Encoder(e.to_string()))?.to_vec();
            let (avcc, sps, pps) = annex_b_to_avcc(&annex_b);
            if let (Some(sps), Some(pps)) = (sps, pps) {
                sps_pps.get_or_insert((sps, pps));
            }
            let offset = self.start_ms + self.config.frame_ms(index) - cluster_ms;
            blocks.push((offset as i16, index == first, avcc));
        }
        self.next_frame += count;
        let mut w = EbmlWriter::new();
        if !self.header_sent {
            let Some((sps, pps)) = sps_pps else {
                return Err(Error::Encoder("the first keyframe carries no SPS/PPS".into()));
            };
            self.write_header(&mut w, &sps, &pps);
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

    fn write_header(&self, w: &mut EbmlWriter, sps: &[u8], pps: &[u8]) {
        let c = &self.config;
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |info| {
            info.uint(ids::TIMECODE_SCALE, 1_000_000)
                .string(ids::MUXING_APP, "kvs-local")
                .string(ids::WRITING_APP, "kvs-local camera");
        });
        let mut record = vec![
            1,
            sps.get(1).copied().unwrap_or(66),
            sps.get(2).copied().unwrap_or(0),
            sps.get(3).copied().unwrap_or(30),
            0xFF,
            0xE1,
        ];
        record.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        record.extend_from_slice(sps);
        record.push(1);
        record.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        record.extend_from_slice(pps);
        w.master(ids::TRACKS, |t| {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, 1)
                    .uint(ids::TRACK_UID, 1)
                    .uint(ids::TRACK_TYPE, 1)
                    .string(ids::NAME, "kvs-local camera")
                    .string(ids::CODEC_ID, "V_MPEG4/ISO/AVC")
                    .binary(ids::CODEC_PRIVATE, &record)
                    .uint(ids::DEFAULT_DURATION, 1_000_000_000 / u64::from(c.fps))
                    .master(ids::VIDEO, |v| {
                        v.uint(ids::PIXEL_WIDTH, u64::from(c.width))
                            .uint(ids::PIXEL_HEIGHT, u64::from(c.height));
                    });
            });
        });
    }
}

/// Draws frame `index` into an I420 buffer.
fn draw(yuv: &mut [u8], width: usize, height: usize, index: u64) {
    let bits = index % 65_536;
    let band = height / 4;
    let (luma, _) = yuv.split_at_mut(width * height);
    for (y, row) in luma.chunks_exact_mut(width).enumerate() {
        for (x, px) in row.iter_mut().enumerate() {
            *px = if y < band {
                let cell = (x * 16 / width).min(15);
                if bits >> (15 - cell) & 1 == 1 { 235 } else { 16 }
            } else {
                // A soft diagonal gradient that slides 4 px per frame.
                let t = (x + y + 4 * index as usize) % 256;
                let tri = if t < 128 { t } else { 255 - t };
                (48 + tri) as u8
            };
        }
    }
}

/// Splits Annex B output into AVCC (4-byte length prefixed) and picks out SPS and PPS.
fn annex_b_to_avcc(annex_b: &[u8]) -> (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= annex_b.len() {
        if annex_b[i] == 0 && annex_b[i + 1] == 0 && annex_b[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let (mut avcc, mut sps, mut pps) = (Vec::with_capacity(annex_b.len() + 8), None, None);
    for (n, &start) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map_or(annex_b.len(), |next| next - 3);
        while end > start && annex_b[end - 1] == 0 {
            end -= 1;
        }
        let nal = &annex_b[start..end];
        if nal.is_empty() {
            continue;
        }
        match nal[0] & 0x1F {
            7 => sps = Some(nal.to_vec()),
            8 => pps = Some(nal.to_vec()),
            _ => {}
        }
        avcc.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        avcc.extend_from_slice(nal);
    }
    (avcc, sps, pps)
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
    encode_at(config, frames, crate::store::now_ms()).unwrap_or_else(|e| {
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

/// A camera (or a paced file) feeding a stream of a running server. Dropping the handle
/// stops it.
#[derive(Debug)]
pub struct CameraHandle {
    stop: Arc<AtomicBool>,
    fragments: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<u64, Error>>>,
}

impl CameraHandle {
    /// Runs `step` on a thread until it returns `Ok(false)`, fails, or the handle stops
    /// it; each `Ok(true)` counts one fragment delivered.
    pub(crate) fn spawn(mut step: impl FnMut(&AtomicBool) -> Result<bool, Error> + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let fragments = Arc::new(AtomicU64::new(0));
        let (stop_flag, count) = (stop.clone(), fragments.clone());
        let thread = std::thread::Builder::new().name("kvs-local-feed".into()).spawn(move || {
            while !stop_flag.load(Ordering::Acquire) && step(&stop_flag)? {
                count.fetch_add(1, Ordering::AcqRel);
            }
            Ok(count.load(Ordering::Acquire))
        });
        match thread {
            Ok(thread) => Self { stop, fragments, thread: Some(thread) },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the camera thread");
                Self { stop, fragments, thread: None }
            }
        }
    }

    /// The step of a camera: waits for real time if asked, then encodes and delivers one
    /// fragment.
    pub(crate) fn camera_step(
        mut camera: Camera,
        realtime: bool,
        mut deliver: impl FnMut(Bytes) -> Result<(), Error> + Send + 'static,
    ) -> impl FnMut(&AtomicBool) -> Result<bool, Error> + Send + 'static {
        move |stop| {
            if realtime && !camera.done() {
                let wait = camera.next_fragment_end_ms() - crate::store::now_ms();
                if wait > 0 && !sleep_unless_stopped(Duration::from_millis(wait as u64), stop) {
                    return Ok(false);
                }
            }
            match camera.next_fragment()? {
                Some(bytes) => deliver(bytes).map(|()| true),
                None => Ok(false),
            }
        }
    }

    /// A handle whose camera could not start.
    pub(crate) fn failed(error: Error) -> Self {
        let thread = std::thread::spawn(move || Err(error));
        Self {
            stop: Arc::new(AtomicBool::new(true)),
            fragments: Arc::new(AtomicU64::new(0)),
            thread: Some(thread),
        }
    }

    /// Fragments delivered so far.
    pub fn fragments(&self) -> u64 {
        self.fragments.load(Ordering::Acquire)
    }

    /// Whether the camera has stopped (all frames done, stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until the camera has filmed all its frames (it never ends with
    /// `frames: None`: use [`stop`](Self::stop)); returns the fragments delivered.
    pub fn wait(mut self) -> Result<u64, Error> {
        self.join()
    }

    /// Stops the camera after the fragment in progress; returns the fragments delivered.
    pub fn stop(mut self) -> Result<u64, Error> {
        self.stop.store(true, Ordering::Release);
        self.join()
    }

    fn join(&mut self) -> Result<u64, Error> {
        match self.thread.take() {
            Some(thread) => {
                thread.join().unwrap_or_else(|_| Err(Error::Camera("the camera thread panicked".into())))
            }
            None => Err(Error::Camera("the camera thread did not start".into())),
        }
    }
}

impl Drop for CameraHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sleeps in short steps; false if asked to stop meanwhile.
pub(crate) fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    false
}

#[cfg(test)]
mod tests {
    use kvs_mkv::Fragment;
    use openh264::decoder::{Decoder, DecoderConfig};

    use super::*;

    /// AVCC (4-byte lengths) to Annex B.
    fn annex_b(avcc: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = avcc;
        while rest.len() >= 4 {
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&rest[4..4 + len]);
            rest = &rest[4 + len..];
        }
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
    fn bad_configurations_are_refused() {
        for config in [
            CameraConfig { width: 321, ..Default::default() },
            CameraConfig { fps: 0, ..Default::default() },
            CameraConfig { fps: 1, frames_per_fragment: 11, ..Default::default() },
        ] {
            assert!(matches!(encode_at(&config, 1, 0), Err(Error::Camera(_))));
        }
        assert!(encode(&CameraConfig { height: 7, ..Default::default() }, 3).is_empty());
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
