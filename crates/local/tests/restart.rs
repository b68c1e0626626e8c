use std::fs;
use std::path::{Path, PathBuf};

use aws_sdk_kinesisvideomedia::types::StartSelectorType;
use kvs_local::{Config, Error, LocalKvs};

use crate::util::{camera_mkv, config, control, error_of, get_media, selector, split};

/// A config whose directory store is `dir`.
fn stored_in(dir: &Path) -> Config {
    Config { data_dir: Some(dir.to_owned()), ..config() }
}

/// The directory of the store in `data_dir` that holds the stream `name`.
fn dir_of(data_dir: &Path, name: &str) -> PathBuf {
    let mut found =
        fs::read_dir(data_dir.join("streams")).unwrap().map(|e| e.unwrap().path()).filter(|dir| {
            let json: serde_json::Value =
                serde_json::from_slice(&fs::read(dir.join("stream.json")).unwrap()).unwrap();
            json["name"] == name
        });
    let dir = found.next().unwrap();
    assert!(found.next().is_none());
    dir
}

/// The fragment numbers GetMedia serves from the start of a stream.
async fn numbers_of(kvs: &LocalKvs, stream: &str) -> Vec<String> {
    split(get_media(kvs, stream, selector(StartSelectorType::Earliest)).await).numbers()
}

fn strings(numbers: &[kvs_mkv::FragmentNumber]) -> Vec<String> {
    numbers.iter().map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn the_directory_store_survives_a_restart_and_a_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let with_dir = || stored_in(dir.path());
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

#[tokio::test]
async fn a_delete_that_cannot_set_the_directory_aside_fails_and_keeps_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    kvs.create_stream("cam").unwrap();
    let numbers = strings(&kvs.ingest_mkv("cam", camera_mkv(2)).unwrap());
    // Tests run as root, where permissions stop nothing: the directory moves away
    // underneath the server, so that renaming it to a tombstone fails.
    let stream_dir = dir_of(dir.path(), "cam");
    let aside = dir.path().join("aside");
    fs::rename(&stream_dir, &aside).unwrap();

    let client = control(&kvs);
    let described = client.describe_stream().stream_name("cam").send().await.unwrap();
    let arn = described.stream_info().and_then(|i| i.stream_arn()).unwrap().to_owned();
    let failed = client.delete_stream().stream_arn(&arn).send().await.unwrap_err();
    assert_eq!(error_of(&failed), ("InternalFailure".into(), 500));
    let failed = kvs.delete_stream("cam").unwrap_err();
    assert!(
        matches!(&failed, Error::DeleteFailed { stream, dir, .. } if stream == "cam" && *dir == stream_dir)
    );
    client.describe_stream().stream_name("cam").send().await.unwrap();
    assert_eq!(numbers_of(&kvs, "cam").await, numbers);

    // With its directory back, the delete goes through and leaves nothing behind.
    fs::rename(&aside, &stream_dir).unwrap();
    client.delete_stream().stream_arn(&arn).send().await.unwrap();
    assert_eq!(fs::read_dir(dir.path().join("streams")).unwrap().count(), 0);
    kvs.shutdown().await;
    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    assert!(matches!(kvs.delete_stream("cam"), Err(Error::StreamNotFound(_))));
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_tombstone_left_by_a_crash_is_removed_and_its_stream_stays_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    kvs.create_stream("gone").unwrap();
    kvs.create_stream("kept").unwrap();
    kvs.ingest_mkv("gone", camera_mkv(2)).unwrap();
    let kept = strings(&kvs.ingest_mkv("kept", camera_mkv(2)).unwrap());
    kvs.shutdown().await;

    // A DeleteStream killed after renaming the directory to its tombstone
    // (`<dir>.deleted-<n>`, beside it) and before removing it.
    let gone = dir_of(dir.path(), "gone");
    let tombstone = gone.with_file_name(format!("{}.deleted-0", gone.file_name().unwrap().to_str().unwrap()));
    fs::rename(&gone, &tombstone).unwrap();

    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    let missing = control(&kvs).describe_stream().stream_name("gone").send().await.unwrap_err();
    assert_eq!(error_of(&missing), ("ResourceNotFoundException".into(), 404));
    assert!(!tombstone.exists());
    assert_eq!(numbers_of(&kvs, "kept").await, kept);
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_stream_json_skips_only_that_stream() {
    let dir = tempfile::tempdir().unwrap();
    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    kvs.create_stream("bad").unwrap();
    kvs.create_stream("good").unwrap();
    kvs.ingest_mkv("bad", camera_mkv(1)).unwrap();
    let good = strings(&kvs.ingest_mkv("good", camera_mkv(2)).unwrap());
    kvs.shutdown().await;
    let bad = dir_of(dir.path(), "bad");
    fs::write(bad.join("stream.json"), b"{\"name\": \"ba").unwrap();

    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    assert_eq!(numbers_of(&kvs, "good").await, good);
    let missing = control(&kvs).describe_stream().stream_name("bad").send().await.unwrap_err();
    assert_eq!(error_of(&missing), ("ResourceNotFoundException".into(), 404));
    // Left as it is, for someone to look at.
    assert!(bad.join("stream.json").exists());
    kvs.shutdown().await;
}

#[tokio::test]
async fn two_directories_with_one_stream_name_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let kvs = LocalKvs::start(stored_in(dir.path())).await.unwrap();
    kvs.create_stream("cam").unwrap();
    kvs.ingest_mkv("cam", camera_mkv(1)).unwrap();
    kvs.shutdown().await;
    let first = dir_of(dir.path(), "cam");
    let second = first.with_file_name("1-0");
    fs::create_dir(&second).unwrap();
    fs::copy(first.join("stream.json"), second.join("stream.json")).unwrap();

    let error = LocalKvs::start(stored_in(dir.path())).await.unwrap_err();
    let message = error.to_string();
    let Error::DuplicateStream { name, first: a, second: b } = error else { panic!("{error:?}") };
    assert_eq!(name, "cam");
    let mut named = [a, b];
    named.sort();
    let mut expected = [first.clone(), second.clone()];
    expected.sort();
    assert_eq!(named, expected);
    assert!(message.contains(&*first.to_string_lossy()) && message.contains(&*second.to_string_lossy()));
}
