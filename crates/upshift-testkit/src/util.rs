//! Small helpers: free ports, required commands, polling with a deadline.

use std::time::{Duration, Instant};

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// Panics naming the component when `command` is not on PATH.
pub fn require(command: &str, component: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join(command).is_file());
    assert!(
        found,
        "{component} is required for this test but `{command}` is not installed (run scripts/install-test-deps.sh)"
    );
}

/// Polls `ready` until it returns true, panicking with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(pause); // back-off between polls, not synchronisation
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// True when running as root (PostgreSQL must then run as `postgres`).
pub(crate) fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
