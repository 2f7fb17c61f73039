//! `upshift fleet plan|apply|resume|rollback|status|history FLEET`.

mod members;
mod plan;
mod rollout;

use crate::cli::FleetCommand;
use crate::error::CliError;
use crate::settings::Settings;

pub fn run(settings: &Settings, command: &FleetCommand) -> Result<i32, CliError> {
    match command {
        FleetCommand::Plan { fleet, to } => plan::run(settings, fleet, to.as_deref()),
        FleetCommand::Apply { fleet, to } => rollout::apply(settings, fleet, to.as_deref()),
        FleetCommand::Resume { fleet } => rollout::resume(settings, fleet),
        FleetCommand::Rollback { fleet } => rollout::rollback(settings, fleet),
        FleetCommand::Status { fleet } => rollout::status(settings, fleet),
        FleetCommand::History { fleet } => rollout::history(settings, fleet),
    }
}

pub(super) use plan::run as plan_run;
pub(super) use rollout::apply;
