//! HLS and DASH: `GetHLSStreamingSessionURL`, `GetDASHStreamingSessionURL`, and the
//! player paths their URLs lead to (`/hls/v1/...`, `/dash/v1/...`).
//!
//! `kvs-streaming` validates the requests, keeps the sessions ([`SessionTable`]),
//! chooses the fragments each playback mode shows and writes playlists and manifests;
//! `kvs-mux` turns the stored fragments into fMP4 and MPEG-TS segments. This module
//! holds the table, maps the store into what those crates take, and answers.
//!
//! Time origins: HLS segments count from the Unix epoch (every segment of every
//! session agrees without state); a DASH segment starts at its entry's
//! `media_time_ms`, the gap-free timeline its manifest promises.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use kvs_mkv::Fragment;
use kvs_streaming::{
    DashSessionRequest, DashSessionResponse, FragmentInfo, HlsSessionRequest, HlsSessionResponse,
    PlayerRequest, Protocol, SessionTable, StreamRef as SpecStream, TrackInfo, TrackKind, UnixMillis, dash,
    hls, session_url,
};

use super::errors::{ApiError, ErrorType};
use super::media::{blocking, fragment_of, info_of, mux_error, remuxer_for};
use super::{ApiResult, Shared};
use crate::store::{StoredFragment, Stream, lock, now_ms};

/// The streaming sessions a server has issued.
#[derive(Debug, Default)]
pub(crate) struct Sessions(Mutex<SessionTable>);

/// The AWS error of a `kvs-streaming` refusal.
fn streaming_error(e: kvs_streaming::Error) -> ApiError {
    let kind = match e.error_type() {
        "InvalidArgumentException" => ErrorType::InvalidArgument,
        "ResourceNotFoundException" => ErrorType::ResourceNotFound,
        "NotAuthorizedException" => ErrorType::NotAuthorized,
        "ClientLimitExceededException" => ErrorType::ClientLimitExceeded,
        _ => ErrorType::InternalFailure,
    };
    ApiError::new(kind, e.to_string())
}

fn now() -> UnixMillis {
    UnixMillis(u64::try_from(now_ms()).unwrap_or(0))
}

/// `scheme://host` as the client reached the server: the `Host` header it sent (so a
/// player on loopback, or behind a port mapping, gets a URL it can open), else the
/// server's own endpoint.
fn base_url(shared: &Shared, headers: &HeaderMap) -> String {
    let scheme = shared.endpoint.split("://").next().unwrap_or("http");
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => {
            format!("{scheme}://{host}")
        }
        _ => shared.endpoint.clone(),
    }
}

fn resolve(shared: &Shared, stream: &SpecStream) -> Result<Arc<Stream>, ApiError> {
    let found = match stream {
        SpecStream::Name(name) => shared.store.get(name),
        SpecStream::Arn(arn) => shared.store.get_by_arn(arn),
    };
    found.ok_or_else(ApiError::not_found)
}

fn infos(stream: &Stream) -> (Vec<Arc<StoredFragment>>, Vec<FragmentInfo>) {
    let stored = stream.fragments();
    let infos = stored.iter().map(|f| info_of(f)).collect();
    (stored, infos)
}

/// `POST /getHLSStreamingSessionURL`.
pub(super) fn hls_session(
    shared: &Shared,
    sessions: &Sessions,
    headers: &HeaderMap,
    request: HlsSessionRequest,
) -> ApiResult {
    let now = now();
    let spec = request.validate(now).map_err(streaming_error)?;
    let url = open(shared, sessions, headers, spec, now)?;
    super::json_response(serde_json::to_value(HlsSessionResponse { url }).unwrap_or_default())
}

/// `POST /getDASHStreamingSessionURL`.
pub(super) fn dash_session(
    shared: &Shared,
    sessions: &Sessions,
    headers: &HeaderMap,
    request: DashSessionRequest,
) -> ApiResult {
    let now = now();
    let spec = request.validate(now).map_err(streaming_error)?;
    let url = open(shared, sessions, headers, spec, now)?;
    super::json_response(serde_json::to_value(DashSessionResponse { url }).unwrap_or_default())
}

fn open(
    shared: &Shared,
    sessions: &Sessions,
    headers: &HeaderMap,
    spec: kvs_streaming::SessionSpec,
    now: UnixMillis,
) -> Result<String, ApiError> {
    let stream = resolve(shared, &spec.stream)?;
    let (stored, fragments) = infos(&stream);
    // As AWS, a stream whose tracks cannot be served is refused when the session opens
    // (UnsupportedStreamMediaTypeException, MissingCodecPrivateDataException...).
    if let Some(newest) = stored.last() {
        remuxer_for(&fragment_of(newest)?)?;
    }
    let mut table = lock(&sessions.0);
    let token = table.create(&stream.info.name, spec, &fragments, now).map_err(streaming_error)?;
    let session = table.get_mut(token.as_str(), now).map_err(streaming_error)?;
    Ok(session_url(&base_url(shared, headers), session))
}

/// What a player request needs once its session has answered.
enum Work {
    Text(String),
    Init(Fragment, u64),
    Segment {
        fragment: Box<Fragment>,
        track: u64,
        next: Option<Box<Fragment>>,
        sequence: u32,
        dash_start_ms: Option<u64>,
    },
    Ts(Fragment),
}

/// A GET of a player path.
pub(super) async fn player(shared: Arc<Shared>, sessions: &Sessions, request: PlayerRequest) -> ApiResult {
    let now = now();
    let content_type = request.content_type();
    let stream = {
        let mut table = lock(&sessions.0);
        let session = table.get_mut(request.token(), now).map_err(streaming_error)?;
        request.check(session).map_err(streaming_error)?;
        shared.store.get(session.stream_name())
    }
    .ok_or_else(ApiError::not_found)?;
    let (stored, fragments) = infos(&stream);
    // The session is looked up again: the store was read without holding the table.
    let work = {
        let mut table = lock(&sessions.0);
        let session = table.get_mut(request.token(), now).map_err(streaming_error)?;
        let dash = matches!(session.spec().protocol, Protocol::Dash { .. });
        match &request {
            PlayerRequest::HlsMasterPlaylist { .. } => {
                let tracks = tracks_of(stored.last().map(|f| &**f));
                Work::Text(hls::master_playlist(session, &tracks))
            }
            PlayerRequest::HlsMediaPlaylist { track, .. } => {
                let window = session.window(&fragments, now);
                Work::Text(hls::media_playlist(session, &window, *track))
            }
            PlayerRequest::DashManifest { .. } => {
                let tracks = tracks_of(stored.last().map(|f| &**f));
                let window = session.window(&fragments, now);
                Work::Text(dash::manifest(session, &window, &tracks, now))
            }
            PlayerRequest::Mp4InitFragment { track, .. } => {
                // The tracks of what the session shows, else the stream's newest.
                let window = session.window(&fragments, now);
                let number = window.entries.first().map(|e| e.fragment.fragment_number.clone());
                let f = number
                    .and_then(|n| stored.iter().find(|f| f.number.as_str() == n))
                    .or(stored.last())
                    .ok_or_else(|| {
                        ApiError::new(ErrorType::ResourceNotFound, "the stream has no fragment")
                    })?;
                Work::Init(fragment_of(f)?, *track)
            }
            PlayerRequest::Mp4MediaFragment { fragment, .. } | PlayerRequest::TsFragment { fragment, .. } => {
                let entry = session.resolve(&fragments, fragment.key(), now).map_err(streaming_error)?;
                let at = stored
                    .iter()
                    .position(|f| f.number.as_str() == entry.fragment.fragment_number)
                    .ok_or_else(|| ApiError::new(ErrorType::ResourceNotFound, "the fragment is gone"))?;
                let this = fragment_of(&stored[at])?;
                if let PlayerRequest::Mp4MediaFragment { track, .. } = request {
                    let next = stored.get(at + 1).map(|f| fragment_of(f).map(Box::new)).transpose()?;
                    let sequence = u32::try_from(entry.sequence + 1).unwrap_or(u32::MAX);
                    Work::Segment {
                        fragment: Box::new(this),
                        track,
                        next,
                        sequence,
                        dash_start_ms: dash.then_some(entry.media_time_ms),
                    }
                } else {
                    Work::Ts(this)
                }
            }
        }
    };
    let body: Bytes = match work {
        Work::Text(text) => Bytes::from(text),
        Work::Init(fragment, track) => {
            blocking(move || one_track(&fragment, track)?.init_segment().map_err(mux_error)).await?
        }
        Work::Ts(fragment) => {
            blocking(move || remuxer_for(&fragment)?.ts_muxer().segment(&fragment).map_err(mux_error)).await?
        }
        Work::Segment { fragment, track, next, sequence, dash_start_ms } => {
            blocking(move || {
                let mut remuxer = one_track(&fragment, track)?;
                if let Some(start_ms) = dash_start_ms {
                    let first = first_frame_ns(&fragment, track)?;
                    let origin = first.saturating_sub(i64::try_from(start_ms).unwrap_or(0) * 1_000_000);
                    remuxer = remuxer.with_origin_ns(origin).with_styp(true);
                }
                remuxer.media_segment(sequence, &fragment, next.as_deref()).map_err(mux_error)
            })
            .await?
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Players fetch from the page's origin or another: the URLs carry their own token.
    response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(response)
}

/// The remuxer of one track of a stream (`TrackNumber=`): HLS fMP4 and DASH serve each
/// track on its own playlist or adaptation set.
fn one_track(fragment: &Fragment, track: u64) -> Result<kvs_mux::Remuxer, ApiError> {
    remuxer_for(fragment)?
        .with_only_track(track)
        .map_err(|_| ApiError::new(ErrorType::ResourceNotFound, format!("the stream has no track {track}")))
}

/// The earliest frame time of a track in a fragment (its decode start without B-frames).
fn first_frame_ns(fragment: &Fragment, track: u64) -> Result<i64, ApiError> {
    let frames = fragment
        .frames()
        .map_err(|e| ApiError::new(ErrorType::InternalFailure, format!("reading frames: {e}")))?;
    frames
        .iter()
        .filter(|f| f.track == track)
        .map(|f| f.timestamp_ns)
        .min()
        .ok_or_else(|| ApiError::new(ErrorType::InternalFailure, "the fragment holds no frames"))
}

/// What playlists and manifests say of a stream's tracks, from one of its fragments.
fn tracks_of(stored: Option<&StoredFragment>) -> Vec<TrackInfo> {
    let Some(tracks) = stored.and_then(|f| fragment_of(f).ok()).and_then(|f| f.tracks().ok()) else {
        return Vec::new();
    };
    tracks
        .iter()
        .map(|t| {
            let video = t.video.as_ref();
            let audio = t.codec_id.starts_with("A_");
            TrackInfo {
                number: t.number,
                kind: if audio { TrackKind::Audio } else { TrackKind::Video },
                codecs: codec_string(&t.codec_id, t.codec_private.as_deref()),
                width: video.and_then(|v| u32::try_from(v.width).ok()),
                height: video.and_then(|v| u32::try_from(v.height).ok()),
                bandwidth: if audio { 128_000 } else { 2_000_000 },
            }
        })
        .collect()
}

/// The RFC 6381 codec string players are told (H.264 from its configuration record's
/// profile, compatibility and level bytes; H.265 likewise; AAC from its object type).
fn codec_string(codec_id: &str, private: Option<&[u8]>) -> Option<String> {
    match (codec_id, private) {
        ("V_MPEG4/ISO/AVC", Some(p)) if p.len() >= 4 => {
            Some(format!("avc1.{:02x}{:02x}{:02x}", p[1], p[2], p[3]))
        }
        ("V_MPEGH/ISO/HEVC", Some(p)) if p.len() >= 13 => Some(hevc_codec_string(p)),
        ("A_AAC", Some(p)) if !p.is_empty() => Some(format!("mp4a.40.{}", p[0] >> 3)),
        ("A_AAC", _) => Some("mp4a.40.2".into()),
        _ => None,
    }
}

/// `hvc1.` codec string of an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 annex E):
/// profile space and profile, the compatibility flags bit-reversed in hex, tier and level,
/// then the constraint bytes up to the last non-zero one. `record` holds at least 13 bytes.
fn hevc_codec_string(record: &[u8]) -> String {
    let space = ["", "A", "B", "C"][usize::from(record[1] >> 6)];
    let tier = if record[1] & 0x20 == 0 { 'L' } else { 'H' };
    let profile = record[1] & 0x1F;
    let compatibility = u32::from_be_bytes([record[2], record[3], record[4], record[5]]).reverse_bits();
    let constraints = &record[6..12];
    let used = constraints.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut out = format!("hvc1.{space}{profile}.{compatibility:X}.{tier}{}", record[12]);
    for byte in &constraints[..used] {
        out.push_str(&format!(".{byte:X}"));
    }
    out
}

/// A refusal of a player path, answered in AWS's error shape.
pub(super) fn refuse(e: kvs_streaming::Error) -> Response {
    streaming_error(e).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_unknown_tokens_are_not_authorized() {
        // The integration tests cannot wait out 300 s; kvs-streaming's tests expire a
        // session on their own clock, and this is the answer the server gives for it.
        for e in [kvs_streaming::Error::SessionExpired, kvs_streaming::Error::UnknownSession] {
            let error = streaming_error(e);
            assert_eq!((error.error_type.name(), error.error_type.status()), ("NotAuthorizedException", 401));
        }
        let error = streaming_error(kvs_streaming::Error::TooManySessions { limit: 1 });
        assert_eq!(error.error_type, ErrorType::ClientLimitExceeded);
    }

    #[test]
    fn codec_strings() {
        assert_eq!(
            codec_string("V_MPEG4/ISO/AVC", Some(&[1, 0x64, 0x00, 0x1f])).as_deref(),
            Some("avc1.64001f")
        );
        assert_eq!(codec_string("A_AAC", Some(&[0x12, 0x10])).as_deref(), Some("mp4a.40.2"));
        assert_eq!(codec_string("V_MPEGH/ISO/HEVC", None), None);
        // Main profile, level 3.1, progressive-source and frame-only constraints: the
        // example of ISO/IEC 14496-15 annex E.
        let main = [1, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93];
        assert_eq!(codec_string("V_MPEGH/ISO/HEVC", Some(&main)).as_deref(), Some("hvc1.1.6.L93.B0"));
        // Main 10 in the high tier, no constraint flags.
        let main10 = [1, 0x22, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 120];
        assert_eq!(codec_string("V_MPEGH/ISO/HEVC", Some(&main10)).as_deref(), Some("hvc1.2.4.H120"));
    }
}
