//! Human renderings shared by commands: tables and plans.

use upshift_core::Plan;

/// A left-aligned text table with a header row; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate().take(cols) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(width[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

/// The human form of a plan: hops, why each exists, what to review, the steps.
/// What `upshift rollback` after the run would do with the data.
fn rollback_line(plan: &Plan, catalog: &upshift_core::Catalog) -> String {
    if catalog.rollback_keeps_data(&plan.to, &plan.from) {
        format!(
            "rollback: `upshift rollback` after it keeps the data ({} runs on {}'s data, the catalog says) and puts back software and config\n",
            plan.from, plan.to
        )
    } else {
        "rollback: `upshift rollback` after it restores the data of the snapshot taken before the first swap (keeping a safety snapshot of the data it replaces)\n".into()
    }
}

pub fn plan(plan: &Plan, catalog: &upshift_core::Catalog) -> String {
    let product_name = &catalog.name;
    let mut out = String::new();
    let n = plan.hops.len();
    if n == 0 {
        out += &format!(
            "{} ({product_name}) is already at {}: nothing to do.\n",
            plan.installation, plan.to
        );
    } else {
        out += &format!(
            "Plan for {} ({product_name}): {} → {} in {n} hop{}\n",
            plan.installation,
            plan.from,
            plan.to,
            if n == 1 { "" } else { "s" }
        );
        let path: Vec<&str> = std::iter::once(plan.from.as_str())
            .chain(plan.hops.iter().map(|h| h.to.as_str()))
            .collect();
        out += &format!("path: {}\n", path.join(" → "));
        out += &rollback_line(plan, catalog);
    }
    for (i, hop) in plan.hops.iter().enumerate() {
        out += &format!("\nHop {} of {n}: {} → {}", i + 1, hop.from, hop.to);
        if let Some(w) = &hop.estimated_window {
            out += &format!("  (estimated maintenance window: {w})");
        }
        out += "\n  why:\n";
        for r in &hop.reasons {
            out += &format!("    - {r}\n");
        }
        if !hop.notes.is_empty() {
            out += "  review before upgrading:\n";
            for note in &hop.notes {
                for n in &note.notes {
                    out += &format!("    - [{}] {}\n", note.version, n.text);
                    if let Some(src) = &n.source {
                        out += &format!("      ({src})\n");
                    }
                }
            }
        }
        if let Some(d) = &hop.template_diff {
            out += &format!(
                "  upstream compose template changed ({} → {}); merge what applies into your compose files:\n",
                d.old, d.new
            );
            for line in d.unified.lines() {
                out += format!("    {line}").trim_end();
                out += "\n";
            }
        }
        if !hop.images.is_empty() {
            out += &format!(
                "  images of {} (compose; the swap writes them into upshift's override file):\n",
                hop.to
            );
            let rows: Vec<Vec<String>> = hop
                .images
                .iter()
                .map(|i| {
                    let change = match &i.from {
                        Some(from) if *from == i.to => format!("{} (unchanged)", i.to),
                        Some(from) => format!("{from} → {}", i.to),
                        None => format!("{} (new: your compose file's image until now)", i.to),
                    };
                    vec![format!("    {}", i.service), change]
                })
                .collect();
            for line in table(&["", ""], &rows).lines().skip(1) {
                out += &format!("{line}\n");
            }
        }
        for u in &hop.upstream {
            out += &upstream(u);
        }
        out += "  steps (* = past the point of no return: a failure is undone by restoring the snapshot):\n";
        let rows: Vec<Vec<String>> = hop
            .steps
            .iter()
            .enumerate()
            .map(|(k, s)| {
                vec![
                    format!("{:>4}", k + 1),
                    if s.point_of_no_return {
                        "*".into()
                    } else {
                        " ".into()
                    },
                    s.id.to_string(),
                    s.description.clone(),
                ]
            })
            .collect();
        for line in table(&["", "", "", ""], &rows).lines().skip(1) {
            out += &format!("  {line}\n");
        }
    }
    if !plan.warnings.is_empty() {
        out += "\nwarnings:\n";
        for w in &plan.warnings {
            out += &format!("  - {w}\n");
        }
    }
    out.trim_end().to_string()
}

/// Lines of an upstream diff shown per hop; `--json` has all of it.
const UPSTREAM_DIFF_LINES: usize = 80;

/// What merging the hop's upstream tag brings into a compose project's
/// files, and that the merge is the operator's to do.
fn upstream(u: &upshift_core::plan::UpstreamChange) -> String {
    let (added, removed) = u.lines();
    let top = &u.repository;
    let mut out = format!(
        "  upstream files of {} (git checkout {top}): tag {}, {} file{} changed, +{added} -{removed}\n",
        u.project,
        u.tag,
        u.files.len(),
        if u.files.len() == 1 { "" } else { "s" }
    );
    out += &format!("    review: {}\n", u.command);
    if let Some(l) = u.local.as_ref().filter(|l| l.commits > 0) {
        out += &format!(
            "    your branch: {} commit{} that {} does not have ({}): the merge keeps your changes\n",
            l.commits,
            if l.commits == 1 { "" } else { "s" },
            u.tag,
            l.files.join(", ")
        );
    }
    out += &match &u.merge {
        upshift_core::plan::MergeOutlook::Clean => {
            format!("    merge: `git merge {}` has no conflicts\n", u.tag)
        }
        upshift_core::plan::MergeOutlook::Conflicts { files } => format!(
            "    merge: CONFLICTS in {}: `git merge {}` stops for you to resolve them\n",
            files.join(", "),
            u.tag
        ),
        upshift_core::plan::MergeOutlook::Unknown { why } => {
            format!("    merge: cannot tell whether it conflicts: {why}\n")
        }
    };
    out += &match &u.merge {
        upshift_core::plan::MergeOutlook::Conflicts { .. } => format!(
            "    `upshift apply` stops before the window: merge it yourself first (`git -C {top} merge {}`, resolve, commit); apply then finds it merged\n",
            u.tag
        ),
        _ => format!(
            "    `upshift apply` merges it into the checked-out branch at the swap, after the final backup (`git -C {top} merge {}`); a rollback resets the branch to its commit before\n",
            u.tag
        ),
    };
    let lines: Vec<&str> = u.diff.lines().collect();
    for line in lines.iter().take(UPSTREAM_DIFF_LINES) {
        out += format!("      {line}").trim_end();
        out += "\n";
    }
    if lines.len() > UPSTREAM_DIFF_LINES {
        out += &format!(
            "      … {} more lines: run the review command above\n",
            lines.len() - UPSTREAM_DIFF_LINES
        );
    }
    out
}

/// Each hop's config changes, as the plan's preview made them: the diff
/// (secret values as `***`), the rules that spoke and their warnings.
pub fn config_changes(plan: &upshift_core::Plan, changes: &[upshift_run::ConfigChange]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nConfig changes, hop by hop (from the files as they are now; nothing is written):\n",
    );
    for c in changes {
        let Some(hop) = c.hop.checked_sub(1).and_then(|h| plan.hops.get(h)) else {
            continue;
        };
        let head = format!("  hop {} ({} → {}) {}", c.hop, hop.from, hop.to, c.path);
        if let Some(e) = &c.error {
            out += &format!("{head}: cannot preview: {e}\n");
            continue;
        }
        if c.diff.is_empty() {
            out += &format!("{head}: unchanged\n");
            continue;
        }
        out += &format!("{head}:\n");
        for line in c
            .applied
            .iter()
            .map(|a| format!("rule: {a}"))
            .chain(c.warnings.iter().map(|w| format!("warning: {w}")))
        {
            out += &format!("      {line}\n");
        }
        for line in c.diff.lines() {
            out += &format!("      {line}\n");
        }
    }
    out
}
