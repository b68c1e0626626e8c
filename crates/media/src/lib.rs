//! Frames and audio of KVS fragments: decode, select, convert to RGB, save JPEG/PNG/WAV.
#![deny(missing_docs)]
