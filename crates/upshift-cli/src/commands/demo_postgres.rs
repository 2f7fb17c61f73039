//! `upshift demo --store postgres`: a PostgreSQL cluster of the demo's own
//! under `DIR/postgres` (data in `data/`, its socket and log beside it),
//! listening on a free loopback port, with role and database `notes`.
//!
//! `initdb` refuses to run as root
//! (<https://www.postgresql.org/docs/current/app-initdb.html>), so when
//! upshift runs as root the cluster belongs to `nobody`; otherwise to the
//! invoking user. Local (socket) connections are trusted, TCP ones need the
//! role's password (scram-sha-256), which is kept in
//! `DIR/secrets/notes-db.password`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::CliError;

/// The password file, relative to the demo directory.
pub const PASSWORD_FILE: &str = "secrets/notes-db.password";
/// Role and database of the notes.
pub const ROLE: &str = "notes";

/// A running cluster of the demo.
pub struct Cluster {
    pub bin: PathBuf,
    pub data: PathBuf,
    pub port: u16,
    /// `(uid, gid)` the server runs as when upshift runs as root.
    owner: Option<(u32, u32)>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!("demo: PostgreSQL: {what}: {e}"))
}

/// The directory of the server programs: the newest
/// `/usr/lib/postgresql/<major>/bin` (Debian, Ubuntu), else `initdb`'s on PATH.
fn bin_dir() -> Result<PathBuf, CliError> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .ok_or_else(|| {
            CliError::Failed(
                "demo: --store postgres needs the PostgreSQL server (initdb, pg_ctl, postgres): \
                 none under /usr/lib/postgresql/*/bin or on PATH (Debian: apt-get install postgresql)"
                    .into(),
            )
        })
}

fn id(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn is_root() -> bool {
    id(&["-u"]) == Some(0)
}

impl Cluster {
    /// A command running `program` of the server's bin directory as the
    /// cluster's owner.
    fn cmd(&self, program: &str) -> Command {
        let mut c = as_owner(self.owner, &self.bin.join(program));
        // The owner may not enter upshift's working directory.
        c.current_dir(self.data.parent().unwrap_or(Path::new("/")));
        c
    }

    /// Initialises and starts a cluster in `dir/postgres`, creates role
    /// and database `notes` with a fresh password written to
    /// [`PASSWORD_FILE`]; waits until it accepts connections.
    pub fn start(dir: &Path, port: u16, password: &str) -> Result<Cluster, CliError> {
        let bin = bin_dir()?;
        let pgdir = dir.join("postgres");
        std::fs::create_dir_all(&pgdir).map_err(|e| fail(&pgdir.display().to_string(), e))?;
        std::fs::set_permissions(&pgdir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail(&pgdir.display().to_string(), e))?;
        let owner = if is_root() {
            let (Some(uid), Some(gid)) = (id(&["-u", "nobody"]), id(&["-g", "nobody"])) else {
                return Err(fail(
                    "initdb refuses root",
                    "and there is no user `nobody` to run the server as",
                ));
            };
            std::os::unix::fs::chown(&pgdir, Some(uid), Some(gid))
                .map_err(|e| fail(&format!("chown {}", pgdir.display()), e))?;
            let reachable = as_owner(Some((uid, gid)), Path::new("test"))
                .current_dir("/")
                .args(["-w"])
                .arg(&pgdir)
                .status()
                .is_ok_and(|s| s.success());
            if !reachable {
                return Err(CliError::BadInput(format!(
                    "demo: PostgreSQL runs as `nobody` (initdb refuses root), which cannot enter {}: \
                     choose a --dir every user may enter (e.g. under /tmp)",
                    dir.display()
                )));
            }
            Some((uid, gid))
        } else {
            None
        };
        let cluster = Cluster {
            bin,
            data: pgdir.join("data"),
            port,
            owner,
        };
        // The superuser's password only makes scram possible for it over
        // TCP; the demo itself connects as it through the socket (trust).
        let su_pw = pgdir.join("superuser.password");
        std::fs::write(&su_pw, format!("{password}-su\n"))
            .map_err(|e| fail(&su_pw.display().to_string(), e))?;
        std::fs::set_permissions(&su_pw, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail(&su_pw.display().to_string(), e))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&su_pw, Some(uid), Some(gid))
                .map_err(|e| fail(&su_pw.display().to_string(), e))?;
        }
        run(
            "initdb",
            cluster
                .cmd("initdb")
                .args([
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ])
                .arg(format!("--pwfile={}", su_pw.display()))
                .arg("-D")
                .arg(&cluster.data),
        )?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            pgdir.display()
        );
        run(
            "pg_ctl start",
            cluster
                .cmd("pg_ctl")
                .arg("-D")
                .arg(&cluster.data)
                .args(["-o", &opts, "-l"])
                .arg(pgdir.join("postgres.log"))
                .args(["-w", "-t", "60", "start"]),
        )?;
        let sql = [
            format!("CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{password}'"),
            format!("CREATE DATABASE {ROLE} OWNER {ROLE}"),
        ];
        for s in sql {
            run(
                "psql",
                Command::new(cluster.bin.join("psql"))
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
                    .arg(&pgdir)
                    .args(["-p", &port.to_string(), "-U", "postgres", "-d", "postgres"])
                    .args(["-c", &s]),
            )?;
        }
        Ok(cluster)
    }

    /// The command that stops this cluster, for the user to run.
    pub fn stop_command(&self) -> String {
        let pg_ctl = self.bin.join("pg_ctl");
        let who = match self.owner {
            Some((uid, gid)) => {
                format!("setpriv --reuid={uid} --regid={gid} --clear-groups ")
            }
            None => String::new(),
        };
        format!("{who}{} -D {} stop", pg_ctl.display(), self.data.display())
    }

    /// Stops the server (fast shutdown: sessions are ended).
    pub fn stop(&self) {
        stop_data_dir(&self.data);
    }
}

/// Stops the cluster whose data directory is `data`, if one runs there, as
/// the directory's owner; waits until it is down.
pub fn stop_data_dir(data: &Path) {
    if !data.join("postmaster.pid").is_file() {
        return;
    }
    let Ok(bin) = bin_dir() else { return };
    let owner = std::fs::metadata(data)
        .ok()
        .filter(|_| is_root())
        .map(|m| (m.uid(), m.gid()))
        .filter(|(uid, _)| *uid != 0);
    let _ = as_owner(owner, &bin.join("pg_ctl"))
        .current_dir("/")
        .arg("-D")
        .arg(data)
        .args(["-m", "fast", "-w", "-t", "60", "stop"])
        .output();
}

fn as_owner(owner: Option<(u32, u32)>, program: &Path) -> Command {
    match owner {
        Some((uid, gid)) => {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .args(["--clear-groups", "--"])
                .arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn run(what: &str, cmd: &mut Command) -> Result<(), CliError> {
    let out = cmd.output().map_err(|e| fail(what, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(
            &format!("{what} failed"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim(),
        ))
    }
}

/// The manifest's `[stores.notes]` for the cluster on `port`.
pub fn store_table(port: u16) -> String {
    format!(
        "[stores.notes]\n\
         kind = \"postgres\"                  # the demo's own cluster in postgres/ (upshift demo --store postgres)\n\
         host = \"127.0.0.1\"\n\
         port = {port}\n\
         user = \"{ROLE}\"\n\
         database = \"{ROLE}\"\n\
         password = \"file:{PASSWORD_FILE}\"   # a reference, never the password itself\n"
    )
}
