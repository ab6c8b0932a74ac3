//! Other network namespaces across the snapshots of one `System` (what a
//! live view does every refresh): the netlink socket opened in a namespace
//! is kept for the next dump, and the last discovery reused, yet a
//! namespace that goes is no longer listed, one that comes is, and none is
//! listed twice. Sockets made here inside namespaces made here (`ip netns
//! add`), from a thread that enters each.
#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::net::TcpListener;
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

    fn del(&self) {
        Named::ip(&["netns", "del", &self.0]);
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
            udp: false,
            raw: false,
            unix: false,
            states: StateSet::only(TcpState::Listen),
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
    let sys = Native::new();
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
