//! Progress reporting. The CLI implements [`Progress`] with progress bars
//! (hidden without a TTY or with `--json`); tests use [`NoProgress`].

/// Receives coarse progress events from backup, verify and restore.
pub trait Progress: Sync {
    /// A new phase starts (`backing up`, `checking repository`, `restoring`).
    fn phase(&self, _name: &str) {}
    /// Work on one store starts.
    fn store_started(&self, _store: &str) {}
    /// Work on one store ended.
    fn store_finished(&self, _store: &str, _ok: bool) {}
    /// `done` bytes of `store` read or written so far, of `total` when
    /// known (a tool's dump stream has no size until it ends); from any
    /// thread, a few times a second or on each write.
    fn bytes(&self, _store: &str, _done: u64, _total: Option<u64>) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
