//! Releases side by side (`[release]` in the manifest): install the new one
//! while the old one serves, carry the config and local data over, flip the
//! link, and after a successful run remove releases no longer needed.
//!
//! Every function here is idempotent, so `resume` can run it again.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use upshift_core::manifest::ReleaseLayout;

use super::runner::Runner;
use crate::proc::sh_checked;

type StepResult = Result<Option<String>, String>;

/// `{dir}` and `{version}` in an install command.
pub(super) fn substitute(cmd: &str, layout: &ReleaseLayout, version: &str) -> String {
    cmd.replace("{dir}", &layout.dir)
        .replace("{version}", version)
}

impl Runner<'_> {
    fn layout(&self) -> Option<&ReleaseLayout> {
        self.setup.loaded.manifest.release.as_ref()
    }

    /// `prepare.artifacts`: runs the install command for the hop's target,
    /// then checks the old release has everything `carry` names, so a
    /// missing path stops the run before the maintenance window.
    pub(super) fn install_release(&self, h: usize) -> StepResult {
        let hop = &self.plan.hops[h];
        let Some(layout) = self.layout() else {
            return Ok(Some("no [release] layout in the manifest".into()));
        };
        let root = self.root();
        let mut detail = None;
        match &layout.install {
            Some(cmd) => {
                if cmd.contains("{dir}/{version}") {
                    let dir = root.join(&layout.dir).join(&hop.to);
                    fs::create_dir_all(&dir)
                        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                }
                let cmd = substitute(cmd, layout, &hop.to);
                sh_checked(
                    &format!("install {}", hop.to),
                    &cmd,
                    root,
                    &[
                        ("UPSHIFT_VERSION", &hop.to),
                        ("UPSHIFT_RELEASE_DIR", &layout.dir),
                    ],
                )?;
            }
            None => detail = Some("no install command in the manifest".to_string()),
        }
        let old = root.join(&layout.dir).join(&hop.from);
        for c in &layout.carry {
            let src = old.join(c.get_ref());
            if fs::symlink_metadata(&src).is_err() {
                return Err(format!(
                    "cannot carry `{}` into {}: {} does not exist; create it in the old release or remove it from `carry` in [release]",
                    c.get_ref(),
                    hop.to,
                    src.display()
                ));
            }
        }
        Ok(detail)
    }

    /// `swap.version`: copies the `carry` paths from the old release into the
    /// new one (replacing what the new release shipped), then flips the link.
    pub(super) fn swap_release(&self, h: usize) -> StepResult {
        let hop = &self.plan.hops[h];
        let Some(layout) = self.layout() else {
            return self.switch_release(&hop.to).map(Some);
        };
        let releases = self.root().join(&layout.dir);
        let (old, new) = (releases.join(&hop.from), releases.join(&hop.to));
        if !new.is_dir() {
            return Err(format!(
                "release {} is not installed at {}: check the install command in [release]",
                hop.to,
                new.display()
            ));
        }
        let mut carried = Vec::new();
        for c in &layout.carry {
            let rel = c.get_ref();
            copy_replacing(&old.join(rel), &new.join(rel)).map_err(|e| {
                format!(
                    "cannot carry `{rel}` from {} into {}: {e}",
                    old.display(),
                    new.display()
                )
            })?;
            carried.push(rel.as_str());
        }
        let flipped = self.switch_release(&hop.to)?;
        Ok(Some(if carried.is_empty() {
            flipped
        } else {
            format!("carried {}; {flipped}", carried.join(", "))
        }))
    }

    /// Points the release link at `version` (atomic rename of a new symlink).
    pub(super) fn switch_release(&self, version: &str) -> Result<String, String> {
        let Some(layout) = self.layout() else {
            return Ok("no [release] layout: the driver switches versions".into());
        };
        let root = self.root();
        let target = Path::new(&layout.dir).join(version);
        if !root.join(&target).is_dir() {
            return Err(format!(
                "release {version} is not installed at {}",
                root.join(&target).display()
            ));
        }
        let link = root.join(&layout.link);
        let tmp = root.join(format!("{}.upshift-tmp", layout.link));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)
            .and_then(|_| fs::rename(&tmp, &link))
            .map_err(|e| {
                format!(
                    "cannot point {} at {}: {e}",
                    link.display(),
                    target.display()
                )
            })?;
        Ok(format!("{} → {}", layout.link, target.display()))
    }

    /// `releases.prune`: keeps the run's first and last release and removes
    /// older release directories. Never fails the run: what cannot be
    /// removed is reported in the step's detail.
    pub(super) fn prune_releases(&self) -> StepResult {
        let Some(layout) = self.layout() else {
            return Ok(None);
        };
        let cat = &self.setup.loaded.catalog;
        let (from, to) = (&self.plan.from, &self.plan.to);
        let Ok(newest) = cat.parse_version(to) else {
            return Ok(Some(format!("{to} is not a version: nothing removed")));
        };
        let dir = self.root().join(&layout.dir);
        let current = fs::canonicalize(self.root().join(&layout.link)).ok();
        let mut removed = Vec::new();
        let mut problems = Vec::new();
        let entries = fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()));
        for e in entries.into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let old = !name.starts_with('.')
                && name != *from
                && name != *to
                && path.is_dir()
                && cat.parse_version(&name).is_ok_and(|v| v < newest)
                && fs::canonicalize(&path).ok() != current;
            if old {
                match fs::remove_dir_all(&path) {
                    Ok(()) => removed.push(name),
                    Err(e) => problems.push(format!("cannot remove {}: {e}", path.display())),
                }
            }
        }
        removed.sort();
        let mut detail = if removed.is_empty() {
            format!("kept {to} and {from}; nothing older to remove")
        } else {
            format!("kept {to} and {from}; removed {}", removed.join(", "))
        };
        for p in &problems {
            self.setup.progress.note(&format!("warning: {p}"));
            detail += &format!("; {p}");
        }
        Ok(Some(detail))
    }
}

/// Replaces `dst` with a copy of `src` (a file, a directory tree or a
/// symlink), keeping permission bits and, when allowed, ownership. The copy
/// is made beside `dst` and renamed into place, so `dst` is never half copied.
pub(super) fn copy_replacing(src: &Path, dst: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", src.display())))?;
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = tmp_beside(dst);
    remove_any(&tmp)?;
    copy_tree(src, &tmp, &meta)?;
    if fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
        remove_any(dst)?;
    }
    fs::rename(&tmp, dst)
}

fn tmp_beside(p: &Path) -> PathBuf {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
    p.with_file_name(format!(".{}.upshift-carry", name.unwrap_or_default()))
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn copy_tree(src: &Path, dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
    } else if ft.is_dir() {
        fs::create_dir(dst)?;
        for e in fs::read_dir(src)? {
            let e = e?;
            copy_tree(
                &e.path(),
                &dst.join(e.file_name()),
                &fs::symlink_metadata(e.path())?,
            )?;
        }
        // Set the mode last, so a read-only directory can be filled first.
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else if ft.is_file() {
        fs::copy(src, dst)?;
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else {
        return Err(io::Error::other(format!(
            "{} is neither a file, a directory nor a symlink",
            src.display()
        )));
    }
    // Keep the owner when we may (as root); otherwise the copy is ours.
    let _ = std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_replacing_copies_trees_keeps_modes_and_is_idempotent() {
        let d = tempfile::tempdir().unwrap();
        let (src, dst) = (d.path().join("old/data"), d.path().join("new/data"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/a.txt"), "a").unwrap();
        fs::write(src.join("secret"), "s").unwrap();
        fs::set_permissions(src.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", src.join("link")).unwrap();
        fs::create_dir_all(&dst).unwrap();
        fs::write(dst.join("shipped-default"), "x").unwrap();
        for _ in 0..2 {
            copy_replacing(&src, &dst).unwrap();
        }
        assert_eq!(fs::read_to_string(dst.join("sub/a.txt")).unwrap(), "a");
        assert_eq!(fs::read_to_string(dst.join("link")).unwrap(), "a");
        assert!(fs::symlink_metadata(dst.join("link")).unwrap().is_symlink());
        let mode = fs::metadata(dst.join("secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            !dst.join("shipped-default").exists(),
            "the carried tree replaces the shipped one"
        );
        // A single file replaces the new release's default.
        fs::write(d.path().join("old/config.json"), "{\"old\":1}").unwrap();
        fs::write(d.path().join("new/config.json"), "{}").unwrap();
        copy_replacing(
            &d.path().join("old/config.json"),
            &d.path().join("new/config.json"),
        )
        .unwrap();
        assert_eq!(
            fs::read_to_string(d.path().join("new/config.json")).unwrap(),
            "{\"old\":1}"
        );
        assert_eq!(
            fs::read_dir(d.path().join("new")).unwrap().count(),
            2,
            "no temp files left"
        );
    }
}
