//! What the tests share: reading captures into fragments, and reading the outputs back
//! (MP4 through `kvs_mux::testing::read`, on `mp4-atom`'s decoder; MPEG-TS through
//! `mpeg2ts`'s readers) into plain per-track sample lists to compare with the MKV frames.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use bytes::Bytes;
use kvs_mkv::{Event, Fragment, FragmentSplitter, Frame};

pub use kvs_mux::testing::read::{OutSample, fmp4_samples, moov_of, mp4_samples, top_boxes};
pub use kvs_samples::samples_dir;

/// Every fragment of a file.
pub fn fragments_of(path: &Path) -> Vec<Fragment> {
    let mut splitter = FragmentSplitter::new();
    splitter.feed(Bytes::from(std::fs::read(path).unwrap()));
    splitter.finish();
    std::iter::from_fn(|| splitter.poll())
        .filter_map(|e| match e {
            Event::Fragment(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// The frames of `fragments` for track `track`, in stored order.
pub fn frames_of(fragments: &[Fragment], track: u64) -> Vec<Frame> {
    fragments.iter().flat_map(|f| f.frames().unwrap()).filter(|f| f.track == track).collect()
}

/// One PES packet read back from MPEG-TS.
#[derive(Debug)]
pub struct OutPes {
    /// Its stream ID (0xE0.. video, 0xC0.. audio).
    pub stream_id: u8,
    /// PTS (90 kHz).
    pub pts: u64,
    /// DTS, when given apart from the PTS.
    pub dts: Option<u64>,
    /// The elementary stream bytes.
    pub data: Vec<u8>,
}

/// Checks the packet layer of a TS segment (188-byte packets, sync bytes, continuity
/// counters that go up by one per PID from `first_cc`) and returns its PES packets.
pub fn ts_pes(ts: &[u8], first_cc: &mut std::collections::HashMap<u16, u8>) -> Vec<OutPes> {
    use mpeg2ts::pes::{PesPacketReader, ReadPesPacket};
    use mpeg2ts::ts::TsPacketReader;
    assert_eq!(ts.len() % 188, 0);
    for packet in ts.chunks(188) {
        assert_eq!(packet[0], 0x47);
        let pid = u16::from_be_bytes([packet[1] & 0x1F, packet[2]]);
        let cc = packet[3] & 0x0F;
        let expected = first_cc.entry(pid).or_insert(cc);
        assert_eq!(cc, *expected, "continuity counter of PID {pid:#x}");
        *expected = (cc + 1) & 0x0F;
    }
    let mut reader = PesPacketReader::new(TsPacketReader::new(Cursor::new(ts)));
    let mut out = Vec::new();
    while let Some(pes) = reader.read_pes_packet().unwrap() {
        out.push(OutPes {
            stream_id: pes.header.stream_id.as_u8(),
            pts: pes.header.pts.unwrap().as_u64(),
            dts: pes.header.dts.map(|d| d.as_u64()),
            data: pes.data,
        });
    }
    out
}

/// The NAL units of an Annex B access unit (4- or 3-byte start codes).
pub fn annexb_nals(au: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= au.len() {
        if au[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(au.len(), |&n| n - 3);
        // A 4-byte start code leaves a zero before the next 3-byte one.
        if k + 1 < starts.len() && end > s && au[end - 1] == 0 {
            end -= 1;
        }
        out.push(au[s..end].to_vec());
    }
    out
}

/// The NAL units of a length-prefixed (4-byte) MKV frame.
pub fn avcc_nals(frame: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = frame;
    while rest.len() >= 4 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(rest[4..4 + len].to_vec());
        rest = &rest[4 + len..];
    }
    out
}

/// `ffprobe -count_frames` of the first stream of `kind` ("v" or "a"), or `None` (with
/// a note) where ffprobe is not installed.
pub fn ffprobe_frames(path: &Path, kind: &str) -> Option<u64> {
    let out = match Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", &format!("{kind}:0")])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            eprintln!("skipping the ffprobe check: ffprobe is not on PATH");
            return None;
        }
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // A transport stream lists its streams twice (in the program and alone): take one.
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or_default();
    Some(first.trim().trim_end_matches(',').parse().unwrap_or_else(|_| panic!("ffprobe said {text:?}")))
}

/// `ffmpeg -v error -i path -f null -`: the decoder's complaints (empty when it decoded
/// cleanly), or `None` where ffmpeg is not installed.
pub fn ffmpeg_decode_errors(path: &Path) -> Option<String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .ok()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
}
