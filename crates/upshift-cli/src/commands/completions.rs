//! `upshift completions SHELL` and `upshift man`: both generated from the
//! clap definitions, so they always match the command line.

use std::io::Write;

use crate::cli::Cli;
use crate::error::{code, CliError};

/// Writes the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32, CliError> {
    let mut cmd = Cli::definition();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "upshift", &mut out);
    write_stdout(&out)
}

/// Writes the man page, in roff, on stdout.
pub fn man() -> Result<i32, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::man_definition())
        .render(&mut out)
        .map_err(|e| CliError::Failed(format!("cannot render the man page: {e}")))?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<i32, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(code::OK),
        // A reader that stopped early (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code::OK),
        Err(e) => Err(CliError::Failed(format!("cannot write to stdout: {e}"))),
    }
}
