//! `upshift`: a thin command line over the upshift libraries.

mod catalogs;
mod cli;
mod commands;
mod error;
mod printer;
mod progress;
mod render;
mod settings;

use clap::Parser;

use crate::cli::Cli;
use crate::printer::{Level, Printer};
use crate::settings::Settings;

fn main() {
    let cli = Cli::parse();
    let settings = Settings {
        manifest: cli.manifest.clone(),
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
            settings.printer.error(code, &e.to_string());
            code
        }
    };
    std::process::exit(code);
}
