//! `upshift migrate --to DEST_MANIFEST`: the demo moved into another demo
//! installation on other ports (real processes, SQLite): the destination
//! serves the source's notes and keeps its own listen addresses; a failure
//! after its data was replaced puts its own data back.

mod common;

use common::demo::Demo;

fn count(export: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(export).unwrap();
    v.as_array().unwrap().len()
}

#[test]
fn the_destination_serves_the_sources_notes_on_its_own_addresses() {
    let source = Demo::new();
    let dest = Demo::new();
    source.seed(5);
    let notes = source.export();
    let own = (dest.public_address("auth"), dest.public_address("notes"));
    let manifest = dest.path("upshift.toml");
    let run = source.upshift(&[
        "-y",
        "--json",
        "migrate",
        "--to",
        manifest.to_str().unwrap(),
        "--stop-source",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let r = run.json();
    assert_eq!(r["source_left"], "stopped", "{r}");
    dest.assert_healthy();
    assert_eq!(
        dest.export(),
        notes,
        "the destination holds the source's notes"
    );
    let config = std::fs::read_to_string(dest.path("config/notes.toml")).unwrap();
    assert!(
        config.contains(&own.0) && config.contains(&own.1),
        "{config}"
    );
    assert!(
        !config.contains(&source.public_address("notes")),
        "{config}"
    );
    // The source is stopped, its data intact.
    assert_eq!(source.export(), notes);
    assert_eq!(source.version(), "1.0.0");
}

#[test]
fn a_failure_after_the_restore_puts_the_destinations_own_data_back() {
    let source = Demo::new();
    let dest = Demo::new();
    source.seed(5);
    let theirs = dest.export();
    // The source serves on, but the config it would hand over is one the
    // release refuses: the destination's notes cannot start on it.
    let path = source.path("config/notes.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{config}unknown_key = 1\n")).unwrap();
    let manifest = dest.path("upshift.toml");
    let run = source.upshift(&["-y", "migrate", "--to", manifest.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    dest.assert_healthy();
    assert_eq!(
        dest.export(),
        theirs,
        "the destination's own notes are back"
    );
    assert_eq!(count(&theirs), 3);
    source.assert_healthy();
}

#[test]
fn a_destination_at_another_release_is_refused_before_anything_changes() {
    let source = Demo::new();
    let dest = Demo::new();
    assert_eq!(dest.upshift(&["-y", "apply", "--to", "1.1.0"]).code, 0);
    let theirs = dest.export();
    let manifest = dest.path("upshift.toml");
    let run = source.upshift(&["-y", "migrate", "--to", manifest.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("1.1.0"), "{}", run.stderr);
    assert_eq!(dest.export(), theirs);
    dest.assert_healthy();
}
