//! A user's view of a public address during an upgrade: a client that
//! GETs it at a fixed pace on its own thread and tells apart what it got,
//! the product's answer, the maintenance page, a refused connection or a
//! reset, with when each happened.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// What one request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// An HTTP answer that is not the maintenance page.
    Product(u16),
    /// The maintenance page (503 with `Retry-After`).
    Page,
    /// The connection was refused: nothing listened.
    Refused,
    /// The connection was reset, or closed before a whole answer.
    Reset(String),
    /// Anything else (a timeout, an unparsable answer).
    Other(String),
}

/// One request: when it was sent and what it got.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: SystemTime,
    pub seen: Seen,
}

/// A client polling one address until [`Poller::finish`].
pub struct Poller {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    thread: Option<JoinHandle<()>>,
}

impl Poller {
    /// GETs `path` on `addr` (`127.0.0.1:7302`) every `every`.
    pub fn start(addr: &str, path: &str, every: Duration) -> Poller {
        let to: SocketAddr = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("not an address: {addr}"));
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, samples) = (stop.clone(), samples.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let began = Instant::now();
                    let at = SystemTime::now();
                    let seen = ask(to, &request);
                    samples.lock().unwrap().push(Sample { at, seen });
                    // Pacing, not synchronisation: one request per period.
                    std::thread::sleep(every.saturating_sub(began.elapsed()));
                }
            })
        };
        Poller {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    /// How many requests were made so far.
    pub fn count(&self) -> usize {
        self.samples.lock().unwrap().len()
    }

    /// How many requests so far got what `pick` accepts.
    pub fn count_of(&self, pick: impl Fn(&Seen) -> bool) -> usize {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .filter(|s| pick(&s.seen))
            .count()
    }

    /// Stops the client and returns what it saw.
    pub fn finish(mut self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Tally {
            samples: std::mem::take(&mut *self.samples.lock().unwrap()),
        }
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What a [`Poller`] saw, in order.
#[derive(Debug, Clone)]
pub struct Tally {
    pub samples: Vec<Sample>,
}

impl Tally {
    pub fn count(&self, pick: impl Fn(&Seen) -> bool) -> usize {
        self.samples.iter().filter(|s| pick(&s.seen)).count()
    }
    pub fn product(&self) -> usize {
        self.count(|s| matches!(s, Seen::Product(_)))
    }
    pub fn page(&self) -> usize {
        self.count(|s| *s == Seen::Page)
    }
    pub fn refused(&self) -> usize {
        self.count(|s| *s == Seen::Refused)
    }
    /// Resets and other failures: anything that is neither an answer nor a refusal.
    pub fn broken(&self) -> usize {
        self.count(|s| matches!(s, Seen::Reset(_) | Seen::Other(_)))
    }

    /// The samples that got no answer (refused, reset, other).
    pub fn unanswered(&self) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| !matches!(s.seen, Seen::Product(_) | Seen::Page))
            .collect()
    }

    /// The longest time between two answered requests (product or page),
    /// counting from the first sample and up to the last.
    pub fn longest_gap(&self) -> Duration {
        let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) else {
            return Duration::ZERO;
        };
        let answered = self
            .samples
            .iter()
            .filter(|s| matches!(s.seen, Seen::Product(_) | Seen::Page))
            .map(|s| s.at);
        let points: Vec<SystemTime> = std::iter::once(first.at)
            .chain(answered)
            .chain(std::iter::once(last.at))
            .collect();
        points
            .windows(2)
            .map(|w| w[1].duration_since(w[0]).unwrap_or_default())
            .max()
            .unwrap_or_default()
    }

    /// One line: `product N, page N, refused N, reset/other N, longest gap N ms`.
    pub fn summary(&self) -> String {
        format!(
            "product {}, page {}, refused {}, reset/other {}, longest gap {} ms",
            self.product(),
            self.page(),
            self.refused(),
            self.broken(),
            self.longest_gap().as_millis()
        )
    }
}

/// One GET with a 5 s limit, classified.
fn ask(to: SocketAddr, request: &str) -> Seen {
    let limit = Duration::from_secs(5);
    let mut c = match TcpStream::connect_timeout(&to, limit) {
        Ok(c) => c,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Seen::Refused,
        Err(e) => return Seen::Other(format!("connect: {e}")),
    };
    let _ = c.set_read_timeout(Some(limit));
    let _ = c.set_write_timeout(Some(limit));
    if let Err(e) = c.write_all(request.as_bytes()) {
        return Seen::Reset(format!("write: {e}"));
    }
    let mut raw = Vec::new();
    if let Err(e) = c.read_to_end(&mut raw) {
        return match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                Seen::Reset(format!("read: {e}"))
            }
            _ => Seen::Other(format!("read: {e}")),
        };
    }
    classify(&String::from_utf8_lossy(&raw))
}

/// An HTTP answer's text: the page, the product, or a cut-off answer.
fn classify(raw: &str) -> Seen {
    let Some((head, _)) = raw.split_once("\r\n\r\n") else {
        return Seen::Reset(format!("closed after {} bytes", raw.len()));
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(503) if head.contains("Retry-After:") && raw.contains("being upgraded") => Seen::Page,
        Some(code) => Seen::Product(code),
        None => Seen::Other(format!("not HTTP: {}", head.lines().next().unwrap_or(""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_told_apart() {
        let page = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\n\r\n<h1>x is being upgraded</h1>";
        assert_eq!(classify(page), Seen::Page);
        assert_eq!(classify("HTTP/1.1 200 OK\r\n\r\nok"), Seen::Product(200));
        assert_eq!(
            classify("HTTP/1.1 503 Busy\r\n\r\nno"),
            Seen::Product(503),
            "a 503 of the product's own is not the page"
        );
        assert!(matches!(classify(""), Seen::Reset(_)));
    }

    /// A port nothing listens on is counted as refused, and the gap covers it.
    #[test]
    fn a_closed_port_is_refused() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        let p = Poller::start(&addr, "/", Duration::from_millis(5));
        crate::wait_until("three samples", Duration::from_secs(10), || p.count() >= 3);
        let t = p.finish();
        assert_eq!(t.refused(), t.samples.len());
        assert_eq!(t.product() + t.page() + t.broken(), 0);
        assert!(
            t.longest_gap() >= Duration::from_millis(5),
            "{}",
            t.summary()
        );
    }
}
