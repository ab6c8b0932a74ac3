//! The filter on a raw or packet socket, asked of the socket itself: the
//! socket dumps do not report it for raw sockets (and packet_diag shows it
//! only with CAP_NET_ADMIN), so a root caller duplicates an owner's
//! descriptor with `pidfd_getfd`, asks `SO_GET_FILTER` for the instruction
//! count, and closes the duplicate at once.
//!
//! Not the dump: this runs after the owner join, only for those sockets.
#![allow(unsafe_code)] // getsockopt(SO_GET_FILTER) with no buffer: rustix has no wrapper.

use std::os::fd::{AsRawFd, OwnedFd};

use rustix::io::Errno;

use super::pidfd::{OpenError, Pidfd};
use crate::model::{Proto, SockFilter, Socket};

/// Fills [`SocketExtra::sock_filter`](crate::model::SocketExtra::sock_filter)
/// for every raw socket, and every packet socket whose dump left its filter
/// unknown. `root` says whether the caller may duplicate other processes'
/// descriptors; without it each is "unknown: needs root".
pub fn fill(sockets: &mut [Socket], root: bool) {
    for s in sockets.iter_mut() {
        let wanted = match s.proto {
            Proto::Raw => true,
            Proto::Packet => s.packet().is_some_and(|p| p.filter.is_none()),
            _ => false,
        };
        if !wanted {
            continue;
        }
        let f = if !root {
            SockFilter::Unknown("needs root")
        } else {
            of_owners(s)
        };
        s.extra.get_or_insert_with(Default::default).sock_filter = Some(f);
    }
}

/// Asks through each owner in turn until one answers for this very socket.
fn of_owners(s: &Socket) -> SockFilter {
    if s.owners.is_empty() {
        return SockFilter::Unknown("no visible owner");
    }
    let mut why = "owner gone";
    for o in &s.owners {
        let pidfd = match Pidfd::open(o.pid) {
            Ok(p) => p,
            Err(OpenError::Gone) => continue,
            Err(OpenError::Refused(_)) => {
                why = "refused by the kernel";
                continue;
            }
        };
        let fd = match pidfd.dup_fd(o.fd) {
            Ok(fd) => fd,
            Err(Errno::BADF | Errno::SRCH) => continue,
            Err(_) => {
                why = "refused by the kernel";
                continue;
            }
        };
        // The fd number may have been reused since the walk: ask only the
        // socket we mean.
        match rustix::fs::fstat(&fd) {
            Ok(st) if st.st_ino == s.inode => {}
            _ => continue,
        }
        match get_filter_len(&fd) {
            Ok(0) => return SockFilter::None,
            Ok(n) => return SockFilter::Classic(n),
            // A program with no classic original (SO_ATTACH_BPF).
            Err(Errno::ACCESS) => return SockFilter::Ebpf,
            Err(_) => why = "refused by the kernel",
        }
    }
    SockFilter::Unknown(why)
}

/// `getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len)` with `len` 0:
/// the kernel answers the attached classic program's instruction count in
/// `len` (0 when none is attached), EACCES for an eBPF program.
fn get_filter_len(fd: &OwnedFd) -> Result<u32, Errno> {
    let mut len: libc::socklen_t = 0;
    // SAFETY: a null optval with *optlen == 0 is the documented way to ask
    // for the count: the kernel writes nothing through optval, and writes
    // one socklen_t through optlen, which points at a live local.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_GET_FILTER,
            std::ptr::null_mut(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(len)
    } else {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Our own UDP socket: no filter, then a classic one of 2 instructions.
    #[test]
    fn counts_a_classic_filter_on_our_own_socket() {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let fd: OwnedFd = sock.as_fd().try_clone_to_owned().expect("dup");
        assert_eq!(get_filter_len(&fd), Ok(0));
        // ld #0 (len), ret #0xffff... : accept everything, 2 instructions.
        let prog = [
            libc::sock_filter {
                code: 0x80,
                jt: 0,
                jf: 0,
                k: 0,
            },
            libc::sock_filter {
                code: 0x06,
                jt: 0,
                jf: 0,
                k: 0xffff_ffff,
            },
        ];
        let fprog = libc::sock_fprog {
            len: 2,
            filter: prog.as_ptr().cast_mut(),
        };
        // SAFETY: fprog points at `prog`, alive for the call; the kernel copies it.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&raw const fprog).cast(),
                libc::socklen_t::try_from(std::mem::size_of::<libc::sock_fprog>()).expect("size"),
            )
        };
        assert_eq!(rc, 0, "attach: {}", std::io::Error::last_os_error());
        assert_eq!(get_filter_len(&fd), Ok(2));
    }
}
