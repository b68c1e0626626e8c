//! The boxes that describe a track (`trak` and what it holds) and the movie (`mvhd`),
//! shared by the fragmented init segment and the progressive file.
//!
//! Owns the constant choices (handlers, time scale of the movie, brands); the sample
//! tables themselves are filled by the callers.

use mp4_atom::{
    Dinf, Dref, DrefEntry, Edts, FixedPoint, FourCC, Hdlr, Mdhd, Mdia, Minf, Mvhd, Smhd, Stbl, Stsd, Tkhd,
    Trak, Url, Vmhd,
};

use crate::codec::TrackConfig;

/// Ticks per second of movie-level durations (`mvhd`, `tkhd`, `elst`).
pub(crate) const MOVIE_TIMESCALE: u32 = 1000;

/// The movie header for these tracks, lasting `duration` movie ticks.
pub(crate) fn mvhd(tracks: &[TrackConfig], duration: u64) -> Mvhd {
    Mvhd {
        timescale: MOVIE_TIMESCALE,
        duration,
        rate: 1.into(),
        volume: 1.into(),
        next_track_id: tracks.iter().map(|t| t.id).max().unwrap_or(0).saturating_add(1),
        ..Default::default()
    }
}

/// An empty sample table around the track's sample entry.
pub(crate) fn empty_stbl(track: &TrackConfig) -> Stbl {
    Stbl { stsd: Stsd { codecs: vec![track.sample_entry()] }, ..Default::default() }
}

/// A whole `trak`: `duration` in movie ticks for `tkhd`, `media_duration` in track ticks.
pub(crate) fn trak(
    track: &TrackConfig,
    stbl: Stbl,
    duration: u64,
    media_duration: u64,
    edts: Option<Edts>,
) -> Trak {
    let video = track.is_video();
    Trak {
        tkhd: Tkhd {
            track_id: track.id,
            duration,
            enabled: true,
            in_movie: true,
            alternate_group: if video { 0 } else { 1 },
            volume: if video { 0.into() } else { 1.into() },
            width: FixedPoint::new(track.width, 0),
            height: FixedPoint::new(track.height, 0),
            ..Default::default()
        },
        edts,
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: track.timescale,
                duration: media_duration,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: FourCC::new(if video { b"vide" } else { b"soun" }),
                name: if video { "VideoHandler" } else { "SoundHandler" }.into(),
            },
            minf: Minf {
                vmhd: video.then(Vmhd::default),
                smhd: (!video).then(Smhd::default),
                dinf: Dinf { dref: Dref { entries: vec![DrefEntry::Url(Url::default())] } },
                stbl,
                ..Default::default()
            },
        },
        ..Default::default()
    }
}
