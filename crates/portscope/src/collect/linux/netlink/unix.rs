//! unix_diag replies: one `unix_diag_msg` into a [`Socket`], its name kept
//! byte for byte, peers' names filled in across a dump, and its memory
//! details.
//!
//! Pure functions over message payloads; the walk over a whole dump is
//! `reader.rs`.

use std::collections::HashMap;

use super::tcp_info::parse_skmeminfo;
use super::wire::{AF_UNIX, Attrs, cookie_at, malformed, read_u32};
use crate::error::Result;
use crate::model::{Detail, Endpoint, Family, Proto, Socket, SocketExtra, TcpState, UnixType};
use crate::text::Text;

/// `struct unix_diag_msg`.
pub(crate) const UNIX_DIAG_MSG_LEN: usize = 16;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_MEMINFO: u16 = 5;
const UNIX_DIAG_UID: u16 = 7;

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
        netns: None,
        cgroup_id: 0,
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

/// Like [`parse_inet_extra`](super::parse_inet_extra) for a `unix_diag_msg`: memory only (unix
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
