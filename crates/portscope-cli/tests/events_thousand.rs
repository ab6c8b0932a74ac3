//! The events suite's burst of a thousand short connections, in a test
//! binary of its own: another test of the same process spawning a program
//! at the wrong moment would hold fork copies of these connections until
//! its exec, and be seen, truthfully, as one of their holders.

mod common;
mod events_support;

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::netns;
use events_support::{Events, connect_once, kind, pids, port, serve, sizes};
use serde_json::Value;

#[test]
#[ignore = "slow: 1,010 connections, ten held 3 s"]
fn every_close_of_a_thousand_short_connections_with_ends_bytes_and_owner() {
    let _ns = netns();
    let me = u64::from(std::process::id());
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    serve(listener);
    let ev = Events::start(&[
        "--refresh",
        "100",
        "--event",
        "close",
        "sport",
        "=",
        &format!(":{}", addr.port()),
        "or",
        "dport",
        "=",
        &format!(":{}", addr.port()),
    ]);

    // Ten connections live well beyond the owner refresh, on threads of their own.
    let long: Vec<_> = (1000..1010u32)
        .map(|i| std::thread::spawn(move || (i, connect_once(addr, i, Duration::from_secs(3)))))
        .collect();
    let started = Instant::now();
    let mut short = HashMap::new();
    for i in 0..1000u32 {
        short.insert(connect_once(addr, i, Duration::ZERO), i);
    }
    let took = started.elapsed();
    let mut all = short.clone();
    for h in long {
        let (i, p) = h.join().expect("long connection");
        all.insert(p, i);
    }
    // Both ends of every connection close.
    ev.until("every close", |v| kind(v) == "close", 2 * all.len());
    let (events, _) = ev.stop();
    let closes: Vec<&Value> = events.iter().filter(|v| kind(v) == "close").collect();
    assert_eq!(closes.len(), 2 * all.len(), "one close per end, no more");

    let mut seen_client = HashMap::new();
    let mut seen_server = HashMap::new();
    for v in &closes {
        assert_eq!(v["socket"]["local"]["addr"], "127.0.0.1");
        assert_eq!(v["socket"]["remote"]["addr"], "127.0.0.1");
        let (lp, rp) = (port(v, "local"), port(v, "remote"));
        let (client_port, is_client) = if lp == u64::from(addr.port()) {
            (rp, false)
        } else {
            assert_eq!(rp, u64::from(addr.port()), "{v}");
            (lp, true)
        };
        let i = *all
            .get(&u16::try_from(client_port).expect("port"))
            .unwrap_or_else(|| panic!("a close of no connection of ours: {v}"));
        let (up, down) = sizes(i);
        let (sent, recv) = if is_client { (up, down) } else { (down, up) };
        assert_eq!(
            v["bytes_sent"].as_u64(),
            Some(sent as u64),
            "bytes sent: {v}"
        );
        // The kernel counts the peer's FIN as one received sequence number
        // when it came before the socket was freed.
        let r = v["bytes_received"].as_u64().expect("bytes_received");
        assert!(
            r == recv as u64 || r == recv as u64 + 1,
            "bytes received {r}, sent {recv}: {v}"
        );
        // Never the wrong process: ours, or said to be unknown.
        let owners = pids(v);
        assert!(
            owners.is_empty() || owners == [me],
            "owners {owners:?}: {v}"
        );
        if owners.is_empty() {
            assert_eq!(v["owner_known"], false);
        }
        if i >= 1000 && is_client {
            assert_eq!(owners, [me], "a connection held 3 s has its owner: {v}");
        }
        let seen = if is_client {
            &mut seen_client
        } else {
            &mut seen_server
        };
        assert!(
            seen.insert(client_port, ()).is_none(),
            "two closes of one end: {v}"
        );
    }
    assert_eq!(seen_client.len(), all.len());
    assert_eq!(seen_server.len(), all.len());
    // Reported, not asserted on: how fast the connections went.
    eprintln!(
        "1000 connections in {:?} ({:.0}/s)",
        took,
        1000.0 / took.as_secs_f64()
    );
}
