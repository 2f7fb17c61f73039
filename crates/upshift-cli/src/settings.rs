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
    /// Answer yes to confirmations.
    pub yes: bool,
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
        // Files a catalog refers to are relative to the catalog's directory;
        // a copy of a built-in catalog may leave them out (the built-in ones).
        let read = |_catalog: &str, path: &str| {
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
        };
        // Every config rule is checked as its catalog loads, so a mistake
        // names its line before anything runs.
        Ok(set.with_files_checked(
            texts.iter().map(|(f, t)| (f.as_str(), t.as_str())),
            read,
            &upshift_config::catalog::check_rule,
        )?)
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
        let catalogs = self.catalogs()?;
        let src = read_manifest(&self.manifest)?;
        Ok(upshift_core::load(
            &self.manifest.display().to_string(),
            &src,
            &catalogs,
        )?)
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
