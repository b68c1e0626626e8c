//! The one table of Matroska `CodecID` strings this workspace knows, and the codec each
//! names. Everything that branches on a track's codec (which decoder to open, which
//! audio tracks become WAV, what the command line suggests) asks [`Codec::from_codec_id`]
//! instead of comparing strings. What each codec's bytes look like is not here: that is
//! `nal` (H.264/H.265) and the backends.

/// A codec named by a Matroska track's `CodecID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// H.264 / AVC: decoded by openh264 in every build.
    H264,
    /// H.265 / HEVC (feature `ffmpeg`).
    H265,
    /// VP8 (feature `ffmpeg`).
    Vp8,
    /// VP9 (feature `ffmpeg`).
    Vp9,
    /// Motion JPEG (feature `ffmpeg`).
    Mjpeg,
    /// AAC, LC or with its profile in CodecPrivate (feature `ffmpeg`).
    Aac,
    /// Little-endian integer PCM.
    PcmIntLittle,
    /// Big-endian integer PCM.
    PcmIntBig,
    /// IEEE float PCM.
    PcmFloat,
}

/// Every `CodecID` known, with its codec; the first entry of a codec is its canonical id.
const CODEC_IDS: &[(&str, Codec)] = &[
    ("V_MPEG4/ISO/AVC", Codec::H264),
    ("V_MPEGH/ISO/HEVC", Codec::H265),
    ("V_VP8", Codec::Vp8),
    ("V_VP9", Codec::Vp9),
    ("V_MJPEG", Codec::Mjpeg),
    ("A_AAC", Codec::Aac),
    ("A_AAC/MPEG4/LC", Codec::Aac),
    ("A_AAC/MPEG2/LC", Codec::Aac),
    ("A_PCM/INT/LIT", Codec::PcmIntLittle),
    ("A_PCM/INT/BIG", Codec::PcmIntBig),
    ("A_PCM/FLOAT/IEEE", Codec::PcmFloat),
];

impl Codec {
    /// The codec a Matroska `CodecID` names, `None` for one not in the table.
    ///
    /// ```
    /// use kvs_media::Codec;
    /// assert_eq!(Codec::from_codec_id("V_MPEG4/ISO/AVC"), Some(Codec::H264));
    /// assert_eq!(Codec::from_codec_id("A_AAC/MPEG4/LC"), Some(Codec::Aac));
    /// assert_eq!(Codec::from_codec_id("V_MS/VFW/FOURCC"), None);
    /// ```
    pub fn from_codec_id(codec_id: &str) -> Option<Self> {
        CODEC_IDS.iter().find(|(id, _)| *id == codec_id).map(|&(_, codec)| codec)
    }

    /// The canonical `CodecID`, as a muxer writes it.
    pub fn codec_id(self) -> &'static str {
        CODEC_IDS.iter().find(|(_, c)| *c == self).map_or("", |(id, _)| id)
    }

    /// Whether this build can decode it: H.264 and PCM always, the others only with the
    /// `ffmpeg` feature (which decodes every codec of the table).
    pub fn decodable(self) -> bool {
        match self {
            Self::H264 | Self::PcmIntLittle | Self::PcmIntBig | Self::PcmFloat => true,
            Self::H265 | Self::Vp8 | Self::Vp9 | Self::Mjpeg | Self::Aac => cfg!(feature = "ffmpeg"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_has_one_canonical_id_that_maps_back_to_it() {
        for &(id, codec) in CODEC_IDS {
            assert_eq!(Codec::from_codec_id(id), Some(codec));
            assert_eq!(Codec::from_codec_id(codec.codec_id()), Some(codec));
        }
        assert_eq!(Codec::Aac.codec_id(), "A_AAC");
        assert_eq!(Codec::from_codec_id("v_mpeg4/iso/avc"), None, "CodecIDs are case-sensitive");
    }
}
