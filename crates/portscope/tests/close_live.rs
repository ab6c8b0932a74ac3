//! Closing by cookie against the running kernel: a connection that was
//! listed, closed and replaced by another on the very same addresses and
//! ports is not closed in the replacement's place. Needs CAP_NET_ADMIN.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use portscope::collect::linux::netlink::Netlink;
use portscope::collect::{CloseOutcome, Collector, Native, System};
use portscope::model::{Query, Socket, StateSet, TcpState};
use rustix::net::{AddressFamily, SocketType, sockopt};

fn inode(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).expect("fstat socket").st_ino
}

fn tcp_sockets() -> Vec<Socket> {
    let query = Query {
        tcp: true,
        udp: false,
        raw: false,
        unix: false,
        packet: false,
        netlink: false,
        mptcp: false,
        ipv4: true,
        ipv6: false,
        states: StateSet::ALL,
    };
    let mut out = Vec::new();
    Netlink::open()
        .expect("netlink")
        .collect(&query, &mut out)
        .expect("dump");
    out
}

fn listed(ino: u64) -> Socket {
    let all = tcp_sockets();
    let mut found = all.into_iter().filter(|s| s.inode == ino);
    let s = found.next().expect("the socket is listed");
    assert!(found.next().is_none());
    s
}

/// A client connected to `to` from `from` (port 0: any), with
/// SO_REUSEADDR so that the same local port can be bound again at once.
fn connect_from(from: SocketAddr, to: SocketAddr) -> TcpStream {
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    sockopt::set_socket_reuseaddr(&fd, true).unwrap();
    rustix::net::bind(&fd, &from).unwrap();
    rustix::net::connect(&fd, &to).unwrap();
    TcpStream::from(fd)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn a_replacement_on_the_same_ports_is_not_closed_in_its_place() {
    if !is_root() {
        eprintln!("skipped: closing sockets needs CAP_NET_ADMIN");
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = l.local_addr().unwrap();
    let first = connect_from("127.0.0.1:0".parse().unwrap(), to);
    let (first_peer, _) = l.accept().unwrap();
    let from = first.local_addr().unwrap();
    let old = listed(inode(&first));
    assert_eq!(old.state, TcpState::Established);
    assert_ne!(old.cookie, 0);

    // The listed connection ends with a reset (no TIME_WAIT), and another
    // takes its place on the same four-tuple.
    sockopt::set_socket_linger(&first, Some(Duration::ZERO)).unwrap();
    drop(first);
    drop(first_peer);
    let second = connect_from(from, to);
    let (mut second_peer, _) = l.accept().unwrap();
    let new = listed(inode(&second));
    assert_eq!((&new.local, &new.remote), (&old.local, &old.remote));
    assert_ne!(new.cookie, old.cookie);

    // Closing what was listed: the kernel finds the replacement on those
    // addresses, but not with that cookie.
    let closer = Native::new();
    assert_eq!(closer.close(&old).unwrap(), CloseOutcome::Gone);
    assert_eq!(listed(inode(&second)).state, TcpState::Established);
    second_peer.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1];
    let err = second_peer.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");

    // By addresses alone (what closing did without the cookie), the
    // replacement is hit.
    let by_addresses = Socket { cookie: 0, ..old };
    assert_eq!(closer.close(&by_addresses).unwrap(), CloseOutcome::Closed);
    second_peer.set_nonblocking(false).unwrap();
    let err = second_peer.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    drop(second);
}
