//! Did the data change since the online backup? Size, mtime and inode of
//! every file of every store and config file, hashed. When nothing changed
//! between the online backup and the stop, the online snapshot is exact and
//! serves as the final one, so the maintenance window does not copy the
//! data again. On a remote host the same facts come from one `find` there.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use upshift_core::manifest::Manifest;

use super::runner::Runner;
use crate::host::{q, Host, Target};

impl Runner<'_> {
    /// The fingerprint; `None` when a store is not made of files (a database
    /// server, a volume, a bucket), whose changes cannot be seen this way,
    /// or when the remote host cannot tell.
    pub(super) fn store_fingerprint(&self) -> Option<String> {
        let t = self.target();
        let paths = watched(&self.setup.loaded.manifest, t)?;
        match &t.host {
            Host::Local => Some(digest(local_lines(&paths))),
            Host::Ssh(_) => remote_lines(t, &paths).map(digest),
        }
    }
}

/// The paths to watch, each with whether it is a tree to walk.
fn watched(m: &Manifest, t: &Target) -> Option<Vec<(PathBuf, bool)>> {
    let mut out = Vec::new();
    for s in m.stores.values() {
        let files = upshift_backup::watched_files(s)?;
        out.extend(files.into_iter().map(|f| (t.path(f.path), f.tree)));
    }
    out.extend(m.config.values().map(|c| (t.path(&c.path), false)));
    Some(out)
}

/// One line per file: `path size mtime inode`, or `path -` when it is
/// missing or empty (an empty WAL is the same as none).
fn line(path: &str, size: u64, rest: &str) -> String {
    if size > 0 {
        format!("{path} {size} {rest}")
    } else {
        format!("{path} -")
    }
}

fn local_lines(paths: &[(PathBuf, bool)]) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut files = Vec::new();
    for (p, tree) in paths {
        if *tree {
            walk(p, &mut files);
        } else {
            files.push(p.clone());
        }
    }
    files
        .iter()
        .map(|f| {
            let shown = f.display().to_string();
            match std::fs::symlink_metadata(f) {
                Ok(md) => line(
                    &shown,
                    md.len(),
                    &format!("{}.{:09} {}", md.mtime(), md.mtime_nsec(), md.ino()),
                ),
                Err(_) => line(&shown, 0, ""),
            }
        })
        .collect()
}

/// The same facts from GNU `find` on the other machine, in one round trip.
fn remote_lines(t: &Target, paths: &[(PathBuf, bool)]) -> Option<Vec<String>> {
    let mut script = String::new();
    for (p, tree) in paths {
        let depth = if *tree { "" } else { " -maxdepth 0" };
        script += &format!(
            "if [ -e {p} ] || [ -L {p} ]; then find {p}{depth} ! -type d -printf '%s %T@ %i %p\\n' | LC_ALL=C sort -k4; else echo '0 - - '{p}; fi; ",
            p = q(p)
        );
    }
    let out = t.host.sh(&script, Path::new("/"), &[]).ok()?;
    if !out.ok {
        return None;
    }
    out.stdout
        .lines()
        .map(|l| {
            let mut f = l.splitn(4, ' ');
            let (size, mtime, ino, path) = (f.next()?, f.next()?, f.next()?, f.next()?);
            Some(line(path, size.parse().ok()?, &format!("{mtime} {ino}")))
        })
        .collect()
}

fn digest(lines: Vec<String>) -> String {
    let mut h = Sha256::new();
    for l in lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `p` (or `p` itself), sorted.
fn walk(p: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(p) {
        Ok(entries) => {
            let mut v: Vec<_> = entries.flatten().map(|e| e.path()).collect();
            v.sort();
            for e in v {
                if e.is_dir() && !e.is_symlink() {
                    walk(&e, out);
                } else {
                    out.push(e);
                }
            }
        }
        Err(_) => out.push(p.to_path_buf()),
    }
}
