//! Whether the journal a run writes is still the one at its path: a
//! journal deleted (or replaced) during a run must stop it, not leave it
//! journaling into a file nobody will read. An open SQLite connection
//! keeps working on a deleted file, so this is checked by the file's
//! identity, and the copy the connection still holds can be written back.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Journal;
use crate::error::{Result, RunError};

/// A file's device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileId(u64, u64);

impl FileId {
    pub(super) fn of(path: &Path) -> Option<FileId> {
        std::fs::metadata(path)
            .ok()
            .map(|m| FileId(m.dev(), m.ino()))
    }
}

/// `journal.db` + `-wal`: the SQLite side file of `path`.
pub(super) fn side_file(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a run's journal is, seen from the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// The file at the path is the one opened, and it holds the run.
    InPlace,
    /// No file at the journal's path.
    Missing,
    /// Another file is at the path (a new journal, a copy put back).
    Replaced,
    /// The file is the one opened, but the run is not in it.
    RunMissing,
}

impl Whereabouts {
    /// What happened to the journal, in words (`the journal … was deleted`).
    pub fn said(&self) -> &'static str {
        match self {
            Whereabouts::InPlace => "is in place",
            Whereabouts::Missing => "was deleted",
            Whereabouts::Replaced => "was replaced by another file",
            Whereabouts::RunMissing => "no longer holds the run",
        }
    }
}

impl Journal {
    /// Whether the file at the journal's path is still the one this
    /// handle opened, holding run `run`.
    pub fn whereabouts(&self, run: &str) -> Whereabouts {
        match FileId::of(&self.path) {
            None => Whereabouts::Missing,
            Some(id) if Some(id) != self.file => Whereabouts::Replaced,
            Some(_) => match self.run(run) {
                Ok(Some(_)) => Whereabouts::InPlace,
                _ => Whereabouts::RunMissing,
            },
        }
    }

    /// Writes what this handle still holds (every run and step, the file
    /// being deleted or not) to a new file: back at the journal's path
    /// when nothing is there, else beside it as `journal.db.<run>.recovered`.
    /// Never overwrites a file. Returns where it went.
    pub fn write_copy(&self, run: &str) -> Result<PathBuf> {
        let dest = match self.path.exists() {
            false => self.path.clone(),
            true => side_file(&self.path, &format!(".{run}.recovered")),
        };
        let tmp = side_file(&self.path, &format!(".{}.tmp", std::process::id()));
        let io = |e: std::io::Error| RunError::Failed(format!("{}: {e}", dest.display()));
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let _ = std::fs::remove_file(&tmp);
        let text = tmp.to_string_lossy().into_owned();
        self.conn
            .execute("VACUUM INTO ?1", [&text])
            .map_err(|e| self.err(e))?;
        // A hard link fails rather than replace a file that appeared meanwhile.
        let linked = std::fs::hard_link(&tmp, &dest);
        let _ = std::fs::remove_file(&tmp);
        linked.map_err(io)?;
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{now_ms, Outcome, RunRecord};

    fn a_run(j: &Journal) {
        j.begin_run(&RunRecord {
            id: "r1".into(),
            installation: "i".into(),
            product: "p".into(),
            from: "1".into(),
            to: "2".into(),
            started_ms: now_ms(),
            ended_ms: None,
            maintenance_ms: 0,
            outcome: Outcome::Running,
            at_version: None,
            error: None,
            snapshots: vec![],
            plan_json: "{}".into(),
        })
        .unwrap();
    }

    #[test]
    fn a_deleted_journal_is_noticed_and_written_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".upshift/journal.db");
        let j = Journal::open(&path).unwrap();
        a_run(&j);
        assert_eq!(j.whereabouts("r1"), Whereabouts::InPlace);
        std::fs::remove_dir_all(dir.path().join(".upshift")).unwrap();
        assert_eq!(j.whereabouts("r1"), Whereabouts::Missing);
        assert_eq!(j.write_copy("r1").unwrap(), path);
        let back = Journal::open(&path).unwrap();
        assert_eq!(back.runs("i").unwrap().len(), 1);
        assert_eq!(back.whereabouts("r1"), Whereabouts::InPlace);
        assert_eq!(j.whereabouts("r1"), Whereabouts::Replaced);
        // The path is taken now: the next copy goes beside it.
        let beside = j.write_copy("r1").unwrap();
        assert_eq!(beside, dir.path().join(".upshift/journal.db.r1.recovered"));
    }
}
