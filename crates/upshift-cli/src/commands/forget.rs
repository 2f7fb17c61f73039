//! `upshift snapshots forget`: retention in restic's terms, and the
//! manifest's `[retention]` after a successful `apply`.

use upshift_backup::{Decision, ForgetReport, ForgetRequest, Repository};
use upshift_core::manifest::{KeepPolicy, Loaded, Retention};

use super::history::time_of;
use crate::cli::ForgetArgs;
use crate::error::{code, CliError};
use crate::printer::{Printer, Tone};
use crate::render::table;
use crate::settings::Settings;

/// The flags that say what to keep, for the error when none is given.
const KEEP_FLAGS: &str = "--keep-last N, --keep-hourly N, --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N, --keep-within DURATION";

pub fn run(settings: &Settings, args: &ForgetArgs) -> Result<i32, CliError> {
    let keep = args.policy();
    if keep.is_empty() {
        return Err(CliError::BadInput(format!(
            "say which snapshots to keep, with at least one of {KEEP_FLAGS} (e.g. `upshift snapshots forget --keep-last 5`); without a rule every snapshot would go"
        )));
    }
    let loaded = settings.load()?;
    let report = forget(settings, &loaded, &keep, args.prune, args.dry_run)?;
    let p = settings.printer;
    p.json(&report);
    p.human(render(p, &report));
    Ok(code::OK)
}

/// Under the installation's lock: what a rollback may need, read from the
/// journal, then the repository's snapshots forgotten by `keep`. With no
/// repository yet there is nothing to forget (and none is created).
pub fn forget(
    settings: &Settings,
    loaded: &Loaded,
    keep: &KeepPolicy,
    prune: bool,
    dry_run: bool,
) -> Result<ForgetReport, CliError> {
    let name = &loaded.manifest.installation.name;
    let _lock = settings.lock(loaded, "forget")?;
    let empty = ForgetReport {
        dry_run,
        snapshots: Vec::new(),
        removed: Vec::new(),
        prune: None,
    };
    let Some(repo) = Repository::existing_for_manifest(&loaded.manifest, &settings.manifest_dir())?
    else {
        return Ok(empty);
    };
    let journal = upshift_run::Journal::open(&settings.journal())?;
    let needs = upshift_run::snapshots::rollback_needs(&journal, name)?;
    let protected = |id: &str| needs.contains(id);
    Ok(repo.forget(&ForgetRequest {
        installation: name,
        keep,
        protected: &protected,
        prune,
        dry_run,
    })?)
}

/// After a successful `apply`: the manifest's `[retention]`, if any. A
/// failure here is a warning: the upgrade succeeded whatever happens to
/// old snapshots. Returns what goes into apply's JSON document.
pub fn after_apply(settings: &Settings, loaded: &Loaded) -> Option<serde_json::Value> {
    let Retention { keep, prune } = loaded.manifest.retention?;
    let p = settings.printer;
    match forget(settings, loaded, &keep, prune, false) {
        Ok(report) => {
            p.note(&format!("retention ([retention]): {}", summary(&report)));
            Some(serde_json::to_value(&report).expect("plain data serialises"))
        }
        Err(e) => {
            p.always(&format!(
                "{}: the upgrade succeeded, but applying [retention] failed: {e}\n  (no snapshot a rollback needs was touched; run `upshift snapshots forget` with the same rules to retry)",
                p.paint("warning", Tone::Warn)
            ));
            Some(serde_json::json!({ "error": e.to_string() }))
        }
    }
}

/// Two tables, as restic prints them: what is kept and why, what goes.
fn render(p: Printer, r: &ForgetReport) -> String {
    let (kept, gone): (Vec<&Decision>, Vec<&Decision>) = r.snapshots.iter().partition(|d| d.keep);
    let header = ["ID", "TIME (UTC)", "VERSION", "PHASE", "RUN", "REASONS"];
    let rows = |list: &[&Decision], reasons: bool| -> Vec<Vec<String>> {
        list.iter()
            .map(|d| {
                let s = &d.snapshot;
                let mut row = vec![
                    s.short_id.clone(),
                    time_of(s.unix_ms),
                    s.tags.version.clone(),
                    s.tags.phase.as_str().to_string(),
                    s.tags.run_id.clone(),
                ];
                if reasons {
                    row.push(d.reasons.join(", "));
                }
                row
            })
            .collect()
    };
    let mut out = Vec::new();
    if r.snapshots.is_empty() {
        return "no snapshots of this installation: nothing to forget.".into();
    }
    out.push(format!("keep {}:", count(kept.len())));
    out.push(table(&header, &rows(&kept, true)).trim_end().to_string());
    if !gone.is_empty() {
        let verb = if r.dry_run { "would remove" } else { "remove" };
        out.push(format!("\n{verb} {}:", count(gone.len())));
        out.push(
            table(&header[..5], &rows(&gone, false))
                .trim_end()
                .to_string(),
        );
    }
    out.push(format!("\n{}", p.paint(&summary(r), Tone::Good)));
    out.join("\n")
}

/// One line: what was (or would be) removed, and what pruning did.
fn summary(r: &ForgetReport) -> String {
    let kept = r.snapshots.iter().filter(|d| d.keep).count();
    let mut line = match (r.dry_run, r.removed.len()) {
        (true, n) => format!(
            "dry run, nothing changed: {} would be removed, {} kept",
            count(n),
            kept
        ),
        (false, n) => format!("{} removed, {} kept", count(n), kept),
    };
    if let Some(pr) = &r.prune {
        let verb = if r.dry_run { "would free" } else { "freed" };
        line += &format!(
            "; prune {verb} {} bytes no snapshot uses ({} removed, {} rewritten)",
            pr.bytes_removed,
            packs(pr.packs_removed),
            packs(pr.packs_repacked)
        );
        if pr.two_phase && !r.dry_run {
            line += "; the repository holds other snapshots too, so unused packs are only marked and a later prune deletes them";
        }
    }
    line
}

fn count(n: usize) -> String {
    match n {
        1 => "1 snapshot".into(),
        n => format!("{n} snapshots"),
    }
}

fn packs(n: u64) -> String {
    match n {
        1 => "1 pack".into(),
        n => format!("{n} packs"),
    }
}
