//! What a step records in the journal. Written as tagged JSON; the plain
//! text forms that earlier versions of upshift wrote are read too, so their
//! journals still resume. Anything else is refused, never guessed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use upshift_backup::FrozenDb;
use upshift_core::plan::StepId;

use crate::journal::StepState;

/// A step's journaled detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "detail", rename_all = "snake_case", deny_unknown_fields)]
pub enum Detail {
    /// A snapshot was taken (the online one with the store fingerprint
    /// taken with it, when the stores are files).
    Snapshot {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
    },
    /// A snapshot verified by test restore; `reused` when it was verified
    /// while serving and nothing changed since.
    Verified { id: String, reused: bool },
    /// The maintenance window opened at this time (ms since the epoch).
    WindowOpened { at_ms: i64 },
    /// The maintenance window closed after `ms`.
    WindowClosed { ms: i64 },
    /// The stop step left the service running, and why.
    KeptRunning { why: String },
    /// What the swap replaces, per deployment, journaled before it acts.
    SwapRecord { records: BTreeMap<String, Value> },
    /// The rollback point frozen inside the database servers: journaled
    /// before the copies are made, so that no copy is ever unknown.
    Frozen { point: FrozenPoint },
    /// A rollback to `version`, restoring `snapshot` (or the frozen
    /// rollback point `frozen`) when set.
    RollbackTarget {
        version: String,
        snapshot: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        frozen: Option<FrozenPoint>,
        /// Only the snapshot's config files are put back: `version` runs on
        /// the data as it is (the catalog says so).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keeps_data: bool,
        /// An operator asked for it (`upshift rollback`), after the run
        /// ended or was interrupted; not the run's own undoing of a hop.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        manual: bool,
    },
    /// What a step did or why it failed, for the operator to read.
    Note { text: String },
}

/// A rollback point frozen inside the stores' servers: each store's
/// copy, and where the config files as they were then are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenPoint {
    pub databases: Vec<FrozenDb>,
    pub config_dir: std::path::PathBuf,
}

impl std::fmt::Display for FrozenPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dbs: Vec<String> = self
            .databases
            .iter()
            .map(|d| format!("{} in {}", d.store, d.name))
            .collect();
        write!(f, "frozen copies: {}", dbs.join(", "))
    }
}

/// A journaled detail that fits no form upshift writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("step {step}: unreadable journal detail `{text}`: {why}")]
pub struct BadDetail {
    pub step: String,
    pub text: String,
    pub why: String,
}

/// The text earlier versions put after a verify step's snapshot id when
/// the online verification was reused.
const REUSED: &str = ": verified while serving, unchanged since";
/// How earlier versions began a stop step's detail when the service kept running.
const KEPT: &str = "kept running";

/// The detail as an operator reads it (the forms earlier versions journaled).
impl std::fmt::Display for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Detail::Snapshot {
                id,
                fingerprint: Some(fp),
            } => write!(f, "{id} {fp}"),
            Detail::Snapshot { id, .. } => f.write_str(id),
            Detail::Verified { id, reused: true } => write!(f, "{id}{REUSED}"),
            Detail::Verified { id, .. } => f.write_str(id),
            Detail::WindowOpened { at_ms } => write!(f, "{at_ms}"),
            Detail::WindowClosed { ms } => write!(f, "maintenance window {ms} ms"),
            Detail::KeptRunning { why } if why.is_empty() => f.write_str(KEPT),
            Detail::KeptRunning { why } => write!(f, "{KEPT}: {why}"),
            Detail::SwapRecord { records } => {
                f.write_str(&serde_json::to_string(records).expect("values serialise"))
            }
            Detail::Frozen { point } => point.fmt(f),
            Detail::RollbackTarget {
                version,
                snapshot,
                frozen,
                keeps_data,
                ..
            } => write!(
                f,
                "back to {version}{}{}",
                match (snapshot, frozen) {
                    (Some(s), _) => format!(" with snapshot {s}"),
                    (None, Some(p)) => format!(" with the {p}"),
                    (None, None) => String::new(),
                },
                if *keeps_data {
                    " (its config only: the data is kept)"
                } else {
                    ""
                }
            ),
            Detail::Note { text } => f.write_str(text),
        }
    }
}

impl Detail {
    pub fn note(text: impl Into<String>) -> Detail {
        Detail::Note { text: text.into() }
    }

    /// The journal's text for this detail.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("details serialise")
    }

    /// Reads what step `step` journaled in state `state`.
    pub fn read(step: &StepId, state: StepState, text: &str) -> Result<Detail, BadDetail> {
        let bad = |why: &str| BadDetail {
            step: step.to_string(),
            text: text.chars().take(200).collect(),
            why: why.to_string(),
        };
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) {
            if map.contains_key("detail") {
                return serde_json::from_str(text).map_err(|e| bad(&e.to_string()));
            }
            return legacy_json(step, map).ok_or_else(|| bad("a JSON object of no known form"));
        }
        if state != StepState::Done {
            return Ok(Detail::note(text));
        }
        legacy_text(step, text).map_err(|why| bad(&why))
    }
}

/// The JSON objects earlier versions wrote: the swap's records and a
/// rollback's target.
fn legacy_json(step: &StepId, map: serde_json::Map<String, Value>) -> Option<Detail> {
    match step {
        StepId::Swap => Some(Detail::SwapRecord {
            records: map.into_iter().collect(),
        }),
        StepId::Rollback => Some(Detail::RollbackTarget {
            version: map.get("version")?.as_str()?.to_string(),
            snapshot: map.get("snapshot")?.as_str().map(str::to_string),
            frozen: None,
            keeps_data: false,
            manual: false,
        }),
        _ => None,
    }
}

/// The plain text earlier versions wrote for a step done.
fn legacy_text(step: &StepId, text: &str) -> Result<Detail, String> {
    let id_only = |t: &str| {
        if t.is_empty() || t.contains(char::is_whitespace) {
            Err(format!("`{t}` is not a snapshot id"))
        } else {
            Ok(t.to_string())
        }
    };
    Ok(match step {
        StepId::BackupOnline => match text.split_once(' ') {
            Some((id, fp)) => Detail::Snapshot {
                id: id_only(id)?,
                fingerprint: Some(fp.to_string()),
            },
            None => Detail::Snapshot {
                id: id_only(text)?,
                fingerprint: None,
            },
        },
        StepId::BackupFinal | StepId::BackupPost => Detail::Snapshot {
            id: id_only(text)?,
            fingerprint: None,
        },
        StepId::VerifyOnline | StepId::VerifyFinal => match text.strip_suffix(REUSED) {
            Some(id) => Detail::Verified {
                id: id_only(id)?,
                reused: true,
            },
            None => Detail::Verified {
                id: id_only(text)?,
                reused: false,
            },
        },
        StepId::MaintenanceOn => Detail::WindowOpened {
            at_ms: text
                .parse()
                .map_err(|_| "not a time in milliseconds".to_string())?,
        },
        StepId::Stop(_) | StepId::Start(_) if text.starts_with(KEPT) => Detail::KeptRunning {
            why: text
                .strip_prefix(KEPT)
                .unwrap_or_default()
                .trim_start_matches(": ")
                .to_string(),
        },
        _ => Detail::note(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(step: &str, text: &str) -> Result<Detail, BadDetail> {
        Detail::read(&step.parse().unwrap(), StepState::Done, text)
    }

    #[test]
    fn earlier_text_forms_read_as_typed_details() {
        assert_eq!(
            done("backup.online", "abc123 f00d").unwrap(),
            Detail::Snapshot {
                id: "abc123".into(),
                fingerprint: Some("f00d".into())
            }
        );
        assert_eq!(
            done(
                "backup.verify",
                "abc123: verified while serving, unchanged since"
            )
            .unwrap(),
            Detail::Verified {
                id: "abc123".into(),
                reused: true
            }
        );
        assert_eq!(
            done("maintenance.on", "1700000000000").unwrap(),
            Detail::WindowOpened {
                at_ms: 1_700_000_000_000
            }
        );
        assert_eq!(
            done(
                "stop.auth",
                "kept running: stateless, same image (x), config unchanged"
            )
            .unwrap(),
            Detail::KeptRunning {
                why: "stateless, same image (x), config unchanged".into()
            }
        );
        let swap = Detail::read(
            &StepId::Swap,
            StepState::Started,
            r#"{"helm_revisions":{"mender":3}}"#,
        )
        .unwrap();
        let Detail::SwapRecord { records } = swap else {
            panic!("{swap:?}")
        };
        assert_eq!(records["helm_revisions"]["mender"], 3);
        assert_eq!(
            Detail::read(
                &StepId::Rollback,
                StepState::Started,
                r#"{"version":"1.0.0","snapshot":null}"#
            )
            .unwrap(),
            Detail::RollbackTarget {
                version: "1.0.0".into(),
                snapshot: None,
                frozen: None,
                keeps_data: false,
                manual: false,
            }
        );
    }

    #[test]
    fn what_is_written_reads_back() {
        let all = [
            Detail::Snapshot {
                id: "a".into(),
                fingerprint: Some("f".into()),
            },
            Detail::Verified {
                id: "a".into(),
                reused: false,
            },
            Detail::WindowOpened { at_ms: 5 },
            Detail::WindowClosed { ms: 7 },
            Detail::KeptRunning { why: "w".into() },
            Detail::RollbackTarget {
                version: "1.0.0".into(),
                snapshot: Some("s".into()),
                frozen: None,
                keeps_data: true,
                manual: true,
            },
            Detail::Frozen {
                point: FrozenPoint {
                    databases: vec![FrozenDb {
                        store: "notes".into(),
                        name: "upshift_frozen_x".into(),
                    }],
                    config_dir: "/s/frozen-0".into(),
                },
            },
            Detail::note("hello"),
        ];
        for d in all {
            let back = Detail::read(&StepId::Swap, StepState::Done, &d.to_text()).unwrap();
            assert_eq!(back, d);
        }
    }

    #[test]
    fn what_an_operator_reads_is_the_earlier_text() {
        for (step, text) in [
            ("backup.online", "abc f00d"),
            ("backup.final", "abc"),
            (
                "backup.verify",
                "abc: verified while serving, unchanged since",
            ),
            ("maintenance.on", "1700000000000"),
            ("stop.auth", "kept running: stateless"),
            ("start.auth", "kept running"),
        ] {
            assert_eq!(done(step, text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn unknown_forms_are_refused() {
        assert!(done("maintenance.on", "soon").is_err());
        assert!(done("backup.final", "").is_err());
        assert!(done("backup.final", r#"{"detail":"teleported"}"#).is_err());
        assert!(done("stop.auth", r#"{"what":1}"#).is_err());
        // A failure's message is kept as it is.
        let failed = Detail::read(&StepId::MaintenanceOn, StepState::Failed, "boom").unwrap();
        assert_eq!(failed, Detail::note("boom"));
    }
}
