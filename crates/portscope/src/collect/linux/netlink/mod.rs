//! NETLINK_SOCK_DIAG collector: TCP, UDP, raw and MPTCP sockets (IPv4 and
//! IPv6) through inet_diag, unix sockets through unix_diag, packet sockets
//! through packet_diag, netlink sockets through netlink_diag.
//!
//! One dump is sent per (family, protocol) the [`Query`] wants, with its
//! state bitmap in the request so the kernel filters states for us; TCP of
//! both IP families, where both are wanted, in one dump of the older
//! `TCPDIAG_GETSOCK` request, which walks the kernel's TCP tables once
//! rather than once per family. Replies
//! are parsed in place from one receive buffer by the pure functions
//! [`parse_inet_msg`], [`parse_unix_msg`] and [`DumpReader`], which are also
//! what the recorded fixtures are tested against.
//!
//! The files, by concern: `transport.rs` (the netlink socket, the send/recv
//! loop over a growing buffer, NLMSG_DONE/ERROR, interrupted and truncated
//! dumps; `host.rs` reads addresses through it too), `wire.rs` (header,
//! byte readers, attributes), `requests.rs`, `reader.rs` (one dump reply
//! into sockets), `inet.rs`, `unix.rs`, `packet.rs` (packet_diag request
//! and reply), `nl.rs` (netlink_diag), `mptcp.rs` (the MPTCP request,
//! whose protocol travels in an attribute), `links.rs` (interface names
//! for packet sockets, over rtnetlink), `tcp_info.rs` (tcp_info and
//! skmeminfo, and tcp_info for chosen sockets by exact match),
//! `destroy.rs` (SOCK_DESTROY), `dump_caps.rs` (the dump socket opened
//! without CAP_NET_ADMIN, so replies carry no socket mark), `events.rs` (the destroy multicast
//! groups), `tests.rs`.
//!
//! Every dump runs on the [`Netlink`] it is called on, so a socket opened
//! inside another network namespace dumps that namespace's sockets of
//! every family ([`Netlink::collect_with`], [`Netlink::packet_sockets`],
//! [`Netlink::netlink_sockets`], [`Netlink::mptcp_sockets`]).
//!
//! Not here: `/proc/net` parsing (`procnet/`, also the source of raw
//! sockets when [`Netlink::raw_supported`] says no), finding owners
//! (`owners.rs`), and filtering by port or address (done above, on the model).
//!
//! Messages are built and parsed by hand rather than with
//! `netlink-packet-sock-diag` (0.5.0), because on the listing's hot path
//! the crate costs what the kernel does and loses sockets real machines
//! have:
//! - it allocates per message (a header struct, an attribute vector and a
//!   `Vec` or `String` per attribute) where [`DumpReader`] reads fields in
//!   place from the receive buffer into the model's `Socket`;
//! - with its typed tcp_info (`rich_nlas`) a socket whose tcp_info is
//!   shorter than the crate's struct fails to parse and is lost
//!   (rust-netlink/netlink-packet-sock-diag#22); [`parse_tcp_info`] pads it;
//! - a unix name must be one C string (`CStr::from_bytes_with_nul`) and a
//!   congestion name valid UTF-8, or the whole message is an error;
//!   [`unix_name`] keeps the bytes and [`crate::text::Text`] escapes them.
//!
//! Parsing 100,000 messages built from this machine's recorded replies
//! (`bench/NETLINK-PARSE.md`, best of 15): a plain TCP listing 3.0 ms here
//! against 57 ms for the crate, unix sockets 4.2 ms against 46 ms; with
//! tcp_info cut to 104 bytes (an older kernel's) the crate refuses 83% of
//! the sockets, and 12.5% of unix sockets whose path comes without a NUL.
//! For scale, `ss -tan` takes 270 ms for 100k sockets (`bench/RESULTS.md`).
//!
//! The socket itself comes from `rustix`, which wraps every call we need
//! safely, so this module has no `unsafe`.

pub(crate) mod collect;
mod destroy;
mod dump_caps;
mod events;
mod inet;
mod links;
mod mptcp;
mod nl;
mod packet;
mod reader;
mod requests;
mod tcp_info;
pub(crate) mod transport;
mod unix;
pub(crate) mod wire;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test
mod tests;

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::io::Errno;
use rustix::net::netlink;

use crate::collect::Collector;
use crate::error::{Error, Result};
use crate::model::{Detail, Family, Proto, Query, Socket, Source, StateSet, TcpState};

pub use crate::model::{CongName, TcpInfo};
pub use destroy::{DestroyOutcome, ack_errno, destroy_request};
pub use events::{DestroyStream, parse_destroyed};
pub use inet::{parse_inet_extra, parse_inet_msg};
pub use nl::parse_netlink_msg;
pub use packet::parse_packet_msg;
pub use reader::{DumpKind, DumpReader};
pub use requests::{EXT_CONG, EXT_INFO, EXT_SKMEMINFO, ext_bits, info_request};
pub use tcp_info::{parse_skmeminfo, parse_tcp_info};
pub use transport::Progress;
pub use unix::{parse_unix_extra, parse_unix_msg, resolve_unix_peers, unix_name};

use transport::{Dump, Transport};
use wire::{AF_INET, AF_INET6};

/// Bytes per `recv`. The kernel sizes dump messages to the reader's buffer
/// but caps them near 32 KiB, so 64 KiB never truncates in practice; a
/// truncated read still grows the buffer and redoes the dump.
const RECV_BUF: usize = 64 * 1024;

/// What [`Netlink::raw_supported`] has learnt so far.
const RAW_UNKNOWN: u8 = 0;
const RAW_YES: u8 = 1;
const RAW_NO: u8 = 2;

/// Sockets from the kernel's sock_diag netlink interface.
///
/// One dump runs at a time per `Netlink` (calls from several threads wait
/// for each other); open one per thread for parallel dumps.
pub struct Netlink {
    nl: Transport,
    raw: AtomicU8,
    /// Whether the kernel answers [`requests::tcp_both_request`] (RAW_* values).
    tcp_both: AtomicU8,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("nl", &self.nl)
            .field("raw", &self.raw.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// One sock_diag dump being read into the caller's vector: an abandoned
/// attempt's sockets are cut off again.
struct SocketDump<'a> {
    reader: DumpReader,
    out: &'a mut Vec<Socket>,
    start: usize,
}

impl Dump for SocketDump<'_> {
    fn begin(&mut self, seq: u32) {
        self.reader = self.reader.clone().with_seq(seq);
        self.reader.interrupted = false;
    }
    fn feed(&mut self, buf: &[u8]) -> Result<Progress> {
        self.reader.feed(buf, self.out)
    }
    fn interrupted(&self) -> bool {
        self.reader.interrupted
    }
    fn abandon(&mut self) {
        self.out.truncate(self.start);
    }
}

impl Netlink {
    /// Opens and binds a NETLINK_SOCK_DIAG socket.
    ///
    /// Any failure here (no netlink in a sandbox, seccomp, an old kernel)
    /// is [`Error::NetlinkUnavailable`], so callers can fall back to `/proc/net`.
    pub fn open() -> Result<Netlink> {
        Netlink::open_with_buffer(RECV_BUF)
    }

    /// As [`Netlink::open`], its requests sent without a destination
    /// address (see `dump_caps.rs`).
    fn open_unaddressed() -> Result<Netlink> {
        Ok(Netlink {
            nl: Transport::open(Some(netlink::SOCK_DIAG), RECV_BUF)?.unaddressed(),
            raw: AtomicU8::new(RAW_UNKNOWN),
            tcp_both: AtomicU8::new(RAW_UNKNOWN),
        })
    }

    fn open_with_buffer(size: usize) -> Result<Netlink> {
        Ok(Netlink {
            nl: Transport::open(Some(netlink::SOCK_DIAG), size)?,
            raw: AtomicU8::new(RAW_UNKNOWN),
            tcp_both: AtomicU8::new(RAW_UNKNOWN),
        })
    }

    /// Whether this kernel dumps raw sockets over netlink
    /// (`CONFIG_INET_RAW_DIAG`). When it does not, [`Collector::collect`]
    /// silently returns no raw sockets and the caller should read
    /// `/proc/net/raw` and `/proc/net/raw6` instead.
    ///
    /// The first call (or the first `collect` that wants raw sockets) asks
    /// the kernel once; the answer is remembered for the life of the socket.
    pub fn raw_supported(&self) -> bool {
        match self.raw.load(Ordering::Relaxed) {
            RAW_YES => true,
            RAW_NO => false,
            _ => {
                // An empty state mask makes the probe return nothing but
                // still goes through the kernel's handler lookup.
                let mut scratch = Vec::new();
                let _ = self.dump_raw_sockets(AF_INET, StateSet::NONE, &mut scratch);
                self.raw.load(Ordering::Relaxed) == RAW_YES
            }
        }
    }

    /// The bytes the kernel sends for one dump, exactly as received, with
    /// every `recv` appended to `out`. For recording fixtures and debugging;
    /// [`DumpReader`] parses them back.
    ///
    /// `proto` and `family` pick the dump (`Proto::Unix` with
    /// `Family::Unix` for unix sockets); `ext` is the inet_diag extension
    /// bitmap (`idiag_ext`, e.g. [`EXT_INFO`] | [`EXT_CONG`]), ignored for unix.
    pub fn dump_bytes(
        &self,
        family: Family,
        proto: Proto,
        states: StateSet,
        ext: u8,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let seq = self.nl.next_seq();
        let req = requests::request(family, proto, states, ext, seq)?;
        let mut reader = DumpReader::new(DumpKind::of(proto)).with_seq(seq);
        let mut sink = Vec::new();
        self.nl.exchange(req.as_ref(), |chunk| {
            out.extend_from_slice(chunk);
            sink.clear();
            reader.feed(chunk, &mut sink)
        })
    }

    /// One whole dump of `proto` over `family` into `out` (see
    /// [`Transport::dump`] for the retries).
    fn dump(
        &self,
        family: Family,
        proto: Proto,
        states: StateSet,
        detail: Detail,
        out: &mut Vec<Socket>,
    ) -> Result<()> {
        let ext = ext_bits(detail);
        let mut buf = self.nl.lock_buf();
        let start = out.len();
        let mut dump = SocketDump {
            reader: DumpReader::new(DumpKind::of(proto)).with_detail(detail),
            out,
            start,
        };
        self.nl.dump(
            &mut buf,
            |seq| requests::request(family, proto, states, ext, seq),
            &mut dump,
        )
    }

    /// The TCP sockets of both families in one dump (see
    /// [`requests::tcp_both_request`]); false, with nothing added, when the
    /// kernel does not offer that request, which is then not asked again.
    fn dump_tcp_both(
        &self,
        states: StateSet,
        detail: Detail,
        out: &mut Vec<Socket>,
    ) -> Result<bool> {
        if self.tcp_both.load(Ordering::Relaxed) == RAW_NO {
            return Ok(false);
        }
        let ext = ext_bits(detail);
        let mut buf = self.nl.lock_buf();
        let start = out.len();
        let mut dump = SocketDump {
            reader: DumpReader::new(DumpKind::Inet(Proto::Tcp)).with_detail(detail),
            out,
            start,
        };
        match self.nl.dump(
            &mut buf,
            |seq| Ok(requests::tcp_both_request(seq, states.0, ext)),
            &mut dump,
        ) {
            Ok(()) => {
                self.tcp_both.store(RAW_YES, Ordering::Relaxed);
                Ok(true)
            }
            Err(Error::Netlink(e)) if is_unsupported(&e) => {
                dump.out.truncate(start);
                self.tcp_both.store(RAW_NO, Ordering::Relaxed);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The raw dump for one family; a kernel without raw_diag answers with
    /// an error, which is remembered and swallowed.
    fn dump_raw_sockets(&self, af: u8, states: StateSet, out: &mut Vec<Socket>) -> Result<()> {
        if self.raw.load(Ordering::Relaxed) == RAW_NO {
            return Ok(());
        }
        let family = if af == AF_INET {
            Family::Inet
        } else {
            Family::Inet6
        };
        match self.dump(family, Proto::Raw, states, Detail::default(), out) {
            Ok(()) => {
                self.raw.store(RAW_YES, Ordering::Relaxed);
                Ok(())
            }
            Err(Error::Netlink(e)) if is_unsupported(&e) => {
                self.raw.store(RAW_NO, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// The kernel's answers for "no handler for this protocol": ENOENT from the
/// handler lookup, the others from older or stripped-down kernels.
fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::NOENT | Errno::INVAL | Errno::OPNOTSUPP | Errno::PROTONOSUPPORT)
    )
}

impl Collector for Netlink {
    fn source(&self) -> Source {
        Source::Netlink
    }

    /// Dumps what `query` wants. Raw sockets are included only when the
    /// kernel offers them (see [`Netlink::raw_supported`]); otherwise they are
    /// left out without error.
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()> {
        self.collect_with(query, Detail::default(), out)
    }
}

impl Netlink {
    /// Like [`Collector::collect`], also asking the kernel for the details
    /// `detail` names and filling [`Socket::extra`] with them. With
    /// `Detail::default()` the requests and the parse are exactly the plain
    /// listing's.
    pub fn collect_with(&self, query: &Query, detail: Detail, out: &mut Vec<Socket>) -> Result<()> {
        let states = query.states;
        if states.0 == 0 {
            return Ok(());
        }
        // TCP of both families in one walk of the kernel's tables where
        // it can (about 5% of a 100k-socket dump).
        let tcp_done =
            query.tcp && query.ipv4 && query.ipv6 && self.dump_tcp_both(states, detail, out)?;
        for (wanted, family, af) in [
            (query.ipv4, Family::Inet, AF_INET),
            (query.ipv6, Family::Inet6, AF_INET6),
        ] {
            if !wanted {
                continue;
            }
            for (wanted, proto) in [
                (query.tcp && !tcp_done, Proto::Tcp),
                (query.udp, Proto::Udp),
            ] {
                if wanted {
                    self.dump(family, proto, states, detail, out)?;
                }
            }
            if query.raw {
                self.dump_raw_sockets(af, states, out)?;
            }
        }
        if query.unix {
            let start = out.len();
            self.dump(Family::Unix, Proto::Unix, states, detail, out)?;
            if let Some(unix) = out.get_mut(start..) {
                resolve_unix_peers(unix);
            }
        }
        if query.mptcp {
            for (wanted, family) in [(query.ipv4, Family::Inet), (query.ipv6, Family::Inet6)] {
                if wanted {
                    self.mptcp_sockets(family, states, detail, out)?;
                }
            }
        }
        // Packet and netlink sockets have no TCP states: they are
        // unconnected (CLOSE) or, for netlink, connected (ESTABLISHED).
        let stateless = |s: TcpState| states.contains(s);
        // Interface names are left to the caller, who knows which
        // namespace this socket dumps (see `fill_interface_names`).
        if query.packet && stateless(TcpState::Close) {
            self.packet_sockets(detail, out)?;
        }
        if query.netlink {
            let start = out.len();
            self.netlink_sockets(detail, out)?;
            let mut i = start;
            while i < out.len() {
                if out.get(i).is_some_and(|s| stateless(s.state)) {
                    i += 1;
                } else {
                    out.swap_remove(i);
                }
            }
        }
        Ok(())
    }

    /// Every packet socket (`AF_PACKET`) this socket's namespace has, with
    /// its [`PacketInfo`](crate::model::PacketInfo) in `extra` (interface
    /// names are left to the caller, who knows the namespace; see
    /// [`Netlink::collect_with`]). A kernel without packet_diag gives none.
    pub fn packet_sockets(&self, detail: Detail, out: &mut Vec<Socket>) -> Result<()> {
        self.dump_optional(Family::Packet, Proto::Packet, StateSet::ALL, detail, out)
    }

    /// Every netlink socket this socket's namespace has, with its
    /// [`NetlinkInfo`](crate::model::NetlinkInfo) in `extra`. A kernel
    /// without netlink_diag gives none.
    pub fn netlink_sockets(&self, detail: Detail, out: &mut Vec<Socket>) -> Result<()> {
        self.dump_optional(Family::Netlink, Proto::Netlink, StateSet::ALL, detail, out)
    }

    /// The MPTCP sockets of `family` in `states` this socket's namespace
    /// has (the MPTCP-level sockets; their subflows are in the TCP dump).
    /// A kernel without mptcp_diag gives none.
    pub fn mptcp_sockets(
        &self,
        family: Family,
        states: StateSet,
        detail: Detail,
        out: &mut Vec<Socket>,
    ) -> Result<()> {
        // mptcp_diag's INET_DIAG_INFO is a struct mptcp_info, not a tcp_info.
        let detail = Detail {
            info: false,
            ..detail
        };
        self.dump_optional(family, Proto::Mptcp, states, detail, out)
    }

    /// A dump whose handler the kernel may lack (a module not built):
    /// "no handler" is no sockets, other errors are errors.
    fn dump_optional(
        &self,
        family: Family,
        proto: Proto,
        states: StateSet,
        detail: Detail,
        out: &mut Vec<Socket>,
    ) -> Result<()> {
        match self.dump(family, proto, states, detail, out) {
            Err(Error::Netlink(e)) if is_unsupported(&e) => Ok(()),
            other => other,
        }
    }
}

/// Fills in the interface names of packet sockets from the calling
/// thread's namespace (see [`link_names`]); left unknown when rtnetlink is
/// refused. For sockets dumped through a socket opened in another
/// namespace, take that namespace's names there and use
/// [`fill_interface_names`].
pub fn name_interfaces(sockets: &mut [Socket]) {
    if !sockets.iter().any(|s| s.bound_if != 0) {
        return;
    }
    if let Ok(names) = links::link_names() {
        fill_interface_names(sockets, &names);
    }
}

/// Every interface of the calling thread's network namespace, index to
/// name (an rtnetlink `RTM_GETLINK` dump on a socket opened now).
pub fn link_names() -> Result<std::collections::HashMap<u32, crate::text::Text>> {
    links::link_names()
}

/// Names the interfaces packet sockets among `sockets` are bound to, from
/// `names` (what [`link_names`] gave in the sockets' namespace).
pub fn fill_interface_names(
    sockets: &mut [Socket],
    names: &std::collections::HashMap<u32, crate::text::Text>,
) {
    for s in sockets {
        let index = s.bound_if;
        if let Some(p) = s.extra.as_mut().and_then(|x| x.packet.as_mut()) {
            p.interface = names.get(&index).cloned();
        }
    }
}
