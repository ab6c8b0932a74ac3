//! How a [`Snapshot`](crate::model::Snapshot) is gathered: socket sources
//! behind the [`Collector`] trait, the owner walk, and the join of the two.
//!
//! OS-specific code lives in one folder per OS (`linux/`); nothing above this
//! module names an OS.

use crate::error::Result;
use crate::model::{Query, Socket, Source};

#[cfg(target_os = "linux")]
pub mod linux;

pub mod host;
mod signal;
mod snapshot;
pub use signal::{PinError, ProcessHandle, Signal, SignalOutcome};
pub use snapshot::{Options, Refresher, SourceChoice, take};

/// What became of a request to close a connection.
pub use linux::netlink::DestroyOutcome as CloseOutcome;

/// Closes live TCP connections without touching the processes that hold
/// them, as `ss -K` does (the kernel's SOCK_DESTROY). Needs CAP_NET_ADMIN.
pub struct Closer {
    netlink: linux::netlink::Netlink,
}

impl Closer {
    /// Opens the kernel interface closing goes through.
    pub fn open() -> Result<Closer> {
        Ok(Closer {
            netlink: linux::netlink::Netlink::open()?,
        })
    }

    /// Closes one TCP socket; other protocols are [`CloseOutcome::Unsupported`].
    pub fn close(&self, s: &Socket) -> Result<CloseOutcome> {
        self.netlink.destroy(s)
    }
}

/// Reads the tcp_info of chosen TCP sockets by exact match (addresses,
/// ports and cookie), not by a dump: what a live view showing a page of
/// 100k sockets asks for the rows it shows.
pub struct InfoReader {
    netlink: linux::netlink::Netlink,
}

impl InfoReader {
    /// Opens the kernel interface the requests go through.
    pub fn open() -> Result<InfoReader> {
        Ok(InfoReader {
            netlink: linux::netlink::Netlink::open()?,
        })
    }

    /// Replaces the `extra` of each TCP socket in `sockets` with its
    /// tcp_info and congestion algorithm now; a socket that closed
    /// meanwhile is left with none. Other sockets are left alone.
    pub fn read(&self, sockets: &mut [&mut Socket]) -> Result<()> {
        self.netlink.tcp_info_of(sockets)
    }
}

/// A source of sockets.
pub trait Collector {
    /// Which source this is.
    fn source(&self) -> Source;
    /// Appends to `out` every socket the query wants (and possibly more).
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()>;
}
