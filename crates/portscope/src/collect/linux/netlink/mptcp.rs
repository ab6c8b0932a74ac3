//! MPTCP sockets through inet_diag: the dump request, which names the
//! protocol in an `INET_DIAG_REQ_PROTOCOL` attribute because
//! `IPPROTO_MPTCP` (262) does not fit the request's protocol byte.
//!
//! The replies are ordinary `inet_diag_msg`s (`inet.rs` parses them as
//! [`Proto::Mptcp`](crate::model::Proto::Mptcp)). Their `INET_DIAG_INFO`
//! would be a `struct mptcp_info`, not a tcp_info, so the request never
//! asks for it. A kernel without mptcp_diag answers ENOENT, which the
//! caller treats as "no MPTCP sockets".

use super::requests::{INET_DIAG_REQ_LEN, KNOWN_STATES, dump_request};
use super::wire::NLMSG_HDRLEN;

/// `IPPROTO_MPTCP`.
pub(crate) const IPPROTO_MPTCP: u32 = 262;
/// `INET_DIAG_REQ_PROTOCOL` (linux/inet_diag.h).
const INET_DIAG_REQ_PROTOCOL: u16 = 3;
/// The request: header, `inet_diag_req_v2`, one 8-byte u32 attribute.
pub(crate) const MPTCP_REQ_LEN: usize = NLMSG_HDRLEN + INET_DIAG_REQ_LEN + 8;

/// An `inet_diag_req_v2` dump request for MPTCP sockets of family `af`
/// in `states`; of `ext` only memory is kept.
pub(crate) fn mptcp_request(seq: u32, af: u8, states: u32, ext: u8) -> [u8; MPTCP_REQ_LEN] {
    let mut b: [u8; MPTCP_REQ_LEN] = dump_request(seq);
    b[16] = af;
    // The protocol byte stays 0: a kernel that ignores the attribute then
    // finds no handler and says so, rather than dumping TCP under our name.
    b[17] = 0;
    b[18] = ext & super::EXT_SKMEMINFO;
    b[20..24].copy_from_slice(&(states & KNOWN_STATES).to_ne_bytes());
    let at = NLMSG_HDRLEN + INET_DIAG_REQ_LEN;
    b[at..at + 2].copy_from_slice(&8u16.to_ne_bytes());
    b[at + 2..at + 4].copy_from_slice(&INET_DIAG_REQ_PROTOCOL.to_ne_bytes());
    b[at + 4..at + 8].copy_from_slice(&IPPROTO_MPTCP.to_ne_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::linux::netlink::wire::{AF_INET6, read_u16, read_u32};

    #[test]
    fn the_protocol_goes_in_an_attribute() {
        let r = mptcp_request(4, AF_INET6, 1 << 10, 0xff);
        assert_eq!(read_u32(&r, 0), Some(80), "nlmsg_len");
        assert_eq!((r[16], r[17]), (AF_INET6, 0));
        assert_eq!(
            r[18],
            super::super::EXT_SKMEMINFO,
            "no mptcp_info asked for"
        );
        assert_eq!(read_u32(&r, 20), Some(1 << 10));
        assert_eq!(read_u16(&r, 72), Some(8));
        assert_eq!(read_u16(&r, 74), Some(INET_DIAG_REQ_PROTOCOL));
        assert_eq!(read_u32(&r, 76), Some(262));
    }
}
