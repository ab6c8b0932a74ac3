//! The live view's snapshot source against real sockets: owners stay right
//! whether they come from a fresh walk or from the last one.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;

use portscope::collect::{self, Options, Refresher};
use portscope::model::{Query, StateSet, TcpState};

fn opts() -> Options {
    Options {
        query: Query {
            udp: false,
            raw: false,
            unix: false,
            states: StateSet::only(TcpState::Listen),
            ..Query::default()
        },
        owners: true,
        ..Options::default()
    }
}

fn owner_of(snap: &portscope::model::Snapshot, port: u16) -> Option<u32> {
    snap.sockets
        .iter()
        .find(|s| s.local.port() == Some(port))
        .and_then(|s| s.owners.first())
        .map(|o| o.pid)
}

#[test]
fn owners_are_right_with_and_without_a_walk() {
    let me = std::process::id();
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let pa = a.local_addr().unwrap().port();
    let sys = portscope::collect::Native::new();
    let mut r = Refresher::new(&sys, opts());
    r.rewalk_every = 1000;
    let first = r.take().unwrap();
    assert!(r.walked(), "the first snapshot walks");
    assert_eq!(owner_of(&first, pa), Some(me));
    assert!(first.processes.contains_key(&me));
    // Again: walked or not (other tests may open sockets meanwhile), the
    // owner is the same and its process is described.
    let again = r.take().unwrap();
    assert_eq!(owner_of(&again, pa), Some(me));
    assert!(again.processes.contains_key(&me));
    // A new socket forces a walk, and gets its owner.
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let pb = b.local_addr().unwrap().port();
    let third = r.take().unwrap();
    assert!(r.walked());
    assert_eq!(owner_of(&third, pb), Some(me));
    // Gone sockets are gone, cached owners or not.
    drop(a);
    let fourth = r.take().unwrap();
    assert_eq!(owner_of(&fourth, pa), None);
    assert_eq!(owner_of(&fourth, pb), Some(me));
    // The same sockets and owners as a plain snapshot.
    let plain = collect::take(&sys, &opts()).unwrap();
    assert_eq!(owner_of(&plain, pb), owner_of(&fourth, pb));
}

#[test]
fn a_rewalk_comes_on_schedule() {
    let _l = TcpListener::bind("127.0.0.1:0").unwrap();
    let sys = portscope::collect::Native::new();
    let mut r = Refresher::new(&sys, opts());
    r.rewalk_every = 1;
    for _ in 0..3 {
        r.take().unwrap();
        assert!(r.walked());
    }
}
