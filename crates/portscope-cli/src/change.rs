//! Telling sockets apart across two snapshots: the identity a socket keeps
//! from one refresh to the next, and what changed between two listings
//! (for `-c --changes` and the live view).
//!
//! Pure: no collection, no output.

use std::collections::HashSet;

use portscope::model::{Endpoint, Family, Proto, Socket, TcpState};

/// What identifies one socket across refreshes: protocol, family, both ends,
/// and the kernel's cookie (or the inode when no cookie is known, as from
/// /proc). The cookie survives the move to TIME_WAIT, where the inode
/// becomes 0; two sockets on the same ports one after the other differ in it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SocketKey {
    proto: Proto,
    family: Family,
    local: Endpoint,
    remote: Endpoint,
    id: u64,
}

impl SocketKey {
    /// The key of `s`.
    pub fn of(s: &Socket) -> SocketKey {
        SocketKey {
            proto: s.proto,
            family: s.family,
            local: s.local.clone(),
            remote: s.remote.clone(),
            id: if s.cookie != 0 { s.cookie } else { s.inode },
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
        // Without cookies (/proc), the inode tells them apart.
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
