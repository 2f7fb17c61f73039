//! The two config files, `auth.toml` and `notes.toml`, in both formats.
//!
//! Format 1 (releases 1.x):
//! ```toml
//! listen = "127.0.0.1:7301"
//! secret = "cleartext"                 # auth.toml
//! auth_url = "http://127.0.0.1:7301"   # notes.toml
//! database = "data/notes.db"           # notes.toml
//! ```
//! Format 2 (2.0.0 on): `listen` moves to `[server] listen`, and auth's
//! cleartext `secret` becomes `secret_file = "secrets/auth.secret"`.
//!
//! Both formats may keep the notes in PostgreSQL instead of SQLite, with a
//! `[storage]` table in place of `database` (last in the file):
//! ```toml
//! [storage]
//! kind = "postgres"                        # or "sqlite" (then `database` is read)
//! host = "127.0.0.1"                       # or a socket directory, starting with /
//! port = 5432
//! user = "notes"
//! database = "notes"
//! password_file = "secrets/notes-db.password"   # optional
//! ```
//!
//! Relative paths (`database`, `secret_file`, `password_file`) are relative to the
//! installation root: the parent of the directory holding the config file
//! (`ROOT/config/notes.toml` → `ROOT`). Unknown keys are refused with an
//! error naming the key and the file, as Synapse does.

use crate::error::Context;
use crate::{Error, Release, Result};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The `auth` service's settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub listen: String,
    /// The shared secret itself (read from `secret_file` in format 2).
    pub secret: String,
}

/// The `notes` service's settings.
#[derive(Debug, Clone)]
pub struct NotesConfig {
    pub listen: String,
    /// `http://host:port` of the auth service.
    pub auth_url: String,
    /// Where the notes are kept.
    pub storage: Storage,
}

/// Where the notes service keeps its notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite database file, resolved against the installation root.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgStorage),
}

/// A PostgreSQL database and how to log in to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgStorage {
    /// A host name or address, or a socket directory (starting with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    /// The password itself (read from `password_file`), if any.
    pub password: Option<String>,
    /// `password_file` as written in the config (relative to the root).
    pub password_file: Option<String>,
}

impl Storage {
    /// The SQLite file, or `postgres://user@host:port/database` (no password).
    pub fn describe(&self) -> String {
        match self {
            Storage::Sqlite(p) => p.display().to_string(),
            Storage::Postgres(pg) => format!(
                "postgres://{}@{}:{}/{}",
                pg.user, pg.host, pg.port, pg.database
            ),
        }
    }
}

/// The installation root a config file belongs to: its parent's parent.
pub fn root_of(config: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(config).context(config.display())?;
    Ok(abs
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"))
        .to_path_buf())
}

impl AuthConfig {
    /// Reads `path` as `release` understands it.
    pub fn load(path: &Path, release: Release) -> Result<AuthConfig> {
        let file = Doc::read(path, release)?;
        let root = root_of(path)?;
        if release.config_format() == 1 {
            file.only(&file.table, "", &["listen", "secret"])?;
            Ok(AuthConfig {
                listen: file.string(&file.table, "", "listen")?,
                secret: file.string(&file.table, "", "secret")?,
            })
        } else {
            file.only(&file.table, "", &["server", "secret_file"])?;
            let server = file.server()?;
            let secret_path = root.join(file.string(&file.table, "", "secret_file")?);
            let secret = std::fs::read_to_string(&secret_path)
                .context(format!(
                    "{}: secret_file {}",
                    path.display(),
                    secret_path.display()
                ))?
                .trim()
                .to_string();
            if secret.is_empty() {
                return Err(Error::input(format!(
                    "{}: secret_file {} is empty",
                    path.display(),
                    secret_path.display()
                )));
            }
            Ok(AuthConfig {
                listen: file.string(server, "server.", "listen")?,
                secret,
            })
        }
    }
}

impl NotesConfig {
    /// Reads `path` as `release` understands it.
    pub fn load(path: &Path, release: Release) -> Result<NotesConfig> {
        Self::load_format(path, release.config_format(), release)
    }

    /// Reads `path` in whichever format it is written (for `export`, which
    /// is a tool, not a release's behaviour).
    pub fn load_any(path: &Path) -> Result<NotesConfig> {
        let text = std::fs::read_to_string(path).context(path.display())?;
        let format = if text
            .parse::<Table>()
            .map(|t| t.contains_key("server"))
            .unwrap_or(false)
        {
            2
        } else {
            1
        };
        let as_release = Release::parse(if format == 1 { "1.1.0" } else { "2.1.0" })?;
        Self::load_format(path, format, as_release).map_err(|mut e| {
            e.message = e
                .message
                .replace(&format!(" (release {as_release} cannot start)"), "");
            e
        })
    }

    fn load_format(path: &Path, format: u8, release: Release) -> Result<NotesConfig> {
        let file = Doc::read(path, release)?;
        let t = &file.table;
        let listen = if format == 1 {
            file.only(t, "", &["listen", "auth_url", "database", "storage"])?;
            file.string(t, "", "listen")?
        } else {
            file.only(t, "", &["server", "auth_url", "database", "storage"])?;
            file.string(file.server()?, "server.", "listen")?
        };
        let auth_url = file.string(t, "", "auth_url")?;
        if !auth_url.starts_with("http://") {
            return Err(Error::input(format!(
                "{}: `auth_url` must be an http:// URL, got `{auth_url}`",
                path.display()
            )));
        }
        let root = root_of(path)?;
        let storage = match file.storage()? {
            Some(pg) => {
                if t.contains_key("database") {
                    return Err(file.err(
                        "`database` is the SQLite file: with `[storage] kind = \"postgres\"` the database is `storage.database`".into(),
                    ));
                }
                let password = match &pg.password_file {
                    Some(f) => {
                        let p = root.join(f);
                        let text = std::fs::read_to_string(&p).context(format!(
                            "{}: storage.password_file {}",
                            path.display(),
                            p.display()
                        ))?;
                        Some(text.trim_end_matches(['\n', '\r']).to_string())
                    }
                    None => None,
                };
                Storage::Postgres(PgStorage { password, ..pg })
            }
            None => Storage::Sqlite(root.join(file.string(t, "", "database")?)),
        };
        Ok(NotesConfig {
            listen,
            auth_url: auth_url.trim_end_matches('/').to_string(),
            storage,
        })
    }
}

/// Renders `auth.toml` for `release`; format 2 refers to `secret_file`.
pub fn render_auth(release: Release, listen: &str, secret: &str) -> String {
    if release.config_format() == 1 {
        format!("# auth service, release {release}\nlisten = \"{listen}\"\nsecret = \"{secret}\"\n")
    } else {
        format!("# auth service, release {release}\nsecret_file = \"secrets/auth.secret\"\n\n[server]\nlisten = \"{listen}\"\n")
    }
}

/// Renders `notes.toml` for `release`, its notes in SQLite at `data/notes.db`.
pub fn render_notes(release: Release, listen: &str, auth_url: &str) -> String {
    render_notes_with(release, listen, auth_url, None)
}

/// Renders `notes.toml` for `release`: notes in `pg` (its `password_file`
/// is written, never the password), else in SQLite at `data/notes.db`.
pub fn render_notes_with(
    release: Release,
    listen: &str,
    auth_url: &str,
    pg: Option<&PgStorage>,
) -> String {
    let common = match pg {
        None => format!("auth_url = \"{auth_url}\"\ndatabase = \"data/notes.db\"\n"),
        Some(_) => format!("auth_url = \"{auth_url}\"\n"),
    };
    let mut text = if release.config_format() == 1 {
        format!("# notes service, release {release}\nlisten = \"{listen}\"\n{common}")
    } else {
        format!("# notes service, release {release}\n{common}\n[server]\nlisten = \"{listen}\"\n")
    };
    if let Some(pg) = pg {
        let s = |v: &str| Value::String(v.to_string()).to_string();
        text.push_str(&format!(
            "\n[storage]\nkind = \"postgres\"\nhost = {}\nport = {}\nuser = {}\ndatabase = {}\n",
            s(&pg.host),
            pg.port,
            s(&pg.user),
            s(&pg.database)
        ));
        if let Some(f) = &pg.password_file {
            text.push_str(&format!("password_file = {}\n", s(f)));
        }
    }
    text
}

/// A parsed config file and the release reading it, for error messages.
struct Doc<'a> {
    path: &'a Path,
    release: Release,
    table: Table,
}

impl<'a> Doc<'a> {
    fn read(path: &'a Path, release: Release) -> Result<Doc<'a>> {
        let text = std::fs::read_to_string(path).context(path.display())?;
        let table = text.parse::<Table>().map_err(|e| {
            Error::input(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        Ok(Doc {
            path,
            release,
            table,
        })
    }

    fn err(&self, what: String) -> Error {
        Error::input(format!(
            "{}: {what} (release {} cannot start)",
            self.path.display(),
            self.release
        ))
    }

    /// Refuses any key of `table` not in `allowed`, explaining the keys that
    /// moved between formats.
    fn only(&self, table: &Table, prefix: &str, allowed: &[&str]) -> Result<()> {
        if let Some(key) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
            let format2 = self.release.config_format() == 2;
            return Err(self.err(match (prefix, key.as_str()) {
                ("", "listen") if format2 => "`listen` moved to `server.listen` in 2.0.0".into(),
                ("", "secret") if format2 => {
                    "unknown key `secret`: 2.0.0 reads the shared secret from `secret_file`".into()
                }
                ("", "server") if !format2 => {
                    "unknown key `server`: `[server]` is the 2.0.0 format; 1.x reads a top-level `listen`".into()
                }
                ("", "secret_file") if !format2 => {
                    "unknown key `secret_file`: 1.x reads the cleartext `secret`".into()
                }
                _ => format!("unknown key `{prefix}{key}`"),
            }));
        }
        Ok(())
    }

    /// The `[server]` table (format 2), checked for unknown keys.
    fn server(&self) -> Result<&Table> {
        match self.table.get("server") {
            Some(Value::Table(t)) => self.only(t, "server.", &["listen"]).map(|_| t),
            Some(_) => Err(self.err("`server` must be a table".into())),
            None => Err(self.err("missing `[server]` table with `listen`".into())),
        }
    }

    /// The `[storage]` table: `None` for SQLite (absent, or `kind = "sqlite"`),
    /// else the PostgreSQL settings (the password not read yet).
    fn storage(&self) -> Result<Option<PgStorage>> {
        let t = match self.table.get("storage") {
            None => return Ok(None),
            Some(Value::Table(t)) => t,
            Some(_) => return Err(self.err("`storage` must be a table".into())),
        };
        match self.string(t, "storage.", "kind")?.as_str() {
            "sqlite" => {
                self.only(t, "storage.", &["kind"])?;
                Ok(None)
            }
            "postgres" => {
                self.only(
                    t,
                    "storage.",
                    &["kind", "host", "port", "user", "database", "password_file"],
                )?;
                let port = match t.get("port") {
                    None => 5432,
                    Some(Value::Integer(p)) if (1..=65535).contains(p) => *p as u16,
                    Some(_) => {
                        return Err(
                            self.err("`storage.port` must be a port number (1-65535)".into())
                        )
                    }
                };
                let opt = |key: &str| -> Result<Option<String>> {
                    t.get(key)
                        .map(|_| self.string(t, "storage.", key))
                        .transpose()
                };
                Ok(Some(PgStorage {
                    host: opt("host")?.unwrap_or_else(|| "127.0.0.1".into()),
                    port,
                    user: opt("user")?.unwrap_or_else(|| "notes".into()),
                    database: self.string(t, "storage.", "database")?,
                    password: None,
                    password_file: opt("password_file")?,
                }))
            }
            other => Err(self.err(format!(
                "`storage.kind` must be \"sqlite\" or \"postgres\", got `{other}`"
            ))),
        }
    }

    fn string(&self, table: &Table, prefix: &str, key: &str) -> Result<String> {
        match table.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.err(format!("`{prefix}{key}` must be a string"))),
            None => Err(self.err(format!("missing key `{prefix}{key}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir.join("config")).unwrap();
        let p = dir.join("config").join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn each_format_round_trips_and_refuses_the_other() {
        let d = tempfile::tempdir().unwrap();
        let (v1, v2) = (
            Release::parse("1.1.0").unwrap(),
            Release::parse("2.0.0").unwrap(),
        );
        let n1 = write(
            d.path(),
            "n1.toml",
            &render_notes(v1, "127.0.0.1:1", "http://127.0.0.1:2/"),
        );
        let n2 = write(
            d.path(),
            "n2.toml",
            &render_notes(v2, "127.0.0.1:1", "http://127.0.0.1:2"),
        );
        let c = NotesConfig::load(&n1, v1).unwrap();
        assert_eq!(c.auth_url, "http://127.0.0.1:2");
        assert_eq!(c.storage, Storage::Sqlite(d.path().join("data/notes.db")));
        assert_eq!(NotesConfig::load(&n2, v2).unwrap().listen, "127.0.0.1:1");
        assert_eq!(NotesConfig::load_any(&n2).unwrap().listen, "127.0.0.1:1");
        let bad = write(d.path(), "n3.toml", "listen = \"a\"\nport = 1\n");
        let e = NotesConfig::load_any(&bad).unwrap_err();
        assert!(e.message.ends_with("n3.toml: unknown key `port`"), "{e}");

        let e = NotesConfig::load(&n1, v2).unwrap_err();
        assert!(
            e.message
                .contains("n1.toml: `listen` moved to `server.listen` in 2.0.0"),
            "{e}"
        );
        assert_eq!(e.code, 2);
        let e = NotesConfig::load(&n2, v1).unwrap_err();
        assert!(e.message.contains("n2.toml: unknown key `server`"), "{e}");
    }

    #[test]
    fn notes_may_be_kept_in_postgres_in_either_format() {
        let d = tempfile::tempdir().unwrap();
        let pg = PgStorage {
            host: "127.0.0.1".into(),
            port: 55432,
            user: "notes".into(),
            database: "notes".into(),
            password: None,
            password_file: Some("secrets/notes-db.password".into()),
        };
        std::fs::create_dir_all(d.path().join("secrets")).unwrap();
        std::fs::write(d.path().join("secrets/notes-db.password"), "pw\n").unwrap();
        for v in ["1.0.0", "2.1.0"] {
            let r = Release::parse(v).unwrap();
            let text = render_notes_with(r, "127.0.0.1:1", "http://127.0.0.1:2", Some(&pg));
            let p = write(d.path(), &format!("{v}.toml"), &text);
            let c = NotesConfig::load(&p, r).unwrap();
            let want = PgStorage {
                password: Some("pw".into()),
                ..pg.clone()
            };
            assert_eq!(c.storage, Storage::Postgres(want), "{v}");
            assert_eq!(c.listen, "127.0.0.1:1");
            assert_eq!(
                c.storage.describe(),
                "postgres://notes@127.0.0.1:55432/notes"
            );
        }
        let both = write(
            d.path(),
            "both.toml",
            "listen = \"a\"\nauth_url = \"http://x\"\ndatabase = \"n.db\"\n[storage]\nkind = \"postgres\"\ndatabase = \"n\"\n",
        );
        let e = NotesConfig::load_any(&both).unwrap_err();
        assert!(e.message.contains("`database` is the SQLite file"), "{e}");
        let odd = write(
            d.path(),
            "odd.toml",
            "listen = \"a\"\nauth_url = \"http://x\"\n[storage]\nkind = \"postgres\"\ndatabase = \"n\"\nsslmode = 1\n",
        );
        let e = NotesConfig::load_any(&odd).unwrap_err();
        assert!(e.message.contains("unknown key `storage.sslmode`"), "{e}");
        let sqlite = write(
            d.path(),
            "sq.toml",
            "listen = \"a\"\nauth_url = \"http://x\"\ndatabase = \"n.db\"\n[storage]\nkind = \"sqlite\"\n",
        );
        assert_eq!(
            NotesConfig::load_any(&sqlite).unwrap().storage,
            Storage::Sqlite(d.path().join("n.db"))
        );
    }

    #[test]
    fn auth_secret_moves_to_a_file() {
        let d = tempfile::tempdir().unwrap();
        let (v1, v2) = (
            Release::parse("1.0.0").unwrap(),
            Release::parse("2.1.0").unwrap(),
        );
        let a1 = write(
            d.path(),
            "a1.toml",
            &render_auth(v1, "127.0.0.1:1", "s3cret"),
        );
        let a2 = write(
            d.path(),
            "a2.toml",
            &render_auth(v2, "127.0.0.1:1", "unused"),
        );
        assert_eq!(AuthConfig::load(&a1, v1).unwrap().secret, "s3cret");
        let e = AuthConfig::load(&a2, v2).unwrap_err();
        assert!(e.message.contains("secrets/auth.secret"), "{e}");
        std::fs::create_dir_all(d.path().join("secrets")).unwrap();
        std::fs::write(d.path().join("secrets/auth.secret"), "s3cret\n").unwrap();
        assert_eq!(AuthConfig::load(&a2, v2).unwrap().secret, "s3cret");

        let mixed = write(
            d.path(),
            "a3.toml",
            "secret = \"x\"\nsecret_file = \"y\"\n[server]\nlisten = \"a\"\n",
        );
        let e = AuthConfig::load(&mixed, v2).unwrap_err();
        assert!(
            e.message.contains(
                "a3.toml: unknown key `secret`: 2.0.0 reads the shared secret from `secret_file`"
            ),
            "{e}"
        );
        let extra = write(
            d.path(),
            "a4.toml",
            "listen = \"a\"\nsecret = \"x\"\nport = 1\n",
        );
        let e = AuthConfig::load(&extra, v1).unwrap_err();
        assert!(e.message.contains("a4.toml: unknown key `port`"), "{e}");
    }
}
