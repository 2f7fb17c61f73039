//! `driver = "command"`: any command per action (seed 004's `make up
//! DETACH=true`, seed 003's `sudo stop mattermost`), and systemd units.

use std::path::Path;

use upshift_core::manifest::Service;

use crate::proc::sh_checked;

/// Runs the service's `start` or `stop` command; it must exit 0.
pub fn run(name: &str, svc: &Service, root: &Path, action: &str) -> Result<(), String> {
    let c = svc
        .command
        .as_ref()
        .ok_or_else(|| format!("service `{name}` has no [services.{name}.command] table"))?;
    let cmd = if action == "start" { &c.start } else { &c.stop };
    let dir = c
        .workdir
        .as_ref()
        .map_or(root.to_path_buf(), |w| root.join(w));
    sh_checked(&format!("{action} {name}"), cmd, &dir, &[]).map(|_| ())
}

/// `systemctl start|stop UNIT` (the unit defaults to `<name>.service`).
pub fn systemctl(name: &str, svc: &Service, action: &str) -> Result<(), String> {
    let unit = svc
        .systemd
        .as_ref()
        .map_or(format!("{name}.service"), |s| s.unit.clone());
    sh_checked(
        &format!("{action} {name}"),
        &format!("systemctl {action} {unit}"),
        Path::new("/"),
        &[],
    )
    .map(|_| ())
}
