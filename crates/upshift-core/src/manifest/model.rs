//! The manifest (`upshift.toml`): what one installation is and how it runs.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::duration::Seconds;
use super::secret::SecretRef;

/// A parsed, validated manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub installation: Installation,
    #[serde(default)]
    pub services: IndexMap<String, Service>,
    #[serde(default)]
    pub stores: IndexMap<String, Store>,
    #[serde(default)]
    pub config: IndexMap<String, ConfigFile>,
    #[serde(default)]
    pub hooks: Hooks,
    #[serde(default)]
    pub maintenance: Maintenance,
    #[serde(default)]
    pub backup: Backup,
    /// How releases are installed side by side and made current.
    pub release: Option<ReleaseLayout>,
    /// `[retention]` as written; checked into [`Manifest::retention`].
    #[serde(default, rename = "retention")]
    pub(crate) retention_table: Option<super::retention::RawRetention>,
    /// Which snapshots to keep after a successful `apply` (`[retention]`).
    #[serde(skip)]
    pub retention: Option<super::retention::Retention>,
    /// Per config file, the keys a copy of this installation keeps as its
    /// own (`[relocate.NAME]`): a rehearsal's staging copy, a migration's
    /// destination.
    #[serde(default)]
    pub relocate: IndexMap<String, Relocate>,
    /// What `apply` requires before it acts (`[apply]`).
    #[serde(default)]
    pub apply: ApplyPolicy,
}

/// `[relocate.NAME]`: the keys of config file `NAME` that belong to where
/// the installation runs (listen addresses, URLs of its own services,
/// database connections, paths), not to its data. A copy keeps its own
/// values of them.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Relocate {
    /// Dotted key paths (`server.listen`); a key absent from the file at
    /// one version (renamed at another) is skipped.
    #[serde(default)]
    pub keep: Vec<String>,
}

/// `[apply]`: conditions `apply` checks before it acts.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyPolicy {
    /// A successful `upshift rehearse` of the same plan, this recent.
    pub require_rehearsal: Option<RequireRehearsal>,
}

/// `require_rehearsal = { within_days = 7 }`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RequireRehearsal {
    /// How old the rehearsal may be, in days.
    pub within_days: u32,
}

/// Releases installed side by side (`releases/<version>/`) and made current
/// by flipping a symlink, as Ghost-CLI does. The old release stays for rollback.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseLayout {
    /// Directory holding one subdirectory per version (default `releases`).
    #[serde(default = "default_releases_dir")]
    pub dir: String,
    /// The symlink pointing at the running release (default `current`).
    #[serde(default = "default_current_link")]
    pub link: String,
    /// Command that fetches/unpacks release `{version}` into `{dir}/{version}`;
    /// it runs while the old version still serves. `{version}` and `{dir}` are
    /// substituted; when the command names `{dir}/{version}`, that directory is
    /// created first, so `tar -xzf R-{version}.tar.gz -C {dir}/{version}
    /// --strip-components=1` works as written (Mattermost's tarball instructions,
    /// https://docs.mattermost.com/upgrade/upgrading-mattermost-server.html).
    pub install: Option<String>,
    /// Paths relative to a release directory (`config/config.json`, `data`)
    /// copied — files and whole directories, modes kept — from the old
    /// release into the new one in the swap step, just before the link flips.
    #[serde(default)]
    pub carry: Vec<Spanned<String>>,
}

fn default_releases_dir() -> String {
    "releases".into()
}

fn default_current_link() -> String {
    "current".into()
}

/// The `[installation]` table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Installation {
    /// A name for this deployment (`mender-prod`).
    pub name: String,
    /// The catalog product (`mender`).
    pub product: Spanned<String>,
    /// The version running now, in any form the catalog accepts.
    pub version: Spanned<String>,
    /// A command that prints the running version (`platform -version`).
    pub version_command: Option<String>,
    /// Where the installation lives: omitted for this machine, or
    /// `ssh://[user@]host[:port]/directory` (reached with the OpenSSH client).
    pub host: Option<Spanned<String>>,
    /// An ssh_config file for reaching `host` (identity, known hosts, jump
    /// host), relative to the manifest; default: the user's own.
    pub ssh_config: Option<String>,
    /// Facts catalog rules can test (`enterprise`, `npm_packages`): config
    /// rules' `when = { fact = … }` and releases' `stop_if`.
    #[serde(default)]
    pub facts: Vec<Spanned<String>>,
    /// A directory of catalogs (`*.toml`) for this installation, relative
    /// to the manifest; `--catalog DIR` wins over it.
    pub catalog: Option<Spanned<String>>,
}

impl Installation {
    /// The facts stated, as written.
    pub fn fact_names(&self) -> impl Iterator<Item = &str> {
        self.facts.iter().map(|f| f.get_ref().as_str())
    }
}

/// How a service is run.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DriverKind {
    Process,
    Systemd,
    Compose,
    Helm,
    Command,
}

impl DriverKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DriverKind::Process => "process",
            DriverKind::Systemd => "systemd",
            DriverKind::Compose => "compose",
            DriverKind::Helm => "helm",
            DriverKind::Command => "command",
        }
    }
}

/// A `[services.NAME]` table, its driver's table converted once into
/// [`Driver`] (so no code has to ask whether the table is there).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "super::raw::RawService")]
pub struct Service {
    /// How the service runs, with the span of its `driver = …` key.
    pub driver: Spanned<Driver>,
    pub depends_on: Vec<Spanned<String>>,
    /// Address users reach (`0.0.0.0:8080`); the maintenance page answers here.
    pub public_address: Option<String>,
    pub health: Option<Health>,
    /// Log file shown when the service fails its health check.
    pub log: Option<String>,
    /// The service writes no store (a gateway, a UI, a cache). A stateless
    /// compose service whose image and config do not change in a hop keeps
    /// running through it instead of being stopped and recreated; services
    /// that write data are always stopped, so the final snapshot is exact.
    pub stateless: bool,
}

/// How a service runs, with the settings of its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    Process(ProcessDriver),
    /// The table is optional: the unit defaults to `NAME.service`.
    Systemd(Option<SystemdDriver>),
    Compose(ComposeDriver),
    Helm(HelmDriver),
    Command(CommandDriver),
}

impl Driver {
    pub fn kind(&self) -> DriverKind {
        match self {
            Driver::Process(_) => DriverKind::Process,
            Driver::Systemd(_) => DriverKind::Systemd,
            Driver::Compose(_) => DriverKind::Compose,
            Driver::Helm(_) => DriverKind::Helm,
            Driver::Command(_) => DriverKind::Command,
        }
    }
}

impl Service {
    /// The driver, without its span.
    pub fn run(&self) -> &Driver {
        self.driver.get_ref()
    }

    pub fn kind(&self) -> DriverKind {
        self.run().kind()
    }

    pub fn compose(&self) -> Option<&ComposeDriver> {
        match self.run() {
            Driver::Compose(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the service is started with the page's listening socket
    /// (`[services.NAME.process] socket_activation = true`).
    pub fn socket_activation(&self) -> bool {
        matches!(self.run(), Driver::Process(p) if p.socket_activation)
    }

    pub fn helm(&self) -> Option<&HelmDriver> {
        match self.run() {
            Driver::Helm(h) => Some(h),
            _ => None,
        }
    }
}

/// `driver = "process"`: upshift starts and stops the program itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessDriver {
    pub start: String,
    pub pidfile: Option<String>,
    pub workdir: Option<String>,
    /// Time between SIGTERM and SIGKILL (default 10 s).
    pub stop_timeout: Option<Seconds>,
    /// Start the program with the maintenance page's listening socket on
    /// its public address (systemd's `LISTEN_FDS` convention, fd 3), so no
    /// connection is refused while it boots.
    #[serde(default)]
    pub socket_activation: bool,
}

/// `driver = "systemd"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SystemdDriver {
    pub unit: String,
}

/// `driver = "compose"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeDriver {
    pub project: String,
    #[serde(default)]
    pub files: Vec<String>,
    /// The compose service name, when it differs from the upshift service name.
    pub service: Option<String>,
    pub workdir: Option<String>,
    /// The project's files come from this git checkout of upstream's
    /// repository (a production branch); plans show each hop's diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Spanned<super::upstream::UpstreamTemplate>>,
}

/// `driver = "helm"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HelmDriver {
    pub release: String,
    pub chart: String,
    pub namespace: Option<String>,
    /// The values file (also listed under `[config]` to be migrated).
    pub values: Option<String>,
    /// `helm --timeout` for `--wait` (default `10m`).
    pub timeout: Option<String>,
    /// A kubeconfig file, passed to helm as `KUBECONFIG` (default: helm's own).
    pub kubeconfig: Option<String>,
}

/// `driver = "command"`: any command per action (`make up DETACH=true`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommandDriver {
    pub start: String,
    pub stop: String,
    pub workdir: Option<String>,
}

/// A health check; exactly one of `http`, `tcp`, `command`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub http: Option<String>,
    /// Expected HTTP status (default 200).
    pub status: Option<u16>,
    /// A pattern the HTTP body must contain.
    pub body: Option<String>,
    pub tcp: Option<String>,
    pub command: Option<String>,
    /// Time between attempts (default 1 s).
    pub interval: Option<Seconds>,
    /// Time one attempt may take (default 5 s).
    pub timeout: Option<Seconds>,
    /// Attempts before giving up (default 30).
    pub retries: Option<u32>,
}

/// Kinds of data stores.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Files,
    Sqlite,
    Postgres,
    Mysql,
    Mongodb,
    Volume,
    S3,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Files => "files",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
            StoreKind::Mysql => "mysql",
            StoreKind::Mongodb => "mongodb",
            StoreKind::Volume => "volume",
            StoreKind::S3 => "s3",
        }
    }
}

/// A `[stores.NAME]` table. Which keys are required depends on `kind`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub kind: Spanned<StoreKind>,
    /// files, sqlite: paths relative to the manifest.
    pub path: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// files: globs of what the backup leaves out (logs, caches), matched
    /// against each file's path relative to the store path it lies under;
    /// a directory that matches is left out with everything in it.
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// postgres, mysql, mongodb: host, port, user, database.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub database: Option<String>,
    pub password: Option<SecretRef>,
    /// mongodb: a connection URI reference (may hold credentials, so a secret).
    pub uri: Option<SecretRef>,
    /// volume: the Docker named volume.
    pub volume: Option<String>,
    /// s3: endpoint, bucket, region and credentials.
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<SecretRef>,
    pub secret_key: Option<SecretRef>,
}

/// Formats of configuration files upshift can migrate.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConfigFormat {
    Yaml,
    Json,
    Toml,
    Env,
}

/// A `[config.NAME]` table: a file the upgrade may rewrite.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub path: String,
    pub format: ConfigFormat,
    /// Which catalog rules apply (`helm-values`, `mattermost-config`); defaults to the table name.
    pub role: Option<String>,
}

/// Commands run at points of the upgrade.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Runs after the online backup, before the maintenance window.
    pub pre_upgrade: Option<String>,
    /// Runs after the post-upgrade snapshot.
    pub post_upgrade: Option<String>,
    /// Runs after a hop failed and was undone (or could not be), with
    /// `UPSHIFT_FROM`, `UPSHIFT_TO` and `UPSHIFT_ERROR` set.
    pub on_failure: Option<String>,
    /// Time each hook (and each `maintenance` command) may take before
    /// it, its whole process group, is stopped and the step fails
    /// (default [`Hooks::DEFAULT_TIMEOUT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Seconds>,
}

impl Hooks {
    /// An hour.
    pub const DEFAULT_TIMEOUT: Seconds = Seconds::from_secs(3600);

    /// How long one hook may take.
    pub fn time_limit(&self) -> std::time::Duration {
        self.timeout.unwrap_or(Self::DEFAULT_TIMEOUT).duration()
    }
}

/// The maintenance window: what users see while services are down.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// Serve a 503 page on the public addresses while services are down.
    #[serde(default = "yes")]
    pub page: bool,
    pub message: Option<String>,
    /// When users should try again, for the `Retry-After` header (whole
    /// seconds, rounded up).
    pub retry_after: Option<Seconds>,
    /// Commands that switch the product's own maintenance mode, or announce it.
    pub on: Option<String>,
    pub off: Option<String>,
    pub announce: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for Maintenance {
    fn default() -> Self {
        Maintenance {
            page: true,
            message: None,
            retry_after: None,
            on: None,
            off: None,
            announce: None,
        }
    }
}

/// Where snapshots go.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Repository path (default `.upshift/repo` beside the manifest).
    pub repository: Option<String>,
    /// Repository key: `file:PATH` or `env:NAME`; generated into a 0600 file if absent.
    pub key: Option<SecretRef>,
}
