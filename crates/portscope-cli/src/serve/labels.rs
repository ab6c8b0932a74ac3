//! The label values the metrics and the page give sockets and processes:
//! which namespace, container and unit, how exposed a listener is, and a
//! process name made safe for a person and for the exposition format.
//!
//! The one place to change when sockets learn their namespace and owners
//! their container and unit: until then every socket is in `host` and no
//! process has a container or unit.

use std::net::IpAddr;

use portscope::Text;
use portscope::model::{Process, Snapshot, Socket};

/// The longest process or executable label, in characters of its escaped form.
const MAX_LABEL: usize = 64;

/// The network namespace a socket is in.
pub fn netns(_s: &Socket) -> &'static str {
    "host"
}

/// The container a process runs in, `""` for none.
pub fn container(_p: Option<&Process>) -> String {
    String::new()
}

/// The systemd unit a process runs in, `""` for none.
pub fn unit(_p: Option<&Process>) -> String {
    String::new()
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
