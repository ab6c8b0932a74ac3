//! Sockets from the text tables under `/proc/net`: `tcp`, `tcp6`, `udp`,
//! `udp6`, `raw`, `raw6` and `unix`.
//!
//! This is the fallback source, used when NETLINK_SOCK_DIAG is unavailable or
//! when asked for (`--source procfs`), and the only one that sees raw sockets
//! on kernels built without `CONFIG_INET_RAW_DIAG`. It is also the way into
//! another network namespace without `setns`: [`ProcNet::at`] reads
//! `/proc/<pid>/net`.
//!
//! The parsers ([`parse`]) are pure functions over the bytes of one file, so
//! recorded fixtures and the live kernel go through the same code. This module
//! does not find owners (see `owners.rs`) and does not talk netlink.
//!
//! # What the files do not say
//!
//! The text tables carry less than the netlink dump, and nothing here makes up
//! the difference:
//! - **Listener queues.** For a TCP `LISTEN` socket the kernel writes the
//!   accept queue length as `rx_queue` and 0 as `tx_queue`, so a listener's
//!   `recv_q` is right but its `send_q` is 0; `ss` (netlink) shows the backlog
//!   (`sk_max_ack_backlog`) there instead.
//! - **Bound interface.** `SO_BINDTODEVICE` and IPv6 scope ids are not in the
//!   files: `bound_if` is always 0.
//! - **Unix sockets** have no queues, no owner uid and no peer in
//!   `/proc/net/unix`: `recv_q`, `send_q` and `uid` are 0 and the remote end
//!   is `Endpoint::Unix { path: None, inode: 0 }`.

use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::collect::Collector;
use crate::error::{Error, Result};
use crate::model::{
    Detail, Endpoint, Family, Proto, Query, Socket, SocketExtra, Source, TcpState, Timer,
    TimerKind, UnixType,
};
use crate::text::Text;

/// Sockets from the text files in `/proc/net` (or another process's `/proc/<pid>/net`).
///
/// ```no_run
/// use portscope::collect::Collector;
/// use portscope::collect::linux::procnet::ProcNet;
/// use portscope::model::Query;
///
/// let mut sockets = Vec::new();
/// ProcNet::new().collect(&Query::default(), &mut sockets)?;
/// # Ok::<(), portscope::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProcNet {
    dir: PathBuf,
    detail: Detail,
}

impl ProcNet {
    /// Reads `/proc/thread-self/net`: the network namespace of the calling
    /// thread, where its netlink sockets also look. (`/proc/net` is the
    /// process's main thread's, which differs once a thread has `setns`.)
    pub fn new() -> ProcNet {
        ProcNet::at("/proc/thread-self/net")
    }

    /// Reads the files of `dir` (a `/proc/<pid>/net` or a fixture folder).
    pub fn at(dir: impl Into<PathBuf>) -> ProcNet {
        ProcNet {
            dir: dir.into(),
            detail: Detail::default(),
        }
    }

    /// Also fill in the details these files carry: timers (the `tr`,
    /// `tm->when` and `retrnsmt` columns). TCP internals and memory are not
    /// in them and stay `None`.
    pub fn with_detail(mut self, detail: Detail) -> ProcNet {
        self.detail = detail;
        self
    }

    /// The folder the tables are read from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Default for ProcNet {
    fn default() -> Self {
        ProcNet::new()
    }
}

impl Collector for ProcNet {
    fn source(&self) -> Source {
        Source::Procfs
    }

    /// Reads every table the query wants, one file at a time into one buffer.
    ///
    /// A missing table (no IPv6 in the kernel, unix sockets as an unloaded
    /// module) is skipped; a missing folder is an [`Error::Io`] (a
    /// `/proc/<pid>/net` whose process has gone must not look like a quiet
    /// machine). A table that can't be read is [`Error::PermissionDenied`] or
    /// [`Error::Io`]; a line that can't be parsed is [`Error::Parse`] (see
    /// [`parse`]). On error `out` is left as it was. Sockets the query does
    /// not want are dropped.
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()> {
        // One buffer for all tables: a busy host has megabytes of /proc/net/tcp,
        // and growing a fresh buffer per file would redo that work seven times.
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut dir_checked = false;
        let entry_len = out.len();
        for table in Table::ALL {
            if !table.wanted_by(query) {
                continue;
            }
            let path = self.dir.join(table.file_name());
            let found = read_table(&path, &mut buf).inspect_err(|_| out.truncate(entry_len))?;
            if !found {
                if !dir_checked && !self.dir.is_dir() {
                    out.truncate(entry_len);
                    return Err(Error::io(
                        &self.dir,
                        io::Error::from(io::ErrorKind::NotFound),
                    ));
                }
                dir_checked = true;
                continue;
            }
            let start = out.len();
            if let Err(e) = parse_with(table, &buf, &path.to_string_lossy(), self.detail, out) {
                // Half a table is worse than none: leave `out` as it came.
                out.truncate(entry_len);
                return Err(e);
            }
            retain_from(out, start, |s| query.wants(s));
        }
        Ok(())
    }
}

/// Reads a whole file into `buf` (cleared first); `Ok(false)` if it does not exist.
///
/// seq_file hands out at most about a page per read(2) whatever the buffer
/// size, so this is one open and as many reads as the kernel needs, into a
/// buffer that keeps its capacity between files.
fn read_table(path: &Path, buf: &mut Vec<u8>) -> Result<bool> {
    buf.clear();
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(path, e)),
    };
    file.read_to_end(buf).map_err(|e| Error::io(path, e))?;
    Ok(true)
}

/// Keeps, among `out[start..]`, only the sockets `keep` accepts (in order).
fn retain_from(out: &mut Vec<Socket>, start: usize, keep: impl Fn(&Socket) -> bool) {
    let mut w = start;
    for r in start..out.len() {
        if keep(&out[r]) {
            out.swap(w, r);
            w += 1;
        }
    }
    out.truncate(w);
}

/// One of the socket tables under `/proc/net`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// `tcp`: TCP over IPv4.
    Tcp,
    /// `tcp6`: TCP over IPv6 (including v4-mapped peers of dual-stack sockets).
    Tcp6,
    /// `udp`: UDP over IPv4.
    Udp,
    /// `udp6`: UDP over IPv6.
    Udp6,
    /// `raw`: raw IPv4 sockets.
    Raw,
    /// `raw6`: raw IPv6 sockets.
    Raw6,
    /// `unix`: unix domain sockets.
    Unix,
}

impl Table {
    /// Every table, in the order [`ProcNet`] reads them.
    pub const ALL: [Table; 7] = [
        Table::Tcp,
        Table::Tcp6,
        Table::Udp,
        Table::Udp6,
        Table::Raw,
        Table::Raw6,
        Table::Unix,
    ];

    /// The file's name under `/proc/net`.
    pub const fn file_name(self) -> &'static str {
        match self {
            Table::Tcp => "tcp",
            Table::Tcp6 => "tcp6",
            Table::Udp => "udp",
            Table::Udp6 => "udp6",
            Table::Raw => "raw",
            Table::Raw6 => "raw6",
            Table::Unix => "unix",
        }
    }

    /// The protocol of the sockets in this table.
    pub const fn proto(self) -> Proto {
        match self {
            Table::Tcp | Table::Tcp6 => Proto::Tcp,
            Table::Udp | Table::Udp6 => Proto::Udp,
            Table::Raw | Table::Raw6 => Proto::Raw,
            Table::Unix => Proto::Unix,
        }
    }

    /// The address family of the sockets in this table.
    pub const fn family(self) -> Family {
        match self {
            Table::Tcp | Table::Udp | Table::Raw => Family::Inet,
            Table::Tcp6 | Table::Udp6 | Table::Raw6 => Family::Inet6,
            Table::Unix => Family::Unix,
        }
    }

    /// Whether `query` wants any socket from this table (by protocol and family).
    pub const fn wanted_by(self, query: &Query) -> bool {
        let proto = match self.proto() {
            Proto::Tcp => query.tcp,
            Proto::Udp => query.udp,
            Proto::Raw => query.raw,
            Proto::Unix => query.unix,
        };
        let family = match self.family() {
            Family::Inet => query.ipv4,
            Family::Inet6 => query.ipv6,
            Family::Unix => true,
        };
        proto && family
    }
}

/// Parses the whole text of one table, appending one [`Socket`] per line.
///
/// `file` names the source in errors only. The first line (the column header)
/// is skipped; an empty text or a header alone gives no sockets.
///
/// A line that does not parse is a hard [`Error::Parse`] carrying `file` and
/// the 1-based line number (the header is line 1): these files come from the
/// kernel, so a line we can't read means a format we don't understand, and
/// returning the sockets around it as if they were all would mislead. So is a
/// state number that is not a TCP state.
///
/// One exception, in `unix`: the kernel writes socket names byte for byte, so
/// a name holding a newline continues on the next line(s). A line that does
/// not parse as a record, right after a record that has a name, is taken as
/// the rest of that name. (A name can therefore also forge a whole record —
/// as it can for `ss` and `netstat`; only the netlink source is immune.)
///
/// Names that are not UTF-8 are kept with U+FFFD in place of the bad bytes.
///
/// ```
/// use portscope::collect::linux::procnet::{parse, Table};
/// use portscope::model::{Endpoint, TcpState};
/// use std::net::Ipv4Addr;
///
/// let text = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
///    0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n";
/// let mut out = Vec::new();
/// parse(Table::Tcp, text, "tcp", &mut out)?;
/// assert_eq!(out[0].local, Endpoint::v4(Ipv4Addr::LOCALHOST, 8080));
/// assert_eq!(out[0].state, TcpState::Listen);
/// assert_eq!((out[0].recv_q, out[0].uid, out[0].inode), (2, 1000, 4242));
/// # Ok::<(), portscope::Error>(())
/// ```
pub fn parse(table: Table, text: &[u8], file: &str, out: &mut Vec<Socket>) -> Result<()> {
    parse_with(table, text, file, Detail::default(), out)
}

/// Like [`parse`], also filling [`Socket::extra`] with the details `detail`
/// asks for that the table carries (timers of tcp, udp and raw lines).
pub fn parse_with(
    table: Table,
    text: &[u8],
    file: &str,
    detail: Detail,
    out: &mut Vec<Socket>,
) -> Result<()> {
    match table {
        Table::Unix => parse_unix(text, file, out),
        _ => parse_inet(text, table, file, detail.timers, out),
    }
}

/// The lines of a table after its header, numbered from 2 (1-based, header is 1).
///
/// Exactly one trailing newline ends the last line; an empty line before it
/// is a real (empty) line, which matters for unix names ending in a newline.
fn body_lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let empty = text.is_empty();
    text.split(|&b| b == b'\n')
        .enumerate()
        .skip(1)
        .filter(move |_| !empty)
        .map(|(i, l)| (i + 1, l))
}

fn parse_error(file: &str, line: usize, what: &str, text: &[u8]) -> Error {
    // Enough of the line to recognise it, not a megabyte of garbage.
    let shown = &text[..text.len().min(160)];
    Error::Parse {
        file: file.to_owned(),
        line,
        msg: format!("{what}: {:?}", String::from_utf8_lossy(shown)),
    }
}

fn parse_inet(
    text: &[u8],
    table: Table,
    file: &str,
    timers: bool,
    out: &mut Vec<Socket>,
) -> Result<()> {
    for (n, line) in body_lines(text) {
        let sock = parse_inet_line(line, table, timers)
            .map_err(|what| parse_error(file, n, what, line))?;
        out.push(sock);
    }
    Ok(())
}

/// One line of `tcp`, `udp` or `raw` (v4 or v6); they share their first ten columns:
///
/// ```text
///    sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...
///    0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 ...
/// ```
///
/// For `raw`, the "port" of the local address is the socket's IP protocol
/// number (`inet_num`: 1 for an ICMP socket, 58 for ICMPv6, 255 for
/// IPPROTO_RAW) and the remote port is always 0. We keep it as the local port,
/// as `ss -w` does (`0.0.0.0:1`, `*:58`); the netlink dump reports the same
/// number in the same place, so both sources agree.
///
/// `tr` numbers the pending timer as inet_diag does and `tm->when` counts
/// clock ticks (USER_HZ, 100 on every architecture Linux runs on but alpha
/// and ia64) until it fires.
fn parse_inet_line(
    line: &[u8],
    table: Table,
    timers: bool,
) -> std::result::Result<Socket, &'static str> {
    let family = table.family();
    let mut f = Fields(line);
    let sl = f.next().ok_or("empty line")?;
    if sl.last() != Some(&b':') || !sl[..sl.len() - 1].iter().all(u8::is_ascii_digit) {
        return Err("bad slot number");
    }
    let (laddr, lport) = f
        .next()
        .and_then(|a| parse_inet_addr(a, family))
        .ok_or("bad local address")?;
    let (raddr, rport) = f
        .next()
        .and_then(|a| parse_inet_addr(a, family))
        .ok_or("bad remote address")?;
    let st = f.next().and_then(|s| hex(s, 2)).ok_or("bad state")?;
    let state = u8::try_from(st)
        .ok()
        .and_then(TcpState::from_kernel)
        .ok_or("unknown state")?;
    let (tx_queue, rx_queue) = f
        .next()
        .and_then(|q| split_pair(q, hex32, hex32))
        .ok_or("bad queues")?;
    let (tr, when) = f
        .next()
        .and_then(|t| split_pair(t, |x| hex(x, 2), |x| hex(x, 16)))
        .ok_or("bad timer")?;
    let retrnsmt = f.next().and_then(hex32).ok_or("bad retransmit count")?;
    let uid = f
        .next()
        .and_then(dec)
        .and_then(|u| u32::try_from(u).ok())
        .ok_or("bad uid")?;
    // timeout: printed as a signed int (%d) by tcp, udp and raw alike.
    f.next()
        .map(|t| t.strip_prefix(b"-").unwrap_or(t))
        .and_then(dec)
        .ok_or("bad timeout")?;
    let inode = f.next().and_then(dec).ok_or("bad inode")?;
    Ok(Socket {
        proto: table.proto(),
        family,
        local: Endpoint::Inet {
            addr: laddr,
            port: lport,
        },
        remote: Endpoint::Inet {
            addr: raddr,
            port: rport,
        },
        state,
        // For LISTEN, rx_queue is the accept queue and tx_queue is 0, not the
        // backlog netlink reports (see the module comment).
        recv_q: rx_queue,
        send_q: tx_queue,
        uid,
        inode,
        unix_type: None,
        bound_if: 0,
        owners: Vec::new(),
        owners_hidden: false,
        cookie: 0,
        extra: timer_extra(timers, tr, when, retrnsmt),
    })
}

/// USER_HZ: the unit of `tm->when`.
const USER_HZ: u64 = 100;

fn timer_extra(wanted: bool, tr: u64, when: u64, retrnsmt: u32) -> Option<Box<SocketExtra>> {
    let kind = TimerKind::from_kernel(u8::try_from(tr).ok()?)?;
    wanted.then(|| {
        Box::new(SocketExtra {
            timer: Some(Timer {
                kind,
                expires_ms: when.saturating_mul(1000 / USER_HZ),
                retrans: u8::try_from(retrnsmt).unwrap_or(u8::MAX),
            }),
            ..SocketExtra::default()
        })
    })
}

/// `ADDR:PORT` with ADDR in the kernel's in-memory layout.
///
/// The kernel prints each 32-bit word of the address (`__be32` for IPv4,
/// `s6_addr32[i]` for IPv6) with `%08X`, i.e. as a native-endian integer: on
/// little-endian hosts 127.0.0.1 reads `0100007F`. Turning each word back into
/// its native bytes recovers the address on hosts of either endianness. The
/// port is converted to host order before printing, so it reads as is.
fn parse_inet_addr(field: &[u8], family: Family) -> Option<(IpAddr, u16)> {
    let (addr, port) = split_pair(field, Some, |p| hex(p, 4))?;
    let port = u16::try_from(port).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = addr.get(i * 8..i * 8 + 8)?;
        Some(hex32(w)?.to_ne_bytes())
    };
    let ip = match family {
        Family::Inet if addr.len() == 8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        Family::Inet6 if addr.len() == 32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// `__SO_ACCEPTCON` in the Flags column: the socket is listening.
const SO_ACCEPTCON: u32 = 1 << 16;

fn parse_unix(text: &[u8], file: &str, out: &mut Vec<Socket>) -> Result<()> {
    // Index in `out` of the last record that has a name: a line that is not a
    // record may be the rest of that name (see `parse`).
    let mut named: Option<usize> = None;
    for (n, line) in body_lines(text) {
        match parse_unix_line(line) {
            Ok(sock) => {
                named =
                    matches!(sock.local, Endpoint::Unix { path: Some(_), .. }).then_some(out.len());
                out.push(sock);
            }
            Err(what) => {
                let Some(Endpoint::Unix {
                    path: Some(path), ..
                }) = named.and_then(|i| out.get_mut(i)).map(|s| &mut s.local)
                else {
                    return Err(parse_error(file, n, what, line));
                };
                let mut full = std::mem::take(path).as_bytes().to_vec();
                full.push(b'\n');
                full.extend_from_slice(line);
                *path = Text::from(full);
            }
        }
    }
    Ok(())
}

/// One record of `/proc/net/unix`:
///
/// ```text
/// Num       RefCount Protocol Flags    Type St Inode Path
/// 0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/a b.sock
/// ```
///
/// States, as `ss -x` names them when it reads this file: the `St` column is
/// the VFS socket state (`SS_*`) the kernel derives from `sk_state` and from
/// whether the socket still has a file:
/// - Flags has `__SO_ACCEPTCON` → LISTEN (the kernel sets it exactly when
///   `sk_state` is `TCP_LISTEN`).
/// - 01 unconnected → CLOSE (UNCONN): a bound or fresh socket.
/// - 03 connected → ESTABLISHED (stream and seqpacket pairs, connected dgram).
/// - 02 connecting → SYN_SENT: no file yet, `sk_state` established; this is
///   a connection queued on a listener and not yet accepted (inode 0, the
///   listener's name). The netlink dump leaves these out altogether.
/// - 04 disconnecting → CLOSING: no file any more and not established.
///
/// Unlike `ss`'s reader, a dgram socket in state 01 stays UNCONN: `ss` calls it
/// ESTAB whenever the Num column (a kernel pointer) is non-zero, which says
/// nothing about a peer.
fn parse_unix_line(line: &[u8]) -> std::result::Result<Socket, &'static str> {
    let mut f = Fields(line);
    let num = f.next().ok_or("empty line")?;
    match num.split_last() {
        Some((b':', ptr)) if !ptr.is_empty() && ptr.iter().all(u8::is_ascii_hexdigit) => {}
        _ => return Err("bad Num"),
    }
    f.next().and_then(hex32).ok_or("bad RefCount")?;
    f.next().and_then(hex32).ok_or("bad Protocol")?;
    let flags = f.next().and_then(hex32).ok_or("bad Flags")?;
    let unix_type = f
        .next()
        .and_then(|t| hex(t, 4))
        .and_then(|t| u32::try_from(t).ok())
        .ok_or("bad Type")
        .and_then(|t| UnixType::from_kernel(t).ok_or("unknown Type"))?;
    let st = f.next().and_then(|s| hex(s, 2)).ok_or("bad St")?;
    let state = if flags & SO_ACCEPTCON != 0 {
        TcpState::Listen
    } else {
        match st {
            1 => TcpState::Close,
            2 => TcpState::SynSent,
            3 => TcpState::Established,
            4 => TcpState::Closing,
            _ => return Err("unknown St"),
        }
    };
    let inode = f.next().and_then(dec).ok_or("bad Inode")?;
    // After the inode: nothing, or one space and the name up to the end of
    // the line, spaces and all (a relative path may even start with one).
    // The name is empty here only when it starts with a newline: the rest
    // follows on the next line.
    let path = match f.0 {
        [] => None,
        [b' ', name @ ..] => Some(Text::from(name)),
        _ => return Err("bad Path"),
    };
    Ok(Socket {
        proto: Proto::Unix,
        family: Family::Unix,
        local: Endpoint::Unix { path, inode },
        remote: Endpoint::Unix {
            path: None,
            inode: 0,
        },
        state,
        recv_q: 0,
        send_q: 0,
        uid: 0,
        inode,
        unix_type: Some(unix_type),
        bound_if: 0,
        owners: Vec::new(),
        owners_hidden: false,
        cookie: 0,
        extra: None,
    })
}

/// Space-separated fields of a line, read left to right; `.0` is what is left
/// (starting at the space after the last field taken).
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.0.iter().position(|&b| b != b' ')?;
        let rest = &self.0[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        self.0 = &rest[end..];
        Some(&rest[..end])
    }
}

/// `a:b`, each side parsed by its own function.
fn split_pair<'a, A, B>(
    s: &'a [u8],
    a: impl FnOnce(&'a [u8]) -> Option<A>,
    b: impl FnOnce(&'a [u8]) -> Option<B>,
) -> Option<(A, B)> {
    let colon = s.iter().position(|&c| c == b':')?;
    Some((a(&s[..colon])?, b(&s[colon + 1..])?))
}

/// Up to eight hex digits (any case), nothing else.
fn hex32(s: &[u8]) -> Option<u32> {
    hex(s, 8).and_then(|v| u32::try_from(v).ok())
}

/// Up to `max` hex digits (any case), nothing else; at most 16 so it fits.
fn hex(s: &[u8], max: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max.min(16) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | u64::from(d);
    }
    Some(v)
}

/// Decimal digits only, fitting a u64.
fn dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |v, &c| {
        let d = (c as char).to_digit(10)?;
        v.checked_mul(10)?.checked_add(u64::from(d))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_read_when_asked() {
        let text = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 02:000003E8 00000001  1000        0 4242 1 0000000000000000 20 4 30 10 -1\n\
   1: 0100007F:1F90 0100007F:D432 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1\n";
        let timers = Detail {
            timers: true,
            ..Detail::default()
        };
        let mut out = Vec::new();
        parse_with(Table::Tcp, text, "tcp", timers, &mut out).unwrap();
        let t = out[0].extra.as_ref().unwrap().timer.unwrap();
        assert_eq!(
            t,
            Timer {
                kind: TimerKind::Keepalive,
                expires_ms: 10_000,
                retrans: 1
            }
        );
        assert!(out[1].extra.is_none());
        let mut plain = Vec::new();
        parse(Table::Tcp, text, "tcp", &mut plain).unwrap();
        assert!(plain.iter().all(|s| s.extra.is_none() && s.cookie == 0));
    }

    #[test]
    fn hex_and_dec_reject_junk() {
        assert_eq!(hex32(b"0100007F"), Some(0x0100_007F));
        assert_eq!(hex32(b"ff"), Some(255));
        assert_eq!(hex32(b""), None);
        assert_eq!(hex32(b"123456789"), None);
        assert_eq!(hex32(b"12 4"), None);
        assert_eq!(hex32(b"+1"), None);
        assert_eq!(hex(b"100", 2), None);
        assert_eq!(dec(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(dec(b"18446744073709551616"), None);
        assert_eq!(dec(b"-1"), None);
        assert_eq!(dec(b""), None);
    }

    #[test]
    fn addresses_follow_memory_order() {
        let v4 = |ip: Ipv4Addr| format!("{:08X}", u32::from_ne_bytes(ip.octets()));
        let ip = Ipv4Addr::new(192, 0, 2, 1);
        let field = format!("{}:0050", v4(ip));
        assert_eq!(
            parse_inet_addr(field.as_bytes(), Family::Inet),
            Some((IpAddr::V4(ip), 80))
        );
        #[cfg(target_endian = "little")]
        assert_eq!(
            parse_inet_addr(b"0100007F:1F90", Family::Inet),
            Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 8080))
        );
        #[cfg(target_endian = "little")]
        assert_eq!(
            parse_inet_addr(b"0000000000000000FFFF00000100007F:0016", Family::Inet6),
            Some((IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 22))
        );
        assert_eq!(parse_inet_addr(b"0100007F:1F90", Family::Inet6), None);
        assert_eq!(parse_inet_addr(b"0100007F1F90", Family::Inet), None);
        assert_eq!(parse_inet_addr(b"0100007F:10000", Family::Inet), None);
        assert_eq!(parse_inet_addr(b"0100007:1F90", Family::Inet), None);
    }

    #[test]
    fn retain_from_keeps_the_head_and_order() {
        let mut v = Vec::new();
        let text = b"h\n\
            0: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 1\n\
            1: 00000000:0002 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 2\n\
            2: 00000000:0003 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 3\n\
            3: 00000000:0004 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 4\n";
        parse(Table::Raw, text, "raw", &mut v).unwrap();
        retain_from(&mut v, 1, |s| s.state == TcpState::Close);
        let inodes: Vec<u64> = v.iter().map(|s| s.inode).collect();
        assert_eq!(inodes, [1, 3]);
    }

    #[test]
    fn body_lines_keeps_inner_empty_lines() {
        let lines: Vec<_> = body_lines(b"h\na\n\nb\n").collect();
        assert_eq!(lines, [(2, &b"a"[..]), (3, &b""[..]), (4, &b"b"[..])]);
        assert_eq!(body_lines(b"").count(), 0);
        assert_eq!(body_lines(b"h\n").count(), 0);
        assert_eq!(body_lines(b"h").count(), 0);
        assert_eq!(body_lines(b"\n").count(), 0);
    }

    // ---- recorded fixtures (tests/fixtures/procnet, made by record.py) ----

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/procnet")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn parsed(table: Table) -> Vec<Socket> {
        let mut out = Vec::new();
        parse(
            table,
            &fixture(table.file_name()),
            table.file_name(),
            &mut out,
        )
        .unwrap();
        out
    }

    fn by_inode(sockets: &[Socket], inode: u64) -> &Socket {
        let mut found = sockets.iter().filter(|s| s.inode == inode);
        let s = found.next().unwrap_or_else(|| panic!("no socket {inode}"));
        assert!(found.next().is_none(), "two sockets with inode {inode}");
        s
    }

    fn v4(a: [u8; 4], port: u16) -> Endpoint {
        Endpoint::v4(Ipv4Addr::from(a), port)
    }

    fn v6(a: &str, port: u16) -> Endpoint {
        Endpoint::v6(a.parse().unwrap(), port)
    }

    #[test]
    #[cfg_attr(
        target_endian = "big",
        ignore = "fixtures hold little-endian address words"
    )]
    fn fixture_tcp() {
        let t = parsed(Table::Tcp);
        assert_eq!(t.len(), 13);
        assert!(
            t.iter()
                .all(|s| s.proto == Proto::Tcp && s.family == Family::Inet)
        );
        assert!(t.iter().all(|s| s.unix_type.is_none() && s.bound_if == 0));

        // A listener with one connection waiting in its accept queue: rx_queue
        // is that queue; tx_queue is 0 (ss shows the backlog, 7, there).
        let l = by_inode(&t, 10986);
        assert_eq!(l.local, v4([127, 0, 0, 1], 34775));
        assert_eq!(l.remote, v4([0, 0, 0, 0], 0));
        assert_eq!(l.state, TcpState::Listen);
        assert_eq!((l.recv_q, l.send_q, l.uid), (1, 0, 0));

        // The accepted end with 5 unread bytes.
        let a = by_inode(&t, 10988);
        assert_eq!(a.local, v4([127, 0, 0, 1], 34775));
        assert_eq!(a.remote, v4([127, 0, 0, 1], 54694));
        assert_eq!(a.state, TcpState::Established);
        assert_eq!((a.recv_q, a.send_q), (5, 0));

        // Made by uid 65534.
        let n = by_inode(&t, 10206);
        assert_eq!(n.local, v4([127, 0, 0, 5], 54105));
        assert_eq!((n.state, n.uid), (TcpState::Listen, 65534));

        // TIME_WAIT: no file, so inode 0.
        let tw: Vec<_> = t.iter().filter(|s| s.state == TcpState::TimeWait).collect();
        assert_eq!(tw.len(), 4);
        assert!(tw.iter().all(|s| s.inode == 0));
        assert!(
            tw.iter()
                .any(|s| s.local == v4([127, 0, 0, 1], 42510)
                    && s.remote == v4([127, 0, 0, 2], 48565))
        );

        // A connection still in the accept queue has no file either.
        let queued = t
            .iter()
            .find(|s| s.remote == v4([127, 0, 0, 1], 54706))
            .unwrap();
        assert_eq!((queued.state, queued.inode), (TcpState::Established, 0));
    }

    #[test]
    #[cfg_attr(
        target_endian = "big",
        ignore = "fixtures hold little-endian address words"
    )]
    fn fixture_tcp6() {
        let t = parsed(Table::Tcp6);
        assert_eq!(t.len(), 6);
        assert!(
            t.iter()
                .all(|s| s.proto == Proto::Tcp && s.family == Family::Inet6)
        );
        let l = by_inode(&t, 10993);
        assert_eq!(
            (l.local.clone(), l.state),
            (v6("::1", 48033), TcpState::Listen)
        );
        assert_eq!(l.remote, v6("::", 0));
        let any = by_inode(&t, 10996);
        assert_eq!(
            (any.local.clone(), any.state),
            (v6("::", 56759), TcpState::Listen)
        );
        // A v4 client accepted by a dual-stack listener: v4-mapped, as the kernel keeps it.
        let m = by_inode(&t, 10998);
        assert_eq!(m.local, v6("::ffff:127.0.0.1", 56759));
        assert_eq!(m.remote, v6("::ffff:127.0.0.1", 56096));
        assert_eq!(m.state, TcpState::Established);
        let c = by_inode(&t, 10994);
        assert_eq!(
            (c.local.clone(), c.remote.clone()),
            (v6("::1", 49438), v6("::1", 48033))
        );
    }

    #[test]
    #[cfg_attr(
        target_endian = "big",
        ignore = "fixtures hold little-endian address words"
    )]
    fn fixture_udp() {
        let u = parsed(Table::Udp);
        assert_eq!(u.len(), 2);
        let bound = by_inode(&u, 10999);
        assert_eq!(bound.local, v4([127, 0, 0, 1], 34017));
        assert_eq!(bound.remote, v4([0, 0, 0, 0], 0));
        // Unconnected UDP is state 07; 100 bytes waiting cost 832 bytes of rmem.
        assert_eq!((bound.state, bound.recv_q), (TcpState::Close, 832));
        assert!(bound.is_listening());
        let conn = by_inode(&u, 11000);
        assert_eq!(conn.remote, v4([127, 0, 0, 1], 34017));
        assert_eq!(conn.state, TcpState::Established);

        let u6 = parsed(Table::Udp6);
        assert_eq!(u6.len(), 2);
        let b6 = by_inode(&u6, 11001);
        assert_eq!(
            (b6.local.clone(), b6.state),
            (v6("::1", 37046), TcpState::Close)
        );
        let c6 = by_inode(&u6, 11002);
        assert_eq!(
            (c6.local.clone(), c6.remote.clone()),
            (v6("::1", 57762), v6("::1", 37046))
        );
        assert_eq!((c6.proto, c6.family), (Proto::Udp, Family::Inet6));
    }

    #[test]
    #[cfg_attr(
        target_endian = "big",
        ignore = "fixtures hold little-endian address words"
    )]
    fn fixture_raw_port_is_the_protocol() {
        let r = parsed(Table::Raw);
        assert_eq!(r.len(), 2);
        let icmp = by_inode(&r, 11003);
        assert_eq!((icmp.proto, icmp.family), (Proto::Raw, Family::Inet));
        assert_eq!(icmp.local, v4([0, 0, 0, 0], 1));
        assert_eq!(
            (icmp.remote.clone(), icmp.state),
            (v4([0, 0, 0, 0], 0), TcpState::Close)
        );
        // A connected raw UDP socket: protocol 17 as the local port, remote port 0.
        let conn = by_inode(&r, 11004);
        assert_eq!(conn.local, v4([127, 0, 0, 3], 17));
        assert_eq!(conn.remote, v4([127, 0, 0, 4], 0));
        assert_eq!(conn.state, TcpState::Established);

        let r6 = parsed(Table::Raw6);
        assert_eq!(r6.len(), 1);
        assert_eq!(r6[0].local, v6("::", 58));
        assert_eq!((r6[0].family, r6[0].inode), (Family::Inet6, 11005));
    }

    #[test]
    fn fixture_unix() {
        let u = parsed(Table::Unix);
        assert_eq!(u.len(), 12);
        assert!(
            u.iter()
                .all(|s| s.proto == Proto::Unix && s.family == Family::Unix)
        );
        assert!(u.iter().all(|s| s.remote
            == Endpoint::Unix {
                path: None,
                inode: 0
            }));
        let path = |p: &str, inode| Endpoint::Unix {
            path: Some(p.into()),
            inode,
        };
        let spaced = "/tmp/portscope-fixture/sock dir/with space.sock";

        let l = by_inode(&u, 11008);
        assert_eq!(l.local, path(spaced, 11008));
        assert_eq!(
            (l.state, l.unix_type),
            (TcpState::Listen, Some(UnixType::Stream))
        );
        assert!(l.is_listening());
        // The accepted end carries the listener's name.
        let a = by_inode(&u, 11010);
        assert_eq!(
            (a.local.clone(), a.state),
            (path(spaced, 11010), TcpState::Established)
        );
        // The client end has no name.
        let c = by_inode(&u, 11009);
        assert_eq!(
            c.local,
            Endpoint::Unix {
                path: None,
                inode: 11009
            }
        );
        // Not yet accepted: St 02, no file, the listener's name.
        let e = by_inode(&u, 0);
        assert_eq!(
            (e.local.clone(), e.state),
            (path(spaced, 0), TcpState::SynSent)
        );

        let ab = by_inode(&u, 11012);
        assert_eq!(ab.local, path("@portscope-abstract@x", 11012));
        assert_eq!(
            (ab.state, ab.unix_type),
            (TcpState::Established, Some(UnixType::Dgram))
        );
        // A name with a newline in it spans two lines of the file.
        let nl = by_inode(&u, 11016);
        assert_eq!(nl.local, path("@portscope\nnew line", 11016));
        assert_eq!(
            (nl.state, nl.unix_type),
            (TcpState::Close, Some(UnixType::Dgram))
        );
        let sp = by_inode(&u, 11014);
        assert_eq!(
            (sp.state, sp.unix_type),
            (TcpState::Established, Some(UnixType::Seqpacket))
        );
    }

    /// `ss` state names (`ss -H` output) as states.
    fn ss_state(name: &str) -> TcpState {
        match name {
            "ESTAB" => TcpState::Established,
            "SYN-SENT" => TcpState::SynSent,
            "SYN-RECV" => TcpState::SynRecv,
            "FIN-WAIT-1" => TcpState::FinWait1,
            "FIN-WAIT-2" => TcpState::FinWait2,
            "TIME-WAIT" => TcpState::TimeWait,
            "UNCONN" => TcpState::Close,
            "CLOSE-WAIT" => TcpState::CloseWait,
            "LAST-ACK" => TcpState::LastAck,
            "LISTEN" => TcpState::Listen,
            "CLOSING" => TcpState::Closing,
            other => panic!("ss state {other}"),
        }
    }

    /// `127.0.0.1:80`, `[::1]:80`, `*:58`, `0.0.0.0:*` as ss prints them (-n).
    fn ss_endpoint(s: &str) -> Endpoint {
        let (addr, port) = s.rsplit_once(':').unwrap();
        let port = if port == "*" {
            0
        } else {
            port.parse().unwrap()
        };
        let addr = addr.split('%').next().unwrap();
        let addr: IpAddr = match addr {
            "*" => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            a => a
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .unwrap(),
        };
        Endpoint::Inet { addr, port }
    }

    #[test]
    #[cfg_attr(
        target_endian = "big",
        ignore = "fixtures hold little-endian address words"
    )]
    fn fixture_matches_ss_recorded_with_it() {
        let ss = String::from_utf8(fixture("ss.txt")).unwrap();
        let mut from_ss = Vec::new();
        let mut unix_ss = std::collections::HashMap::new();
        for line in ss.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.first().copied() {
                Some(p @ ("tcp" | "udp" | "raw")) => from_ss.push((
                    p.to_owned(),
                    ss_endpoint(f[4]),
                    ss_endpoint(f[5]),
                    ss_state(f[1]),
                )),
                Some("u_str" | "u_dgr" | "u_seq") if f.len() >= 8 => {
                    let inode: u64 = f[f.len() - 3].parse().unwrap();
                    unix_ss.insert(inode, ss_state(f[1]));
                }
                _ => {}
            }
        }
        let mut ours = Vec::new();
        for t in [
            Table::Tcp,
            Table::Tcp6,
            Table::Udp,
            Table::Udp6,
            Table::Raw,
            Table::Raw6,
        ] {
            for s in parsed(t) {
                ours.push((s.proto.as_str().to_owned(), s.local, s.remote, s.state));
            }
        }
        from_ss.sort_by_key(|k| format!("{k:?}"));
        ours.sort_by_key(|k| format!("{k:?}"));
        assert_eq!(ours, from_ss);

        // Unix: ss (netlink) names the same states for every socket it lists
        // (it leaves out the not-yet-accepted one).
        let unix = parsed(Table::Unix);
        let mut compared = 0;
        for s in &unix {
            if let Some(st) = unix_ss.get(&s.inode) {
                assert_eq!(s.state, *st, "unix inode {}", s.inode);
                compared += 1;
            }
        }
        assert!(
            compared >= 10,
            "only {compared} unix sockets in common with ss"
        );
    }

    #[test]
    fn fixture_dir_through_the_collector() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/procnet");
        let pn = ProcNet::at(&dir);
        assert_eq!(pn.source(), Source::Procfs);
        let mut all = Vec::new();
        pn.collect(&Query::default(), &mut all).unwrap();
        assert_eq!(all.len(), 13 + 6 + 2 + 2 + 2 + 1 + 12);

        let mut v4_listen = Vec::new();
        let q = Query {
            ipv6: false,
            unix: false,
            states: crate::model::StateSet::only(TcpState::Listen),
            ..Query::default()
        };
        pn.collect(&q, &mut v4_listen).unwrap();
        assert_eq!(v4_listen.len(), 4);
        assert!(v4_listen.iter().all(|s| s.proto == Proto::Tcp
            && s.family == Family::Inet
            && s.state == TcpState::Listen));

        let q = Query {
            tcp: false,
            udp: false,
            raw: true,
            unix: false,
            ..Query::default()
        };
        let mut raw = vec![all[0].clone()];
        pn.collect(&q, &mut raw).unwrap();
        assert_eq!(raw.len(), 1 + 3, "appends after what is there");
        assert_eq!(raw[0], all[0]);
    }

    #[test]
    fn missing_files_are_skipped_but_a_missing_dir_is_not() {
        let dir = std::env::temp_dir().join(format!("portscope-procnet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("udp"), fixture("udp")).unwrap();
        let mut out = Vec::new();
        let r = ProcNet::at(&dir).collect(&Query::default(), &mut out);
        std::fs::remove_dir_all(&dir).unwrap();
        r.unwrap();
        assert_eq!(out.len(), 2);

        let gone = ProcNet::at("/proc/net/no-such-dir");
        match gone.collect(&Query::default(), &mut out) {
            Err(Error::Io { path, source }) => {
                assert_eq!(path, Path::new("/proc/net/no-such-dir"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_table_leaves_out_as_it_was() {
        let dir =
            std::env::temp_dir().join(format!("portscope-procnet-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("tcp"), fixture("tcp")).unwrap();
        std::fs::write(dir.join("udp"), [&fixture("udp")[..], b"junk\n"].concat()).unwrap();
        let mut out = parsed(Table::Raw);
        let before = out.clone();
        let r = ProcNet::at(&dir).collect(&Query::default(), &mut out);
        std::fs::remove_dir_all(&dir).unwrap();
        match r {
            Err(Error::Parse { file, line, .. }) => {
                assert!(file.ends_with("/udp"), "{file}");
                assert_eq!(line, 4);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(out, before);
    }

    // ---- malformed input ----

    fn parse_err(table: Table, text: &[u8]) -> (usize, String) {
        let mut out = Vec::new();
        match parse(table, text, "f", &mut out) {
            Err(Error::Parse { file, line, msg }) => {
                assert_eq!(file, "f");
                (line, msg)
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    const TCP_HEADER: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    const TCP_LINE: &[u8] = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0";

    #[test]
    fn empty_and_header_only_give_nothing() {
        for table in Table::ALL {
            let mut out = Vec::new();
            parse(table, b"", "f", &mut out).unwrap();
            let header = fixture(table.file_name());
            let first = header.split(|&b| b == b'\n').next().unwrap();
            parse(table, first, "f", &mut out).unwrap();
            parse(table, &[first, b"\n"].concat(), "f", &mut out).unwrap();
            assert!(out.is_empty(), "{table:?}");
        }
    }

    #[test]
    fn truncated_lines_are_errors_with_their_number() {
        let text = fixture("tcp");
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        // Every cut of line 4 short of its inode fails on line 4.
        let inode_end = {
            let l = lines[3];
            let f: Vec<_> = Fields(l).collect();
            let inode = f[9];
            inode.as_ptr() as usize - l.as_ptr() as usize + inode.len()
        };
        for cut in 0..inode_end - 5 {
            let mut t = [lines[0], lines[1], lines[2]].join(&b'\n');
            t.push(b'\n');
            t.extend_from_slice(&lines[3][..cut]);
            t.push(b'\n');
            let (line, msg) = parse_err(Table::Tcp, &t);
            assert_eq!(line, 4, "cut at {cut}: {msg}");
        }
        let unix = fixture("unix");
        let first_two: Vec<&[u8]> = unix.split(|&b| b == b'\n').take(2).collect();
        for cut in 0..first_two[1].len() - 6 {
            let t = [first_two[0], b"\n", &first_two[1][..cut], b"\n"].concat();
            assert_eq!(parse_err(Table::Unix, &t).0, 2, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let with = |line: &[u8]| [TCP_HEADER, TCP_LINE, b"\n", line, b"\n"].concat();
        for bad in [
            &b"\xff\xfe\x00garbage"[..],
            b"",
            b"   1: 0100007F:1F90",
            b"   1: 0100007G:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            b"   1: 0100007F:1F90 00000000:0000 0D 00000000:00000000 00:00000000 00000000 0 0 1",
            b"   1: 0100007F:1F90 00000000:0000 00 00000000:00000000 00:00000000 00000000 0 0 1",
            b"   1: 0100007F:1F90 00000000:0000 0A 00000000 00:00000000 00000000 0 0 1",
            b"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 -1 0 1",
            b"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 x1",
            b"   1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 4294967296 0 1",
            b"x1: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
            b"   1:\t0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1",
        ] {
            let (line, msg) = parse_err(Table::Tcp, &with(bad));
            assert_eq!(line, 3, "{msg}");
        }
        // An IPv6 table read as IPv4 and the other way round.
        assert_eq!(parse_err(Table::Tcp, &fixture("tcp6")).0, 2);
        assert_eq!(parse_err(Table::Udp6, &fixture("udp")).0, 2);
        assert_eq!(parse_err(Table::Tcp, &fixture("unix")).0, 2);
        assert_eq!(parse_err(Table::Unix, &fixture("tcp")).0, 2);
    }

    #[test]
    fn unix_garbage_is_an_error_unless_it_continues_a_name() {
        const H: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n";
        const UNNAMED: &[u8] = b"0000000000000000: 00000002 00000000 00000000 0001 01  7777\n";
        const NAMED: &[u8] = b"0000000000000000: 00000002 00000000 00010000 0001 01  7778 /run/x\n";
        for bad in [
            &b"garbage\n"[..],
            b"0000000000000000: 00000002 00000000 00000000 0003 01  1\n",
            b"0000000000000000: 00000002 00000000 00000000 0001 05  1\n",
            b"0000000000000000: 00000002 00000000 00000000 0001 01  1x\n",
            b"0000000000000000: 00000002 00000000 00000000 0001 01  1\t\n",
            b"0000000000000000 00000002 00000000 00000000 0001 01  1\n",
            b": 00000002 00000000 00000000 0001 01  1\n",
        ] {
            assert_eq!(parse_err(Table::Unix, &[H, bad].concat()).0, 2);
            assert_eq!(parse_err(Table::Unix, &[H, UNNAMED, bad].concat()).0, 3);
        }
        let mut out = Vec::new();
        parse(
            Table::Unix,
            &[H, NAMED, b"more\n\n", UNNAMED].concat(),
            "f",
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].local,
            Endpoint::Unix {
                path: Some("/run/x\nmore\n".into()),
                inode: 7778
            }
        );
        assert_eq!(out[0].state, TcpState::Listen);
        assert_eq!(
            out[1].local,
            Endpoint::Unix {
                path: None,
                inode: 7777
            }
        );
        // A name kept byte for byte: leading spaces, trailing spaces, not UTF-8.
        out.clear();
        let odd = b"0000000000000000: 00000002 00000000 00000000 0002 01  9  a b \xff \n";
        parse(Table::Unix, &[H, odd].concat(), "f", &mut out).unwrap();
        assert_eq!(
            out[0].local,
            Endpoint::Unix {
                path: Some(Text::from(&b" a b \xff "[..])),
                inode: 9
            }
        );
        // A name that starts with a newline.
        out.clear();
        let nl = b"0000000000000000: 00000002 00000000 00000000 0002 01  9 \nrest\n";
        parse(Table::Unix, &[H, nl].concat(), "f", &mut out).unwrap();
        assert_eq!(
            out[0].local,
            Endpoint::Unix {
                path: Some("\nrest".into()),
                inode: 9
            }
        );
        // Disconnecting (St 04).
        out.clear();
        let disc = b"0000000000000000: 00000002 00000000 00000000 0001 04  0\n";
        parse(Table::Unix, &[H, disc].concat(), "f", &mut out).unwrap();
        assert_eq!(out[0].state, TcpState::Closing);
    }

    // ---- properties ----

    use proptest::prelude::*;

    fn parse_all_tables(text: &[u8]) {
        for table in Table::ALL {
            let mut out = Vec::new();
            let _ = parse(table, text, "f", &mut out);
        }
    }

    fn kernel_words(bytes: &[u8]) -> String {
        bytes
            .chunks_exact(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect()
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(text in prop::collection::vec(any::<u8>(), 0..3000)) {
            parse_all_tables(&text);
        }

        #[test]
        fn near_misses_never_panic(
            text in prop::collection::vec(
                prop::sample::select(b"0123456789abcdefABCDEF :\n@/-".to_vec()), 0..3000),
        ) {
            parse_all_tables(&text);
        }

        #[test]
        fn mutated_fixtures_never_panic(
            table in prop::sample::select(Table::ALL.to_vec()),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8),
        ) {
            let mut text = fixture(table.file_name());
            for (at, byte, op) in edits {
                if text.is_empty() {
                    break;
                }
                let i = at.index(text.len());
                match op {
                    0 => text[i] = byte,
                    1 => text.insert(i, byte),
                    _ => { text.remove(i); }
                }
            }
            parse_all_tables(&text);
        }

        /// A line written the way the kernel writes it reads back as what was written.
        #[test]
        fn inet_lines_round_trip(
            v6 in any::<bool>(),
            local in any::<[u8; 16]>(),
            remote in any::<[u8; 16]>(),
            ports in any::<(u16, u16)>(),
            st in 1u8..=12,
            queues in any::<(u32, u32)>(),
            uid in any::<u32>(),
            inode in any::<u64>(),
            table_kind in 0..3usize,
        ) {
            let (table, len) = match (v6, table_kind) {
                (false, 0) => (Table::Tcp, 4),
                (false, 1) => (Table::Udp, 4),
                (false, _) => (Table::Raw, 4),
                (true, 0) => (Table::Tcp6, 16),
                (true, 1) => (Table::Udp6, 16),
                (true, _) => (Table::Raw6, 16),
            };
            let line = format!(
                "{:4}: {}:{:04X} {}:{:04X} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 2 0000000000000000 0\n",
                7, kernel_words(&local[..len]), ports.0, kernel_words(&remote[..len]), ports.1,
                st, queues.0, queues.1, uid, 0, inode,
            );
            let mut out = Vec::new();
            parse(table, &[TCP_HEADER, line.as_bytes()].concat(), "f", &mut out).unwrap();
            prop_assert_eq!(out.len(), 1);
            let s = &out[0];
            let ip = |b: &[u8; 16]| -> IpAddr {
                if v6 { IpAddr::from(*b) } else { IpAddr::from([b[0], b[1], b[2], b[3]]) }
            };
            prop_assert_eq!(&s.local, &Endpoint::Inet { addr: ip(&local), port: ports.0 });
            prop_assert_eq!(&s.remote, &Endpoint::Inet { addr: ip(&remote), port: ports.1 });
            prop_assert_eq!(s.state.kernel(), st);
            prop_assert_eq!((s.send_q, s.recv_q, s.uid, s.inode), (queues.0, queues.1, uid, inode));
            prop_assert_eq!((s.proto, s.family), (table.proto(), table.family()));
        }

        #[test]
        fn unix_lines_round_trip(
            ptr in any::<u64>(),
            refs in any::<u32>(),
            listen in any::<bool>(),
            ty in prop::sample::select(vec![1u32, 2, 5]),
            st in 1u8..=4,
            inode in any::<u64>(),
            name in prop::option::of(prop::collection::vec(
                prop_oneof![20 => any::<u8>(), 1 => Just(b'\n')], 1..120)),
        ) {
            let mut line = format!(
                "{ptr:016x}: {refs:08X} 00000000 {:08X} {ty:04X} {st:02X} {inode:5}",
                if listen { SO_ACCEPTCON } else { 0 },
            )
            .into_bytes();
            if let Some(name) = &name {
                line.push(b' ');
                line.extend_from_slice(name);
            }
            line.push(b'\n');
            let header = b"Num       RefCount Protocol Flags    Type St Inode Path\n";
            let mut out = Vec::new();
            parse(Table::Unix, &[&header[..], &line].concat(), "f", &mut out).unwrap();
            prop_assert_eq!(out.len(), 1);
            let s = &out[0];
            let path = name.map(Text::from);
            prop_assert_eq!(&s.local, &Endpoint::Unix { path, inode });
            let state = match (listen, st) {
                (true, _) => TcpState::Listen,
                (_, 1) => TcpState::Close,
                (_, 2) => TcpState::SynSent,
                (_, 3) => TcpState::Established,
                _ => TcpState::Closing,
            };
            prop_assert_eq!(s.state, state);
            prop_assert_eq!(s.unix_type, UnixType::from_kernel(ty));
        }
    }
}
