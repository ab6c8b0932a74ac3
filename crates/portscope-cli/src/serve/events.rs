//! What happened to sockets between two refreshes, as the server consumes
//! it: opened, closed (with its last byte counters) or changed state.
//!
//! Derived here from the tracker's new and gone marks ([`from_tracker`]);
//! the kernel's destroy events can replace this source without touching
//! the consumers (the counters in `metrics`, the `events` stream in `api`),
//! which only see [`Change`] values.

use std::collections::HashMap;
use std::time::Instant;

use portscope::model::{Socket, TcpState};
use portscope::track::SocketKey;
use portscope::track::tracker::Tracker;

/// One change to one socket.
#[derive(Clone, Debug)]
pub enum Change {
    /// A socket not seen before.
    Opened(Socket),
    /// A socket that went away, as last seen (its tcp_info counters are
    /// the bytes it moved), and the process last seen holding it: a
    /// connection closed by its process is orphaned (no owner) in its
    /// last states.
    Closed(Socket, Option<u32>),
    /// A socket now in another state, or whose owner is now known.
    Changed(Socket),
}

impl Change {
    /// The socket concerned.
    pub fn socket(&self) -> &Socket {
        match self {
            Change::Opened(s) | Change::Closed(s, _) | Change::Changed(s) => s,
        }
    }

    /// `new`, `gone` or `changed`, as the events stream names them.
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Opened(_) => "new",
            Change::Closed(..) => "gone",
            Change::Changed(_) => "changed",
        }
    }
}

/// What is remembered of an open socket between refreshes.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    state: TcpState,
    pid: Option<u32>,
}

/// The changes the refresh ingested at `at` brought, from the tracker's
/// marks; `states` remembers each open socket's state (to see changes)
/// and last owner. The first refresh opens nothing: what was there at
/// start is no news.
pub fn from_tracker(
    tracker: &Tracker,
    at: Instant,
    states: &mut HashMap<SocketKey, Seen>,
) -> Vec<Change> {
    let first = tracker.refreshes <= 1;
    let mut out = Vec::new();
    let mut next = HashMap::with_capacity(states.len());
    for row in tracker.rows() {
        let before = states.get(&row.key);
        if row.gone == Some(at) {
            let pid = row
                .socket
                .owners
                .first()
                .map(|o| o.pid)
                .or(before.and_then(|b| b.pid));
            out.push(Change::Closed(row.socket.clone(), pid));
            continue;
        }
        if row.gone.is_some() {
            continue;
        }
        let state = row.socket.state;
        let owner = row.socket.owners.first().map(|o| o.pid);
        match before {
            None if !first => out.push(Change::Opened(row.socket.clone())),
            // A new state, or an owner found after the socket was (the
            // owner walk may come a refresh later than the socket).
            Some(b) if b.state != state || (b.pid.is_none() && owner.is_some()) => {
                out.push(Change::Changed(row.socket.clone()));
            }
            _ => {}
        }
        let pid = owner.or(before.and_then(|b| b.pid));
        next.insert(row.key.clone(), Seen { state, pid });
    }
    *states = next;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::model::{Endpoint, Snapshot};
    use std::time::Duration;

    fn sock(port: u16, cookie: u64, state: TcpState) -> Socket {
        Socket {
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            cookie,
            state,
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
    fn opened_closed_and_changed() {
        let t0 = Instant::now();
        let mut tr = Tracker::default();
        let mut states = HashMap::new();
        tr.ingest(snap(vec![sock(1, 1, TcpState::Listen)]), t0);
        assert!(from_tracker(&tr, t0, &mut states).is_empty());
        let t1 = t0 + Duration::from_secs(1);
        tr.ingest(
            snap(vec![
                sock(1, 1, TcpState::Listen),
                sock(2, 2, TcpState::Established),
            ]),
            t1,
        );
        let c = from_tracker(&tr, t1, &mut states);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].kind(), "new");
        let t2 = t1 + Duration::from_secs(1);
        tr.ingest(snap(vec![sock(2, 2, TcpState::TimeWait)]), t2);
        let mut kinds: Vec<&str> = from_tracker(&tr, t2, &mut states)
            .iter()
            .map(Change::kind)
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["changed", "gone"]);
    }
}
