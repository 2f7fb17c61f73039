//! Preflight checks every privilege the run will need: a PostgreSQL store
//! whose role may not create the test restore's temporary database stops
//! the run before anything is installed, with the statement to run once;
//! after it, the same run succeeds. A real server started by the harness.

mod common;

use common::demo::Demo;
use upshift_testkit::Postgres;

#[test]
fn a_postgres_role_without_createdb_stops_the_run_at_preflight_with_the_fix() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE ROLE app LOGIN");
    pg.psql("postgres", "CREATE DATABASE appdb OWNER app");
    pg.psql(
        "appdb",
        "SET ROLE app; CREATE TABLE t (x int); INSERT INTO t VALUES (1)",
    );
    let demo = Demo::new();
    let m = std::fs::read_to_string(demo.path("upshift.toml")).unwrap();
    let store = format!(
        "\n[stores.accounts]\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"app\"\ndatabase = \"appdb\"\n",
        pg.port
    );
    std::fs::write(demo.path("upshift.toml"), format!("{m}{store}")).unwrap();
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let err = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap();
    assert!(
        err.contains("failed at step preflight.tools"),
        "{}",
        run.stderr
    );
    assert!(
        err.contains("as an administrator of the server, run: ALTER ROLE app CREATEDB;"),
        "{err}"
    );
    assert_eq!(
        err.matches("accounts").count(),
        1,
        "the store is named once: {err}"
    );
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    assert!(!demo.path("releases/1.1.0").exists(), "nothing installed");
    assert_eq!(demo.version(), "1.0.0");

    pg.psql("postgres", "ALTER ROLE app CREATEDB;");
    let run = demo.upshift(&["-y", "apply", "--to", "1.1.0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(demo.version(), "1.1.0");
}
