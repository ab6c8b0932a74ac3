//! Other network namespaces across the snapshots of one `System` (what a
//! live view does every refresh): the netlink socket opened in a namespace
//! is kept for the next dump, and the last discovery reused, yet a
//! namespace that goes is no longer listed, one that comes is, and none is
//! listed twice. Sockets made here inside namespaces made here (`ip netns
//! add`), from a thread that enters each.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use portscope::collect::{self, Native, NetnsScope, Options};
use portscope::model::{Query, Snapshot, StateSet, TcpState};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// An `ip netns` namespace with `lo` up, deleted on drop (or by `del`).
struct Named(String);

impl Named {
    fn new(tag: &str) -> Named {
        let name = format!("psrefresh-{tag}-{}", std::process::id());
        Named::ip(&["netns", "del", &name]);
        assert!(Named::ip(&["netns", "add", &name]), "ip netns add");
        assert!(Named::ip(&["-n", &name, "link", "set", "lo", "up"]));
        Named(name)
    }

    fn ip(args: &[&str]) -> bool {
        Command::new("ip")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .expect("ip (iproute2) is needed")
            .success()
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(format!("/run/netns/{}", self.0))
            .expect("bind mount")
            .ino()
    }

    /// A TCP listener on 127.0.0.1 inside, held by this process.
    fn listen(&self) -> TcpListener {
        let ns = File::open(format!("/run/netns/{}", self.0)).expect("open namespace");
        std::thread::spawn(move || {
            move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network)).expect("setns");
            TcpListener::bind("127.0.0.1:0").expect("bind")
        })
        .join()
        .expect("thread")
    }

    /// A UDP socket bound on 127.0.0.1 inside, held by this process.
    fn udp(&self) -> UdpSocket {
        let ns = File::open(format!("/run/netns/{}", self.0)).expect("open namespace");
        std::thread::spawn(move || {
            move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network)).expect("setns");
            UdpSocket::bind("127.0.0.1:0").expect("bind")
        })
        .join()
        .expect("thread")
    }

    /// A process inside (a member, whose /proc/<pid>/net is the
    /// namespace's), killed on drop.
    fn member(&self) -> Member {
        Member(
            Command::new("ip")
                .args(["netns", "exec", &self.0, "sleep", "600"])
                .spawn()
                .expect("ip netns exec sleep"),
        )
    }

    fn del(&self) {
        Named::ip(&["netns", "del", &self.0]);
    }
}

struct Member(std::process::Child);

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        self.del();
    }
}

fn opts() -> Options {
    Options {
        query: Query {
            raw: false,
            unix: false,
            states: StateSet::only(TcpState::Listen).with(TcpState::Close),
            ..Query::default()
        },
        netns: NetnsScope::All,
        ..Options::default()
    }
}

/// The local ports listed in namespace `inode`.
fn ports_in(snap: &Snapshot, inode: u64) -> Vec<u16> {
    let mut ports: Vec<u16> = snap
        .sockets
        .iter()
        .filter(|s| s.netns.as_ref().is_some_and(|n| n.inode == inode))
        .filter_map(|s| s.local.port())
        .collect();
    ports.sort_unstable();
    ports
}

#[test]
fn namespaces_that_come_and_go_between_snapshots() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this suite needs root"
    );
    // From a namespace of the test's own, with no socket: counters read
    // from it rather than from the namespace dumped would leave dumps out.
    let _ns = common::netns();
    let sys = Native::new();
    // C: a UDP socket only, and a member process, whose /proc/<pid>/net
    // says what C has once C's socket is kept (no thread enters C then).
    let c = Named::new("c");
    let (ic, uc) = (c.inode(), c.udp());
    let pc = uc.local_addr().unwrap().port();
    let member = c.member();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::metadata(format!("/proc/{}/ns/net", member.0.id()))
        .map(|m| m.ino())
        .ok()
        != Some(ic)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the member never entered C"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for round in 0..3 {
        let snap = collect::take(&sys, &opts()).unwrap();
        assert_eq!(ports_in(&snap, ic), vec![pc], "round {round}");
    }

    let a = Named::new("a");
    let (ia, la) = (a.inode(), a.listen());
    let pa = la.local_addr().unwrap().port();

    let first = collect::take(&sys, &opts()).unwrap();
    assert_eq!(ports_in(&first, ia), vec![pa]);
    // Again, through the socket kept from the first dump.
    let second = collect::take(&sys, &opts()).unwrap();
    assert_eq!(ports_in(&second, ia), vec![pa]);
    let name = second
        .sockets
        .iter()
        .find(|s| s.netns.as_ref().is_some_and(|n| n.inode == ia))
        .and_then(|s| s.netns.as_ref())
        .and_then(|n| n.name.as_ref())
        .map(|n| n.as_bytes().to_vec());
    assert_eq!(name.as_deref(), Some(a.0.as_bytes()));

    // A second listener in it, after the socket was kept: seen.
    let la2 = a.listen();
    let mut both = vec![pa, la2.local_addr().unwrap().port()];
    both.sort_unstable();
    assert_eq!(ports_in(&collect::take(&sys, &opts()).unwrap(), ia), both);

    // A comes to an end (its bind mount gone, its sockets closed), B comes.
    let b = Named::new("b");
    let (ib, lb) = (b.inode(), b.listen());
    a.del();
    drop((la, la2));
    let third = collect::take(&sys, &opts()).unwrap();
    assert_eq!(ports_in(&third, ia), Vec::<u16>::new());
    assert_eq!(ports_in(&third, ib), vec![lb.local_addr().unwrap().port()]);
    assert!(
        third
            .notes
            .iter()
            .all(|n| !n.contains("could not be dumped")),
        "{:?}",
        third.notes
    );
}
