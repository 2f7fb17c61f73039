//! The maintenance page: while a service is down, upshift answers on its
//! public address with HTTP 503, `Retry-After` and a small page naming the
//! installation, the operator's message and when it should be back, so
//! users see "upgrading" instead of a refused connection.

mod held;
mod notice;
mod page;

pub use held::{HeldListener, Origin};
pub use notice::{Back, Notice, Window, MESSAGE_LIMIT};
pub use page::{escape, html, response};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::error::{StepError, StepResult};
use crate::host::{Host, Ssh};

/// How often a listener's thread looks at its stop flag while no client
/// connects: the longest a hand-over waits for it.
const TICK_MS: u8 = 5;

struct Listener {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    /// The socket on a local address, kept to hand to the service's new
    /// version (`None` for another host's address, forwarded over ssh).
    held: Option<HeldListener>,
    /// The ssh forward to cancel on release.
    forward: Option<(Ssh, u16)>,
}

/// The page, served on any number of addresses.
pub struct MaintenancePage {
    /// What every listener answers, rendered anew for each request (the
    /// time left changes; the window is known once it opened).
    notice: Arc<Mutex<Notice>>,
    listeners: BTreeMap<String, Listener>,
    /// Sockets taken from services about to stop, served once they stopped.
    taken: BTreeMap<String, HeldListener>,
}

impl MaintenancePage {
    pub fn new(notice: Notice) -> Self {
        MaintenancePage {
            notice: Arc::new(Mutex::new(notice)),
            listeners: BTreeMap::new(),
            taken: BTreeMap::new(),
        }
    }

    /// The window opened at `opened` and is expected to last `estimate`:
    /// the page says when the service should be back from now on.
    pub fn window(&self, opened: SystemTime, estimate: Option<Duration>) {
        lock(&self.notice).window = Some(Window { opened, estimate });
    }

    /// Before the service on `addr` stops: keeps a copy of its listening
    /// socket (see [`HeldListener::take`]), so the address never stops
    /// listening; connections made during the stop wait in its queue and
    /// the page answers them once [`MaintenancePage::serve`] runs. Nothing
    /// is kept where the kernel refuses: `serve` binds instead.
    pub fn take_before_stop(&mut self, host: &Host, addr: &str) -> Option<Origin> {
        if matches!(host, Host::Ssh(_)) || self.listeners.contains_key(addr) {
            return None;
        }
        if !self.taken.contains_key(addr) {
            self.taken
                .insert(addr.to_string(), HeldListener::take(addr)?);
        }
        self.taken.get(addr).map(|h| h.origin)
    }

    /// Starts answering on `addr`, whose service just stopped: on the
    /// socket taken from it if it still listens, else on one bound now
    /// (retried until a deadline while the port frees).
    pub fn serve(&mut self, addr: &str) -> StepResult<()> {
        if self.listeners.contains_key(addr) {
            return Ok(());
        }
        let held = match self.taken.remove(addr) {
            Some(h) if h.listens() => h,
            _ => HeldListener::bind(addr)?,
        };
        let l = self.spawn(held.handle()?, Some(held), None)?;
        self.listeners.insert(addr.to_string(), l);
        Ok(())
    }

    /// [`MaintenancePage::serve`] on `host`: for another machine, the page
    /// listens on a loopback port here and that machine's `addr` forwards
    /// to it through the ssh connection.
    pub fn serve_on(&mut self, host: &Host, addr: &str) -> StepResult<()> {
        let Host::Ssh(ssh) = host else {
            return self.serve(addr);
        };
        if self.listeners.contains_key(addr) {
            return Ok(());
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("maintenance page cannot listen on loopback: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| StepError::msg(e.to_string()))?
            .port();
        let l = self.spawn(listener, None, Some((ssh.clone(), port)))?;
        match retry(addr, || {
            ssh.forward_remote(addr, port)
                .map_err(|e| StepError::msg(e.to_string()))
        }) {
            Ok(()) => {
                self.listeners.insert(addr.to_string(), l);
                Ok(())
            }
            Err(e) => {
                stop(l);
                Err(e)
            }
        }
    }

    fn spawn(
        &self,
        listener: TcpListener,
        held: Option<HeldListener>,
        forward: Option<(Ssh, u16)>,
    ) -> StepResult<Listener> {
        // Non-blocking while the page is its only user: a client gone
        // between poll and accept never blocks the thread.
        listener
            .set_nonblocking(true)
            .map_err(|e| StepError::msg(format!("maintenance page: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let notice = self.notice.clone();
        let thread = std::thread::spawn(move || accept_loop(&listener, &flag, &notice));
        Ok(Listener {
            stop,
            thread,
            held,
            forward,
        })
    }

    /// Stops answering on `addr` and gives up its socket, still listening,
    /// for the service's new version to inherit: connections made from now
    /// on wait in its queue until that version accepts them. `None` when
    /// the page has no local socket there (it is released instead).
    pub fn hand_over(&mut self, addr: &str) -> Option<HeldListener> {
        let Some(mut l) = self.listeners.remove(addr) else {
            return self.taken.remove(addr);
        };
        let held = l.held.take();
        stop(l);
        let held = held?;
        // Blocking again, as a program that inherits a socket expects.
        held.handle().ok()?.set_nonblocking(false).ok()?;
        Some(held)
    }

    /// Stops answering on `addr` and closes its socket, freeing the port
    /// for the service: connections are refused until it listens.
    pub fn release(&mut self, addr: &str) {
        self.taken.remove(addr);
        if let Some(mut l) = self.listeners.remove(addr) {
            if let Some((ssh, port)) = &l.forward {
                let _ = ssh.cancel_remote(addr, *port);
            }
            let held = l.held.take();
            stop(l);
            if let Some(h) = held {
                self.drain(h);
            }
        }
    }

    /// Answers the connections still queued on `held`, then closes it:
    /// closing a listener resets the connections in its queue.
    fn drain(&self, held: HeldListener) {
        let Ok(socket) = held.handle() else { return };
        // Still non-blocking: the queue is read until it is empty.
        while let Ok((c, _)) = socket.accept() {
            let notice = self.notice.clone();
            let _ = c.set_nonblocking(false);
            std::thread::spawn(move || answer(c, &notice));
        }
    }

    /// Stops answering everywhere.
    pub fn release_all(&mut self) {
        let addrs: Vec<String> = self.listeners.keys().cloned().collect();
        for a in addrs {
            self.release(&a);
        }
        self.taken.clear();
    }

    /// Addresses being answered now.
    pub fn serving(&self) -> Vec<String> {
        self.listeners.keys().cloned().collect()
    }
}

impl Drop for MaintenancePage {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Ends a listener's thread (within one tick). Its socket closes unless
/// the listener's `held` copy was taken first.
fn stop(l: Listener) {
    l.stop.store(true, Ordering::SeqCst);
    let _ = l.thread.join();
}

/// Answers every connection to `listener` with the page, until `stop`:
/// connections not yet accepted then stay queued for the socket's next
/// owner.
fn accept_loop(listener: &TcpListener, stop: &AtomicBool, notice: &Arc<Mutex<Notice>>) {
    use nix::poll::{poll, PollFd, PollFlags};
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, TICK_MS), Ok(n) if n > 0) || stop.load(Ordering::SeqCst) {
            continue;
        }
        match listener.accept() {
            Ok((c, _)) => {
                // One thread per client: a slow one delays nobody, and
                // releasing the address never waits for it.
                let notice = notice.clone();
                let _ = c.set_nonblocking(false);
                std::thread::spawn(move || answer(c, &notice));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // A socket that errs (it was shut down): wait a tick, not spin.
            Err(_) => std::thread::sleep(Duration::from_millis(TICK_MS.into())),
        }
    }
}

/// Retries `f` for up to 10 s (a port just freed by a stopped service).
fn retry<T>(addr: &str, mut f: impl FnMut() -> StepResult<T>) -> StepResult<T> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(format!("maintenance page cannot listen on {addr}: {e}").into())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The notice, even if a thread panicked holding it (it is plain data).
fn lock(n: &Mutex<Notice>) -> std::sync::MutexGuard<'_, Notice> {
    n.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads the request's head (for up to 2 s), answers any method and path
/// with the page (`HEAD` with its head only), then lets the client finish
/// sending before closing: closing with unread bytes would reset the
/// connection and the client could lose the page.
fn answer(mut c: TcpStream, notice: &Mutex<Notice>) {
    c.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let out = page::response(&lock(notice), SystemTime::now(), page::is_head(&head));
    if c.write_all(&out).is_err() {
        return;
    }
    let _ = c.shutdown(std::net::Shutdown::Write);
    c.set_read_timeout(Some(Duration::from_millis(500))).ok();
    while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process upshift does not track holds the service's address: the
    /// error names it instead of only "Address already in use".
    #[test]
    fn a_held_address_names_its_holder() {
        let stray = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = stray.local_addr().unwrap().to_string();
        let mut page = MaintenancePage::new(Notice::new("demo", "Demo", None, 60));
        let e = page.serve(&addr).unwrap_err().to_string();
        assert!(e.contains(&format!("pid {} (", std::process::id())), "{e}");
        assert!(e.contains("listens there"), "{e}");
    }

    /// The page answers 503 with Retry-After, to a client that sends its
    /// request only after connecting.
    #[test]
    fn the_page_answers_a_slow_client() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        let mut page = MaintenancePage::new(Notice::new("demo", "Demo", Some("soon"), 30));
        page.serve(&addr).unwrap();
        let mut c = TcpStream::connect(&addr).unwrap();
        c.write_all(b"GET / HTTP/1.0\r\n").unwrap();
        c.write_all(b"\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 503"), "{out}");
        assert!(out.contains("Retry-After: 30"), "{out}");
        page.release_all();
    }

    fn ask(addr: &str, request: &str) -> String {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    }

    /// Any path and `HEAD` get the page; once the window opened, it says
    /// when the service should be back and `Retry-After` counts down to it.
    #[test]
    fn any_path_and_head_get_the_page_of_the_window() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        let mut page = MaintenancePage::new(Notice::new("prod", "Notes", Some("<soon>"), 60));
        page.serve(&addr).unwrap();
        page.window(SystemTime::now(), Some(Duration::from_secs(3600)));
        let get = ask(&addr, "GET /api/v1/notes?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(get.starts_with("HTTP/1.1 503"), "{get}");
        assert!(get.contains("<h1>prod is being upgraded</h1>"), "{get}");
        assert!(get.contains("&lt;soon&gt;"), "{get}");
        assert!(get.contains("in about 60 minutes."), "{get}");
        let retry: u64 = get
            .split("Retry-After: ")
            .nth(1)
            .and_then(|r| r.split("\r\n").next())
            .and_then(|r| r.parse().ok())
            .unwrap();
        assert!((3590..=3600).contains(&retry), "{get}");
        let head = ask(&addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 503"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body: {head}");
        page.release_all();
    }
}
