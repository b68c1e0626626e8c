//! The one error type of this crate.

/// What went wrong while reading EBML/Matroska bytes.
///
/// "Need more bytes" is never an error: the splitter simply waits for the next
/// [`feed`](crate::FragmentSplitter::feed). These variants describe bytes that cannot be
/// what they claim to be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A variable-length integer (element id or size) starts with a zero byte or is longer
    /// than the 4 (id) or 8 (size) bytes EBML allows.
    #[error("invalid EBML variable-length integer at offset {offset}")]
    InvalidVint {
        /// Stream offset of the first byte of the vint.
        offset: u64,
    },
    /// An element declares a size beyond the configured limit; nothing was allocated for it.
    #[error("element {id:#X} at offset {offset} declares {size} bytes, over the limit of {limit}")]
    ElementTooLarge {
        /// Element id.
        id: u32,
        /// Stream offset of the element header.
        offset: u64,
        /// Declared data size.
        size: u64,
        /// The limit in force ([`Limits::max_element_size`](crate::Limits)).
        limit: u64,
    },
    /// A fragment grew past [`Limits::max_fragment_size`](crate::Limits) without ending.
    #[error("fragment at offset {offset} exceeds the limit of {limit} bytes")]
    FragmentTooLarge {
        /// Stream offset of the fragment's EBML header.
        offset: u64,
        /// The limit in force.
        limit: u64,
    },
    /// Elements are nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("elements nested deeper than {limit} at offset {offset}")]
    TooDeep {
        /// Stream offset of the element that went too deep.
        offset: u64,
        /// The depth limit.
        limit: usize,
    },
    /// An element that is not a master has an unknown size, or a child overruns its parent.
    #[error("malformed element {id:#X} at offset {offset}: {reason}")]
    Malformed {
        /// Element id.
        id: u32,
        /// Stream offset of the element header.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes that are not an EBML header where a fragment must start.
    #[error("{len} bytes of data that is not a fragment at offset {offset}")]
    Garbage {
        /// Stream offset of the first skipped byte.
        offset: u64,
        /// How many bytes were skipped.
        len: u64,
    },
    /// A block (SimpleBlock/Block) whose header or lacing does not fit its payload.
    #[error("malformed block at offset {offset}: {reason}")]
    BadBlock {
        /// Offset of the block element within its fragment.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The data ended inside an element.
    #[error("data ends inside element {id:#X} at offset {offset}")]
    Truncated {
        /// Element id.
        id: u32,
        /// Offset of the element header.
        offset: u64,
    },
}
