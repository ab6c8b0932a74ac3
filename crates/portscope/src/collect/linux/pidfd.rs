//! A process pinned by a pidfd: whether it still runs, whether it still
//! holds a socket, and a signal that cannot reach a reused pid.
//!
//! Not the owner walk: this reads one process's fd table, on demand, for a
//! decision about that one process.

use std::fs;
use std::os::fd::OwnedFd;

use rustix::event::{PollFd, PollFlags, poll};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

use super::owners::socket_inode;

/// A pidfd for one process.
#[derive(Debug)]
pub struct Pidfd {
    pid: u32,
    fd: OwnedFd,
}

/// Why a pidfd could not be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// No such process (it exited).
    Gone,
    /// The kernel refused (no pidfd support, or a sandbox).
    Refused(Errno),
}

impl Pidfd {
    /// Pins `pid` as it is now.
    pub fn open(pid: u32) -> Result<Pidfd, OpenError> {
        let raw = i32::try_from(pid).map_err(|_| OpenError::Gone)?;
        let p = Pid::from_raw(raw).ok_or(OpenError::Gone)?;
        match pidfd_open(p, PidfdFlags::empty()) {
            Ok(fd) => Ok(Pidfd { pid, fd }),
            Err(Errno::SRCH) => Err(OpenError::Gone),
            Err(e) => Err(OpenError::Refused(e)),
        }
    }

    /// The pid as it was when pinned.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the pinned process has exited (a pidfd is readable then).
    pub fn exited(&self) -> bool {
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        // A zero timeout: look, don't wait.
        let now = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match poll(&mut fds, Some(&now)) {
            Ok(n) => n > 0 && !fds[0].revents().is_empty(),
            Err(_) => false,
        }
    }

    /// Whether the fd table of `/proc/<pid>` names one of `inodes`. Only
    /// meaningful about the pinned process when [`Pidfd::exited`] is false
    /// afterwards: until it exits, its pid cannot be given to another.
    pub fn holds_any(&self, inodes: &[u64]) -> Holds {
        let dir = match fs::read_dir(format!("/proc/{}/fd", self.pid)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Holds::Unknown,
            Err(_) => return Holds::No,
        };
        for entry in dir.flatten() {
            let Ok(target) = fs::read_link(entry.path()) else {
                continue;
            };
            let bytes = target.as_os_str().as_encoded_bytes();
            if socket_inode(bytes).is_some_and(|i| inodes.contains(&i)) {
                return Holds::Yes;
            }
        }
        Holds::No
    }

    /// Sends `sig` to the pinned process: never to another that got its pid.
    pub fn signal(&self, sig: Signal) -> Result<(), Errno> {
        pidfd_send_signal(&self.fd, sig)
    }
}

/// Whether a process holds a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// It does.
    Yes,
    /// It does not (or its fd table is gone).
    No,
    /// Its fd table could not be read (permission).
    Unknown,
}

impl Pidfd {
    /// A duplicate of the pinned process's descriptor `fd` (`pidfd_getfd`;
    /// needs the right to ptrace it). Closed when dropped.
    pub fn dup_fd(&self, fd: u32) -> Result<OwnedFd, Errno> {
        let target = i32::try_from(fd).map_err(|_| Errno::BADF)?;
        rustix::process::pidfd_getfd(&self.fd, target, rustix::process::PidfdGetfdFlags::empty())
    }
}
