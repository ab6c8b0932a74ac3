//! IPv6 wildcard listeners with and without IPV6_V6ONLY, end to end: the
//! JSON flag, the table's `*:p` / `[::]:p` (against `ss`), what `audit`
//! says is reachable over IPv4, and what a scan of 127.0.0.1 finds open.
//!
//! Whole-listing comparisons run in a network namespace made by the test
//! (with one IPv4 and one IPv6 address), so nothing else on the machine can
//! change their answer; the sockets are made there by a thread that has
//! entered it, and held by this process.
#![allow(clippy::unwrap_used)]

mod common;
mod local_netns;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpListener};
use std::process::{Command, Output};

use common::*;
use local_netns::Netns;
use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, listen, socket_with, sockopt};
use serde_json::Value;

/// A TCP listener on `[::]:port` (0: any) with IPV6_V6ONLY set as asked.
fn listener_v6(port: u16, v6only: bool) -> TcpListener {
    // Close-on-exec, as std's sockets are: the portscope child must not hold it.
    let fd = socket_with(
        AddressFamily::INET6,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    sockopt::set_ipv6_v6only(&fd, v6only).unwrap();
    bind(
        &fd,
        &SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)),
    )
    .unwrap();
    listen(&fd, 16).unwrap();
    TcpListener::from(fd)
}

fn ok_stdout(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// (local, remote) columns of `ss -tlnH` lines, or of our table's rows.
fn columns(text: &str, local: usize, remote: usize) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[local].to_string(), f[remote].to_string())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn v6only_and_dual_stack_listeners_in_a_namespace() {
    let Some(ns) = Netns::new(1) else { return };
    let (only, dual) = ns.enter(|| (listener_v6(8081, true), listener_v6(8082, false)));
    let (oi, di) = (inode(&only), inode(&dual));

    // JSON: the flag of each, read from the kernel; the whole listing of
    // the namespace is these two.
    let list = parse_json(&ns.portscope(&["-tl", "--json"]));
    assert_eq!(list.len(), 2, "{list:#?}");
    let o = by_inode(&list, oi).unwrap();
    let d = by_inode(&list, di).unwrap();
    assert_eq!(
        (o["family"].as_str(), &o["v6only"]),
        (Some("inet6"), &Value::Bool(true))
    );
    assert_eq!(
        (d["family"].as_str(), &d["v6only"]),
        (Some("inet6"), &Value::Bool(false))
    );

    // The table shows them as ss does: `*:8082 *:*` and `[::]:8081 [::]:*`.
    let ss = ok_stdout(&ns.run("ss", &["-tlnH"]), "ss");
    let ours = ok_stdout(&ns.portscope(&["-tl", "-H"]), "portscope table");
    let ss_cols = columns(&ss, 3, 4);
    assert_eq!(ss_cols.len(), 2, "{ss}");
    assert_eq!(
        columns(&ours, 3, 4),
        ss_cols,
        "ss:\n{ss}\nportscope:\n{ours}"
    );
    assert!(ss_cols.contains(&("*:8082".into(), "*:*".into())), "{ss}");
    assert!(
        ss_cols.contains(&("[::]:8081".into(), "[::]:*".into())),
        "{ss}"
    );

    // Audit: the v6-only listener is reachable on the IPv6 address only,
    // the dual-stack one on both.
    let out = ns.portscope(&["audit", "--json"]);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("audit JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let reach = |ino: u64| -> Vec<String> {
        let f = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["inode"].as_u64() == Some(ino) && f["rule"] == "wildcard-bind")
            .unwrap_or_else(|| panic!("no wildcard-bind for {ino}: {doc:#}"));
        let mut a: Vec<String> = f["reachable_on"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["addr"].as_str().unwrap().to_string())
            .collect();
        a.sort();
        a
    };
    // (The veth ends' link-local addresses are listed too; they are IPv6.)
    let v4_of = |a: &[String]| -> Vec<String> {
        a.iter()
            .filter(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
            .cloned()
            .collect()
    };
    let o = reach(oi);
    assert!(o.contains(&ns.v6), "{o:?}");
    assert_eq!(
        v4_of(&o),
        Vec::<String>::new(),
        "v6-only reached over IPv4: {doc:#}"
    );
    let d = reach(di);
    assert!(d.contains(&ns.v6), "{d:?}");
    assert_eq!(v4_of(&d), std::slice::from_ref(&ns.v4), "{doc:#}");

    // The same read from /proc, which has no per-socket flag: the system
    // default (bindv6only 0 in a new namespace) for both.
    let procfs = parse_json(&ns.portscope(&["-tl", "--json", "--source", "procfs"]));
    assert_eq!(procfs.len(), 2, "{procfs:#?}");
    for s in &procfs {
        assert_eq!(s["v6only"], Value::Bool(false), "{s:#}");
    }
    drop((only, dual));
}

#[test]
fn scan_of_ipv4_loopback_reaches_only_the_dual_stack_listener() {
    let Some(ns) = Netns::new(2) else { return };
    let (only, dual) = ns.enter(|| (listener_v6(9091, true), listener_v6(9092, false)));
    let out = ns.portscope(&[
        "scan",
        "127.0.0.1",
        "-p",
        "9091,9092",
        "--no-probe",
        "--json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "scan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let port = |p: u64| {
        doc["hosts"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["port"].as_u64() == Some(p))
            .cloned()
            .unwrap_or_else(|| panic!("port {p}: {doc:#}"))
    };
    let d = port(9092);
    assert_eq!(d["state"], "open", "{doc:#}");
    let pids: Vec<u64> = d["owners"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["pid"].as_u64())
        .collect();
    // Ours; a child another test thread is forking at that moment holds a
    // copy until its exec, so others may show up too.
    assert!(pids.contains(&u64::from(std::process::id())), "{d:#}");
    let o = port(9091);
    assert_eq!(o["state"], "closed", "{doc:#}");
    assert_eq!(o["owners"], Value::Array(vec![]), "{o:#}");
    drop((only, dual));
}

/// Outside a namespace: our own two sockets, picked by inode, against ss
/// picked by port.
#[test]
fn json_flag_matches_ss_for_own_sockets() {
    let only = listener_v6(0, true);
    let dual = listener_v6(0, false);
    let (po, pd) = (
        only.local_addr().unwrap().port(),
        dual.local_addr().unwrap().port(),
    );
    let list = json(&["-tl"]);
    assert_eq!(by_inode(&list, inode(&only)).unwrap()["v6only"], true);
    assert_eq!(by_inode(&list, inode(&dual)).unwrap()["v6only"], false);
    // IPv4 and unix sockets carry no such key.
    let all = json(&["-a"]);
    assert!(
        all.iter()
            .filter(|s| s["family"] != "inet6")
            .all(|s| s.get("v6only").is_none())
    );
    let ss_local = |port: u16| {
        let filter = format!("sport = :{port}");
        let out = Command::new("ss")
            .args(["-tlnH", &filter])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        columns(&text, 3, 4)
    };
    assert_eq!(ss_local(po), [(format!("[::]:{po}"), "[::]:*".to_string())]);
    assert_eq!(ss_local(pd), [(format!("*:{pd}"), "*:*".to_string())]);
}

/// A saved listing keeps the flag: read back, written again, and shown as
/// ss would; a listing from before the field existed reads as "not known".
#[test]
fn saved_listings_keep_the_flag() {
    let dir = std::env::temp_dir().join(format!("psv6only-snap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("listing.json");
    let sock = |port: u16, inode: u64, v6only: &str| {
        format!(
            r#"{{"proto":"tcp","family":"inet6","local":{{"addr":"::","port":{port}}},"remote":{{"addr":"::","port":0}},"state":"LISTEN","recv_q":0,"send_q":128,"uid":0,"inode":{inode}{v6only}}}"#
        )
    };
    let text = format!(
        "[{},{},{},\n{}]",
        sock(7001, 1, r#","v6only":true"#),
        sock(7002, 2, r#","v6only":false"#),
        sock(7003, 3, ""),
        r#"{"proto":"unix","family":"unix","type":"stream","local":{"path":"/run/x","inode":4},"remote":{"path":null,"inode":0},"state":"LISTEN","uid":null,"inode":4}"#
    );
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();

    let back = json(&["-tuxl", "--from-snapshot", f]);
    let table = portscope()
        .args(["-tl", "-H", "--color", "never", "--from-snapshot", f])
        .output()
        .unwrap();
    let extended = portscope()
        .args(["-xl", "-e", "--color", "never", "--from-snapshot", f])
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    // A uid nobody knows is `-` under User, not 0 (root).
    let extended = ok_stdout(&extended, "extended table");
    let mut lines = extended.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let row = lines.find(|l| l.contains("/run/x")).unwrap();
    let at = |name: &str| {
        let col = extended.lines().next().unwrap().find(name).unwrap();
        row.get(col..)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap_or("")
    };
    assert!(head.contains(&"User"), "{extended}");
    assert_eq!(at("User"), "-", "{extended}");
    let table = ok_stdout(&table, "table");
    let cols = columns(&table, 3, 4);
    assert_eq!(
        cols,
        [
            ("*:7002".to_string(), "*:*".to_string()),
            ("[::]:7001".to_string(), "[::]:*".to_string()),
            ("[::]:7003".to_string(), "[::]:*".to_string()),
        ],
        "{table}"
    );
    std::fs::remove_dir(&dir).unwrap();
    let flag = |ino: u64| by_inode(&back, ino).unwrap()["v6only"].clone();
    assert_eq!(
        (flag(1), flag(2), flag(3)),
        (Value::Bool(true), Value::Bool(false), Value::Null)
    );
    let unix = by_inode(&back, 4).unwrap();
    assert!(unix.get("v6only").is_none(), "{unix:#}");
    assert_eq!(unix["uid"], Value::Null);
}
