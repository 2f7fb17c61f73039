//! `StateDir`: upshift's own files for one installation, on this machine,
//! in `.upshift/` beside the manifest. Every path of that layout is named
//! here and nowhere else.

use std::path::{Path, PathBuf};

/// `.upshift/` beside a manifest: the journal, the snapshot repository's
/// default place, configs staged for a swap, the mirror of a remote
/// installation, and the compose override files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory of the manifest in `manifest_dir`.
    pub fn beside(manifest_dir: &Path) -> StateDir {
        StateDir {
            dir: manifest_dir.join(".upshift"),
        }
    }

    /// The state directory that holds the journal at `journal`.
    pub fn of_journal(journal: &Path) -> StateDir {
        StateDir {
            dir: journal.parent().unwrap_or(Path::new(".")).to_path_buf(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The journal (runs, steps, the lock).
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal.db")
    }

    /// Where rehearsal `id` makes its staging copy of the installation.
    pub fn staging(&self, id: &str) -> PathBuf {
        self.dir.join("staging").join(id)
    }

    /// The record of the programs a locked command is running (see
    /// `upshift_backup::children`).
    pub fn children(&self) -> PathBuf {
        self.dir.join("children")
    }

    /// Where the migrated copy of config file `name` waits for the swap
    /// of hop `hop` of run `run`.
    pub fn staged(&self, run: &str, hop: usize, name: &str) -> PathBuf {
        self.staged_run(run).join(hop.to_string()).join(name)
    }

    /// Where the config files as they were when hop `hop` of run `run`
    /// froze its rollback point are kept (0600), until its durable
    /// snapshot holds them.
    pub fn frozen_config(&self, run: &str, hop: usize) -> PathBuf {
        self.staged_run(run).join(format!("frozen-{hop}"))
    }

    /// Where the online backup of hop `hop` of run `run` keeps its SQLite
    /// copies, the base of the hop's rollback point.
    pub fn frozen_data(&self, run: &str, hop: usize) -> PathBuf {
        self.staged_run(run).join(format!("frozen-data-{hop}"))
    }

    /// Every staged file of run `run`.
    pub fn staged_run(&self, run: &str) -> PathBuf {
        self.dir.join("staged").join(run)
    }

    /// Where the stores of remote installation `installation` are copied.
    pub fn mirror(&self, installation: &str) -> PathBuf {
        self.dir.join("mirror").join(installation)
    }

    /// The catalog of `product` as the last run read it.
    pub fn recorded_catalog(&self, product: &str) -> PathBuf {
        let name: String = product
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join("catalogs").join(format!("{name}.json"))
    }

    /// Where service `name`'s log began when upshift last started it (a
    /// byte offset, as text).
    pub fn log_mark(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{name}.start"))
    }

    /// The compose override file of `project`.
    pub fn compose_override(&self, project: &str) -> PathBuf {
        self.dir
            .join("compose")
            .join(format!("{project}.override.yml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_the_one_journals_and_plans_name() {
        let s = StateDir::beside(Path::new("/srv/app"));
        assert_eq!(s.journal(), Path::new("/srv/app/.upshift/journal.db"));
        assert_eq!(
            s.staged("r1", 0, "app"),
            Path::new("/srv/app/.upshift/staged/r1/0/app")
        );
        assert_eq!(s.children(), Path::new("/srv/app/.upshift/children"));
        assert_eq!(StateDir::of_journal(&s.journal()), s);
        assert_eq!(s.mirror("prod"), Path::new("/srv/app/.upshift/mirror/prod"));
        assert_eq!(
            s.compose_override("demo"),
            Path::new("/srv/app").join(upshift_core::deploy::compose::override_file("demo"))
        );
    }
}
