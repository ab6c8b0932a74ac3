//! NETLINK_SOCK_DIAG collector: TCP, UDP and raw sockets (IPv4 and IPv6)
//! through inet_diag, unix sockets through unix_diag.
//!
//! One dump is sent per (family, protocol) the [`Query`] wants, with its
//! state bitmap in the request so the kernel filters states for us. Replies
//! are parsed in place from one receive buffer by the pure functions
//! [`parse_inet_msg`], [`parse_unix_msg`] and [`DumpReader`], which are also
//! what the recorded fixtures are tested against.
//!
//! Not here: `/proc/net` parsing (`procnet.rs`, also the source of raw
//! sockets when [`Netlink::raw_supported`] says no), finding owners
//! (`owners.rs`), and filtering by port or address (done above, on the model).
//!
//! Messages are built and parsed by hand rather than with
//! `netlink-packet-sock-diag`: the crate's parse allocates NLA vectors per
//! message and fails the whole entry on a short tcp_info
//! (rust-netlink/netlink-packet-sock-diag#22). The socket itself comes from
//! `rustix`, which wraps every call we need safely, so this file has no
//! `unsafe`.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::collect::Collector;
use crate::error::{Error, Result};
pub use crate::model::{CongName, TcpInfo};
use crate::model::{
    Detail, Endpoint, Family, Proto, Query, SkMemInfo, Socket, SocketExtra, Source, StateSet,
    TcpState, Timer, TimerKind, UnixType,
};
use crate::text::Text;

// Netlink and sock_diag constants (linux/netlink.h, linux/sock_diag.h,
// linux/inet_diag.h, linux/unix_diag.h). Written out because they are ABI.
pub(super) const NLMSG_HDRLEN: usize = 16;
const NLMSG_NOOP: u16 = 1;
pub(super) const NLMSG_ERROR: u16 = 2;
pub(super) const NLMSG_DONE: u16 = 3;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
pub(super) const NLM_F_REQUEST: u16 = 0x01;
pub(super) const NLM_F_DUMP: u16 = 0x300;
const NLM_F_DUMP_INTR: u16 = 0x10;

const AF_UNIX: u8 = 1;
pub(super) const AF_INET: u8 = 2;
pub(super) const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_RAW: u8 = 255;

/// `struct inet_diag_msg`: 4 bytes of family/state/timer/retrans, a 48-byte
/// `inet_diag_sockid`, then expires, rqueue, wqueue, uid, inode.
const INET_DIAG_MSG_LEN: usize = 72;
/// `struct inet_diag_req_v2`.
const INET_DIAG_REQ_LEN: usize = 56;
/// `struct unix_diag_msg`.
const UNIX_DIAG_MSG_LEN: usize = 16;
/// `struct unix_diag_req`.
const UNIX_DIAG_REQ_LEN: usize = 24;

const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
const INET_DIAG_SKMEMINFO: u16 = 7;
/// `INET_DIAG_SKV6ONLY`: a u8, sent unasked for AF_INET6 sockets in LISTEN
/// or CLOSE (`inet_diag_msg_attrs_fill`).
const INET_DIAG_SKV6ONLY: u16 = 11;

const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_MEMINFO: u16 = 5;
const UNIX_DIAG_UID: u16 = 7;
const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_MEMINFO: u32 = 0x20;
const UDIAG_SHOW_UID: u32 = 0x40;

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
    fd: OwnedFd,
    seq: AtomicU32,
    raw: AtomicU8,
    buf: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("fd", &self.fd)
            .field("raw", &self.raw.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Which kind of reply a dump carries, so its messages can be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// inet_diag replies for TCP, UDP or raw sockets.
    Inet(Proto),
    /// unix_diag replies.
    Unix,
}

impl Netlink {
    /// Opens and binds a NETLINK_SOCK_DIAG socket.
    ///
    /// Any failure here (no netlink in a sandbox, seccomp, an old kernel)
    /// is [`Error::NetlinkUnavailable`], so callers can fall back to `/proc/net`.
    pub fn open() -> Result<Netlink> {
        Netlink::open_with_buffer(RECV_BUF)
    }

    fn open_with_buffer(size: usize) -> Result<Netlink> {
        let unavailable = |e: Errno| Error::NetlinkUnavailable(e.into());
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .map_err(unavailable)?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0)).map_err(unavailable)?;
        Ok(Netlink {
            fd,
            seq: AtomicU32::new(1),
            raw: AtomicU8::new(RAW_UNKNOWN),
            buf: Mutex::new(vec![0; size]),
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
        let mut buf = self.lock_buf();
        let seq = self.next_seq();
        let req = self.request(family, proto, states, ext, seq)?;
        self.send(req.as_slice())?;
        let mut reader = DumpReader::new(dump_kind(proto)).with_seq(seq);
        let mut sink = Vec::new();
        let res = self.read_dump(&mut buf, |chunk| {
            out.extend_from_slice(chunk);
            sink.clear();
            reader.feed(chunk, &mut sink)
        });
        match res {
            Ok(()) => Ok(()),
            Err(Retry::Again) => Err(Error::Netlink(io::Error::other(
                "sock_diag reply truncated",
            ))),
            Err(Retry::Fatal(e)) => Err(e),
        }
    }

    /// Dumps TCP sockets with `INET_DIAG_INFO` and `INET_DIAG_CONG`
    /// requested, giving each socket with its [`InetDetail`] (for a live
    /// view). Families and states follow `query`; its other fields are ignored.
    pub fn collect_tcp_detail(
        &self,
        query: &Query,
        out: &mut Vec<(Socket, InetDetail)>,
    ) -> Result<()> {
        for (wanted, family) in [(query.ipv4, Family::Inet), (query.ipv6, Family::Inet6)] {
            if wanted && query.states.0 != 0 {
                let mut buf = self.lock_buf();
                let detail = Detail {
                    info: true,
                    ..Detail::default()
                };
                self.dump(
                    &mut buf,
                    family,
                    Proto::Tcp,
                    query.states,
                    detail,
                    out,
                    DumpReader::feed_detail,
                )?;
            }
        }
        Ok(())
    }

    fn lock_buf(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic elsewhere while holding the lock leaves only a buffer behind.
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next_seq(&self) -> u32 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    fn request(
        &self,
        family: Family,
        proto: Proto,
        states: StateSet,
        ext: u8,
        seq: u32,
    ) -> Result<Request> {
        let af = match family {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
            Family::Unix => AF_UNIX,
        };
        Ok(match (proto, af) {
            (Proto::Unix, AF_UNIX) => {
                Request::Unix(unix_request(seq, states.0, ext & EXT_SKMEMINFO != 0))
            }
            (Proto::Tcp, AF_INET | AF_INET6) => {
                Request::Inet(inet_request(seq, af, IPPROTO_TCP, states.0, ext))
            }
            (Proto::Udp, AF_INET | AF_INET6) => {
                Request::Inet(inet_request(seq, af, IPPROTO_UDP, states.0, ext))
            }
            (Proto::Raw, AF_INET | AF_INET6) => {
                Request::Inet(inet_request(seq, af, IPPROTO_RAW, states.0, ext))
            }
            _ => {
                return Err(Error::Netlink(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("no sock_diag dump for {proto} over {}", family.as_str()),
                )));
            }
        })
    }

    fn send(&self, req: &[u8]) -> Result<()> {
        loop {
            match rustix::net::sendto(
                &self.fd,
                req,
                SendFlags::empty(),
                &SocketAddrNetlink::new(0, 0),
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::Netlink(e.into())),
            }
        }
    }

    /// One `recv` into `buf`; when a message did not fit, `buf` is grown
    /// for the next try.
    fn recv(&self, buf: &mut Vec<u8>) -> Result<Read> {
        loop {
            match rustix::net::recv(&self.fd, buf.as_mut_slice(), RecvFlags::TRUNC) {
                Ok((n, full)) if full > n => {
                    // The message did not fit and its tail is gone. Grow so
                    // the next try fits; the caller redoes the dump.
                    buf.resize(full.next_power_of_two(), 0);
                    return Ok(Read::Truncated);
                }
                Ok((n, _)) => return Ok(Read::Bytes(n)),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::Netlink(e.into())),
            }
        }
    }

    /// Reads and throws away whatever is left of a dump, so the next request
    /// on this socket is not refused with EBUSY. The kernel queues the next
    /// part of a running dump as soon as the previous one is read, so an
    /// empty queue means no dump is running.
    fn drain(&self, buf: &mut [u8]) {
        while rustix::net::recv(&self.fd, &mut *buf, RecvFlags::DONTWAIT | RecvFlags::TRUNC).is_ok()
        {
        }
    }

    /// Reads one dump to its end, feeding every buffer to `feed`.
    fn read_dump(
        &self,
        buf: &mut Vec<u8>,
        mut feed: impl FnMut(&[u8]) -> Result<Progress>,
    ) -> std::result::Result<(), Retry> {
        loop {
            let res = match self.recv(buf) {
                // The lost tail may have held NLMSG_DONE, so waiting for
                // the end could block forever: drop the rest and redo.
                Ok(Read::Truncated) => Err(Retry::Again),
                Ok(Read::Bytes(n)) => match feed(buf.get(..n).unwrap_or_default()) {
                    Ok(Progress::Done) => return Ok(()),
                    Ok(Progress::More) => continue,
                    Err(e) => Err(Retry::Fatal(e)),
                },
                Err(e) => Err(Retry::Fatal(e)),
            };
            self.drain(buf);
            return res;
        }
    }

    /// One whole dump into `out`: retried once if the kernel says it was
    /// interrupted (then accepted as is), or if a read was truncated.
    #[allow(clippy::too_many_arguments)]
    fn dump<T>(
        &self,
        buf: &mut Vec<u8>,
        family: Family,
        proto: Proto,
        states: StateSet,
        detail: Detail,
        out: &mut Vec<T>,
        feed: fn(&mut DumpReader, &[u8], &mut Vec<T>) -> Result<Progress>,
    ) -> Result<()> {
        let start = out.len();
        let mut retried = false;
        let ext = ext_bits(detail);
        loop {
            let seq = self.next_seq();
            let req = self.request(family, proto, states, ext, seq)?;
            self.send(req.as_slice())?;
            let mut reader = DumpReader::new(dump_kind(proto))
                .with_seq(seq)
                .with_detail(detail);
            let res = self.read_dump(buf, |chunk| feed(&mut reader, chunk, out));
            let again = match res {
                Ok(()) => reader.interrupted,
                Err(Retry::Again) => true,
                Err(Retry::Fatal(e)) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            if again && !retried {
                out.truncate(start);
                retried = true;
                continue;
            }
            if matches!(res, Err(Retry::Again)) {
                out.truncate(start);
                return Err(Error::Netlink(io::Error::other(
                    "sock_diag reply truncated twice",
                )));
            }
            return Ok(());
        }
    }

    /// The raw dump for one family; a kernel without raw_diag answers with
    /// an error, which is remembered and swallowed.
    fn dump_raw_sockets(&self, af: u8, states: StateSet, out: &mut Vec<Socket>) -> Result<()> {
        if self.raw.load(Ordering::Relaxed) == RAW_NO {
            return Ok(());
        }
        let mut guard = self.lock_buf();
        let family = if af == AF_INET {
            Family::Inet
        } else {
            Family::Inet6
        };
        match self.dump(
            &mut guard,
            family,
            Proto::Raw,
            states,
            Detail::default(),
            out,
            DumpReader::feed,
        ) {
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

fn dump_kind(proto: Proto) -> DumpKind {
    match proto {
        Proto::Unix => DumpKind::Unix,
        p => DumpKind::Inet(p),
    }
}

/// What one `recv` gave.
enum Read {
    /// This many bytes of whole messages.
    Bytes(usize),
    /// A message was cut short; the dump must be redone.
    Truncated,
}

enum Retry {
    /// Redo the dump.
    Again,
    /// Give up.
    Fatal(Error),
}

enum Request {
    Inet([u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN]),
    Unix([u8; NLMSG_HDRLEN + UNIX_DIAG_REQ_LEN]),
}

impl Request {
    fn as_slice(&self) -> &[u8] {
        match self {
            Request::Inet(b) => b,
            Request::Unix(b) => b,
        }
    }
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
        for (wanted, family, af) in [
            (query.ipv4, Family::Inet, AF_INET),
            (query.ipv6, Family::Inet6, AF_INET6),
        ] {
            if !wanted {
                continue;
            }
            for (wanted, proto) in [(query.tcp, Proto::Tcp), (query.udp, Proto::Udp)] {
                if wanted {
                    let mut buf = self.lock_buf();
                    self.dump(
                        &mut buf,
                        family,
                        proto,
                        states,
                        detail,
                        out,
                        DumpReader::feed,
                    )?;
                }
            }
            if query.raw {
                self.dump_raw_sockets(af, states, out)?;
            }
        }
        if query.unix {
            let start = out.len();
            {
                let mut buf = self.lock_buf();
                self.dump(
                    &mut buf,
                    Family::Unix,
                    Proto::Unix,
                    states,
                    detail,
                    out,
                    DumpReader::feed,
                )?;
            }
            if let Some(unix) = out.get_mut(start..) {
                resolve_unix_peers(unix);
            }
        }
        Ok(())
    }
}

/// `idiag_ext` bit asking for `INET_DIAG_INFO` (struct tcp_info).
pub const EXT_INFO: u8 = 1 << (INET_DIAG_INFO - 1);
/// `idiag_ext` bit asking for `INET_DIAG_CONG` (congestion control name).
pub const EXT_CONG: u8 = 1 << (INET_DIAG_CONG - 1);
/// `idiag_ext` bit asking for `INET_DIAG_SKMEMINFO` (socket memory).
pub const EXT_SKMEMINFO: u8 = 1 << (INET_DIAG_SKMEMINFO - 1);

/// The `idiag_ext` bits for the details `detail` asks for.
pub const fn ext_bits(detail: Detail) -> u8 {
    let mut ext = 0;
    if detail.info {
        ext |= EXT_INFO | EXT_CONG;
    }
    if detail.memory {
        ext |= EXT_SKMEMINFO;
    }
    ext
}

fn nl_header(buf: &mut [u8], len: usize, seq: u32) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    if let Some(h) = buf.get_mut(..NLMSG_HDRLEN) {
        h[0..4].copy_from_slice(&len.to_ne_bytes());
        h[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        h[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        h[8..12].copy_from_slice(&seq.to_ne_bytes());
        // nlmsg_pid 0: the kernel fills in our port id.
    }
}

/// An `inet_diag_req_v2` dump request. For raw sockets the pad byte is
/// `sdiag_raw_protocol`, and IPPROTO_RAW there means "every protocol".
/// The state bits a dump may ask for: the states [`TcpState::from_kernel`]
/// knows (1 to 12). Bit 13 (`TCP_BOUND_INACTIVE`, bound but neither
/// listening nor connected) would make the kernel walk its whole bind hash
/// a second time, for sockets the parser then drops: at 100k sockets a
/// quarter of the dump's cost.
const KNOWN_STATES: u32 = {
    let mut m = 0;
    let mut i = 0;
    while i < TcpState::ALL.len() {
        m |= TcpState::ALL[i].mask_bit();
        i += 1;
    }
    m
};

fn inet_request(seq: u32, af: u8, protocol: u8, states: u32, ext: u8) -> [u8; 72] {
    let states = states & KNOWN_STATES;
    let mut b = [0u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN];
    let len = b.len();
    nl_header(&mut b, len, seq);
    b[16] = af;
    b[17] = protocol;
    b[18] = ext;
    b[19] = if protocol == IPPROTO_RAW {
        IPPROTO_RAW
    } else {
        0
    };
    b[20..24].copy_from_slice(&states.to_ne_bytes());
    // inet_diag_sockid all zero: no socket selected, dump them all.
    b
}

/// A `unix_diag_req` dump request asking for name, peer, queue lengths and
/// uid, and memory when `meminfo` is set.
fn unix_request(seq: u32, states: u32, meminfo: bool) -> [u8; 40] {
    let mut b = [0u8; NLMSG_HDRLEN + UNIX_DIAG_REQ_LEN];
    let len = b.len();
    nl_header(&mut b, len, seq);
    b[16] = AF_UNIX;
    b[20..24].copy_from_slice(&states.to_ne_bytes());
    let mut show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
    if meminfo {
        show |= UDIAG_SHOW_MEMINFO;
    }
    b[28..32].copy_from_slice(&show.to_ne_bytes());
    // cookie: all ones would mean "no cookie" for a single-socket query;
    // a dump ignores it.
    b
}

/// How far a dump has got after one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More messages are to come.
    More,
    /// `NLMSG_DONE` was seen: the dump is complete.
    Done,
}

/// Walks the netlink messages of one dump reply, buffer by buffer, turning
/// each sock_diag message into a [`Socket`].
///
/// Pure: it only reads the bytes it is given, so recorded replies can be fed
/// back in tests exactly as the live loop feeds received ones.
///
/// ```
/// use portscope::collect::linux::netlink::{DumpKind, DumpReader, Progress};
/// use portscope::model::Proto;
/// // An NLMSG_DONE with error 0: the end of an empty dump.
/// let mut done = Vec::new();
/// done.extend_from_slice(&20u32.to_ne_bytes());
/// done.extend_from_slice(&3u16.to_ne_bytes());
/// done.extend_from_slice(&2u16.to_ne_bytes());
/// done.extend_from_slice(&[0; 8]);
/// done.extend_from_slice(&0i32.to_ne_bytes());
/// let mut out = Vec::new();
/// let mut r = DumpReader::new(DumpKind::Inet(Proto::Tcp));
/// assert_eq!(r.feed(&done, &mut out)?, Progress::Done);
/// assert!(out.is_empty());
/// # Ok::<(), portscope::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DumpReader {
    kind: DumpKind,
    seq: Option<u32>,
    detail: Detail,
    /// Whether any message carried `NLM_F_DUMP_INTR` (the kernel's tables
    /// changed during the dump, so it may be inconsistent).
    pub interrupted: bool,
}

impl DumpReader {
    /// A reader for a dump of `kind`, accepting messages of any sequence number.
    pub fn new(kind: DumpKind) -> DumpReader {
        DumpReader {
            kind,
            seq: None,
            detail: Detail::default(),
            interrupted: false,
        }
    }

    /// Also parse the details `detail` asks for into [`Socket::extra`]
    /// (they are only there if the request asked the kernel for them).
    pub fn with_detail(mut self, detail: Detail) -> DumpReader {
        self.detail = detail;
        self
    }

    /// Only messages with sequence number `seq` count; others (left over
    /// from an abandoned dump) are skipped.
    pub fn with_seq(mut self, seq: u32) -> DumpReader {
        self.seq = Some(seq);
        self
    }

    /// Parses every message in `buf` (one or more whole netlink messages),
    /// appending sockets to `out`. Sockets in states the model does not know
    /// are skipped. A kernel error in the dump is [`Error::Netlink`] with the
    /// errno; bytes that are not netlink messages are [`Error::NetlinkMalformed`].
    pub fn feed(&mut self, buf: &[u8], out: &mut Vec<Socket>) -> Result<Progress> {
        let kind = self.kind;
        let detail = self.detail;
        self.walk(buf, |payload| {
            let mut s = match kind {
                DumpKind::Inet(proto) => parse_inet_msg(payload, proto)?,
                DumpKind::Unix => parse_unix_msg(payload)?,
            };
            if detail.any()
                && let Some(s) = s.as_mut()
            {
                s.extra = match kind {
                    DumpKind::Inet(_) => parse_inet_extra(payload, detail),
                    DumpKind::Unix => parse_unix_extra(payload, detail),
                };
            }
            out.extend(s);
            Ok(())
        })
    }

    /// Like [`DumpReader::feed`] for an inet dump, also parsing each
    /// message's attributes into an [`InetDetail`]. (For a unix reader every
    /// message is malformed: there is no inet detail to give.)
    pub fn feed_detail(
        &mut self,
        buf: &[u8],
        out: &mut Vec<(Socket, InetDetail)>,
    ) -> Result<Progress> {
        let proto = match self.kind {
            DumpKind::Inet(p) => p,
            DumpKind::Unix => Proto::Unix,
        };
        self.walk(buf, |payload| {
            if let Some(s) = parse_inet_msg(payload, proto)? {
                let detail = parse_inet_detail(payload)?;
                out.push((s, detail));
            }
            Ok(())
        })
    }

    fn walk(
        &mut self,
        mut buf: &[u8],
        mut each: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<Progress> {
        while !buf.is_empty() {
            let h = NlHeader::read(buf)?;
            let msg = buf.get(NLMSG_HDRLEN..h.len).ok_or_else(|| {
                malformed(format!("message of {} bytes in {} left", h.len, buf.len()))
            })?;
            buf = buf.get(align4(h.len)..).unwrap_or_default();
            if self.seq.is_some_and(|s| s != h.seq) {
                continue;
            }
            if h.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match h.kind {
                NLMSG_DONE => {
                    // Since 4.x the payload is the dump's return code.
                    if let Some(err) = read_i32(msg, 0)
                        && err < 0
                    {
                        return Err(kernel_error(err));
                    }
                    return Ok(Progress::Done);
                }
                NLMSG_ERROR => {
                    let err = read_i32(msg, 0).ok_or_else(|| malformed("short NLMSG_ERROR"))?;
                    if err < 0 {
                        return Err(kernel_error(err));
                    }
                    // An ACK: nothing more will come for this request.
                    return Ok(Progress::Done);
                }
                SOCK_DIAG_BY_FAMILY => each(msg)?,
                NLMSG_NOOP => {}
                _ => {}
            }
        }
        Ok(Progress::More)
    }
}

struct NlHeader {
    len: usize,
    kind: u16,
    flags: u16,
    seq: u32,
}

impl NlHeader {
    fn read(buf: &[u8]) -> Result<NlHeader> {
        let (Some(len), Some(kind), Some(flags), Some(seq)) = (
            read_u32(buf, 0),
            read_u16(buf, 4),
            read_u16(buf, 6),
            read_u32(buf, 8),
        ) else {
            return Err(malformed(format!("{} stray bytes", buf.len())));
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(malformed(format!(
                "message length {len} with {} bytes left",
                buf.len()
            )));
        }
        Ok(NlHeader {
            len,
            kind,
            flags,
            seq,
        })
    }
}

pub(super) fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn malformed(msg: impl Into<String>) -> Error {
    Error::NetlinkMalformed(msg.into())
}

fn kernel_error(err: i32) -> Error {
    Error::Netlink(io::Error::from_raw_os_error(err.saturating_neg()))
}

pub(super) fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(super) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
/// A sock_diag cookie: two `u32`s, low half first.
fn cookie_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = read_u32(b, at)?;
    let hi = read_u32(b, at.checked_add(4)?)?;
    Some(u64::from(lo) | (u64::from(hi) << 32))
}
fn read_16(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..at.checked_add(16)?)?.try_into().ok()
}

/// Parses one `inet_diag_msg` (the payload of a SOCK_DIAG_BY_FAMILY reply
/// message) into a [`Socket`] of protocol `proto`.
///
/// `Ok(None)` for a socket in a state the model does not know. Of the
/// attributes after the fixed header only `INET_DIAG_SKV6ONLY` is read
/// here (for IPv6 sockets); a short or odd optional attribute never costs a
/// socket, it only leaves [`Socket::v6only`] unknown.
pub fn parse_inet_msg(payload: &[u8], proto: Proto) -> Result<Option<Socket>> {
    if payload.len() < INET_DIAG_MSG_LEN {
        return Err(malformed(format!(
            "inet_diag_msg of {} bytes, need {INET_DIAG_MSG_LEN}",
            payload.len()
        )));
    }
    let fields = (|| {
        let family = *payload.first()?;
        let state = *payload.get(1)?;
        let sport = u16::from_be_bytes([*payload.get(4)?, *payload.get(5)?]);
        let dport = u16::from_be_bytes([*payload.get(6)?, *payload.get(7)?]);
        let src = read_16(payload, 8)?;
        let dst = read_16(payload, 24)?;
        let bound_if = read_u32(payload, 40)?;
        let cookie = cookie_at(payload, 44)?;
        let rqueue = read_u32(payload, 56)?;
        let wqueue = read_u32(payload, 60)?;
        let uid = read_u32(payload, 64)?;
        let inode = read_u32(payload, 68)?;
        Some((
            family, state, sport, dport, src, dst, bound_if, cookie, rqueue, wqueue, uid, inode,
        ))
    })();
    let Some((family, state, sport, dport, src, dst, bound_if, cookie, rqueue, wqueue, uid, inode)) =
        fields
    else {
        return Err(malformed("short inet_diag_msg"));
    };
    let (family, local, remote) = match family {
        AF_INET => {
            let v4 = |a: [u8; 16]| Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            (
                Family::Inet,
                Endpoint::v4(v4(src), sport),
                Endpoint::v4(v4(dst), dport),
            )
        }
        AF_INET6 => (
            Family::Inet6,
            Endpoint::v6(Ipv6Addr::from(src), sport),
            Endpoint::v6(Ipv6Addr::from(dst), dport),
        ),
        other => return Err(malformed(format!("inet_diag_msg of family {other}"))),
    };
    let Some(state) = TcpState::from_kernel(state) else {
        return Ok(None);
    };
    let v6only = if family == Family::Inet6 {
        inet_v6only(payload)
    } else {
        None
    };
    Ok(Some(Socket {
        proto,
        family,
        local,
        remote,
        state,
        recv_q: rqueue,
        send_q: wqueue,
        uid: Some(uid),
        inode: u64::from(inode),
        unix_type: None,
        bound_if,
        owners: Vec::new(),
        owners_hidden: false,
        cookie,
        v6only,
        extra: None,
    }))
}

/// The `INET_DIAG_SKV6ONLY` attribute of an `inet_diag_msg`, if sent and well formed.
fn inet_v6only(payload: &[u8]) -> Option<bool> {
    Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default())
        .map_while(std::result::Result::ok)
        .find(|(kind, _)| *kind == INET_DIAG_SKV6ONLY)
        .and_then(|(_, data)| data.first().map(|&b| b != 0))
}

/// Parses one `unix_diag_msg` with its attributes into a [`Socket`].
///
/// The remote end carries the peer's inode only; [`resolve_unix_peers`]
/// fills in its name when the peer is in the same dump. `Ok(None)` for an
/// unknown socket type or state. Without `UNIX_DIAG_UID` (kernels before
/// 5.3) the uid is `None`.
pub fn parse_unix_msg(payload: &[u8]) -> Result<Option<Socket>> {
    let head = payload
        .get(..UNIX_DIAG_MSG_LEN)
        .ok_or_else(|| malformed(format!("unix_diag_msg of {} bytes", payload.len())))?;
    let (Some(&family), Some(&ty), Some(&state), Some(inode), Some(cookie)) = (
        head.first(),
        head.get(1),
        head.get(2),
        read_u32(head, 4),
        cookie_at(head, 8),
    ) else {
        return Err(malformed("short unix_diag_msg"));
    };
    if family != AF_UNIX {
        return Err(malformed(format!("unix_diag_msg of family {family}")));
    }
    let mut path = None;
    let mut peer = 0u32;
    let (mut rq, mut wq, mut uid) = (0, 0, None);
    for attr in Attrs(payload.get(UNIX_DIAG_MSG_LEN..).unwrap_or_default()) {
        let (kind, data) = attr?;
        match kind {
            UNIX_DIAG_NAME => path = unix_name(data),
            UNIX_DIAG_PEER => peer = read_u32(data, 0).unwrap_or(0),
            UNIX_DIAG_RQLEN => {
                rq = read_u32(data, 0).unwrap_or(0);
                wq = read_u32(data, 4).unwrap_or(0);
            }
            UNIX_DIAG_UID => uid = read_u32(data, 0),
            _ => {}
        }
    }
    let (Some(unix_type), Some(state)) = (
        UnixType::from_kernel(u32::from(ty)),
        TcpState::from_kernel(state),
    ) else {
        return Ok(None);
    };
    Ok(Some(Socket {
        proto: Proto::Unix,
        family: Family::Unix,
        local: Endpoint::Unix {
            path,
            inode: u64::from(inode),
        },
        remote: Endpoint::Unix {
            path: None,
            inode: u64::from(peer),
        },
        state,
        recv_q: rq,
        send_q: wq,
        uid,
        inode: u64::from(inode),
        unix_type: Some(unix_type),
        bound_if: 0,
        owners: Vec::new(),
        owners_hidden: false,
        cookie,
        v6only: None,
        extra: None,
    }))
}

/// A unix socket name: a path up to its first NUL, or for an abstract name
/// (leading NUL) `@` followed by every byte of the name, embedded NULs kept
/// (`ss` shows them as `@`, which hides which name it is; escaped output
/// shows `\x00`). `None` for an empty name.
///
/// ```
/// use portscope::collect::linux::netlink::unix_name;
/// assert_eq!(unix_name(b"\0a\0b").unwrap().as_bytes(), b"@a\0b");
/// assert_eq!(unix_name(b"/run/x\0\0").unwrap().as_bytes(), b"/run/x");
/// assert!(unix_name(b"").is_none());
/// ```
pub fn unix_name(raw: &[u8]) -> Option<Text> {
    match raw.split_first() {
        None => None,
        Some((0, rest)) => {
            let mut s = Vec::with_capacity(rest.len() + 1);
            s.push(b'@');
            s.extend_from_slice(rest);
            Some(Text::from(s))
        }
        Some(_) => {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            Some(Text::from(raw.get(..end).unwrap_or_default()))
        }
    }
}

/// Fills in the remote path of unix sockets whose peer is among `sockets`
/// and has a name (a client's peer is the server's accepted socket, which
/// carries the listener's path).
pub fn resolve_unix_peers(sockets: &mut [Socket]) {
    let named: HashMap<u64, usize> = sockets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.local {
            Endpoint::Unix {
                path: Some(_),
                inode,
            } if s.proto == Proto::Unix => Some((*inode, i)),
            _ => None,
        })
        .collect();
    if named.is_empty() {
        return;
    }
    for i in 0..sockets.len() {
        let peer = match sockets.get(i).map(|s| &s.remote) {
            Some(Endpoint::Unix { path: None, inode }) if *inode != 0 => *inode,
            _ => continue,
        };
        let Some(&j) = named.get(&peer) else { continue };
        let name = match sockets.get(j).map(|s| &s.local) {
            Some(Endpoint::Unix { path: Some(p), .. }) => p.clone(),
            _ => continue,
        };
        if let Some(Endpoint::Unix { path, .. }) = sockets.get_mut(i).map(|s| &mut s.remote) {
            *path = Some(name);
        }
    }
}

/// Iterator over the `rtattr`s of a message tail: `(type, payload)`, or an
/// error for an attribute whose length does not fit.
struct Attrs<'a>(&'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let (Some(len), Some(kind)) = (read_u16(self.0, 0), read_u16(self.0, 2)) else {
            self.0 = &[];
            return Some(Err(malformed("stray bytes after attributes")));
        };
        let len = usize::from(len);
        let Some(data) = (len >= 4).then(|| self.0.get(4..len)).flatten() else {
            let left = self.0.len();
            self.0 = &[];
            return Some(Err(malformed(format!(
                "attribute of {len} bytes with {left} left"
            ))));
        };
        self.0 = self.0.get(align4(len)..).unwrap_or_default();
        // The kernel sets NLA_F_NESTED / NLA_F_NET_BYTEORDER in the top bits.
        Some(Ok((kind & 0x3fff, data)))
    }
}

/// Extra per-socket facts from inet_diag attributes, when asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InetDetail {
    /// `INET_DIAG_INFO` (TCP only), zero-padded if the kernel's is short.
    pub tcp_info: Option<TcpInfo>,
    /// `INET_DIAG_CONG`: the congestion control algorithm.
    pub congestion: Option<CongName>,
}

/// Parses the attributes of one `inet_diag_msg` payload into an [`InetDetail`].
/// A malformed attribute list is [`Error::NetlinkMalformed`]; short
/// attribute payloads are padded, never refused.
pub fn parse_inet_detail(payload: &[u8]) -> Result<InetDetail> {
    let mut d = InetDetail::default();
    for attr in Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
        let (kind, data) = attr?;
        match kind {
            INET_DIAG_INFO => d.tcp_info = Some(parse_tcp_info(data)),
            INET_DIAG_CONG => d.congestion = Some(CongName::from_bytes(data)),
            _ => {}
        }
    }
    Ok(d)
}

/// Size of `struct tcp_info` up to and including `tcpi_snd_wnd` (kernel 5.x+).
const TCP_INFO_KNOWN: usize = 232;

/// Reads a `struct tcp_info`, treating bytes the kernel did not send as 0
/// (older kernels send a shorter struct; that must never lose the socket).
pub fn parse_tcp_info(bytes: &[u8]) -> TcpInfo {
    let mut b = [0u8; TCP_INFO_KNOWN];
    for (d, s) in b.iter_mut().zip(bytes) {
        *d = *s;
    }
    let u32_at = |at| read_u32(&b, at).unwrap_or(0);
    let u64_at = |at| read_u64(&b, at).unwrap_or(0);
    // Byte 6 holds two 4-bit fields, snd_wscale first: in the low nibble on
    // little-endian hosts and the high one on big-endian (C bit-field order).
    let (snd_wscale, rcv_wscale) = if cfg!(target_endian = "little") {
        (b[6] & 0x0f, b[6] >> 4)
    } else {
        (b[6] >> 4, b[6] & 0x0f)
    };
    let app_limited = if cfg!(target_endian = "little") {
        b[7] & 0x01 != 0
    } else {
        b[7] & 0x80 != 0
    };
    TcpInfo {
        len: bytes.len(),
        ca_state: b[1],
        retransmits: b[2],
        backoff: b[4],
        options: b[5],
        snd_wscale,
        rcv_wscale,
        delivery_rate_app_limited: app_limited,
        rto_us: u32_at(8),
        ato_us: u32_at(12),
        snd_mss: u32_at(16),
        rcv_mss: u32_at(20),
        unacked: u32_at(24),
        sacked: u32_at(28),
        lost: u32_at(32),
        retrans: u32_at(36),
        last_data_sent_ms: u32_at(44),
        last_data_recv_ms: u32_at(52),
        last_ack_recv_ms: u32_at(56),
        pmtu: u32_at(60),
        rcv_ssthresh: u32_at(64),
        rtt_us: u32_at(68),
        rttvar_us: u32_at(72),
        snd_ssthresh: u32_at(76),
        snd_cwnd: u32_at(80),
        advmss: u32_at(84),
        reordering: u32_at(88),
        rcv_rtt_us: u32_at(92),
        rcv_space: u32_at(96),
        total_retrans: u32_at(100),
        pacing_rate: u64_at(104),
        max_pacing_rate: u64_at(112),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        segs_out: u32_at(136),
        segs_in: u32_at(140),
        notsent_bytes: u32_at(144),
        min_rtt_us: u32_at(148),
        data_segs_in: u32_at(152),
        data_segs_out: u32_at(156),
        delivery_rate: u64_at(160),
        busy_time_us: u64_at(168),
        rwnd_limited_us: u64_at(176),
        sndbuf_limited_us: u64_at(184),
        delivered: u32_at(192),
        delivered_ce: u32_at(196),
        bytes_sent: u64_at(200),
        bytes_retrans: u64_at(208),
        dsack_dups: u32_at(216),
        reord_seen: u32_at(220),
        rcv_ooopack: u32_at(224),
        snd_wnd: u32_at(228),
    }
}

/// Reads an `SK_MEMINFO_*` array (`INET_DIAG_SKMEMINFO`, `UNIX_DIAG_MEMINFO`);
/// entries the kernel did not send read 0.
pub fn parse_skmeminfo(bytes: &[u8]) -> SkMemInfo {
    let at = |i: usize| read_u32(bytes, i * 4).unwrap_or(0);
    SkMemInfo {
        rmem_alloc: at(0),
        rcvbuf: at(1),
        wmem_alloc: at(2),
        sndbuf: at(3),
        fwd_alloc: at(4),
        wmem_queued: at(5),
        optmem: at(6),
        backlog: at(7),
        drops: at(8),
    }
}

/// The details `detail` asks for from one `inet_diag_msg` payload: the timer
/// from the fixed header, tcp_info, congestion and memory from attributes.
/// `None` when nothing was found. A malformed attribute list ends the
/// search without error: optional details never cost a socket.
pub fn parse_inet_extra(payload: &[u8], detail: Detail) -> Option<Box<SocketExtra>> {
    let mut x = SocketExtra::default();
    if detail.timers
        && let (Some(&kind), Some(&retrans), Some(expires)) =
            (payload.get(2), payload.get(3), read_u32(payload, 52))
        && let Some(kind) = TimerKind::from_kernel(kind)
    {
        x.timer = Some(Timer {
            kind,
            expires_ms: u64::from(expires),
            retrans,
        });
    }
    for attr in Attrs(payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default()) {
        let Ok((kind, data)) = attr else { break };
        match kind {
            INET_DIAG_INFO if detail.info => x.tcp_info = Some(parse_tcp_info(data)),
            INET_DIAG_CONG if detail.info => x.congestion = Some(CongName::from_bytes(data)),
            INET_DIAG_SKMEMINFO if detail.memory => x.memory = Some(parse_skmeminfo(data)),
            _ => {}
        }
    }
    (x != SocketExtra::default()).then(|| Box::new(x))
}

/// Like [`parse_inet_extra`] for a `unix_diag_msg`: memory only (unix
/// sockets have no TCP internals or timers).
pub fn parse_unix_extra(payload: &[u8], detail: Detail) -> Option<Box<SocketExtra>> {
    if !detail.memory {
        return None;
    }
    for attr in Attrs(payload.get(UNIX_DIAG_MSG_LEN..).unwrap_or_default()) {
        let Ok((kind, data)) = attr else { break };
        if kind == UNIX_DIAG_MEMINFO {
            return Some(Box::new(SocketExtra {
                memory: Some(parse_skmeminfo(data)),
                ..SocketExtra::default()
            }));
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::IpAddr;

    const TCP4: &[u8] = include_bytes!("../../../tests/fixtures/netlink/tcp4.bin");
    const TCP6: &[u8] = include_bytes!("../../../tests/fixtures/netlink/tcp6.bin");
    const UDP4: &[u8] = include_bytes!("../../../tests/fixtures/netlink/udp4.bin");
    const UDP6: &[u8] = include_bytes!("../../../tests/fixtures/netlink/udp6.bin");
    const UNIX: &[u8] = include_bytes!("../../../tests/fixtures/netlink/unix.bin");
    const TCP4_INFO: &[u8] = include_bytes!("../../../tests/fixtures/netlink/tcp4_info.bin");
    const KNOWN: &str = include_str!("../../../tests/fixtures/netlink/known.txt");

    fn fixtures() -> [(&'static str, &'static [u8], DumpKind); 6] {
        [
            ("tcp4", TCP4, DumpKind::Inet(Proto::Tcp)),
            ("tcp6", TCP6, DumpKind::Inet(Proto::Tcp)),
            ("udp4", UDP4, DumpKind::Inet(Proto::Udp)),
            ("udp6", UDP6, DumpKind::Inet(Proto::Udp)),
            ("unix", UNIX, DumpKind::Unix),
            ("tcp4_info", TCP4_INFO, DumpKind::Inet(Proto::Tcp)),
        ]
    }

    fn parse_all(bytes: &[u8], kind: DumpKind) -> Vec<Socket> {
        let mut out = Vec::new();
        let mut r = DumpReader::new(kind);
        assert_eq!(r.feed(bytes, &mut out).unwrap(), Progress::Done);
        assert!(!r.interrupted);
        if kind == DumpKind::Unix {
            resolve_unix_peers(&mut out);
        }
        out
    }

    /// Offsets where each netlink message of `bytes` starts, and the end.
    fn boundaries(bytes: &[u8]) -> Vec<usize> {
        let mut at = vec![0];
        let mut off = 0;
        while off < bytes.len() {
            off += align4(read_u32(bytes, off).unwrap() as usize);
            at.push(off.min(bytes.len()));
        }
        at
    }

    /// The payloads of the SOCK_DIAG_BY_FAMILY messages in `bytes`.
    fn payloads(bytes: &[u8]) -> Vec<&[u8]> {
        let b = boundaries(bytes);
        b.windows(2)
            .filter(|w| read_u16(bytes, w[0] + 4) == Some(SOCK_DIAG_BY_FAMILY))
            .map(|w| &bytes[w[0] + NLMSG_HDRLEN..w[0] + read_u32(bytes, w[0]).unwrap() as usize])
            .collect()
    }

    /// As `ss -n` writes an endpoint (the form `known.txt` uses).
    fn shown(e: &Endpoint) -> String {
        match e {
            Endpoint::Inet { addr, port } => {
                let port = if *port == 0 {
                    "*".to_owned()
                } else {
                    port.to_string()
                };
                match addr {
                    IpAddr::V4(a) => format!("{a}:{port}"),
                    IpAddr::V6(a) => format!("[{a}]:{port}"),
                }
            }
            // ss shows an abstract name's NULs as `@`.
            Endpoint::Unix { path, .. } => path
                .as_ref()
                .map_or("*".to_owned(), |p| p.to_str_lossy().replace('\0', "@")),
        }
    }

    #[test]
    fn fixtures_hold_the_known_sockets() {
        let mut checked = 0;
        for line in KNOWN.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let (dump, state, local, remote, ino) = (f[0], f[1], f[2], f[3], f[4]);
            let (_, bytes, kind) = fixtures().into_iter().find(|x| x.0 == dump).unwrap();
            let all = parse_all(bytes, kind);
            let ino: u64 = ino.parse().unwrap();
            let s = all
                .iter()
                .find(|s| s.inode == ino)
                .unwrap_or_else(|| panic!("{line}"));
            assert_eq!(s.state.name_for(s.proto), state, "{line}");
            assert_eq!(shown(&s.local), local, "{line}");
            assert_eq!(shown(&s.remote), remote, "{line}");
            let family = match dump {
                "tcp6" | "udp6" => Family::Inet6,
                "unix" => Family::Unix,
                _ => Family::Inet,
            };
            assert_eq!(s.family, family, "{line}");
            match kind {
                DumpKind::Inet(p) => assert_eq!((s.proto, s.unix_type), (p, None)),
                DumpKind::Unix => assert_eq!(s.unix_type, Some(UnixType::Stream)),
            }
            checked += 1;
        }
        assert!(checked >= 12, "known.txt has {checked} lines");
    }

    /// The recorded IPv6 dumps carry INET_DIAG_SKV6ONLY for the listener
    /// and the unbound UDP socket, both on `::1` (binding a specific IPv6
    /// address makes a socket v6-only in the kernel), and not for connected
    /// sockets; IPv4 sockets have no flag.
    #[test]
    fn fixture_v6only_flags() {
        let tcp6 = parse_all(TCP6, DumpKind::Inet(Proto::Tcp));
        let flag = |all: &[Socket], ino: u64| all.iter().find(|s| s.inode == ino).unwrap().v6only;
        assert_eq!(flag(&tcp6, 27409), Some(true));
        assert_eq!(flag(&tcp6, 27412), None);
        let udp6 = parse_all(UDP6, DumpKind::Inet(Proto::Udp));
        assert_eq!(flag(&udp6, 27415), Some(true));
        for (bytes, proto) in [(TCP4, Proto::Tcp), (UDP4, Proto::Udp)] {
            assert!(
                parse_all(bytes, DumpKind::Inet(proto))
                    .iter()
                    .all(|s| s.v6only.is_none())
            );
        }
        // The attribute set to 0 in the recorded bytes reads as dual-stack.
        let listener = payloads(TCP6)
            .into_iter()
            .find(|p| read_u32(p, 68) == Some(27409))
            .unwrap();
        let mut at = INET_DIAG_MSG_LEN;
        let mut patched = listener.to_vec();
        while at + 4 < patched.len() {
            let len = usize::from(read_u16(&patched, at).unwrap());
            if read_u16(&patched, at + 2) == Some(INET_DIAG_SKV6ONLY) {
                patched[at + 4] = 0;
                break;
            }
            at += align4(len.max(4));
        }
        assert_ne!(patched, listener, "no INET_DIAG_SKV6ONLY in the recording");
        let s = parse_inet_msg(&patched, Proto::Tcp).unwrap().unwrap();
        assert_eq!(s.v6only, Some(false));
        // Cut short before the attributes: the socket, flag unknown.
        let s = parse_inet_msg(&listener[..INET_DIAG_MSG_LEN + 2], Proto::Tcp)
            .unwrap()
            .unwrap();
        assert_eq!((s.inode, s.v6only), (27409, None));
    }

    #[test]
    fn fixture_sockets_are_sane() {
        for (name, bytes, kind) in fixtures() {
            let all = parse_all(bytes, kind);
            assert!(!all.is_empty(), "{name}");
            // Every SOCK_DIAG message became a socket (all states are known).
            assert_eq!(all.len(), payloads(bytes).len(), "{name}");
            for s in &all {
                match kind {
                    DumpKind::Unix => assert_eq!(s.family, Family::Unix),
                    DumpKind::Inet(_) => {
                        let v6 = matches!(s.local.addr(), Some(IpAddr::V6(_)));
                        assert_eq!(v6, s.family == Family::Inet6, "{name}: {s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn feeding_message_by_message_gives_the_same_sockets() {
        for (name, bytes, kind) in fixtures() {
            let whole = parse_all(bytes, kind);
            let mut out = Vec::new();
            let mut r = DumpReader::new(kind);
            let b = boundaries(bytes);
            let mut last = Progress::More;
            for w in b.windows(2) {
                assert_eq!(last, Progress::More, "{name}: data after DONE");
                last = r.feed(&bytes[w[0]..w[1]], &mut out).unwrap();
            }
            assert_eq!(last, Progress::Done, "{name}");
            if kind == DumpKind::Unix {
                resolve_unix_peers(&mut out);
            }
            assert_eq!(out, whole, "{name}");
        }
    }

    #[test]
    fn every_truncation_is_a_clean_error_or_a_message_boundary() {
        for (name, bytes, kind) in fixtures() {
            let b = boundaries(bytes);
            for cut in 0..bytes.len() {
                let mut out = Vec::new();
                let res = DumpReader::new(kind).feed(&bytes[..cut], &mut out);
                if b.contains(&cut) {
                    assert_eq!(res.unwrap(), Progress::More, "{name} cut at {cut}");
                } else {
                    assert!(
                        matches!(res, Err(Error::NetlinkMalformed(_))),
                        "{name} cut at {cut}: {res:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn truncated_payloads_never_panic() {
        for (name, bytes, kind) in fixtures() {
            for p in payloads(bytes) {
                for cut in 0..p.len() {
                    let short = &p[..cut];
                    match kind {
                        DumpKind::Inet(proto) => {
                            let res = parse_inet_msg(short, proto);
                            if cut < INET_DIAG_MSG_LEN {
                                assert!(matches!(res, Err(Error::NetlinkMalformed(_))), "{name}");
                            } else {
                                // Attributes are not read: the socket survives.
                                assert!(res.unwrap().is_some(), "{name}");
                            }
                            let _ = parse_inet_detail(short);
                        }
                        DumpKind::Unix => {
                            let res = parse_unix_msg(short);
                            if cut < UNIX_DIAG_MSG_LEN {
                                assert!(matches!(res, Err(Error::NetlinkMalformed(_))), "{name}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn tcp_info_fixture_has_congestion_and_timing() {
        let mut out = Vec::new();
        let mut r = DumpReader::new(DumpKind::Inet(Proto::Tcp));
        assert_eq!(r.feed_detail(TCP4_INFO, &mut out).unwrap(), Progress::Done);
        let line = KNOWN.lines().find(|l| l.starts_with("tcp4_info ")).unwrap();
        let ino: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        let (s, d) = out.iter().find(|(s, _)| s.inode == ino).unwrap();
        assert_eq!(s.state, TcpState::Established);
        let info = d.tcp_info.unwrap();
        assert!(info.len >= TCP_INFO_KNOWN, "{info:?}");
        assert!(
            info.rtt_us > 0 && info.snd_cwnd > 0 && info.rto_us > 0,
            "{info:?}"
        );
        assert_eq!(info.total_retrans, 0);
        let cong = d.congestion.unwrap();
        assert!(
            !cong.as_str().is_empty() && cong.as_str().is_ascii(),
            "{cong:?}"
        );
        // Full sockets (listeners too) carry tcp_info; TIME_WAIT ones do not.
        for (s, d) in &out {
            assert_eq!(d.tcp_info.is_some(), s.state != TcpState::TimeWait, "{s:?}");
        }
    }

    /// The first message of the info fixture that carries tcp_info.
    fn info_payload() -> &'static [u8] {
        payloads(TCP4_INFO)
            .into_iter()
            .find(|p| parse_inet_detail(p).unwrap().tcp_info.is_some())
            .unwrap()
    }

    /// A message from the info fixture with its INET_DIAG_INFO cut to `keep` bytes.
    fn with_short_info(keep: usize) -> Vec<u8> {
        let p = info_payload();
        let mut msg = p[..INET_DIAG_MSG_LEN].to_vec();
        for attr in Attrs(&p[INET_DIAG_MSG_LEN..]) {
            let (kind, data) = attr.unwrap();
            let data = if kind == INET_DIAG_INFO {
                &data[..keep]
            } else {
                data
            };
            let len = 4 + data.len();
            msg.extend_from_slice(&(len as u16).to_ne_bytes());
            msg.extend_from_slice(&kind.to_ne_bytes());
            msg.extend_from_slice(data);
            msg.resize(align4(msg.len()), 0);
        }
        msg
    }

    #[test]
    fn short_tcp_info_is_padded_not_refused() {
        let full = parse_inet_detail(info_payload()).unwrap();
        let full_info = full.tcp_info.unwrap();
        // 144 bytes: what kernel 4.4 sends (up to tcpi_segs_in).
        for keep in [0, 3, 104, 144] {
            let msg = with_short_info(keep);
            assert!(parse_inet_msg(&msg, Proto::Tcp).unwrap().is_some());
            let d = parse_inet_detail(&msg).unwrap();
            let info = d.tcp_info.unwrap();
            assert_eq!(info.len, keep);
            assert_eq!(d.congestion, full.congestion);
            assert_eq!(info.delivery_rate, 0);
            assert_eq!(info.bytes_sent, 0);
            if keep >= 104 {
                assert_eq!(info.rtt_us, full_info.rtt_us);
                assert_eq!(info.snd_cwnd, full_info.snd_cwnd);
            } else {
                assert_eq!(info.rtt_us, 0);
            }
        }
    }

    #[test]
    fn parse_tcp_info_reads_known_offsets() {
        assert_eq!(parse_tcp_info(&[]), TcpInfo::default());
        let mut b = vec![0u8; 232];
        b[2] = 3;
        b[68..72].copy_from_slice(&1500u32.to_ne_bytes());
        b[80..84].copy_from_slice(&10u32.to_ne_bytes());
        b[120..128].copy_from_slice(&99u64.to_ne_bytes());
        b[200..208].copy_from_slice(&7u64.to_ne_bytes());
        let i = parse_tcp_info(&b);
        assert_eq!((i.retransmits, i.rtt_us, i.snd_cwnd), (3, 1500, 10));
        assert_eq!((i.bytes_acked, i.bytes_sent, i.len), (99, 7, 232));
        // Longer than we know (newer kernels): extra bytes ignored.
        b.resize(400, 0xff);
        assert_eq!(parse_tcp_info(&b).bytes_sent, 7);
    }

    #[test]
    fn unix_names_keep_their_bytes() {
        let name = |raw: &[u8]| unix_name(raw).map(|t| t.as_bytes().to_vec());
        assert_eq!(name(b""), None);
        assert_eq!(name(b"/run/x.sock\0").as_deref(), Some(&b"/run/x.sock"[..]));
        assert_eq!(name(b"/run/x.sock").as_deref(), Some(&b"/run/x.sock"[..]));
        assert_eq!(name(b"\0abc").as_deref(), Some(&b"@abc"[..]));
        assert_eq!(name(b"\0a\0b\0").as_deref(), Some(&b"@a\0b\0"[..]));
        assert_eq!(name(b"\0").as_deref(), Some(&b"@"[..]));
        assert_eq!(name(b"\0\xff").as_deref(), Some(&b"@\xff"[..]));
        assert_eq!(
            unix_name(b"\0a\0\x1b").map(|t| t.escaped().to_string()),
            Some(r"@a\x00\x1b".to_string())
        );
    }

    fn nlmsg(kind: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    #[test]
    fn kernel_errors_carry_their_errno() {
        let tcp = DumpKind::Inet(Proto::Tcp);
        let mut out = Vec::new();
        let err = nlmsg(NLMSG_ERROR, 0, 5, &(-2i32).to_ne_bytes());
        let res = DumpReader::new(tcp).feed(&err, &mut out);
        let Err(Error::Netlink(e)) = res else {
            panic!("{res:?}")
        };
        assert_eq!(e.raw_os_error(), Some(2));
        assert!(is_unsupported(&e));

        let done = nlmsg(NLMSG_DONE, 2, 5, &(-22i32).to_ne_bytes());
        let res = DumpReader::new(tcp).feed(&done, &mut out);
        let Err(Error::Netlink(e)) = res else {
            panic!("{res:?}")
        };
        assert_eq!(e.raw_os_error(), Some(22));

        let eperm = nlmsg(NLMSG_ERROR, 0, 5, &(-1i32).to_ne_bytes());
        let Err(Error::Netlink(e)) = DumpReader::new(tcp).feed(&eperm, &mut out) else {
            panic!()
        };
        assert!(!is_unsupported(&e));

        let short = nlmsg(NLMSG_ERROR, 0, 5, &[1, 2]);
        assert!(matches!(
            DumpReader::new(tcp).feed(&short, &mut out),
            Err(Error::NetlinkMalformed(_))
        ));
        // An old-style DONE without a payload is a plain end.
        let bare = nlmsg(NLMSG_DONE, 2, 5, &[]);
        assert_eq!(
            DumpReader::new(tcp).feed(&bare, &mut out).unwrap(),
            Progress::Done
        );
    }

    #[test]
    fn stale_sequences_are_skipped_and_interruptions_noted() {
        let tcp = DumpKind::Inet(Proto::Tcp);
        let p = payloads(TCP4)[0];
        let mut buf = nlmsg(SOCK_DIAG_BY_FAMILY, 2, 6, p);
        buf.extend(nlmsg(NLMSG_DONE, 2, 6, &0i32.to_ne_bytes()));
        buf.extend(nlmsg(SOCK_DIAG_BY_FAMILY, 2 | NLM_F_DUMP_INTR, 7, p));
        buf.extend(nlmsg(NLMSG_NOOP, 0, 7, &[]));
        buf.extend(nlmsg(NLMSG_DONE, 2, 7, &0i32.to_ne_bytes()));
        let mut out = Vec::new();
        let mut r = DumpReader::new(tcp).with_seq(7);
        assert_eq!(r.feed(&buf, &mut out).unwrap(), Progress::Done);
        assert_eq!(out.len(), 1);
        assert!(r.interrupted);
    }

    #[test]
    fn unknown_states_and_types_are_skipped() {
        let mut p = payloads(TCP4)[0].to_vec();
        p[1] = 42;
        assert_eq!(parse_inet_msg(&p, Proto::Tcp).unwrap(), None);
        p[0] = 99;
        assert!(matches!(
            parse_inet_msg(&p, Proto::Tcp),
            Err(Error::NetlinkMalformed(_))
        ));
        let mut u = payloads(UNIX)[0].to_vec();
        u[1] = 3; // SOCK_RAW: not a unix type
        assert_eq!(parse_unix_msg(&u).unwrap(), None);
    }

    #[test]
    fn requests_are_laid_out_as_the_kernel_expects() {
        let r = inet_request(9, AF_INET6, IPPROTO_TCP, 0x400, EXT_INFO);
        assert_eq!(read_u32(&r, 0), Some(72));
        assert_eq!(read_u16(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(read_u16(&r, 6), Some(0x301));
        assert_eq!(read_u32(&r, 8), Some(9));
        assert_eq!(&r[16..20], &[AF_INET6, IPPROTO_TCP, 2, 0]);
        assert_eq!(read_u32(&r, 20), Some(0x400));
        assert!(r[24..].iter().all(|&b| b == 0));
        let raw = inet_request(1, AF_INET, IPPROTO_RAW, 1, 0);
        assert_eq!(&raw[16..20], &[AF_INET, IPPROTO_RAW, 0, IPPROTO_RAW]);
        // Every state asks for the twelve the parser knows, not the
        // bound-inactive ones (bit 13) it would drop.
        let all = inet_request(2, AF_INET, IPPROTO_TCP, StateSet::ALL.0, 0);
        assert_eq!(read_u32(&all, 20), Some(0x1ffe));
        let u = unix_request(3, 0xffff_ffff, false);
        assert_eq!(read_u32(&u, 0), Some(40));
        assert_eq!(u[16], AF_UNIX);
        assert_eq!(read_u32(&u, 20), Some(0xffff_ffff));
        assert_eq!(read_u32(&u, 28), Some(0x55));
    }

    #[test]
    fn unix_peers_resolve_only_to_named_sockets() {
        let sock = |ino: u64, path: Option<&str>, peer: u64| Socket {
            proto: Proto::Unix,
            family: Family::Unix,
            local: Endpoint::Unix {
                path: path.map(Into::into),
                inode: ino,
            },
            remote: Endpoint::Unix {
                path: None,
                inode: peer,
            },
            state: TcpState::Established,
            inode: ino,
            unix_type: Some(UnixType::Stream),
            ..Socket::default()
        };
        let mut v = vec![
            sock(1, None, 2),
            sock(2, Some("/s"), 1),
            sock(3, None, 4),
            sock(4, None, 3),
            sock(5, None, 77),
        ];
        resolve_unix_peers(&mut v);
        let remote = |i: usize| match &v[i].remote {
            Endpoint::Unix { path, .. } => path.as_ref().map(|p| p.to_str_lossy().into_owned()),
            _ => None,
        };
        assert_eq!(remote(0).as_deref(), Some("/s"));
        assert_eq!(remote(1), None);
        assert_eq!(remote(2), None);
        assert_eq!(remote(4), None);
    }

    #[test]
    fn cookies_are_read_and_tell_sockets_apart() {
        for (name, bytes, kind) in fixtures() {
            let all = parse_all(bytes, kind);
            let mut cookies: Vec<u64> = all.iter().map(|s| s.cookie).collect();
            assert!(cookies.iter().all(|&c| c != 0), "{name}");
            cookies.sort_unstable();
            cookies.dedup();
            assert_eq!(cookies.len(), all.len(), "{name}: cookies unique");
        }
        let mut p = payloads(TCP4)[0].to_vec();
        p[44..48].copy_from_slice(&1u32.to_ne_bytes());
        p[48..52].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(
            parse_inet_msg(&p, Proto::Tcp).unwrap().unwrap().cookie,
            (2 << 32) | 1
        );
    }

    #[test]
    fn details_are_parsed_only_when_asked() {
        let tcp = DumpKind::Inet(Proto::Tcp);
        let plain = parse_all(TCP4_INFO, tcp);
        assert!(plain.iter().all(|s| s.extra.is_none()));
        let mut with = Vec::new();
        let info = Detail {
            info: true,
            ..Detail::default()
        };
        DumpReader::new(tcp)
            .with_detail(info)
            .feed(TCP4_INFO, &mut with)
            .unwrap();
        let mut detail = Vec::new();
        DumpReader::new(tcp)
            .feed_detail(TCP4_INFO, &mut detail)
            .unwrap();
        assert_eq!(with.len(), detail.len());
        for (s, (_, d)) in with.iter().zip(&detail) {
            let x = s.extra.as_deref();
            assert_eq!(x.and_then(|x| x.tcp_info), d.tcp_info);
            assert_eq!(x.and_then(|x| x.congestion), d.congestion);
            assert!(x.is_none_or(|x| x.memory.is_none() && x.timer.is_none()));
        }
        // Asking for memory alone gives no tcp_info even where the bytes hold it.
        let mem = Detail {
            memory: true,
            ..Detail::default()
        };
        let mut out = Vec::new();
        DumpReader::new(tcp)
            .with_detail(mem)
            .feed(TCP4_INFO, &mut out)
            .unwrap();
        assert!(out.iter().all(|s| s.extra.is_none()));
    }

    #[test]
    fn timers_come_from_the_message_header() {
        let mut p = payloads(TCP4)[0].to_vec();
        let timers = Detail {
            timers: true,
            ..Detail::default()
        };
        p[2] = 2;
        p[3] = 1;
        p[52..56].copy_from_slice(&9500u32.to_ne_bytes());
        let x = parse_inet_extra(&p, timers).unwrap();
        assert_eq!(
            x.timer,
            Some(Timer {
                kind: TimerKind::Keepalive,
                expires_ms: 9500,
                retrans: 1
            })
        );
        assert!(parse_inet_extra(&p, Detail::default()).is_none());
        p[2] = 0;
        assert!(parse_inet_extra(&p, timers).is_none());
        p[2] = 9;
        let x = parse_inet_extra(&p, timers).unwrap();
        assert_eq!(x.timer.unwrap().kind.as_str(), "unknown");
    }

    #[test]
    fn skmeminfo_reads_in_order_and_pads() {
        let words: Vec<u8> = (1u32..=9).flat_map(|w| w.to_ne_bytes()).collect();
        let m = parse_skmeminfo(&words);
        assert_eq!((m.rmem_alloc, m.rcvbuf, m.sndbuf, m.drops), (1, 2, 4, 9));
        let short = parse_skmeminfo(&words[..10]);
        assert_eq!(
            (short.rmem_alloc, short.rcvbuf, short.wmem_alloc),
            (1, 2, 0)
        );
        assert_eq!(parse_skmeminfo(&[]), SkMemInfo::default());
    }

    #[test]
    fn live_details_for_a_loopback_connection() {
        use std::io::{Read as _, Write as _};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut a, _) = l.accept().unwrap();
        rustix::net::sockopt::set_socket_keepalive(&c, true).unwrap();
        c.write_all(&[7u8; 10_000]).unwrap();
        let mut got = vec![0u8; 10_000];
        a.read_exact(&mut got).unwrap();
        let port = c.local_addr().unwrap().port();
        let query = Query {
            udp: false,
            raw: false,
            unix: true,
            ipv6: false,
            ..Query::default()
        };
        let all = Detail {
            info: true,
            memory: true,
            timers: true,
        };
        let nl = Netlink::open().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let s = loop {
            let mut out = Vec::new();
            nl.collect_with(&query, all, &mut out).unwrap();
            let s = out
                .into_iter()
                .find(|s| s.proto == Proto::Tcp && s.local.port() == Some(port))
                .unwrap();
            let acked = s
                .extra
                .as_ref()
                .and_then(|x| x.tcp_info)
                .map(|i| i.bytes_acked);
            if acked >= Some(10_000) || std::time::Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        assert_ne!(s.cookie, 0);
        let x = s.extra.unwrap();
        let info = x.tcp_info.unwrap();
        assert!(info.rtt_us > 0 && info.snd_cwnd > 0, "{info:?}");
        // bytes_acked counts the SYN too.
        assert!((10_000..=10_001).contains(&info.bytes_acked), "{info:?}");
        assert!(!x.congestion.unwrap().as_str().is_empty());
        assert!(x.memory.unwrap().sndbuf > 0);
        let t = x.timer.unwrap();
        assert_eq!(t.kind, TimerKind::Keepalive);
        // The default keepalive time is 2 hours.
        assert!(t.expires_ms > 0, "{t:?}");
        // Unix sockets carry memory when asked.
        let mut out = Vec::new();
        nl.collect_with(&query, all, &mut out).unwrap();
        assert!(
            out.iter()
                .filter(|s| s.proto == Proto::Unix)
                .all(|s| s.extra.as_ref().is_some_and(|x| x.memory.is_some()))
        );
    }

    #[test]
    fn a_buffer_too_small_grows_and_the_dump_is_redone() {
        // Enough sockets that one reply message is bigger than the buffer.
        let listeners: Vec<_> = (0..40)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let query = Query {
            udp: false,
            raw: false,
            unix: false,
            ipv6: false,
            states: StateSet::only(TcpState::Listen),
            ..Query::default()
        };
        let small = Netlink::open_with_buffer(512).unwrap();
        let mut out = Vec::new();
        small.collect(&query, &mut out).unwrap();
        assert!(small.lock_buf().len() > 512, "buffer grew");
        for l in &listeners {
            let port = l.local_addr().unwrap().port();
            let n = out.iter().filter(|s| s.local.port() == Some(port)).count();
            assert_eq!(n, 1, "listener on {port} seen once");
        }
        // The socket is usable afterwards: nothing of the cut dump is left.
        let mut again = Vec::new();
        small.collect(&query, &mut again).unwrap();
        assert!(again.len() >= listeners.len());
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut out = Vec::new();
            for kind in [DumpKind::Unix, DumpKind::Inet(Proto::Udp)] {
                let _ = DumpReader::new(kind).feed(&bytes, &mut out);
                let mut detail = Vec::new();
                let _ = DumpReader::new(kind).feed_detail(&bytes, &mut detail);
            }
            let _ = parse_inet_msg(&bytes, Proto::Tcp);
            let _ = parse_unix_msg(&bytes);
            let _ = parse_inet_detail(&bytes);
            let _ = parse_tcp_info(&bytes);
            let _ = unix_name(&bytes);
        }

        #[test]
        fn corrupted_fixtures_never_panic(
            which in 0usize..6,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let (_, bytes, kind) = fixtures()[which];
            let mut b = bytes.to_vec();
            for (i, v) in edits {
                let at = i.index(b.len());
                b[at] = v;
            }
            let mut out = Vec::new();
            let res = DumpReader::new(kind).feed(&b, &mut out);
            let clean = matches!(res, Ok(_) | Err(Error::NetlinkMalformed(_) | Error::Netlink(_)));
            prop_assert!(clean, "{:?}", res);
            let mut detail = Vec::new();
            let _ = DumpReader::new(DumpKind::Inet(Proto::Tcp)).feed_detail(&b, &mut detail);
        }
    }
}

/// `SOCK_DESTROY`: ask the kernel to close one socket (what `ss -K` does).
const SOCK_DESTROY: u16 = 21;
/// Ask for an acknowledgement (an NLMSG_ERROR carrying 0 on success).
const NLM_F_ACK: u16 = 0x04;
/// `INET_DIAG_NOCOOKIE`: match the socket by its addresses alone. Used only
/// for a socket whose cookie is unknown (0: read from /proc/net).
const INET_DIAG_NOCOOKIE: u32 = !0;

/// What became of a request to close a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestroyOutcome {
    /// The kernel closed it; the peer got a reset.
    Closed,
    /// Not permitted (closing a socket needs CAP_NET_ADMIN).
    NotPermitted,
    /// No such socket any more.
    Gone,
    /// This kernel cannot close sockets (`CONFIG_INET_DIAG_DESTROY` unset),
    /// or not sockets of this kind.
    Unsupported,
}

/// A `SOCK_DESTROY` request for one TCP socket, selected by its addresses,
/// bound interface and cookie: the kernel refuses (ESTALE) when the socket
/// now on those addresses is not the one that was listed, so a connection
/// that closed and was replaced by another on the same ports is left alone.
pub fn destroy_request(seq: u32, s: &Socket) -> Option<[u8; 72]> {
    if s.proto != Proto::Tcp {
        return None;
    }
    let (Endpoint::Inet { addr: la, port: lp }, Endpoint::Inet { addr: ra, port: rp }) =
        (&s.local, &s.remote)
    else {
        return None;
    };
    let af = match s.family {
        Family::Inet => AF_INET,
        Family::Inet6 => AF_INET6,
        Family::Unix => return None,
    };
    let bytes16 = |a: &std::net::IpAddr| -> [u8; 16] {
        let mut out = [0u8; 16];
        match a {
            std::net::IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
            std::net::IpAddr::V6(v6) => out = v6.octets(),
        }
        out
    };
    let mut b = [0u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN];
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DESTROY.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b[16] = af;
    b[17] = IPPROTO_TCP;
    b[20..24].copy_from_slice(&s.state.mask_bit().to_ne_bytes());
    // inet_diag_sockid: ports in network order, then addresses, interface, cookie.
    b[24..26].copy_from_slice(&lp.to_be_bytes());
    b[26..28].copy_from_slice(&rp.to_be_bytes());
    b[28..44].copy_from_slice(&bytes16(la));
    b[44..60].copy_from_slice(&bytes16(ra));
    b[60..64].copy_from_slice(&s.bound_if.to_ne_bytes());
    // The cookie as the dump gave it: two u32s, low half first.
    let (lo, hi) = if s.cookie == 0 {
        (INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    } else {
        (s.cookie as u32, (s.cookie >> 32) as u32)
    };
    b[64..68].copy_from_slice(&lo.to_ne_bytes());
    b[68..72].copy_from_slice(&hi.to_ne_bytes());
    Some(b)
}

/// Reads the kernel's answer to a request sent with NLM_F_ACK: the errno it
/// carries (0 for success), or `None` if the bytes hold no such answer.
pub fn ack_errno(buf: &[u8], seq: u32) -> Option<i32> {
    let mut at = 0;
    while let Some(rest) = buf.get(at..) {
        let h = NlHeader::read(rest).ok()?;
        if h.kind == NLMSG_ERROR && h.seq == seq {
            return read_i32(rest, NLMSG_HDRLEN).map(i32::saturating_neg);
        }
        at += align4(h.len);
    }
    None
}

impl Netlink {
    /// Closes one TCP socket through `SOCK_DESTROY`. Only TCP sockets can be
    /// closed this way; others are [`DestroyOutcome::Unsupported`].
    pub fn destroy(&self, s: &Socket) -> Result<DestroyOutcome> {
        let seq = self.next_seq();
        let Some(req) = destroy_request(seq, s) else {
            return Ok(DestroyOutcome::Unsupported);
        };
        let mut buf = self.lock_buf();
        self.send(&req)?;
        loop {
            let n = match self.recv(&mut buf)? {
                Read::Bytes(n) => n,
                Read::Truncated => continue,
            };
            let Some(errno) = ack_errno(&buf[..n], seq) else {
                continue; // a stale reply to an earlier request
            };
            if errno == 0 {
                return Ok(DestroyOutcome::Closed);
            }
            return Ok(match Errno::from_raw_os_error(errno) {
                Errno::PERM | Errno::ACCESS => DestroyOutcome::NotPermitted,
                // ESTALE: a socket is on those addresses, but not the one
                // listed (its cookie differs).
                Errno::NOENT | Errno::SRCH | Errno::STALE => DestroyOutcome::Gone,
                Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS => DestroyOutcome::Unsupported,
                other => return Err(Error::Netlink(other.into())),
            });
        }
    }
}

/// An exact-match `SOCK_DIAG_BY_FAMILY` request for one TCP socket's
/// tcp_info and congestion algorithm: its addresses, ports, interface and
/// cookie, as [`destroy_request`] selects it; `None` for other sockets.
pub fn info_request(seq: u32, s: &Socket) -> Option<[u8; 72]> {
    let mut b = destroy_request(seq, s)?;
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    b[18] = EXT_INFO | EXT_CONG;
    b[20..24].copy_from_slice(&KNOWN_STATES.to_ne_bytes());
    Some(b)
}

/// Sockets asked about in one `sendto`: their answers (about 300 bytes
/// each) fit the socket's receive buffer many times over.
const INFO_BATCH: usize = 64;

impl Netlink {
    /// Reads the tcp_info (and congestion algorithm) of each TCP socket in
    /// `sockets` by exact match rather than a dump, so a few sockets among
    /// 100k cost a few requests. Each found socket's `extra` is replaced
    /// by what the kernel said; one that closed meanwhile (or was replaced
    /// on the same ports: its cookie differs) is left with `extra: None`.
    /// A socket without a cookie (from /proc) is matched by its ends alone.
    /// Other sockets are left alone.
    pub fn tcp_info_of(&self, sockets: &mut [&mut Socket]) -> Result<()> {
        let detail = Detail {
            info: true,
            ..Detail::default()
        };
        let mut buf = self.lock_buf();
        let mut tcp: Vec<&mut Socket> = sockets
            .iter_mut()
            .filter(|s| s.proto == Proto::Tcp)
            .map(|s| &mut **s)
            .collect();
        for batch in tcp.chunks_mut(INFO_BATCH) {
            let first = self.next_seq();
            let mut req = Vec::with_capacity(batch.len() * 72);
            for (i, s) in batch.iter_mut().enumerate() {
                s.extra = None;
                let seq = first.wrapping_add(u32::try_from(i).unwrap_or(0));
                req.extend(info_request(seq, s).iter().flatten());
            }
            // Reserve the batch's sequence numbers.
            for _ in 1..batch.len() {
                self.next_seq();
            }
            self.send(&req)?;
            // The kernel answers each request while handling the send, so
            // every answer is queued by now: read until the queue is empty.
            let mut answered = 0;
            while answered < batch.len() {
                let n = match rustix::net::recv(&self.fd, buf.as_mut_slice(), RecvFlags::DONTWAIT) {
                    Ok((n, _)) => n,
                    Err(Errno::INTR) => continue,
                    Err(Errno::AGAIN) => break,
                    Err(e) => return Err(Error::Netlink(e.into())),
                };
                let mut rest = buf.get(..n).unwrap_or_default();
                while !rest.is_empty() {
                    let h = NlHeader::read(rest)?;
                    let msg = rest.get(NLMSG_HDRLEN..h.len).unwrap_or_default();
                    rest = rest.get(align4(h.len)..).unwrap_or_default();
                    let Some(s) = usize::try_from(h.seq.wrapping_sub(first))
                        .ok()
                        .and_then(|i| batch.get_mut(i))
                    else {
                        continue; // an answer to an earlier request
                    };
                    match h.kind {
                        SOCK_DIAG_BY_FAMILY => {
                            answered += 1;
                            // Without a cookie (read from /proc) the
                            // addresses alone chose it.
                            if s.cookie == 0 || cookie_at(msg, 44) == Some(s.cookie) {
                                s.extra = parse_inet_extra(msg, detail);
                            }
                        }
                        NLMSG_ERROR => answered += 1,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod destroy_tests {
    use super::*;

    #[test]
    fn destroy_request_layout() {
        let s = Socket {
            proto: Proto::Tcp,
            family: Family::Inet,
            local: Endpoint::v4(Ipv4Addr::new(127, 0, 0, 1), 8080),
            remote: Endpoint::v4(Ipv4Addr::new(127, 0, 0, 2), 0x1234),
            state: TcpState::Established,
            inode: 1,
            bound_if: 3,
            ..Socket::default()
        };
        let b = destroy_request(9, &s).expect("tcp");
        assert_eq!(read_u16(&b, 4), Some(SOCK_DESTROY));
        assert_eq!(b[16], AF_INET);
        assert_eq!(b[17], IPPROTO_TCP);
        assert_eq!(&b[24..28], &[0x1f, 0x90, 0x12, 0x34]);
        assert_eq!(&b[28..32], &[127, 0, 0, 1]);
        assert_eq!(&b[44..48], &[127, 0, 0, 2]);
        assert_eq!(read_u32(&b, 60), Some(3));
        // No cookie known: match by addresses alone.
        assert_eq!(read_u32(&b, 64), Some(INET_DIAG_NOCOOKIE));
        assert_eq!(read_u32(&b, 68), Some(INET_DIAG_NOCOOKIE));
        let with_cookie = Socket {
            cookie: 0x0000_0002_0000_0001,
            ..s.clone()
        };
        let b = destroy_request(9, &with_cookie).expect("tcp");
        assert_eq!(cookie_at(&b, 64), Some(0x0000_0002_0000_0001));
        let udp = Socket {
            proto: Proto::Udp,
            ..s
        };
        assert!(destroy_request(1, &udp).is_none());
    }

    #[test]
    fn ack_parsing() {
        let mut m = vec![0u8; 36];
        m[0..4].copy_from_slice(&36u32.to_ne_bytes());
        m[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m[8..12].copy_from_slice(&5u32.to_ne_bytes());
        m[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(ack_errno(&m, 5), Some(1));
        assert_eq!(ack_errno(&m, 6), None);
        assert_eq!(ack_errno(&m[..10], 5), None);
    }
}
