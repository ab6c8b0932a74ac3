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
/// `INET_DIAG_CGROUP_ID`: a u64, the creating cgroup's v2 id, sent unasked
/// (kernel 5.8 on, `CONFIG_SOCK_CGROUP_DATA`).
pub(crate) const INET_DIAG_CGROUP_ID: u16 = 21;

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
    let (v6only, cgroup_id) = inet_attrs(payload, family == Family::Inet6);
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
        cgroup_id,
    }))
}

/// The `INET_DIAG_SKV6ONLY` (asked only when `v6`) and
/// `INET_DIAG_CGROUP_ID` attributes of an `inet_diag_msg`, where sent and
/// well formed (0 for no cgroup id), in one walk of the attributes.
fn inet_attrs(payload: &[u8], v6: bool) -> (Option<bool>, u64) {
    let mut v6only = None;
    let mut cgroup = 0;
    for attr in Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
        let Ok((kind, data)) = attr else { break };
        match kind {
            INET_DIAG_SKV6ONLY if v6 => v6only = data.first().map(|&b| b != 0),
            INET_DIAG_CGROUP_ID => {
                if let Some(b) = data.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                    cgroup = u64::from_ne_bytes(b);
                }
            }
            _ => {}
        }
    }
    (v6only, cgroup)
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

#[cfg(test)]
mod cgroup_tests {
    use super::*;

    /// An IPv4 LISTEN message with the given attributes after the header.
    fn msg(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; INET_DIAG_MSG_LEN];
        p[0] = AF_INET;
        p[1] = 10; // TCP_LISTEN
        for (kind, data) in attrs {
            let len = u16::try_from(4 + data.len()).expect("short");
            p.extend_from_slice(&len.to_ne_bytes());
            p.extend_from_slice(&kind.to_ne_bytes());
            p.extend_from_slice(data);
            while !p.len().is_multiple_of(4) {
                p.push(0);
            }
        }
        p
    }

    #[test]
    fn the_cgroup_id_is_read_from_its_attribute() {
        let id = 0x1234_5678_9abc_u64.to_ne_bytes();
        let s = parse_inet_msg(
            &msg(&[(1, &[0, 0, 0, 0]), (INET_DIAG_CGROUP_ID, &id)]),
            Proto::Tcp,
        )
        .expect("parse")
        .expect("a socket");
        assert_eq!(s.cgroup_id, 0x1234_5678_9abc);
        // Short or absent: 0, and the socket is kept.
        let s = parse_inet_msg(&msg(&[(INET_DIAG_CGROUP_ID, &[1, 2, 3])]), Proto::Tcp)
            .expect("parse")
            .expect("a socket");
        assert_eq!(s.cgroup_id, 0);
        let s = parse_inet_msg(&msg(&[]), Proto::Tcp)
            .expect("parse")
            .expect("a socket");
        assert_eq!(s.cgroup_id, 0);
    }
}
