//! The TOML shape of a `[services.NAME]` table: a `driver` key and one
//! table per driver kind. Converted once into [`Service`], whose
//! [`Driver`] carries exactly the table its kind needs.

use serde::Deserialize;
use toml::Spanned;

use super::model::{
    CommandDriver, ComposeDriver, Driver, DriverKind, Health, HelmDriver, ProcessDriver, Service,
    SystemdDriver,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    driver: Spanned<DriverKind>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    public_address: Option<String>,
    health: Option<Health>,
    log: Option<String>,
    #[serde(default)]
    stateless: bool,
    process: Option<ProcessDriver>,
    systemd: Option<SystemdDriver>,
    compose: Option<ComposeDriver>,
    helm: Option<HelmDriver>,
    command: Option<RawCommand>,
}

/// `[services.NAME.command]`, with the keys that older manifests wrote
/// and that no driver reads: refused with what to use instead.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    start: String,
    stop: String,
    workdir: Option<String>,
    install: Option<String>,
    migrate: Option<String>,
    status: Option<String>,
}

impl RawCommand {
    fn into_driver(self) -> Result<CommandDriver, String> {
        let unread = [
            ("install", self.install.is_some(), "put the install command under [release] `install` (it runs while the old version serves)"),
            ("migrate", self.migrate.is_some(), "write data migrations as `data_steps` of the release in the catalog"),
            ("status", self.status.is_some(), "use [installation] `version_command` for the running version and [services.NAME.health] for health"),
        ];
        if let Some((key, _, fix)) = unread.iter().find(|(_, set, _)| *set) {
            return Err(format!(
                "`{key}` in a [services.NAME.command] table is not used by the command driver (only `start`, `stop` and `workdir` are); {fix}"
            ));
        }
        Ok(CommandDriver {
            start: self.start,
            stop: self.stop,
            workdir: self.workdir,
        })
    }
}

impl TryFrom<RawService> for Service {
    type Error = String;

    fn try_from(r: RawService) -> Result<Self, String> {
        let kind = *r.driver.get_ref();
        let span = r.driver.span();
        let present = [
            (DriverKind::Process, r.process.is_some()),
            (DriverKind::Systemd, r.systemd.is_some()),
            (DriverKind::Compose, r.compose.is_some()),
            (DriverKind::Helm, r.helm.is_some()),
            (DriverKind::Command, r.command.is_some()),
        ];
        if let Some((other, _)) = present.iter().find(|(k, has)| *k != kind && *has) {
            return Err(format!(
                "the service uses driver `{}` but also has a [services.NAME.{}] table; remove that table or set `driver = \"{}\"`",
                kind.as_str(),
                other.as_str(),
                other.as_str()
            ));
        }
        let missing = || {
            format!(
                "the service uses driver `{0}` but has no [services.NAME.{0}] table; {1}",
                kind.as_str(),
                example(kind)
            )
        };
        if r.process.as_ref().is_some_and(|p| p.socket_activation) && r.public_address.is_none() {
            return Err("`socket_activation` hands the service the listening socket of its public address, but the service has no `public_address`; add it (e.g. `public_address = \"127.0.0.1:8080\"`) or remove `socket_activation`".into());
        }
        let driver = match kind {
            DriverKind::Process => Driver::Process(r.process.ok_or_else(missing)?),
            DriverKind::Systemd => Driver::Systemd(r.systemd),
            DriverKind::Compose => Driver::Compose(r.compose.ok_or_else(missing)?),
            DriverKind::Helm => Driver::Helm(r.helm.ok_or_else(missing)?),
            DriverKind::Command => Driver::Command(r.command.ok_or_else(missing)?.into_driver()?),
        };
        Ok(Service {
            driver: Spanned::new(span, driver),
            depends_on: r.depends_on,
            public_address: r.public_address,
            health: r.health,
            log: r.log,
            stateless: r.stateless,
        })
    }
}

fn example(k: DriverKind) -> &'static str {
    match k {
        DriverKind::Process => "add it with `start = \"./bin/NAME\"`",
        DriverKind::Systemd => "add it with `unit = \"NAME.service\"`",
        DriverKind::Compose => {
            "add it with `project = \"...\"` and `files = [\"docker-compose.yml\"]`"
        }
        DriverKind::Helm => "add it with `release = \"...\"` and `chart = \"...\"`",
        DriverKind::Command => "add it with `start = \"...\"` and `stop = \"...\"`",
    }
}
