//! `kvs inspect` as a user runs it: the binary on real captures, standard input and bad
//! input, checking the JSON Lines contract field by field.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use kvs_samples::samples_dir;

use crate::util::run_with_stdin;

/// Runs `kvs ARGS`, with `stdin` piped in when given: (success, stdout, stderr).
fn kvs(args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
    let out = run_with_stdin(args, stdin.unwrap_or_default());
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn json_contract_on_a_real_capture() {
    let Some(dir) = samples_dir() else { return };
    let path = dir.join("output_get_media.mkv");
    let (ok, stdout, stderr) = kvs(&["inspect", "--json", path.to_str().unwrap()], None);
    assert!(ok, "{stderr}");
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 5);
    let first = &lines[0];
    assert_eq!(first["type"], "fragment");
    assert_eq!(first["index"], 0);
    assert_eq!(first["offset"], 0);
    assert_eq!(first["size"], 547_925);
    assert_eq!(first["complete"], true);
    assert_eq!(first["fragment_number"], "91343852333181432392682062607743920146159169392");
    assert_eq!(first["continuation_token"], "91343852333181432392682062607743920146159169392");
    assert_eq!(first["millis_behind_now"], 15858);
    assert_eq!(first["frames"]["1"], 60);
    assert_eq!(first["keyframes"]["1"], 1);
    assert_eq!(first["tracks"][0]["codec_id"], "V_MPEG4/ISO/AVC");
    assert_eq!(
        (first["tracks"][0]["width"].as_u64(), first["tracks"][0]["height"].as_u64()),
        (Some(640), Some(360))
    );
    let tags = first["tags"].as_array().unwrap();
    assert!(
        tags.iter().any(|t| t[0] == "AWS_KINESISVIDEO_FRAGMENT_NUMBER" && t[1] == first["fragment_number"])
    );
    let offsets: Vec<u64> = lines.iter().map(|l| l["offset"].as_u64().unwrap()).collect();
    let sizes: Vec<u64> = lines.iter().map(|l| l["size"].as_u64().unwrap()).collect();
    for i in 1..5 {
        assert_eq!(offsets[i], offsets[i - 1] + sizes[i - 1]);
    }
}

#[test]
fn absent_values_are_null_and_truncation_is_data() {
    let Some(dir) = samples_dir() else { return };
    let path = dir.join("output-get-media-equal-timecode.mkv");
    let (ok, stdout, _) = kvs(&["inspect", "--json", path.to_str().unwrap()], None);
    assert!(ok, "a truncated last fragment is data, not a failure");
    let lines = json_lines(&stdout);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["complete"], false);
    assert!(lines[1]["continuation_token"].is_null());
    assert!(lines[1]["millis_behind_now"].is_null());
    assert_eq!(lines[1]["frames"]["1"], 119);
}

#[test]
fn standard_input_with_garbage_and_an_in_band_error() {
    let mut input = b"not a fragment".to_vec();
    input.extend_from_slice(&kvs_mkv::testing::stream_of(2));
    let mut error = kvs_mkv::EbmlWriter::new();
    error.ebml_header("matroska").unknown_size_master(kvs_mkv::ids::SEGMENT);
    error.simple_tags(&[("AWS_KINESISVIDEO_ERROR_CODE", "4000"), ("AWS_KINESISVIDEO_ERROR_ID", "7")]);
    input.extend_from_slice(error.as_slice());
    let (ok, stdout, stderr) = kvs(&["inspect", "--json", "-"], Some(&input));
    assert!(ok, "{stderr}");
    let lines = json_lines(&stdout);
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["skipped", "fragment", "fragment", "error"]);
    assert_eq!((lines[0]["offset"].as_u64(), lines[0]["size"].as_u64()), (Some(0), Some(14)));
    assert_eq!(lines[1]["fragment_number"], kvs_mkv::testing::fragment_number(0));
    assert_eq!((lines[3]["code"].as_str(), lines[3]["id"].as_str()), (Some("4000"), Some("7")));
}

#[test]
fn table_and_tree_views() {
    let stream = kvs_mkv::testing::stream_of(3);
    let (ok, stdout, _) = kvs(&["inspect", "-"], Some(&stream));
    assert!(ok);
    let rows: Vec<&str> = stdout.lines().collect();
    assert_eq!(rows.len(), 4, "a header and three rows:\n{stdout}");
    assert!(rows[3].contains(&kvs_mkv::testing::fragment_number(2)));
    let (ok, stdout, _) = kvs(&["inspect", "--tree", "-"], Some(&stream));
    assert!(ok);
    assert_eq!(stdout.matches("+ SimpleBlock").count(), 9);
    assert!(stdout.contains("CodecID (0x86) @"));
}

#[test]
fn a_missing_file_fails_with_a_message() {
    let (ok, _, stderr) = kvs(&["inspect", "/nonexistent/capture.mkv"], None);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/capture.mkv"), "{stderr}");
}

#[test]
fn a_pipe_shows_each_fragment_before_the_input_ends() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvs"))
        .args(["inspect", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kvs runs");
    let mut pipe = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The first line is read while the input is still open: it must have been flushed.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
        for line in lines.by_ref() {
            let _ = tx.send(line.unwrap());
        }
    });
    pipe.write_all(&kvs_mkv::testing::fragment(0, 3, 16)).unwrap();
    pipe.flush().unwrap();
    // A guard against a hang, not a measure: the line comes at once or never.
    let first = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("a line before the input ended");
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["fragment_number"], kvs_mkv::testing::fragment_number(0));
    pipe.write_all(&kvs_mkv::testing::fragment(1, 3, 16)).unwrap();
    drop(pipe);
    let second: Value = serde_json::from_str(&rx.recv().unwrap()).unwrap();
    assert_eq!(second["fragment_number"], kvs_mkv::testing::fragment_number(1));
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_file_and_a_pipe_give_the_same_lines() {
    let stream = kvs_mkv::testing::stream_of(40);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.mkv");
    std::fs::write(&path, &stream).unwrap();
    let (ok, from_file, _) = kvs(&["inspect", "--json", path.to_str().unwrap()], None);
    assert!(ok);
    let (ok, from_pipe, _) = kvs(&["inspect", "--json", "-"], Some(&stream));
    assert!(ok);
    assert_eq!(json_lines(&from_file).len(), 40);
    assert_eq!(from_file, from_pipe);
}
