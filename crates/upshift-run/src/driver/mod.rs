//! The tools behind the deployments: a service's own process, any
//! command, `systemctl`, the compose CLI and the helm CLI. The deployment
//! types in [`crate::deploy`] decide when each runs.

pub mod command;
pub mod compose;
pub mod helm;
pub mod process;

use upshift_core::manifest::Service;

use crate::host::Target;

/// The log file of a service (`log` in the manifest, default `logs/<name>.log`).
pub fn log_path(name: &str, svc: &Service, t: &Target) -> std::path::PathBuf {
    t.path(
        svc.log
            .clone()
            .unwrap_or_else(|| format!("logs/{name}.log")),
    )
}

/// What service `name` wrote to its log since upshift last started it:
/// the log is appended to across starts, and earlier starts' lines say
/// nothing about this one. The whole log when no start is remembered (or
/// the log is shorter than where that start began: it was rotated).
pub fn log_since_start(
    name: &str,
    svc: &Service,
    t: &Target,
    state: &crate::state::StateDir,
) -> String {
    let bytes = t.host.read(&log_path(name, svc, t)).unwrap_or_default();
    let from = std::fs::read_to_string(state.log_mark(name))
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&f| f <= bytes.len())
        .unwrap_or(0);
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}
