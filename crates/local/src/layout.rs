//! The bytes the server sends: a stored fragment in AWS's GetMedia and
//! GetMediaForFragmentList layouts, and the in-band error fragments of each, with the tag
//! names each API's reference gives. No I/O.
//!
//! GetMedia layout, as in the real captures: EBML header, unknown-size Segment, the
//! producer's header elements and tags, KVS Tags (FRAGMENT_NUMBER, SERVER_TIMESTAMP,
//! PRODUCER_TIMESTAMP), the Cluster, trailing KVS Tags (MILLIS_BEHIND_NOW,
//! CONTINUATION_TOKEN).

use bytes::Bytes;
use kvs_mkv::{EbmlWriter, FragmentNumber, Timestamp, ids, names};

use crate::api::errors::InBandErrorId;
use crate::store::StoredFragment;

/// The parts of a fragment as served by GetMedia, in order (the Cluster zero-copy; its
/// first part is empty unless the server rebuilt it).
pub(crate) fn get_media_parts(f: &StoredFragment, now_ms: i64) -> [Bytes; 5] {
    let number = f.number.as_str();
    let server = Timestamp::from_unix_millis(f.server_ms);
    let producer = Timestamp::from_unix_millis(f.producer_ms);
    let mut tags = EbmlWriter::new();
    tags.simple_tags(&[
        (names::FRAGMENT_NUMBER, number),
        (names::SERVER_TIMESTAMP, server.as_str()),
        (names::PRODUCER_TIMESTAMP, producer.as_str()),
    ]);
    let behind = now_ms.saturating_sub(f.server_ms).max(0).to_string();
    let mut trailing = EbmlWriter::new();
    trailing.simple_tags(&[(names::MILLIS_BEHIND_NOW, &behind), (names::CONTINUATION_TOKEN, number)]);
    [f.head.clone(), tags.into_bytes(), f.cluster_start.clone(), f.cluster.clone(), trailing.into_bytes()]
}

/// The parts of a fragment as served by GetMediaForFragmentList (archive tag spellings,
/// no trailing tags).
pub(crate) fn archived_parts(f: &StoredFragment) -> [Bytes; 4] {
    let server = Timestamp::from_unix_millis(f.server_ms);
    let producer = Timestamp::from_unix_millis(f.producer_ms);
    let mut tags = EbmlWriter::new();
    tags.simple_tags(&[
        (names::FRAGMENT_NUMBER, f.number.as_str()),
        (names::SERVER_SIDE_TIMESTAMP, server.as_str()),
        (names::PRODUCER_SIDE_TIMESTAMP, producer.as_str()),
    ]);
    [f.head.clone(), tags.into_bytes(), f.cluster_start.clone(), f.cluster.clone()]
}

/// A GetMedia in-band error: a fragment with no media whose tags carry the error
/// (`AWS_KINESISVIDEO_ERROR_CODE`, `AWS_KINESISVIDEO_ERROR_ID`), as AWS sends them with
/// HTTP 200.
pub(crate) fn get_media_error(code: &str, id: &str) -> Bytes {
    error_fragment(&[(names::ERROR_CODE, code), (names::ERROR_ID, id)])
}

/// A GetMediaForFragmentList in-band error: the number of the fragment that failed, the
/// integer code (`AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE`) and a message
/// (`AWS_KINESISVIDEO_EXCEPTION_MESSAGE`), as that API's reference names them.
pub(crate) fn archive_error(number: &FragmentNumber, code: InBandErrorId, message: &str) -> Bytes {
    let code = code.id().to_string();
    error_fragment(&[
        (names::FRAGMENT_NUMBER, number.as_str()),
        (names::EXCEPTION_ERROR_CODE, &code),
        (names::EXCEPTION_MESSAGE, message),
    ])
}

fn error_fragment(tags: &[(&str, &str)]) -> Bytes {
    let mut w = EbmlWriter::new();
    w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
    w.simple_tags(tags);
    w.into_bytes()
}
