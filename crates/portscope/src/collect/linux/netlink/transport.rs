//! The one netlink loop in the crate: a bound netlink socket of any
//! protocol (sock_diag for sockets, rtnetlink for addresses), the
//! send/recv loop over a reusable buffer that grows when a message does
//! not fit, the walk over the many messages one `recv` returns (ending at
//! NLMSG_DONE or NLMSG_ERROR, noting NLM_F_DUMP_INTR), and redoing a dump
//! that was cut short or interrupted.
//!
//! Not here: what a request says (`requests.rs`) or what a reply means
//! (`reader.rs`, `inet.rs`, `unix.rs`, `host.rs` for addresses).

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use rustix::io::Errno;
use rustix::net::Protocol;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::wire::{NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NlHeader};
use super::wire::{align4, kernel_error, malformed, read_i32};
use crate::error::{Error, Result};

/// How far a dump has got after one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More messages are to come.
    More,
    /// `NLMSG_DONE` was seen: the dump is complete.
    Done,
}

/// Walks the netlink messages in `buf` (one or more whole messages),
/// handing each payload of another type than NLMSG_DONE/ERROR/NOOP to
/// `each` with its type. Messages whose sequence number is not `seq` (when
/// given) are skipped; `interrupted` is set when one carries
/// NLM_F_DUMP_INTR. An NLMSG_DONE or an ACK ends the dump; a negative
/// errno in either is [`Error::Netlink`].
pub(crate) fn walk_messages(
    mut buf: &[u8],
    seq: Option<u32>,
    interrupted: &mut bool,
    mut each: impl FnMut(u16, &[u8]) -> Result<()>,
) -> Result<Progress> {
    while !buf.is_empty() {
        let h = NlHeader::read(buf)?;
        let msg = buf.get(NLMSG_HDRLEN..h.len).ok_or_else(|| {
            malformed(format!("message of {} bytes in {} left", h.len, buf.len()))
        })?;
        buf = buf.get(align4(h.len)..).unwrap_or_default();
        if seq.is_some_and(|s| s != h.seq) {
            continue;
        }
        if h.flags & NLM_F_DUMP_INTR != 0 {
            *interrupted = true;
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
            super::wire::NLMSG_NOOP => {}
            kind => each(kind, msg)?,
        }
    }
    Ok(Progress::More)
}

/// One dump being read: what [`Transport::dump`] feeds the replies to.
pub(crate) trait Dump {
    /// A new attempt with request sequence `seq` begins: forget what an
    /// earlier, abandoned attempt gave.
    fn begin(&mut self, seq: u32);
    /// Parses one received buffer.
    fn feed(&mut self, buf: &[u8]) -> Result<Progress>;
    /// Whether the kernel said this attempt was interrupted.
    fn interrupted(&self) -> bool;
    /// Drops what this attempt gave (it failed).
    fn abandon(&mut self);
}

/// What one `recv` gave.
pub(crate) enum Read {
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

/// A bound netlink socket with its receive buffer and request counter.
///
/// One exchange runs at a time (callers hold [`Transport::lock_buf`]);
/// open one per thread for parallel dumps.
#[derive(Debug)]
pub(crate) struct Transport {
    fd: OwnedFd,
    seq: AtomicU32,
    buf: Mutex<Vec<u8>>,
    /// Send requests without a destination address (to the kernel all the
    /// same). A request sent to an address is judged by the sender's
    /// capabilities alone; one sent without is judged by those the socket
    /// was opened with too (`__netlink_ns_capable`), which is what
    /// [`Transport::unaddressed`] sockets opened with fewer rely on.
    unaddressed: bool,
}

impl Transport {
    /// Opens and binds a netlink socket of `protocol` (`None` is
    /// NETLINK_ROUTE, protocol 0) with a receive buffer of `size` bytes.
    /// Any failure is [`Error::NetlinkUnavailable`].
    pub(crate) fn open(protocol: Option<Protocol>, size: usize) -> Result<Transport> {
        let unavailable = |e: Errno| Error::NetlinkUnavailable(e.into());
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            protocol,
        )
        .map_err(unavailable)?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0)).map_err(unavailable)?;
        Ok(Transport {
            fd,
            seq: AtomicU32::new(1),
            buf: Mutex::new(vec![0; size]),
            unaddressed: false,
        })
    }

    /// This transport, sending its requests without a destination address.
    pub(crate) fn unaddressed(mut self) -> Transport {
        self.unaddressed = true;
        self
    }

    pub(crate) fn lock_buf(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic elsewhere while holding the lock leaves only a buffer behind.
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_seq(&self) -> u32 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn send(&self, req: &[u8]) -> Result<()> {
        loop {
            let sent = if self.unaddressed {
                rustix::net::send(&self.fd, req, SendFlags::empty())
            } else {
                rustix::net::sendto(
                    &self.fd,
                    req,
                    SendFlags::empty(),
                    &SocketAddrNetlink::new(0, 0),
                )
            };
            match sent {
                Ok(_) => return Ok(()),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::Netlink(e.into())),
            }
        }
    }

    /// One `recv` into `buf`; when a message did not fit, `buf` is grown
    /// for the next try.
    pub(crate) fn recv(&self, buf: &mut Vec<u8>) -> Result<Read> {
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

    /// One `recv` that does not wait: `None` when nothing is queued.
    pub(crate) fn recv_queued(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        loop {
            match rustix::net::recv(&self.fd, &mut *buf, RecvFlags::DONTWAIT) {
                Ok((n, _)) => return Ok(Some(n)),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return Ok(None),
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
        let res = match self.recv_until_done(buf, &mut feed) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        self.drain(buf);
        Err(res)
    }

    fn recv_until_done(
        &self,
        buf: &mut Vec<u8>,
        feed: &mut impl FnMut(&[u8]) -> Result<Progress>,
    ) -> std::result::Result<(), Retry> {
        loop {
            match self.recv(buf) {
                // The lost tail may have held NLMSG_DONE, so waiting for
                // the end could block forever: drop the rest and redo.
                Ok(Read::Truncated) => return Err(Retry::Again),
                Ok(Read::Bytes(n)) => match feed(buf.get(..n).unwrap_or_default()) {
                    Ok(Progress::Done) => return Ok(()),
                    Ok(Progress::More) => continue,
                    Err(e) => return Err(Retry::Fatal(e)),
                },
                Err(e) => return Err(Retry::Fatal(e)),
            }
        }
    }

    /// Sends the request `request(seq)` builds and reads its whole dump
    /// into `dump`: redone once if the kernel says it was interrupted (then
    /// accepted as is), or if a read was truncated.
    pub(crate) fn dump<R: AsRef<[u8]>>(
        &self,
        buf: &mut Vec<u8>,
        mut request: impl FnMut(u32) -> Result<R>,
        dump: &mut impl Dump,
    ) -> Result<()> {
        let mut retried = false;
        loop {
            let seq = self.next_seq();
            let req = request(seq)?;
            self.send(req.as_ref())?;
            dump.begin(seq);
            let res = self.read_dump(buf, |chunk| dump.feed(chunk));
            let again = match res {
                Ok(()) => dump.interrupted(),
                Err(Retry::Again) => true,
                Err(Retry::Fatal(e)) => {
                    dump.abandon();
                    return Err(e);
                }
            };
            if again && !retried {
                dump.abandon();
                retried = true;
                continue;
            }
            if matches!(res, Err(Retry::Again)) {
                dump.abandon();
                return Err(Error::Netlink(std::io::Error::other(
                    "netlink reply truncated twice",
                )));
            }
            return Ok(());
        }
    }

    /// Sends `req` and returns every buffer of its dump, as received, to
    /// `each` until `each` says [`Progress::Done`]. One attempt: a
    /// truncated read is an error (for recording replies as they are).
    pub(crate) fn exchange(
        &self,
        req: &[u8],
        each: impl FnMut(&[u8]) -> Result<Progress>,
    ) -> Result<()> {
        let mut buf = self.lock_buf();
        self.send(req)?;
        match self.read_dump(&mut buf, each) {
            Ok(()) => Ok(()),
            Err(Retry::Again) => Err(Error::Netlink(std::io::Error::other(
                "netlink reply truncated",
            ))),
            Err(Retry::Fatal(e)) => Err(e),
        }
    }
}
