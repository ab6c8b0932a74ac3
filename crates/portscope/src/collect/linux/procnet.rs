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
use crate::model::{Endpoint, Family, Proto, Query, Socket, Source, TcpState, UnixType};

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
}

impl ProcNet {
    /// Reads `/proc/net` (the network namespace of the calling thread).
    pub fn new() -> ProcNet {
        ProcNet::at("/proc/net")
    }

    /// Reads the files of `dir` (a `/proc/<pid>/net` or a fixture folder).
    pub fn at(dir: impl Into<PathBuf>) -> ProcNet {
        ProcNet { dir: dir.into() }
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
    /// [`parse`]). Sockets the query does not want are dropped.
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()> {
        // One buffer for all tables: a busy host has megabytes of /proc/net/tcp,
        // and growing a fresh buffer per file would redo that work seven times.
        let mut buf = Vec::with_capacity(64 * 1024);
        let mut dir_checked = false;
        for table in Table::ALL {
            if !table.wanted_by(query) {
                continue;
            }
            let path = self.dir.join(table.file_name());
            if !read_table(&path, &mut buf)? {
                if !dir_checked && !self.dir.is_dir() {
                    return Err(Error::io(
                        &self.dir,
                        io::Error::from(io::ErrorKind::NotFound),
                    ));
                }
                dir_checked = true;
                continue;
            }
            let start = out.len();
            parse(table, &buf, &path.to_string_lossy(), out)?;
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
    match table {
        Table::Unix => parse_unix(text, file, out),
        _ => parse_inet(text, table, file, out),
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

fn parse_inet(text: &[u8], table: Table, file: &str, out: &mut Vec<Socket>) -> Result<()> {
    for (n, line) in body_lines(text) {
        let sock = parse_inet_line(line, table).map_err(|what| parse_error(file, n, what, line))?;
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
fn parse_inet_line(line: &[u8], table: Table) -> std::result::Result<Socket, &'static str> {
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
    // tr:tm->when and retrnsmt: timer details we do not model.
    f.next()
        .and_then(|t| split_pair(t, |x| hex(x, 2), |x| hex(x, 16)))
        .ok_or("bad timer")?;
    f.next().and_then(hex32).ok_or("bad retransmit count")?;
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
                let mut full = String::from(std::mem::take(path));
                full.push('\n');
                full.push_str(&String::from_utf8_lossy(line));
                *path = full.into_boxed_str();
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
    let path = match f.0 {
        [] => None,
        [b' ', name @ ..] if !name.is_empty() => Some(String::from_utf8_lossy(name).into()),
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
}
