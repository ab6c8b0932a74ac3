//! `portscope explain` and `portscope -s`, checked against independent
//! sources: the IANA CSV, the kernel's ephemeral range, live sockets.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, TcpStream, UdpSocket};

use common::*;
use serde_json::Value;

fn explain(target: &str) -> Vec<Value> {
    let out = portscope()
        .args(["explain", target, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(&out)
}

/// (name, transport) rows of the IANA CSV for a port, read independently.
fn csv_rows(port: u16) -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/iana-service-names-port-numbers.csv"
    );
    let mut rdr = csv::Reader::from_path(path).unwrap();
    rdr.records()
        .map(|r| r.unwrap())
        .filter(|r| !r[0].is_empty() && r[1] == *port.to_string())
        .map(|r| (r[0].to_string(), r[2].to_string()))
        .collect()
}

fn ephemeral() -> (u16, u16) {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let mut it = text.split_whitespace().map(|n| n.parse().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn registry(v: &Value) -> Vec<(String, String)> {
    v["registry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["transport"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn port_22_and_ssh_by_name() {
    let _ns = common::netns();
    let by_port = explain("22");
    assert_eq!(by_port.len(), 1);
    let v = &by_port[0];
    assert_eq!(v["port"], 22);
    assert_eq!(registry(v), csv_rows(22));
    assert!(registry(v).contains(&("ssh".into(), "tcp".into())));
    assert_eq!(v["class"], "system");
    assert_eq!(v["in_ephemeral_range"], false);
    assert_eq!(v["exposure"]["what"], "SSH");
    assert_eq!(v["exposure"]["cleartext"], false);
    // By name: the same port (ssh has one port in every transport).
    let by_name = explain("ssh");
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0]["port"], 22);
    assert_eq!(registry(&by_name[0]), registry(v));
    let text = portscope().args(["explain", "ssh"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("Port 22\n"), "{text}");
    assert!(text.contains("class      system"), "{text}");
}

#[test]
fn port_443() {
    let _ns = common::netns();
    let v = &explain("443")[0];
    assert_eq!(registry(v), csv_rows(443));
    assert_eq!(v["registry"][0]["name"], "https");
    assert_eq!(v["class"], "system");
    assert_eq!(v["exposure"]["cleartext"], false);
}

#[test]
fn port_8080_udp() {
    let _ns = common::netns();
    let v = &explain("8080/udp")[0];
    let want: Vec<_> = csv_rows(8080)
        .into_iter()
        .filter(|(_, t)| t == "udp")
        .collect();
    assert!(!want.is_empty());
    assert_eq!(registry(v), want);
    assert_eq!(v["class"], "user");
    // The exposure note is about TCP 8080, not UDP.
    assert!(v["exposure"].is_null(), "{v}");
    let (lo, hi) = ephemeral();
    assert_eq!(v["in_ephemeral_range"], (lo..=hi).contains(&8080));
}

#[test]
fn port_50000() {
    let _ns = common::netns();
    let v = &explain("50000")[0];
    assert_eq!(registry(v), csv_rows(50000));
    assert_eq!(v["class"], "dynamic");
    let (lo, hi) = ephemeral();
    assert_eq!(v["ephemeral_range"], serde_json::json!([lo, hi]));
    assert_eq!(v["in_ephemeral_range"], (lo..=hi).contains(&50000));
}

#[test]
fn in_use_lists_the_holder() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let v = &explain(&port.to_string())[0];
    let used = v["in_use"].as_array().unwrap();
    let s = used
        .iter()
        .find(|s| s["inode"].as_u64() == Some(inode(&l)))
        .unwrap();
    assert_eq!(owner_pids(s), vec![u64::from(std::process::id())]);
}

#[test]
fn unknown_names_are_usage_errors() {
    let _ns = common::netns();
    for bad in ["no-such-service-xyz", "70000", "22/foo"] {
        let out = portscope().args(["explain", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
}

#[test]
fn summary_counts_and_listeners() {
    // In a namespace of its own the test's sockets are all there are, so the
    // counts are exact and this process is the busiest (on the host, any
    // process may hold more sockets than the test).
    let _ns = netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let _a = l.accept().unwrap();
    let _u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let out = portscope().args(["-s", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Counts agree with the listing's own per-state numbers and add up.
    for proto in ["tcp", "udp"] {
        let c = &v[proto];
        let states: u64 = c["states"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n.as_u64().unwrap())
            .sum();
        assert_eq!(c["total"].as_u64().unwrap(), states);
        assert_eq!(
            c["total"].as_u64().unwrap(),
            c["inet"].as_u64().unwrap() + c["inet6"].as_u64().unwrap()
        );
    }
    assert_eq!(v["tcp"]["total"], 3, "{v:#}");
    assert_eq!(v["tcp"]["states"]["ESTABLISHED"], 2, "{v:#}");
    assert_eq!(v["tcp"]["states"]["LISTEN"], 1, "{v:#}");
    assert_eq!(v["udp"]["total"], 1, "{v:#}");
    assert_eq!(v["listening"].as_array().unwrap().len(), 2, "{v:#}");
    let me = format!("[{}]", std::process::id());
    let ours = v["listening"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["local"] == format!("127.0.0.1:{port}"))
        .expect("our listener in the summary");
    assert!(ours["processes"][0].as_str().unwrap().ends_with(&me));
    assert!(
        v["top_peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"] == "127.0.0.1")
    );
    assert!(
        v["top_processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["key"].as_str().unwrap().ends_with(&me))
    );
    let text = portscope().arg("-s").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("Total: "), "{text}");
    assert!(text.contains("Listening:"), "{text}");
}
