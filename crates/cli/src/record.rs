//! The JSON Lines contract shared by `kvs inspect --json` and `kvs consume --json`: one
//! object per event. It is public; add fields, never rename or remove them.

use std::collections::BTreeMap;

use kvs_mkv::{AwsError, Fragment, Skipped};
use serde::Serialize;

/// `{"type":"fragment", ...}`: one fragment and what it holds.
#[derive(Debug, Serialize)]
pub struct FragmentRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    pub index: u64,
    pub offset: u64,
    pub size: usize,
    pub complete: bool,
    pub fragment_number: Option<String>,
    pub server_timestamp: Option<String>,
    pub producer_timestamp: Option<String>,
    pub millis_behind_now: Option<u64>,
    pub continuation_token: Option<String>,
    /// Every SimpleTag in order: `[name, value]`, value null for binary tags.
    pub tags: Vec<(String, Option<String>)>,
    pub tracks: Vec<TrackRecord>,
    /// Frames per track number.
    pub frames: BTreeMap<u64, usize>,
    /// Keyframes per track number.
    pub keyframes: BTreeMap<u64, usize>,
    /// Why frames could not all be read, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_error: Option<String>,
}

/// One track of a fragment.
#[derive(Debug, Serialize)]
pub struct TrackRecord {
    pub number: u64,
    pub codec_id: String,
    pub name: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub sampling_frequency: Option<f64>,
    pub channels: Option<u64>,
}

impl FragmentRecord {
    /// Reads everything the contract reports from a fragment.
    pub fn new(fragment: &Fragment) -> Self {
        let kvs = fragment.kvs();
        let (frames, frames_error) = fragment.frames_lossy();
        let mut counts = BTreeMap::new();
        let mut keyframes = BTreeMap::new();
        for frame in &frames {
            *counts.entry(frame.track).or_insert(0) += 1;
            *keyframes.entry(frame.track).or_insert(0) += usize::from(frame.keyframe);
        }
        let tracks = fragment.tracks().unwrap_or_default();
        Self {
            kind: "fragment",
            index: fragment.index(),
            offset: fragment.offset(),
            size: fragment.bytes().len(),
            complete: fragment.is_complete(),
            fragment_number: kvs.fragment_number.as_ref().map(ToString::to_string),
            server_timestamp: kvs.server_timestamp.as_ref().map(ToString::to_string),
            producer_timestamp: kvs.producer_timestamp.as_ref().map(ToString::to_string),
            millis_behind_now: kvs.millis_behind_now,
            continuation_token: kvs.continuation_token.clone(),
            tags: fragment.tags().iter().map(|t| (t.name.clone(), t.value.clone())).collect(),
            tracks: tracks
                .into_iter()
                .map(|t| TrackRecord {
                    number: t.number,
                    codec_id: t.codec_id,
                    name: t.name,
                    width: t.video.map(|v| v.width),
                    height: t.video.map(|v| v.height),
                    sampling_frequency: t.audio.map(|a| a.sampling_frequency),
                    channels: t.audio.map(|a| a.channels),
                })
                .collect(),
            frames: counts,
            keyframes,
            frames_error: frames_error.map(|e| e.to_string()),
        }
    }

    /// Total frames over all tracks.
    pub fn frame_count(&self) -> usize {
        self.frames.values().sum()
    }
}

/// `{"type":"skipped","offset":..,"size":..,"reason":".."}`.
#[derive(Debug, Serialize)]
pub struct SkippedRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    pub offset: u64,
    pub size: u64,
    pub reason: String,
}

impl SkippedRecord {
    /// The record of skipped bytes.
    pub fn new(skipped: &Skipped) -> Self {
        Self {
            kind: "skipped",
            offset: skipped.offset,
            size: skipped.len,
            reason: skipped.reason.to_string(),
        }
    }
}

/// `{"type":"error","offset":..,"code":"..","id":"..","message":".."}`: an in-band AWS error.
#[derive(Debug, Serialize)]
pub struct ErrorRecord {
    #[serde(rename = "type")]
    kind: &'static str,
    pub offset: u64,
    pub code: String,
    pub id: Option<String>,
    pub message: Option<String>,
}

impl ErrorRecord {
    /// The record of an in-band error.
    pub fn new(error: &AwsError) -> Self {
        Self {
            kind: "error",
            offset: error.offset,
            code: error.code.clone(),
            id: error.id.clone(),
            message: error.message.clone(),
        }
    }

    /// The record of an error that did not come in-band (code `""`, offset 0).
    pub fn message(message: String) -> Self {
        Self { kind: "error", offset: 0, code: String::new(), id: None, message: Some(message) }
    }
}
