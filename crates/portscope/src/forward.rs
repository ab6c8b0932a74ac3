//! Published ports answered by who really answers: a host port held by a
//! forwarder (conmon, rootlessport, docker-proxy, slirp4netns, pasta) or
//! published by a DNAT rule is joined to the container behind it and the
//! listener inside the container's namespace that takes the traffic.
//!
//! Pure: works on a [`Snapshot`] of every namespace and the [`PortMap`]s
//! read from the NAT rules, so recorded snapshots test it.

use std::net::IpAddr;

use crate::model::{Container, ForwardTo, PortMap, Proto, Snapshot, Socket};
use crate::text::Text;

/// Processes that hold a host port on a container's behalf.
pub const FORWARDERS: [&str; 6] = [
    "conmon",
    "rootlessport",
    "rootlessport-ch",
    "docker-proxy",
    "slirp4netns",
    "pasta",
];

/// A published port and what answers it.
#[derive(Clone, Debug)]
pub struct Forwarded<'a> {
    /// The protocol.
    pub proto: Proto,
    /// The host port.
    pub host_port: u16,
    /// Forwarders holding the host port (pids), if any.
    pub by: Vec<u32>,
    /// The NAT rule that publishes it, if one does.
    pub map: Option<PortMap>,
    /// The container behind it, when known.
    pub container: Option<&'a Container>,
    /// The listeners inside that take the traffic.
    pub inner: Vec<&'a Socket>,
}

/// Whether `p` is the name of a forwarder.
pub fn is_forwarder(name: &Text) -> bool {
    FORWARDERS.iter().any(|f| name.as_bytes() == f.as_bytes())
}

/// What a forwarder's command line says about its container: its id (a
/// conmon's `-c`/`--cid`), or the inner address and port (docker-proxy's
/// `-container-ip` and `-container-port`).
fn hints(cmdline: &Text) -> (Option<String>, Option<IpAddr>, Option<u16>) {
    let text = String::from_utf8_lossy(cmdline.as_bytes());
    let words: Vec<&str> = text.split(' ').collect();
    let after = |flags: &[&str]| {
        words
            .iter()
            .position(|w| flags.contains(w))
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    (
        after(&["-c", "--cid"]).map(str::to_owned),
        after(&["-container-ip"]).and_then(|a| a.parse().ok()),
        after(&["-container-port"]).and_then(|p| p.parse().ok()),
    )
}

/// The container of a socket: its namespace's, or an owner's.
pub fn container_of<'a>(s: &'a Socket, snap: &'a Snapshot) -> Option<&'a Container> {
    s.netns
        .as_deref()
        .and_then(|n| n.container.as_ref())
        .or_else(|| {
            s.owners
                .iter()
                .find_map(|o| snap.processes.get(&o.pid)?.container.as_ref())
        })
}

/// Listeners inside other namespaces than the host's, of this protocol, on
/// `port`, bound to `addr` or to any address.
fn inner_listeners<'a>(
    snap: &'a Snapshot,
    proto: Proto,
    addr: Option<IpAddr>,
    port: Option<u16>,
    id: Option<&str>,
) -> Vec<&'a Socket> {
    snap.sockets
        .iter()
        .filter(|s| {
            s.proto == proto
                && s.is_listening()
                && s.netns.as_deref().is_some_and(|n| !n.host)
                && port.is_none_or(|p| s.local.port() == Some(p))
                && addr.is_none_or(|a| s.local.addr().is_some_and(|l| l.is_unspecified() || l == a))
                && id.is_none_or(|id| {
                    container_of(s, snap).is_some_and(|c| c.id.as_bytes() == id.as_bytes())
                })
        })
        .collect()
}

/// What answers host socket `host` (a listener in the host's namespace),
/// if it is a published port: held by a forwarder, or matched by a rule
/// of `maps`. `None` for an ordinary listener.
pub fn of_socket<'a>(
    snap: &'a Snapshot,
    maps: &[PortMap],
    host: &'a Socket,
) -> Option<Forwarded<'a>> {
    if !host.is_listening() || host.netns.as_deref().is_some_and(|n| !n.host) {
        return None;
    }
    let port = host.local.port()?;
    let by: Vec<u32> = host
        .owners
        .iter()
        .map(|o| o.pid)
        .filter(|pid| {
            snap.processes
                .get(pid)
                .is_some_and(|p| is_forwarder(&p.name))
        })
        .collect();
    let map = maps
        .iter()
        .find(|m| {
            m.proto == host.proto
                && m.host_port == port
                && m.host_addr.is_none_or(|a| {
                    host.local
                        .addr()
                        .is_some_and(|l| l.is_unspecified() || l == a)
                })
        })
        .cloned();
    if by.is_empty() && map.is_none() {
        return None;
    }
    let (mut id, mut addr, mut inner_port) = (None, None, None);
    for p in by.iter().filter_map(|pid| snap.processes.get(pid)) {
        let (i, a, pt) = hints(&p.cmdline);
        id = id.or(i);
        addr = addr.or(a);
        inner_port = inner_port.or(pt);
    }
    if let Some(m) = &map {
        addr = addr.or(Some(m.to_addr));
        inner_port = inner_port.or(Some(m.to_port));
        id = id.or_else(|| {
            m.container_id
                .as_ref()
                .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned())
        });
    }
    Some(resolve(
        snap, host.proto, port, by, map, id, addr, inner_port,
    ))
}

/// What answers a port published by a NAT rule with no host socket.
pub fn of_map<'a>(snap: &'a Snapshot, map: &PortMap) -> Forwarded<'a> {
    let id = map
        .container_id
        .as_ref()
        .map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned());
    resolve(
        snap,
        map.proto,
        map.host_port,
        Vec::new(),
        Some(map.clone()),
        id,
        Some(map.to_addr),
        Some(map.to_port),
    )
}

#[allow(clippy::too_many_arguments)]
fn resolve<'a>(
    snap: &'a Snapshot,
    proto: Proto,
    host_port: u16,
    by: Vec<u32>,
    map: Option<PortMap>,
    id: Option<String>,
    addr: Option<IpAddr>,
    port: Option<u16>,
) -> Forwarded<'a> {
    // Narrowest first: the container and its port; then the container's
    // listeners (a conmon says which container, not which port); then the
    // port in any namespace (a rule without a container id).
    let mut inner = Vec::new();
    if id.is_some() {
        inner = inner_listeners(snap, proto, None, port, id.as_deref());
        if inner.is_empty() && port.is_none() {
            inner = inner_listeners(snap, proto, None, None, id.as_deref());
        }
    }
    if inner.is_empty() && port.is_some() {
        inner = inner_listeners(snap, proto, addr, port, None);
        // A wildcard match in several namespaces names none of them.
        let mut spaces: Vec<u64> = inner
            .iter()
            .filter_map(|s| s.netns.as_ref().map(|n| n.inode))
            .collect();
        spaces.dedup();
        if spaces.len() > 1 {
            inner.clear();
        }
    }
    let container = inner
        .iter()
        .find_map(|s| container_of(s, snap))
        .or_else(|| {
            let id = id.as_deref()?;
            snap.processes.values().find_map(|p| {
                p.container
                    .as_ref()
                    .filter(|c| c.id.as_bytes() == id.as_bytes())
            })
        });
    Forwarded {
        proto,
        host_port,
        by,
        map,
        container,
        inner,
    }
}

/// Whether some listener of `snap` in the host's namespace is held by a
/// forwarder: whether [`targets`] can find anything without NAT rules.
pub fn any_forwarder(snap: &Snapshot) -> bool {
    snap.sockets.iter().any(|s| {
        s.is_listening()
            && s.netns.as_deref().is_none_or(|n| n.host)
            && s.owners.iter().any(|o| {
                snap.processes
                    .get(&o.pid)
                    .is_some_and(|p| is_forwarder(&p.name))
            })
    })
}

/// The target of every published host socket of `snap` (a forwarder's
/// listener, or one a rule of `maps` matches), by the host socket's inode:
/// the join [`of_socket`] makes, for a listing's `forwards_to`.
pub fn targets(snap: &Snapshot, maps: &[PortMap]) -> std::collections::HashMap<u64, ForwardTo> {
    let mut out = std::collections::HashMap::new();
    for s in snap.sockets.iter().filter(|s| s.inode != 0) {
        let Some(f) = of_socket(snap, maps, s) else {
            continue;
        };
        let inner = f.inner.first();
        let to = ForwardTo {
            netns: inner.and_then(|i| i.netns.clone()),
            container: f.container.cloned(),
            addr: inner
                .and_then(|i| i.local.addr())
                .or(f.map.as_ref().map(|m| m.to_addr)),
            port: inner
                .and_then(|i| i.local.port())
                .or(f.map.as_ref().map(|m| m.to_port)),
        };
        out.insert(s.inode, to);
    }
    out
}

#[cfg(test)]
mod tests;
