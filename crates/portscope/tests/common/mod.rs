//! Helpers shared by the library's live tests.

#![allow(dead_code)] // each test file uses its own part

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

/// A network namespace made for one test (`ip netns add`), deleted on
/// drop, so what the test reads is not changed by other work on the machine.
pub struct Netns(pub String);

/// A fresh namespace named for `tag` and this process; `None` (and the
/// test skips, saying so) when not root or `ip netns` is refused.
pub fn netns(tag: &str) -> Option<Netns> {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: network namespaces need root");
        return None;
    }
    let name = format!("ps{tag}-{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: ip netns add refused");
        return None;
    }
    Some(Netns(name))
}

impl Netns {
    /// Runs `ip -n NS -batch -` on `lines`.
    pub fn batch(&self, lines: &str) {
        let mut ip = Command::new("ip")
            .args(["-n", &self.0, "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("ip");
        ip.stdin
            .take()
            .expect("stdin")
            .write_all(lines.as_bytes())
            .expect("ip -batch input");
        assert!(ip.wait().expect("ip").success(), "ip -batch");
    }

    /// Runs `f` on a thread that has entered the namespace: sockets it
    /// makes live there, and `/proc/thread-self/net` shows the namespace.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = File::open(&path).expect("namespace file");
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .expect("setns");
                f()
            })
            .join()
            .expect("the namespace thread panicked")
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
