//! Frames: the payloads of SimpleBlocks and Blocks, with lacing undone and timestamps made
//! absolute.

use bytes::Bytes;

use crate::element::{Children, read_uint};
use crate::vint::{self, Vint};
use crate::{Error, ids};

/// One coded frame of one track.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame {
    /// Track number (matches [`Track::number`](crate::Track)).
    pub track: u64,
    /// Keyframe: the SimpleBlock flag, or a Block without ReferenceBlock.
    pub keyframe: bool,
    /// Presentation time in nanoseconds: (Cluster Timecode + block offset) x TimecodeScale.
    /// Laced frames share their block's time.
    pub timestamp_ns: i64,
    /// `BlockDuration` scaled to nanoseconds, for Blocks that give one.
    pub duration_ns: Option<u64>,
    /// The coded frame, a slice of the fragment's bytes.
    pub payload: Bytes,
}

/// Walks the Clusters in `buf[data]` (a Segment's body) and appends their frames.
///
/// Stops at the first malformed or truncated block: frames before it are kept, and the
/// error is returned beside them.
pub(crate) fn collect_frames(
    buf: &Bytes,
    segment_children: Vec<crate::element::Child>,
    scale: u64,
    out: &mut Vec<Frame>,
) -> Result<(), Error> {
    for cluster in segment_children {
        if cluster.header.id != ids::CLUSTER {
            continue;
        }
        let mut cluster_tc: i64 = 0;
        for child in Children::new(buf, cluster.data.clone(), 0) {
            let child = child?;
            if child.truncated && child.header.id != ids::BLOCK_GROUP {
                return Err(Error::Truncated { id: child.header.id, offset: child.start as u64 });
            }
            match child.header.id {
                ids::TIMECODE => {
                    // An untrusted u64: times past i64 saturate instead of wrapping negative.
                    let tc = read_uint(&buf[child.data]).unwrap_or(0);
                    cluster_tc = i64::try_from(tc).unwrap_or(i64::MAX);
                }
                ids::SIMPLE_BLOCK => {
                    let offset = child.start as u64;
                    read_block(buf, child.data, offset, cluster_tc, scale, None, None, out)?;
                }
                ids::BLOCK_GROUP => {
                    let mut block = None;
                    let mut referenced = false;
                    let mut duration = None;
                    for g in Children::new(buf, child.data.clone(), 0) {
                        let g = g?;
                        match g.header.id {
                            ids::BLOCK if !g.truncated => block = Some((g.start, g.data)),
                            ids::REFERENCE_BLOCK => referenced = true,
                            ids::BLOCK_DURATION => duration = read_uint(&buf[g.data]),
                            _ => {}
                        }
                    }
                    let Some((start, data)) = block else {
                        return Err(Error::BadBlock {
                            offset: child.start as u64,
                            reason: "BlockGroup without a whole Block",
                        });
                    };
                    let duration_ns = duration.map(|d| d.saturating_mul(scale));
                    read_block(
                        buf,
                        data,
                        start as u64,
                        cluster_tc,
                        scale,
                        Some(!referenced),
                        duration_ns,
                        out,
                    )?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Decodes one block's header and lacing. `keyframe` is `Some` for a Block (decided by its
/// group) and `None` for a SimpleBlock (read from its flags).
#[allow(clippy::too_many_arguments)]
fn read_block(
    buf: &Bytes,
    data: std::ops::Range<usize>,
    offset: u64,
    cluster_tc: i64,
    scale: u64,
    keyframe: Option<bool>,
    duration_ns: Option<u64>,
    out: &mut Vec<Frame>,
) -> Result<(), Error> {
    let bad = |reason| Error::BadBlock { offset, reason };
    let body = &buf[data.clone()];
    let (track, n) = match vint::read_size(body) {
        Vint::Done(Some(t), n) => (t, n),
        _ => return Err(bad("bad track number")),
    };
    if body.len() < n + 3 {
        return Err(bad("block header cut short"));
    }
    let relative = i64::from(i16::from_be_bytes([body[n], body[n + 1]]));
    let flags = body[n + 2];
    let keyframe = keyframe.unwrap_or(flags & 0x80 != 0);
    let timestamp_ns = cluster_tc.saturating_add(relative).saturating_mul(scale as i64);
    let mut pos = data.start + n + 3;
    let end = data.end;
    let frame = |payload: Bytes| Frame { track, keyframe, timestamp_ns, duration_ns, payload };
    let lacing = (flags >> 1) & 0x03;
    if lacing == 0 {
        out.push(frame(buf.slice(pos..end)));
        return Ok(());
    }
    let count = *buf.get(pos).ok_or(bad("lace count missing"))? as usize + 1;
    pos += 1;
    let mut sizes = Vec::with_capacity(count);
    match lacing {
        // Xiph: each size is a run of 255s ended by a smaller byte.
        1 => {
            for _ in 0..count - 1 {
                let mut size = 0usize;
                loop {
                    let b = *buf.get(pos).filter(|_| pos < end).ok_or(bad("Xiph lace sizes cut short"))?;
                    pos += 1;
                    size += usize::from(b);
                    if b != 255 {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
        // Fixed: all frames the same size.
        2 => {
            let total = end - pos;
            if !total.is_multiple_of(count) {
                return Err(bad("fixed lacing does not divide the payload"));
            }
            sizes.extend(std::iter::repeat_n(total / count, count - 1));
        }
        // EBML: first size as a vint, then signed differences.
        _ => {
            let mut previous: i64 = 0;
            for i in 0..count - 1 {
                let (value, n) = match vint::read_size(&buf[pos..end]) {
                    Vint::Done(Some(v), n) => (v as i64, n),
                    _ => return Err(bad("EBML lace size unreadable")),
                };
                pos += n;
                let size = if i == 0 { value } else { previous + value - ((1i64 << (7 * n - 1)) - 1) };
                if size < 0 {
                    return Err(bad("negative EBML lace size"));
                }
                sizes.push(size as usize);
                previous = size;
            }
        }
    }
    let listed: usize = sizes.iter().sum();
    if pos + listed > end {
        return Err(bad("lace sizes exceed the block"));
    }
    sizes.push(end - pos - listed);
    for size in sizes {
        out.push(frame(buf.slice(pos..pos + size)));
        pos += size;
    }
    Ok(())
}

/// TimecodeScale from an `Info` element's data (Matroska default: 1 ms).
pub(crate) fn timecode_scale(buf: &Bytes, info: std::ops::Range<usize>) -> u64 {
    Children::new(buf, info, 0)
        .filter_map(Result::ok)
        .find(|c| c.header.id == ids::TIMECODE_SCALE)
        .and_then(|c| read_uint(&buf[c.data]))
        .filter(|&s| s > 0)
        .unwrap_or(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EbmlWriter, Fragment};

    /// A fragment whose one Cluster (timecode 100) holds a SimpleBlock with these flags and
    /// body (after track 1 and relative timecode 2).
    fn fragment_with_block(flags: u8, body: &[u8]) -> Fragment {
        let mut block = vec![0x81, 0x00, 0x02, flags];
        block.extend_from_slice(body);
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, 100).binary(ids::SIMPLE_BLOCK, &block);
        });
        Fragment::from_bytes(w.into_bytes()).unwrap()
    }

    fn payloads(fragment: &Fragment) -> Vec<Vec<u8>> {
        let frames = fragment.frames().unwrap();
        assert!(frames.iter().all(|f| f.track == 1 && f.timestamp_ns == 102_000_000));
        frames.iter().map(|f| f.payload.to_vec()).collect()
    }

    #[test]
    fn the_largest_cluster_timecode_saturates_instead_of_overflowing() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, u64::MAX).binary(ids::SIMPLE_BLOCK, &[0x81, 0x00, 0x01, 0x80, b'x']);
        });
        let frames = Fragment::from_bytes(w.into_bytes()).unwrap().frames().unwrap();
        assert_eq!(frames[0].timestamp_ns, i64::MAX);
    }

    #[test]
    fn xiph_lacing() {
        // 3 frames: sizes 300 (255 + 45), 2, and the rest (1).
        let mut body = vec![2, 255, 45, 2];
        body.extend(std::iter::repeat_n(b'a', 300));
        body.extend_from_slice(b"bbc");
        assert_eq!(
            payloads(&fragment_with_block(0x82, &body)),
            [vec![b'a'; 300], b"bb".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn fixed_lacing() {
        let f = fragment_with_block(0x84, b"\x02aabbcc");
        assert_eq!(payloads(&f), [b"aa".to_vec(), b"bb".to_vec(), b"cc".to_vec()]);
        assert!(matches!(fragment_with_block(0x84, b"\x02aabbc").frames(), Err(Error::BadBlock { .. })));
    }

    #[test]
    fn ebml_lacing() {
        // 3 frames: first size 4 (vint 0x84), then the difference -2 as a 1-byte signed vint
        // (0x80 | (63 - 2)), i.e. size 2, then the rest.
        let body = [&[0x02, 0x84, 0x3D + 0x80][..], b"aaaabbc"].concat();
        assert_eq!(
            payloads(&fragment_with_block(0x86, &body)),
            [b"aaaa".to_vec(), b"bb".to_vec(), b"c".to_vec()]
        );
    }

    #[test]
    fn lace_sizes_beyond_the_block_are_an_error() {
        assert!(matches!(fragment_with_block(0x82, b"\x01\xFF\xFFab").frames(), Err(Error::BadBlock { .. })));
        assert!(matches!(fragment_with_block(0x86, b"\x01\x8Fab").frames(), Err(Error::BadBlock { .. })));
        assert!(matches!(fragment_with_block(0x82, b"").frames(), Err(Error::BadBlock { .. })));
    }

    #[test]
    fn block_group_keyframes_follow_reference_blocks() {
        let mut w = EbmlWriter::new();
        w.ebml_header("matroska").unknown_size_master(ids::SEGMENT);
        w.master(ids::INFO, |i| {
            i.uint(ids::TIMECODE_SCALE, 1000);
        });
        w.master(ids::CLUSTER, |c| {
            c.uint(ids::TIMECODE, 7);
            c.master(ids::BLOCK_GROUP, |g| {
                g.binary(ids::BLOCK, &[0x82, 0, 1, 0, b'k']).uint(ids::BLOCK_DURATION, 3);
            });
            c.master(ids::BLOCK_GROUP, |g| {
                g.binary(ids::BLOCK, &[0x82, 0, 2, 0, b'p']).int(ids::REFERENCE_BLOCK, -1);
            });
        });
        let frames = Fragment::from_bytes(w.into_bytes()).unwrap().frames().unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            (frames[0].keyframe, frames[0].timestamp_ns, frames[0].duration_ns),
            (true, 8000, Some(3000))
        );
        assert_eq!((frames[1].keyframe, frames[1].track, &frames[1].payload[..]), (false, 2, &b"p"[..]));
    }
}
