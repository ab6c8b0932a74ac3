//! The connect sweep against real listeners on loopback.

use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;
use std::time::Duration;

use portscope_scan::engine::{Jobs, SweepConfig, sweep};
use portscope_scan::{Counter, NoProgress, PortState, Progress};

/// Each job's state, in job order; every job reported exactly once.
fn states(jobs: &[SocketAddr], cfg: &SweepConfig, p: &dyn Progress) -> Vec<PortState> {
    let got = Mutex::new(vec![None; jobs.len()]);
    sweep(jobs, cfg, p, &|job, state| {
        let mut g = got.lock().expect("lock");
        let slot = g
            .get_mut(usize::try_from(job).expect("job"))
            .expect("in range");
        assert!(slot.is_none(), "job {job} reported twice");
        *slot = Some(state);
    })
    .expect("sweep");
    got.into_inner()
        .expect("lock")
        .into_iter()
        .map(|s| s.expect("every job reported"))
        .collect()
}

fn cfg() -> SweepConfig {
    SweepConfig {
        timeout: Duration::from_millis(500),
        retries: 1,
        rate: None,
        concurrency: 64,
        threads: 2,
    }
}

/// A port with nothing listening on it, on an address of 127/8 no other
/// test uses: bound, read, closed.
fn free_port(ip: [u8; 4]) -> SocketAddr {
    TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
        .expect("bind")
        .local_addr()
        .expect("addr")
}

#[test]
fn open_and_closed_on_loopback() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = l.local_addr().expect("addr");
    let closed = free_port([127, 0, 0, 1]);
    let p = Counter::default();
    let got = states(&[open, closed, open], &cfg(), &p);
    assert_eq!(
        got,
        vec![PortState::Open, PortState::Closed, PortState::Open]
    );
    assert_eq!((p.total(), p.done()), (3, 3));
}

/// Many listeners among many closed ports on two threads: every listener
/// is found open, nothing else is, and progress hears of every attempt.
#[test]
fn finds_every_listener_among_many_ports() {
    let ip = [127, 83, 41, 7];
    let listeners: Vec<TcpListener> = (0..40)
        .map(|_| TcpListener::bind((std::net::Ipv4Addr::from(ip), 0)).expect("bind"))
        .collect();
    let mut jobs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr"))
        .collect();
    let open: std::collections::HashSet<SocketAddr> = jobs.iter().copied().collect();
    // Ports free on this address a moment ago; a listener bound there by
    // someone else since would show as open, so compare with what listens.
    for _ in 0..400 {
        jobs.push(free_port(ip));
    }
    let p = Counter::default();
    let mut c = cfg();
    c.concurrency = 16;
    let got = states(&jobs, &c, &p);
    for (addr, state) in jobs.iter().zip(&got) {
        if open.contains(addr) {
            assert_eq!(*state, PortState::Open, "{addr}");
        } else if *state == PortState::Open {
            // Only possible if something now listens there.
            assert!(
                TcpListener::bind(addr).is_err(),
                "{addr} reported open but nothing listens"
            );
        } else {
            assert_eq!(*state, PortState::Closed, "{addr}");
        }
    }
    assert_eq!(p.done(), jobs.len() as u64);
}

/// Jobs made by number: the engine asks for addresses as it goes.
#[test]
fn jobs_are_made_by_number() {
    struct Repeat(SocketAddr, u64);
    impl Jobs for Repeat {
        fn len(&self) -> u64 {
            self.1
        }
        fn addr(&self, job: u64) -> Option<SocketAddr> {
            (job < self.1).then_some(self.0)
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let jobs = Repeat(l.local_addr().expect("addr"), 50);
    let seen = Mutex::new(Vec::new());
    sweep(&jobs, &cfg(), &NoProgress, &|job, state| {
        seen.lock().expect("lock").push((job, state));
    })
    .expect("sweep");
    let mut seen = seen.into_inner().expect("lock");
    seen.sort_unstable_by_key(|&(j, _)| j);
    assert_eq!(
        seen,
        (0..50).map(|j| (j, PortState::Open)).collect::<Vec<_>>()
    );
}

/// A rate cap changes when attempts start, not what they find (the
/// spacing itself is tested on a simulated clock, in the engine's unit
/// tests).
#[test]
fn a_rate_cap_keeps_every_answer() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = l.local_addr().expect("addr");
    let closed = free_port([127, 0, 0, 1]);
    let mut c = cfg();
    c.rate = Some(200);
    let jobs: Vec<SocketAddr> = (0..10)
        .map(|i| if i % 3 == 0 { open } else { closed })
        .collect();
    let p = Counter::default();
    let got = states(&jobs, &c, &p);
    for (i, s) in got.iter().enumerate() {
        let want = if i % 3 == 0 {
            PortState::Open
        } else {
            PortState::Closed
        };
        assert_eq!(*s, want, "job {i}");
    }
    assert_eq!(p.done(), 10);
}
