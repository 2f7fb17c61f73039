//! Where a files or SQLite store may point. A restore rewrites a store's
//! directory to the snapshot and deletes what appeared since, so a path
//! that names more than the store (the installation itself, its
//! `.upshift/` state with the journal and snapshot repository, `/`) or
//! climbs out with `..` by mistake would delete data that is not the
//! store's.
//!
//! - Relative paths (to the manifest's directory, or to the installation's
//!   directory on a remote host) stay inside it: no `..`, not `.` itself,
//!   nothing under `.upshift/`.
//! - Absolute paths are allowed (`/opt/mattermost/data`: data often lives
//!   outside the directory that holds the manifest), except `/`.
//!
//! Database stores name servers and sockets, not paths, and are not
//! checked here.

use std::path::{Component, Path};

use super::model::{Store, StoreKind};
use crate::diag::Diagnostic;

/// Why `path` cannot be a store's path, if it cannot.
fn refusal(path: &str) -> Option<&'static str> {
    let p = Path::new(path);
    let mut normal = p.components().filter(|c| matches!(c, Component::Normal(_)));
    let first = normal.next();
    if p.components().any(|c| c == Component::ParentDir) {
        Some("climbs out with `..`")
    } else if first.is_none() {
        Some(if p.is_absolute() {
            "is the root of the file system"
        } else {
            "is the whole installation (its `.upshift/` state included)"
        })
    } else if !p.is_absolute() && first == Some(Component::Normal(".upshift".as_ref())) {
        Some("is inside `.upshift/`, upshift's own state (journal, snapshot repository)")
    } else {
        None
    }
}

/// Refuses a files or SQLite store path that would let a restore reach
/// beyond the store.
pub(super) fn check(file: &str, src: &str, name: &str, s: &Store) -> Result<(), Diagnostic> {
    if !matches!(s.kind.get_ref(), StoreKind::Files | StoreKind::Sqlite) {
        return Ok(());
    }
    for path in s.path.iter().chain(&s.paths) {
        let Some(why) = refusal(path) else {
            continue;
        };
        let message = format!("store `{name}`: path `{path}` {why}");
        let quoted = format!("\"{path}\"");
        let diag = match src.find(&quoted) {
            Some(at) => Diagnostic::at(file, src, at..at + quoted.len(), message),
            None => Diagnostic::file(file, message),
        };
        return Err(diag.with_help(format!(
            "name the store's own directory or file: relative to the manifest's directory without `..` (e.g. `data/{name}`), or absolute if it lives elsewhere (e.g. `/srv/app/{name}`)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn paths_that_reach_beyond_the_store_are_refused() {
        for bad in [
            "../../x",
            "data/../../x",
            "/",
            ".",
            "",
            "./",
            ".upshift/repo",
            "/srv/../x",
        ] {
            assert!(refusal(bad).is_some(), "{bad:?} accepted");
        }
        for good in [
            "data",
            "./data",
            "current/data",
            "/opt/mattermost/data",
            "db/app.db",
            ".data",
        ] {
            assert_eq!(refusal(good), None, "{good:?} refused");
        }
    }
}
