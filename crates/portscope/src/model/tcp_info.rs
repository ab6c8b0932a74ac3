//! Optional per-socket details (what `ss -i`, `ss -m` and `ss -o` show):
//! tcp_info, congestion control, socket memory and timers, and which of
//! them to ask for.

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
    /// For a packet socket: type, memberships, fanout, rings, filter
    /// (always gathered for packet sockets, whatever [`Detail`] says).
    pub packet: Option<super::PacketInfo>,
    /// For a netlink socket: groups (always gathered for netlink sockets).
    pub netlink: Option<super::NetlinkInfo>,
    /// For a raw socket (and a packet socket whose dump could not show its
    /// filter): the filter its owner's descriptor reports; `None` where it
    /// was not asked.
    pub sock_filter: Option<super::SockFilter>,
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

impl std::str::FromStr for TimerKind {
    type Err = super::UnknownName;
    /// The names [`TimerKind::as_str`] writes; `unknown` reads as `Other(0)`
    /// (the number is not written).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "on" => TimerKind::Retransmit,
            "keepalive" => TimerKind::Keepalive,
            "timewait" => TimerKind::TimeWait,
            "persist" => TimerKind::Persist,
            "unknown" => TimerKind::Other(0),
            _ => return Err(super::UnknownName { what: "timer kind" }),
        })
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
