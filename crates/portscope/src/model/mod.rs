//! The data portscope talks about: sockets, their endpoints and states, the
//! processes that hold them, and a whole-machine [`Snapshot`].
//!
//! This module does no I/O. Collectors fill these types; filters and renderers
//! read them. Here: the kinds (protocol, family, state, unix type) and the
//! [`Query`]; by concern: `socket.rs`, `endpoint.rs`, `process.rs`,
//! `tcp_info.rs` (optional details), `snapshot.rs`. Every type is at
//! `portscope::model::*`.

use std::fmt;
mod cgroup;
mod endpoint;
mod family;
mod netns;
mod process;
mod process_details;
mod resolved;
mod snapshot;
mod sock_filter;
mod socket;
mod tcp_info;

pub use cgroup::Cgroup;
pub use endpoint::Endpoint;
pub use family::{
    EthProto, NetlinkInfo, NetlinkProto, PacketFanout, PacketInfo, PacketMembership, PacketRing,
    PacketType,
};
pub use netns::{Container, ForwardTo, Netns, PortMap, PortMaps, Runtime};
pub use process::{Owner, Process};
pub use process_details::ProcessDetails;
pub use resolved::Resolved;
pub use snapshot::{HiddenOwners, Snapshot, Source};
pub use sock_filter::SockFilter;
pub use socket::{Shown, Socket};
pub use tcp_info::{CongName, Detail, SkMemInfo, SocketExtra, TcpInfo, Timer, TimerKind};

/// A name that is none of an enum's spellings (as its `as_str` writes them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownName {
    /// What was being parsed: `proto`, `family`, `state`, ….
    pub what: &'static str,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {}", self.what)
    }
}

impl std::error::Error for UnknownName {}

/// `FromStr` for an enum whose `ALL` values each spell one name with `as_str`.
macro_rules! from_as_str {
    ($ty:ty, $what:literal) => {
        impl ::std::str::FromStr for $ty {
            type Err = $crate::model::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or($crate::model::UnknownName { what: $what })
            }
        }
    };
}
pub(crate) use from_as_str;

/// Transport protocol of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP (and UDP-Lite).
    Udp,
    /// Raw IP sockets (ping, routing daemons, packet tools).
    Raw,
    /// Unix domain sockets.
    Unix,
    /// Packet sockets (`AF_PACKET`): link-layer frames, as sniffers, DHCP
    /// clients and capture tools use them.
    Packet,
    /// Netlink sockets (`AF_NETLINK`): messages to and from the kernel.
    Netlink,
    /// Multipath TCP (`IPPROTO_MPTCP`), the MPTCP-level socket; its
    /// subflows are TCP sockets.
    Mptcp,
}

impl Proto {
    /// Every protocol.
    pub const ALL: [Proto; 7] = [
        Proto::Tcp,
        Proto::Udp,
        Proto::Raw,
        Proto::Unix,
        Proto::Packet,
        Proto::Netlink,
        Proto::Mptcp,
    ];

    /// The lower-case name used in JSON and tables (`tcp`, `udp`, `raw`,
    /// `unix`, `packet`, `netlink`, `mptcp`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Raw => "raw",
            Proto::Unix => "unix",
            Proto::Packet => "packet",
            Proto::Netlink => "netlink",
            Proto::Mptcp => "mptcp",
        }
    }

    /// Whether sockets of this protocol have IP addresses and ports (TCP,
    /// UDP, raw, MPTCP).
    pub const fn is_ip(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp | Proto::Raw | Proto::Mptcp)
    }
}

from_as_str!(Proto, "proto");

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address family of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
    /// Unix domain (`AF_UNIX`).
    Unix,
    /// Link layer (`AF_PACKET`).
    Packet,
    /// Netlink (`AF_NETLINK`).
    Netlink,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 5] = [
        Family::Inet,
        Family::Inet6,
        Family::Unix,
        Family::Packet,
        Family::Netlink,
    ];

    /// The name used in JSON (`inet`, `inet6`, `unix`, `packet`, `netlink`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
            Family::Packet => "packet",
            Family::Netlink => "netlink",
        }
    }
}

from_as_str!(Family, "family");

/// Socket state, numbered as the kernel numbers TCP states (`include/net/tcp_states.h`).
///
/// UDP, raw and unix sockets reuse the same numbers: `Close` means unconnected
/// (shown as `UNCONN`), `Established` means connected, `Listen` a listening
/// unix socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TcpState {
    /// ESTABLISHED (1).
    Established = 1,
    /// SYN_SENT (2).
    SynSent = 2,
    /// SYN_RECV (3).
    SynRecv = 3,
    /// FIN_WAIT1 (4).
    FinWait1 = 4,
    /// FIN_WAIT2 (5).
    FinWait2 = 5,
    /// TIME_WAIT (6).
    TimeWait = 6,
    /// CLOSE (7); for UDP/raw/unix: unconnected.
    Close = 7,
    /// CLOSE_WAIT (8).
    CloseWait = 8,
    /// LAST_ACK (9).
    LastAck = 9,
    /// LISTEN (10).
    Listen = 10,
    /// CLOSING (11).
    Closing = 11,
    /// NEW_SYN_RECV (12): a request socket; reported as SYN_RECV.
    NewSynRecv = 12,
}

impl TcpState {
    /// All states, in kernel order.
    pub const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::NewSynRecv,
    ];

    /// The state for a kernel state number, if it is one.
    pub const fn from_kernel(n: u8) -> Option<TcpState> {
        Some(match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            12 => TcpState::NewSynRecv,
            _ => return None,
        })
    }

    /// The kernel's number for this state.
    pub const fn kernel(self) -> u8 {
        self as u8
    }

    /// The bit for this state in a sock_diag state mask (`1 << state`).
    pub const fn mask_bit(self) -> u32 {
        1 << (self as u8)
    }

    /// The state as netstat spells it for a socket of `proto`.
    ///
    /// ```
    /// use portscope::model::{Proto, TcpState};
    /// assert_eq!(TcpState::Close.name_for(Proto::Udp), "UNCONN");
    /// assert_eq!(TcpState::Close.name_for(Proto::Tcp), "CLOSE");
    /// assert_eq!(TcpState::FinWait2.name_for(Proto::Tcp), "FIN_WAIT2");
    /// ```
    pub const fn name_for(self, proto: Proto) -> &'static str {
        match (self, proto) {
            (
                TcpState::Close,
                Proto::Udp | Proto::Raw | Proto::Unix | Proto::Packet | Proto::Netlink,
            ) => "UNCONN",
            _ => self.name(),
        }
    }

    /// The TCP state name as netstat spells it.
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv | TcpState::NewSynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
        }
    }

    /// The TCP state name as netstat spells it (the same as [`TcpState::name`]).
    pub const fn as_str(self) -> &'static str {
        self.name()
    }

    /// Parses a netstat-spelled state name (as [`TcpState::name_for`] writes it).
    pub fn from_name(s: &str) -> Option<TcpState> {
        Some(match s {
            "ESTABLISHED" => TcpState::Established,
            "SYN_SENT" => TcpState::SynSent,
            "SYN_RECV" => TcpState::SynRecv,
            "FIN_WAIT1" => TcpState::FinWait1,
            "FIN_WAIT2" => TcpState::FinWait2,
            "TIME_WAIT" => TcpState::TimeWait,
            "CLOSE" | "UNCONN" => TcpState::Close,
            "CLOSE_WAIT" => TcpState::CloseWait,
            "LAST_ACK" => TcpState::LastAck,
            "LISTEN" => TcpState::Listen,
            "CLOSING" => TcpState::Closing,
            _ => return None,
        })
    }
}

impl std::str::FromStr for TcpState {
    type Err = UnknownName;
    /// As [`TcpState::from_name`]: `UNCONN` is [`TcpState::Close`].
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        TcpState::from_name(s).ok_or(UnknownName { what: "state" })
    }
}

/// A set of socket states, as the kernel's sock_diag state bitmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StateSet(pub u32);

impl StateSet {
    /// Every state.
    pub const ALL: StateSet = StateSet(0xffff_ffff);
    /// No state.
    pub const NONE: StateSet = StateSet(0);

    /// The set holding just `s`.
    pub const fn only(s: TcpState) -> StateSet {
        StateSet(s.mask_bit())
    }
    /// Whether `s` is in the set.
    pub const fn contains(self, s: TcpState) -> bool {
        self.0 & s.mask_bit() != 0
    }
    /// The set with `s` added.
    pub const fn with(self, s: TcpState) -> StateSet {
        StateSet(self.0 | s.mask_bit())
    }
    /// The set with `s` removed.
    pub const fn without(self, s: TcpState) -> StateSet {
        StateSet(self.0 & !s.mask_bit())
    }
}

/// Type of a unix domain socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnixType {
    /// `SOCK_STREAM`.
    Stream,
    /// `SOCK_DGRAM`.
    Dgram,
    /// `SOCK_SEQPACKET`.
    Seqpacket,
}

impl UnixType {
    /// Every type.
    pub const ALL: [UnixType; 3] = [UnixType::Stream, UnixType::Dgram, UnixType::Seqpacket];

    /// The type for a kernel `SOCK_*` number.
    pub const fn from_kernel(n: u32) -> Option<UnixType> {
        match n {
            1 => Some(UnixType::Stream),
            2 => Some(UnixType::Dgram),
            5 => Some(UnixType::Seqpacket),
            _ => None,
        }
    }
    /// The name used in JSON (`stream`, `dgram`, `seqpacket`).
    pub const fn as_str(self) -> &'static str {
        match self {
            UnixType::Stream => "stream",
            UnixType::Dgram => "dgram",
            UnixType::Seqpacket => "seqpacket",
        }
    }
}

from_as_str!(UnixType, "type");

/// Which sockets a collector should dump.
///
/// `Query::default()` is every TCP, UDP, raw and unix socket; packet,
/// netlink and MPTCP sockets are asked for by name. Collectors may return more than asked
/// (callers filter again); they must not return less.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    /// Include TCP sockets.
    pub tcp: bool,
    /// Include UDP sockets.
    pub udp: bool,
    /// Include raw sockets.
    pub raw: bool,
    /// Include unix sockets.
    pub unix: bool,
    /// Include packet sockets (`AF_PACKET`). Not in the default query:
    /// asked for by name (`-0`), or by the audit.
    pub packet: bool,
    /// Include netlink sockets. Not in the default query.
    pub netlink: bool,
    /// Include MPTCP sockets (of the families `ipv4`/`ipv6` select). Not
    /// in the default query.
    pub mptcp: bool,
    /// Include IPv4.
    pub ipv4: bool,
    /// Include IPv6.
    pub ipv6: bool,
    /// States wanted (applies to all protocols).
    pub states: StateSet,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            tcp: true,
            udp: true,
            raw: true,
            unix: true,
            packet: false,
            netlink: false,
            mptcp: false,
            ipv4: true,
            ipv6: true,
            states: StateSet::ALL,
        }
    }
}

impl Query {
    /// Sockets of `proto` only, of both families, in every state.
    pub fn only(proto: Proto) -> Query {
        Query {
            tcp: proto == Proto::Tcp,
            udp: proto == Proto::Udp,
            raw: proto == Proto::Raw,
            unix: proto == Proto::Unix,
            packet: proto == Proto::Packet,
            netlink: proto == Proto::Netlink,
            mptcp: proto == Proto::Mptcp,
            ..Query::default()
        }
    }

    /// Whether a socket of this kind is wanted by the query.
    pub fn wants(&self, s: &Socket) -> bool {
        let proto = match s.proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
            Proto::Raw => self.raw,
            Proto::Unix => self.unix,
            Proto::Packet => self.packet,
            Proto::Netlink => self.netlink,
            Proto::Mptcp => self.mptcp,
        };
        let family = match s.family {
            Family::Inet => self.ipv4,
            Family::Inet6 => self.ipv6,
            Family::Unix | Family::Packet | Family::Netlink => true,
        };
        proto && family && self.states.contains(s.state)
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn every_name_reads_back() {
        for p in Proto::ALL {
            assert_eq!(p.as_str().parse(), Ok(p));
        }
        for f in Family::ALL {
            assert_eq!(f.as_str().parse(), Ok(f));
        }
        for t in UnixType::ALL {
            assert_eq!(t.as_str().parse(), Ok(t));
        }
        for s in Source::ALL {
            assert_eq!(s.as_str().parse(), Ok(s));
        }
        for st in TcpState::ALL {
            // NEW_SYN_RECV is spelled SYN_RECV, as ss does.
            let back: TcpState = st.as_str().parse().expect("state");
            assert_eq!(back.name(), st.name());
        }
        assert_eq!("UNCONN".parse(), Ok(TcpState::Close));
        for k in [1, 2, 3, 4, 9] {
            let kind = TimerKind::from_kernel(k).expect("timer");
            let back: TimerKind = kind.as_str().parse().expect("kind");
            assert_eq!(back.as_str(), kind.as_str());
        }
        assert_eq!("TCP".parse::<Proto>(), Err(UnknownName { what: "proto" }));
        assert!("".parse::<TimerKind>().is_err());
    }
}
