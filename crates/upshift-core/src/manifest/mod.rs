//! The installation manifest, `upshift.toml`.

mod model;
mod parse;
mod secret;

pub use model::*;
pub use parse::{known_version, load, parse_manifest, Loaded};
pub use secret::{SecretRef, VALUE_HIDDEN};
