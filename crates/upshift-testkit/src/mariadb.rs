//! A throwaway MariaDB server (`mariadb-install-db` + `mariadbd`) on a
//! loopback port and a socket in a temp dir; user `root` without password.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{free_port, require, wait_until};

/// A running server.
pub struct MariaDb {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
}

impl MariaDb {
    pub fn start() -> MariaDb {
        for c in ["mariadb-install-db", "mariadbd", "mariadb", "mariadb-dump"] {
            require(
                c,
                "MariaDB (Debian packages mariadb-server, mariadb-client)",
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("upshift-maria")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        // Each server's own temporary directory: servers started in PID
        // namespaces of their own share /tmp and the same pids, and MariaDB
        // names its temporary tables by pid.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("tmp dir");
        let out = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ])
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .output()
            .expect("mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--socket={}", dir.path().join("sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).expect("log"))
            .spawn()
            .expect("mariadbd");
        let m = MariaDb { dir, child, port };
        wait_until(
            "MariaDB to accept connections",
            Duration::from_secs(60),
            || m.try_sql(None, "SELECT 1").is_some(),
        );
        m
    }

    /// The server's Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn try_sql(&self, db: Option<&str>, sql: &str) -> Option<String> {
        let mut c = Command::new("mariadb");
        c.args([
            "--protocol=TCP",
            "-h",
            "127.0.0.1",
            "-u",
            "root",
            "--batch",
            "--skip-column-names",
        ])
        .arg(format!("--port={}", self.port));
        if let Some(db) = db {
            c.arg(db);
        }
        let out = c.arg("-e").arg(sql).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs SQL as root; panics on failure.
    pub fn sql(&self, db: Option<&str>, sql: &str) -> String {
        self.try_sql(db, sql)
            .unwrap_or_else(|| panic!("SQL failed: {sql}"))
    }

    /// A `mariadb-dump` of `db` without the date comment (for comparisons).
    pub fn dump(&self, db: &str) -> String {
        let out = Command::new("mariadb-dump")
            .args([
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-u",
                "root",
                "--skip-dump-date",
                "--routines",
                "--events",
                "--triggers",
            ])
            .arg(format!("--port={}", self.port))
            .arg(db)
            .output()
            .expect("mariadb-dump");
        assert!(
            out.status.success(),
            "mariadb-dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
