//! `driver = "command"`: any command per action (`make up
//! DETACH=true`, Mattermost's `sudo stop mattermost`), and systemd units.

use upshift_core::manifest::{CommandDriver, SystemdDriver};

use crate::error::StepResult;
use crate::host::Target;

/// Runs the service's `start` or `stop` command; it must exit 0.
pub fn run(name: &str, c: &CommandDriver, t: &Target, action: &str) -> StepResult<()> {
    let cmd = if action == "start" { &c.start } else { &c.stop };
    let dir = c.workdir.as_ref().map_or(t.dir.clone(), |w| t.path(w));
    t.host
        .sh_within(
            &format!("{action} {name}"),
            cmd,
            &dir,
            &[],
            crate::proc::COMMAND_LIMIT,
        )
        .map(|_| ())
}

/// Whether the unit is active (`systemctl is-active`); none when
/// `systemctl` cannot say (not installed, unknown unit).
pub fn systemd_active(
    name: &str,
    s: Option<&SystemdDriver>,
    t: &Target,
) -> Option<crate::deploy::Presence> {
    let unit = s.map_or(format!("{name}.service"), |s| s.unit.clone());
    let out = t
        .host
        .sh(
            &format!("systemctl is-active {}", crate::host::q(&unit)),
            std::path::Path::new("/"),
            &[],
        )
        .ok()?;
    // is-active prints the state; exit 0 only when active.
    let state = out.stdout.trim().to_string();
    match state.as_str() {
        "" | "unknown" => None,
        _ => Some(crate::deploy::Presence {
            running: out.ok,
            how: format!("{unit} is {state}"),
        }),
    }
}

/// `systemctl start|stop UNIT` (the unit defaults to `<name>.service`).
pub fn systemctl(
    name: &str,
    s: Option<&SystemdDriver>,
    t: &Target,
    action: &str,
) -> StepResult<()> {
    let unit = s.map_or(format!("{name}.service"), |s| s.unit.clone());
    t.host
        .sh_checked(
            &format!("{action} {name}"),
            &format!("systemctl {action} {unit}"),
            std::path::Path::new("/"),
            &[],
        )
        .map(|_| ())
}
