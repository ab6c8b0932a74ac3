//! The /proc/net source end to end (`--source procfs`, also the fallback
//! when netlink is refused): what it cannot know is null, not made up, and
//! a unix socket name cannot forge a socket.
//!
//! Sockets are picked by inode; nothing assumes the machine is quiet, and
//! the whole-listing comparison runs in a namespace of its own.
#![allow(clippy::unwrap_used)]

mod common;
mod local_netns;

use std::os::unix::net::UnixListener;

use common::*;
use local_netns::Netns;
use serde_json::Value;

/// An inode no socket has: sockfs numbers its inodes from 1 upwards, and
/// the test checks the netlink listing does not hold it.
const FORGED_INODE: u64 = 3_999_999_999;

fn path_of(s: &Value) -> Option<&str> {
    s["local"]["path"].as_str()
}

#[test]
fn a_name_with_a_newline_does_not_forge_a_socket() {
    let _ns = common::netns();
    let dir = std::env::temp_dir().join(format!("psf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let forged_name = format!("@ps-forged-{}", std::process::id());
    // The rest of the name is a record line as the kernel writes one: a
    // listening stream socket, with an inode no socket has.
    let file = format!(
        "x\n0000000000000000: 00000002 00000000 00010000 0001 01 {FORGED_INODE} {forged_name}"
    );
    let path = dir.join(&file);
    let listener = UnixListener::bind(&path).unwrap();
    let ino = inode(&listener);
    let full = path.to_str().unwrap().to_owned();

    let netlink = json(&["-x", "--source", "netlink"]);
    let out = portscope()
        .args(["-x", "--source", "procfs", "--json"])
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let procfs = parse_json(&out);

    // The oracle: netlink has the socket with its whole name, and nothing
    // with the forged inode or name.
    let n = by_inode(&netlink, ino).expect("our socket in the netlink listing");
    assert_eq!(path_of(n), Some(full.as_str()));
    assert!(by_inode(&netlink, FORGED_INODE).is_none());

    // /proc/net/unix: the same socket with the same name, and the forged
    // line is part of that name, not a socket.
    let p = by_inode(&procfs, ino).expect("our socket in the procfs listing");
    assert_eq!(path_of(p), Some(full.as_str()));
    assert_eq!(p["state"], "LISTEN");
    assert!(
        by_inode(&procfs, FORGED_INODE).is_none(),
        "forged socket listed: {:#}",
        by_inode(&procfs, FORGED_INODE).unwrap()
    );
    assert!(
        procfs
            .iter()
            .all(|s| path_of(s) != Some(forged_name.as_str())),
        "a socket named {forged_name}"
    );
    // What was left out is said, on one line.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("left out") && l.contains(&FORGED_INODE.to_string())),
        "{stderr}"
    );
}

#[test]
fn unix_uid_is_null_from_proc_and_known_from_netlink() {
    let _ns = common::netns();
    let name = format!("ps-uid-{}", std::process::id());
    let addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            name.as_bytes(),
        )
        .unwrap();
    let l = UnixListener::bind_addr(&addr).unwrap();
    let ino = inode(&l);
    let me = u64::from(rustix::process::geteuid().as_raw());

    let procfs = json(&["-xl", "--source", "procfs"]);
    let unix: Vec<&Value> = procfs.iter().filter(|s| s["proto"] == "unix").collect();
    assert!(!unix.is_empty());
    for s in &unix {
        assert_eq!(s["uid"], Value::Null, "{s:#}");
    }
    assert!(by_inode(&procfs, ino).is_some());

    let netlink = json(&["-xl", "--source", "netlink"]);
    assert_eq!(by_inode(&netlink, ino).unwrap()["uid"].as_u64(), Some(me));
}

/// A forged record may name the inode of a socket the forger really holds,
/// just not a unix one (here a netlink socket): held by an fd, but not a
/// unix socket, so still not a unix socket in the listing.
#[test]
fn a_forged_record_cannot_borrow_another_kind_of_socket() {
    let _ns = common::netns();
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socket_with};
    let nl = socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        None, // NETLINK_ROUTE
    )
    .unwrap();
    let borrowed = inode(&nl);
    let name = format!(
        "ps-borrow-{}\n0000000000000000: 00000002 00000000 00010000 0001 01 {borrowed} @ps-borrowed",
        std::process::id()
    );
    let addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            name.as_bytes(),
        )
        .unwrap();
    let l = UnixListener::bind_addr(&addr).unwrap();
    let ino = inode(&l);

    let out = portscope()
        .args(["-x", "--source", "procfs", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let procfs = parse_json(&out);
    assert!(
        by_inode(&procfs, borrowed).is_none(),
        "a netlink socket listed as unix: {:#}",
        by_inode(&procfs, borrowed).unwrap()
    );
    let p = by_inode(&procfs, ino).expect("our socket");
    assert_eq!(path_of(p), Some(format!("@{name}").as_str()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("left out") && l.contains(&borrowed.to_string())),
        "{stderr}"
    );
    drop(nl);
}

/// In a namespace no one else uses, both sources list exactly the same
/// sockets, field for field, except what /proc/net cannot know (unix uid
/// and peer, queues of listeners, v6only of a `::` socket that set it).
#[test]
fn netlink_and_procfs_list_the_same_sockets_in_a_namespace() {
    let _ns = common::netns();
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::unix::net::{UnixDatagram, UnixStream};
    let Some(ns) = Netns::new(3) else { return };
    let dir = std::env::temp_dir().join(format!("psagree-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("l.sock");
    let abstract_name = format!("ps-agree-{}", std::process::id());
    let held = ns.enter(|| {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(tcp.local_addr().unwrap()).unwrap();
        let server = tcp.accept().unwrap().0;
        let tcp6 = TcpListener::bind("[::1]:0").unwrap();
        let dual = TcpListener::bind("[::]:0").unwrap();
        let udp = UdpSocket::bind("0.0.0.0:0").unwrap();
        let udp6 = UdpSocket::bind("[::1]:0").unwrap();
        let unix = UnixListener::bind(&path).unwrap();
        let uc = UnixStream::connect(&path).unwrap();
        let us = unix.accept().unwrap().0;
        let addr = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            abstract_name.as_bytes(),
        )
        .unwrap();
        let abs = UnixDatagram::bind_addr(&addr).unwrap();
        let pair = UnixStream::pair().unwrap();
        (tcp, client, server, tcp6, dual, udp, udp6, unix, uc, us, abs, pair)
    });
    let listing = |source: &str| {
        let out = ns.portscope(&["-tuxa", "--json", "--source", source]);
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_json(&out)
    };
    let netlink = listing("netlink");
    let procfs = listing("procfs");
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_dir(&dir).unwrap();
    drop(held);

    let key = |s: &Value| {
        let unix = s["proto"] == "unix";
        let listener = s["state"] == "LISTEN";
        (
            s["proto"].to_string(),
            s["family"].to_string(),
            s["type"].to_string(),
            s["local"].to_string(),
            (!unix).then(|| s["remote"].to_string()),
            s["state"].to_string(),
            s["inode"].as_u64(),
            (!unix).then(|| s["uid"].as_u64()),
            (!unix && !listener).then(|| (s["recv_q"].as_u64(), s["send_q"].as_u64())),
        )
    };
    let mut a: Vec<_> = netlink.iter().map(key).collect();
    let mut b: Vec<_> = procfs.iter().map(key).collect();
    a.sort();
    b.sort();
    // What was made above: 3 TCP (listener, both ends), 2 more listeners,
    // 2 UDP, 3 unix (listener, both ends), the abstract one and a pair.
    assert_eq!(a.len(), 13, "{netlink:#?}");
    assert_eq!(a, b, "netlink:\n{netlink:#?}\nprocfs:\n{procfs:#?}");
    for s in &procfs {
        if s["proto"] == "unix" {
            assert_eq!(s["uid"], Value::Null, "{s:#}");
        }
    }
    // v6only: the same where the kernel's rule decides (one address) or the
    // socket kept the default; netlink reads it, /proc guesses it.
    for s in netlink.iter().filter(|s| s["family"] == "inet6") {
        let p = procfs.iter().find(|p| p["inode"] == s["inode"]).unwrap();
        assert_eq!(p["v6only"], s["v6only"], "{s:#}\n{p:#}");
    }
}
