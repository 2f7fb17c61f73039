//! Health checks: HTTP (status and optional body pattern), TCP, or a command;
//! retried at an interval until they pass or the retries run out.
//!
//! Healthy means the version expected answers: `{version}` in a body
//! pattern stands for the version that should serve (any version where
//! none is expected), and [`version_answers`] asks the installation's
//! `version_command`. A process of the old version still holding the port
//! would otherwise pass for the new one.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use upshift_core::manifest::Health;

use crate::error::{StepError, StepResult};
use crate::host::{Host, Target};

/// Checks once, from the installation's host (through ssh when it is remote).
pub fn check(h: &Health, t: &Target) -> StepResult<()> {
    check_at(h, t, None)
}

/// [`check`], with `{version}` in a body pattern standing for `version`.
pub fn check_at(h: &Health, t: &Target, version: Option<&str>) -> StepResult<()> {
    let timeout = h
        .timeout
        .map_or(Duration::from_secs(5), |t| t.duration())
        .max(Duration::from_millis(50));
    if let Some(url) = &h.http {
        let (status, body) = http_via(&t.host, "GET", url, None, None, timeout)?;
        let want = h.status.unwrap_or(200);
        if status != want {
            return Err(format!(
                "GET {url} answered {status} (expected {want}): {}",
                body.trim()
            )
            .into());
        }
        if let Some(pat) = &h.body {
            let any = r"[^\s]+".to_string();
            let pat = &pat.replace("{version}", &version.map_or(any, regex::escape));
            let re = regex::Regex::new(pat).map_err(|e| {
                format!("health body pattern `{pat}` is not a regular expression: {e}")
            })?;
            if !re.is_match(&body) {
                return Err(
                    format!("GET {url} body does not match `{pat}`: {}", body.trim()).into(),
                );
            }
        }
        Ok(())
    } else if let Some(addr) = &h.tcp {
        match &t.host {
            Host::Ssh(ssh) => ssh.tcp_check(addr, timeout),
            Host::Local => Host::Local
                .connect(addr, timeout)
                .map(|_| ())
                .map_err(|e| StepError::msg(format!("connect {addr}: {e}"))),
        }
    } else if let Some(cmd) = &h.command {
        // `timeout` (coreutils) ends the command's whole process group when
        // one attempt takes longer than the check's `timeout`.
        let secs = timeout.as_secs_f64();
        let bounded = format!("timeout -k 1 {secs:.2} sh -c {}", crate::host::q(cmd));
        match t.host.sh(&bounded, &t.dir, &[]) {
            Ok(o) if o.ok => Ok(()),
            Ok(o) if o.code == Some(124) || o.code == Some(137) => Err(StepError::msg(format!(
                "`{cmd}` did not finish within {secs:.1}s (the check's `timeout`)"
            ))),
            Ok(o) => Err(format!("`{cmd}` failed: {}{}", o.stdout.trim(), o.stderr.trim()).into()),
            Err(e) => Err(format!("cannot run `{cmd}`: {e}").into()),
        }
    } else {
        Ok(())
    }
}

/// Checks until it passes, for at most `retries` × `interval`. A service that
/// was just started usually answers within milliseconds, so the first polls
/// come quickly (10 ms, doubling) and settle at the configured interval: the
/// maintenance window does not wait a whole interval for nothing.
pub fn wait(h: &Health, t: &Target) -> StepResult<()> {
    wait_at(h, t, None)
}

/// [`wait`], expecting `version` to answer (see [`check_at`]).
pub fn wait_at(h: &Health, t: &Target, version: Option<&str>) -> StepResult<()> {
    wait_watching(h, t, version, &|| None)
}

/// [`wait_at`] for a service just started: after each failed check,
/// `exited` says whether its process is gone, and then the wait ends at
/// once (no check can pass any more).
pub fn wait_watching(
    h: &Health,
    t: &Target,
    version: Option<&str>,
    exited: &dyn Fn() -> Option<String>,
) -> StepResult<()> {
    let interval = h
        .interval
        .map_or(Duration::from_secs(1), |t| t.duration())
        .max(Duration::from_millis(10));
    let retries = h.retries.unwrap_or(30).max(1);
    let deadline = Instant::now() + interval * retries;
    let mut pause = Duration::from_millis(10).min(interval);
    let mut attempts = 0;
    loop {
        let started = Instant::now();
        attempts += 1;
        let last = match check_at(h, t, version) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if let Some(why) = exited() {
            return Err(format!("{why} before it became healthy; last check: {last}").into());
        }
        if Instant::now() + pause > deadline {
            return Err(format!(
                "not healthy after {attempts} attempts in {:.1}s: {last}",
                (interval * retries).as_secs_f64()
            )
            .into());
        }
        // The check's own time counts towards the pause.
        std::thread::sleep(pause.saturating_sub(started.elapsed()));
        pause = (pause * 2).min(interval);
    }
}

/// Runs the installation's `version_command`: the first word of its
/// output that `parse` reads as a version (`platform -version` prints
/// prose around it). The error says why there is none.
pub fn running_version(
    cmd: &str,
    t: &Target,
    parse: impl Fn(&str) -> Option<String>,
) -> StepResult<String> {
    let out = t
        .host
        .sh(cmd, &t.dir, &[])
        .map_err(|e| format!("version_command `{cmd}` cannot run: {e}"))?;
    if !out.ok {
        return Err(format!(
            "version_command `{cmd}` failed (exit {}): {}",
            out.code.map_or("by signal".to_string(), |c| c.to_string()),
            out.stderr.trim()
        )
        .into());
    }
    let words = out
        .stdout
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':');
    words
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .find_map(parse)
        .ok_or_else(|| {
            format!(
                "version_command `{cmd}` printed no version: {}",
                out.stdout.trim()
            )
            .into()
        })
}

/// Runs the installation's `version_command` and checks the version it
/// prints ([`running_version`]) is `want`.
pub fn version_answers(
    cmd: &str,
    t: &Target,
    want: &str,
    parse: impl Fn(&str) -> Option<String>,
) -> StepResult<()> {
    match running_version(cmd, t, parse)? {
        v if v == want => Ok(()),
        v => Err(StepError::Failed {
            message: format!("version_command `{cmd}` says {v} answers, not {want}"),
            hint: Some(format!("a process of {v} may still hold the service's address: stop it, then run the command again")),
        }),
    }
}

/// A minimal HTTP/1.1 request over plain TCP from this machine: method,
/// URL, optional bearer token and JSON body; returns status and body.
pub fn http(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    json: Option<&str>,
    timeout: Duration,
) -> StepResult<(u16, String)> {
    http_via(&Host::Local, method, url, bearer, json, timeout)
}

/// [`http`] from `host` (an `ssh -W` channel for a remote one). Plain HTTP
/// only: health endpoints are local; use a `command` check with curl for HTTPS.
pub fn http_via(
    host: &Host,
    method: &str,
    url: &str,
    bearer: Option<&str>,
    json: Option<&str>,
    timeout: Duration,
) -> StepResult<(u16, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("`{url}`: only http:// URLs are checked directly; use `command = \"curl -fsS {url}\"` for https"))?;
    let (hostport, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let addr = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let mut s = host
        .connect(&addr, timeout)
        .map_err(|e| format!("connect {addr}: {e}"))?;
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
    if buf.is_empty() {
        return Err(format!("{method} {url}: no answer (connection refused or closed)").into());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::path::Path;

    fn here() -> Target {
        Target::local(Path::new("."))
    }

    fn health() -> Health {
        Health {
            http: None,
            status: None,
            body: None,
            tcp: None,
            command: None,
            interval: Some(upshift_core::manifest::Seconds::from_millis(50)),
            timeout: Some(upshift_core::manifest::Seconds::from_secs(1)),
            retries: Some(3),
        }
    }

    /// A one-shot HTTP server on loopback answering `answer` to every request.
    fn serve(answer: &'static str) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let _ = c.write_all(answer.as_bytes());
            }
        });
        addr
    }

    #[test]
    fn http_status_and_body_pattern() {
        let ok = serve("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\nok 2.1.0 schema 2");
        let mut h = health();
        h.http = Some(format!("http://{ok}/health"));
        h.body = Some(r"schema \d".into());
        wait(&h, &here()).unwrap();
        h.body = Some("schema 3".into());
        let e = wait(&h, &here()).unwrap_err().to_string();
        assert!(
            e.contains("does not match `schema 3`") && e.contains("attempts"),
            "{e}"
        );

        let down = serve("HTTP/1.1 503 Service Unavailable\r\n\r\nupgrading");
        h.http = Some(format!("http://{down}/"));
        h.body = None;
        let e = check(&h, &here()).unwrap_err().to_string();
        assert!(e.contains("answered 503 (expected 200)"), "{e}");
    }

    #[test]
    fn tcp_and_command_checks() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut h = health();
        h.tcp = Some(l.local_addr().unwrap().to_string());
        check(&h, &here()).unwrap();
        drop(l);
        assert!(wait(&h, &here())
            .unwrap_err()
            .to_string()
            .contains("connect"));
        let mut c = health();
        c.command = Some("test -d /".into());
        check(&c, &Target::local(Path::new("/"))).unwrap();
        c.command = Some("echo broken >&2; exit 3".into());
        assert!(check(&c, &Target::local(Path::new("/")))
            .unwrap_err()
            .to_string()
            .contains("broken"));
        // One attempt may take `timeout` seconds, not as long as the command likes.
        c.command = Some("sleep 40".into());
        c.timeout = Some(upshift_core::manifest::Seconds::from_millis(200));
        let e = check(&c, &Target::local(Path::new("/"))).unwrap_err();
        assert!(e.to_string().contains("did not finish within 0.2s"), "{e}");
    }
}
