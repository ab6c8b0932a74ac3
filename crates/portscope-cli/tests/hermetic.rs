//! The test namespaces really isolate: what a test opens inside its
//! namespace is all that ss and portscope see there, and nothing of it leaks
//! out. Every whole-machine comparison in the suite relies on this.

mod common;

use std::net::{TcpListener, TcpStream};
use std::process::Command;

use common::{by_inode, current_netns_inode, inode, json, netns};

fn ss_listener_ports() -> Vec<u16> {
    let out = Command::new("ss").args(["-tlnH"]).output().expect("run ss");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let local = l.split_whitespace().nth(3)?;
            local.rsplit_once(':')?.1.parse().ok()
        })
        .collect()
}

#[test]
fn a_test_namespace_holds_only_the_tests_sockets() {
    let home = current_netns_inode();
    let outside = TcpListener::bind("127.0.0.1:0").expect("bind outside");
    let outside_ino = inode(&outside);

    let ns = netns();
    assert_ne!(current_netns_inode(), home, "setns did not move the thread");
    assert!(ns.name().starts_with("portscope-test-"));

    let inside = TcpListener::bind("127.0.0.1:0").expect("bind inside");
    let inside_ino = inode(&inside);
    // lo is up: a connection works.
    let _c = TcpStream::connect(inside.local_addr().expect("addr")).expect("connect over lo");
    let _a = inside.accept().expect("accept");

    // The binary, spawned from this thread, runs in the namespace.
    let list = json(&["-tl", "-p"]);
    assert!(by_inode(&list, inside_ino).is_some(), "{list:#?}");
    assert!(by_inode(&list, outside_ino).is_none(), "{list:#?}");
    assert_eq!(list.len(), 1, "only our listener listens here: {list:#?}");
    let all = json(&["-ta"]);
    assert_eq!(all.len(), 3, "listener and both ends: {all:#?}");

    // So does ss.
    let port = inside.local_addr().expect("addr").port();
    assert_eq!(ss_listener_ports(), vec![port]);

    // Threads started here inherit the namespace.
    let here = current_netns_inode();
    let child = std::thread::spawn(current_netns_inode)
        .join()
        .expect("thread");
    assert_eq!(child, here);

    drop(ns);
    assert_eq!(
        current_netns_inode(),
        home,
        "the guard moves the thread back"
    );
    let list = json(&["-tl"]);
    assert!(by_inode(&list, outside_ino).is_some());
    assert!(by_inode(&list, inside_ino).is_none());
}

#[test]
fn concurrent_tests_get_different_namespaces() {
    // Both inside at once (a freed namespace's inode number can be reused).
    let both = std::sync::Arc::new(std::sync::Barrier::new(2));
    let enter = |both: std::sync::Arc<std::sync::Barrier>| {
        move || {
            let _ns = netns();
            both.wait();
            let ino = current_netns_inode();
            both.wait();
            ino
        }
    };
    let a = std::thread::spawn(enter(both.clone()));
    let b = std::thread::spawn(enter(both));
    let a = a.join().expect("a");
    let b = b.join().expect("b");
    assert_ne!(a, b);
    assert_ne!(a, current_netns_inode());
}

/// A saved listing is all a `--from-snapshot` command looks at: in a
/// namespace holding a live listener, the summary, the listing and the audit
/// of the recorded file count exactly the file's sockets. (The summary once
/// summarised the live machine instead; the fuzzer noticed it when a host
/// with 100k sockets made every such run slow.)
#[test]
fn from_snapshot_never_reads_the_live_machine() {
    let _ns = netns();
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let live_port = live.local_addr().expect("addr").port();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/listing.json");
    let text = std::fs::read_to_string(file).expect("fixture");
    let saved: Vec<serde_json::Value> = serde_json::from_str(&text).expect("fixture JSON");
    let count = |proto: &str| saved.iter().filter(|s| s["proto"] == proto).count();

    let out = common::portscope()
        .args(["-s", "--json", "--from-snapshot", file])
        .output()
        .expect("run");
    assert!(out.status.success());
    let sum: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(sum["total"], saved.len(), "{sum:#}");
    for proto in ["tcp", "udp", "unix"] {
        assert_eq!(sum[proto]["total"], count(proto), "{proto}: {sum:#}");
    }

    let list = json(&["-tuxa", "--from-snapshot", file]);
    assert_eq!(list.len(), saved.len());
    assert!(list.iter().all(|s| s["local"]["port"] != live_port));

    let out = common::portscope()
        .args(["audit", "--json", "--from-snapshot", file])
        .output()
        .expect("run");
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let listeners = saved
        .iter()
        .filter(|s| s["state"] == "LISTEN" || (s["proto"] == "udp" && s["state"] == "UNCONN"))
        .filter(|s| s["proto"] != "unix")
        .count();
    assert_eq!(audit["summary"]["listeners"], listeners, "{audit:#}");
}
