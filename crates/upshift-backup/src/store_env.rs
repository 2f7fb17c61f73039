//! The installation's stores as environment variables for hooks and data
//! steps, so a catalog can run `tool db upgrade "$UPSHIFT_STORE_DB_URL"`
//! without conventions of its own. Secrets are resolved here and only ever
//! go into the environment, never into a command's arguments.
//!
//! For a store `NAME` (upper-cased, other characters than letters and
//! digits as `_`): `UPSHIFT_STORE_NAME_KIND`, and as the kind has them
//! `_PATH`, `_HOST`, `_PORT`, `_USER`, `_DATABASE`, `_PASSWORD`, `_URL`
//! (with the password, percent-encoded), `_VOLUME`, `_ENDPOINT`,
//! `_BUCKET`, `_REGION`, `_ACCESS_KEY`, `_SECRET_KEY`.

use std::path::Path;

use upshift_core::manifest::{Manifest, Store, StoreKind};

use crate::error::Result;
use crate::secret::resolve;

/// Every store's variables. `installation` is the directory the stores'
/// paths are relative to (on the installation's host); `secrets` the one
/// `file:` secrets are relative to (here).
pub fn store_env(
    m: &Manifest,
    installation: &Path,
    secrets: &Path,
) -> Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    for (name, store) in &m.stores {
        let prefix = format!("UPSHIFT_STORE_{}", env_name(name));
        for (key, value) in store_vars(name, store, installation, secrets)? {
            env.push((format!("{prefix}_{key}"), value));
        }
    }
    Ok(env)
}

/// `notes-db` → `NOTES_DB`.
fn env_name(store: &str) -> String {
    store
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn store_vars(
    name: &str,
    s: &Store,
    installation: &Path,
    secrets: &Path,
) -> Result<Vec<(&'static str, String)>> {
    let kind = *s.kind.get_ref();
    let secret = |field: &str, r: &Option<upshift_core::manifest::SecretRef>| {
        r.as_ref()
            .map(|r| resolve(name, field, r, secrets))
            .transpose()
    };
    let mut v = vec![("KIND", kind.as_str().to_string())];
    let path = s
        .path
        .as_ref()
        .or(s.paths.first())
        .map(|p| installation.join(p).display().to_string());
    match kind {
        StoreKind::Files | StoreKind::Sqlite => {
            if let Some(p) = &path {
                if kind == StoreKind::Sqlite {
                    v.push(("URL", format!("sqlite:///{}", p.trim_start_matches('/'))));
                }
                v.push(("PATH", p.clone()));
            }
        }
        StoreKind::Postgres | StoreKind::Mysql => {
            let password = secret("password", &s.password)?;
            let scheme = if kind == StoreKind::Postgres {
                "postgresql"
            } else {
                "mysql"
            };
            v.push(("URL", database_url(scheme, s, password.as_deref())));
            let fields = [
                ("HOST", s.host.clone()),
                ("PORT", s.port.map(|p| p.to_string())),
                ("USER", s.user.clone()),
                ("DATABASE", s.database.clone()),
                ("PASSWORD", password),
            ];
            v.extend(fields.into_iter().filter_map(|(k, x)| Some((k, x?))));
        }
        StoreKind::Mongodb => {
            if let Some(uri) = secret("uri", &s.uri)? {
                v.push(("URL", uri));
            }
        }
        StoreKind::Volume => v.extend(s.volume.clone().map(|x| ("VOLUME", x))),
        StoreKind::S3 => {
            let fields = [
                ("ENDPOINT", s.endpoint.clone()),
                ("BUCKET", s.bucket.clone()),
                ("REGION", s.region.clone()),
                ("ACCESS_KEY", secret("access_key", &s.access_key)?),
                ("SECRET_KEY", secret("secret_key", &s.secret_key)?),
            ];
            v.extend(fields.into_iter().filter_map(|(k, x)| Some((k, x?))));
        }
    }
    Ok(v)
}

/// `scheme://user:password@host:port/database`, each part percent-encoded.
fn database_url(scheme: &str, s: &Store, password: Option<&str>) -> String {
    let host = s.host.as_deref().unwrap_or("localhost");
    let mut url = url::Url::parse(&format!("{scheme}://placeholder/")).expect("a valid URL");
    // A host that the URL parser refuses (a socket directory) stays out of the
    // URL; `_HOST` still carries it.
    let _ = url.set_host(Some(host));
    let _ = url.set_port(s.port);
    if let Some(user) = &s.user {
        let _ = url.set_username(user);
    }
    if password.is_some() {
        let _ = url.set_password(password);
    }
    if let Some(db) = &s.database {
        url.path_segments_mut()
            .expect("a URL with a host has path segments")
            .clear()
            .push(db);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(stores: &str) -> Manifest {
        let src = format!(
            "[installation]\nname = \"a\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n{stores}"
        );
        upshift_core::manifest::parse_manifest("m.toml", &src).unwrap()
    }

    fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_database_store_has_its_url_with_the_password_encoded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "p@ss:/ word\n").unwrap();
        let m = manifest("[stores.main-db]\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nport = 5433\nuser = \"chat\"\ndatabase = \"chat\"\npassword = \"file:pw\"\n");
        let env = store_env(&m, Path::new("/srv/a"), dir.path()).unwrap();
        assert_eq!(get(&env, "UPSHIFT_STORE_MAIN_DB_KIND"), Some("postgres"));
        assert_eq!(
            get(&env, "UPSHIFT_STORE_MAIN_DB_URL"),
            Some("postgresql://chat:p%40ss%3A%2F%20word@127.0.0.1:5433/chat")
        );
        assert_eq!(
            get(&env, "UPSHIFT_STORE_MAIN_DB_PASSWORD"),
            Some("p@ss:/ word")
        );
        assert_eq!(get(&env, "UPSHIFT_STORE_MAIN_DB_PORT"), Some("5433"));
    }

    #[test]
    fn file_stores_have_absolute_paths() {
        let m = manifest("[stores.notes]\nkind = \"sqlite\"\npath = \"data/notes.db\"\n");
        let env = store_env(&m, Path::new("/srv/a"), Path::new("/")).unwrap();
        assert_eq!(
            get(&env, "UPSHIFT_STORE_NOTES_PATH"),
            Some("/srv/a/data/notes.db")
        );
        assert_eq!(
            get(&env, "UPSHIFT_STORE_NOTES_URL"),
            Some("sqlite:///srv/a/data/notes.db")
        );
    }

    #[test]
    fn a_missing_secret_is_named_without_a_value() {
        let m = manifest("[stores.db]\nkind = \"mysql\"\nuser = \"u\"\ndatabase = \"d\"\npassword = \"env:UPSHIFT_TEST_UNSET_PW\"\n");
        let e = store_env(&m, Path::new("/srv"), Path::new("/"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("UPSHIFT_TEST_UNSET_PW") && e.contains("db"),
            "{e}"
        );
    }
}
