//! A wrong repository key is bad input: `apply` exits 2, names the key
//! problem, and leaves the installation as it was, serving its old version.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::demo::Demo;

#[test]
fn apply_with_a_wrong_repository_key_exits_2_and_changes_nothing() {
    let demo = Demo::new();
    let backup = demo.upshift(&["-y", "backup"]);
    assert_eq!(backup.code, 0, "{}", backup.stderr);
    // With no `[backup] key` in the manifest, the key is generated beside
    // the repository; replace it with another key of the same shape.
    let key = demo.path(".upshift/repo.key");
    let old = std::fs::read_to_string(&key).unwrap();
    let other: String = old
        .trim_end()
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    assert_eq!(other.len(), old.trim_end().len());
    assert_ne!(other, old.trim_end());
    std::fs::write(&key, format!("{other}\n")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let before = demo.export();
    let configs: Vec<String> = ["config/auth.toml", "config/notes.toml"]
        .iter()
        .map(|p| std::fs::read_to_string(demo.path(p)).unwrap())
        .collect();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(
        run.code, 2,
        "a wrong key is bad input (exit 2), got {}: {}",
        run.code, run.stderr
    );
    assert!(
        run.stderr
            .contains("the repository key does not open the repository")
            && run.stderr.contains("[backup] key"),
        "stderr names the key problem: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(&other) && !run.stderr.contains(old.trim_end()),
        "no key is shown: {}",
        run.stderr
    );

    assert_eq!(demo.version(), "1.0.0");
    assert_eq!(demo.manifest_version(), "1.0.0");
    demo.assert_healthy();
    assert_eq!(demo.export(), before);
    let after: Vec<String> = ["config/auth.toml", "config/notes.toml"]
        .iter()
        .map(|p| std::fs::read_to_string(demo.path(p)).unwrap())
        .collect();
    assert_eq!(after, configs, "the config files are as they were");
    assert_eq!(
        std::fs::read_link(demo.path("current")).unwrap(),
        std::path::Path::new("releases/1.0.0")
    );
    // Nothing is left for an operator to resume or roll back.
    let again = demo.upshift(&["-y", "resume"]);
    assert_eq!(again.code, 2, "no interrupted run: {}", again.stderr);
}
