//! A fleet: linked installations upgraded together (`fleet.toml`).
//!
//! ```toml
//! [rollout]
//! max_parallel = 1          # installations upgraded at once in a wave
//! canary = "notes-a"        # upgraded alone, first of its level
//! max_failures = 0          # failures tolerated before the rollout stops
//! pause = "30s"             # between waves
//! on_failure = "keep"       # or "rollback_fleet"
//!
//! [installations.auth]
//! manifest = "auth/upshift.toml"
//!
//! [installations.notes-a]
//! manifest = "notes-a/upshift.toml"
//! uses = ["auth"]           # needs auth up when it restarts: auth goes first
//! ```
//!
//! Linked servers are upgraded in dependency order, as the guides for
//! servers sharing an auth service say: back up all servers, update the
//! server running the auth service, then all other servers one at a time.
//! Waves, a canary and a failure budget are the rollout words operators
//! know from Ansible's `serial`/`max_fail_percentage`
//! (https://docs.ansible.com/ansible/latest/playbook_guide/playbooks_strategies.html)
//! and Kubernetes' `maxUnavailable`.

mod order;
mod parse;
mod plan;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::manifest::Seconds;

pub use order::{waves, Wave};
pub use parse::parse_fleet;
pub use plan::{FleetPlan, MemberPlan};

/// A parsed, checked `fleet.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    #[serde(default)]
    pub rollout: Rollout,
    /// Where the rollout's journal is: beside the fleet file (SQLite) when
    /// absent, or a PostgreSQL database several workers share.
    pub journal: Option<SharedJournal>,
    /// The installations, in the file's order.
    #[serde(default)]
    pub installations: IndexMap<String, Member>,
}

/// `[journal] url = "postgres://user@host:port/db"`, `password = "env:NAME"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedJournal {
    /// The database, without a password.
    pub url: Spanned<String>,
    /// The password, as a secret reference.
    pub password: Option<crate::manifest::SecretRef>,
    /// The fleet's name in that database (several fleets may share one).
    #[serde(default = "default_fleet_name")]
    pub name: String,
}

fn default_fleet_name() -> String {
    "fleet".to_string()
}

/// One installation of the fleet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Its manifest, relative to the fleet file.
    pub manifest: Spanned<String>,
    /// Installations this one needs running when it restarts.
    #[serde(default)]
    pub uses: Vec<Spanned<String>>,
    /// Its own target, instead of the fleet's `--to`.
    pub to: Option<Spanned<String>>,
}

/// How the fleet is rolled out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// Installations upgraded at once within a wave (default 1).
    #[serde(default = "one")]
    pub max_parallel: Spanned<u32>,
    /// Upgraded alone, before the others of its dependency level.
    pub canary: Option<Spanned<String>>,
    /// Failed installations tolerated before the rollout stops (default 0).
    #[serde(default)]
    pub max_failures: u32,
    /// Waited between waves.
    pub pause: Option<Seconds>,
    /// What a failure does to the installations already upgraded.
    #[serde(default)]
    pub on_failure: OnFailure,
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout {
            max_parallel: one(),
            canary: None,
            max_failures: 0,
            pause: None,
            on_failure: OnFailure::default(),
        }
    }
}

/// What happens to upgraded installations when a later one fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// They stay at the new version: they are healthy.
    #[default]
    Keep,
    /// Every installation of the fleet returns to where it started.
    RollbackFleet,
}

impl Fleet {
    /// The installations that use `name`.
    pub fn users_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.installations
            .iter()
            .filter(move |(_, m)| m.uses.iter().any(|u| u.get_ref() == name))
            .map(|(n, _)| n.as_str())
    }
}
