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

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::collect::Collector;
use crate::error::{Error, Result};
use crate::model::{
    Detail, Endpoint, Family, Proto, Query, Socket, SocketExtra, Source, TcpState, Timer, TimerKind,
};

mod unix;

pub use unix::parse_unix_checked;

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
    /// Reads `/proc/thread-self/net`: the network namespace of the calling
    /// thread, where its netlink sockets also look. (`/proc/net` is the
    /// process's main thread's, which differs once a thread has `setns`.)
    pub fn new() -> ProcNet {
        ProcNet {
            bindv6only: Some(PathBuf::from(BINDV6ONLY)),
            ..ProcNet::at("/proc/thread-self/net")
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
            // /proc/net/packet and /proc/net/netlink are not read: those
            // families come from sock_diag only.
            Proto::Packet | Proto::Netlink | Proto::Mptcp => false,
        };
        let family = match self.family() {
            Family::Inet => query.ipv4,
            Family::Inet6 => query.ipv6,
            Family::Unix | Family::Packet | Family::Netlink => true,
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
        extra: timer_extra(timers, tr, when, retrnsmt),
        ..Socket::default()
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
mod tests;
