//! A throwaway PostgreSQL cluster (`initdb` + `pg_ctl`), as user `postgres`
//! when the tests run as root (initdb refuses root).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::util::{free_port, is_root, require, wait_until};

/// A running cluster; superuser `postgres`, trust auth on 127.0.0.1.
pub struct Postgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pub port: u16,
}

/// A server program: on PATH, else in Debian's `/usr/lib/postgresql/*/bin`.
fn pg_bin(program: &str) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|d| d.join(program).is_file()) {
        return program.to_string();
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join(program))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
        .pop()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| panic!("PostgreSQL is required for this test but `{program}` is not installed (run scripts/install-test-deps.sh)"))
}

fn as_pg(program: &str) -> Command {
    let program = &pg_bin(program);
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

fn ok(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Postgres {
    /// Initialises and starts a cluster, waiting until it accepts connections.
    pub fn start() -> Postgres {
        pg_bin("initdb");
        pg_bin("pg_ctl");
        for c in ["psql", "pg_dump", "pg_restore", "pg_isready"] {
            require(c, "PostgreSQL (Debian package postgresql)");
        }
        let dir = tempfile::Builder::new()
            .prefix("upshift-pg")
            .tempdir()
            .expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let data = dir.path().join("data");
        let port = free_port();
        ok(
            "initdb",
            as_pg("initdb")
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
                .arg(&data)
                .output(),
        );
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        ok(
            "pg_ctl start",
            as_pg("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-o", &opts, "-l"])
                .arg(dir.path().join("log"))
                .args(["-w", "start"])
                .output(),
        );
        wait_until(
            "PostgreSQL to accept connections",
            Duration::from_secs(30),
            || {
                Command::new("pg_isready")
                    .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                    .output()
                    .is_ok_and(|o| o.status.success())
            },
        );
        Postgres {
            _dir: dir,
            data,
            port,
        }
    }

    /// Runs SQL with psql as `postgres` on `db`; returns unaligned tuples.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = ok(
            "psql",
            Command::new("psql")
                .args([
                    "-X",
                    "-q",
                    "-A",
                    "-t",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                ])
                .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
                .output(),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A plain-text `pg_dump` of `db` (for comparisons).
    pub fn dump(&self, db: &str) -> String {
        let out = ok(
            "pg_dump",
            Command::new("pg_dump")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "--no-owner",
                    "-p",
                    &self.port.to_string(),
                    "-d",
                    db,
                ])
                .output(),
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
