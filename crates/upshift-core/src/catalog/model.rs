//! The catalog: a product's release history as data.

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;

use crate::version::Range;

/// One product's releases, sorted oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct Catalog {
    /// Product identifier used in manifests (`mender`).
    pub product: String,
    /// Human name (`Mender Server`).
    pub name: String,
    /// Tag prefixes accepted in front of version numbers (`mender-`).
    pub tag_prefixes: Vec<String>,
    /// Where the upstream upgrade guide lives.
    pub docs: Option<String>,
    /// The date (`YYYY-MM-DD`) the catalog's facts were last checked
    /// against upstream's documentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<String>,
    /// Facts an installation may state in its manifest (`[installation]
    /// facts`), name → what it means. When a catalog declares any, a
    /// manifest's fact must be one of them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, String>,
    /// The catalog lists only some patches of each minor line (the newest):
    /// an installation on another patch is planned as a patch of its line.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unlisted_patches: bool,
    /// Container images of the product's services for every release
    /// (compose service name → template with `{version}` / `{tag}`, e.g.
    /// `mendersoftware/deployments:{tag}`); a release's own `images` win.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// Releases, oldest first, versions unique.
    pub releases: Vec<Release>,
    /// Where the catalog came from (`built-in` or a path).
    pub origin: String,
    /// The catalog's source text and that of every file it refers to, for
    /// fingerprints.
    #[serde(skip)]
    pub source: String,
}

/// One release of a product.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    #[serde(serialize_with = "ser_display")]
    pub version: Version,
    /// Versions this release accepts as a starting point.
    #[serde(serialize_with = "ser_display")]
    pub upgrade_from: Range,
    /// The older releases that run on this release's data (its schema),
    /// as the product documents: a rollback from this release to one of
    /// them keeps the data (writes made since survive) and puts back only
    /// the software and config; to any other, the data is restored.
    #[serde(
        serialize_with = "ser_opt_display",
        skip_serializing_if = "Option::is_none"
    )]
    pub rollback_keeps_data: Option<Range>,
    /// Where upstream documents this release's place in the path (its
    /// `upgrade_from`, `window`, `stop_if`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Facts of an installation that make this release a required stop:
    /// for an installation stating one of them, no hop crosses this
    /// release's minor line, so the path lands on its newest patch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_if: Vec<String>,
    /// Compatibility notes the operator must review.
    pub notes: Vec<Note>,
    /// Estimated maintenance window, as written (`15m`).
    pub window: Option<String>,
    /// Configuration rules (interpreted by `upshift-config`), raw.
    pub config_rules: Vec<toml::Table>,
    /// Data migrations run after the swap.
    pub data_steps: Vec<DataStep>,
    /// Checks run before anything changes.
    pub pre_checks: Vec<PreCheck>,
    /// Log pattern → hint, shown when a health check fails.
    pub known_issues: Vec<KnownIssue>,
    /// For Helm installations: the chart version that deploys this release
    /// (`helm upgrade --version`); charts are versioned apart from products.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_version: Option<String>,
    /// For Compose installations: image templates of this release only,
    /// overriding the catalog-wide `images` entry of the same service.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// For Compose installations: the release's upstream compose file
    /// (e.g. Mender's integration repository), a file beside the catalog.
    /// It holds for later releases until one brings its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compose_template: Option<Template>,
    /// For Compose installations from a git checkout of upstream's
    /// repository: this release's tag there, when it is not the version
    /// (the manifest's `upstream.tag` wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_tag: Option<String>,
    /// Indices `[lo, hi)` into the catalog's releases that `upgrade_from`
    /// accepts; computed once when the catalog is loaded.
    #[serde(skip)]
    pub accepts: (usize, usize),
    /// Not in the catalog: the installed patch of a listed minor line
    /// ([`Catalog::with_unlisted_patch`]).
    #[serde(skip)]
    pub unlisted: bool,
}

/// A compatibility note, and where upstream documents it. Written in a
/// catalog as a string or as `{ text = "…", source = "URL" }`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(from = "NoteForm")]
pub struct Note {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum NoteForm {
    Text(String),
    Sourced {
        text: String,
        #[serde(default)]
        source: Option<String>,
    },
}

impl From<NoteForm> for Note {
    fn from(f: NoteForm) -> Note {
        match f {
            NoteForm::Text(text) => Note { text, source: None },
            NoteForm::Sourced { text, source } => Note { text, source },
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A file the catalog refers to, read when the catalog is loaded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Template {
    /// As written in the catalog: relative to the catalog's directory.
    pub path: String,
    #[serde(skip)]
    pub text: String,
}

/// A data migration a release needs.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataStep {
    pub id: String,
    pub description: String,
    /// Shell command run on the host, in the installation's directory
    /// (for installations whose services run there: process, command, systemd).
    #[serde(default)]
    pub run: Option<String>,
    /// The same migration for container installations: run in a one-off
    /// container of a service with the new release's image (compose: `run
    /// --rm --no-deps SERVICE COMMAND…`), its volumes and bind mounts.
    /// Used instead of `run` when that service is a compose service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerCommand>,
    /// Whether the step can be undone without restoring the snapshot.
    #[serde(default)]
    pub reversible: bool,
    /// Seconds `run` may take before it (its whole process group) is
    /// stopped and the step fails (default [`DataStep::DEFAULT_TIMEOUT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Where upstream documents the migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The service whose data it migrates: an installation that does not
    /// run that service (one of a product's servers installed apart) skips it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl DataStep {
    /// Whether the step belongs in a hop of `manifest`'s installation.
    pub fn applies_to(&self, manifest: &crate::manifest::Manifest) -> bool {
        self.service
            .as_ref()
            .is_none_or(|s| manifest.services.contains_key(s))
    }

    /// A day: long schema migrations of big databases take hours.
    pub const DEFAULT_TIMEOUT: u64 = 24 * 3600;

    /// How long `run` may take.
    pub fn time_limit(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout.unwrap_or(Self::DEFAULT_TIMEOUT))
    }
}

/// A command run in a one-off container of one of the product's services.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContainerCommand {
    /// The compose service (as in the catalog's `images`) whose container runs it.
    pub service: String,
    /// Arguments after the image's entrypoint (they replace the service's command).
    pub command: Vec<String>,
}

/// A check that must pass before the hop starts.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PreCheck {
    pub id: String,
    pub description: String,
    #[serde(default)]
    pub run: Option<String>,
    /// What to do when it fails.
    #[serde(default)]
    pub hint: Option<String>,
    /// Where upstream documents the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A known failure signature and what to do about it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KnownIssue {
    /// Text (or regular expression) seen in a service log.
    pub pattern: String,
    pub hint: String,
    /// Where upstream documents the issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_opt_display<T: std::fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

impl Catalog {
    /// Whether a rollback from `from` (the release serving now) to `to`
    /// keeps the data: `from` declares that `to` runs on its data. Versions
    /// as written (tag prefixes allowed); one that does not parse keeps
    /// nothing.
    pub fn rollback_keeps_data(&self, from: &str, to: &str) -> bool {
        let (Ok(from), Ok(to)) = (self.parse_version(from), self.parse_version(to)) else {
            return false;
        };
        self.release(&from)
            .and_then(|r| r.rollback_keeps_data.as_ref())
            .is_some_and(|range| range.contains(&to))
    }

    /// The release with exactly this version.
    pub fn release(&self, v: &Version) -> Option<&Release> {
        self.releases
            .binary_search_by(|r| r.version.cmp(v))
            .ok()
            .map(|i| &self.releases[i])
    }

    /// The image of every service the catalog names for release `v`, with
    /// `{version}` (`1.1.0`) and `{tag}` (the first tag prefix and the
    /// version, `mender-3.7.7`; the version when there is no prefix) filled in.
    pub fn images_for(&self, v: &Version) -> BTreeMap<String, String> {
        let mut out = self.images.clone();
        if let Some(r) = self.release(v) {
            out.extend(r.images.clone());
        }
        let tag = format!(
            "{}{v}",
            self.tag_prefixes.first().map(String::as_str).unwrap_or("")
        );
        out.into_iter()
            .map(|(k, t)| {
                let image = t
                    .replace("{version}", &v.to_string())
                    .replace("{tag}", &tag);
                (k, image)
            })
            .collect()
    }

    /// The upstream compose template that holds for release `v`: its own,
    /// else that of the newest older release that has one.
    pub fn compose_template_for(&self, v: &Version) -> Option<&Template> {
        let end = self.releases.partition_point(|r| &r.version <= v);
        self.releases[..end]
            .iter()
            .rev()
            .find_map(|r| r.compose_template.as_ref())
    }

    /// Parses a version in this product's accepted forms.
    pub fn parse_version(&self, s: &str) -> Result<Version, crate::version::VersionError> {
        crate::version::parse_version(s, &self.tag_prefixes)
    }

    /// Up to `n` known versions on each side of `v`, for "did you mean" lists.
    pub fn nearest(&self, v: &Version, n: usize) -> Vec<String> {
        let i = self.releases.partition_point(|r| &r.version < v);
        let lo = i.saturating_sub(n);
        let hi = (i + n).min(self.releases.len());
        self.releases[lo..hi]
            .iter()
            .map(|r| r.version.to_string())
            .collect()
    }

    /// For a catalog with `unlisted_patches`: this catalog with `v` added
    /// as a patch of its minor line, when the line is listed and `v` is not.
    /// It accepts what the line's release before it accepts (its first
    /// when none is older) and brings nothing of its own: its notes and
    /// rules are those the listed patches already had.
    pub fn with_unlisted_patch(&self, v: &Version) -> Option<Catalog> {
        if !self.unlisted_patches || self.release(v).is_some() {
            return None;
        }
        let line: Vec<&Release> = self
            .releases
            .iter()
            .filter(|r| (r.version.major, r.version.minor) == (v.major, v.minor))
            .collect();
        let like = line
            .iter()
            .rev()
            .find(|r| &r.version < v)
            .or(line.first())?;
        let mut c = self.clone();
        c.releases.push(Release {
            version: v.clone(),
            upgrade_from: like.upgrade_from.clone(),
            rollback_keeps_data: None,
            source: None,
            stop_if: Vec::new(),
            notes: Vec::new(),
            window: None,
            config_rules: Vec::new(),
            data_steps: Vec::new(),
            pre_checks: Vec::new(),
            known_issues: Vec::new(),
            chart_version: like.chart_version.clone(),
            images: like.images.clone(),
            compose_template: None,
            upstream_tag: None,
            accepts: (0, 0),
            unlisted: true,
        });
        c.releases.sort_by(|a, b| a.version.cmp(&b.version));
        c.index_accepts();
        Some(c)
    }

    /// Computes every release's `accepts` from its `upgrade_from`.
    pub(crate) fn index_accepts(&mut self) {
        let versions: Vec<Version> = self.releases.iter().map(|r| r.version.clone()).collect();
        for r in &mut self.releases {
            r.accepts = r.upgrade_from.index_span(&versions);
        }
    }

    /// The newest release.
    pub fn latest(&self) -> Option<&Release> {
        self.releases.last()
    }
}
