//! Who can reach a listening socket: this host only, every interface, or
//! one address; and which of this host's addresses that means. Also turns a
//! rule's hit on a listener into a [`Finding`].

use std::net::{IpAddr, Ipv4Addr};

use crate::collect::host::{HostAddr, HostFacts};
use crate::model::{Process, Proto, Snapshot, Socket};
use crate::services;

use super::{Finding, Rule};

/// Who can reach a listening socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    /// Bound to a loopback address (or to the loopback device): this host only.
    Loopback,
    /// Bound to the unspecified address (`0.0.0.0`, `::`): every interface.
    AllInterfaces,
    /// Bound to one non-loopback address.
    Address,
}

impl Reach {
    /// Every reach.
    pub const ALL: [Reach; 3] = [Reach::Loopback, Reach::AllInterfaces, Reach::Address];

    /// `loopback`, `all-interfaces` or `address`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reach::Loopback => "loopback",
            Reach::AllInterfaces => "all-interfaces",
            Reach::Address => "address",
        }
    }

    /// Whether anything beyond this host can reach the socket.
    pub const fn from_outside(self) -> bool {
        !matches!(self, Reach::Loopback)
    }
}

crate::model::from_as_str!(Reach, "reach");

/// The kernel gives the loopback device this index in every namespace.
const LOOPBACK_IFINDEX: u32 = 1;

/// A TCP or UDP listener, with what the rules ask of it worked out once.
#[derive(Debug)]
pub(crate) struct Listener<'a> {
    pub socket: &'a Socket,
    /// The bound address, v4-mapped IPv6 addresses turned into IPv4.
    pub addr: IpAddr,
    pub port: u16,
    pub reach: Reach,
    pub reachable_on: Vec<HostAddr>,
    /// Distinct owning processes, by pid.
    pub processes: Vec<&'a Process>,
    pub service: Option<&'static str>,
    /// Whether the snapshot's listeners live in more than one namespace
    /// (only then does a label name the namespace).
    pub several: bool,
    /// For a host port a forwarder holds or a NAT rule publishes: the
    /// container behind it and its listeners inside, for people.
    pub published: Option<String>,
}

impl Listener<'_> {
    /// `tcp 0.0.0.0:23 (telnet)`, with `in netns NAME` (when the listeners
    /// live in several namespaces) for a socket of
    /// another namespace than the host's.
    pub fn label(&self) -> String {
        let sa =
            std::net::SocketAddr::new(self.socket.local.addr().unwrap_or(self.addr), self.port);
        let mut text = match self.service {
            Some(s) => format!("{} {sa} ({s})", self.socket.proto),
            None => format!("{} {sa}", self.socket.proto),
        };
        if let Some(n) = self
            .socket
            .netns
            .as_deref()
            .filter(|n| self.several && !n.host)
        {
            match n
                .container
                .as_ref()
                .map(|c| c.label())
                .or_else(|| n.name.clone())
            {
                Some(name) => text.push_str(&format!(" in netns {}", name.bounded(64))),
                None => text.push_str(&format!(" in netns {}", n.inode)),
            }
        }
        text
    }

    /// `on 192.0.2.2 (eth0), fd00::2 (eth0)`, or why there is no address.
    pub fn where_reachable(&self) -> String {
        if self.reachable_on.is_empty() {
            return match self.reach {
                Reach::Loopback => "from this host only".into(),
                _ => "on any non-loopback address this host has or gets (none now)".into(),
            };
        }
        let list: Vec<String> = self
            .reachable_on
            .iter()
            .map(|a| {
                if a.interface.is_empty() {
                    a.addr.to_string()
                } else {
                    format!(
                        "{} ({})",
                        a.addr,
                        crate::text::escape(a.interface.as_bytes())
                    )
                }
            })
            .collect();
        format!("on {}", list.join(", "))
    }

    /// `name[pid], name[pid]` for the given processes; past three, the
    /// rest are counted (prefork servers have dozens).
    pub fn names(procs: &[&Process]) -> String {
        const SHOWN: usize = 3;
        let v: Vec<String> = procs
            .iter()
            .take(SHOWN)
            .map(|p| format!("{}[{}]", p.name.escaped(), p.pid))
            .collect();
        let mut text = v.join(", ");
        if procs.len() > SHOWN {
            text.push_str(&format!(" and {} more", procs.len() - SHOWN));
        }
        text
    }
}

/// The snapshot's TCP and UDP listeners, with their reach.
pub(crate) fn listeners<'a>(snap: &'a Snapshot, facts: &HostFacts) -> Vec<Listener<'a>> {
    let wildcard_v4 = |proto: Proto, port: u16, netns: Option<u64>| {
        snap.sockets.iter().any(|s| {
            s.proto == proto
                && s.is_listening()
                && s.netns.as_ref().map(|n| n.inode) == netns
                && s.local == crate::model::Endpoint::v4(Ipv4Addr::UNSPECIFIED, port)
        })
    };
    let mut first = None;
    let several = snap.sockets.iter().any(|s| {
        let ino = s.netns.as_ref().map(|n| n.inode);
        *first.get_or_insert(ino) != ino
    });
    let mut out = Vec::new();
    for s in &snap.sockets {
        if !matches!(s.proto, Proto::Tcp | Proto::Udp) || !s.is_listening() {
            continue;
        }
        let (Some(raw), Some(port)) = (s.local.addr(), s.local.port()) else {
            continue;
        };
        let addr = match raw {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(raw, IpAddr::V4),
            v4 => v4,
        };
        let on_device = |a: &&HostAddr| s.bound_if == 0 || a.index == s.bound_if;
        // Reachable on the addresses of the socket's own namespace.
        let addresses = facts.addresses_in(s.netns.as_deref());
        let netns = s.netns.as_ref().map(|n| n.inode);
        let (reach, reachable_on) = if addr.is_loopback() || s.bound_if == LOOPBACK_IFINDEX {
            (Reach::Loopback, Vec::new())
        } else if addr.is_unspecified() {
            // The socket's own IPV6_V6ONLY decides; the system default only
            // when the source did not say.
            let v6_takes_v4 = raw.is_ipv6()
                && s.takes_ipv4(facts.v6_dual_stack)
                && !wildcard_v4(s.proto, port, netns);
            let on: Vec<HostAddr> = addresses
                .iter()
                .filter(on_device)
                .filter(|a| a.addr.is_ipv6() == raw.is_ipv6() || (v6_takes_v4 && a.addr.is_ipv4()))
                .cloned()
                .collect();
            (Reach::AllInterfaces, on)
        } else {
            let known = addresses.iter().find(|a| a.addr == addr).cloned();
            let on = known.unwrap_or(HostAddr {
                addr,
                interface: String::new(),
                index: 0,
            });
            (Reach::Address, vec![on])
        };
        let processes = processes_of(snap, s);
        let service = services::lookup(port, s.proto).map(|x| x.name);
        let published = crate::forward::of_socket(snap, &facts.port_maps, s).map(|f| {
            let who = f.container.map_or_else(
                || "a container".to_owned(),
                |c| {
                    format!(
                        "container {} ({})",
                        c.label().bounded(64),
                        c.runtime.as_str()
                    )
                },
            );
            let inner: Vec<String> = f
                .inner
                .iter()
                .map(|i| i.shown_local().to_string())
                .collect();
            if inner.is_empty() {
                who
            } else {
                format!("{who} listening on {}", inner.join(", "))
            }
        });
        out.push(Listener {
            several,
            published,
            socket: s,
            addr,
            port,
            reach,
            reachable_on,
            processes,
            service,
        });
    }
    out
}

/// The snapshot's packet sockets, as listeners of address `0.0.0.0` and
/// port 0 (they have neither): reach is loopback for a socket bound to
/// `lo`, every interface for an unbound one, one interface otherwise.
pub(crate) fn captures<'a>(snap: &'a Snapshot, facts: &HostFacts) -> Vec<Listener<'a>> {
    let mut first = None;
    let several = snap.sockets.iter().any(|s| {
        let ino = s.netns.as_ref().map(|n| n.inode);
        *first.get_or_insert(ino) != ino
    });
    let mut out = Vec::new();
    // Raw sockets join only for their filter (the packet rules' other test
    // is about packet sockets alone).
    let judged = |s: &&Socket| {
        s.proto == Proto::Packet
            || (s.proto == Proto::Raw
                && s.extra
                    .as_ref()
                    .and_then(|x| x.sock_filter)
                    .is_some_and(|f| f.attached()))
    };
    for s in snap.sockets.iter().filter(judged) {
        // A packet socket sees the interfaces of its own namespace.
        let addresses = match s.netns.as_deref().filter(|n| !n.host) {
            Some(n) => facts
                .netns_addresses
                .get(&n.inode)
                .map_or(&[][..], Vec::as_slice),
            None => &facts.addresses[..],
        };
        let (reach, reachable_on) = match s.bound_if {
            LOOPBACK_IFINDEX => (Reach::Loopback, Vec::new()),
            0 => (Reach::AllInterfaces, addresses.to_vec()),
            i => (
                Reach::Address,
                addresses.iter().filter(|a| a.index == i).cloned().collect(),
            ),
        };
        let processes = processes_of(snap, s);
        out.push(Listener {
            several,
            published: None,
            socket: s,
            // A raw socket's end: its address and IP protocol.
            addr: s.local.addr().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            port: s.local_port().unwrap_or(0),
            reach,
            reachable_on,
            processes,
            service: None,
        });
    }
    out
}

/// What a rule found on one listener.
#[derive(Debug)]
pub(crate) struct Hit {
    /// The processes concerned; `None` for all owners.
    pub pids: Option<Vec<u32>>,
    pub message: String,
}

impl Hit {
    pub fn socket(message: String) -> Option<Hit> {
        Some(Hit {
            pids: None,
            message,
        })
    }
}

pub(crate) fn finding(rule: &'static Rule, l: &Listener<'_>, hit: Hit) -> Finding {
    let mut pids = hit
        .pids
        .unwrap_or_else(|| l.processes.iter().map(|p| p.pid).collect());
    pids.sort_unstable();
    pids.dedup();
    let mut names: Vec<String> = l
        .processes
        .iter()
        .filter(|p| pids.contains(&p.pid))
        .map(|p| p.name.escaped().also(b",").to_string())
        .collect();
    names.sort_unstable();
    names.dedup();
    Finding {
        rule,
        proto: l.socket.proto,
        addr: l.addr,
        port: l.port,
        inode: l.socket.inode,
        service: l.service,
        reach: l.reach,
        reachable_on: l.reachable_on.clone(),
        pids,
        process: if names.is_empty() {
            "-".into()
        } else {
            names.join(",")
        },
        message: hit.message,
        netns: l.socket.netns.clone(),
    }
}

/// The processes holding `s` that the snapshot knows, each once, by pid.
fn processes_of<'a>(snap: &'a Snapshot, s: &Socket) -> Vec<&'a Process> {
    let mut processes: Vec<&Process> = Vec::new();
    for o in &s.owners {
        if let Some(p) = snap.processes.get(&o.pid)
            && !processes.iter().any(|q| q.pid == o.pid)
        {
            processes.push(p);
        }
    }
    processes.sort_by_key(|p| p.pid);
    processes
}
