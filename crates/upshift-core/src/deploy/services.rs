//! Services upshift starts and stops itself or through a command:
//! `process`, `command` and `systemd`.

use crate::manifest::{Driver, Manifest};

pub fn stop_text(name: &str, from: &str) -> String {
    format!("stop {name} ({from})")
}

/// The start of `name` at `to`, and what users on its public address see
/// meanwhile: with socket activation the new version is handed the page's
/// listening socket, else the page lets go of the address first.
pub fn start_text(m: &Manifest, name: &str, to: &str) -> String {
    let svc = &m.services[name];
    match (&svc.public_address, m.maintenance.page) {
        (Some(addr), true) if svc.socket_activation() => format!(
            "start {name} ({to}) with the page's listening socket on {addr} (LISTEN_FDS): connections made while it boots wait and are answered by {to}"
        ),
        (Some(addr), true) => {
            let instead = match svc.run() {
                Driver::Process(_) => " (set `socket_activation` to hand it the socket instead)",
                _ => "",
            };
            format!(
                "start {name} ({to}); the page lets go of {addr} just before: connections there are refused until {name} listens{instead}"
            )
        }
        _ => format!("start {name} ({to})"),
    }
}
