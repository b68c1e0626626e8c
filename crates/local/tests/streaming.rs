//! HLS and DASH sessions through the official archived-media client, then followed as a
//! player follows them (plain GETs): playlists and manifests parse, and their segments
//! hold exactly the frames of the range, byte for byte.

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    ContainerFormat, DashFragmentSelector, DashFragmentSelectorType, DashPlaybackMode, DashTimestampRange,
    HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange,
};
use bytes::Bytes;
use kvs_local::LocalKvs;

use crate::fetch::{get, join};
use crate::mp4util::{ffprobe_bytes, ffprobe_video_frames, fmp4_samples, moov_of};
use crate::util::{archive, camera_mkv, camera_mkv_at, producer_frames, start};

const BASE_MS: i64 = 1_700_000_000_000;

/// A stream of 10 fragments of 3 frames (+0, +100 ... +900 ms producer time); its frames.
async fn stream() -> (LocalKvs, Vec<Vec<Bytes>>) {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(10);
    kvs.ingest_mkv("cam", mkv.clone()).unwrap();
    (kvs, producer_frames(&mkv))
}

async fn hls_url(kvs: &LocalKvs, container: ContainerFormat) -> String {
    let range = HlsTimestampRange::builder()
        .start_timestamp(DateTime::from_millis(BASE_MS + 200))
        .end_timestamp(DateTime::from_millis(BASE_MS + 600))
        .build();
    let selector = HlsFragmentSelector::builder()
        .fragment_selector_type(HlsFragmentSelectorType::ProducerTimestamp)
        .timestamp_range(range)
        .build();
    let out = archive(kvs)
        .get_hls_streaming_session_url()
        .stream_name("cam")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .container_format(container)
        .hls_fragment_selector(selector)
        .send()
        .await
        .unwrap();
    out.hls_streaming_session_url().unwrap().to_owned()
}

/// Master playlist, then the media playlist of its one variant: the segment URLs.
async fn media_playlist(master_url: &str) -> (String, m3u8_rs::MediaPlaylist) {
    let master = get(master_url).await;
    assert_eq!((master.status, master.content_type.as_str()), (200, "application/vnd.apple.mpegurl"));
    let master = m3u8_rs::parse_master_playlist_res(&master.body).unwrap();
    assert_eq!(master.variants.len(), 1);
    let media_url = join(master_url, &master.variants[0].uri);
    let media = get(&media_url).await;
    assert_eq!(media.status, 200);
    (media_url, m3u8_rs::parse_media_playlist_res(&media.body).unwrap())
}

#[tokio::test]
async fn hls_fmp4_segments_hold_the_frames_of_the_range() {
    let (kvs, frames) = stream().await;
    let url = hls_url(&kvs, ContainerFormat::FragmentedMp4).await;
    // The host the client used, so a player on loopback can open it.
    assert!(
        url.starts_with(&format!("{}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=", kvs.endpoint_url()))
    );
    let (media_url, playlist) = media_playlist(&url).await;
    assert!(playlist.end_list);
    assert_eq!(playlist.segments.len(), 5);
    let map = playlist.segments[0].map.as_ref().unwrap();
    let init = get(&join(&media_url, &map.uri)).await;
    assert_eq!((init.status, init.content_type.as_str()), (200, "video/mp4"));
    let moov = moov_of(&init.body);
    assert_eq!(moov.trak.len(), 1);
    assert_eq!(moov.trak[0].tkhd.track_id, 1);
    let mut file = init.body.to_vec();
    for (i, segment) in playlist.segments.iter().enumerate() {
        assert!(segment.uri.starts_with("getMP4MediaFragment.mp4?FragmentNumber="));
        assert!((segment.duration - 0.099).abs() < 1e-6, "{}", segment.duration);
        let got = get(&join(&media_url, &segment.uri)).await;
        assert_eq!((got.status, got.content_type.as_str()), (200, "video/mp4"));
        let (_, tracks) = fmp4_samples(&got.body);
        assert_eq!(tracks.len(), 1);
        let samples = &tracks[0].1;
        assert_eq!(samples.len(), 3);
        for (s, f) in samples.iter().zip(&frames[2 + i]) {
            assert_eq!(&s.data[..], &f[..]);
        }
        assert_eq!(samples.iter().map(|s| s.sync).collect::<Vec<_>>(), [true, false, false]);
        // Decode times from the epoch: the fragment's producer time, 90 kHz.
        assert_eq!(samples[0].dts, (BASE_MS as u64 + 100 * (2 + i as u64)) * 90);
        file.extend_from_slice(&got.body);
    }
    if let Some(n) = ffprobe_bytes(&file, "hls.mp4") {
        assert_eq!(n, 15);
    }
    // FFmpeg as a player: the session URL itself (on the blocking pool, so the server on
    // this runtime keeps answering).
    if let Some(n) = tokio::task::spawn_blocking(move || ffprobe_video_frames(&url)).await.unwrap() {
        assert_eq!(n, 15);
    }
    kvs.shutdown().await;
}

#[tokio::test]
async fn hls_ts_segments_hold_the_frames_of_the_range() {
    let (kvs, _) = stream().await;
    let url = hls_url(&kvs, ContainerFormat::MpegTs).await;
    let (media_url, playlist) = media_playlist(&url).await;
    assert_eq!(playlist.segments.len(), 5);
    let mut file = Vec::new();
    for segment in &playlist.segments {
        assert!(segment.uri.starts_with("getTSFragment.ts?FragmentNumber="));
        let got = get(&join(&media_url, &segment.uri)).await;
        assert_eq!((got.status, got.content_type.as_str()), (200, "video/mp2t"));
        assert_eq!(got.body.len() % 188, 0);
        assert!(got.body.chunks(188).all(|p| p[0] == 0x47));
        file.extend_from_slice(&got.body);
    }
    if let Some(n) = ffprobe_bytes(&file, "hls.ts") {
        assert_eq!(n, 15);
    }
    let session = url.clone();
    if let Some(n) = tokio::task::spawn_blocking(move || ffprobe_video_frames(&session)).await.unwrap() {
        assert_eq!(n, 15);
    }
    // An fMP4 path of a TS session is refused.
    let token = url.split("SessionToken=").nth(1).unwrap();
    let wrong = get(&join(&url, &format!("getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=1"))).await;
    assert_eq!((wrong.status, wrong.error_type.as_deref()), (400, Some("InvalidArgumentException")));
    kvs.shutdown().await;
}

#[tokio::test]
async fn dash_manifest_and_segments_hold_the_frames_of_the_range() {
    let (kvs, frames) = stream().await;
    let range = DashTimestampRange::builder()
        .start_timestamp(DateTime::from_millis(BASE_MS + 200))
        .end_timestamp(DateTime::from_millis(BASE_MS + 600))
        .build();
    let selector = DashFragmentSelector::builder()
        .fragment_selector_type(DashFragmentSelectorType::ProducerTimestamp)
        .timestamp_range(range)
        .build();
    let out = archive(&kvs)
        .get_dash_streaming_session_url()
        .stream_name("cam")
        .playback_mode(DashPlaybackMode::OnDemand)
        .dash_fragment_selector(selector)
        .send()
        .await
        .unwrap();
    let url = out.dash_streaming_session_url().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/dash/v1/getDASHManifest.mpd?SessionToken=", kvs.endpoint_url())));
    let manifest = get(&url).await;
    assert_eq!((manifest.status, manifest.content_type.as_str()), (200, "application/dash+xml"));
    let text = manifest.text();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mpd = doc.root_element();
    assert_eq!(mpd.attribute("type"), Some("static"));
    let template = mpd.descendants().find(|n| n.has_tag_name("SegmentTemplate")).unwrap();
    let start: u64 = template.attribute("startNumber").unwrap().parse().unwrap();
    let times: Vec<(u64, u64)> = template
        .descendants()
        .filter(|n| n.has_tag_name("S"))
        .map(|s| (s.attribute("t").unwrap().parse().unwrap(), s.attribute("d").unwrap().parse().unwrap()))
        .collect();
    assert_eq!(times, [(0, 99), (99, 99), (198, 99), (297, 99), (396, 99)]);
    let init = get(&join(&url, template.attribute("initialization").unwrap())).await;
    assert_eq!(init.status, 200);
    assert_eq!(moov_of(&init.body).trak.len(), 1);
    let media = template.attribute("media").unwrap();
    let mut file = init.body.to_vec();
    for (i, &(t, _)) in times.iter().enumerate() {
        let segment_url = join(&url, &media.replace("$Number$", &(start + i as u64).to_string()));
        let got = get(&segment_url).await;
        assert_eq!((got.status, got.content_type.as_str()), (200, "video/mp4"), "{segment_url}");
        let (_, tracks) = fmp4_samples(&got.body);
        let samples = &tracks[0].1;
        assert_eq!(samples.len(), 3);
        for (s, f) in samples.iter().zip(&frames[2 + i]) {
            assert_eq!(&s.data[..], &f[..]);
        }
        // Each segment starts where the manifest's timeline puts it (ms to 90 kHz).
        assert_eq!(samples[0].dts, t * 90);
        file.extend_from_slice(&got.body);
    }
    if let Some(n) = ffprobe_bytes(&file, "dash.mp4") {
        assert_eq!(n, 15);
    }
    if let Some(n) = tokio::task::spawn_blocking(move || ffprobe_video_frames(&url)).await.unwrap() {
        assert_eq!(n, 15);
    }
    kvs.shutdown().await;
}

#[tokio::test]
async fn live_sessions_and_refusals() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    kvs.create_stream("empty").unwrap();
    let client = archive(&kvs);
    // LIVE needs a fragment in the last 30 s.
    let err = client
        .get_hls_streaming_session_url()
        .stream_name("empty")
        .playback_mode(HlsPlaybackMode::Live)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).to_millis().unwrap();
    kvs.ingest_mkv("cam", camera_mkv_at(8, now - 1000)).unwrap();
    let url = client
        .get_hls_streaming_session_url()
        .stream_name("cam")
        .playback_mode(HlsPlaybackMode::Live)
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url()
        .unwrap()
        .to_owned();
    let (_, playlist) = media_playlist(&url).await;
    // LIVE's default window: the newest 5 fragments, no end.
    assert_eq!(playlist.segments.len(), 5);
    assert!(!playlist.end_list);

    // Expires below 300 s is refused.
    let err =
        client.get_hls_streaming_session_url().stream_name("cam").expires(299).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidArgumentException"));

    // A token the server never issued: NotAuthorizedException, AWS's error shape.
    let bogus =
        get(&format!("{}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=00ff", kvs.endpoint_url())).await;
    assert_eq!((bogus.status, bogus.error_type.as_deref()), (401, Some("NotAuthorizedException")));
    let body: serde_json::Value = serde_json::from_slice(&bogus.body).unwrap();
    assert!(body["Message"].is_string());
    let missing = get(&format!("{}/dash/v1/getDASHManifest.mpd", kvs.endpoint_url())).await;
    assert_eq!((missing.status, missing.error_type.as_deref()), (400, Some("InvalidArgumentException")));
    kvs.shutdown().await;
}

#[tokio::test]
async fn audio_and_video_go_to_their_own_playlists() {
    let kvs = start().await;
    kvs.create_stream("av").unwrap();
    // 3 fragments 2 s apart, each 30 video frames (track 1) and 47 AAC frames (track 2).
    let fragments: Vec<_> = (0..3).map(|i| kvs_mux::testing::fragment(i, 30, 47)).collect();
    for f in &fragments {
        kvs.ingest_mkv("av", f.bytes().clone()).unwrap();
    }
    let base = kvs_mux::testing::BASE_MS as i64;
    let range = HlsTimestampRange::builder()
        .start_timestamp(DateTime::from_millis(base))
        .end_timestamp(DateTime::from_millis(base + 10_000))
        .build();
    let selector = HlsFragmentSelector::builder()
        .fragment_selector_type(HlsFragmentSelectorType::ProducerTimestamp)
        .timestamp_range(range)
        .build();
    let url = archive(&kvs)
        .get_hls_streaming_session_url()
        .stream_name("av")
        .playback_mode(HlsPlaybackMode::OnDemand)
        .hls_fragment_selector(selector)
        .send()
        .await
        .unwrap()
        .hls_streaming_session_url()
        .unwrap()
        .to_owned();
    let master = m3u8_rs::parse_master_playlist_res(&get(&url).await.body).unwrap();
    assert_eq!(master.variants.len(), 1);
    assert!(master.variants[0].uri.ends_with("&TrackNumber=1"));
    // Constrained Baseline 3.0 (the test SPS: 42 c0 1e), AAC-LC.
    assert_eq!(master.variants[0].codecs.as_deref(), Some("avc1.42c01e,mp4a.40.2"));
    let audio = master.alternatives[0].uri.as_deref().unwrap();
    assert!(audio.ends_with("&TrackNumber=2"));
    for (track, per_fragment) in [(1u32, 30usize), (2, 47)] {
        let uri = if track == 1 { master.variants[0].uri.as_str() } else { audio };
        let media_url = join(&url, uri);
        let playlist = m3u8_rs::parse_media_playlist_res(&get(&media_url).await.body).unwrap();
        assert_eq!(playlist.segments.len(), 3);
        let init = get(&join(&media_url, &playlist.segments[0].map.as_ref().unwrap().uri)).await;
        let ids: Vec<u32> = moov_of(&init.body).trak.iter().map(|t| t.tkhd.track_id).collect();
        assert_eq!(ids, [track]);
        for (i, segment) in playlist.segments.iter().enumerate() {
            let got = get(&join(&media_url, &segment.uri)).await;
            let (_, tracks) = fmp4_samples(&got.body);
            assert_eq!(tracks.len(), 1);
            assert_eq!((tracks[0].0, tracks[0].1.len()), (track, per_fragment));
            let frames: Vec<_> =
                fragments[i].frames().unwrap().into_iter().filter(|f| f.track == u64::from(track)).collect();
            assert!(tracks[0].1.iter().zip(&frames).all(|(s, f)| s.data == f.payload));
        }
    }
    // A track the stream does not have.
    let token = url.split("SessionToken=").nth(1).unwrap();
    let none = get(&join(&url, &format!("getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=3"))).await;
    assert_eq!((none.status, none.error_type.as_deref()), (404, Some("ResourceNotFoundException")));
    kvs.shutdown().await;
}
