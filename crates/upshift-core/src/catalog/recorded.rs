//! A catalog as a run used it, kept beside the journal: the catalog file's
//! text and the text of every file it refers to. A run's `resume`,
//! `rollback` and `history` work from it when the catalog directory is
//! gone or no longer has the product.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{parse_catalog_with, Catalog};
use crate::diag::Diagnostic;

/// One product's catalog, self-contained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedCatalog {
    /// Where the catalog was read from (its file, or `... (built-in)`).
    pub file: String,
    /// The catalog file's text.
    pub text: String,
    /// Every file the catalog refers to, by the path written in it.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

impl RecordedCatalog {
    /// Parses the recorded catalog; `recorded_at` names the record in errors.
    pub fn catalog(&self, recorded_at: &str) -> Result<Catalog, Diagnostic> {
        let read = |path: &str| {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| format!("{path} was not recorded in {recorded_at}"))
        };
        let mut c = parse_catalog_with(&self.file, &self.text, &read)?;
        c.origin = format!("{} (as recorded in {recorded_at})", self.file);
        Ok(c)
    }

    /// Reads a record written by [`RecordedCatalog::to_json`].
    pub fn from_json(recorded_at: &str, text: &str) -> Result<Self, Diagnostic> {
        serde_json::from_str(text).map_err(|e| {
            Diagnostic::file(recorded_at, format!("not a recorded catalog: {e}")).with_help(
                "the file is written by `upshift apply`; remove it, and pass the catalog with `--catalog DIR`",
            )
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serialises") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"
product = "app"
name = "App"
[[release]]
version = "1.0.0"
"#;

    #[test]
    fn a_record_reads_back_as_the_same_catalog() {
        let r = RecordedCatalog {
            file: "cat/app.toml".into(),
            text: CATALOG.into(),
            files: BTreeMap::new(),
        };
        let back = RecordedCatalog::from_json("rec.json", &r.to_json()).unwrap();
        assert_eq!(back, r);
        let c = back.catalog("rec.json").unwrap();
        assert_eq!(c.product, "app");
        assert!(c.origin.contains("as recorded in rec.json"), "{}", c.origin);
    }

    #[test]
    fn a_damaged_record_names_its_file_and_the_fix() {
        let e = RecordedCatalog::from_json("rec.json", "{")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rec.json") && e.contains("--catalog"), "{e}");
    }
}
