//! `upshift restore` on the live demo installation, through the real
//! binary: a snapshot of another version (refused, or the release switched
//! with the data), `--store`, and `--into DIR`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::demo::Demo;
use common::writer::Writer;

/// A manual snapshot of the demo now: its short id.
fn backup(demo: &Demo) -> String {
    let b = demo.upshift(&["--json", "backup"]);
    assert_eq!(b.code, 0, "{}", b.stderr);
    b.json()["short_id"].as_str().unwrap().to_string()
}

/// Adds notes through the running release, so the data differs from any
/// earlier snapshot; returns the export with them.
fn write_notes(demo: &Demo, mark: &str) -> String {
    let w = Writer::start(demo, mark.to_string());
    w.wait_for_more(2);
    assert!(w.finish().len() >= 2);
    demo.export()
}

/// Every file under `dir` and a hash of its bytes (a link: of where it
/// points), less upshift's own `.upshift/` state (the lock is recorded
/// there) and the services' request logs under `logs/` (the test's own
/// health checks append to them).
fn files(dir: &Path) -> BTreeMap<PathBuf, u64> {
    fn hash(bytes: &[u8]) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    }
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, u64>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel == Path::new(".upshift") || rel == Path::new("logs") {
                continue;
            }
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(root, &p, out);
            } else if ft.is_symlink() {
                let to = std::fs::read_link(&p).unwrap();
                out.insert(rel, hash(to.as_os_str().as_encoded_bytes()));
            } else {
                out.insert(rel, hash(&std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts `dir` holds exactly the files `before` recorded, naming those that differ.
fn assert_unchanged(dir: &Path, before: &BTreeMap<PathBuf, u64>) {
    let now = files(dir);
    let changed: Vec<_> = before
        .iter()
        .filter(|(p, h)| now.get(*p) != Some(h))
        .map(|(p, _)| p)
        .chain(now.keys().filter(|p| !before.contains_key(*p)))
        .collect();
    assert!(
        changed.is_empty(),
        "changed in the installation: {changed:?}"
    );
}

#[test]
fn a_snapshot_of_another_version_is_refused_or_switches_the_release_with_the_data() {
    let demo = Demo::new();
    let at_1 = demo.export();
    let id = backup(&demo);
    let up = demo.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_eq!(up.code, 0, "{}", up.stderr);
    let at_3 = write_notes(&demo, "after-upgrade");
    assert_ne!(at_3, at_1);

    // Without -y (and no terminal) the question is asked and not confirmed.
    let asked = demo.upshift(&["restore", &id]);
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    assert!(
        asked.stderr.contains(&format!(
            "snapshot {id}… was taken at 1.0.0; the installation is at 3.0.0: restore it and switch the release to 1.0.0?"
        )),
        "{}",
        asked.stderr
    );
    demo.assert_serves("3.0.0", &at_3);
    assert_eq!(demo.manifest_version(), "3.0.0");

    // Without a [release] layout there is nothing to switch: refused, with both fixes.
    let manifest = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let (without, _) = manifest.split_once("[release]").unwrap();
    std::fs::write(demo.path("upshift.toml"), without).unwrap();
    let refused = demo.upshift(&["-y", "restore", &id]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    for says in [
        "was taken at 1.0.0; the installation is at 3.0.0",
        "--force",
        "upshift rollback --to 1.0.0",
        "nothing changed",
    ] {
        assert!(refused.stderr.contains(says), "{says}: {}", refused.stderr);
    }
    std::fs::write(demo.path("upshift.toml"), &manifest).unwrap();
    demo.assert_serves("3.0.0", &at_3);

    // With -y: stopped, restored, switched to 1.0.0 (its release pruned
    // since, so installed again), started healthy with the snapshot's notes.
    std::fs::remove_dir_all(demo.path("releases/1.0.0")).unwrap();
    let r = demo.upshift(&["-y", "--json", "restore", &id]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["switched_to"], "1.0.0", "{report}");
    assert_eq!(report["installation_version"], "3.0.0");
    assert_eq!(report["taken_at"], "1.0.0");
    demo.assert_serves("1.0.0", &at_1);
    assert_eq!(demo.manifest_version(), "1.0.0");
    // Now at the snapshot's version: a plain restore again.
    let again = demo.upshift(&["-y", "--json", "restore", &id, "--force"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["switched_to"], serde_json::Value::Null);
    assert_eq!(again.json()["forced_version"], false);
}

#[test]
fn store_restores_only_that_store_and_config_only_when_asked() {
    let demo = Demo::new();
    let manifest = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let with_uploads =
        format!("{manifest}\n[stores.uploads]\nkind = \"files\"\npath = \"uploads\"\n");
    std::fs::write(demo.path("upshift.toml"), with_uploads).unwrap();
    std::fs::create_dir(demo.path("uploads")).unwrap();
    std::fs::write(demo.path("uploads/a.txt"), "as snapshotted").unwrap();
    let auth = std::fs::read_to_string(demo.path("config/auth.toml")).unwrap();
    let id = backup(&demo);

    std::fs::write(demo.path("uploads/a.txt"), "newer").unwrap();
    std::fs::write(demo.path("uploads/b.txt"), "appeared since").unwrap();
    std::fs::write(demo.path("config/auth.toml"), format!("{auth}# edited\n")).unwrap();
    let newer_notes = write_notes(&demo, "kept");

    // An unknown store: bad input, with a guess and what the snapshot holds.
    let unknown = demo.upshift(&["-y", "restore", &id, "--store", "upload"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("did you mean `uploads`?")
            && unknown.stderr.contains("it holds: notes, uploads"),
        "{}",
        unknown.stderr
    );
    assert_eq!(
        std::fs::read_to_string(demo.path("uploads/a.txt")).unwrap(),
        "newer"
    );

    // Only `uploads` (the services run: a files store they do not use, so --force).
    let r = demo.upshift(&[
        "-y", "--json", "restore", &id, "--store", "uploads", "--force",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        report["store_paths"]["uploads"][0],
        demo.path("uploads").display().to_string()
    );
    assert!(report["store_paths"].get("notes").is_none(), "{report}");
    assert_eq!(report["config_paths"], serde_json::json!({}));
    assert_eq!(
        std::fs::read_to_string(demo.path("uploads/a.txt")).unwrap(),
        "as snapshotted"
    );
    assert!(!demo.path("uploads/b.txt").exists());
    assert_eq!(
        demo.export(),
        newer_notes,
        "the notes store keeps its newer content"
    );
    assert!(
        std::fs::read_to_string(demo.path("config/auth.toml"))
            .unwrap()
            .ends_with("# edited\n"),
        "config files come back only with --config"
    );

    let r = demo.upshift(&[
        "-y", "restore", &id, "--store", "uploads", "--config", "--force",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(demo.path("config/auth.toml")).unwrap(),
        auth
    );
    assert_eq!(demo.export(), newer_notes);
}

#[test]
fn into_writes_beside_the_installation_and_changes_nothing_of_it() {
    let demo = Demo::new();
    let at_backup = demo.export();
    let auth = std::fs::read(demo.path("config/auth.toml")).unwrap();
    let id = backup(&demo);
    write_notes(&demo, "since");
    let before = files(&demo.dir);

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("restored");
    let r = demo.upshift(&["--json", "restore", &id, "--into", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dir = dir.canonicalize().unwrap();
    let report = r.json();
    assert_eq!(report["into"], dir.display().to_string());
    assert_eq!(
        report["store_paths"]["notes"][0],
        dir.join("data/notes.db").display().to_string()
    );
    assert_eq!(std::fs::read(dir.join("config/auth.toml")).unwrap(), auth);
    // The restored database, read with the restored config, holds the
    // snapshot's notes.
    let export = std::process::Command::new(demo.path("current/bin/upshift-demo"))
        .args(["export", "--config", "config/notes.toml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    assert_eq!(String::from_utf8(export.stdout).unwrap(), at_backup);
    assert_unchanged(&demo.dir, &before);
    demo.assert_healthy();

    // Into a directory that is not empty: only with --force.
    let again = demo.upshift(&["restore", &id, "--into", dir.to_str().unwrap()]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("is not empty"), "{}", again.stderr);
    let forced = demo.upshift(&["restore", &id, "--into", dir.to_str().unwrap(), "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);

    // Inside the installation, or holding it: refused before anything is written.
    for inside in ["restored", "data/restored", "."] {
        let r = demo.upshift(&["restore", &id, "--into", inside]);
        assert_eq!(r.code, 2, "{inside}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("a restore into it would change the installation"),
            "{}",
            r.stderr
        );
        assert!(!demo.path(inside).join("config").exists() || inside == ".");
    }
    let parent = demo.dir.parent().unwrap().to_str().unwrap().to_string();
    let r = demo.upshift(&["restore", &id, "--into", &parent, "--force"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds"), "{}", r.stderr);
    assert_unchanged(&demo.dir, &before);
}
