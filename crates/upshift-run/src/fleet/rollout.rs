//! A fleet's rollout: back up every installation and verify each backup,
//! then upgrade wave by wave (each installation's links healthy first),
//! stopping when more than `max_failures` fail and, by the fleet's
//! policy, keeping or rolling back the installations already upgraded.
//!
//! Each installation is upgraded by its own journaled, locked, resumable
//! run ([`Members`], in practice `upshift -m MANIFEST apply`): the fleet
//! adds only the order, and its journal says which step of the rollout
//! each installation reached.

use upshift_core::fleet::{Fleet, FleetPlan, OnFailure};

use super::journal::{FleetJournal, FleetJournalError};

/// How one installation's apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Upgraded and healthy.
    Done,
    /// Failed, and its own run rolled it back (or changed nothing).
    Failed(String),
    /// Stopped half way (a signal, a lost journal): it needs `resume`.
    Interrupted(String),
}

/// What the rollout does to one installation.
pub trait Members: Sync {
    /// Backs it up and verifies the backup.
    fn backup(&self, name: &str) -> Result<(), String>;
    /// Whether `link` (an installation `name` uses) is up and healthy.
    fn healthy(&self, link: &str) -> Result<(), String>;
    /// Upgrades it (or resumes its interrupted run).
    fn apply(&self, name: &str, resume: bool) -> Applied;
    /// Returns it to where the rollout found it, with its data.
    fn rollback(&self, name: &str) -> Result<(), String>;
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RolloutEnd {
    /// Every installation is at its target.
    Done { run_id: String },
    /// Too many failures: the rollout stopped; `rolled_back` lists the
    /// installations the fleet's policy returned to their start.
    Stopped {
        run_id: String,
        failed: Vec<(String, String)>,
        rolled_back: Vec<String>,
    },
    /// An installation's run or the rollout was interrupted: `fleet resume`.
    Interrupted {
        run_id: String,
        at: String,
        why: String,
    },
}

/// One rollout of a fleet, recorded in its journal.
pub struct Rollout<'a> {
    pub fleet: &'a Fleet,
    pub plan: &'a FleetPlan,
    pub journal: &'a FleetJournal,
    pub members: &'a dyn Members,
    /// A line for the operator (stderr).
    pub say: &'a (dyn Fn(&str) + Sync),
}

type Step<T> = Result<T, FleetJournalError>;

impl Rollout<'_> {
    /// Runs rollout `run` from wherever its journal says it stopped.
    pub fn run(&self, run: &str) -> Step<RolloutEnd> {
        if let Some(end) = self.back_up_all(run)? {
            return Ok(end);
        }
        let mut failed: Vec<(String, String)> = Vec::new();
        for (i, wave) in self.plan.waves.iter().enumerate() {
            if let Some(sig) = crate::signals::received() {
                return self.interrupted(run, "", &format!("{sig} before wave {}", i + 1));
            }
            (self.say)(&format!(
                "wave {}: {}",
                i + 1,
                wave.installations.join(", ")
            ));
            let outcomes = self.wave(run, &wave.installations)?;
            for (name, applied) in outcomes {
                match applied {
                    Applied::Done => {}
                    Applied::Failed(why) => failed.push((name, why)),
                    Applied::Interrupted(why) => return self.interrupted(run, &name, &why),
                }
            }
            if failed.len() > self.plan.max_failures as usize {
                return self.stop(run, failed);
            }
            if let (Some(p), true) = (self.fleet.rollout.pause, i + 1 < self.plan.waves.len()) {
                std::thread::sleep(p.duration());
            }
        }
        if !failed.is_empty() {
            return self.stop(run, failed);
        }
        self.journal.finish(run, "done")?;
        Ok(RolloutEnd::Done {
            run_id: run.to_string(),
        })
    }

    /// Every installation backed up and verified before any stops.
    fn back_up_all(&self, run: &str) -> Step<Option<RolloutEnd>> {
        for m in &self.plan.installations {
            if self.reached(run, &m.name, &["backup.done"])? {
                continue;
            }
            (self.say)(&format!("backing up {}", m.name));
            self.journal.record(run, &m.name, "backup.started", None)?;
            if let Err(why) = self.members.backup(&m.name) {
                self.journal
                    .record(run, &m.name, "backup.failed", Some(&why))?;
                self.journal.finish(run, "failed")?;
                return Ok(Some(RolloutEnd::Stopped {
                    run_id: run.to_string(),
                    failed: vec![(m.name.clone(), format!("its backup failed: {why}"))],
                    rolled_back: Vec::new(),
                }));
            }
            self.journal.record(run, &m.name, "backup.done", None)?;
        }
        Ok(None)
    }

    /// The installations of one wave, upgraded at once.
    fn wave(&self, run: &str, names: &[String]) -> Step<Vec<(String, Applied)>> {
        let mut todo = Vec::new();
        for name in names {
            let last = self.journal.last(run, name)?;
            match last.as_deref() {
                Some("apply.done" | "apply.skipped") => continue,
                _ if self
                    .plan
                    .member(name)
                    .is_some_and(|m| m.plan.hops.is_empty()) =>
                {
                    self.journal.record(
                        run,
                        name,
                        "apply.skipped",
                        Some("already at its target"),
                    )?;
                }
                last => todo.push((
                    name.clone(),
                    matches!(last, Some("apply.started" | "apply.interrupted")),
                )),
            }
        }
        let results: Vec<(String, Step<Applied>)> = std::thread::scope(|s| {
            let handles: Vec<_> = todo
                .iter()
                .map(|(name, resume)| (name.clone(), s.spawn(move || self.one(run, name, *resume))))
                .collect();
            handles
                .into_iter()
                .map(|(n, h)| {
                    (
                        n,
                        h.join()
                            .unwrap_or_else(|_| Ok(Applied::Failed("its thread panicked".into()))),
                    )
                })
                .collect()
        });
        results
            .into_iter()
            .map(|(n, r)| r.map(|a| (n, a)))
            .collect()
    }

    /// One installation: its links healthy, then its own run.
    fn one(&self, run: &str, name: &str, resume: bool) -> Step<Applied> {
        for link in &self.fleet.installations[name].uses {
            if let Err(why) = self.members.healthy(link.get_ref()) {
                let why = format!("{} (which it uses) is not healthy: {why}", link.get_ref());
                self.journal.record(run, name, "apply.failed", Some(&why))?;
                return Ok(Applied::Failed(why));
            }
        }
        (self.say)(&format!(
            "{} {name}",
            if resume { "resuming" } else { "upgrading" }
        ));
        self.journal.record(run, name, "apply.started", None)?;
        let applied = self.members.apply(name, resume);
        let (event, detail) = match &applied {
            Applied::Done => ("apply.done", None),
            Applied::Failed(why) => ("apply.failed", Some(why.as_str())),
            Applied::Interrupted(why) => ("apply.interrupted", Some(why.as_str())),
        };
        self.journal.record(run, name, event, detail)?;
        (self.say)(&format!("{name}: {}", event.trim_start_matches("apply.")));
        Ok(applied)
    }

    /// The rollout stops; by policy the upgraded installations are rolled back.
    fn stop(&self, run: &str, failed: Vec<(String, String)>) -> Step<RolloutEnd> {
        let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
        self.journal
            .record(run, "", "rollout.stopped", Some(&names.join(", ")))?;
        let mut rolled_back = Vec::new();
        if self.plan.on_failure == OnFailure::RollbackFleet {
            rolled_back = self.roll_back_upgraded(run)?;
        }
        let outcome = if rolled_back.is_empty() {
            "failed"
        } else {
            "rolled back"
        };
        self.journal.finish(run, outcome)?;
        Ok(RolloutEnd::Stopped {
            run_id: run.to_string(),
            failed,
            rolled_back,
        })
    }

    /// Every installation this rollout upgraded, the last upgraded first
    /// (users before what they use).
    pub fn roll_back_upgraded(&self, run: &str) -> Step<Vec<String>> {
        let mut upgraded: Vec<String> = Vec::new();
        for e in self.journal.events(run)? {
            match e.event.as_str() {
                "apply.done" => upgraded.push(e.installation),
                "rollback.done" => upgraded.retain(|n| *n != e.installation),
                _ => {}
            }
        }
        let mut done = Vec::new();
        for name in upgraded.iter().rev() {
            (self.say)(&format!("rolling back {name}"));
            self.journal.record(run, name, "rollback.started", None)?;
            match self.members.rollback(name) {
                Ok(()) => {
                    self.journal.record(run, name, "rollback.done", None)?;
                    done.push(name.clone());
                }
                Err(why) => self
                    .journal
                    .record(run, name, "rollback.failed", Some(&why))?,
            }
        }
        Ok(done)
    }

    fn interrupted(&self, run: &str, at: &str, why: &str) -> Step<RolloutEnd> {
        self.journal
            .record(run, at, "rollout.interrupted", Some(why))?;
        Ok(RolloutEnd::Interrupted {
            run_id: run.to_string(),
            at: at.to_string(),
            why: why.to_string(),
        })
    }

    fn reached(&self, run: &str, who: &str, events: &[&str]) -> Step<bool> {
        Ok(self
            .journal
            .events(run)?
            .iter()
            .any(|e| e.installation == who && events.contains(&e.event.as_str())))
    }
}
