//! [`TrackInfo`]: what playlists and manifests say of a stream's tracks (codec string,
//! size, bandwidth). The server derives it from the MKV tracks; this crate only prints it.

/// Video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// H.264 / H.265.
    Video,
    /// AAC.
    Audio,
}

/// One track of the stream, as players are told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// MKV track number (`TrackNumber=` in player URLs; KVS: 1 video, 2 audio).
    pub number: u64,
    /// Video or audio.
    pub kind: TrackKind,
    /// RFC 6381 codec string, e.g. `avc1.64001f`, `mp4a.40.2`.
    pub codecs: Option<String>,
    /// Pixels (video).
    pub width: Option<u32>,
    /// Pixels (video).
    pub height: Option<u32>,
    /// Peak bits per second (HLS `BANDWIDTH`, DASH `bandwidth`, both required).
    pub bandwidth: u64,
}

impl TrackInfo {
    /// A video track with no known codec string or size: what a player is told when the
    /// server knows nothing more.
    pub fn video(number: u64) -> Self {
        Self { number, kind: TrackKind::Video, codecs: None, width: None, height: None, bandwidth: 2_000_000 }
    }
}
