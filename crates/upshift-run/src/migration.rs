//! `upshift migrate --to DEST_MANIFEST`: an installation moved into another
//! one of the same product at the same release (another directory and
//! ports on this machine), per the host-migration runbooks: snapshot both,
//! stop the destination, put the source's stores and config in it (the
//! destination keeping its own `[relocate]` keys: listen address, database
//! connection), start it and check its health. A failure after the
//! destination's data was replaced puts its own snapshot back and starts
//! it again. The source is left serving, or, with `stop_source`, stopped
//! before its snapshot (so the copy holds every write) and left intact.

use std::path::Path;

use serde::Serialize;
use upshift_backup::Repository;
use upshift_core::Loaded;

use crate::executor::Setup;
use crate::journal::now_ms;
use crate::rehearsal::{
    fresh_snapshot, start_services, stop_services, Materialize, RehearsalError, Result,
};
use crate::state::StateDir;
use crate::Target;

/// One migration of `source` into the installation `dest` describes.
pub struct Migration<'a> {
    pub source: &'a Setup<'a>,
    pub dest: &'a Loaded,
    pub dest_manifest: &'a Path,
    /// Stop the source before its snapshot, and leave it stopped.
    pub stop_source: bool,
}

/// What a migration did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub id: String,
    pub source: String,
    pub destination: String,
    pub version: String,
    /// The source's snapshot the destination now holds.
    pub source_snapshot: String,
    /// The destination's own data before, kept to go back to.
    pub destination_snapshot: String,
    /// `serving` or `stopped`.
    pub source_left: &'static str,
}

/// A migration that failed after the destination's data was replaced:
/// the destination is back on its own snapshot (or could not be put back).
#[derive(Debug, thiserror::Error)]
#[error("migrating into {dest} failed: {cause}\n{after}")]
pub struct MigrationFailed {
    pub dest: String,
    pub cause: Box<RehearsalError>,
    pub after: String,
}

impl MigrationFailed {
    /// Bad input, found before anything changed (exit 2).
    pub fn is_bad_input(&self) -> bool {
        self.cause.is_bad_input()
    }
}

impl Migration<'_> {
    pub fn run(&self) -> std::result::Result<MigrationReport, MigrationFailed> {
        let fail = |cause: RehearsalError, after: &str| MigrationFailed {
            dest: self.dest_manifest.display().to_string(),
            cause: Box::new(cause),
            after: after.to_string(),
        };
        let untouched = "nothing was changed on the destination";
        let id = format!("m{}-{:04x}", now_ms(), std::process::id() & 0xffff);
        let dest_root = self.dest_manifest.parent().unwrap_or(Path::new("."));
        crate::rehearsal::check_copy(self.source, self.dest, dest_root)
            .and_then(|()| self.check_stores())
            .map_err(|e| fail(e, untouched))?;
        let dest_target = Target::local(dest_root);
        let dest = Setup {
            loaded: self.dest,
            manifest_path: self.dest_manifest.to_path_buf(),
            manifest_dir: dest_root.to_path_buf(),
            state: StateDir::beside(dest_root),
            target: dest_target,
            progress: self.source.progress,
        };
        let dest_repo = Repository::for_manifest(&self.dest.manifest, dest_root)
            .map_err(|e| fail(e.into(), untouched))?;
        let dest_snapshot =
            fresh_snapshot(&dest, &dest_repo, &id).map_err(|e| fail(e, untouched))?;
        if self.stop_source {
            stop_services(
                self.source.loaded,
                &self.source.target.dir,
                self.source.progress,
            );
        }
        let src = self.source;
        let repo = Repository::for_manifest(&src.loaded.manifest, &src.manifest_dir)
            .map_err(|e| fail(e.into(), untouched))?;
        let source_snapshot = fresh_snapshot(src, &repo, &id).map_err(|e| fail(e, untouched))?;
        stop_services(self.dest, dest_root, src.progress);
        let moved = Materialize {
            source: src,
            repo: &repo,
            snapshot: &source_snapshot,
        }
        .given(self.dest.clone(), self.dest_manifest)
        .and_then(|_| start_services(self.dest, dest_root));
        if let Err(e) = moved {
            return Err(fail(
                e,
                &self.put_back(&dest_repo, &dest_snapshot, dest_root),
            ));
        }
        Ok(MigrationReport {
            id,
            source: src.loaded.manifest.installation.name.clone(),
            destination: self.dest.manifest.installation.name.clone(),
            version: src.loaded.version.to_string(),
            source_snapshot,
            destination_snapshot: dest_snapshot,
            source_left: if self.stop_source {
                "stopped"
            } else {
                "serving"
            },
        })
    }

    /// Every store of the source has one of the same name and kind in the
    /// destination.
    fn check_stores(&self) -> Result<()> {
        for (name, s) in &self.source.loaded.manifest.stores {
            let kind = *s.kind.get_ref();
            match self.dest.manifest.stores.get(name) {
                Some(d) if *d.kind.get_ref() == kind => {}
                Some(d) => {
                    return Err(RehearsalError::Unsupported(format!(
                        "store `{name}` is {} in the source and {} in the destination: the data cannot move between kinds",
                        kind.as_str(),
                        d.kind.get_ref().as_str()
                    )))
                }
                None => {
                    return Err(RehearsalError::Unsupported(format!(
                        "the destination has no store `{name}`: add a [stores.{name}] of kind {} to {}",
                        kind.as_str(),
                        self.dest.file
                    )))
                }
            }
        }
        Ok(())
    }

    /// The destination's own snapshot restored and its services started;
    /// what happened, for the operator.
    fn put_back(&self, repo: &Repository, snapshot: &str, root: &Path) -> String {
        stop_services(self.dest, root, self.source.progress);
        let bp = self.source.progress.backup();
        if let Err(e) = repo.restore(snapshot, &self.dest.manifest, root, bp.as_ref()) {
            return format!("putting the destination's own snapshot {snapshot} back failed too: {e}; restore it with `upshift -m {} restore {snapshot}`", self.dest_manifest.display());
        }
        match start_services(self.dest, root) {
            Ok(()) => format!(
                "rolled back: the destination serves its own data again (snapshot {})",
                &snapshot[..snapshot.len().min(8)]
            ),
            Err(e) => format!("the destination's own data is back (snapshot {snapshot}) but it does not start: {e}"),
        }
    }
}
