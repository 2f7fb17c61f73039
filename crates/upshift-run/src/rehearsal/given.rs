//! A copy into an installation the operator described (`--staging
//! MANIFEST`): it must be another installation of the same product at the
//! same version, and share nothing with the source that a copy would
//! write over or talk to: no directory, store or config path, no address,
//! no database.

use std::path::{Path, PathBuf};

use upshift_core::manifest::{Loaded, Manifest, Store};

use super::error::{RehearsalError, Result};
use super::staging::Addresses;
use crate::executor::Setup;

/// Refuses a copy at `root` described by `copy` that shares something
/// with the source `source`.
pub fn check(source: &Setup, copy: &Loaded, root: &Path, addrs: &Addresses) -> Result<()> {
    let refuse = |why: String| {
        Err(RehearsalError::Unsupported(format!(
            "--staging {}: {why}",
            copy.file
        )))
    };
    let (src, dst) = (&source.loaded.manifest, &copy.manifest);
    if dst.installation.product.get_ref() != src.installation.product.get_ref() {
        return refuse(format!(
            "it is an installation of `{}`, not of `{}`",
            dst.installation.product.get_ref(),
            src.installation.product.get_ref()
        ));
    }
    if copy.version != source.loaded.version {
        return refuse(format!(
            "it is at {}, production at {}: a rehearsal starts from production's version; set `version = \"{}\"` in its [installation] once that release is installed there",
            copy.version, source.loaded.version, source.loaded.version
        ));
    }
    if dst.installation.host.is_some() {
        return refuse("it names another machine: a staging copy is made on this one".into());
    }
    if let Some((what, path)) = shared_path(src, &source.target.dir, dst, root) {
        return refuse(format!("its {what} {} is the source's too", path.display()));
    }
    for (name, s) in &dst.services {
        let named = [
            s.public_address.as_deref(),
            s.health.as_ref().and_then(|h| h.http.as_deref()),
        ];
        if let Some(a) = named.into_iter().flatten().find_map(|t| addrs.named_in(t)) {
            return refuse(format!(
                "service `{name}` uses {a}, an address of the source"
            ));
        }
    }
    for (name, s) in &dst.stores {
        if src.stores.values().any(|p| same_database(p, s)) {
            return refuse(format!(
                "store `{name}` is the source's own database; give it a database of its own"
            ));
        }
    }
    Ok(())
}

/// The first path both installations use: their directories (one
/// inside the other), or a store or config path.
fn shared_path(
    src: &Manifest,
    src_dir: &Path,
    dst: &Manifest,
    dst_dir: &Path,
) -> Option<(&'static str, PathBuf)> {
    let resolve = |dir: &Path, p: &str| {
        let p = dir.join(p);
        p.canonicalize().unwrap_or(p)
    };
    let (a, b) = (resolve(src_dir, "."), resolve(dst_dir, "."));
    if a.starts_with(&b) || b.starts_with(&a) {
        return Some(("directory", b));
    }
    let paths = |m: &Manifest, dir: &Path| -> Vec<PathBuf> {
        m.stores
            .values()
            .flat_map(|s| s.path.iter().chain(&s.paths))
            .chain(m.config.values().map(|c| &c.path))
            .map(|p| resolve(dir, p))
            .collect()
    };
    let theirs = paths(src, src_dir);
    paths(dst, dst_dir)
        .into_iter()
        .find(|p| theirs.contains(p))
        .map(|p| ("store or config path", p))
}

/// Whether two database stores name the same database on the same server.
fn same_database(a: &Store, b: &Store) -> bool {
    a.kind.get_ref() == b.kind.get_ref()
        && a.database.is_some()
        && a.database == b.database
        && a.host == b.host
        && a.port == b.port
}
