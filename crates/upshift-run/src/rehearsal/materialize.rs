//! `Materialize`: an installation brought up from a verified snapshot in a
//! place of its own, described by its own manifest. The snapshot's stores
//! and config files are restored under the copy's directory (never over
//! the source: a [`Relocation`] writes only below it), each config file's
//! `[relocate]` keys set to the copy's own values, and the release the
//! source runs is installed beside them. The copy's services are not
//! started here: the caller starts them (a rehearsal through the real
//! executor; a migration after it stopped the destination).

use std::path::{Path, PathBuf};

use upshift_backup::{Relocation, Repository, RestoreReport, RestoreScope};
use upshift_core::manifest::{parse_manifest, Loaded};

use super::error::{RehearsalError, Result};
use super::relocate::{relocated, OwnValues};
use super::staging::{self, Addresses};
use crate::executor::Setup;
use crate::host::Target;
use crate::state::StateDir;

/// One materialization: the source installation and its snapshot.
pub struct Materialize<'a> {
    pub source: &'a Setup<'a>,
    pub repo: &'a Repository,
    pub snapshot: &'a str,
}

/// A copy on disk, ready to start.
pub struct Materialized {
    /// Its directory (its manifest's directory and its installation's).
    pub root: PathBuf,
    pub manifest_path: PathBuf,
    pub loaded: Loaded,
    /// Production's addresses and the copy's own.
    pub addresses: Addresses,
    /// Made here (removed by its teardown), or the operator's own
    /// installation (stopped, never removed).
    pub generated: bool,
}

impl Materialized {
    pub fn target(&self) -> Target {
        Target::local(&self.root)
    }

    pub fn state(&self) -> StateDir {
        StateDir::beside(&self.root)
    }
}

impl Materialize<'_> {
    /// A copy generated at `root` (which must not exist yet), on free
    /// loopback ports, named for rehearsal `run`.
    pub fn generated(&self, root: &Path, run: &str) -> Result<Materialized> {
        let src = self.source.loaded;
        let addresses = Addresses::allocate(&src.manifest, run)?;
        let text = staging::manifest_text(
            &src.manifest,
            &src.source,
            &self.source.manifest_dir,
            &addresses,
            run,
        )?;
        create_private_dir(root)?;
        let manifest_path = root.join("upshift.toml");
        write(&manifest_path, &text)?;
        let loaded = loaded_copy(src, &manifest_path, text)?;
        let copy = Materialized {
            root: root.to_path_buf(),
            manifest_path,
            loaded,
            addresses,
            generated: true,
        };
        self.copy_secret_files(&copy)?;
        self.create_databases(&copy)?;
        self.fill(&copy)?;
        Ok(copy)
    }

    /// A copy into the installation the operator described (`--staging
    /// MANIFEST`, loaded against the same catalog): its stores replaced
    /// by the snapshot's, its config files by the snapshot's with its own
    /// values of the kept keys. Refused when it shares a directory, file,
    /// address or database with the source ([`super::given::check`]).
    pub fn given(&self, loaded: Loaded, manifest_path: &Path) -> Result<Materialized> {
        let root = manifest_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let addresses = Addresses::of(&self.source.loaded.manifest);
        super::given::check(self.source, &loaded, &root, &addresses)?;
        let copy = Materialized {
            root,
            manifest_path: manifest_path.to_path_buf(),
            loaded,
            addresses,
            generated: false,
        };
        self.fill(&copy)?;
        Ok(copy)
    }

    /// The files the source's stores read their secrets from (`file:`
    /// references, relative to the manifest), copied 0600 to the same
    /// place in the copy, which is removed with it.
    fn copy_secret_files(&self, copy: &Materialized) -> Result<()> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let m = &self.source.loaded.manifest;
        let refs = m.stores.values().flat_map(|s| {
            [&s.password, &s.uri, &s.access_key, &s.secret_key]
                .into_iter()
                .flatten()
        });
        for r in refs {
            let upshift_core::manifest::SecretRef::File(rel) = r else {
                continue;
            };
            if Path::new(rel).is_absolute() {
                continue;
            }
            let (from, to) = (self.source.manifest_dir.join(rel), copy.root.join(rel));
            let bytes = std::fs::read(&from).map_err(|e| io(&from, e))?;
            create_parent(&to)?;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&to)
                .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
                .and_then(|()| {
                    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                })
                .map_err(|e| io(&to, e))?;
        }
        Ok(())
    }

    /// The copy's own databases, created empty beside production's.
    fn create_databases(&self, copy: &Materialized) -> Result<()> {
        let m = &self.source.loaded.manifest;
        for (store, own) in copy.addresses.databases() {
            upshift_backup::create_copy_database(
                store,
                &m.stores[store],
                &self.source.manifest_dir,
                own,
            )?;
        }
        Ok(())
    }

    /// The snapshot's stores and config files, and the running release.
    fn fill(&self, copy: &Materialized) -> Result<()> {
        let incoming = copy.root.join(".upshift/incoming");
        let _ = std::fs::remove_dir_all(&incoming);
        let report = self.restore_under(&incoming)?;
        self.place_stores(&report, copy)?;
        self.place_config(&report, copy)?;
        self.restore_databases(copy)?;
        self.install_release(copy)?;
        let _ = std::fs::remove_dir_all(&incoming);
        Ok(())
    }

    /// The database stores (PostgreSQL, MariaDB, …) restored into the
    /// copy's own databases, as its manifest names them.
    fn restore_databases(&self, copy: &Materialized) -> Result<()> {
        let m = &copy.loaded.manifest;
        let databases: std::collections::BTreeSet<String> = m
            .stores
            .iter()
            .filter(|(_, s)| {
                upshift_backup::data_on_host(*s.kind.get_ref())
                    == upshift_backup::DataOnHost::Elsewhere
            })
            .map(|(n, _)| n.clone())
            .collect();
        if databases.is_empty() {
            return Ok(());
        }
        let scope = RestoreScope {
            stores: Some(databases),
            config: false,
            into: None,
        };
        let progress = self.source.progress.backup();
        self.repo
            .restore_scoped(self.snapshot, m, &copy.root, &scope, progress.as_ref())?;
        Ok(())
    }

    /// Every store and config file of the snapshot, under `dir`.
    fn restore_under(&self, dir: &Path) -> Result<RestoreReport> {
        let s = self.source;
        let scope = RestoreScope {
            stores: None,
            config: true,
            into: Some(Relocation::new(dir, &s.target.dir)),
        };
        let progress = s.progress.backup();
        let m = &s.loaded.manifest;
        Ok(self
            .repo
            .restore_scoped(self.snapshot, m, &s.target.dir, &scope, progress.as_ref())?)
    }

    /// Each restored store path moved to the copy's path for it (the
    /// same store, the same position in its `paths`).
    fn place_stores(&self, report: &RestoreReport, copy: &Materialized) -> Result<()> {
        for (name, written) in &report.store_paths {
            let Some(store) = copy.loaded.manifest.stores.get(name) else {
                continue;
            };
            let own: Vec<&String> = store.path.iter().chain(&store.paths).collect();
            for (from, to) in written.iter().zip(own) {
                move_into_place(Path::new(from), &copy.root.join(to))?;
            }
        }
        Ok(())
    }

    /// Each restored config file, its kept keys set to the copy's own
    /// values, written at the copy's path for it.
    fn place_config(&self, report: &RestoreReport, copy: &Materialized) -> Result<()> {
        let m = &copy.loaded.manifest;
        for (name, written) in &report.config_paths {
            let Some(cfg) = m.config.get(name) else {
                continue;
            };
            let text = std::fs::read_to_string(written)
                .map_err(|e| RehearsalError::Staging(format!("{written}: {e}")))?;
            let to = copy.root.join(&cfg.path);
            let existing = own_file(copy, name, &to)?;
            let own = match &existing {
                Some(v) => OwnValues::FromFile(v),
                None => OwnValues::Rewritten(&copy.addresses),
            };
            let out = relocated(
                &self.source.loaded.manifest,
                name,
                &text,
                &own,
                &copy.addresses,
            )?;
            create_parent(&to)?;
            write(&to, &out)?;
        }
        Ok(())
    }

    /// The release the source runs, copied beside the copy's stores, and
    /// the copy's link made to point at it.
    fn install_release(&self, copy: &Materialized) -> Result<()> {
        let (Some(src), Some(dst)) = (
            &self.source.loaded.manifest.release,
            &copy.loaded.manifest.release,
        ) else {
            return Ok(());
        };
        if copy.root.join(&dst.link).exists() && !copy.generated {
            return Ok(()); // the operator's copy has its release installed
        }
        let link = self.source.target.path(&src.link);
        let running = std::fs::canonicalize(&link).map_err(|e| {
            RehearsalError::Staging(format!(
                "{}: the running release cannot be found: {e}",
                link.display()
            ))
        })?;
        let name = running.file_name().unwrap_or_default();
        let releases = copy.root.join(&dst.dir);
        std::fs::create_dir_all(&releases).map_err(|e| io(&releases, e))?;
        let into = releases.join(name);
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg(&running)
            .arg(&into)
            .output()
            .map_err(|e| io(&into, e))?;
        if !out.status.success() {
            return Err(RehearsalError::Staging(format!(
                "copying the release {} failed: {}",
                running.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let target = Path::new(&dst.dir).join(name);
        let own_link = copy.root.join(&dst.link);
        std::os::unix::fs::symlink(&target, &own_link).map_err(|e| io(&own_link, e))
    }
}

/// The values of the operator's own config file `name` at `path`, when
/// the copy is theirs and the file is there.
fn own_file(copy: &Materialized, name: &str, path: &Path) -> Result<Option<serde_json::Value>> {
    if copy.generated || !path.is_file() {
        return Ok(None);
    }
    let cfg = &copy.loaded.manifest.config[name];
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    let format = super::relocate::format_of(cfg.format);
    Ok(Some(upshift_config::doc::parse_value(
        format, &cfg.path, &text,
    )?))
}

/// The copy's manifest, checked against the same catalog as the source.
fn loaded_copy(src: &Loaded, path: &Path, text: String) -> Result<Loaded> {
    let file = path.display().to_string();
    let manifest = parse_manifest(&file, &text).map_err(|d| {
        RehearsalError::Staging(format!("the generated manifest does not load: {d}"))
    })?;
    Ok(Loaded {
        manifest,
        file,
        source: text,
        catalog: src.catalog.clone(),
        version: src.version.clone(),
    })
}

fn move_into_place(from: &Path, to: &Path) -> Result<()> {
    if from == to {
        return Ok(());
    }
    create_parent(to)?;
    std::fs::rename(from, to).map_err(|e| io(to, e))
}

fn create_parent(p: &Path) -> Result<()> {
    match p.parent() {
        Some(d) => std::fs::create_dir_all(d).map_err(|e| io(d, e)),
        None => Ok(()),
    }
}

/// A new directory only its owner can enter (the copy holds production's data).
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| io(dir, e))
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| io(path, e))
}

fn io(path: &Path, e: std::io::Error) -> RehearsalError {
    RehearsalError::Staging(format!("{}: {e}", path.display()))
}
