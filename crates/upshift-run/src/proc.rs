//! Processes: running shell commands in the installation's directory, and
//! telling whether a pid is alive.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{StepError, StepResult};

/// How long a command without a `timeout` of its own (a release's
/// install, a `command` service's start or stop) may run: an hour.
pub const COMMAND_LIMIT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Whether `pid` is a live (non-zombie) process on this host.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return false;
    }
    // A zombie has exited; its parent just has not reaped it yet. But a
    // thread-group leader that ended its own thread (`pthread_exit`) shows
    // as a zombie while its other threads still run and hold its ports.
    match task_state(&format!("/proc/{pid}/stat")) {
        Some('Z') => std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks.flatten().any(|t| {
                    task_state(&t.path().join("stat").to_string_lossy()).is_some_and(|s| s != 'Z')
                })
            })
            .unwrap_or(false),
        _ => true,
    }
}

/// The state letter of a `/proc/…/stat` file (`R`, `S`, `Z`, …).
fn task_state(stat: &str) -> Option<char> {
    let stat = std::fs::read_to_string(stat).ok()?;
    stat.rsplit(") ")
        .next()
        .and_then(|rest| rest.chars().next())
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// Sends `signal` to the process group `pid` leads, or to `pid` alone
/// when it leads none.
pub fn signal_group(pid: u32, signal: i32) {
    if pid == 0 || pid > i32::MAX as u32 {
        return;
    }
    // SAFETY: plain kill(2) of a process group.
    let r = unsafe { libc::kill(-(pid as i32), signal) };
    if r != 0 {
        self::signal(pid, signal);
    }
}

/// Whether a live (non-zombie) process is left in the group `pid` leads,
/// or `pid` itself lives.
pub fn group_alive(pid: u32) -> bool {
    if pid_alive(pid) {
        return true;
    }
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 only checks for existence.
    if unsafe { libc::kill(-(pid as i32), 0) } != 0 {
        return false;
    }
    // Members left: are any of them not zombies?
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                let rest: Vec<&str> = stat.rsplit(") ").next().unwrap_or("").split(' ').collect();
                rest.first() != Some(&"Z") && rest.get(2) == Some(&pid.to_string().as_str())
            })
        })
}

/// Asks `pid` to stop (SIGTERM).
pub fn terminate(pid: u32) {
    if pid_alive(pid) {
        signal(pid, libc::SIGTERM);
    }
}

/// The output of a finished command.
#[derive(Debug)]
pub struct Output {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` with `sh -c` in `dir`, with extra environment, to completion.
pub fn sh(cmd: &str, dir: &Path, env: &[(&str, &str)]) -> std::io::Result<Output> {
    run(Command::new("sh"), cmd, dir, env)
}

/// Runs `c` (a `sh`) with `-c cmd` to completion, in its own process group.
fn run(mut c: Command, cmd: &str, dir: &Path, env: &[(&str, &str)]) -> std::io::Result<Output> {
    // Its own process group: Ctrl-C on the terminal reaches upshift only,
    // which stops at a safe point (see `signals`).
    c.process_group(0);
    c.arg("-c").arg(cmd).current_dir(dir).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    // Recorded while it runs: a killed upshift's next command stops it.
    let _tracked = upshift_backup::children::track(child.id(), cmd);
    let out = child.wait_with_output()?;
    Ok(Output {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A command's result as its stdout, or a message with its output's tail.
pub fn checked(what: &str, cmd: &str, out: std::io::Result<Output>) -> StepResult<String> {
    match out {
        Err(e) => Err(StepError::msg(format!("{what}: cannot run `{cmd}`: {e}"))),
        Ok(o) if o.ok => Ok(o.stdout),
        Ok(o) => Err(StepError::msg(format!(
            "{what}: `{cmd}` failed (exit {}): {}",
            o.code.map_or("by signal".to_string(), |c| c.to_string()),
            tail(&format!("{}{}", o.stdout, o.stderr), 15)
        ))),
    }
}

/// A finished tool's stdout, or an error naming the command line `shown`
/// with its exit status and stderr.
pub fn tool_output(shown: &str, out: std::process::Output) -> StepResult<String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(StepError::msg(format!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Whether `tool` is a file in a directory of `PATH` on this machine.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Like [`sh`], with `listener` passed to the command as fd 3 (cleared of
/// close-on-exec there, and only there) and `LISTEN_FDS=1`, as systemd's
/// socket activation does
/// (<https://www.freedesktop.org/software/systemd/man/latest/sd_listen_fds.html>);
/// the command sets `LISTEN_PID` itself, to the pid that will run the program.
pub fn sh_passing(
    cmd: &str,
    dir: &Path,
    env: &[(&str, &str)],
    listener: std::os::fd::BorrowedFd<'_>,
) -> std::io::Result<Output> {
    use std::os::fd::AsRawFd;
    let fd = listener.as_raw_fd();
    let mut all: Vec<(&str, &str)> = env.to_vec();
    all.extend([("LISTEN_FDS", "1"), ("LISTEN_FDNAMES", "public")]);
    let mut c = Command::new("sh");
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
    unsafe {
        c.pre_exec(move || pass_as_fd3(fd));
    }
    run(c, cmd, dir, &all)
}

/// In the child, before exec: `fd` becomes fd 3, inherited across exec.
pub(crate) fn pass_as_fd3(fd: i32) -> std::io::Result<()> {
    // SAFETY: dup2 and fcntl on descriptors this process owns.
    let r = unsafe {
        if fd == 3 {
            libc::fcntl(3, libc::F_SETFD, 0)
        } else {
            libc::dup2(fd, 3)
        }
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The (pid, fd) pairs of every process that has a socket listening on
/// exactly `addr` open (read from /proc; only this user's processes, or
/// all as root).
pub fn listening_fds(addr: std::net::SocketAddr) -> Vec<(u32, i32)> {
    let inodes: Vec<String> = listeners()
        .into_iter()
        .filter(|l| l.addr == addr)
        .map(|l| l.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pid in pids() {
        for (fd, link) in fd_links(pid) {
            if inodes.iter().any(|i| link == i.as_str()) {
                out.push((pid, fd));
            }
        }
    }
    out
}

/// The open files of `pid`: fd number and what its link names.
fn fd_links(pid: u32) -> Vec<(i32, std::ffi::OsString)> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            Some((fd, std::fs::read_link(e.path()).ok()?.into_os_string()))
        })
        .collect()
}

/// One listening TCP socket of this host, from /proc/net/tcp{,6}.
struct Listener {
    addr: std::net::SocketAddr,
    /// `socket:[INODE]`, as a process's fd links name it.
    inode: String,
}

/// Every listening TCP socket of this host (IPv4 and IPv6).
fn listeners() -> Vec<Listener> {
    let mut out = Vec::new();
    for (table, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
            if f.get(3) != Some(&"0A") {
                continue;
            }
            let addr = f.get(1).and_then(|a| parse_proc_addr(a, v6));
            if let (Some(addr), Some(inode)) = (addr, f.get(9)) {
                out.push(Listener {
                    addr,
                    inode: format!("socket:[{inode}]"),
                });
            }
        }
    }
    out
}

/// `0100007F:1C85` (IPv4) or 32 hex digits `:PORT` (IPv6): the address is
/// written as 32-bit words in host byte order (little-endian here).
fn parse_proc_addr(text: &str, v6: bool) -> Option<std::net::SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let ip: std::net::IpAddr = match (v6, bytes.len()) {
        (false, 4) => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).into(),
        (true, 16) => {
            let b: [u8; 16] = bytes.try_into().ok()?;
            std::net::Ipv6Addr::from(b).into()
        }
        _ => return None,
    };
    Some(std::net::SocketAddr::new(ip, port))
}

/// The socket links (`socket:[INODE]`) among the open files of `pid`.
fn socket_links(pid: u32) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .map(std::path::PathBuf::into_os_string)
        .collect()
}

/// Every pid of this host that /proc lists.
fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// The command line of `pid`, its arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let b = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = String::from_utf8_lossy(&b)
        .split('\0')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    (!args.is_empty()).then_some(args)
}

/// The TCP addresses the processes of `pids` listen on, on this host
/// (sorted, without repeats).
pub fn listening(pids: &[u32]) -> Vec<std::net::SocketAddr> {
    let all = listeners();
    let mut out: Vec<std::net::SocketAddr> = pids
        .iter()
        .flat_map(|p| socket_links(*p))
        .filter_map(|l| all.iter().find(|s| l == s.inode.as_str()).map(|s| s.addr))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The process listening on TCP `port` on this host, as `pid (command)`,
/// read from /proc (its sockets' inodes, then every process's fds).
pub fn port_holder(port: u16) -> Option<String> {
    let inodes: Vec<String> = listeners()
        .into_iter()
        .filter(|l| l.addr.port() == port)
        .map(|l| l.inode)
        .collect();
    if inodes.is_empty() {
        return None;
    }
    for pid in pids() {
        let holds = socket_links(pid)
            .iter()
            .any(|l| inodes.iter().any(|i| l == i.as_str()));
        if holds {
            let cmd = cmdline(pid).unwrap_or_default().join(" ");
            return Some(format!("pid {pid} ({cmd})"));
        }
    }
    Some("a process upshift cannot see (another user's?)".into())
}

#[cfg(test)]
mod tests {
    /// A server whose main thread ends while its workers serve (some Python
    /// servers do) shows its leader as a zombie: it is still alive.
    #[test]
    fn a_process_whose_main_thread_ended_is_alive_until_its_threads_end() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("leader.c");
        std::fs::write(
            &src,
            "#include <pthread.h>\n#include <unistd.h>\n\
             static void *w(void *a) { (void)a; sleep(60); return 0; }\n\
             int main(void) { pthread_t t; pthread_create(&t, 0, w, 0); pthread_exit(0); }\n",
        )
        .unwrap();
        let bin = dir.path().join("leader");
        let built = std::process::Command::new("cc")
            .args(["-pthread", "-o"])
            .arg(&bin)
            .arg(&src)
            .status()
            .expect("cc (gcc) builds the test program");
        assert!(built.success());
        let mut child = std::process::Command::new(&bin).spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while super::task_state(&format!("/proc/{pid}/stat")) != Some('Z') {
            assert!(
                std::time::Instant::now() < deadline,
                "the leader never ended its thread"
            );
            std::thread::yield_now();
        }
        assert!(super::pid_alive(pid), "a worker thread still runs");
        child.kill().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while super::pid_alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "still alive after SIGKILL"
            );
            std::thread::yield_now();
        }
        child.wait().unwrap();
    }

    #[test]
    fn the_holder_of_a_listening_port_is_named() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let holder = super::port_holder(port).expect("our listener is found");
        assert!(
            holder.starts_with(&format!("pid {} (", std::process::id())),
            "{holder}"
        );
        drop(l);
        assert_eq!(super::port_holder(port), None);
    }

    #[test]
    fn the_addresses_a_process_listens_on_are_found() {
        let l4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let found = super::listening(&[std::process::id()]);
        assert!(found.contains(&l4.local_addr().unwrap()), "{found:?}");
        if let Ok(l6) = std::net::TcpListener::bind("[::1]:0") {
            let found = super::listening(&[std::process::id()]);
            assert!(found.contains(&l6.local_addr().unwrap()), "{found:?}");
        }
        assert_eq!(
            super::parse_proc_addr("0100007F:1C85", false),
            Some("127.0.0.1:7301".parse().unwrap())
        );
    }
}
