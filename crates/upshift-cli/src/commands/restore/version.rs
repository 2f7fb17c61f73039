//! Whether a snapshot's data may go back under the installation's release:
//! compared before anything changes.

use upshift_core::manifest::Loaded;
use upshift_run::deploy::release::Releases;
use upshift_run::installed::Installed;

use crate::error::CliError;

/// What an in-place restore does about versions.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Taken at the version the installation is at.
    Same,
    /// Taken at another version; the release can be switched to it.
    Switch { to: String },
    /// Taken at another version; `--force` restores it under the current one.
    Forced { taken_at: String },
}

/// Compares the snapshot's version `taken_at` with `installed`. Another
/// version with neither a release to switch to nor `--force` is refused,
/// naming both versions and the fixes; so is a partial restore of another
/// version (the stores left alone would stay at the current version).
pub fn decide(
    loaded: &Loaded,
    target: &upshift_run::Target,
    short_id: &str,
    taken_at: &str,
    installed: &Installed,
    partial: bool,
    force: bool,
) -> Result<Decision, CliError> {
    let parse = |v: &str| loaded.catalog.parse_version(v).ok();
    let same = match (parse(taken_at), parse(&installed.version)) {
        (Some(a), Some(b)) => a == b,
        _ => taken_at == installed.version,
    };
    if same {
        return Ok(Decision::Same);
    }
    if force {
        return Ok(Decision::Forced {
            taken_at: taken_at.to_string(),
        });
    }
    let now = &installed.version;
    let head = format!(
        "snapshot {short_id} was taken at {taken_at}; the installation is at {now} ({})",
        installed.source
    );
    let fixes = format!(
        "pass --force to restore the data under {now} anyway (it may not start on data of {taken_at}), or run `upshift rollback --to {taken_at}`"
    );
    if partial {
        return Err(CliError::Failed(format!(
            "{head}: a partial restore does not switch the release, and the stores it leaves would stay at {now}; restore the whole snapshot to switch to {taken_at}, or {fixes}; nothing changed"
        )));
    }
    match Releases::of(&loaded.manifest).can_switch_to(target, taken_at) {
        Ok(()) => Ok(Decision::Switch {
            to: taken_at.to_string(),
        }),
        Err(why) => Err(CliError::Failed(format!(
            "{head}, and the release cannot be switched to {taken_at} ({why}): {fixes}; nothing changed"
        ))),
    }
}
