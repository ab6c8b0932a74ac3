//! The data portscope talks about: sockets, their endpoints and states, the
//! processes that hold them, and a whole-machine [`Snapshot`].
//!
//! This module does no I/O. Collectors fill these types; filters and renderers
//! read them.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
}

impl Proto {
    /// The lower-case name used in JSON and tables (`tcp`, `udp`, `raw`, `unix`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Raw => "raw",
            Proto::Unix => "unix",
        }
    }
}

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
}

impl Family {
    /// The name used in JSON (`inet`, `inet6`, `unix`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
        }
    }
}

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
            (TcpState::Close, Proto::Udp | Proto::Raw | Proto::Unix) => "UNCONN",
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
        /// Filesystem path, `@name` for abstract names, `None` when unnamed.
        path: Option<Box<str>>,
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
    /// and for unix `path inode` (`*` for no name).
    ///
    /// ```
    /// use portscope::model::Endpoint;
    /// assert_eq!(Endpoint::v4([127, 0, 0, 1].into(), 80).to_string(), "127.0.0.1:80");
    /// assert_eq!(Endpoint::v6(std::net::Ipv6Addr::UNSPECIFIED, 0).to_string(), "[::]:*");
    /// let u = Endpoint::Unix { path: Some("@x".into()), inode: 7 };
    /// assert_eq!(u.to_string(), "@x 7");
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
            Endpoint::Unix { path, inode } => {
                write!(f, "{} {inode}", path.as_deref().unwrap_or("*"))
            }
        }
    }
}

/// One holder of a socket: a file descriptor in a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// File descriptor number in that process.
    pub fd: u32,
}

/// What is known of a process that holds sockets; read once per process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Short name (`/proc/<pid>/comm`).
    pub name: String,
    /// Full command line, arguments joined by spaces; empty for kernel threads.
    pub cmdline: String,
    /// Real user id.
    pub uid: Option<u32>,
    /// User name for `uid`, or the number when the name is unknown.
    pub user: Option<String>,
    /// Executable path (`/proc/<pid>/exe`), `None` when it can't be read.
    pub exe: Option<String>,
}

/// One socket, as the kernel reports it, with the processes that hold it.
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
    /// Owning user id, as the kernel records it.
    pub uid: u32,
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
}

impl Socket {
    /// The local port, for IP sockets.
    pub fn local_port(&self) -> Option<u16> {
        self.local.port()
    }
    /// True for what `ss -l` lists: a listening TCP or unix stream socket, or
    /// an unconnected UDP, raw or unix datagram socket.
    pub fn is_listening(&self) -> bool {
        match self.proto {
            Proto::Tcp => self.state == TcpState::Listen,
            Proto::Unix => {
                self.state == TcpState::Listen
                    || (self.unix_type == Some(UnixType::Dgram) && self.state == TcpState::Close)
            }
            Proto::Udp | Proto::Raw => self.state == TcpState::Close,
        }
    }
}

/// Which sockets a collector should dump. Collectors may return more than asked
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
            ipv4: true,
            ipv6: true,
            states: StateSet::ALL,
        }
    }
}

impl Query {
    /// Whether a socket of this kind is wanted by the query.
    pub fn wants(&self, s: &Socket) -> bool {
        let proto = match s.proto {
            Proto::Tcp => self.tcp,
            Proto::Udp => self.udp,
            Proto::Raw => self.raw,
            Proto::Unix => self.unix,
        };
        let family = match s.family {
            Family::Inet => self.ipv4,
            Family::Inet6 => self.ipv6,
            Family::Unix => true,
        };
        proto && family && self.states.contains(s.state)
    }
}

/// Why some owners could not be seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HiddenOwners {
    /// Processes whose fd table could not be read for lack of permission.
    pub processes: u32,
    /// Sockets (in this snapshot) whose owners may be incomplete because of it.
    pub sockets: u32,
}

/// Everything seen in one pass over the machine.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The sockets, in collector order.
    pub sockets: Vec<Socket>,
    /// Details of every process that owns one of `sockets`, by pid.
    pub processes: HashMap<u32, Process>,
    /// Owners that could not be seen, and why.
    pub hidden: HiddenOwners,
    /// Which source the sockets came from.
    pub source: Source,
    /// Notes for the user about this run (fallbacks taken); never errors.
    pub notes: Vec<String>,
}

/// Where socket data came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// NETLINK_SOCK_DIAG.
    #[default]
    Netlink,
    /// `/proc/net/*` text files.
    Procfs,
    /// A saved snapshot (JSON) read back.
    File,
}

impl Source {
    /// `netlink`, `procfs` or `file`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Netlink => "netlink",
            Source::Procfs => "procfs",
            Source::File => "file",
        }
    }
}
