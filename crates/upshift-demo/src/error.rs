//! One error type: a message for a human, and the exit code it maps to.

use std::fmt;

/// An error with the message printed to stderr and the process exit code:
/// 2 for bad input (arguments, config files), 1 for anything else.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    pub code: i32,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A runtime failure (exit 1).
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            code: 1,
        }
    }
    /// Bad input: an argument or a config file (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            code: 2,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::new(format!("database: {e}"))
    }
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Error::new(format!("database: {e}"))
    }
}

/// Adds context (usually a path) to I/O errors.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T> Context<T> for std::io::Result<T> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error::new(format!("{what}: {e}")))
    }
}
