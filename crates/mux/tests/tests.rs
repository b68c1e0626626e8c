//! kvs-mux as its users call it, with every output read back by an independent reader
//! (`mp4-atom`'s decoder, `mpeg2ts`'s readers) and, where installed, by FFmpeg.
//!
//! - `fmp4`: init and media segments of synthetic fragments: samples = frames, timing.
//! - `clip`: progressive MP4 sample tables, limits, edit lists.
//! - `ts`: packets, continuity counters, PES = Annex B / ADTS of the frames, PCR.
//! - `errors`: every typed error a bad input gives.
//! - `samples`: the real KVS captures through all three outputs, counted by ffprobe.
//! - `encoded`: H.265 + AAC and H.264 with B-frames, encoded by FFmpeg on the spot.

mod clip;
mod encoded;
mod errors;
mod fmp4;
mod samples;
mod ts;
mod util;
