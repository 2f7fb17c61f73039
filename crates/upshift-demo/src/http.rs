//! A minimal HTTP/1.1 client (notes → auth, and the tests) and the serve
//! loop both services share: bind, answer requests one at a time, stop
//! cleanly on SIGTERM or SIGINT.

use crate::{Error, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A response as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

/// Sends one request to `url` (`http://host:port/path`) and reads the whole
/// reply. `bearer` becomes an `Authorization: Bearer` header.
pub fn request(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Reply> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Error::new(format!("not an http:// URL: {url}")))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let fail = |e: std::io::Error| Error::new(format!("{method} {url}: {e}"));
    let addr = host
        .to_socket_addrs()
        .map_err(fail)?
        .next()
        .ok_or_else(|| Error::new(format!("{url}: no address")))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.set_read_timeout(Some(timeout)).map_err(fail)?;
    stream.set_write_timeout(Some(timeout)).map_err(fail)?;
    let body = body.unwrap_or("");
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(fail)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(fail)?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::new(format!("{method} {url}: malformed reply")))?;
    Ok(Reply {
        status,
        body: body.to_string(),
    })
}

/// `GET url` with a 2-second timeout.
pub fn get(url: &str, bearer: Option<&str>) -> Result<Reply> {
    request("GET", url, bearer, None, Duration::from_secs(2))
}

/// `POST url` with a JSON body and a 2-second timeout.
pub fn post(url: &str, bearer: Option<&str>, body: &str) -> Result<Reply> {
    request("POST", url, bearer, Some(body), Duration::from_secs(2))
}

/// A request as a service's handler sees it.
#[derive(Debug)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub bearer: Option<String>,
    pub body: String,
}

/// What a handler answers: a status and a body (JSON when it starts with
/// `{` or `[`, plain text otherwise).
pub struct Answer(pub u16, pub String);

/// The listening socket passed by socket activation, as systemd passes it
/// (<https://www.freedesktop.org/software/systemd/man/latest/sd_listen_fds.html>):
/// fd 3 when `LISTEN_PID` is this process and `LISTEN_FDS` is at least 1.
/// The variables are removed so a child never takes them for its own.
pub fn inherited() -> Option<TcpListener> {
    use std::os::fd::FromRawFd;
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // SAFETY: fcntl on fd 3, which socket activation says is ours; the
    // descriptor is owned once, by the listener made of it.
    unsafe {
        if libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC) < 0 {
            return None;
        }
        Some(TcpListener::from_raw_fd(3))
    }
}

/// Listens on `listen` (SO_REUSEADDR, as std sets it on Unix, so a restart
/// can bind at once), or on the socket it [`inherited`], and answers each request with `handler` until SIGTERM
/// or SIGINT. Logs one line per request to stderr.
pub fn serve(name: &str, listen: &str, mut handler: impl FnMut(&Incoming) -> Answer) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| Error::new(format!("signal: {e}")))?;
    }
    let listener = match inherited() {
        Some(l) => {
            let at = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
            eprintln!("{name}: inherited the listening socket on {at} (LISTEN_FDS)");
            l
        }
        None => TcpListener::bind(listen)
            .map_err(|e| Error::new(format!("{name}: cannot listen on {listen}: {e}")))?,
    };
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| Error::new(format!("{name}: cannot listen on {listen}: {e}")))?;
    eprintln!("{name}: listening on {listen}");
    while !stop.load(Ordering::Relaxed) {
        match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(req)) => respond(name, req, &mut handler),
            Ok(None) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::new(format!("{name}: {e}"))),
        }
    }
    // Answer what the server already accepted before exiting: a request
    // dropped unanswered reaches its client as a reset. (The socket may be
    // held by a maintenance page meanwhile, so new clients are not refused.)
    // At most half a second, so a busy server still stops promptly.
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    while std::time::Instant::now() < deadline {
        match server.recv_timeout(Duration::from_millis(10)) {
            Ok(Some(req)) => respond(name, req, &mut handler),
            _ => break,
        }
    }
    eprintln!("{name}: stopped");
    Ok(())
}

/// Answers one request with `handler`, logging it.
fn respond(name: &str, mut req: tiny_http::Request, handler: &mut impl FnMut(&Incoming) -> Answer) {
    let mut body = String::new();
    let _ = req.as_reader().take(1 << 20).read_to_string(&mut body);
    let bearer = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .and_then(|h| {
            h.value
                .as_str()
                .strip_prefix("Bearer ")
                .map(|t| t.trim().to_string())
        });
    let incoming = Incoming {
        method: req.method().as_str().to_string(),
        path: req.url().to_string(),
        bearer,
        body,
    };
    let Answer(status, text) = handler(&incoming);
    eprintln!("{name}: {} {} -> {status}", incoming.method, incoming.path);
    let kind = if text.starts_with('{') || text.starts_with('[') {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("static header");
    let _ = req.respond(
        tiny_http::Response::from_string(text)
            .with_status_code(status)
            .with_header(header),
    );
}
