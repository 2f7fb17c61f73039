//! The text of the manifest `upshift init` writes: one function per
//! section, each key with a comment saying what it is. What only the
//! operator knows is written as `"TODO: what it is"` (see
//! `upshift_core::manifest::placeholders`).

use std::path::Path;

use upshift_core::manifest::{ConfigFormat, TODO};
use upshift_core::Catalog;

use super::adopt::{plain, ConfigFound, Findings, HealthFound, ServiceFound, StoreFound};

/// What the manifest is written from.
pub struct Inputs<'a> {
    pub catalog: &'a Catalog,
    pub version: &'a str,
    pub name: &'a str,
    pub findings: Option<&'a Findings>,
    /// The adopted directory, when the manifest is written elsewhere: the
    /// paths found there are then written absolute.
    pub away: Option<&'a Path>,
    /// The `--catalog DIR` the product came from, as the manifest names it.
    pub catalog_dir: Option<String>,
}

impl Inputs<'_> {
    /// A path found in the installation, as the manifest must name it.
    fn path(&self, rel: &str) -> String {
        match self.away {
            Some(dir) if !Path::new(rel).is_absolute() => dir.join(rel).display().to_string(),
            _ => rel.to_string(),
        }
    }

    fn services_found(&self) -> &[ServiceFound] {
        self.findings.map_or(&[], |f| &f.services)
    }
}

/// The manifest's text.
pub fn manifest(i: &Inputs) -> String {
    let mut out = String::new();
    for section in [
        header,
        installation,
        services,
        stores,
        config,
        release,
        maintenance,
        backup,
    ] {
        out += &section(i);
    }
    out.trim_end().to_string() + "\n"
}

/// A TOML string.
fn s(v: &str) -> String {
    serde_json::to_string(v).expect("a string serialises")
}

/// A placeholder value saying what belongs there.
fn todo(what: &str) -> String {
    s(&format!("{TODO} {what}"))
}

fn header(i: &Inputs) -> String {
    let how = if i.findings.is_some() {
        "from what `upshift init --adopt` found in the running installation"
    } else {
        "by `upshift init`"
    };
    format!(
        "# The upshift manifest of {name}: {product} {version}, written {how}.\n\
         # Every key is explained in docs/manifest.md. Values that read \"TODO: ...\" must\n\
         # be filled in: `upshift status` works already; `plan`, `apply` and `start`\n\
         # refuse until they are. Paths are relative to this file.\n",
        name = i.name,
        product = i.catalog.name,
        version = i.version,
    )
}

fn installation(i: &Inputs) -> String {
    format!(
        "\n[installation]\n\
         name = {}   # shown in plans and history\n\
         product = {}   # the catalog (`upshift catalog show {}`)\n\
         version = {}   # the version running now\n\
         # version_command = \"current/bin/APP --version\"   # prints the running version; checked by status and every start\n{}",
        s(i.name),
        s(&i.catalog.product),
        i.catalog.product,
        s(i.version),
        i.catalog_dir.as_deref().map_or(String::new(), |d| format!(
            "catalog = {}   # the catalogs directory (relative to this file); every command finds the product there\n",
            s(d)
        )),
    )
}

fn services(i: &Inputs) -> String {
    let mut out = String::from(
        "\n# Services, started in dependency order and stopped in reverse. Drivers:\n\
         # process (upshift runs the program), systemd, compose, helm, command.\n",
    );
    let found = i.services_found();
    if found.is_empty() {
        for name in expected_services(i.catalog) {
            out += &service_unknown(i, &name);
        }
    } else {
        for svc in found {
            out += &service_found(i, svc);
        }
    }
    out
}

/// The services a product runs, as far as its catalog says: one per image
/// it ships, else one named after the product.
fn expected_services(catalog: &Catalog) -> Vec<String> {
    let names: Vec<String> = catalog.images.keys().map(|k| plain(k)).collect();
    if names.is_empty() {
        vec![plain(&catalog.product)]
    } else {
        names
    }
}

/// Whether the product is installed with a Helm chart (its releases name one).
fn helm_product(catalog: &Catalog) -> bool {
    catalog.releases.iter().any(|r| r.chart_version.is_some())
}

fn service_unknown(i: &Inputs, name: &str) -> String {
    let mut out = format!("\n[services.{name}]\n");
    if helm_product(i.catalog) {
        out += &format!(
            "driver = \"helm\"\n\
             public_address = {}\n\
             # depends_on = [\"other\"]   # services that must run before this one\n\
             [services.{name}.helm]\n\
             release = {}\n\
             chart = {}\n\
             # namespace = \"{name}\"\n\
             # values = \"values.yml\"   # list it under [config] too, to migrate it\n",
            todo("host:port users reach (the maintenance page answers there)"),
            todo("the Helm release name (`helm list -A`)"),
            todo("the chart, e.g. repo/chart"),
        );
    } else {
        out += &format!(
            "driver = \"process\"\n\
             public_address = {}\n\
             # depends_on = [\"other\"]   # services that must run before this one\n\
             [services.{name}.process]\n\
             start = {}\n\
             # pidfile = \"run/{name}.pid\"   # upshift writes it\n",
            todo("host:port users reach (the maintenance page answers there)"),
            todo(&format!(
                "the command line that starts {name}, run by sh in this directory"
            )),
        );
    }
    out + &format!(
        "[services.{name}.health]\nhttp = {}\n",
        todo("a URL that answers 200 when it is healthy")
    )
}

fn service_found(i: &Inputs, f: &ServiceFound) -> String {
    let name = &f.name;
    let running = match f.pid {
        Some(pid) => format!("pid {pid}, from {}", f.pidfile),
        None => format!("{} names no live process", f.pidfile),
    };
    let mut out = format!("\n# Found: {running}.\n[services.{name}]\ndriver = \"process\"\n");
    out += &match f.listens.first() {
        Some(a) => format!(
            "public_address = {}   # where it listens{}\n",
            s(&a.to_string()),
            others(&f.listens)
        ),
        None => format!(
            "public_address = {}\n",
            todo("host:port users reach (the maintenance page answers there)")
        ),
    };
    out += "# depends_on = [\"other\"]   # services that must run before this one\n";
    if let Some(log) = &f.log {
        out += &format!("log = {}\n", s(&i.path(log)));
    }
    out += &format!("[services.{name}.process]\n");
    out += &match &f.start {
        Some(cmd) => format!("start = {}   # its command line now; check it\n", s(cmd)),
        None => format!(
            "start = {}\n",
            todo(&format!(
                "the command line that starts {name}, run by sh in this directory"
            ))
        ),
    };
    out += &format!(
        "pidfile = {}   # upshift writes it from the service's session\n",
        s(&i.path(&f.pidfile))
    );
    if let Some(dir) = workdir(i, f) {
        out += &format!("workdir = {}   # where it runs now\n", s(&dir));
    }
    out + &health_found(name, f.health.as_ref())
}

/// `, also: 127.0.0.1:9000` when the process listens on more than one address.
fn others(listens: &[std::net::SocketAddr]) -> String {
    if listens.len() < 2 {
        return String::new();
    }
    let rest: Vec<String> = listens[1..].iter().map(|a| a.to_string()).collect();
    format!("; also on {}", rest.join(", "))
}

/// The process's working directory, when `start` must run elsewhere than
/// in the manifest's directory.
fn workdir(i: &Inputs, f: &ServiceFound) -> Option<String> {
    let cwd = f.cwd.as_deref()?;
    match (cwd, i.away) {
        ("", None) => None,
        ("", Some(dir)) => Some(dir.display().to_string()),
        (c, _) => Some(i.path(c)),
    }
}

fn health_found(name: &str, h: Option<&HealthFound>) -> String {
    let mut out = format!("[services.{name}.health]\n");
    out += &match h {
        Some(HealthFound::Http { url, version }) => {
            let body = if *version {
                "body = \"{version}\"   # it names the running version: a start counts once the new one answers\n"
            } else {
                ""
            };
            format!("http = {}\n{body}", s(url))
        }
        Some(HealthFound::Tcp(addr)) => format!(
            "tcp = {}   # it did not answer GET /health; an http check is better\n",
            s(addr)
        ),
        None => format!(
            "http = {}\n",
            todo("a URL that answers 200 when it is healthy")
        ),
    };
    out
}

fn stores(i: &Inputs) -> String {
    let mut out = String::from(
        "\n# Data that must survive an upgrade: snapshotted, verified by test restore,\n\
         # restored on rollback. Kinds: files, sqlite, postgres, mysql, mongodb, volume, s3.\n",
    );
    let found = i.findings.map_or(&[][..], |f| &f.stores);
    if found.is_empty() {
        return out
            + &format!(
                "[stores.data]\nkind = \"files\"\npath = {}\n",
                todo("the directory (or database file, with kind sqlite) holding the data")
            );
    }
    for st in found {
        out += &store_found(i, st);
    }
    out
}

fn store_found(i: &Inputs, st: &StoreFound) -> String {
    let mut out = format!(
        "[stores.{}]\nkind = {}\npath = {}\n",
        st.name,
        s(st.kind),
        s(&i.path(&st.path))
    );
    if !st.exclude.is_empty() {
        let globs: Vec<String> = st.exclude.iter().map(|g| s(g)).collect();
        out += &format!(
            "exclude = [{}]   # the SQLite files, copied safely by their own stores\n",
            globs.join(", ")
        );
    }
    out
}

fn config(i: &Inputs) -> String {
    let roles = super::adopt::catalog_roles(i.catalog);
    let mut out =
        String::from("\n# Config files an upgrade may rewrite (comments and order kept).\n");
    if roles.is_empty() {
        out += "# The catalog has no config rules for this product: list a file here only to\n\
                # have it snapshotted with the data.\n";
    } else {
        out += &format!(
            "# The catalog's rules rewrite files of these roles: {}.\n",
            roles.join(", ")
        );
    }
    let found = i.findings.map_or(&[][..], |f| &f.configs);
    let mut names: Vec<String> = found.iter().map(|c| c.name.clone()).collect();
    for c in found {
        out += &config_found(i, c);
    }
    let unmatched = match i.findings {
        Some(f) => f.roles_unmatched.clone(),
        None => roles,
    };
    for role in unmatched {
        out += &config_unknown(i, &role, &mut names);
    }
    out
}

fn config_found(i: &Inputs, c: &ConfigFound) -> String {
    let role = match &c.role {
        Some(r) => format!("role = {}\n", s(r)),
        None => "# role = \"...\"   # no catalog rule names this file\n".into(),
    };
    format!(
        "[config.{}]\npath = {}\nformat = \"{}\"\n{role}",
        c.name,
        s(&i.path(&c.path)),
        format_name(c.format)
    )
}

/// A table for a role of the catalog whose file was not found.
fn config_unknown(i: &Inputs, role: &str, names: &mut Vec<String>) -> String {
    let base = plain(role.rsplit('-').next().unwrap_or(role));
    let mut name = base.clone();
    let mut n = 2;
    while names.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    names.push(name.clone());
    let format = if role.contains("values") || helm_product(i.catalog) {
        "yaml"
    } else {
        "toml"
    };
    format!(
        "[config.{name}]\npath = {}\nformat = \"{format}\"   # yaml, json, toml or env: the file's format\nrole = {}\n",
        todo(&format!("the file the catalog's `{role}` rules rewrite")),
        s(role)
    )
}

fn format_name(f: ConfigFormat) -> &'static str {
    match f {
        ConfigFormat::Yaml => "yaml",
        ConfigFormat::Json => "json",
        ConfigFormat::Toml => "toml",
        ConfigFormat::Env => "env",
    }
}

fn release(i: &Inputs) -> String {
    let Some(r) = i.findings.and_then(|f| f.release.as_ref()) else {
        return "\n# Releases side by side: each installed in releases/VERSION/ while the old one\n\
                # serves, then the `current` link flips (point service commands through it).\n\
                # [release]\n\
                # dir = \"releases\"\n\
                # link = \"current\"\n\
                # install = \"./fetch-release {version} {dir}/{version}\"\n"
            .into();
    };
    format!(
        "\n# Found: {link} -> {dir}/{current}; releases there: {versions}.\n\
         [release]\n\
         dir = {dir_s}\n\
         link = {link_s}\n\
         install = {install}   # or remove it if you put each release in place yourself\n",
        link = r.link,
        dir = r.dir,
        current = r.current,
        versions = r.versions.join(", "),
        dir_s = s(&i.path(&r.dir)),
        link_s = s(&i.path(&r.link)),
        install = todo("the command that installs release {version} into {dir}/{version}"),
    )
}

fn maintenance(_: &Inputs) -> String {
    "\n[maintenance]\n\
     page = true   # answer 503 with Retry-After on each stopped service's public_address\n\
     # message = \"We are upgrading and will be back in a few minutes.\"\n\
     # retry_after = 60\n"
        .into()
}

fn backup(_: &Inputs) -> String {
    "\n[backup]\n\
     repository = \".upshift/repo\"   # restic-format snapshots (readable with restic)\n\
     # key = \"file:/etc/upshift/repo.key\"   # default: a generated 0600 key file\n"
        .into()
}
