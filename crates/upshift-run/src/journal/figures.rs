//! What `history` says of a run, read from its journaled events alone:
//! the maintenance window, the run's own duration, the version it left
//! installed and a later manual rollback. No counter is kept beside the
//! events, so no path of the executor can forget to update one.

use serde::Serialize;

use upshift_core::plan::StepId;
use upshift_core::Plan;

use super::{RunRecord, StepEvent, StepState};
use crate::detail::Detail;

/// A run as `history` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// The journaled run, with `maintenance_ms` and `at_version` as read
    /// from its events ([`Figures`]).
    #[serde(flatten)]
    pub run: RunRecord,
    /// The same as `maintenance_ms`.
    pub window_ms: i64,
    /// From the start to the run's own outcome; none while it runs.
    pub duration_ms: Option<i64>,
    /// When a later `upshift rollback` of this run finished.
    pub manual_rollback_ms: Option<i64>,
    /// How long each data step (migration) took, in order.
    pub data_steps: Vec<DataStepTime>,
}

/// One data step of a run, timed from its journal events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataStepTime {
    /// 1-based, as plans number hops.
    pub hop: usize,
    /// `migrate.ID`.
    pub step: String,
    pub ms: i64,
}

/// Each data step that finished: from its (last) start to its done.
pub fn data_step_times(events: &[StepEvent]) -> Vec<DataStepTime> {
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let is_data = e.step.kind() == upshift_core::plan::StepKind::DataMigration;
        if !is_data || e.state != StepState::Done {
            continue;
        }
        let started = events[..i]
            .iter()
            .rev()
            .find(|s| s.hop == e.hop && s.step == e.step && s.state == StepState::Started);
        if let Some(s) = started {
            out.push(DataStepTime {
                hop: e.hop + 1,
                step: e.step.to_string(),
                ms: (e.at_ms - s.at_ms).max(0),
            });
        }
    }
    out
}

impl RunView {
    pub fn of(mut run: RunRecord, events: &[StepEvent]) -> RunView {
        let f = Figures::of(&run, events);
        run.maintenance_ms = f.window_ms;
        run.at_version = Some(f.at_version);
        RunView {
            run,
            window_ms: f.window_ms,
            duration_ms: f.duration_ms,
            manual_rollback_ms: f.manual_rollback_ms,
            data_steps: data_step_times(events),
        }
    }
}

/// A run's figures, from its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// How long the services were down: in each hop, from its first stop
    /// to the moment every service answered again (on the new version, or
    /// on the old one after the hop was undone or rolled back), summed over
    /// hops. A window still open ends at the last event journaled.
    pub window_ms: i64,
    /// From the start to the run's own outcome (a later manual rollback
    /// not included); none while the run is unfinished.
    pub duration_ms: Option<i64>,
    /// The version installed as the journal knows it: the new one once a
    /// hop's swap is journaled done, the target of a finished rollback.
    pub at_version: String,
    /// When the last manual rollback of the run finished.
    pub manual_rollback_ms: Option<i64>,
}

impl Figures {
    pub fn of(run: &RunRecord, events: &[StepEvent]) -> Figures {
        let manual_from = events.iter().position(is_manual_rollback);
        let own = &events[..manual_from.unwrap_or(events.len())];
        Figures {
            window_ms: window(own),
            duration_ms: duration(run, own, manual_from.map(|i| events[i].at_ms)),
            at_version: at_version(run, events),
            manual_rollback_ms: events
                .iter()
                .rev()
                .find(|e| e.step == StepId::Rollback && e.state == StepState::Done)
                .filter(|_| manual_from.is_some())
                .map(|e| e.at_ms),
        }
    }
}

/// The start of a rollback an operator asked for (`upshift rollback`).
fn is_manual_rollback(e: &StepEvent) -> bool {
    e.step == StepId::Rollback
        && e.state == StepState::Started
        && matches!(e.detail, Some(Detail::RollbackTarget { manual: true, .. }))
}

/// The run's end unless that end is a later manual rollback; then its
/// last own event.
fn duration(run: &RunRecord, own: &[StepEvent], manual_at: Option<i64>) -> Option<i64> {
    let end = match (run.ended_ms, manual_at) {
        (Some(e), Some(m)) if e >= m => own.last().map_or(run.started_ms, |e| e.at_ms),
        (Some(e), _) => e,
        (None, Some(_)) => own.last().map_or(run.started_ms, |e| e.at_ms),
        (None, None) => return None,
    };
    Some((end - run.started_ms).max(0))
}

/// The downtime of hop `hop` alone (a rehearsal reports each hop's).
pub fn hop_window_ms(events: &[StepEvent], hop: usize) -> i64 {
    let of_hop: Vec<&StepEvent> = events.iter().filter(|e| e.hop == hop).collect();
    hop_window(&of_hop)
}

/// The downtime of every hop, summed.
fn window(events: &[StepEvent]) -> i64 {
    let hops: std::collections::BTreeSet<usize> = events.iter().map(|e| e.hop).collect();
    hops.into_iter()
        .map(|h| {
            let of_hop: Vec<&StepEvent> = events.iter().filter(|e| e.hop == h).collect();
            hop_window(&of_hop)
        })
        .sum()
}

/// One hop's downtime: intervals that a stop (or an automatic rollback)
/// opens and a service healthy again closes. A start inside the window
/// opens again (the services it waits for are still down); a second close
/// in a row moves the end (the last service answered later).
fn hop_window(events: &[&StepEvent]) -> i64 {
    let kept: Vec<&StepId> = events
        .iter()
        .filter(|e| matches!(e.detail, Some(Detail::KeptRunning { .. })))
        .map(|e| &e.step)
        .collect();
    let mut total = 0;
    let mut open: Option<i64> = None;
    let mut last_close: Option<(i64, i64)> = None;
    let mut seen_stop = false;
    for e in events {
        let real_stop = matches!(e.step, StepId::Stop(_)) && !kept.contains(&&e.step);
        let opens = e.state == StepState::Started
            && (real_stop
                || e.step == StepId::Rollback
                || (seen_stop && matches!(e.step, StepId::Start(_))));
        let closes = matches!(
            (&e.step, e.state),
            (StepId::Health(_) | StepId::Rollback, StepState::Done)
                | (StepId::Stop(_), StepState::Undone)
        );
        if opens {
            seen_stop = true;
            open.get_or_insert(e.at_ms);
        } else if closes {
            match (open.take(), last_close) {
                (Some(start), _) => {
                    total += e.at_ms - start;
                    last_close = Some((start, e.at_ms));
                }
                (None, Some((start, end))) => {
                    total += e.at_ms - end;
                    last_close = Some((start, e.at_ms));
                }
                (None, None) => {}
            }
        }
    }
    if let (Some(start), Some(last)) = (open, events.last()) {
        total += last.at_ms - start;
    }
    total.max(0)
}

/// The version installed: the start version, moved on by every swap
/// journaled done and every rollback finished. Without a readable plan,
/// what the run's row says.
fn at_version(run: &RunRecord, events: &[StepEvent]) -> String {
    let row = run.at_version.clone().unwrap_or_else(|| run.from.clone());
    let Ok(plan) = Plan::from_json("journal", &run.plan_json) else {
        return row;
    };
    let mut at = run.from.clone();
    for e in events.iter().filter(|e| e.state == StepState::Done) {
        match (&e.step, &e.detail) {
            (StepId::Swap, _) => {
                if let Some(hop) = plan.hops.get(e.hop) {
                    at = hop.to.clone();
                }
            }
            (StepId::Rollback, Some(Detail::RollbackTarget { version, .. })) => {
                at = version.clone();
            }
            _ => {}
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Outcome;

    fn ev(seq: i64, hop: usize, step: &str, state: StepState, at_ms: i64) -> StepEvent {
        StepEvent {
            seq,
            hop,
            step: step.parse().unwrap(),
            state,
            at_ms,
            detail: None,
        }
    }

    fn run(ended_ms: Option<i64>) -> RunRecord {
        RunRecord {
            id: "r".into(),
            installation: "demo".into(),
            product: "demo".into(),
            from: "1.0.0".into(),
            to: "1.1.0".into(),
            started_ms: 0,
            ended_ms,
            maintenance_ms: 0,
            outcome: Outcome::RolledBack,
            at_version: Some("1.0.0".into()),
            error: None,
            snapshots: Vec::new(),
            plan_json: String::new(),
        }
    }

    fn rollback(seq: i64, state: StepState, at_ms: i64, manual: bool) -> StepEvent {
        StepEvent {
            detail: Some(Detail::RollbackTarget {
                version: "1.0.0".into(),
                snapshot: None,
                frozen: None,
                keeps_data: false,
                manual,
            }),
            ..ev(seq, 0, "rollback", state, at_ms)
        }
    }

    use StepState::{Done, Started, Undone};

    #[test]
    fn an_automatic_rollback_closes_the_window_when_the_old_version_answers() {
        let events = vec![
            ev(1, 0, "stop.notes", Started, 100),
            ev(2, 0, "stop.notes", Done, 110),
            ev(3, 0, "stop.auth", Started, 110),
            ev(4, 0, "stop.auth", Done, 120),
            ev(5, 0, "start.auth", Started, 200),
            ev(6, 0, "health.auth", Started, 210),
            rollback(7, Started, 10_000, false),
            rollback(8, Done, 30_000, false),
        ];
        let f = Figures::of(&run(Some(30_010)), &events);
        assert_eq!(f.window_ms, 30_000 - 100);
        assert_eq!(f.duration_ms, Some(30_010));
        assert_eq!(f.manual_rollback_ms, None);
    }

    #[test]
    fn a_hop_undone_before_its_swap_ends_when_the_last_service_answers() {
        let events = vec![
            ev(1, 0, "stop.notes", Started, 100),
            ev(2, 0, "stop.notes", Done, 110),
            ev(3, 0, "stop.auth", Started, 110),
            ev(4, 0, "stop.auth", Undone, 400),
            ev(5, 0, "stop.notes", Undone, 700),
        ];
        assert_eq!(window(&events), 600);
    }

    #[test]
    fn a_window_interrupted_and_resumed_counts_only_the_downtime() {
        let events = vec![
            ev(1, 0, "stop.notes", Started, 100),
            ev(2, 0, "stop.notes", Undone, 300),
            // Serving again until the run resumes.
            ev(3, 0, "stop.notes", Started, 10_000),
            ev(4, 0, "start.notes", Started, 10_100),
            ev(5, 0, "health.notes", Done, 10_500),
            ev(6, 1, "stop.notes", Started, 20_000),
            ev(7, 1, "health.notes", Done, 20_050),
        ];
        assert_eq!(window(&events), 200 + 500 + 50);
    }

    #[test]
    fn services_kept_running_make_no_window() {
        let kept = StepEvent {
            detail: Some(Detail::KeptRunning { why: "w".into() }),
            ..ev(2, 0, "stop.auth", Done, 5)
        };
        let events = vec![
            ev(1, 0, "stop.auth", Started, 1),
            kept,
            ev(3, 0, "start.auth", Started, 50),
            ev(4, 0, "health.auth", Done, 60),
        ];
        assert_eq!(window(&events), 0);
    }

    #[test]
    fn a_later_manual_rollback_is_not_the_runs_duration() {
        let events = vec![
            ev(1, 0, "stop.auth", Started, 100),
            ev(2, 0, "health.auth", Done, 300),
            ev(3, 0, "backup.post", Done, 900),
            rollback(4, Started, 60_000, true),
            ev(5, 0, "stop.auth", Started, 60_010),
            rollback(6, Done, 61_000, true),
        ];
        let succeeded_then_rolled_back = Figures::of(&run(Some(950)), &events);
        assert_eq!(succeeded_then_rolled_back.duration_ms, Some(950));
        assert_eq!(succeeded_then_rolled_back.window_ms, 200);
        assert_eq!(succeeded_then_rolled_back.manual_rollback_ms, Some(61_000));
        // A journal whose end was moved by the rollback: the last own event.
        let moved = Figures::of(&run(Some(61_001)), &events);
        assert_eq!(moved.duration_ms, Some(900));
    }
}
