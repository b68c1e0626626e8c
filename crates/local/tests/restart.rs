use aws_sdk_kinesisvideomedia::types::StartSelectorType;
use kvs_local::{Config, LocalKvs};

use crate::util::{camera_mkv, config, get_media, selector, split};

#[tokio::test]
async fn the_directory_store_survives_a_restart_and_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let with_dir = || Config { data_dir: Some(dir.path().to_owned()), ..config() };
    let kvs = LocalKvs::start(with_dir()).await.unwrap();
    kvs.create_stream("cam").unwrap();
    let numbers = kvs.ingest_mkv("cam", camera_mkv(3)).unwrap();
    let before = get_media(&kvs, "cam", selector(StartSelectorType::Earliest)).await;
    kvs.shutdown().await;

    // A write torn by a crash: a temporary file that never got renamed, and a fragment
    // file cut short.
    let stream_dir = std::fs::read_dir(dir.path().join("streams")).unwrap().next().unwrap().unwrap().path();
    std::fs::write(stream_dir.join("91343852339999.frag.tmp"), b"half a fragment").unwrap();
    let bogus = format!("{}.frag", "9".repeat(48));
    std::fs::write(stream_dir.join(&bogus), b"KVSFRAG1 cut short").unwrap();

    let kvs = LocalKvs::start(with_dir()).await.unwrap();
    let after = get_media(&kvs, "cam", selector(StartSelectorType::Earliest)).await;
    let (before, after) = (split(before), split(after));
    assert_eq!(after.numbers(), before.numbers());
    assert_eq!(after.numbers(), numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    for (a, b) in after.fragments.iter().zip(&before.fragments) {
        assert_eq!(crate::util::frames_of(a), crate::util::frames_of(b));
        assert_eq!(a.kvs().server_timestamp, b.kvs().server_timestamp);
        assert_eq!(a.kvs().producer_timestamp, b.kvs().producer_timestamp);
    }
    assert!(!stream_dir.join(&bogus).exists());
    assert!(!stream_dir.join("91343852339999.frag.tmp").exists());

    // Numbering goes on above the recovered fragments.
    let next = kvs.ingest_mkv("cam", camera_mkv(1)).unwrap();
    assert!(next[0] > numbers[2]);
    kvs.delete_stream("cam").unwrap();
    assert!(!stream_dir.exists());
    kvs.shutdown().await;
}
