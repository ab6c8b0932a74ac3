//! Sockets over time: the identity a socket keeps from one snapshot to the
//! next ([`SocketKey`], its cookie), what changed between two listings
//! ([`Differ`], for `-c --changes`), every socket seen lately with new and
//! gone marks that linger ([`tracker::Tracker`], for `watch`), and
//! throughput from tcp_info counters between readings ([`rate`]).
//!
//! Pure: snapshots and the instants they were taken come in; nothing here
//! collects, prints or reads the clock.
//!
//! ```
//! # use portscope::model::*;
//! use portscope::track::{Differ, Mark};
//! let at = |port, cookie| Socket {
//!     local: Endpoint::v4([127, 0, 0, 1].into(), port),
//!     cookie,
//!     ..Socket::default()
//! };
//! let mut d = Differ::default();
//! assert_eq!(d.next(&[at(22, 1)]).len(), 1); // everything is new at first
//! let changes = d.next(&[at(22, 1), at(80, 2)]);
//! assert_eq!(changes.len(), 1);
//! assert_eq!(changes[0].1, Mark::Added);
//! ```

use std::collections::HashSet;

use crate::model::{Endpoint, Family, Proto, Socket, TcpState};

pub mod rate;
pub mod tracker;

/// What identifies one socket across refreshes: the kernel's cookie, a
/// number no other socket gets while the machine runs; it survives the move
/// to TIME_WAIT, where the inode becomes 0. Without a cookie (sockets read
/// from procfs), protocol, family, both ends and the inode.
///
/// ```
/// # use portscope::model::*;
/// # let s = Socket { proto: Proto::Tcp, family: Family::Inet,
/// #     local: Endpoint::v4([127, 0, 0, 1].into(), 80), remote: Endpoint::v4([127, 0, 0, 1].into(), 9),
/// #     state: TcpState::Established, recv_q: 0, send_q: 0, uid: Some(0), inode: 5, unix_type: None,
/// #     bound_if: 0, owners: vec![], owners_hidden: false, cookie: 77, v6only: None,
/// #     extra: None, netns: None, cgroup_id: 0 };
/// use portscope::track::SocketKey;
/// let tw = Socket { state: TcpState::TimeWait, inode: 0, ..s.clone() };
/// assert_eq!(SocketKey::of(&s), SocketKey::of(&tw));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SocketKey {
    /// The kernel's socket cookie.
    Cookie(u64),
    /// A socket without a cookie.
    Ends {
        /// Its protocol.
        proto: Proto,
        /// Its family.
        family: Family,
        /// Local end.
        local: Endpoint,
        /// Remote end.
        remote: Endpoint,
        /// Its inode.
        inode: u64,
    },
}

impl SocketKey {
    /// The key of `s`.
    pub fn of(s: &Socket) -> SocketKey {
        if s.cookie != 0 {
            return SocketKey::Cookie(s.cookie);
        }
        SocketKey::Ends {
            proto: s.proto,
            family: s.family,
            local: s.local.clone(),
            remote: s.remote.clone(),
            inode: s.inode,
        }
    }
}

/// How a socket of a listing relates to the previous listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Already there, unchanged.
    Same,
    /// New (or in a new state): `+`.
    Added,
    /// Gone (or left its old state): `-`.
    Removed,
}

impl Mark {
    /// `+`, `-` or a space.
    pub const fn symbol(self) -> char {
        match self {
            Mark::Same => ' ',
            Mark::Added => '+',
            Mark::Removed => '-',
        }
    }
}

/// The changes between two listings, for `--changes`: a socket that changed
/// state counts as gone in its old state and new in its new one.
#[derive(Default)]
pub struct Differ {
    prev: Vec<Socket>,
    keys: HashSet<(SocketKey, TcpState)>,
}

impl Differ {
    /// Takes the next listing and returns what changed since the last one:
    /// the gone sockets first (as they were), then the new ones, each with
    /// its mark. The first call compares against nothing, so everything is new.
    pub fn next(&mut self, sockets: &[Socket]) -> Vec<(Socket, Mark)> {
        let keys: HashSet<(SocketKey, TcpState)> = sockets
            .iter()
            .map(|s| (SocketKey::of(s), s.state))
            .collect();
        let mut out = Vec::new();
        for s in &self.prev {
            if !keys.contains(&(SocketKey::of(s), s.state)) {
                out.push((s.clone(), Mark::Removed));
            }
        }
        for s in sockets {
            if !self.keys.contains(&(SocketKey::of(s), s.state)) {
                out.push((s.clone(), Mark::Added));
            }
        }
        self.prev = sockets.to_vec();
        self.keys = keys;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(port: u16, cookie: u64, inode: u64, state: TcpState) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            remote: Endpoint::v4([127, 0, 0, 1].into(), 9),
            state,
            inode,
            cookie,
            ..Socket::default()
        }
    }

    #[test]
    fn keys_follow_the_cookie_through_time_wait() {
        let est = tcp(1, 77, 500, TcpState::Established);
        let tw = tcp(1, 77, 0, TcpState::TimeWait);
        assert_eq!(SocketKey::of(&est), SocketKey::of(&tw));
        // The next connection on the same ports is another socket.
        assert_ne!(
            SocketKey::of(&est),
            SocketKey::of(&tcp(1, 78, 501, est.state))
        );
        // Without cookies (procfs), the inode tells them apart.
        assert_ne!(
            SocketKey::of(&tcp(1, 0, 500, est.state)),
            SocketKey::of(&tcp(1, 0, 501, est.state))
        );
    }

    #[test]
    fn differ_marks_new_gone_and_state_changes() {
        let mut d = Differ::default();
        let a = tcp(1, 1, 10, TcpState::Established);
        let b = tcp(2, 2, 11, TcpState::Listen);
        let first = d.next(&[a.clone(), b.clone()]);
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|(_, m)| *m == Mark::Added));
        assert!(d.next(&[a.clone(), b.clone()]).is_empty());
        let a_tw = tcp(1, 1, 0, TcpState::TimeWait);
        let c = tcp(3, 3, 12, TcpState::Listen);
        let ch = d.next(&[a_tw.clone(), c.clone()]);
        let got: Vec<(u16, TcpState, char)> = ch
            .iter()
            .map(|(s, m)| (s.local.port().unwrap(), s.state, m.symbol()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, TcpState::Established, '-'),
                (2, TcpState::Listen, '-'),
                (1, TcpState::TimeWait, '+'),
                (3, TcpState::Listen, '+'),
            ]
        );
    }
}
