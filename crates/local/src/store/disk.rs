//! The directory format of a store that survives a restart, and reading it back.
//!
//! Under the store's root, each stream has a directory named by the server (its creation
//! time and a counter, never the client's input) holding `stream.json` (its
//! [`StreamInfo`]) and one `<fragment number>.frag` file per fragment kept. Every file is
//! written whole or not at all ([`write_atomically`]); a fragment file carries a magic
//! and a checksum, so a torn or damaged one is found and removed at recovery. A deleted
//! stream's directory is first renamed to a tombstone ([`bury`]), so that a crash in the
//! middle of removing it cannot bring the stream back.
//!
//! Not here: what the store does with what it reads back (the log, numbering), or when
//! it writes (the store appends and deletes under its locks).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kvs_mkv::FragmentNumber;

use super::{StoredFragment, StreamInfo};
use crate::error::{Error, FragmentFileProblem};

const FRAGMENT_MAGIC: &[u8; 8] = b"KVSFRAG1";
const FRAGMENT_EXT: &str = "frag";
/// The file of a stream directory that holds its identity.
const STREAM_JSON: &str = "stream.json";
/// A fragment file's header: magic and five 8-byte fields.
const HEADER_LEN: usize = 48;
/// The checksum after a fragment file's body.
const CHECKSUM_LEN: usize = 8;
/// A stream directory renamed to `<dir>.deleted-<n>` is a tombstone: the stream is
/// deleted, and what is left of the directory is removed at the next start.
const TOMBSTONE_MARK: &str = ".deleted-";
/// Free names tried for a stream directory or a tombstone before giving up.
const MAX_NAME_TRIES: u32 = 1000;

/// Creates the store's root if it is missing.
pub(super) fn create_root(root: &Path) -> Result<(), Error> {
    fs::create_dir_all(root)?;
    Ok(())
}

/// A stream's directory, named by the server (never by the client's input), with its
/// `stream.json` written.
pub(super) fn create_stream_dir(root: &Path, info: &StreamInfo) -> Result<PathBuf, Error> {
    let mut n = 0u32;
    let dir = loop {
        let candidate = root.join(format!("{}-{n}", info.created_ms));
        match fs::create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < MAX_NAME_TRIES => n += 1,
            Err(e) => return Err(e.into()),
        }
    };
    let json = serde_json::to_vec(info)
        .map_err(|source| Error::StreamJson { path: dir.join(STREAM_JSON), source })?;
    write_atomically(&dir, STREAM_JSON, &[&json])?;
    Ok(dir)
}

/// The directories under the store's root, sorted so that which of two duplicates is
/// named first does not depend on the file system. Tombstones are removed and left out.
pub(super) fn stream_dirs(root: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut dirs = fs::read_dir(root)?.map(|entry| entry.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
    dirs.sort();
    dirs.retain(|dir| {
        if !is_tombstone(dir) {
            return true;
        }
        tracing::info!(dir = %dir.display(), "removing the remains of a deleted stream");
        if let Err(e) = fs::remove_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a deleted stream's tombstone");
        }
        false
    });
    Ok(dirs)
}

/// The identity stored in a stream directory's `stream.json`; `None`, logged, if there is
/// none or it cannot be read: that directory is left alone and the other streams load.
pub(super) fn read_stream_info(dir: &Path) -> Option<StreamInfo> {
    let path = dir.join(STREAM_JSON);
    let json = match fs::read(&path) {
        Ok(json) => json,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %dir.display(), "directory without stream.json ignored");
            return None;
        }
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "unreadable stream.json: stream not loaded");
            return None;
        }
    };
    match parse_stream_info(&path, &json) {
        Ok(info) => Some(info),
        Err(e) => {
            tracing::error!(file = %path.display(), error = %e, "corrupt stream.json: stream not loaded");
            None
        }
    }
}

/// The [`StreamInfo`] of the `stream.json` at `path`, holding `json`.
fn parse_stream_info(path: &Path, json: &[u8]) -> Result<StreamInfo, Error> {
    serde_json::from_slice(json).map_err(|source| Error::StreamJson { path: path.to_owned(), source })
}

/// The fragments of a stream directory, in number order. A torn write (a `.tmp` file) is
/// removed; so is a fragment file that cannot be read back (logged); other files are
/// left alone.
pub(super) fn read_fragments(dir: &Path) -> Result<Vec<StoredFragment>, Error> {
    let mut numbers = Vec::new();
    for file in fs::read_dir(dir)? {
        let path = file?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        match path.extension().and_then(|e| e.to_str()) {
            Some(FRAGMENT_EXT) => match stem.parse::<FragmentNumber>() {
                Ok(n) => numbers.push((n, path)),
                Err(_) => tracing::warn!(file = %path.display(), "not a fragment file, ignored"),
            },
            Some("tmp") => {
                tracing::warn!(file = %path.display(), "removing a torn write");
                let _ = fs::remove_file(&path);
            }
            _ => {}
        }
    }
    numbers.sort();
    let mut fragments = Vec::with_capacity(numbers.len());
    for (number, path) in numbers {
        match read_fragment(&path, number) {
            Ok(f) => fragments.push(f),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "removing an unreadable fragment");
                let _ = fs::remove_file(&path);
            }
        }
    }
    Ok(fragments)
}

/// Removes the file of a fragment dropped by retention; a failure leaves a file that the
/// next start loads again, and retention drops again.
pub(super) fn remove_fragment(dir: &Path, number: &FragmentNumber) {
    let _ = fs::remove_file(fragment_path(dir, number));
}

fn fragment_path(dir: &Path, number: &FragmentNumber) -> PathBuf {
    dir.join(format!("{number}.{FRAGMENT_EXT}"))
}

/// Whether this is a stream directory renamed by [`bury`].
fn is_tombstone(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    name.rsplit_once(TOMBSTONE_MARK)
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Renames a stream's directory to a free tombstone name beside it (an atomic rename
/// within the store's root), and returns that name.
pub(super) fn bury(stream: &str, dir: &Path) -> Result<PathBuf, Error> {
    let base = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tombstone_of = |n: u32| dir.with_file_name(format!("{base}{TOMBSTONE_MARK}{n}"));
    let mut n = 0;
    while n < MAX_NAME_TRIES && fs::symlink_metadata(tombstone_of(n)).is_ok() {
        n += 1;
    }
    let tombstone = tombstone_of(n);
    if let Err(source) = fs::rename(dir, &tombstone) {
        return Err(Error::DeleteFailed {
            stream: stream.to_owned(),
            dir: dir.to_owned(),
            tombstone,
            source,
        });
    }
    // Make the rename durable; it is done whatever this says.
    if let Some(Err(e)) = dir.parent().map(|root| fs::File::open(root).and_then(|f| f.sync_all())) {
        tracing::warn!(dir = %tombstone.display(), error = %e, "could not sync the store after a delete");
    }
    Ok(tombstone)
}

/// Removes a deleted stream's tombstone; what a failure leaves goes at the next start.
pub(super) fn remove_tombstone(stream: &str, tombstone: &Path) {
    if let Err(e) = fs::remove_dir_all(tombstone) {
        tracing::warn!(
            stream,
            dir = %tombstone.display(),
            error = %e,
            "could not remove a deleted stream's tombstone: it goes at the next start"
        );
    }
}

/// Writes a file whole or not at all: a temporary file, fsync'd, renamed, then the
/// directory fsync'd.
fn write_atomically(dir: &Path, name: &str, parts: &[&[u8]]) -> Result<(), Error> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = fs::File::create(&tmp)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// On disk: magic, producer ms, server ms, duration ms, head length, cluster length (all
/// little-endian 8 bytes), head, cluster, then an FNV-1a checksum of everything before it.
/// A Cluster in two parts is written whole (it reads back as one).
pub(super) fn write_fragment(dir: &Path, f: &StoredFragment) -> Result<(), Error> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(FRAGMENT_MAGIC);
    header.extend_from_slice(&f.producer_ms.to_le_bytes());
    header.extend_from_slice(&f.server_ms.to_le_bytes());
    header.extend_from_slice(&f.duration_ms.to_le_bytes());
    header.extend_from_slice(&(f.head.len() as u64).to_le_bytes());
    header.extend_from_slice(&((f.cluster_start.len() + f.cluster.len()) as u64).to_le_bytes());
    let sum = fnv1a(&[&header, &f.head, &f.cluster_start, &f.cluster]);
    write_atomically(
        dir,
        &format!("{}.{FRAGMENT_EXT}", f.number),
        &[&header, &f.head, &f.cluster_start, &f.cluster, &sum.to_le_bytes()],
    )
}

/// Reads back a fragment file written by [`write_fragment`], checking its magic, its
/// lengths against its size, and its checksum.
fn read_fragment(path: &Path, number: FragmentNumber) -> Result<StoredFragment, Error> {
    let bytes = Bytes::from(fs::read(path)?);
    let bad = |problem| Error::FragmentFile { path: path.to_owned(), problem };
    let magic_len = bytes.len().min(FRAGMENT_MAGIC.len());
    if bytes[..magic_len] != FRAGMENT_MAGIC[..magic_len] {
        return Err(bad(FragmentFileProblem::BadMagic));
    }
    if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
        return Err(bad(FragmentFileProblem::Truncated { len: bytes.len() as u64 }));
    }
    let field = |i: usize| u64::from_le_bytes(bytes[8 + 8 * i..16 + 8 * i].try_into().unwrap_or_default());
    let (head_len, cluster_len) = (field(3), field(4));
    let expected = (HEADER_LEN as u64 + CHECKSUM_LEN as u64)
        .checked_add(head_len)
        .and_then(|n| n.checked_add(cluster_len))
        .ok_or_else(|| bad(FragmentFileProblem::LengthsOverflow { head_len, cluster_len }))?;
    if expected != bytes.len() as u64 {
        return Err(bad(FragmentFileProblem::SizeMismatch { expected, len: bytes.len() as u64 }));
    }
    let body_end = bytes.len() - CHECKSUM_LEN;
    let stored = u64::from_le_bytes(bytes[body_end..].try_into().unwrap_or_default());
    let computed = fnv1a(&[&bytes[..body_end]]);
    if computed != stored {
        return Err(bad(FragmentFileProblem::Checksum { stored, computed }));
    }
    let head_end = HEADER_LEN + head_len as usize;
    Ok(StoredFragment {
        number,
        producer_ms: field(0) as i64,
        server_ms: field(1) as i64,
        duration_ms: field(2),
        head: bytes.slice(HEADER_LEN..head_end),
        cluster_start: Bytes::new(),
        cluster: bytes.slice(head_end..body_end),
    })
}

/// FNV-1a, 64 bits, of the parts one after the other: it finds torn and flipped bytes,
/// which is all a local store needs.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for &b in *part {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::numbering::number_of;

    fn fragment() -> StoredFragment {
        StoredFragment {
            number: number_of(42),
            producer_ms: 1,
            server_ms: 2,
            duration_ms: 3,
            head: Bytes::from_static(b"head"),
            // A Cluster in two parts (a re-stamped replay) reads back whole.
            cluster_start: Bytes::from_static(b"clu"),
            cluster: Bytes::from_static(b"ster"),
        }
    }

    /// Writes the test fragment, lets `damage` change its bytes, and reads it back.
    fn read_damaged(damage: impl FnOnce(&mut Vec<u8>)) -> (PathBuf, Result<StoredFragment, Error>) {
        let dir = tempfile::tempdir().unwrap();
        let f = fragment();
        write_fragment(dir.path(), &f).unwrap();
        let path = fragment_path(dir.path(), &f.number);
        let mut bytes = fs::read(&path).unwrap();
        damage(&mut bytes);
        fs::write(&path, &bytes).unwrap();
        let read = read_fragment(&path, f.number);
        // The directory goes; the path stays to compare with the error's.
        (path, read)
    }

    /// The problem a damaged fragment file is refused with, checking the error names it.
    fn problem(damage: impl FnOnce(&mut Vec<u8>)) -> FragmentFileProblem {
        match read_damaged(damage) {
            (path, Err(Error::FragmentFile { path: named, problem })) => {
                assert_eq!(named, path);
                problem
            }
            (_, other) => panic!("expected a fragment file error, got {other:?}"),
        }
    }

    #[test]
    fn a_fragment_file_reads_back_whole() {
        let (_, back) = read_damaged(|_| {});
        let back = back.unwrap();
        assert_eq!((&back.head[..], &back.cluster[..], back.duration_ms), (&b"head"[..], &b"cluster"[..], 3));
        assert_eq!((back.producer_ms, back.server_ms, back.number), (1, 2, number_of(42)));
        assert!(back.cluster_start.is_empty());
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        // 48 + 4 + 7 + 8 bytes; byte 50 is in the head.
        let problem = problem(|b| b[50] ^= 1);
        assert!(matches!(problem, FragmentFileProblem::Checksum { stored, computed } if stored != computed));
    }

    #[test]
    fn a_cut_file_is_truncated_or_short_of_its_lengths() {
        assert_eq!(problem(|b| b.truncate(30)), FragmentFileProblem::Truncated { len: 30 });
        assert_eq!(problem(|b| b.truncate(60)), FragmentFileProblem::SizeMismatch { expected: 67, len: 60 });
        assert_eq!(problem(Vec::clear), FragmentFileProblem::Truncated { len: 0 });
    }

    #[test]
    fn another_file_has_no_magic() {
        assert_eq!(problem(|b| b[0] = b'X'), FragmentFileProblem::BadMagic);
        assert_eq!(problem(|b| *b = b"{}".to_vec()), FragmentFileProblem::BadMagic);
    }

    #[test]
    fn lengths_that_overflow_are_refused() {
        let head_len = u64::MAX - 10;
        let problem = problem(|b| b[32..40].copy_from_slice(&head_len.to_le_bytes()));
        assert_eq!(problem, FragmentFileProblem::LengthsOverflow { head_len, cluster_len: 7 });
    }

    #[test]
    fn a_corrupt_stream_json_names_its_file() {
        let path = Path::new("/store/1-0/stream.json");
        match parse_stream_info(path, b"{\"name\": 3}") {
            Err(Error::StreamJson { path: named, source }) => {
                assert_eq!(named, path);
                assert!(source.is_data(), "{source}");
            }
            other => panic!("expected a stream.json error, got {other:?}"),
        }
    }

    #[test]
    fn tombstones_are_named_by_a_number_after_the_mark() {
        assert!(is_tombstone(Path::new("/s/17-0.deleted-0")));
        assert!(is_tombstone(Path::new("/s/17-0.deleted-12")));
        assert!(!is_tombstone(Path::new("/s/17-0.deleted-")));
        assert!(!is_tombstone(Path::new("/s/17-0.deleted-x")));
        assert!(!is_tombstone(Path::new("/s/17-0")));
    }
}
