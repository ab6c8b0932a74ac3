//! What a port number means: the IANA service registry, port classes and the
//! local ephemeral range.
//!
//! The registry is compiled in: `build.rs` turns
//! `data/iana-service-names-port-numbers.csv` into a static table sorted by
//! port plus a name index, so nothing is parsed at start-up and [`lookup`] is
//! a binary search that never allocates (it runs once per socket). The
//! `&'static Service` values are laid out once, on first use, from that
//! table. Entries of `/etc/services` that the registry lacks are added on
//! first need.
//!
//! This module names ports; it does not say what is actually listening on
//! one (that is the collector's job) nor probe anything.

mod class;
mod etc_services;

use std::cmp::Ordering;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use crate::model::Proto;

pub use class::{EphemeralRange, PortClass, parse_port_range};
pub use etc_services::parse_etc_services;

/// Transport of a registry entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// DCCP.
    Dccp,
}

impl std::str::FromStr for Transport {
    type Err = crate::model::UnknownName;
    /// `tcp`, `udp`, `sctp` or `dccp`, in any ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Transport::from_name(s).ok_or(crate::model::UnknownName { what: "protocol" })
    }
}

impl Transport {
    /// The lower-case name the registry uses: `tcp`, `udp`, `sctp`, `dccp`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Sctp => "sctp",
            Transport::Dccp => "dccp",
        }
    }

    /// The registry transport a socket protocol uses (TCP's for MPTCP);
    /// `None` for raw, unix, packet and netlink sockets, which have no ports.
    pub const fn from_proto(proto: Proto) -> Option<Self> {
        match proto {
            Proto::Tcp | Proto::Mptcp => Some(Transport::Tcp),
            Proto::Udp => Some(Transport::Udp),
            Proto::Raw | Proto::Unix | Proto::Packet | Proto::Netlink => None,
        }
    }

    /// Parses `tcp`, `udp`, `sctp` or `dccp`, in any ASCII case.
    fn from_name(name: &str) -> Option<Self> {
        [
            Transport::Tcp,
            Transport::Udp,
            Transport::Sctp,
            Transport::Dccp,
        ]
        .into_iter()
        .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registered (service name, port, transport), from the IANA registry or
/// from `/etc/services`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    /// Service name as registered (`ssh`, `http-alt`); case is kept.
    pub name: &'static str,
    /// The port; for an assignment covering a range (x11 is 6000-6063), its
    /// first port. [`Service::ports`] gives the whole range.
    pub port: u16,
    /// Transport the assignment is for.
    pub transport: Transport,
    /// The registry's description, white space collapsed to single spaces;
    /// may be empty.
    pub description: &'static str,
}

impl Service {
    /// The ports this assignment covers: usually just `port..=port`, the
    /// whole range for range assignments.
    ///
    /// ```
    /// use portscope::services::{lookup_transport, Transport};
    /// let x11 = lookup_transport(6005, Transport::Tcp).unwrap();
    /// assert_eq!((x11.name, x11.ports()), ("x11", 6000..=6063));
    /// ```
    pub fn ports(&self) -> RangeInclusive<u16> {
        RANGES
            .iter()
            .find(|r| r.low == self.port && entry(r) == Some(self))
            .map_or(self.port..=self.port, |r| r.low..=r.high)
    }
}

/// A registry row as compiled in: the strings are byte ranges of `STRINGS`.
struct Record {
    port: u16,
    transport: Transport,
    name_at: u32,
    name_len: u16,
    description_at: u32,
    description_len: u16,
}

/// A registry row covering more than one port; `entry` indexes `RECORDS`,
/// where the row sits at its low port.
struct PortRange {
    low: u16,
    high: u16,
    entry: u16,
}

// STRINGS: &str, RECORDS: [Record; _], PORTS: [u16; _] (RECORDS[i].port, so
// the binary search walks 24 KB instead of the 190 KB of records),
// TCP_NAMED, UDP_NAMED: [u64; 1024] (bit p set: the port has an entry for
// that transport), RANGES: [PortRange; _], NAME_INDEX: [u16; _].
include!(concat!(env!("OUT_DIR"), "/services_table.rs"));

/// The registry as [`Service`] values, in `RECORDS` order, built on first
/// use: one pass over the compiled-in records, no parsing. Storing `Service`
/// (two `&str` each) directly in the binary would need a load-time
/// relocation per pointer, paid on every start whether or not a port is
/// ever named.
fn entries() -> &'static [Service] {
    static ENTRIES: OnceLock<Box<[Service]>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        let text = |at: u32, len: u16| {
            let at = usize::try_from(at).unwrap_or(usize::MAX);
            STRINGS
                .get(at..at.saturating_add(usize::from(len)))
                .unwrap_or("")
        };
        RECORDS
            .iter()
            .map(|r| Service {
                name: text(r.name_at, r.name_len),
                port: r.port,
                transport: r.transport,
                description: text(r.description_at, r.description_len),
            })
            .collect()
    })
}

fn entry(range: &PortRange) -> Option<&'static Service> {
    entries().get(usize::from(range.entry))
}

/// The entries of `table` (sorted by port) whose port is `port`.
fn port_run(table: &'static [Service], port: u16) -> &'static [Service] {
    let start = table.partition_point(|s| s.port < port);
    let rest = table.get(start..).unwrap_or(&[]);
    let len = rest.partition_point(|s| s.port == port);
    rest.get(..len).unwrap_or(&[])
}

/// Registry entries whose port is exactly `port` (range assignments
/// included when `port` is their first port), in registry order. A port with
/// no entry costs one binary search over `PORTS` and never touches the
/// entries.
fn registry_run(port: u16) -> &'static [Service] {
    let start = PORTS.partition_point(|&p| p < port);
    let len = PORTS
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .take_while(|&&p| p == port)
        .count();
    if len == 0 {
        return &[];
    }
    entries().get(start..start + len).unwrap_or(&[])
}

/// A bitmap over all 65536 ports, one bit each.
type PortBits = [u64; 1024];

fn bit(bits: &PortBits, port: u16) -> bool {
    bits.get(usize::from(port / 64))
        .is_some_and(|word| word & (1 << (port % 64)) != 0)
}

/// Whether the registry may have an entry for `port` over `t`: exact for
/// TCP and UDP (a bit test, so the common unnamed port costs no search),
/// always `true` for the rarely looked-up SCTP and DCCP.
fn registry_may_name(port: u16, t: Transport) -> bool {
    match t {
        Transport::Tcp => bit(&TCP_NAMED, port),
        Transport::Udp => bit(&UDP_NAMED, port),
        Transport::Sctp | Transport::Dccp => true,
    }
}

/// Range assignments that cover `port` but start below it.
fn ranges_over(port: u16) -> impl Iterator<Item = &'static Service> {
    RANGES
        .iter()
        .filter(move |r| r.low < port && port <= r.high)
        .filter_map(entry)
}

/// Registry entries covering `port`, in registry order: range assignments
/// that started below `port` (they are listed earlier), then those at `port`.
fn registry_entries(port: u16) -> impl Iterator<Item = &'static Service> {
    ranges_over(port).chain(registry_run(port))
}

/// Byte-wise order of `a` and `b` after ASCII lower-casing, without
/// allocating; the order `build.rs` sorts `NAME_INDEX` by.
fn cmp_ignore_ascii_case(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// The primary service name for a socket's local port: the first one the
/// IANA registry lists for that port and transport, else the first from
/// `/etc/services`. `None` for raw and unix sockets and unnamed ports.
///
/// Does not allocate, except once per process to read `/etc/services` the
/// first time the registry has no answer.
///
/// ```
/// use portscope::{model::Proto, services::lookup};
/// assert_eq!(lookup(22, Proto::Tcp).map(|s| s.name), Some("ssh"));
/// assert_eq!(lookup(22, Proto::Unix), None);
/// ```
pub fn lookup(port: u16, proto: Proto) -> Option<&'static Service> {
    lookup_transport(port, Transport::from_proto(proto)?)
}

/// Like [`lookup`], for any registry transport (SCTP and DCCP included).
pub fn lookup_transport(port: u16, t: Transport) -> Option<&'static Service> {
    if registry_may_name(port, t) {
        // Spelled out rather than through registry_entries(): this is the
        // per-socket path, and the iterator chain measured about twice as slow.
        for r in &RANGES {
            if r.low < port
                && port <= r.high
                && let Some(s) = entry(r).filter(|s| s.transport == t)
            {
                return Some(s);
            }
        }
        if let Some(s) = registry_run(port).iter().find(|s| s.transport == t) {
            return Some(s);
        }
    }
    etc_services::extras().lookup(port, t)
}

/// Every entry for `port`: all transports and all names, registry order,
/// then additions from `/etc/services`.
///
/// ```
/// use portscope::services::all_for_port;
/// let names: Vec<&str> = all_for_port(80).iter().map(|s| s.name).collect();
/// assert_eq!(names[0], "http");
/// assert!(names.contains(&"www-http"));
/// ```
pub fn all_for_port(port: u16) -> Vec<&'static Service> {
    registry_entries(port)
        .chain(etc_services::extras().for_port(port))
        .collect()
}

/// Every entry called `name` (ASCII case ignored), all transports, from the
/// registry (by port) and then from `/etc/services` (aliases included).
///
/// ```
/// use portscope::services::{by_name, Transport};
/// let ssh = by_name("SSH");
/// assert!(ssh.iter().any(|s| s.port == 22 && s.transport == Transport::Tcp));
/// ```
pub fn by_name(name: &str) -> Vec<&'static Service> {
    let entries = entries();
    let name_of = |i: &u16| entries.get(usize::from(*i)).map_or("", |s| s.name);
    let start = NAME_INDEX.partition_point(|i| cmp_ignore_ascii_case(name_of(i), name).is_lt());
    NAME_INDEX
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .take_while(|i| name_of(i).eq_ignore_ascii_case(name))
        .filter_map(|i| entries.get(usize::from(*i)))
        .chain(etc_services::extras().named(name))
        .collect()
}

/// The one port a service name stands for on `t`, as `getservbyname(3)`
/// answers it: from this machine's `/etc/services` (name or alias) when it
/// knows the name, else the registry's first entry. Tools that take `:http-alt` on a command line
/// (ss among them) resolve names this way, so a name the registry gives
/// several ports (http-alt: 591, 8008, 8080) still means one port.
///
/// ```
/// use portscope::services::{port_by_name, Transport};
/// assert_eq!(port_by_name("ssh", Transport::Tcp), Some(22));
/// assert_eq!(port_by_name("no-such-service-xyz", Transport::Tcp), None);
/// ```
pub fn port_by_name(name: &str, t: Transport) -> Option<u16> {
    let named = |(n, _, _, aliases): &&etc_services::EtcEntry| {
        n.eq_ignore_ascii_case(name) || aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    };
    let mut system = etc_services::system_entries()
        .iter()
        .filter(named)
        .peekable();
    if system.peek().is_some() {
        // The system knows the name: its answer stands, as getservbyname's would.
        return system.find(|(_, _, tr, _)| *tr == t).map(|(_, p, _, _)| *p);
    }
    by_name(name)
        .into_iter()
        .find(|s| s.transport == t)
        .map(|s| s.port)
}

#[cfg(test)]
mod tests;
