//! Saving fragments to disk: [`FragmentExt`] adds `save_mkv` and `save_raw` to
//! [`kvs_mkv::Fragment`], and names files from validated fragment numbers only.

use std::io::Write;
use std::path::{Path, PathBuf};

use kvs_mkv::Fragment;

use crate::Error;

/// Saving a [`Fragment`] to a file.
///
/// ```
/// use kvs_consumer::FragmentExt;
///
/// let fragment = kvs_mkv::Fragment::from_bytes(kvs_mkv::testing::fragment(0, 3, 16)).unwrap();
/// let dir = std::env::temp_dir().join(format!("kvs-consumer-doc-{}", std::process::id()));
/// let path = fragment.save_mkv_in(&dir).unwrap();
/// assert_eq!(path.file_name().unwrap(), "91343852333181432392682062607743920146159169392.mkv");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub trait FragmentExt {
    /// Writes the fragment as a standalone `.mkv` with known sizes, which ordinary
    /// players open and seek in ([`Fragment::to_playable_mkv`]).
    fn save_mkv(&self, path: &Path) -> Result<(), Error>;

    /// Writes the fragment's bytes exactly as received.
    fn save_raw(&self, path: &Path) -> Result<(), Error>;

    /// A file name for the fragment: `<fragment number>.mkv`, or `fragment-<index>.mkv`
    /// when it has none. Never built from anything but digits.
    fn file_name(&self) -> String;

    /// [`save_mkv`](Self::save_mkv) into `dir` (created if needed) under
    /// [`file_name`](Self::file_name); returns the path written.
    fn save_mkv_in(&self, dir: &Path) -> Result<PathBuf, Error> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(self.file_name());
        self.save_mkv(&path)?;
        Ok(path)
    }
}

impl FragmentExt for Fragment {
    fn save_mkv(&self, path: &Path) -> Result<(), Error> {
        write_atomically(path, &self.to_playable_mkv()?)
    }

    fn save_raw(&self, path: &Path) -> Result<(), Error> {
        write_atomically(path, self.bytes())
    }

    fn file_name(&self) -> String {
        match &self.kvs().fragment_number {
            // FragmentNumber only ever holds 1 to 128 ASCII digits.
            Some(n) if n.as_str().bytes().all(|b| b.is_ascii_digit()) => format!("{n}.mkv"),
            _ => format!("fragment-{:06}.mkv", self.index()),
        }
    }
}

/// Writes to a temporary file beside `path`, then renames it: a reader never sees half a
/// fragment.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".part");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kvs_mkv::testing;

    use super::*;

    #[test]
    fn saved_files_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fragment::from_bytes(testing::fragment(4, 5, 100)).unwrap();
        let raw = dir.path().join("raw.mkv");
        f.save_raw(&raw).unwrap();
        assert_eq!(std::fs::read(&raw).unwrap(), f.bytes().as_ref());
        let playable = f.save_mkv_in(dir.path()).unwrap();
        assert_eq!(
            playable.file_name().unwrap().to_str().unwrap(),
            format!("{}.mkv", testing::fragment_number(4))
        );
        let back = Fragment::from_bytes(std::fs::read(&playable).unwrap().into()).unwrap();
        assert_eq!(back.frames().unwrap(), f.frames().unwrap());
        assert_eq!(back.tags(), f.tags());
        let segment = back.tree().find("Segment").map(|e| e.declared_size());
        assert!(matches!(segment, Some(Some(_))), "the Segment has a known size: {segment:?}");
    }
}
