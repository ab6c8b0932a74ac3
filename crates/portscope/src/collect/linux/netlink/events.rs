//! The sock_diag destroy multicast groups: one message per TCP or UDP
//! socket (IPv4 and IPv6) when the kernel frees it, with its addresses,
//! cookie and, for TCP, the final tcp_info. What `ss -E` reads; no root
//! needed (Linux 4.2+). The messages carry no pid or uid: owners come from
//! the caller's cookie → owner cache (`crate::events`).
//!
//! Not here: what an event means (`crate::events`), dumps (`mod.rs`).

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

use super::inet::parse_inet_msg;
use super::parse_inet_extra;
use super::wire::{Attrs, IPPROTO_TCP, IPPROTO_UDP, NLMSG_DONE, NLMSG_ERROR, messages};
use crate::collect::Received;
use crate::error::{Error, Result};
use crate::model::{Detail, Proto, Socket};

/// `SOCK_DIAG_BY_FAMILY`: the message type of dump replies and of destroy
/// broadcasts alike.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_PROTOCOL`: the protocol of a broadcast socket (u8).
const INET_DIAG_PROTOCOL: u16 = 10;
/// Groups `SKNLGRP_INET_TCP_DESTROY` (1), `SKNLGRP_INET_UDP_DESTROY` (2),
/// `SKNLGRP_INET6_TCP_DESTROY` (3), `SKNLGRP_INET6_UDP_DESTROY` (4), as the
/// bind mask (group n is bit n-1).
const DESTROY_GROUPS: u32 = 0b1111;

/// The receive buffer asked for by default: a few seconds of thousands of
/// closes a second (each message takes about 1 KiB of buffer).
const BIG_RCVBUF: usize = 16 << 20;

/// The inet_diag_msg fixed part; parse_inet_msg checks its length.
const MSG_FIXED: usize = 72;

/// A NETLINK_SOCK_DIAG socket bound to the four destroy groups.
#[derive(Debug)]
pub struct DestroyStream {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// The kernel's drop counter for this socket when last read.
    drops: Option<u64>,
    inode: u64,
    /// A path that opens the namespace the socket was made in, when it is
    /// not the reader's: its netlink table (and drop counter) is read from
    /// inside it.
    netns_path: Option<std::path::PathBuf>,
}

impl AsFd for DestroyStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl DestroyStream {
    /// Opens a subscription in the calling thread's network namespace.
    /// `rcvbuf` sets the receive buffer (SO_RCVBUF, capped by
    /// `net.core.rmem_max`); `None` asks for the cap.
    pub fn open(rcvbuf: Option<usize>) -> Result<DestroyStream> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::RAW,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )
        .map_err(|e| Error::NetlinkUnavailable(e.into()))?;
        DestroyStream::bind(fd, rcvbuf)
    }

    /// Subscribes on a NETLINK_SOCK_DIAG socket opened elsewhere (inside
    /// another network namespace, by a thread that entered it) and not
    /// bound yet: its events are that namespace's.
    pub fn bind(fd: OwnedFd, rcvbuf: Option<usize>) -> Result<DestroyStream> {
        let unavailable = |e: Errno| Error::NetlinkUnavailable(e.into());
        // Ask for much: with CAP_NET_ADMIN past rmem_max, else the kernel
        // caps it at rmem_max without error.
        match rcvbuf {
            Some(size) => {
                rustix::net::sockopt::set_socket_recv_buffer_size(&fd, size).map_err(unavailable)?
            }
            None => {
                if rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, BIG_RCVBUF).is_err()
                {
                    rustix::net::sockopt::set_socket_recv_buffer_size(&fd, BIG_RCVBUF)
                        .map_err(unavailable)?;
                }
            }
        }
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, DESTROY_GROUPS)).map_err(unavailable)?;
        let inode = rustix::fs::fstat(&fd).map(|st| st.st_ino).unwrap_or(0);
        let mut s = DestroyStream {
            fd,
            buf: vec![0; 256 * 1024],
            drops: None,
            inode,
            netns_path: None,
        };
        s.drops = s.read_drops();
        Ok(s)
    }

    /// The kernel's count of messages dropped for this socket
    /// (`/proc/net/netlink`'s Drops column); `None` when this namespace's
    /// table does not list it.
    fn read_drops(&self) -> Option<u64> {
        let read = || std::fs::read_to_string("/proc/thread-self/net/netlink").ok();
        let text = match &self.netns_path {
            None => read()?,
            // Rare (a loss): a thread enters the namespace to read its table.
            Some(path) => crate::collect::linux::netns::run_in(path, read).ok()??,
        };
        netlink_drops(&text, self.inode)
    }

    /// Says that the socket was made in the namespace at `path` (not the
    /// one the reading thread is in), so a loss is counted from its table.
    pub fn made_in(mut self, path: std::path::PathBuf) -> DestroyStream {
        self.netns_path = Some(path);
        self.drops = self.read_drops();
        self
    }

    /// Waits up to `timeout` for destroy messages and appends every socket
    /// queued by then to `out` (TCP with its final tcp_info).
    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<Socket>) -> Result<Received> {
        let ts = Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        {
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(0) => return Ok(Received::Timeout),
                Ok(_) => {}
                Err(Errno::INTR) => return Ok(Received::Timeout),
                Err(e) => return Err(Error::Netlink(e.into())),
            }
        }
        let start = out.len();
        loop {
            match rustix::net::recv(
                self.fd.as_fd(),
                self.buf.as_mut_slice(),
                RecvFlags::DONTWAIT,
            ) {
                Ok((n, _)) => parse_destroyed(self.buf.get(..n).unwrap_or_default(), out),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(Errno::NOBUFS) => {
                    let now = self.read_drops();
                    let lost = match (self.drops, now) {
                        (Some(a), Some(b)) if b >= a => Some(b - a),
                        _ => None,
                    };
                    self.drops = now;
                    return Ok(Received::Lost(lost));
                }
                Err(e) => return Err(Error::Netlink(e.into())),
            }
        }
        Ok(Received::Sockets(out.len() - start))
    }
}

/// The Drops column of `/proc/net/netlink` for the socket with this inode.
fn netlink_drops(table: &str, inode: u64) -> Option<u64> {
    // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
    table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let ino: u64 = f.get(9)?.parse().ok()?;
        (ino == inode).then(|| f.get(8)?.parse().ok())?
    })
}

/// Parses the destroy broadcasts in `buf` (whole netlink messages) into
/// sockets appended to `out`. Messages that are not inet_diag broadcasts,
/// or are malformed, are skipped: one bad message never ends the stream.
pub fn parse_destroyed(buf: &[u8], out: &mut Vec<Socket>) {
    for (h, msg) in messages(buf) {
        if h.kind == NLMSG_DONE || h.kind == NLMSG_ERROR || h.kind != SOCK_DIAG_BY_FAMILY {
            continue;
        }
        let proto = Attrs(msg.get(MSG_FIXED..).unwrap_or_default())
            .map_while(std::result::Result::ok)
            .find(|(kind, _)| *kind == INET_DIAG_PROTOCOL)
            .and_then(|(_, d)| d.first().copied());
        let proto = match proto {
            Some(IPPROTO_TCP) => Proto::Tcp,
            Some(IPPROTO_UDP) | Some(136) => Proto::Udp,
            _ => continue,
        };
        if let Ok(Some(mut s)) = parse_inet_msg(msg, proto) {
            if proto == Proto::Tcp {
                s.extra = parse_inet_extra(
                    msg,
                    Detail {
                        info: true,
                        ..Detail::default()
                    },
                );
            }
            out.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_column_by_inode() {
        let t = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n\
                 0000000000000000 4   12345      0000000f 0        0        0     2        17       998877\n";
        assert_eq!(netlink_drops(t, 998877), Some(17));
        assert_eq!(netlink_drops(t, 1), None);
    }

    /// One broadcast as the kernel builds it: header, inet_diag_msg of a
    /// TCP socket 127.0.0.1:40000 -> 127.0.0.1:8080 in CLOSE, cookie 1234,
    /// and INET_DIAG_PROTOCOL.
    fn broadcast(proto: u8) -> Vec<u8> {
        let mut msg = vec![2u8, 7, 0, 0];
        msg.extend_from_slice(&40000u16.to_be_bytes());
        msg.extend_from_slice(&8080u16.to_be_bytes());
        for _ in 0..2 {
            msg.extend_from_slice(&[127, 0, 0, 1]);
            msg.extend_from_slice(&[0; 12]);
        }
        msg.extend_from_slice(&0u32.to_ne_bytes()); // interface
        msg.extend_from_slice(&1234u32.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(&[0; 20]); // expires, queues, uid, inode
        assert_eq!(msg.len(), MSG_FIXED);
        msg.extend_from_slice(&5u16.to_ne_bytes());
        msg.extend_from_slice(&INET_DIAG_PROTOCOL.to_ne_bytes());
        msg.extend_from_slice(&[proto, 0, 0, 0]);
        let mut b = Vec::new();
        b.extend_from_slice(&(16 + msg.len() as u32).to_ne_bytes());
        b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        b.extend_from_slice(&[0; 10]);
        b.extend_from_slice(&msg);
        b
    }

    #[test]
    fn a_broadcast_is_one_socket_of_its_protocol() {
        let mut out = Vec::new();
        let mut two = broadcast(IPPROTO_TCP);
        two.extend(broadcast(IPPROTO_UDP));
        parse_destroyed(&two, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].proto, Proto::Tcp);
        assert_eq!(out[1].proto, Proto::Udp);
        assert_eq!(out[0].cookie, 1234);
        assert_eq!(out[0].local.port(), Some(40000));
        assert_eq!(out[0].remote.port(), Some(8080));
        // An unknown protocol (a raw socket's) is not an event.
        out.clear();
        parse_destroyed(&broadcast(255), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn garbage_is_skipped() {
        let mut out = Vec::new();
        parse_destroyed(&[0xff; 40], &mut out);
        parse_destroyed(&[], &mut out);
        // A header claiming more than there is.
        let mut b = vec![0u8; 20];
        b[0..4].copy_from_slice(&200u32.to_ne_bytes());
        b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        parse_destroyed(&b, &mut out);
        assert!(out.is_empty());
    }
}
