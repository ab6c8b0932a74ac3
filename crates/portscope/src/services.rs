//! The IANA service registry.
//!
//! STAND-IN: a handful of hard-coded entries with the registry's public API,
//! so that code depending on it (the filter language) compiles and can be
//! tested before the generated table lands. It is replaced wholesale by the
//! real module; nothing else belongs in this file.

use crate::model::Proto;

/// Transport protocol a registry entry is registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// One registry entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// Service name (`ssh`).
    pub name: &'static str,
    /// Port number.
    pub port: u16,
    /// Transport it is registered for.
    pub transport: Transport,
    /// Short description.
    pub description: &'static str,
}

/// Port ranges of RFC 6335.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortClass {
    /// 0–1023.
    System,
    /// 1024–49151.
    User,
    /// 49152–65535.
    Dynamic,
}

impl PortClass {
    /// The class of `port`.
    pub const fn of(port: u16) -> PortClass {
        match port {
            0..=1023 => PortClass::System,
            1024..=49151 => PortClass::User,
            _ => PortClass::Dynamic,
        }
    }

    /// `system`, `user` or `dynamic`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PortClass::System => "system",
            PortClass::User => "user",
            PortClass::Dynamic => "dynamic",
        }
    }
}

const fn entry(name: &'static str, port: u16, transport: Transport) -> Service {
    Service {
        name,
        port,
        transport,
        description: "",
    }
}

static TABLE: [Service; 12] = [
    entry("ssh", 22, Transport::Tcp),
    entry("ssh", 22, Transport::Udp),
    entry("domain", 53, Transport::Tcp),
    entry("domain", 53, Transport::Udp),
    entry("http", 80, Transport::Tcp),
    entry("http", 80, Transport::Udp),
    entry("https", 443, Transport::Tcp),
    entry("https", 443, Transport::Udp),
    entry("postgresql", 5432, Transport::Tcp),
    entry("postgresql", 5432, Transport::Udp),
    entry("http-alt", 8080, Transport::Tcp),
    entry("http-alt", 8080, Transport::Udp),
];

/// Every entry registered under `name` (case-insensitive), any transport.
pub fn by_name(name: &str) -> Vec<&'static Service> {
    TABLE
        .iter()
        .filter(|s| s.name.eq_ignore_ascii_case(name))
        .collect()
}

/// The entry for `port` on the transport matching `proto`, if any.
pub fn lookup(port: u16, proto: Proto) -> Option<&'static Service> {
    let transport = match proto {
        Proto::Tcp => Transport::Tcp,
        Proto::Udp => Transport::Udp,
        Proto::Raw | Proto::Unix => return None,
    };
    TABLE
        .iter()
        .find(|s| s.port == port && s.transport == transport)
}
