//! The real KVS captures through all three outputs: every sample byte-exact, sync
//! samples = keyframes, durations summing to the span; then counted and decoded by
//! FFmpeg where it is installed.

use std::collections::HashMap;
use std::path::Path;

use kvs_mkv::Fragment;
use kvs_mux::{ClipLimits, Error, Remuxer};

use crate::util::{
    annexb_nals, avcc_nals, ffmpeg_decode_errors, ffprobe_frames, fmp4_samples, fragments_of, frames_of,
    mp4_samples, samples_dir, ts_pes,
};

/// Frames of each track of `fragments`, by track number.
fn counts(fragments: &[Fragment], remuxer: &Remuxer) -> Vec<(u64, usize)> {
    remuxer.track_numbers().into_iter().map(|t| (t, frames_of(fragments, t).len())).collect()
}

/// Fragmented MP4: every segment read back equals its fragment's frames; the segments
/// together span the stream; init + segments play as one file.
fn check_fmp4(fragments: &[Fragment], remuxer: &Remuxer, dir: &Path, expected: &[(u64, usize)]) {
    let init = remuxer.init_segment().unwrap().to_vec();
    let mut file = init.clone();
    let mut all: HashMap<u32, Vec<crate::util::OutSample>> = HashMap::new();
    // Whether the segments' times only go forward, as one file needs them to.
    let mut forward = true;
    let mut segments = Vec::new();
    for (i, fragment) in fragments.iter().enumerate() {
        let segment = remuxer.media_segment(i as u32 + 1, fragment, fragments.get(i + 1)).unwrap();
        let (sequence, tracks) = fmp4_samples(&segment);
        assert_eq!(sequence, i as u32 + 1);
        for (id, samples) in tracks {
            let frames = frames_of(std::slice::from_ref(fragment), u64::from(id));
            assert_eq!(samples.len(), frames.len());
            for (s, f) in samples.iter().zip(&frames) {
                assert_eq!(s.data, f.payload, "fragment {i} track {id}");
                assert_eq!(s.sync, f.keyframe || id != 1);
            }
            // A segment's decode times are its presentation times sorted, so it starts at its
            // earliest frame: segments follow each other without gap or overlap wherever the
            // MKV times do, and a capture whose timecodes restart goes back with them.
            let scale = i128::from(scale_of(&init, id));
            let first_ns = i128::from(frames.iter().map(|f| f.timestamp_ns).min().unwrap());
            assert_eq!(
                i128::from(samples[0].dts),
                (first_ns * scale + 500_000_000).div_euclid(1_000_000_000)
            );
            let before = all.entry(id).or_default();
            if let Some(last) = before.last() {
                if samples[0].dts >= last.dts {
                    assert_eq!(
                        samples[0].dts,
                        last.dts + u64::from(last.duration),
                        "fragment {i} track {id}"
                    );
                } else {
                    forward = false;
                }
            }
            before.extend(samples);
        }
        file.extend_from_slice(&segment);
        segments.push(segment);
    }
    for &(track, n) in expected {
        assert_eq!(all[&(track as u32)].len(), n, "track {track}");
    }
    if forward {
        let path = dir.join("fmp4.mp4");
        std::fs::write(&path, &file).unwrap();
        ffprobe_checks(&path, expected);
    } else {
        // Time going back plays as separate files (an HLS player sees a discontinuity):
        // each segment after the init segment, on its own.
        for (i, (segment, fragment)) in segments.iter().zip(fragments).enumerate() {
            let path = dir.join(format!("fmp4-{i}.mp4"));
            std::fs::write(&path, [&init[..], segment].concat()).unwrap();
            let counts: Vec<(u64, usize)> = expected
                .iter()
                .map(|&(t, _)| (t, frames_of(std::slice::from_ref(fragment), t).len()))
                .collect();
            ffprobe_checks(&path, &counts);
        }
        std::fs::write(dir.join("fmp4.mp4"), &file).unwrap();
    }
}

/// Progressive MP4: the sample tables give back every frame.
fn check_clip(fragments: &[Fragment], remuxer: &Remuxer, dir: &Path, expected: &[(u64, usize)]) {
    let clip = remuxer.clip(fragments, ClipLimits::NONE).unwrap();
    assert_eq!((clip.fragments, clip.truncated), (fragments.len(), false));
    // Each track's media time starts at its first decode time: its first frame's time,
    // less the B-frame delay; and the clip starts at the earliest of them.
    let first_dts = |t: u64| {
        let frames = frames_of(fragments, t);
        let mut sorted: Vec<i64> = frames.iter().map(|f| f.timestamp_ns).collect();
        sorted.sort_unstable();
        let delay = sorted.iter().zip(&frames).map(|(s, f)| s - f.timestamp_ns).max().unwrap().max(0);
        sorted[0] - delay
    };
    let origin = remuxer.track_numbers().into_iter().map(first_dts).min().unwrap();
    for (id, samples) in mp4_samples(&clip.bytes) {
        let frames = frames_of(fragments, u64::from(id));
        assert_eq!(samples.len(), frames.len());
        for (s, f) in samples.iter().zip(&frames) {
            assert_eq!(s.data, f.payload);
            assert_eq!(s.sync, f.keyframe || id != 1);
        }
        // Each frame is shown at its MKV time, rounded once on the clip's time line, in
        // the track's media time; where a capture's times go back, later fragments move
        // forward instead (the monotonic decode times and ffprobe's count below hold).
        if !goes_forward(fragments, u64::from(id)) {
            assert!(samples.windows(2).all(|w| w[0].dts <= w[1].dts));
            continue;
        }
        let scale = i128::from(scale_of(&clip.bytes, id));
        let ticks = |ns: i64| (i128::from(ns - origin) * scale + 500_000_000).div_euclid(1_000_000_000);
        let start = ticks(first_dts(u64::from(id)));
        for (s, f) in samples.iter().zip(&frames) {
            assert_eq!(i128::from(s.dts) + i128::from(s.cts), ticks(f.timestamp_ns) - start, "track {id}");
        }
        assert!(samples.windows(2).all(|w| w[0].dts <= w[1].dts));
    }
    let path = dir.join("clip.mp4");
    std::fs::write(&path, &clip.bytes).unwrap();
    ffprobe_checks(&path, expected);
}

/// Whether each fragment's frames of `track` start after the fragment before ended.
fn goes_forward(fragments: &[Fragment], track: u64) -> bool {
    let spans: Vec<(i64, i64)> = fragments
        .iter()
        .filter_map(|f| {
            let times: Vec<i64> =
                frames_of(std::slice::from_ref(f), track).iter().map(|f| f.timestamp_ns).collect();
            Some((*times.iter().min()?, *times.iter().max()?))
        })
        .collect();
    spans.windows(2).all(|w| w[1].0 > w[0].1)
}

/// The time scale of track `id` of a file.
fn scale_of(file: &[u8], id: u32) -> u64 {
    let moov = crate::util::moov_of(file);
    u64::from(moov.trak.iter().find(|t| t.tkhd.track_id == id).unwrap().mdia.mdhd.timescale)
}

/// MPEG-TS: one segment per fragment, continuity unbroken, every PES the Annex B or ADTS
/// form of its frame.
fn check_ts(fragments: &[Fragment], remuxer: &Remuxer, dir: &Path, expected: &[(u64, usize)], hevc: bool) {
    let mut muxer = remuxer.ts_muxer();
    let mut file = Vec::new();
    let mut counters = HashMap::new();
    let mut video = Vec::new();
    let mut audio = Vec::new();
    for fragment in fragments {
        let segment = muxer.segment(fragment).unwrap();
        for pes in ts_pes(&segment, &mut counters) {
            if pes.stream_id == 0xE0 { video.push(pes) } else { audio.push(pes) }
        }
        file.extend_from_slice(&segment);
    }
    let frames = frames_of(fragments, 1);
    assert_eq!(video.len(), frames.len());
    for (pes, frame) in video.iter().zip(&frames) {
        // A delimiter first (the frame's own if it has one), then parameter sets where put
        // in, then the frame's NAL units.
        let nals: Vec<Vec<u8>> = annexb_nals(&pes.data);
        let mut own = avcc_nals(&frame.payload);
        let kind = |n: &[u8]| if hevc { (n[0] >> 1) & 0x3F } else { n[0] & 0x1F };
        let (aud, parameter_sets) = if hevc { (35, &[32, 33, 34][..]) } else { (9, &[7, 8][..]) };
        assert_eq!(kind(&nals[0]), aud);
        if kind(&own[0]) == aud {
            assert_eq!(nals[0], own.remove(0));
        }
        let put_in = &nals[1..nals.len() - own.len()];
        assert!(put_in.iter().all(|n| parameter_sets.contains(&kind(n))), "{put_in:02x?}");
        assert_eq!(nals[nals.len() - own.len()..], own[..]);
    }
    if let Some(&(track, _)) = expected.get(1) {
        let frames = frames_of(fragments, track);
        assert_eq!(audio.len(), frames.len());
        for (pes, frame) in audio.iter().zip(&frames) {
            assert_eq!(pes.data[7..], frame.payload[..]);
        }
    }
    let path = dir.join("segments.ts");
    std::fs::write(&path, &file).unwrap();
    ffprobe_checks(&path, expected);
}

/// ffprobe counts the frames of each track; ffmpeg decodes the file without complaint.
fn ffprobe_checks(path: &Path, expected: &[(u64, usize)]) {
    for (kind, &(_, n)) in ["v", "a"].iter().zip(expected) {
        if let Some(count) = ffprobe_frames(path, kind) {
            assert_eq!(count, n as u64, "{} {kind}", path.display());
        }
    }
    if let Some(errors) = ffmpeg_decode_errors(path) {
        assert_eq!(errors, "", "{}", path.display());
    }
}

/// All three outputs of a capture, which holds `expected` frames per track.
fn check_capture(name: &str, expected: &[(u64, usize)]) {
    let Some(dir) = samples_dir() else { return };
    let fragments = fragments_of(&dir.join(name));
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    assert_eq!(counts(&fragments, &remuxer), expected);
    check_outputs(name.trim_end_matches(".mkv"), &fragments, false);
}

/// All three outputs of `fragments`, checked against their frames; `hevc` for H.265 video.
pub fn check_outputs(name: &str, fragments: &[Fragment], hevc: bool) {
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    let expected = counts(fragments, &remuxer);
    let out = tempfile::tempdir().unwrap();
    check_fmp4(fragments, &remuxer, out.path(), &expected);
    check_clip(fragments, &remuxer, out.path(), &expected);
    check_ts(fragments, &remuxer, out.path(), &expected, hevc);
    // To look at the outputs with other tools: KVS_MUX_KEEP=DIR keeps them there.
    if let Some(keep) = std::env::var_os("KVS_MUX_KEEP") {
        let keep = Path::new(&keep).join(name);
        std::fs::create_dir_all(&keep).unwrap();
        for file in ["fmp4.mp4", "clip.mp4", "segments.ts"] {
            std::fs::copy(out.path().join(file), keep.join(file)).unwrap();
        }
    }
}

#[test]
fn output_get_media_in_every_container() {
    check_capture("output_get_media.mkv", &[(1, 300)]);
}

#[test]
fn renderer_example_in_every_container() {
    check_capture("kinesis_video_renderer_example_output.mkv", &[(1, 444)]);
}

#[test]
fn vogels_video_and_aac_in_every_container() {
    check_capture("vogels_330.mkv", &[(1, 909), (2, 1425)]);
}

#[test]
fn a_capture_of_an_unsupported_codec_names_it() {
    let Some(dir) = samples_dir() else { return };
    let fragments = fragments_of(&dir.join("test_mixed_tags.mkv"));
    match Remuxer::for_fragment(&fragments[0]) {
        Err(Error::UnsupportedCodec { codec_id, .. }) => assert_eq!(codec_id, "V_MS/VFW/FOURCC"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn aws_limits_on_a_real_capture() {
    let Some(dir) = samples_dir() else { return };
    let fragments = fragments_of(&dir.join("output_get_media.mkv"));
    let remuxer = Remuxer::for_fragment(&fragments[0]).unwrap();
    // Each fragment holds about 500 kB of frames: 600 kB takes one fragment.
    let clip = remuxer.clip(&fragments, ClipLimits { max_bytes: 600_000, ..ClipLimits::AWS }).unwrap();
    assert_eq!((clip.fragments, clip.frames, clip.truncated), (1, 60, true));
    let clip = remuxer.clip(&fragments, ClipLimits::AWS).unwrap();
    assert_eq!((clip.fragments, clip.frames, clip.truncated), (5, 300, false));
}

#[test]
fn equal_timecodes_and_a_cut_fragment_in_every_container() {
    // Fragment 2 was cut inside its Cluster: its whole frames still go in.
    check_capture("output-get-media-equal-timecode.mkv", &[(1, 239)]);
}
