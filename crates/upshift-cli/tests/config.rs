//! `upshift config migrate` through the real binary.

mod common;

use common::{upshift, write};

const VALUES: &str = "# prod values\nglobal:\n  image:\n    tag: mender-3.7.7\n    username: \"robot\"\n    password: \"Pa55-w0rd-xyz\"\n  mongodb:\n    URL: \"mongodb://m:db-Secret-1@mongo:27017\"\ngui:\n  httpPort: 80 # old\n";

#[test]
fn migrate_prints_a_masked_diff_and_only_writes_with_write() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "values.yml", VALUES);
    let r = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "mender",
            "--from",
            "3.7.7",
            "--to",
            "4.0.0",
            "values.yml",
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("+  # image:"), "{}", r.stdout);
    assert!(r.stdout.contains("kubectl create secret docker-registry"));
    for secret in ["Pa55-w0rd-xyz", "robot", "db-Secret-1"] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{secret} printed"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        VALUES,
        "dry run leaves the file alone"
    );

    let j = upshift(dir.path())
        .args([
            "--json",
            "config",
            "migrate",
            "--product",
            "mender",
            "--from",
            "3.7.7",
            "--to",
            "4.0.0",
            "values.yml",
            "--write",
        ])
        .run();
    assert_eq!(j.code, 0, "{}", j.stderr);
    let v = j.json();
    assert_eq!(v["written"], true);
    assert!(v["migration"]["applied"].as_array().unwrap().len() > 3);
    assert!(!j.stdout.contains("Pa55-w0rd-xyz"));
    let after = std::fs::read_to_string(&f).unwrap();
    assert!(after.starts_with("# prod values\nglobal:\n"), "{after}");
    assert!(!after.contains("Pa55-w0rd-xyz"));
}

#[test]
fn bad_input_exits_2_with_line_and_column_or_the_known_values() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.yml", "a:\n  b: 1\n c: [\n");
    let r = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "mender",
            "--from",
            "3.7.7",
            "--to",
            "4.0.0",
            "bad.yml",
        ])
        .run();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.yml:3:"), "{}", r.stderr);

    write(dir.path(), "ok.yml", "a: 1\n");
    let r = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "nope",
            "--from",
            "1",
            "--to",
            "2",
            "ok.yml",
        ])
        .run();
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("mattermost") && r.stderr.contains("mender"),
        "{}",
        r.stderr
    );

    let r = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "mender",
            "--from",
            "3.7.9",
            "--to",
            "4.0.0",
            "ok.yml",
        ])
        .run();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("3.7.7"), "{}", r.stderr);
}

#[test]
fn merge_mode_keeps_the_destinations_connection() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src.json", "{\n  \"ServiceSettings\": {\"ListenAddress\": \":8065\", \"SiteURL\": \"https://old\"},\n  \"SqlSettings\": {\"DataSource\": \"postgres://u:src-pw-123@old/mm\"}\n}\n");
    let f = write(dir.path(), "config.json", "{\n  \"ServiceSettings\": {\"ListenAddress\": \"127.0.0.1:8065\"},\n  \"SqlSettings\": {\"DataSource\": \"postgres://u:dst-pw-456@new/mm\"}\n}\n");
    let r = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "mattermost",
            "--from",
            "3.0.0",
            "--to",
            "3.0.0",
            "config.json",
            "--merge-from",
            "src.json",
            "--write",
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stdout.contains("src-pw-123") && !r.stdout.contains("dst-pw-456"),
        "{}",
        r.stdout
    );
    let after = std::fs::read_to_string(&f).unwrap();
    assert!(
        after.contains("https://old")
            && after.contains("dst-pw-456")
            && after.contains("127.0.0.1:8065"),
        "{after}"
    );
}

/// A rule that moves a secret out of the file writes that secret's file
/// (0600) with `--write`, so the rewritten config points at a file that
/// exists and holds the secret; it is never printed.
#[test]
fn write_creates_the_secret_file_the_migrated_config_points_at() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    write(
        dir.path(),
        "config/auth.toml",
        "listen = \"127.0.0.1:7301\"\nsecret = \"s3cr3t-Value-42\"\n",
    );
    let r = upshift(dir.path())
        .args([
            "config",
            "migrate",
            "--product",
            "demo",
            "--from",
            "1.1.0",
            "--to",
            "2.0.0",
            "config/auth.toml",
            "--write",
        ])
        .run();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("s3cr3t-Value-42") && !r.stderr.contains("s3cr3t-Value-42"));
    let migrated = std::fs::read_to_string(dir.path().join("config/auth.toml")).unwrap();
    assert!(
        migrated.contains("secret_file = \"secrets/auth.secret\""),
        "{migrated}"
    );
    assert!(!migrated.contains("s3cr3t-Value-42"), "{migrated}");
    let secret = dir.path().join("secrets/auth.secret");
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap().trim(),
        "s3cr3t-Value-42"
    );
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
