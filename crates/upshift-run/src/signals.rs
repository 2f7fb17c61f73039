//! SIGINT, SIGTERM and SIGHUP during a run: remembered, never fatal. The
//! executor looks at [`received`] between steps and stops where stopping
//! is safe (see `Runner::on_interrupt`). Every command upshift runs is in
//! its own process group, so Ctrl-C on the terminal reaches upshift alone,
//! and services run in their own session, so they outlive upshift.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The last signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn remember(sig: libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// Installs the handlers (once per process; installing again is harmless).
pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(remember),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores into an atomic, which is
        // async-signal-safe.
        unsafe {
            let _ = sigaction(sig, &action);
        }
    }
}

/// The signal received since the run began, if any (`SIGINT`, …).
pub fn received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGHUP => Some("SIGHUP"),
        _ => Some("a signal"),
    }
}
