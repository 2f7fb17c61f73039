//! A hop's config steps: render the migrated file while the old version still
//! serves (staged under `.upshift/staged/`), write it after the swap.

use std::path::PathBuf;

use upshift_config::{migrate, Context, Format};
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
        let role = cfg.role.clone().unwrap_or_else(|| name.to_string());
        let t = self.target();
        let path = t.path(&cfg.path);
        let text = t
            .host
            .read_to_string(&path)
            .map_err(|e| format!("cannot read {} on {}: {e}", path.display(), t.label()))?;
        let cat = &self.setup.loaded.catalog;
        let (from, to) = (
            cat.parse_version(&hop.from)
                .map_err(|e| StepError::msg(e.to_string()))?,
            cat.parse_version(&hop.to)
                .map_err(|e| StepError::msg(e.to_string()))?,
        );
        // A rule with a `role` is only for config files of that role.
        let rules: Vec<_> = upshift_config::rules_for(cat, &from, &to)?
            .into_iter()
            .filter(|r| r.applies_to(&role))
            .collect();
        let facts = self
            .setup
            .loaded
            .manifest
            .installation
            .facts
            .iter()
            .cloned()
            .collect();
        let ctx = Context {
            from: Some(from),
            to: Some(to),
            facts,
            ..Context::default()
        };
        let m = migrate(format_of(cfg.format), &cfg.path, &text, &rules, &ctx)?;
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
