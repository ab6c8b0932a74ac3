//! The sock_diag dump reader: turns the buffers of one dump reply into
//! [`Socket`]s, with their details when asked.
//!
//! Pure, like everything it calls; the live loop (`transport.rs`) and the
//! tests on recorded fixtures feed it the same way.

use super::inet::{parse_inet_extra, parse_inet_msg};
use super::nl::parse_netlink_msg;
use super::packet::parse_packet_msg;
use super::requests::{SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK};
use super::transport::{Progress, walk_messages};
use super::unix::{parse_unix_extra, parse_unix_msg};
use crate::error::Result;
use crate::model::{Detail, Proto, Socket};

/// Which kind of reply a dump carries, so its messages can be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// inet_diag replies for TCP, UDP or raw sockets.
    Inet(Proto),
    /// unix_diag replies.
    Unix,
    /// packet_diag replies.
    Packet,
    /// netlink_diag replies.
    Netlink,
}

impl DumpKind {
    /// The kind of reply a dump of `proto` sockets carries.
    pub(crate) fn of(proto: Proto) -> DumpKind {
        match proto {
            Proto::Unix => DumpKind::Unix,
            Proto::Packet => DumpKind::Packet,
            Proto::Netlink => DumpKind::Netlink,
            p => DumpKind::Inet(p),
        }
    }
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
    /// are skipped. A kernel error in the dump is [`crate::Error::Netlink`]
    /// with the errno; bytes that are not netlink messages are
    /// [`crate::Error::NetlinkMalformed`].
    pub fn feed(&mut self, buf: &[u8], out: &mut Vec<Socket>) -> Result<Progress> {
        let kind = self.kind;
        let detail = self.detail;
        walk_messages(buf, self.seq, &mut self.interrupted, |ty, payload| {
            if ty != SOCK_DIAG_BY_FAMILY
                && !(ty == TCPDIAG_GETSOCK && kind == DumpKind::Inet(Proto::Tcp))
            {
                return Ok(());
            }
            let mut s = match kind {
                DumpKind::Inet(proto) => parse_inet_msg(payload, proto)?,
                DumpKind::Unix => parse_unix_msg(payload)?,
                // These carry their details in the message itself.
                DumpKind::Packet => {
                    out.extend(parse_packet_msg(payload, detail)?);
                    return Ok(());
                }
                DumpKind::Netlink => {
                    out.extend(parse_netlink_msg(payload, detail)?);
                    return Ok(());
                }
            };
            if detail.any()
                && let Some(s) = s.as_mut()
            {
                s.extra = match kind {
                    DumpKind::Unix => parse_unix_extra(payload, detail),
                    _ => parse_inet_extra(payload, detail),
                };
            }
            out.extend(s);
            Ok(())
        })
    }
}
