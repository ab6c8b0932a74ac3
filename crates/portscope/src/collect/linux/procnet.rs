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
//!   `/proc/net/unix`: `recv_q` and `send_q` are 0, `uid` is `None` and the
//!   remote end is `Endpoint::Unix { path: None, inode: 0 }`.
//! - **v6only.** `tcp6`, `udp6` and `raw6` have no per-socket
//!   `IPV6_V6ONLY` flag. A listening or unbound IPv6 socket on one address
//!   is v6-only (the kernel sets it on bind; false for a v4-mapped
//!   address); on `::` it gets the system default (`net.ipv6.bindv6only`)
//!   as [`Socket::v6only`], which a socket that set the option itself
//!   contradicts.
//! - **No cookie, no TCP internals, no memory**: `cookie` is 0 and only
//!   timers are in [`Socket::extra`].
//! - **Unix names with newlines are ambiguous.** The kernel writes names
//!   byte for byte, so a name holding `\n` continues on the next line, and
//!   can make that line look like a record of its own: a local user can
//!   forge a socket. See [`parse_unix_checked`] for what is checked.

use std::collections::{HashMap, HashSet};
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
    bindv6only: Option<PathBuf>,
    /// The socket inodes that vouch for an ambiguous unix record; `None`:
    /// walk the fd tables of /proc to find them, when needed.
    held: Option<std::sync::Arc<HashSet<u64>>>,
}

/// The sysctl giving the IPv6 wildcard's default: 1 when `::` is v6-only.
const BINDV6ONLY: &str = "/proc/sys/net/ipv6/bindv6only";

impl ProcNet {
    /// Reads `/proc/net` (the network namespace of the calling thread).
    pub fn new() -> ProcNet {
        ProcNet {
            bindv6only: Some(PathBuf::from(BINDV6ONLY)),
            ..ProcNet::at("/proc/net")
        }
    }

    /// Reads the files of `dir` (a `/proc/<pid>/net` or a fixture folder).
    /// The v6only default is not known there ([`Socket::v6only`] stays
    /// `None`) unless [`ProcNet::with_bindv6only`] says where to read it.
    pub fn at(dir: impl Into<PathBuf>) -> ProcNet {
        ProcNet {
            dir: dir.into(),
            detail: Detail::default(),
            bindv6only: None,
            held: None,
        }
    }

    /// Checks ambiguous unix records (see [`parse_unix_checked`]) against
    /// these socket inodes instead of the fd tables of the running system:
    /// for a recorded folder, or a caller that has walked them already.
    pub fn with_held_inodes(mut self, inodes: impl IntoIterator<Item = u64>) -> ProcNet {
        self.held = Some(std::sync::Arc::new(inodes.into_iter().collect()));
        self
    }

    /// Reads the v6only default of IPv6 listeners from `file` (a copy of
    /// `net.ipv6.bindv6only`: `0` or `1`).
    pub fn with_bindv6only(mut self, file: impl Into<PathBuf>) -> ProcNet {
        self.bindv6only = Some(file.into());
        self
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
    /// not want are dropped. What [`ProcNet::collect_noting`] would note is
    /// not reported.
    fn collect(&self, query: &Query, out: &mut Vec<Socket>) -> Result<()> {
        self.collect_noting(query, out, &mut Vec::new())
    }
}

impl ProcNet {
    /// [`Collector::collect`], also saying in `notes` what was left out
    /// and why: unix records that could be part of a name with a newline
    /// and that the fd walk does not vouch for (see [`parse_unix_checked`]).
    /// The walk is done only when the unix table has such a record.
    pub fn collect_noting(
        &self,
        query: &Query,
        out: &mut Vec<Socket>,
        notes: &mut Vec<String>,
    ) -> Result<()> {
        self.collect_noting_with(query, out, notes, None)
    }

    /// [`ProcNet::collect_noting`], trying the owners of an earlier walk
    /// first (`hint`, as a live view keeps one): each is checked afresh (the
    /// fd is still that unix socket), and only an inode none of them
    /// confirms costs a new walk.
    pub fn collect_noting_with(
        &self,
        query: &Query,
        out: &mut Vec<Socket>,
        notes: &mut Vec<String>,
        hint: Option<&super::owners::OwnerMap>,
    ) -> Result<()> {
        let v6only = self.v6only_default();
        // Inodes of the IP sockets read before the unix table: a forged unix
        // record copying one of them is not a unix socket.
        let mut inet_inodes: HashSet<u64> = HashSet::new();
        let mut walked: Option<super::owners::OwnerMap> = None;
        let mut walk_failed: Option<String> = None;
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
            let file = path.to_string_lossy();
            let parsed = match table {
                Table::Unix => {
                    let mut held = |ino: u64| {
                        !inet_inodes.contains(&ino)
                            && match &self.held {
                                Some(set) => set.contains(&ino),
                                None => {
                                    let confirms = |o: &crate::model::Owner| {
                                        holds_unix_socket(o.pid, o.fd, ino)
                                    };
                                    hint.is_some_and(|h| h.owners_of(ino).iter().any(confirms))
                                        || walked
                                            .get_or_insert_with(|| {
                                                // Nothing confirmed, then; the note says why.
                                                super::owners::walk().unwrap_or_else(|e| {
                                                    walk_failed = Some(e.to_string());
                                                    super::owners::OwnerMap::default()
                                                })
                                            })
                                            .owners_of(ino)
                                            .iter()
                                            .any(confirms)
                                }
                            }
                    };
                    let parsed = parse_unix_checked(&buf, &file, Some(&mut held), out);
                    parsed.map(|dropped| {
                        if let Some(note) = dropped_note(&file, &dropped) {
                            notes.push(note);
                        }
                        if let Some(e) = walk_failed.take() {
                            notes.push(format!(
                                "{file}: could not check records against open sockets: {e}"
                            ));
                        }
                    })
                }
                _ => parse_inet(&buf, table, &file, self.detail.timers, v6only, out),
            };
            if let Err(e) = parsed {
                // Half a table is worse than none: leave `out` as it came.
                out.truncate(entry_len);
                return Err(e);
            }
            if table != Table::Unix && query.unix {
                inet_inodes.extend(out[start..].iter().map(|s| s.inode).filter(|&i| i != 0));
            }
            retain_from(out, start, |s| query.wants(s));
        }
        Ok(())
    }

    /// `net.ipv6.bindv6only` as a v6only default, if known.
    fn v6only_default(&self) -> Option<bool> {
        let text = std::fs::read(self.bindv6only.as_ref()?).ok()?;
        match text.trim_ascii() {
            b"0" => Some(false),
            b"1" => Some(true),
            _ => None,
        }
    }
}

/// Whether fd `fd` of process `pid` is, now, the unix socket with inode
/// `ino`: the fd walk only says some socket has that inode, and a forged
/// record could name the inode of the forger's own netlink or packet
/// socket. sockfs names each socket's protocol in the
/// `system.sockprotoname` attribute (`UNIX`, `UNIX-STREAM`, `TCP`,
/// `NETLINK`, ...), readable through the fd's /proc link like the link
/// itself.
fn holds_unix_socket(pid: u32, fd: u32, ino: u64) -> bool {
    let link = format!("/proc/{pid}/fd/{fd}");
    let mut proto = [0u8; 32];
    let same = rustix::fs::stat(link.as_str()).is_ok_and(|st| st.st_ino == ino);
    same && rustix::fs::getxattr(link.as_str(), "system.sockprotoname", &mut proto[..])
        .is_ok_and(|n| proto.get(..n).is_some_and(|name| name.starts_with(b"UNIX")))
}

/// The note for the records [`parse_unix_checked`] left out, if any: how
/// many, and their inodes (the first few).
fn dropped_note(file: &str, dropped: &[u64]) -> Option<String> {
    const SHOWN: usize = 8;
    if dropped.is_empty() {
        return None;
    }
    let mut inodes: Vec<String> = dropped.iter().take(SHOWN).map(u64::to_string).collect();
    if dropped.len() > SHOWN {
        inodes.push(format!("and {} more", dropped.len() - SHOWN));
    }
    Some(format!(
        "{file}: left out {} record(s) that may be part of a socket name holding a newline \
         and that no open unix socket confirms (inode {})",
        dropped.len(),
        inodes.join(", ")
    ))
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
/// not parse as a record, right after a record that has a name and short
/// enough to fit in one, is taken as the rest of that name. A line that does
/// parse as a record there can be either; this function cannot check which
/// and keeps it unless it repeats another record's inode or has inode 0
/// (so a name can forge a socket, as it can for `ss` and `netstat`):
/// [`parse_unix_checked`] with a `held` check is what [`ProcNet`] uses.
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
/// assert_eq!((out[0].recv_q, out[0].uid, out[0].inode), (2, Some(1000), 4242));
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
        Table::Unix => parse_unix_checked(text, file, None, out).map(drop),
        _ => parse_inet(text, table, file, detail.timers, None, out),
    }
}

/// The lines of a table after its header, numbered from 2 (1-based, header is 1).
///
/// Exactly one trailing newline ends the last line; an empty line before it
/// is a real (empty) line, which matters for unix names ending in a newline.
fn body_lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body_lines_at(text).map(|(n, _, l)| (n, l))
}

/// [`body_lines`] with each line's offset in `text`.
fn body_lines_at(text: &[u8]) -> impl Iterator<Item = (usize, usize, &[u8])> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    let empty = text.is_empty();
    let mut at = 0;
    text.split(|&b| b == b'\n')
        .map(move |l| {
            let start = at;
            at += l.len() + 1;
            (start, l)
        })
        .enumerate()
        .skip(1)
        .filter(move |_| !empty)
        .map(|(i, (start, l))| (i + 1, start, l))
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

/// `v6only` is the system default given to IPv6 sockets listening or
/// unbound on `::` (the states netlink reports the flag for), `None` if
/// unknown; on a specific address the kernel's rule decides.
fn parse_inet(
    text: &[u8],
    table: Table,
    file: &str,
    timers: bool,
    v6only: Option<bool>,
    out: &mut Vec<Socket>,
) -> Result<()> {
    for (n, line) in body_lines(text) {
        let mut sock = parse_inet_line(line, table, timers)
            .map_err(|what| parse_error(file, n, what, line))?;
        if sock.family == Family::Inet6 && matches!(sock.state, TcpState::Listen | TcpState::Close)
        {
            // The kernel makes a socket bound to one IPv6 address v6-only
            // and refuses a v4-mapped bind to a v6-only one; only `::`
            // keeps the default or what the socket set.
            sock.v6only = match sock.local.addr() {
                Some(IpAddr::V6(a)) if a.is_unspecified() => v6only,
                Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_some() => Some(false),
                _ => Some(true),
            };
        }
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
        uid: Some(uid),
        inode,
        unix_type: None,
        bound_if: 0,
        owners: Vec::new(),
        owners_hidden: false,
        cookie: 0,
        v6only: None,
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

/// The longest name `/proc/net/unix` prints: `sun_path` is 108 bytes, and
/// the kernel prints a path up to its NUL, an abstract name as `@` and the
/// rest (so at most 108 bytes either way).
const UNIX_NAME_MAX: usize = 108;

/// Parses `/proc/net/unix`, appending one [`Socket`] per record, and
/// returns the inodes of the records it left out as possibly forged.
///
/// A socket name may hold newlines, and the kernel writes it byte for byte:
/// the name's tail is then the next line(s). A line that does not parse as a
/// record is such a tail when it follows a named record and the name, with
/// it, still fits in 108 bytes; otherwise it is [`Error::Parse`]. A line
/// that *does* parse as a record in that place is ambiguous: a local user
/// can bind a name like `x\n0000…: 00000002 … 99999 /run/fake` and make it
/// look like a socket. It is taken as a record only when
/// - its inode is not 0 and no other line of the table has the same inode
///   (a forged copy of a real record shares its inode), and
/// - `held` (when given) confirms the inode: [`ProcNet`] checks it is held
///   by an open file descriptor that is a unix socket (by the protocol
///   sockfs names for it) and is not an IP socket's.
///
/// Otherwise it is taken as the rest of the name (the reading under which
/// no socket is invented) and its inode is returned. A real socket is lost
/// this way only if it is in that place and no process holds it (a queued
/// connection, a socket created after the fd walk or in flight over
/// SCM_RIGHTS); [`ProcNet::collect_noting`] says so in a note. Without
/// `held`, a forged record with a fresh inode is kept.
///
/// ```
/// use portscope::collect::linux::procnet::parse_unix_checked;
/// let text = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
/// 0000000000000000: 00000002 00000000 00000000 0002 01 11016 @x\n\
/// 0000000000000000: 00000002 00000000 00010000 0001 01 99999 /run/fake\n";
/// let mut out = Vec::new();
/// let dropped = parse_unix_checked(text, "unix", Some(&mut |ino| ino == 11016), &mut out)?;
/// assert_eq!((out.len(), dropped), (1, vec![99999]));
/// assert_eq!(out[0].inode, 11016);
/// # Ok::<(), portscope::Error>(())
/// ```
pub fn parse_unix_checked(
    text: &[u8],
    file: &str,
    mut held: Option<&mut dyn FnMut(u64) -> bool>,
    out: &mut Vec<Socket>,
) -> Result<Vec<u64>> {
    // How many lines carry each inode, counting every line that parses as a
    // record, tails included: a real socket appears once. Counted the first
    // time a line is ambiguous.
    let mut seen: Option<HashMap<u64, u32>> = None;
    let count = || {
        let mut m: HashMap<u64, u32> = HashMap::new();
        for (_, _, line) in body_lines_at(text) {
            if let Ok(r) = unix_record(line) {
                *m.entry(r.inode).or_default() += 1;
            }
        }
        m
    };
    let mut dropped = Vec::new();
    // The last record, while its name may still continue: its index in
    // `out` and where its raw name (newlines included) starts and ends in
    // `text` (a name and its tails are one stretch of the file).
    let mut open: Option<(usize, usize, usize)> = None;
    for (n, at, line) in body_lines_at(text) {
        let fits = open.is_some_and(|(_, from, to)| to - from + 1 + line.len() <= UNIX_NAME_MAX);
        let record = unix_record(line);
        let as_record = match &record {
            Ok(r) if fits => {
                r.inode != 0
                    && seen.get_or_insert_with(count).get(&r.inode) == Some(&1)
                    && held.as_mut().is_none_or(|h| h(r.inode))
            }
            Ok(_) => true,
            Err(_) => false,
        };
        match record {
            Ok(r) if as_record => {
                let end = at + line.len();
                open = r.name.map(|name| (out.len(), end - name.len(), end));
                out.push(r.socket());
            }
            other => {
                let Some((i, from, to)) = open.as_mut().filter(|_| fits) else {
                    let what = other.err().unwrap_or("bad record");
                    return Err(parse_error(file, n, what, line));
                };
                if let Ok(r) = other {
                    dropped.push(r.inode);
                }
                *to = at + line.len();
                let name = text.get(*from..*to).unwrap_or_default();
                if let Some(Endpoint::Unix { path, .. }) = out.get_mut(*i).map(|s| &mut s.local) {
                    *path = Some(Text::from(name));
                }
            }
        }
    }
    Ok(dropped)
}

/// The fields of one `/proc/net/unix` record, borrowed from its line.
struct UnixRecord<'a> {
    state: TcpState,
    unix_type: UnixType,
    inode: u64,
    /// The name's raw bytes on this line; `None` for no name.
    name: Option<&'a [u8]>,
}

impl UnixRecord<'_> {
    fn socket(&self) -> Socket {
        let path = self.name.map(Text::from);
        Socket {
            proto: Proto::Unix,
            family: Family::Unix,
            local: Endpoint::Unix {
                path,
                inode: self.inode,
            },
            remote: Endpoint::Unix {
                path: None,
                inode: 0,
            },
            state: self.state,
            recv_q: 0,
            send_q: 0,
            uid: None,
            inode: self.inode,
            unix_type: Some(self.unix_type),
            bound_if: 0,
            owners: Vec::new(),
            owners_hidden: false,
            cookie: 0,
            v6only: None,
            extra: None,
        }
    }
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
fn unix_record(line: &[u8]) -> std::result::Result<UnixRecord<'_>, &'static str> {
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
    let name = match f.0 {
        [] => None,
        [b' ', name @ ..] => Some(name),
        _ => return Err("bad Path"),
    };
    Ok(UnixRecord {
        state,
        unix_type,
        inode,
        name,
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
        assert_eq!((l.recv_q, l.send_q, l.uid), (1, 0, Some(0)));

        // The accepted end with 5 unread bytes.
        let a = by_inode(&t, 10988);
        assert_eq!(a.local, v4([127, 0, 0, 1], 34775));
        assert_eq!(a.remote, v4([127, 0, 0, 1], 54694));
        assert_eq!(a.state, TcpState::Established);
        assert_eq!((a.recv_q, a.send_q), (5, 0));

        // Made by uid 65534.
        let n = by_inode(&t, 10206);
        assert_eq!(n.local, v4([127, 0, 0, 5], 54105));
        assert_eq!((n.state, n.uid), (TcpState::Listen, Some(65534)));

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
        // Bound to ::1: v6-only, as the kernel makes it; on ::, the system
        // default, unknown without the sysctl.
        assert_eq!((l.v6only, any.v6only), (Some(true), None));
        let mut with_default = Vec::new();
        let text = fixture("tcp6");
        parse_inet(
            &text,
            Table::Tcp6,
            "tcp6",
            false,
            Some(false),
            &mut with_default,
        )
        .unwrap();
        assert_eq!(by_inode(&with_default, 10996).v6only, Some(false));
        assert_eq!(by_inode(&with_default, 10993).v6only, Some(true));
        // Connected sockets: the kernel reports no flag for them either.
        assert_eq!(by_inode(&with_default, 10998).v6only, None);
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
        // Every unix socket recorded there was held by the recording script.
        let held = parsed(Table::Unix)
            .iter()
            .map(|s| s.inode)
            .collect::<Vec<_>>();
        let pn = ProcNet::at(&dir).with_held_inodes(held);
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

    /// `unix_forged` (made by `record_forged.py`): three sockets whose
    /// abstract names are `psf-x` + newline + a record line the kernel then
    /// prints as if it were one: a listener with an inode no socket has, a
    /// copy of a real listener (its inode), and a connection queued on it
    /// (inode 0). None of them may come out as a socket.
    #[test]
    fn forged_unix_records_are_names_not_sockets() {
        let text = fixture("unix_forged");
        let info: serde_json::Value = serde_json::from_slice(&fixture("unix_forged.json")).unwrap();
        let ino = |k: &str| info[k].as_u64().unwrap();
        let (real, forged) = (ino("real"), ino("forged_inode"));
        // What the fd walk of the recording would have seen: every socket
        // of the table (the recorder held its own), the forged ones aside.
        let mut all = Vec::new();
        parse(Table::Unix, &text, "unix_forged", &mut all).unwrap();
        let held: HashSet<u64> = all
            .iter()
            .map(|s| s.inode)
            .filter(|&i| i != forged)
            .collect();

        let mut out = Vec::new();
        let dropped = parse_unix_checked(
            &text,
            "unix_forged",
            Some(&mut |i| held.contains(&i)),
            &mut out,
        )
        .unwrap();
        assert_eq!(dropped.len(), 3, "{dropped:?}");
        for d in [real, 0, forged] {
            assert!(dropped.contains(&d), "{dropped:?}");
        }
        assert!(out.iter().all(|s| s.inode != forged));
        assert_eq!(by_inode(&out, real).state, TcpState::Listen);
        let name = |s: &Socket| match &s.local {
            Endpoint::Unix { path, .. } => path
                .as_ref()
                .map(|t| t.to_str_lossy().into_owned())
                .unwrap_or_default(),
            Endpoint::Inet { .. } => String::new(),
        };
        assert_eq!(name(by_inode(&out, real)), "@psf-real");
        assert!(
            !out.iter().any(|s| s.inode == 0 && name(s) == "@psf-real"),
            "a forged queued connection"
        );
        // Each forged line is kept as the rest of the name it came from.
        let a = name(by_inode(&out, ino("fresh")));
        assert!(
            a.starts_with("@psf-a\n0000000000000000: ") && a.ends_with(" 999999 /run/forged.sock"),
            "{a:?}"
        );
        let c = name(by_inode(&out, ino("copy")));
        assert!(
            c.starts_with("@psf-c\n") && c.ends_with("@psf-copy"),
            "{c:?}"
        );
        let d = name(by_inode(&out, ino("queued")));
        assert!(
            d.starts_with("@psf-d\n") && d.ends_with("@psf-real"),
            "{d:?}"
        );
        // Every line is either a socket or part of a name.
        assert_eq!(out.len() + dropped.len(), body_lines(&text).count());

        // Without the fd check, a copied inode and inode 0 are still caught,
        // but a fresh inode cannot be told from a socket (as documented).
        let mut unchecked = Vec::new();
        let dropped = parse_unix_checked(&text, "unix_forged", None, &mut unchecked).unwrap();
        assert_eq!(dropped.len(), 2, "{dropped:?}");
        assert!(unchecked.iter().any(|s| s.inode == forged));
    }

    #[test]
    fn unix_tails_fit_in_a_name() {
        const H: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n";
        let rec = b"0000000000000000: 00000002 00000000 00000000 0002 01  9 @";
        // A tail that would make the name longer than sun_path holds is not one.
        let long = [H, rec, b"\n", &[b'x'; 107], b"\n"].concat();
        let mut out = Vec::new();
        assert!(parse(Table::Unix, &long, "f", &mut out).is_err());
        let fits = [H, rec, b"\n", &[b'x'; 106], b"\n"].concat();
        out.clear();
        parse(Table::Unix, &fits, "f", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        // A record after a name too long to continue is a record, checked or not.
        let name = [b'n'; 60];
        let two = [
            H,
            rec,
            &name[..],
            b"\n",
            b"0000000000000000: 00000002 00000000 00000000 0002 01  10\n",
        ]
        .concat();
        out.clear();
        let dropped = parse_unix_checked(&two, "f", Some(&mut |_| false), &mut out).unwrap();
        assert_eq!((out.len(), dropped.len()), (2, 0));
        // The same record after a short name is ambiguous, and unconfirmed.
        let short = [
            H,
            rec,
            b"\n",
            b"0000000000000000: 00000002 00000000 00000000 0002 01  10\n",
        ]
        .concat();
        out.clear();
        let dropped = parse_unix_checked(&short, "f", Some(&mut |_| false), &mut out).unwrap();
        assert_eq!((out.len(), dropped), (1, vec![10]));
        out.clear();
        let dropped = parse_unix_checked(&short, "f", Some(&mut |i| i == 10), &mut out).unwrap();
        assert_eq!((out.len(), dropped.len()), (2, 0));
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
        // The checked unix path, with a check that says yes to some inodes.
        let _ = parse_unix_checked(text, "f", Some(&mut |i| i % 2 == 0), &mut Vec::new());
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
            prop_assert_eq!((s.send_q, s.recv_q, s.uid, s.inode), (queues.0, queues.1, Some(uid), inode));
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
                prop_oneof![20 => any::<u8>(), 1 => Just(b'\n')], 1..=UNIX_NAME_MAX)),
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
