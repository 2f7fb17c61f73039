//! `upshift`: a thin command line over the upshift libraries.

mod catalogs;
mod cli;
mod commands;
mod error;
mod printer;
mod progress;
mod render;
mod settings;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::printer::{Level, Printer};
use crate::settings::Settings;

fn main() {
    let matches = Cli::command().get_matches();
    let manifest_given =
        matches.value_source("manifest") != Some(clap::parser::ValueSource::DefaultValue);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let settings = Settings {
        manifest: cli.manifest.clone(),
        manifest_given,
        catalog_dir: cli.catalog.clone(),
        yes: cli.yes,
        printer: Printer::new(
            cli.json,
            cli.color,
            Level::from_flags(cli.quiet, cli.verbose),
        ),
    };
    let code = match commands::run(&settings, cli.command) {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            match &e {
                // The command's own JSON document says why: one document only.
                error::CliError::Reported(m) => settings.printer.error_line(m),
                _ => settings.printer.error(code, &e.to_string()),
            }
            code
        }
    };
    std::process::exit(code);
}
