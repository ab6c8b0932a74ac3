//! TEMP stand-in until the registry lands.
#![allow(missing_docs, dead_code)]
use crate::model::Proto;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
    Sctp,
    Dccp,
}
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    pub transport: Transport,
    pub description: &'static str,
}
static T: [Service; 2] = [
    Service {
        name: "ssh",
        port: 22,
        transport: Transport::Tcp,
        description: "SSH",
    },
    Service {
        name: "https",
        port: 443,
        transport: Transport::Tcp,
        description: "http over tls",
    },
];
pub fn lookup(port: u16, _p: Proto) -> Option<&'static Service> {
    T.iter().find(|s| s.port == port)
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortClass {
    System,
    User,
    Dynamic,
}
impl PortClass {
    pub fn of(p: u16) -> Self {
        if p < 1024 {
            Self::System
        } else if p < 49152 {
            Self::User
        } else {
            Self::Dynamic
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Dynamic => "dynamic",
        }
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EphemeralRange {
    pub low: u16,
    pub high: u16,
}
impl EphemeralRange {
    pub fn contains(&self, p: u16) -> bool {
        p >= self.low && p <= self.high
    }
}
pub fn ephemeral_range() -> Option<EphemeralRange> {
    Some(EphemeralRange {
        low: 32768,
        high: 60999,
    })
}
pub fn by_name(n: &str) -> Vec<&'static Service> {
    T.iter()
        .filter(|s| s.name.eq_ignore_ascii_case(n))
        .collect()
}
pub fn all_for_port(p: u16) -> Vec<&'static Service> {
    T.iter().filter(|s| s.port == p).collect()
}
impl Transport {
    pub fn as_str(self) -> &'static str {
        "tcp"
    }
}
impl PortClass {
    pub fn description(self) -> &'static str {
        "x"
    }
}
