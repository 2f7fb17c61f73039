//! [`Host::Ssh`](super::Host): another machine, reached with the OpenSSH
//! client (`ssh`), never with a library of our own: the operator's
//! `ssh_config`, keys, agent, jump hosts and known_hosts all apply. Host keys
//! are checked strictly (`StrictHostKeyChecking=yes`, `BatchMode=yes`: an
//! unknown or changed key stops the run instead of prompting), and one
//! multiplexed connection (`ControlMaster`) carries every command, file
//! transfer and health check of a run.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use upshift_core::manifest::RemoteHost;

use super::{local, q, Conn};
use crate::error::{StepError, StepResult};
use crate::proc::Output;

/// ssh's own exit status for connection and authentication failures.
const SSH_FAILED: i32 = 255;

/// An ssh destination and how to reach it.
#[derive(Debug, Clone)]
pub struct Ssh {
    spec: RemoteHost,
    config: Option<PathBuf>,
}

impl Ssh {
    pub fn new(spec: RemoteHost, config: Option<PathBuf>) -> Ssh {
        Ssh { spec, config }
    }

    /// The `ssh://` address, for messages.
    pub fn label(&self) -> String {
        self.spec.to_string()
    }

    /// Directory of the control sockets (0700, per user, short enough for
    /// a socket path); `None` when it exists but is not ours alone (another
    /// user could then reach our connection): no multiplexing then.
    fn control_dir() -> Option<PathBuf> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let dir = PathBuf::from(format!("/tmp/upshift-ssh-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let md = std::fs::symlink_metadata(&dir).ok()?;
        (md.is_dir() && md.uid() == uid && md.mode() & 0o077 == 0).then_some(dir)
    }

    /// `ssh` with upshift's options and the destination; the caller adds
    /// the remote command (or `-W`).
    pub fn command(&self) -> Command {
        self.command_with(&[])
    }

    /// [`Ssh::command`] with more options before the destination.
    fn command_with(&self, extra: &[&str]) -> Command {
        let mut c = Command::new("ssh");
        c.process_group(0);
        if let Some(f) = &self.config {
            c.arg("-F").arg(f);
        }
        let (master, control) = match Self::control_dir() {
            Some(d) => (
                "ControlMaster=auto",
                format!("ControlPath={}/%C", d.display()),
            ),
            None => ("ControlMaster=no", "ControlPath=none".to_string()),
        };
        for o in [
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            master,
            control.as_str(),
            "ControlPersist=60",
            "ConnectTimeout=15",
            "ServerAliveInterval=15",
            "ServerAliveCountMax=4",
            "LogLevel=ERROR",
        ] {
            c.arg("-o").arg(o);
        }
        if let Some(p) = self.spec.port {
            c.arg("-p").arg(p.to_string());
        }
        c.args(extra);
        let dest = match &self.spec.user {
            Some(u) => format!("{u}@{}", self.spec.host),
            None => self.spec.host.clone(),
        };
        c.arg(dest);
        c
    }

    /// Runs `script` in the remote user's shell, feeding it `input`. An
    /// error only when ssh itself failed (no connection, host key refused).
    fn raw(&self, script: &str, input: Option<&[u8]>) -> io::Result<std::process::Output> {
        let mut c = self.command();
        c.arg("--").arg(script);
        c.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run the OpenSSH client `ssh` (install openssh-client): {e}"),
            )
        })?;
        let feeder = match (input, child.stdin.take()) {
            (Some(data), Some(mut stdin)) => {
                let data = data.to_vec();
                Some(std::thread::spawn(move || stdin.write_all(&data)))
            }
            _ => None,
        };
        let out = child.wait_with_output()?;
        if let Some(f) = feeder {
            let _ = f.join();
        }
        if out.status.code() == Some(SSH_FAILED) {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = err.trim();
            if !err.is_empty() {
                return Err(io::Error::other(format!("ssh {}: {err}", self.label())));
            }
        }
        Ok(out)
    }

    /// Runs `script`; its stdout, or an error with its stderr when it fails.
    pub(super) fn script(&self, script: &str, input: Option<&[u8]>) -> io::Result<Vec<u8>> {
        let out = self.raw(script, input)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let kind = if err.contains("No such file") {
                io::ErrorKind::NotFound
            } else {
                io::ErrorKind::Other
            };
            Err(io::Error::new(kind, format!("on {}: {err}", self.label())))
        }
    }

    /// Runs `cmd` there. The environment travels on ssh's stdin into a
    /// 0600 file that is read and removed before the command starts, so
    /// values (store passwords) are never in an argument list, here or
    /// there.
    pub(super) fn sh(&self, cmd: &str, dir: &Path, env: &[(&str, &str)]) -> io::Result<Output> {
        let mut vars = String::new();
        for (k, v) in env {
            vars += &format!("{k}={}\n", q(v));
        }
        let s = format!(
            "cd {} && f=$(umask 077 && mktemp) && cat >\"$f\" && set -a && . \"$f\"; r=$?; rm -f \"$f\"; [ $r = 0 ] || exit 1; set +a; unset r f; exec sh -c {} </dev/null",
            q(dir),
            q(cmd)
        );
        let out = self.raw(&s, Some(vars.as_bytes()))?;
        Ok(Output {
            ok: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `test FLAG path` there.
    pub(super) fn test(&self, flag: &str, path: &Path) -> bool {
        self.test_script(&format!("test {flag} {}", q(path)))
    }

    /// Whether `script` exits 0 there.
    pub(super) fn test_script(&self, script: &str) -> bool {
        self.raw(script, None).is_ok_and(|o| o.status.success())
    }

    pub(super) fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.script(&format!("cat -- {}", q(path)), None)
    }

    pub(super) fn write_atomic(
        &self,
        path: &Path,
        data: &[u8],
        mode: Option<u32>,
    ) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let tmp = q(local::suffixed(path, ".upshift-tmp"));
        let (mkdir, umask, chmod) = match mode {
            Some(m) => (
                "mkdir -p -m 700",
                "umask 077; ",
                format!("chmod {m:o} {tmp}; "),
            ),
            // A file being replaced keeps its mode and owner (GNU --reference).
            None => (
                "mkdir -p",
                "umask 077; ",
                format!(
                    "if [ -e {p} ]; then chmod --reference={p} {tmp}; chown --reference={p} {tmp} 2>/dev/null || true; else chmod 644 {tmp}; fi; ",
                    p = q(path)
                ),
            ),
        };
        let script = format!(
            "set -e; [ -d {d} ] || {mkdir} -- {d}; {umask}rm -f -- {tmp}; cat > {tmp}; {chmod}sync {tmp} 2>/dev/null || true; mv -f -- {tmp} {p}",
            d = q(dir),
            p = q(path),
        );
        self.script(&script, Some(data)).map(drop)
    }

    pub(super) fn list_dir(&self, path: &Path) -> io::Result<Vec<(String, bool)>> {
        let out = self.script(
            &format!(
                "cd {} || exit 1; for f in * .[!.]* ..?*; do {{ [ -e \"$f\" ] || [ -L \"$f\" ]; }} || continue; if [ -d \"$f\" ]; then echo \"d/$f\"; else echo \"f/$f\"; fi; done",
                q(path)
            ),
            None,
        )?;
        let mut v: Vec<(String, bool)> = String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| {
                l.split_once('/')
                    .map(|(k, name)| (name.to_string(), k == "d"))
            })
            .collect();
        v.sort();
        Ok(v)
    }

    pub(super) fn copy_replacing(&self, src: &Path, dst: &Path) -> io::Result<()> {
        let parent = dst.parent().unwrap_or(Path::new("/"));
        let script = format!(
            "set -e; s={s}; d={d}; t={t}; mkdir -p -- {p}; rm -rf -- \"$t\"; cp -a -- \"$s\" \"$t\"; if [ -d \"$d\" ] && [ ! -L \"$d\" ]; then rm -rf -- \"$d\"; fi; mv -fT -- \"$t\" \"$d\"",
            s = q(src),
            d = q(dst),
            t = q(local::tmp_beside(dst)),
            p = q(parent),
        );
        self.script(&script, None).map(drop)
    }

    /// A live, non-zombie process (an unreachable host counts as alive:
    /// nothing is assumed stopped that was not seen stopped).
    pub(super) fn pid_alive(&self, pid: u32) -> bool {
        let script = format!(
            "s=$(cat /proc/{pid}/stat 2>/dev/null) || exit 1; s=${{s##*) }}; [ \"${{s%% *}}\" != Z ]"
        );
        match self.raw(&script, None) {
            Ok(o) => o.status.success(),
            Err(_) => true,
        }
    }

    pub(super) fn free_space(&self, path: &Path) -> io::Result<u64> {
        let out = self.script(&format!("df -Pk -- {} | tail -n 1", q(path)), None)?;
        let text = String::from_utf8_lossy(&out);
        text.split_whitespace()
            .nth(3)
            .and_then(|k| k.parse::<u64>().ok())
            .map(|k| k * 1024)
            .ok_or_else(|| io::Error::other(format!("unexpected `df` output: {}", text.trim())))
    }

    /// A stream to `addr` opened on the other machine (`ssh -W`), closed
    /// (and the ssh process ended) after `timeout` at the latest.
    pub(super) fn connect(&self, addr: &str, timeout: Duration) -> io::Result<Box<dyn Conn>> {
        let mut c = self.command();
        c.arg("-W").arg(addr);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn()?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let pid = child.id();
        let (done, watch) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if watch.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                // SAFETY: kill(2) on our own child, which is not reaped yet
                // (SshConn waits for it only after disconnecting this channel).
                unsafe {
                    libc::kill(pid as i32, libc::SIGKILL);
                }
            }
        });
        Ok(Box::new(SshConn {
            child,
            stdin,
            stdout: stdout.ok_or_else(|| io::Error::other("ssh has no stdout"))?,
            done: Some(done),
        }))
    }

    /// `tcp` health check: can the other machine connect to `addr`?
    pub fn tcp_check(&self, addr: &str, timeout: Duration) -> StepResult<()> {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("`{addr}` is not host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let secs = timeout.as_secs().max(1);
        let script = format!(
            "if command -v nc >/dev/null 2>&1; then exec nc -z -w {secs} {h} {port}; else exec timeout {secs} bash -c 'exec 3<>/dev/tcp/'{h}/{port}; fi",
            h = q(host),
            port = port.parse::<u16>().map_err(|_| format!("`{addr}` has no port"))?,
        );
        match self.raw(&script, None) {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(format!(
                "connect {addr} (on {}): refused or unreachable {}",
                self.label(),
                String::from_utf8_lossy(&o.stderr).trim()
            )
            .into()),
            Err(e) => Err(StepError::msg(e.to_string())),
        }
    }
}

impl Ssh {
    /// Makes the other machine's `addr` (`host:port`) forward to
    /// `127.0.0.1:local_port` here (`ssh -R` on the shared connection): the
    /// maintenance page answers there while the service is stopped. Binding
    /// an address other than loopback needs `GatewayPorts clientspecified`
    /// in that sshd's configuration.
    pub fn forward_remote(&self, addr: &str, local_port: u16) -> io::Result<()> {
        // -O needs the shared connection to exist.
        self.script("true", None)?;
        self.control("forward", addr, local_port)
    }

    /// Ends a forward made by [`Ssh::forward_remote`].
    pub fn cancel_remote(&self, addr: &str, local_port: u16) -> io::Result<()> {
        self.control("cancel", addr, local_port)
    }

    fn control(&self, op: &str, addr: &str, local_port: u16) -> io::Result<()> {
        let spec = format!("{addr}:127.0.0.1:{local_port}");
        let out = self
            .command_with(&["-O", op, "-R", &spec])
            .stdin(Stdio::null())
            .output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "ssh -O {op} -R {spec} on {}: {}",
                self.label(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }
}

/// An `ssh -W` stdio channel.
struct SshConn {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    done: Option<mpsc::Sender<()>>,
}

impl Read for SshConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Write for SshConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stdin {
            Some(s) => s.write(buf),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stdin {
            Some(s) => s.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for SshConn {
    fn drop(&mut self) {
        self.stdin.take();
        // Disconnect the watchdog before reaping, so it never signals a
        // reused pid.
        self.done.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
