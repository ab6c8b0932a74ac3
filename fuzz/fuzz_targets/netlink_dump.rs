//! Fuzzes the sock_diag dump reader: the first byte picks the dump (TCP,
//! UDP, raw or unix in its low bits; packet or netlink when bit 6 or 7 is
//! set) and the details asked for; the rest is fed as the
//! kernel's reply. Any bytes must give sockets or an error, never a panic,
//! and never more sockets than the reply could hold.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portscope::collect::linux::netlink::{self, DumpKind, DumpReader};
use portscope::model::{Detail, Proto};

fuzz_target!(|data: &[u8]| {
    let Some((&head, reply)) = data.split_first() else {
        return;
    };
    let kind = match (head >> 6, head & 3) {
        (1, _) => DumpKind::Packet,
        (2, _) => DumpKind::Netlink,
        (3, _) => DumpKind::Inet(Proto::Mptcp),
        (_, 0) => DumpKind::Inet(Proto::Tcp),
        (_, 1) => DumpKind::Inet(Proto::Udp),
        (_, 2) => DumpKind::Inet(Proto::Raw),
        _ => DumpKind::Unix,
    };
    let detail = Detail {
        info: head & 4 != 0,
        memory: head & 8 != 0,
        timers: head & 16 != 0,
    };
    let mut reader = DumpReader::new(kind).with_detail(detail);
    if head & 32 != 0 {
        reader = reader.with_seq(u32::from(head));
    }
    let mut out = Vec::new();
    let _ = reader.feed(reply, &mut out);
    // A netlink message header alone is 16 bytes.
    assert!(out.len() <= reply.len() / 16 + 1);
    netlink::resolve_unix_peers(&mut out);

    // The pieces on their own, on the same bytes.
    let _ = netlink::parse_inet_msg(reply, Proto::Tcp);
    let _ = netlink::parse_unix_msg(reply);
    let _ = netlink::parse_packet_msg(reply, detail);
    let _ = netlink::parse_netlink_msg(reply, detail);
    let _ = netlink::parse_inet_extra(reply, detail);
    let _ = netlink::parse_tcp_info(reply);
    let _ = netlink::parse_skmeminfo(reply);
    let _ = netlink::unix_name(reply);
    let _ = netlink::ack_errno(reply, u32::from(head));
});
