//! The refresher against the plain snapshot: whatever it keeps between
//! refreshes (the last walk's owners, its dump order), each snapshot it
//! gives is the one [`take`] gives, over random sequences of dumps.

use std::sync::Mutex;

use proptest::prelude::*;

use super::*;
use crate::collect::host::HostFacts;
use crate::collect::{CloseOutcome, PinError, ProcessHandle, Recorded};
use crate::model::{Endpoint, Owner, Process, TcpState};
use crate::services::EphemeralRange;
use crate::text::Text;

/// A system whose sockets are replaced between refreshes.
struct Script(Mutex<Recorded>);

impl Script {
    fn with<T>(&self, f: impl FnOnce(&Recorded) -> T) -> T {
        match self.0.lock() {
            Ok(r) => f(&r),
            Err(e) => f(&e.into_inner()),
        }
    }

    fn set(&self, snap: Snapshot) {
        match self.0.lock() {
            Ok(mut r) => *r = Recorded::new(snap),
            Err(e) => *e.into_inner() = Recorded::new(snap),
        }
    }
}

impl System for Script {
    fn dump(&self, opts: &Options, hint: Option<&OwnerMap>, capacity: usize) -> Result<Dump> {
        self.with(|r| r.dump(opts, hint, capacity))
    }
    fn tcp_info(&self, sockets: &mut [&mut Socket]) -> Result<()> {
        self.with(|r| r.tcp_info(sockets))
    }
    fn owners(&self, walk: Walk<'_>) -> Result<OwnerMap> {
        self.with(|r| r.owners(walk))
    }
    fn process(&self, pid: u32) -> Result<Option<Process>> {
        self.with(|r| r.process(pid))
    }
    fn user_name(&self, uid: u32) -> Text {
        self.with(|r| r.user_name(uid))
    }
    fn euid(&self) -> u32 {
        self.with(Recorded::euid)
    }
    fn host_facts(&self, snap: &Snapshot) -> HostFacts {
        self.with(|r| r.host_facts(snap))
    }
    fn v6_dual_stack(&self) -> bool {
        self.with(Recorded::v6_dual_stack)
    }
    fn ephemeral_range(&self) -> Option<EphemeralRange> {
        self.with(Recorded::ephemeral_range)
    }
    fn close(&self, s: &Socket) -> Result<CloseOutcome> {
        self.with(|r| r.close(s))
    }
    fn pin(&self, pid: u32) -> std::result::Result<ProcessHandle, PinError> {
        self.with(|r| r.pin(pid))
    }
}

/// Socket `n` of the universe: inode `n` (0 for every seventh: no file),
/// held by one to three of four processes, always the same ones.
fn socket(n: u64) -> Socket {
    let inode = if n.is_multiple_of(7) { 0 } else { n };
    let owners = (0..1 + n % 3)
        .map(|k| Owner {
            pid: u32::try_from((n + k) % 4).unwrap_or(0) + 100,
            fd: u32::try_from(k).unwrap_or(0) + 3,
        })
        .collect();
    Socket {
        local: Endpoint::v4([127, 0, 0, 1].into(), u16::try_from(n % 60000).unwrap_or(1)),
        state: TcpState::Established,
        inode,
        cookie: n + 1,
        uid: Some(u32::try_from(n % 2).unwrap_or(0)),
        owners: if inode == 0 { Vec::new() } else { owners },
        ..Socket::default()
    }
}

fn snapshot(sockets: &[u64]) -> Snapshot {
    let mut snap = Snapshot {
        sockets: sockets.iter().map(|&n| socket(n)).collect(),
        ..Snapshot::default()
    };
    for pid in 100..104 {
        snap.processes.insert(
            pid,
            Process {
                pid,
                name: Text::from(format!("p{pid}")),
                ..Process::default()
            },
        );
    }
    snap
}

/// One step from a dump to the next: drop some sockets, add some, and now
/// and then move some (the kernel's order is its hash table's, which
/// changes when it grows).
fn next(
    prev: &[u64],
    fresh: &mut u64,
    drop: &[bool],
    add: usize,
    swap: Option<(usize, usize)>,
) -> Vec<u64> {
    let mut out: Vec<u64> = prev
        .iter()
        .zip(drop.iter().chain(std::iter::repeat(&false)))
        .filter(|&(_, &d)| !d)
        .map(|(&n, _)| n)
        .collect();
    for k in 0..add {
        *fresh += 1;
        let at = (k * 7 + usize::try_from(*fresh).unwrap_or(0)) % (out.len() + 1);
        out.insert(at, *fresh);
    }
    if let Some((a, b)) = swap
        && a < out.len()
        && b < out.len()
    {
        out.swap(a, b);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn refreshes_equal_fresh_snapshots(
        start in 0usize..40,
        steps in proptest::collection::vec(
            (proptest::collection::vec(proptest::bool::weighted(0.1), 0..40),
             prop_oneof![4 => Just(0usize), 1 => 1usize..4],
             proptest::option::of((0usize..40, 0usize..40))),
            1..12),
        rewalk_every in 1u32..7,
        full_walk_every in 1u32..4,
    ) {
        let mut fresh = u64::try_from(start).unwrap_or(0);
        let mut dump: Vec<u64> = (1..=fresh).collect();
        let sys = Script(Mutex::new(Recorded::new(snapshot(&dump))));
        let opts = Options { owners: true, ..Options::default() };
        let mut r = Refresher::new(&sys, opts);
        r.rewalk_every = rewalk_every;
        r.full_walk_every = full_walk_every;
        for (drop, add, swap) in std::iter::once((vec![], 0, None)).chain(steps) {
            dump = next(&dump, &mut fresh, &drop, add, swap);
            sys.set(snapshot(&dump));
            let got = r.take().expect("refresh");
            let want = take(&sys, &opts).expect("snapshot");
            prop_assert_eq!(&got.sockets, &want.sockets);
            let pids = |s: &Snapshot| {
                let mut v: Vec<u32> = s.processes.keys().copied().collect();
                v.sort_unstable();
                v
            };
            prop_assert_eq!(pids(&got), pids(&want));
            prop_assert_eq!(&got.user_names, &want.user_names);
            prop_assert_eq!(got.hidden.sockets, want.hidden.sockets);
        }
    }
}
