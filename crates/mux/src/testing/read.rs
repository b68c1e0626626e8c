//! Reading MP4 back for tests, with `mp4-atom`'s decoder only (none of this crate's
//! writing code): the top-level boxes, the `moov`, and the samples of a media segment
//! (from its `moof`) or of a progressive MP4 (from its sample tables), per track.
//!
//! Shared by the tests of this crate and of the server (`kvs-local`), which serves these
//! outputs. Not for the product: it panics on anything it cannot read, which is what a
//! test wants.

use mp4_atom::{Any, Buf, Decode, FourCC, Header, Moof, Moov};

/// One sample read back from an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutSample {
    /// Decode time in track ticks.
    pub dts: u64,
    /// Duration in track ticks.
    pub duration: u32,
    /// Composition offset.
    pub cts: i64,
    /// Marked as a sync sample.
    pub sync: bool,
    /// The bytes.
    pub data: Vec<u8>,
}

/// The boxes of a file, top level, as (kind, body).
pub fn top_boxes(bytes: &[u8]) -> Vec<(FourCC, Vec<u8>)> {
    let mut buf: &[u8] = bytes;
    let mut out = Vec::new();
    while buf.has_remaining() {
        let header = Header::decode(&mut buf).unwrap();
        let size = header.size.unwrap_or(buf.len());
        out.push((header.kind, buf[..size].to_vec()));
        buf.advance(size);
    }
    out
}

/// The `moov` of an init segment or progressive file.
pub fn moov_of(bytes: &[u8]) -> Moov {
    let mut buf: &[u8] = bytes;
    loop {
        match Any::decode(&mut buf).unwrap() {
            Any::Moov(moov) => return moov,
            Any::Mdat(_) => panic!("no moov before the mdat"),
            _ => {}
        }
    }
}

/// The samples of one media segment (`[styp] moof mdat`), by track ID, with the
/// segment's sequence number.
pub fn fmp4_samples(segment: &[u8]) -> (u32, Vec<(u32, Vec<OutSample>)>) {
    let boxes = top_boxes(segment);
    let kinds: Vec<String> = boxes.iter().map(|b| b.0.to_string()).collect();
    let moof_at = kinds.iter().position(|k| k == "moof").expect("a moof");
    assert_eq!(kinds[moof_at + 1..], ["mdat".to_owned()], "{kinds:?}");
    let moof_start = boxes[..moof_at].iter().map(|b| b.1.len() + 8).sum::<usize>();
    let moof = Moof::decode(&mut &segment[moof_start..]).unwrap();
    let mut out = Vec::new();
    for traf in &moof.traf {
        assert!(traf.tfhd.default_base_is_moof);
        let mut dts = traf.tfdt.as_ref().unwrap().base_media_decode_time;
        let mut samples = Vec::new();
        for trun in &traf.trun {
            let mut at = moof_start + trun.data_offset.unwrap() as usize;
            for e in trun.samples.iter() {
                let size = e.size.unwrap() as usize;
                let flags = e.flags.unwrap();
                samples.push(OutSample {
                    dts,
                    duration: e.duration.unwrap(),
                    cts: e.cts.unwrap_or(0),
                    sync: flags & 0x0001_0000 == 0,
                    data: segment[at..at + size].to_vec(),
                });
                dts += u64::from(e.duration.unwrap());
                at += size;
            }
        }
        out.push((traf.tfhd.track_id, samples));
    }
    (moof.mfhd.sequence_number, out)
}

/// The samples of a progressive MP4, by track ID, from its sample tables.
pub fn mp4_samples(file: &[u8]) -> Vec<(u32, Vec<OutSample>)> {
    let moov = moov_of(file);
    let mut out = Vec::new();
    for trak in &moov.trak {
        let stbl = &trak.mdia.minf.stbl;
        let sizes = match &stbl.stsz.samples {
            mp4_atom::StszSamples::Different { sizes } => sizes.clone(),
            mp4_atom::StszSamples::Identical { count, size } => vec![*size; *count as usize],
        };
        let offsets: Vec<u64> = match (&stbl.stco, &stbl.co64) {
            (Some(stco), None) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
            (None, Some(co64)) => co64.entries.clone(),
            other => panic!("chunk offsets {other:?}"),
        };
        let durations: Vec<u32> = stbl
            .stts
            .entries
            .iter()
            .flat_map(|e| std::iter::repeat_n(e.sample_delta, e.sample_count as usize))
            .collect();
        let cts: Vec<i64> = match &stbl.ctts {
            Some(ctts) => ctts
                .entries
                .iter()
                .flat_map(|e| std::iter::repeat_n(e.sample_offset, e.sample_count as usize))
                .collect(),
            None => vec![0; sizes.len()],
        };
        let sync = |i: usize| stbl.stss.as_ref().is_none_or(|s| s.entries.contains(&(i as u32 + 1)));
        assert_eq!((durations.len(), cts.len()), (sizes.len(), sizes.len()));
        let mut samples = Vec::new();
        let mut dts = 0u64;
        for (chunk, &offset) in offsets.iter().enumerate() {
            let per_chunk = stbl
                .stsc
                .entries
                .iter()
                .rev()
                .find(|e| e.first_chunk as usize <= chunk + 1)
                .unwrap()
                .samples_per_chunk;
            let mut at = offset as usize;
            for _ in 0..per_chunk {
                let i = samples.len();
                let size = sizes[i] as usize;
                samples.push(OutSample {
                    dts,
                    duration: durations[i],
                    cts: cts[i],
                    sync: sync(i),
                    data: file[at..at + size].to_vec(),
                });
                dts += u64::from(durations[i]);
                at += size;
            }
        }
        assert_eq!(samples.len(), sizes.len());
        out.push((trak.tkhd.track_id, samples));
    }
    out
}
