//! A network namespace made by one test (until a shared helper in
//! `common` replaces this): `lo` up and a veth end with one IPv4 and one
//! IPv6 address, sockets made in it by a thread that entered it, commands
//! run in it with `ip netns exec`. Deleted on drop.
#![allow(dead_code)]

use std::fs::File;
use std::os::fd::AsFd;
use std::process::{Command, Output};

/// A network namespace with `lo` up and a veth end holding 10.201.<n>.2/24
/// and fd00:201:<n>::2/64. Deleted on drop.
pub struct Netns {
    pub name: String,
    pub v4: String,
    pub v6: String,
}

impl Netns {
    /// `None` (the test skips) when not root or `ip netns` is refused.
    pub fn new(n: u8) -> Option<Netns> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: network namespaces need root");
            return None;
        }
        let name = format!("pslocal-{}-{n}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: ip netns add refused");
            return None;
        }
        let ns = Netns {
            name,
            v4: format!("10.201.{n}.2"),
            v6: format!("fd00:201:{n}::2"),
        };
        let (c4, c6) = (format!("{}/24", ns.v4), format!("{}/64", ns.v6));
        for args in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "add", "pv0", "type", "veth", "peer", "name", "pv1"],
            vec!["addr", "add", &c4, "dev", "pv0"],
            vec!["addr", "add", &c6, "dev", "pv0", "nodad"],
            vec!["link", "set", "pv0", "up"],
            vec!["link", "set", "pv1", "up"],
        ] {
            let st = Command::new("ip")
                .arg("-n")
                .arg(&ns.name)
                .args(&args)
                .status()
                .unwrap();
            assert!(st.success(), "ip -n {} {args:?}", ns.name);
        }
        Some(ns)
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = File::open(&path).unwrap();
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .unwrap();
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// `program ARGS` run inside the namespace.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .unwrap()
    }

    pub fn portscope(&self, args: &[&str]) -> Output {
        self.run(env!("CARGO_BIN_EXE_portscope"), args)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
