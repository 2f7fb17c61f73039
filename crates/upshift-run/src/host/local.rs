//! [`Host::Local`](super::Host): the file system and processes of this machine.

use std::fs;
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Conn;

/// `path` with `suffix` appended to its file name.
pub(super) fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

pub(super) fn write_atomic(path: &Path, data: &[u8], mode: Option<u32>) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = fs::DirBuilder::new();
        b.recursive(true);
        if mode.is_some() {
            b.mode(0o700);
        }
        b.create(dir)?;
    }
    use std::os::unix::fs::MetadataExt;
    let tmp = suffixed(path, ".upshift-tmp");
    let _ = fs::remove_file(&tmp);
    // A file being replaced keeps its mode and owner (a 0600 config with
    // passwords must not come back world-readable).
    let old = fs::metadata(path).ok();
    let mode = mode.or_else(|| old.as_ref().map(|m| m.mode() & 0o7777));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    if let Some(m) = mode {
        opts.mode(m);
    }
    let mut f = opts.open(&tmp)?;
    if let Some(m) = mode {
        // create_new's mode is reduced by the umask: set it exactly.
        f.set_permissions(fs::Permissions::from_mode(m))?;
    }
    if let Some(o) = &old {
        let _ = std::os::unix::fs::fchown(&f, Some(o.uid()), Some(o.gid()));
    }
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
}

pub(super) fn symlink_replace(target: &Path, link: &Path) -> io::Result<()> {
    let tmp = suffixed(link, ".upshift-tmp");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link)
}

pub(super) fn list_dir(path: &Path) -> io::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(path)? {
        let e = e?;
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            e.path().is_dir(),
        ));
    }
    out.sort();
    Ok(out)
}

pub(super) fn free_space(path: &Path) -> io::Result<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: statvfs fills the zeroed struct for a valid C path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

pub(super) fn connect(addr: &str, timeout: Duration) -> io::Result<Box<dyn Conn>> {
    let sa = addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{addr}` is not an address"),
        )
    })?;
    let s = TcpStream::connect_timeout(&sa, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    Ok(Box::new(s))
}

/// Replaces `dst` with a copy of `src` (a file, a directory tree or a
/// symlink), keeping permission bits and, when allowed, ownership. The copy
/// is made beside `dst` and renamed into place, so `dst` is never half copied.
pub(super) fn copy_replacing(src: &Path, dst: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", src.display())))?;
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = tmp_beside(dst);
    remove_any(&tmp)?;
    copy_tree(src, &tmp, &meta)?;
    if fs::symlink_metadata(dst).is_ok_and(|m| m.is_dir()) {
        remove_any(dst)?;
    }
    fs::rename(&tmp, dst)
}

/// `.NAME.upshift-carry` beside `p`.
pub(super) fn tmp_beside(p: &Path) -> PathBuf {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
    p.with_file_name(format!(".{}.upshift-carry", name.unwrap_or_default()))
}

fn remove_any(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn copy_tree(src: &Path, dst: &Path, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
    } else if ft.is_dir() {
        fs::create_dir(dst)?;
        for e in fs::read_dir(src)? {
            let e = e?;
            copy_tree(
                &e.path(),
                &dst.join(e.file_name()),
                &fs::symlink_metadata(e.path())?,
            )?;
        }
        // Set the mode last, so a read-only directory can be filled first.
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else if ft.is_file() {
        fs::copy(src, dst)?;
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    } else {
        return Err(io::Error::other(format!(
            "{} is neither a file, a directory nor a symlink",
            src.display()
        )));
    }
    // Keep the owner when we may (as root); otherwise the copy is ours.
    let _ = std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()));
    Ok(())
}
