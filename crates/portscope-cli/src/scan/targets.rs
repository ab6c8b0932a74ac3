//! What `scan` aims at: host names, addresses and CIDR blocks turned into a
//! sequence of addresses made as the scan asks for them, and whether an address belongs to this host. No
//! connecting here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs, UdpSocket};
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

/// The most hosts one scan may cover (`--max-hosts` at most this): all of
/// IPv4. Hosts are generated as the scan goes, never held in a list, so this
/// bounds the job count (hosts x ports fits 64 bits), not memory.
pub const MAX_HOSTS_CAP: u64 = 1 << 32;

/// The hosts of a scan, in target order, without holding them: a CIDR block
/// stays a block and its addresses are worked out by position.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    parts: Vec<Part>,
    /// Position of each part's first host; parallel to `parts`.
    starts: Vec<u64>,
    total: u64,
}

#[derive(Clone, Debug)]
enum Part {
    One(Host),
    Block {
        target: String,
        /// The first address yielded, as a number.
        first: u128,
        v6: bool,
        count: u64,
    },
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::One(_) => 1,
            Part::Block { count, .. } => *count,
        }
    }

    fn addr(&self, i: u64) -> Option<IpAddr> {
        match self {
            Part::One(h) => (i == 0).then_some(h.addr),
            Part::Block {
                first, v6, count, ..
            } => {
                if i >= *count {
                    return None;
                }
                let n = first.checked_add(u128::from(i))?;
                Some(if *v6 {
                    IpAddr::V6(Ipv6Addr::from(n))
                } else {
                    IpAddr::V4(Ipv4Addr::from(u32::try_from(n).ok()?))
                })
            }
        }
    }
}

impl Targets {
    /// How many hosts.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    fn part(&self, i: u64) -> Option<(&Part, u64)> {
        let at = self.starts.partition_point(|&s| s <= i).checked_sub(1)?;
        let part = self.parts.get(at)?;
        let start = self.starts.get(at)?;
        Some((part, i - start))
    }

    /// The address of host `i` (no allocation: the sweep asks this per job).
    pub fn addr(&self, i: u64) -> Option<IpAddr> {
        let (part, at) = self.part(i)?;
        part.addr(at)
    }

    /// Host `i`, in full.
    pub fn get(&self, i: u64) -> Option<Host> {
        let (part, at) = self.part(i)?;
        match part {
            Part::One(h) => (at == 0).then(|| h.clone()),
            Part::Block { target, .. } => Some(Host {
                target: target.clone(),
                name: None,
                addr: part.addr(at)?,
            }),
        }
    }

    /// The host name of host `i`, when its target was one.
    pub fn name(&self, i: u64) -> Option<&str> {
        match self.part(i)? {
            (Part::One(h), 0) => h.name.as_deref(),
            _ => None,
        }
    }

    /// Every host, in order, made as it is asked for.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = Host> + '_ {
        (0..self.total).filter_map(|i| self.get(i))
    }

    fn push(&mut self, part: Part) {
        self.starts.push(self.total);
        self.total += part.len();
        self.parts.push(part);
    }
}

/// Expands and resolves the targets; errors are one line for the user.
/// Blocks are not expanded: the result is as small as the target list.
pub fn resolve(targets: &[String], max_hosts: u64) -> Result<Targets, String> {
    resolve_with(targets, max_hosts, system_lookup)
}

/// [`resolve`] with host names (already checked to be valid names) looked up
/// by `lookup` instead of the system resolver: the fuzz target must not send
/// DNS queries.
pub fn resolve_with(
    targets: &[String],
    max_hosts: u64,
    lookup: impl Fn(&str) -> Result<IpAddr, String>,
) -> Result<Targets, String> {
    let max_hosts = max_hosts.min(MAX_HOSTS_CAP);
    let mut out = Targets::default();
    for t in targets {
        let t = t.trim();
        if t.is_empty() {
            return Err("empty target".into());
        }
        if t.contains('/') {
            let net = IpNet::from_str(t)
                .map_err(|_| format!("'{t}' is not a CIDR block (as 10.0.0.0/24 or fd00::/120)"))?;
            let room = max_hosts.saturating_sub(out.len());
            let count = host_count(&net);
            if count > u128::from(room) {
                let count = if count == u128::MAX {
                    "2^128".to_string()
                } else {
                    count.to_string()
                };
                let raise = if max_hosts < MAX_HOSTS_CAP {
                    " (raise it with --max-hosts)"
                } else {
                    ", the most one scan covers"
                };
                return Err(format!(
                    "'{t}' holds {count} hosts, over the cap of {max_hosts}{raise}"
                ));
            }
            let (first, v6) = match net {
                IpNet::V4(n) => {
                    // Below /31 the network address is left out (as in `hosts()`).
                    let skip = u32::from(n.prefix_len() <= 30);
                    (u128::from(u32::from(n.network()) + skip), false)
                }
                IpNet::V6(n) => (u128::from(n.network()), true),
            };
            out.push(Part::Block {
                target: t.to_string(),
                first,
                v6,
                count: u64::try_from(count).map_err(|_| "too many hosts".to_string())?,
            });
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
        if out.len() >= max_hosts {
            return Err(format!(
                "more than {max_hosts} hosts (the cap; --max-hosts sets it, up to {MAX_HOSTS_CAP})"
            ));
        }
        out.push(Part::One(host));
    }
    Ok(out)
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
        let t = resolve(&strs(&["127.0.0.1", "[::1]", "localhost"]), 256).unwrap();
        let h: Vec<Host> = t.iter().collect();
        assert_eq!(h[0].addr, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(h[1].addr, "::1".parse::<IpAddr>().unwrap());
        assert!(h[2].addr.is_loopback());
        assert_eq!(h[2].name.as_deref(), Some("localhost"));
        assert_eq!(t.name(2), Some("localhost"));
        let b = resolve(&strs(&["127.0.0.0/30"]), 256).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(resolve(&strs(&["127.0.0.1/32"]), 256).unwrap().len(), 1);
        assert_eq!(resolve(&strs(&["127.0.0.0/24"]), 256).unwrap().len(), 254);
    }

    #[test]
    fn blocks_by_position_match_ipnet() {
        // What the positions give is what ipnet's own expansion gives, for
        // every shape of block, mixed with single hosts.
        for spec in [
            "127.0.0.0/24",
            "127.0.0.0/30",
            "127.0.0.4/31",
            "127.0.0.9/32",
            "fd00::/120",
            "fd00::1/128",
            "fd00::/127",
        ] {
            let net = IpNet::from_str(spec).unwrap();
            let want: Vec<IpAddr> = std::iter::once(IpAddr::from([127, 0, 0, 1]))
                .chain(net.hosts())
                .collect();
            let t = resolve(&strs(&["127.0.0.1", spec]), 1024).unwrap();
            assert_eq!(t.len(), want.len() as u64, "{spec}");
            let got: Vec<IpAddr> = (0..t.len()).filter_map(|i| t.addr(i)).collect();
            assert_eq!(got, want, "{spec}");
            assert_eq!(t.addr(t.len()), None);
            assert_eq!(t.get(1).map(|h| h.target), Some(spec.to_string()));
        }
    }

    #[test]
    fn huge_blocks_are_refused_without_expanding() {
        for (spec, cap) in [
            ("::/65", u64::MAX),
            ("::/0", u64::MAX),
            ("0.0.0.0/0", 1 << 31),
            ("127.0.0.0/8", 1000),
        ] {
            let e = resolve(&strs(&[spec]), cap).unwrap_err();
            assert!(
                e.contains("over the cap") && !e.contains('\n'),
                "{spec}: {e}"
            );
        }
        // A /8 under a large cap is fine and costs nothing to hold.
        let t = resolve(&strs(&["127.0.0.0/8"]), 20_000_000).unwrap();
        assert_eq!(t.len(), 16_777_214);
        assert_eq!(t.addr(16_777_213), Some(IpAddr::from([127, 255, 255, 254])));
        // IPv6 up to the cap.
        let t = resolve(&strs(&["fd00::/96"]), MAX_HOSTS_CAP).unwrap();
        assert_eq!(t.len(), 1 << 32);
        assert_eq!(
            t.addr((1 << 32) - 1),
            Some("fd00::ffff:ffff".parse::<IpAddr>().unwrap())
        );
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
        let first = hosts.get(0).unwrap();
        assert_eq!(first.addr, IpAddr::from([127, 0, 0, 9]));
        assert_eq!(first.name.as_deref(), Some("db.example"));
        assert_eq!(hosts.len(), 3);
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
