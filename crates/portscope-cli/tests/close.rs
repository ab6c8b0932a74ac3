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
    let out = portscope().args(["close", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn listeners_need_listening_flag() {
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
