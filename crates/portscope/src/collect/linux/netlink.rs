//! NETLINK_SOCK_DIAG collector (stub, being written).

use crate::collect::Collector;
use crate::error::{Error, Result};
use crate::model::{Query, Socket, Source};

/// Sockets from the kernel's sock_diag netlink interface.
pub struct Netlink {
    _private: (),
}

impl Netlink {
    /// Opens a NETLINK_SOCK_DIAG socket.
    pub fn open() -> Result<Netlink> {
        Err(Error::NetlinkUnavailable(std::io::Error::other(
            "not built yet",
        )))
    }
}

impl Collector for Netlink {
    fn source(&self) -> Source {
        Source::Netlink
    }
    fn collect(&self, _query: &Query, _out: &mut Vec<Socket>) -> Result<()> {
        Ok(())
    }
}
