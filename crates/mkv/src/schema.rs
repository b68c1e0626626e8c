//! The Matroska schema: one table from element id to name, value type and parent.
//!
//! The parent column decides where an unknown-size element ends: at the first element
//! that the schema does not place inside it.

/// How an element's data is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// Contains other elements.
    Master,
    /// Big-endian unsigned integer, 0-8 bytes.
    Uint,
    /// Big-endian two's complement integer, 0-8 bytes.
    Int,
    /// IEEE float, 0, 4 or 8 bytes.
    Float,
    /// ASCII string.
    String,
    /// UTF-8 string.
    Utf8,
    /// Nanoseconds since 2001-01-01T00:00:00 UTC, signed 8 bytes.
    Date,
    /// Opaque bytes.
    Binary,
}

/// Element ids this crate refers to by name.
#[allow(missing_docs)]
pub mod ids {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const VOID: u32 = 0xEC;
    pub const CRC32: u32 = 0xBF;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const INFO: u32 = 0x1549_A966;
    pub const SEGMENT_UID: u32 = 0x73A4;
    pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    pub const DURATION: u32 = 0x4489;
    pub const DATE_UTC: u32 = 0x4461;
    pub const TITLE: u32 = 0x7BA9;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_ENABLED: u32 = 0xB9;
    pub const FLAG_DEFAULT: u32 = 0x88;
    pub const FLAG_FORCED: u32 = 0x55AA;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const MIN_CACHE: u32 = 0x6DE7;
    pub const DEFAULT_DURATION: u32 = 0x23_E383;
    pub const MAX_BLOCK_ADDITION_ID: u32 = 0x55EE;
    pub const NAME: u32 = 0x536E;
    pub const LANGUAGE: u32 = 0x22_B59C;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const CODEC_NAME: u32 = 0x25_8688;
    pub const CODEC_DELAY: u32 = 0x56AA;
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    pub const VIDEO: u32 = 0xE0;
    pub const FLAG_INTERLACED: u32 = 0x9A;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const DISPLAY_WIDTH: u32 = 0x54B0;
    pub const DISPLAY_HEIGHT: u32 = 0x54BA;
    pub const DISPLAY_UNIT: u32 = 0x54B2;
    pub const COLOUR: u32 = 0x55B0;
    pub const MATRIX_COEFFICIENTS: u32 = 0x55B1;
    pub const BITS_PER_CHANNEL: u32 = 0x55B2;
    pub const RANGE: u32 = 0x55B9;
    pub const TRANSFER_CHARACTERISTICS: u32 = 0x55BA;
    pub const PRIMARIES: u32 = 0x55BB;
    pub const CHROMA_SITING_HORZ: u32 = 0x55B7;
    pub const CHROMA_SITING_VERT: u32 = 0x55B8;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const OUTPUT_SAMPLING_FREQUENCY: u32 = 0x78B5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMECODE: u32 = 0xE7;
    pub const POSITION: u32 = 0xA7;
    pub const PREV_SIZE: u32 = 0xAB;
    pub const SILENT_TRACKS: u32 = 0x5854;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const BLOCK_GROUP: u32 = 0xA0;
    pub const BLOCK: u32 = 0xA1;
    pub const BLOCK_DURATION: u32 = 0x9B;
    pub const REFERENCE_BLOCK: u32 = 0xFB;
    pub const BLOCK_ADDITIONS: u32 = 0x75A1;
    pub const DISCARD_PADDING: u32 = 0x75A2;
    pub const ENCRYPTED_BLOCK: u32 = 0xAF;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
    pub const CUE_RELATIVE_POSITION: u32 = 0xF0;
    pub const ATTACHMENTS: u32 = 0x1941_A469;
    pub const ATTACHED_FILE: u32 = 0x61A7;
    pub const FILE_DESCRIPTION: u32 = 0x467E;
    pub const FILE_NAME: u32 = 0x466E;
    pub const FILE_MIME_TYPE: u32 = 0x4660;
    pub const FILE_DATA: u32 = 0x465C;
    pub const FILE_UID: u32 = 0x46AE;
    pub const CHAPTERS: u32 = 0x1043_A770;
    pub const EDITION_ENTRY: u32 = 0x45B9;
    pub const CHAPTER_ATOM: u32 = 0xB6;
    pub const CHAPTER_UID: u32 = 0x73C4;
    pub const CHAPTER_TIME_START: u32 = 0x91;
    pub const CHAPTER_TIME_END: u32 = 0x92;
    pub const CHAPTER_DISPLAY: u32 = 0x80;
    pub const CHAP_STRING: u32 = 0x85;
    pub const TAGS: u32 = 0x1254_C367;
    pub const TAG: u32 = 0x7373;
    pub const TARGETS: u32 = 0x63C0;
    pub const TARGET_TYPE_VALUE: u32 = 0x68CA;
    pub const TARGET_TYPE: u32 = 0x63CA;
    pub const TAG_TRACK_UID: u32 = 0x63C5;
    pub const SIMPLE_TAG: u32 = 0x67C8;
    pub const TAG_NAME: u32 = 0x45A3;
    pub const TAG_LANGUAGE: u32 = 0x447A;
    pub const TAG_DEFAULT: u32 = 0x4484;
    pub const TAG_STRING: u32 = 0x4487;
    pub const TAG_BINARY: u32 = 0x4485;
}

/// One row of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementSpec {
    /// Element id, length marker included.
    pub id: u32,
    /// Matroska name, e.g. `"SimpleBlock"`.
    pub name: &'static str,
    /// How its data is read.
    pub kind: ElementType,
    /// Id of the element it lives in; `None` for top-level and global elements.
    pub parent: Option<u32>,
}

use ElementType::*;
use ids::*;

macro_rules! schema {
    ($( $id:ident $name:literal $kind:ident $parent:expr ;)*) => {
        /// Every element this crate knows, in no particular order.
        pub static SCHEMA: &[ElementSpec] = &[
            $( ElementSpec { id: $id, name: $name, kind: $kind, parent: $parent }, )*
        ];
    };
}

schema! {
    EBML "EBML" Master None;
    EBML_VERSION "EBMLVersion" Uint Some(EBML);
    EBML_READ_VERSION "EBMLReadVersion" Uint Some(EBML);
    EBML_MAX_ID_LENGTH "EBMLMaxIDLength" Uint Some(EBML);
    EBML_MAX_SIZE_LENGTH "EBMLMaxSizeLength" Uint Some(EBML);
    DOC_TYPE "DocType" String Some(EBML);
    DOC_TYPE_VERSION "DocTypeVersion" Uint Some(EBML);
    DOC_TYPE_READ_VERSION "DocTypeReadVersion" Uint Some(EBML);
    VOID "Void" Binary None;
    CRC32 "CRC-32" Binary None;
    SEGMENT "Segment" Master None;
    SEEK_HEAD "SeekHead" Master Some(SEGMENT);
    SEEK "Seek" Master Some(SEEK_HEAD);
    SEEK_ID "SeekID" Binary Some(SEEK);
    SEEK_POSITION "SeekPosition" Uint Some(SEEK);
    INFO "Info" Master Some(SEGMENT);
    SEGMENT_UID "SegmentUID" Binary Some(INFO);
    TIMECODE_SCALE "TimecodeScale" Uint Some(INFO);
    DURATION "Duration" Float Some(INFO);
    DATE_UTC "DateUTC" Date Some(INFO);
    TITLE "Title" Utf8 Some(INFO);
    MUXING_APP "MuxingApp" Utf8 Some(INFO);
    WRITING_APP "WritingApp" Utf8 Some(INFO);
    TRACKS "Tracks" Master Some(SEGMENT);
    TRACK_ENTRY "TrackEntry" Master Some(TRACKS);
    TRACK_NUMBER "TrackNumber" Uint Some(TRACK_ENTRY);
    TRACK_UID "TrackUID" Uint Some(TRACK_ENTRY);
    TRACK_TYPE "TrackType" Uint Some(TRACK_ENTRY);
    FLAG_ENABLED "FlagEnabled" Uint Some(TRACK_ENTRY);
    FLAG_DEFAULT "FlagDefault" Uint Some(TRACK_ENTRY);
    FLAG_FORCED "FlagForced" Uint Some(TRACK_ENTRY);
    FLAG_LACING "FlagLacing" Uint Some(TRACK_ENTRY);
    MIN_CACHE "MinCache" Uint Some(TRACK_ENTRY);
    DEFAULT_DURATION "DefaultDuration" Uint Some(TRACK_ENTRY);
    MAX_BLOCK_ADDITION_ID "MaxBlockAdditionID" Uint Some(TRACK_ENTRY);
    NAME "Name" Utf8 Some(TRACK_ENTRY);
    LANGUAGE "Language" String Some(TRACK_ENTRY);
    CODEC_ID "CodecID" String Some(TRACK_ENTRY);
    CODEC_PRIVATE "CodecPrivate" Binary Some(TRACK_ENTRY);
    CODEC_NAME "CodecName" Utf8 Some(TRACK_ENTRY);
    CODEC_DELAY "CodecDelay" Uint Some(TRACK_ENTRY);
    SEEK_PRE_ROLL "SeekPreRoll" Uint Some(TRACK_ENTRY);
    VIDEO "Video" Master Some(TRACK_ENTRY);
    FLAG_INTERLACED "FlagInterlaced" Uint Some(VIDEO);
    PIXEL_WIDTH "PixelWidth" Uint Some(VIDEO);
    PIXEL_HEIGHT "PixelHeight" Uint Some(VIDEO);
    DISPLAY_WIDTH "DisplayWidth" Uint Some(VIDEO);
    DISPLAY_HEIGHT "DisplayHeight" Uint Some(VIDEO);
    DISPLAY_UNIT "DisplayUnit" Uint Some(VIDEO);
    COLOUR "Colour" Master Some(VIDEO);
    MATRIX_COEFFICIENTS "MatrixCoefficients" Uint Some(COLOUR);
    BITS_PER_CHANNEL "BitsPerChannel" Uint Some(COLOUR);
    RANGE "Range" Uint Some(COLOUR);
    TRANSFER_CHARACTERISTICS "TransferCharacteristics" Uint Some(COLOUR);
    PRIMARIES "Primaries" Uint Some(COLOUR);
    CHROMA_SITING_HORZ "ChromaSitingHorz" Uint Some(COLOUR);
    CHROMA_SITING_VERT "ChromaSitingVert" Uint Some(COLOUR);
    AUDIO "Audio" Master Some(TRACK_ENTRY);
    SAMPLING_FREQUENCY "SamplingFrequency" Float Some(AUDIO);
    OUTPUT_SAMPLING_FREQUENCY "OutputSamplingFrequency" Float Some(AUDIO);
    CHANNELS "Channels" Uint Some(AUDIO);
    BIT_DEPTH "BitDepth" Uint Some(AUDIO);
    CLUSTER "Cluster" Master Some(SEGMENT);
    TIMECODE "Timecode" Uint Some(CLUSTER);
    POSITION "Position" Uint Some(CLUSTER);
    PREV_SIZE "PrevSize" Uint Some(CLUSTER);
    SILENT_TRACKS "SilentTracks" Master Some(CLUSTER);
    SIMPLE_BLOCK "SimpleBlock" Binary Some(CLUSTER);
    BLOCK_GROUP "BlockGroup" Master Some(CLUSTER);
    BLOCK "Block" Binary Some(BLOCK_GROUP);
    BLOCK_DURATION "BlockDuration" Uint Some(BLOCK_GROUP);
    REFERENCE_BLOCK "ReferenceBlock" Int Some(BLOCK_GROUP);
    BLOCK_ADDITIONS "BlockAdditions" Master Some(BLOCK_GROUP);
    DISCARD_PADDING "DiscardPadding" Int Some(BLOCK_GROUP);
    ENCRYPTED_BLOCK "EncryptedBlock" Binary Some(CLUSTER);
    CUES "Cues" Master Some(SEGMENT);
    CUE_POINT "CuePoint" Master Some(CUES);
    CUE_TIME "CueTime" Uint Some(CUE_POINT);
    CUE_TRACK_POSITIONS "CueTrackPositions" Master Some(CUE_POINT);
    CUE_TRACK "CueTrack" Uint Some(CUE_TRACK_POSITIONS);
    CUE_CLUSTER_POSITION "CueClusterPosition" Uint Some(CUE_TRACK_POSITIONS);
    CUE_RELATIVE_POSITION "CueRelativePosition" Uint Some(CUE_TRACK_POSITIONS);
    ATTACHMENTS "Attachments" Master Some(SEGMENT);
    ATTACHED_FILE "AttachedFile" Master Some(ATTACHMENTS);
    FILE_DESCRIPTION "FileDescription" Utf8 Some(ATTACHED_FILE);
    FILE_NAME "FileName" Utf8 Some(ATTACHED_FILE);
    FILE_MIME_TYPE "FileMimeType" String Some(ATTACHED_FILE);
    FILE_DATA "FileData" Binary Some(ATTACHED_FILE);
    FILE_UID "FileUID" Uint Some(ATTACHED_FILE);
    CHAPTERS "Chapters" Master Some(SEGMENT);
    EDITION_ENTRY "EditionEntry" Master Some(CHAPTERS);
    CHAPTER_ATOM "ChapterAtom" Master Some(EDITION_ENTRY);
    CHAPTER_UID "ChapterUID" Uint Some(CHAPTER_ATOM);
    CHAPTER_TIME_START "ChapterTimeStart" Uint Some(CHAPTER_ATOM);
    CHAPTER_TIME_END "ChapterTimeEnd" Uint Some(CHAPTER_ATOM);
    CHAPTER_DISPLAY "ChapterDisplay" Master Some(CHAPTER_ATOM);
    CHAP_STRING "ChapString" Utf8 Some(CHAPTER_DISPLAY);
    TAGS "Tags" Master Some(SEGMENT);
    TAG "Tag" Master Some(TAGS);
    TARGETS "Targets" Master Some(TAG);
    TARGET_TYPE_VALUE "TargetTypeValue" Uint Some(TARGETS);
    TARGET_TYPE "TargetType" String Some(TARGETS);
    TAG_TRACK_UID "TagTrackUID" Uint Some(TARGETS);
    SIMPLE_TAG "SimpleTag" Master Some(TAG);
    TAG_NAME "TagName" Utf8 Some(SIMPLE_TAG);
    TAG_LANGUAGE "TagLanguage" String Some(SIMPLE_TAG);
    TAG_DEFAULT "TagDefault" Uint Some(SIMPLE_TAG);
    TAG_STRING "TagString" Utf8 Some(SIMPLE_TAG);
    TAG_BINARY "TagBinary" Binary Some(SIMPLE_TAG);
}

/// Looks an element up by id.
pub fn spec(id: u32) -> Option<&'static ElementSpec> {
    SCHEMA.iter().find(|s| s.id == id)
}

/// Looks an element up by its Matroska name.
pub fn spec_by_name(name: &str) -> Option<&'static ElementSpec> {
    SCHEMA.iter().find(|s| s.name == name)
}

/// Whether an element with id `child` may appear inside an unknown-size `parent`.
///
/// Global elements (Void, CRC-32) and ids the schema does not know fit anywhere; a known
/// element fits when `parent` is among its ancestors. This is how an unknown-size Segment
/// or Cluster finds its end.
pub fn fits_inside(child: u32, parent: u32) -> bool {
    let Some(mut spec) = spec(child) else {
        return true;
    };
    if matches!(child, VOID | CRC32) {
        return true;
    }
    loop {
        match spec.parent {
            Some(p) if p == parent => return true,
            Some(p) => match self::spec(p) {
                Some(s) => spec = s,
                None => return false,
            },
            None => return false,
        }
    }
}

/// Value type of an element; unknown ids read as binary.
pub fn kind_of(id: u32) -> ElementType {
    spec(id).map_or(Binary, |s| s.kind)
}

/// Name of an element; unknown ids are `"Unknown"`.
pub fn name_of(id: u32) -> &'static str {
    spec(id).map_or("Unknown", |s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        for (i, a) in SCHEMA.iter().enumerate() {
            assert!(SCHEMA[i + 1..].iter().all(|b| b.id != a.id), "{}", a.name);
        }
    }

    #[test]
    fn unknown_size_ends_where_schema_says() {
        assert!(fits_inside(SIMPLE_BLOCK, CLUSTER));
        assert!(fits_inside(BLOCK, CLUSTER));
        assert!(fits_inside(VOID, CLUSTER));
        assert!(!fits_inside(TAGS, CLUSTER));
        assert!(!fits_inside(CLUSTER, CLUSTER));
        assert!(!fits_inside(EBML, SEGMENT));
        assert!(fits_inside(CLUSTER, SEGMENT));
        assert!(fits_inside(TAG_STRING, SEGMENT));
    }
}
