//! Room on disk, checked before each step that writes much: a backup (in
//! the repository, and the temporary directory for SQLite copies), the
//! install of a release beside the old one, configs staged in `.upshift/`.
//! A step refused here has written nothing; inside the window its refusal
//! is undone like any failure, with the old version started again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use upshift_core::plan::StepId;

use super::runner::Runner;
use crate::error::{StepError, StepResult};
use crate::host::Host;
use crate::journal::StepState;

/// Room the journal's own writes keep (a run journals a few kilobytes).
const JOURNAL_SLACK: u64 = 1 << 20;

impl Runner<'_> {
    /// Refuses step `id` of hop `h` when its file system lacks the room it
    /// needs, saying both sizes.
    pub(super) fn room_for(&mut self, h: usize, id: &StepId) -> StepResult<()> {
        match id {
            StepId::BackupOnline
            | StepId::BackupFinal
            | StepId::BackupDurable
            | StepId::BackupPost => self.room_for_backup(h, id),
            StepId::PrepareArtifacts => self.room_for_release(h),
            StepId::RenderConfig(name) => {
                let m = &self.setup.loaded.manifest;
                let t = self.target();
                let size = m.config.get(name).map_or(0, |c| {
                    t.host.read(&t.path(&c.path)).map_or(0, |b| b.len() as u64)
                });
                let dir = self.setup.state.path().to_path_buf();
                enough(
                    &Host::Local,
                    &dir,
                    size + JOURNAL_SLACK,
                    "the staged config",
                )
            }
            _ => Ok(()),
        }
    }

    fn room_for_backup(&mut self, h: usize, id: &StepId) -> StepResult<()> {
        let since = match id {
            // The final backup adds only what changed since the online one.
            StepId::BackupFinal => self.done_at(h, &StepId::BackupOnline)?,
            _ => None,
        };
        let (manifest, base) = self.backup_view();
        let size = upshift_backup::backup_size(&manifest, &base, since)?;
        let repo = upshift_backup::repository_path(&manifest, &base);
        let what = match size.unknown.as_slice() {
            [] => "the snapshot".to_string(),
            u => format!("the snapshot (not counting stores {})", u.join(", ")),
        };
        enough(&Host::Local, &repo, size.repository, &what)?;
        let tmp = std::env::temp_dir();
        enough(
            &Host::Local,
            &tmp,
            size.staging,
            "the copies of SQLite stores",
        )
    }

    /// The new release is about as big as the one it replaces.
    fn room_for_release(&self, h: usize) -> StepResult<()> {
        let Some(layout) = &self.setup.loaded.manifest.release else {
            return Ok(());
        };
        let hop = &self.plan.hops[h];
        let t = self.target();
        let (old, new) = (
            t.path(&layout.dir).join(&hop.from),
            t.path(&layout.dir).join(&hop.to),
        );
        if t.host.exists(&new) || !t.host.exists(&old) {
            return Ok(());
        }
        let size = du(&t.host, &old)?;
        enough(
            &t.host,
            &t.path(&layout.dir),
            size,
            &format!("release {}", hop.to),
        )
    }

    /// When step `id` of hop `h` was journaled done.
    fn done_at(&self, h: usize, id: &StepId) -> StepResult<Option<SystemTime>> {
        Ok(self
            .journal
            .events(&self.run_id)?
            .into_iter()
            .rev()
            .find(|e| e.hop == h && e.step == *id && e.state == StepState::Done)
            .map(|e| UNIX_EPOCH + Duration::from_millis(e.at_ms.max(0) as u64)))
    }
}

/// Refuses when the file system of `path` (or of its nearest existing
/// parent) on `host` has less than `need` bytes free.
fn enough(host: &Host, path: &Path, need: u64, what: &str) -> StepResult<()> {
    let at = existing(host, path);
    let free = host
        .free_space(&at)
        .map_err(|e| format!("cannot read free space of {}: {e}", at.display()))?;
    if free >= need {
        return Ok(());
    }
    Err(StepError::Failed {
        message: format!(
            "not enough disk space for {what} under {}: it needs about {}, and {} are free",
            at.display(),
            human(need),
            human(free)
        ),
        hint: Some(format!(
            "free at least {} there (or point it at a larger disk), then run the command again",
            human(need - free)
        )),
    })
}

fn existing(host: &Host, path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    while !host.exists(&p) && p.pop() {}
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

/// The bytes under `path` on `host` (`du -sk`).
fn du(host: &Host, path: &Path) -> StepResult<u64> {
    let cmd = format!(
        "du -sk -- '{}'",
        path.display().to_string().replace('\'', "'\\''")
    );
    let out = host
        .sh(&cmd, Path::new("/"), &[])
        .map_err(|e| format!("cannot measure {}: {e}", path.display()))?;
    let text = &out.stdout;
    let kib = text
        .split_whitespace()
        .next()
        .and_then(|k| k.parse::<u64>().ok());
    kib.map(|k| k * 1024).ok_or_else(|| {
        StepError::msg(format!(
            "cannot measure {}: `du` said {text:?}",
            path.display()
        ))
    })
}

/// `1.5 MiB`.
fn human(bytes: u64) -> String {
    const MIB: f64 = (1u64 << 20) as f64;
    match bytes {
        b if b < 1 << 20 => format!("{} KiB", b.div_ceil(1024)),
        b => format!("{:.1} MiB", b as f64 / MIB),
    }
}
