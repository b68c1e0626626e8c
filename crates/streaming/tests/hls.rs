use kvs_streaming::{SessionTable, TrackInfo, TrackKind, hls as playlists};
use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};

use crate::common::{NOW, hls, open, secs, session, stream};

fn media(text: &str) -> MediaPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()).unwrap() {
        Playlist::MediaPlaylist(p) => p,
        Playlist::MasterPlaylist(_) => panic!("a master playlist:\n{text}"),
    }
}

fn master(text: &str) -> MasterPlaylist {
    match m3u8_rs::parse_playlist_res(text.as_bytes()).unwrap() {
        Playlist::MasterPlaylist(p) => p,
        Playlist::MediaPlaylist(_) => panic!("a media playlist:\n{text}"),
    }
}

#[test]
fn live_fmp4_media_playlist_parses_back_exactly() {
    let mut table = SessionTable::default();
    let mut fragments = stream(12, 2_000, NOW);
    fragments[10].duration_ms = 2_663;
    let token =
        open(&mut table, hls(r#"{"StreamName":"cam","DisplayFragmentTimestamp":"ALWAYS"}"#), &fragments);
    let session = session(&mut table, &token, NOW);
    let window = session.window(&fragments, NOW);
    let text = playlists::media_playlist(session, &window, 1);
    let parsed = media(&text);

    assert_eq!(parsed.version, Some(7));
    assert_eq!(parsed.target_duration, 3);
    assert_eq!(parsed.media_sequence, 0);
    assert!(!parsed.end_list);
    assert_eq!(parsed.segments.len(), 5);
    let uris: Vec<_> = parsed.segments.iter().map(|s| s.uri.clone()).collect();
    let expected: Vec<_> = (1007..1012)
        .map(|n| format!("getMP4MediaFragment.mp4?FragmentNumber={n}&SessionToken={token}&TrackNumber=1"))
        .collect();
    assert_eq!(uris, expected);
    assert_eq!(parsed.segments.iter().map(|s| s.duration).collect::<Vec<_>>(), [2.0, 2.0, 2.0, 2.663, 2.0]);
    assert_eq!(
        parsed.segments[0].map.as_ref().map(|m| m.uri.clone()),
        Some(format!("getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=1"))
    );
    assert!(parsed.segments[1..].iter().all(|s| s.map.is_none()));
    // ALWAYS is the default with server timestamps.
    assert!(parsed.segments.iter().all(|s| s.discontinuity));
    let first_date = parsed.segments[0].program_date_time.unwrap();
    assert_eq!(first_date.timestamp_millis() as u64, fragments[7].server.0);
    assert!(text.contains("#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:10.500Z"), "{text}");
}

#[test]
fn media_sequence_and_discontinuity_sequence_follow_the_slide() {
    let mut table = SessionTable::default();
    let fragments = stream(12, 1_000, NOW);
    let token =
        open(&mut table, hls(r#"{"StreamName":"cam","MaxMediaPlaylistFragmentResults":3}"#), &fragments);
    session(&mut table, &token, NOW).window(&fragments, NOW);
    let later = NOW.plus(4_000);
    let grown = stream(16, 1_000, later);
    let session = session(&mut table, &token, later);
    let window = session.window(&grown, later);
    let parsed = media(&playlists::media_playlist(session, &window, 1));
    assert_eq!(parsed.media_sequence, 4);
    assert_eq!(parsed.discontinuity_sequence, 4);
    assert_eq!(parsed.segments.len(), 3);
    assert!(parsed.segments[2].uri.starts_with("getMP4MediaFragment.mp4?FragmentNumber=1015&"));
}

#[test]
fn on_demand_ts_playlist_is_vod_with_endlist_and_no_map() {
    let mut table = SessionTable::default();
    let fragments = stream(10, 1_000, NOW.minus(1_000));
    let json = format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","ContainerFormat":"MPEG_TS","DiscontinuityMode":"NEVER","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{},"EndTimestamp":{}}}}}}}"#,
        secs(fragments[0].server),
        secs(fragments[9].server)
    );
    let token = open(&mut table, hls(&json), &fragments);
    let session = session(&mut table, &token, NOW);
    let window = session.window(&fragments, NOW);
    let text = playlists::media_playlist(session, &window, 1);
    let parsed = media(&text);
    assert_eq!(parsed.segments.len(), 10);
    assert!(parsed.end_list);
    assert_eq!(parsed.playlist_type, Some(m3u8_rs::MediaPlaylistType::Vod));
    assert_eq!(parsed.version, Some(3));
    assert_eq!(parsed.segments[3].uri, format!("getTSFragment.ts?FragmentNumber=1003&SessionToken={token}"));
    assert!(
        parsed.segments.iter().all(|s| s.map.is_none() && !s.discontinuity && s.program_date_time.is_none())
    );
    assert_eq!(parsed.segments.iter().map(|s| s.duration).sum::<f32>(), 10.0);
}

#[test]
fn master_playlist_links_video_and_audio_playlists() {
    let mut table = SessionTable::default();
    let fragments = stream(3, 1_000, NOW);
    let token = open(&mut table, hls(r#"{"StreamName":"cam"}"#), &fragments);
    let session = session(&mut table, &token, NOW);
    let video = TrackInfo {
        codecs: Some("avc1.64001f".into()),
        width: Some(1280),
        height: Some(720),
        ..TrackInfo::video(1)
    };
    let audio = TrackInfo {
        number: 2,
        kind: TrackKind::Audio,
        codecs: Some("mp4a.40.2".into()),
        width: None,
        height: None,
        bandwidth: 128_000,
    };
    let parsed = master(&playlists::master_playlist(session, &[video, audio]));
    assert_eq!(parsed.variants.len(), 1);
    let variant = &parsed.variants[0];
    assert_eq!(variant.uri, format!("getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=1"));
    assert_eq!(variant.bandwidth, 2_128_000);
    assert_eq!(variant.codecs.as_deref(), Some("avc1.64001f,mp4a.40.2"));
    assert_eq!(variant.resolution.map(|r| (r.width, r.height)), Some((1280, 720)));
    assert_eq!(variant.audio.as_deref(), Some("audio"));
    assert_eq!(parsed.alternatives.len(), 1);
    assert_eq!(
        parsed.alternatives[0].uri.as_deref(),
        Some(format!("getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=2").as_str())
    );
}

#[test]
fn ts_master_playlist_has_one_playlist_for_all_tracks() {
    let mut table = SessionTable::default();
    let fragments = stream(3, 1_000, NOW);
    let token = open(&mut table, hls(r#"{"StreamName":"cam","ContainerFormat":"MPEG_TS"}"#), &fragments);
    let session = session(&mut table, &token, NOW);
    let parsed = master(&playlists::master_playlist(session, &[]));
    assert_eq!(parsed.variants.len(), 1);
    assert_eq!(parsed.variants[0].uri, format!("getHLSMediaPlaylist.m3u8?SessionToken={token}"));
    assert!(parsed.alternatives.is_empty());
}

#[test]
fn live_replay_playlist_starts_players_at_its_first_fragment() {
    let mut table = SessionTable::default();
    let fragments = stream(10, 1_000, NOW.minus(1_000));
    let json = format!(
        r#"{{"StreamName":"cam","PlaybackMode":"LIVE_REPLAY","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{}}}}}}}"#,
        secs(fragments[2].server)
    );
    let token = open(&mut table, hls(&json), &fragments);
    let session = session(&mut table, &token, NOW);
    let window = session.window(&fragments, NOW);
    let parsed = media(&playlists::media_playlist(session, &window, 1));
    assert_eq!(parsed.start.map(|s| (s.time_offset, s.precise)), Some((0.0, Some(true))));
    assert_eq!(parsed.segments.len(), 5);
    assert!(!parsed.end_list);
    assert!(parsed.segments[0].uri.starts_with("getMP4MediaFragment.mp4?FragmentNumber=1002&"));
}
