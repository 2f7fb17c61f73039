//! `kind = "mongodb"`: `mongodump --archive --uri=…` streamed into the
//! repository; restore and verify pipe it to `mongorestore --archive`
//! (`--drop` for restore, `--dryRun` for verify). The URI is a secret and is
//! passed as an argument only to the tool, never printed.
//! MongoDB cannot be installed on the build machines, so this module is
//! exercised only as far as "the tool is missing → error naming the store".

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
        restore_cmd(s.name, &uri, true).run_with_stdin(|w| s.dump(dump, w))?;
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
        restore_cmd(s.name, &uri, false).run_with_stdin(|w| s.dump(dump, w))?;
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

/// `mongorestore --archive` reading stdin.
fn restore_cmd(name: &str, uri: &str, dry_run: bool) -> Cmd {
    let c = Cmd::new(name, "mongorestore")
        .arg(format!("--uri={uri}"))
        .args(["--archive", "--drop", "--quiet"]);
    if dry_run {
        c.arg("--dryRun")
    } else {
        c
    }
}

fn dump_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("dump.archive")
}

fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<Planned> {
    let uri = uri(name, store, base_dir)?;
    let dest = dump_path(name);
    let cmd = Cmd::new(name, "mongodump")
        .arg(format!("--uri={uri}"))
        .args(["--archive", "--quiet"]);
    let meta = StoreMeta::Mongodb {
        dump: dest.display().to_string(),
    };
    Ok((vec![Part::Stream { dest, cmd }], meta))
}
