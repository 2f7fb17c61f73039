//! Releases side by side (`[release]` in the manifest): install the new one
//! while the old one serves, carry the config and local data over, flip the
//! link, and after a successful run remove releases no longer needed.
//! Without a `[release]` table there is nothing to do here.

use std::path::Path;

use upshift_core::manifest::{Manifest, ReleaseLayout};

use super::{At, Cx, Deployment};
use crate::error::{StepError, StepResult};

/// The `[release]` layout, when the manifest has one.
pub struct Releases {
    layout: Option<ReleaseLayout>,
}

/// `{dir}` and `{version}` in an install command.
fn substitute(cmd: &str, layout: &ReleaseLayout, version: &str) -> String {
    cmd.replace("{dir}", &layout.dir)
        .replace("{version}", version)
}

/// Runs `[release] install` for `version`; `false` when there is none.
fn install(cx: &Cx, layout: &ReleaseLayout, version: &str) -> StepResult<bool> {
    let Some(cmd) = &layout.install else {
        return Ok(false);
    };
    let t = cx.target;
    if cmd.contains("{dir}/{version}") {
        let dir = t.path(&layout.dir).join(version);
        t.host
            .create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    t.host.sh_within(
        &format!("install {version}"),
        &substitute(cmd, layout, version),
        &t.dir,
        &[
            ("UPSHIFT_VERSION", version),
            ("UPSHIFT_RELEASE_DIR", &layout.dir),
        ],
        crate::proc::COMMAND_LIMIT,
    )?;
    Ok(true)
}

impl Releases {
    pub fn of(m: &Manifest) -> Releases {
        Releases {
            layout: m.release.clone(),
        }
    }

    /// The version the release link points at (the name of its release
    /// directory), when there is a `[release]` layout and the link resolves.
    pub fn current(&self, target: &crate::Target) -> Option<String> {
        let layout = self.layout.as_ref()?;
        let to = target.host.canonicalize(&target.path(&layout.link)).ok()?;
        Some(to.file_name()?.to_string_lossy().into_owned())
    }

    /// Whether the link can be pointed at `version`: its release is
    /// installed, or `[release] install` can install it again (as a
    /// rollback to a pruned release does). The error says why not.
    pub fn can_switch_to(&self, target: &crate::Target, version: &str) -> Result<(), String> {
        let Some(layout) = &self.layout else {
            return Err("the manifest has no [release] layout".into());
        };
        let dir = target.path(Path::new(&layout.dir).join(version));
        if target.host.is_dir(&dir) || layout.install.is_some() {
            return Ok(());
        }
        Err(format!(
            "release {version} is not installed at {} and [release] has no install command",
            dir.display()
        ))
    }

    /// Points the release link at `version` (atomic rename of a new symlink).
    pub(crate) fn switch(&self, cx: &Cx, version: &str) -> StepResult<String> {
        let Some(layout) = &self.layout else {
            return Ok("no [release] layout: the driver switches versions".into());
        };
        let t = cx.target;
        let target = Path::new(&layout.dir).join(version);
        // A release pruned since the run passed through it (a rollback to
        // an intermediate version) is installed again.
        if !t.host.is_dir(&t.path(&target)) && !install(cx, layout, version)? {
            return Err(StepError::msg(format!(
                "release {version} is not installed at {} and [release] has no install command",
                t.path(&target).display()
            )));
        }
        if !t.host.is_dir(&t.path(&target)) {
            return Err(StepError::msg(format!(
                "release {version} is not installed at {}: check the install command in [release]",
                t.path(&target).display()
            )));
        }
        let link = t.path(&layout.link);
        t.host.symlink_replace(&target, &link).map_err(|e| {
            format!(
                "cannot point {} at {}: {e}",
                link.display(),
                target.display()
            )
        })?;
        Ok(format!("{} → {}", layout.link, target.display()))
    }
}

impl Deployment for Releases {
    fn key(&self) -> &'static str {
        "release"
    }

    /// Runs the install command for the hop's target, then checks the old
    /// release has everything `carry` names, so a missing path stops the
    /// run before the maintenance window.
    fn prepare(&self, cx: &Cx, at: At) -> StepResult {
        let hop = at.hop;
        let Some(layout) = &self.layout else {
            return Ok(Some("no [release] layout in the manifest".into()));
        };
        let t = cx.target;
        let detail = (!install(cx, layout, &hop.to)?)
            .then(|| "no install command in the manifest".to_string());
        let old = t.path(&layout.dir).join(&hop.from);
        for c in &layout.carry {
            let src = old.join(c.get_ref());
            if !t.host.exists(&src) {
                return Err(StepError::msg(format!(
                    "cannot carry `{}` into {}: {} does not exist; create it in the old release or remove it from `carry` in [release]",
                    c.get_ref(),
                    hop.to,
                    src.display()
                )));
            }
        }
        Ok(detail)
    }

    /// Copies the `carry` paths from the old release into the new one
    /// (replacing what the new release shipped), then flips the link.
    fn swap(&self, cx: &Cx, at: At, _record: Option<&serde_json::Value>) -> StepResult {
        let hop = at.hop;
        let Some(layout) = &self.layout else {
            return self.switch(cx, &hop.to).map(Some);
        };
        let t = cx.target;
        let releases = t.path(&layout.dir);
        let (old, new) = (releases.join(&hop.from), releases.join(&hop.to));
        if !t.host.is_dir(&new) {
            return Err(StepError::msg(format!(
                "release {} is not installed at {}: check the install command in [release]",
                hop.to,
                new.display()
            )));
        }
        let mut carried = Vec::new();
        for c in &layout.carry {
            let rel = c.get_ref();
            t.host
                .copy_replacing(&old.join(rel), &new.join(rel))
                .map_err(|e| {
                    format!(
                        "cannot carry `{rel}` from {} into {}: {e}",
                        old.display(),
                        new.display()
                    )
                })?;
            carried.push(rel.as_str());
        }
        let flipped = self.switch(cx, &hop.to)?;
        Ok(Some(if carried.is_empty() {
            flipped
        } else {
            format!("carried {}; {flipped}", carried.join(", "))
        }))
    }

    fn roll_back(
        &self,
        cx: &Cx,
        version: &str,
        _record: Option<&serde_json::Value>,
    ) -> StepResult<()> {
        self.switch(cx, version).map(|_| ())
    }

    /// `releases.prune`: keeps the run's first and last release and removes
    /// older release directories. Never fails the run: what cannot be
    /// removed is reported in the step's detail.
    fn finish(&self, cx: &Cx, from: &str, to: &str) -> StepResult {
        let Some(layout) = &self.layout else {
            return Ok(None);
        };
        let cat = &cx.loaded.catalog;
        let Ok(newest) = cat.parse_version(to) else {
            return Ok(Some(format!("{to} is not a version: nothing removed")));
        };
        let t = cx.target;
        let dir = t.path(&layout.dir);
        let current = t.host.canonicalize(&t.path(&layout.link)).ok();
        let mut removed = Vec::new();
        let mut problems = Vec::new();
        for (name, is_dir) in t.host.list_dir(&dir).unwrap_or_default() {
            let path = dir.join(&name);
            let old = !name.starts_with('.')
                && name != from
                && name != to
                && is_dir
                && cat.parse_version(&name).is_ok_and(|v| v < newest)
                && t.host.canonicalize(&path).ok() != current;
            if old {
                match t.host.remove_dir_all(&path) {
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
            cx.progress.note(&format!("warning: {p}"));
            detail += &format!("; {p}");
        }
        Ok(Some(detail))
    }
}
#[cfg(test)]
mod tests {
    use crate::host::Host;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn copy_replacing(src: &std::path::Path, dst: &std::path::Path) -> std::io::Result<()> {
        Host::Local.copy_replacing(src, dst)
    }

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
