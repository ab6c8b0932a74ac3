//! Packet, netlink and MPTCP dumps run on the netlink socket they are
//! called on: a socket opened inside a namespace keeps dumping that
//! namespace after the thread has left it (what a dump of every namespace
//! relies on), and sees the test's sockets there and nothing from home.

mod common;

use std::num::NonZeroU32;
use std::os::fd::{AsFd, OwnedFd};

use portscope::collect::linux::netlink::{Netlink, fill_interface_names, link_names};
use portscope::model::{Detail, Endpoint, Family, Proto, Query, StateSet, TcpState};
use rustix::net::{AddressFamily, Protocol, SocketType};

fn inode(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).expect("fstat").st_ino
}

/// A packet socket on ETH_P_ALL (the protocol in network order).
fn sniffer() -> OwnedFd {
    let all = NonZeroU32::new(u32::from(3u16.to_be())).expect("nonzero");
    rustix::net::socket(
        AddressFamily::PACKET,
        SocketType::RAW,
        Some(Protocol::from_raw(all)),
    )
    .expect("a packet socket (root)")
}

#[test]
fn a_socket_opened_in_a_namespace_dumps_that_namespace() {
    let home_sniffer = sniffer();
    let (nl, inside, inside_lo_name) = {
        let _ns = common::netns();
        let inside = sniffer();
        let nl = Netlink::open().expect("sock_diag");
        let names = link_names().expect("rtnetlink");
        (nl, inside, names)
        // The guard drops here: the thread is home again.
    };
    let mut packets = Vec::new();
    nl.packet_sockets(Detail::default(), &mut packets)
        .expect("packet dump");
    let inodes: Vec<u64> = packets.iter().map(|s| s.inode).collect();
    assert!(inodes.contains(&inode(&inside)), "{packets:#?}");
    assert!(!inodes.contains(&inode(&home_sniffer)), "{packets:#?}");
    let s = packets
        .iter()
        .find(|s| s.inode == inode(&inside))
        .expect("ours");
    assert_eq!(
        (s.proto, s.family, s.state),
        (Proto::Packet, Family::Packet, TcpState::Close)
    );
    assert_eq!(
        s.local,
        Endpoint::Link {
            protocol: 3,
            ifindex: 0
        }
    );
    assert_eq!(s.uid, Some(0));
    fill_interface_names(&mut packets, &inside_lo_name);
    assert_eq!(
        inside_lo_name.get(&1).map(|t| t.as_bytes()),
        Some(&b"lo"[..])
    );

    // The namespace's kernel netlink sockets, and no MPTCP socket.
    let mut nl_socks = Vec::new();
    nl.netlink_sockets(Detail::default(), &mut nl_socks)
        .expect("netlink dump");
    assert!(
        nl_socks.iter().any(|s| s.local
            == Endpoint::Netlink {
                protocol: 0,
                portid: 0
            }),
        "the namespace's rtnetlink kernel socket: {nl_socks:#?}"
    );
    let mut mptcp = Vec::new();
    nl.mptcp_sockets(Family::Inet, StateSet::ALL, Detail::default(), &mut mptcp)
        .expect("mptcp dump");
    assert!(mptcp.is_empty(), "{mptcp:#?}");

    // The same through the query, which asks only for what is named.
    let q = Query {
        tcp: false,
        udp: false,
        raw: false,
        unix: false,
        packet: true,
        ..Query::default()
    };
    let mut all = Vec::new();
    nl.collect_with(&q, Detail::default(), &mut all)
        .expect("collect");
    assert!(all.iter().all(|s| s.proto == Proto::Packet));
    assert!(all.iter().any(|s| s.inode == inode(&inside)));
    drop(inside);
}

/// Records `tests/fixtures/netlink/{packet,netlink,mptcp4}.bin` (the raw
/// replies of each dump in a namespace holding a known population) and
/// `known_families.txt` (dump, local end as the model shows it, inode).
/// Run with `PORTSCOPE_RECORD_FIXTURES=1 cargo test -p portscope --test
/// families_live -- --ignored record_family_fixtures`; without the
/// variable it does nothing.
#[test]
#[ignore = "writes tests/fixtures/netlink; run by hand to re-record"]
fn record_family_fixtures() {
    use portscope::model::{Proto as P, StateSet as S};
    if std::env::var_os("PORTSCOPE_RECORD_FIXTURES").is_none() {
        return;
    }
    let _ns = common::netns();
    let all = sniffer();
    let ip = rustix::net::socket(
        AddressFamily::PACKET,
        SocketType::DGRAM,
        Some(Protocol::from_raw(
            NonZeroU32::new(u32::from(0x0800u16.to_be())).expect("nonzero"),
        )),
    )
    .expect("packet socket");
    let route =
        rustix::net::socket(AddressFamily::NETLINK, SocketType::RAW, None).expect("netlink socket");
    rustix::net::bind(
        &route,
        &rustix::net::netlink::SocketAddrNetlink::new(0, 0b101),
    )
    .expect("bind groups 1 and 3");
    let mptcp = rustix::net::socket(
        AddressFamily::INET,
        SocketType::STREAM,
        Some(Protocol::from_raw(NonZeroU32::new(262).expect("nonzero"))),
    )
    .expect("an MPTCP socket");
    rustix::net::bind(
        &mptcp,
        &std::net::SocketAddr::from(([127, 0, 0, 1], 47_001)),
    )
    .expect("bind");
    rustix::net::listen(&mptcp, 8).expect("listen");

    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/netlink");
    let nl = Netlink::open().expect("sock_diag");
    for (name, family, proto) in [
        ("packet", Family::Packet, P::Packet),
        ("netlink", Family::Netlink, P::Netlink),
        ("mptcp4", Family::Inet, P::Mptcp),
    ] {
        let mut bytes = Vec::new();
        nl.dump_bytes(family, proto, S::ALL, 0, &mut bytes)
            .expect("dump");
        std::fs::write(dir.join(format!("{name}.bin")), bytes).expect("write");
    }
    let known = format!(
        "packet all:* {}\npacket ip:* {}\nnetlink rtnl:{} {}\nmptcp4 127.0.0.1:47001 {}\n",
        inode(&all),
        inode(&ip),
        std::process::id(),
        inode(&route),
        inode(&mptcp),
    );
    std::fs::write(dir.join("known_families.txt"), known).expect("write");
}
