//! Reading and checking `fleet.toml`: every error names the file, line and
//! column, and how to fix it.

use toml::Spanned;

use super::Fleet;
use crate::diag::{did_you_mean, from_toml_error, Diagnostic};

/// Parses and checks a fleet file (no manifest is read here).
pub fn parse_fleet(file: &str, src: &str) -> Result<Fleet, Diagnostic> {
    let fleet: Fleet = toml::from_str(src).map_err(|e| from_toml_error(file, src, &e))?;
    let at = |span: std::ops::Range<usize>, msg: String| Diagnostic::at(file, src, span, msg);
    if fleet.installations.is_empty() {
        return Err(Diagnostic::file(file, "the fleet has no installations").with_help(
            "add one table per installation: [installations.auth] manifest = \"auth/upshift.toml\"",
        ));
    }
    for (name, member) in &fleet.installations {
        check_name(file, src, name)?;
        if member.manifest.get_ref().trim().is_empty() {
            return Err(at(
                member.manifest.span(),
                format!("installation `{name}` names no manifest"),
            )
            .with_help("write the path of its upshift.toml, relative to this file"));
        }
        for used in &member.uses {
            check_link(file, src, &fleet, name, used)?;
        }
    }
    check_cycle(file, src, &fleet)?;
    if let Some(j) = &fleet.journal {
        check_journal_url(file, src, &j.url)?;
    }
    check_rollout(file, src, &fleet)?;
    Ok(fleet)
}

/// Installation names become names in the journal and in reports.
fn check_name(file: &str, src: &str, name: &str) -> Result<(), Diagnostic> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if plain {
        return Ok(());
    }
    let shown: String = name.chars().take(80).collect();
    let message = format!("`[installations.{shown}]`: an installation's name must be a plain name");
    let diag = match src.find(name).filter(|_| !name.is_empty()) {
        Some(at) => Diagnostic::at(file, src, at..at + name.len(), message),
        None => Diagnostic::file(file, message),
    };
    Err(diag.with_help(
        "use letters, digits, `-`, `_` and `.` (at most 64, not starting with `.`), e.g. [installations.auth]",
    ))
}

fn check_link(
    file: &str,
    src: &str,
    fleet: &Fleet,
    name: &str,
    used: &Spanned<String>,
) -> Result<(), Diagnostic> {
    let target = used.get_ref();
    if target == name {
        return Err(Diagnostic::at(
            file,
            src,
            used.span(),
            format!("installation `{name}` uses itself"),
        )
        .with_help("remove it from `uses`: `uses` names the other installations it needs"));
    }
    if fleet.installations.contains_key(target) {
        return Ok(());
    }
    let names: Vec<&str> = fleet.installations.keys().map(String::as_str).collect();
    let help = match did_you_mean(target, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? (installations: {})", names.join(", ")),
        None => format!(
            "add an [installations.{target}] table or remove it from `uses` (installations: {})",
            names.join(", ")
        ),
    };
    Err(Diagnostic::at(
        file,
        src,
        used.span(),
        format!("installation `{name}` uses `{target}`, which is not in the fleet"),
    )
    .with_help(help))
}

fn check_cycle(file: &str, src: &str, fleet: &Fleet) -> Result<(), Diagnostic> {
    let edges = fleet
        .installations
        .iter()
        .map(|(name, m)| (name.as_str(), m.uses.as_slice()))
        .collect();
    let Some((cycle, span)) = crate::graph::find_cycle(&edges) else {
        return Ok(());
    };
    Err(Diagnostic::at(
        file,
        src,
        span,
        format!(
            "installations use each other in a cycle: {}",
            cycle.join(" → ")
        ),
    )
    .with_help("remove one of these `uses` entries: the fleet is upgraded in the order they give"))
}

fn check_rollout(file: &str, src: &str, fleet: &Fleet) -> Result<(), Diagnostic> {
    let r = &fleet.rollout;
    if *r.max_parallel.get_ref() == 0 {
        return Err(Diagnostic::at(
            file,
            src,
            r.max_parallel.span(),
            "`max_parallel = 0` would upgrade nothing",
        )
        .with_help("use 1 (one installation at a time, the default) or more"));
    }
    if let Some(canary) = &r.canary {
        if !fleet.installations.contains_key(canary.get_ref()) {
            let names: Vec<&str> = fleet.installations.keys().map(String::as_str).collect();
            let help = match did_you_mean(canary.get_ref(), names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("name one of the installations: {}", names.join(", ")),
            };
            return Err(Diagnostic::at(
                file,
                src,
                canary.span(),
                format!("the canary `{}` is not in the fleet", canary.get_ref()),
            )
            .with_help(help));
        }
    }
    Ok(())
}

/// A PostgreSQL URL with no password in it (the password is a secret
/// reference of its own, `password = "env:NAME"`).
fn check_journal_url(file: &str, src: &str, url: &Spanned<String>) -> Result<(), Diagnostic> {
    let u = url.get_ref();
    let Some(rest) = u
        .strip_prefix("postgres://")
        .or_else(|| u.strip_prefix("postgresql://"))
    else {
        return Err(Diagnostic::at(
            file,
            src,
            url.span(),
            "`[journal] url` must be a PostgreSQL URL",
        )
        .with_help("write postgres://USER@HOST:PORT/DATABASE, or remove [journal] to keep the journal beside the fleet file"));
    };
    let userinfo = rest.split(['/', '?']).next().unwrap_or("").rsplit_once('@');
    if userinfo.is_some_and(|(user, _)| user.contains(':')) {
        return Err(Diagnostic::file(
            file,
            format!("`[journal] url` holds a password {}", crate::manifest::VALUE_HIDDEN),
        )
        .with_help("remove it from the URL and write `password = \"env:NAME\"` or `password = \"file:PATH\"`"));
    }
    Ok(())
}
