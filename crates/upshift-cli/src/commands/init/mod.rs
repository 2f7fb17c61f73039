//! `upshift init --product P --version V [--out PATH] [--adopt DIR]`:
//! writes a commented manifest for a product of the catalog; with
//! `--adopt`, describing the running installation in DIR.

mod adopt;
mod write;

use std::path::{Path, PathBuf};

use serde::Serialize;
use upshift_core::manifest::{placeholders, Placeholder};
use upshift_core::{Catalog, CatalogSet};

use crate::cli::InitArgs;
use crate::error::{code, CliError};
use crate::settings::Settings;
use adopt::{Findings, HealthFound};

#[derive(Serialize)]
struct Report {
    manifest: String,
    product: String,
    version: String,
    /// What `--adopt` found, one line each.
    found: Vec<String>,
    /// Values written as "TODO: …", to fill in by hand.
    todo: Vec<Placeholder>,
    /// What could not be found and is worth checking by hand.
    check: Vec<String>,
}

pub fn run(settings: &Settings, args: &InitArgs) -> Result<i32, CliError> {
    let catalogs = settings.catalogs()?;
    let catalog = product(&catalogs, &args.product)?;
    let version = release(catalog, &args.version)?;
    let adopted = args.adopt.as_deref().map(canonical_dir).transpose()?;
    let out = output(args, adopted.as_deref())?;
    let findings = adopted
        .as_deref()
        .map(|d| adopt::discover(d, catalog, &version));
    let out_dir = parent(&out);
    let away = adopted.as_deref().filter(|d| *d != out_dir);
    let name = installation_name(adopted.as_deref(), catalog);
    let text = write::manifest(&write::Inputs {
        catalog,
        version: &args.version,
        name: &name,
        findings: findings.as_ref(),
        away,
        catalog_dir: settings
            .catalog_dir
            .as_deref()
            .map(|d| relative_to(d, &out_dir)),
    });
    // What init writes must load: a failure here is upshift's own bug.
    upshift_core::load(&out.display().to_string(), &text, &catalogs).map_err(|e| {
        CliError::Failed(format!("the manifest init would write does not load: {e}"))
    })?;
    save(&out, &text)?;
    let report = Report {
        manifest: out.display().to_string(),
        product: catalog.product.clone(),
        version: version.clone(),
        found: findings.as_ref().map_or_else(Vec::new, found_lines),
        todo: placeholders(&text),
        check: check_lines(findings.as_ref()),
    };
    settings.printer.json(&report);
    settings.printer.human(render(&report));
    Ok(code::OK)
}

/// `dir` as a manifest in `base` names it: relative when inside `base`.
fn relative_to(dir: &Path, base: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    match dir.strip_prefix(&base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => dir.display().to_string(),
    }
}

fn product<'c>(catalogs: &'c CatalogSet, name: &str) -> Result<&'c Catalog, CliError> {
    if let Some(c) = catalogs.get(name) {
        return Ok(c);
    }
    let known = catalogs.products();
    let hint = match upshift_core::diag::did_you_mean(name, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? "),
        None => String::new(),
    };
    Err(CliError::BadInput(format!(
        "no catalog for product `{name}`; {hint}known products: {} (add one with `--catalog DIR`)",
        known.join(", ")
    )))
}

/// The release `v` names, as the catalog writes it.
fn release(catalog: &Catalog, v: &str) -> Result<String, CliError> {
    let all: Vec<String> = catalog
        .releases
        .iter()
        .map(|r| r.version.to_string())
        .collect();
    let unknown = |why: String, hint: String| {
        CliError::BadInput(format!(
            "--version {v}: {why}; {hint}The releases of {} are: {} (`upshift catalog show {}`)",
            catalog.product,
            all.join(", "),
            catalog.product
        ))
    };
    let parsed = catalog
        .parse_version(v)
        .map_err(|e| unknown(e.to_string(), String::new()))?;
    if catalog.release(&parsed).is_some() {
        return Ok(parsed.to_string());
    }
    let near = catalog.nearest(&parsed, 1);
    let hint = match near.as_slice() {
        [] => String::new(),
        n => format!("did you mean {}? ", n.join(" or ")),
    };
    Err(unknown(
        format!("{} has no release {parsed}", catalog.name),
        hint,
    ))
}

fn canonical_dir(dir: &Path) -> Result<PathBuf, CliError> {
    match dir.canonicalize() {
        Ok(d) if d.is_dir() => Ok(d),
        Ok(_) => Err(CliError::BadInput(format!(
            "--adopt {}: not a directory; pass the installation's directory",
            dir.display()
        ))),
        Err(e) => Err(CliError::BadInput(format!(
            "--adopt {}: {e}; pass the installation's directory",
            dir.display()
        ))),
    }
}

/// `--out`, else `upshift.toml` in the adopted directory or here; an
/// existing file is replaced only with `--force`.
fn output(args: &InitArgs, adopted: Option<&Path>) -> Result<PathBuf, CliError> {
    let out = match (&args.out, adopted) {
        (Some(o), _) => o.clone(),
        (None, Some(d)) => d.join("upshift.toml"),
        (None, None) => PathBuf::from("upshift.toml"),
    };
    if out.exists() && !args.force {
        return Err(CliError::BadInput(format!(
            "{} exists: pass --force to replace it, or --out another path",
            out.display()
        )));
    }
    let dir = parent(&out);
    if !dir.is_dir() {
        return Err(CliError::BadInput(format!(
            "cannot write {}: {} is not a directory",
            out.display(),
            dir.display()
        )));
    }
    Ok(dir.join(out.file_name().unwrap_or("upshift.toml".as_ref())))
}

/// The directory of `path`, canonical when it exists.
fn parent(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf())
}

/// The adopted directory's name, else the product's.
fn installation_name(adopted: Option<&Path>, catalog: &Catalog) -> String {
    adopted
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .unwrap_or_else(|| catalog.product.clone())
}

/// Writes `text` atomically (a temp file renamed over the target).
fn save(path: &Path, text: &str) -> Result<(), CliError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("upshift.toml");
    let tmp = parent(path).join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))
}

fn found_lines(f: &Findings) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &f.release {
        out.push(format!(
            "release link {} -> {}/{} (releases: {})",
            r.link,
            r.dir,
            r.current,
            r.versions.join(", ")
        ));
    }
    for s in &f.services {
        out.push(service_line(s));
    }
    for st in &f.stores {
        out.push(format!("{} store {}: {}", st.kind, st.name, st.path));
    }
    for c in &f.configs {
        let role = c
            .role
            .as_deref()
            .map_or(String::new(), |r| format!(", role {r}"));
        out.push(format!("config {}: {}{role}", c.name, c.path));
    }
    out
}

fn service_line(s: &adopt::ServiceFound) -> String {
    let Some(pid) = s.pid else {
        return format!("service {}: {} names no live process", s.name, s.pidfile);
    };
    let addrs: Vec<String> = s.listens.iter().map(|a| a.to_string()).collect();
    let listens = if addrs.is_empty() {
        "listening on no TCP port".to_string()
    } else {
        format!("listening on {}", addrs.join(", "))
    };
    let health = match &s.health {
        Some(HealthFound::Http { url, .. }) => format!(", health {url}"),
        Some(HealthFound::Tcp(a)) => format!(", health tcp {a}"),
        None => String::new(),
    };
    format!(
        "service {}: pid {pid} (alive, from {}), {listens}{health}",
        s.name, s.pidfile
    )
}

/// What init cannot know, to check by hand.
fn check_lines(f: Option<&Findings>) -> Vec<String> {
    let mut out = vec![
        "installation.version_command: a command printing the running version (recommended)"
            .to_string(),
        "services.NAME.depends_on: which services must run before which".to_string(),
    ];
    let Some(f) = f else {
        return out;
    };
    if f.release.is_none() {
        out.push("[release]: no link to a release directory was found (docs/manifest.md, \"Adopting a running installation\")".into());
    }
    if f.services.is_empty() {
        out.push("services: no pidfile (*.pid, run/*.pid) was found; services started by hand are described by their start command".into());
    }
    if f.stores.is_empty() {
        out.push("stores: no SQLite file was found; databases on a server (postgres, mysql, mongodb) and file directories must be added by hand".into());
    } else {
        out.push("stores: only SQLite files and data/ are found; databases on a server must be added by hand".into());
    }
    out
}

fn render(r: &Report) -> String {
    let mut out = format!("wrote {} ({} {})\n", r.manifest, r.product, r.version);
    if !r.found.is_empty() {
        out += "\nfound:\n";
        for l in &r.found {
            out += &format!("  {l}\n");
        }
    }
    if !r.todo.is_empty() {
        out += "\nto fill in by hand (written as \"TODO: ...\"):\n";
        for t in &r.todo {
            out += &format!("  line {}: {} — {}\n", t.line, t.key, t.what);
        }
    }
    out += "\nnot known, worth checking:\n";
    for l in &r.check {
        out += &format!("  {l}\n");
    }
    out += &format!(
        "\nnext: upshift -m {m} status, then upshift -m {m} plan --to VERSION",
        m = r.manifest
    );
    out
}
