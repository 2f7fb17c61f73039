//! A service's public address through a stop and a start: the maintenance
//! page keeps it listening from before the stop (the service's own socket,
//! taken from it) and gives it back at the start, handed over to a service
//! that opts into socket activation, released just before the start of one
//! that binds the address itself.

use super::runner::Runner;
use crate::deploy::{self, Cx};
use crate::error::StepResult;
use crate::maintenance::Origin;

impl Runner<'_> {
    /// Stops service `name`, the maintenance page taking over its public
    /// address (when the page is on and the service does not keep serving).
    pub(super) fn stop_behind_page(&mut self, name: &str) -> StepResult<()> {
        let setup = self.setup;
        let m = &setup.loaded.manifest;
        let d = deploy::owner(&self.deployments, name)?;
        let addr = m.services[name]
            .public_address
            .as_deref()
            .filter(|_| m.maintenance.page && !d.serves_while_stopped(name));
        if let Some(addr) = addr {
            if let Some(Origin::Taken { pid }) =
                self.page.take_before_stop(&setup.target.host, addr)
            {
                setup.progress.note(&format!(
                    "the maintenance page keeps {addr} listening: it holds the socket of {name} (pid {pid}) through the stop"
                ));
            }
        }
        d.stop(&self.cx(), name)?;
        if let Some(addr) = addr {
            self.page.serve_on(&setup.target.host, addr)?;
        }
        Ok(())
    }

    /// Starts service `name`, the page giving up its public address first:
    /// its listening socket is handed to a service with socket activation
    /// (connections wait in its queue until the new version accepts), else
    /// closed so the service can bind it.
    pub(super) fn start_after_page(&mut self, name: &str) -> StepResult<()> {
        let setup = self.setup;
        let svc = &setup.loaded.manifest.services[name];
        let held = match svc.public_address.as_deref() {
            Some(addr) if svc.socket_activation() => self.page.hand_over(addr),
            Some(addr) => {
                self.page.release(addr);
                None
            }
            None => None,
        };
        let cx = Cx {
            listener: held.as_ref().map(|h| h.fd()),
            ..self.cx()
        };
        // The started program has its own copy now: upshift's closes here.
        deploy::owner(&self.deployments, name)?.start(&cx, name)
    }
}
