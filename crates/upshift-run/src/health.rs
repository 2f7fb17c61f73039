//! Health checks: HTTP (status and optional body pattern), TCP, or a command;
//! retried at an interval until they pass or the retries run out.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, Instant};

use upshift_core::manifest::Health;

use crate::proc::sh;

/// Checks once.
pub fn check(h: &Health, root: &Path) -> Result<(), String> {
    let timeout = Duration::from_secs_f64(h.timeout.unwrap_or(5.0).max(0.05));
    if let Some(url) = &h.http {
        let (status, body) = http_get(url, timeout)?;
        let want = h.status.unwrap_or(200);
        if status != want {
            return Err(format!(
                "GET {url} answered {status} (expected {want}): {}",
                body.trim()
            ));
        }
        if let Some(pat) = &h.body {
            let re = regex::Regex::new(pat).map_err(|e| {
                format!("health body pattern `{pat}` is not a regular expression: {e}")
            })?;
            if !re.is_match(&body) {
                return Err(format!(
                    "GET {url} body does not match `{pat}`: {}",
                    body.trim()
                ));
            }
        }
        Ok(())
    } else if let Some(addr) = &h.tcp {
        let sa = addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("`{addr}` is not an address"))?;
        TcpStream::connect_timeout(&sa, timeout)
            .map(|_| ())
            .map_err(|e| format!("connect {addr}: {e}"))
    } else if let Some(cmd) = &h.command {
        match sh(cmd, root, &[]) {
            Ok(o) if o.ok => Ok(()),
            Ok(o) => Err(format!(
                "`{cmd}` failed: {}{}",
                o.stdout.trim(),
                o.stderr.trim()
            )),
            Err(e) => Err(format!("cannot run `{cmd}`: {e}")),
        }
    } else {
        Ok(())
    }
}

/// Checks until it passes, at most `retries` times `interval` apart.
pub fn wait(h: &Health, root: &Path) -> Result<(), String> {
    let interval = Duration::from_secs_f64(h.interval.unwrap_or(1.0).max(0.01));
    let retries = h.retries.unwrap_or(30).max(1);
    let mut last = String::new();
    for attempt in 0..retries {
        let started = Instant::now();
        match check(h, root) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        if attempt + 1 < retries {
            // Poll at the configured interval (the check's own time counts towards it).
            std::thread::sleep(interval.saturating_sub(started.elapsed()));
        }
    }
    Err(format!("not healthy after {retries} attempts: {last}"))
}

/// A minimal HTTP/1.1 GET over plain TCP (health endpoints are local; use a
/// `command` check with curl for HTTPS).
pub fn http_get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    http("GET", url, None, None, timeout)
}

/// A minimal HTTP/1.1 request over plain TCP: method, URL, optional bearer
/// token and JSON body; returns status and body.
pub fn http(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    json: Option<&str>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("`{url}`: only http:// URLs are checked directly; use `command = \"curl -fsS {url}\"` for https"))?;
    let (hostport, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let sa = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {hostport}"))?;
    let mut s =
        TcpStream::connect_timeout(&sa, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nUser-Agent: upshift\r\n");
    if let Some(t) = bearer {
        req += &format!("Authorization: Bearer {t}\r\n");
    }
    let body = json.unwrap_or("");
    if json.is_some() {
        req += &format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    req += "\r\n";
    req += body;
    s.write_all(req.as_bytes())
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{method} {url}: not an HTTP answer"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}
