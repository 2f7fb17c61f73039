//! The five releases and what each one understands.

use crate::{Error, Result};
use std::fmt;

/// Every release of the demo product, oldest first.
pub const RELEASES: [&str; 5] = ["1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0"];

/// One release: its version and the formats it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release(usize);

impl Release {
    /// The release named `version`; any version not in [`RELEASES`] is refused.
    pub fn parse(version: &str) -> Result<Release> {
        let v = version.trim();
        RELEASES
            .iter()
            .position(|r| *r == v)
            .map(Release)
            .ok_or_else(|| {
                Error::input(format!(
                    "unknown release `{v}`: the demo product has releases {}",
                    RELEASES.join(", ")
                ))
            })
    }

    pub fn version(self) -> &'static str {
        RELEASES[self.0]
    }

    /// The config format: 1 for 1.x (top-level `listen`, cleartext
    /// `secret`), 2 from 2.0.0 on (`[server] listen`, `secret_file`).
    pub fn config_format(self) -> u8 {
        if self.0 >= 2 {
            2
        } else {
            1
        }
    }

    /// The notes database schema this release runs on.
    pub fn schema(self) -> u32 {
        match self.version() {
            "1.0.0" => 1,
            "3.0.0" => 3,
            _ => 2,
        }
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.version())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_schemas() {
        let r = |v| Release::parse(v).unwrap();
        assert_eq!((r("1.0.0").config_format(), r("1.0.0").schema()), (1, 1));
        assert_eq!((r("1.1.0").config_format(), r("1.1.0").schema()), (1, 2));
        assert_eq!((r("2.0.0").config_format(), r("2.1.0").schema()), (2, 2));
        assert_eq!((r("3.0.0").config_format(), r("3.0.0").schema()), (2, 3));
        let e = Release::parse("1.2.0").unwrap_err();
        assert!(e.message.contains("unknown release `1.2.0`"), "{e}");
    }
}
