//! The staging copy's own manifest, generated from production's: the same
//! services, stores, config files and release layout under a directory of
//! its own (`.upshift/staging/RUN/` beside the production manifest), on
//! free loopback ports, with its own journal and snapshot repository, and
//! nothing that would reach production: no hooks, no maintenance commands
//! or announcements, no retention, no rehearsal requirement.

use std::net::TcpListener;
use std::path::Path;

use toml_edit::{DocumentMut, Item, Value};
use upshift_core::manifest::{DriverKind, Manifest, StoreKind};

use super::error::{RehearsalError, Result};

/// Production addresses (`host:port`) and the staging address each maps
/// to; and production's database names and the copy's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pairs: Vec<(String, String)>,
    /// Per database store: its name, production's database, the copy's.
    databases: Vec<(String, String, String)>,
}

impl Addresses {
    /// Production's addresses alone (for the check that a copy the
    /// operator described names none of them).
    pub fn of(m: &Manifest) -> Addresses {
        let pairs = ports_of(m)
            .into_iter()
            .flat_map(|p| {
                HOST_FORMS
                    .iter()
                    .map(move |h| (format!("{h}:{p}"), String::new()))
            })
            .collect();
        Addresses {
            pairs,
            databases: Vec::new(),
        }
    }

    /// A free loopback port for every port production's services use
    /// (public addresses, HTTP and TCP health checks).
    pub fn allocate(m: &Manifest, run: &str) -> Result<Addresses> {
        let ports = ports_of(m);
        let held = ports
            .iter()
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| RehearsalError::Staging(format!("no free port on 127.0.0.1: {e}")))?;
        let mut pairs = Vec::new();
        for (p, l) in ports.iter().zip(&held) {
            let new = l.local_addr().map(|a| a.port()).unwrap_or(0);
            for host in HOST_FORMS {
                pairs.push((format!("{host}:{p}"), format!("127.0.0.1:{new}")));
            }
        }
        Ok(Addresses {
            pairs,
            databases: copy_databases(m, run),
        })
    }

    /// A value of a kept key as the copy has it: a production database
    /// name (the whole value) becomes the copy's, addresses in it the
    /// copy's.
    pub fn rewrite_value(&self, text: &str) -> String {
        match self.databases.iter().find(|(_, prod, _)| prod == text) {
            Some((_, _, own)) => own.clone(),
            None => self.rewrite(text),
        }
    }

    /// The copy's database stores: store name and the copy's database.
    pub fn databases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.databases
            .iter()
            .map(|(s, _, own)| (s.as_str(), own.as_str()))
    }

    /// `text` with every production address replaced by its staging one.
    pub fn rewrite(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.pairs {
            out = replace_address(&out, from, to);
        }
        out
    }

    /// The production addresses `text` still names.
    pub fn named_in<'a>(&'a self, text: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .map(|(from, _)| from.as_str())
            .find(|from| find_address(text, from).is_some())
    }

    /// Each staging port, once.
    pub fn staging_ports(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .pairs
            .iter()
            .filter_map(|(_, to)| port_of(to))
            .collect();
        v.dedup();
        v
    }
}

/// A database of its own for every PostgreSQL store: production's name
/// with `_rehearsal_` and the run's id (at most 63 bytes, PostgreSQL's limit).
fn copy_databases(m: &Manifest, run: &str) -> Vec<(String, String, String)> {
    let tag: String = run
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let tag = &tag[tag.len().saturating_sub(12)..];
    m.stores
        .iter()
        .filter(|(_, s)| *s.kind.get_ref() == StoreKind::Postgres)
        .filter_map(|(name, s)| {
            let prod = s.database.clone()?;
            let head: String = prod.chars().take(40).collect();
            Some((name.clone(), prod, format!("{head}_rehearsal_{tag}")))
        })
        .collect()
}

/// Every port the services of `m` use, once.
pub fn ports_of(m: &Manifest) -> Vec<u16> {
    let mut ports: Vec<u16> = Vec::new();
    for s in m.services.values() {
        let health = s.health.as_ref();
        let addrs = [
            s.public_address.as_deref(),
            health
                .and_then(|h| h.http.as_deref())
                .and_then(url_authority),
            health.and_then(|h| h.tcp.as_deref()),
        ];
        for p in addrs.into_iter().flatten().filter_map(port_of) {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
    }
    ports
}

/// The ways an address on this machine is written.
const HOST_FORMS: [&str; 5] = ["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]"];

/// `from` in `text` where it is not followed by another digit (so
/// `:730` does not match inside `:7301`).
fn find_address(text: &str, from: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = text[at..].find(from) {
        let end = at + i + from.len();
        if !text[end..].starts_with(|c: char| c.is_ascii_digit()) {
            return Some(at + i);
        }
        at = end;
    }
    None
}

fn replace_address(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = find_address(rest, from) {
        out.push_str(&rest[..i]);
        out.push_str(to);
        rest = &rest[i + from.len()..];
    }
    out + rest
}

fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit_once(':')?.1.parse().ok()
}

/// `host:port` of an `http://host:port/path` URL.
fn url_authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// The staging manifest's text: production's `src`, its addresses and
/// name rewritten and everything that would reach production removed.
/// Refuses an installation whose services or stores cannot be copied on
/// this machine without sharing something with production.
pub fn manifest_text(
    m: &Manifest,
    src: &str,
    source_dir: &Path,
    addrs: &Addresses,
    run: &str,
) -> Result<String> {
    refuse_shared(m)?;
    let mut doc: DocumentMut = src
        .parse()
        .map_err(|e| RehearsalError::Staging(format!("the manifest does not parse: {e}")))?;
    rewrite_strings(doc.as_item_mut(), addrs);
    let inst = &mut doc["installation"];
    let name = format!("{}-rehearsal", m.installation.name);
    inst["name"] = toml_edit::value(name);
    for key in ["host", "ssh_config"] {
        remove(inst, key);
    }
    if let Some(dir) = &m.installation.catalog {
        inst["catalog"] = toml_edit::value(source_dir.join(dir.get_ref()).display().to_string());
    }
    for table in ["hooks", "retention", "apply"] {
        doc.remove(table);
    }
    for key in ["on", "off", "announce"] {
        remove(&mut doc["maintenance"], key);
    }
    doc.remove("backup");
    for (store, own) in addrs.databases() {
        doc["stores"][store]["database"] = toml_edit::value(own);
    }
    let head = format!(
        "# The staging copy of `{}` for rehearsal {run}, made by `upshift rehearse`:\n\
         # its own directory, loopback ports, journal and snapshot repository.\n",
        m.installation.name
    );
    Ok(head + &doc.to_string())
}

fn remove(item: &mut Item, key: &str) {
    if let Some(t) = item.as_table_like_mut() {
        t.remove(key);
    }
}

/// Every string of the document with production addresses rewritten.
fn rewrite_strings(item: &mut Item, addrs: &Addresses) {
    match item {
        Item::Value(v) => rewrite_value(v, addrs),
        Item::Table(t) => t.iter_mut().for_each(|(_, i)| rewrite_strings(i, addrs)),
        Item::ArrayOfTables(a) => a
            .iter_mut()
            .for_each(|t| t.iter_mut().for_each(|(_, i)| rewrite_strings(i, addrs))),
        Item::None => {}
    }
}

fn rewrite_value(v: &mut Value, addrs: &Addresses) {
    match v {
        Value::String(s) => {
            let new = addrs.rewrite(s.value());
            if &new != s.value() {
                let decor = s.decor().clone();
                *s = toml_edit::Formatted::new(new);
                *s.decor_mut() = decor;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| rewrite_value(v, addrs)),
        Value::InlineTable(t) => t.iter_mut().for_each(|(_, v)| rewrite_value(v, addrs)),
        _ => {}
    }
}

/// What a generated staging copy cannot have of its own on this machine.
fn refuse_shared(m: &Manifest) -> Result<()> {
    let unsupported = |what: String| {
        Err(RehearsalError::Unsupported(format!(
            "{what}; describe a staging installation of its own and pass it with `--staging MANIFEST`"
        )))
    };
    if m.installation.host.is_some() {
        return unsupported(format!(
            "{} runs on another machine: a staging copy beside it would run here",
            m.installation.name
        ));
    }
    if let Some((name, s)) = m
        .services
        .iter()
        .find(|(_, s)| s.kind() != DriverKind::Process)
    {
        return unsupported(format!(
            "service `{name}` uses driver `{}`: a generated staging copy runs `process` services only (another unit, project or release would be shared with production)",
            s.kind().as_str()
        ));
    }
    if m.release.is_none() {
        return unsupported(
            "the manifest has no [release]: the staging copy could not install the running version beside production".into(),
        );
    }
    for (name, s) in &m.stores {
        let kind = *s.kind.get_ref();
        if !matches!(
            kind,
            StoreKind::Files | StoreKind::Sqlite | StoreKind::Postgres
        ) {
            return unsupported(format!(
                "store `{name}` is a {} store: a generated staging copy holds files, SQLite and PostgreSQL stores only",
                kind.as_str()
            ));
        }
        if kind == StoreKind::Postgres && (s.uri.is_some() || s.database.is_none()) {
            return unsupported(format!(
                "store `{name}` names its database inside `uri`: the copy's own database could not be named; write `host`, `port`, `user` and `database` instead"
            ));
        }
        if let Some(p) = s
            .path
            .iter()
            .chain(&s.paths)
            .find(|p| Path::new(p).is_absolute())
        {
            return unsupported(format!(
                "store `{name}` lies at the absolute path {p}, which a copy would share"
            ));
        }
    }
    if let Some((name, c)) = m
        .config
        .iter()
        .find(|(_, c)| Path::new(&c.path).is_absolute())
    {
        return unsupported(format!(
            "config file `{name}` lies at the absolute path {}, which a copy would share",
            c.path
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs() -> Addresses {
        Addresses {
            pairs: vec![("127.0.0.1:7301".into(), "127.0.0.1:40001".into())],
            databases: vec![("db".into(), "notes".into(), "notes_rehearsal_1".into())],
        }
    }

    #[test]
    fn an_address_is_replaced_only_where_its_port_ends() {
        let a = addrs();
        assert_eq!(
            a.rewrite("http://127.0.0.1:7301/health 127.0.0.1:73012"),
            "http://127.0.0.1:40001/health 127.0.0.1:73012"
        );
        assert_eq!(a.named_in("x 127.0.0.1:7301"), Some("127.0.0.1:7301"));
        assert_eq!(a.named_in("127.0.0.1:73010"), None);
        assert_eq!(a.rewrite_value("notes"), "notes_rehearsal_1");
        assert_eq!(a.rewrite_value("notes2"), "notes2");
    }
}
