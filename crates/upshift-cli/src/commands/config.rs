//! `upshift config migrate --product P --from V --to V FILE [--write] [--merge-from SRC]`.

use std::io::Write;
use std::path::Path;

use upshift_config::{merge_rule, migrate, rules_for, ConfigError, Context, Format};
use upshift_core::catalog::Catalog;

use crate::cli::{ConfigCommand, ConfigMigrateArgs};
use crate::error::{code, CliError};
use crate::settings::{read, Settings};

pub fn run(settings: &Settings, cmd: &ConfigCommand) -> Result<i32, CliError> {
    match cmd {
        ConfigCommand::Migrate(args) => run_migrate(settings, args),
    }
}

/// A known version of the catalog, or bad input listing the nearest ones.
fn version(c: &Catalog, s: &str) -> Result<semver::Version, CliError> {
    let v = c
        .parse_version(s)
        .map_err(|e| CliError::BadInput(format!("{e}")))?;
    if c.release(&v).is_none() {
        return Err(CliError::BadInput(format!(
            "{} has no release {v}; nearest known: {}",
            c.name,
            c.nearest(&v, 3).join(", ")
        )));
    }
    Ok(v)
}

fn config_error(e: ConfigError) -> CliError {
    match e {
        ConfigError::Required { .. }
        | ConfigError::Conflict { .. }
        | ConfigError::Unsupported { .. } => {
            CliError::Failed(format!("{e}; the file was not changed"))
        }
        _ => CliError::BadInput(e.to_string()),
    }
}

/// Replaces `path` with `text` atomically (temp file in the same directory, then rename).
fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let fail =
        |e: std::io::Error| CliError::Failed(format!("cannot write {}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.upshift-tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(text.as_bytes()).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Writes a secret file readable by its owner only, creating its directory.
fn write_secret(path: &Path, contents: &str) -> Result<(), CliError> {
    upshift_run::Host::Local
        .write_atomic(path, contents.as_bytes(), Some(0o600))
        .map_err(|e| {
            CliError::Failed(format!(
                "cannot write the secret file {}: {e}; the config file was not changed",
                path.display()
            ))
        })
}

fn run_migrate(settings: &Settings, a: &ConfigMigrateArgs) -> Result<i32, CliError> {
    let catalogs = settings.catalogs()?;
    let Some(c) = catalogs.get(&a.product) else {
        return Err(CliError::BadInput(format!(
            "no catalog for product `{}`; known products: {}",
            a.product,
            catalogs.products().join(", ")
        )));
    };
    let (from, to) = (version(c, &a.from)?, version(c, &a.to)?);
    if from > to {
        return Err(CliError::BadInput(format!(
            "--from {from} is newer than --to {to}"
        )));
    }
    let file = a.file.display().to_string();
    let format = match &a.format {
        Some(f) => Format::from_name(f).ok_or_else(|| {
            CliError::BadInput(format!("unknown format `{f}`; use yaml, json, toml or env"))
        })?,
        None => Format::from_file_name(&file).ok_or_else(|| {
            CliError::BadInput(format!(
                "cannot tell the format of {file} from its name; pass --format yaml|json|toml|env"
            ))
        })?,
    };
    let text = read(&a.file)?;
    let mut rules = rules_for(c, &from, &to).map_err(config_error)?;
    let mut ctx = Context {
        from: Some(from),
        to: Some(to.clone()),
        facts: a.facts.iter().cloned().collect(),
        merge_source: None,
    };
    if let Some(src) = &a.merge_from {
        let Some(rule) = merge_rule(c, &to).map_err(config_error)? else {
            return Err(CliError::BadInput(format!(
                "the {} catalog has no merge rule (`op = \"merge_from\"`)",
                c.name
            )));
        };
        ctx.merge_source = Some((src.display().to_string(), read(src)?));
        rules.insert(0, rule);
    }
    let m = migrate(format, &file, &text, &rules, &ctx).map_err(config_error)?;
    // A secret moved out of the file goes to its own file first, so the
    // rewritten config never points at a file that does not exist.
    let base = settings.manifest_dir();
    let mut secrets = Vec::new();
    for f in &m.secret_files {
        let path = base.join(&f.path);
        if a.write {
            write_secret(&path, &f.contents)?;
        }
        secrets.push(path.display().to_string());
    }
    if a.write && m.changed {
        write_atomically(&a.file, &m.text)?;
    }
    let p = settings.printer;
    p.json(&serde_json::json!({
        "migration": &m,
        "written": a.write && m.changed,
        "secret_files": &secrets,
    }));
    let mut out = String::new();
    if m.diff.is_empty() {
        out += &format!("{file}: nothing to change\n");
    } else {
        out += &m.diff;
    }
    let section = |title: &str, items: &[String]| -> String {
        if items.is_empty() {
            return String::new();
        }
        format!(
            "\n{title}:\n{}",
            items
                .iter()
                .map(|s| format!("  - {s}\n"))
                .collect::<String>()
        )
    };
    out += &section("rules applied", &m.applied);
    out += &section("warnings", &m.warnings);
    out += &section("run before upgrading", &m.commands);
    for s in &secrets {
        out += &if a.write {
            format!("\nwrote the secret to {s} (mode 0600)\n")
        } else {
            format!("\nwould write the secret to {s} (mode 0600)\n")
        };
    }
    if a.write && m.changed {
        out += &format!("\nwrote {file}\n");
    } else if m.changed {
        out += "\n(dry run: pass --write to replace the file)\n";
    }
    p.human(out.trim_end());
    Ok(code::OK)
}
