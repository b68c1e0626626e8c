//! Local byte sources: [`LocalReader`], the blocking read loop for a capture read once from
//! start to end (a file, standard input, a pipe), and [`ChunkBuffer`], the read buffer it
//! shares with the engine's [`Source::reader`](crate::Source::reader).
//!
//! A chunk is read straight into a `BytesMut` and handed to the splitter frozen, so the
//! bytes are never copied on their way in; the allocation is reused once the splitter has
//! let go of the previous chunk.
//!
//! What it does not do: resume or drop duplicates (a local source cannot be asked again;
//! that is the engine's work for network sources), renumber fragments (events keep their
//! offsets in the input), or show progress: to observe what is read, wrap the reader (for
//! example in indicatif's `ProgressBar::wrap_read`).

use std::io::{self, Read};

use bytes::{Bytes, BytesMut};
use kvs_mkv::{Event, FragmentSplitter, Limits};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes asked for by each read: enough that system calls cost little, few enough that a
/// chunk is still in the core's cache when the splitter reads it (`kvs inspect` of a file
/// in the page cache spent 8% less time with 64 KiB than with 256 KiB or 1 MiB).
pub(crate) const CHUNK_SIZE: usize = 64 << 10;

/// The read buffer of a local source: each read fills a fresh part of one allocation and
/// comes out as `Bytes` sharing it.
#[derive(Debug)]
pub(crate) struct ChunkBuffer {
    buf: BytesMut,
    size: usize,
}

impl ChunkBuffer {
    /// A buffer that asks for `size` bytes per read.
    pub(crate) fn new(size: usize) -> Self {
        Self { buf: BytesMut::new(), size }
    }

    /// One read from `reader`; `None` at the end of input.
    pub(crate) fn read(&mut self, reader: &mut impl Read) -> io::Result<Option<Bytes>> {
        // `reserve` takes the allocation back when the last chunk was dropped. `Read` may
        // only be given initialized memory: zeroing it costs less than the copy it saves.
        self.buf.reserve(self.size);
        self.buf.resize(self.size, 0);
        loop {
            match reader.read(&mut self.buf) {
                Ok(0) => {
                    self.buf.clear();
                    return Ok(None);
                }
                Ok(n) => {
                    self.buf.truncate(n);
                    return Ok(Some(self.buf.split().freeze()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.clear();
                    return Err(e);
                }
            }
        }
    }

    /// One read from an async `reader`; `None` at the end of input.
    pub(crate) async fn read_async(
        &mut self,
        reader: &mut (impl AsyncRead + Unpin + ?Sized),
    ) -> io::Result<Option<Bytes>> {
        self.buf.reserve(self.size);
        match reader.read_buf(&mut self.buf).await? {
            0 => Ok(None),
            _ => Ok(Some(self.buf.split().freeze())),
        }
    }
}

/// Splits a local capture into [`Event`]s, reading it on the calling thread: every
/// fragment, skipped run and in-band AWS error, in input order, each as soon as the bytes
/// that complete it have been read (so a pipe from a live source shows each fragment as it
/// arrives).
///
/// An iterator of `io::Result<Event>`: a read error is the last item, after every event
/// that was complete before it.
///
/// ```
/// use kvs_consumer::LocalReader;
/// use kvs_mkv::Event;
///
/// let capture = std::io::Cursor::new(kvs_mkv::testing::stream_of(3).to_vec());
/// let mut fragments = 0;
/// for event in LocalReader::new(capture) {
///     if let Event::Fragment(_) = event? {
///         fragments += 1;
///     }
/// }
/// assert_eq!(fragments, 3);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct LocalReader<R> {
    reader: R,
    chunks: ChunkBuffer,
    splitter: FragmentSplitter,
    /// The input has ended (or failed): nothing more is read.
    ended: bool,
}

impl<R: Read> LocalReader<R> {
    /// Reads `reader` with the splitter's default [`Limits`].
    pub fn new(reader: R) -> Self {
        Self::with_limits(reader, Limits::default())
    }

    /// Reads `reader` with the given limits.
    pub fn with_limits(reader: R, limits: Limits) -> Self {
        Self {
            reader,
            chunks: ChunkBuffer::new(CHUNK_SIZE),
            splitter: FragmentSplitter::with_limits(limits),
            ended: false,
        }
    }

    /// The next event, reading as much as that takes; `None` once the input has ended and
    /// every event has been handed out.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            if let Some(event) = self.splitter.poll() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            match self.chunks.read(&mut self.reader) {
                Ok(Some(chunk)) => self.splitter.feed(chunk),
                Ok(None) => {
                    self.ended = true;
                    self.splitter.finish();
                }
                Err(e) => {
                    self.ended = true;
                    return Err(e);
                }
            }
        }
    }
}

impl<R: Read> Iterator for LocalReader<R> {
    type Item = io::Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event().transpose()
    }
}

#[cfg(test)]
mod tests {
    use kvs_mkv::testing;

    use super::*;

    /// Gives at most `max` bytes per read, each read after an interrupted one; fails
    /// once it has given `fail_at` bytes.
    struct Trickle {
        data: Bytes,
        max: usize,
        given: usize,
        fail_at: Option<usize>,
        interrupt: bool,
    }

    impl Trickle {
        fn new(data: Bytes, max: usize, fail_at: Option<usize>) -> Self {
            Self { data, max, given: 0, fail_at, interrupt: false }
        }
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let allowed = match self.fail_at {
                Some(at) if self.given >= at => return Err(io::Error::other("link down")),
                Some(at) => at - self.given,
                None => usize::MAX,
            };
            let n = self.data.len().min(self.max).min(out.len()).min(allowed);
            out[..n].copy_from_slice(&self.data.split_to(n));
            self.given += n;
            Ok(n)
        }
    }

    fn events(reader: impl Read) -> Vec<io::Result<Event>> {
        LocalReader::new(reader).collect()
    }

    fn numbers(events: &[io::Result<Event>]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Ok(Event::Fragment(f)) => Some(f.kvs().fragment_number.as_ref().unwrap().to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_chunking_gives_the_same_fragments_and_offsets() {
        let stream = testing::stream_of(4);
        let whole = events(io::Cursor::new(stream.to_vec()));
        assert_eq!(numbers(&whole).len(), 4);
        let offsets = |events: &[io::Result<Event>]| -> Vec<(u64, u64)> {
            events
                .iter()
                .map(|e| match e.as_ref().unwrap() {
                    Event::Fragment(f) => (f.offset(), f.bytes().len() as u64),
                    other => panic!("unexpected {other:?}"),
                })
                .collect()
        };
        for max in [1, 7, 100, 4096, CHUNK_SIZE + 1] {
            let trickled = events(Trickle::new(stream.clone(), max, None));
            assert_eq!(offsets(&trickled), offsets(&whole), "reads of {max} bytes");
        }
    }

    #[test]
    fn garbage_is_an_event_with_its_offset() {
        let stream = testing::stream_of(2);
        let mut input = b"not mkv".to_vec();
        input.extend_from_slice(&stream);
        let events = events(io::Cursor::new(input));
        match &events[0] {
            Ok(Event::Skipped(s)) => assert_eq!((s.offset, s.len), (0, 7)),
            other => panic!("expected a skipped run, got {other:?}"),
        }
        assert_eq!(numbers(&events).len(), 2);
    }

    #[test]
    fn a_read_error_comes_after_every_complete_fragment_and_ends_the_read() {
        let stream = testing::stream_of(3);
        let two = testing::fragment(0, 3, 16).len() + testing::fragment(1, 3, 16).len();
        // The third fragment's EBML header proves the second whole.
        let events = events(Trickle::new(stream.clone(), 1000, Some(two + 10)));
        assert_eq!(numbers(&events), [testing::fragment_number(0), testing::fragment_number(1)]);
        assert_eq!(events.len(), 3);
        assert_eq!(events[2].as_ref().unwrap_err().to_string(), "link down");
    }

    #[test]
    fn chunks_share_one_allocation_once_the_previous_is_dropped() {
        let mut buffer = ChunkBuffer::new(1024);
        let mut input = io::Cursor::new(vec![7u8; 3000]);
        let first = buffer.read(&mut input).unwrap().unwrap();
        let at = first.as_ptr();
        assert_eq!(first.len(), 1024);
        drop(first);
        let second = buffer.read(&mut input).unwrap().unwrap();
        assert_eq!(second.as_ptr(), at);
        let third = buffer.read(&mut input).unwrap().unwrap();
        assert_eq!((second.len(), third.len()), (1024, 952));
        assert!(buffer.read(&mut input).unwrap().is_none());
    }
}
