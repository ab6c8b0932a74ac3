//! Host addresses over rtnetlink (`collect::linux::host::addresses`, which
//! goes through the sock_diag collector's netlink transport) in a network
//! namespace the test makes, with enough addresses that the dump takes
//! many messages per read and several reads: the answer must be exactly
//! what `ip -o addr show` lists there.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Command;

use common::NetNs;
use portscope::collect::linux::host::{addresses, is_loopback};

/// The kernel adds an fe80:: address when a link comes up, which may be
/// just before or after a listing: left out of both sides.
fn link_local(a: IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

/// The non-loopback, non-link-local addresses `ip -o addr show` lists in `ns`.
fn listed(ns: &NetNs) -> BTreeSet<IpAddr> {
    let out = Command::new("ip")
        .args(["-n", ns.name(), "-o", "addr", "show"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let at = f.iter().position(|w| *w == "inet" || *w == "inet6")?;
            f.get(at + 1)?.split('/').next()?.parse().ok()
        })
        .filter(|a| !is_loopback(*a) && !link_local(*a))
        .collect()
}

#[test]
fn many_addresses_come_back_exactly() {
    let ns = common::netns();
    let mut cmds =
        String::from("link add pa0 type veth peer name pa1\nlink set pa0 up\nlink set pa1 up\n");
    // About 90 bytes a message: 1,200 addresses are several 32 KiB reads.
    for i in 0..600u32 {
        let (hi, lo) = (i / 250, i % 250 + 1);
        cmds += &format!("addr add 10.201.{hi}.{lo}/32 dev pa0\n");
        cmds += &format!("addr add fd00:201::{i:x}/128 dev pa1 nodad\n");
    }
    let mut ip = Command::new("ip")
        .args(["-n", ns.name(), "-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut ip.stdin.take().unwrap(), cmds.as_bytes()).unwrap();
    assert!(ip.wait().unwrap().success(), "ip -batch");
    let want = listed(&ns);
    assert!(want.len() >= 1200, "{} addresses listed", want.len());
    let (got, note) = addresses().unwrap();
    assert_eq!(note, None, "rtnetlink answered");
    let got: Vec<_> = got.into_iter().filter(|a| !link_local(a.addr)).collect();
    let set: BTreeSet<IpAddr> = got.iter().map(|a| a.addr).collect();
    assert_eq!(set.len(), got.len(), "no address twice");
    assert_eq!(set, want);
    for a in &got {
        assert_ne!(a.index, 0, "{a:?}");
        if a.addr.is_ipv4() {
            assert_eq!(a.interface, "pa0", "{a:?}");
        }
    }
}
