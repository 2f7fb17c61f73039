//! The maintenance page: while a service is down, upshift answers on its
//! public address with HTTP 503, `Retry-After` and a small page, so users
//! see "upgrading" instead of a refused connection.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    message: String,
    retry_after: u32,
    listeners: BTreeMap<String, Listener>,
}

impl MaintenancePage {
    pub fn new(message: Option<&str>, retry_after: Option<u32>) -> Self {
        MaintenancePage {
            message: message
                .unwrap_or("This service is being upgraded and will be back shortly.")
                .to_string(),
            retry_after: retry_after.unwrap_or(60),
            listeners: BTreeMap::new(),
        }
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
        let page: Arc<[u8]> = self.page().into();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    // One thread per client: a slow one delays nobody, and
                    // releasing the address never waits for it.
                    let page = page.clone();
                    std::thread::spawn(move || answer(c, &page));
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

    fn page(&self) -> Vec<u8> {
        let body = format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Upgrading</title></head>\n<body style=\"font-family: sans-serif; margin: 4em\"><h1>Upgrading</h1><p>{}</p><p>Please retry in {} seconds.</p></body></html>\n",
            html_escape(&self.message),
            self.retry_after
        );
        format!(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
            self.retry_after,
            body.len()
        )
        .into_bytes()
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

/// Reads the request's head (for up to 2 s), answers, then lets the client
/// finish sending before closing: closing with unread bytes would reset
/// the connection and the client could lose the page.
fn answer(mut c: TcpStream, page: &[u8]) {
    c.set_read_timeout(Some(Duration::from_secs(2))).ok();
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    if c.write_all(page).is_err() {
        return;
    }
    let _ = c.shutdown(std::net::Shutdown::Write);
    c.set_read_timeout(Some(Duration::from_millis(500))).ok();
    while matches!(c.read(&mut buf), Ok(n) if n > 0) {}
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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
        let mut page = MaintenancePage::new(None, None);
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
        let mut page = MaintenancePage::new(Some("soon"), Some(30));
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
}
