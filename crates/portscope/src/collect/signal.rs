//! Signalling exactly the process that was shown: a [`ProcessHandle`] pins a
//! holder when it is listed, and signals it later only if it is still that
//! process and still holds the socket. A pid reused in between (the holder
//! exited, another process got its number) is never signalled.
//!
//! Not a policy: which processes deserve a signal is the caller's choice.
//! How a process is pinned is the [`System`](super::System)'s business
//! ([`System::pin`](super::System::pin)).

pub use rustix::process::Signal;

/// What a [`System`](super::System) pins a process with (a pidfd on Linux).
pub trait Pinned: Send + Sync + std::fmt::Debug {
    /// The pid the process had when pinned.
    fn pid(&self) -> u32;
    /// Whether the pinned process has exited.
    fn exited(&self) -> bool;
    /// See [`ProcessHandle::signal_if_holding`].
    fn signal_if_holding(&self, inodes: &[u64], sig: Signal) -> SignalOutcome;
}

/// A process pinned when it was listed.
#[derive(Debug)]
pub struct ProcessHandle {
    pinned: Box<dyn Pinned>,
}

/// Why a process could not be pinned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// It exited before it could be pinned.
    #[error("exited meanwhile")]
    Gone,
    /// The OS offers no way to pin it (no pidfd: Linux before 5.3, a
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
    /// The process is one of a recorded snapshot: nothing runs to signal.
    Recorded,
    /// Signalling failed otherwise.
    Failed(String),
}

impl ProcessHandle {
    /// A handle on what a [`System`](super::System) pinned.
    pub fn new(pinned: impl Pinned + 'static) -> ProcessHandle {
        ProcessHandle {
            pinned: Box::new(pinned),
        }
    }

    /// The pid the process had when pinned.
    pub fn pid(&self) -> u32 {
        self.pinned.pid()
    }

    /// Whether the pinned process has exited.
    pub fn exited(&self) -> bool {
        self.pinned.exited()
    }

    /// Sends `sig` if the pinned process still runs and still holds one of
    /// the socket `inodes` (checked in its fd table just before). When its
    /// fd table cannot be read (permission), identity alone decides and the
    /// kernel's permission check stands.
    pub fn signal_if_holding(&self, inodes: &[u64], sig: Signal) -> SignalOutcome {
        self.pinned.signal_if_holding(inodes, sig)
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
            SignalOutcome::Recorded => f.write_str("recorded: nothing to signal"),
            SignalOutcome::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}
