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
    /// This worker, as its journal entries name it (`host pid N`).
    pub worker: String,
}

type Step<T> = Result<T, FleetJournalError>;

/// How often a worker looks again at installations other workers hold.
const POLL: std::time::Duration = std::time::Duration::from_millis(300);

/// Where an installation's last event leaves it.
fn settled(last: Option<&str>) -> bool {
    matches!(last, Some("apply.done" | "apply.skipped" | "apply.failed"))
}

impl Rollout<'_> {
    /// Runs rollout `run` from wherever its journal says it stopped,
    /// alongside any other workers of the same journal.
    pub fn run(&self, run: &str) -> Step<RolloutEnd> {
        if let Some(end) = self.back_up_all(run)? {
            return Ok(end);
        }
        for (i, wave) in self.plan.waves.iter().enumerate() {
            (self.say)(&format!(
                "wave {}: {}",
                i + 1,
                wave.installations.join(", ")
            ));
            if let Some(end) = self.wave(run, i, &wave.installations)? {
                return Ok(end);
            }
            let failed = self.failures(run)?;
            if failed.len() > self.plan.max_failures as usize {
                return self.stop(run, failed);
            }
            if let (Some(p), true) = (self.fleet.rollout.pause, i + 1 < self.plan.waves.len()) {
                std::thread::sleep(p.duration());
            }
        }
        let failed = self.failures(run)?;
        if !failed.is_empty() {
            return self.stop(run, failed);
        }
        self.journal.finish(run, "done")?;
        Ok(RolloutEnd::Done {
            run_id: run.to_string(),
        })
    }

    /// Every installation backed up and verified before any stops (by
    /// whichever worker takes it).
    fn back_up_all(&self, run: &str) -> Step<Option<RolloutEnd>> {
        loop {
            let events = self.journal.events(run)?;
            let has = |who: &str, what: &str| {
                events
                    .iter()
                    .any(|e| e.installation == who && e.event == what)
            };
            if let Some(m) = self
                .plan
                .installations
                .iter()
                .find(|m| has(&m.name, "backup.failed"))
            {
                let why = format!(
                    "its backup failed: {}",
                    self.detail(run, &m.name, "backup.failed")?
                );
                self.journal.finish(run, "failed")?;
                return Ok(Some(RolloutEnd::Stopped {
                    run_id: run.to_string(),
                    failed: vec![(m.name.clone(), why)],
                    rolled_back: Vec::new(),
                }));
            }
            let missing: Vec<&str> = self
                .plan
                .installations
                .iter()
                .map(|m| m.name.as_str())
                .filter(|n| !has(n, "backup.done"))
                .collect();
            if missing.is_empty() {
                return Ok(None);
            }
            let mut took = false;
            for name in missing {
                let Some(_claim) = self.journal.claim(run, name)? else {
                    continue;
                };
                if self.reached(run, name, &["backup.done", "backup.failed"])? {
                    continue;
                }
                took = true;
                (self.say)(&format!("backing up {name}"));
                self.journal
                    .record(run, name, "backup.started", Some(&self.worker))?;
                match self.members.backup(name) {
                    Ok(()) => self.journal.record(run, name, "backup.done", None)?,
                    Err(why) => self
                        .journal
                        .record(run, name, "backup.failed", Some(&why))?,
                }
            }
            if !took {
                if let Some(end) = self.wait(run)? {
                    return Ok(Some(end));
                }
            }
        }
    }

    /// One wave: this worker upgrades, at once, every installation of it
    /// that no other worker holds, until none is left unsettled.
    fn wave(&self, run: &str, index: usize, names: &[String]) -> Step<Option<RolloutEnd>> {
        loop {
            if let Some(sig) = crate::signals::received() {
                return self
                    .interrupted(run, "", &format!("{sig} in wave {}", index + 1))
                    .map(Some);
            }
            // One read of the journal per pass (a worker waiting on others
            // passes every few hundred milliseconds).
            let events = self.journal.events(run)?;
            let mut pending = Vec::new();
            for name in names {
                let last = events
                    .iter()
                    .rev()
                    .find(|e| e.installation == *name)
                    .map(|e| e.event.as_str());
                if settled(last) {
                    continue;
                }
                if self
                    .plan
                    .member(name)
                    .is_some_and(|m| m.plan.hops.is_empty())
                {
                    self.journal.record(
                        run,
                        name,
                        "apply.skipped",
                        Some("already at its target"),
                    )?;
                    continue;
                }
                pending.push(name.clone());
            }
            if pending.is_empty() {
                return Ok(None);
            }
            // On a shared journal each worker takes one installation at a
            // time, so the wave spreads over the workers.
            let take = if self.journal.shared() { 1 } else { usize::MAX };
            let mut mine = Vec::new();
            for name in pending {
                if mine.len() == take {
                    break;
                }
                let Some(claim) = self.journal.claim(run, &name)? else {
                    continue;
                };
                // Taken: what the journal says now is what stands.
                let last = self.journal.last(run, &name)?;
                if !settled(last.as_deref()) {
                    // Started before in this rollout: its own run is resumed.
                    let resume = self.reached(run, &name, &["apply.started"])?;
                    mine.push((name, resume, claim));
                }
            }
            if mine.is_empty() {
                if let Some(end) = self.wait(run)? {
                    return Ok(Some(end));
                }
                continue;
            }
            for (name, applied) in self.upgrade(run, mine)? {
                if let Applied::Interrupted(why) = applied {
                    return self.interrupted(run, &name, &why).map(Some);
                }
            }
        }
    }

    /// The installations this worker holds, upgraded in parallel threads,
    /// each keeping its claim until it is done.
    fn upgrade(
        &self,
        run: &str,
        mine: Vec<(String, bool, Box<dyn super::journal::Claim>)>,
    ) -> Step<Vec<(String, Applied)>> {
        let results: Vec<(String, Step<Applied>)> = std::thread::scope(|s| {
            let handles: Vec<_> = mine
                .into_iter()
                .map(|(name, resume, claim)| {
                    let who = name.clone();
                    let h = s.spawn(move || {
                        let out = self.one(run, &who, resume);
                        drop(claim);
                        out
                    });
                    (h, name)
                })
                .collect();
            handles
                .into_iter()
                .map(|(h, n)| {
                    let r = h
                        .join()
                        .unwrap_or_else(|_| Ok(Applied::Failed("its thread panicked".into())));
                    (n, r)
                })
                .collect()
        });
        results
            .into_iter()
            .map(|(n, r)| r.map(|a| (n, a)))
            .collect()
    }

    /// Waits for other workers; the rollout's end if one of them ended it.
    fn wait(&self, run: &str) -> Step<Option<RolloutEnd>> {
        if let Some(sig) = crate::signals::received() {
            return self
                .interrupted(run, "", &format!("{sig} while other workers worked"))
                .map(Some);
        }
        if let Some(r) = self.journal.run(run)?.filter(|r| r.outcome.is_some()) {
            let failed = self.failures(run)?;
            return Ok(Some(match failed.is_empty() {
                true => RolloutEnd::Done { run_id: r.id },
                false => RolloutEnd::Stopped {
                    run_id: r.id,
                    failed,
                    rolled_back: Vec::new(),
                },
            }));
        }
        std::thread::sleep(POLL);
        Ok(None)
    }

    /// The installations that failed in this rollout, with why.
    fn failures(&self, run: &str) -> Step<Vec<(String, String)>> {
        let events = self.journal.events(run)?;
        Ok(events
            .iter()
            .filter(|e| e.event == "apply.failed")
            .map(|e| (e.installation.clone(), e.detail.clone().unwrap_or_default()))
            .collect())
    }

    fn detail(&self, run: &str, who: &str, what: &str) -> Step<String> {
        Ok(self
            .journal
            .events(run)?
            .into_iter()
            .find(|e| e.installation == who && e.event == what)
            .and_then(|e| e.detail)
            .unwrap_or_default())
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
        self.journal
            .record(run, name, "apply.started", Some(&self.worker))?;
        let applied = self.members.apply(name, resume);
        let (event, detail) = match &applied {
            Applied::Done => ("apply.done", None),
            Applied::Failed(why) => ("apply.failed", Some(why.as_str())),
            Applied::Interrupted(why) => ("apply.interrupted", Some(why.as_str())),
        };
        self.journal.record(run, name, event, detail)?;
        let what = event.trim_start_matches("apply.");
        (self.say)(&match detail {
            Some(d) => format!("{name}: {what}: {d}"),
            None => format!("{name}: {what}"),
        });
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
            let Some(_claim) = self.journal.claim(run, name)? else {
                continue;
            };
            if self.journal.last(run, name)?.as_deref() == Some("rollback.done") {
                continue;
            }
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
        let detail = match at {
            "" => why.to_string(),
            at => format!("{at}: {why}"),
        };
        self.journal
            .record(run, "", "rollout.interrupted", Some(&detail))?;
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
