//! inet_diag replies: one `inet_diag_msg` into a [`Socket`] (TCP, UDP or
//! raw, IPv4 or IPv6), and its optional details (timer, tcp_info,
//! congestion, memory) into [`SocketExtra`].
//!
//! Pure functions over one message payload; the walk over a whole dump is
//! `reader.rs`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::tcp_info::{parse_skmeminfo, parse_tcp_info};
use super::wire::{AF_INET, AF_INET6, Attrs, cookie_at, malformed, read_16, read_u32};
use crate::error::Result;
use crate::model::{
    CongName, Detail, Endpoint, Family, Proto, Socket, SocketExtra, TcpState, Timer, TimerKind,
};

/// `struct inet_diag_msg`: 4 bytes of family/state/timer/retrans, a 48-byte
/// `inet_diag_sockid`, then expires, rqueue, wqueue, uid, inode.
pub(crate) const INET_DIAG_MSG_LEN: usize = 72;

pub(crate) const INET_DIAG_INFO: u16 = 2;
pub(crate) const INET_DIAG_CONG: u16 = 4;
pub(crate) const INET_DIAG_SKMEMINFO: u16 = 7;
/// `INET_DIAG_SKV6ONLY`: a u8, sent unasked for AF_INET6 sockets in LISTEN
/// or CLOSE (`inet_diag_msg_attrs_fill`).
pub(crate) const INET_DIAG_SKV6ONLY: u16 = 11;

/// Parses one `inet_diag_msg` (the payload of a SOCK_DIAG_BY_FAMILY reply
/// message) into a [`Socket`] of protocol `proto`.
///
/// `Ok(None)` for a socket in a state the model does not know. Of the
/// attributes after the fixed header only `INET_DIAG_SKV6ONLY` is read
/// here (for IPv6 sockets); a short or odd optional attribute never costs a
/// socket, it only leaves [`Socket::v6only`] unknown.
pub fn parse_inet_msg(payload: &[u8], proto: Proto) -> Result<Option<Socket>> {
    if payload.len() < INET_DIAG_MSG_LEN {
        return Err(malformed(format!(
            "inet_diag_msg of {} bytes, need {INET_DIAG_MSG_LEN}",
            payload.len()
        )));
    }
    let fields = (|| {
        let family = *payload.first()?;
        let state = *payload.get(1)?;
        let sport = u16::from_be_bytes([*payload.get(4)?, *payload.get(5)?]);
        let dport = u16::from_be_bytes([*payload.get(6)?, *payload.get(7)?]);
        let src = read_16(payload, 8)?;
        let dst = read_16(payload, 24)?;
        let bound_if = read_u32(payload, 40)?;
        let cookie = cookie_at(payload, 44)?;
        let rqueue = read_u32(payload, 56)?;
        let wqueue = read_u32(payload, 60)?;
        let uid = read_u32(payload, 64)?;
        let inode = read_u32(payload, 68)?;
        Some((
            family, state, sport, dport, src, dst, bound_if, cookie, rqueue, wqueue, uid, inode,
        ))
    })();
    let Some((family, state, sport, dport, src, dst, bound_if, cookie, rqueue, wqueue, uid, inode)) =
        fields
    else {
        return Err(malformed("short inet_diag_msg"));
    };
    let (family, local, remote) = match family {
        AF_INET => {
            let v4 = |a: [u8; 16]| Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            (
                Family::Inet,
                Endpoint::v4(v4(src), sport),
                Endpoint::v4(v4(dst), dport),
            )
        }
        AF_INET6 => (
            Family::Inet6,
            Endpoint::v6(Ipv6Addr::from(src), sport),
            Endpoint::v6(Ipv6Addr::from(dst), dport),
        ),
        other => return Err(malformed(format!("inet_diag_msg of family {other}"))),
    };
    let Some(state) = TcpState::from_kernel(state) else {
        return Ok(None);
    };
    let v6only = if family == Family::Inet6 {
        inet_v6only(payload)
    } else {
        None
    };
    Ok(Some(Socket {
        proto,
        family,
        local,
        remote,
        state,
        recv_q: rqueue,
        send_q: wqueue,
        uid: Some(uid),
        inode: u64::from(inode),
        unix_type: None,
        bound_if,
        owners: Vec::new(),
        owners_hidden: false,
        cookie,
        v6only,
        extra: None,
        netns: None,
    }))
}

/// The `INET_DIAG_SKV6ONLY` attribute of an `inet_diag_msg`, if sent and well formed.
fn inet_v6only(payload: &[u8]) -> Option<bool> {
    Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default())
        .map_while(std::result::Result::ok)
        .find(|(kind, _)| *kind == INET_DIAG_SKV6ONLY)
        .and_then(|(_, data)| data.first().map(|&b| b != 0))
}

/// The details `detail` asks for from one `inet_diag_msg` payload: the timer
/// from the fixed header, tcp_info, congestion and memory from attributes.
/// `None` when nothing was found. A malformed attribute list ends the
/// search without error: optional details never cost a socket.
pub fn parse_inet_extra(payload: &[u8], detail: Detail) -> Option<Box<SocketExtra>> {
    let mut x = SocketExtra::default();
    if detail.timers
        && let (Some(&kind), Some(&retrans), Some(expires)) =
            (payload.get(2), payload.get(3), read_u32(payload, 52))
        && let Some(kind) = TimerKind::from_kernel(kind)
    {
        x.timer = Some(Timer {
            kind,
            expires_ms: u64::from(expires),
            retrans,
        });
    }
    for attr in Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
        let Ok((kind, data)) = attr else { break };
        match kind {
            INET_DIAG_INFO if detail.info => x.tcp_info = Some(parse_tcp_info(data)),
            INET_DIAG_CONG if detail.info => x.congestion = Some(CongName::from_bytes(data)),
            INET_DIAG_SKMEMINFO if detail.memory => x.memory = Some(parse_skmeminfo(data)),
            _ => {}
        }
    }
    (x != SocketExtra::default()).then(|| Box::new(x))
}
