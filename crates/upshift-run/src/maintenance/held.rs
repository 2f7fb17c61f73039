//! The listening socket of a public address, held by upshift through the
//! window: taken from the service before it stops (so no connection is
//! ever refused), or bound once it stopped, and handed to the new version
//! when it opts into socket activation.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{StepError, StepResult};

/// A listening socket on a service's public address.
pub struct HeldListener {
    socket: TcpListener,
    /// How it was got, for messages and the journal of decisions.
    pub origin: Origin,
}

/// Where a held socket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Duplicated from the running service (`pidfd_getfd`): the very
    /// socket it listened on, its queued connections included.
    Taken { pid: u32 },
    /// Bound by upshift once the address was free.
    Bound,
}

impl HeldListener {
    /// Duplicates the socket listening on `addr` from the process that has
    /// it open (Linux ≥ 5.6, `pidfd_getfd(2)`; needs the right to ptrace
    /// that process). `None` when no process here listens on exactly
    /// `addr`, or the kernel refuses.
    pub fn take(addr: &str) -> Option<HeldListener> {
        let want = resolve(addr)?;
        crate::proc::listening_fds(want)
            .into_iter()
            .find_map(|(pid, fd)| {
                let socket = TcpListener::from(dup_from(pid, fd).ok()?);
                let held = HeldListener {
                    socket,
                    origin: Origin::Taken { pid },
                };
                (held.local() == Some(want)).then_some(held)
            })
    }

    /// Binds `addr`, retrying every millisecond for up to 10 s while the
    /// stopped service's socket is still being closed.
    pub fn bind(addr: &str) -> StepResult<HeldListener> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(addr) {
                Ok(socket) => {
                    return Ok(HeldListener {
                        socket,
                        origin: Origin::Bound,
                    })
                }
                Err(e) if Instant::now() >= deadline => return Err(bind_error(addr, e)),
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    /// Whether the socket still listens: a service that shut its socket
    /// down (rather than closing it) as it stopped leaves one that does not.
    pub fn listens(&self) -> bool {
        let mut on: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt into a c_int of the stated length.
        let r = unsafe {
            libc::getsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&self.socket),
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut on as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        r == 0 && on == 1
    }

    pub fn local(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Another handle on the same socket (for the page's accept thread).
    pub fn handle(&self) -> StepResult<TcpListener> {
        self.socket
            .try_clone()
            .map_err(|e| StepError::msg(format!("cannot share the page's socket: {e}")))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// The one address `addr` names (`127.0.0.1:7302`, `[::1]:80`, `localhost:80`).
fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok()?.next()
}

/// A copy, in this process, of `pid`'s descriptor `fd`.
fn dup_from(pid: u32, fd: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open and pidfd_getfd return new descriptors (or -1),
    // each owned once by the `OwnedFd` made of it.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
        if pidfd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
        let got = libc::syscall(
            libc::SYS_pidfd_getfd,
            std::os::fd::AsRawFd::as_raw_fd(&pidfd),
            fd,
            0,
        );
        if got < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // pidfd_getfd sets close-on-exec on the copy: hooks do not inherit it.
        Ok(OwnedFd::from_raw_fd(got as i32))
    }
}

/// Why `addr` cannot be bound, naming a process that holds it (one upshift
/// does not track: its pidfile was never written).
fn bind_error(addr: &str, e: std::io::Error) -> StepError {
    let holder = (e.kind() == std::io::ErrorKind::AddrInUse)
        .then(|| addr.rsplit_once(':')?.1.parse().ok())
        .flatten()
        .and_then(crate::proc::port_holder);
    match holder {
        Some(h) => StepError::msg(format!(
            "maintenance page cannot listen on {addr}: {e}: {h} listens there; stop it (it is not one upshift started or tracks), then resume"
        )),
        None => StepError::msg(format!("maintenance page cannot listen on {addr}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A child process listens; the socket taken from it keeps listening
    /// after the child is gone, and a connection made in between waits in
    /// its queue instead of being refused.
    #[test]
    fn a_socket_taken_from_a_process_outlives_it() {
        // A socket of this process, passed to a child `sleep` as its fd 3,
        // stands for a service's listener.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut child = {
            use std::os::unix::process::CommandExt;
            let fd = std::os::fd::AsRawFd::as_raw_fd(&l);
            let mut c = std::process::Command::new("sleep");
            c.arg("60");
            // SAFETY: dup2/fcntl only, between fork and exec.
            unsafe {
                c.pre_exec(move || crate::proc::pass_as_fd3(fd));
            }
            c.spawn().unwrap()
        };
        drop(l);
        let deadline = Instant::now() + Duration::from_secs(10);
        let held = loop {
            if let Some(h) = HeldListener::take(&addr.to_string()) {
                break h;
            }
            assert!(Instant::now() < deadline, "never saw the child's socket");
            std::thread::sleep(Duration::from_millis(5));
        };
        // (Another test's child, between its fork and exec, may hold the
        // same socket for a moment: any holder's copy is the same socket.)
        assert!(matches!(held.origin, Origin::Taken { .. }));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(held.listens());
        let mut c = std::net::TcpStream::connect(addr).expect("queued, not refused");
        c.write_all(b"ping").unwrap();
        let (mut s, _) = held.handle().unwrap().accept().unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    #[test]
    fn no_socket_is_taken_where_nothing_listens() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap().to_string();
        drop(free);
        assert!(HeldListener::take(&addr).is_none());
    }
}
