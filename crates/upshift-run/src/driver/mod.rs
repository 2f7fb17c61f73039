//! Drivers: how a service is started and stopped.

mod command;
pub mod compose;
pub mod helm;
mod process;

use std::path::Path;

use upshift_core::manifest::{DriverKind, Service};

/// Starts `name`; returns once the driver has launched it (health is checked separately).
pub fn start(name: &str, svc: &Service, root: &Path) -> Result<(), String> {
    match svc.driver.get_ref() {
        DriverKind::Process => process::start(name, svc, root),
        DriverKind::Command => command::run(name, svc, root, "start"),
        DriverKind::Systemd => command::systemctl(name, svc, "start"),
        // Kubernetes keeps the pods running; the swap upgrades the release.
        DriverKind::Helm => Ok(()),
        DriverKind::Compose => compose::start(name, svc, root),
    }
}

/// Stops `name` and waits until it is gone.
pub fn stop(name: &str, svc: &Service, root: &Path) -> Result<(), String> {
    match svc.driver.get_ref() {
        DriverKind::Process => process::stop(name, svc, root),
        DriverKind::Command => command::run(name, svc, root, "stop"),
        DriverKind::Systemd => command::systemctl(name, svc, "stop"),
        DriverKind::Helm => Ok(()),
        DriverKind::Compose => compose::stop(name, svc, root),
    }
}

/// Whether the service keeps serving while "stopped" (helm: Kubernetes
/// runs the pods), so no maintenance page may take its address.
pub fn keeps_running(svc: &Service) -> bool {
    *svc.driver.get_ref() == DriverKind::Helm
}

/// The log file of a service (`log` in the manifest, default `logs/<name>.log`).
pub fn log_path(name: &str, svc: &Service, root: &Path) -> std::path::PathBuf {
    root.join(
        svc.log
            .clone()
            .unwrap_or_else(|| format!("logs/{name}.log")),
    )
}
