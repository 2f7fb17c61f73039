//! The maintenance page as users see it: a real headless Chromium loads it
//! from a stopped service's address during a real window of the demo, and
//! takes a screenshot. `scripts/page-screenshot` keeps that screenshot as
//! docs/maintenance-page.png (through `UPSHIFT_PAGE_SCREENSHOT`).

mod common;

use std::path::Path;
use std::process::Command;

use common::demo::{finish, spawn, Demo};
use common::wait_for;

/// Runs headless Chromium with `args` then `url`, under a deadline; its stdout.
fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new("timeout")
        .args([
            "-k",
            "5",
            "90",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--no-first-run", "--disable-extensions"])
        .args(args)
        .arg(url)
        .env("HOME", profile)
        .output()
        .expect("chromium runs (scripts/install-test-deps.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "chromium {args:?} {url}: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The width and height of a PNG file, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn the_page_renders_in_a_browser_during_a_window() {
    let demo = Demo::new();
    demo.gate_a_data_step();
    // The plan expects this window to last 15 minutes.
    let cat = std::fs::read_to_string(demo.path("cat/demo.toml")).unwrap();
    let longer = cat.replacen(
        "window = \"10s\"\ncompose_template = \"demo/1.1.0/",
        "window = \"15m\"\ncompose_template = \"demo/1.1.0/",
        1,
    );
    assert_ne!(longer, cat);
    std::fs::write(demo.path("cat/demo.toml"), longer).unwrap();

    let child = spawn(&demo, &["-y", "--catalog", "cat", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("migrate.reached"));
    // Inside the window: notes is stopped, the page holds its address.
    let url = format!(
        "http://{}/notes/42?from=browser",
        demo.public_address("notes")
    );
    let profile = tempfile::tempdir().unwrap();
    let dom = chromium(profile.path(), &["--dump-dom"], &url);
    let shot = profile.path().join("page.png");
    chromium(
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=800,600",
            "--hide-scrollbars",
        ],
        &url,
    );
    std::fs::write(demo.path("migrate.go"), "").unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 0, "{stderr}");

    for shown in [
        "<title>demo is being upgraded</title>",
        "<h1>demo is being upgraded</h1>",
        "upshift demo (auth + notes)",
        "The notes service is being upgraded and will be back in a minute.",
        "<meta http-equiv=\"refresh\" content=\"30\">",
        "This page reloads itself every 30 seconds",
    ] {
        assert!(dom.contains(shown), "{shown}:\n{dom}");
    }
    // 15 minutes from when the window opened, a few seconds ago.
    assert!(
        dom.contains(" UTC, in about 15 minutes.") || dom.contains(" UTC, in about 14 minutes."),
        "{dom}"
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (800, 600));
    assert!(
        png.len() > 5_000,
        "a page with text, not a blank: {} bytes",
        png.len()
    );
    if let Ok(keep) = std::env::var("UPSHIFT_PAGE_SCREENSHOT") {
        std::fs::write(&keep, &png).unwrap();
    }
}
