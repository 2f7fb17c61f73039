//! The generic swap and rollback over deployments, with a fake deployment
//! that records its calls: the record is journaled before any swap acts,
//! and after a crash the first record is the one every later call sees.
//! No Docker, Helm or services are needed: the deployment is the fake.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{json, Value};
use upshift_core::plan::{Hop, StepId};
use upshift_core::CatalogSet;

use super::{At, Cx, Deployment};
use crate::error::{StepError, StepResult};
use crate::host::Target;
use crate::journal::{now_ms, Journal, Outcome, RunRecord, StepState};
use crate::state::StateDir;

/// What the fake saw: every call, in order.
type Calls = Rc<RefCell<Vec<String>>>;

/// A deployment whose "current state" is a number, recorded before the
/// swap; the swap fails (a crash mid-swap) while `fail` is set.
struct Fake {
    key: &'static str,
    state: Rc<RefCell<u64>>,
    fail: Rc<RefCell<bool>>,
    calls: Calls,
}

impl Deployment for Fake {
    fn key(&self) -> &'static str {
        self.key
    }

    fn record(&self, _cx: &Cx, _at: At) -> StepResult<Option<Value>> {
        let state = *self.state.borrow();
        self.calls
            .borrow_mut()
            .push(format!("{} record {state}", self.key));
        Ok(Some(json!(state)))
    }

    fn swap(&self, _cx: &Cx, at: At, record: Option<&Value>) -> StepResult {
        self.calls.borrow_mut().push(format!(
            "{} swap to {} (was {})",
            self.key,
            at.hop.to,
            record.unwrap()
        ));
        // The swap changes the state before it can fail, as a real one would.
        *self.state.borrow_mut() += 1;
        if *self.fail.borrow() {
            return Err(StepError::msg("killed in the middle of the swap"));
        }
        Ok(Some(format!("{} swapped", self.key)))
    }

    fn roll_back(&self, _cx: &Cx, version: &str, record: Option<&Value>) -> StepResult<()> {
        self.calls.borrow_mut().push(format!(
            "{} back to {version} (state {})",
            self.key,
            record.map_or("none".to_string(), Value::to_string)
        ));
        Ok(())
    }
}

struct World {
    _dir: tempfile::TempDir,
    journal: Journal,
    loaded: upshift_core::Loaded,
    target: Target,
    state: StateDir,
    hops: Vec<Hop>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let src = "[installation]\nname = \"t\"\nproduct = \"demo\"\nversion = \"1.0.0\"\n";
        let loaded = upshift_core::load("upshift.toml", src, &CatalogSet::built_in()).unwrap();
        let state = StateDir::beside(dir.path());
        let journal = Journal::open(&state.journal()).unwrap();
        journal
            .begin_run(&RunRecord {
                id: "r1".into(),
                installation: "t".into(),
                product: "demo".into(),
                from: "1.0.0".into(),
                to: "1.1.0".into(),
                started_ms: now_ms(),
                ended_ms: None,
                maintenance_ms: 0,
                outcome: Outcome::Running,
                at_version: None,
                error: None,
                snapshots: Vec::new(),
                plan_json: "{}".into(),
            })
            .unwrap();
        let hops = vec![Hop {
            from: "1.0.0".into(),
            to: "1.1.0".into(),
            reasons: vec![],
            crosses: vec![],
            notes: vec![],
            estimated_window: None,
            template_diff: None,
            upstream: Vec::new(),
            images: vec![],
            steps: vec![],
        }];
        World {
            target: Target::local(dir.path()),
            _dir: dir,
            journal,
            loaded,
            state,
            hops,
        }
    }

    fn cx(&self) -> Cx<'_> {
        Cx {
            loaded: &self.loaded,
            target: &self.target,
            state: &self.state,
            progress: &Quiet,
            run_id: "r1",
            listener: None,
        }
    }
}

struct Quiet;
impl crate::Progress for Quiet {
    fn step(&self, _: &crate::StepProgress) {}
    fn note(&self, _: &str) {}
}

fn fake(key: &'static str, calls: &Calls) -> (Fake, Rc<RefCell<u64>>, Rc<RefCell<bool>>) {
    let state = Rc::new(RefCell::new(7));
    let fail = Rc::new(RefCell::new(false));
    let f = Fake {
        key,
        state: state.clone(),
        fail: fail.clone(),
        calls: calls.clone(),
    };
    (f, state, fail)
}

#[test]
fn the_record_is_journaled_before_the_swap_and_the_first_one_survives_a_crash() {
    let w = World::new();
    let calls: Calls = Rc::default();
    let (a, a_state, a_fail) = fake("a", &calls);
    let (b, _, _) = fake("b", &calls);
    let list: Vec<Box<dyn Deployment>> = vec![Box::new(a), Box::new(b)];
    let at = At {
        index: 0,
        hop: &w.hops[0],
    };

    // A crash in the middle of the first swap: `a` changed its state.
    *a_fail.borrow_mut() = true;
    assert!(super::swap(&w.journal, &w.cx(), at, &list).is_err());
    assert_eq!(
        *a_state.borrow(),
        8,
        "the fake's swap acted before it failed"
    );
    let events = w.journal.events("r1").unwrap();
    let first = events
        .iter()
        .find(|e| e.step == StepId::Swap)
        .expect("the swap journaled its record");
    assert_eq!(first.state, StepState::Started);
    assert_eq!(
        super::swap_records(&w.journal, "r1", 0).unwrap(),
        [("a".to_string(), json!(7)), ("b".to_string(), json!(7))]
            .into_iter()
            .collect()
    );

    // Resume: the swap runs again; `a` is not asked to record its changed
    // state, and both deployments are handed the first record.
    *a_fail.borrow_mut() = false;
    calls.borrow_mut().clear();
    let done = super::swap(&w.journal, &w.cx(), at, &list).unwrap();
    assert_eq!(done, ["a swapped", "b swapped"]);
    assert_eq!(
        *calls.borrow(),
        ["a swap to 1.1.0 (was 7)", "b swap to 1.1.0 (was 7)"]
    );

    // A rollback to the hop's start gives each deployment the record of
    // the state before the swap, in list order.
    calls.borrow_mut().clear();
    super::roll_back(&w.journal, &w.cx(), &w.hops, "1.0.0", &list).unwrap();
    assert_eq!(
        *calls.borrow(),
        ["a back to 1.0.0 (state 7)", "b back to 1.0.0 (state 7)"]
    );
}

#[test]
fn a_rollback_to_a_version_no_hop_started_from_has_no_record() {
    let w = World::new();
    let calls: Calls = Rc::default();
    let (a, _, _) = fake("a", &calls);
    let list: Vec<Box<dyn Deployment>> = vec![Box::new(a)];
    super::roll_back(&w.journal, &w.cx(), &w.hops, "0.9.0", &list).unwrap();
    assert_eq!(*calls.borrow(), ["a back to 0.9.0 (state none)"]);
}

#[test]
fn every_manifest_service_has_exactly_one_owner() {
    let src = r#"
[installation]
name = "t"
product = "demo"
version = "1.0.0"
[services.auth]
driver = "process"
[services.auth.process]
start = "./auth"
[services.web]
driver = "compose"
[services.web.compose]
project = "p"
[services.ui]
driver = "helm"
[services.ui.helm]
release = "r"
chart = "c"
[services.db]
driver = "systemd"
"#;
    let loaded = upshift_core::load("upshift.toml", src, &CatalogSet::built_in()).unwrap();
    let list = super::deployments(&loaded);
    for name in loaded.manifest.services.keys() {
        let owners: Vec<&str> = list
            .iter()
            .filter(|d| d.owns(name))
            .map(|d| d.key())
            .collect();
        assert_eq!(owners.len(), 1, "{name}: {owners:?}");
    }
    assert!(super::owner(&list, "nobody").is_err());
    let ui = super::owner(&list, "ui").unwrap();
    assert!(ui.serves_while_stopped("ui"));
    assert!(!super::owner(&list, "web")
        .unwrap()
        .serves_while_stopped("web"));
}
