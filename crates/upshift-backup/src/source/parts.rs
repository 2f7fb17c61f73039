//! The parts of one backup ([`Part`]: local paths, a tool's output stream,
//! bytes, S3 objects) fed into the archiver as one rustic [`ReadSource`]
//! ([`Combined`]).

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::GlobSet;

use rustic_core::repofile::{Metadata, Node, NodeType};
use rustic_core::{
    Excludes, LocalSource, LocalSourceFilterOptions, LocalSourceSaveOptions, ReadSource,
    ReadSourceEntry, ReadSourceOpen, RusticError, RusticResult,
};

use upshift_core::manifest::is_excluded;

use super::checked::{Checked, Seen};
use super::s3;
use crate::command::{Cmd, Failures};
use crate::error::BackupError;
use crate::meter::{Counted, Tally};

/// Something to put into the snapshot.
#[derive(Debug)]
pub(crate) enum Part {
    /// A local file or directory, walked when planned ([`Part::local`]):
    /// the archiver stores exactly the walked entries.
    Local(Walk),
    /// A tool's stdout, stored as the file `dest`.
    Stream { dest: PathBuf, cmd: Cmd },
    /// Bytes made in memory (an index), stored as the file `dest`.
    Bytes { dest: PathBuf, data: Vec<u8> },
    /// An S3 object, stored as the file `dest` with its size and
    /// last-modified time (so an unchanged object is not downloaded again).
    Object {
        dest: PathBuf,
        s3: Arc<s3::S3>,
        info: s3::ObjectInfo,
    },
}

impl Part {
    fn dest(&self) -> &Path {
        match self {
            Part::Local(Walk { dest, .. })
            | Part::Stream { dest, .. }
            | Part::Bytes { dest, .. }
            | Part::Object { dest, .. } => dest,
        }
    }
}

impl Part {
    /// The store it belongs to: the name under `/stores/` of its snapshot
    /// path, or `config`.
    fn store(&self) -> String {
        let mut parts = self.dest().components().skip(1);
        match (parts.next(), parts.next()) {
            (Some(root), Some(name)) if root.as_os_str() == "stores" => {
                name.as_os_str().to_string_lossy().into_owned()
            }
            (Some(root), _) => root.as_os_str().to_string_lossy().into_owned(),
            _ => String::new(),
        }
    }

    /// Its bytes, when known before it is read (not a tool's stream).
    fn size(&self) -> Option<u64> {
        match self {
            Part::Local(walk) => Some(walk.counts().1),
            Part::Stream { .. } => None,
            Part::Bytes { data, .. } => Some(data.len() as u64),
            Part::Object { info, .. } => Some(info.size),
        }
    }

    /// The part of [`Walk::new`]`(src, dest, exclude)`.
    pub(crate) fn local(src: &Path, dest: &Path, exclude: &GlobSet) -> Result<Part, BackupError> {
        Walk::new(src, dest, exclude).map(Part::Local)
    }
}

/// The entries of a walked file or directory, taken by the archiver.
pub(crate) struct Walk {
    dest: PathBuf,
    entries: Mutex<Vec<Walked>>,
}

impl std::fmt::Debug for Walk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "walk of {}", self.dest.display())
    }
}

impl Walk {
    /// Walks `src` (a file or directory), leaving out what `exclude`
    /// matches, for storing at snapshot path `dest` (whose last component
    /// equals `src`'s file name).
    pub(crate) fn new(src: &Path, dest: &Path, exclude: &GlobSet) -> Result<Walk, BackupError> {
        let mut entries = Vec::new();
        local_entries(src, dest, exclude, &mut entries)?;
        Ok(Walk {
            dest: dest.to_path_buf(),
            entries: Mutex::new(entries),
        })
    }

    /// Regular files and their bytes, as walked (and as they are stored).
    pub(crate) fn counts(&self) -> (u64, u64) {
        let entries = self.entries.lock().expect("walk lock");
        let files = entries.iter().filter(|e| e.node.is_file());
        files.fold((0, 0), |(n, b), e| (n + 1, b + e.node.meta.size))
    }
}

/// One walked entry: its snapshot path, its node and, for a file, how to
/// open it and what the walk saw of it.
struct Walked {
    path: PathBuf,
    node: Node,
    open: Option<(LocalOpen, Seen)>,
}

type LocalOpen = <LocalSource as ReadSource>::Open;

/// All parts of one backup, as one rustic [`ReadSource`], counting the
/// bytes read of each store.
pub(crate) struct Combined {
    parts: Vec<(Part, Arc<Tally>)>,
    tallies: Vec<Arc<Tally>>,
    failures: Failures,
}

impl Combined {
    /// Sorts parts by snapshot path, as the tree builder needs.
    pub(crate) fn new(mut parts: Vec<Part>, failures: Failures) -> Self {
        parts.sort_by(|a, b| a.dest().cmp(b.dest()));
        let mut tallies: Vec<Arc<Tally>> = Vec::new();
        let parts = parts
            .into_iter()
            .map(|part| {
                let store = part.store();
                let tally = match tallies.iter().find(|t| t.store() == store) {
                    Some(t) => {
                        t.expect(part.size());
                        t.clone()
                    }
                    None => {
                        let t = Tally::new(&store, part.size());
                        tallies.push(t.clone());
                        t
                    }
                };
                (part, tally)
            })
            .collect();
        Combined {
            parts,
            tallies,
            failures,
        }
    }

    /// The bytes read of each store (config files count as `config`).
    pub(crate) fn tallies(&self) -> &[Arc<Tally>] {
        &self.tallies
    }
}

/// How to open one entry.
pub(crate) enum PartOpen {
    Local(LocalOpen, Seen, Failures),
    Stream(Cmd, Failures),
    Bytes(Vec<u8>),
    Object(Arc<s3::S3>, s3::ObjectInfo, Failures),
}

/// A failure while opening a source, recorded and returned to the archiver.
fn open_failed(failures: &Failures, e: BackupError) -> Box<RusticError> {
    let msg = e.to_string();
    failures.lock().expect("failures lock").push(e);
    RusticError::new(rustic_core::ErrorKind::ExternalCommand, "{msg}").attach_context("msg", msg)
}

/// Read buffer for tools' stdout.
const STREAM_BUF: usize = 1 << 20;

/// Fills every read buffer completely (short only at the end of the data).
/// rustic_core's chunker reads into a 4 KiB buffer and truncates it to what
/// each read returned, never growing it again: on a pipe, where reads are
/// often short (`pg_dump` writes row by row), it ended up reading a few
/// bytes per system call (a 200 MB uncompressed dump took minutes).
struct FillReader<R>(R);

impl<R: Read> Read for FillReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.0.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // The stream is failing (the tool exited non-zero): the
                // data read so far does not matter.
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }
}

/// How to open one entry, counting what is read of it.
pub(crate) struct Metered(PartOpen, Arc<Tally>);

impl ReadSourceOpen for Metered {
    type Reader = Box<dyn Read + Send>;

    fn open(self) -> RusticResult<Self::Reader> {
        Ok(Box::new(Counted::new(self.0.open()?, self.1)))
    }
}

impl PartOpen {
    fn open(self) -> RusticResult<Box<dyn Read + Send>> {
        match self {
            PartOpen::Local(o, seen, failures) => {
                Ok(Box::new(Checked::new(o.open()?, seen, failures)))
            }
            PartOpen::Stream(cmd, failures) => match cmd.spawn_reader(failures.clone()) {
                Ok(r) => Ok(Box::new(FillReader(std::io::BufReader::with_capacity(
                    STREAM_BUF, r,
                )))),
                Err(e) => Err(open_failed(&failures, e)),
            },
            PartOpen::Bytes(data) => Ok(Box::new(std::io::Cursor::new(data))),
            PartOpen::Object(s3, info, failures) => {
                match s3::open_object(&s3, &info, failures.clone()) {
                    Ok(r) => Ok(Box::new(FillReader(r))),
                    Err(e) => Err(open_failed(&failures, e)),
                }
            }
        }
    }
}

type Entry = RusticResult<ReadSourceEntry<Metered>>;

impl ReadSource for Combined {
    type Open = Metered;
    type Iter = std::vec::IntoIter<Entry>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(None)
    }

    fn entries(&self) -> Self::Iter {
        let mut out: Vec<Entry> = Vec::new();
        for (part, tally) in &self.parts {
            let metered = |open: PartOpen| Metered(open, tally.clone());
            match part {
                Part::Local(walk) => {
                    let walked = std::mem::take(&mut *walk.entries.lock().expect("walk lock"));
                    out.extend(walked.into_iter().map(|w| {
                        Ok(ReadSourceEntry {
                            path: w.path,
                            node: w.node,
                            open: w
                                .open
                                .map(|(o, seen)| PartOpen::Local(o, seen, self.failures.clone()))
                                .map(metered),
                        })
                    }));
                }
                Part::Stream { dest, cmd } => {
                    let name = dest.file_name().unwrap_or(OsStr::new("dump"));
                    let meta = Metadata {
                        mode: Some(0o100_600),
                        mtime: Some(rustic_core::jiff::Timestamp::now()),
                        ..Default::default()
                    };
                    out.push(Ok(ReadSourceEntry {
                        path: dest.clone(),
                        node: Node::new_node(name, NodeType::File, meta),
                        open: Some(metered(PartOpen::Stream(
                            cmd.clone(),
                            self.failures.clone(),
                        ))),
                    }));
                }
                Part::Bytes { dest, data } => {
                    let name = dest.file_name().unwrap_or(OsStr::new("data"));
                    let meta = Metadata {
                        mode: Some(0o100_600),
                        mtime: Some(rustic_core::jiff::Timestamp::now()),
                        size: data.len() as u64,
                        ..Default::default()
                    };
                    out.push(Ok(ReadSourceEntry {
                        path: dest.clone(),
                        node: Node::new_node(name, NodeType::File, meta),
                        open: Some(metered(PartOpen::Bytes(data.clone()))),
                    }));
                }
                Part::Object { dest, s3, info } => {
                    let name = dest.file_name().unwrap_or(OsStr::new("object"));
                    let meta = Metadata {
                        mode: Some(0o100_600),
                        mtime: s3::mtime(info),
                        size: info.size,
                        ..Default::default()
                    };
                    out.push(Ok(ReadSourceEntry {
                        path: dest.clone(),
                        node: Node::new_node(name, NodeType::File, meta),
                        open: Some(metered(PartOpen::Object(
                            s3.clone(),
                            info.clone(),
                            self.failures.clone(),
                        ))),
                    }));
                }
            }
        }
        out.into_iter()
    }
}

/// Walks `src` with rustic's local source and re-roots the paths at
/// `dest`, leaving out entries that `exclude` matches (relative to `src`)
/// and everything under them. (Entries hold only metadata; file contents
/// are read later by the archiver.)
///
/// rustic's walker leaves out the directory it starts at: the archiver
/// then makes that directory only as the parent of what lies in it, so an
/// empty store directory (a fresh installation) would be missing from the
/// snapshot and the snapshot would neither verify nor restore. The
/// directory is therefore always added itself, with its own metadata.
fn local_entries(
    src: &Path,
    dest: &Path,
    exclude: &GlobSet,
    out: &mut Vec<Walked>,
) -> Result<(), BackupError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        BackupError::io("cannot read", src, std::io::Error::other(e.to_string()))
    };
    let md = std::fs::symlink_metadata(src).map_err(|e| BackupError::io("cannot read", src, e))?;
    if md.is_dir() {
        out.push(root_dir_entry(dest, &md));
    }
    let source = LocalSource::new(
        LocalSourceSaveOptions::default(),
        &Excludes::default(),
        &LocalSourceFilterOptions::default(),
        &[src],
    )
    .map_err(|e| unreadable(&e))?;
    for entry in source.entries() {
        let ReadSourceEntry { path, node, open } = entry.map_err(|e| unreadable(&e))?;
        let rel = path.strip_prefix(src).unwrap_or(Path::new(""));
        if rel.as_os_str().is_empty() && node.is_dir() {
            // The walker's start (should it ever yield it): added above.
            continue;
        }
        if is_excluded(exclude, rel) {
            continue;
        }
        let seen = Seen {
            path: path.clone(),
            size: node.meta.size,
            mtime: node.meta.mtime,
            inode: node.meta.inode,
        };
        out.push(Walked {
            path: if rel.as_os_str().is_empty() {
                dest.to_path_buf()
            } else {
                dest.join(rel)
            },
            node,
            open: open.map(|o| (o, seen)),
        });
    }
    Ok(())
}

/// The entry for a store's directory itself, stored at `dest` with the
/// directory's mode (in restic's encoding), times and owner.
fn root_dir_entry(dest: &Path, md: &std::fs::Metadata) -> Walked {
    use std::os::unix::fs::MetadataExt;
    let time = |secs: i64, nanos: i64| {
        rustic_core::jiff::Timestamp::new(secs, i32::try_from(nanos).unwrap_or(0)).ok()
    };
    let mtime = time(md.mtime(), md.mtime_nsec());
    let meta = Metadata {
        mode: Some(restic_dir_mode(md.mode())),
        mtime,
        atime: mtime,
        ctime: time(md.ctime(), md.ctime_nsec()),
        uid: Some(md.uid()),
        gid: Some(md.gid()),
        ..Default::default()
    };
    let name = dest.file_name().unwrap_or(OsStr::new("root"));
    Walked {
        path: dest.to_path_buf(),
        node: Node::new_node(name, NodeType::Dir, meta),
        open: None,
    }
}

/// A directory's POSIX `st_mode` as restic records it (Go's `fs.FileMode`:
/// permission bits, the directory bit, setuid/setgid/sticky bits).
fn restic_dir_mode(st_mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const STICKY: u32 = 1 << 20;
    let mut mode = DIR | (st_mode & 0o777);
    for (posix, go) in [(0o4000, SETUID), (0o2000, SETGID), (0o1000, STICKY)] {
        if st_mode & posix != 0 {
            mode |= go;
        }
    }
    mode
}
