//! End to end: `-r/--resolve` and host names in filters against real DNS
//! servers, never the machine's resolver. Each test makes a network
//! namespace and gives it its own `/etc/resolv.conf`, `/etc/hosts` and
//! `/etc/nsswitch.conf` (files under `/etc/netns/NAME/`, which
//! `ip netns exec` bind-mounts over `/etc` in a mount namespace of the
//! command's own), then runs there: dnsmasq answering for a test zone; a
//! server that takes every query and never answers (the deadline holds); a
//! responder that answers one name quickly and another too late.

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The test's namespace with its own resolver configuration, removed on drop.
struct DnsNs {
    ns: common::NetNs,
    etc: PathBuf,
}

impl DnsNs {
    fn new(resolv: &str, hosts: &str) -> DnsNs {
        let ns = common::netns();
        let etc = PathBuf::from("/etc/netns").join(ns.name());
        std::fs::create_dir_all(&etc).expect("make /etc/netns/NAME (needs root)");
        std::fs::write(etc.join("resolv.conf"), resolv).expect("resolv.conf");
        std::fs::write(etc.join("hosts"), hosts).expect("hosts");
        // Files, then DNS: no mDNS or other modules of the host in the way.
        std::fs::write(etc.join("nsswitch.conf"), "hosts: files dns\n").expect("nsswitch");
        DnsNs { ns, etc }
    }

    /// portscope, run in the namespace with its resolver files in place.
    fn portscope(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", self.ns.name()])
            .arg(env!("CARGO_BIN_EXE_portscope"))
            .args(args)
            .output()
            .expect("ip netns exec (Debian package iproute2)")
    }
}

impl Drop for DnsNs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}

/// A server process, stopped by its pid on drop (also when the test fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (with a generous limit) until something answers DNS on 127.0.0.1:53.
fn wait_for_udp_53(ns: &DnsNs) {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        let out = ns.portscope(&["-ul", "--json", "sport", "=", ":53"]);
        if !common::parse_json(&out).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the DNS server did not start");
}

fn dnsmasq(records: &[&str]) -> Server {
    let mut cmd = Command::new("dnsmasq");
    cmd.args([
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        "--port=53",
        "--pid-file=",
    ]);
    for r in records {
        cmd.arg(format!("--host-record={r}"));
    }
    Server(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq is needed (Debian package dnsmasq)"),
    )
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "portscope failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn listen(addr: &str) -> (TcpListener, u16) {
    let l = TcpListener::bind(addr).expect("bind");
    let port = l.local_addr().expect("addr").port();
    (l, port)
}

/// The socket of `list` whose local end is `addr:port`.
fn local<'a>(list: &'a [Value], addr: &str, port: u16, state: &str) -> &'a Value {
    list.iter()
        .find(|s| {
            s["local"]["addr"] == addr
                && s["local"]["port"].as_u64() == Some(u64::from(port))
                && s["state"] == state
        })
        .unwrap_or_else(|| panic!("no {state} socket on {addr}:{port} in {list:#?}"))
}

#[test]
#[ignore = "slow: a real dnsmasq in a namespace"]
fn names_come_from_the_hosts_file_and_a_real_dns_server() {
    let ns = DnsNs::new(
        "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n",
        "127.0.0.1 localhost\n127.0.0.7 fromhosts.test\n127.0.0.9 localhost\n::1 localhost\n127.0.0.8 \x1b[2Jevil\n",
    );
    let _dns = dnsmasq(&["db1.test,127.0.0.5"]);
    wait_for_udp_53(&ns);

    let (_db, db_port) = listen("127.0.0.5:0");
    let (_hf, hf_port) = listen("127.0.0.7:0");
    let (_lh, lh_port) = listen("127.0.0.9:0");
    // A name whoever writes the hosts file (or a reverse zone) chose.
    let (_ev, ev_port) = listen("127.0.0.8:0");
    // A client on an address with no name, connected to db1.
    let client = std::net::TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 5], db_port)),
        Duration::from_secs(5),
    );
    let client = client.expect("connect");
    let client_port = client.local_addr().expect("addr").port();

    let out = ns.portscope(&["-tar", "--json"]);
    ok(&out);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not resolved"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = common::parse_json(&out);
    let db = local(&list, "127.0.0.5", db_port, "LISTEN");
    assert_eq!(db["local"]["name"], "db1.test", "DNS: {db}");
    assert_eq!(
        local(&list, "127.0.0.7", hf_port, "LISTEN")["local"]["name"],
        "fromhosts.test"
    );
    assert_eq!(
        local(&list, "127.0.0.8", ev_port, "LISTEN")["local"]["name"],
        "\x1b[2Jevil"
    );
    // The client's end: its own address is loopback's (localhost, from the
    // hosts file), the remote is db1.
    let c = local(&list, "127.0.0.1", client_port, "ESTABLISHED");
    assert_eq!(c["local"]["name"], "localhost");
    assert_eq!(c["remote"]["name"], "db1.test");
    // Without -r, no names and no lookups.
    let plain = common::parse_json(&ns.portscope(&["-ta", "--json"]));
    assert!(plain.iter().all(|s| s["local"].get("name").is_none()));

    // The table shows name:port.
    let out = ns.portscope(&["-tlr"]);
    ok(&out);
    assert!(!out.stdout.contains(&0x1b), "a raw escape from a name");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains(&format!("\\x1b[2Jevil:{ev_port}")),
        "{table}"
    );
    assert!(table.contains(&format!("db1.test:{db_port}")), "{table}");
    assert!(
        table.contains(&format!("fromhosts.test:{hf_port}")),
        "{table}"
    );

    // Filters name hosts: forward through DNS and the hosts file; localhost
    // is every address the hosts file gives it (here also 127.0.0.9).
    let dst = common::parse_json(&ns.portscope(&["-t", "--json", "dst", "db1.test"]));
    assert_eq!(dst.len(), 1, "{dst:#?}");
    assert_eq!(
        dst[0]["local"]["port"].as_u64(),
        Some(u64::from(client_port))
    );
    let src = common::parse_json(&ns.portscope(&["-tl", "--json", "src", "fromhosts.test"]));
    assert_eq!(src.len(), 1);
    assert_eq!(src[0]["local"]["port"].as_u64(), Some(u64::from(hf_port)));
    let lo = common::parse_json(&ns.portscope(&["-tl", "--json", "src", "localhost"]));
    assert!(
        lo.iter()
            .any(|s| s["local"]["port"].as_u64() == Some(u64::from(lh_port))),
        "localhost did not take 127.0.0.9 from the hosts file: {lo:#?}"
    );
    let bad = ns.portscope(&["-t", "dst", "nosuch.test"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("nosuch.test"), "{err}");
}

#[test]
#[ignore = "slow: a DNS server that never answers"]
fn the_deadline_holds_when_the_server_never_answers() {
    // glibc would wait 30 s per try, five tries per address.
    let ns = DnsNs::new(
        "nameserver 127.0.0.1\noptions timeout:30 attempts:5\n",
        "127.0.0.1 localhost\n127.0.0.7 fromhosts.test\n",
    );
    // Takes every query into its buffer and never reads or answers.
    let _silent = UdpSocket::bind("127.0.0.1:53").expect("bind 127.0.0.1:53 in the namespace");
    let (_a, pa) = listen("127.0.0.21:0");
    let (_b, pb) = listen("127.0.0.22:0");
    let (_c, pc) = listen("127.0.0.23:0");
    let (_h, ph) = listen("127.0.0.7:0");

    let started = Instant::now();
    let out = ns.portscope(&["-tlr", "--json", "--resolve-timeout", "500ms"]);
    let took = started.elapsed();
    ok(&out);
    // A deadline of 0.5 s for the listing, against 150 s per address for
    // the resolver: far below, on any machine.
    assert!(took < Duration::from_secs(60), "the run took {took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("3 address(es) not resolved within 500 ms"),
        "{err}"
    );
    let list = common::parse_json(&out);
    for (addr, port) in [("127.0.0.21", pa), ("127.0.0.22", pb), ("127.0.0.23", pc)] {
        assert!(
            local(&list, addr, port, "LISTEN")["local"]
                .get("name")
                .is_none()
        );
    }
    // The hosts file still answers at once.
    assert_eq!(
        local(&list, "127.0.0.7", ph, "LISTEN")["local"]["name"],
        "fromhosts.test"
    );
    // The table marks the late ones.
    let out = ns.portscope(&["-tlr", "--resolve-timeout", "300ms"]);
    ok(&out);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains(&format!("~127.0.0.21:{pa}")), "{table}");
    assert!(table.contains(&format!("fromhosts.test:{ph}")), "{table}");
}

/// A DNS responder: answers PTR queries for 127.0.0.31 after 0.2 s and for
/// 127.0.0.32 after 20 s, each on a thread of its own; NXDOMAIN otherwise.
const SLOW_DNS: &str = r#"
import socket, struct, sys, threading, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 53))
NAMES = {"31.0.0.127.in-addr.arpa": ("slow.test", 0.2), "32.0.0.127.in-addr.arpa": ("late.test", 20)}
def qname(b):
    i, parts = 12, []
    while b[i]:
        parts.append(b[i+1:i+1+b[i]].decode()); i += 1 + b[i]
    return ".".join(parts).lower(), i + 5
def enc(n):
    return b"".join(bytes([len(p)]) + p.encode() for p in n.split(".")) + b"\0"
def answer(q, peer):
    name, end = qname(q)
    qtype = struct.unpack(">H", q[end-4:end-2])[0]
    hit = NAMES.get(name) if qtype == 12 else None
    if hit:
        time.sleep(hit[1])
        rd = enc(hit[0])
        r = q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end]
        r += b"\xc0\x0c\x00\x0c\x00\x01\x00\x00\x00\x3c" + struct.pack(">H", len(rd)) + rd
    else:
        r = q[:2] + b"\x81\x83\x00\x01\x00\x00\x00\x00\x00\x00" + q[12:end]
    s.sendto(r, peer)
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    threading.Thread(target=answer, args=(q, peer), daemon=True).start()
"#;

#[test]
#[ignore = "slow: a DNS server that answers slowly"]
fn slow_answers_count_only_within_the_deadline() {
    let ns = DnsNs::new(
        "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
        "127.0.0.1 localhost\n",
    );
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SLOW_DNS)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed (Debian package python3)");
    let stdout = child.stdout.take().expect("stdout");
    let _dns = Server(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("ready");
    assert_eq!(line.trim(), "ready");

    let (_a, pa) = listen("127.0.0.31:0");
    let (_b, pb) = listen("127.0.0.32:0");
    let started = Instant::now();
    let out = ns.portscope(&["-tlr", "--json", "--resolve-timeout", "5s"]);
    let took = started.elapsed();
    ok(&out);
    let list = common::parse_json(&out);
    assert_eq!(
        local(&list, "127.0.0.31", pa, "LISTEN")["local"]["name"],
        "slow.test"
    );
    assert!(
        local(&list, "127.0.0.32", pb, "LISTEN")["local"]
            .get("name")
            .is_none()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 address(es) not resolved within 5000 ms"),
        "{err}"
    );
    // It did not wait for the late answer (20 s): generous bound.
    assert!(took < Duration::from_secs(19), "the run took {took:?}");
}
