//! The installation manifest, `upshift.toml`.

mod host;
mod model;
mod parse;
mod raw;
mod secret;
mod store_path;

pub use host::{parse_host, RemoteHost};
pub use model::*;
pub use parse::{known_version, load, parse_manifest, Loaded};
pub use secret::{SecretRef, VALUE_HIDDEN};
