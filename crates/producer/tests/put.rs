//! Puts into a local server, read back with GetMedia EARLIEST.

use std::time::Duration;

use bytes::Bytes;
use kvs_local::camera::{CameraConfig, encode_at};
use kvs_local::{Faults, PutMediaErrorId};
use kvs_producer::{Error, Producer};

use crate::util::{config, frames, frames_of, read_back, sample, server, server_with};

/// 60 frames at 10 fps, a keyframe every 5 frames (0.5 s), frame 0 at 1.7e12 ms.
fn camera() -> Bytes {
    let camera =
        CameraConfig { width: 64, height: 48, fps: 10, frames_per_fragment: 5, ..Default::default() };
    encode_at(&camera, 60, 1_700_000_000_000).expect("the camera encodes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_put_gives_every_frame_in_keyframe_fragments() {
    let kvs = server().await;
    let endpoint = kvs.endpoint_url();
    let input = camera();
    let mut c = config(&endpoint);
    c.create = true;
    c.tags = kvs_producer::parse_tags("camera=door").unwrap();
    let done = Producer::new("cam", c).put(&input[..]).await.unwrap();
    // 6 s in 2 s fragments.
    assert_eq!((done.fragments_built, done.fragments_sent, done.fragments_persisted), (3, 3, 3));
    assert_eq!((done.fragments_resent, done.reconnects), (0, 0));
    let fragments = read_back(&endpoint, "cam").await;
    assert_eq!(fragments.len(), 3);
    let mut last = i64::MIN;
    for (i, f) in fragments.iter().enumerate() {
        let frames = f.frames().unwrap();
        assert_eq!(frames.len(), 20);
        assert!(frames[0].keyframe, "fragment {i} starts with a keyframe");
        for frame in &frames {
            assert!(frame.timestamp_ns > last, "timestamps increase");
            last = frame.timestamp_ns;
        }
        assert_eq!(frames[0].timestamp_ns, (1_700_000_000_000 + 2000 * i as i64) * 1_000_000);
        let producer = f.kvs().producer_timestamp.as_ref().unwrap().unix_millis();
        assert_eq!(producer, 1_700_000_000_000 + 2000 * i as i64);
        assert!(f.tags().iter().any(|t| t.name == "camera" && t.value.as_deref() == Some("door")));
    }
    assert_eq!(frames(&fragments), frames_of(&input));
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragment_duration_sets_the_fragment_count() {
    let kvs = server().await;
    kvs.create_stream("cam").unwrap();
    let mut c = config(&kvs.endpoint_url());
    c.fragment_duration = Duration::from_secs(1);
    let done = Producer::new("cam", c).put(&camera()[..]).await.unwrap();
    assert_eq!(done.fragments_persisted, 6);
    assert_eq!(read_back(&kvs.endpoint_url(), "cam").await.len(), 6);
    kvs.shutdown().await;
}

/// Puts a file and checks that every block comes back once, byte-exact, in order.
async fn refragments_byte_exact(name: &str, video: usize, audio: usize) {
    let Some(input) = sample(name) else { return };
    let kvs = server().await;
    kvs.create_stream("file").unwrap();
    let done = Producer::new("file", config(&kvs.endpoint_url())).put(&input[..]).await.unwrap();
    let fragments = read_back(&kvs.endpoint_url(), "file").await;
    assert_eq!(fragments.len() as u64, done.fragments_persisted);
    for f in &fragments {
        let first = &f.frames().unwrap()[0];
        assert!(first.track == 1 && first.keyframe, "fragments start at a video keyframe");
    }
    let got = frames(&fragments);
    assert_eq!(got.iter().filter(|f| f.0 == 1).count(), video);
    assert_eq!(got.iter().filter(|f| f.0 == 2).count(), audio);
    let want = frames_of(&input);
    for track in [1, 2] {
        let of = |frames: &[(u64, bool, Bytes)]| -> Vec<Bytes> {
            frames.iter().filter(|f| f.0 == track).map(|f| f.2.clone()).collect()
        };
        assert!(of(&got) == of(&want), "track {track}: payloads differ");
    }
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_mkv_file_is_refragmented_byte_exact() {
    refragments_byte_exact("clusters.mkv", 444, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mkv_with_audio_is_refragmented_byte_exact() {
    refragments_byte_exact("vogels_330.mkv", 909, 1425).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_acks_resend_from_the_first_fragment_not_persisted() {
    let kvs = server().await;
    kvs.create_stream("cam").unwrap();
    // Every PutMedia stores two fragments, then answers the next with ERROR 5000.
    let faults =
        Faults { put_media_error_after: Some((2, PutMediaErrorId::InternalError)), ..Faults::default() };
    kvs.set_faults("cam", faults);
    let input = camera();
    let mut c = config(&kvs.endpoint_url());
    c.fragment_duration = Duration::from_millis(500);
    let done = Producer::new("cam", c).put(&input[..]).await.unwrap();
    assert_eq!(done.fragments_persisted, 12);
    // One per ERROR ack; a reconnection refused by the 5 PutMedia calls a second adds more.
    assert!(done.reconnects >= 5, "{done:?}");
    let fragments = read_back(&kvs.endpoint_url(), "cam").await;
    assert_eq!(fragments.len(), 12);
    assert_eq!(frames(&fragments), frames_of(&input), "every frame exactly once, in order");
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_gets_every_frame_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = kvs_local::Config { data_dir: Some(dir.path().to_owned()), ..kvs_local::Config::default() };
    let kvs = server_with(data.clone()).await;
    let addr = kvs.local_addr();
    kvs.create_stream("cam").unwrap();
    let input = camera();
    let half = input.len() / 2;
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let producer = Producer::new("cam", config(&kvs.endpoint_url()));
    let stats = producer.stats();
    let put = tokio::spawn(producer.put(reader));
    // The first half, persisted; then the server goes away and comes back.
    tokio::io::AsyncWriteExt::write_all(&mut writer, &input[..half]).await.unwrap();
    while stats.snapshot().fragments_persisted < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    kvs.shutdown().await;
    let kvs = server_with(kvs_local::Config { addr, ..data }).await;
    tokio::io::AsyncWriteExt::write_all(&mut writer, &input[half..]).await.unwrap();
    drop(writer);
    let done = put.await.unwrap().unwrap();
    assert_eq!(done.fragments_persisted, 3);
    let fragments = read_back(&kvs.endpoint_url(), "cam").await;
    assert_eq!(frames(&fragments), frames_of(&input), "every frame exactly once, in order");
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_clearly_and_persist_nothing_twice() {
    let kvs = server().await;
    let endpoint = kvs.endpoint_url();
    for stream in ["text", "cut", "nokey"] {
        kvs.create_stream(stream).unwrap();
    }
    let text = Producer::new("text", config(&endpoint)).put(&b"this is not a video at all\n"[..]).await;
    assert!(matches!(text, Err(Error::NotMatroska)), "{text:?}");
    assert!(read_back(&endpoint, "text").await.is_empty());

    let input = camera();
    // Cut inside the last Cluster: the whole frames before it are kept, once.
    let cut = Producer::new("cut", config(&endpoint)).put(&input[..input.len() - 50]).await;
    assert!(matches!(cut, Err(Error::Truncated { .. })), "{cut:?}");
    let fragments = read_back(&endpoint, "cut").await;
    assert_eq!(fragments.len(), 3);
    let got = frames(&fragments);
    assert_eq!(got[..], frames_of(&input)[..got.len()]);

    // 15 s with no keyframe after the first: over the 10 s KVS limit.
    let mut w = kvs_mkv::EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(kvs_mkv::ids::SEGMENT);
    w.master(kvs_mkv::ids::TRACKS, |t| {
        t.master(kvs_mkv::ids::TRACK_ENTRY, |e| {
            e.uint(kvs_mkv::ids::TRACK_NUMBER, 1)
                .uint(kvs_mkv::ids::TRACK_TYPE, 1)
                .string(kvs_mkv::ids::CODEC_ID, "V_MPEG4/ISO/AVC");
        });
    });
    for second in 0..15u64 {
        w.master(kvs_mkv::ids::CLUSTER, |c| {
            c.uint(kvs_mkv::ids::TIMECODE, second * 1000);
            c.simple_block(1, 0, second == 0, b"frame");
        });
    }
    let nokey = Producer::new("nokey", config(&endpoint)).put(w.as_slice()).await;
    assert!(matches!(nokey, Err(Error::NoKeyframe { waited_ms: 10_000, limit_ms: 10_000 })), "{nokey:?}");
    // The 10 s before are a whole fragment: kept, once.
    let fragments = read_back(&endpoint, "nokey").await;
    assert_eq!(fragments.len(), 1);
    assert_eq!(fragments[0].frames().unwrap().len(), 10);
    kvs.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn puts_are_signed_with_sigv4() {
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let checked = kvs_local::Config {
        credentials: Some(kvs_local::Credentials::new("AKIDEXAMPLE", secret)),
        ..kvs_local::Config::default()
    };
    let kvs = server_with(checked).await;
    kvs.create_stream("cam").unwrap();
    let done = Producer::new("cam", config(&kvs.endpoint_url())).put(&camera()[..]).await.unwrap();
    assert_eq!(done.fragments_persisted, 3);
    let mut wrong = config(&kvs.endpoint_url());
    wrong.credentials.as_mut().unwrap().secret_access_key = "not the secret".into();
    let refused = Producer::new("cam", wrong).put(&camera()[..]).await;
    assert!(
        matches!(&refused, Err(Error::Service { code, .. }) if code == "InvalidSignatureException"),
        "{refused:?}"
    );
    kvs.shutdown().await;
}
