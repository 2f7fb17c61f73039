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
