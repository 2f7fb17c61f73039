//! The command line, as clap definitions. Flags are resolved once into
//! [`crate::settings::Settings`]; each command lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

const ABOUT: &str = "Upgrade and migrate self-hosted servers safely.

upshift knows which versions a product must pass through, backs everything up
and proves the backup restores, rewrites configuration for the new version,
keeps the maintenance window short, and rolls back, data included, when the
new version is not healthy. The installation may be on another machine
(`host = \"ssh://user@server:22/srv/app\"` in the manifest): upshift then works
there through your OpenSSH client and keeps journal and snapshots here.";

const EXAMPLES: &str = "Examples:
  upshift demo                                  set up the demo installation and plan its upgrade
  upshift -m examples/demo/upshift.toml plan --to 3.0.0
  upshift plan --to 4.0.0 --out mender-4.0.plan.json
  upshift --json plan --to 3.0.0 | jq '.hops[] | .from + \" -> \" + .to'
  upshift catalog list
  upshift catalog show mender
  upshift status

Exit codes: 0 done; 1 the operation failed (and changed nothing, or was rolled
back); 2 bad input (the message names the file, line and fix); 3 interrupted,
run `upshift resume` or `upshift rollback`; 4 another run holds the lock.";

#[derive(Debug, Parser)]
#[command(name = "upshift", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// The installation manifest.
    #[arg(
        short,
        long,
        global = true,
        env = "UPSHIFT_MANIFEST",
        default_value = "upshift.toml",
        value_name = "PATH"
    )]
    pub manifest: PathBuf,

    /// Print one JSON document on stdout (progress and logs go to stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// Answer yes to confirmations.
    #[arg(short, long, global = true)]
    pub yes: bool,

    /// A directory of extra catalogs (`*.toml`); a catalog there replaces the built-in one of the same product. Wins over the manifest's `[installation] catalog`.
    #[arg(long, global = true, env = "UPSHIFT_CATALOG", value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    /// Colour on stderr: `auto` (on a terminal, unless `NO_COLOR` is set), `always` or `never`.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: clap::ColorChoice,

    /// Print only errors and the result.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print each step as it starts, and the details of backups, verifies and restores.
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up the bundled demo installation and show how upshift upgrades it.
    #[command(
        after_help = "With --store postgres the notes are kept in PostgreSQL instead of SQLite:
the demo initialises a cluster of its own in DIR/postgres (as user `nobody`
when run as root, since initdb refuses root; DIR must then be enterable by
every user), on a free loopback port with its socket in that directory,
creates role and database `notes` (password in DIR/secrets/notes-db.password)
and a `kind = \"postgres\"` store in the manifest. It needs the PostgreSQL
server (initdb, pg_ctl; found under /usr/lib/postgresql/*/bin or on PATH) and
client tools (pg_dump, pg_restore, psql). Like the services, the cluster is
left running at the end; the command that stops it is printed, and a new demo
in the same DIR stops it first.

Examples:
  upshift demo
  upshift demo --dir /tmp/demo --no-upgrade
  upshift demo --dir /tmp/demo-pg --store postgres"
    )]
    Demo(DemoArgs),

    /// Write a commented manifest for a product, or for a running installation (--adopt).
    #[command(
        disable_version_flag = true,
        after_help = "Every value only you know is written as \"TODO: what it is\" and listed
when init ends; `upshift status` works at once, `plan`, `apply` and `start`
refuse until those values are filled in. With --adopt DIR, init looks at
the running installation: the `current` link and the releases beside it,
pidfiles (DIR/*.pid, DIR/run/*.pid) and whether their processes are alive,
the addresses those processes listen on (its health check), SQLite files
and config files. The manifest reference: docs/manifest.md.

Examples:
  upshift init --product demo --version 1.0.0
  upshift init --product mattermost --version 5.37.10 --out /srv/chat/upshift.toml
  upshift init --product demo --version 1.0.0 --adopt /srv/notes   # writes /srv/notes/upshift.toml
  upshift --json init --product demo --version 1.0.0 --adopt . --force"
    )]
    Init(InitArgs),

    /// Start the services (all, in dependency order, or SERVICE), each until it is healthy.
    #[command(after_help = SERVICE_HELP)]
    Start(ServiceArgs),

    /// Stop the services (all, in reverse dependency order, or SERVICE).
    #[command(after_help = SERVICE_HELP)]
    Stop(ServiceArgs),

    /// Stop, then start the services (all, or SERVICE), each until it is healthy.
    #[command(after_help = SERVICE_HELP)]
    Restart(ServiceArgs),

    /// Show what the manifest says about the installation, and check the running version.
    #[command(
        after_help = "Examples:\n  upshift status\n  upshift -m /srv/mender/upshift.toml --json status"
    )]
    Status,

    /// Show what an upgrade would do, hop by hop, and why each hop exists.
    #[command(
        after_help = "Each hop lands on the newest release that the next stop accepts; steps marked
`*` are past the point of no return (a failure there is undone by restoring
the snapshot taken just before). A compose project whose files come from a
git checkout of upstream's repository (`upstream` in its compose table) shows,
per hop, what merging the release's tag brings in (`git diff FROM...TAG`),
the branch's own commits the merge keeps, and whether it conflicts.

Examples:
  upshift plan --to 3.0.0
  upshift plan --to v4.0.0 --out mender-4.0.plan.json   # review, then apply exactly this plan
  upshift --json plan --to 3.0.0"
    )]
    Plan(PlanArgs),

    /// Show a plan saved with `plan --out`, and whether `apply --plan` still takes it.
    #[command(
        after_help = "The plan names the manifest it was made from (and the --catalog DIR), so
this works from any directory; -m and --catalog override them. Exit 0 when
the plan can still be applied, 1 when the manifest or catalog changed since
or the file was edited (the reason is printed).

Examples:
  upshift plan --to 3.0.0 --out p.json && upshift show p.json
  upshift --json show /srv/app/p.json | jq .applicable"
    )]
    Show {
        /// The saved plan (JSON).
        plan: PathBuf,
    },

    /// Upgrade the installation: run a plan through the journal, rolling back on failure.
    #[command(after_help = "Examples:
  upshift apply --to 3.0.0
  upshift plan --to 3.0.0 --out p.json && upshift apply --plan p.json   # exactly the reviewed plan
  upshift -y --json apply --to 3.0.0

Exit codes: 0 upgraded and healthy; 1 failed and rolled back (the old version
serves, data as before); 3 interrupted: run `upshift resume` or `upshift rollback`;
4 another run holds the lock.")]
    Apply(ApplyArgs),

    /// Rehearse an upgrade on a staging copy made from a fresh snapshot of
    /// production; production keeps serving and is not touched.
    #[command(after_help = "What it does:
  1. takes a verified snapshot of production (or uses --snapshot ID);
  2. makes a staging copy beside the installation, in .upshift/staging/ID/:
     its own manifest, free loopback ports, its own data files, journal and
     snapshot repository; no hooks, no announcements, nothing on production's
     addresses. The config keys that belong to where a copy runs (listen
     addresses, URLs of its own services, paths) are listed per config file
     in the manifest's [relocate.NAME] keep = [...];
  3. starts the copy at production's version, checks its health, and runs
     the same plan on it (same catalog, same hops) through the real executor;
  4. reports per hop the steps and their durations, data step (migration)
     times, config warnings, the maintenance window it measured and health,
     saved in .upshift/rehearsals/ and shown by `upshift plan` as the estimate;
  5. stops and removes the copy (every process, port and file) unless --keep.

With `[apply] require_rehearsal = { within_days = 7 }` in the manifest,
`apply` refuses a plan without a successful rehearsal of that same plan.

Examples:
  upshift rehearse --to 3.0.0
  upshift --json rehearse --to 3.0.0 > rehearsal.json
  upshift rehearse --to 3.0.0 --keep     # look at the staging copy afterwards

Exit codes: 0 the rehearsal succeeded; 1 it failed (the report names the
failing step and its log; production untouched); 2 bad input (the copy
would share something with production: the message names the key to add);
4 another run holds the lock.")]
    Rehearse(RehearseArgs),

    /// Move the installation into another one of the same product and
    /// release (another directory and ports): its data and config go
    /// there, the destination keeping its own [relocate] keys.
    #[command(after_help = "What it does:
  1. refuses unless both are installations of the same product at the same
     release, every store has one of the same name and kind in the
     destination, and they share no directory, path, address or database;
  2. takes a verified snapshot of the destination (its own data, to go back
     to), then of the source (with --stop-source, the source is stopped
     first so the snapshot holds every write, and left stopped, intact);
  3. stops the destination, restores the source's stores into it (databases
     into the destination's own), writes the source's config files with the
     destination's own values of the keys its manifest's [relocate.NAME]
     keep lists (listen address, database connection);
  4. starts the destination in dependency order, each service healthy.
A failure after step 3 began restores the destination's own snapshot and
starts it again. Without --stop-source the source keeps serving: writes
made after its snapshot are not in the destination.

Examples:
  upshift migrate --to /srv/notes-new/upshift.toml --stop-source
  upshift --json migrate --to ../new/upshift.toml

Exit codes: 0 the destination serves the source's data; 1 it failed (the
destination is back on its own data); 2 bad input, nothing changed.")]
    Migrate(MigrateArgs),

    /// Finish the run that was interrupted (crash, power loss, kill -9).
    Resume,

    /// Return to the version a run started from (or, with --to, one it
    /// passed through), with the data of the snapshot taken there.
    #[command(after_help = "Without RUN: the interrupted run, or else the last one.
The data comes back from the snapshot taken just before the hop that left
the version, unless the catalog says that version runs on today's data
(then only software and config go back). A safety snapshot of the data as
it is now is taken first either way.

Examples:
  upshift rollback
  upshift rollback --to 2.1.0        # one or more hops back, not to the start
  upshift rollback r1732300000000-1a2b")]
    Rollback {
        /// The run to roll back (see `upshift history`).
        run: Option<String>,
        /// A version the run passed through (default: the one it started from).
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },

    /// Every run: versions, duration, maintenance window, outcome, snapshots, error.
    #[command(
        after_help = "Read from the journal's events: DURATION is the run itself (start to its
own outcome); WINDOW is the downtime, from each hop's first stop until every
service answered again (on the new version, or on the old one after a
rollback), summed over hops; AT is the version installed (the new one once a
swap is journaled). A later `upshift rollback` shows in OUTCOME as
`rolled back (manual, WHEN)`. ERROR is the first line; --json has it whole.

Examples:
  upshift history
  upshift --json history | jq '.[-1].error'"
    )]
    History,

    /// Break a stale lock left by a run that died (asks for confirmation).
    Unlock,

    /// Take a snapshot of every data store and config file now.
    ///
    /// Like apply, takes the installation's lock (exit 4 while another run
    /// holds it); so do restore and verify.
    Backup,

    /// List the installation's snapshots (no lock; creates no repository),
    /// or forget the ones a keep policy does not keep.
    #[command(
        after_help = "VERIFIED says what the runs journaled about the snapshot's test
restore: yes, FAILED (do not restore from it), or - (no run verified it;
`upshift backup` verifies its own before it reports success).

Examples:
  upshift snapshots
  upshift --json snapshots
  upshift snapshots forget --keep-last 5 --keep-daily 7 --prune"
    )]
    Snapshots {
        #[command(subcommand)]
        action: Option<SnapshotsCommand>,
    },

    /// Prove a snapshot restores: repository check with data read, then test restores.
    #[command(
        after_help = "Examples:\n  upshift verify            # the newest snapshot\n  upshift verify 3f2a9c1e"
    )]
    Verify {
        /// Snapshot id (or prefix); default: the newest.
        id: Option<String>,
    },

    /// Put every store and config file back as it was in a snapshot.
    #[command(after_help = RESTORE_HELP)]
    Restore(RestoreArgs),

    /// List and inspect the release catalogs upshift knows.
    #[command(subcommand)]
    Catalog(CatalogCommand),

    /// Linked installations upgraded together, in dependency order and waves (`fleet.toml`).
    #[command(subcommand)]
    Fleet(FleetCommand),

    /// Migrate a configuration file (YAML, JSON, TOML, .env) between versions, keeping comments.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Print the shell completion script for SHELL on stdout.
    #[command(after_help = "Examples:
  source <(upshift completions bash)                                    # this shell
  upshift completions bash > ~/.local/share/bash-completion/completions/upshift
  upshift completions zsh > ~/.zfunc/_upshift                           # with fpath+=~/.zfunc
  upshift completions fish > ~/.config/fish/completions/upshift.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff) on stdout.
    #[command(after_help = "Examples:
  upshift man | man -l -
  upshift man > ~/.local/share/man/man1/upshift.1")]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// Remove the installation's snapshots that no keep rule keeps (restic's
    /// policy), never one a rollback may need; with --prune, also the data
    /// no remaining snapshot uses.
    #[command(after_help = FORGET_HELP)]
    Forget(ForgetArgs),
}

const FORGET_HELP: &str =
    "A snapshot is kept when any rule keeps it. The --keep-hourly ... --keep-yearly
rules keep the newest snapshot of each of the last N hours (days, weeks,
months, years) that have one; --keep-within keeps every snapshot taken within
that time before the newest. Only this installation's snapshots are
considered; other snapshots in the repository are left alone.

Whatever the rules say, the snapshots a rollback may need are kept (reason
\"rollback needs it\"): every one recorded by an unfinished run, and by the
installation's newest run (the one `upshift rollback` and `rollback --to`
use). Takes the installation's lock, like backup.

Examples:
  upshift snapshots forget --keep-last 3 --dry-run     # what would go, nothing changes
  upshift snapshots forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune
  upshift snapshots forget --keep-within 30d --prune
  upshift --json snapshots forget --keep-last 10

The manifest's [retention] table (same rules) does this after every
successful `upshift apply`.";

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Keep the newest N snapshots.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N hours that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_hourly: Option<u32>,
    /// Keep the newest snapshot of each of the last N days that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the last N weeks that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the last N months that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_monthly: Option<u32>,
    /// Keep the newest snapshot of each of the last N years that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_yearly: Option<u32>,
    /// Keep every snapshot taken within DURATION before the newest one (`30d`, `12h`).
    #[arg(long, value_name = "DURATION", value_parser = within)]
    pub keep_within: Option<upshift_core::manifest::Seconds>,
    /// Also remove the data no remaining snapshot uses (packs rewritten without it).
    #[arg(long)]
    pub prune: bool,
    /// Only show what would be kept and removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

impl ForgetArgs {
    /// The keep rules the flags give.
    pub fn policy(&self) -> upshift_core::manifest::KeepPolicy {
        upshift_core::manifest::KeepPolicy {
            last: self.keep_last,
            hourly: self.keep_hourly,
            daily: self.keep_daily,
            weekly: self.keep_weekly,
            monthly: self.keep_monthly,
            yearly: self.keep_yearly,
            within: self.keep_within,
        }
    }
}

/// `--keep-within`: a duration as the manifest writes it, more than zero.
fn within(text: &str) -> Result<upshift_core::manifest::Seconds, String> {
    match upshift_core::manifest::Seconds::parse(text) {
        Ok(d) if !d.duration().is_zero() => Ok(d),
        Ok(_) => Err("a duration of zero keeps nothing; give e.g. `30d`".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Apply the catalog's rules for every release between two versions to FILE.
    #[command(
        after_help = "Prints a unified diff (secret values shown as ***), the rules that applied
and the warnings; --write replaces FILE atomically.

Examples:
  upshift config migrate --product mender --from 3.7.7 --to 4.0.0 mender-values.yml
  upshift config migrate --product mattermost --from 3.0.0 --to 3.0.0 config.json --merge-from old/config.json --write"
    )]
    Migrate(ConfigMigrateArgs),
}

#[derive(Debug, Args)]
pub struct ConfigMigrateArgs {
    /// The product whose catalog holds the rules (`mender`, `mattermost`, ...).
    #[arg(long)]
    pub product: String,
    /// The version FILE was written for.
    #[arg(long, value_name = "VERSION")]
    pub from: String,
    /// The version to migrate it to.
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// The configuration file.
    pub file: PathBuf,
    /// Replace FILE with the result (atomically).
    #[arg(long)]
    pub write: bool,
    /// Host migration: lay this source configuration over FILE, keeping the keys the catalog names.
    #[arg(long, value_name = "SRC")]
    pub merge_from: Option<PathBuf>,
    /// The file's format when its name does not say (`yaml`, `json`, `toml`, `env`).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// A fact about the installation that rules can test (e.g. `enterprise`); repeatable.
    #[arg(long = "fact", value_name = "FACT")]
    pub facts: Vec<String>,
}

const SERVICE_HELP: &str =
    "Runs the same drivers an upgrade runs (a process service is started in a
session of its own and its pid kept in its pidfile), so a server started by
hand can be handed over to upshift. Takes the installation's lock (exit 4
while another command holds it) and refuses while a run is unfinished
(`upshift resume` or `upshift rollback` first). A service already running
(or stopped) is left as it is and said so. No maintenance page is shown.

Examples:
  upshift start                 # every service, in dependency order, until healthy
  upshift stop notes
  upshift restart auth
  upshift --json stop

Exit codes: 0 done (or already so); 1 a service did not start, stop or become
healthy; 2 unknown service or bad manifest; 3 a run is unfinished; 4 locked.";

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// One service of the manifest (default: all of them).
    pub service: Option<String>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The catalog product (`upshift catalog list`).
    #[arg(long)]
    pub product: String,
    /// The version running now (a release of the product's catalog).
    #[arg(long, value_name = "VERSION")]
    pub version: String,
    /// Where to write the manifest [default: upshift.toml, or DIR/upshift.toml with --adopt].
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// A running installation to describe: its release link, pidfiles, ports, data and config files.
    #[arg(long, value_name = "DIR")]
    pub adopt: Option<PathBuf>,
    /// Replace an existing file at the output path.
    #[arg(long)]
    pub force: bool,
}

const RESTORE_HELP: &str =
    "In place, the snapshot must have been taken at the version the installation
is at (what `version_command` prints when it answers, else the release the
`current` link points at, else the last run, else the manifest). When it was
taken at another version and the manifest has a [release] layout whose release
for that version is installed (or can be installed again, as `rollback --to`
does), restore offers to switch the release too: every service is stopped, the
data and config restored, the link flipped, the manifest's version updated and
every service started and checked healthy at that version. Otherwise it refuses
(exit 1) and names the fix: --force restores the data under the current release
anyway, or `upshift rollback --to VERSION`.

It refuses while the installation's services answer their health checks, unless
--force. Files that did not change are not rewritten.

--store restores only the stores named, and the config files only with --config
(--config alone: only the config files). A partial restore never switches the
release. An unknown store is refused (exit 2) with the stores the snapshot holds.

--into DIR writes under DIR instead: files, SQLite databases and config files at
their paths relative to the installation (a path outside it at its full path
under DIR), and databases (PostgreSQL, MariaDB, MongoDB), Docker volumes and S3
buckets as the dump files the snapshot holds, under DIR/stores/NAME/, not loaded
into any server. Nothing of the installation is checked, stopped or changed, and
no version check is needed. DIR may not be inside the installation; an existing
DIR must be empty unless --force (exit 2).

Examples:
  upshift restore 3f2a9c1e                       # everything, in place
  upshift -y restore 3f2a9c1e                    # taken at 1.0.0, at 3.0.0 now: switch to 1.0.0 too
  upshift restore 3f2a9c1e --force               # the data under the current release anyway
  upshift restore latest --store uploads         # only that store
  upshift restore 3f2a9c1e --store db --config   # one store and the config files
  upshift restore 3f2a9c1e --into /tmp/restored  # look at the files without touching anything
  upshift --json restore latest --into /tmp/r | jq .store_paths";

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Snapshot id (or prefix, or `latest`).
    pub id: String,
    /// Restore only this store (repeatable); the config files only with --config.
    #[arg(long = "store", value_name = "NAME")]
    pub stores: Vec<String>,
    /// The config files too, with --store (alone: only the config files).
    #[arg(long)]
    pub config: bool,
    /// Write under DIR instead of over the installation (databases as their dump files).
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// Restore even though services are running, or under the current release a
    /// snapshot of another version; with --into, into a directory that is not empty.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to set up the demo installation.
    #[arg(long, default_value = "upshift-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// Only set up the installation; do not upgrade it.
    #[arg(long)]
    pub no_upgrade: bool,
    /// Where the notes service keeps its notes: `sqlite` (data/notes.db) or
    /// `postgres` (a PostgreSQL cluster of the demo's own, see below).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"], value_name = "KIND")]
    pub store: String,
    /// A fleet instead: one auth installation and two notes installations
    /// that check their users' tokens against it (`DIR/fleet.toml`),
    /// upgraded together by `upshift fleet apply` (auth first, then the
    /// notes installations one at a time).
    #[arg(long, conflicts_with = "store")]
    pub fleet: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ApplyArgs {
    /// The version to reach.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// A plan saved with `upshift plan --out`; refused if the manifest or catalog changed since, or if it was edited.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The destination installation's manifest.
    #[arg(long, value_name = "DEST_MANIFEST")]
    pub to: std::path::PathBuf,
    /// Stop the source before its snapshot, and leave it stopped.
    #[arg(long)]
    pub stop_source: bool,
}

#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// The version to rehearse the upgrade to.
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// Make the staging copy from this snapshot (of the version production
    /// runs) instead of a fresh one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Leave the staging copy in place, stopped, for a look.
    #[arg(long)]
    pub keep: bool,
    /// Rehearse on this staging installation instead of a copy generated
    /// beside production: another installation of the product at
    /// production's version, with its own directory, addresses and
    /// databases. Its stores and config files are replaced by the
    /// snapshot's (its own values of the [relocate] keys kept); it is
    /// stopped afterwards, never removed.
    #[arg(long, value_name = "MANIFEST")]
    pub staging: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The version to reach (any form the product uses: `3.0.0`, `3.0`, `v3.0.0`).
    #[arg(long, value_name = "VERSION")]
    pub to: String,
    /// Save the plan (JSON, with a fingerprint of manifest and catalog) to apply later with `apply --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Every installation's plan, the order and the waves, and why.
    ///
    /// The installations others `use` go first (they must be up when their
    /// users restart), then the others in waves of at most `max_parallel`,
    /// the canary alone first in its level. Refused: a `uses` cycle, a link
    /// to an installation not in the fleet, a target an installation's
    /// catalog cannot reach (exit 2, naming the file and line).
    #[command(
        after_help = "Examples:\n  upshift fleet plan fleet.toml --to 3.0.0\n  upshift --json fleet plan fleet.toml --to 3.0.0\n\nA fleet file:\n  [rollout]\n  max_parallel = 1        # installations at once in a wave\n  canary = \"notes-a\"      # alone, first of its level\n  max_failures = 0        # failures before the rollout stops\n  on_failure = \"keep\"     # or \"rollback_fleet\"\n\n  [installations.auth]\n  manifest = \"auth/upshift.toml\"\n  [installations.notes-a]\n  manifest = \"notes-a/upshift.toml\"\n  uses = [\"auth\"]"
    )]
    Plan {
        /// The fleet file.
        fleet: PathBuf,
        /// The target version for every installation without its own `to`.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },
    /// Back up every installation, then upgrade them in the plan's order and waves.
    ///
    /// Every installation is backed up and its backup verified before any
    /// stops. Then wave by wave, each installation by its own `upshift
    /// apply` (its own lock, journal and rollback), after checking that the
    /// installations it `uses` are healthy. More than `max_failures`
    /// failures stop the rollout; `on_failure = "rollback_fleet"` then rolls
    /// every upgraded installation back. The rollout's journal and each
    /// installation's log are in `.upshift-fleet/` beside the fleet file.
    /// Exit 0 all upgraded, 1 stopped by a failure, 3 interrupted (`fleet resume`), 4 locked.
    #[command(
        after_help = "Examples:\n  upshift -y fleet apply fleet.toml --to 3.0.0\n  upshift fleet status fleet.toml"
    )]
    Apply {
        /// The fleet file.
        fleet: PathBuf,
        /// The target version for every installation without its own `to`.
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
    },
    /// Continue the fleet's unfinished rollout (each interrupted installation by `upshift resume`).
    Resume {
        /// The fleet file.
        fleet: PathBuf,
    },
    /// Roll back every installation the last rollout upgraded, users before what they use.
    Rollback {
        /// The fleet file.
        fleet: PathBuf,
    },
    /// The last rollout: where each installation is.
    Status {
        /// The fleet file.
        fleet: PathBuf,
    },
    /// Every rollout of the fleet.
    History {
        /// The fleet file.
        fleet: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Every product upshift has a catalog for.
    List,
    /// One product's releases: what each accepts as a starting point, and its notes.
    #[command(
        after_help = "Examples:\n  upshift catalog show mender\n  upshift --json catalog show demo"
    )]
    Show {
        /// The product (`demo`, `mender`, `mattermost`, or one from `--catalog DIR`).
        product: String,
    },
    /// Checks catalogs for paths the planner can never take and facts without a source.
    ///
    /// Errors: a release no upgrade path reaches, one no later release
    /// accepts (a dead end), a `stop_if` the path never lands on, an
    /// `upgrade_from` bound naming a release the catalog lacks. Warnings: no
    /// `checked` date, a stop, note, rule, check or data step without
    /// `source = "URL"`, a declared fact nothing uses. Exit 1 on an error
    /// (or on a warning with `--strict`), 0 otherwise.
    #[command(
        after_help = "Examples:\n  upshift catalog lint                      every catalog\n  upshift --catalog ./catalogs catalog lint myproduct --strict\n  upshift --json catalog lint gitlab"
    )]
    Lint {
        /// Products to check (default: every catalog known).
        products: Vec<String>,
        /// Fail on warnings too (missing sources), not only on errors.
        #[arg(long)]
        strict: bool,
    },
}

impl Cli {
    /// The clap definition of the whole command line, for completions and
    /// the man page.
    pub fn definition() -> clap::Command {
        Cli::command()
    }

    /// The definition as the man page shows it: the first line of the
    /// description as NAME, all of it under DESCRIPTION.
    pub fn man_definition() -> clap::Command {
        let summary = ABOUT.lines().next().unwrap_or(ABOUT).trim_end_matches('.');
        Cli::command().about(summary).long_about(ABOUT)
    }
}
