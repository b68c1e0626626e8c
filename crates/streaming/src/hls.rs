//! HLS playlists of a session, written with `m3u8-rs`: the master playlist
//! (`getHLSMasterPlaylist.m3u8`) and the media playlist (`getHLSMediaPlaylist.m3u8`)
//! of a [`Window`].
//!
//! URLs are relative, as AWS writes them, so they resolve against `/hls/v1/`. fMP4
//! sessions get one media playlist per track (audio as an `EXT-X-MEDIA` rendition) and
//! an `EXT-X-MAP` to `getMP4InitFragment.mp4`; TS sessions one playlist of
//! `getTSFragment.ts` carrying every track. It chooses no fragments (see [`Window`]).

use chrono::{DateTime, FixedOffset};
use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, Map, MasterPlaylist, MediaPlaylist, MediaPlaylistType,
    MediaSegment, Resolution, Start, VariantStream,
};

use crate::fragment::UnixMillis;
use crate::player::{init_url, media_playlist_url, media_url, ts_url};
use crate::request::{ContainerFormat, PlaybackMode, Protocol};
use crate::session::Session;
use crate::track::{TrackInfo, TrackKind};
use crate::window::Window;

/// The audio rendition group of the master playlist.
const AUDIO_GROUP: &str = "audio";

fn container(session: &Session) -> (ContainerFormat, bool) {
    match session.spec().protocol {
        Protocol::Hls { container, display_timestamp, .. } => (container, display_timestamp),
        // A DASH session has no playlists; fMP4 keeps this total.
        Protocol::Dash { .. } => (ContainerFormat::FragmentedMp4, false),
    }
}

fn render(write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn codecs(tracks: &[&TrackInfo]) -> Option<String> {
    let list: Vec<&str> = tracks.iter().filter_map(|t| t.codecs.as_deref()).collect();
    (!list.is_empty()).then(|| list.join(","))
}

/// The master playlist: one variant (the video track, or the first track), the audio
/// track as its rendition in fMP4. `tracks` empty means one video track 1.
///
/// ```
/// # use kvs_streaming::*;
/// # let now = UnixMillis(1_700_000_000_000);
/// # let fragments = [FragmentInfo { fragment_number: "1".into(), producer: now, server: now, duration_ms: 1000 }];
/// # let spec = HlsSessionRequest { stream_name: Some("cam".into()), ..Default::default() }.validate(now)?;
/// # let mut table = SessionTable::default();
/// # let token = table.create("cam", spec, &fragments, now)?;
/// let session = table.get_mut(token.as_str(), now)?;
/// let master = hls::master_playlist(session, &[TrackInfo::video(1)]);
/// assert!(master.contains(&format!("getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=1")));
/// # Ok::<(), Error>(())
/// ```
pub fn master_playlist(session: &Session, tracks: &[TrackInfo]) -> String {
    let default_track = [TrackInfo::video(1)];
    let tracks = if tracks.is_empty() { &default_track[..] } else { tracks };
    let (container, _) = container(session);
    let token = session.token();
    let main = tracks.iter().find(|t| t.kind == TrackKind::Video).unwrap_or(&tracks[0]);
    let audio = tracks.iter().find(|t| t.kind == TrackKind::Audio && t.number != main.number);
    let mut playlist = MasterPlaylist {
        version: Some(if container == ContainerFormat::MpegTs { 3 } else { 7 }),
        independent_segments: true,
        ..Default::default()
    };
    let mut variant = VariantStream {
        bandwidth: main.bandwidth + audio.map_or(0, |a| a.bandwidth),
        resolution: main
            .width
            .zip(main.height)
            .map(|(w, h)| Resolution { width: u64::from(w), height: u64::from(h) }),
        ..Default::default()
    };
    match (container, audio) {
        (ContainerFormat::MpegTs, _) => {
            variant.uri = media_playlist_url(token, None);
            variant.codecs = codecs(&tracks.iter().collect::<Vec<_>>());
        }
        (ContainerFormat::FragmentedMp4, Some(audio)) => {
            playlist.alternatives.push(AlternativeMedia {
                media_type: AlternativeMediaType::Audio,
                uri: Some(media_playlist_url(token, Some(audio.number))),
                group_id: AUDIO_GROUP.into(),
                name: "audio".into(),
                default: true,
                autoselect: true,
                ..Default::default()
            });
            variant.uri = media_playlist_url(token, Some(main.number));
            variant.codecs = codecs(&[main, audio]);
            variant.audio = Some(AUDIO_GROUP.into());
        }
        (ContainerFormat::FragmentedMp4, None) => {
            variant.uri = media_playlist_url(token, Some(main.number));
            variant.codecs = codecs(&[main]);
        }
    }
    playlist.variants.push(variant);
    render(|out| playlist.write_to(out))
}

fn date_time(ts: UnixMillis) -> Option<DateTime<FixedOffset>> {
    let ms = i64::try_from(ts.0).ok()?;
    DateTime::from_timestamp_millis(ms).map(|t| t.fixed_offset())
}

/// The media playlist of `window` for `track` (ignored by TS sessions): target
/// duration, media and discontinuity sequence, `EXT-X-MAP` (fMP4), one `EXTINF` per
/// fragment with its `EXT-X-DISCONTINUITY` and, with `DisplayFragmentTimestamp`
/// ALWAYS, `EXT-X-PROGRAM-DATE-TIME`; `EXT-X-ENDLIST` once the window is complete;
/// `EXT-X-START:TIME-OFFSET=0` in LIVE_REPLAY.
pub fn media_playlist(session: &Session, window: &Window, track: u64) -> String {
    let (container, display_timestamp) = container(session);
    let token = session.token();
    let source = session.spec().source;
    let longest_ms = window.entries.iter().map(|e| e.fragment.duration_ms).max().unwrap_or(0);
    let mut playlist = MediaPlaylist {
        version: Some(if container == ContainerFormat::MpegTs { 3 } else { 7 }),
        // EXT-X-TARGETDURATION is whole seconds, no segment may exceed it.
        target_duration: longest_ms.div_ceil(1000).max(1),
        media_sequence: window.media_sequence,
        discontinuity_sequence: window.discontinuity_sequence,
        end_list: window.complete,
        playlist_type: (session.spec().mode == PlaybackMode::OnDemand).then_some(MediaPlaylistType::Vod),
        // A LIVE_REPLAY is asked for from its start, but players join a live playlist
        // near its end: EXT-X-START sends them to the first fragment (AWS omits it).
        start: (session.spec().mode == PlaybackMode::LiveReplay).then(|| Start {
            time_offset: 0.0,
            precise: Some(true),
            ..Default::default()
        }),
        independent_segments: true,
        ..Default::default()
    };
    for (i, entry) in window.entries.iter().enumerate() {
        let fragment = &entry.fragment;
        let uri = match container {
            ContainerFormat::FragmentedMp4 => media_url(token, track, &fragment.fragment_number),
            ContainerFormat::MpegTs => ts_url(token, &fragment.fragment_number),
        };
        let map = (i == 0 && container == ContainerFormat::FragmentedMp4)
            .then(|| Map { uri: init_url(token, track), ..Default::default() });
        playlist.segments.push(MediaSegment {
            uri,
            duration: fragment.duration_ms as f32 / 1000.0,
            discontinuity: entry.discontinuity,
            map,
            program_date_time: if display_timestamp { date_time(fragment.timestamp(source)) } else { None },
            ..Default::default()
        });
    }
    render(|out| playlist.write_to(out))
}
