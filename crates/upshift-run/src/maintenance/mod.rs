//! The maintenance page: while a service is down, upshift answers on its
//! public address with HTTP 503, `Retry-After` and a small page naming the
//! installation, the operator's message and when it should be back, so
//! users see "upgrading" instead of a refused connection.

mod notice;
mod page;

pub use notice::{Back, Notice, Window, MESSAGE_LIMIT};
pub use page::{escape, html, response};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{StepError, StepResult};
use crate::host::{Host, Ssh};

struct Listener {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    /// Where the listener really is (`addr`, or a local port that a remote
    /// host's `addr` forwards to).
    local: String,
    /// The ssh forward to cancel on release.
    forward: Option<(Ssh, u16)>,
}

/// The page, served on any number of addresses.
pub struct MaintenancePage {
    /// What every listener answers, rendered anew for each request (the
    /// time left changes; the window is known once it opened).
    notice: Arc<Mutex<Notice>>,
    listeners: BTreeMap<String, Listener>,
}

impl MaintenancePage {
    pub fn new(notice: Notice) -> Self {
        MaintenancePage {
            notice: Arc::new(Mutex::new(notice)),
            listeners: BTreeMap::new(),
        }
    }

    /// The window opened at `opened` and is expected to last `estimate`:
    /// the page says when the service should be back from now on.
    pub fn window(&self, opened: SystemTime, estimate: Option<Duration>) {
        lock(&self.notice).window = Some(Window { opened, estimate });
    }

    /// Starts answering on `addr` (the service there was just stopped, so the
    /// port may take a moment to free: binding is retried until a deadline).
    pub fn serve(&mut self, addr: &str) -> StepResult<()> {
        if self.listeners.contains_key(addr) {
            return Ok(());
        }
        let listener = retry(addr, || {
            TcpListener::bind(addr).map_err(|e| {
                // Say who holds the address: a service left running that
                // upshift does not track (its pidfile was never written).
                let holder = (e.kind() == std::io::ErrorKind::AddrInUse)
                    .then(|| addr.rsplit_once(':')?.1.parse().ok())
                    .flatten()
                    .and_then(crate::proc::port_holder);
                match holder {
                    Some(h) => StepError::msg(format!(
                        "{e}: {h} listens there; stop it (it is not one upshift started or tracks), then resume"
                    )),
                    None => StepError::msg(e.to_string()),
                }
            })
        })?;
        let l = self.spawn(listener, addr.to_string(), None);
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
        let l = self.spawn(
            listener,
            format!("127.0.0.1:{port}"),
            Some((ssh.clone(), port)),
        );
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

    fn spawn(&self, listener: TcpListener, local: String, forward: Option<(Ssh, u16)>) -> Listener {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let notice = self.notice.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    // One thread per client: a slow one delays nobody, and
                    // releasing the address never waits for it.
                    let notice = notice.clone();
                    std::thread::spawn(move || answer(c, &notice));
                }
            }
        });
        Listener {
            stop,
            thread,
            local,
            forward,
        }
    }

    /// Stops answering on `addr`, freeing the port for the service.
    pub fn release(&mut self, addr: &str) {
        if let Some(l) = self.listeners.remove(addr) {
            if let Some((ssh, port)) = &l.forward {
                let _ = ssh.cancel_remote(addr, *port);
            }
            stop(l);
        }
    }

    /// Stops answering everywhere.
    pub fn release_all(&mut self) {
        let addrs: Vec<String> = self.listeners.keys().cloned().collect();
        for a in addrs {
            self.release(&a);
        }
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

/// Ends a listener's thread.
fn stop(l: Listener) {
    l.stop.store(true, Ordering::SeqCst);
    // Wake the blocking accept so the thread sees the flag.
    let _ = TcpStream::connect(wake_addr(&l.local));
    let _ = l.thread.join();
}

/// Retries `f` for up to 10 s (a port just freed by a stopped service).
fn retry<T>(addr: &str, mut f: impl FnMut() -> StepResult<T>) -> StepResult<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("maintenance page cannot listen on {addr}: {e}").into())
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn wake_addr(addr: &str) -> String {
    // A listener on 0.0.0.0 is reached through loopback.
    addr.replacen("0.0.0.0:", "127.0.0.1:", 1)
        .replacen("[::]:", "[::1]:", 1)
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
