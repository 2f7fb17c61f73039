//! Global flags resolved once: where the manifest is, which catalogs apply.

use std::path::{Path, PathBuf};

use upshift_core::manifest::Loaded;
use upshift_core::{CatalogSet, Diagnostic};

use crate::error::CliError;
use crate::printer::Printer;

/// What every command needs, resolved from the global flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub manifest: PathBuf,
    pub catalog_dir: Option<PathBuf>,
    pub printer: Printer,
}

impl Settings {
    /// Built-in catalogs plus those in `--catalog DIR`.
    pub fn catalogs(&self) -> Result<CatalogSet, CliError> {
        let set = CatalogSet::built_in();
        let Some(dir) = &self.catalog_dir else {
            return Ok(set);
        };
        let entries = std::fs::read_dir(dir).map_err(|e| {
            CliError::BadInput(format!("cannot read the catalog directory {}: {e}; pass an existing directory to --catalog", dir.display()))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for f in &files {
            texts.push((f.display().to_string(), read(f)?));
        }
        Ok(set.with_files(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?)
    }

    /// Reads and validates the manifest against the catalogs.
    pub fn load(&self) -> Result<Loaded, CliError> {
        let catalogs = self.catalogs()?;
        let src = read_manifest(&self.manifest)?;
        Ok(upshift_core::load(
            &self.manifest.display().to_string(),
            &src,
            &catalogs,
        )?)
    }
}

fn read_manifest(path: &Path) -> Result<String, CliError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::BadInput(format!(
            "no manifest at {}: run upshift where your upshift.toml is, pass `-m PATH`, or start from examples/ (e.g. examples/demo/upshift.toml)",
            path.display()
        ))),
        Err(e) => Err(Diagnostic::file(&path.display().to_string(), format!("cannot read the manifest: {e}")).into()),
    }
}

/// Reads a text file, naming it in the error.
pub fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path)
        .map_err(|e| CliError::BadInput(format!("cannot read {}: {e}", path.display())))
}
