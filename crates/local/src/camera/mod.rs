//! The synthetic camera: an H.264 test pattern encoded with openh264 (built from source)
//! and muxed as a producer MKV stream, so a server, a consumer or a decoder can be tested
//! with frames whose content is known: each frame's index is drawn in large blocks a
//! decoder test can read back from pixels ([`read_frame_index`]), beside colour bars whose
//! expected colours it can check pixel by pixel ([`BARS`], [`bar_at`]).
//!
//! One concept a module:
//! - `pattern`: the picture of frame `n`, drawn in I420, and reading it back;
//! - `encoder`: openh264 to AVCC (through `kvs_h264`), muxed into the producer MKV, one
//!   Cluster a fragment, each starting at a keyframe (IDR, with SPS and PPS);
//! - `feeder`: the thread that delivers fragments to a running server, at real time or
//!   as fast as possible ([`LocalKvs::spawn_camera`](crate::LocalKvs::spawn_camera)).
//!
//! What it does not own: the H.264 bitstream syntax (`kvs_h264`), the EBML writer
//! (`kvs_mkv`), the store the fragments go to, its error types (the crate's `error`:
//! [`CameraConfigError`], and the encoder and thread variants of [`Error`](crate::Error)).

mod encoder;
mod feeder;
mod pattern;

pub(crate) use encoder::Camera;
pub use encoder::{encode, encode_at};
pub use feeder::CameraHandle;
pub(crate) use feeder::sleep_unless_stopped;
pub use pattern::{BARS, bar_at, read_frame_index};

use crate::error::CameraConfigError;

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
    pub(super) fn validate(&self) -> Result<(), CameraConfigError> {
        let (width, height, fps) = (self.width, self.height, self.fps);
        if !width.is_multiple_of(2)
            || !height.is_multiple_of(2)
            || !(32..=3840).contains(&width)
            || !(32..=2160).contains(&height)
        {
            return Err(CameraConfigError::Size { width, height });
        }
        if !(1..=120).contains(&fps) {
            return Err(CameraConfigError::Fps { fps });
        }
        let frames_per_fragment = self.frames_per_fragment;
        if frames_per_fragment == 0 || u64::from(frames_per_fragment) * 1000 / u64::from(fps) > 10_000 {
            return Err(CameraConfigError::FragmentLength { frames_per_fragment, fps });
        }
        Ok(())
    }

    pub(super) fn frame_ms(&self, index: u64) -> i64 {
        (index * 1000 / u64::from(self.fps)) as i64
    }
}
