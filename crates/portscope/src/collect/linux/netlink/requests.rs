//! sock_diag dump requests: `inet_diag_req_v2` for TCP, UDP and raw
//! sockets, `unix_diag_req` for unix ones, and the extension bits that ask
//! the kernel for tcp_info, congestion and memory.
//!
//! Also the exact-match request for one socket's tcp_info. Not here:
//! sending them (`transport.rs`), closing a socket (`destroy.rs`).

use std::io;

use super::destroy::destroy_request;
use super::inet::{INET_DIAG_CONG, INET_DIAG_INFO, INET_DIAG_SKMEMINFO};
use super::wire::{
    AF_INET, AF_INET6, AF_UNIX, IPPROTO_RAW, IPPROTO_TCP, IPPROTO_UDP, NLM_F_DUMP, NLM_F_REQUEST,
    NLMSG_HDRLEN, nl_header,
};
use crate::error::{Error, Result};
use crate::model::{Detail, Family, Proto, Socket, StateSet, TcpState};

// linux/sock_diag.h, linux/inet_diag.h, linux/unix_diag.h
pub(crate) const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_req_v2`.
pub(crate) const INET_DIAG_REQ_LEN: usize = 56;
/// `struct unix_diag_req`.
const UNIX_DIAG_REQ_LEN: usize = 24;
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_MEMINFO: u32 = 0x20;
const UDIAG_SHOW_UID: u32 = 0x40;

/// `idiag_ext` bit asking for `INET_DIAG_INFO` (struct tcp_info).
pub const EXT_INFO: u8 = 1 << (INET_DIAG_INFO - 1);
/// `idiag_ext` bit asking for `INET_DIAG_CONG` (congestion control name).
pub const EXT_CONG: u8 = 1 << (INET_DIAG_CONG - 1);
/// `idiag_ext` bit asking for `INET_DIAG_SKMEMINFO` (socket memory).
pub const EXT_SKMEMINFO: u8 = 1 << (INET_DIAG_SKMEMINFO - 1);

/// The `idiag_ext` bits for the details `detail` asks for.
pub const fn ext_bits(detail: Detail) -> u8 {
    let mut ext = 0;
    if detail.info {
        ext |= EXT_INFO | EXT_CONG;
    }
    if detail.memory {
        ext |= EXT_SKMEMINFO;
    }
    ext
}

/// The older inet_diag request type for TCP (`TCPDIAG_GETSOCK`), whose
/// dump covers IPv4 and IPv6 sockets at once; its replies carry this type.
pub(crate) const TCPDIAG_GETSOCK: u16 = 18;
/// `struct inet_diag_req` (the request of [`TCPDIAG_GETSOCK`]).
const INET_DIAG_REQ_V1_LEN: usize = 60;

/// A dump request, ready to send.
pub(crate) enum Request {
    Inet([u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN]),
    Unix([u8; NLMSG_HDRLEN + UNIX_DIAG_REQ_LEN]),
    /// An inet_diag request with an `INET_DIAG_REQ_PROTOCOL` attribute
    /// (MPTCP, whose number does not fit the request's byte).
    InetProto([u8; super::mptcp::MPTCP_REQ_LEN]),
    /// A packet_diag or netlink_diag request (both 20 bytes).
    Family([u8; NLMSG_HDRLEN + super::packet::FAMILY_REQ_LEN]),
    TcpBoth([u8; NLMSG_HDRLEN + INET_DIAG_REQ_V1_LEN]),
}

impl AsRef<[u8]> for Request {
    fn as_ref(&self) -> &[u8] {
        match self {
            Request::Inet(b) => b,
            Request::Unix(b) => b,
            Request::InetProto(b) => b,
            Request::Family(b) => b,
            Request::TcpBoth(b) => b,
        }
    }
}

/// A dump of TCP sockets of both IP families in one walk of the kernel's
/// tables (`TCPDIAG_GETSOCK`, which `ss -t` uses too): two
/// SOCK_DIAG_BY_FAMILY dumps, one per family, each walk every TCP socket
/// (the IPv6 one skipping every IPv4 socket, and the other way round).
pub(crate) fn tcp_both_request(seq: u32, states: u32, ext: u8) -> Request {
    const N: usize = NLMSG_HDRLEN + INET_DIAG_REQ_V1_LEN;
    let mut b = [0u8; N];
    nl_header(&mut b, N, TCPDIAG_GETSOCK, NLM_F_REQUEST | NLM_F_DUMP, seq);
    // idiag_family: a dump ignores it (both families come).
    b[16] = AF_INET;
    b[19] = ext;
    // inet_diag_sockid (48 bytes) zero, then idiag_states, idiag_dbs.
    b[68..72].copy_from_slice(&(states & KNOWN_STATES).to_ne_bytes());
    Request::TcpBoth(b)
}

/// The dump request for `proto` over `family` (`Proto::Unix` goes with
/// `Family::Unix`); `ext` is the `idiag_ext` bitmap, of which a unix
/// request uses only [`EXT_SKMEMINFO`].
pub(crate) fn request(
    family: Family,
    proto: Proto,
    states: StateSet,
    ext: u8,
    seq: u32,
) -> Result<Request> {
    let af = match family {
        Family::Inet => AF_INET,
        Family::Inet6 => AF_INET6,
        Family::Unix => AF_UNIX,
        Family::Packet => return Ok(Request::Family(super::packet::packet_request(seq, ext))),
        Family::Netlink => return Ok(Request::Family(super::nl::netlink_request(seq, ext))),
    };
    Ok(match (proto, af) {
        (Proto::Unix, AF_UNIX) => {
            Request::Unix(unix_request(seq, states.0, ext & EXT_SKMEMINFO != 0))
        }
        (Proto::Tcp, AF_INET | AF_INET6) => {
            Request::Inet(inet_request(seq, af, IPPROTO_TCP, states.0, ext))
        }
        (Proto::Udp, AF_INET | AF_INET6) => {
            Request::Inet(inet_request(seq, af, IPPROTO_UDP, states.0, ext))
        }
        (Proto::Raw, AF_INET | AF_INET6) => {
            Request::Inet(inet_request(seq, af, IPPROTO_RAW, states.0, ext))
        }
        (Proto::Mptcp, AF_INET | AF_INET6) => {
            Request::InetProto(super::mptcp::mptcp_request(seq, af, states.0, ext))
        }
        _ => {
            return Err(Error::Netlink(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no sock_diag dump for {proto} over {}", family.as_str()),
            )));
        }
    })
}

/// A zeroed request of `N` bytes under a SOCK_DIAG_BY_FAMILY dump header.
pub(crate) fn dump_request<const N: usize>(seq: u32) -> [u8; N] {
    let mut b = [0u8; N];
    nl_header(
        &mut b,
        N,
        SOCK_DIAG_BY_FAMILY,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    );
    b
}

/// The state bits a dump may ask for: the states [`TcpState::from_kernel`]
/// knows (1 to 12). Bit 13 (`TCP_BOUND_INACTIVE`, bound but neither
/// listening nor connected) would make the kernel walk its whole bind hash
/// a second time, for sockets the parser then drops: at 100k sockets a
/// quarter of the dump's cost.
pub(crate) const KNOWN_STATES: u32 = {
    let mut m = 0;
    let mut i = 0;
    while i < TcpState::ALL.len() {
        m |= TcpState::ALL[i].mask_bit();
        i += 1;
    }
    m
};

/// An `inet_diag_req_v2` dump request. For raw sockets the pad byte is
/// `sdiag_raw_protocol`, and IPPROTO_RAW there means "every protocol".
pub(crate) fn inet_request(seq: u32, af: u8, protocol: u8, states: u32, ext: u8) -> [u8; 72] {
    let states = states & KNOWN_STATES;
    let mut b: [u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN] = dump_request(seq);
    b[16] = af;
    b[17] = protocol;
    b[18] = ext;
    b[19] = if protocol == IPPROTO_RAW {
        IPPROTO_RAW
    } else {
        0
    };
    b[20..24].copy_from_slice(&states.to_ne_bytes());
    // inet_diag_sockid all zero: no socket selected, dump them all.
    b
}

/// A `unix_diag_req` dump request asking for name, peer, queue lengths and
/// uid, and memory when `meminfo` is set.
pub(crate) fn unix_request(seq: u32, states: u32, meminfo: bool) -> [u8; 40] {
    let mut b: [u8; NLMSG_HDRLEN + UNIX_DIAG_REQ_LEN] = dump_request(seq);
    b[16] = AF_UNIX;
    b[20..24].copy_from_slice(&states.to_ne_bytes());
    let mut show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
    if meminfo {
        show |= UDIAG_SHOW_MEMINFO;
    }
    b[28..32].copy_from_slice(&show.to_ne_bytes());
    // cookie: all ones would mean "no cookie" for a single-socket query;
    // a dump ignores it.
    b
}

/// An exact-match `SOCK_DIAG_BY_FAMILY` request for one TCP socket's
/// tcp_info and congestion algorithm: its addresses, ports, interface and
/// cookie, as [`destroy_request`] selects it; `None` for other sockets.
pub fn info_request(seq: u32, s: &Socket) -> Option<[u8; 72]> {
    let mut b = destroy_request(seq, s)?;
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    b[18] = EXT_INFO | EXT_CONG;
    b[20..24].copy_from_slice(&KNOWN_STATES.to_ne_bytes());
    Some(b)
}
