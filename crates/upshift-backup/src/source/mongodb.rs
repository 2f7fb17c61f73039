//! `kind = "mongodb"`: `mongodump --archive` streamed into the repository;
//! restore and verify pipe it to `mongorestore --archive` (`--drop` for
//! restore, `--dryRun` for verify). The URI holds the password, so it
//! reaches the tools in a `--config` file readable only by the current
//! user and removed after use, never as an argument (which `ps` shows):
//! <https://www.mongodb.com/docs/database-tools/mongodump/#std-option-mongodump.--config>,
//! <https://www.mongodb.com/docs/database-tools/mongorestore/#std-option-mongorestore.--config>.
//! MongoDB cannot be installed on the build machines, so this module is
//! exercised only as far as the command it builds and "the tool is missing
//! → error naming the store".

use std::path::{Path, PathBuf};

use upshift_core::manifest::{Store, StoreKind};

use super::{Part, Planned, Planning, StoreSource, Stored, Tools};
use crate::command::Cmd;
use crate::error::{BackupError, Result};
use crate::meta::StoreMeta;
use crate::secret;
use crate::verify::StoreCheck;

/// `kind = "mongodb"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::Mongodb
    }

    fn required_tools(&self) -> Tools {
        &[&["mongodump"], &["mongorestore"]]
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p.name, p.store, p.base_dir)
    }

    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::Mongodb { dump } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let uri = uri(s.name, s.store()?, s.base_dir)?;
        restore_cmd(s.name, &uri, true)?.run_with_stdin(|w| s.dump(dump, w))?;
        Ok(StoreCheck {
            ok: true,
            detail: "mongorestore --dryRun accepted the archive".into(),
        })
    }

    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Mongodb { dump } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let uri = uri(s.name, s.store()?, s.base_dir)?;
        restore_cmd(s.name, &uri, false)?.run_with_stdin(|w| s.dump(dump, w))?;
        Ok("mongorestore --drop done".into())
    }
}

/// The store's connection URI.
fn uri(name: &str, store: &Store, base_dir: &Path) -> Result<String> {
    let r = store
        .uri
        .as_ref()
        .ok_or_else(|| BackupError::bad_store(name, "a mongodb store needs `uri`"))?;
    secret::resolve(name, "uri", r, base_dir)
}

/// The tools' `--config` file: YAML holding the URI (a JSON string is a
/// YAML double-quoted scalar, so any character in the password is safe).
fn config(uri: &str) -> String {
    format!("uri: {}\n", serde_json::Value::from(uri))
}

/// `program` connecting with `uri` through its `--config` file.
fn connect(name: &str, program: &str, uri: &str) -> Result<Cmd> {
    Cmd::new(name, program).secret_file("--config", &config(uri))
}

/// `mongorestore --archive` reading stdin.
fn restore_cmd(name: &str, uri: &str, dry_run: bool) -> Result<Cmd> {
    let c = connect(name, "mongorestore", uri)?.args(["--archive", "--drop", "--quiet"]);
    Ok(if dry_run { c.arg("--dryRun") } else { c })
}

fn dump_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("dump.archive")
}

fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<Planned> {
    let uri = uri(name, store, base_dir)?;
    let dest = dump_path(name);
    let cmd = connect(name, "mongodump", &uri)?.args(["--archive", "--quiet"]);
    let meta = StoreMeta::Mongodb {
        dump: dest.display().to_string(),
    };
    Ok((vec![Part::Stream { dest, cmd }], meta))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// The URI of a store with a password that YAML and a shell would both
    /// mangle if it were not quoted.
    const URI: &str = "mongodb://backup:pa:ss\"w@rd #1@db.example:27017/app";

    /// The file a command passes as `--config=PATH`.
    fn config_path(cmd: &Cmd) -> PathBuf {
        cmd.argv()
            .iter()
            .find_map(|a| a.strip_prefix("--config="))
            .map(PathBuf::from)
            .expect("a --config argument")
    }

    /// mongodump and mongorestore are not installed here, so this checks the
    /// commands upshift would start: no argument holds the password, and the
    /// config file holding it is private and gone once the command is.
    #[test]
    fn the_uri_reaches_the_tools_in_a_private_file_not_in_argv() {
        for cmd in [
            connect("db", "mongodump", URI).unwrap(),
            restore_cmd("db", URI, true).unwrap(),
            restore_cmd("db", URI, false).unwrap(),
        ] {
            assert!(
                cmd.argv().iter().all(|a| !a.contains("pa:ss")),
                "{:?}",
                cmd.argv()
            );
            let path = config_path(&cmd);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
            let text = std::fs::read_to_string(&path).unwrap();
            let yaml = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
            assert_eq!(yaml[0]["uri"].as_str(), Some(URI), "{text}");
            let copy = cmd.clone();
            drop(cmd);
            assert!(path.exists(), "a clone still needs the file");
            drop(copy);
            assert!(!path.exists(), "{} left behind", path.display());
        }
    }
}
