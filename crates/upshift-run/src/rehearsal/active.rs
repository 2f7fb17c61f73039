//! The staging copies being rehearsed, recorded beside the production
//! journal (`.upshift/rehearsals/active/ID`: the rehearsing upshift's pid
//! and start time, and the copy's directory). A copy whose upshift is gone
//! (kill -9, power loss) is torn down by the next command that takes the
//! production lock, as children a killed upshift left are stopped.

use std::path::{Path, PathBuf};

use upshift_backup::children::start_time;
use upshift_core::manifest::{parse_manifest, Driver};

use crate::host::Target;
use crate::state::StateDir;

/// The record of one staging copy in use; removed by [`Active::finish`].
pub struct Active {
    file: PathBuf,
}

impl Active {
    /// Records that this process uses the copy at `root`; a `generated`
    /// one is removed by its teardown, the operator's own only stopped.
    pub fn begin(
        state: &StateDir,
        id: &str,
        root: &Path,
        generated: bool,
    ) -> std::io::Result<Active> {
        let dir = active_dir(state);
        std::fs::create_dir_all(&dir)?;
        let me = std::process::id();
        let started = start_time(me).unwrap_or(0);
        let file = dir.join(id);
        let kind = if generated { "generated" } else { "given" };
        std::fs::write(&file, format!("{me} {started} {kind} {}\n", root.display()))?;
        Ok(Active { file })
    }

    /// The copy is gone (or kept on purpose): forget it.
    pub fn finish(self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

fn active_dir(state: &StateDir) -> PathBuf {
    state.path().join("rehearsals").join("active")
}

/// Tears down every copy whose rehearsing upshift is gone; one line each.
pub fn sweep(state: &StateDir) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(active_dir(state))
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = entry.path();
        let Some((pid, started, generated, root)) = read(&file) else {
            let _ = std::fs::remove_file(&file);
            continue;
        };
        if start_time(pid) == Some(started) {
            continue; // its rehearsal still runs
        }
        let lines = teardown(&root, generated);
        out.push(format!(
            "{} the staging copy {} left by a rehearsal that was killed{}",
            if generated { "removed" } else { "stopped" },
            root.display(),
            if lines.is_empty() {
                String::new()
            } else {
                format!(" ({})", lines.join("; "))
            }
        ));
        let _ = std::fs::remove_file(&file);
    }
    out
}

fn read(file: &Path) -> Option<(u32, u64, bool, PathBuf)> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut f = text.trim_end().splitn(4, ' ');
    let (pid, started) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    let generated = f.next()? == "generated";
    Some((pid, started, generated, f.next()?.into()))
}

/// Stops every service and child of the copy at `root` and, when
/// `remove`, removes it; what it stopped, or could not, one line each.
pub fn teardown(root: &Path, remove: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let text = std::fs::read_to_string(root.join("upshift.toml")).unwrap_or_default();
    let manifest = parse_manifest("staging", &text).ok();
    if let Some(m) = &manifest {
        let target = Target::local(root);
        for name in m.start_order().into_iter().rev() {
            if let Driver::Process(conf) = m.services[name].run() {
                if let Err(e) = crate::driver::process::stop(name, conf, &target) {
                    lines.push(format!("{name}: {e}"));
                }
            }
        }
    }
    match crate::orphans::stop_left_in(&StateDir::beside(root).children()) {
        Ok(stopped) => lines.extend(stopped),
        Err(e) => lines.push(e.to_string()),
    }
    if !remove {
        return lines;
    }
    if let Some(m) = &manifest {
        lines.extend(drop_databases(m, root));
    }
    if let Err(e) = std::fs::remove_dir_all(root) {
        if root.exists() {
            lines.push(format!("cannot remove {}: {e}", root.display()));
        }
    }
    // `.upshift/staging/` itself goes with its last copy.
    if let Some(parent) = root.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    lines
}

/// Drops the copy's own PostgreSQL databases (a generated copy's only:
/// the operator's staging keeps its own).
fn drop_databases(m: &upshift_core::manifest::Manifest, root: &Path) -> Vec<String> {
    use upshift_core::manifest::StoreKind;
    m.stores
        .iter()
        .filter(|(_, s)| *s.kind.get_ref() == StoreKind::Postgres)
        .filter_map(|(name, s)| {
            upshift_backup::drop_copy_database(name, s, root)
                .err()
                .map(|e| format!("the database of store {name}: {e}"))
        })
        .collect()
}
