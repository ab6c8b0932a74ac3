//! A fresh network namespace for the calling test thread.
//!
//! `let _ns = netns();` at the top of a test moves the test's thread (each
//! cargo test runs on its own) into a new network namespace holding only a
//! `lo` that is up. Sockets the test then opens, threads it spawns, and
//! commands it runs (`ss`, the portscope binary, python servers) all live
//! there, so nothing else on the machine can change what a whole-machine
//! listing shows. The process walk still sees every process on the machine:
//! compare owners only for the test's own sockets.
//!
//! Mechanism: `ip netns add` (a named namespace under /run/netns), `setns`
//! on it for this thread only, `lo` brought up inside. Dropping the guard
//! moves the thread back to the namespace it came from and deletes the
//! namespace (its sockets are gone with the last fd). Needs root, as the
//! suite does.
//!
//! This file is shared by the `portscope` and `portscope-cli` test suites
//! (the latter includes it by path).

use std::fs::File;
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

const PREFIX: &str = "portscope-test-";

/// The calling thread's stay in a network namespace of its own; see the module
/// documentation.
#[must_use = "the namespace lasts as long as the guard"]
pub struct NetNs {
    name: String,
    home: File,
}

impl NetNs {
    /// The namespace's name under /run/netns (for `ip -n NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Moves the calling thread into a fresh network namespace with `lo` up.
///
/// Panics (failing the test) when that cannot be done: the suite needs root
/// and iproute2.
pub fn netns() -> NetNs {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    reap_stale();
    let name = format!(
        "{PREFIX}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    ip(&["netns", "add", &name]);
    ip(&["-n", &name, "link", "set", "lo", "up"]);
    let home = File::open("/proc/thread-self/ns/net").expect("open this thread's netns");
    let target = File::open(format!("/run/netns/{name}")).expect("open the new netns");
    move_into_link_name_space(target.as_fd(), Some(LinkNameSpaceType::Network))
        .expect("setns into the new netns");
    NetNs { name, home }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Back home first: a test runner that reuses the thread (one test
        // thread) must not run the next test in here.
        let back = move_into_link_name_space(self.home.as_fd(), Some(LinkNameSpaceType::Network));
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        if let Err(e) = back {
            // Nothing sane can follow on this thread.
            if !std::thread::panicking() {
                panic!("setns back to the original netns: {e}");
            }
        }
    }
}

/// The inode of the calling thread's network namespace.
pub fn current_netns_inode() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("stat this thread's netns")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2) is needed for test namespaces");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes namespaces left by test runs that were killed before their guards
/// dropped (their pid no longer exists).
fn reap_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip")
                .args(["netns", "del", &format!("{PREFIX}{rest}")])
                .status();
        }
    }
}
