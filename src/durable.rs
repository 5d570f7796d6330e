//! Files that a crash cannot damage: replacing a file atomically, and
//! flushing a directory so that a new name in it survives a power cut.
//!
//! A `write` only hands bytes to the kernel's page cache; a crash before
//! the kernel writes them out loses them. `fsync(2)` (`File::sync_all`, or
//! `sync_data` when only the contents and the size matter) waits until
//! the disk has them. Two more facts from POSIX decide the recipes below:
//!
//! - `rename(2)` within one file system is atomic: whoever opens the name
//!   afterwards gets the old file or the new one, never a mixture;
//! - syncing a file does not sync the directory entry that names it: a
//!   file just created, or renamed, needs its directory synced too.
//!
//! Lab 3 saves its accounts with [`replace_file`]; lab 4 saves its tracker
//! with it and syncs the directory of its new message log with
//! [`sync_dir`]. Left out: Windows (where a directory cannot be opened to
//! sync it), and file systems mounted without the ordering guarantees that
//! make `rename` atomic after a crash (ext4 and xfs have them by default).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Added to a file's name for the temporary file of [`replace_file`].
pub const TEMP_SUFFIX: &str = ".tmp";

/// Replaces the file at `path` with `contents` so that a crash at any
/// moment leaves either the old file or the new one whole.
///
/// Two writers of the same `path` at once would share the temporary file:
/// callers serialize their writes (the accounts, the tracker and the
/// outbox each write under their own lock).
///
/// The contents go to `path` + [`TEMP_SUFFIX`] in the same directory (hence
/// the same file system, where `rename` is atomic), which is synced and
/// then renamed over `path`; last, the directory is synced so that the
/// rename itself is on the disk. The directory must exist.
pub fn replace_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    let written = write_synced(&temp, contents).and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        // Best effort: a leftover temporary file is harmless (never read,
        // truncated by the next write), only untidy.
        let _ = fs::remove_file(&temp);
    }
    written?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Flushes the directory `dir` itself, so that names created, renamed or
/// removed in it survive a power cut (`fsync(2)` on the directory).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    // `parent()` of a bare file name is the empty path: the current directory.
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// `path` with [`TEMP_SUFFIX`] added to its file name.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(TEMP_SUFFIX);
    PathBuf::from(name)
}

/// Writes `contents` to a new file at `path` and flushes it to the disk.
fn write_synced(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// A fresh, empty directory under the system's temporary directory for one
/// test, removed (with everything in it) when dropped.
#[cfg(test)]
pub(crate) struct TempDir(PathBuf);

#[cfg(test)]
impl TempDir {
    /// A new directory path whose name starts with `label`; the directory
    /// itself is not created, so a test also sees how code copes with a
    /// data directory that does not exist yet.
    pub(crate) fn new(label: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("weaprous-{label}-{}-{unique}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }

    /// The directory's path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_creates_then_replaces_and_leaves_no_temporary_file() {
        let dir = TempDir::new("durable");
        fs::create_dir_all(dir.path()).expect("create dir");
        let path = dir.path().join("state.txt");
        replace_file(&path, b"first\n").expect("first write");
        replace_file(&path, b"second\n").expect("second write");
        assert_eq!(
            fs::read_to_string(&path).expect("read back"),
            "second\n",
            "the file should hold the last contents written"
        );
        assert!(
            !dir.path().join("state.txt.tmp").exists(),
            "the temporary file should be gone after the rename"
        );
    }

    #[test]
    fn replace_file_in_a_missing_directory_fails_and_leaves_nothing() {
        let dir = TempDir::new("durable");
        let path = dir.path().join("state.txt");
        assert!(
            replace_file(&path, b"x").is_err(),
            "writing into a directory that does not exist should fail"
        );
        assert!(!dir.path().exists(), "nothing should have been created");
    }
}
