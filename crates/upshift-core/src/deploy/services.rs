//! Services upshift starts and stops itself or through a command:
//! `process`, `command` and `systemd`.

pub fn stop_text(name: &str, from: &str) -> String {
    format!("stop {name} ({from})")
}

pub fn start_text(name: &str, to: &str) -> String {
    format!("start {name} ({to})")
}
