//! Integration tests of kvs-media: one binary, one module per area.

// Helpers: fixtures, re-muxing the synthetic camera into KVS fragments.
#[path = "media/util.rs"]
mod util;
// Pixel-exact decoding of the synthetic camera: order, timestamps, selection, counters.
#[path = "media/camera.rs"]
mod camera;
// The real captures in kvs-samples: frame counts, unsupported codecs.
#[path = "media/samples.rs"]
mod samples;
// PCM tracks to WAV, Amazon Connect style.
#[path = "media/audio.rs"]
mod audio;
// FFmpeg backend: same YUV as openh264, H.265, AAC.
#[cfg(feature = "ffmpeg")]
#[path = "media/ffmpeg.rs"]
mod ffmpeg;
