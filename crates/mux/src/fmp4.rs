//! Fragmented MP4 (ISO/IEC 14496-12 movie fragments, as HLS fMP4 and DASH serve them):
//! an init segment from the tracks, and one media segment (`moof` + `mdat`) per MKV
//! fragment.
//!
//! Every segment is a pure function of its fragment (and the next one's first frame
//! times), so a server can make segment N without having made segments 0..N.

use bytes::Bytes;
use kvs_mkv::Fragment;
use mp4_atom::{
    Encode, FourCC, Ftyp, Header, Mfhd, Moof, Moov, Mvex, Styp, Tfdt, Tfhd, Traf, Trex, Trun, TrunEntry,
};

use crate::moov::{empty_stbl, mvhd, trak};
use crate::timeline::{DecodeTimes, Sample};
use crate::{Error, Remuxer};

/// `sample_flags` of a sync sample: depends on no other (ISO/IEC 14496-12, 8.8.3.1).
pub(crate) const SYNC_FLAGS: u32 = 0x0200_0000;
/// `sample_flags` of any other sample: depends on others, not a sync sample.
pub(crate) const NON_SYNC_FLAGS: u32 = 0x0101_0000;

impl Remuxer {
    /// The init segment: `ftyp` and a `moov` with one `trak` per track and `mvex`, no
    /// samples. Players fetch it once (HLS `EXT-X-MAP`, DASH `Initialization`).
    pub fn init_segment(&self) -> Result<Bytes, Error> {
        let ftyp = Ftyp {
            major_brand: FourCC::new(b"iso6"),
            minor_version: 0,
            compatible_brands: [b"iso6", b"iso5", b"mp41", b"dash"].map(FourCC::new).to_vec(),
        };
        let moov = Moov {
            mvhd: mvhd(&self.tracks, 0),
            mvex: Some(Mvex {
                mehd: None,
                trex: self
                    .tracks
                    .iter()
                    .map(|t| Trex {
                        track_id: t.id,
                        default_sample_description_index: 1,
                        ..Default::default()
                    })
                    .collect(),
            }),
            trak: self.tracks.iter().map(|t| trak(t, empty_stbl(t), 0, 0, None)).collect(),
            meta: None,
            udta: None,
            ainf: None,
        };
        let mut out = Vec::with_capacity(1024);
        ftyp.encode(&mut out)?;
        moov.encode(&mut out)?;
        Ok(out.into())
    }

    /// One media segment holding every frame of `fragment`: optionally `styp`, then
    /// `moof` (sequence number `sequence_number`, one `traf` per track that has frames,
    /// decode times from the origin) and `mdat`.
    ///
    /// The last frame of each track lasts until `next`'s first frame of that track when
    /// `next` is given (the following fragment), else as long as the frame before it.
    pub fn media_segment(
        &self,
        sequence_number: u32,
        fragment: &Fragment,
        next: Option<&Fragment>,
    ) -> Result<Bytes, Error> {
        let samples = self.fragment_samples(fragment, next, DecodeTimes::Sorted)?;
        let mut moof = Moof { mfhd: Mfhd { sequence_number }, traf: Vec::new() };
        for (track, samples) in self.tracks.iter().zip(&samples) {
            let Some(first) = samples.first() else { continue };
            moof.traf.push(Traf {
                tfhd: Tfhd { track_id: track.id, default_base_is_moof: true, ..Default::default() },
                tfdt: Some(Tfdt { base_media_decode_time: first.dts.max(0) as u64 }),
                trun: vec![trun(samples)],
                ..Default::default()
            });
        }
        let data_len: usize = samples.iter().flatten().map(|s| s.data.len()).sum();
        let mdat = Header { kind: FourCC::new(b"mdat"), size: Some(data_len) };
        let mut head = Vec::with_capacity(64);
        mdat.encode(&mut head)?;
        // The moof's size does not depend on the offsets it holds: encode it once to
        // learn it, then again with each run's offset from the moof's first byte.
        let mut probe = Vec::new();
        moof.encode(&mut probe)?;
        let mut offset = probe.len() + head.len();
        for (traf, samples) in moof.traf.iter_mut().zip(samples.iter().filter(|s| !s.is_empty())) {
            traf.trun[0].data_offset = Some(
                i32::try_from(offset)
                    .map_err(|_| Error::Encode { format: "MP4", reason: "segment above 2 GiB".into() })?,
            );
            offset += samples.iter().map(|s| s.data.len()).sum::<usize>();
        }
        let mut out = Vec::with_capacity(offset + 64);
        if self.styp {
            Styp {
                major_brand: FourCC::new(b"msdh"),
                minor_version: 0,
                compatible_brands: [b"msdh", b"msix"].map(FourCC::new).to_vec(),
            }
            .encode(&mut out)?;
        }
        moof.encode(&mut out)?;
        out.extend_from_slice(&head);
        for sample in samples.iter().flatten() {
            out.extend_from_slice(&sample.data);
        }
        Ok(out.into())
    }
}

/// The `trun` of one track's samples, its data offset left for the caller.
fn trun(samples: &[Sample]) -> Trun {
    let any_cts = samples.iter().any(|s| s.cts != 0);
    let entries: Vec<TrunEntry> = samples
        .iter()
        .map(|s| TrunEntry {
            duration: Some(s.duration),
            size: Some(u32::try_from(s.data.len()).unwrap_or(u32::MAX)),
            flags: Some(if s.sync { SYNC_FLAGS } else { NON_SYNC_FLAGS }),
            cts: any_cts.then_some(i64::from(s.cts)),
        })
        .collect();
    Trun { data_offset: Some(0), samples: entries.into() }
}
