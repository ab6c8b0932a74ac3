//! Many network namespaces at once: more namespaces than dump workers,
//! each with a population of its own (TCP connections, a UDP socket, a raw
//! socket, or nothing), listed in one `-N all` run and compared, namespace
//! by namespace, with `ss` run inside each. The dumps a namespace's own
//! counters say can find nothing are left out (see `collect/linux/spaces.rs`):
//! a namespace with UDP and no TCP, one with only a raw socket and one
//! with nothing must still come out exactly as ss sees them, listed from a
//! namespace that has none of them.

mod common;
use common::Named;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// An `ip netns` namespace of the test's with `lo` up, named after `tag`.
fn named(tag: &str) -> Named {
    Named::new(format!("psmany-{tag}-{}", std::process::id()))
}

impl Named {
    /// `ss -Hn ARGS` run inside, as (proto, state, local port, peer port)
    /// with their counts.
    fn ss(&self, args: &[&str]) -> BTreeMap<(String, String, String, String), usize> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "ss", "-Hna"])
            .args(args)
            .output()
            .expect("ss (iproute2) is needed");
        assert!(out.status.success());
        let mut got = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let [proto, state, _, _, local, peer, ..] = w[..] else {
                panic!("ss line {line:?}");
            };
            // An unconnected peer (`*`) is port 0 in JSON.
            let port = |a: &str| match a.rsplit(':').next() {
                Some("*") | None => "0".to_owned(),
                Some(p) => p.to_owned(),
            };
            let proto = if proto == "tcp" || proto == "udp" {
                proto.to_owned()
            } else {
                "raw".to_owned()
            };
            let state = match state {
                "ESTAB" => "ESTABLISHED".to_owned(),
                "LISTEN" => "LISTEN".to_owned(),
                "TIME-WAIT" => "TIME_WAIT".to_owned(),
                other => other.to_owned(),
            };
            // ss names a raw socket's port by its protocol; compare raw
            // sockets by count.
            let key = if proto == "raw" {
                (proto, state, String::new(), String::new())
            } else {
                (proto, state, port(local), port(peer))
            };
            *got.entry(key).or_insert(0) += 1;
        }
        got
    }
}

/// A python process inside a namespace holding `conns` loopback TCP
/// connections (with their listener), and a UDP or a raw socket if asked;
/// killed on drop.
struct Holder(Child);

const HOLD: &str = r#"
import socket, sys, time
conns, udp, raw = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3] == "1"
keep = []
if conns:
    l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(64); keep.append(l)
    for _ in range(conns):
        c = socket.create_connection(l.getsockname()); a, _ = l.accept(); keep += [c, a]
if udp:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); keep.append(u)
if raw:
    keep.append(socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
print("ready", flush=True)
time.sleep(600)
"#;

impl Holder {
    fn start(ns: &Named, conns: usize, udp: bool, raw: bool) -> Holder {
        let flag = |b: bool| if b { "1" } else { "0" };
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.0, "python3", "-c", HOLD])
            .args([&conns.to_string(), flag(udp), flag(raw)])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 is needed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "ready");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// portscope's sockets of namespace `inode`, keyed as [`Named::ss`] keys them.
fn ours(list: &[Value], inode: u64) -> BTreeMap<(String, String, String, String), usize> {
    let mut got = BTreeMap::new();
    for s in list
        .iter()
        .filter(|s| s["netns"]["inode"].as_u64() == Some(inode))
    {
        let proto = s["proto"].as_str().expect("proto").to_owned();
        let state = s["state"].as_str().expect("state").to_owned();
        let port = |e: &Value| e["port"].as_u64().unwrap_or(0).to_string();
        let key = if proto == "raw" {
            (proto, state, String::new(), String::new())
        } else {
            (proto, state, port(&s["local"]), port(&s["remote"]))
        };
        *got.entry(key).or_insert(0) += 1;
    }
    got
}

#[test]
fn many_namespaces_each_list_what_ss_sees_inside() {
    assert!(common::is_root(), "this suite needs root");
    // Run from a namespace of the test's own, which has no TCP, UDP or raw
    // socket at all: counters read from the wrong namespace (this one,
    // rather than the one a worker entered) would leave dumps out and
    // lose sockets.
    let _ns = common::netns();
    // (TCP connections, UDP, raw): more namespaces than cores, and the
    // kinds the counters leave out in some and not in others.
    let kinds: [(usize, bool, bool); 9] = [
        (0, true, false),  // UDP, no TCP
        (0, false, true),  // raw only
        (0, false, false), // nothing at all (and no process)
        (1, false, false),
        (3, true, false),
        (5, false, true),
        (8, true, true),
        (13, false, false),
        (21, true, false),
    ];
    let spaces: Vec<Named> = (0..kinds.len()).map(|i| named(&i.to_string())).collect();
    let _holders: Vec<Holder> = spaces
        .iter()
        .zip(kinds)
        .filter(|(_, (conns, udp, raw))| *conns > 0 || *udp || *raw)
        .map(|(ns, (conns, udp, raw))| Holder::start(ns, conns, udp, raw))
        .collect();
    let list = common::json(&["-tuwan", "-N", "all"]);
    for (ns, (conns, udp, raw)) in spaces.iter().zip(kinds) {
        let want = ns.ss(&["-tuw"]);
        let got = ours(&list, ns.inode());
        assert_eq!(
            got, want,
            "{} ({conns} connections, udp {udp}, raw {raw})",
            ns.0
        );
        let tcp: usize = got
            .iter()
            .filter(|((p, ..), _)| p == "tcp")
            .map(|(_, n)| n)
            .sum();
        // Both ends of each connection, and the listener.
        assert_eq!(tcp, if conns > 0 { 2 * conns + 1 } else { 0 }, "{}", ns.0);
        assert_eq!(got.keys().any(|(p, ..)| p == "udp"), udp, "{}", ns.0);
        assert_eq!(got.keys().any(|(p, ..)| p == "raw"), raw, "{}", ns.0);
    }
    // One namespace alone gives what it gave among the others.
    for (i, ns) in spaces.iter().enumerate().skip(3).step_by(2) {
        let alone = common::json(&["-tuwan", "-N", &ns.0]);
        assert_eq!(
            ours(&alone, ns.inode()),
            ours(&list, ns.inode()),
            "namespace {i} alone"
        );
    }
}
