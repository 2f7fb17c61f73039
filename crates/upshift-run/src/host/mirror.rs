//! Backups of a remote installation: its files and SQLite stores and its
//! config files are streamed over ssh (`tar` on the other machine, which
//! every server has) into a local mirror that the snapshot repository reads,
//! and a restore streams them back the same way. Database servers, buckets
//! and volumes are reached by their own tools, not through the mirror.
//!
//! The mirror keeps the remote paths: `/srv/demo/data/notes.db` there is
//! `<mirror>/srv/demo/data/notes.db` here, so snapshots say which file they
//! hold.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use upshift_backup::{data_on_host, DataOnHost, SQLITE_WAL, SQLITE_WAL_FILES};
use upshift_core::manifest::Manifest;

use super::{q, Host, Target};
use crate::error::StepResult;

/// A path of the installation as the mirror names it: relative, from `/`.
fn remote_rel(target: &Target, p: &str) -> PathBuf {
    let full = target.path(p);
    full.strip_prefix("/").unwrap_or(&full).to_path_buf()
}

/// The installation's paths that backups read: (path from `/`, is SQLite).
fn backed_up(target: &Target, m: &Manifest) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for s in m.stores.values() {
        let sqlite = match data_on_host(*s.kind.get_ref()) {
            DataOnHost::Files => false,
            DataOnHost::Sqlite => true,
            DataOnHost::Elsewhere => continue,
        };
        for p in s.path.iter().chain(&s.paths) {
            out.push((remote_rel(target, p), sqlite));
        }
    }
    for c in m.config.values() {
        out.push((remote_rel(target, &c.path), false));
    }
    out.sort();
    out.dedup();
    out
}

fn ssh(target: &Target) -> StepResult<&super::Ssh> {
    match &target.host {
        Host::Ssh(s) => Ok(s),
        Host::Local => Err("a local installation needs no mirror".into()),
    }
}

/// The manifest and base directory the snapshot repository reads and
/// restores: the installation itself, or its mirror when it is remote.
pub fn backup_view(target: &Target, m: &Manifest, mirror: &Path) -> (Manifest, PathBuf) {
    if target.is_remote() {
        let base = mirror.join(target.dir.strip_prefix("/").unwrap_or(&target.dir));
        (mirrored_manifest(target, m, mirror), base)
    } else {
        (m.clone(), target.dir.clone())
    }
}

/// `m` with its store and config paths pointing into `mirror`, for the
/// snapshot repository to read (and restore) there.
pub fn mirrored_manifest(target: &Target, m: &Manifest, mirror: &Path) -> Manifest {
    let mut m = m.clone();
    let moved = |p: &str| mirror.join(remote_rel(target, p)).display().to_string();
    for s in m.stores.values_mut() {
        if data_on_host(*s.kind.get_ref()) != DataOnHost::Elsewhere {
            s.path = s.path.as_deref().map(moved);
            s.paths = s.paths.iter().map(|p| moved(p)).collect();
        }
    }
    for c in m.config.values_mut() {
        c.path = moved(&c.path);
    }
    m
}

/// Empties `mirror` for a restore, with the directories the installation's
/// paths live in (a database is restored into its directory).
pub fn empty_mirror(target: &Target, m: &Manifest, mirror: &Path) -> StepResult<()> {
    if mirror.exists() {
        std::fs::remove_dir_all(mirror)
            .map_err(|e| format!("cannot empty {}: {e}", mirror.display()))?;
    }
    for (p, _) in backed_up(target, m) {
        let dir = mirror.join(&p);
        let dir = dir.parent().unwrap_or(mirror);
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Empties `mirror` and streams the installation's stores and config files
/// into it. SQLite databases come with their WAL, which is then folded into
/// the copy (exact when the services are stopped; while they write, a
/// best-effort copy that the backup's integrity check vets).
pub fn pull_stores(target: &Target, m: &Manifest, mirror: &Path) -> StepResult<()> {
    let ssh = ssh(target)?;
    if mirror.exists() {
        std::fs::remove_dir_all(mirror)
            .map_err(|e| format!("cannot empty {}: {e}", mirror.display()))?;
    }
    std::fs::create_dir_all(mirror)
        .map_err(|e| format!("cannot create {}: {e}", mirror.display()))?;
    let paths = backed_up(target, m);
    let mut wanted = String::new();
    for (p, sqlite) in &paths {
        wanted += &format!(" {}", q(p));
        if *sqlite {
            wanted += &format!(" {}", q(super::local::suffixed(p, SQLITE_WAL)));
        }
    }
    // Every path that exists there (a database's WAL may not).
    let script = format!(
        "cd / && set --; for p in{wanted}; do if [ -e \"$p\" ]; then set -- \"$@\" \"$p\"; fi; done; exec tar --numeric-owner -cf - -T /dev/null \"$@\""
    );
    let mut remote = ssh.command();
    remote
        .arg("--")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut remote = remote.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
    let stream = remote.stdout.take().expect("piped");
    let untar = Command::new("tar")
        .process_group(0)
        .args(["--numeric-owner", "-xpf", "-", "-C"])
        .arg(mirror)
        .stdin(Stdio::from(stream))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let sent = remote.wait_with_output().map_err(|e| format!("ssh: {e}"))?;
    if !sent.status.success() {
        return Err(format!(
            "cannot read the stores on {}: {}",
            ssh.label(),
            String::from_utf8_lossy(&sent.stderr).trim()
        )
        .into());
    }
    if !untar.status.success() {
        return Err(format!(
            "cannot unpack the stores of {} into {}: {}",
            ssh.label(),
            mirror.display(),
            String::from_utf8_lossy(&untar.stderr).trim()
        )
        .into());
    }
    for (p, sqlite) in &paths {
        if *sqlite {
            fold_wal(&mirror.join(p))?;
        }
    }
    Ok(())
}

/// Checkpoints a copied database's WAL into it and removes the side files.
fn fold_wal(db: &Path) -> StepResult<()> {
    let wal = super::local::suffixed(db, SQLITE_WAL);
    if !db.is_file() || !wal.exists() {
        return Ok(());
    }
    let conn = rusqlite::Connection::open(db)
        .map_err(|e| format!("cannot open the copy {}: {e}", db.display()))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .and_then(|_| conn.pragma_update(None, "journal_mode", "DELETE"))
        .map_err(|e| format!("cannot fold the WAL into {}: {e}", db.display()))?;
    drop(conn);
    for side in SQLITE_WAL_FILES {
        let _ = std::fs::remove_file(super::local::suffixed(db, side));
    }
    Ok(())
}

/// Streams the mirror's copies back over the installation's paths: each
/// path the mirror holds replaces the remote one (a database's stale WAL is
/// removed with it, or SQLite would replay it over the restored file).
pub fn push_stores(target: &Target, m: &Manifest, mirror: &Path) -> StepResult<()> {
    let ssh = ssh(target)?;
    let mut present = Vec::new();
    let mut remove = String::new();
    for (p, sqlite) in backed_up(target, m) {
        if std::fs::symlink_metadata(mirror.join(&p)).is_err() {
            continue;
        }
        remove += &format!(" {}", q(&p));
        if sqlite {
            for side in SQLITE_WAL_FILES {
                remove += &format!(" {}", q(super::local::suffixed(&p, side)));
                let _ = std::fs::remove_file(mirror.join(super::local::suffixed(&p, side)));
            }
        }
        present.push(p);
    }
    if present.is_empty() {
        // Snapshots name their files by absolute mirror paths: one taken
        // from a manifest in another directory restores elsewhere.
        return Err(format!(
            "the restore put nothing into {}: was the snapshot taken with the manifest in another directory? Move it back, or restore by hand from `upshift snapshots`",
            mirror.display()
        ).into());
    }
    let mut pack = Command::new("tar");
    pack.process_group(0);
    pack.args(["--numeric-owner", "-cf", "-", "-C"])
        .arg(mirror)
        .arg("--")
        .args(&present)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut pack = pack.spawn().map_err(|e| format!("cannot run tar: {e}"))?;
    let stream = pack.stdout.take().expect("piped");
    let mut remote = ssh.command();
    remote
        .arg("--")
        .arg(format!(
            "cd / && rm -rf --{remove} && exec tar --numeric-owner -xpf -"
        ))
        .stdin(Stdio::from(stream))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let got = remote
        .output()
        .map_err(|e| format!("cannot run ssh: {e}"))?;
    let packed = pack.wait_with_output().map_err(|e| format!("tar: {e}"))?;
    if !packed.status.success() {
        return Err(format!(
            "cannot pack {}: {}",
            mirror.display(),
            String::from_utf8_lossy(&packed.stderr).trim()
        )
        .into());
    }
    if !got.status.success() {
        return Err(format!(
            "cannot write the restored stores on {}: {}",
            ssh.label(),
            String::from_utf8_lossy(&got.stderr).trim()
        )
        .into());
    }
    Ok(())
}
