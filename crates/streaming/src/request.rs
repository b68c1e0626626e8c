//! The two session requests, `GetHLSStreamingSessionURL` and
//! `GetDASHStreamingSessionURL`: their JSON bodies as the SDKs send them, and their
//! validation into a [`SessionSpec`] with AWS's defaults, ranges and errors (botocore's
//! `kinesis-video-archived-media` model and the API reference).
//!
//! It does not look at the stream: whether it exists, and whether it has fragments to
//! play, is checked when the session is created ([`crate::SessionTable::create`]).

use serde::Deserialize;

use crate::error::Error;
use crate::fragment::{TimestampSource, UnixMillis};

/// `Expires`: shortest session, and the default (seconds).
pub const EXPIRES_MIN_SECS: u32 = 300;
/// `Expires`: longest session (seconds).
pub const EXPIRES_MAX_SECS: u32 = 43_200;
/// `MaxMediaPlaylistFragmentResults` / `MaxManifestFragmentResults`: upper bound.
pub const MAX_RESULTS_LIMIT: u32 = 5_000;
/// Default fragment count of LIVE and LIVE_REPLAY playlists.
pub const MAX_RESULTS_LIVE_DEFAULT: u32 = 5;
/// Default fragment count of ON_DEMAND playlists.
pub const MAX_RESULTS_ON_DEMAND_DEFAULT: u32 = 1_000;
/// `EndTimestamp` may be at most this long after `StartTimestamp` (24 h).
pub const MAX_RANGE_MS: u64 = 24 * 3600 * 1000;
/// `StreamName`: the model's length bound.
const STREAM_NAME_MAX: usize = 256;
/// `StreamARN`: the model's length bound.
const STREAM_ARN_MAX: usize = 1024;

/// The body of `POST /getHLSStreamingSessionURL`. Enumerations are kept as strings so
/// an unknown value is AWS's `InvalidArgumentException`, not a serialization error.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HlsSessionRequest {
    /// `StreamName`.
    pub stream_name: Option<String>,
    /// `StreamARN`.
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// `PlaybackMode`: LIVE (default) | LIVE_REPLAY | ON_DEMAND.
    pub playback_mode: Option<String>,
    /// `HLSFragmentSelector`.
    #[serde(rename = "HLSFragmentSelector")]
    pub fragment_selector: Option<FragmentSelectorBody>,
    /// `ContainerFormat`: FRAGMENTED_MP4 (default) | MPEG_TS.
    pub container_format: Option<String>,
    /// `DiscontinuityMode`: ALWAYS | NEVER | ON_DISCONTINUITY.
    pub discontinuity_mode: Option<String>,
    /// `DisplayFragmentTimestamp`: ALWAYS | NEVER (default).
    pub display_fragment_timestamp: Option<String>,
    /// `Expires`, seconds.
    pub expires: Option<i64>,
    /// `MaxMediaPlaylistFragmentResults`.
    pub max_media_playlist_fragment_results: Option<i64>,
}

/// The body of `POST /getDASHStreamingSessionURL`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DashSessionRequest {
    /// `StreamName`.
    pub stream_name: Option<String>,
    /// `StreamARN`.
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    /// `PlaybackMode`: LIVE (default) | LIVE_REPLAY | ON_DEMAND.
    pub playback_mode: Option<String>,
    /// `DisplayFragmentTimestamp`: ALWAYS | NEVER (default), as `kvs:ts` on each `S`.
    pub display_fragment_timestamp: Option<String>,
    /// `DisplayFragmentNumber`: ALWAYS | NEVER (default), as `kvs:fn` on each `S`.
    pub display_fragment_number: Option<String>,
    /// `DASHFragmentSelector`.
    #[serde(rename = "DASHFragmentSelector")]
    pub fragment_selector: Option<FragmentSelectorBody>,
    /// `Expires`, seconds.
    pub expires: Option<i64>,
    /// `MaxManifestFragmentResults`.
    pub max_manifest_fragment_results: Option<i64>,
}

/// `HLSFragmentSelector` / `DASHFragmentSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FragmentSelectorBody {
    /// PRODUCER_TIMESTAMP | SERVER_TIMESTAMP.
    pub fragment_selector_type: Option<String>,
    /// The range; not allowed in LIVE.
    pub timestamp_range: Option<TimestampRangeBody>,
}

/// `HLSTimestampRange` / `DASHTimestampRange`: epoch seconds, as rest-json sends them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimestampRangeBody {
    /// `StartTimestamp`.
    pub start_timestamp: Option<f64>,
    /// `EndTimestamp`.
    pub end_timestamp: Option<f64>,
}

/// Which stream a request names; the server resolves an ARN to its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamRef {
    /// `StreamName`.
    Name(String),
    /// `StreamARN`.
    Arn(String),
}

/// `PlaybackMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaybackMode {
    /// The newest fragments, in a sliding window.
    Live,
    /// From a start time onward, released at the pace of playback.
    LiveReplay,
    /// A closed range, all at once.
    OnDemand,
}

/// `ContainerFormat` (HLS only; DASH is always fragmented MP4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerFormat {
    /// `FRAGMENTED_MP4`: `getMP4InitFragment.mp4` + `getMP4MediaFragment.mp4`.
    FragmentedMp4,
    /// `MPEG_TS`: `getTSFragment.ts`.
    MpegTs,
}

/// `DiscontinuityMode` (HLS only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscontinuityMode {
    /// A discontinuity before every fragment.
    Always,
    /// None.
    Never,
    /// Where a gap or overlap between fragments exceeds 50 ms.
    OnDiscontinuity,
}

/// The validated range of a LIVE_REPLAY or ON_DEMAND session (inclusive; fragments are
/// compared by their start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampRange {
    /// `StartTimestamp`.
    pub start: UnixMillis,
    /// `EndTimestamp`: always set for ON_DEMAND; unset LIVE_REPLAY runs until expiry.
    pub end: Option<UnixMillis>,
}

/// What differs between an HLS and a DASH session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HLS playlists.
    Hls {
        /// Segment container.
        container: ContainerFormat,
        /// Where `#EXT-X-DISCONTINUITY` goes.
        discontinuity: DiscontinuityMode,
        /// `#EXT-X-PROGRAM-DATE-TIME` on every fragment.
        display_timestamp: bool,
    },
    /// A DASH manifest.
    Dash {
        /// `kvs:ts` on every `S`.
        display_timestamp: bool,
        /// `kvs:fn` on every `S`.
        display_fragment_number: bool,
    },
}

/// A validated session request, with every default applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The stream named.
    pub stream: StreamRef,
    /// HLS or DASH, with their options.
    pub protocol: Protocol,
    /// `PlaybackMode`.
    pub mode: PlaybackMode,
    /// `FragmentSelectorType`.
    pub source: TimestampSource,
    /// The range (None exactly in LIVE).
    pub range: Option<TimestampRange>,
    /// `Expires`, seconds.
    pub expires_secs: u32,
    /// Fragments per playlist / manifest.
    pub max_results: u32,
}

impl HlsSessionRequest {
    /// Validates the request as AWS does, applying its defaults. `now` is the server's
    /// clock, needed because a SERVER_TIMESTAMP range must end in the past.
    ///
    /// ```
    /// use kvs_streaming::{HlsSessionRequest, PlaybackMode, UnixMillis};
    ///
    /// let request: HlsSessionRequest =
    ///     serde_json::from_str(r#"{"StreamName":"cam","PlaybackMode":"LIVE"}"#).unwrap();
    /// let spec = request.validate(UnixMillis(1_700_000_000_000))?;
    /// assert_eq!((spec.mode, spec.max_results, spec.expires_secs), (PlaybackMode::Live, 5, 300));
    ///
    /// let bad: HlsSessionRequest = serde_json::from_str(r#"{"StreamName":"cam","Expires":299}"#).unwrap();
    /// assert_eq!(bad.validate(UnixMillis(0)).unwrap_err().error_type(), "InvalidArgumentException");
    /// # Ok::<(), kvs_streaming::Error>(())
    /// ```
    pub fn validate(&self, now: UnixMillis) -> Result<SessionSpec, Error> {
        let stream = stream_ref(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let mode = playback_mode(self.playback_mode.as_deref())?;
        let (source, range) = selector(mode, self.fragment_selector.as_ref(), "HLSFragmentSelector", now)?;
        let container = match self.container_format.as_deref() {
            None | Some("FRAGMENTED_MP4") => ContainerFormat::FragmentedMp4,
            Some("MPEG_TS") => ContainerFormat::MpegTs,
            Some(other) => return Err(enum_error("ContainerFormat", other, "FRAGMENTED_MP4 | MPEG_TS")),
        };
        let discontinuity = match self.discontinuity_mode.as_deref() {
            // AWS: ALWAYS for server timestamps (which gap and overlap), NEVER for producer ones.
            None => match source {
                TimestampSource::Server => DiscontinuityMode::Always,
                TimestampSource::Producer => DiscontinuityMode::Never,
            },
            Some("ALWAYS") => DiscontinuityMode::Always,
            Some("NEVER") => DiscontinuityMode::Never,
            Some("ON_DISCONTINUITY") => DiscontinuityMode::OnDiscontinuity,
            Some(other) => {
                return Err(enum_error("DiscontinuityMode", other, "ALWAYS | NEVER | ON_DISCONTINUITY"));
            }
        };
        let display_timestamp =
            always_never("DisplayFragmentTimestamp", self.display_fragment_timestamp.as_deref())?;
        Ok(SessionSpec {
            stream,
            protocol: Protocol::Hls { container, discontinuity, display_timestamp },
            mode,
            source,
            range,
            expires_secs: expires(self.expires)?,
            max_results: max_results(
                "MaxMediaPlaylistFragmentResults",
                mode,
                self.max_media_playlist_fragment_results,
            )?,
        })
    }
}

impl DashSessionRequest {
    /// Validates the request as AWS does, applying its defaults (see
    /// [`HlsSessionRequest::validate`]).
    pub fn validate(&self, now: UnixMillis) -> Result<SessionSpec, Error> {
        let stream = stream_ref(self.stream_name.as_deref(), self.stream_arn.as_deref())?;
        let mode = playback_mode(self.playback_mode.as_deref())?;
        let (source, range) = selector(mode, self.fragment_selector.as_ref(), "DASHFragmentSelector", now)?;
        Ok(SessionSpec {
            stream,
            protocol: Protocol::Dash {
                display_timestamp: always_never(
                    "DisplayFragmentTimestamp",
                    self.display_fragment_timestamp.as_deref(),
                )?,
                display_fragment_number: always_never(
                    "DisplayFragmentNumber",
                    self.display_fragment_number.as_deref(),
                )?,
            },
            mode,
            source,
            range,
            expires_secs: expires(self.expires)?,
            max_results: max_results("MaxManifestFragmentResults", mode, self.max_manifest_fragment_results)?,
        })
    }
}

fn enum_error(parameter: &'static str, value: &str, allowed: &str) -> Error {
    Error::invalid(parameter, format!("'{value}' is not one of {allowed}"))
}

fn stream_ref(name: Option<&str>, arn: Option<&str>) -> Result<StreamRef, Error> {
    match (name, arn) {
        (Some(_), Some(_)) => {
            Err(Error::invalid("StreamName", "specify either StreamName or StreamARN, not both"))
        }
        (None, None) => Err(Error::invalid("StreamName", "specify either StreamName or StreamARN")),
        (Some(name), None) => {
            let valid_chars =
                name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if name.is_empty() || name.len() > STREAM_NAME_MAX || !valid_chars {
                return Err(Error::invalid("StreamName", "must be 1-256 characters of [a-zA-Z0-9_.-]"));
            }
            Ok(StreamRef::Name(name.to_owned()))
        }
        (None, Some(arn)) => {
            if arn.is_empty()
                || arn.len() > STREAM_ARN_MAX
                || !arn.starts_with("arn:")
                || !arn.contains(":kinesisvideo:")
            {
                return Err(Error::invalid("StreamARN", "is not a Kinesis Video Streams ARN"));
            }
            Ok(StreamRef::Arn(arn.to_owned()))
        }
    }
}

fn playback_mode(value: Option<&str>) -> Result<PlaybackMode, Error> {
    match value {
        None | Some("LIVE") => Ok(PlaybackMode::Live),
        Some("LIVE_REPLAY") => Ok(PlaybackMode::LiveReplay),
        Some("ON_DEMAND") => Ok(PlaybackMode::OnDemand),
        Some(other) => Err(enum_error("PlaybackMode", other, "LIVE | LIVE_REPLAY | ON_DEMAND")),
    }
}

fn always_never(parameter: &'static str, value: Option<&str>) -> Result<bool, Error> {
    match value {
        None | Some("NEVER") => Ok(false),
        Some("ALWAYS") => Ok(true),
        Some(other) => Err(enum_error(parameter, other, "ALWAYS | NEVER")),
    }
}

fn expires(value: Option<i64>) -> Result<u32, Error> {
    match value {
        None => Ok(EXPIRES_MIN_SECS),
        Some(secs) if (i64::from(EXPIRES_MIN_SECS)..=i64::from(EXPIRES_MAX_SECS)).contains(&secs) => {
            Ok(secs as u32)
        }
        Some(secs) => Err(Error::invalid(
            "Expires",
            format!("{secs} is outside {EXPIRES_MIN_SECS}-{EXPIRES_MAX_SECS} seconds"),
        )),
    }
}

fn max_results(parameter: &'static str, mode: PlaybackMode, value: Option<i64>) -> Result<u32, Error> {
    match value {
        None if mode == PlaybackMode::OnDemand => Ok(MAX_RESULTS_ON_DEMAND_DEFAULT),
        None => Ok(MAX_RESULTS_LIVE_DEFAULT),
        Some(n) if (1..=i64::from(MAX_RESULTS_LIMIT)).contains(&n) => Ok(n as u32),
        Some(n) => Err(Error::invalid(parameter, format!("{n} is outside 1-{MAX_RESULTS_LIMIT}"))),
    }
}

fn millis(parameter: &'static str, seconds: f64) -> Result<UnixMillis, Error> {
    // f64 seconds cover far past year 9999 exactly to the millisecond; reject what no
    // timestamp can be rather than saturate into a wrong one.
    if !(0.0..=253_402_300_799.0).contains(&seconds) {
        return Err(Error::invalid(parameter, format!("{seconds} is not a timestamp")));
    }
    Ok(UnixMillis((seconds * 1000.0).round() as u64))
}

fn selector(
    mode: PlaybackMode,
    body: Option<&FragmentSelectorBody>,
    parameter: &'static str,
    now: UnixMillis,
) -> Result<(TimestampSource, Option<TimestampRange>), Error> {
    let source = match body.and_then(|b| b.fragment_selector_type.as_deref()) {
        None => TimestampSource::Server,
        Some("SERVER_TIMESTAMP") => TimestampSource::Server,
        Some("PRODUCER_TIMESTAMP") => TimestampSource::Producer,
        Some(other) => {
            return Err(enum_error("FragmentSelectorType", other, "PRODUCER_TIMESTAMP | SERVER_TIMESTAMP"));
        }
    };
    let range = body.and_then(|b| b.timestamp_range.as_ref());
    if mode == PlaybackMode::Live {
        if range.is_some() {
            return Err(Error::invalid("TimestampRange", "must not be set when PlaybackMode is LIVE"));
        }
        return Ok((source, None));
    }
    let Some(body) = body else {
        return Err(Error::invalid(parameter, "is required when PlaybackMode is LIVE_REPLAY or ON_DEMAND"));
    };
    if body.fragment_selector_type.is_none() {
        return Err(Error::invalid(
            "FragmentSelectorType",
            "is required when PlaybackMode is LIVE_REPLAY or ON_DEMAND",
        ));
    }
    let Some(range) = range else {
        return Err(Error::invalid(
            "TimestampRange",
            "is required when PlaybackMode is LIVE_REPLAY or ON_DEMAND",
        ));
    };
    let Some(start) = range.start_timestamp else {
        return Err(Error::invalid("StartTimestamp", "is required in a TimestampRange"));
    };
    let start = millis("StartTimestamp", start)?;
    let end = match range.end_timestamp {
        Some(end) => Some(millis("EndTimestamp", end)?),
        None if mode == PlaybackMode::OnDemand => {
            return Err(Error::invalid("EndTimestamp", "is required when PlaybackMode is ON_DEMAND"));
        }
        None => None,
    };
    if let Some(end) = end {
        if end <= start {
            return Err(Error::invalid("EndTimestamp", "must be later than StartTimestamp"));
        }
        if end.0 - start.0 > MAX_RANGE_MS {
            return Err(Error::invalid("EndTimestamp", "must be within 24 hours of StartTimestamp"));
        }
        if source == TimestampSource::Server && end > now {
            return Err(Error::invalid("EndTimestamp", "must be in the past with SERVER_TIMESTAMP"));
        }
    }
    Ok((source, Some(TimestampRange { start, end })))
}
