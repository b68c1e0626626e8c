//! Audio tracks to WAV: a synthetic Amazon Connect call (two PCM tracks) gives two WAVs
//! with exactly the samples sent, per fragment and over the whole call.

use kvs_media::{Error, PcmFormat, WavWriter, audio_tracks};
use kvs_mkv::{EbmlWriter, Fragment, ids};

const TRACKS: [&str; 2] = ["AUDIO_FROM_CUSTOMER", "AUDIO_TO_CUSTOMER"];

/// Sample `n` of track `t`: distinct per track and position, negative values included.
fn sample(t: usize, n: usize) -> i16 {
    ((n as i32 * 37 + t as i32 * 11_111) % 65_536 - 32_768) as i16
}

/// A Connect-style fragment: two mono 8 kHz 16-bit PCM tracks, `frames` frames of 160
/// samples (20 ms) each, starting at sample `first`.
fn connect_fragment(first: usize, frames: usize, bit_depth: u64) -> Fragment {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska");
    w.unknown_size_master(ids::SEGMENT);
    w.master(ids::TRACKS, |t| {
        for (i, name) in TRACKS.iter().enumerate() {
            t.master(ids::TRACK_ENTRY, |e| {
                e.uint(ids::TRACK_NUMBER, i as u64 + 1);
                e.uint(ids::TRACK_TYPE, 2);
                e.string(ids::NAME, name);
                e.string(ids::CODEC_ID, "A_PCM/INT/LIT");
                e.master(ids::AUDIO, |a| {
                    a.float(ids::SAMPLING_FREQUENCY, 8000.0)
                        .uint(ids::CHANNELS, 1)
                        .uint(ids::BIT_DEPTH, bit_depth);
                });
            });
        }
    });
    w.simple_tags(&[("AWS_KINESISVIDEO_FRAGMENT_NUMBER", &format!("{}", 1000 + first))]);
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, (first / 8) as u64);
        for f in 0..frames {
            for t in 0..2 {
                let payload: Vec<u8> =
                    (0..160).flat_map(|k| sample(t, first + f * 160 + k).to_le_bytes()).collect();
                c.simple_block(t as u64 + 1, (f * 20) as i16, true, &payload);
            }
        }
    });
    Fragment::from_bytes(w.into_bytes()).unwrap()
}

fn read_wav(path: &std::path::Path) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    (spec, reader.samples::<i16>().map(Result::unwrap).collect())
}

#[test]
fn a_connect_call_becomes_two_wavs_with_the_exact_samples() {
    let fragments: Vec<Fragment> = (0..3).map(|i| connect_fragment(i * 50 * 160, 50, 16)).collect();
    let dir = tempfile::tempdir().unwrap();
    let mut writers: Vec<Option<WavWriter>> = vec![None, None];
    for fragment in &fragments {
        let tracks = audio_tracks(fragment).unwrap();
        assert_eq!(tracks.len(), 2);
        for (t, track) in tracks.iter().enumerate() {
            assert_eq!(track.track.name.as_deref(), Some(TRACKS[t]));
            assert_eq!(track.frames.len(), 50);
            // One WAV per fragment...
            let per_fragment = dir.path().join(format!("{}-track{}.wav", fragment.index(), t + 1));
            let mut w = WavWriter::create(&per_fragment, &track.track).unwrap();
            // ...and one over the call.
            let whole = match writers[t].as_mut() {
                Some(w) => w,
                None => writers[t].insert(
                    WavWriter::create(&dir.path().join(format!("track{}.wav", t + 1)), &track.track).unwrap(),
                ),
            };
            for frame in &track.frames {
                w.write_frame(&frame.payload).unwrap();
                whole.write_frame(&frame.payload).unwrap();
            }
            assert_eq!(w.samples(), 50 * 160);
            let path = w.finish().unwrap();
            let (spec, samples) = read_wav(&path);
            assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (8000, 1, 16));
            assert_eq!(samples.len(), 8000);
        }
    }
    for (t, w) in writers.into_iter().enumerate() {
        let path = w.unwrap().finish().unwrap();
        let (spec, samples) = read_wav(&path);
        assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (8000, 1, 16));
        let expected: Vec<i16> = (0..3 * 50 * 160).map(|n| sample(t, n)).collect();
        assert_eq!(samples, expected, "track {t}");
    }
}

#[test]
fn the_format_comes_from_the_track_and_bad_ones_are_refused() {
    let fragment = connect_fragment(0, 1, 24);
    let track = &audio_tracks(&fragment).unwrap()[0].track;
    let format = PcmFormat::from_track(track).unwrap();
    assert_eq!((format.sample_rate, format.channels, format.bits), (8000, 1, 24));
    // 160 16-bit samples are 320 bytes: not whole 24-bit samples.
    let dir = tempfile::tempdir().unwrap();
    let mut w = WavWriter::create(&dir.path().join("x.wav"), track).unwrap();
    let frame = &audio_tracks(&fragment).unwrap()[0].frames[0];
    assert!(matches!(
        w.write_frame(&frame.payload[..319]),
        Err(Error::PartialSamples { bytes: 319, block_align: 3 })
    ));

    let odd = connect_fragment(0, 1, 12);
    let error = PcmFormat::from_track(&audio_tracks(&odd).unwrap()[0].track).unwrap_err();
    assert!(matches!(error, Error::AudioFormat { track: 1, .. }), "{error}");
}
