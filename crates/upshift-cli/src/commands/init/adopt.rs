//! What `upshift init --adopt DIR` can tell about a running installation:
//! the release link and the releases beside it, pidfiles and whether their
//! processes live, the addresses those processes listen on, SQLite files
//! and config files. Every path is relative to DIR.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use upshift_core::manifest::ConfigFormat;
use upshift_core::Catalog;

/// Everything found in DIR.
#[derive(Debug, Default)]
pub struct Findings {
    pub release: Option<ReleaseFound>,
    pub services: Vec<ServiceFound>,
    pub stores: Vec<StoreFound>,
    pub configs: Vec<ConfigFound>,
    /// Catalog config roles no file was found for.
    pub roles_unmatched: Vec<String>,
}

/// A link (`current`) to a release directory among others of versions.
#[derive(Debug)]
pub struct ReleaseFound {
    pub link: String,
    pub dir: String,
    /// The version the link points at.
    pub current: String,
    pub versions: Vec<String>,
}

/// A service known by its pidfile.
#[derive(Debug)]
pub struct ServiceFound {
    pub name: String,
    pub pidfile: String,
    /// The pid, when its process lives.
    pub pid: Option<u32>,
    /// Its command line, as `sh` would run it from `cwd`.
    pub start: Option<String>,
    /// The process's working directory, relative to DIR (`""` for DIR).
    pub cwd: Option<String>,
    pub listens: Vec<SocketAddr>,
    pub health: Option<HealthFound>,
    /// `logs/NAME.log`, when it exists.
    pub log: Option<String>,
}

/// How the service answers on its first address.
#[derive(Debug)]
pub enum HealthFound {
    /// `GET url` answers 200; `version` when the body names the running version.
    Http {
        url: String,
        version: bool,
    },
    Tcp(String),
}

#[derive(Debug)]
pub struct StoreFound {
    pub name: String,
    pub kind: &'static str,
    pub path: String,
    /// Files left out (a files store beside SQLite databases).
    pub exclude: Vec<String>,
}

#[derive(Debug)]
pub struct ConfigFound {
    pub name: String,
    pub path: String,
    pub format: ConfigFormat,
    pub role: Option<String>,
}

/// Looks at the installation in `dir` (canonical), running `version`.
pub fn discover(dir: &Path, catalog: &Catalog, version: &str) -> Findings {
    let release = release_link(dir, catalog);
    let services = pidfiles(dir)
        .iter()
        .map(|p| service(dir, p, release.as_ref(), version))
        .collect();
    let skip: Vec<String> = release
        .iter()
        .flat_map(|r| [r.dir.clone(), r.link.clone()])
        .collect();
    let roles = catalog_roles(catalog);
    let configs = config_files(dir, &roles);
    let roles_unmatched = roles
        .into_iter()
        .filter(|r| !configs.iter().any(|c| c.role.as_ref() == Some(r)))
        .collect();
    Findings {
        release,
        services,
        stores: stores(dir, &skip),
        configs,
        roles_unmatched,
    }
}

/// A symlink in `dir` to a directory named as a version of the catalog,
/// whose parent holds the other releases.
fn release_link(dir: &Path, catalog: &Catalog) -> Option<ReleaseFound> {
    let mut links: Vec<PathBuf> = entries(dir)
        .into_iter()
        .filter(|p| p.is_symlink() && p.is_dir())
        .collect();
    // `current` first: the name the docs and the examples use.
    links.sort_by_key(|p| p.file_name() != Some("current".as_ref()));
    links.into_iter().find_map(|link| {
        let target = std::fs::canonicalize(&link).ok()?;
        let current = target.file_name()?.to_str()?.to_string();
        catalog.parse_version(&current).ok()?;
        let parent = target.parent()?;
        let rel = parent.strip_prefix(dir).ok()?.to_str()?.to_string();
        let mut versions: Vec<String> = entries(parent)
            .iter()
            .filter(|p| p.is_dir())
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .filter(|n| catalog.parse_version(n).is_ok())
            .collect();
        versions.sort_by_key(|v| catalog.parse_version(v).ok());
        Some(ReleaseFound {
            link: link.file_name()?.to_str()?.to_string(),
            dir: if rel.is_empty() { ".".into() } else { rel },
            current,
            versions,
        })
    })
}

/// `*.pid` in DIR, DIR/run and DIR/*/run, sorted, hidden directories left out.
fn pidfiles(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![dir.to_path_buf(), dir.join("run")];
    dirs.extend(
        entries(dir)
            .into_iter()
            .filter(|p| p.is_dir() && !p.is_symlink() && !hidden(p))
            .map(|p| p.join("run")),
    );
    dirs.sort();
    dirs.dedup();
    let mut out: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| entries(d))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "pid"))
        .collect();
    out.sort();
    out
}

fn service(
    dir: &Path,
    pidfile: &Path,
    release: Option<&ReleaseFound>,
    version: &str,
) -> ServiceFound {
    let stem = pidfile
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("app");
    let name = plain(stem);
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|p| upshift_run::proc::pid_alive(*p));
    let cwd = pid.and_then(|p| std::fs::read_link(format!("/proc/{p}/cwd")).ok());
    let start = pid.and_then(|p| start_command(dir, p, cwd.as_deref(), release));
    let listens = pid.map_or_else(Vec::new, listening);
    let log = format!("logs/{name}.log");
    ServiceFound {
        health: listens.first().map(|a| probe(*a, version)),
        pidfile: relative(dir, pidfile),
        cwd: cwd.map(|c| relative(dir, &c)),
        log: dir.join(&log).is_file().then_some(log),
        name,
        pid,
        start,
        listens,
    }
}

/// The addresses `pid` and its children listen on (a server may listen
/// from a worker it started).
fn listening(pid: u32) -> Vec<SocketAddr> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let mut pids = vec![pid];
    pids.extend(
        children
            .split_whitespace()
            .filter_map(|c| c.parse::<u32>().ok()),
    );
    upshift_run::proc::listening(&pids)
}

/// The process's command line, quoted for `sh`, with paths into the
/// running release rewritten through the release link (so the next
/// release starts after the swap).
fn start_command(
    dir: &Path,
    pid: u32,
    cwd: Option<&Path>,
    release: Option<&ReleaseFound>,
) -> Option<String> {
    let args = upshift_run::proc::cmdline(pid)?;
    let cwd = cwd.unwrap_or(dir);
    let words: Vec<String> = args
        .iter()
        .map(|a| through_link(dir, cwd, a, release).unwrap_or_else(|| a.clone()))
        .map(|a| shell_word(&a))
        .collect();
    Some(words.join(" "))
}

/// `arg` as a path through the release link, when it names a file of the
/// release the link points at.
fn through_link(dir: &Path, cwd: &Path, arg: &str, r: Option<&ReleaseFound>) -> Option<String> {
    let r = r?;
    let running = dir.join(&r.dir).join(&r.current);
    let rest = cwd.join(arg);
    let rest = rest.strip_prefix(&running).ok()?;
    let via = dir.join(&r.link).join(rest);
    Some(match via.strip_prefix(cwd) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => via.display().to_string(),
    })
}

/// A word `sh` reads back as `w`.
pub fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// How `addr` answers: `GET /health` with 200 is an HTTP check (naming
/// the version when the body does), anything else a TCP check.
fn probe(addr: SocketAddr, version: &str) -> HealthFound {
    let mut reach = addr;
    if reach.ip().is_unspecified() {
        reach.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{reach}/health");
    match upshift_run::health::http("GET", &url, None, None, Duration::from_secs(2)) {
        Ok((200, body)) => HealthFound::Http {
            url,
            version: body.contains(version),
        },
        _ => HealthFound::Tcp(reach.to_string()),
    }
}

/// SQLite databases under DIR (three levels down, releases, logs and
/// hidden directories left out), and the other files of a `data`
/// directory as a files store.
fn stores(dir: &Path, skip: &[String]) -> Vec<StoreFound> {
    let mut dbs = Vec::new();
    walk(dir, 3, &mut |p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let top = relative(dir, p);
        let first = top.split('/').next().unwrap_or("");
        let skipped = skip.iter().any(|s| s == first) || matches!(first, "logs" | "run");
        if !skipped && is_sqlite(p) && !name.is_empty() {
            dbs.push(top);
        }
    });
    dbs.sort();
    let mut out: Vec<StoreFound> = dbs
        .iter()
        .map(|path| StoreFound {
            name: plain(
                Path::new(path)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("db"),
            ),
            kind: "sqlite",
            path: path.clone(),
            exclude: Vec::new(),
        })
        .collect();
    if let Some(files) = data_files(dir, &dbs) {
        out.push(files);
    }
    dedup_names(out, |s| &mut s.name)
}

/// `data/` as a files store when it holds more than SQLite databases and
/// their journals (which the sqlite stores copy safely).
fn data_files(dir: &Path, dbs: &[String]) -> Option<StoreFound> {
    let data = dir.join("data");
    let inside: Vec<String> = dbs
        .iter()
        .filter_map(|d| d.strip_prefix("data/").map(str::to_string))
        .collect();
    let other = entries(&data).into_iter().any(|p| {
        let rel = relative(&data, &p);
        !inside
            .iter()
            .any(|d| rel == *d || rel.starts_with(&format!("{d}-")))
    });
    if !other {
        return None;
    }
    let exclude = inside
        .iter()
        .flat_map(|d| [d.clone(), format!("{d}-*")])
        .collect();
    Some(StoreFound {
        name: "files".into(),
        kind: "files",
        path: "data".into(),
        exclude,
    })
}

fn is_sqlite(p: &Path) -> bool {
    use std::io::Read;
    let by_name = p
        .extension()
        .is_some_and(|x| x == "db" || x == "sqlite" || x == "sqlite3");
    let mut head = [0u8; 16];
    by_name
        && std::fs::File::open(p)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok()
        && &head == b"SQLite format 3\0"
}

/// Config files: in DIR/config, DIR/conf and DIR/etc, and DIR/.env; each
/// matched to a catalog role by name (`auth.toml` is `demo-auth`'s).
fn config_files(dir: &Path, roles: &[String]) -> Vec<ConfigFound> {
    let mut files: Vec<PathBuf> = ["config", "conf", "etc"]
        .iter()
        .flat_map(|d| entries(&dir.join(d)))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.push(dir.join(".env"));
    let found = files
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let format = format_of(p)?;
            let stem = p.file_stem()?.to_str()?.trim_start_matches('.');
            Some(ConfigFound {
                name: plain(stem),
                path: relative(dir, p),
                format,
                role: role_for(stem, roles),
            })
        })
        .collect();
    dedup_names(found, |c| &mut c.name)
}

fn format_of(p: &Path) -> Option<ConfigFormat> {
    if p.file_name().is_some_and(|n| n == ".env") {
        return Some(ConfigFormat::Env);
    }
    match p.extension()?.to_str()? {
        "yaml" | "yml" => Some(ConfigFormat::Yaml),
        "json" => Some(ConfigFormat::Json),
        "toml" => Some(ConfigFormat::Toml),
        "env" => Some(ConfigFormat::Env),
        _ => None,
    }
}

/// The catalog role a file named `stem` is for: the role of that name, or
/// one whose words (split at `-`) include it.
fn role_for(stem: &str, roles: &[String]) -> Option<String> {
    roles
        .iter()
        .find(|r| r.as_str() == stem)
        .or_else(|| roles.iter().find(|r| r.split('-').any(|w| w == stem)))
        .cloned()
}

/// Every `role` the catalog's config rules name, in order of appearance.
pub fn catalog_roles(catalog: &Catalog) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for r in &catalog.releases {
        for rule in &r.config_rules {
            if let Some(role) = rule.get("role").and_then(|v| v.as_str()) {
                if !roles.iter().any(|x| x == role) {
                    roles.push(role.to_string());
                }
            }
        }
    }
    roles
}

/// A name the manifest accepts for a table (`[stores.NAME]`).
pub fn plain(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() || out == "." || out == ".." {
        "app".into()
    } else {
        out
    }
}

/// Makes names unique (`notes`, `notes-2`), keeping the order.
fn dedup_names<T>(mut items: Vec<T>, name: impl Fn(&mut T) -> &mut String) -> Vec<T> {
    let mut seen: Vec<String> = Vec::new();
    for item in &mut items {
        let n = name(item);
        let base = n.clone();
        let mut i = 2;
        while seen.contains(n) {
            *n = format!("{base}-{i}");
            i += 1;
        }
        seen.push(n.clone());
    }
    items
}

/// `p` relative to `dir` when inside it (`""` for `dir` itself), else absolute.
fn relative(dir: &Path, p: &Path) -> String {
    match p.strip_prefix(dir) {
        Ok(r) => r.display().to_string(),
        Err(_) => p.display().to_string(),
    }
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The entries of `dir`, none when it cannot be read.
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// Calls `f` on every file under `dir`, `depth` levels down, without
/// following links or entering hidden directories.
fn walk(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path)) {
    for p in entries(dir) {
        if p.is_symlink() || hidden(&p) {
            continue;
        }
        if p.is_dir() {
            if depth > 1 {
                walk(&p, depth - 1, f);
            }
        } else if p.is_file() {
            f(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_sh_would_split_them() {
        assert_eq!(shell_word("current/bin/app"), "current/bin/app");
        assert_eq!(shell_word("--config=a.toml"), "--config=a.toml");
        assert_eq!(shell_word("two words"), "'two words'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn files_are_matched_to_the_catalog_roles_by_name() {
        let roles = vec!["demo-auth".to_string(), "mattermost-config".to_string()];
        assert_eq!(role_for("auth", &roles).as_deref(), Some("demo-auth"));
        assert_eq!(
            role_for("config", &roles).as_deref(),
            Some("mattermost-config")
        );
        assert_eq!(role_for("other", &roles), None);
    }

    #[test]
    fn names_become_plain_and_unique() {
        assert_eq!(plain("my app"), "my_app");
        let v = dedup_names(vec!["a".to_string(), "a".into(), "b".into()], |s| s);
        assert_eq!(v, ["a", "a-2", "b"]);
    }
}
