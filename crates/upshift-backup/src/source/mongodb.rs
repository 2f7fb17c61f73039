//! `kind = "mongodb"`: `mongodump --archive --uri=…` streamed into the
//! repository; restore and verify pipe it to `mongorestore --archive`
//! (`--drop` for restore, `--dryRun` for verify). The URI is a secret and is
//! passed as an argument only to the tool, never printed.
//! MongoDB cannot be installed on the build machines, so this module is
//! exercised only as far as "the tool is missing → error naming the store".

use std::path::{Path, PathBuf};

use upshift_core::manifest::Store;

use super::Part;
use crate::command::Cmd;
use crate::error::{BackupError, Result};
use crate::meta::StoreMeta;
use crate::secret;

/// The store's connection URI.
pub(crate) fn uri(name: &str, store: &Store, base_dir: &Path) -> Result<String> {
    let r = store
        .uri
        .as_ref()
        .ok_or_else(|| BackupError::bad_store(name, "a mongodb store needs `uri`"))?;
    secret::resolve(name, "uri", r, base_dir)
}

/// `mongorestore --archive` reading stdin.
pub(crate) fn restore_cmd(name: &str, uri: &str, dry_run: bool) -> Cmd {
    let c = Cmd::new(name, "mongorestore")
        .arg(format!("--uri={uri}"))
        .args(["--archive", "--drop", "--quiet"]);
    if dry_run {
        c.arg("--dryRun")
    } else {
        c
    }
}

pub(crate) fn dump_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("dump.archive")
}

pub(crate) fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<(Vec<Part>, StoreMeta)> {
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
