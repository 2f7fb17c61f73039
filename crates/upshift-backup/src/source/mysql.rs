//! `kind = "mysql"` (MariaDB or MySQL): `mariadb-dump --single-transaction
//! --routines --events --triggers` streamed into the repository; verify
//! loads the dump into a temporary schema, counting the rows of each table
//! in the dump as it passes ([`dump_rows`](super::dump_rows)), and compares
//! them with the schema's; restore recreates the database and loads the dump.
//! A `host` starting with `/` is a Unix socket path.

use std::path::{Path, PathBuf};

use upshift_core::manifest::{Store, StoreKind};

use super::dump_rows::DumpRows;
use super::{Part, Planned, Planning, StoreSource, Stored, Tools};
use crate::command::Cmd;
use crate::error::{BackupError, Result};
use crate::meta::{RowCounts, StoreMeta};
use crate::secret;
use crate::tempdb::{TempDbs, PREFIX};
use crate::verify::{judge_test_restore, StoreCheck};

/// The dump tool, MariaDB's name first.
const DUMP: &[&str] = &["mariadb-dump", "mysqldump"];
/// The command-line client, MariaDB's name first.
const CLIENT: &[&str] = &["mariadb", "mysql"];

/// `kind = "mysql"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::Mysql
    }

    fn required_tools(&self) -> Tools {
        &[DUMP, CLIENT]
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p.name, p.store, p.base_dir)
    }

    fn size(&self, name: &str, store: &Store, base_dir: &Path) -> Result<Option<u64>> {
        let my = My::from_store(name, store, base_dir)?;
        let sql = "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = DATABASE()";
        let out = my.query(Some(&my.database), sql)?;
        Ok(out.trim().parse().ok())
    }

    /// The test restore loads the dump into a temporary schema. A grant
    /// can come globally, by a name pattern or through a role, so the one
    /// sure check is to use it: an empty schema named like the temporary
    /// schemas is created and dropped at once.
    fn privileges(&self, name: &str, store: &Store, base_dir: &Path) -> Result<()> {
        let my = My::from_store(name, store, base_dir)?;
        let probe = TempDbs::new(name).fresh_name();
        match my.recreate_db(&probe) {
            Ok(()) => my.drop_db(&probe),
            Err(BackupError::Tool { stderr, .. }) if stderr.contains("denied") => {
                let user = my.query(None, "SELECT CURRENT_USER()")?;
                let (user, host) = user.trim().rsplit_once('@').unwrap_or((user.trim(), "%"));
                Err(BackupError::Privilege {
                    store: name.to_string(),
                    message: format!(
                        "user `{user}` may not create schemas named {PREFIX}…, which the test restore of every backup needs (into a temporary schema, dropped after)"
                    ),
                    fix: format!("GRANT ALL PRIVILEGES ON `{}%`.* TO '{user}'@'{host}';", PREFIX.replace('_', "\\_")),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Loads the dump into a temporary schema, dropped afterwards; first
    /// drops those that killed runs of this installation left behind.
    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::Mysql {
            dump,
            tables,
            rows_in_dump,
        } = meta
        else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let my = My::from_store(s.name, s.store()?, s.base_dir)?;
        let dbs = TempDbs::new(s.installation);
        let swept = dbs.sweep(my.temp_dbs(), |db| my.drop_db(db));
        let temp = dbs.fresh_name();
        my.recreate_db(&temp)?;
        let mut in_dump = RowCounts::new();
        let restored = my
            .client(Some(&temp))
            .run_with_stdin(|w| {
                let mut counting = DumpRows::new(w);
                let fed = s.dump(dump, &mut counting);
                in_dump = counting.counts();
                fed
            })
            .and_then(|_| my.row_counts(&temp));
        let dropped = my.drop_db(&temp);
        let want = if *rows_in_dump { &in_dump } else { tables };
        let how = "restored into a temporary schema";
        Ok(swept.noted(judge_test_restore(restored, dropped, want, how)?))
    }

    /// Recreates the database empty and loads the dump.
    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::Mysql { dump, .. } = meta else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let my = My::from_store(s.name, s.store()?, s.base_dir)?;
        let db = &my.database;
        my.recreate_db(db)?;
        my.client(Some(db)).run_with_stdin(|w| s.dump(dump, w))?;
        Ok(format!("database {db} recreated and loaded"))
    }
}

/// Connection settings for one MariaDB/MySQL store.
#[derive(Clone)]
struct My {
    store: String,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    database: String,
    password: Option<String>,
}

/// The first of `names` found on PATH (MariaDB's names first), else the last.
fn pick(names: &[&str]) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for n in names {
        if std::env::split_paths(&path).any(|d| d.join(n).is_file()) {
            return n.to_string();
        }
    }
    names[names.len() - 1].to_string()
}

impl My {
    fn from_store(name: &str, store: &Store, base_dir: &Path) -> Result<My> {
        let database = store
            .database
            .clone()
            .ok_or_else(|| BackupError::bad_store(name, "a mysql store needs `database`"))?;
        let password = store
            .password
            .as_ref()
            .map(|p| secret::resolve(name, "password", p, base_dir))
            .transpose()?;
        Ok(My {
            store: name.to_string(),
            host: store.host.clone(),
            port: store.port,
            user: store.user.clone(),
            database,
            password,
        })
    }

    fn tool(&self, program: &str) -> Cmd {
        let mut c = Cmd::new(&self.store, program);
        match &self.host {
            Some(h) if h.starts_with('/') => c = c.arg(format!("--socket={h}")),
            Some(h) => c = c.arg(format!("--host={h}")).arg("--protocol=TCP"),
            None => {}
        }
        if let Some(p) = self.port {
            c = c.arg(format!("--port={p}"));
        }
        if let Some(u) = &self.user {
            c = c.arg(format!("--user={u}"));
        }
        if let Some(pw) = &self.password {
            c = c.env("MYSQL_PWD", pw);
        }
        c
    }

    /// The command-line client, in batch mode, on database `db` (if any).
    fn client(&self, db: Option<&str>) -> Cmd {
        let c = self.tool(&pick(CLIENT)).args([
            "--batch",
            "--skip-column-names",
            "--connect-timeout=10",
        ]);
        match db {
            Some(db) => c.arg(db),
            None => c,
        }
    }

    fn query(&self, db: Option<&str>, sql: &str) -> Result<String> {
        self.client(db).arg("-e").arg(sql).output()
    }

    /// Exact row counts of every base table of schema `db`.
    fn row_counts(&self, db: &str) -> Result<RowCounts> {
        let list = self.query(
            None,
            &format!(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '{}' AND table_type = 'BASE TABLE' ORDER BY table_name",
                db.replace('\'', "''")
            ),
        )?;
        let tables: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
        let mut counts = RowCounts::new();
        if tables.is_empty() {
            return Ok(counts);
        }
        let sql = tables
            .iter()
            .map(|t| {
                let t = t.replace('`', "``");
                format!("SELECT '{}', COUNT(*) FROM `{t}`", t.replace('\'', "''"))
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for line in self
            .query(Some(db), &sql)?
            .lines()
            .filter(|l| !l.is_empty())
        {
            let (t, n) = line.split_once('\t').unwrap_or((line, "0"));
            counts.insert(t.to_string(), n.trim().parse().unwrap_or(0));
        }
        Ok(counts)
    }

    /// The consistent dump of the store's database, to stdout.
    fn dump_cmd(&self) -> Cmd {
        self.tool(&pick(DUMP))
            .args([
                "--single-transaction",
                "--routines",
                "--events",
                "--triggers",
                "--hex-blob",
            ])
            .arg(self.database.clone())
    }

    /// Drops and recreates schema `db` (empty).
    fn recreate_db(&self, db: &str) -> Result<()> {
        self.query(
            None,
            &format!("DROP DATABASE IF EXISTS `{db}`; CREATE DATABASE `{db}`"),
        )
        .map(drop)
    }

    fn drop_db(&self, db: &str) -> Result<()> {
        self.query(None, &format!("DROP DATABASE IF EXISTS `{db}`"))
            .map(drop)
    }

    /// Every schema whose name has the temporary databases' prefix.
    fn temp_dbs(&self) -> Result<Vec<String>> {
        let like = PREFIX.replace('_', "\\_");
        let sql = format!(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{like}%'"
        );
        let out = self.query(None, &sql)?;
        Ok(out
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

/// The snapshot path of a store's dump.
fn dump_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("dump.sql")
}

/// Checks that the database can be reached and plans the dump stream.
/// No rows are counted here: `--single-transaction` dumps in a transaction
/// of its own, which no other session can share, so counts taken beside it
/// would describe another moment. The dump's own rows are counted when it
/// is verified.
fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<Planned> {
    let my = My::from_store(name, store, base_dir)?;
    my.query(Some(&my.database), "SELECT 1")?;
    let dest = dump_path(name);
    let meta = StoreMeta::Mysql {
        dump: dest.display().to_string(),
        tables: RowCounts::new(),
        rows_in_dump: true,
    };
    Ok((
        vec![Part::Stream {
            dest,
            cmd: my.dump_cmd(),
        }],
        meta,
    ))
}
