//! The synthetic camera: an H.264 test pattern encoded with openh264 (built from source),
//! muxed as a producer MKV stream, with each frame's index drawn in large blocks so a
//! decoder test can read it back from pixels ([`read_frame_index`]) and colour bars whose
//! expected colours a decoder test can check pixel by pixel ([`BARS`], [`bar_at`]).
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
//! Cb/Cr 16..240. The SPS says so explicitly: openh264 always writes a VUI, and without
//! our setting its `video_signal_type_present_flag` is 0 (no colour description, which
//! decoders take as BT.601 limited for SD but may take as BT.709 for HD sizes); the
//! encoder is configured with `VuiConfig::bt601()`, so the VUI declares limited range and
//! colour primaries, transfer and matrix 6 (SMPTE 170M, i.e. BT.601). Decoding with
//! BT.601 limited (openh264's `write_rgb8` does) gives back [`BARS`] within coding loss.
//! A keyframe (IDR, with SPS and PPS) starts every fragment.
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
use openh264::encoder::{BitRate, Encoder, EncoderConfig, FrameRate, QpRange, RateControlMode, VuiConfig};
use openh264::formats::YUVBuffer;

use crate::Error;

/// What the camera films.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraConfig {
    /// Picture width in pixels (even, 32 to 3840, openh264's limit; default 320).
    pub width: u32,
    /// Picture height in pixels (even, 32 to 2160, openh264's limit; default 240).
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
            || !(32..=3840).contains(&self.width)
            || !(32..=2160).contains(&self.height)
        {
            return bad("width and height must be even, 32x32 to 3840x2160");
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
            .vui(VuiConfig::bt601())
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
fn bar_rows(height: usize) -> (usize, usize) {
    (height / 4, (height * 3 / 4) & !1)
}

/// The left edge of bar `k` (0 to 8, where 8 is the right edge of the picture): always even.
fn bar_edge(k: usize, width: usize) -> usize {
    k * width / 16 * 2
}

/// The moving box: its left column (it wraps around the right edge) and width.
fn moving_box(width: usize, index: u64) -> (usize, usize) {
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
fn draw(yuv: &mut [u8], width: usize, height: usize, index: u64) {
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

    /// The centre pixel of bar `k`.
    fn bar_centre(k: usize, width: usize, height: usize) -> (usize, usize) {
        let (top, bottom) = bar_rows(height);
        ((bar_edge(k, width) + bar_edge(k + 1, width)) / 2, (top + bottom) / 2)
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

    /// A most-significant-bit-first reader of an RBSP (test input only: it panics at the end).
    struct Bits {
        rbsp: Vec<u8>,
        pos: usize,
    }

    impl Bits {
        /// Reads `n` bits (at most 32).
        fn u(&mut self, n: u32) -> u32 {
            (0..n).fold(0, |v, _| {
                let b = self.rbsp[self.pos / 8] >> (7 - self.pos % 8) & 1;
                self.pos += 1;
                v << 1 | u32::from(b)
            })
        }

        /// Reads an unsigned Exp-Golomb code.
        fn ue(&mut self) -> u32 {
            let mut zeros = 0;
            while self.u(1) == 0 {
                zeros += 1;
            }
            (1u32 << zeros) - 1 + self.u(zeros)
        }
    }

    /// The VUI colour fields of an SPS NAL unit (header byte included): video signal type
    /// present, full range, colour primaries, transfer characteristics, matrix (2 means
    /// unspecified).
    fn sps_colour(nal: &[u8]) -> (bool, bool, u32, u32, u32) {
        let mut rbsp = Vec::new();
        for &b in &nal[1..] {
            // Drop emulation prevention bytes (00 00 03).
            if !(b == 3 && rbsp.ends_with(&[0, 0])) {
                rbsp.push(b);
            }
        }
        let mut r = Bits { rbsp, pos: 0 };
        let profile = r.u(8);
        assert!(matches!(profile, 66 | 77 | 88), "profile {profile}: only non-High profiles are parsed");
        r.u(16); // constraint flags, level_idc
        r.ue(); // seq_parameter_set_id
        r.ue(); // log2_max_frame_num_minus4
        match r.ue() {
            0 => _ = r.ue(), // log2_max_pic_order_cnt_lsb_minus4
            2 => {}
            other => panic!("pic_order_cnt_type {other} is not parsed"),
        }
        r.ue(); // max_num_ref_frames
        r.u(1); // gaps_in_frame_num_value_allowed_flag
        r.ue(); // pic_width_in_mbs_minus1
        r.ue(); // pic_height_in_map_units_minus1
        if r.u(1) == 0 {
            r.u(1); // mb_adaptive_frame_field_flag
        }
        r.u(1); // direct_8x8_inference_flag
        if r.u(1) == 1 {
            (0..4).for_each(|_| _ = r.ue()); // frame cropping offsets
        }
        let unspecified = (false, false, 2, 2, 2);
        if r.u(1) == 0 {
            return unspecified; // no VUI
        }
        if r.u(1) == 1 && r.u(8) == 255 {
            r.u(32); // sar_width, sar_height
        }
        if r.u(1) == 1 {
            r.u(1); // overscan_appropriate_flag
        }
        if r.u(1) == 0 {
            return unspecified; // no video_signal_type
        }
        r.u(3); // video_format
        let full_range = r.u(1) == 1;
        if r.u(1) == 0 {
            return (true, full_range, 2, 2, 2); // no colour_description
        }
        (true, full_range, r.u(8), r.u(8), r.u(8))
    }

    #[test]
    fn the_sps_declares_bt601_limited_range() {
        for (w, h) in [(320u32, 240u32), (1280, 720)] {
            let config = CameraConfig { width: w, height: h, ..Default::default() };
            let frames = frames_of(encode_at(&config, 1, 0).unwrap());
            let mut rest = &frames[0].payload[..];
            let mut sps = None;
            while rest.len() >= 4 {
                let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let nal = &rest[4..4 + len];
                if nal[0] & 0x1F == 7 {
                    sps = Some(nal.to_vec());
                }
                rest = &rest[4 + len..];
            }
            // Signal type present, limited range, BT.601 (SMPTE 170M) primaries, transfer, matrix.
            assert_eq!(sps_colour(&sps.unwrap()), (true, false, 6, 6, 6), "{w}x{h}");
        }
    }

    #[test]
    fn bad_configurations_are_refused() {
        for config in [
            CameraConfig { width: 321, ..Default::default() },
            // Beyond openh264's 3840x2160, which it would refuse at the first frame.
            CameraConfig { width: 4096, ..Default::default() },
            CameraConfig { height: 2304, ..Default::default() },
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
