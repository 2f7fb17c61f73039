//! `kind = "volume"`: a Docker named volume, read as a tar stream by a helper
//! container (`busybox tar` from a locally built image: no image is pulled).
//! Restore empties the volume and unpacks the stream.

use std::path::{Path, PathBuf};

use upshift_core::manifest::{Store, StoreKind};

use super::{Part, Planned, Planning, StoreSource, Stored, Tools};
use crate::command::Cmd;
use crate::error::{BackupError, Result};
use crate::meta::StoreMeta;
use crate::verify::StoreCheck;

/// `kind = "volume"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::Volume
    }

    fn required_tools(&self) -> Tools {
        &[&["docker"]]
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p.name, p.store)
    }

    /// The tar stream reads back (locally, without Docker).
    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::Volume { dump, .. } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let cmd = Cmd::new(s.name, "tar").args(["-tf", "-"]);
        let listing = cmd.run_with_stdin(|w| s.dump(dump, w))?;
        Ok(StoreCheck {
            ok: true,
            detail: format!(
                "tar stream reads back ({} entries)",
                listing.lines().count()
            ),
        })
    }

    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Volume { dump, volume } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        restore_cmd(s.name, s.store()?)?.run_with_stdin(|w| s.dump(dump, w))?;
        Ok(format!("volume {volume} emptied and unpacked"))
    }
}

/// The helper image (env `UPSHIFT_HELPER_IMAGE`, default `upshift-helper:latest`).
pub fn helper_image() -> String {
    std::env::var("UPSHIFT_HELPER_IMAGE").unwrap_or_else(|_| "upshift-helper:latest".to_string())
}

/// Makes sure the helper image exists, building it with `docker import` from
/// a static busybox (Debian's `busybox-static`, `/bin/busybox`) when missing.
pub fn ensure_helper_image(store: &str) -> Result<String> {
    let image = helper_image();
    if Cmd::new(store, "docker")
        .args(["image", "inspect", &image])
        .output()
        .is_ok()
    {
        return Ok(image);
    }
    let busybox = Path::new("/bin/busybox");
    if !busybox.is_file() {
        return Err(BackupError::bad_store(
            store,
            format!("the helper image {image} is missing and no static busybox is at /bin/busybox to build it (install Debian's busybox-static)"),
        ));
    }
    let dir = tempfile::tempdir()
        .map_err(|e| BackupError::io("cannot create", std::env::temp_dir(), e))?;
    let bin = dir.path().join("root/bin");
    std::fs::create_dir_all(&bin).map_err(|e| BackupError::io("cannot create", &bin, e))?;
    std::fs::copy(busybox, bin.join("busybox"))
        .map_err(|e| BackupError::io("cannot copy", busybox, e))?;
    let tarball = dir.path().join("helper.tar");
    Cmd::new(store, "tar")
        .arg("-C")
        .arg(dir.path().join("root").display().to_string())
        .arg("-cf")
        .arg(tarball.display().to_string())
        .arg(".")
        .output()?;
    Cmd::new(store, "docker")
        .args(["import", "--change", "ENTRYPOINT [\"/bin/busybox\"]"])
        .arg(tarball.display().to_string())
        .arg(image.clone())
        .output()?;
    Ok(image)
}

fn volume_name(name: &str, store: &Store) -> Result<String> {
    store
        .volume
        .clone()
        .ok_or_else(|| BackupError::bad_store(name, "a volume store needs `volume`"))
}

/// `docker run` of the helper with the volume at `/v`.
fn helper(name: &str, volume: &str, image: &str, read_only: bool, stdin: bool) -> Cmd {
    let mount = if read_only {
        format!("{volume}:/v:ro")
    } else {
        format!("{volume}:/v")
    };
    let c = Cmd::new(name, "docker")
        .args(["run", "--rm", "--network", "none", "-v"])
        .arg(mount);
    let c = if stdin { c.arg("-i") } else { c };
    c.arg(image.to_string())
}

/// The command that unpacks a tar stream from stdin into the emptied volume.
fn restore_cmd(name: &str, store: &Store) -> Result<Cmd> {
    let volume = volume_name(name, store)?;
    let image = ensure_helper_image(name)?;
    Ok(helper(name, &volume, &image, false, true).args([
        "sh",
        "-c",
        "cd /v && /bin/busybox rm -rf -- * .[!.]* ..?* && /bin/busybox tar -xpf -",
    ]))
}

fn dump_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("volume.tar")
}

/// Checks the volume exists and plans the tar stream.
fn plan(name: &str, store: &Store) -> Result<Planned> {
    let volume = volume_name(name, store)?;
    Cmd::new(name, "docker")
        .args(["volume", "inspect", &volume])
        .output()?;
    let image = ensure_helper_image(name)?;
    let cmd = helper(name, &volume, &image, true, false).args(["tar", "-C", "/v", "-cf", "-", "."]);
    let dest = dump_path(name);
    let meta = StoreMeta::Volume {
        dump: dest.display().to_string(),
        volume,
    };
    Ok((vec![Part::Stream { dest, cmd }], meta))
}
