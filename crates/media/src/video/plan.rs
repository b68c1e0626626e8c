//! A fragment's frames of the decoded track, made ready before any is decoded: each one's
//! access unit (AVCC to Annex B, parameter sets put in front of each IDR picture), its
//! position in decode and presentation order, whether it is an IDR or a non-reference
//! picture, whether the selection wants it, and where decoding starts.

use kvs_mkv::Fragment;

use super::track::{Active, sps_profile};
use super::{FrameError, FrameInfo, Selection, Stats};
use crate::Error;
use crate::nal::{self, Codec, CodecConfig, Signalling};

/// One frame of the track, prepared for the codec.
pub(super) struct Prepared {
    /// Position among the track's frames in stored (decode) order.
    pub decode: usize,
    /// Position in presentation order.
    pub display: usize,
    keyframe: bool,
    pub timestamp_ns: i64,
    /// Access unit (Annex B for H.264/H.265, the payload otherwise), or why it is unusable.
    pub unit: Result<Vec<u8>, Error>,
    pub idr: bool,
    pub non_reference: bool,
    /// `profile_idc` of an SPS carried in the frame.
    sps_profile: Option<u8>,
}

/// The frames of one fragment's track, prepared, with what the selection wants.
pub(super) struct Plan<'f> {
    fragment: &'f Fragment,
    track: u64,
    /// In decode order.
    frames: Vec<Prepared>,
    /// By decode position.
    selected: Vec<bool>,
}

impl<'f> Plan<'f> {
    /// Prepares the frames of `active`'s track. A malformed block ends the fragment's
    /// frames; the error goes to `errors`.
    pub fn new(
        fragment: &'f Fragment,
        active: &mut Active,
        selection: &Selection,
        errors: &mut Vec<FrameError>,
    ) -> Self {
        let (all, mkv_error) = fragment.frames_lossy();
        if let Some(error) = mkv_error {
            tracing::warn!(%error, "fragment {} has a malformed block: frames after it are lost", fragment.index());
            errors.push(FrameError { index: None, timestamp_ns: None, error: error.into() });
        }
        let frames: Vec<_> = all.into_iter().filter(|f| f.track == active.track).collect();
        let mut order: Vec<usize> = (0..frames.len()).collect();
        order.sort_by_key(|&i| (frames[i].timestamp_ns, i));
        let mut display = vec![0; frames.len()];
        for (rank, &i) in order.iter().enumerate() {
            display[i] = rank;
        }
        let frames: Vec<Prepared> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                prepare(active.nal_codec, active.config.as_ref(), &mut active.signalling, i, display[i], f)
            })
            .collect();
        let mut plan = Self { fragment, track: active.track, frames, selected: Vec::new() };
        plan.selected = plan
            .frames
            .iter()
            .map(|p| match selection {
                Selection::All => true,
                Selection::EveryNth(n) => p.display % n.get() == 0,
                Selection::Keyframes => p.idr,
                Selection::Predicate(f) => f(&plan.info(p.decode)),
            })
            .collect();
        plan
    }

    /// Frames of the track in the fragment.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// The frames, in decode order.
    pub fn frames(&self) -> &[Prepared] {
        &self.frames
    }

    /// Whether the selection wants the frame at this decode position.
    pub fn selected(&self, decode: usize) -> bool {
        self.selected[decode]
    }

    /// The profile of the first in-band SPS, if any frame carries one.
    pub fn sps_profile(&self) -> Option<u8> {
        self.frames.iter().find_map(|p| p.sps_profile)
    }

    /// Metadata of the frame at this decode position.
    pub fn info(&self, decode: usize) -> FrameInfo {
        let p = &self.frames[decode];
        let kvs = self.fragment.kvs();
        FrameInfo {
            track: self.track,
            index: p.display,
            keyframe: p.keyframe,
            timestamp_ns: p.timestamp_ns,
            fragment_index: self.fragment.index(),
            fragment_number: kvs.fragment_number.clone(),
            producer_timestamp: kvs.producer_timestamp.clone(),
            server_timestamp: kvs.server_timestamp.clone(),
        }
    }

    /// Where decoding starts: the first frame when it is an IDR or when the decoder goes on
    /// from the previous fragment (`continuable`); else the first IDR, the frames before it
    /// skipped and counted.
    pub fn start(&self, continuable: bool, stats: &mut Stats) -> usize {
        let first_idr = self.frames.iter().position(|p| p.idr).unwrap_or(self.frames.len());
        if first_idr == 0 || continuable {
            return 0;
        }
        stats.fragments_without_leading_keyframe += 1;
        stats.skipped_before_keyframe += first_idr as u64;
        tracing::warn!(
            fragment = self.fragment.index(),
            skipped = first_idr,
            "fragment does not start at a keyframe: skipping to the first one"
        );
        first_idr
    }
}

/// Turns one frame into an access unit: AVCC to Annex B, parameter sets put in front of
/// each IDR picture, in-band SPS colour signalling noted.
fn prepare(
    codec: Option<Codec>,
    config: Option<&CodecConfig>,
    signalling: &mut Signalling,
    decode: usize,
    display: usize,
    frame: &kvs_mkv::Frame,
) -> Prepared {
    let mut p = Prepared {
        decode,
        display,
        keyframe: frame.keyframe,
        timestamp_ns: frame.timestamp_ns,
        unit: Ok(Vec::new()),
        idr: frame.keyframe,
        non_reference: false,
        sps_profile: None,
    };
    let Some(codec) = codec else {
        p.unit = Ok(frame.payload.to_vec());
        return p;
    };
    let length_size = config.map_or(4, |c| c.length_size);
    let nals = match nal::split_nals(&frame.payload, length_size) {
        Ok(nals) => nals,
        Err(e) => {
            p.unit = Err(e);
            p.idr = false;
            return p;
        }
    };
    p.idr = nals.iter().any(|n| nal::is_idr(codec, n));
    p.non_reference = nal::is_non_reference(codec, &nals);
    let mut unit = Vec::with_capacity(frame.payload.len() + 64);
    let has_parameter_sets = nals.iter().any(|n| match codec {
        Codec::H264 => nal::nal_type(codec, n) == 7,
        Codec::H265 => nal::nal_type(codec, n) == 33,
    });
    if codec == Codec::H264
        && let Some(sps) = nals.iter().find(|n| nal::nal_type(codec, n) == 7)
    {
        *signalling = nal::h264_sps_signalling(sps);
        p.sps_profile = sps_profile(sps);
    }
    if p.idr
        && !has_parameter_sets
        && let Some(config) = config
    {
        unit.extend_from_slice(&config.annex_b());
    }
    nal::append_annex_b(&mut unit, &nals);
    p.unit = Ok(unit);
    p
}
