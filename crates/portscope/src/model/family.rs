//! What packet and netlink sockets carry beyond the common [`Socket`](super::Socket)
//! fields: a packet socket's link-layer protocol, type, memberships
//! (promiscuous mode), fanout, rings and filter; a netlink socket's
//! protocol, groups and peer. Their ends are [`Endpoint::Link`](super::Endpoint::Link)
//! and [`Endpoint::Netlink`](super::Endpoint::Netlink); the rest lives in
//! [`SocketExtra`](super::SocketExtra), so the common socket stays small.

use std::fmt;

use crate::text::Text;

/// A link-layer protocol number (`ETH_P_*`), host byte order, as a packet
/// socket is bound to it.
///
/// ```
/// use portscope::model::EthProto;
/// assert_eq!(EthProto::ALL.to_string(), "all");
/// assert_eq!(EthProto(0x0800).to_string(), "ip");
/// assert_eq!(EthProto(0x1234).to_string(), "0x1234");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EthProto(pub u16);

impl EthProto {
    /// `ETH_P_ALL`: every frame, whatever its protocol (what a sniffer binds).
    pub const ALL: EthProto = EthProto(0x0003);

    /// The name for the protocols a packet socket is commonly bound to
    /// (`all`, `ip`, `ipv6`, `arp`, …); `None` for others, which are shown
    /// in hex.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0000 => "none",
            0x0003 => "all",
            0x0004 => "802_2",
            0x0800 => "ip",
            0x0806 => "arp",
            0x8035 => "rarp",
            0x86dd => "ipv6",
            0x8100 => "802.1q",
            0x88a8 => "802.1ad",
            0x8863 => "pppoe-disc",
            0x8864 => "pppoe-sess",
            0x888e => "eapol",
            0x88cc => "lldp",
            0x8847 => "mpls-uc",
            0x8848 => "mpls-mc",
            0x88f7 => "ptp",
            0x893a => "ieee1905",
            _ => return None,
        })
    }
}

impl fmt::Display for EthProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// A packet socket's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PacketType {
    /// `SOCK_RAW`: whole frames, link-layer header included (ss `p_raw`).
    Raw,
    /// `SOCK_DGRAM`: frames without their link-layer header (ss `p_dgr`).
    Dgram,
}

impl PacketType {
    /// Every type.
    pub const ALL: [PacketType; 2] = [PacketType::Raw, PacketType::Dgram];

    /// The type for a kernel `SOCK_*` number.
    pub const fn from_kernel(n: u8) -> Option<PacketType> {
        match n {
            3 => Some(PacketType::Raw),
            2 => Some(PacketType::Dgram),
            _ => None,
        }
    }

    /// `raw` or `dgram`, as JSON has them.
    pub const fn as_str(self) -> &'static str {
        match self {
            PacketType::Raw => "raw",
            PacketType::Dgram => "dgram",
        }
    }
}

super::from_as_str!(PacketType, "packet type");

/// One membership a packet socket holds on an interface
/// (`PACKET_ADD_MEMBERSHIP`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketMembership {
    /// The interface index.
    pub ifindex: u32,
    /// `PACKET_MR_*`: 0 multicast, 1 promiscuous, 2 all-multicast, 3 unicast.
    pub kind: u16,
    /// How many times it was added.
    pub count: u32,
}

impl PacketMembership {
    /// `PACKET_MR_PROMISC`.
    pub const PROMISC: u16 = 1;

    /// `multicast`, `promisc`, `allmulti`, `unicast`, or `unknown`.
    pub const fn kind_str(&self) -> &'static str {
        match self.kind {
            0 => "multicast",
            1 => "promisc",
            2 => "allmulti",
            3 => "unicast",
            _ => "unknown",
        }
    }
}

/// A packet socket's fanout group (`PACKET_FANOUT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketFanout {
    /// The group id.
    pub id: u16,
    /// `PACKET_FANOUT_*` mode in the low byte, flags in the high byte.
    pub mode: u16,
}

/// A packet socket's mapped ring (`PACKET_RX_RING`/`PACKET_TX_RING`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketRing {
    /// Bytes per block.
    pub block_size: u32,
    /// Blocks.
    pub block_nr: u32,
    /// Bytes per frame.
    pub frame_size: u32,
    /// Frames.
    pub frame_nr: u32,
}

/// What a packet socket is, beyond its end ([`Endpoint::Link`](super::Endpoint::Link)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    /// Raw or datagram.
    pub kind: PacketType,
    /// The interface's name, when the collector could resolve the index
    /// (in the socket's own namespace); chosen by whoever named the link.
    pub interface: Option<Text>,
    /// Memberships: multicast groups, promiscuous and all-multicast mode.
    pub memberships: Vec<PacketMembership>,
    /// The fanout group, if any.
    pub fanout: Option<PacketFanout>,
    /// The receive ring, if mapped.
    pub rx_ring: Option<PacketRing>,
    /// The transmit ring, if mapped.
    pub tx_ring: Option<PacketRing>,
    /// The attached classic BPF filter: `Some(Some(n))` with `n`
    /// instructions, `Some(None)` when none is attached, `None` when the
    /// kernel would not say (reading it needs CAP_NET_ADMIN).
    pub filter: Option<Option<u32>>,
    /// `TPACKET_V*` version in use (0 for V1).
    pub version: u32,
}

impl PacketInfo {
    /// Whether the socket holds promiscuous mode on some interface.
    pub fn promiscuous(&self) -> bool {
        self.memberships
            .iter()
            .any(|m| m.kind == PacketMembership::PROMISC)
    }
}

/// A netlink protocol number (`NETLINK_*`).
///
/// ```
/// use portscope::model::NetlinkProto;
/// assert_eq!(NetlinkProto(0).to_string(), "rtnl");
/// assert_eq!(NetlinkProto(4).to_string(), "tcpdiag");
/// assert_eq!(NetlinkProto(200).to_string(), "200");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetlinkProto(pub u8);

impl NetlinkProto {
    /// The name `ss` gives the protocol (`rtnl`, `audit`, `uevent`, `genl`,
    /// `tcpdiag` for sock_diag, …); `None` for numbers it has no name for.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "rtnl",
            1 => "unused",
            2 => "usersock",
            3 => "fw",
            4 => "tcpdiag",
            5 => "nflog",
            6 => "xfrm",
            7 => "selinux",
            8 => "iscsi",
            9 => "audit",
            10 => "fiblookup",
            11 => "connector",
            12 => "nft",
            13 => "ip6fw",
            14 => "dec-rt",
            15 => "uevent",
            16 => "genl",
            18 => "scsitrans",
            19 => "ecryptfs",
            20 => "rdma",
            21 => "crypto",
            22 => "smc",
            _ => return None,
        })
    }
}

impl fmt::Display for NetlinkProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}", self.0),
        }
    }
}

/// What a netlink socket is, beyond its ends ([`Endpoint::Netlink`](super::Endpoint::Netlink)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetlinkInfo {
    /// The multicast groups it listens to (numbered from 1).
    pub groups: Vec<u32>,
    /// The group it sends to by default (0 for none).
    pub dst_group: u32,
}
