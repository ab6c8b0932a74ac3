//! The netlink wire format shared by every request and reply: message
//! header constants, the header itself, bounds-checked native-endian
//! readers, and the `rtattr` walk.
//!
//! Pure byte handling; nothing here talks to a socket (`transport.rs`) or
//! knows a sock_diag structure (`inet.rs`, `unix.rs`).

use std::io;

use crate::error::Error;

// linux/netlink.h
pub(crate) const NLMSG_HDRLEN: usize = 16;
pub(crate) const NLMSG_NOOP: u16 = 1;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLM_F_REQUEST: u16 = 0x01;
/// Ask for an acknowledgement (an NLMSG_ERROR carrying 0 on success).
pub(crate) const NLM_F_ACK: u16 = 0x04;
/// The kernel's tables changed while it dumped them.
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(crate) const NLM_F_DUMP: u16 = 0x300;

// Address families and protocols as the kernel numbers them.
pub(crate) const AF_UNIX: u8 = 1;
pub(crate) const AF_INET: u8 = 2;
pub(crate) const AF_INET6: u8 = 10;
pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;
pub(crate) const IPPROTO_RAW: u8 = 255;

/// Writes an `nlmsghdr` of `len` bytes at the start of `buf`. `nlmsg_pid`
/// stays 0: the kernel fills in our port id.
pub(crate) fn nl_header(buf: &mut [u8], len: usize, kind: u16, flags: u16, seq: u32) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    if let Some(h) = buf.get_mut(..NLMSG_HDRLEN) {
        h[0..4].copy_from_slice(&len.to_ne_bytes());
        h[4..6].copy_from_slice(&kind.to_ne_bytes());
        h[6..8].copy_from_slice(&flags.to_ne_bytes());
        h[8..12].copy_from_slice(&seq.to_ne_bytes());
    }
}

/// The fields of an `nlmsghdr` that a reader needs.
pub(crate) struct NlHeader {
    pub(crate) len: usize,
    pub(crate) kind: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
}

impl NlHeader {
    /// The header at the start of `buf`, refused when its length does not
    /// fit in `buf`.
    pub(crate) fn read(buf: &[u8]) -> crate::error::Result<NlHeader> {
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

/// The whole netlink messages in `buf`, each as its header and payload
/// (what follows the header), up to the first one cut short or malformed.
pub(crate) fn messages(mut buf: &[u8]) -> impl Iterator<Item = (NlHeader, &[u8])> {
    std::iter::from_fn(move || {
        let h = NlHeader::read(buf).ok()?;
        let msg = buf.get(NLMSG_HDRLEN..h.len);
        buf = buf
            .get(align4(h.len).max(NLMSG_HDRLEN)..)
            .unwrap_or_default();
        Some((h, msg?))
    })
}

pub(crate) fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

pub(crate) fn malformed(msg: impl Into<String>) -> Error {
    Error::NetlinkMalformed(msg.into())
}

/// A negative errno from NLMSG_ERROR or NLMSG_DONE as an error.
pub(crate) fn kernel_error(err: i32) -> Error {
    Error::Netlink(io::Error::from_raw_os_error(err.saturating_neg()))
}

pub(crate) fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(crate) fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(crate) fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(crate) fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
/// A sock_diag cookie: two `u32`s, low half first.
pub(crate) fn cookie_at(b: &[u8], at: usize) -> Option<u64> {
    let lo = read_u32(b, at)?;
    let hi = read_u32(b, at.checked_add(4)?)?;
    Some(u64::from(lo) | (u64::from(hi) << 32))
}
pub(crate) fn read_16(b: &[u8], at: usize) -> Option<[u8; 16]> {
    b.get(at..at.checked_add(16)?)?.try_into().ok()
}

/// Iterator over the `rtattr`s of a message tail: `(type, payload)`, or an
/// error for an attribute whose length does not fit. sock_diag and
/// rtnetlink lay their attributes out the same way.
pub(crate) struct Attrs<'a>(pub(crate) &'a [u8]);

impl<'a> Iterator for Attrs<'a> {
    type Item = crate::error::Result<(u16, &'a [u8])>;
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
