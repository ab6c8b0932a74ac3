//! One end of a socket: an IP address and port, or a unix name and inode.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
            Endpoint::Unix { .. } => None,
        }
    }
    /// A key ordering endpoints by family (IPv4, IPv6, unix), address, then
    /// port; unix ends by path.
    pub fn sort_key(&self) -> (u8, IpAddr, u16, Option<&[u8]>) {
        match self {
            Endpoint::Inet { addr, port } => (u8::from(addr.is_ipv6()), *addr, *port, None),
            Endpoint::Unix { path, .. } => (
                2,
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                0,
                path.as_ref().map(Text::as_bytes),
            ),
        }
    }

    /// The address, for an IP endpoint.
    pub const fn addr(&self) -> Option<IpAddr> {
        match self {
            Endpoint::Inet { addr, .. } => Some(*addr),
            Endpoint::Unix { .. } => None,
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
        }
    }
}
