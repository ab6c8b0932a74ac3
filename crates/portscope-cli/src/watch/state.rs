//! What the live view remembers between refreshes: every socket seen, when
//! it appeared, when it went away, and its throughput since the previous
//! refresh.
//!
//! Pure state diffing: snapshots come in with the instant they were taken;
//! nothing here collects, draws or reads the clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use portscope::model::{HiddenOwners, Snapshot, Socket, Source};

use super::rate::{Counters, Rate};
use crate::change::SocketKey;

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
    /// Throughput between the last two refreshes that saw it.
    pub rate: Option<Rate>,
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
    index: HashMap<SocketKey, usize>,
    /// Processes of the latest snapshot, plus those of closed sockets still
    /// shown; and `hidden` of the latest. Its `sockets` stay empty: it is the
    /// context filters and owner cells look processes up in.
    pub context: Snapshot,
    /// When the latest snapshot was taken.
    pub last: Option<Instant>,
    /// How many snapshots came in.
    pub refreshes: u64,
}

impl Tracker {
    /// Every tracked socket, open and recently closed, in no set order.
    pub fn rows(&self) -> &[Tracked] {
        &self.rows
    }

    /// The row with this key.
    #[cfg(test)]
    pub fn get(&self, key: &SocketKey) -> Option<&Tracked> {
        self.index.get(key).and_then(|&i| self.rows.get(i))
    }

    /// Takes a snapshot taken at `at`: sockets not seen before are new
    /// (unless this is the first snapshot), sockets missing from it are
    /// marked gone, rates are computed from the counters' change, and closed
    /// sockets older than [`GONE_FOR`] are forgotten.
    pub fn ingest(&mut self, snap: Snapshot, at: Instant) {
        let first = self.refreshes == 0;
        self.refreshes += 1;
        let mut seen = vec![false; self.rows.len()];
        let Snapshot {
            sockets,
            processes,
            hidden,
            user_names,
            source,
            notes,
        } = snap;
        for s in sockets {
            let key = SocketKey::of(&s);
            let counters = Counters::of(&s, at);
            match self.index.get(&key).copied() {
                Some(i) => {
                    if let Some(t) = self.rows.get_mut(i) {
                        if let Some(flag) = seen.get_mut(i) {
                            *flag = true;
                        }
                        t.rate = match (t.counters, counters) {
                            (Some(a), Some(b)) => Rate::between(a, b),
                            _ => None,
                        };
                        t.counters = counters;
                        t.socket = s;
                        // Back from the dead (a dump raced a change): alive again.
                        t.gone = None;
                    }
                }
                None => {
                    self.index.insert(key.clone(), self.rows.len());
                    self.rows.push(Tracked {
                        key,
                        socket: s,
                        appeared: (!first).then_some(at),
                        gone: None,
                        counters,
                        rate: None,
                    });
                }
            }
        }
        for (t, seen) in self.rows.iter_mut().zip(seen) {
            if !seen && t.gone.is_none() {
                t.gone = Some(at);
                t.rate = None;
            }
        }
        self.prune(at);
        self.merge_processes(processes, hidden, user_names, source, notes);
        self.last = Some(at);
    }

    /// Forgets closed sockets that have been shown long enough.
    fn prune(&mut self, now: Instant) {
        let before = self.rows.len();
        self.rows.retain(|t| {
            t.gone
                .is_none_or(|g| now.saturating_duration_since(g) < GONE_FOR)
        });
        if self.rows.len() != before {
            self.index = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, t)| (t.key.clone(), i))
                .collect();
        }
    }

    fn merge_processes(
        &mut self,
        mut processes: HashMap<u32, portscope::model::Process>,
        hidden: HiddenOwners,
        user_names: HashMap<u32, portscope::Text>,
        source: Source,
        notes: Vec<String>,
    ) {
        // Closed sockets keep their owner's name even after it exits.
        let old = std::mem::take(&mut self.context.processes);
        for t in self.rows.iter().filter(|t| t.gone.is_some()) {
            for o in &t.socket.owners {
                if let (false, Some(p)) = (processes.contains_key(&o.pid), old.get(&o.pid)) {
                    processes.insert(o.pid, p.clone());
                }
            }
        }
        self.context = Snapshot {
            sockets: Vec::new(),
            processes,
            hidden,
            user_names,
            source,
            notes,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::model::{Endpoint, Family, Proto, SocketExtra, TcpInfo, TcpState};

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
