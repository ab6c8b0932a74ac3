//! Signalling exactly the process that was shown: a [`ProcessHandle`] pins a
//! holder when it is listed, and signals it later only if it is still that
//! process and still holds the socket. A pid reused in between (the holder
//! exited, another process got its number) is never signalled.
//!
//! Not a policy: which processes deserve a signal is the caller's choice.

use super::linux::pidfd::{Holds, OpenError, Pidfd};

pub use rustix::process::Signal;

/// A process pinned when it was listed (a pidfd on Linux).
#[derive(Debug)]
pub struct ProcessHandle {
    pidfd: Pidfd,
}

/// Why a process could not be pinned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// It exited before it could be pinned.
    #[error("exited meanwhile")]
    Gone,
    /// The kernel offers no way to pin it (no pidfd: Linux before 5.3, a
    /// sandbox); signalling by pid alone could hit a reused pid.
    #[error("cannot pin the process ({0}); not signalling it by pid alone")]
    Unsupported(String),
}

/// What came of [`ProcessHandle::signal_if_holding`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalOutcome {
    /// The signal was delivered.
    Sent,
    /// The process exited after it was listed; nothing was signalled (even
    /// if another process now has its pid).
    ExitedMeanwhile,
    /// The process runs but no longer holds any of the sockets; nothing
    /// was signalled.
    NoLongerHolds,
    /// The kernel refused the signal (another user's process).
    NotPermitted,
    /// Signalling failed otherwise.
    Failed(String),
}

impl ProcessHandle {
    /// Pins process `pid` as it is now.
    pub fn pin(pid: u32) -> Result<ProcessHandle, PinError> {
        match Pidfd::open(pid) {
            Ok(pidfd) => Ok(ProcessHandle { pidfd }),
            Err(OpenError::Gone) => Err(PinError::Gone),
            Err(OpenError::Refused(e)) => Err(PinError::Unsupported(e.to_string())),
        }
    }

    /// The pid the process had when pinned.
    pub fn pid(&self) -> u32 {
        self.pidfd.pid()
    }

    /// Whether the pinned process has exited.
    pub fn exited(&self) -> bool {
        self.pidfd.exited()
    }

    /// Sends `sig` if the pinned process still runs and still holds one of
    /// the socket `inodes` (checked in its fd table just before). When its
    /// fd table cannot be read (permission), identity alone decides and the
    /// kernel's permission check stands.
    pub fn signal_if_holding(&self, inodes: &[u64], sig: Signal) -> SignalOutcome {
        if self.pidfd.exited() {
            return SignalOutcome::ExitedMeanwhile;
        }
        let holds = self.pidfd.holds_any(inodes);
        // The fd table read above belongs to the pinned process only if it
        // had not exited by the end of the read: until it exits (and is
        // reaped) its pid cannot name another process.
        if self.pidfd.exited() {
            return SignalOutcome::ExitedMeanwhile;
        }
        if holds == Holds::No {
            return SignalOutcome::NoLongerHolds;
        }
        match self.pidfd.signal(sig) {
            Ok(()) => SignalOutcome::Sent,
            Err(rustix::io::Errno::SRCH) => SignalOutcome::ExitedMeanwhile,
            Err(rustix::io::Errno::PERM) => SignalOutcome::NotPermitted,
            Err(e) => SignalOutcome::Failed(e.to_string()),
        }
    }
}

impl std::fmt::Display for SignalOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignalOutcome::Sent => f.write_str("signalled"),
            SignalOutcome::ExitedMeanwhile => f.write_str("exited meanwhile; not signalled"),
            SignalOutcome::NoLongerHolds => {
                f.write_str("no longer holds the socket; not signalled")
            }
            SignalOutcome::NotPermitted => f.write_str("not permitted"),
            SignalOutcome::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;
    use std::process::Command;

    #[test]
    fn a_child_that_exited_is_not_signalled() {
        let mut child = Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let h = ProcessHandle::pin(child.id()).expect("pin");
        assert!(!h.exited());
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert!(h.exited());
        assert_eq!(
            h.signal_if_holding(&[1], Signal::TERM),
            SignalOutcome::ExitedMeanwhile
        );
    }

    #[test]
    fn holding_is_read_from_the_fd_table() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).expect("link");
        let inode =
            crate::collect::linux::owners::socket_inode(link.as_os_str().as_encoded_bytes())
                .expect("socket inode");
        let me = ProcessHandle::pin(std::process::id()).expect("pin self");
        assert_eq!(me.pidfd.holds_any(&[inode]), Holds::Yes);
        drop(l);
        assert_eq!(me.pidfd.holds_any(&[inode]), Holds::No);
        // Not holding it: not signalled (SIGTERM would end this test).
        assert_eq!(
            me.signal_if_holding(&[inode], Signal::TERM),
            SignalOutcome::NoLongerHolds
        );
    }

    #[test]
    fn a_holder_is_signalled() {
        let mut child = Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let h = ProcessHandle::pin(child.id()).expect("pin");
        // sleep holds no socket; its stdin is ours. Signal through the
        // pidfd without the fd check to see the signal lands.
        h.pidfd.signal(Signal::KILL).expect("signal");
        let status = child.wait().expect("wait");
        assert!(!status.success());
    }
}
