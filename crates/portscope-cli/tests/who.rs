//! `portscope who`: found, not found, --kill, and the processes it refuses.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

use common::*;

/// A free port: bind, note it, release.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn finds_a_child_holding_the_port_and_kills_it() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::from(l.as_fd().try_clone_to_owned().unwrap()))
        .spawn()
        .unwrap();
    drop(l); // Only the child holds the listener now.
    let pid = child.id();

    let out = portscope()
        .args(["who", &port.to_string(), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocks = parse_json(&out);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert_eq!(blocks[0]["pid"], pid);
    assert_eq!(blocks[0]["name"], "sleep");
    assert_eq!(blocks[0]["cmdline"], "sleep 60");
    assert_eq!(blocks[0]["sockets"][0]["state"], "LISTEN");
    assert_eq!(blocks[0]["sockets"][0]["local"]["port"], port);

    let out = portscope()
        .args(["who", &port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("sleep[{pid}]")), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");

    let out = portscope()
        .args(["who", &port.to_string(), "--kill", "--yes"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("sleep[{pid}]: sent SIGTERM")),
        "{text}"
    );
    assert!(text.contains("free"), "{text}");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was terminated by a signal");

    let out = portscope()
        .args(["who", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn nothing_there_is_exit_1() {
    // On the host any process may take the port once it is free again; in a
    // namespace of our own nothing can.
    let _ns = netns();
    let port = free_port();
    let out = portscope()
        .args(["who", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn ranges_protocols_and_lists() {
    let t = TcpListener::bind("127.0.0.1:0").unwrap();
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tp = t.local_addr().unwrap().port();
    let up = u.local_addr().unwrap().port();
    let inodes = |args: &[&str]| -> Vec<u64> {
        let out = portscope()
            .arg("who")
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        parse_json(&out)
            .iter()
            .flat_map(|b| b["sockets"].as_array().unwrap().clone())
            .filter_map(|s| s["inode"].as_u64())
            .collect()
    };
    let both = format!("{tp},{up}");
    let got = inodes(&[&both]);
    assert!(
        got.contains(&inode(&t)) && got.contains(&inode(&u)),
        "{got:?}"
    );
    let got = inodes(&[&format!("{up}/udp")]);
    assert!(got.contains(&inode(&u)));
    let got = inodes(&[&format!("{tp}/udp")]);
    assert!(!got.contains(&inode(&t)), "a tcp socket matched /udp");
    let lo = tp.min(up);
    let hi = tp.max(up);
    let got = inodes(&[&format!("{lo}-{hi}")]);
    assert!(
        got.contains(&inode(&t)) && got.contains(&inode(&u)),
        "{got:?}"
    );
}

#[test]
fn bad_port_specs_are_usage_errors() {
    for bad in ["70000", "9-1", "80/sctp", "no-such-service-xyz"] {
        let out = portscope().args(["who", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn kill_off_a_terminal_needs_yes() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut child = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::from(l.as_fd().try_clone_to_owned().unwrap()))
        .spawn()
        .unwrap();
    let out = portscope()
        .args(["who", &port.to_string(), "--kill"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "signalled without --yes"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// In a fresh pid namespace, pid 1 holds a listener; `who --kill` refuses it.
#[test]
fn pid_1_is_refused() {
    if !is_root() {
        eprintln!("skipped: unshare needs root");
        return;
    }
    let script = format!(
        "import socket,subprocess\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
         r=subprocess.run(['{}','who',str(s.getsockname()[1]),'--kill','--yes'],capture_output=True,text=True)\n\
         print(r.returncode); print(r.stderr)",
        env!("CARGO_BIN_EXE_portscope")
    );
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "python3", "-c", &script])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "skipped: unshare unavailable here: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("1"), "{text}");
    assert!(
        text.contains("refusing to signal") && text.contains("[1]"),
        "{text}"
    );
}
