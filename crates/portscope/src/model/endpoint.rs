//! One end of a socket: an IP address and port, or a unix name and inode.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{EthProto, NetlinkProto};
use crate::text::Text;

/// One end of a socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// An IP address and port (port 0 and the unspecified address mean "any").
    Inet {
        /// The address; for IPv6 sockets, v4-mapped addresses are kept as the kernel reports them.
        addr: IpAddr,
        /// The port, host byte order.
        port: u16,
    },
    /// A unix socket's name and inode.
    Unix {
        /// Filesystem path, or for an abstract name `@` and the name's bytes
        /// (embedded NULs kept); `None` when unnamed. Chosen by whoever bound it.
        path: Option<Text>,
        /// The inode of the socket this end belongs to (the peer's, for a remote end); 0 if unknown.
        inode: u64,
    },
    /// A packet socket's end: the link-layer protocol it takes and the
    /// interface it is bound to. A packet socket's remote end is
    /// `Link { protocol: 0, ifindex: 0 }`, shown `*`.
    Link {
        /// `ETH_P_*` number, host byte order ([`EthProto::ALL`] for every frame).
        protocol: u16,
        /// The interface index; 0 for every interface.
        ifindex: u32,
    },
    /// A netlink socket's end: its protocol and port id (the remote end:
    /// the port id it is connected to, 0 for the kernel or none).
    Netlink {
        /// `NETLINK_*` number.
        protocol: u8,
        /// The port id (`nl_pid`); 0 is the kernel.
        portid: u32,
    },
}

impl Endpoint {
    /// An IPv4 endpoint.
    pub const fn v4(addr: Ipv4Addr, port: u16) -> Endpoint {
        Endpoint::Inet {
            addr: IpAddr::V4(addr),
            port,
        }
    }
    /// An IPv6 endpoint.
    pub const fn v6(addr: Ipv6Addr, port: u16) -> Endpoint {
        Endpoint::Inet {
            addr: IpAddr::V6(addr),
            port,
        }
    }
    /// The port, for an IP endpoint.
    pub const fn port(&self) -> Option<u16> {
        match self {
            Endpoint::Inet { port, .. } => Some(*port),
            _ => None,
        }
    }
    /// A key ordering endpoints by family (IPv4, IPv6, unix, packet,
    /// netlink), address, then port; unix ends by path, packet ends by
    /// protocol (in the port's place), netlink ends by protocol then port id.
    pub fn sort_key(&self) -> (u8, IpAddr, u16, Option<&[u8]>) {
        let none = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        match self {
            Endpoint::Inet { addr, port } => (u8::from(addr.is_ipv6()), *addr, *port, None),
            Endpoint::Unix { path, .. } => (2, none, 0, path.as_ref().map(Text::as_bytes)),
            Endpoint::Link { protocol, ifindex } => {
                (3, IpAddr::V4(Ipv4Addr::from(*ifindex)), *protocol, None)
            }
            Endpoint::Netlink { protocol, portid } => (
                4,
                IpAddr::V4(Ipv4Addr::from(*portid)),
                u16::from(*protocol),
                None,
            ),
        }
    }

    /// The address, for an IP endpoint.
    pub const fn addr(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Inet { addr, .. } => Some(*addr),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    /// As ss prints it: `127.0.0.1:80`, `[::1]:443`, `0.0.0.0:*` (port 0 is `*`),
    /// and for unix `path inode` (`*` for no name; the path escaped, see
    /// [`crate::text`]).
    ///
    /// ```
    /// use portscope::model::Endpoint;
    /// assert_eq!(Endpoint::v4([127, 0, 0, 1].into(), 80).to_string(), "127.0.0.1:80");
    /// assert_eq!(Endpoint::v6(std::net::Ipv6Addr::UNSPECIFIED, 0).to_string(), "[::]:*");
    /// let u = Endpoint::Unix { path: Some("@x\n".into()), inode: 7 };
    /// assert_eq!(u.to_string(), "@x\\n 7");
    /// // Packet and netlink ends: protocol, then interface index or port id.
    /// assert_eq!(Endpoint::Link { protocol: 3, ifindex: 1 }.to_string(), "all:1");
    /// assert_eq!(Endpoint::Netlink { protocol: 0, portid: 42 }.to_string(), "rtnl:42");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Inet { addr, port } => {
                match addr {
                    IpAddr::V4(a) => write!(f, "{a}")?,
                    IpAddr::V6(a) => write!(f, "[{a}]")?,
                }
                if *port == 0 {
                    f.write_str(":*")
                } else {
                    write!(f, ":{port}")
                }
            }
            Endpoint::Unix { path, inode } => match path {
                Some(p) => write!(f, "{} {inode}", p.escaped()),
                None => write!(f, "* {inode}"),
            },
            Endpoint::Link {
                protocol: 0,
                ifindex: 0,
            } => f.write_str("*"),
            Endpoint::Link { protocol, ifindex } => {
                write!(f, "{}:", EthProto(*protocol))?;
                if *ifindex == 0 {
                    f.write_str("*")
                } else {
                    write!(f, "{ifindex}")
                }
            }
            Endpoint::Netlink { protocol, portid } => {
                write!(f, "{}:{portid}", NetlinkProto(*protocol))
            }
        }
    }
}
