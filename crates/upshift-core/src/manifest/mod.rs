//! The installation manifest, `upshift.toml`.

mod duration;
mod host;
mod model;
mod parse;
mod raw;
mod secret;
mod store_path;

pub use duration::{BadDuration, Seconds, DURATION_FORMS};
pub use host::{parse_host, RemoteHost};
pub use model::*;
pub use parse::{known_version, load, parse_manifest, Loaded};
pub use secret::{SecretRef, VALUE_HIDDEN};
