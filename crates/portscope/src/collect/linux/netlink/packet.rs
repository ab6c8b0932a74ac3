//! packet_diag (AF_PACKET sockets): the dump request and one
//! `packet_diag_msg` into a [`Socket`] with its [`PacketInfo`]: type,
//! protocol, bound interface, memberships (promiscuous mode), fanout,
//! rings, the classic BPF filter's length, uid and inode.
//!
//! Pure functions over bytes; sending is `transport.rs`, the walk over a
//! dump `reader.rs`. Interface names are filled in by the caller, which
//! knows the socket's namespace (`Netlink::packet_sockets`).

use super::requests::dump_request;
use super::tcp_info::parse_skmeminfo;
use super::wire::{Attrs, NLMSG_HDRLEN, cookie_at, malformed, read_u16, read_u32};
use crate::error::Result;
use crate::model::{
    Detail, Endpoint, Family, PacketFanout, PacketInfo, PacketMembership, PacketRing, PacketType,
    Proto, Socket, SocketExtra, TcpState,
};

pub(crate) const AF_PACKET: u8 = 17;
/// `struct packet_diag_req` and `struct netlink_diag_req` (same layout).
pub(crate) const FAMILY_REQ_LEN: usize = 20;
/// `struct packet_diag_msg`.
const PACKET_DIAG_MSG_LEN: usize = 16;

// linux/packet_diag.h
const PACKET_SHOW_INFO: u32 = 0x01;
const PACKET_SHOW_MCLIST: u32 = 0x02;
const PACKET_SHOW_RING_CFG: u32 = 0x04;
const PACKET_SHOW_FANOUT: u32 = 0x08;
const PACKET_SHOW_MEMINFO: u32 = 0x10;
const PACKET_SHOW_FILTER: u32 = 0x20;

const PACKET_DIAG_INFO: u16 = 0;
const PACKET_DIAG_MCLIST: u16 = 1;
const PACKET_DIAG_RX_RING: u16 = 2;
const PACKET_DIAG_TX_RING: u16 = 3;
const PACKET_DIAG_FANOUT: u16 = 4;
const PACKET_DIAG_UID: u16 = 5;
const PACKET_DIAG_MEMINFO: u16 = 6;
const PACKET_DIAG_FILTER: u16 = 7;

/// `struct packet_diag_mclist`: index, count, type, alen, 32 address bytes.
const MCLIST_LEN: usize = 44;
/// A classic BPF instruction (`struct sock_filter`).
const SOCK_FILTER_LEN: usize = 8;

/// The packet_diag dump request: every packet socket, with its info,
/// memberships, rings, fanout, filter and memory (whose allocations are
/// the queues, as ss shows them). `ext` is unused: the memory is always
/// asked for.
pub(crate) fn packet_request(seq: u32, _ext: u8) -> [u8; NLMSG_HDRLEN + FAMILY_REQ_LEN] {
    let mut b: [u8; NLMSG_HDRLEN + FAMILY_REQ_LEN] = dump_request(seq);
    b[16] = AF_PACKET;
    let show = PACKET_SHOW_INFO
        | PACKET_SHOW_MCLIST
        | PACKET_SHOW_RING_CFG
        | PACKET_SHOW_FANOUT
        | PACKET_SHOW_FILTER
        | PACKET_SHOW_MEMINFO;
    b[24..28].copy_from_slice(&show.to_ne_bytes());
    b
}

/// Parses one `packet_diag_msg` with its attributes into a [`Socket`] of
/// [`Proto::Packet`]: local end [`Endpoint::Link`] (protocol, bound
/// interface), remote end `*`, state unconnected, and a [`PacketInfo`] in
/// its `extra`. `Ok(None)` for a socket type other than raw or datagram.
///
/// The filter attribute comes back empty when the reader lacks
/// CAP_NET_ADMIN (the kernel does not say whether one is attached); that
/// is [`PacketInfo::filter`] `None`, an absent attribute `Some(None)`.
pub fn parse_packet_msg(payload: &[u8], detail: Detail) -> Result<Option<Socket>> {
    let head = payload
        .get(..PACKET_DIAG_MSG_LEN)
        .ok_or_else(|| malformed(format!("packet_diag_msg of {} bytes", payload.len())))?;
    let (Some(&family), Some(&ty), Some(num), Some(inode), Some(cookie)) = (
        head.first(),
        head.get(1),
        read_u16(head, 2),
        read_u32(head, 4),
        cookie_at(head, 8),
    ) else {
        return Err(malformed("short packet_diag_msg"));
    };
    if family != AF_PACKET {
        return Err(malformed(format!("packet_diag_msg of family {family}")));
    }
    let Some(kind) = PacketType::from_kernel(ty) else {
        return Ok(None);
    };
    let mut info = PacketInfo {
        kind,
        interface: None,
        memberships: Vec::new(),
        fanout: None,
        rx_ring: None,
        tx_ring: None,
        filter: Some(None),
        version: 0,
    };
    let (mut ifindex, mut uid, mut memory) = (0, None, None);
    for attr in Attrs(payload.get(PACKET_DIAG_MSG_LEN..).unwrap_or_default()) {
        // A malformed optional attribute ends the search, never costs the socket.
        let Ok((kind, data)) = attr else { break };
        match kind {
            PACKET_DIAG_INFO => {
                ifindex = read_u32(data, 0).unwrap_or(0);
                info.version = read_u32(data, 4).unwrap_or(0);
            }
            PACKET_DIAG_MCLIST => {
                info.memberships = data
                    .chunks_exact(MCLIST_LEN)
                    .filter_map(|m| {
                        Some(PacketMembership {
                            ifindex: read_u32(m, 0)?,
                            count: read_u32(m, 4)?,
                            kind: read_u16(m, 8)?,
                        })
                    })
                    .collect();
            }
            PACKET_DIAG_RX_RING => info.rx_ring = ring(data),
            PACKET_DIAG_TX_RING => info.tx_ring = ring(data),
            PACKET_DIAG_FANOUT => {
                info.fanout = read_u32(data, 0).map(|v| PacketFanout {
                    id: (v & 0xffff) as u16,
                    mode: (v >> 16) as u16,
                });
            }
            PACKET_DIAG_UID => uid = read_u32(data, 0),
            PACKET_DIAG_MEMINFO => memory = Some(parse_skmeminfo(data)),
            PACKET_DIAG_FILTER => {
                info.filter = if data.is_empty() {
                    None
                } else {
                    Some(u32::try_from(data.len() / SOCK_FILTER_LEN).ok())
                };
            }
            _ => {}
        }
    }
    let (recv_q, send_q) = memory.map_or((0, 0), |m| (m.rmem_alloc, m.wmem_alloc));
    Ok(Some(Socket {
        proto: Proto::Packet,
        recv_q,
        send_q,
        family: Family::Packet,
        local: Endpoint::Link {
            protocol: num,
            ifindex,
        },
        remote: Endpoint::Link {
            protocol: 0,
            ifindex: 0,
        },
        state: TcpState::Close,
        uid,
        inode: u64::from(inode),
        bound_if: ifindex,
        cookie,
        extra: Some(Box::new(SocketExtra {
            memory: memory.filter(|_| detail.memory),
            packet: Some(info),
            ..SocketExtra::default()
        })),
        ..Socket::default()
    }))
}

/// A `struct packet_diag_ring`; `None` for a ring of no frames.
fn ring(data: &[u8]) -> Option<PacketRing> {
    let r = PacketRing {
        block_size: read_u32(data, 0)?,
        block_nr: read_u32(data, 4)?,
        frame_size: read_u32(data, 8)?,
        frame_nr: read_u32(data, 12)?,
    };
    (r.block_nr != 0 || r.frame_nr != 0).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
        let len = 4 + data.len();
        let mut b = Vec::new();
        b.extend_from_slice(&u16::try_from(len).expect("len").to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(data);
        b.resize(b.len().next_multiple_of(4), 0);
        b
    }

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|x| x.to_ne_bytes()).collect()
    }

    /// A `packet_diag_msg` of type `ty` on `proto`, inode 77, cookie 5.
    fn msg(ty: u8, proto: u16, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut b = vec![AF_PACKET, ty];
        b.extend_from_slice(&proto.to_ne_bytes());
        b.extend_from_slice(&77u32.to_ne_bytes());
        b.extend_from_slice(&words(&[5, 0]));
        for a in attrs {
            b.extend_from_slice(a);
        }
        b
    }

    fn mclist(index: u32, count: u32, kind: u16) -> Vec<u8> {
        let mut m = words(&[index, count]);
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&[0; 32]);
        m
    }

    #[test]
    fn every_attribute_is_read() {
        let mut mc = mclist(3, 1, PacketMembership::PROMISC);
        mc.extend(mclist(3, 2, 0));
        let p = msg(
            3,
            0x0003,
            &[
                attr(PACKET_DIAG_INFO, &words(&[2, 2, 0, 0, 0, 1])),
                attr(PACKET_DIAG_MCLIST, &mc),
                attr(PACKET_DIAG_RX_RING, &words(&[4096, 8, 2048, 16, 0, 0, 0])),
                attr(PACKET_DIAG_FANOUT, &words(&[7 | (2 << 16)])),
                attr(PACKET_DIAG_UID, &words(&[1000])),
                attr(PACKET_DIAG_MEMINFO, &words(&[300, 0, 20, 0, 0, 0, 0, 0, 0])),
                attr(PACKET_DIAG_FILTER, &[0; 6 * SOCK_FILTER_LEN]),
            ],
        );
        let s = parse_packet_msg(&p, Detail::default())
            .expect("parse")
            .expect("socket");
        assert_eq!(
            (s.proto, s.family, s.state),
            (Proto::Packet, Family::Packet, TcpState::Close)
        );
        assert_eq!(
            s.local,
            Endpoint::Link {
                protocol: 3,
                ifindex: 2
            }
        );
        assert_eq!(
            (s.bound_if, s.inode, s.cookie, s.uid),
            (2, 77, 5, Some(1000))
        );
        assert_eq!((s.recv_q, s.send_q), (300, 20));
        let x = s.extra.as_deref().expect("extra");
        assert_eq!(x.memory, None, "memory only when asked for");
        let info = x.packet.as_ref().expect("packet info");
        assert_eq!(info.kind, PacketType::Raw);
        assert_eq!(info.version, 2);
        assert!(info.promiscuous());
        assert_eq!(info.memberships.len(), 2);
        assert_eq!(info.fanout, Some(PacketFanout { id: 7, mode: 2 }));
        assert_eq!(
            info.rx_ring,
            Some(PacketRing {
                block_size: 4096,
                block_nr: 8,
                frame_size: 2048,
                frame_nr: 16
            })
        );
        assert_eq!(info.tx_ring, None);
        assert_eq!(info.filter, Some(Some(6)));
    }

    #[test]
    fn the_filter_is_unknown_when_the_kernel_sends_it_empty() {
        // Without CAP_NET_ADMIN the kernel reserves the attribute and leaves it empty.
        let p = msg(2, 0x0800, &[attr(PACKET_DIAG_FILTER, &[])]);
        let s = parse_packet_msg(&p, Detail::default())
            .expect("parse")
            .expect("socket");
        assert_eq!(s.packet().expect("info").filter, None);
        assert_eq!(s.packet().expect("info").kind, PacketType::Dgram);
        // With it, no attribute means no filter.
        let p = msg(2, 0x0800, &[]);
        let s = parse_packet_msg(&p, Detail::default())
            .expect("parse")
            .expect("socket");
        assert_eq!(s.packet().expect("info").filter, Some(None));
    }

    #[test]
    fn bad_input_is_an_error_or_a_skipped_socket_never_a_panic() {
        assert!(parse_packet_msg(&[0; 15], Detail::default()).is_err());
        let mut p = msg(3, 3, &[]);
        p[0] = 2;
        assert!(parse_packet_msg(&p, Detail::default()).is_err());
        // An unknown socket type is skipped.
        assert!(matches!(
            parse_packet_msg(&msg(9, 3, &[]), Detail::default()),
            Ok(None)
        ));
        // A broken attribute list ends the attributes, not the socket.
        let mut p = msg(3, 3, &[attr(PACKET_DIAG_UID, &words(&[5]))]);
        p.extend_from_slice(&[200, 0, 1]);
        let s = parse_packet_msg(&p, Detail::default())
            .expect("parse")
            .expect("socket");
        assert_eq!(s.uid, Some(5));
        for cut in 0..p.len() {
            let _ = parse_packet_msg(&p[..cut], Detail::default());
        }
    }

    #[test]
    fn the_request_asks_for_every_part() {
        let r = packet_request(9, 0);
        assert_eq!(r[16], AF_PACKET);
        let show = read_u32(&r, 24).expect("show");
        assert_eq!(show, 0x3f);
        assert_eq!(read_u32(&r, 0), Some(36));
    }
}
