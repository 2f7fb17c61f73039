//! Global flags resolved once: where the manifest is, which catalogs apply.

use std::path::{Path, PathBuf};

use upshift_core::catalog::RecordedCatalog;
use upshift_core::manifest::Loaded;
use upshift_core::{CatalogSet, Diagnostic};

use crate::catalogs::Catalogs;

use crate::error::CliError;
use crate::printer::Printer;

/// What every command needs, resolved from the global flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub manifest: PathBuf,
    /// `-m` or `UPSHIFT_MANIFEST` was given (not the default).
    pub manifest_given: bool,
    pub catalog_dir: Option<PathBuf>,
    /// Answer yes to confirmations.
    pub yes: bool,
    pub printer: Printer,
}

impl Settings {
    /// Built-in catalogs plus those in `--catalog DIR`, or else in the
    /// manifest's `[installation] catalog` when there is a manifest.
    pub fn catalogs(&self) -> Result<CatalogSet, CliError> {
        let built_in = Catalogs::built_in();
        Ok(
            match self
                .catalog_dir
                .clone()
                .or_else(|| self.manifests_catalog())
            {
                Some(dir) => built_in.with_dir(&dir)?.set,
                None => built_in.set,
            },
        )
    }

    /// The manifest's `[installation] catalog` directory, when the
    /// manifest is there, parses and names one that exists.
    fn manifests_catalog(&self) -> Option<PathBuf> {
        let src = std::fs::read_to_string(&self.manifest).ok()?;
        let file = self.manifest.display().to_string();
        let m = upshift_core::manifest::parse_manifest(&file, &src).ok()?;
        let dir = self.manifest_dir().join(m.installation.catalog?.get_ref());
        dir.is_dir().then_some(dir)
    }

    /// The settings for a saved plan: its manifest and catalog directory
    /// where `-m` and `--catalog` were not given.
    pub fn for_plan(&self, plan: &upshift_core::Plan) -> Settings {
        let mut s = self.clone();
        let Some(from) = &plan.made_from else {
            return s;
        };
        if !self.manifest_given {
            s.manifest = PathBuf::from(&from.manifest);
        }
        if s.catalog_dir.is_none() {
            s.catalog_dir = from.catalog.as_ref().map(PathBuf::from);
        }
        s
    }

    /// Where a plan made now comes from, for saving it.
    pub fn made_from(&self) -> upshift_core::plan::MadeFrom {
        let absolute = |p: &Path| {
            p.canonicalize()
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        };
        upshift_core::plan::MadeFrom {
            manifest: absolute(&self.manifest),
            catalog: self.catalog_dir.as_deref().map(absolute),
        }
    }

    /// The directory the manifest's paths are relative to.
    pub fn manifest_dir(&self) -> PathBuf {
        let dir = self
            .manifest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
    }

    /// Where the installation lives: this machine (the manifest's
    /// directory) or the `installation.host` over ssh.
    pub fn target(&self, loaded: &Loaded) -> Result<upshift_run::Target, CliError> {
        Ok(upshift_run::Target::for_installation(
            &loaded.manifest.installation,
            &self.manifest_dir(),
        )?)
    }

    /// upshift's own files beside the manifest.
    pub fn state(&self) -> upshift_run::StateDir {
        upshift_run::StateDir::beside(&self.manifest_dir())
    }

    /// The journal beside the manifest.
    pub fn journal(&self) -> PathBuf {
        self.state().journal()
    }

    /// Takes the installation's lock for a command that writes (`backup`,
    /// `restore`, `verify`), as `apply` does: while another live run holds
    /// it, this is [`upshift_run::RunError::Locked`] (exit 4). Held until
    /// the guard is dropped.
    pub fn lock(
        &self,
        loaded: &Loaded,
        command: &str,
    ) -> Result<upshift_run::lock::LockGuard, CliError> {
        let mut journal = upshift_run::Journal::open(&self.journal())?;
        let run_id = format!(
            "{command}-{}-{:04x}",
            upshift_run::journal::now_ms(),
            std::process::id() & 0xffff
        );
        let guard = upshift_run::lock::acquire(
            &mut journal,
            &loaded.manifest.installation.name,
            &run_id,
            false,
        )?;
        for line in &guard.stopped {
            crate::printer::note!(self.printer, "{line}");
        }
        Ok(guard)
    }

    /// Asks the operator to confirm `question` (yes with `-y`; no without a terminal).
    pub fn confirm(&self, question: &str) -> bool {
        use std::io::{BufRead, IsTerminal, Write};
        if self.yes {
            return true;
        }
        if !std::io::stdin().is_terminal() {
            self.printer.always(&format!(
                "{question} — not confirmed: pass -y to confirm without a terminal"
            ));
            return false;
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        matches!(line.trim(), "y" | "Y" | "yes")
    }

    /// Reads and validates the manifest against the catalogs.
    pub fn load(&self) -> Result<Loaded, CliError> {
        Ok(self.load_recording()?.0)
    }

    /// Like [`Settings::load`], with the record of the product's catalog
    /// as read, for a run to keep (see [`Settings::record_catalog`]).
    ///
    /// The catalogs: the built-in ones, then `--catalog DIR` or else the
    /// manifest's `[installation] catalog`; when that directory is gone or
    /// lacks the product, the catalog the installation's last run recorded.
    pub fn load_recording(&self) -> Result<(Loaded, Option<RecordedCatalog>), CliError> {
        let src = read_manifest(&self.manifest)?;
        let file = self.manifest.display().to_string();
        let manifest = upshift_core::manifest::parse_manifest(&file, &src)?;
        let product = manifest.installation.product.get_ref().as_str();
        let recorded = self.state().recorded_catalog(product);
        let mut catalogs = Catalogs::built_in();
        if let Some(dir) = &self.catalog_dir {
            catalogs = catalogs.with_dir(dir)?;
        } else if let Some(key) = &manifest.installation.catalog {
            let dir = self.manifest_dir().join(key.get_ref());
            if dir.is_dir() {
                catalogs = catalogs.with_dir(&dir)?;
            } else if !recorded.exists() {
                return Err(Diagnostic::at(
                    &file,
                    &src,
                    key.span(),
                    format!("the catalog directory {} is not there", dir.display()),
                )
                .with_help("write the path of a directory of catalogs (`*.toml`), relative to the manifest")
                .into());
            }
        }
        if catalogs.with_recorded(product, &recorded)? {
            crate::printer::note!(
                self.printer,
                "the catalogs at hand have no `{product}`: using the one the last run recorded ({})",
                recorded.display()
            );
        }
        let loaded = upshift_core::load(&file, &src, &catalogs.set)?;
        let record = catalogs.record(product).cloned();
        Ok((loaded, record))
    }

    /// Keeps `record` beside the journal, so the run's `resume`,
    /// `rollback` and `history` work without the catalog directory.
    pub fn record_catalog(&self, product: &str, record: &RecordedCatalog) -> Result<(), CliError> {
        crate::catalogs::save_record(&self.state().recorded_catalog(product), record)
    }
}

/// Refuses (exit 2) while values `upshift init` left to fill in remain,
/// of the keys `applies` picks: `command` would act on them.
pub fn refuse_placeholders(
    loaded: &Loaded,
    command: &str,
    applies: impl Fn(&str) -> bool,
) -> Result<(), CliError> {
    let left: Vec<String> = upshift_core::manifest::placeholders(&loaded.source)
        .into_iter()
        .filter(|p| applies(&p.key))
        .map(|p| format!("  {}:{}: {} ({})", loaded.file, p.line, p.key, p.what))
        .collect();
    if left.is_empty() {
        return Ok(());
    }
    Err(CliError::BadInput(format!(
        "the manifest still has values to fill in before `upshift {command}`:\n{}\nreplace each \"TODO: …\" with the real value (docs/manifest.md says what each key is)",
        left.join("\n")
    )))
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
