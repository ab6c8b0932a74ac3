//! The data portscope talks about: sockets, their endpoints and states, the
//! processes that hold them, and a whole-machine [`Snapshot`].
//!
//! This module does no I/O. Collectors fill these types; filters and renderers
//! read them.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::text::Text;

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
    /// Short name (`/proc/<pid>/comm`, at most 15 bytes), as the process set it.
    pub name: Text,
    /// Full command line, arguments joined by spaces; empty for kernel threads.
    pub cmdline: Text,
    /// Real user id.
    pub uid: Option<u32>,
    /// User name for `uid`, or the number when the name is unknown.
    pub user: Option<Text>,
    /// Effective user id: whose rights the process has (differs from `uid`
    /// for a setuid program).
    pub euid: Option<u32>,
    /// User name for `euid`, or the number when the name is unknown.
    pub euser: Option<Text>,
    /// Executable path (`/proc/<pid>/exe`, with the kernel's ` (deleted)`
    /// mark when the file is gone), `None` when it can't be read.
    pub exe: Option<Text>,
}

impl Process {
    /// The user whose rights the process has: the effective user, or the
    /// real one when the effective one is unknown. What people are shown.
    pub fn shown_user(&self) -> Option<&Text> {
        self.euser.as_ref().or(self.user.as_ref())
    }

    /// The effective uid, or the real one when the effective one is unknown.
    pub fn effective_uid(&self) -> Option<u32> {
        self.euid.or(self.uid)
    }
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
    /// Details asked for with [`Detail`] (TCP internals, memory, timers);
    /// `None` when none were asked for or the source had none. Boxed so a
    /// plain listing pays one pointer per socket for it.
    pub extra: Option<Box<SocketExtra>>,
}

/// Optional per-socket details: what `ss -i`, `ss -m` and `ss -o` show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketExtra {
    /// TCP internals (`struct tcp_info`), for TCP sockets when asked for.
    pub tcp_info: Option<TcpInfo>,
    /// The congestion control algorithm, for TCP sockets when `tcp_info` was asked for.
    pub congestion: Option<CongName>,
    /// Socket memory (`skmeminfo`).
    pub memory: Option<SkMemInfo>,
    /// The socket's pending timer, when one is running.
    pub timer: Option<Timer>,
}

/// Which optional details a collector should gather besides the socket
/// itself. Each costs kernel work and bytes, so a plain listing asks for none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detail {
    /// TCP internals and the congestion algorithm ([`TcpInfo`], [`CongName`]).
    pub info: bool,
    /// Socket memory ([`SkMemInfo`]).
    pub memory: bool,
    /// Timers ([`Timer`]).
    pub timers: bool,
}

impl Detail {
    /// True when some detail is asked for.
    pub const fn any(self) -> bool {
        self.info || self.memory || self.timers
    }
}

/// The parts of the kernel's `struct tcp_info` that `ss -i` shows. Times are
/// in microseconds unless the name says otherwise, as the kernel gives them.
/// Fields an older kernel does not send read 0 (see `len`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// How many bytes of the struct the kernel sent; fields beyond it read 0.
    pub len: usize,
    /// `tcpi_ca_state`: congestion avoidance state (0 open, 1 disorder, 2 cwr, 3 recovery, 4 loss).
    pub ca_state: u8,
    /// `tcpi_retransmits`: consecutive retransmissions of the current segment.
    pub retransmits: u8,
    /// `tcpi_backoff`: exponential backoff of the retransmission timer.
    pub backoff: u8,
    /// `tcpi_options`: TCPI_OPT_* bits (1 timestamps, 2 sack, 4 wscale, 8 ecn).
    pub options: u8,
    /// Send window scale.
    pub snd_wscale: u8,
    /// Receive window scale.
    pub rcv_wscale: u8,
    /// The delivery rate was measured while the application sent too little.
    pub delivery_rate_app_limited: bool,
    /// Retransmission timeout.
    pub rto_us: u32,
    /// Delayed-ack timeout.
    pub ato_us: u32,
    /// Sender maximum segment size.
    pub snd_mss: u32,
    /// Receiver's estimate of the peer's segment size.
    pub rcv_mss: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    /// Segments selectively acknowledged.
    pub sacked: u32,
    /// Segments thought lost.
    pub lost: u32,
    /// Segments retransmitted and not yet acknowledged.
    pub retrans: u32,
    /// Milliseconds since data was last sent.
    pub last_data_sent_ms: u32,
    /// Milliseconds since data was last received.
    pub last_data_recv_ms: u32,
    /// Milliseconds since an acknowledgement was last received.
    pub last_ack_recv_ms: u32,
    /// Path MTU.
    pub pmtu: u32,
    /// Receive slow-start threshold.
    pub rcv_ssthresh: u32,
    /// Smoothed round-trip time.
    pub rtt_us: u32,
    /// Round-trip time variance.
    pub rttvar_us: u32,
    /// Slow-start threshold, in segments (a huge value means "not set yet").
    pub snd_ssthresh: u32,
    /// Congestion window, in segments.
    pub snd_cwnd: u32,
    /// Advertised maximum segment size.
    pub advmss: u32,
    /// Reordering metric.
    pub reordering: u32,
    /// Receiver-side round-trip time estimate.
    pub rcv_rtt_us: u32,
    /// Receive space (auto-tuned receive buffer target).
    pub rcv_space: u32,
    /// Retransmitted segments over the socket's life.
    pub total_retrans: u32,
    /// Pacing rate, bytes per second.
    pub pacing_rate: u64,
    /// Maximum pacing rate, bytes per second (`u64::MAX` when unlimited).
    pub max_pacing_rate: u64,
    /// Bytes acknowledged by the peer (kernel 4.1+).
    pub bytes_acked: u64,
    /// Bytes received (kernel 4.1+).
    pub bytes_received: u64,
    /// Segments sent.
    pub segs_out: u32,
    /// Segments received.
    pub segs_in: u32,
    /// Bytes written by the application and not yet sent.
    pub notsent_bytes: u32,
    /// Minimum round-trip time seen.
    pub min_rtt_us: u32,
    /// Segments received carrying data.
    pub data_segs_in: u32,
    /// Segments sent carrying data.
    pub data_segs_out: u32,
    /// Delivery rate estimate, bytes per second (kernel 4.9+).
    pub delivery_rate: u64,
    /// Time spent with data in flight.
    pub busy_time_us: u64,
    /// Time limited by the receive window.
    pub rwnd_limited_us: u64,
    /// Time limited by the send buffer.
    pub sndbuf_limited_us: u64,
    /// Segments delivered.
    pub delivered: u32,
    /// Segments delivered with an ECN congestion mark.
    pub delivered_ce: u32,
    /// Bytes sent, retransmissions included (kernel 4.19+).
    pub bytes_sent: u64,
    /// Bytes retransmitted (kernel 4.19+).
    pub bytes_retrans: u64,
    /// Duplicate segments reported by D-SACK.
    pub dsack_dups: u32,
    /// Reordering events seen.
    pub reord_seen: u32,
    /// Out-of-order segments received.
    pub rcv_ooopack: u32,
    /// Peer's advertised receive window, bytes.
    pub snd_wnd: u32,
}

/// A congestion control algorithm name (at most 16 bytes, `TCP_CA_NAME_MAX`),
/// kept inline so parsing does not allocate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CongName {
    bytes: [u8; 16],
    len: u8,
}

impl CongName {
    /// Builds a name from raw bytes (NUL-terminated or not, cut at 16 bytes).
    ///
    /// ```
    /// use portscope::model::CongName;
    /// assert_eq!(CongName::from_bytes(b"cubic\0\0").as_str(), "cubic");
    /// ```
    pub fn from_bytes(raw: &[u8]) -> CongName {
        let end = raw
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.len())
            .min(16);
        let mut bytes = [0u8; 16];
        for (d, s) in bytes.iter_mut().zip(raw.iter().take(end)) {
            *d = *s;
        }
        CongName {
            bytes,
            len: u8::try_from(end).unwrap_or(16),
        }
    }
    /// The name, e.g. `cubic`; empty if it is not UTF-8.
    pub fn as_str(&self) -> &str {
        let b = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        std::str::from_utf8(b).unwrap_or("")
    }
}

/// Socket memory as the kernel accounts it (`SK_MEMINFO_*`, what `ss -m`
/// prints as `skmem:(r,rb,t,tb,f,w,o,bl,d)`). Bytes, except `drops`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkMemInfo {
    /// Memory holding received data (`r`).
    pub rmem_alloc: u32,
    /// Receive buffer size (`rb`, SO_RCVBUF).
    pub rcvbuf: u32,
    /// Memory holding data being sent (`t`).
    pub wmem_alloc: u32,
    /// Send buffer size (`tb`, SO_SNDBUF).
    pub sndbuf: u32,
    /// Memory reserved and not yet used (`f`).
    pub fwd_alloc: u32,
    /// Memory queued for sending (`w`).
    pub wmem_queued: u32,
    /// Memory for options and socket filters (`o`).
    pub optmem: u32,
    /// Backlog queue (`bl`).
    pub backlog: u32,
    /// Packets dropped before reaching the socket (`d`).
    pub drops: u32,
}

/// Which timer is pending on a socket, numbered as inet_diag and
/// `/proc/net/tcp` number them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// 1: retransmission (also loss probe, reordering): ss says `on`.
    Retransmit,
    /// 2: keepalive (or another socket timer such as SYN-ACK).
    Keepalive,
    /// 3: TIME_WAIT expiry.
    TimeWait,
    /// 4: zero-window probe (persist).
    Persist,
    /// A number this model does not know.
    Other(u8),
}

impl TimerKind {
    /// The kind for a kernel timer number; `None` for 0 (no timer).
    pub const fn from_kernel(n: u8) -> Option<TimerKind> {
        Some(match n {
            0 => return None,
            1 => TimerKind::Retransmit,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::Persist,
            other => TimerKind::Other(other),
        })
    }

    /// The name `ss -o` prints: `on`, `keepalive`, `timewait`, `persist`, `unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "on",
            TimerKind::Keepalive => "keepalive",
            TimerKind::TimeWait => "timewait",
            TimerKind::Persist => "persist",
            TimerKind::Other(_) => "unknown",
        }
    }
}

/// A pending socket timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    /// Which timer.
    pub kind: TimerKind,
    /// Milliseconds until it fires (0 when overdue).
    pub expires_ms: u64,
    /// Retransmissions (for `on`) or unanswered probes (keepalive, persist) so far.
    pub retrans: u8,
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
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end {
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
        }
    }

    /// The remote end as `ss` shows it (see [`Shown`]).
    pub fn shown_remote(&self) -> Shown<'_> {
        Shown {
            end: &self.remote,
            dual_stack: self.v6only == Some(false),
        }
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
    /// User names for the uids of sockets that no visible process holds
    /// (TIME_WAIT, hidden owners), filled when owners are looked up.
    pub user_names: HashMap<u32, Text>,
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
