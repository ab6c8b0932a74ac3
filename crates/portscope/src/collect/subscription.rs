//! A stream of sockets the OS has just freed, with their last counters:
//! what [`System::subscribe`](super::System::subscribe) gives and
//! [`crate::events`] turns into `close` and `unlisten` events.

use std::time::Duration;

use std::sync::Arc;

use crate::error::Result;
use crate::model::{Netns, Socket};

use super::NetnsScope;

/// What one wait for destroyed sockets gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// Nothing arrived in time.
    Timeout,
    /// This many sockets were appended.
    Sockets(usize),
    /// The OS dropped notifications (a burst overflowed the queue). The
    /// count is how many, when the OS says.
    Lost(Option<u64>),
}

/// A process started or ended (Linux: the proc connector), which the
/// events engine takes as a cue to look at its fds at once, or to forget it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessEvent {
    /// `parent` forked `child` (a process, not a thread).
    Fork {
        /// The parent's pid.
        parent: u32,
        /// The new process's pid.
        child: u32,
    },
    /// The process execed another program.
    Exec(u32),
    /// The process exited.
    Exit(u32),
}

/// A subscription to socket-destroy notifications in one network namespace.
pub trait Subscription: Send {
    /// Waits up to `timeout` for notifications and appends every socket
    /// destroyed since the last call to `out` (TCP sockets with their final
    /// tcp_info in [`Socket::extra`]).
    fn wait(&mut self, timeout: Duration, out: &mut Vec<Socket>) -> Result<Received>;

    /// An identifier of the network namespace the subscription listens in
    /// (Linux: the namespace's inode), when known.
    fn netns(&self) -> Option<u64> {
        None
    }

    /// The namespace of the last [`Received::Lost`], when known.
    fn lost_netns(&self) -> Option<u64> {
        self.netns()
    }

    /// Hears the namespaces a dump of `scope` covers: `seen` are those
    /// its sockets were in (more may be added, such as namespaces that
    /// have none yet). The sockets then waited for carry their namespace
    /// ([`Socket::netns`]). A subscription of one namespace ignores this.
    fn cover(&mut self, scope: NetnsScope, seen: &[Arc<Netns>]) -> Result<()> {
        let _ = (scope, seen);
        Ok(())
    }

    /// Moves the process events that came with the notifications so far
    /// into `out` (none where the OS gives none, or not to this caller).
    fn take_processes(&mut self, out: &mut Vec<ProcessEvent>) {
        let _ = out;
    }

    /// What the user should know of the subscription (a part unavailable).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}
