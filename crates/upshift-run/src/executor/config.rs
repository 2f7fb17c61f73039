//! A hop's config steps: render the migrated file while the old version still
//! serves (staged under `.upshift/staged/`), write it after the swap.

use std::path::PathBuf;

use upshift_config::{migrate, Context, Format, Migration};
use upshift_core::manifest::ConfigFormat;

use super::runner::Runner;
use crate::error::{StepError, StepResult};
use crate::host::Host;

fn format_of(f: ConfigFormat) -> Format {
    match f {
        ConfigFormat::Yaml => Format::Yaml,
        ConfigFormat::Json => Format::Json,
        ConfigFormat::Toml => Format::Toml,
        ConfigFormat::Env => Format::Env,
    }
}

/// Config file `name` (of text `text`) migrated by the catalog's rules
/// for a hop from `from` to `to`: the rules of every release crossed, those
/// with a `role` only for files of that role.
pub fn migrate_for_hop(
    loaded: &upshift_core::Loaded,
    name: &str,
    text: &str,
    from: &str,
    to: &str,
) -> StepResult<Migration> {
    let cfg = loaded
        .manifest
        .config
        .get(name)
        .ok_or_else(|| format!("the manifest has no config file `{name}`"))?;
    let role = cfg.role.clone().unwrap_or_else(|| name.to_string());
    let cat = &loaded.catalog;
    let version = |v: &str| {
        cat.parse_version(v)
            .map_err(|e| StepError::msg(e.to_string()))
    };
    let (from, to) = (version(from)?, version(to)?);
    let rules: Vec<_> = upshift_config::rules_for(cat, &from, &to)?
        .into_iter()
        .filter(|r| r.applies_to(&role))
        .collect();
    let ctx = Context {
        from: Some(from),
        to: Some(to),
        facts: loaded
            .manifest
            .installation
            .fact_names()
            .map(String::from)
            .collect(),
        ..Context::default()
    };
    Ok(migrate(
        format_of(cfg.format),
        &cfg.path,
        text,
        &rules,
        &ctx,
    )?)
}

impl Runner<'_> {
    /// Where a hop's migrated config file waits until the swap.
    pub(super) fn staged(&self, h: usize, name: &str) -> PathBuf {
        self.setup.state.staged(&self.run_id, h, name)
    }

    /// Renders config file `name` migrated for hop `h`'s target into its
    /// staged copy; says which rules changed it.
    pub(super) fn render_config(&mut self, h: usize, name: &str) -> StepResult<Option<String>> {
        let hop = &self.plan.hops[h];
        let cfg = self
            .setup
            .loaded
            .manifest
            .config
            .get(name)
            .ok_or_else(|| format!("the manifest has no config file `{name}`"))?;
        let t = self.target();
        let path = t.path(&cfg.path);
        let text = t
            .host
            .read_to_string(&path)
            .map_err(|e| format!("cannot read {} on {}: {e}", path.display(), t.label()))?;
        let m = migrate_for_hop(self.setup.loaded, name, &text, &hop.from, &hop.to)?;
        // Secrets taken out of the file go to their own files now: the old
        // release ignores them, and the migrated config needs them after the swap.
        for f in &m.secret_files {
            let path = self.target().path(&f.path);
            self.target()
                .host
                .write_atomic(&path, f.contents.as_bytes(), Some(0o600))
                .map_err(|e| format!("cannot write the secret file {}: {e}", path.display()))?;
        }
        let staged = self.staged(h, name);
        // The migrated text may hold secrets: readable by upshift's user only.
        Host::Local
            .write_atomic(&staged, m.text.as_bytes(), Some(0o600))
            .map_err(|e| format!("cannot write {}: {e}", staged.display()))?;
        for w in &m.warnings {
            self.setup
                .progress
                .note(&format!("warning: {}: {w}", cfg.path));
        }
        for c in &m.commands {
            self.setup
                .progress
                .note(&format!("run this before the upgrade completes: {c}"));
        }
        let rendered = if m.applied.is_empty() {
            "unchanged".to_string()
        } else {
            m.applied.join("; ")
        };
        Ok(Some(rendered))
    }

    /// Writes hop `h`'s staged copy of config file `name` over the file.
    pub(super) fn write_config(&mut self, h: usize, name: &str) -> StepResult<()> {
        let cfg = self
            .setup
            .loaded
            .manifest
            .config
            .get(name)
            .ok_or_else(|| format!("the manifest has no config file `{name}`"))?;
        let staged = self.staged(h, name);
        let text = std::fs::read_to_string(&staged).map_err(|e| {
            format!(
                "the migrated {} was not rendered ({}): {e}",
                cfg.path,
                staged.display()
            )
        })?;
        let path = self.target().path(&cfg.path);
        self.target()
            .host
            .write_atomic(&path, text.as_bytes(), None)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(())
    }
}

/// How one config file changes in one hop, as a plan shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigChange {
    /// The hop, from 1.
    pub hop: usize,
    /// The manifest's name of the file, and its path.
    pub name: String,
    pub path: String,
    /// Unified diff, secret values shown as `***` (empty: unchanged).
    pub diff: String,
    pub applied: Vec<String>,
    pub warnings: Vec<String>,
    /// Why the file could not be previewed (unreadable, a rule refused it).
    pub error: Option<String>,
}

/// Every config file of the manifest migrated hop by hop, in memory, as
/// `apply` would (each hop starts from the previous hop's result). Reads
/// the files from the installation; writes nothing.
pub fn config_preview(
    loaded: &upshift_core::Loaded,
    target: &crate::Target,
    plan: &upshift_core::Plan,
) -> Vec<ConfigChange> {
    let mut changes = Vec::new();
    if plan.hops.is_empty() {
        return changes;
    }
    for (name, cfg) in &loaded.manifest.config {
        let path = target.path(&cfg.path);
        let mut text = match target.host.read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                changes.push(ConfigChange {
                    hop: 1,
                    name: name.clone(),
                    path: cfg.path.clone(),
                    diff: String::new(),
                    applied: Vec::new(),
                    warnings: Vec::new(),
                    error: Some(format!("cannot read it: {e}")),
                });
                continue;
            }
        };
        for (h, hop) in plan.hops.iter().enumerate() {
            let mut change = ConfigChange {
                hop: h + 1,
                name: name.clone(),
                path: cfg.path.clone(),
                diff: String::new(),
                applied: Vec::new(),
                warnings: Vec::new(),
                error: None,
            };
            match migrate_for_hop(loaded, name, &text, &hop.from, &hop.to) {
                Ok(m) => {
                    change.diff = m.diff;
                    change.applied = m.applied;
                    change.warnings = m.warnings;
                    text = m.text;
                    changes.push(change);
                }
                Err(e) => {
                    change.error = Some(e.to_string());
                    changes.push(change);
                    break;
                }
            }
        }
    }
    changes.sort_by_key(|c| c.hop);
    changes
}
