//! What a killed upshift leaves behind.
//!
//! A program upshift started (here a hook, as a data step or `pg_restore`
//! would be) outlives a kill -9 of upshift, because it runs in a process
//! group of its own. The next command that takes the lock stops it before
//! acting: an orphan that keeps writing while a rollback restores the data
//! would change the data the rollback put back.

mod common;

use common::alive;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::demo::{spawn, Demo};
use common::wait_for;

#[test]
fn a_killed_runs_child_is_stopped_before_rollback_restores() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    // The hook says its pid, waits to be let go, then writes a note: an
    // orphaned migration writing after the rollback.
    let seed = "current/bin/upshift-demo seed --config config/notes.toml --count 1";
    let hook = format!(
        "echo $$ > hook.tmp && mv hook.tmp hook.pid; while [ ! -e go ]; do sleep 0.02; done; {seed}"
    );
    std::fs::write(
        demo.path("upshift.toml"),
        format!("{m}\n[hooks]\npre_upgrade = '{hook}'\n"),
    )
    .unwrap();
    let before = demo.export();
    let mut run = spawn(&demo, &["-y", "apply", "--to", "1.1.0"]);
    wait_for(&demo.path("hook.pid"));
    run.kill().unwrap();
    run.wait().unwrap();
    let pid: u32 = std::fs::read_to_string(demo.path("hook.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid), "the hook outlives the killed upshift");

    let back = demo.upshift(&["-y", "rollback"]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert!(
        back.stderr.contains("stopped pid") && back.stderr.contains("hook.pid"),
        "the rollback says what it stopped: {}",
        back.stderr
    );
    assert!(
        !alive(pid),
        "the orphan was stopped before the rollback ended"
    );
    assert_eq!(demo.export(), before, "nothing written after the rollback");
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
    assert!(
        std::fs::read_dir(demo.path(".upshift/children"))
            .unwrap()
            .next()
            .is_none(),
        "no record left behind"
    );
}

/// A process on a service's address that upshift did not start (a copy
/// left by a kill before its pidfile was written, an old version): the
/// start refuses and names it, instead of the new version failing to bind
/// while the stray answers the health check for it.
#[test]
fn a_stray_on_a_services_address_is_named_and_not_taken_for_the_new_version() {
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    // No maintenance page: nothing of upshift's own holds the address.
    let no_page = m.replace("page = true", "page = false");
    assert_ne!(no_page, m);
    std::fs::write(demo.path("upshift.toml"), no_page).unwrap();
    let crashed = demo.upshift_env(
        &[("UPSHIFT_CRASH_AFTER", "1:swap.version")],
        &["-y", "apply", "--to", "1.1.0"],
    );
    assert_eq!(crashed.code, -1, "{}", crashed.stderr);
    // A stray that answers every request as a healthy notes would.
    let addr = demo.public_address("notes");
    let stray = TcpListener::bind(&addr).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let answering = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for mut c in stray.incoming().flatten() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let _ = c.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        })
    };
    let refused = demo.upshift(&["-y", "resume"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains(&format!("is already held by pid {}", std::process::id())),
        "the stray is named: {}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("Address already in use"),
        "{}",
        refused.stderr
    );
    // The stray gone, the rollback that could not start notes finishes.
    stop.store(true, Ordering::SeqCst);
    drop(std::net::TcpStream::connect(&addr));
    answering.join().unwrap();
    let done = demo.upshift(&["-y", "rollback"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(demo.version(), "1.0.0");
    demo.assert_healthy();
}
