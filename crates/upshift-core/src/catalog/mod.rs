//! Release catalogs: built-in ones compiled into the binary, plus any the
//! operator adds or overrides with `--catalog DIR`.

mod lint;
mod load;
mod model;
mod recorded;

pub use lint::{lint, Finding, Severity};
pub use load::{
    parse_catalog, parse_catalog_checked, parse_catalog_with, CheckRule, ReadFile, RuleProblem,
};
pub use model::{
    Catalog, ContainerCommand, DataStep, KnownIssue, Note, PreCheck, Release, Template,
};
pub use recorded::RecordedCatalog;

use crate::diag::Diagnostic;

/// The catalogs shipped inside upshift: (product, file name, text).
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "catalogs/demo.toml",
        include_str!("../../../../catalogs/demo.toml"),
    ),
    (
        "catalogs/mender.toml",
        include_str!("../../../../catalogs/mender.toml"),
    ),
    (
        "catalogs/mattermost.toml",
        include_str!("../../../../catalogs/mattermost.toml"),
    ),
    (
        "catalogs/gitlab.toml",
        include_str!("../../../../catalogs/gitlab.toml"),
    ),
];

/// Files the built-in catalogs refer to: (path relative to `catalogs/`, text).
pub const BUILT_IN_FILES: &[(&str, &str)] = &[
    (
        "demo/1.0.0/docker-compose.yml",
        include_str!("../../../../catalogs/demo/1.0.0/docker-compose.yml"),
    ),
    (
        "demo/1.1.0/docker-compose.yml",
        include_str!("../../../../catalogs/demo/1.1.0/docker-compose.yml"),
    ),
    (
        "demo/2.0.0/docker-compose.yml",
        include_str!("../../../../catalogs/demo/2.0.0/docker-compose.yml"),
    ),
    (
        "demo/2.1.0/docker-compose.yml",
        include_str!("../../../../catalogs/demo/2.1.0/docker-compose.yml"),
    ),
    (
        "demo/3.0.0/docker-compose.yml",
        include_str!("../../../../catalogs/demo/3.0.0/docker-compose.yml"),
    ),
];

/// A file of [`BUILT_IN_FILES`], by its path relative to `catalogs/`.
pub fn built_in_file(path: &str) -> Result<String, String> {
    BUILT_IN_FILES
        .iter()
        .find(|(f, _)| *f == path)
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| format!("{path} is not among the built-in catalog files"))
}

/// All catalogs known to this run, by product.
#[derive(Debug, Clone, Default)]
pub struct CatalogSet {
    catalogs: Vec<Catalog>,
}

impl CatalogSet {
    /// The built-in catalogs.
    pub fn built_in() -> Self {
        let mut set = CatalogSet::default();
        for (file, src) in BUILT_IN {
            let c = parse_catalog_with(&format!("{file} (built-in)"), src, &built_in_file)
                .unwrap_or_else(|d| panic!("built-in catalog is invalid: {d}"));
            set.insert(c);
        }
        set
    }

    /// Adds a catalog, replacing one for the same product.
    pub fn insert(&mut self, catalog: Catalog) {
        match self
            .catalogs
            .iter_mut()
            .find(|c| c.product == catalog.product)
        {
            Some(slot) => *slot = catalog,
            None => {
                self.catalogs.push(catalog);
                self.catalogs.sort_by(|a, b| a.product.cmp(&b.product));
            }
        }
    }

    /// Parses `(file, text)` pairs and adds them over the current set.
    pub fn with_files<'a>(
        mut self,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Diagnostic> {
        for (file, src) in files {
            self.insert(parse_catalog(file, src)?);
        }
        Ok(self)
    }

    /// Like [`CatalogSet::with_files`], for catalogs that refer to other
    /// files: `read(catalog file, path as written)` reads them.
    pub fn with_files_in<'a>(
        mut self,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
        read: impl Fn(&str, &str) -> Result<String, String>,
    ) -> Result<Self, Diagnostic> {
        for (file, src) in files {
            self.insert(parse_catalog_with(file, src, &|path| read(file, path))?);
        }
        Ok(self)
    }

    /// Like [`CatalogSet::with_files_in`], checking every config rule with
    /// `check` as the catalog loads (see [`parse_catalog_checked`]).
    pub fn with_files_checked<'a>(
        mut self,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
        read: impl Fn(&str, &str) -> Result<String, String>,
        check: CheckRule,
    ) -> Result<Self, Diagnostic> {
        for (file, src) in files {
            self.insert(parse_catalog_checked(
                file,
                src,
                &|path| read(file, path),
                check,
            )?);
        }
        Ok(self)
    }

    /// The catalog of a product.
    pub fn get(&self, product: &str) -> Option<&Catalog> {
        self.catalogs.iter().find(|c| c.product == product)
    }

    /// Every catalog, sorted by product.
    pub fn iter(&self) -> impl Iterator<Item = &Catalog> {
        self.catalogs.iter()
    }

    /// Product identifiers.
    pub fn products(&self) -> Vec<&str> {
        self.catalogs.iter().map(|c| c.product.as_str()).collect()
    }
}
