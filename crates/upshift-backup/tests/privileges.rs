//! Privileges, checked before a run changes anything: a database account
//! that may not create the test restore's temporary database is refused
//! with the statement to run, and running that statement is enough.
//! Real servers started by the test harness.

mod common;

use common::manifest;
use upshift_backup::{check_privileges, BackupError};
use upshift_testkit::{MariaDb, Postgres};

fn refusal(m: &upshift_core::manifest::Manifest) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    match check_privileges(m, dir.path()) {
        Err(e @ BackupError::Privilege { .. }) => {
            let said = e.to_string();
            let BackupError::Privilege { fix, .. } = e else {
                unreachable!()
            };
            (said, fix)
        }
        other => panic!("expected a privilege refusal, got {other:?}"),
    }
}

fn pg_store(port: u16, user: &str) -> upshift_core::manifest::Manifest {
    manifest(&format!(
        "[stores.main]\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{user}\"\ndatabase = \"app\"\n"
    ))
}

#[test]
fn a_postgres_role_without_createdb_is_refused_with_the_alter_role_to_run() {
    let pg = Postgres::start();
    pg.psql("postgres", "CREATE ROLE \"App Owner\" LOGIN");
    pg.psql("postgres", "CREATE DATABASE app OWNER \"App Owner\"");
    let m = pg_store(pg.port, "App Owner");
    let (said, fix) = refusal(&m);
    assert_eq!(fix, "ALTER ROLE \"App Owner\" CREATEDB;");
    assert_eq!(said.matches("store `main`").count(), 1, "{said}");
    assert!(said.contains("may not create databases"), "{said}");
    pg.psql("postgres", &fix);
    let dir = tempfile::tempdir().unwrap();
    check_privileges(&m, dir.path()).expect("CREATEDB is enough");
    // A table the role may not read: refused with the grant, which is enough.
    pg.psql("app", "CREATE TABLE secret (x int)");
    let (said, fix) = refusal(&m);
    assert!(said.contains("may not read tables public.secret"), "{said}");
    assert_eq!(
        fix,
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"App Owner\";"
    );
    pg.psql("app", &fix);
    check_privileges(&m, dir.path()).expect("SELECT is enough");
    // A superuser may anyway.
    check_privileges(&pg_store(pg.port, "postgres"), dir.path()).unwrap();
}

#[test]
fn a_mariadb_user_that_cannot_create_the_temporary_schema_is_refused_with_the_grant() {
    let db = MariaDb::start();
    db.sql(
        None,
        "CREATE DATABASE shop; CREATE USER 'app'@'%'; GRANT ALL PRIVILEGES ON shop.* TO 'app'@'%'",
    );
    let m = manifest(&format!(
        "[stores.shop]\nkind = \"mysql\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"app\"\ndatabase = \"shop\"\n",
        db.port
    ));
    let (said, fix) = refusal(&m);
    assert!(said.contains("user `app` may not create schemas"), "{said}");
    assert_eq!(
        fix,
        "GRANT ALL PRIVILEGES ON `upshift\\_verify\\_%`.* TO 'app'@'%';"
    );
    db.sql(None, &fix);
    let dir = tempfile::tempdir().unwrap();
    check_privileges(&m, dir.path()).expect("the grant is enough");
    assert!(
        !db.sql(None, "SHOW DATABASES").contains("upshift_verify"),
        "the probe schema is dropped"
    );
}
