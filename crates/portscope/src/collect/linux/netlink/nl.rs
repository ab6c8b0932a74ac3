//! netlink_diag (AF_NETLINK sockets): the dump request and one
//! `netlink_diag_msg` into a [`Socket`] with its [`NetlinkInfo`]: protocol,
//! port id, peer, groups and inode (the kernel reports no uid for them).
//!
//! Pure functions over bytes; sending is `transport.rs`, the walk over a
//! dump `reader.rs`.

use super::packet::FAMILY_REQ_LEN;
use super::requests::dump_request;
use super::tcp_info::parse_skmeminfo;
use super::wire::{Attrs, NLMSG_HDRLEN, cookie_at, malformed, read_u32};
use crate::error::Result;
use crate::model::{Detail, Endpoint, Family, NetlinkInfo, Proto, Socket, SocketExtra, TcpState};

pub(crate) const AF_NETLINK: u8 = 16;
/// `struct netlink_diag_msg`.
const NETLINK_DIAG_MSG_LEN: usize = 28;

// linux/netlink_diag.h
const NDIAG_PROTO_ALL: u8 = 0xff;
const NDIAG_SHOW_MEMINFO: u32 = 0x01;
const NDIAG_SHOW_GROUPS: u32 = 0x02;
const NETLINK_DIAG_MEMINFO: u16 = 0;
const NETLINK_DIAG_GROUPS: u16 = 1;
/// `NETLINK_CONNECTED`.
const CONNECTED: u8 = 1;

/// The netlink_diag dump request: every netlink socket of every protocol,
/// with its groups and memory (whose allocations are the queues, as ss
/// shows them). `ext` is unused: the memory is always asked for.
pub(crate) fn netlink_request(seq: u32, _ext: u8) -> [u8; NLMSG_HDRLEN + FAMILY_REQ_LEN] {
    let mut b: [u8; NLMSG_HDRLEN + FAMILY_REQ_LEN] = dump_request(seq);
    b[16] = AF_NETLINK;
    b[17] = NDIAG_PROTO_ALL;
    let show = NDIAG_SHOW_GROUPS | NDIAG_SHOW_MEMINFO;
    b[24..28].copy_from_slice(&show.to_ne_bytes());
    b
}

/// Parses one `netlink_diag_msg` with its attributes into a [`Socket`] of
/// [`Proto::Netlink`]: local end its protocol and port id, remote end the
/// port id it is connected to; state established when connected,
/// unconnected otherwise; uid unknown; a [`NetlinkInfo`] in its `extra`.
pub fn parse_netlink_msg(payload: &[u8], detail: Detail) -> Result<Option<Socket>> {
    let head = payload
        .get(..NETLINK_DIAG_MSG_LEN)
        .ok_or_else(|| malformed(format!("netlink_diag_msg of {} bytes", payload.len())))?;
    let fields = (|| {
        Some((
            *head.first()?,
            *head.get(2)?,
            *head.get(3)?,
            read_u32(head, 4)?,
            read_u32(head, 8)?,
            read_u32(head, 12)?,
            read_u32(head, 16)?,
            cookie_at(head, 20)?,
        ))
    })();
    let Some((family, protocol, state, portid, dst_portid, dst_group, inode, cookie)) = fields
    else {
        return Err(malformed("short netlink_diag_msg"));
    };
    if family != AF_NETLINK {
        return Err(malformed(format!("netlink_diag_msg of family {family}")));
    }
    let mut info = NetlinkInfo {
        groups: Vec::new(),
        dst_group,
    };
    let mut memory = None;
    for attr in Attrs(payload.get(NETLINK_DIAG_MSG_LEN..).unwrap_or_default()) {
        let Ok((kind, data)) = attr else { break };
        match kind {
            NETLINK_DIAG_GROUPS => info.groups = groups(data),
            NETLINK_DIAG_MEMINFO => memory = Some(parse_skmeminfo(data)),
            _ => {}
        }
    }
    let state = if state == CONNECTED {
        TcpState::Established
    } else {
        TcpState::Close
    };
    let (recv_q, send_q) = memory.map_or((0, 0), |m| (m.rmem_alloc, m.wmem_alloc));
    Ok(Some(Socket {
        proto: Proto::Netlink,
        recv_q,
        send_q,
        family: Family::Netlink,
        local: Endpoint::Netlink { protocol, portid },
        remote: Endpoint::Netlink {
            protocol,
            portid: dst_portid,
        },
        state,
        inode: u64::from(inode),
        cookie,
        extra: Some(Box::new(SocketExtra {
            memory: memory.filter(|_| detail.memory),
            netlink: Some(info),
            ..SocketExtra::default()
        })),
        ..Socket::default()
    }))
}

/// The group numbers (from 1) set in a `NETLINK_DIAG_GROUPS` bitmap: the
/// kernel's array of `unsigned long`, read as native 32-bit words, which
/// is the same bit order on little-endian machines (and on big-endian for
/// the first 32 groups, where every common protocol's groups are).
fn groups(data: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    for (w, chunk) in data.chunks_exact(4).enumerate() {
        let Some(word) = read_u32(chunk, 0) else {
            continue;
        };
        for bit in 0..32u32 {
            if word & (1 << bit) != 0
                && let Ok(w) = u32::try_from(w)
            {
                out.push(w * 32 + bit + 1);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_numbered_from_one() {
        let mut b = Vec::new();
        b.extend_from_slice(&0b101u32.to_ne_bytes());
        b.extend_from_slice(&1u32.to_ne_bytes());
        assert_eq!(groups(&b), vec![1, 3, 33]);
        assert!(groups(&[1, 2]).is_empty());
    }

    fn msg(protocol: u8, state: u8, portid: u32, dst: u32, attrs: &[u8]) -> Vec<u8> {
        let mut b = vec![AF_NETLINK, 3, protocol, state];
        for w in [portid, dst, 0, 99, 7, 0] {
            b.extend_from_slice(&w.to_ne_bytes());
        }
        b.extend_from_slice(attrs);
        b
    }

    #[test]
    fn a_message_reads_into_a_socket() {
        let mut groups_attr = Vec::new();
        groups_attr.extend_from_slice(&8u16.to_ne_bytes());
        groups_attr.extend_from_slice(&NETLINK_DIAG_GROUPS.to_ne_bytes());
        groups_attr.extend_from_slice(&0b1001u32.to_ne_bytes());
        let s = parse_netlink_msg(&msg(9, 0, 1234, 0, &groups_attr), Detail::default())
            .expect("parse")
            .expect("socket");
        assert_eq!(
            (s.proto, s.family, s.state),
            (Proto::Netlink, Family::Netlink, TcpState::Close)
        );
        assert_eq!(
            s.local,
            Endpoint::Netlink {
                protocol: 9,
                portid: 1234
            }
        );
        assert_eq!((s.inode, s.cookie, s.uid), (99, 7, None));
        assert_eq!(s.netlink().expect("info").groups, vec![1, 4]);
        assert_eq!(s.shown_local().to_string(), "audit:1234");
        assert_eq!(s.shown_remote().to_string(), "*");
        let kernel = parse_netlink_msg(&msg(0, 1, 0, 55, &[]), Detail::default())
            .expect("parse")
            .expect("socket");
        assert_eq!(kernel.state, TcpState::Established);
        assert_eq!(kernel.shown_local().to_string(), "rtnl:kernel");
        assert_eq!(kernel.shown_remote().to_string(), "rtnl:55");
    }

    #[test]
    fn short_or_foreign_messages_are_errors() {
        assert!(parse_netlink_msg(&[AF_NETLINK; 27], Detail::default()).is_err());
        let mut m = msg(0, 0, 1, 0, &[]);
        m[0] = 1;
        assert!(parse_netlink_msg(&m, Detail::default()).is_err());
        let m = msg(0, 0, 1, 0, &[1, 2, 3]);
        assert!(parse_netlink_msg(&m, Detail::default()).is_ok_and(|s| s.is_some()));
    }
}
