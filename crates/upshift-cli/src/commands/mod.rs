//! One file per command. Each takes the resolved settings and its own
//! arguments and returns an exit code or a [`CliError`].

mod catalog;
mod config;
mod demo;
mod plan;
mod status;

use crate::cli::Command;
use crate::error::CliError;
use crate::settings::Settings;

/// Runs one command.
pub fn run(settings: &Settings, command: Command) -> Result<i32, CliError> {
    match command {
        Command::Demo(args) => demo::run(settings, &args),
        Command::Status => status::run(settings),
        Command::Plan(args) => plan::run(settings, &args),
        Command::Catalog(c) => catalog::run(settings, &c),
        Command::Config(c) => config::run(settings, &c),
    }
}
