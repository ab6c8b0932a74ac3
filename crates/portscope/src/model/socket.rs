//! One socket as the kernel reports it, and how its ends are shown.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::{Endpoint, Family, Owner, Proto, SocketExtra, TcpState, UnixType};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    /// Transport protocol.
    pub proto: Proto,
    /// Address family.
    pub family: Family,
    /// Local end.
    pub local: Endpoint,
    /// Remote end (unspecified address and port 0 when unconnected).
    pub remote: Endpoint,
    /// State.
    pub state: TcpState,
    /// Receive queue: bytes not yet read (for a listener: connections waiting in accept).
    pub recv_q: u32,
    /// Send queue: bytes not yet acknowledged (for a listener: the backlog).
    pub send_q: u32,
    /// Owning user id, as the kernel records it; `None` where the source
    /// does not say (unix sockets read from `/proc/net/unix`).
    pub uid: Option<u32>,
    /// Socket inode; 0 for sockets with no file (TIME_WAIT, request sockets).
    pub inode: u64,
    /// Unix socket type; `None` for IP sockets.
    pub unix_type: Option<UnixType>,
    /// The network interface the socket is bound to (`SO_BINDTODEVICE`), 0 if none.
    pub bound_if: u32,
    /// Every (pid, fd) that holds this socket.
    pub owners: Vec<Owner>,
    /// True when some process's fds could not be read, so owners may be missing.
    pub owners_hidden: bool,
    /// The kernel's socket cookie (sock_diag `idiag_cookie`/`udiag_cookie`):
    /// an identity that outlives inode 0 (TIME_WAIT, request sockets) and is
    /// never reused while the machine runs. 0 when unknown (the /proc source).
    pub cookie: u64,
    /// For an IPv6 socket listening or unbound (LISTEN, or UDP/raw
    /// unconnected): whether it is v6-only (`IPV6_V6ONLY`), i.e. does not
    /// also take IPv4 on `::`. `None` for other families, for other states
    /// (the kernel reports the flag only for those two) and where the
    /// source does not say. The /proc source has no per-socket flag and
    /// gives the system default (`net.ipv6.bindv6only`) instead.
    pub v6only: Option<bool>,
    /// Details asked for with [`Detail`](super::Detail) (TCP internals, memory, timers);
    /// `None` when none were asked for or the source had none. Boxed so a
    /// plain listing pays one pointer per socket for it.
    pub extra: Option<Box<SocketExtra>>,
    /// The network namespace the socket lives in; `None` where the source
    /// does not say (an older recording). Shared by every socket of the
    /// namespace.
    pub netns: Option<std::sync::Arc<super::Netns>>,
    /// The cgroup the socket was created in (inet_diag's
    /// `INET_DIAG_CGROUP_ID`: the cgroup v2 id, the inode of its directory);
    /// 0 where the source does not say.
    pub cgroup_id: u64,
}

impl Default for Socket {
    /// An unconnected TCP/IPv4 socket on `0.0.0.0:*` with nothing else known:
    /// a base for `Socket { proto, local, ..Default::default() }`.
    fn default() -> Self {
        let any = Endpoint::v4(Ipv4Addr::UNSPECIFIED, 0);
        Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: any.clone(),
            remote: any,
            state: TcpState::Close,
            recv_q: 0,
            send_q: 0,
            uid: None,
            inode: 0,
            unix_type: None,
            bound_if: 0,
            owners: Vec::new(),
            owners_hidden: false,
            cookie: 0,
            v6only: None,
            extra: None,
            netns: None,
            cgroup_id: 0,
        }
    }
}

/// An end of a socket as `ss` shows it: like [`Endpoint`]'s `Display`,
/// except that the IPv6 wildcard of a socket known to take IPv4 too
/// (`v6only` false) is `*` (`*:22`, `*:*`), and `[::]` only when it is
/// v6-only (or not known).
///
/// ```
/// use portscope::model::{Endpoint, Family, Socket, TcpState};
/// use std::net::Ipv6Addr;
/// let mut s = Socket {
///     family: Family::Inet6,
///     local: Endpoint::v6(Ipv6Addr::UNSPECIFIED, 22),
///     remote: Endpoint::v6(Ipv6Addr::UNSPECIFIED, 0),
///     state: TcpState::Listen,
///     v6only: Some(false),
///     ..Socket::default()
/// };
/// assert_eq!((s.shown_local().to_string(), s.shown_remote().to_string()), ("*:22".into(), "*:*".into()));
/// s.v6only = Some(true);
/// assert_eq!((s.shown_local().to_string(), s.shown_remote().to_string()), ("[::]:22".into(), "[::]:*".into()));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Shown<'a> {
    end: &'a Endpoint,
    dual_stack: bool,
    /// A packet socket's interface name, when known.
    iface: Option<&'a crate::text::Text>,
    /// The remote end of an unconnected netlink socket (shown `*`).
    no_peer: bool,
    /// The local end (a netlink port id 0 there is the kernel's socket).
    local: bool,
}

impl fmt::Display for Shown<'_> {
    /// Packet ends as `protocol:interface` (`all:lo`, `ip:*`), netlink ends
    /// as `protocol:portid` (`rtnl:kernel` for the kernel's own socket),
    /// `*` for an end with no peer; interface names escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
            Endpoint::Link { protocol, ifindex } if *ifindex != 0 || *protocol != 0 => {
                match (self.iface, ifindex) {
                    (_, 0) => write!(f, "{}:*", super::EthProto(*protocol)),
                    (Some(name), _) => {
                        write!(f, "{}:{}", super::EthProto(*protocol), name.escaped())
                    }
                    (None, i) => write!(f, "{}:{i}", super::EthProto(*protocol)),
                }
            }
            Endpoint::Netlink { .. } if self.no_peer => f.write_str("*"),
            Endpoint::Netlink {
                protocol,
                portid: 0,
            } if self.local => write!(f, "{}:kernel", super::NetlinkProto(*protocol)),
            Endpoint::Inet {
                addr: IpAddr::V6(a),
                port,
            } if self.dual_stack && a.is_unspecified() => {
                if *port == 0 {
                    f.write_str("*:*")
                } else {
                    write!(f, "*:{port}")
                }
            }
            other => fmt::Display::fmt(other, f),
        }
    }
}

impl Socket {
    /// The local end as `ss` shows it (see [`Shown`]).
    pub fn shown_local(&self) -> Shown<'_> {
        Shown {
            end: &self.local,
            dual_stack: self.v6only == Some(false),
            iface: self.packet().and_then(|p| p.interface.as_ref()),
            no_peer: false,
            local: true,
        }
    }

    /// The remote end as `ss` shows it (see [`Shown`]).
    pub fn shown_remote(&self) -> Shown<'_> {
        Shown {
            end: &self.remote,
            dual_stack: self.v6only == Some(false),
            iface: None,
            no_peer: self.proto == Proto::Netlink && self.state != TcpState::Established,
            local: false,
        }
    }

    /// A packet socket's details, if this is one and they are known.
    pub fn packet(&self) -> Option<&super::PacketInfo> {
        self.extra.as_ref().and_then(|x| x.packet.as_ref())
    }

    /// A netlink socket's details, if this is one and they are known.
    pub fn netlink(&self) -> Option<&super::NetlinkInfo> {
        self.extra.as_ref().and_then(|x| x.netlink.as_ref())
    }

    /// Whether this socket takes IPv4 traffic: an IPv4 socket, or an IPv6
    /// one bound to `::` that is not v6-only. `system_dual_stack`
    /// (`net.ipv6.bindv6only` is 0) decides only when the socket's own
    /// flag is not known.
    pub fn takes_ipv4(&self, system_dual_stack: bool) -> bool {
        match self.local.addr() {
            Some(IpAddr::V4(_)) => true,
            Some(IpAddr::V6(a)) if a.is_unspecified() => {
                self.v6only.map_or(system_dual_stack, |only| !only)
            }
            Some(IpAddr::V6(a)) => a.to_ipv4_mapped().is_some(),
            None => false,
        }
    }

    /// The local port, for IP sockets.
    pub fn local_port(&self) -> Option<u16> {
        self.local.port()
    }
    /// True for what `ss -l` lists: a listening TCP, MPTCP or unix stream
    /// socket, or an unconnected UDP, raw, unix datagram, packet or netlink
    /// socket.
    pub fn is_listening(&self) -> bool {
        match self.proto {
            Proto::Tcp | Proto::Mptcp => self.state == TcpState::Listen,
            Proto::Unix => {
                self.state == TcpState::Listen
                    || (self.unix_type == Some(UnixType::Dgram) && self.state == TcpState::Close)
            }
            Proto::Udp | Proto::Raw | Proto::Packet | Proto::Netlink => {
                self.state == TcpState::Close
            }
        }
    }
}
