//! `kvs images`, `kvs clip --stream` and `kvs play` against `kvs serve` holding 6 s of the
//! synthetic camera (`kvs put --camera 160x120@10 --frames 60`: three 2 s fragments of 20
//! frames, producer timestamps from the moment of the put): exactly the expected files
//! with the camera's colour bars, an MP4 with every frame of the range, playlists that
//! answer; then the same APIs through the official AWS CLI and ffmpeg when installed.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use kvs_consumer::archived::utc_name;
use kvs_local::camera::{BARS, bar_at};
use serde_json::{Value, json};

use crate::util::{Served, kvs_bin, names_in, post};

const WIDTH: usize = 160;
const HEIGHT: usize = 120;

/// A server with stream `cam` holding three fragments of the camera; the producer
/// timestamp of the first, in ms.
fn camera() -> (Served, u64) {
    let server = Served::start(&["--idle-timeout", "0.5"]);
    let out = Command::new(kvs_bin())
        .args(["put", "--endpoint", &server.endpoint(), "--stream", "cam", "--create"])
        .args(["--camera", &format!("{WIDTH}x{HEIGHT}@10"), "--frames", "60"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = post(&server.addr, "listFragments", &json!({ "StreamName": "cam", "MaxResults": 1000 }));
    let mut starts: Vec<u64> = listed["Fragments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["ProducerTimestamp"].as_f64().unwrap() * 1000.0).round() as u64)
        .collect();
    starts.sort_unstable();
    assert_eq!(starts.len(), 3, "{listed}");
    assert_eq!([starts[1] - starts[0], starts[2] - starts[0]], [2000, 4000]);
    (server, starts[0])
}

/// `ms` as the Unix seconds the CLI takes: `1733288462.345`.
fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// `kvs ARGS --endpoint E`.
fn kvs(server: &Served, args: &[&str]) -> Output {
    Command::new(kvs_bin()).args(args).args(["--endpoint", &server.endpoint()]).output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks the middle of every colour bar of an RGB picture of `width` x `height`.
fn assert_bars(rgb: &[u8], width: usize, height: usize, what: &str) {
    assert_eq!(rgb.len(), width * height * 3, "{what}");
    let y = height / 2;
    let mut checked = 0;
    for (k, (name, _)) in BARS.iter().enumerate() {
        let x = k * width / 8 + width / 16;
        let want = bar_at(x, y, width, height).unwrap_or_else(|| panic!("{what}: ({x}, {y}) is not mid-bar"));
        let at = (y * width + x) * 3;
        let got = &rgb[at..at + 3];
        for c in 0..3 {
            assert!(
                (i32::from(got[c]) - i32::from(want[c])).abs() <= 24,
                "{what}: bar {name} at ({x}, {y}): {got:?}, want {want:?}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}

fn jpeg_rgb(path: &Path) -> (Vec<u8>, usize, usize) {
    let mut decoder = jpeg_decoder::Decoder::new(std::fs::File::open(path).unwrap());
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24, "{}", path.display());
    (pixels, usize::from(info.width), usize::from(info.height))
}

fn png_rgb(path: &Path) -> (Vec<u8>, usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    buf.truncate(info.buffer_size());
    (buf, info.width as usize, info.height as usize)
}

/// The file names of instants `first + k s` for `k` in `ks`.
fn names(first: u64, ks: std::ops::Range<u64>, ext: &str) -> Vec<String> {
    ks.map(|k| format!("{}.{ext}", utc_name(UNIX_EPOCH + Duration::from_millis(first + k * 1000)))).collect()
}

#[test]
fn images_one_file_per_instant_with_the_colour_bars() {
    let (server, p0) = camera();
    let dir = tempfile::tempdir().unwrap();
    // 8 instants a second apart; the media covers the first 6.
    let jpegs = dir.path().join("jpeg");
    let out = kvs(
        &server,
        &["images", "--stream", "cam", "--producer-time", "--from", &secs(p0), "--to", &secs(p0 + 8000)]
            .into_iter()
            .chain(["--every", "1s", "--out", jpegs.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let stderr = ok(&out);
    assert!(stderr.contains("6 images in"), "{stderr}");
    assert!(stderr.contains("2 instants without a picture (2 NO_MEDIA)"), "{stderr}");
    assert_eq!(stderr.matches("kvs: warning: no picture at").count(), 2, "{stderr}");
    assert_eq!(names_in(&jpegs), names(p0, 0..6, "jpg"));
    for name in names_in(&jpegs) {
        let (rgb, w, h) = jpeg_rgb(&jpegs.join(&name));
        assert_eq!((w, h), (WIDTH, HEIGHT), "{name}");
        assert_bars(&rgb, w, h, &name);
    }

    // PNG at half height: the width keeps the aspect ratio; RFC 3339 times; 500 ms apart.
    let pngs = dir.path().join("png");
    let from = utc_rfc3339(p0 + 1000);
    let to = utc_rfc3339(p0 + 3000);
    let out = kvs(
        &server,
        &["images", "--stream", "cam", "--producer-time", "--from", &from, "--to", &to, "--every", "500ms"]
            .into_iter()
            .chain(["--format", "png", "--height", "60", "--out", pngs.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let stderr = ok(&out);
    assert!(stderr.contains("4 images in") && !stderr.contains("without"), "{stderr}");
    let want: Vec<String> = (0..4)
        .map(|k| format!("{}.png", utc_name(UNIX_EPOCH + Duration::from_millis(p0 + 1000 + k * 500))))
        .collect();
    assert_eq!(names_in(&pngs), want);
    for name in &want {
        let (rgb, w, h) = png_rgb(&pngs.join(name));
        assert_eq!((w, h), (WIDTH / 2, HEIGHT / 2), "{name}");
        assert_bars(&rgb, w, h, name);
    }

    // Refusals come back as errors, and nothing is written.
    let refused = dir.path().join("refused");
    let out = kvs(
        &server,
        &["images", "--stream", "nope", "--from", "10", "--to", "20", "--out", refused.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stream not found"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(names_in(&refused).is_empty());
}

#[test]
fn long_ranges_are_paged_and_split_at_300_seconds() {
    let (server, p0) = camera();
    let dir = tempfile::tempdir().unwrap();
    // 606 instants a second apart, asked for in windows of 300 s (300, 300, 6 instants)
    // and pages of 25; the media shows at instants 300 to 305.
    let out_dir = dir.path().join("long");
    let (from, to) = (secs(p0 - 300_000), secs(p0 + 306_000));
    let out = kvs(
        &server,
        &["images", "--stream", "cam", "--producer-time", "--from", &from, "--to", &to]
            .into_iter()
            .chain(["--out", out_dir.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let stderr = ok(&out);
    assert!(stderr.contains("6 images in"), "{stderr}");
    assert!(stderr.contains("600 instants without a picture (600 NO_MEDIA)"), "{stderr}");
    // Only the first ten are told one by one.
    assert_eq!(stderr.matches("kvs: warning: no picture at").count(), 10, "{stderr}");
    assert_eq!(names_in(&out_dir), names(p0, 0..6, "jpg"));
}

/// `ms` as RFC 3339 UTC: `2026-12-04T05:01:02.345Z`.
fn utc_rfc3339(ms: u64) -> String {
    let n = utc_name(UNIX_EPOCH + Duration::from_millis(ms));
    format!("{}-{}-{}T{}:{}:{}", &n[0..4], &n[4..6], &n[6..8], &n[9..11], &n[11..13], &n[13..])
}

/// The video samples of a progressive MP4, from its sample size table.
fn mp4_video_samples(bytes: &[u8]) -> usize {
    use mp4_atom::{Any, Decode};
    let mut buf: &[u8] = bytes;
    let moov = loop {
        match Any::decode(&mut buf).unwrap() {
            Any::Moov(moov) => break moov,
            Any::Mdat(_) => panic!("no moov before the mdat"),
            _ => {}
        }
    };
    let video: Vec<usize> = moov
        .trak
        .iter()
        .filter(|t| t.mdia.hdlr.handler.to_string() == "vide")
        .map(|t| match &t.mdia.minf.stbl.stsz.samples {
            mp4_atom::StszSamples::Different { sizes } => sizes.len(),
            mp4_atom::StszSamples::Identical { count, .. } => *count as usize,
        })
        .collect();
    assert_eq!(video.len(), 1, "one video track");
    video[0]
}

#[test]
fn clip_of_the_stream_holds_every_frame_of_the_range() {
    let (server, p0) = camera();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("clip.mp4");
    let out = kvs(
        &server,
        &["clip", "--stream", "cam", "--producer-time", "--from", &secs(p0), "--to", &secs(p0 + 5999)]
            .into_iter()
            .chain(["-o", mp4.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    let stderr = ok(&out);
    let bytes = std::fs::read(&mp4).unwrap();
    assert!(stderr.contains(&format!("{} bytes", bytes.len())), "{stderr}");
    assert_eq!(mp4_video_samples(&bytes), 60);
    match ffprobe_frames(&mp4) {
        Some(frames) => assert_eq!(frames, 60),
        None => eprintln!("skipping the ffprobe check: ffprobe is not on PATH"),
    }
    // The first fragment alone, to standard output.
    let out = kvs(
        &server,
        &[
            "clip",
            "--stream",
            "cam",
            "--producer-time",
            "--from",
            &secs(p0),
            "--to",
            &secs(p0 + 1000),
            "-o",
            "-",
        ],
    );
    ok(&out);
    assert_eq!(mp4_video_samples(&out.stdout), 20);
    // A range with no media is the service's error, and leaves no file.
    let empty = dir.path().join("empty.mp4");
    let out = kvs(
        &server,
        &["clip", "--stream", "cam", "--from", "10", "--to", "20", "-o", empty.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("GetClip failed: ResourceNotFoundException: "), "{stderr}");
    assert!(!empty.exists());
}

fn ffprobe_frames(path: &Path) -> Option<u64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stdout).trim().parse().unwrap())
}

/// `http://127.0.0.1:PORT/PATH?QUERY` split into the address and the path with query.
fn split_url<'a>(url: &'a str, server: &Served) -> &'a str {
    let prefix = format!("http://{}", server.addr);
    url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url} is not on {prefix}"))
}

#[test]
fn play_prints_session_urls_that_answer() {
    let (server, p0) = camera();
    let out = kvs(
        &server,
        &[
            "play",
            "--stream",
            "cam",
            "--producer-time",
            "--from",
            &secs(p0),
            "--to",
            &secs(p0 + 5999),
            "--dash",
        ],
    );
    ok(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let hls = split_url(lines[0], &server);
    assert!(hls.starts_with("/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken="), "{hls}");
    let body = crate::util::get(&server.addr, hls);
    assert!(body.starts_with("#EXTM3U"), "{body}");
    let dash = split_url(lines[1], &server);
    assert!(dash.contains("/getDASHManifest.mpd?SessionToken="), "{dash}");
    let manifest = crate::util::get(&server.addr, dash);
    assert!(manifest.contains("<MPD"), "{manifest}");

    match ffmpeg_frames(lines[0]) {
        Some(frames) => assert_eq!(frames, 60, "ffmpeg on {}", lines[0]),
        None => eprintln!("skipping the ffmpeg check: ffmpeg is not on PATH"),
    }
    match ffmpeg_frames(lines[1]) {
        Some(frames) => assert_eq!(frames, 60, "ffmpeg on {}", lines[1]),
        None => eprintln!("skipping the ffmpeg check: ffmpeg is not on PATH"),
    }

    // Live: the URL of the live edge (the camera put its fragments moments ago).
    let out = kvs(&server, &["play", "--stream", "cam"]);
    ok(&out);
    let live = String::from_utf8(out.stdout).unwrap();
    assert!(split_url(live.trim(), &server).starts_with("/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken="));
    // The service's bounds are the service's: Expires below 300 s is refused before any call.
    let out = kvs(&server, &["play", "--stream", "cam", "--expires", "10"]);
    assert!(!out.status.success());
}

/// Frames ffmpeg decodes from `url`; `None` without ffmpeg.
fn ffmpeg_frames(url: &str) -> Option<u64> {
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-progress",
            "pipe:1",
            "-i",
            url,
            "-f",
            "null",
            "-",
        ])
        .output()
        .ok()?;
    assert!(out.status.success(), "ffmpeg on {url}: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let frames =
        stdout.lines().filter_map(|l| l.strip_prefix("frame=")).next_back().expect("ffmpeg's progress");
    Some(frames.trim().parse().unwrap())
}

/// `aws ARGS` against the server with dummy credentials; `None` when the AWS CLI is
/// not installed.
fn aws(server: &Served, args: &[&str]) -> Option<Output> {
    let out = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", &server.endpoint(), "--region", "us-east-1", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .output()
        .ok()?;
    Some(out)
}

#[test]
fn the_aws_cli_gets_the_same_answers() {
    let version = Command::new("aws").arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: the AWS CLI (`aws`) is not installed");
        return;
    }
    let (server, p0) = camera();
    let (from, to) = (secs(p0), secs(p0 + 8000));
    let range = ["--start-timestamp", from.as_str(), "--end-timestamp", to.as_str()];
    let images = aws(
        &server,
        &["kinesis-video-archived-media", "get-images", "--stream-name", "cam"]
            .into_iter()
            .chain([
                "--image-selector-type",
                "PRODUCER_TIMESTAMP",
                "--sampling-interval",
                "1000",
                "--format",
                "JPEG",
            ])
            .chain(range)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(images.status.success(), "{}", String::from_utf8_lossy(&images.stderr));
    let answer: Value = serde_json::from_slice(&images.stdout).unwrap();
    let list = answer["Images"].as_array().unwrap();
    let errors: Vec<&str> = list.iter().filter_map(|i| i["Error"].as_str()).collect();
    assert_eq!((list.len(), errors), (8, vec!["NO_MEDIA", "NO_MEDIA"]), "{answer}");

    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("aws.mp4");
    let (clip_from, clip_to) = (secs(p0), secs(p0 + 5999));
    let selector = format!(
        "FragmentSelectorType=PRODUCER_TIMESTAMP,TimestampRange={{StartTimestamp={clip_from},EndTimestamp={clip_to}}}"
    );
    let clip = aws(
        &server,
        &[
            "kinesis-video-archived-media",
            "get-clip",
            "--stream-name",
            "cam",
            "--clip-fragment-selector",
            &selector,
        ]
        .into_iter()
        .chain([mp4.to_str().unwrap()])
        .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(clip.status.success(), "{}", String::from_utf8_lossy(&clip.stderr));
    assert_eq!(mp4_video_samples(&std::fs::read(&mp4).unwrap()), 60);

    for (op, key, path) in [
        (
            "get-hls-streaming-session-url",
            "HLSStreamingSessionURL",
            "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=",
        ),
        ("get-dash-streaming-session-url", "DASHStreamingSessionURL", "/getDASHManifest.mpd?SessionToken="),
    ] {
        let out = aws(
            &server,
            &["kinesis-video-archived-media", op, "--stream-name", "cam", "--playback-mode", "LIVE"],
        )
        .unwrap();
        assert!(out.status.success(), "{op}: {}", String::from_utf8_lossy(&out.stderr));
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        let url = answer[key].as_str().unwrap_or_else(|| panic!("{op}: {answer}"));
        let rest = split_url(url, &server);
        assert!(rest.contains(path), "{url}");
        let body = crate::util::get(&server.addr, rest);
        assert!(body.starts_with("#EXTM3U") || body.contains("<MPD"), "{body}");
    }
}
