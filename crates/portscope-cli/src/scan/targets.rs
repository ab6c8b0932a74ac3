//! What `scan` aims at: host names, addresses and CIDR blocks turned into a
//! list of addresses, and whether an address belongs to this host. No
//! connecting here.

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};
use std::str::FromStr;

use ipnet::IpNet;

/// One host to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// What the user wrote that led to this host (a name, address or block).
    pub target: String,
    /// The host name when the target was one (used for TLS server names).
    pub name: Option<String>,
    /// The address scanned.
    pub addr: IpAddr,
}

/// Expands and resolves the targets; errors are one line for the user.
pub fn resolve(targets: &[String], max_hosts: usize) -> Result<Vec<Host>, String> {
    resolve_with(targets, max_hosts, system_lookup)
}

/// [`resolve`] with host names (already checked to be valid names) looked up
/// by `lookup` instead of the system resolver: the fuzz target must not send
/// DNS queries.
pub fn resolve_with(
    targets: &[String],
    max_hosts: usize,
    lookup: impl Fn(&str) -> Result<IpAddr, String>,
) -> Result<Vec<Host>, String> {
    let mut hosts: Vec<Host> = Vec::new();
    for t in targets {
        let t = t.trim();
        if t.is_empty() {
            return Err("empty target".into());
        }
        if t.contains('/') {
            let net = IpNet::from_str(t)
                .map_err(|_| format!("'{t}' is not a CIDR block (as 10.0.0.0/24 or fd00::/120)"))?;
            let room = max_hosts.saturating_sub(hosts.len());
            let count = host_count(&net);
            if count > room as u128 {
                return Err(format!(
                    "'{t}' holds {count} hosts, over the cap of {max_hosts} (raise it with --max-hosts)"
                ));
            }
            hosts.extend(net.hosts().map(|addr| Host {
                target: t.to_string(),
                name: None,
                addr,
            }));
            continue;
        }
        let literal = t.trim_start_matches('[').trim_end_matches(']');
        let host = if let Ok(addr) = literal.parse::<IpAddr>() {
            Host {
                target: t.to_string(),
                name: None,
                addr,
            }
        } else {
            Host {
                target: t.to_string(),
                name: Some(t.to_string()),
                addr: checked_name(t).and_then(|()| lookup(t))?,
            }
        };
        if hosts.len() >= max_hosts {
            return Err(format!(
                "more than {max_hosts} hosts (raise the cap with --max-hosts)"
            ));
        }
        hosts.push(host);
    }
    Ok(hosts)
}

/// How many addresses `hosts()` yields for a block.
fn host_count(net: &IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    let all = 1u128.checked_shl(bits).unwrap_or(u128::MAX);
    match net {
        // The network and broadcast addresses are left out below /31.
        IpNet::V4(_) if bits >= 2 => all - 2,
        _ => all,
    }
}

/// Refuses what is not a host name, and names that cannot resolve.
fn checked_name(name: &str) -> Result<(), String> {
    if !valid_host_name(name) {
        return Err(format!(
            "'{name}' is not a host name, address or CIDR block"
        ));
    }
    // RFC 6761: names under .invalid never resolve; say so without asking.
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if lower == "invalid" || lower.ends_with(".invalid") {
        return Err(format!("cannot resolve '{name}': no such host"));
    }
    Ok(())
}

/// Resolves a host name through the system resolver (/etc/hosts, then DNS).
fn system_lookup(name: &str) -> Result<IpAddr, String> {
    let addrs = (name, 0u16)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{name}': {e}"))?;
    let addrs: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
    // Prefer IPv4 when a name has both, as most scanners do.
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("cannot resolve '{name}': no address"))
}

/// RFC 1123 host name syntax: dot-separated labels of letters, digits and
/// hyphens, not starting or ending with a hyphen.
fn valid_host_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether an address belongs to this host: loopback, or an address a socket
/// can be bound to here (binding sends nothing).
pub fn is_local(addr: IpAddr) -> bool {
    addr.is_loopback() || (!addr.is_unspecified() && UdpSocket::bind((addr, 0)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn addresses_blocks_and_names() {
        let h = resolve(&strs(&["127.0.0.1", "[::1]", "localhost"]), 256).unwrap();
        assert_eq!(h[0].addr, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(h[1].addr, "::1".parse::<IpAddr>().unwrap());
        assert!(h[2].addr.is_loopback());
        assert_eq!(h[2].name.as_deref(), Some("localhost"));
        let b = resolve(&strs(&["127.0.0.0/30"]), 256).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(resolve(&strs(&["127.0.0.1/32"]), 256).unwrap().len(), 1);
        assert_eq!(resolve(&strs(&["127.0.0.0/24"]), 256).unwrap().len(), 254);
    }

    #[test]
    fn bad_targets() {
        let e = resolve(&strs(&["10.0.0.0/8"]), 256).unwrap_err();
        assert!(
            e.contains("16777214 hosts") && e.contains("--max-hosts"),
            "{e}"
        );
        assert!(resolve(&strs(&["::/0"]), 256).is_err());
        assert!(resolve(&strs(&["127.0.0.1/33"]), 256).is_err());
        assert!(resolve(&strs(&["no-such-host.invalid"]), 256).is_err());
        assert!(resolve(&strs(&["bad..name"]), 256).is_err());
        assert!(resolve(&strs(&["-x"]), 256).is_err());
        assert!(resolve(&strs(&["127.0.0.1", "127.0.0.2"]), 1).is_err());
    }

    #[test]
    fn the_lookup_sees_only_valid_names() {
        let asked = std::cell::RefCell::new(Vec::new());
        let lookup = |n: &str| {
            asked.borrow_mut().push(n.to_string());
            Ok(IpAddr::from([127, 0, 0, 9]))
        };
        let t = strs(&["db.example", "127.0.0.1", "[::1]"]);
        let hosts = resolve_with(&t, 8, lookup).unwrap();
        assert_eq!(hosts[0].addr, IpAddr::from([127, 0, 0, 9]));
        assert_eq!(hosts[0].name.as_deref(), Some("db.example"));
        for bad in ["bad..name", "x.invalid", "-x", "a b"] {
            assert!(resolve_with(&strs(&[bad]), 8, lookup).is_err(), "{bad}");
        }
        assert_eq!(*asked.borrow(), ["db.example"]);
    }

    #[test]
    fn locality() {
        assert!(is_local(IpAddr::from([127, 0, 0, 1])));
        assert!(is_local("::1".parse().unwrap()));
        // TEST-NET-3 is never assigned to a real interface.
        assert!(!is_local(IpAddr::from([203, 0, 113, 7])));
    }
}
