//! `installation.host`: where the installation lives when it is not this
//! machine, as `ssh://[user@]host[:port]/path/of/the/installation`.

use std::fmt;

/// A parsed `ssh://` host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHost {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The installation's directory on that host (absolute): manifest paths
    /// are relative to it there.
    pub root: String,
}

impl fmt::Display for RemoteHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssh://")?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.root)
    }
}

/// Parses `ssh://[user@]host[:port]/absolute/path`; the error says what to write.
pub fn parse_host(s: &str) -> Result<RemoteHost, String> {
    const EXAMPLE: &str = "e.g. `ssh://deploy@notes.example.org:22/srv/notes`";
    let rest = s.strip_prefix("ssh://").ok_or_else(|| {
        format!("`{s}` is not an ssh:// address; write the host as ssh://[user@]host[:port]/path, {EXAMPLE}, or omit `host` for this machine")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if path.len() < 2 {
        return Err(format!(
            "`{s}` names no directory: add the installation's directory on that host as the path, {EXAMPLE}"
        ));
    }
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h),
        Some(_) => return Err(format!("`{s}` has an empty user name before `@`")),
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{s}`: `[` without `]` in the host"))?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '\'') {
        return Err(format!("`{s}` has no valid host name, {EXAMPLE}"));
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| format!("`{s}`: `{p}` is not a port number"))?,
        ),
        None => None,
    };
    Ok(RemoteHost {
        user,
        host: host.to_string(),
        port,
        root: path.trim_end_matches('/').to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_host_port_and_path() {
        let h = parse_host("ssh://deploy@10.0.0.5:2222/srv/notes/").unwrap();
        assert_eq!(h.user.as_deref(), Some("deploy"));
        assert_eq!(h.host, "10.0.0.5");
        assert_eq!(h.port, Some(2222));
        assert_eq!(h.root, "/srv/notes");
        assert_eq!(h.to_string(), "ssh://deploy@10.0.0.5:2222/srv/notes");
        let v6 = parse_host("ssh://[::1]:22/x").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.user.as_deref()),
            ("::1", Some(22), None)
        );
        assert_eq!(v6.to_string(), "ssh://[::1]:22/x");
    }

    #[test]
    fn refuses_what_ssh_cannot_use_with_the_fix() {
        for (bad, says) in [
            ("deploy@host:/srv", "not an ssh:// address"),
            ("ssh://host", "names no directory"),
            ("ssh://host/", "names no directory"),
            ("ssh://host:http/srv", "not a port number"),
            ("ssh://host:0/srv", "not a port number"),
            ("ssh://@host/srv", "empty user"),
            ("ssh://:22/srv", "no valid host"),
        ] {
            let e = parse_host(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
