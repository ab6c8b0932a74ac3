//! `portscope close`: a live loopback connection is reset and disappears;
//! a bare close and one that would hit listeners are refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;

use common::*;

#[test]
fn closes_an_established_connection() {
    let _ns = common::netns();
    if !is_root() {
        eprintln!("skipped: closing sockets needs CAP_NET_ADMIN");
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut server, _) = l.accept().unwrap();
    let cport = client.local_addr().unwrap().port();
    let client_inode = inode(&client);

    let out = portscope()
        .args(["close", "--yes", "src", &format!("127.0.0.1:{cport}")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(": closed"), "{text}");

    // The peer sees a reset.
    let mut buf = [0u8; 8];
    let err = server
        .read(&mut buf)
        .expect_err("the peer must see a reset");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    // The socket is gone from the next listing (as a connection).
    let list = json(&["-ta"]);
    let s = by_inode(&list, client_inode);
    assert!(
        s.is_none_or(|s| s["state"] != "ESTABLISHED"),
        "still established: {s:?}"
    );
    // The listener was not touched.
    assert!(by_inode(&json(&["-tl"]), inode(&l)).is_some());
}

#[test]
fn bare_close_is_refused() {
    let _ns = common::netns();
    let out = portscope().args(["close", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn listeners_need_listening_flag() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let out = portscope()
        .args(["close", "--yes", "sport", "=", &format!(":{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--listening"), "{err}");
    assert!(by_inode(&json(&["-tl"]), inode(&l)).is_some());
}

#[test]
fn off_a_terminal_close_needs_yes() {
    let _ns = common::netns();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let _server = l.accept().unwrap();
    let cport = client.local_addr().unwrap().port();
    let out = portscope()
        .args(["close", "src", &format!("127.0.0.1:{cport}")])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let s = by_inode(&json(&["-ta"]), inode(&client)).cloned();
    assert_eq!(s.unwrap()["state"], "ESTABLISHED");
}

/// `n` connections from clients to one listener of ours, with the server
/// ends. Tests select them with `dst LISTENER`: only ours go there.
fn connections(n: usize) -> (TcpListener, Vec<TcpStream>, Vec<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..n {
        clients.push(TcpStream::connect(l.local_addr().unwrap()).unwrap());
        servers.push(l.accept().unwrap().0);
    }
    (l, clients, servers)
}

/// The clients among `clients` still ESTABLISHED in a listing.
fn established(clients: &[TcpStream]) -> usize {
    let list = json(&["-ta"]);
    clients
        .iter()
        .filter(|c| by_inode(&list, inode(c)).is_some_and(|s| s["state"] == "ESTABLISHED"))
        .count()
}

/// Above five connections, --yes alone is refused in one line that says
/// what would do; --count must match; --count N or --all closes them.
#[test]
fn many_connections_need_the_count_confirmed() {
    let _ns = common::netns();
    if !is_root() {
        eprintln!("skipped: closing sockets needs CAP_NET_ADMIN");
        return;
    }
    let (l, clients, _servers) = connections(6);
    let port = l.local_addr().unwrap().port();
    let filter = format!("dst 127.0.0.1:{port}");

    let out = portscope()
        .args(["close", &filter, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("selects 6 connections") && err.contains("--count 6") && err.contains("--all"),
        "{err}"
    );
    // The six are listed before the refusal.
    let listed = String::from_utf8_lossy(&out.stdout);
    for c in &clients {
        let local = c.local_addr().unwrap().to_string();
        assert!(listed.contains(&local), "{local} not listed:\n{listed}");
    }
    assert_eq!(established(&clients), 6);

    let out = portscope()
        .args(["close", &filter, "--yes", "--count", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("selects 6") && err.contains("not --count 5"),
        "{err}"
    );
    assert_eq!(established(&clients), 6);

    let out = portscope()
        .args(["close", &filter, "--yes", "--count", "6"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches(": closed").count(), 6, "{text}");
    assert_eq!(established(&clients), 0);

    let (l, clients, _servers) = connections(6);
    let filter = format!("dst {}", l.local_addr().unwrap());
    let out = portscope()
        .args(["close", &filter, "--all", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(established(&clients), 0);

    // Five or fewer: --yes is enough.
    let (l, clients, _servers) = connections(5);
    let filter = format!("dst {}", l.local_addr().unwrap());
    let out = portscope()
        .args(["close", &filter, "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(established(&clients), 0);
}

/// On a terminal, above five connections the prompt wants the number typed:
/// `y` closes nothing, `6` closes them.
#[test]
fn the_prompt_wants_the_number_typed() {
    let _ns = common::netns();
    if !is_root() {
        eprintln!("skipped: closing sockets needs CAP_NET_ADMIN");
        return;
    }
    let (l, clients, _servers) = connections(6);
    let filter = format!("dst {}", l.local_addr().unwrap());
    let script = r#"
import os, pty, select, subprocess, sys
ps, flt, answer = sys.argv[1], sys.argv[2], sys.argv[3]
master, slave = pty.openpty()
p = subprocess.Popen([ps, 'close', flt], stdin=slave, stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
seen = b''
while b'confirm: ' not in seen:
    ready, _, _ = select.select([master], [], [], 60)
    if not ready:
        break
    seen += os.read(master, 4096)
os.write(master, answer.encode() + b'\n')
out, _ = p.communicate(timeout=60)
print(p.returncode)
print(seen.decode(errors='replace').replace('\r', '').strip().splitlines()[-1])
"#;
    let run = |answer: &str| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                script,
                env!("CARGO_BIN_EXE_portscope"),
                &filter,
                answer,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let text = run("y");
    assert!(text.contains("Type 6 to confirm"), "{text}");
    assert_eq!(text.lines().next(), Some("1"), "{text}");
    assert_eq!(established(&clients), 6);
    let text = run("6");
    assert_eq!(text.lines().next(), Some("0"), "{text}");
    assert_eq!(established(&clients), 0);
}
