//! Before `resume` continues a run: make the installation match what the
//! journal says (after a power loss nothing runs).

use upshift_core::plan::StepId;

use super::runner::Runner;
use crate::error::{Result, RunError};

impl Runner<'_> {
    /// Before `resume` continues: every service the journal says runs is
    /// checked, and started again when it does not answer (after a power
    /// loss nothing runs). Services the interrupted hop stopped and has not
    /// started yet stay stopped: the maintenance page serves for them.
    pub(super) fn reconcile(&mut self) -> Result<()> {
        let done = self.done()?;
        let current = self
            .plan
            .hops
            .iter()
            .enumerate()
            .find(|(h, hop)| !hop.steps.iter().all(|s| done.contains(&(*h, s.id.clone()))))
            .map(|(h, _)| h);
        let m = self.setup.loaded.manifest.clone();
        let t = self.target().clone();
        for name in m.start_order() {
            let down_on_purpose = current.is_some_and(|h| {
                done.contains(&(h, StepId::Stop(name.to_string())))
                    && !done.contains(&(h, StepId::Start(name.to_string())))
            });
            if down_on_purpose {
                continue;
            }
            let svc = &m.services[name];
            let answers = match &svc.health {
                Some(hc) => crate::health::check(hc, &t).is_ok(),
                // Without a health check only a process service can be
                // started again safely (its start does nothing while its
                // pid lives); another kind's start command might start a
                // second copy.
                None => !matches!(svc.run(), upshift_core::manifest::Driver::Process(_)),
            };
            if answers {
                continue;
            }
            self.setup.progress.note(&format!(
                "resume: {name} should be running and is not answering: starting it"
            ));
            let start = crate::deploy::owner(&self.deployments, name)
                .and_then(|d| d.start(&self.cx(), name))
                .and_then(|_| match &svc.health {
                    Some(hc) => crate::health::wait(hc, &t),
                    None => Ok(()),
                });
            if let Err(e) = start {
                return Err(RunError::Step(crate::error::StepError::msg(format!(
                    "resume: {name} should be running and cannot be started: {e}; fix it, then run `upshift resume` again"
                ))));
            }
        }
        Ok(())
    }
}
