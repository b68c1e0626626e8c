//! The player side of a session: the URLs AWS hands out and players follow
//! (`/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=..` and the rest), parsed from a
//! request's path and query into a [`PlayerRequest`], and the session URL and JSON
//! answer of the two session operations.
//!
//! These are plain GETs, not SDK operations. It does not route HTTP or fetch media: the
//! server matches the path, asks [`PlayerRequest::parse`], and answers.

use serde::Serialize;

use crate::error::Error;
use crate::request::{ContainerFormat, Protocol};
use crate::session::{FragmentKey, Session, SessionToken};

/// Directory of the HLS player paths.
pub const HLS_PREFIX: &str = "/hls/v1/";
/// Directory of the DASH player paths.
pub const DASH_PREFIX: &str = "/dash/v1/";
/// HLS master playlist.
pub const HLS_MASTER_PLAYLIST: &str = "getHLSMasterPlaylist.m3u8";
/// HLS media playlist (one per track for fMP4).
pub const HLS_MEDIA_PLAYLIST: &str = "getHLSMediaPlaylist.m3u8";
/// fMP4 initialization segment (`ftyp` + `moov`).
pub const MP4_INIT_FRAGMENT: &str = "getMP4InitFragment.mp4";
/// fMP4 media segment (`moof` + `mdat`), one per KVS fragment.
pub const MP4_MEDIA_FRAGMENT: &str = "getMP4MediaFragment.mp4";
/// MPEG-TS segment, all tracks, one per KVS fragment.
pub const TS_FRAGMENT: &str = "getTSFragment.ts";
/// DASH manifest.
pub const DASH_MANIFEST: &str = "getDASHManifest.mpd";

/// `Content-Type` of playlists.
pub const CONTENT_TYPE_M3U8: &str = "application/vnd.apple.mpegurl";
/// `Content-Type` of the DASH manifest.
pub const CONTENT_TYPE_MPD: &str = "application/dash+xml";
/// `Content-Type` of fMP4 segments.
pub const CONTENT_TYPE_MP4: &str = "video/mp4";
/// `Content-Type` of TS segments.
pub const CONTENT_TYPE_TS: &str = "video/mp2t";

/// The answer of `GetHLSStreamingSessionURL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HlsSessionResponse {
    /// The master playlist URL, token included.
    #[serde(rename = "HLSStreamingSessionURL")]
    pub url: String,
}

/// The answer of `GetDASHStreamingSessionURL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DashSessionResponse {
    /// The manifest URL, token included.
    #[serde(rename = "DASHStreamingSessionURL")]
    pub url: String,
}

/// The session URL for `session`: `{base}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=..`
/// or `{base}/dash/v1/getDASHManifest.mpd?SessionToken=..`; `base` is the data
/// endpoint, e.g. `http://127.0.0.1:4567`.
///
/// ```
/// use kvs_streaming::{session_url, HlsSessionRequest, SessionTable, FragmentInfo, UnixMillis};
/// let now = UnixMillis(1_700_000_000_000);
/// let fragments = [FragmentInfo { fragment_number: "1".into(), producer: now, server: now, duration_ms: 1000 }];
/// let spec = HlsSessionRequest { stream_name: Some("cam".into()), ..Default::default() }.validate(now)?;
/// let mut table = SessionTable::default();
/// let token = table.create("cam", spec, &fragments, now)?;
/// let url = session_url("http://127.0.0.1:4567/", table.get_mut(token.as_str(), now)?);
/// assert_eq!(url, format!("http://127.0.0.1:4567/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken={token}"));
/// # Ok::<(), kvs_streaming::Error>(())
/// ```
pub fn session_url(base: &str, session: &Session) -> String {
    let base = base.trim_end_matches('/');
    let token = session.token();
    match session.spec().protocol {
        Protocol::Hls { .. } => format!("{base}{HLS_PREFIX}{HLS_MASTER_PLAYLIST}?SessionToken={token}"),
        Protocol::Dash { .. } => format!("{base}{DASH_PREFIX}{DASH_MANIFEST}?SessionToken={token}"),
    }
}

/// Relative URL of a media playlist (what the master playlist links).
pub(crate) fn media_playlist_url(token: &SessionToken, track: Option<u64>) -> String {
    match track {
        Some(track) => format!("{HLS_MEDIA_PLAYLIST}?SessionToken={token}&TrackNumber={track}"),
        None => format!("{HLS_MEDIA_PLAYLIST}?SessionToken={token}"),
    }
}

/// Relative URL of an init segment.
pub(crate) fn init_url(token: &SessionToken, track: u64) -> String {
    format!("{MP4_INIT_FRAGMENT}?SessionToken={token}&TrackNumber={track}")
}

/// Relative URL of a media segment, in AWS's parameter order.
pub(crate) fn media_url(token: &SessionToken, track: u64, fragment_number: &str) -> String {
    format!("{MP4_MEDIA_FRAGMENT}?FragmentNumber={fragment_number}&SessionToken={token}&TrackNumber={track}")
}

/// Relative URL of a TS segment.
pub(crate) fn ts_url(token: &SessionToken, fragment_number: &str) -> String {
    format!("{TS_FRAGMENT}?FragmentNumber={fragment_number}&SessionToken={token}")
}

/// A fragment named in a player request, owned (see [`FragmentKey`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FragmentRef {
    /// `FragmentNumber=`.
    Number(String),
    /// `SequenceNumber=` (DASH's `$Number$`).
    Sequence(u64),
}

impl FragmentRef {
    /// The borrowed key [`Session::resolve`] takes.
    pub fn key(&self) -> FragmentKey<'_> {
        match self {
            Self::Number(n) => FragmentKey::Number(n),
            Self::Sequence(s) => FragmentKey::Sequence(*s),
        }
    }
}

/// What a player asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerRequest {
    /// `getHLSMasterPlaylist.m3u8`.
    HlsMasterPlaylist {
        /// `SessionToken`.
        token: String,
    },
    /// `getHLSMediaPlaylist.m3u8` (`TrackNumber` absent for TS sessions).
    HlsMediaPlaylist {
        /// `SessionToken`.
        token: String,
        /// `TrackNumber`, 1 when absent.
        track: u64,
    },
    /// `getMP4InitFragment.mp4`.
    Mp4InitFragment {
        /// `SessionToken`.
        token: String,
        /// `TrackNumber`, 1 when absent.
        track: u64,
    },
    /// `getMP4MediaFragment.mp4`.
    Mp4MediaFragment {
        /// `SessionToken`.
        token: String,
        /// `TrackNumber`, 1 when absent.
        track: u64,
        /// `FragmentNumber` or `SequenceNumber`.
        fragment: FragmentRef,
    },
    /// `getTSFragment.ts`.
    TsFragment {
        /// `SessionToken`.
        token: String,
        /// `FragmentNumber`.
        fragment: FragmentRef,
    },
    /// `getDASHManifest.mpd`.
    DashManifest {
        /// `SessionToken`.
        token: String,
    },
}

impl PlayerRequest {
    /// Parses a request's path and raw query. `Ok(None)`: not a player path (route it
    /// elsewhere); `Err`: a player path with missing or malformed parameters
    /// (`InvalidArgumentException`).
    ///
    /// ```
    /// use kvs_streaming::{FragmentRef, PlayerRequest};
    /// let request = PlayerRequest::parse(
    ///     "/hls/v1/getMP4MediaFragment.mp4",
    ///     "FragmentNumber=9134&SessionToken=ab12&TrackNumber=1",
    /// )?;
    /// assert_eq!(
    ///     request,
    ///     Some(PlayerRequest::Mp4MediaFragment {
    ///         token: "ab12".into(),
    ///         track: 1,
    ///         fragment: FragmentRef::Number("9134".into()),
    ///     })
    /// );
    /// assert_eq!(PlayerRequest::parse("/listFragments", "")?, None);
    /// # Ok::<(), kvs_streaming::Error>(())
    /// ```
    pub fn parse(path: &str, query: &str) -> Result<Option<Self>, Error> {
        let (hls, name) = if let Some(name) = path.strip_prefix(HLS_PREFIX) {
            (true, name)
        } else if let Some(name) = path.strip_prefix(DASH_PREFIX) {
            (false, name)
        } else {
            return Ok(None);
        };
        let mut token = None;
        let mut track = None;
        let mut fragment_number = None;
        let mut sequence = None;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "SessionToken" => token = Some(value.into_owned()),
                "TrackNumber" => track = Some(number("TrackNumber", &value)?),
                "FragmentNumber" => fragment_number = Some(value.into_owned()),
                "SequenceNumber" => sequence = Some(number("SequenceNumber", &value)?),
                _ => {}
            }
        }
        let token_of = |token: Option<String>| match token {
            Some(t) if !t.is_empty() => Ok(t),
            _ => Err(Error::invalid("SessionToken", "is required")),
        };
        let fragment_of = |number: Option<String>, sequence: Option<u64>| match (number, sequence) {
            (Some(n), _) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(FragmentRef::Number(n))
            }
            (Some(_), _) => Err(Error::invalid("FragmentNumber", "must be decimal digits")),
            (None, Some(s)) => Ok(FragmentRef::Sequence(s)),
            (None, None) => Err(Error::invalid("FragmentNumber", "is required")),
        };
        let track = track.unwrap_or(1);
        let request = match (hls, name) {
            (true, HLS_MASTER_PLAYLIST) => Self::HlsMasterPlaylist { token: token_of(token)? },
            (true, HLS_MEDIA_PLAYLIST) => Self::HlsMediaPlaylist { token: token_of(token)?, track },
            (true, TS_FRAGMENT) => Self::TsFragment {
                token: token_of(token)?,
                fragment: fragment_of(fragment_number, sequence)?,
            },
            (false, DASH_MANIFEST) => Self::DashManifest { token: token_of(token)? },
            (_, MP4_INIT_FRAGMENT) => Self::Mp4InitFragment { token: token_of(token)?, track },
            (_, MP4_MEDIA_FRAGMENT) => Self::Mp4MediaFragment {
                token: token_of(token)?,
                track,
                fragment: fragment_of(fragment_number, sequence)?,
            },
            _ => return Ok(None),
        };
        Ok(Some(request))
    }

    /// The `SessionToken` it carries.
    pub fn token(&self) -> &str {
        match self {
            Self::HlsMasterPlaylist { token }
            | Self::HlsMediaPlaylist { token, .. }
            | Self::Mp4InitFragment { token, .. }
            | Self::Mp4MediaFragment { token, .. }
            | Self::TsFragment { token, .. }
            | Self::DashManifest { token } => token,
        }
    }

    /// The `Content-Type` of the answer.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::HlsMasterPlaylist { .. } | Self::HlsMediaPlaylist { .. } => CONTENT_TYPE_M3U8,
            Self::Mp4InitFragment { .. } | Self::Mp4MediaFragment { .. } => CONTENT_TYPE_MP4,
            Self::TsFragment { .. } => CONTENT_TYPE_TS,
            Self::DashManifest { .. } => CONTENT_TYPE_MPD,
        }
    }

    /// Refuses a request its session does not serve: a playlist of a DASH session, an
    /// MP4 segment of a TS session, and so on (`InvalidArgumentException`).
    pub fn check(&self, session: &Session) -> Result<(), Error> {
        let fits = match (self, session.spec().protocol) {
            (Self::DashManifest { .. }, Protocol::Dash { .. }) => true,
            (Self::HlsMasterPlaylist { .. } | Self::HlsMediaPlaylist { .. }, Protocol::Hls { .. }) => true,
            (Self::TsFragment { .. }, Protocol::Hls { container, .. }) => {
                container == ContainerFormat::MpegTs
            }
            (
                Self::Mp4InitFragment { .. } | Self::Mp4MediaFragment { .. },
                Protocol::Hls { container, .. },
            ) => container == ContainerFormat::FragmentedMp4,
            (Self::Mp4InitFragment { .. } | Self::Mp4MediaFragment { .. }, Protocol::Dash { .. }) => true,
            _ => false,
        };
        if fits {
            Ok(())
        } else {
            Err(Error::invalid("SessionToken", "this session does not serve this resource"))
        }
    }
}

fn number(parameter: &'static str, value: &str) -> Result<u64, Error> {
    value.parse().map_err(|_| Error::invalid(parameter, format!("'{value}' is not a number")))
}
