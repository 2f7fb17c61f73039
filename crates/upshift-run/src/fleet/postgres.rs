//! The fleet's journal in PostgreSQL, shared by several workers: each
//! installation of a rollout is a row, and a worker works on one only while
//! its own connection holds that row locked (`SELECT … FOR UPDATE SKIP
//! LOCKED`, https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
//! A worker that dies loses its connection, so its lock goes and another
//! worker takes the installation over. Times are the server's clock, the
//! one clock all workers share.

use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::journal::{Claim, FleetEvent, FleetJournalError, FleetRun, FleetStore, Result};

/// Serialises schema creation and the start of a rollout between workers.
const ADVISORY_KEY: i64 = 0x0075_7073_6869_6674; // "upshift"

const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

pub struct PostgresFleet {
    config: Config,
    client: Mutex<Client>,
    /// The fleet's name: several fleets may share one database.
    fleet: String,
    /// host:port/database, for errors (never the password).
    shown: String,
}

struct RowLock {
    _client: Client,
}
impl Claim for RowLock {}

impl PostgresFleet {
    /// Connects to `url` (`postgres://user@host:port/db`, the password
    /// apart) and makes the tables if they are missing.
    pub fn open(url: &str, password: Option<&str>, fleet: &str) -> Result<PostgresFleet> {
        let mut config: Config = url.parse().map_err(|e| FleetJournalError {
            at: "[journal] url".into(),
            why: format!("not a PostgreSQL URL: {e}"),
        })?;
        if let Some(p) = password {
            config.password(p);
        }
        config
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10));
        let shown = shown(&config);
        let err = |e: postgres::Error| FleetJournalError {
            at: shown.clone(),
            why: e.to_string(),
        };
        let mut client = connect(&config).map_err(err)?;
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({ADVISORY_KEY});
                 CREATE TABLE IF NOT EXISTS upshift_fleet_runs (
                     fleet TEXT NOT NULL, id TEXT PRIMARY KEY, target TEXT NOT NULL,
                     started_ms BIGINT NOT NULL, finished_ms BIGINT, outcome TEXT);
                 CREATE TABLE IF NOT EXISTS upshift_fleet_members (
                     run_id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (run_id, name));
                 CREATE TABLE IF NOT EXISTS upshift_fleet_events (
                     seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, installation TEXT NOT NULL,
                     event TEXT NOT NULL, at_ms BIGINT NOT NULL, detail TEXT);
                 COMMIT;"
            ))
            .map_err(err)?;
        Ok(PostgresFleet {
            config,
            client: Mutex::new(client),
            fleet: fleet.to_string(),
            shown,
        })
    }

    fn err(&self, e: postgres::Error) -> FleetJournalError {
        FleetJournalError {
            at: self.shown.clone(),
            why: e.to_string(),
        }
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection whose dead peer the server notices within about 25 s, so a
/// lost worker's row locks do not outlive it for long.
fn connect(config: &Config) -> std::result::Result<Client, postgres::Error> {
    let mut c = config.connect(NoTls)?;
    c.batch_execute(
        "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3;",
    )?;
    Ok(c)
}

fn shown(c: &Config) -> String {
    let host = match c.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{host}:{port}/{}",
        c.get_dbname().unwrap_or_default()
    )
}

impl FleetStore for PostgresFleet {
    fn join_or_begin(&self, target: &str, names: &[String]) -> Result<(String, bool)> {
        let mut c = self.client();
        let mut tx = c.transaction().map_err(|e| self.err(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADVISORY_KEY])
            .map_err(|e| self.err(e))?;
        let open = tx
            .query_opt(
                "SELECT id FROM upshift_fleet_runs WHERE fleet = $1 AND outcome IS NULL ORDER BY started_ms DESC LIMIT 1",
                &[&self.fleet],
            )
            .map_err(|e| self.err(e))?;
        if let Some(row) = open {
            tx.commit().map_err(|e| self.err(e))?;
            return Ok((row.get(0), false));
        }
        let row = tx
            .query_one(
                &format!("INSERT INTO upshift_fleet_runs (fleet, id, target, started_ms) VALUES ($1, $1 || '-' || {NOW_MS}, $2, {NOW_MS}) RETURNING id"),
                &[&self.fleet, &target],
            )
            .map_err(|e| self.err(e))?;
        let id: String = row.get(0);
        for n in names {
            tx.execute(
                "INSERT INTO upshift_fleet_members (run_id, name) VALUES ($1, $2)",
                &[&id, n],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok((id, true))
    }

    fn record(&self, run: &str, who: &str, event: &str, detail: Option<&str>) -> Result<()> {
        self.client()
            .execute(
                &format!("INSERT INTO upshift_fleet_events (run_id, installation, event, at_ms, detail) VALUES ($1, $2, $3, {NOW_MS}, $4)"),
                &[&run, &who, &event, &detail],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn finish(&self, run: &str, outcome: &str) -> Result<()> {
        self.client()
            .execute(
                &format!("UPDATE upshift_fleet_runs SET finished_ms = {NOW_MS}, outcome = $2 WHERE id = $1 AND outcome IS NULL"),
                &[&run, &outcome],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn runs(&self) -> Result<Vec<FleetRun>> {
        let rows = self
            .client()
            .query(
                "SELECT id, target, started_ms, finished_ms, outcome FROM upshift_fleet_runs WHERE fleet = $1 ORDER BY started_ms, id",
                &[&self.fleet],
            )
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| FleetRun {
                id: r.get(0),
                target: r.get(1),
                started_ms: r.get(2),
                finished_ms: r.get(3),
                outcome: r.get(4),
            })
            .collect())
    }

    fn events(&self, run: &str) -> Result<Vec<FleetEvent>> {
        let rows = self
            .client()
            .query(
                "SELECT run_id, installation, event, at_ms, detail FROM upshift_fleet_events WHERE run_id = $1 ORDER BY seq",
                &[&run],
            )
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| FleetEvent {
                run_id: r.get(0),
                installation: r.get(1),
                event: r.get(2),
                at_ms: r.get(3),
                detail: r.get(4),
            })
            .collect())
    }

    fn claim(&self, run: &str, who: &str) -> Result<Option<Box<dyn Claim>>> {
        let mut c = connect(&self.config).map_err(|e| self.err(e))?;
        c.batch_execute("BEGIN").map_err(|e| self.err(e))?;
        let got = c
            .query_opt(
                "SELECT name FROM upshift_fleet_members WHERE run_id = $1 AND name = $2 FOR UPDATE SKIP LOCKED",
                &[&run, &who],
            )
            .map_err(|e| self.err(e))?;
        // The lock lives as long as this connection's open transaction.
        Ok(got.map(|_| Box::new(RowLock { _client: c }) as Box<dyn Claim>))
    }

    fn shared(&self) -> bool {
        true
    }
}
