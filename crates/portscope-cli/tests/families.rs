//! Packet, netlink and MPTCP sockets, made by a helper process in a
//! namespace of the test's own and compared with ss (`ss -0`, `ss -A
//! netlink`, `ss -M`), `ip -d link` (promiscuity) and `ss -b` (filters);
//! and the audit rules that judge packet sockets.
//!
//! The helper is Python's socket module (python3 from Debian): packet
//! sockets on ETH_P_ALL (one unbound, one bound to `lo`), a datagram packet
//! socket on ETH_P_IP with a classic BPF filter of two instructions, one in
//! promiscuous mode on a veth of the namespace, a NETLINK_ROUTE socket
//! bound to groups 1 and 3, and an MPTCP listener with a connection to it.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

use common::{by_inode, json, netns, owner_pids, portscope};

const HELPER: &str = r#"
import socket, struct, ctypes, sys, os
ETH_P_ALL = 3
iface = sys.argv[1]
socks = []
a = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)); socks.append(a)
b = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)); b.bind(("lo", 0)); socks.append(b)
c = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800)); socks.append(c)
# ldh [12]; ret #0xffff
prog = struct.pack("HBBI", 0x28, 0, 0, 12) + struct.pack("HBBI", 0x06, 0, 0, 0xffff)
buf = ctypes.create_string_buffer(prog, len(prog))
c.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", 2, ctypes.addressof(buf)))  # SO_ATTACH_FILTER
d = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)); d.bind((iface, 0)); socks.append(d)
# PACKET_ADD_MEMBERSHIP (SOL_PACKET 263, 1) of type PACKET_MR_PROMISC (1)
d.setsockopt(263, 1, struct.pack("iHH8s", socket.if_nametoindex(iface), 1, 0, b""))
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); n.bind((0, 1 | 4)); socks.append(n)
if sys.argv[2] == "mptcp":
    m = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); m.bind(("127.0.0.1", 0)); m.listen(); socks.append(m)
    mc = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); mc.connect(m.getsockname()); socks.append(mc)
    ma, _ = m.accept(); socks.append(ma)
print(" ".join(str(os.fstat(s.fileno()).st_ino) for s in socks), flush=True)
sys.stdin.read()
"#;

/// The helper's sockets' inodes, in the order it made them.
struct Inodes {
    all: u64,
    lo: u64,
    filtered: u64,
    promisc: u64,
    netlink: u64,
    mptcp: Vec<u64>,
}

/// The helper process, killed (by its pid) and reaped on drop.
struct Helper {
    child: Child,
    _stdin: ChildStdin,
    inodes: Inodes,
}

impl Helper {
    /// Starts `program` (python3, or a link to it under another name) on
    /// the helper script; its sockets are in the calling thread's namespace.
    fn start(program: &str, iface: &str, mptcp: bool) -> Helper {
        let mut child = Command::new(program)
            .args(["-c", HELPER, iface, if mptcp { "mptcp" } else { "-" }])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program} is needed (Debian package python3): {e}"));
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("helper output");
        let n: Vec<u64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("inode"))
            .collect();
        assert!(
            n.len() >= 5,
            "the helper failed to make its sockets: {line:?}"
        );
        Helper {
            inodes: Inodes {
                all: n[0],
                lo: n[1],
                filtered: n[2],
                promisc: n[3],
                netlink: n[4],
                mptcp: n[5..].to_vec(),
            },
            child,
            _stdin: stdin,
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
    }
}

/// Asserts that `doc` matches the checked-in schema `name`.
fn assert_schema(name: &str, doc: &Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schema")
        .join(name);
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    let v = jsonschema::draft202012::new(&schema).expect("a valid schema");
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .take(10)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is needed (Debian package iproute2): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A veth pair `psv0`/`psv1`, up, in the calling thread's namespace.
fn veth() {
    run(
        "ip",
        &[
            "link", "add", "psv0", "type", "veth", "peer", "name", "psv1",
        ],
    );
    run("ip", &["link", "set", "psv0", "up"]);
    run("ip", &["link", "set", "psv1", "up"]);
}

/// One packet socket as ss shows it.
#[derive(Debug, PartialEq)]
struct SsPacket {
    netid: String,
    protocol: u16,
    iface: String,
    pids: Vec<u64>,
    filter: Option<u32>,
}

/// `ss -0 -a -p -n -e -b`, by inode: type, protocol (`*` is ETH_P_ALL,
/// `[N]` a number), interface (`*` for all), holders and the BPF filter's
/// length from its `bpf filter (N):` line.
fn ss_packet() -> BTreeMap<u64, SsPacket> {
    let text = run("ss", &["-0", "-a", "-p", "-n", "-e", "-b", "-H"]);
    let mut out = BTreeMap::new();
    let mut last = None;
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) {
            if let (Some(ino), Some(rest)) = (last, line.trim().strip_prefix("bpf filter (")) {
                let n = rest.split(')').next().and_then(|n| n.parse().ok());
                if let Some(s) = out.get_mut(&ino) {
                    let s: &mut SsPacket = s;
                    s.filter = n;
                }
            }
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (proto, iface) = f[4].rsplit_once(':').expect("proto:iface");
        let protocol = match proto {
            "*" => 3,
            p => p
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .expect("numeric protocol"),
        };
        let pids = line
            .split("pid=")
            .skip(1)
            .filter_map(|p| p.split(',').next()?.parse().ok())
            .collect();
        let ino: u64 = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ino:"))
            .expect("ino:")
            .parse()
            .expect("inode");
        out.insert(
            ino,
            SsPacket {
                netid: f[0].to_string(),
                protocol,
                iface: iface.to_string(),
                pids,
                filter: None,
            },
        );
        last = Some(ino);
    }
    out
}

/// One of our packet sockets in ss's terms.
fn ours_as_ss(s: &Value) -> SsPacket {
    let p = &s["packet"];
    let filter = &p["filter"];
    assert!(!filter.is_null(), "as root the filter is known: {s:#}");
    SsPacket {
        netid: match p["type"].as_str() {
            Some("raw") => "p_raw".into(),
            Some("dgram") => "p_dgr".into(),
            other => panic!("packet type {other:?}"),
        },
        protocol: s["local"]["protocol_number"].as_u64().expect("protocol") as u16,
        iface: p["interface"].as_str().unwrap_or("*").to_string(),
        pids: owner_pids(s),
        filter: filter["instructions"].as_u64().map(|n| n as u32),
    }
}

#[test]
fn packet_sockets_match_ss_and_the_interface_promiscuity() {
    let _ns = netns();
    veth();
    let h = Helper::start("python3", "psv0", false);
    let list = json(&["-0a", "-p"]);
    assert!(
        list.iter()
            .all(|s| s["proto"] == "packet" && s["family"] == "packet"),
        "{list:#?}"
    );
    let ours: BTreeMap<u64, SsPacket> = list
        .iter()
        .map(|s| (s["inode"].as_u64().expect("inode"), ours_as_ss(s)))
        .collect();
    let ss = ss_packet();
    assert_eq!(ours, ss, "portscope -0 against ss -0 -p -e -b");

    // What the test made, read back.
    let get = |ino| by_inode(&list, ino).unwrap_or_else(|| panic!("{ino} missing: {list:#?}"));
    let all = get(h.inodes.all);
    assert_eq!(all["local"]["protocol"], "all");
    assert_eq!(all["local"]["ifindex"], 0);
    assert!(all["remote"].is_null());
    assert_eq!(all["state"], "UNCONN");
    assert_eq!(owner_pids(all), vec![h.pid()]);
    let lo = get(h.inodes.lo);
    assert_eq!(
        (
            lo["local"]["ifindex"].as_u64(),
            lo["packet"]["interface"].as_str()
        ),
        (Some(1), Some("lo"))
    );
    let filtered = get(h.inodes.filtered);
    assert_eq!(filtered["local"]["protocol"], "ip");
    assert_eq!(filtered["local"]["protocol_number"], 0x0800);
    assert_eq!(filtered["packet"]["type"], "dgram");
    assert_eq!(filtered["packet"]["filter"]["attached"], true);
    assert_eq!(filtered["packet"]["filter"]["instructions"], 2);
    assert_eq!(all["packet"]["filter"]["attached"], false);

    // Promiscuous mode: the socket's membership, and the interface's
    // promiscuity count as the kernel keeps it.
    let promisc = get(h.inodes.promisc);
    let veth_index: u64 = run("ip", &["-o", "link", "show", "psv0"])
        .split(':')
        .next()
        .and_then(|n| n.trim().parse().ok())
        .expect("ifindex of psv0");
    assert_eq!(promisc["packet"]["interface"], "psv0");
    assert_eq!(promisc["packet"]["promiscuous"], true);
    assert_eq!(
        promisc["packet"]["memberships"],
        serde_json::json!([{"ifindex": veth_index, "type": "promisc", "count": 1}])
    );
    let shown = run("ip", &["-d", "link", "show", "psv0"]);
    assert!(shown.contains("promiscuity 1"), "{shown}");
    for ino in [h.inodes.all, h.inodes.lo, h.inodes.filtered] {
        assert_eq!(get(ino)["packet"]["promiscuous"], false);
    }

    // The table as ss labels them; the filter language's `dev`.
    let table = portscope().args(["-0a", "-n"]).output().expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    for want in ["p_raw", "p_dgr", "all:lo", "all:psv0", "ip:*", "all:*"] {
        assert!(text.contains(want), "{want} missing from\n{text}");
    }
    // (By index: the filter reads names from /sys, which is the host's
    // in a namespace made by `ip netns add`.)
    let on_veth = json(&["-0a", "dev", &veth_index.to_string()]);
    let inodes: Vec<u64> = on_veth.iter().filter_map(|s| s["inode"].as_u64()).collect();
    assert_eq!(inodes, vec![h.inodes.promisc], "{on_veth:#?}");

    // The real output of every new family matches the schema.
    assert_schema("listing.schema.json", &Value::Array(list.clone()));
    let every = json(&["-0a", "--netlink", "-M", "-p", "-m"]);
    assert_schema("listing.schema.json", &Value::Array(every));

    // The summary counts them; CSV leaves a packet socket's remote end empty.
    let out = portscope()
        .args(["-0a", "-s", "--json"])
        .output()
        .expect("run");
    let sum: Value = serde_json::from_slice(&out.stdout).expect("summary JSON");
    assert_eq!(sum["packet"]["total"], ss.len());
    assert_eq!(sum["packet"]["states"]["UNCONN"], ss.len());
    let out = portscope().args(["-0a", "--csv"]).output().expect("run");
    let csv = String::from_utf8_lossy(&out.stdout);
    let row = csv
        .lines()
        .find(|l| l.contains(&format!(",{},", h.inodes.lo)))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(row.starts_with("packet,packet,,all,1,,,UNCONN,"), "{row}");

    // Not in the default listing: packet sockets are asked for by name.
    let default = json(&["-a"]);
    assert!(
        default.iter().all(|s| s["proto"] != "packet"),
        "{default:#?}"
    );
    drop(h);
}

/// `(protocol, portid, groups)` of ss's netlink rows and ours, leaving out
/// each tool's own sock_diag socket (protocol 4 with a port id).
fn netlink_rows_ss() -> Vec<(u64, u64, u64)> {
    let text = run("ss", &["-A", "netlink", "-a", "-n", "-e", "-H"]);
    let mut rows: Vec<(u64, u64, u64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (p, id) = f[3].split_once(':').expect("proto:portid");
            let groups = l
                .split("groups=0x")
                .nth(1)
                .and_then(|g| u64::from_str_radix(g.trim(), 16).ok())
                .expect("groups");
            (
                p.parse().expect("proto"),
                id.parse().expect("portid"),
                groups,
            )
        })
        .filter(|&(p, id, _)| !(p == 4 && id != 0))
        .collect();
    rows.sort_unstable();
    rows
}

#[test]
fn netlink_sockets_match_ss() {
    let _ns = netns();
    veth();
    let h = Helper::start("python3", "psv0", false);
    let list = json(&["--netlink", "-a", "-p"]);
    let mut ours: Vec<(u64, u64, u64)> = list
        .iter()
        .map(|s| {
            assert_eq!(
                (s["proto"].as_str(), s["family"].as_str()),
                (Some("netlink"), Some("netlink"))
            );
            let groups = s["netlink"]["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|g| 1u64 << (g.as_u64().expect("group") - 1))
                .sum();
            (
                s["local"]["protocol_number"].as_u64().expect("protocol"),
                s["local"]["portid"].as_u64().expect("portid"),
                groups,
            )
        })
        .filter(|&(p, id, _)| !(p == 4 && id != 0))
        .collect();
    ours.sort_unstable();
    assert_eq!(
        ours,
        netlink_rows_ss(),
        "portscope --netlink against ss -A netlink"
    );

    let mine = by_inode(&list, h.inodes.netlink).expect("the helper's rtnetlink socket");
    assert_eq!(mine["local"]["protocol"], "rtnl");
    assert_eq!(mine["netlink"]["groups"], serde_json::json!([1, 3]));
    assert_eq!(owner_pids(mine), vec![h.pid()]);
    // The kernel's own sockets have port id 0 and are shown as ss shows them.
    let table = portscope().args(["--netlink", "-a"]).output().expect("run");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("rtnl:kernel"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.starts_with("nl ")), "{text}");
}

#[test]
fn mptcp_sockets_match_ss() {
    let _ns = netns();
    std::fs::write("/proc/sys/net/mptcp/enabled", "1")
        .expect("net.mptcp.enabled in the test's namespace (a kernel with MPTCP)");
    veth();
    let h = Helper::start("python3", "psv0", true);
    assert_eq!(h.inodes.mptcp.len(), 3);
    let list = json(&["-Ma", "-p"]);
    let ours: BTreeMap<u64, (String, String, String)> = list
        .iter()
        .map(|s| {
            assert_eq!(s["proto"], "mptcp");
            (
                s["inode"].as_u64().expect("inode"),
                (
                    common::ep(&s["local"]),
                    common::ep(&s["remote"]),
                    s["state"].as_str().expect("state").to_string(),
                ),
            )
        })
        .collect();
    let ss: BTreeMap<u64, (String, String, String)> = run("ss", &["-M", "-a", "-n", "-e", "-H"])
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ino = l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("ino:"))
                .expect("ino:")
                .parse()
                .expect("inode");
            let (la, lp) = f[3].rsplit_once(':').expect("local");
            let (ra, rp) = f[4].rsplit_once(':').expect("remote");
            let port = |p: &str| {
                if p == "*" {
                    "0".to_string()
                } else {
                    p.to_string()
                }
            };
            let state = match f[0] {
                "ESTAB" => "ESTABLISHED",
                "LISTEN" => "LISTEN",
                other => panic!("state {other}"),
            };
            (
                ino,
                (
                    format!("{la}:{}", port(lp)),
                    format!("{ra}:{}", port(rp)),
                    state.to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(ours, ss, "portscope -M against ss -M");
    for ino in &h.inodes.mptcp {
        let s = by_inode(&list, *ino).expect("the helper's MPTCP socket");
        assert_eq!(owner_pids(s), vec![h.pid()]);
    }
    // Their subflows are TCP sockets, not listed as MPTCP.
    let tcp = json(&["-t"]);
    assert!(tcp.iter().all(|s| s["proto"] == "tcp"));
}

/// Findings of `rule` in an audit report, with the pids each names.
fn findings<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn pids_of(f: &Value) -> Vec<u64> {
    f["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .filter_map(|p| p["pid"].as_u64())
        .collect()
}

#[test]
fn audit_names_sniffers_and_filters_of_unknown_processes() {
    let _ns = netns();
    veth();
    let stranger = Helper::start("python3", "psv0", false);
    // The same program under a capture tool's name: its filter is expected.
    let dir = std::env::temp_dir().join(format!("portscope-families-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let python = run(
        "python3",
        &[
            "-c",
            "import os,sys; print(os.path.realpath(sys.executable))",
        ],
    );
    let tcpdump = dir.join("tcpdump");
    let _ = std::fs::remove_file(&tcpdump);
    std::os::unix::fs::symlink(python.trim(), &tcpdump).expect("symlink");
    let tool = Helper::start(tcpdump.to_str().expect("path"), "psv0", false);

    let out = portscope()
        .args(["audit", "--json"])
        .output()
        .expect("run audit");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));

    assert_schema("audit.schema.json", &report);
    let sniffers = findings(&report, "packet-sniffer");
    let named: Vec<u64> = sniffers.iter().flat_map(|f| pids_of(f)).collect();
    assert!(named.contains(&stranger.pid()), "{sniffers:#?}");
    assert!(
        named.contains(&tool.pid()),
        "a capture tool still sniffs: {sniffers:#?}"
    );
    let about = |pid: u64| {
        sniffers
            .iter()
            .find(|f| pids_of(f) == vec![pid])
            .unwrap_or_else(|| panic!("no sniffer finding for {pid}: {sniffers:#?}"))
    };
    let msg = about(stranger.pid())["message"].as_str().expect("message");
    assert!(
        msg.contains("all:psv0") && msg.contains("promiscuous"),
        "{msg}"
    );
    assert!(msg.contains("all:lo") && msg.contains("all:*"), "{msg}");
    assert_eq!(about(stranger.pid())["proto"], "packet");
    assert_eq!(about(tool.pid())["process"], "tcpdump");

    let filters = findings(&report, "packet-filter-unknown");
    assert_eq!(filters.len(), 1, "{filters:#?}");
    assert_eq!(pids_of(filters[0]), vec![stranger.pid()]);
    assert_eq!(filters[0]["inode"], stranger.inodes.filtered);
    assert_eq!(filters[0]["severity"], "high");
    assert!(
        filters[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("2 instructions")),
        "{filters:#?}"
    );
    // Sockets that are neither sniffers nor filtered are not judged.
    assert!(
        !report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] != "packet-sniffer"
                && f["proto"] == "packet"
                && f["rule"] != "packet-filter-unknown"),
        "{report:#}"
    );
    // Without CAP_NET_ADMIN packet_diag does not say whether a filter is
    // attached (the listing's packet.filter is null); root still asks the
    // socket itself through a duplicate of the holder's descriptor, so the
    // rule still judges it.
    let weak = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--bounding-set=-net_admin", "--inh-caps=-net_admin", "--"])
            .arg(env!("CARGO_BIN_EXE_portscope"))
            .args(args)
            .output()
            .expect("setpriv (Debian package util-linux)")
    };
    let out = weak(&["audit", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unprivileged: Value = serde_json::from_slice(&out.stdout).expect("audit JSON");
    let weak_filters = findings(&unprivileged, "packet-filter-unknown");
    assert_eq!(weak_filters.len(), 1, "{weak_filters:#?}");
    assert_eq!(weak_filters[0]["inode"], stranger.inodes.filtered);
    assert!(!findings(&unprivileged, "packet-sniffer").is_empty());
    let out = weak(&["-0ap", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).expect("listing JSON");
    let filtered = list
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["inode"] == stranger.inodes.filtered)
        .expect("the filtered socket");
    assert!(filtered["packet"]["filter"].is_null(), "{filtered}");
    assert_eq!(filtered["socket_filter"]["kind"], "classic", "{filtered}");
    assert_eq!(filtered["socket_filter"]["instructions"], 2);
    // Without root nothing says: the rule stays quiet and says why.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_portscope"))
        .args(["audit", "--json"])
        .output()
        .expect("setpriv (Debian package util-linux)");
    let nobody: Value = serde_json::from_slice(&out.stdout).expect("audit JSON");
    assert!(findings(&nobody, "packet-filter-unknown").is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not be read") && err.contains("needs root"),
        "{err}"
    );

    // --skip leaves them out.
    let skipped = portscope()
        .args([
            "audit",
            "--json",
            "--skip",
            "packet-sniffer,packet-filter-unknown",
        ])
        .output()
        .expect("run audit");
    let skipped: Value = serde_json::from_slice(&skipped.stdout).expect("JSON");
    assert!(findings(&skipped, "packet-sniffer").is_empty());
    assert!(findings(&skipped, "packet-filter-unknown").is_empty());
    drop(tool);
    drop(stranger);
    let _ = std::fs::remove_dir_all(&dir);
}
