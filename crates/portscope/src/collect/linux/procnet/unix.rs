//! `/proc/net/unix`: its records into [`Socket`]s, with names that may hold
//! newlines (and so continue on the next lines) told apart from records a
//! name forges.
//!
//! Pure over the file's bytes, like the inet tables' parser in `mod.rs`.

use std::collections::HashMap;

use super::{Fields, body_lines_at, dec, hex, hex32, parse_error};
use crate::error::Result;
use crate::model::{Endpoint, Family, Proto, Socket, TcpState, UnixType};
use crate::text::Text;

/// `__SO_ACCEPTCON` in the Flags column: the socket is listening.
pub(super) const SO_ACCEPTCON: u32 = 1 << 16;

/// The longest name `/proc/net/unix` prints: `sun_path` is 108 bytes, and
/// the kernel prints a path up to its NUL, an abstract name as `@` and the
/// rest (so at most 108 bytes either way).
pub(super) const UNIX_NAME_MAX: usize = 108;

/// Parses `/proc/net/unix`, appending one [`Socket`] per record, and
/// returns the inodes of the records it left out as possibly forged.
///
/// A socket name may hold newlines, and the kernel writes it byte for byte:
/// the name's tail is then the next line(s). A line that does not parse as a
/// record is such a tail when it follows a named record and the name, with
/// it, still fits in 108 bytes; otherwise it is [`Error::Parse`](crate::Error::Parse). A line
/// that *does* parse as a record in that place is ambiguous: a local user
/// can bind a name like `x\n0000…: 00000002 … 99999 /run/fake` and make it
/// look like a socket. It is taken as a record only when
/// - its inode is not 0 and no other line of the table has the same inode
///   (a forged copy of a real record shares its inode), and
/// - `held` (when given) confirms the inode: [`ProcNet`](super::ProcNet) checks it is held
///   by an open file descriptor that is a unix socket (by the protocol
///   sockfs names for it) and is not an IP socket's.
///
/// Otherwise it is taken as the rest of the name (the reading under which
/// no socket is invented) and its inode is returned. A real socket is lost
/// this way only if it is in that place and no process holds it (a queued
/// connection, a socket created after the fd walk or in flight over
/// SCM_RIGHTS); [`ProcNet::collect_noting`](super::ProcNet::collect_noting) says so in a note. Without
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
            inode: self.inode,
            unix_type: Some(self.unix_type),
            ..Socket::default()
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
