//! A real OpenSSH server (`sshd` from Debian's openssh-server) on 127.0.0.1,
//! standing in for another machine: it runs in its own mount and pid
//! namespaces (`unshare`), where a tmpfs is mounted over [`Sshd::remote_dir`].
//! What the server and the programs it starts write there is invisible from
//! the test's side (the directory looks empty here), so a test passes only
//! when every file the tool reads or writes for the "remote" installation
//! goes through ssh. Killing the server ends every process it started
//! (the pid namespace goes with its first process). The other machine is a
//! clean one: root's shell start-up files of this machine (pyenv set-up
//! and the like) are hidden there. Needs root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::util::{free_port, wait_until};

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd with a host key, a user key and a known_hosts file for it.
pub struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "upshift-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs")
        .success();
    assert!(ok, "ssh-keygen failed for {}", path.display());
}

impl Sshd {
    /// Starts the server; `remote_dir` (created here, empty) is where the
    /// other machine's private file system is mounted.
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "OpenSSH's server is required for this test but {SSHD} is missing (run scripts/install-test-deps.sh: openssh-server)"
        );
        assert!(
            crate::util::is_root(),
            "the sshd test harness needs root (mount and pid namespaces)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("user_key"));
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).expect("copy key");
        std::fs::create_dir_all(d.join("remote")).expect("remote dir");
        let port = free_port();
        let host_pub = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
        let mut words = host_pub.split_whitespace();
        let (kind, key) = (words.next().unwrap(), words.next().unwrap());
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {kind} {key}\n"),
        )
        .expect("known_hosts");
        std::fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nAllowTcpForwarding yes\n\
                 MaxSessions 64\nMaxStartups 64\nLogLevel ERROR\n",
                d = d.display()
            ),
        )
        .expect("sshd_config");
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host *\n  User root\n  IdentityFile {d}/user_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n",
                d = d.display()
            ),
        )
        .expect("ssh_config");
        let script = format!(
            "mount -t tmpfs upshift-remote '{remote}' && mkdir -p /run/sshd && \
             for rc in /root/.bashrc /root/.profile; do [ ! -f $rc ] || mount --bind /dev/null $rc; done && \
             exec {SSHD} -D -e -f '{d}/sshd_config'",
            remote = d.join("remote").display(),
            d = d.display()
        );
        let child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                "sh",
                "-c",
                &script,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).expect("log"))
            .spawn()
            .expect("unshare runs");
        let s = Sshd { child, dir, port };
        wait_until("sshd to accept logins", Duration::from_secs(30), || {
            s.ssh("true").status.success()
        });
        s
    }

    /// The other machine's private directory (empty as seen from here).
    pub fn remote_dir(&self) -> PathBuf {
        self.dir.path().join("remote")
    }

    /// An ssh_config file that reaches the server as root with the test's key
    /// and known_hosts.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// `ssh://root@127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &Path) -> String {
        format!("ssh://root@127.0.0.1:{}{}", self.port, path.display())
    }

    /// Runs `script` on the server (for setting up and inspecting the
    /// other machine in tests).
    pub fn ssh(&self, script: &str) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .args(["-p", &self.port.to_string(), "127.0.0.1", "--", script])
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs")
    }

    /// Like [`Sshd::ssh`], panicking unless `script` succeeds; its stdout.
    pub fn run(&self, script: &str) -> String {
        let out = self.ssh(script);
        assert!(
            out.status.success(),
            "on the sshd host, `{script}` failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// What sshd logged (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
