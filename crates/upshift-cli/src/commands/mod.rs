//! One file per command. Each takes the resolved settings and its own
//! arguments and returns an exit code or a [`CliError`].

mod apply;
mod backup;
mod catalog;
mod catalog_lint;
mod completions;
mod config;
mod control;
mod demo;
mod demo_fleet;
mod demo_postgres;
mod fleet;
mod forget;
mod history;
mod init;
mod migrate;
mod plan;
mod rehearse;
mod restore;
mod resume;
mod rollback;
mod show;
mod snapshots;
mod status;
mod unlock;
mod verify;

use crate::cli::{Command, SnapshotsCommand};
use crate::error::CliError;
use crate::settings::Settings;

/// Runs one command.
pub fn run(settings: &Settings, command: Command) -> Result<i32, CliError> {
    match command {
        Command::Demo(args) => demo::run(settings, &args),
        Command::Init(args) => init::run(settings, &args),
        Command::Start(a) => control::run(settings, control::Action::Start, a.service.as_deref()),
        Command::Stop(a) => control::run(settings, control::Action::Stop, a.service.as_deref()),
        Command::Restart(a) => {
            control::run(settings, control::Action::Restart, a.service.as_deref())
        }
        Command::Status => status::run(settings),
        Command::Plan(args) => plan::run(settings, &args),
        Command::Catalog(c) => catalog::run(settings, &c),
        Command::Config(c) => config::run(settings, &c),
        Command::Fleet(c) => fleet::run(settings, &c),
        Command::Apply(args) => apply::run(settings, &args),
        Command::Rehearse(args) => rehearse::run(settings, &args),
        Command::Migrate(args) => migrate::run(settings, &args),
        Command::Resume => resume::run(settings),
        Command::Rollback { run, to } => rollback::run(settings, run.as_deref(), to.as_deref()),
        Command::Show { plan } => show::run(settings, &plan),
        Command::History => history::run(settings),
        Command::Unlock => unlock::run(settings),
        Command::Backup => backup::run(settings),
        Command::Snapshots { action: None } => snapshots::run(settings),
        Command::Snapshots {
            action: Some(SnapshotsCommand::Forget(args)),
        } => forget::run(settings, &args),
        Command::Verify { id } => verify::run(settings, id.as_deref()),
        Command::Restore(args) => restore::run(settings, &args),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man => completions::man(),
    }
}

/// What the executor needs, from the settings.
pub fn setup<'a>(
    settings: &Settings,
    loaded: &'a upshift_core::Loaded,
    progress: &'a dyn upshift_run::Progress,
) -> Result<upshift_run::Setup<'a>, CliError> {
    Ok(upshift_run::Setup {
        loaded,
        manifest_dir: settings.manifest_dir(),
        state: settings.state(),
        target: settings.target(loaded)?,
        manifest_path: settings.manifest.clone(),
        progress,
    })
}
