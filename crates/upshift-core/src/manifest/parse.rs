//! Reading and validating `upshift.toml`, with errors that name the file,
//! line and column, what is wrong and how to fix it.

use semver::Version;
use toml::Spanned;

use super::model::{ComposeDriver, Manifest, Service, StoreKind};
use crate::catalog::{Catalog, CatalogSet};
use crate::diag::{did_you_mean, from_toml_error, Diagnostic};

/// A manifest checked against the catalogs: the installation's product and
/// current version are known releases.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub manifest: Manifest,
    /// The file as named by the user.
    pub file: String,
    /// The manifest's text (for fingerprints).
    pub source: String,
    pub catalog: Catalog,
    pub version: Version,
}

/// Parses and validates a manifest's structure (no catalog needed).
pub fn parse_manifest(file: &str, src: &str) -> Result<Manifest, Diagnostic> {
    let mut m: Manifest = toml::from_str(src).map_err(|e| from_toml_error(file, src, &e))?;
    m.retention = m
        .retention_table
        .as_ref()
        .map(|t| t.check(file, src))
        .transpose()?;
    for (name, svc) in &m.services {
        check_health(file, src, name, svc)?;
        for dep in &svc.depends_on {
            if !m.services.contains_key(dep.get_ref()) {
                let names: Vec<&str> = m.services.keys().map(String::as_str).collect();
                let help = match did_you_mean(dep.get_ref(), names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? (services: {})", names.join(", ")),
                    None => format!(
                        "add a [services.{}] table or remove it (services: {})",
                        dep.get_ref(),
                        names.join(", ")
                    ),
                };
                return Err(Diagnostic::at(
                    file,
                    src,
                    dep.span(),
                    format!(
                        "service `{name}` depends on `{}`, which is not a service",
                        dep.get_ref()
                    ),
                )
                .with_help(help));
            }
        }
    }
    if let Some((cycle, span)) = find_cycle(&m) {
        return Err(Diagnostic::at(
            file,
            src,
            span,
            format!(
                "services depend on each other in a cycle: {}",
                cycle.join(" → ")
            ),
        )
        .with_help(
            "remove one of these `depends_on` entries so that services can start in order",
        ));
    }
    for (name, store) in &m.stores {
        check_name(file, src, "stores", name)?;
        check_store(file, src, name, store)?;
        super::store_path::check(file, src, name, store)?;
        super::exclude::check(file, src, name, store)?;
    }
    for name in m.config.keys() {
        check_name(file, src, "config", name)?;
    }
    super::upstream::check(file, src, &m)?;
    check_relocate(file, src, &m)?;
    if let Some(layout) = &m.release {
        check_carry(file, src, layout)?;
    }
    if let Some(h) = &m.installation.host {
        super::host::parse_host(h.get_ref()).map_err(|e| Diagnostic::at(file, src, h.span(), e))?;
        if let Some((name, _)) = m.services.iter().find(|(_, s)| s.socket_activation()) {
            return Err(Diagnostic::at(
                file,
                src,
                h.span(),
                format!("service `{name}` sets `socket_activation`, which hands over a listening socket on this machine, but the installation runs on another host; remove `socket_activation` there (the page is forwarded over ssh instead)"),
            ));
        }
    }
    Ok(m)
}

/// Names of stores and config files become file names under `.upshift/`
/// (staged copies, snapshot paths): plain names only, so none can point
/// outside it.
fn check_name(file: &str, src: &str, table: &str, name: &str) -> Result<(), Diagnostic> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        return Ok(());
    }
    let shown: String = name.chars().take(80).collect();
    let message = format!("`[{table}.{shown}]`: a name here must be a plain name");
    let diag = match src.find(name).filter(|_| !name.is_empty()) {
        Some(at) => Diagnostic::at(file, src, at..at + name.len(), message),
        None => Diagnostic::file(file, message),
    };
    Err(diag.with_help(format!(
        "use letters, digits, `-`, `_` and `.` (at most 64), e.g. [{table}.app]; the file's own path goes in its `path` key"
    )))
}

/// `[relocate.NAME]` names a config file; its keys are key paths.
fn check_relocate(file: &str, src: &str, m: &Manifest) -> Result<(), Diagnostic> {
    let header = |name: &str| {
        let h = format!("[relocate.{name}]");
        match src.find(&h) {
            Some(at) => at..at + h.len(),
            None => 0..0,
        }
    };
    for (name, r) in &m.relocate {
        if !m.config.contains_key(name) {
            let names: Vec<&str> = m.config.keys().map(String::as_str).collect();
            let guess = did_you_mean(name, names.iter().copied())
                .map(|g| format!("did you mean `{g}`? "))
                .unwrap_or_default();
            return Err(Diagnostic::at(
                file,
                src,
                header(name),
                format!("`[relocate.{name}]` names no config file"),
            )
            .with_help(format!(
                "{guess}a [relocate.NAME] table lists keys of the [config.NAME] of the same name (config files: {})",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            )));
        }
        if let Some(bad) = r
            .keep
            .iter()
            .find(|k| k.is_empty() || k.split('.').any(str::is_empty))
        {
            return Err(Diagnostic::at(
                file,
                src,
                header(name),
                format!("`[relocate.{name}] keep`: `{bad}` is not a key path"),
            )
            .with_help("write dotted key paths, e.g. keep = [\"server.listen\", \"database\"]"));
        }
    }
    Ok(())
}

/// `carry` paths must stay inside a release directory.
fn check_carry(
    file: &str,
    src: &str,
    layout: &super::model::ReleaseLayout,
) -> Result<(), Diagnostic> {
    for c in &layout.carry {
        let p = std::path::Path::new(c.get_ref());
        let escapes = p.is_absolute()
            || c.get_ref().trim().is_empty()
            || p.components().any(|x| {
                !matches!(
                    x,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            });
        if escapes {
            return Err(Diagnostic::at(
                file,
                src,
                c.span(),
                format!(
                    "`{}` in [release] carry is not a path inside a release directory",
                    c.get_ref()
                ),
            )
            .with_help(format!(
                "write it relative to {}/<version>/, without `..`, e.g. `config/config.json` or `data`",
                layout.dir
            )));
        }
    }
    Ok(())
}

/// Parses a manifest and checks product and version against `catalogs`.
pub fn load(file: &str, src: &str, catalogs: &CatalogSet) -> Result<Loaded, Diagnostic> {
    let manifest = parse_manifest(file, src)?;
    let inst = &manifest.installation;
    let product = inst.product.get_ref();
    let Some(catalog) = catalogs.get(product) else {
        let known = catalogs.products();
        let help = match did_you_mean(product, known.iter().copied()) {
            Some(s) => format!(
                "did you mean `{s}`? Known products: {}; add one with `--catalog DIR`",
                known.join(", ")
            ),
            None => format!(
                "known products: {}; add a catalog for `{product}` with `--catalog DIR`",
                known.join(", ")
            ),
        };
        return Err(Diagnostic::at(
            file,
            src,
            inst.product.span(),
            format!("unknown product `{product}`"),
        )
        .with_help(help));
    };
    let catalog = match catalog
        .parse_version(inst.version.get_ref())
        .ok()
        .and_then(|v| catalog.with_unlisted_patch(&v))
    {
        Some(with_patch) => with_patch,
        None => catalog.clone(),
    };
    let version = known_version(file, src, &catalog, &inst.version)?;
    known_facts(file, src, &catalog, &inst.facts)?;
    Ok(Loaded {
        catalog,
        version,
        file: file.to_string(),
        source: src.to_string(),
        manifest,
    })
}

/// When the catalog declares its facts, each fact the manifest states must
/// be one of them: a misspelt fact would silently change the plan.
fn known_facts(
    file: &str,
    src: &str,
    catalog: &Catalog,
    facts: &[Spanned<String>],
) -> Result<(), Diagnostic> {
    if catalog.facts.is_empty() {
        return Ok(());
    }
    let Some(bad) = facts
        .iter()
        .find(|f| !catalog.facts.contains_key(f.get_ref()))
    else {
        return Ok(());
    };
    let known: Vec<String> = catalog
        .facts
        .iter()
        .map(|(k, v)| format!("`{k}` ({v})"))
        .collect();
    let help = match did_you_mean(bad.get_ref(), catalog.facts.keys().map(String::as_str)) {
        Some(s) => format!(
            "did you mean `{s}`? {} knows: {}",
            catalog.name,
            known.join("; ")
        ),
        None => format!("{} knows: {}", catalog.name, known.join("; ")),
    };
    Err(Diagnostic::at(
        file,
        src,
        bad.span(),
        format!(
            "`{}` is not a fact the {} catalog knows",
            bad.get_ref(),
            catalog.name
        ),
    )
    .with_help(help))
}

/// Parses `v` and checks the catalog has that release; lists the nearest ones if not.
pub fn known_version(
    file: &str,
    src: &str,
    catalog: &Catalog,
    v: &Spanned<String>,
) -> Result<Version, Diagnostic> {
    let version = catalog
        .parse_version(v.get_ref())
        .map_err(|e| Diagnostic::at(file, src, v.span(), e.to_string()))?;
    if catalog.release(&version).is_none() {
        let near = catalog.nearest(&version, 3).join(", ");
        return Err(Diagnostic::at(file, src, v.span(), format!("{} has no release {version} in its catalog ({})", catalog.name, catalog.origin))
            .with_help(format!("the nearest known versions are: {near}; correct the version or add the release with `--catalog DIR`")));
    }
    Ok(version)
}

fn check_health(file: &str, src: &str, name: &str, svc: &Service) -> Result<(), Diagnostic> {
    let Some(h) = &svc.health else { return Ok(()) };
    let n = [h.http.is_some(), h.tcp.is_some(), h.command.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if n != 1 {
        return Err(Diagnostic::at(file, src, svc.driver.span(), format!("the health check of service `{name}` must have exactly one of `http`, `tcp`, `command` (it has {n})"))
            .with_help(format!("in [services.{name}.health] write e.g. `http = \"http://127.0.0.1:8080/health\"`")));
    }
    Ok(())
}

fn check_store(
    file: &str,
    src: &str,
    name: &str,
    s: &super::model::Store,
) -> Result<(), Diagnostic> {
    let kind = *s.kind.get_ref();
    let missing: Option<&str> = match kind {
        StoreKind::Files if s.path.is_none() && s.paths.is_empty() => Some("`path` or `paths`"),
        StoreKind::Sqlite if s.path.is_none() => Some("`path`"),
        StoreKind::Postgres | StoreKind::Mysql if s.database.is_none() => Some("`database`"),
        StoreKind::Mongodb if s.uri.is_none() && s.host.is_none() => Some("`uri` or `host`"),
        StoreKind::Volume if s.volume.is_none() => Some("`volume`"),
        StoreKind::S3 if s.bucket.is_none() => Some("`bucket`"),
        _ => None,
    };
    match missing {
        Some(what) => Err(Diagnostic::at(
            file,
            src,
            s.kind.span(),
            format!("store `{name}` of kind `{}` needs {what}", kind.as_str()),
        )
        .with_help(format!("add {what} to [stores.{name}]"))),
        None => Ok(()),
    }
}

/// The first cycle of `depends_on`, if any.
fn find_cycle(m: &Manifest) -> Option<(Vec<String>, std::ops::Range<usize>)> {
    let edges = m
        .services
        .iter()
        .map(|(name, s)| (name.as_str(), s.depends_on.as_slice()))
        .collect();
    crate::graph::find_cycle(&edges)
}

impl Manifest {
    /// The compose settings of the service whose compose service name
    /// (`service`, default the upshift name) is `compose_name`, if any.
    pub fn compose_service(&self, compose_name: &str) -> Option<&ComposeDriver> {
        self.services.iter().find_map(|(name, s)| {
            let c = s.compose()?;
            (c.service.as_deref().unwrap_or(name) == compose_name).then_some(c)
        })
    }

    /// Services in start order: every service after the ones it depends on,
    /// otherwise in the order the manifest lists them. Stop order is the reverse.
    pub fn start_order(&self) -> Vec<&str> {
        let mut done = vec![false; self.services.len()];
        let mut order = Vec::with_capacity(self.services.len());
        fn visit<'a>(
            m: &'a Manifest,
            i: usize,
            done: &mut [bool],
            order: &mut Vec<&'a str>,
            depth: usize,
        ) {
            if done[i] || depth > m.services.len() {
                return;
            }
            done[i] = true;
            for dep in &m.services[i].depends_on {
                if let Some(j) = m.services.get_index_of(dep.get_ref()) {
                    visit(m, j, done, order, depth + 1);
                }
            }
            order.push(
                m.services
                    .get_index(i)
                    .map(|(k, _)| k.as_str())
                    .unwrap_or_default(),
            );
        }
        for i in 0..self.services.len() {
            visit(self, i, &mut done, &mut order, 0);
        }
        order
    }
}
