//! `upshift-demo`: the demo product's one binary. It behaves as the release
//! it is installed as (see `upshift_demo::layout`).

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use upshift_demo::layout::{self, AUTH_PORT, NOTES_PORT};
use upshift_demo::{auth, config, notes, schema, Release, Result};

#[derive(Parser)]
#[command(
    name = "upshift-demo",
    about = "The demo product upshift upgrades: auth + notes",
    disable_version_flag = true
)]
struct Cli {
    /// Print the release this binary is installed as (`upshift-demo 1.0.0`).
    #[arg(long = "version", short = 'V')]
    show_version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Install release VERSION under ROOT/releases/VERSION (fetch the release).
    Install {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        version: String,
    },
    /// Create a fresh installation at VERSION and make it current.
    Init {
        #[arg(long)]
        root: PathBuf,
        #[arg(long)]
        version: String,
        #[arg(long, default_value_t = AUTH_PORT)]
        auth_port: u16,
        #[arg(long, default_value_t = NOTES_PORT)]
        notes_port: u16,
        /// Keep the notes in this PostgreSQL database (which must exist)
        /// instead of SQLite at data/notes.db.
        #[arg(long, value_name = "NAME")]
        pg_database: Option<String>,
        /// The PostgreSQL server: a host name or address, or a socket directory.
        #[arg(long, default_value = "127.0.0.1", requires = "pg_database")]
        pg_host: String,
        #[arg(long, default_value_t = 5432, requires = "pg_database")]
        pg_port: u16,
        #[arg(long, default_value = "notes", requires = "pg_database")]
        pg_user: String,
        /// A file holding the role's password, relative to ROOT (written to
        /// notes.toml as `password_file`).
        #[arg(long, value_name = "FILE", requires = "pg_database")]
        pg_password_file: Option<String>,
    },
    /// Run the auth service in the foreground (stops on SIGTERM).
    Auth {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run the notes service in the foreground (stops on SIGTERM).
    Notes {
        #[arg(long)]
        config: PathBuf,
    },
    /// The 3.0.0 data migration: notes schema 2 → 3 (irreversible, idempotent).
    Migrate {
        #[arg(long)]
        config: PathBuf,
    },
    /// Add COUNT generated notes straight to the database (benchmark data).
    Seed {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        count: u64,
        /// Size of each note's body.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
        /// Notes are spread over users `user0`..`user<N-1>`.
        #[arg(long, default_value_t = 10)]
        owners: u64,
    },
    /// Print every note as canonical JSON, sorted by id (any release, any schema).
    Export {
        #[arg(long)]
        config: PathBuf,
    },
}

fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        if cli.show_version {
            println!("upshift-demo {}", layout::own_release()?);
            return Ok(());
        }
        return Err(upshift_demo::Error::input(
            "a command is required (see --help)",
        ));
    };
    match command {
        Command::Install { root, version } => {
            let dir = layout::install(&root, Release::parse(&version)?)?;
            println!("installed {version} at {}", dir.display());
        }
        Command::Init {
            root,
            version,
            auth_port,
            notes_port,
            pg_database,
            pg_host,
            pg_port,
            pg_user,
            pg_password_file,
        } => {
            let pg = match pg_database {
                None => None,
                Some(database) => {
                    let password = match &pg_password_file {
                        None => None,
                        Some(f) => Some(
                            std::fs::read_to_string(root.join(f))
                                .map_err(|e| {
                                    upshift_demo::Error::input(format!(
                                        "--pg-password-file {f}: {e}"
                                    ))
                                })?
                                .trim_end_matches(['\n', '\r'])
                                .to_string(),
                        ),
                    };
                    Some(config::PgStorage {
                        host: pg_host,
                        port: pg_port,
                        user: pg_user,
                        database,
                        password,
                        password_file: pg_password_file,
                    })
                }
            };
            layout::init_with(
                &root,
                Release::parse(&version)?,
                auth_port,
                notes_port,
                pg.as_ref(),
            )?;
            println!(
                "initialised {} at {version} (auth :{auth_port}, notes :{notes_port})",
                root.display()
            );
        }
        Command::Auth { config } => auth::run(&config, layout::own_release()?)?,
        Command::Notes { config } => notes::run(&config, layout::own_release()?)?,
        Command::Migrate { config } => {
            let release = layout::own_release()?;
            if release.schema() < 3 {
                return Err(upshift_demo::Error::new(format!(
                    "the notes-schema-v3 migration belongs to 3.0.0; this is {release}"
                )));
            }
            let cfg = config::NotesConfig::load(&config, release)?;
            let mut conn = schema::open(&cfg.storage)?;
            let db = cfg.storage.describe();
            if schema::migrate_v3(&mut conn)? {
                println!("migrated {db} to schema version 3");
            } else {
                println!("{db} is already at schema version 3");
            }
        }
        Command::Seed {
            config,
            count,
            body_bytes,
            owners,
        } => {
            let cfg = config::NotesConfig::load_any(&config)?;
            let total = schema::seed(&mut schema::open(&cfg.storage)?, count, body_bytes, owners)?;
            println!(
                "added {count} notes to {} ({total} in all)",
                cfg.storage.describe()
            );
        }
        Command::Export { config } => {
            let cfg = config::NotesConfig::load_any(&config)?;
            if let config::Storage::Sqlite(path) = &cfg.storage {
                if !path.exists() {
                    return Err(upshift_demo::Error::new(format!(
                        "{}: no database",
                        path.display()
                    )));
                }
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            schema::export_to(&mut schema::open(&cfg.storage)?, &mut out)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("upshift-demo: error: {e}");
            ExitCode::from(e.code as u8)
        }
    }
}
