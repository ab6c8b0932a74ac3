//! Shared helpers for the end-to-end tests: run the binary, read its JSON,
//! run ss as an oracle, put a test in a network namespace of its own.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

// One implementation for both crates' suites.
#[path = "../../../portscope/tests/common/netns.rs"]
mod netns;
#[allow(unused_imports)]
pub use netns::{NetNs, current_netns_inode, netns};

use std::os::fd::AsFd;
use std::process::{Command, Output};

use serde_json::Value;

/// The portscope binary under test.
pub fn portscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portscope"))
}

/// Runs portscope with `args`, asserts success, and returns its JSON array.
pub fn json(args: &[&str]) -> Vec<Value> {
    let out = portscope()
        .args(args)
        .arg("--json")
        .output()
        .expect("run portscope");
    assert!(
        out.status.success(),
        "portscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(&out)
}

/// Parses a JSON array from a command's stdout.
pub fn parse_json(out: &Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    v.as_array().expect("a JSON array").clone()
}

/// A `sleep 60` child that holds a socket of the test's as its stdin (the
/// parent may then drop its own fd, leaving the child the only holder).
/// Killed and reaped by pid when dropped, also when the test fails.
pub struct Holder(pub std::process::Child);

impl Holder {
    /// The holder's pid.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// Starts a [`Holder`] of `fd`.
pub fn child_holding(fd: impl AsFd) -> Holder {
    let fd = fd.as_fd().try_clone_to_owned().expect("dup the socket");
    let child = Command::new("sleep")
        .arg("60")
        .stdin(std::process::Stdio::from(fd))
        .spawn()
        .expect("start sleep");
    Holder(child)
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The inode of a socket fd.
pub fn inode(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).expect("fstat").st_ino
}

/// The socket with this inode in a listing.
pub fn by_inode(list: &[Value], inode: u64) -> Option<&Value> {
    list.iter().find(|s| s["inode"].as_u64() == Some(inode))
}

/// The pids of a socket's owners.
pub fn owner_pids(s: &Value) -> Vec<u64> {
    let mut pids: Vec<u64> = s["owners"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["pid"].as_u64()).collect())
        .unwrap_or_default();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// `addr:port` of a JSON endpoint, with the address as the JSON gives it.
pub fn ep(v: &Value) -> String {
    format!("{}:{}", v["addr"].as_str().unwrap_or("?"), v["port"])
}

/// Whether we run as root (some tests need it: raw sockets, other users).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A socket as (proto, local, remote, state), in one spelling for both tools:
/// addresses without brackets, the unspecified address and port 0 as `*`.
pub type Key = (String, String, String, String);

/// Normalises an address and port for comparison.
pub fn norm(addr: &str, port: &str) -> String {
    let a = addr.trim_start_matches('[').trim_end_matches(']');
    let a = match a {
        "0.0.0.0" | "::" | "*" => "*",
        other => other,
    };
    let p = if port == "0" { "*" } else { port };
    format!("{a}:{p}")
}

/// Splits ss's `addr:port` (`[::1]:80`, `*:*`, `0.0.0.0:22`, `127.0.0.1%lo:53`).
pub fn split_ss(s: &str) -> (String, String) {
    let (a, p) = s.rsplit_once(':').unwrap_or((s, ""));
    let a = a.split('%').next().unwrap_or(a);
    (a.to_string(), p.to_string())
}

/// ss's state names in netstat spelling.
pub fn ss_state(s: &str) -> String {
    match s {
        "ESTAB" => "ESTABLISHED",
        "UNCONN" => "UNCONN",
        "LISTEN" => "LISTEN",
        "TIME-WAIT" => "TIME_WAIT",
        "SYN-SENT" => "SYN_SENT",
        "SYN-RECV" => "SYN_RECV",
        "FIN-WAIT-1" => "FIN_WAIT1",
        "FIN-WAIT-2" => "FIN_WAIT2",
        "CLOSE-WAIT" => "CLOSE_WAIT",
        "LAST-ACK" => "LAST_ACK",
        "CLOSING" => "CLOSING",
        "CLOSE" => "CLOSE",
        other => other,
    }
    .to_string()
}

/// Runs ss with `args` (which must include -H and -n) and returns the keys of
/// its tcp/udp/raw lines.
pub fn ss_keys(args: &[&str]) -> Vec<Key> {
    let out = Command::new("ss").args(args).output().expect("run ss");
    assert!(
        out.status.success(),
        "ss {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 {
                return None;
            }
            let (la, lp) = split_ss(f[4]);
            let (ra, rp) = split_ss(f[5]);
            Some((
                f[0].to_string(),
                norm(&la, &lp),
                norm(&ra, &rp),
                ss_state(f[1]),
            ))
        })
        .collect()
}

/// The keys of portscope's JSON listing.
pub fn json_keys(list: &[Value]) -> Vec<Key> {
    list.iter()
        .filter(|s| s["proto"] != "unix")
        .map(|s| {
            (
                s["proto"].as_str().unwrap_or("?").to_string(),
                norm(
                    s["local"]["addr"].as_str().unwrap_or("?"),
                    &s["local"]["port"].to_string(),
                ),
                norm(
                    s["remote"]["addr"].as_str().unwrap_or("?"),
                    &s["remote"]["port"].to_string(),
                ),
                s["state"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

/// Runs `start` (a spawn or an output of a program the test just copied),
/// retrying while exec fails with ETXTBSY: another test thread forking at
/// that moment holds the copy's write fd until its own exec. That passes.
pub fn exec_copied<T>(mut start: impl FnMut() -> std::io::Result<T>) -> T {
    const ETXTBSY: i32 = 26;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match start() {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.expect("start the copied program"),
        }
    }
}

/// Spawns `cmd`, a program the test may just have copied (see [`exec_copied`]).
pub fn spawn_copied(cmd: &mut Command) -> std::process::Child {
    exec_copied(|| cmd.spawn())
}

/// An `ip netns` namespace the test made, deleted on drop (if still there).
/// A test that makes the namespace its own way wraps the name for the drop.
pub struct Named(pub String);

impl Named {
    /// Makes namespace `name` with `lo` up (first deleting a stale one of
    /// that name, left by a killed run).
    pub fn new(name: impl Into<String>) -> Named {
        let named = Named::bare(name);
        ip_ok(&["-n", &named.0, "link", "set", "lo", "up"]);
        named
    }

    /// Makes namespace `name` as `ip netns add` leaves it: `lo` down, no
    /// address at all.
    pub fn bare(name: impl Into<String>) -> Named {
        let name = name.into();
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        ip_ok(&["netns", "add", &name]);
        Named(name)
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// The namespace's inode, from its bind mount.
    pub fn inode(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/run/netns/{}", self.0))
            .expect("the namespace's bind mount")
            .ino()
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Runs `ip ARGS`, panicking (with its stderr) unless it succeeds.
pub fn ip_ok(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip is needed (Debian package iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
