//! Reading a local file into the snapshot so that what is stored is what
//! was recorded: the archiver reads exactly the size the walk saw (a file
//! appended to meanwhile is stored as it was then: its first bytes), and
//! once it has, the file it read is looked at again (through the open
//! file, so a file renamed over it afterwards does not matter). When what
//! was opened is another file than the walk saw (written beside and
//! renamed over in between), the walked size of it means nothing, and it
//! is reported by name ([`BackupError::ChangedWhileCopied`]). A file
//! changed in place is read a second time: when its first bytes are still
//! those stored, the copy is taken as a state the file had (it only grew,
//! or was touched); when not, it may be torn and is reported. (One case passes unseen: a file
//! truncated and rewritten in place, longer, between the walk and the
//! copy, then left alone; it is stored as the new content's first bytes.)

use std::fs::File;
use std::io::{Read, Seek};
use std::path::PathBuf;

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
    /// 0 when unknown.
    pub(crate) inode: u64,
}

/// A file's reader, limited to the recorded size, hashing what it returns.
pub(crate) struct Checked {
    inner: File,
    seen: Seen,
    read: u64,
    hash: Sha256,
    failures: Failures,
    done: bool,
}

impl Checked {
    pub(crate) fn new(inner: File, seen: Seen, failures: Failures) -> Self {
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
        match state(&self.inner, &self.seen) {
            State::Unchanged => return Ok(()),
            State::Replaced => return Err(self.torn("was replaced while it was copied")),
            State::Modified => {}
        }
        let stored = std::mem::take(&mut self.hash).finalize();
        match prefix_hash(&mut self.inner, self.seen.size) {
            Ok(now) if now[..] == stored[..] => Ok(()),
            _ => Err(self.torn("changed while it was copied")),
        }
    }
}

impl Read for Checked {
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

/// What became of the file read since the walk.
enum State {
    /// Size and modification time as seen.
    Unchanged,
    /// Not the file the walk saw.
    Replaced,
    /// The same file, written to.
    Modified,
}

fn state(file: &File, seen: &Seen) -> State {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = file.metadata() else {
        return State::Replaced;
    };
    if seen.inode != 0 && md.ino() != seen.inode {
        return State::Replaced;
    }
    let mtime = md.modified().ok().and_then(|t| Timestamp::try_from(t).ok());
    if md.len() == seen.size && mtime == seen.mtime {
        State::Unchanged
    } else {
        State::Modified
    }
}

/// The SHA-256 of the first `size` bytes of `file` (fewer if it is shorter).
fn prefix_hash(file: &mut File, size: u64) -> std::io::Result<sha2::digest::Output<Sha256>> {
    let mut hash = Sha256::new();
    file.rewind()?;
    std::io::copy(&mut file.take(size), &mut hash)?;
    Ok(hash.finalize())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use super::*;

    fn seen(path: &Path) -> Seen {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).unwrap();
        Seen {
            path: path.to_path_buf(),
            size: md.len(),
            mtime: Timestamp::try_from(md.modified().unwrap()).ok(),
            inode: md.ino(),
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

    /// Written beside and renamed over: same size, same first bytes.
    fn replace(p: &Path) {
        let tmp = p.with_extension("new");
        std::fs::write(&tmp, "{\"a\": 1, \"b\": 3}").unwrap();
        std::fs::rename(&tmp, p).unwrap();
    }

    #[test]
    fn a_file_replaced_before_it_is_opened_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        std::fs::write(&p, "{\"a\": 1, \"b\": 2}").unwrap();
        let s = seen(&p);
        replace(&p);
        let (got, failures) = copy(&p, s, || {});
        assert!(got.is_err());
        assert_eq!(failures.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_file_replaced_after_it_is_opened_is_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.json");
        std::fs::write(&p, "{\"a\": 1, \"b\": 2}").unwrap();
        let s = seen(&p);
        let (got, failures) = copy(&p, s, || replace(&p));
        assert_eq!(got.unwrap(), b"{\"a\": 1, \"b\": 2}");
        assert!(failures.lock().unwrap().is_empty());
    }
}
