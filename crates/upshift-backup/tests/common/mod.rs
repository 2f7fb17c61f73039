//! Shared test helpers: manifests from TOML, tags, file checksums.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use upshift_backup::{Phase, Tags};
use upshift_core::manifest::{parse_manifest, Manifest};

/// Parses a manifest; `[installation]` is prepended.
pub fn manifest(body: &str) -> Manifest {
    let src = format!(
        "[installation]\nname = \"test-inst\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n\n{body}"
    );
    parse_manifest("upshift.toml", &src).unwrap_or_else(|d| panic!("manifest: {d:?}"))
}

pub fn tags(version: &str) -> Tags {
    Tags {
        installation: "test-inst".into(),
        product: "demo".into(),
        version: version.into(),
        phase: Phase::PreUpgrade,
        run_id: "run-1".into(),
        config_fingerprint: "abc123".into(),
    }
}

/// Relative path → file content, for every regular file under `dir`.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(root, &p, out);
        } else {
            out.insert(
                p.strip_prefix(root).unwrap().display().to_string(),
                std::fs::read(&p).unwrap(),
            );
        }
    }
}

/// Puts `dir` first on PATH (for shims that imitate failing tools).
pub fn prepend_path(dir: &Path) {
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&old));
    // SAFETY: nextest runs each test in its own process; set before threads start.
    unsafe { std::env::set_var("PATH", std::env::join_paths(paths).unwrap()) };
}

/// Writes an executable shell script `dir/name`.
pub fn shim(dir: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}
