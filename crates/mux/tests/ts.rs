//! MPEG-TS of synthetic fragments, read back packet by packet and PES by PES.

use std::collections::HashMap;
use std::io::Cursor;

use kvs_mux::Remuxer;
use kvs_mux::testing::{self, PPS, SPS};

use crate::util::{annexb_nals, avcc_nals, frames_of, ts_pes};

/// 90 kHz ticks of `ns`, wrapped to 33 bits.
fn clock(ns: i64) -> u64 {
    ((ns as i128 * 90_000 + 500_000_000).div_euclid(1_000_000_000) as i64).rem_euclid(1 << 33) as u64
}

#[test]
fn pes_packets_are_the_frames_in_annex_b_and_adts() {
    let fragment = testing::fragment(0, 30, 47);
    let mut muxer = Remuxer::for_fragment(&fragment).unwrap().ts_muxer();
    assert_eq!(muxer.pids(), [0x100, 0x101]);
    let ts = muxer.segment(&fragment).unwrap();
    // PAT and PMT come first.
    let pids: Vec<u16> = ts.chunks(188).map(|p| u16::from_be_bytes([p[1] & 0x1F, p[2]])).collect();
    assert_eq!(pids[..2], [0, kvs_mux::PMT_PID]);
    let pes = ts_pes(&ts, &mut HashMap::new());
    let video: Vec<_> = pes.iter().filter(|p| p.stream_id == 0xE0).collect();
    let audio: Vec<_> = pes.iter().filter(|p| p.stream_id == 0xC0).collect();
    let frames = frames_of(std::slice::from_ref(&fragment), 1);
    assert_eq!(video.len(), frames.len());
    for (i, (p, f)) in video.iter().zip(&frames).enumerate() {
        let nals = annexb_nals(&p.data);
        // An access unit delimiter, the parameter sets before the keyframe, the frame's NALs.
        assert_eq!(nals[0], [0x09, 0xF0]);
        let frame_nals = avcc_nals(&f.payload);
        if i == 0 {
            assert_eq!(nals[1..3], [SPS.to_vec(), PPS.to_vec()]);
            assert_eq!(nals[3..], frame_nals[..]);
        } else {
            assert_eq!(nals[1..], frame_nals[..]);
        }
        assert_eq!((p.pts, p.dts), (clock(f.timestamp_ns), None));
    }
    let frames = frames_of(std::slice::from_ref(&fragment), 2);
    assert_eq!(audio.len(), frames.len());
    for (p, f) in audio.iter().zip(&frames) {
        assert_eq!(p.data[..2], [0xFF, 0xF1]);
        assert_eq!(
            usize::from(p.data[3] & 3) << 11 | usize::from(p.data[4]) << 3 | usize::from(p.data[5] >> 5),
            207
        );
        assert_eq!(p.data[7..], f.payload[..]);
        assert_eq!(p.pts, clock(f.timestamp_ns));
    }
}

#[test]
fn continuity_counters_run_across_segments_and_pcr_rides_on_video() {
    let fragments: Vec<_> = (0..3).map(|i| testing::fragment(i, 30, 47)).collect();
    let mut muxer = Remuxer::for_fragment(&fragments[0]).unwrap().ts_muxer();
    let mut counters = HashMap::new();
    let mut pcrs = 0;
    for fragment in &fragments {
        let ts = muxer.segment(fragment).unwrap();
        ts_pes(&ts, &mut counters);
        use mpeg2ts::ts::{ReadTsPacket, TsPacketReader};
        let mut reader = TsPacketReader::new(Cursor::new(&ts[..]));
        while let Some(packet) = reader.read_ts_packet().unwrap() {
            if let Some(pcr) = packet.adaptation_field.and_then(|a| a.pcr) {
                assert_eq!(packet.header.pid.as_u16(), 0x100);
                assert_eq!(pcr.as_u64() % 300, 0);
                pcrs += 1;
            }
        }
    }
    // One PCR per video frame.
    assert_eq!(pcrs, 90);
    // Each segment has a PAT and a PMT, and the counters went on: 3 of each.
    assert_eq!((counters[&0], counters[&kvs_mux::PMT_PID]), (3, 3));
}

#[test]
fn b_frames_carry_a_dts() {
    let fragment = testing::b_frame_fragment();
    let ts = Remuxer::for_fragment(&fragment).unwrap().ts_muxer().segment(&fragment).unwrap();
    let pes = ts_pes(&ts, &mut HashMap::new());
    let ms = |m: i64| clock((testing::BASE_MS as i64 + m) * 1_000_000);
    let got: Vec<(u64, Option<u64>)> = pes.iter().map(|p| (p.pts, p.dts)).collect();
    let expected =
        [(0, Some(-33)), (99, Some(0)), (33, None), (66, None), (198, Some(99)), (132, None), (165, None)]
            .map(|(p, d)| (ms(p), d.map(ms)));
    assert_eq!(got, expected);
}
