//! The sock_diag socket dumps are read from, opened without
//! `CAP_NET_ADMIN` in effect.
//!
//! The kernel decides per dump whether the reader may see the socket mark
//! (`INET_DIAG_MARK`, an 8-byte attribute on every TCP, UDP and raw socket
//! and on every request socket) with `netlink_net_capable`: the sender's
//! effective set and, for a request sent without a destination address,
//! the set the netlink socket was opened with. Nothing we show reads the mark, and at 100k sockets
//! putting it costs the kernel's dump about 4% (`bench/WATCH-RESULTS.md`), so
//! the socket dumps run on is opened with the capability lowered from this
//! thread's effective set for the moment of `socket()` and raised again at
//! once, and sends its requests without an address. Capabilities are per thread and `capset` here touches only the
//! calling one; the permitted set is left alone, so nothing is lost.
//!
//! Closing sockets (SOCK_DESTROY) and tcp_info by exact match keep a socket
//! opened with every capability ([`Netlink::open`]), and so do dumps that
//! include packet sockets: whether a packet socket has a filter attached
//! (the audit's sniffer rule) is reported only to CAP_NET_ADMIN.

use rustix::thread::{CapabilitySet, capabilities, set_capabilities};

use super::Netlink;
use crate::error::Result;

impl Netlink {
    /// Opens a NETLINK_SOCK_DIAG socket for dumps only: as [`Netlink::open`],
    /// but opened with `CAP_NET_ADMIN` out of the effective set, so replies
    /// leave out the socket mark (see the module doc). Without the
    /// capability in the first place, or where `capset` is refused, it is
    /// [`Netlink::open`].
    pub fn open_for_dumps() -> Result<Netlink> {
        let Ok(caps) = capabilities(None) else {
            return Netlink::open();
        };
        if !caps.effective.contains(CapabilitySet::NET_ADMIN) {
            return Netlink::open();
        }
        let mut lowered = caps;
        lowered.effective.remove(CapabilitySet::NET_ADMIN);
        if set_capabilities(None, lowered).is_err() {
            return Netlink::open();
        }
        let opened = Netlink::open_unaddressed();
        // Raising a permitted capability again cannot be refused; if it
        // were, this thread would only lose the mark on later sockets.
        let _ = set_capabilities(None, caps);
        opened
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test
mod tests {
    use super::super::inet::INET_DIAG_MSG_LEN;
    use super::super::transport::walk_messages;
    use super::super::wire::Attrs;
    use super::*;
    use crate::model::{Family, Proto, StateSet};

    /// `INET_DIAG_MARK` in linux/inet_diag.h.
    const INET_DIAG_MARK: u16 = 15;

    /// How many of the TCP sockets in a dump on `nl` carry the mark.
    fn marked(nl: &Netlink) -> (usize, usize) {
        let mut bytes = Vec::new();
        nl.dump_bytes(Family::Inet, Proto::Tcp, StateSet::ALL, 0, &mut bytes)
            .unwrap();
        let (mut sockets, mut with_mark) = (0, 0);
        // The buffers as received are whole messages back to back.
        walk_messages(&bytes, None, &mut false, |_, payload| {
            sockets += 1;
            let attrs = Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default());
            if attrs
                .map_while(std::result::Result::ok)
                .any(|(kind, _)| kind == INET_DIAG_MARK)
            {
                with_mark += 1;
            }
            Ok(())
        })
        .unwrap();
        (sockets, with_mark)
    }

    #[test]
    fn dumps_come_without_the_mark_and_the_capability_is_kept() {
        let _listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let before = capabilities(None).unwrap();
        let (sockets, with_mark) = marked(&Netlink::open_for_dumps().unwrap());
        assert!(sockets >= 1, "the dump holds our listener");
        assert_eq!(with_mark, 0, "no socket carries INET_DIAG_MARK");
        // The thread keeps what it had.
        assert_eq!(capabilities(None).unwrap().effective, before.effective);
        if before.effective.contains(CapabilitySet::NET_ADMIN) {
            // With the capability, a plain socket's replies do carry it:
            // the check above is not vacuous.
            let (_, plain_marked) = marked(&Netlink::open().unwrap());
            assert!(plain_marked >= 1, "a CAP_NET_ADMIN socket sees the mark");
        }
    }
}
