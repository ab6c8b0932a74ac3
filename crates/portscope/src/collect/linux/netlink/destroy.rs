//! Closing one TCP socket through `SOCK_DESTROY` (what `ss -K` does),
//! pinned to the listed socket by its cookie.
//!
//! Not here: choosing which socket to close or asking first
//! (`crate::collect::Closer` and the CLI).

use rustix::io::Errno;

use super::Netlink;
use super::requests::INET_DIAG_REQ_LEN;
use super::transport::Read;
use super::wire::{
    AF_INET, AF_INET6, IPPROTO_TCP, NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, NLMSG_HDRLEN, NlHeader,
    align4, nl_header, read_i32,
};
use crate::error::{Error, Result};
use crate::model::{Endpoint, Family, Proto, Socket};

/// `SOCK_DESTROY`: ask the kernel to close one socket.
pub(crate) const SOCK_DESTROY: u16 = 21;
/// `INET_DIAG_NOCOOKIE`: match the socket by its addresses alone. Used only
/// for a socket whose cookie is unknown (0: read from /proc/net).
pub(crate) const INET_DIAG_NOCOOKIE: u32 = !0;

/// What became of a request to close a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestroyOutcome {
    /// The kernel closed it; the peer got a reset.
    Closed,
    /// Not permitted (closing a socket needs CAP_NET_ADMIN).
    NotPermitted,
    /// No such socket any more.
    Gone,
    /// This kernel cannot close sockets (`CONFIG_INET_DIAG_DESTROY` unset),
    /// or not sockets of this kind.
    Unsupported,
}

/// A `SOCK_DESTROY` request for one TCP socket, selected by its addresses,
/// bound interface and cookie: the kernel refuses (ESTALE) when the socket
/// now on those addresses is not the one that was listed, so a connection
/// that closed and was replaced by another on the same ports is left alone.
pub fn destroy_request(seq: u32, s: &Socket) -> Option<[u8; 72]> {
    if s.proto != Proto::Tcp {
        return None;
    }
    let (Endpoint::Inet { addr: la, port: lp }, Endpoint::Inet { addr: ra, port: rp }) =
        (&s.local, &s.remote)
    else {
        return None;
    };
    let af = match s.family {
        Family::Inet => AF_INET,
        Family::Inet6 => AF_INET6,
        Family::Unix | Family::Packet | Family::Netlink => return None,
    };
    let bytes16 = |a: &std::net::IpAddr| -> [u8; 16] {
        let mut out = [0u8; 16];
        match a {
            std::net::IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
            std::net::IpAddr::V6(v6) => out = v6.octets(),
        }
        out
    };
    let mut b = [0u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN];
    let len = b.len();
    nl_header(&mut b, len, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK, seq);
    b[16] = af;
    b[17] = IPPROTO_TCP;
    b[20..24].copy_from_slice(&s.state.mask_bit().to_ne_bytes());
    // inet_diag_sockid: ports in network order, then addresses, interface, cookie.
    b[24..26].copy_from_slice(&lp.to_be_bytes());
    b[26..28].copy_from_slice(&rp.to_be_bytes());
    b[28..44].copy_from_slice(&bytes16(la));
    b[44..60].copy_from_slice(&bytes16(ra));
    b[60..64].copy_from_slice(&s.bound_if.to_ne_bytes());
    // The cookie as the dump gave it: two u32s, low half first.
    let (lo, hi) = if s.cookie == 0 {
        (INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    } else {
        (s.cookie as u32, (s.cookie >> 32) as u32)
    };
    b[64..68].copy_from_slice(&lo.to_ne_bytes());
    b[68..72].copy_from_slice(&hi.to_ne_bytes());
    Some(b)
}

/// Reads the kernel's answer to a request sent with NLM_F_ACK: the errno it
/// carries (0 for success), or `None` if the bytes hold no such answer.
pub fn ack_errno(buf: &[u8], seq: u32) -> Option<i32> {
    let mut at = 0;
    while let Some(rest) = buf.get(at..) {
        let h = NlHeader::read(rest).ok()?;
        if h.kind == NLMSG_ERROR && h.seq == seq {
            return read_i32(rest, NLMSG_HDRLEN).map(i32::saturating_neg);
        }
        at += align4(h.len);
    }
    None
}

impl Netlink {
    /// Closes one TCP socket through `SOCK_DESTROY`. Only TCP sockets can be
    /// closed this way; others are [`DestroyOutcome::Unsupported`].
    pub fn destroy(&self, s: &Socket) -> Result<DestroyOutcome> {
        let seq = self.nl.next_seq();
        let Some(req) = destroy_request(seq, s) else {
            return Ok(DestroyOutcome::Unsupported);
        };
        let mut buf = self.nl.lock_buf();
        self.nl.send(&req)?;
        loop {
            let n = match self.nl.recv(&mut buf)? {
                Read::Bytes(n) => n,
                Read::Truncated => continue,
            };
            let Some(errno) = ack_errno(&buf[..n], seq) else {
                continue; // a stale reply to an earlier request
            };
            if errno == 0 {
                return Ok(DestroyOutcome::Closed);
            }
            return Ok(match Errno::from_raw_os_error(errno) {
                Errno::PERM | Errno::ACCESS => DestroyOutcome::NotPermitted,
                // ESTALE: a socket is on those addresses, but not the one
                // listed (its cookie differs).
                Errno::NOENT | Errno::SRCH | Errno::STALE => DestroyOutcome::Gone,
                Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS => DestroyOutcome::Unsupported,
                other => return Err(Error::Netlink(other.into())),
            });
        }
    }
}
