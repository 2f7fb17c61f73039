//! Drivers: how a service is started and stopped.

mod command;
pub mod compose;
pub mod helm;
mod process;

use upshift_core::manifest::{DriverKind, Service};

use crate::host::Target;

/// Starts `name`; returns once the driver has launched it (health is checked separately).
pub fn start(name: &str, svc: &Service, t: &Target) -> Result<(), String> {
    match svc.driver.get_ref() {
        DriverKind::Process => process::start(name, svc, t),
        DriverKind::Command => command::run(name, svc, t, "start"),
        DriverKind::Systemd => command::systemctl(name, svc, t, "start"),
        // Kubernetes keeps the pods running; the swap upgrades the release.
        DriverKind::Helm => Ok(()),
        DriverKind::Compose => compose::start(name, svc, &t.root),
    }
}

/// Stops `name` and waits until it is gone.
pub fn stop(name: &str, svc: &Service, t: &Target) -> Result<(), String> {
    match svc.driver.get_ref() {
        DriverKind::Process => process::stop(name, svc, t),
        DriverKind::Command => command::run(name, svc, t, "stop"),
        DriverKind::Systemd => command::systemctl(name, svc, t, "stop"),
        DriverKind::Helm => Ok(()),
        DriverKind::Compose => compose::stop(name, svc, &t.root),
    }
}

/// Drivers that run only on this machine (they talk to a local Docker
/// engine or Kubernetes API): the error says so for a remote installation.
pub fn check_remote(name: &str, svc: &Service, t: &Target) -> Result<(), String> {
    let kind = *svc.driver.get_ref();
    if t.is_remote() && matches!(kind, DriverKind::Compose | DriverKind::Helm) {
        return Err(format!(
            "service `{name}` uses the {} driver, which upshift drives only on this machine, but the installation is on {}; run upshift on that machine, or use the `command` driver",
            kind.as_str(),
            t.label()
        ));
    }
    Ok(())
}

/// Whether the service keeps serving while "stopped" (helm: Kubernetes
/// runs the pods), so no maintenance page may take its address.
pub fn keeps_running(svc: &Service) -> bool {
    *svc.driver.get_ref() == DriverKind::Helm
}

/// The log file of a service (`log` in the manifest, default `logs/<name>.log`).
pub fn log_path(name: &str, svc: &Service, t: &Target) -> std::path::PathBuf {
    t.path(
        svc.log
            .clone()
            .unwrap_or_else(|| format!("logs/{name}.log")),
    )
}
