//! Where an installation lives: this machine, or another one reached with the
//! OpenSSH client. Every command the executor runs for the installation and
//! every file it reads or writes there goes through [`Host`]; upshift's own
//! files (journal, snapshot repository, staged configs) stay on this machine.

mod local;
mod mirror;
mod ssh;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use upshift_core::manifest::{parse_host, Installation};

pub use mirror::{backup_view, empty_mirror, mirrored_manifest, pull_stores, push_stores};
pub use ssh::Ssh;

use crate::error::{StepError, StepResult};
use crate::proc::Output;

/// A machine an installation runs on.
#[derive(Debug, Clone)]
pub enum Host {
    /// The machine upshift runs on.
    Local,
    /// Another machine, over ssh.
    Ssh(Ssh),
}

/// An installation's machine and its directory there: what manifest paths
/// of services, stores and config files are relative to.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: Host,
    /// The installation's directory on `host`.
    pub dir: PathBuf,
}

/// A byte stream to a TCP address as seen from the host (a socket, or an
/// ssh `-W` channel).
pub trait Conn: Read + Write + Send {}
impl<T: Read + Write + Send> Conn for T {}

impl Target {
    /// The installation's target: `installation.host`, or this machine with
    /// `manifest_dir` as its root.
    pub fn for_installation(inst: &Installation, manifest_dir: &Path) -> StepResult<Target> {
        match &inst.host {
            None => Ok(Target::local(manifest_dir)),
            Some(h) => {
                let spec = parse_host(h.get_ref())?;
                let config = inst.ssh_config.as_ref().map(|c| manifest_dir.join(c));
                let dir = PathBuf::from(&spec.root);
                Ok(Target {
                    host: Host::Ssh(Ssh::new(spec, config)),
                    dir,
                })
            }
        }
    }

    /// This machine, with the installation in `dir`.
    pub fn local(dir: &Path) -> Target {
        Target {
            host: Host::Local,
            dir: dir.to_path_buf(),
        }
    }

    /// `rel` under the installation's directory (an absolute `rel` stays as it is).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.host, Host::Ssh(_))
    }

    /// `this machine` or the ssh address, for messages.
    pub fn label(&self) -> String {
        match &self.host {
            Host::Local => "this machine".into(),
            Host::Ssh(s) => s.label(),
        }
    }
}

impl Target {
    /// Checks the host answers and its directory exists, before anything
    /// is done there: an unreachable host or a refused host key stops a run
    /// at once, with ssh's own words.
    pub fn reach(&self) -> StepResult<()> {
        let Host::Ssh(s) = &self.host else {
            return Ok(());
        };
        match s.script(&format!("test -d {}", q(&self.dir)), None) {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().starts_with("ssh ") => {
                Err(format!("cannot reach {}: {e}", self.label()).into())
            }
            Err(_) => Err(format!(
                "{} does not exist on {}: fix the path of `host` in the manifest",
                self.dir.display(),
                self.label()
            )
            .into()),
        }
    }
}

impl Host {
    /// Runs `cmd` with `sh -c` in `dir` with extra environment.
    pub fn sh(&self, cmd: &str, dir: &Path, env: &[(&str, &str)]) -> io::Result<Output> {
        match self {
            Host::Local => crate::proc::sh(cmd, dir, env),
            Host::Ssh(s) => s.sh(cmd, dir, env),
        }
    }

    /// Runs `cmd` and turns a failure into a message with its output's tail.
    pub fn sh_checked(
        &self,
        what: &str,
        cmd: &str,
        dir: &Path,
        env: &[(&str, &str)],
    ) -> StepResult<String> {
        crate::proc::checked(what, cmd, self.sh(cmd, dir, env))
    }

    /// Like [`Host::sh_checked`], but the command, its whole process
    /// group, is stopped after `limit` (by coreutils `timeout`, exec'd so
    /// that it leads the group upshift records and stops after a crash).
    pub fn sh_within(
        &self,
        what: &str,
        cmd: &str,
        dir: &Path,
        env: &[(&str, &str)],
        limit: std::time::Duration,
    ) -> StepResult<String> {
        let secs = limit.as_secs().max(1);
        let bounded = format!("exec timeout -k 10 {secs} sh -c {}", q(cmd));
        match self.sh(&bounded, dir, env) {
            Ok(o) if matches!(o.code, Some(124) | Some(137)) => Err(StepError::msg(format!(
                "{what}: `{cmd}` did not finish within {secs} s and was stopped"
            ))
            .hint(Some(
                "raise its `timeout` (seconds) if it needs longer, then run the command again"
                    .into(),
            ))),
            out => crate::proc::checked(what, cmd, out),
        }
    }

    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self {
            Host::Local => std::fs::read(path),
            Host::Ssh(s) => s.read(path),
        }
    }

    pub fn read_to_string(&self, path: &Path) -> io::Result<String> {
        String::from_utf8(self.read(path)?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Writes through a temp file, fsync and a rename, creating the parent
    /// directory; with `mode`, the file never exists with wider permissions
    /// (and a new parent directory is 0700).
    pub fn write_atomic(&self, path: &Path, data: &[u8], mode: Option<u32>) -> io::Result<()> {
        match self {
            Host::Local => local::write_atomic(path, data, mode),
            Host::Ssh(s) => s.write_atomic(path, data, mode),
        }
    }

    /// Whether `path` exists (a dangling symlink counts).
    pub fn exists(&self, path: &Path) -> bool {
        match self {
            Host::Local => std::fs::symlink_metadata(path).is_ok(),
            Host::Ssh(s) => s.test_script(&format!("test -e {p} || test -L {p}", p = q(path))),
        }
    }

    /// Whether `path` is a directory (symlinks followed).
    pub fn is_dir(&self, path: &Path) -> bool {
        match self {
            Host::Local => path.is_dir(),
            Host::Ssh(s) => s.test("-d", path),
        }
    }

    pub fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        match self {
            Host::Local => std::fs::create_dir_all(path),
            Host::Ssh(s) => s
                .script(&format!("mkdir -p -- {}", q(path)), None)
                .map(drop),
        }
    }

    /// Removes a file; a missing one is fine.
    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        match self {
            Host::Local => match std::fs::remove_file(path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                r => r,
            },
            Host::Ssh(s) => s.script(&format!("rm -f -- {}", q(path)), None).map(drop),
        }
    }

    /// Removes a directory tree.
    pub fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match self {
            Host::Local => std::fs::remove_dir_all(path),
            Host::Ssh(s) => s.script(&format!("rm -rf -- {}", q(path)), None).map(drop),
        }
    }

    /// Points `link` at `target` by renaming a new symlink over it (atomic).
    pub fn symlink_replace(&self, target: &Path, link: &Path) -> io::Result<()> {
        match self {
            Host::Local => local::symlink_replace(target, link),
            Host::Ssh(s) => {
                let tmp = q(local::suffixed(link, ".upshift-tmp"));
                s.script(
                    &format!(
                        "rm -f -- {tmp} && ln -s -- {} {tmp} && mv -fT -- {tmp} {}",
                        q(target),
                        q(link)
                    ),
                    None,
                )
                .map(drop)
            }
        }
    }

    pub fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        match self {
            Host::Local => std::fs::canonicalize(path),
            Host::Ssh(s) => {
                let out = s.script(&format!("readlink -e -- {}", q(path)), None)?;
                Ok(PathBuf::from(String::from_utf8_lossy(&out).trim_end()))
            }
        }
    }

    /// The entries of a directory: name and whether it is a directory
    /// (symlinks followed), `.` and `..` left out.
    pub fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        match self {
            Host::Local => local::list_dir(path),
            Host::Ssh(s) => s.list_dir(path),
        }
    }

    /// Replaces `dst` with a copy of `src` (file, tree or symlink; modes and,
    /// when allowed, owners kept), made beside `dst` and renamed into place.
    pub fn copy_replacing(&self, src: &Path, dst: &Path) -> io::Result<()> {
        match self {
            Host::Local => local::copy_replacing(src, dst),
            Host::Ssh(s) => s.copy_replacing(src, dst),
        }
    }

    /// Whether `pid` is a live (non-zombie) process there.
    pub fn pid_alive(&self, pid: u32) -> bool {
        match self {
            Host::Local => crate::proc::pid_alive(pid),
            Host::Ssh(s) => s.pid_alive(pid),
        }
    }

    /// Whether any live process is left in the process group `pid` leads
    /// (or `pid` itself, for a process that leads no group).
    pub fn group_alive(&self, pid: u32) -> bool {
        match self {
            Host::Local => crate::proc::group_alive(pid),
            Host::Ssh(s) => {
                s.pid_alive(pid)
                    || s.script(&format!("kill -0 -- -{pid} 2>/dev/null && echo yes"), None)
                        .is_ok_and(|o| String::from_utf8_lossy(&o).contains("yes"))
            }
        }
    }

    /// Sends `signal` to the process group `pid` leads (to `pid` alone
    /// when it leads none: a service started by an earlier upshift).
    pub fn signal_group(&self, pid: u32, signal: i32) {
        match self {
            Host::Local => crate::proc::signal_group(pid, signal),
            Host::Ssh(s) => {
                let _ = s.script(
                    &format!("kill -{signal} -- -{pid} 2>/dev/null || kill -{signal} {pid}"),
                    None,
                );
            }
        }
    }

    /// Sends `signal` (a number, e.g. `libc::SIGTERM`) to `pid` there.
    pub fn signal(&self, pid: u32, signal: i32) {
        match self {
            Host::Local => crate::proc::signal(pid, signal),
            Host::Ssh(s) => {
                let _ = s.script(&format!("kill -{signal} {pid}"), None);
            }
        }
    }

    /// Bytes free for unprivileged users on the file system of `path`.
    pub fn free_space(&self, path: &Path) -> io::Result<u64> {
        match self {
            Host::Local => local::free_space(path),
            Host::Ssh(s) => s.free_space(path),
        }
    }

    /// A connection to `addr` (`host:port`) as the host sees it: from the
    /// other machine, through the ssh connection, when it is remote.
    pub fn connect(&self, addr: &str, timeout: Duration) -> io::Result<Box<dyn Conn>> {
        match self {
            Host::Local => local::connect(addr, timeout),
            Host::Ssh(s) => s.connect(addr, timeout),
        }
    }
}

/// `p` single-quoted for a POSIX shell.
pub(crate) fn q(p: impl AsRef<std::ffi::OsStr>) -> String {
    let s = p.as_ref().to_string_lossy();
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn quoting_survives_the_shell() {
        for s in [
            "plain",
            "it's",
            "a b  c",
            "$HOME `id` \"x\"",
            "'';'",
            "new\nline",
            "",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", q(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }

    #[test]
    fn local_writes_are_atomic_and_secret_files_never_wider_than_asked() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("secrets/auth.secret");
        Host::Local
            .write_atomic(&secret, b"s3cret", Some(0o600))
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(mode(secret.parent().unwrap()), 0o700);
        Host::Local
            .write_atomic(&secret, b"again", Some(0o600))
            .unwrap();
        assert_eq!(std::fs::read(&secret).unwrap(), b"again");
        assert_eq!(
            std::fs::read_dir(secret.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn a_replaced_file_keeps_its_mode() {
        let d = tempfile::tempdir().unwrap();
        let cfg = d.path().join("values.yml");
        std::fs::write(&cfg, "password: x\n").unwrap();
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o640)).unwrap();
        Host::Local
            .write_atomic(&cfg, b"password: y\n", None)
            .unwrap();
        let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "a rewritten config keeps its mode");
        assert_eq!(std::fs::read(&cfg).unwrap(), b"password: y\n");
    }

    #[test]
    fn local_links_listing_and_targets() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::Local;
        h.create_dir_all(&d.path().join("releases/1.0.0")).unwrap();
        h.create_dir_all(&d.path().join("releases/2.0.0")).unwrap();
        std::fs::write(d.path().join("releases/notes.txt"), "x").unwrap();
        let link = d.path().join("current");
        h.symlink_replace(Path::new("releases/1.0.0"), &link)
            .unwrap();
        h.symlink_replace(Path::new("releases/2.0.0"), &link)
            .unwrap();
        assert_eq!(
            h.canonicalize(&link).unwrap(),
            d.path().join("releases/2.0.0").canonicalize().unwrap()
        );
        assert_eq!(
            h.list_dir(&d.path().join("releases")).unwrap(),
            vec![
                ("1.0.0".to_string(), true),
                ("2.0.0".to_string(), true),
                ("notes.txt".to_string(), false)
            ]
        );
        assert!(h.exists(&link) && h.is_dir(&link));
        h.remove_file(&d.path().join("missing")).unwrap();
        let t = Target::local(d.path());
        assert!(!t.is_remote());
        assert_eq!(t.label(), "this machine");
        t.reach().unwrap();
    }
}
