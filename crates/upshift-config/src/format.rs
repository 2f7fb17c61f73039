//! The file formats upshift edits.

use std::fmt;

/// A configuration file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Yaml,
    Json,
    Toml,
    Env,
}

impl Format {
    /// Guesses the format from a file name: `.yaml`/`.yml`, `.json`, `.toml`,
    /// and `.env` (also `.env.production`, `app.env`).
    pub fn from_file_name(name: &str) -> Option<Format> {
        let base = name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(name)
            .to_ascii_lowercase();
        if base.ends_with(".yaml") || base.ends_with(".yml") {
            Some(Format::Yaml)
        } else if base.ends_with(".json") {
            Some(Format::Json)
        } else if base.ends_with(".toml") {
            Some(Format::Toml)
        } else if base.ends_with(".env") || base.starts_with(".env") {
            Some(Format::Env)
        } else {
            None
        }
    }

    /// Parses a format name (`yaml`, `json`, `toml`, `env`).
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "toml" => Some(Format::Toml),
            "env" | "dotenv" => Some(Format::Env),
            _ => None,
        }
    }

    /// The name used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
            Format::Toml => "TOML",
            Format::Env => ".env",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
