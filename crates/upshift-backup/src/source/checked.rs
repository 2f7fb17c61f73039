//! Reading a local file into the snapshot so that what is stored is what
//! was recorded: the archiver reads exactly the size the walk saw (a file
//! appended to meanwhile is stored as it was then: its first bytes), and
//! once it has, the file is looked at again. When it changed during the
//! copy, its first bytes are read a second time: unchanged, the stored copy
//! is a state the file really had (it only grew, or was touched); changed,
//! the copy may be torn, and the file is reported by name
//! ([`BackupError::ChangedWhileCopied`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use rustic_core::jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::command::Failures;
use crate::error::BackupError;

/// The file as the walk recorded it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) mtime: Option<Timestamp>,
}

/// A file's reader, limited to the recorded size, hashing what it returns.
pub(crate) struct Checked<R> {
    inner: R,
    seen: Seen,
    read: u64,
    hash: Sha256,
    failures: Failures,
    done: bool,
}

impl<R: Read> Checked<R> {
    pub(crate) fn new(inner: R, seen: Seen, failures: Failures) -> Self {
        Checked {
            inner,
            seen,
            read: 0,
            hash: Sha256::new(),
            failures,
            done: false,
        }
    }

    /// Records a torn copy and fails the read.
    fn torn(&mut self, why: &str) -> std::io::Error {
        let err = BackupError::ChangedWhileCopied {
            paths: vec![self.seen.path.clone()],
        };
        self.failures.lock().expect("failures lock").push(err);
        std::io::Error::other(format!("{} {why}", self.seen.path.display()))
    }

    /// After the last byte: the copy stands unless the file changed and
    /// its first bytes are no longer those stored.
    fn finish(&mut self) -> std::io::Result<()> {
        if unchanged(&self.seen) {
            return Ok(());
        }
        let stored = std::mem::take(&mut self.hash).finalize();
        match prefix_hash(&self.seen.path, self.seen.size) {
            Ok(now) if now[..] == stored[..] => Ok(()),
            _ => Err(self.torn("changed while it was copied")),
        }
    }
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let room = self.seen.size - self.read;
        if room == 0 {
            self.done = true;
            self.finish()?;
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.done = true;
            return Err(self.torn("became shorter while it was copied"));
        }
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// True when the file's size and modification time are still those seen.
fn unchanged(seen: &Seen) -> bool {
    let Ok(md) = std::fs::metadata(&seen.path) else {
        return false;
    };
    let mtime = md.modified().ok().and_then(|t| Timestamp::try_from(t).ok());
    md.len() == seen.size && mtime == seen.mtime
}

/// The SHA-256 of the first `size` bytes of `path` (fewer if it is shorter).
fn prefix_hash(path: &Path, size: u64) -> std::io::Result<sha2::digest::Output<Sha256>> {
    let mut hash = Sha256::new();
    let mut f = std::fs::File::open(path)?.take(size);
    std::io::copy(&mut f, &mut hash)?;
    Ok(hash.finalize())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    use super::*;

    fn seen(path: &Path) -> Seen {
        let md = std::fs::metadata(path).unwrap();
        Seen {
            path: path.to_path_buf(),
            size: md.len(),
            mtime: Timestamp::try_from(md.modified().unwrap()).ok(),
        }
    }

    fn copy(path: &Path, seen: Seen, mid: impl FnOnce()) -> (std::io::Result<Vec<u8>>, Failures) {
        let failures: Failures = Arc::new(Mutex::new(Vec::new()));
        let mut r = Checked::new(std::fs::File::open(path).unwrap(), seen, failures.clone());
        let mut out = vec![0u8; 3];
        r.read_exact(&mut out).unwrap();
        mid();
        let rest = r.read_to_end(&mut out).map(|_| out);
        (rest, failures)
    }

    #[test]
    fn a_file_appended_to_while_copied_is_stored_as_it_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.log");
        std::fs::write(&p, "line 1\n").unwrap();
        let s = seen(&p);
        let append = || {
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.write_all(b"line 2\n").unwrap();
        };
        let (got, failures) = copy(&p, s, append);
        assert_eq!(got.unwrap(), b"line 1\n");
        assert!(failures.lock().unwrap().is_empty());
    }

    #[test]
    fn a_file_rewritten_while_copied_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        std::fs::write(&p, "{\"a\": 1}").unwrap();
        let s = seen(&p);
        let rewrite = || std::fs::write(&p, "{\"b\": 22}").unwrap();
        let (got, failures) = copy(&p, s, rewrite);
        assert!(got.is_err());
        let failures = failures.lock().unwrap();
        assert!(
            matches!(&failures[..], [BackupError::ChangedWhileCopied { paths }] if paths == std::slice::from_ref(&p)),
            "{failures:?}"
        );
    }

    #[test]
    fn a_file_truncated_while_copied_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![1u8; 100]).unwrap();
        let s = seen(&p);
        let (got, failures) = copy(&p, s, || std::fs::write(&p, b"ab").unwrap());
        assert!(got.is_err());
        assert_eq!(failures.lock().unwrap().len(), 1);
    }
}
