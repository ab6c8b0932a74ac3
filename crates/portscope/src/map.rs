//! Who talks to whom on this machine: both ends of every local TCP
//! connection (one socket's 4-tuple is the other's, reversed) and of every
//! connected unix socket (each names its peer's inode) joined, and the
//! pairs grouped by the processes holding them. Pure over a [`Snapshot`];
//! drawing it is the binary's business.
//!
//! ```
//! use portscope::model::*;
//! use std::net::Ipv4Addr;
//! let lo = Ipv4Addr::LOCALHOST;
//! let mut snap = Snapshot::default();
//! let listen = Socket { local: Endpoint::v4(lo, 8000), state: TcpState::Listen, ..Socket::default() };
//! let server = Socket { local: Endpoint::v4(lo, 8000), remote: Endpoint::v4(lo, 40000),
//!     state: TcpState::Established, owners: vec![Owner { pid: 2, fd: 4 }], ..Socket::default() };
//! let client = Socket { local: Endpoint::v4(lo, 40000), remote: Endpoint::v4(lo, 8000),
//!     state: TcpState::Established, owners: vec![Owner { pid: 1, fd: 3 }], ..Socket::default() };
//! snap.sockets = vec![listen, server, client];
//! let map = portscope::map::build(&snap);
//! assert_eq!(map.edges.len(), 1);
//! let e = &map.edges[0];
//! assert_eq!((e.from, e.to, e.conns), (Some(1), Some(2), 1));
//! assert_eq!(e.via, portscope::map::Via::Tcp { port: 8000 });
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use crate::model::{Endpoint, Proto, Snapshot, Socket, TcpState};
use crate::text::Text;

/// What a conversation goes over: the server's TCP port, or the unix
/// socket's name (`None` for an unnamed pair, e.g. `socketpair`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// TCP to this port of the server.
    Tcp {
        /// The server's port.
        port: u16,
    },
    /// A unix stream or datagram socket, by the server end's name.
    Unix {
        /// The bound name (a path, or `@` and an abstract name); `None` when unnamed.
        path: Option<Text>,
    },
}

/// One process's conversations with another over one port or socket name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The client: the process holding the end that connected (`None`:
    /// no visible owner).
    pub from: Option<u32>,
    /// The server: the process holding the accepting end.
    pub to: Option<u32>,
    /// The port or name the conversations go to.
    pub via: Via,
    /// How many connections.
    pub conns: u32,
    /// Whether the direction is a guess: neither or both ends were on a
    /// listening port (TCP), or neither end or both had a name (unix). The
    /// lower pid is then `from`.
    pub undirected: bool,
}

/// The conversations of a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Map {
    /// Every process that is an end of some edge, in pid order. Processes
    /// the snapshot has no details for are still listed (by pid).
    pub nodes: Vec<u32>,
    /// Whether some edge has an end with no visible owner.
    pub unknown_node: bool,
    /// The edges, by client, server, then via.
    pub edges: Vec<Edge>,
    /// Connections whose two ends were found but neither owner is visible
    /// (left out of `edges`).
    pub hidden: u32,
    /// Connections with both ends in one process (a `socketpair`, a
    /// connection to itself), left out of `edges`.
    pub internal: u32,
}

/// The key two ends of one connection share, whichever end it is built
/// from. `scope` is the network namespace both ends are in (0 until
/// sockets carry theirs): a TCP 4-tuple means one connection only within
/// one namespace. Unix ends are joined by inode, which is unique across
/// namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct TcpKey {
    scope: u64,
    a: (IpAddr, u16),
    b: (IpAddr, u16),
}

/// The network namespace a TCP end is in, for the join key (0: not known):
/// two ends with reversed 4-tuples are one connection only inside one
/// namespace (each has its own loopback). Unix peers join by inode, which
/// is unique machine-wide, so they need no scope.
fn scope_of(s: &Socket) -> u64 {
    s.netns.as_ref().map_or(0, |n| n.inode)
}

fn connected_tcp(s: &Socket) -> bool {
    s.proto == Proto::Tcp
        && !matches!(
            s.state,
            TcpState::Listen | TcpState::TimeWait | TcpState::Close
        )
        && s.remote.port().is_some_and(|p| p != 0)
}

fn inet(e: &Endpoint) -> Option<(IpAddr, u16)> {
    match e {
        // A v4-mapped address is the same end as the plain IPv4 one.
        Endpoint::Inet { addr, port } => Some((addr.to_canonical(), *port)),
        _ => None,
    }
}

/// The process a socket is shown under: its first owner.
fn pid_of(s: &Socket) -> Option<u32> {
    s.owners.iter().map(|o| o.pid).min()
}

/// Joins both ends of every local connection in `snap` and groups them by
/// process. A connection only one end of which is in the snapshot (the
/// other end is remote, or its socket not visible) is left out.
pub fn build(snap: &Snapshot) -> Map {
    // Listening ports, by (scope, port): a connected end on one is the server.
    let listening: HashSet<(u64, u16)> = snap
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Tcp && s.state == TcpState::Listen)
        .filter_map(|s| Some((scope_of(s), s.local.port()?)))
        .collect();

    // (client, server, via) → (connections, all undirected)
    type Key = (Option<u32>, Option<u32>, Via);
    let mut edges: BTreeMap<Key, (u32, bool)> = BTreeMap::new();
    let mut hidden = 0u32;
    let mut internal = 0u32;
    let mut add = |client: Option<u32>, server: Option<u32>, via: Via, undirected: bool| {
        if client.is_none() && server.is_none() {
            hidden += 1;
            return;
        }
        if client == server {
            internal += 1;
            return;
        }
        let e = edges
            .entry((client, server, via))
            .or_insert((0, undirected));
        e.0 += 1;
        e.1 &= undirected;
    };

    // TCP: index every connected end by its own 4-tuple; an end whose
    // reversed tuple is indexed has its peer here.
    let mut by_tuple: HashMap<TcpKey, &Socket> = HashMap::new();
    for s in snap.sockets.iter().filter(|s| connected_tcp(s)) {
        if let (Some(l), Some(r)) = (inet(&s.local), inet(&s.remote)) {
            by_tuple.insert(
                TcpKey {
                    scope: scope_of(s),
                    a: l,
                    b: r,
                },
                s,
            );
        }
    }
    for (key, s) in &by_tuple {
        let rev = TcpKey {
            scope: key.scope,
            a: key.b,
            b: key.a,
        };
        let Some(peer) = by_tuple.get(&rev) else {
            continue;
        };
        // Each pair once: from the end with the smaller tuple.
        if (key.a, key.b) > (rev.a, rev.b) {
            continue;
        }
        let s_serves = listening.contains(&(key.scope, key.a.1));
        let p_serves = listening.contains(&(key.scope, key.b.1));
        let (client, server, undirected) = match (s_serves, p_serves) {
            (true, false) => (*peer, *s, false),
            (false, true) => (*s, *peer, false),
            // Neither (or both) on a listening port: the lower port serves.
            _ if key.a.1 <= key.b.1 => (*peer, *s, true),
            _ => (*s, *peer, true),
        };
        let port = server.local.port().unwrap_or(0);
        add(
            pid_of(client),
            pid_of(server),
            Via::Tcp { port },
            undirected,
        );
    }

    // Unix: each connected end names its peer's inode.
    let by_inode: HashMap<u64, &Socket> = snap
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Unix && s.inode != 0)
        .map(|s| (s.inode, s))
        .collect();
    for s in snap.sockets.iter().filter(|s| s.proto == Proto::Unix) {
        let Endpoint::Unix {
            inode: peer_inode, ..
        } = &s.remote
        else {
            continue;
        };
        if *peer_inode == 0 || s.state == TcpState::Listen {
            continue;
        }
        let Some(peer) = by_inode.get(peer_inode) else {
            continue;
        };
        // Both ends name each other: take the pair once. An end whose peer
        // does not name it back (many datagram clients to one server) is
        // its own conversation.
        let mutual = matches!(&peer.remote, Endpoint::Unix { inode, .. } if *inode == s.inode);
        if mutual && s.inode > peer.inode {
            continue;
        }
        let name = |x: &Socket| match &x.local {
            Endpoint::Unix { path, .. } => path.clone(),
            _ => None,
        };
        let (sn, pn) = (name(s), name(peer));
        let (client, server, path, undirected) = match (&sn, &pn) {
            (None, Some(_)) => (s, *peer, pn, false),
            (Some(_), None) => (*peer, s, sn, false),
            _ => {
                let (a, b) = if pid_of(s) <= pid_of(peer) {
                    (s, *peer)
                } else {
                    (*peer, s)
                };
                (a, b, pn.or(sn), true)
            }
        };
        add(
            pid_of(client),
            pid_of(server),
            Via::Unix { path },
            undirected,
        );
    }

    let mut nodes = BTreeSet::new();
    let mut unknown_node = false;
    let edges: Vec<Edge> = edges
        .into_iter()
        .map(|((from, to, via), (conns, undirected))| {
            for end in [from, to] {
                match end {
                    Some(p) => {
                        nodes.insert(p);
                    }
                    None => unknown_node = true,
                }
            }
            Edge {
                from,
                to,
                via,
                conns,
                undirected,
            }
        })
        .collect();
    Map {
        nodes: nodes.into_iter().collect(),
        unknown_node,
        edges,
        hidden,
        internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, Owner, UnixType};
    use std::net::Ipv4Addr;

    fn tcp(l: u16, r: u16, state: TcpState, pid: Option<u32>) -> Socket {
        let lo = Ipv4Addr::LOCALHOST;
        Socket {
            local: Endpoint::v4(lo, l),
            remote: Endpoint::v4(lo, r),
            state,
            owners: pid.map(|pid| Owner { pid, fd: 3 }).into_iter().collect(),
            ..Socket::default()
        }
    }

    fn unix(inode: u64, path: Option<&str>, peer: u64, pid: Option<u32>) -> Socket {
        Socket {
            proto: Proto::Unix,
            family: Family::Unix,
            local: Endpoint::Unix {
                path: path.map(Text::from),
                inode,
            },
            remote: Endpoint::Unix {
                path: None,
                inode: peer,
            },
            state: TcpState::Established,
            inode,
            unix_type: Some(UnixType::Stream),
            owners: pid.map(|pid| Owner { pid, fd: 3 }).into_iter().collect(),
            ..Socket::default()
        }
    }

    #[test]
    fn tcp_pairs_count_per_process_pair_and_port() {
        let mut snap = Snapshot::default();
        snap.sockets.push(tcp(8000, 0, TcpState::Listen, Some(20)));
        for c in [40001, 40002, 40003] {
            snap.sockets
                .push(tcp(8000, c, TcpState::Established, Some(20)));
            snap.sockets
                .push(tcp(c, 8000, TcpState::Established, Some(10)));
        }
        // One end only: a connection to elsewhere; and TIME_WAIT, no owner.
        snap.sockets
            .push(tcp(40009, 9999, TcpState::Established, Some(10)));
        snap.sockets
            .push(tcp(40010, 8000, TcpState::TimeWait, None));
        let map = build(&snap);
        assert_eq!(map.nodes, vec![10, 20]);
        assert_eq!(
            map.edges,
            vec![Edge {
                from: Some(10),
                to: Some(20),
                via: Via::Tcp { port: 8000 },
                conns: 3,
                undirected: false
            }]
        );
    }

    #[test]
    fn unix_pairs_by_peer_inode_with_the_named_end_serving() {
        let mut snap = Snapshot::default();
        let mut l = unix(100, Some("/run/x.sock"), 0, Some(5));
        l.state = TcpState::Listen;
        snap.sockets.push(l);
        snap.sockets
            .push(unix(101, Some("/run/x.sock"), 102, Some(5)));
        snap.sockets.push(unix(102, None, 101, Some(7)));
        // A socketpair within one process, and a pair nobody visible holds.
        snap.sockets.push(unix(200, None, 201, Some(7)));
        snap.sockets.push(unix(201, None, 200, Some(7)));
        snap.sockets.push(unix(300, None, 301, None));
        snap.sockets.push(unix(301, None, 300, None));
        let map = build(&snap);
        assert_eq!(map.hidden, 1);
        assert_eq!(map.internal, 1);
        assert_eq!(map.edges.len(), 1, "{:?}", map.edges);
        assert_eq!(map.edges[0].from, Some(7));
        assert_eq!(map.edges[0].to, Some(5));
        assert_eq!(
            map.edges[0].via,
            Via::Unix {
                path: Some("/run/x.sock".into())
            }
        );
        assert!(!map.edges[0].undirected);
    }
}
