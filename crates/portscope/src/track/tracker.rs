//! What the live view remembers between refreshes: every socket seen, when
//! it appeared, when it went away, and its throughput since the previous
//! refresh.
//!
//! Pure state diffing: snapshots come in with the instant they were taken;
//! nothing here collects, draws or reads the clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::model::{HiddenOwners, Snapshot, Socket, Source};

use super::SocketKey;
use super::rate::{Counters, Rate};

/// Whether the closed row `t` has been shown long enough at `at`.
fn expired(t: &Tracked, at: Instant) -> bool {
    t.gone
        .is_some_and(|g| at.saturating_duration_since(g) >= GONE_FOR)
}

/// Whether `b`, a later report of the socket `a`, has everything an order
/// by a steady key reads as `a` had (see [`Tracker::settled`]).
fn same_place(a: &Socket, b: &Socket) -> bool {
    a.state == b.state
        && a.recv_q == b.recv_q
        && a.send_q == b.send_q
        && a.inode == b.inode
        && a.uid == b.uid
        && a.proto == b.proto
        && a.family == b.family
        && a.owners == b.owners
        && a.local == b.local
        && a.remote == b.remote
}

/// How long a new socket stays highlighted.
pub const NEW_FOR: Duration = Duration::from_secs(3);
/// How long a closed socket stays on screen, greyed, before it goes.
pub const GONE_FOR: Duration = Duration::from_secs(5);

/// One socket as the view knows it.
#[derive(Clone, Debug)]
pub struct Tracked {
    /// Its identity across refreshes.
    pub key: SocketKey,
    /// The latest report of it (the last one before it went, for a closed one).
    pub socket: Socket,
    /// When it was first seen; `None` for sockets already there when the view started.
    pub appeared: Option<Instant>,
    /// When it was first missing from a refresh.
    pub gone: Option<Instant>,
    /// Its byte counters at the latest refresh.
    counters: Option<Counters>,
    /// Throughput between the last two readings of its counters.
    pub rate: Option<Rate>,
    /// Where the view last placed it ([`Tracker::set_ranks`]), so the next
    /// sort starts from the last order; `u32::MAX` when not placed.
    pub rank: u32,
}

impl Tracked {
    /// Whether to highlight it as new at `now`.
    pub fn is_new(&self, now: Instant) -> bool {
        self.gone.is_none()
            && self
                .appeared
                .is_some_and(|t| now.saturating_duration_since(t) < NEW_FOR)
    }
}

/// Every socket seen lately, updated by [`Tracker::ingest`].
#[derive(Debug, Default)]
pub struct Tracker {
    rows: Vec<Tracked>,
    /// Row of each key. foldhash rather than SipHash: at 100k rows the
    /// index is probed for every new socket and updated on every prune,
    /// and its keys are the kernel's cookies, which nobody chooses.
    index: HashMap<SocketKey, usize, foldhash::fast::RandomState>,
    /// Processes of the latest snapshot, plus those of closed sockets still
    /// shown; and `hidden` of the latest. Its `sockets` stay empty: it is the
    /// context filters and owner cells look processes up in.
    pub context: Snapshot,
    /// When the latest snapshot was taken.
    pub last: Option<Instant>,
    /// How many snapshots came in.
    pub refreshes: u64,
    /// See [`Tracker::settled`].
    settled: bool,
}

impl Tracker {
    /// Every tracked socket, open and recently closed, in no set order.
    pub fn rows(&self) -> &[Tracked] {
        &self.rows
    }

    /// Whether the latest change left every row as it was: the last
    /// [`Tracker::ingest`] found the same sockets as the one before (none
    /// came, went, closed or came back, none pruned), each with the same
    /// protocol, family, ends, state, queues, uid, inode and owners, and
    /// [`Tracker::closed_between`] added no row since. Rates and tcp_info
    /// may differ. An order by a [`Key::steady`](crate::order::Key::steady)
    /// key is then the one last recorded with [`Tracker::set_ranks`].
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// The row with this key.
    pub fn get(&self, key: &SocketKey) -> Option<&Tracked> {
        self.index.get(key).and_then(|&i| self.rows.get(i))
    }

    /// The index in [`Tracker::rows`] of the row with this key.
    pub fn position(&self, key: &SocketKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Takes a snapshot taken at `at`: sockets not seen before are new
    /// (unless this is the first snapshot), sockets missing from it are
    /// marked gone, rates are computed from the counters' change, and closed
    /// sockets older than [`GONE_FOR`] are forgotten.
    pub fn ingest(&mut self, snap: Snapshot, at: Instant) {
        let first = self.refreshes == 0;
        self.refreshes += 1;
        let mut settled = !first;
        let mut seen = vec![false; self.rows.len()];
        let Snapshot {
            sockets,
            processes,
            hidden,
            user_names,
            source,
            notes,
            resolved: _,
            cgroups,
            forwards: _,
        } = snap;
        // The kernel dumps sockets in the same order every time (its hash
        // table's), and rows keep the order they were first seen in: try
        // the row after the last one matched before the index, which at
        // 100k rows is a cache miss per socket.
        let mut next = 0;
        for s in sockets {
            let key = SocketKey::of(&s);
            let counters = Counters::of(&s, at);
            let found = match self.rows.get(next) {
                Some(t) if t.key == key => Some(next),
                _ => self.index.get(&key).copied(),
            };
            if let Some(i) = found {
                next = i + 1;
            }
            match found {
                Some(i) => {
                    if let Some(t) = self.rows.get_mut(i) {
                        if let Some(flag) = seen.get_mut(i) {
                            *flag = true;
                        }
                        t.rate = match (t.counters, counters) {
                            (Some(a), Some(b)) => Rate::between(a, b),
                            _ => None,
                        };
                        // A snapshot without tcp_info keeps the last
                        // counters, for the next reading of this socket.
                        if counters.is_some() {
                            t.counters = counters;
                        }
                        settled &= t.gone.is_none() && same_place(&t.socket, &s);
                        t.socket = s;
                        // Back from the dead (a dump raced a change): alive again.
                        t.gone = None;
                    }
                }
                None => {
                    settled = false;
                    self.index.insert(key.clone(), self.rows.len());
                    self.rows.push(Tracked {
                        key,
                        socket: s,
                        appeared: (!first).then_some(at),
                        gone: None,
                        counters,
                        rate: None,
                        rank: u32::MAX,
                    });
                }
            }
        }
        // Only the rows missing from this snapshot are touched again (at
        // 100k rows a pass over all of them is a cache miss a row): the
        // newly missing are marked gone; the gone are pruned when due and
        // keep their owners' processes.
        let mut gone = Vec::new();
        let mut due = false;
        for (i, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
            if let Some(t) = self.rows.get_mut(i) {
                if t.gone.is_none() {
                    t.gone = Some(at);
                    t.rate = None;
                    settled = false;
                }
                due |= expired(t, at);
                gone.push(i);
            }
        }
        // The closed rows that stay keep their owners' processes.
        let keep: Vec<u32> = gone
            .iter()
            .filter_map(|&i| self.rows.get(i))
            .filter(|t| !expired(t, at))
            .flat_map(|t| t.socket.owners.iter().map(|o| o.pid))
            .collect();
        if due {
            gone.retain(|&i| self.rows.get(i).is_some_and(|t| expired(t, at)));
            self.prune(&gone);
            settled = false;
        }
        self.settled = settled;
        self.merge_processes(&keep, processes, hidden, user_names, source, notes);
        self.context.cgroups = cgroups;
        self.last = Some(at);
    }

    /// Sockets the OS reported freed (destroy notifications) since the last
    /// snapshot, at `at`. One the view shows keeps its row and takes the
    /// final counters (the next snapshot marks it gone); one it never saw,
    /// a connection that opened and closed between two refreshes, gets a
    /// row that is closed from the start.
    pub fn closed_between(&mut self, sockets: Vec<Socket>, at: Instant) {
        for s in sockets {
            let key = SocketKey::of(&s);
            if let Some(t) = self.index.get(&key).and_then(|&i| self.rows.get_mut(i)) {
                if s.extra.is_some() {
                    t.socket.extra = s.extra;
                }
                continue;
            }
            self.settled = false;
            self.index.insert(key.clone(), self.rows.len());
            self.rows.push(Tracked {
                key,
                socket: s,
                appeared: Some(at),
                gone: Some(at),
                counters: None,
                rate: None,
                rank: u32::MAX,
            });
        }
    }

    /// Records the order rows were shown in: `order` holds indices into
    /// [`Tracker::rows`]; rows not in it are unplaced.
    pub fn set_ranks(&mut self, order: &[usize]) {
        // One pass over the rows, the ranks gathered beside them first.
        let mut ranks = vec![u32::MAX; self.rows.len()];
        for (k, &i) in order.iter().enumerate() {
            if let Some(r) = ranks.get_mut(i) {
                *r = u32::try_from(k).unwrap_or(u32::MAX);
            }
        }
        for (t, r) in self.rows.iter_mut().zip(ranks) {
            t.rank = r;
        }
    }

    /// Puts row indices in the order last recorded by
    /// [`Tracker::set_ranks`], unplaced ones last in the order given, in
    /// linear time: the start a sort that changed little needs.
    pub fn in_last_order(&self, idx: &mut Vec<usize>) {
        let mut slots = vec![usize::MAX; self.rows.len()];
        let mut rest = Vec::new();
        for &i in idx.iter() {
            let rank = self.rows.get(i).map_or(u32::MAX, |t| t.rank) as usize;
            match slots.get_mut(rank) {
                Some(s) if *s == usize::MAX => *s = i,
                _ => rest.push(i),
            }
        }
        idx.clear();
        idx.extend(slots.into_iter().filter(|&i| i != usize::MAX));
        idx.extend(rest);
    }

    /// Reads tcp_info for the open rows at `idx` (indices into
    /// [`Tracker::rows`]) at `at`, through `read` (which fills each
    /// socket's `extra`, as [`crate::collect::System::tcp_info`] does), and
    /// gives each its rate since its counters were last read. A live view
    /// whose snapshots come without tcp_info reads it this way for the
    /// rows it shows only.
    pub fn read_info<E>(
        &mut self,
        idx: &[usize],
        at: Instant,
        read: impl FnOnce(&mut [&mut Socket]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut want = vec![false; self.rows.len()];
        for &i in idx {
            if let Some(w) = want.get_mut(i) {
                *w = true;
            }
        }
        let mut socks: Vec<&mut Socket> = self
            .rows
            .iter_mut()
            .zip(&want)
            .filter(|(t, w)| **w && t.gone.is_none())
            .map(|(t, _)| &mut t.socket)
            .collect();
        read(&mut socks)?;
        for (t, _) in self
            .rows
            .iter_mut()
            .zip(&want)
            .filter(|(t, w)| **w && t.gone.is_none())
        {
            let counters = Counters::of(&t.socket, at);
            if let (Some(a), Some(b)) = (t.counters, counters) {
                t.rate = Rate::between(a, b);
            }
            if counters.is_some() {
                t.counters = counters;
            }
        }
        Ok(())
    }

    /// Forgets the rows at `expired` (ascending indices). Each goes by
    /// `swap_remove`, so only the row moved into its place is re-indexed:
    /// on a busy machine some row expires at nearly every refresh, and
    /// re-indexing every row after it (what `retain` would need) is a hash
    /// insert per row.
    fn prune(&mut self, expired: &[usize]) {
        for &i in expired.iter().rev() {
            if i >= self.rows.len() {
                continue;
            }
            let t = self.rows.swap_remove(i);
            self.index.remove(&t.key);
            if let Some(moved) = self.rows.get(i)
                && let Some(at) = self.index.get_mut(&moved.key)
            {
                *at = i;
            }
        }
    }

    /// Takes the snapshot's processes and facts as the context, keeping
    /// the processes `gone` (the owners of the closed rows still shown).
    fn merge_processes(
        &mut self,
        gone: &[u32],
        mut processes: HashMap<u32, crate::model::Process>,
        hidden: HiddenOwners,
        user_names: HashMap<u32, crate::Text>,
        source: Source,
        notes: Vec<String>,
    ) {
        // Closed sockets keep their owner's name even after it exits.
        let old = std::mem::take(&mut self.context.processes);
        for &pid in gone {
            if let (false, Some(p)) = (processes.contains_key(&pid), old.get(&pid)) {
                processes.insert(pid, p.clone());
            }
        }
        self.context = Snapshot {
            sockets: Vec::new(),
            processes,
            hidden,
            user_names,
            source,
            notes,
            resolved: Default::default(),
            cgroups: HashMap::new(),
            forwards: HashMap::new(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, Family, Proto, SocketExtra, TcpInfo, TcpState};

    pub(crate) fn tcp(port: u16, cookie: u64, acked: u64, received: u64) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            remote: Endpoint::v4([127, 0, 0, 1].into(), 40000),
            state: TcpState::Established,
            inode: cookie,
            cookie,
            extra: Some(Box::new(SocketExtra {
                tcp_info: Some(TcpInfo {
                    bytes_acked: acked,
                    bytes_received: received,
                    ..TcpInfo::default()
                }),
                ..SocketExtra::default()
            })),
            ..Socket::default()
        }
    }

    fn snap(sockets: Vec<Socket>) -> Snapshot {
        Snapshot {
            sockets,
            ..Snapshot::default()
        }
    }

    #[test]
    fn new_gone_and_forgotten() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        tr.ingest(snap(vec![tcp(1, 1, 0, 0), tcp(2, 2, 0, 0)]), t0);
        // The first snapshot's sockets are not "new".
        assert!(tr.rows().iter().all(|t| !t.is_new(t0)));
        let t1 = t0 + Duration::from_secs(1);
        tr.ingest(snap(vec![tcp(1, 1, 0, 0), tcp(3, 3, 0, 0)]), t1);
        let by_port = |tr: &Tracker, p: u16| {
            tr.rows()
                .iter()
                .find(|t| t.socket.local.port() == Some(p))
                .cloned()
        };
        assert!(by_port(&tr, 3).unwrap().is_new(t1));
        assert!(!by_port(&tr, 3).unwrap().is_new(t1 + NEW_FOR));
        assert_eq!(by_port(&tr, 2).unwrap().gone, Some(t1));
        assert!(by_port(&tr, 1).unwrap().gone.is_none());
        // Still shown while GONE_FOR has not passed, then forgotten.
        let t2 = t1 + GONE_FOR - Duration::from_millis(1);
        tr.ingest(snap(vec![tcp(1, 1, 0, 0), tcp(3, 3, 0, 0)]), t2);
        assert!(by_port(&tr, 2).is_some());
        tr.ingest(snap(vec![tcp(1, 1, 0, 0), tcp(3, 3, 0, 0)]), t1 + GONE_FOR);
        assert!(by_port(&tr, 2).is_none());
        assert_eq!(tr.rows().len(), 2);
        // The index follows the pruning.
        for t in tr.rows() {
            assert_eq!(tr.get(&t.key).unwrap().socket.local, t.socket.local);
        }
    }

    #[test]
    fn settled_only_when_nothing_an_order_reads_changed() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        let two = || vec![tcp(1, 1, 0, 0), tcp(2, 2, 0, 0)];
        tr.ingest(snap(two()), t0);
        assert!(!tr.settled(), "the first snapshot is all new");
        let mut at = t0;
        let mut next = |tr: &mut Tracker, sockets| {
            at += Duration::from_secs(1);
            tr.ingest(snap(sockets), at);
            tr.settled()
        };
        assert!(next(&mut tr, two()));
        // Counters are no part of an order by a steady key.
        assert!(next(&mut tr, vec![tcp(1, 1, 500, 9), tcp(2, 2, 0, 0)]));
        let mut q = two();
        q[0].recv_q = 1;
        assert!(!next(&mut tr, q.clone()));
        assert!(next(&mut tr, q.clone()));
        q[1].state = TcpState::CloseWait;
        assert!(!next(&mut tr, q.clone()));
        q[1].owners = vec![crate::model::Owner { pid: 7, fd: 3 }];
        assert!(!next(&mut tr, q.clone()));
        assert!(next(&mut tr, q.clone()));
        // One goes, stays gone (settled), comes back.
        assert!(!next(&mut tr, vec![q[0].clone()]));
        assert!(next(&mut tr, vec![q[0].clone()]));
        assert!(!next(&mut tr, q.clone()));
        assert!(next(&mut tr, q.clone()));
        // A row added between refreshes unsettles until the next ingest.
        tr.closed_between(vec![tcp(3, 3, 0, 0)], at);
        assert!(!tr.settled());
    }

    #[test]
    fn pruning_many_rows_keeps_the_index_true() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        let all: Vec<Socket> = (1..=50).map(|c| tcp(c, u64::from(c), 0, 0)).collect();
        tr.ingest(snap(all.clone()), t0);
        // Every third goes at t1, every fifth of the rest at t2.
        let t1 = t0 + Duration::from_secs(1);
        let after_t1: Vec<Socket> = all.iter().filter(|s| s.cookie % 3 != 0).cloned().collect();
        tr.ingest(snap(after_t1.clone()), t1);
        let t2 = t1 + Duration::from_secs(2);
        let after_t2: Vec<Socket> = after_t1
            .iter()
            .filter(|s| s.cookie % 5 != 0)
            .cloned()
            .collect();
        tr.ingest(snap(after_t2.clone()), t2);
        // The first to go are forgotten, the later ones still shown.
        tr.ingest(snap(after_t2.clone()), t1 + GONE_FOR);
        let mut cookies: Vec<u64> = tr.rows().iter().map(|t| t.socket.cookie).collect();
        cookies.sort_unstable();
        let want: Vec<u64> = after_t1.iter().map(|s| s.cookie).collect();
        assert_eq!(cookies, want);
        for (i, t) in tr.rows().iter().enumerate() {
            assert_eq!(tr.position(&t.key), Some(i));
            assert_eq!(t.gone.is_some(), t.socket.cookie % 5 == 0);
        }
        for c in (1..=50u64).filter(|c| c % 3 == 0) {
            assert_eq!(tr.position(&SocketKey::Cookie(c)), None);
        }
        // A socket seen again after the pruning is matched, not doubled.
        tr.ingest(snap(all.clone()), t2 + GONE_FOR);
        assert_eq!(tr.rows().len(), 50);
        assert!(tr.rows().iter().all(|t| t.gone.is_none()));
    }

    #[test]
    fn a_connection_closed_between_refreshes_is_shown_closed_with_its_counters() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        tr.ingest(snap(vec![tcp(1, 1, 0, 0)]), t0);
        let t1 = t0 + Duration::from_millis(500);
        // One no snapshot saw, and the final counters of one the view shows.
        tr.closed_between(vec![tcp(2, 2, 700, 300), tcp(1, 1, 10, 20)], t1);
        let short = tr.get(&SocketKey::Cookie(2)).unwrap();
        assert_eq!(short.gone, Some(t1));
        assert!(!short.is_new(t1));
        let info = |t: &Tracked| t.socket.extra.as_ref().unwrap().tcp_info.unwrap();
        assert_eq!(info(short).bytes_acked, 700);
        let known = tr.get(&SocketKey::Cookie(1)).unwrap();
        assert!(known.gone.is_none());
        assert_eq!(info(known).bytes_received, 20);
        // The next snapshot marks the known one gone; the short one stays
        // greyed for GONE_FOR and is then forgotten.
        let t2 = t1 + Duration::from_millis(500);
        tr.ingest(snap(vec![]), t2);
        assert_eq!(tr.get(&SocketKey::Cookie(1)).unwrap().gone, Some(t2));
        tr.ingest(snap(vec![]), t1 + GONE_FOR);
        assert!(tr.get(&SocketKey::Cookie(2)).is_none());
    }

    #[test]
    fn last_order_survives_pruning_and_puts_new_rows_last() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        tr.ingest(
            snap(vec![tcp(1, 1, 0, 0), tcp(2, 2, 0, 0), tcp(3, 3, 0, 0)]),
            t0,
        );
        let pos =
            |tr: &Tracker, c: u64| tr.rows().iter().position(|t| t.socket.cookie == c).unwrap();
        // Shown as 3, 1, 2.
        let shown = [pos(&tr, 3), pos(&tr, 1), pos(&tr, 2)];
        tr.set_ranks(&shown);
        // 2 closes and is forgotten; 4 is new.
        tr.ingest(
            snap(vec![tcp(1, 1, 0, 0), tcp(3, 3, 0, 0), tcp(4, 4, 0, 0)]),
            t0 + GONE_FOR,
        );
        tr.ingest(
            snap(vec![tcp(1, 1, 0, 0), tcp(3, 3, 0, 0), tcp(4, 4, 0, 0)]),
            t0 + GONE_FOR * 2,
        );
        let mut idx: Vec<usize> = (0..tr.rows().len()).collect();
        tr.in_last_order(&mut idx);
        let cookies: Vec<u64> = idx.iter().map(|&i| tr.rows()[i].socket.cookie).collect();
        assert_eq!(cookies, [3, 1, 4]);
    }

    #[test]
    fn rates_of_rows_read_apart_span_the_readings() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        let bare = |port, cookie| Socket {
            extra: None,
            ..tcp(port, cookie, 0, 0)
        };
        tr.ingest(snap(vec![bare(1, 1), bare(2, 2)]), t0);
        let by_cookie =
            |tr: &Tracker, c: u64| tr.rows().iter().position(|t| t.socket.cookie == c).unwrap();
        let first = by_cookie(&tr, 1);
        // The reader is handed only the rows asked for, and what it fills
        // in is what the rows then carry.
        let mut acked = 1000;
        let mut read = |socks: &mut [&mut Socket]| -> Result<(), ()> {
            assert_eq!(socks.len(), 1);
            assert_eq!(socks[0].cookie, 1);
            socks[0].extra = tcp(1, 1, acked, 0).extra;
            acked += 4000;
            Ok(())
        };
        tr.read_info(&[first], t0, &mut read).unwrap();
        assert!(tr.rows()[first].rate.is_none());
        // A snapshot without tcp_info in between: the counters stay.
        let t1 = t0 + Duration::from_secs(1);
        tr.ingest(snap(vec![bare(1, 1), bare(2, 2)]), t1);
        assert!(tr.rows()[by_cookie(&tr, 1)].rate.is_none());
        let t2 = t0 + Duration::from_secs(2);
        tr.read_info(&[by_cookie(&tr, 1)], t2, &mut read).unwrap();
        let r = tr.rows()[by_cookie(&tr, 1)].rate.unwrap();
        // 4000 bytes over the two seconds since the last reading.
        assert_eq!(r.outbound, 2000.0);
        assert!(tr.rows()[by_cookie(&tr, 2)].rate.is_none());
        // A reader's failure is handed back.
        assert_eq!(tr.read_info(&[0], t2, |_| Err(())), Err(()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// What the tracker keeps between snapshots, however it keeps it,
        /// is what follows from the whole sequence: every socket seen and
        /// not closed for GONE_FOR, when it appeared and went, its latest
        /// report, and the processes of the latest snapshot and of the
        /// closed rows' owners.
        #[test]
        fn rows_follow_from_the_whole_sequence(
            seq in proptest::collection::vec(
                (proptest::collection::vec((0u64..30, 0u32..4), 0..25), 1u64..4000),
                1..15),
        ) {
            use crate::model::{Owner, Process};
            let t0 = Instant::now();
            let mut at = t0;
            let mut tr = Tracker::default();
            // cookie -> (appeared, gone, latest report)
            let mut want: HashMap<u64, (Option<Instant>, Option<Instant>, Socket)> = HashMap::new();
            let mut names: HashMap<u32, Process> = HashMap::new();
            for (round, (socks, step)) in seq.iter().enumerate() {
                at += Duration::from_millis(*step);
                let mut snap = Snapshot::default();
                let mut sockets: Vec<Socket> = Vec::new();
                for &(cookie, pid) in socks {
                    if sockets.iter().any(|s| s.cookie == cookie) {
                        continue;
                    }
                    let mut s = tcp(u16::try_from(cookie).unwrap_or(0), cookie, 0, 0);
                    s.owners = vec![Owner { pid, fd: 3 }];
                    // Each round names the processes afresh.
                    let p = Process { pid, name: format!("p{pid}-{round}").into(), ..Process::default() };
                    snap.processes.insert(pid, p);
                    sockets.push(s);
                }
                for s in &sockets {
                    let e = want.entry(s.cookie).or_insert((
                        (round > 0).then_some(at),
                        None,
                        s.clone(),
                    ));
                    e.1 = None;
                    e.2 = s.clone();
                }
                for (c, e) in want.iter_mut() {
                    if !sockets.iter().any(|s| s.cookie == *c) && e.1.is_none() {
                        e.1 = Some(at);
                    }
                }
                want.retain(|_, e| e.1.is_none_or(|g| at.saturating_duration_since(g) < GONE_FOR));
                let mut procs = snap.processes.clone();
                for e in want.values().filter(|e| e.1.is_some()) {
                    for o in &e.2.owners {
                        if let (false, Some(p)) = (procs.contains_key(&o.pid), names.get(&o.pid)) {
                            procs.insert(o.pid, p.clone());
                        }
                    }
                }
                names = procs;
                snap.sockets = sockets;
                tr.ingest(snap, at);

                proptest::prop_assert_eq!(tr.rows().len(), want.len());
                for t in tr.rows() {
                    let e = want.get(&t.socket.cookie);
                    proptest::prop_assert!(e.is_some(), "row {} not wanted", t.socket.cookie);
                    let (appeared, gone, s) = e.expect("checked");
                    proptest::prop_assert_eq!(t.appeared, *appeared);
                    proptest::prop_assert_eq!(t.gone, *gone);
                    proptest::prop_assert_eq!(&t.socket, s);
                    proptest::prop_assert_eq!(tr.position(&t.key).map(|i| &tr.rows()[i].socket), Some(&t.socket));
                }
                let mut got: Vec<(u32, String)> = tr.context.processes.iter().map(|(k, p)| (*k, p.name.escaped().to_string())).collect();
                let mut exp: Vec<(u32, String)> = names.iter().map(|(k, p)| (*k, p.name.escaped().to_string())).collect();
                got.sort();
                exp.sort();
                proptest::prop_assert_eq!(got, exp);
            }
        }
    }

    #[test]
    fn rates_come_from_counter_deltas() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        tr.ingest(snap(vec![tcp(1, 1, 1000, 0)]), t0);
        assert!(tr.rows()[0].rate.is_none());
        tr.ingest(
            snap(vec![tcp(1, 1, 3000, 500)]),
            t0 + Duration::from_secs(2),
        );
        let r = tr.rows()[0].rate.unwrap();
        assert_eq!((r.outbound, r.inbound), (1000.0, 250.0));
        // A new socket on the same ports (another cookie) starts afresh.
        tr.ingest(snap(vec![tcp(1, 9, 10, 10)]), t0 + Duration::from_secs(3));
        let fresh = tr.rows().iter().find(|t| t.socket.cookie == 9).unwrap();
        assert!(fresh.rate.is_none());
    }
}
