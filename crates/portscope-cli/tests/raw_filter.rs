//! The BPF filter on a raw IP socket: asked of the socket itself through a
//! duplicate of its owner's descriptor (the dumps do not report it), in the
//! listing's `socket_filter` and judged by the audit's
//! `packet-filter-unknown` rule; compared with ss for the sockets
//! themselves.
//!
//! The helper is a copy of python3 under a name no capture tool has, in a
//! namespace of the test's own: a raw ICMP socket with a classic filter of
//! four instructions, a raw UDP socket with none, and (when the kernel lets
//! it load one) a raw ICMPv6 socket with an eBPF program attached.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

use common::{by_inode, json, netns, owner_pids, portscope};

const HELPER: &str = r#"
import socket, struct, ctypes, sys, os
a = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
# ldb [0]; jeq #0x45, 0, 1; ret #0xffff; ret #0
prog = (struct.pack("HBBI", 0x30, 0, 0, 0) + struct.pack("HBBI", 0x15, 0, 1, 0x45)
        + struct.pack("HBBI", 0x06, 0, 0, 0xffff) + struct.pack("HBBI", 0x06, 0, 0, 0))
buf = ctypes.create_string_buffer(prog, len(prog))
a.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", 4, ctypes.addressof(buf)))  # SO_ATTACH_FILTER
b = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
c = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 58)
# bpf(BPF_PROG_LOAD) of a socket filter "r0 = -1; exit", attached with SO_ATTACH_BPF (50)
libc = ctypes.CDLL(None, use_errno=True)
insns = struct.pack("BBhi", 0xb7, 0, 0, -1) + struct.pack("BBhi", 0x95, 0, 0, 0)
ibuf = ctypes.create_string_buffer(insns, len(insns))
lic = ctypes.create_string_buffer(b"GPL")
attr = struct.pack("IIQQ", 1, 2, ctypes.addressof(ibuf), ctypes.addressof(lic)) + bytes(128)
abuf = ctypes.create_string_buffer(attr, len(attr))
fd = libc.syscall(321, 5, abuf, len(attr))
ebpf = 0
if fd >= 0:
    c.setsockopt(socket.SOL_SOCKET, 50, struct.pack("i", fd))
    ebpf = 1
print(os.fstat(a.fileno()).st_ino, os.fstat(b.fileno()).st_ino, os.fstat(c.fileno()).st_ino, ebpf, flush=True)
sys.stdin.read()
"#;

/// The helper process, killed (by its pid) and reaped on drop, with its
/// copied interpreter's directory.
struct Helper {
    child: Child,
    _stdin: ChildStdin,
    filtered: u64,
    plain: u64,
    ebpf: Option<u64>,
    dir: std::path::PathBuf,
}

impl Helper {
    fn start() -> Helper {
        let dir = std::env::temp_dir().join(format!("portscope-raw-filter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let python = Command::new("python3")
            .args([
                "-c",
                "import os,sys; print(os.path.realpath(sys.executable))",
            ])
            .output()
            .expect("python3 is needed (Debian package python3)");
        let copy = dir.join("rawhold");
        std::fs::copy(String::from_utf8_lossy(&python.stdout).trim(), &copy).expect("copy python3");
        let mut child = common::spawn_copied(
            Command::new(&copy)
                .args(["-c", HELPER])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
        );
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("helper output");
        let n: Vec<u64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("number"))
            .collect();
        assert_eq!(
            n.len(),
            4,
            "the helper failed to make its sockets: {line:?}"
        );
        Helper {
            child,
            _stdin: stdin,
            filtered: n[0],
            plain: n[1],
            ebpf: (n[3] == 1).then_some(n[2]),
            dir,
        }
    }

    fn pid(&self) -> u64 {
        u64::from(self.child.id())
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// ss's raw sockets as (local, pid, fd) of the `users:` field.
fn ss_raw() -> Vec<(String, u64, u64)> {
    let out = Command::new("ss")
        .args(["-H", "-w", "-a", "-n", "-p"])
        .output()
        .expect("ss is needed (Debian package iproute2)");
    assert!(out.status.success());
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(users) = f.iter().find(|x| x.starts_with("users:")) else {
            continue;
        };
        let num = |key: &str| -> u64 {
            users
                .split(key)
                .nth(1)
                .and_then(|r| r.split([',', ')']).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        rows.push((f[3].to_string(), num("pid="), num("fd=")));
    }
    rows.sort();
    rows
}

#[test]
fn raw_socket_filters_are_asked_of_the_socket_and_audited() {
    let _ns = netns();
    let h = Helper::start();

    let list = json(&["-w", "-a", "-p"]);
    let filtered = by_inode(&list, h.filtered).expect("the filtered raw socket");
    let plain = by_inode(&list, h.plain).expect("the plain raw socket");
    assert_eq!(filtered["proto"], "raw");
    assert_eq!(owner_pids(filtered), vec![h.pid()]);
    assert_eq!(filtered["socket_filter"]["kind"], "classic", "{filtered}");
    assert_eq!(filtered["socket_filter"]["instructions"], 4);
    assert_eq!(plain["socket_filter"]["kind"], "none", "{plain}");
    assert!(plain["socket_filter"]["instructions"].is_null());
    if let Some(ino) = h.ebpf {
        let e = by_inode(&list, ino).expect("the eBPF raw socket");
        assert_eq!(e["socket_filter"]["kind"], "ebpf", "{e}");
    }

    // The same sockets, ends and holders as ss sees them.
    let ours: Vec<(String, u64, u64)> = {
        let mut v: Vec<(String, u64, u64)> = list
            .iter()
            .filter(|s| s["proto"] == "raw")
            .flat_map(|s| {
                let port = s["local"]["port"].as_u64().unwrap_or(0);
                let addr = match s["local"]["addr"].as_str().unwrap_or("?") {
                    "::" => "*".to_string(),
                    a => a.to_string(),
                };
                s["owners"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |o| {
                        (
                            format!("{addr}:{port}"),
                            o["pid"].as_u64().unwrap_or(0),
                            o["fd"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(ours, ss_raw());

    let out = portscope()
        .args(["audit", "--json"])
        .output()
        .expect("run audit");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let found: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "packet-filter-unknown")
        .collect();
    let of = |ino: u64| found.iter().find(|f| f["inode"] == ino);
    let f = of(h.filtered).unwrap_or_else(|| panic!("no finding: {report:#}"));
    assert_eq!(f["proto"], "raw");
    assert_eq!(f["severity"], "high");
    assert_eq!(f["process"], "rawhold");
    let msg = f["message"].as_str().expect("message");
    assert!(
        msg.contains("4 instructions") && msg.contains("raw socket"),
        "{msg}"
    );
    assert!(of(h.plain).is_none(), "{found:#?}");
    if let Some(ino) = h.ebpf {
        let e = of(ino).unwrap_or_else(|| panic!("no eBPF finding: {found:#?}"));
        assert!(e["message"].as_str().is_some_and(|m| m.contains("eBPF")));
    }
    assert_eq!(found.len(), 1 + usize::from(h.ebpf.is_some()), "{found:#?}");

    // Unprivileged, the filter is not asked: "unknown", and why.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_portscope"))
        .args(["-w", "-a", "-p", "--json"])
        .output()
        .expect("setpriv (Debian package util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let weak = common::parse_json(&out);
    let s = by_inode(&weak, h.filtered).expect("listed unprivileged");
    assert_eq!(s["socket_filter"]["kind"], "unknown", "{s}");
    assert_eq!(s["socket_filter"]["reason"], "needs root");
}
