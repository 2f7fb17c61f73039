//! A snapshot whose recorded paths were tampered with (`..`) cannot make a
//! restore write outside its store, in place or with `--into`.

use std::path::Path;

use upshift_core::manifest::parse_manifest;

use crate::meta::{Phase, SnapshotMeta, Tags};
use crate::{BackupError, NoProgress, Relocation, Repository, RestoreScope};

const MANIFEST: &str = "[installation]\nname = \"i\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n\n\
    [stores.uploads]\nkind = \"files\"\npath = \"data/uploads\"\n";

/// Rewrites snapshot `id`'s description with `edit` applied to its JSON.
fn tamper(repo: &Repository, id: &str, edit: impl Fn(&mut SnapshotMeta)) -> String {
    let r = repo.open().unwrap();
    let (mut snap, mut meta) = repo.find(&r, id).unwrap();
    edit(&mut meta);
    snap.description = Some(serde_json::to_string(&meta).unwrap());
    r.delete_snapshots(&[snap.id]).unwrap();
    r.save_snapshots(vec![snap]).unwrap();
    repo.snapshots().unwrap()[0].short_id.clone()
}

#[test]
fn recorded_paths_with_dot_dot_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("inst");
    std::fs::create_dir_all(base.join("data/uploads")).unwrap();
    std::fs::write(base.join("data/uploads/a.txt"), "a").unwrap();
    let m = parse_manifest("upshift.toml", MANIFEST).unwrap();
    let repo = Repository::for_manifest(&m, &base).unwrap();
    let tags = Tags {
        installation: "i".into(),
        product: "demo".into(),
        version: "1.0.0".into(),
        phase: Phase::Manual,
        run_id: "r".into(),
        config_fingerprint: "f".into(),
    };
    let snap = repo.backup(&m, &base, &tags, &NoProgress).unwrap();
    let escape = tmp.path().join("escaped");
    let climbing = format!("{}/../escaped", base.display());
    let id = tamper(&repo, &snap.short_id, |meta| {
        if let Some(crate::StoreMeta::Files { paths, .. }) = meta.stores.get_mut("uploads") {
            paths[0].original = climbing.clone();
        }
    });

    let in_place = repo.restore(&id, &m, &base, &NoProgress).unwrap_err();
    assert!(
        matches!(in_place, BackupError::UnsafePath { .. }),
        "{in_place}"
    );
    let out = tmp.path().join("out");
    let scope = RestoreScope {
        into: Some(Relocation::new(&out, &base)),
        ..RestoreScope::everything()
    };
    let into = repo
        .restore_scoped(&id, &m, &base, &scope, &NoProgress)
        .unwrap_err();
    assert!(matches!(into, BackupError::UnsafePath { .. }), "{into}");
    assert!(!escape.exists() && !out.exists(), "nothing was written");
    assert!(!Path::new(&climbing).exists());
}
