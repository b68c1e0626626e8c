//! HLS and DASH streaming sessions shaped like Kinesis Video Streams'
//! `GetHLSStreamingSessionURL` and `GetDASHStreamingSessionURL`, and the web page of
//! `kvs serve`.
//!
//! This crate does no I/O: no sockets, no HTTP, no clock, no media. The server gives it
//! request bodies, player paths, the time, and descriptions of the stream's fragments
//! ([`FragmentInfo`]); it gives back validated sessions, tokens, playlists, manifests,
//! and the fragment a player asked for, leaving the server to remux that fragment
//! (`kvs-mux`) and answer.
//!
//! What it owns:
//! - [`request`]: the two request bodies and their validation, AWS's ranges, defaults
//!   and errors ([`Error`], mapped to AWS error types);
//! - [`SessionTable`]: sessions with opaque random tokens and expiry;
//! - [`window`](Window): which fragments each playback mode shows, and their numbering;
//! - [`hls`] and [`dash`]: the playlists and manifest;
//! - [`PlayerRequest`]: the player paths (`/hls/v1/getHLSMasterPlaylist.m3u8`...);
//! - [`page`] and [`asset`]: the web page's JSON contract and its files.
//!
//! ```
//! use kvs_streaming::{hls, FragmentInfo, HlsSessionRequest, PlayerRequest, SessionTable, UnixMillis};
//!
//! let now = UnixMillis(1_700_000_000_000);
//! let fragments: Vec<FragmentInfo> = (0..8u64)
//!     .map(|i| FragmentInfo {
//!         fragment_number: format!("{}", 1000 + i),
//!         producer: now.minus(16_000 - 2_000 * i),
//!         server: now.minus(15_500 - 2_000 * i),
//!         duration_ms: 2_000,
//!     })
//!     .collect();
//!
//! // POST /getHLSStreamingSessionURL
//! let body = r#"{"StreamName":"cam","PlaybackMode":"LIVE"}"#;
//! let spec = serde_json::from_str::<HlsSessionRequest>(body).unwrap().validate(now)?;
//! let mut sessions = SessionTable::default();
//! let token = sessions.create("cam", spec, &fragments, now)?;
//!
//! // GET /hls/v1/getHLSMediaPlaylist.m3u8?SessionToken=..&TrackNumber=1
//! let query = format!("SessionToken={token}&TrackNumber=1");
//! let request = PlayerRequest::parse("/hls/v1/getHLSMediaPlaylist.m3u8", &query)?.unwrap();
//! let session = sessions.get_mut(request.token(), now)?;
//! request.check(session)?;
//! let window = session.window(&fragments, now);
//! let playlist = hls::media_playlist(session, &window, 1);
//! assert_eq!(window.entries.len(), 5); // LIVE's default window
//! assert!(playlist.contains("getMP4MediaFragment.mp4?FragmentNumber=1007&SessionToken="));
//! # Ok::<(), kvs_streaming::Error>(())
//! ```
#![deny(missing_docs)]

mod assets;
pub mod dash;
mod error;
mod fragment;
pub mod hls;
pub mod page;
mod player;
pub mod request;
mod session;
mod track;
mod window;

pub use assets::{ASSETS, Asset, asset};
pub use error::Error;
pub use fragment::{FragmentInfo, TimestampSource, UnixMillis};
pub use player::{
    CONTENT_TYPE_M3U8, CONTENT_TYPE_MP4, CONTENT_TYPE_MPD, CONTENT_TYPE_TS, DASH_MANIFEST, DASH_PREFIX,
    DashSessionResponse, FragmentRef, HLS_MASTER_PLAYLIST, HLS_MEDIA_PLAYLIST, HLS_PREFIX,
    HlsSessionResponse, MP4_INIT_FRAGMENT, MP4_MEDIA_FRAGMENT, PlayerRequest, TS_FRAGMENT, session_url,
};
pub use request::{
    ContainerFormat, DashSessionRequest, DiscontinuityMode, HlsSessionRequest, PlaybackMode, Protocol,
    SessionSpec, StreamRef, TimestampRange,
};
pub use session::{DEFAULT_SESSION_LIMIT, FragmentKey, Session, SessionTable, SessionToken};
pub use track::{TrackInfo, TrackKind};
pub use window::{DISCONTINUITY_THRESHOLD_MS, Window, WindowEntry};
