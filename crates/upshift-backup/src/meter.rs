//! Bytes done of long work (a backup's reads, a verify's data, a restore's
//! writes), reported through [`Progress::bytes`]. Counters are shared with
//! the threads that read and write (the archiver's, rustic_core's); a
//! reporter on a thread of its own passes them on every
//! [`REPORT_EVERY`] while the work runs, and once at its end.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use rustic_core::{ProgressBars, ProgressType, RusticProgress};

use crate::progress::Progress;

/// How often counters are reported while work runs.
pub(crate) const REPORT_EVERY: Duration = Duration::from_millis(100);

/// `total` when it is not known.
const UNKNOWN: u64 = u64::MAX;

/// The bytes done of one store, of a total when known.
#[derive(Debug)]
pub(crate) struct Tally {
    store: String,
    done: AtomicU64,
    total: AtomicU64,
}

impl Tally {
    pub(crate) fn new(store: &str, total: Option<u64>) -> Arc<Tally> {
        Arc::new(Tally {
            store: store.to_string(),
            done: AtomicU64::new(0),
            total: AtomicU64::new(total.unwrap_or(UNKNOWN)),
        })
    }

    pub(crate) fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// More work of a known size (`None`: of unknown size, so the total is).
    pub(crate) fn expect(&self, more: Option<u64>) {
        let _ = self
            .total
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(match (t, more) {
                    (UNKNOWN, _) | (_, None) => UNKNOWN,
                    (t, Some(m)) => t.saturating_add(m).min(UNKNOWN - 1),
                })
            });
    }

    pub(crate) fn store(&self) -> &str {
        &self.store
    }

    fn snapshot(&self) -> (u64, Option<u64>) {
        let total = self.total.load(Ordering::Relaxed);
        (
            self.done.load(Ordering::Relaxed),
            (total != UNKNOWN).then_some(total),
        )
    }
}

/// Runs `work` on this thread while another reports `tallies` to
/// `progress` (each when it changed), and reports them a last time at the
/// end. A panic in `work` stops the reporter too.
pub(crate) fn watch<T>(
    progress: &dyn Progress,
    tallies: &[Arc<Tally>],
    work: impl FnOnce() -> T,
) -> T {
    let mut last = vec![(0, None); tallies.len()];
    let mut report = move || {
        for (t, seen) in tallies.iter().zip(last.iter_mut()) {
            let now = t.snapshot();
            if now != *seen && now.0 > 0 {
                progress.bytes(t.store(), now.0, now.1);
                *seen = now;
            }
        }
    };
    std::thread::scope(|s| {
        let (stop, stopped) = channel::<()>();
        s.spawn(move || loop {
            let end = stopped.recv_timeout(REPORT_EVERY) != Err(RecvTimeoutError::Timeout);
            report();
            if end {
                return;
            }
        });
        // Dropped when `work` returns or unwinds: the reporter ends.
        let _stop = stop;
        work()
    })
}

/// A reader that counts what it reads into a [`Tally`].
pub(crate) struct Counted<R> {
    inner: R,
    tally: Arc<Tally>,
}

impl<R> Counted<R> {
    pub(crate) fn new(inner: R, tally: Arc<Tally>) -> Self {
        Counted { inner, tally }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tally.add(n as u64);
        Ok(n)
    }
}

/// A writer that reports each write of one store's `total` bytes
/// directly (it runs on the thread that owns `progress`).
pub(crate) struct Reporting<'a, W> {
    inner: W,
    progress: &'a dyn Progress,
    store: &'a str,
    done: u64,
    total: Option<u64>,
}

impl<'a, W> Reporting<'a, W> {
    pub(crate) fn new(
        inner: W,
        progress: &'a dyn Progress,
        store: &'a str,
        total: Option<u64>,
    ) -> Self {
        Reporting {
            inner,
            progress,
            store,
            done: 0,
            total,
        }
    }
}

impl<W: Write> Write for Reporting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.done += n as u64;
        self.progress.bytes(self.store, self.done, self.total);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// rustic_core's progress bars, counting into a [`Tally`] the bytes of
/// the one progress named `prefix` (`reading pack data...` of a check);
/// every other progress is hidden.
#[derive(Debug, Clone)]
pub(crate) struct BytesOf {
    pub(crate) prefix: &'static str,
    pub(crate) tally: Arc<Tally>,
}

impl ProgressBars for BytesOf {
    fn progress(&self, kind: ProgressType, prefix: &str) -> rustic_core::Progress {
        match kind {
            ProgressType::Bytes if prefix == self.prefix => {
                rustic_core::Progress::new(Bar(self.tally.clone()))
            }
            _ => rustic_core::Progress::hidden(),
        }
    }
}

#[derive(Debug)]
struct Bar(Arc<Tally>);

impl RusticProgress for Bar {
    fn is_hidden(&self) -> bool {
        false
    }
    fn set_length(&self, len: u64) {
        self.0.total.store(len.min(UNKNOWN - 1), Ordering::Relaxed);
    }
    fn set_title(&self, _title: &str) {}
    fn inc(&self, inc: u64) {
        self.0.add(inc);
    }
    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Seen(Mutex<Vec<(String, u64, Option<u64>)>>);

    impl Progress for Seen {
        fn bytes(&self, store: &str, done: u64, total: Option<u64>) {
            self.0.lock().unwrap().push((store.into(), done, total));
        }
    }

    #[test]
    fn counted_reads_are_reported_at_the_end_at_least() {
        let seen = Seen::default();
        let a = Tally::new("a", Some(10));
        let b = Tally::new("b", None);
        let got = watch(&seen, &[a.clone(), b.clone()], || {
            let mut r = Counted::new(&b"0123456789"[..], a.clone());
            std::io::copy(&mut r, &mut std::io::sink()).unwrap()
        });
        assert_eq!(got, 10);
        let seen = seen.0.into_inner().unwrap();
        assert_eq!(seen.last(), Some(&("a".into(), 10, Some(10))));
        assert!(seen.iter().all(|s| s.0 == "a"), "b read nothing: {seen:?}");
    }

    #[test]
    fn a_part_of_unknown_size_makes_the_total_unknown() {
        let t = Tally::new("s", Some(5));
        t.expect(Some(5));
        assert_eq!(t.snapshot(), (0, Some(10)));
        t.expect(None);
        t.expect(Some(5));
        assert_eq!(t.snapshot(), (0, None));
    }

    #[test]
    fn a_panicking_work_stops_the_reporter() {
        let seen = Seen::default();
        let t = Tally::new("s", None);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            watch(&seen, std::slice::from_ref(&t), || -> () { panic!("boom") })
        }));
        assert!(r.is_err());
    }

    #[test]
    fn writes_are_reported_as_they_happen() {
        let seen = Seen::default();
        let mut w = Reporting::new(Vec::new(), &seen, "db", Some(6));
        w.write_all(b"abc").unwrap();
        w.write_all(b"def").unwrap();
        let seen = seen.0.into_inner().unwrap();
        assert_eq!(seen.last(), Some(&("db".into(), 6, Some(6))));
    }
}
