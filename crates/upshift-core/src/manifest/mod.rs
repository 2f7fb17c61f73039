//! The installation manifest, `upshift.toml`.

mod duration;
mod exclude;
mod host;
mod model;
mod parse;
mod placeholder;
mod raw;
mod retention;
mod secret;
mod store_path;
mod upstream;

pub use duration::{BadDuration, Seconds, DURATION_FORMS};
pub use exclude::{exclude_set, glob_set, is_excluded, ExcludeError};
pub use host::{parse_host, RemoteHost};
pub use model::*;
pub use parse::{known_version, load, parse_manifest, Loaded};
pub use placeholder::{placeholders, Placeholder, TODO};
pub use retention::{KeepPolicy, Retention, KEEP_KEYS};
pub use secret::{SecretRef, VALUE_HIDDEN};
pub use upstream::{check_tag, project_upstreams, UpstreamTemplate, DEFAULT_TAG};
