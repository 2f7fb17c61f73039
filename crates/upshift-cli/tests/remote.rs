//! The demo installation on another machine, reached over a real sshd
//! (`upshift_testkit::Sshd`): the server runs in its own mount and pid
//! namespaces with a private tmpfs over the installation's directory, so
//! the files upshift must change there cannot be seen from this side. plan,
//! status, apply 1.0.0 → 3.0.0 and rollback all go through the OpenSSH
//! client; snapshots are streamed back into the local repository.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::demo::demo_bin;
use common::{demo_manifest, upshift, Run};
use upshift_testkit::{free_port, wait_until, Sshd};

/// A demo installation at 1.0.0 on the sshd's machine, with three notes,
/// and a local directory holding its manifest.
struct Remote {
    sshd: Sshd,
    /// The installation's directory there.
    root: PathBuf,
    /// The auth service's port (on loopback there; the test shares the network).
    auth: u16,
    local: tempfile::TempDir,
}

impl Remote {
    fn new() -> Remote {
        let sshd = Sshd::start();
        let root = sshd.remote_dir().join("demo");
        let (auth, notes) = (free_port(), free_port());
        let bin = demo_bin();
        sshd.run(&format!(
            "{} init --root {} --version 1.0.0 --auth-port {auth} --notes-port {notes}",
            bin.display(),
            root.display()
        ));
        // Start both services as an operator would have, with their pidfiles.
        sshd.run(&format!(
            "cd {} && mkdir -p logs run && \
             (current/bin/upshift-demo auth --config config/auth.toml </dev/null >>logs/auth.log 2>&1 & echo $! > run/auth.pid) && \
             (current/bin/upshift-demo notes --config config/notes.toml </dev/null >>logs/notes.log 2>&1 & echo $! > run/notes.pid)",
            root.display()
        ));
        for port in [auth, notes] {
            wait_until("a demo service to answer", Duration::from_secs(30), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
        }
        sshd.run(&format!(
            "cd {} && current/bin/upshift-demo seed --config config/notes.toml --count 3 --body-bytes 64",
            root.display()
        ));
        let local = tempfile::tempdir().unwrap();
        let manifest = demo_manifest()
            .replace("127.0.0.1:7301", &format!("127.0.0.1:{auth}"))
            .replace("127.0.0.1:7302", &format!("127.0.0.1:{notes}"))
            .replace(
                "version = \"1.0.0\"        # the version running now",
                &format!(
                    "version = \"1.0.0\"\nhost = \"{}\"\nssh_config = \"{}\"",
                    sshd.url(&root),
                    sshd.ssh_config().display()
                ),
            );
        assert!(
            manifest.contains("host = \"ssh://"),
            "the manifest names the host"
        );
        std::fs::write(local.path().join("upshift.toml"), manifest).unwrap();
        Remote {
            sshd,
            root,
            auth,
            local,
        }
    }

    fn upshift(&self, args: &[&str]) -> Run {
        let mut all = vec!["-m", "upshift.toml"];
        all.extend_from_slice(args);
        upshift(self.local.path()).args(all).run()
    }

    /// Runs `script` in the installation's directory there.
    fn there(&self, script: &str) -> String {
        self.sshd
            .run(&format!("cd {} && {script}", self.root.display()))
    }

    fn export(&self) -> String {
        self.there("current/bin/upshift-demo export --config config/notes.toml")
    }

    fn current(&self) -> String {
        self.there("readlink current").trim().to_string()
    }

    fn assert_healthy(&self) {
        let st = self.upshift(&["--json", "status"]).json();
        for s in st["services"].as_array().unwrap() {
            assert_eq!(s["state"], "healthy", "{st}");
        }
    }

    /// What the installation's directory looks like from this side.
    fn seen_locally(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.sshd.remote_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect()
    }

    fn explain(&self, r: &Run) -> String {
        format!(
            "exit {}\nstdout:\n{}\nstderr:\n{}\nsshd:\n{}",
            r.code,
            r.stdout,
            r.stderr,
            self.sshd.log()
        )
    }
}

/// The answer on 127.0.0.1:`port` when it is the maintenance page.
fn maintenance_page(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    text.starts_with("HTTP/1.1 503").then_some(text)
}

#[test]
fn remote_demo_plans_upgrades_and_rolls_back_over_ssh() {
    let r = Remote::new();
    assert!(
        r.seen_locally().is_empty(),
        "the remote installation must not be visible from this side"
    );
    let before = r.export();
    assert_eq!(
        before.matches("\"id\":").count(),
        3,
        "three notes: {before}"
    );
    // A config file readable by its group only stays so when rewritten there.
    r.there("chmod 640 config/notes.toml");
    let config_before = r.there("cat config/auth.toml config/notes.toml");

    let st = r.upshift(&["--json", "status"]);
    assert_eq!(st.code, 0, "{}", r.explain(&st));
    let st = st.json();
    assert_eq!(st["host"], r.sshd.url(&r.root), "{st}");
    r.assert_healthy();

    let plan = r.upshift(&["plan", "--to", "3.0.0"]);
    assert_eq!(plan.code, 0, "{}", r.explain(&plan));
    assert!(plan.stdout.contains("3.0.0"), "{}", plan.stdout);

    // While the services are down, their address there answers with the
    // 503 page, which upshift serves here through an ssh -R forward.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, port) = (done.clone(), r.auth);
        std::thread::spawn(move || {
            let mut seen = None;
            while !done.load(Ordering::SeqCst) && seen.is_none() {
                seen = maintenance_page(port);
                std::thread::sleep(Duration::from_millis(10)); // sampling, not synchronisation
            }
            seen
        })
    };
    let apply = r.upshift(&["-y", "--json", "apply", "--to", "3.0.0"]);
    done.store(true, Ordering::SeqCst);
    let page = watcher.join().unwrap();
    assert_eq!(apply.code, 0, "{}", r.explain(&apply));
    let page = page.expect("the 503 page answered on the service's address during the upgrade");
    // The stores did not change between the online backup and the stop (as
    // seen by `find` there), so the online snapshot was reused as the final
    // one instead of copying the data again inside the window.
    assert!(
        apply
            .stderr
            .contains("the data did not change since the online backup"),
        "{}",
        apply.stderr
    );
    // Retry-After counts down the hop's estimated window (10 or 30 s in
    // the demo's catalog), then is the manifest's 60 s.
    let retry: u64 = page
        .split("\r\nRetry-After: ")
        .nth(1)
        .and_then(|r| r.split("\r\n").next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {page}"));
    assert!((5..=60).contains(&retry), "{page}");
    assert!(page.contains("<h1>demo is being upgraded</h1>"), "{page}");
    assert_eq!(apply.json()["at"], "3.0.0", "{}", apply.stdout);
    assert_eq!(r.current(), "releases/3.0.0");
    assert_eq!(r.export(), before, "every note survives the upgrade");
    r.assert_healthy();
    assert_eq!(r.there("stat -c %a config/notes.toml").trim(), "640");
    // 2.0.0 moved the cleartext secret into a 0600 file, written there.
    let secret = r.there("stat -c %a secrets/auth.secret");
    assert_eq!(secret.trim(), "600");
    assert!(
        !r.there("cat config/auth.toml").contains("secret = "),
        "the cleartext secret left the config"
    );
    // Snapshots came back to this machine's repository.
    let snaps = r.upshift(&["--json", "snapshots"]);
    assert_eq!(snaps.code, 0, "{}", r.explain(&snaps));
    assert!(
        snaps.json().as_array().is_some_and(|a| a.len() >= 3),
        "{}",
        snaps.stdout
    );
    assert!(r.seen_locally().is_empty(), "nothing was written locally");

    let back = r.upshift(&["-y", "--json", "rollback"]);
    assert_eq!(back.code, 0, "{}", r.explain(&back));
    assert_eq!(back.json()["at"], "1.0.0", "{}", back.stdout);
    assert_eq!(r.current(), "releases/1.0.0");
    assert_eq!(r.export(), before, "the notes are those of 1.0.0");
    assert_eq!(
        r.there("cat config/auth.toml config/notes.toml"),
        config_before,
        "the config files are restored byte for byte"
    );
    r.assert_healthy();
    assert!(r.seen_locally().is_empty());

    // The manual commands stream the same way: back up, damage a config
    // file there, restore (the services answer, so --force), identical again.
    let b = r.upshift(&["--json", "backup"]);
    assert_eq!(b.code, 0, "{}", r.explain(&b));
    let id = b.json()["id"].as_str().unwrap().to_string();
    r.there("echo 'garbage = [' > config/notes.toml");
    let refused = r.upshift(&["-y", "restore", &id]);
    assert_eq!(refused.code, 1, "{}", r.explain(&refused));
    assert!(
        refused.stderr.contains("stop them first"),
        "{}",
        refused.stderr
    );
    let restored = r.upshift(&["-y", "restore", &id, "--force"]);
    assert_eq!(restored.code, 0, "{}", r.explain(&restored));
    assert_eq!(
        r.there("cat config/auth.toml config/notes.toml"),
        config_before
    );
    assert!(r.seen_locally().is_empty());
}

#[test]
fn an_unknown_host_key_stops_before_anything_changes() {
    let r = Remote::new();
    // The same server, but this side does not know its host key.
    let cfg = std::fs::read_to_string(r.sshd.ssh_config()).unwrap();
    let empty = r.local.path().join("known_hosts");
    std::fs::write(&empty, "").unwrap();
    let strange = r.local.path().join("ssh_config");
    let mut out = String::new();
    for line in cfg.lines() {
        if line.trim_start().starts_with("UserKnownHostsFile") {
            out += &format!("  UserKnownHostsFile {}\n", empty.display());
        } else {
            out += line;
            out += "\n";
        }
    }
    std::fs::write(&strange, out).unwrap();
    let manifest = r.local.path().join("upshift.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace(
        &format!("ssh_config = \"{}\"", r.sshd.ssh_config().display()),
        "ssh_config = \"ssh_config\"",
    );
    std::fs::write(&manifest, text).unwrap();

    let apply = r.upshift(&["-y", "apply", "--to", "3.0.0"]);
    assert_ne!(apply.code, 0, "{}", r.explain(&apply));
    assert!(
        apply.stderr.contains("Host key verification failed"),
        "{}",
        r.explain(&apply)
    );
    assert_eq!(r.current(), "releases/1.0.0", "nothing changed there");
    let history = r.upshift(&["--json", "history"]);
    assert!(
        !history.stdout.contains("\"run_id\""),
        "no run was started: {}",
        history.stdout
    );
}
