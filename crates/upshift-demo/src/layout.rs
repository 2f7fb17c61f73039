//! An installation root on disk:
//!
//! ```text
//! ROOT/releases/<version>/bin/upshift-demo   a copy of this binary
//! ROOT/releases/<version>/VERSION            "1.0.0"
//! ROOT/current -> releases/<version>         flipped atomically
//! ROOT/config/auth.toml, ROOT/config/notes.toml
//! ROOT/secrets/auth.secret                   (2.0.0 on, mode 0600)
//! ROOT/data/notes.db, ROOT/logs/, ROOT/run/
//! ```
//! The binary is the release whose `VERSION` sits at `<exe>/../../VERSION`
//! (the exe path as the kernel resolves it), or `UPSHIFT_DEMO_VERSION`.

use crate::error::Context;
use crate::{config, schema, Error, Release, Result};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// The env variable that overrides the release (for tests).
pub const VERSION_ENV: &str = "UPSHIFT_DEMO_VERSION";

/// Default ports of `auth` and `notes`.
pub const AUTH_PORT: u16 = 7301;
pub const NOTES_PORT: u16 = 7302;

/// The release this process is.
pub fn own_release() -> Result<Release> {
    if let Ok(v) = std::env::var(VERSION_ENV) {
        return Release::parse(&v);
    }
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let exe = exe.canonicalize().context(exe.display())?;
    let file = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/"))
        .join("VERSION");
    let text = fs::read_to_string(&file).map_err(|e| {
        Error::new(format!(
            "cannot tell which release this is: {}: {e} (install it with `upshift-demo install`, or set {VERSION_ENV})",
            file.display()
        ))
    })?;
    Release::parse(&text)
}

/// `ROOT/releases/<version>`.
pub fn release_dir(root: &Path, release: Release) -> PathBuf {
    root.join("releases").join(release.version())
}

/// Installs `release` under `root` by copying this executable: built in a
/// temporary directory, then renamed into place. Idempotent.
pub fn install(root: &Path, release: Release) -> Result<PathBuf> {
    let dir = release_dir(root, release);
    if is_installed(&dir, release)? {
        return Ok(dir);
    }
    let releases = root.join("releases");
    let tmp = releases.join(format!(".{release}.tmp.{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(tmp.join("bin")).context(tmp.display())?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    fs::copy(&exe, tmp.join("bin/upshift-demo")).context(format!("copy {}", exe.display()))?;
    fs::write(tmp.join("VERSION"), format!("{release}\n")).context(tmp.display())?;
    if let Err(e) = fs::rename(&tmp, &dir) {
        let _ = fs::remove_dir_all(&tmp);
        if !is_installed(&dir, release)? {
            return Err(Error::new(format!("{}: {e}", dir.display())));
        }
    }
    Ok(dir)
}

fn is_installed(dir: &Path, release: Release) -> Result<bool> {
    match fs::read_to_string(dir.join("VERSION")) {
        Ok(v) if v.trim() == release.version() && dir.join("bin/upshift-demo").is_file() => {
            Ok(true)
        }
        Ok(_) => Err(Error::new(format!(
            "{} exists but is not a complete {release} release",
            dir.display()
        ))),
        Err(_) if dir.exists() => Err(Error::new(format!(
            "{} exists but has no VERSION",
            dir.display()
        ))),
        Err(_) => Ok(false),
    }
}

/// Points `ROOT/current` at an installed release: a new link `current.tmp`
/// renamed over `current`, so `current` is never missing.
pub fn switch(root: &Path, release: Release) -> Result<()> {
    if !is_installed(&release_dir(root, release), release)? {
        return Err(Error::new(format!(
            "release {release} is not installed under {}",
            root.display()
        )));
    }
    let tmp = root.join("current.tmp");
    let _ = fs::remove_file(&tmp);
    symlink(Path::new("releases").join(release.version()), &tmp).context(tmp.display())?;
    fs::rename(&tmp, root.join("current")).context(root.join("current").display())
}

/// The release `ROOT/current` points at.
pub fn current(root: &Path) -> Result<Release> {
    let v = fs::read_to_string(root.join("current/VERSION"))
        .context(root.join("current/VERSION").display())?;
    Release::parse(&v)
}

/// A fresh installation at `release`: installs it, writes its config files
/// (and secret file from 2.0.0 on), creates `data/`, `logs/`, `run/` and an
/// empty database at the release's schema, then points `current` at it.
/// Refuses a root that already has an installation.
pub fn init(root: &Path, release: Release, auth_port: u16, notes_port: u16) -> Result<()> {
    init_with(root, release, auth_port, notes_port, None)
}

/// [`init`], with the notes in the PostgreSQL database `pg` (which must
/// exist; its tables are created) instead of SQLite.
pub fn init_with(
    root: &Path,
    release: Release,
    auth_port: u16,
    notes_port: u16,
    pg: Option<&config::PgStorage>,
) -> Result<()> {
    if root.join("current").exists() || root.join("config").exists() {
        return Err(Error::input(format!(
            "{} already holds an installation",
            root.display()
        )));
    }
    for d in ["data", "logs", "run", "config"] {
        fs::create_dir_all(root.join(d)).context(root.join(d).display())?;
    }
    install(root, release)?;
    write_config_with(root, release, auth_port, notes_port, &random_secret()?, pg)?;
    let notes = config::NotesConfig::load(&root.join("config/notes.toml"), release)?;
    schema::prepare(&mut schema::open(&notes.storage)?, release)?;
    switch(root, release)
}

/// Writes `config/auth.toml` and `config/notes.toml` in `release`'s format
/// (and `secrets/auth.secret`, mode 0600, from 2.0.0 on). Used by `init`;
/// tests use it to stand in for upshift's config migration.
pub fn write_config(
    root: &Path,
    release: Release,
    auth_port: u16,
    notes_port: u16,
    secret: &str,
) -> Result<()> {
    write_config_with(root, release, auth_port, notes_port, secret, None)
}

/// [`write_config`], with the notes in PostgreSQL when `pg` is given.
pub fn write_config_with(
    root: &Path,
    release: Release,
    auth_port: u16,
    notes_port: u16,
    secret: &str,
    pg: Option<&config::PgStorage>,
) -> Result<()> {
    if release.config_format() == 2 {
        let dir = root.join("secrets");
        fs::create_dir_all(&dir).context(dir.display())?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).context(dir.display())?;
        let file = dir.join("auth.secret");
        write_atomic(&file, &format!("{secret}\n"), 0o600)?;
    }
    fs::create_dir_all(root.join("config")).context(root.join("config").display())?;
    let auth = config::render_auth(release, &format!("127.0.0.1:{auth_port}"), secret);
    let notes = config::render_notes_with(
        release,
        &format!("127.0.0.1:{notes_port}"),
        &format!("http://127.0.0.1:{auth_port}"),
        pg,
    );
    let mode = if release.config_format() == 1 {
        0o600
    } else {
        0o644
    };
    write_atomic(&root.join("config/auth.toml"), &auth, mode)?;
    write_atomic(&root.join("config/notes.toml"), &notes, 0o644)
}

fn write_atomic(path: &Path, text: &str, mode: u32) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).context(tmp.display())?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).context(tmp.display())?;
    fs::rename(&tmp, path).context(path.display())
}

fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("/dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_and_switch_flips() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (
            Release::parse("1.0.0").unwrap(),
            Release::parse("1.1.0").unwrap(),
        );
        install(d.path(), a).unwrap();
        install(d.path(), a).unwrap();
        install(d.path(), b).unwrap();
        switch(d.path(), a).unwrap();
        assert_eq!(current(d.path()).unwrap(), a);
        switch(d.path(), b).unwrap();
        assert_eq!(current(d.path()).unwrap(), b);
        assert_eq!(
            fs::read_link(d.path().join("current")).unwrap(),
            Path::new("releases/1.1.0")
        );
        let e = switch(d.path(), Release::parse("3.0.0").unwrap()).unwrap_err();
        assert!(e.message.contains("not installed"), "{e}");
    }
}
