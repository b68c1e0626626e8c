//! MPEG-TS (ISO/IEC 13818-1) for HLS `getTSFragment.ts`: one program, one PID per track,
//! H.264/H.265 in Annex B with access unit delimiters and parameter sets at every
//! keyframe, AAC in ADTS, PCR on the video PID.
//!
//! The `mpeg2ts` crate writes the packets (headers, adaptation fields, PAT/PMT sections
//! with their CRC, PES headers with PTS/DTS); this module decides what goes in them:
//! cutting each PES into 188-byte packets, the continuity counters and the PCR. No
//! maintained crate does that part for a stream of already-encoded frames.

use bytes::Bytes;
use kvs_mkv::Fragment;
use mpeg2ts::es::{StreamId, StreamType};
use mpeg2ts::pes::PesHeader;
use mpeg2ts::time::{ClockReference, Timestamp};
use mpeg2ts::ts::payload::{self, Pat, Pmt};
use mpeg2ts::ts::{
    AdaptationField, ContinuityCounter, EsInfo, Pid, ProgramAssociation, TransportScramblingControl,
    TsHeader, TsPacket, TsPacketWriter, TsPayload, VersionNumber, WriteTsPacket,
};

use crate::codec::{Codec, TrackConfig};
use crate::timeline::{DecodeTimes, ticks};
use crate::{Error, Remuxer, adts, annexb};

/// PID of the program map table.
pub const PMT_PID: u16 = 0x1000;
/// PID of the first track; the others follow (0x101, 0x102, ...).
pub const FIRST_ES_PID: u16 = 0x100;
/// The one program's number.
const PROGRAM: u16 = 1;
/// The PCR runs this far (in 90 kHz ticks: 100 ms) behind the decode times, so that a
/// frame has arrived in the decoder's buffer before it is due.
const PCR_LEAD: i64 = 9000;
/// PTS, DTS and PCR bases are 33-bit and wrap.
const WRAP: i64 = 1 << 33;
/// Tracks one segment can carry: the 16 video stream IDs (0xE0-0xEF) bound it, and it
/// keeps the PIDs far below the PMT's.
const MAX_TRACKS: usize = 16;
/// Bytes of a TS packet after its 4-byte header.
const PAYLOAD: usize = TsPacket::SIZE - 4;

/// Writes MPEG-TS segments of one stream, one per fragment, keeping the continuity
/// counters running from one segment to the next.
///
/// Every segment starts with a PAT and a PMT, so it plays on its own (an HLS segment);
/// concatenated, the segments are one valid transport stream.
///
/// ```
/// use kvs_mux::Remuxer;
///
/// let fragment = kvs_mux::testing::fragment(0, 10, 20);
/// let mut ts = Remuxer::for_fragment(&fragment)?.ts_muxer();
/// let segment = ts.segment(&fragment)?;
/// assert_eq!(segment.len() % 188, 0);
/// assert!(segment.chunks(188).all(|p| p[0] == 0x47));
/// # Ok::<(), kvs_mux::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TsMuxer {
    remuxer: Remuxer,
    /// Next continuity counter of the PAT, the PMT, then each track.
    counters: Vec<u8>,
}

impl Remuxer {
    /// A muxer of MPEG-TS segments for these tracks, times from the same origin as the
    /// fragmented MP4 (modulo the 33-bit wrap of MPEG-TS clocks).
    pub fn ts_muxer(&self) -> TsMuxer {
        TsMuxer { remuxer: self.clone(), counters: vec![0; self.tracks.len() + 2] }
    }
}

impl TsMuxer {
    /// The PID of each track, in the remuxer's track order.
    pub fn pids(&self) -> Vec<u16> {
        (0..self.remuxer.tracks.len()).map(|i| FIRST_ES_PID + i as u16).collect()
    }

    /// One segment: PAT, PMT, then one PES packet per frame of `fragment`, in decode
    /// order across tracks.
    pub fn segment(&mut self, fragment: &Fragment) -> Result<Bytes, Error> {
        let tracks = &self.remuxer.tracks;
        if tracks.len() > MAX_TRACKS {
            return Err(Error::Encode {
                format: "MPEG-TS",
                reason: format!("{} tracks, at most {MAX_TRACKS}", tracks.len()),
            });
        }
        let counters = &mut self.counters;
        let samples = self.remuxer.fragment_samples(fragment, None, DecodeTimes::Shifted)?;
        let mut order: Vec<(i64, usize, usize)> = samples
            .iter()
            .enumerate()
            .flat_map(|(t, s)| s.iter().enumerate().map(move |(i, s)| (s.dts_ns, t, i)))
            .collect();
        order.sort_by_key(|&(dts, t, i)| (dts, t, i));
        let pcr_track = tracks.iter().position(|t| t.is_video()).unwrap_or(0);
        let mut w = TsPacketWriter::new(Vec::with_capacity(fragment.bytes().len() * 11 / 10 + 1024));
        tables(counters, &mut w, tracks, pcr_track)?;
        let origin = self.remuxer.origin_ns;
        let clock = |ns: i64| ticks(ns.saturating_sub(origin), 90_000).rem_euclid(WRAP) as u64;
        let mut es = Vec::new();
        let stream_ids = stream_ids(tracks);
        for (_, t, i) in order {
            let track = &tracks[t];
            let sample = &samples[t][i];
            let bad = |reason| Error::BadFrame { track: track.number, timestamp_ns: sample.pts_ns, reason };
            es.clear();
            match &track.codec {
                Codec::Aac(aac) => {
                    es.extend_from_slice(&adts::header(aac, sample.data.len()).map_err(bad)?);
                    es.extend_from_slice(&sample.data);
                }
                _ => annexb::access_unit(track, &sample.data, &mut es).map_err(bad)?,
            }
            let (pts, dts) = (clock(sample.pts_ns), clock(sample.dts_ns));
            let header = PesHeader {
                stream_id: StreamId::new(stream_ids[t]),
                priority: false,
                data_alignment_indicator: true,
                copyright: false,
                original_or_copy: false,
                pts: Some(Timestamp::new(pts)?),
                dts: (dts != pts).then(|| Timestamp::new(dts)).transpose()?,
                escr: None,
            };
            let header_len = 6 + 3 + if dts != pts { 10 } else { 5 };
            let pes_len = match u16::try_from(es.len() + header_len - 6) {
                Ok(len) => len,
                Err(_) if track.is_video() => 0,
                Err(_) => return Err(bad("audio frame too large for one PES packet")),
            };
            let pcr = (t == pcr_track)
                .then(|| ClockReference::new((dts as i64 - PCR_LEAD).rem_euclid(WRAP) as u64 * 300))
                .transpose()?;
            let adaptation = (pcr.is_some() || (sample.sync && track.is_video())).then(|| AdaptationField {
                discontinuity_indicator: false,
                random_access_indicator: sample.sync,
                es_priority_indicator: false,
                pcr,
                opcr: None,
                splice_countdown: None,
                transport_private_data: Vec::new(),
                extension: None,
            });
            let room = PAYLOAD
                - header_len
                - adaptation.as_ref().map_or(0, |a| 2 + if a.pcr.is_some() { 6 } else { 0 });
            let (first, mut rest) = es.split_at(room.min(es.len()));
            let pid = FIRST_ES_PID + t as u16;
            let start = TsPayload::PesStart(payload::Pes {
                header,
                pes_packet_len: pes_len,
                data: payload::Bytes::new(first)?,
            });
            packet(counters, &mut w, t + 2, pid, adaptation, start)?;
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(PAYLOAD.min(rest.len()));
                packet(counters, &mut w, t + 2, pid, None, TsPayload::Raw(payload::Bytes::new(chunk)?))?;
                rest = tail;
            }
        }
        Ok(w.into_stream().into())
    }
}

/// PES stream IDs: video tracks from 0xE0, audio tracks from 0xC0, in track order.
fn stream_ids(tracks: &[TrackConfig]) -> Vec<u8> {
    let (mut video, mut audio) = (StreamId::VIDEO_MIN, StreamId::AUDIO_MIN);
    tracks
        .iter()
        .map(|t| {
            let next = if t.is_video() { &mut video } else { &mut audio };
            let id = *next;
            *next += 1;
            id
        })
        .collect()
}

/// Writes the PAT and the PMT.
fn tables(
    counters: &mut [u8],
    w: &mut TsPacketWriter<Vec<u8>>,
    tracks: &[TrackConfig],
    pcr_track: usize,
) -> Result<(), Error> {
    let pat = Pat {
        transport_stream_id: 1,
        version_number: VersionNumber::new(),
        table: vec![ProgramAssociation { program_num: PROGRAM, program_map_pid: Pid::new(PMT_PID)? }],
    };
    packet(counters, w, 0, Pid::PAT, None, TsPayload::Pat(pat))?;
    let es_info = tracks
        .iter()
        .enumerate()
        .map(|(t, track)| {
            Ok(EsInfo {
                stream_type: match track.codec {
                    Codec::H264(_) => StreamType::H264,
                    Codec::H265(_) => StreamType::H265,
                    Codec::Aac(_) => StreamType::AdtsAac,
                },
                elementary_pid: Pid::new(FIRST_ES_PID + t as u16)?,
                descriptors: Vec::new(),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let pmt = Pmt {
        program_num: PROGRAM,
        pcr_pid: Some(Pid::new(FIRST_ES_PID + pcr_track as u16)?),
        version_number: VersionNumber::new(),
        program_info: Vec::new(),
        es_info,
    };
    packet(counters, w, 1, PMT_PID, None, TsPayload::Pmt(pmt))
}

/// Writes one packet on `pid`, counting it on `counters[counter]`.
fn packet(
    counters: &mut [u8],
    w: &mut TsPacketWriter<Vec<u8>>,
    counter: usize,
    pid: u16,
    adaptation_field: Option<AdaptationField>,
    payload: TsPayload,
) -> Result<(), Error> {
    let cc = counters[counter];
    counters[counter] = (cc + 1) & 0x0F;
    let packet = TsPacket {
        header: TsHeader {
            transport_error_indicator: false,
            transport_priority: false,
            pid: Pid::new(pid)?,
            transport_scrambling_control: TransportScramblingControl::NotScrambled,
            continuity_counter: ContinuityCounter::from_u8(cc)?,
        },
        adaptation_field,
        payload: Some(payload),
    };
    Ok(w.write_ts_packet(&packet)?)
}
