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
                ids::TIMECODE => cluster_tc = read_uint(&buf[child.data]).unwrap_or(0) as i64,
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
                        return Err(Error::BadBlock { offset: child.start as u64, reason: "BlockGroup without a whole Block" });
                    };
                    let duration_ns = duration.map(|d| d.saturating_mul(scale));
                    read_block(buf, data, start as u64, cluster_tc, scale, Some(!referenced), duration_ns, out)?;
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
    let timestamp_ns = (cluster_tc + relative).saturating_mul(scale as i64);
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
            if total % count != 0 {
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
