//! `who`'s answer for a published port: the container and the listener
//! inside it that really answer, and the forwarder (conmon, docker-proxy,
//! rootlessport, slirp4netns, pasta) or NAT rule in between
//! ([`portscope::forward`]), worked out on the whole snapshot before it is
//! narrowed to the ports asked about.

use std::io::{self, Write};

use portscope::forward::{self, Forwarded};
use portscope::model::{PortMaps, Snapshot, Socket};

/// One published port, as `who` shows it.
#[derive(Debug)]
pub struct Published {
    /// The line for people.
    pub line: String,
    /// The forwarder pids (their blocks carry `forwarded_to` in JSON).
    pub by: Vec<u32>,
    /// The container, as the JSON `container` object.
    pub container: Option<portscope::model::Container>,
    /// The inner listeners.
    pub inner: Vec<Socket>,
}

/// The published ports among `wanted` (host sockets asked about) and the
/// NAT rules whose host port `wants`, with a note when rules could not be
/// read and it mattered.
pub fn find(
    snap: &Snapshot,
    maps: &PortMaps,
    wanted: &[&Socket],
    wants: impl Fn(portscope::model::Proto, u16) -> bool,
) -> (Vec<Published>, Option<String>) {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for s in wanted {
        if let Some(f) = forward::of_socket(snap, &maps.maps, s) {
            seen.push((f.proto, f.host_port));
            out.push(shown(snap, &f));
        }
    }
    // Rules publishing a port no host socket holds.
    for m in &maps.maps {
        let held = wanted
            .iter()
            .any(|s| s.proto == m.proto && s.local.port() == Some(m.host_port) && s.is_listening());
        if wants(m.proto, m.host_port) && !held && !seen.contains(&(m.proto, m.host_port)) {
            seen.push((m.proto, m.host_port));
            out.push(shown(snap, &forward::of_map(snap, m)));
        }
    }
    // The rules matter when a forwarder holds the port or nothing does.
    let relevant = !out.is_empty() || wanted.iter().all(|s| !s.is_listening());
    (out, maps.unreadable.clone().filter(|_| relevant))
}

fn shown(snap: &Snapshot, f: &Forwarded<'_>) -> Published {
    let mut line = String::new();
    match f.container {
        Some(c) => {
            line.push_str(&format!(
                "container {} ({}",
                c.label().bounded(64),
                c.runtime.as_str()
            ));
            if let Some(img) = &c.image {
                line.push_str(&format!(", image {}", img.bounded(80)));
            }
            if let (Some(pod), Some(ns)) = (&c.pod, &c.pod_namespace) {
                line.push_str(&format!(", pod {}/{}", ns.bounded(64), pod.bounded(64)));
            }
            line.push(')');
        }
        None => line.push_str("no container known"),
    }
    let inner: Vec<String> = f
        .inner
        .iter()
        .map(|s| {
            let who = s
                .owners
                .first()
                .map(|o| match snap.processes.get(&o.pid) {
                    Some(p) => format!("{}[{}]", p.name.escaped(), o.pid),
                    None => format!("?[{}]", o.pid),
                })
                .unwrap_or_else(|| "(no visible process)".into());
            format!("{who} {}", s.shown_local())
        })
        .collect();
    if inner.is_empty() {
        line.push_str(" → no listener seen inside");
    } else {
        line.push_str(&format!(" → {}", inner.join(", ")));
    }
    let by: Vec<String> =
        f.by.iter()
            .map(|pid| match snap.processes.get(pid) {
                Some(p) => format!("{}[{pid}]", p.name.escaped()),
                None => format!("?[{pid}]"),
            })
            .collect();
    if !by.is_empty() {
        line.push_str(&format!(", forwarded by {}", by.join(", ")));
    }
    if let Some(m) = &f.map {
        let host = m.host_addr.map_or_else(
            || format!("*:{}", m.host_port),
            |a| endpoint(a, m.host_port),
        );
        line.push_str(&format!(
            ", published by a NAT rule {}/{} → {}",
            host,
            m.proto.as_str(),
            endpoint(m.to_addr, m.to_port)
        ));
    }
    Published {
        line,
        by: f.by.clone(),
        container: f.container.cloned(),
        inner: f.inner.iter().map(|s| (*s).clone()).collect(),
    }
}

fn endpoint(a: std::net::IpAddr, port: u16) -> String {
    match a {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        v4 => format!("{v4}:{port}"),
    }
}

/// The lines, one per published port.
pub fn write_text(out: &mut dyn Write, published: &[Published]) -> io::Result<()> {
    for p in published {
        writeln!(out, "{}", p.line)?;
    }
    if !published.is_empty() {
        writeln!(out)?;
    }
    Ok(())
}
