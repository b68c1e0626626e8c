//! GetClip through the official archived-media client: the MP4 holds exactly the frames
//! of the fragments in the range, byte for byte; AWS's errors otherwise.

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    ClipFragmentSelector, ClipFragmentSelectorType, ClipTimestampRange, HlsFragmentSelector,
    HlsFragmentSelectorType, HlsPlaybackMode, HlsTimestampRange,
};

use crate::mp4util::{ffprobe_bytes, mp4_samples, top_boxes};
use crate::util::{archive, camera_mkv, producer_frames, read_all, start};

const BASE_MS: i64 = 1_700_000_000_000;

fn selector(kind: ClipFragmentSelectorType, from_ms: i64, to_ms: i64) -> ClipFragmentSelector {
    let range = ClipTimestampRange::builder()
        .start_timestamp(DateTime::from_millis(from_ms))
        .end_timestamp(DateTime::from_millis(to_ms))
        .build()
        .unwrap();
    ClipFragmentSelector::builder().fragment_selector_type(kind).timestamp_range(range).build().unwrap()
}

#[tokio::test]
async fn a_clip_holds_the_frames_of_its_range() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    // 10 fragments of 3 frames, starting every 100 ms of producer time.
    let mkv = camera_mkv(10);
    kvs.ingest_mkv("cam", mkv.clone()).unwrap();
    let frames = producer_frames(&mkv);
    let client = archive(&kvs);

    // Fragments starting at +200..=+600 ms: 2 to 6, 15 frames.
    let out = client
        .get_clip()
        .stream_name("cam")
        .clip_fragment_selector(selector(
            ClipFragmentSelectorType::ProducerTimestamp,
            BASE_MS + 200,
            BASE_MS + 600,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type(), Some("video/mp4"));
    let mp4 = read_all(out.payload).await;
    let kinds: Vec<String> = top_boxes(&mp4).iter().map(|b| b.0.to_string()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"]);
    let tracks = mp4_samples(&mp4);
    assert_eq!(tracks.len(), 1);
    let (id, samples) = &tracks[0];
    assert_eq!(*id, 1);
    let expected: Vec<_> = frames[2..7].iter().flatten().collect();
    assert_eq!(samples.len(), 15);
    for (s, f) in samples.iter().zip(&expected) {
        assert_eq!(&s.data[..], &f[..]);
    }
    // A keyframe starts each fragment.
    let syncs: Vec<usize> = samples.iter().enumerate().filter(|(_, s)| s.sync).map(|(i, _)| i).collect();
    assert_eq!(syncs, [0, 3, 6, 9, 12]);
    if let Some(n) = ffprobe_bytes(&mp4, "clip.mp4") {
        assert_eq!(n, 15);
    }

    // The server clock: every fragment was ingested now, so a wide range takes all 30.
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).to_millis().unwrap();
    let out = client
        .get_clip()
        .stream_name("cam")
        .clip_fragment_selector(selector(ClipFragmentSelectorType::ServerTimestamp, now - 60_000, now + 1000))
        .send()
        .await
        .unwrap();
    let mp4 = read_all(out.payload).await;
    assert_eq!(mp4_samples(&mp4)[0].1.len(), 30);
    kvs.shutdown().await;
}

#[tokio::test]
async fn clip_errors_are_aws_errors() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    kvs.ingest_mkv("cam", camera_mkv(3)).unwrap();
    let client = archive(&kvs);
    let producer = ClipFragmentSelectorType::ProducerTimestamp;
    let code = |e: &dyn ProvideErrorMetadata| e.code().map(str::to_owned);

    let missing = client
        .get_clip()
        .stream_name("nope")
        .clip_fragment_selector(selector(producer.clone(), BASE_MS, BASE_MS + 1000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&missing).as_deref(), Some("ResourceNotFoundException"));

    // Nothing in the range.
    let empty = client
        .get_clip()
        .stream_name("cam")
        .clip_fragment_selector(selector(producer.clone(), BASE_MS + 10_000, BASE_MS + 20_000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&empty).as_deref(), Some("ResourceNotFoundException"));

    // Start after end.
    let reversed = client
        .get_clip()
        .stream_name("cam")
        .clip_fragment_selector(selector(producer, BASE_MS + 1000, BASE_MS))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&reversed).as_deref(), Some("InvalidArgumentException"));
    kvs.shutdown().await;
}

#[tokio::test]
async fn codecs_that_cannot_be_served_are_named_as_aws_names_them() {
    let kvs = start().await;
    let client = archive(&kvs);
    let base = kvs_mux::testing::BASE_MS as i64;
    for (stream, codec_id, private, expected) in [
        ("vfw", "V_MS/VFW/FOURCC", None, "UnsupportedStreamMediaTypeException"),
        ("bare", "V_MPEG4/ISO/AVC", None, "MissingCodecPrivateDataException"),
        ("bad", "V_MPEG4/ISO/AVC", Some(&[1u8, 2, 3][..]), "InvalidCodecPrivateDataException"),
    ] {
        kvs.create_stream(stream).unwrap();
        let fragment = kvs_mux::testing::fragment_with_codec(codec_id, private);
        kvs.ingest_mkv(stream, fragment.bytes().clone()).unwrap();
        let err = client
            .get_clip()
            .stream_name(stream)
            .clip_fragment_selector(selector(ClipFragmentSelectorType::ProducerTimestamp, base, base + 1000))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(expected), "{codec_id}");
        // Streaming sessions are refused the same way when they open.
        let err = client
            .get_hls_streaming_session_url()
            .stream_name(stream)
            .playback_mode(HlsPlaybackMode::OnDemand)
            .hls_fragment_selector(
                HlsFragmentSelector::builder()
                    .fragment_selector_type(HlsFragmentSelectorType::ProducerTimestamp)
                    .timestamp_range(
                        HlsTimestampRange::builder()
                            .start_timestamp(DateTime::from_millis(base))
                            .end_timestamp(DateTime::from_millis(base + 1000))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(expected), "HLS {codec_id}");
    }
    kvs.shutdown().await;
}
