//! The label values the metrics and the page give sockets and processes:
//! which namespace, container and unit, how exposed a listener is, and a
//! process name made safe for a person and for the exposition format.
//!

use std::net::IpAddr;

use portscope::Text;
use portscope::model::{Process, Snapshot, Socket};

/// The longest process or executable label, in characters of its escaped form.
const MAX_LABEL: usize = 64;

/// The network namespace a socket is in: `host` for the host's (and where
/// the source did not say), else its container's name, its `ip netns` name,
/// or its inode. Escaped for people and bounded, as every label.
pub fn netns(s: &Socket) -> String {
    match s.netns.as_deref() {
        Some(n) if !n.host => n
            .container
            .as_ref()
            .map(|c| c.label())
            .or_else(|| n.name.clone())
            .map_or_else(|| n.inode.to_string(), |t| text(Some(&t))),
        _ => "host".to_owned(),
    }
}

/// The key [`netns`] is a function of (0 for the host's), so a pass over
/// every socket can count by namespace without making a string per socket.
pub fn netns_key(s: &Socket) -> u64 {
    s.netns
        .as_deref()
        .filter(|n| !n.host)
        .map_or(0, |n| n.inode)
}

/// The container a process runs in (its name, else the id's first 12
/// characters), `""` for none.
pub fn container(p: Option<&Process>) -> String {
    text(
        p.and_then(|p| p.container.as_ref())
            .map(|c| c.label())
            .as_ref(),
    )
}

/// The systemd unit a process runs in, `""` for none.
pub fn unit(p: Option<&Process>) -> String {
    text(p.and_then(|p| p.unit.as_ref()))
}

/// A listener's exposure: `loopback`, `wildcard` or `specific` (one address).
pub fn exposure(s: &Socket) -> &'static str {
    match s.local.addr() {
        Some(a) if is_loopback(a) => "loopback",
        Some(a) if a.is_unspecified() => "wildcard",
        Some(_) => "specific",
        None => "specific",
    }
}

fn is_loopback(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|m| m.is_loopback()),
    }
}

/// The first owner of `s` that the snapshot knows, if any.
pub fn first_process<'a>(s: &Socket, snap: &'a Snapshot) -> Option<&'a Process> {
    s.owners.iter().find_map(|o| snap.processes.get(&o.pid))
}

/// A process name as a label: escaped as everywhere for people (control
/// characters and invalid UTF-8 shown as `\xNN`), bounded, `""` when unknown.
pub fn text(t: Option<&Text>) -> String {
    t.map(|t| t.bounded(MAX_LABEL).to_string())
        .unwrap_or_default()
}

/// Escapes a label value for the text exposition formats: `\`, `"` and
/// line breaks. Values here are already escaped for people, so only the
/// backslashes and quotes of that form remain to be escaped.
pub fn exposition(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str(r"\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_escaped_twice_over() {
        let name = Text::from("ev\"il\x1b[2J\n\\");
        let label = text(Some(&name));
        assert_eq!(label, "ev\"il\\x1b[2J\\n\\\\");
        let mut out = String::new();
        exposition(&label, &mut out);
        assert_eq!(out, r#"ev\"il\\x1b[2J\\n\\\\"#);
        assert!(!out.contains('\n'));
    }

    #[test]
    fn exposure_classes() {
        use portscope::model::Endpoint;
        let at = |a: IpAddr| Socket {
            local: Endpoint::Inet { addr: a, port: 1 },
            ..Socket::default()
        };
        assert_eq!(exposure(&at("127.0.0.1".parse().expect("ip"))), "loopback");
        assert_eq!(exposure(&at("::1".parse().expect("ip"))), "loopback");
        assert_eq!(
            exposure(&at("::ffff:127.0.0.1".parse().expect("ip"))),
            "loopback"
        );
        assert_eq!(exposure(&at("0.0.0.0".parse().expect("ip"))), "wildcard");
        assert_eq!(exposure(&at("::".parse().expect("ip"))), "wildcard");
        assert_eq!(exposure(&at("10.1.2.3".parse().expect("ip"))), "specific");
    }
}
