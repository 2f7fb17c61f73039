//! Which catalogs a command uses: the built-in ones, a directory of extra
//! ones (`--catalog DIR`, or the manifest's `[installation] catalog`), and
//! the catalog the installation's last run recorded, used when the
//! directory is gone or no longer has the product.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use upshift_core::catalog::{RecordedCatalog, BUILT_IN, BUILT_IN_FILES};
use upshift_core::CatalogSet;

use crate::error::CliError;

/// The catalogs read, and how to record each product's.
#[derive(Clone)]
pub struct Catalogs {
    pub set: CatalogSet,
    records: BTreeMap<String, RecordedCatalog>,
}

impl Catalogs {
    /// The built-in catalogs, parsed once per process (a fleet loads
    /// every installation's manifest against them).
    pub fn built_in() -> Catalogs {
        static PARSED: std::sync::OnceLock<Catalogs> = std::sync::OnceLock::new();
        PARSED.get_or_init(Self::parse_built_in).clone()
    }

    fn parse_built_in() -> Catalogs {
        let set = CatalogSet::built_in();
        let files: BTreeMap<String, String> = BUILT_IN_FILES
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect();
        // Each built-in catalog's origin is its file name: no second parse
        // (the GitLab catalog alone lists hundreds of releases).
        let records = set
            .iter()
            .filter_map(|c| {
                let (_, text) = BUILT_IN
                    .iter()
                    .find(|(file, _)| c.origin == format!("{file} (built-in)"))?;
                Some((
                    c.product.clone(),
                    RecordedCatalog {
                        file: c.origin.clone(),
                        text: text.to_string(),
                        files: files.clone(),
                    },
                ))
            })
            .collect();
        Catalogs { set, records }
    }

    /// The built-in catalogs with those in `dir` over them. Every config
    /// rule is checked as its catalog loads, so a mistake names its line
    /// before anything runs.
    pub fn with_dir(mut self, dir: &Path) -> Result<Catalogs, CliError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            CliError::BadInput(format!(
                "cannot read the catalog directory {}: {e}; pass an existing directory to --catalog",
                dir.display()
            ))
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut texts = Vec::new();
        for f in &files {
            texts.push((f.display().to_string(), crate::settings::read(f)?));
        }
        // What each catalog file refers to, as it was read.
        let referred: RefCell<BTreeMap<String, BTreeMap<String, String>>> = RefCell::default();
        let read = |catalog: &str, path: &str| {
            let text = read_referred(dir, path)?;
            referred
                .borrow_mut()
                .entry(catalog.to_string())
                .or_default()
                .insert(path.to_string(), text.clone());
            Ok(text)
        };
        self.set = self.set.with_files_checked(
            texts.iter().map(|(f, t)| (f.as_str(), t.as_str())),
            read,
            &upshift_config::catalog::check_rule,
        )?;
        let mut referred = referred.into_inner();
        for (file, text) in texts {
            let Some(c) = self.set.iter().find(|c| c.origin == file) else {
                continue;
            };
            let product = c.product.clone();
            let files = referred.remove(&file).unwrap_or_default();
            self.records
                .insert(product, RecordedCatalog { file, text, files });
        }
        Ok(self)
    }

    /// Adds the catalog recorded at `path` unless the product is known.
    /// Returns the product's name when it was added.
    pub fn with_recorded(&mut self, product: &str, path: &Path) -> Result<bool, CliError> {
        if self.set.get(product).is_some() || !path.exists() {
            return Ok(false);
        }
        let shown = path.display().to_string();
        let record = RecordedCatalog::from_json(&shown, &crate::settings::read(path)?)?;
        let catalog = record.catalog(&shown)?;
        if catalog.product != product {
            return Ok(false);
        }
        self.set.insert(catalog);
        self.records.insert(product.to_string(), record);
        Ok(true)
    }

    /// The record of `product`'s catalog as read.
    pub fn record(&self, product: &str) -> Option<&RecordedCatalog> {
        self.records.get(product)
    }
}

/// A file a catalog in `dir` refers to; a copy of a built-in catalog may
/// leave out the built-in ones.
fn read_referred(dir: &Path, path: &str) -> Result<String, String> {
    let p = dir.join(path);
    match std::fs::read_to_string(&p) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            upshift_core::catalog::built_in_file(path).map_err(|_| {
                format!(
                    "{}: not found, nor among the built-in catalog files",
                    p.display()
                )
            })
        }
        Err(e) => Err(format!("{}: {e}", p.display())),
    }
}

/// Writes `record` to `path` atomically (temp file + rename).
pub fn save_record(path: &Path, record: &RecordedCatalog) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::Failed(format!(
            "cannot record the catalog in {}: {e}",
            path.display()
        ))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("catalog")
    ));
    std::fs::write(&tmp, record.to_json()).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
