//! `--into DIR`: where a restore beside the installation may write.
//! DIR may not be inside the installation, hold it, nor overlap a path a
//! store or config file lives at, so that nothing of the installation can
//! change; an existing DIR must be empty unless `--force`.

use std::path::{Component, Path, PathBuf};

use upshift_backup::DataOnHost;
use upshift_core::manifest::Manifest;

use crate::error::CliError;

/// DIR made absolute and resolved (through its nearest existing parent),
/// once checked.
pub fn checked_dir(
    dir: &Path,
    m: &Manifest,
    manifest_dir: &Path,
    target: &upshift_run::Target,
    force: bool,
) -> Result<PathBuf, CliError> {
    let resolved = resolve(dir)?;
    for (what, path) in installation_paths(m, manifest_dir, target) {
        if resolved.starts_with(&path) || path.starts_with(&resolved) {
            let how = if resolved.starts_with(&path) {
                "is inside"
            } else {
                "holds"
            };
            return Err(CliError::BadInput(format!(
                "--into {}: {} {how} {what} {}; a restore into it would change the installation. Choose a directory outside it, e.g. --into /tmp/{}-restored",
                dir.display(),
                resolved.display(),
                path.display(),
                m.installation.name
            )));
        }
    }
    let non_empty = std::fs::read_dir(&resolved).is_ok_and(|mut d| d.next().is_some());
    if non_empty && !force {
        return Err(CliError::BadInput(format!(
            "--into {}: {} is not empty; choose a new or empty directory, or pass --force to write into it (what the snapshot holds there is replaced)",
            dir.display(),
            resolved.display()
        )));
    }
    if resolved.exists() && !resolved.is_dir() {
        return Err(CliError::BadInput(format!(
            "--into {}: {} is not a directory",
            dir.display(),
            resolved.display()
        )));
    }
    Ok(resolved)
}

/// `dir`, absolute, with links and `..` of its existing part resolved.
fn resolve(dir: &Path) -> Result<PathBuf, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::Failed(format!("cannot read the current directory: {e}")))?;
    let abs = cwd.join(dir);
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(name)) => {
                rest.push(name.to_os_string());
                existing = p;
            }
            _ => break,
        }
    }
    let mut out = existing.canonicalize().map_err(|e| {
        CliError::BadInput(format!("--into {}: cannot resolve it: {e}", dir.display()))
    })?;
    for name in rest.iter().rev() {
        if Path::new(name)
            .components()
            .any(|c| c == Component::ParentDir)
        {
            return Err(CliError::BadInput(format!(
                "--into {}: `..` after a directory that does not exist yet; write the path without it",
                dir.display()
            )));
        }
        out.push(name);
    }
    Ok(out)
}

/// What of the installation lies on this machine: the manifest's
/// directory (with upshift's state), the installation's directory, and
/// every files or SQLite store's and config file's path.
fn installation_paths(
    m: &Manifest,
    manifest_dir: &Path,
    target: &upshift_run::Target,
) -> Vec<(&'static str, PathBuf)> {
    let mut out = vec![("the manifest's directory", manifest_dir.to_path_buf())];
    if target.is_remote() {
        return out;
    }
    out.push(("the installation", target.dir.clone()));
    let resolved = |p: &str| {
        let p = target.dir.join(p);
        p.canonicalize().unwrap_or(p)
    };
    for s in m.stores.values() {
        if upshift_backup::data_on_host(*s.kind.get_ref()) != DataOnHost::Elsewhere {
            for p in s.path.iter().chain(&s.paths) {
                out.push(("the store path", resolved(p)));
            }
        }
    }
    for c in m.config.values() {
        out.push(("the config file", resolved(&c.path)));
    }
    out
}
