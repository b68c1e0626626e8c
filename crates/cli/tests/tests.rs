//! The `kvs` binary as users run it, in one test binary (one link of the AWS SDKs).
//!
//! - `archived`: `kvs images`, `kvs clip --stream`, `kvs play` (and the AWS CLI, ffmpeg)
//!   against `kvs serve` holding the synthetic camera.
//! - `browser`: the page of `kvs serve` playing a live camera in headless chromium.
//! - `clip`: `kvs clip --input` remuxing real captures into MP4 files ffprobe counts.
//! - `inspect`: `kvs inspect` on real captures and standard input.
//! - `frames_codecs`: `kvs frames` skipping fragments of a codec it cannot decode.
//! - `frames_out`: `kvs consume --frames-out`, exactly the selected frames written.
//! - `put`: `kvs put` (camera, bad input, an ffmpeg pipe) read back with `kvs consume`.
//! - `serve_replay`: `kvs serve --replay` feeding many live streams.
//! - `serve_region`: `kvs serve --region` checking signatures for that region.
//! - `fleet`: `kvs fleet` workers killed and stopped, over SQLite and DynamoDB (moto).
//! - `tls`: `kvs serve --tls` with put, consume and fleet over HTTPS; a server killed
//!   mid-put and restarted.

mod archived;
mod browser;
mod clip;
mod fleet;
mod frames_codecs;
mod frames_out;
mod inspect;
mod put;
mod serve_region;
mod serve_replay;
mod tls;
mod util;
