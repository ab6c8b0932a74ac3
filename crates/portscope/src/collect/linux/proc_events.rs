//! The proc connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`): one message
//! per process fork, exec and exit on the machine, as they happen. The
//! events engine uses them to look at a process's fds at once after it
//! starts (so a connection it makes right away gets its owner) and to
//! forget a process that exited. Root only (CAP_NET_ADMIN in the initial
//! user namespace), and only in the initial network namespace, where the
//! kernel's connector lives: the socket is made there.
//!
//! Layout from the kernel's `include/uapi/linux/cn_proc.h` and
//! `connector.h`: after the netlink header, a `cn_msg` (`idx`, `val`,
//! `seq`, `ack`: u32; `len`, `flags`: u16), then a `proc_event` (`what`,
//! `cpu`: u32; `timestamp_ns`: u64; the event's pids as u32s).
//!
//! Not here: what the engine does with them (`crate::events`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use crate::collect::ProcessEvent;

use super::netlink::wire::{NLMSG_HDRLEN, messages, nl_header, read_u32};

/// `CN_IDX_PROC` / `CN_VAL_PROC`: the connector's process events.
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
/// `NLMSG_DONE`: the type a connector message is sent with.
const NLMSG_DONE: u16 = 3;
/// `PROC_CN_MCAST_LISTEN`, `PROC_CN_MCAST_IGNORE`.
const MCAST_LISTEN: u32 = 1;
const MCAST_IGNORE: u32 = 2;
/// `enum proc_cn_event`: the kinds read.
const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
/// `struct cn_msg` before its data.
const CN_MSG_LEN: usize = 20;
/// Where a `proc_event`'s union starts (after `what`, `cpu`, `timestamp_ns`).
const EVENT_DATA: usize = 16;

/// A subscription to the proc connector.
#[derive(Debug)]
pub struct ProcConnector {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl AsFd for ProcConnector {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The control message: `cn_msg` for the proc connector, then a
/// `proc_input` (`mcast_op`, `event_type`), which kernels since 6.6 take to
/// send only the kinds asked for; older ones take the 4-byte `mcast_op`.
fn control(op: u32, filtered: bool) -> Vec<u8> {
    let data: Vec<u8> = if filtered {
        let kinds = PROC_EVENT_FORK | PROC_EVENT_EXEC | PROC_EVENT_EXIT;
        [op.to_ne_bytes(), kinds.to_ne_bytes()].concat()
    } else {
        op.to_ne_bytes().to_vec()
    };
    let len = NLMSG_HDRLEN + CN_MSG_LEN + data.len();
    let mut b = vec![0u8; len];
    nl_header(&mut b, len, NLMSG_DONE, 0, 1);
    let m = &mut b[NLMSG_HDRLEN..];
    m[0..4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m[4..8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
    // seq, ack: 0
    m[16..18].copy_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_ne_bytes());
    m[CN_MSG_LEN..].copy_from_slice(&data);
    b
}

impl ProcConnector {
    /// Subscribes in the calling thread's network namespace (it must be
    /// the initial one) and waits up to `confirm` for the kernel's answer.
    /// `Err` with why when it cannot be had.
    pub fn open(confirm: Duration) -> std::result::Result<ProcConnector, String> {
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::CONNECTOR),
        )
        .map_err(|e| format!("no proc connector socket: {e}"))?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, CN_IDX_PROC))
            .map_err(|e| format!("the proc connector refused: {e}"))?;
        let mut c = ProcConnector {
            fd,
            buf: vec![0; 64 * 1024],
        };
        // The plain form first: its answer (a PROC_EVENT_NONE, which the
        // kernel's filter of a filtered listener would drop) says whether
        // the kernel took it.
        rustix::net::send(&c.fd, &control(MCAST_LISTEN, false), SendFlags::empty())
            .map_err(|e| format!("the proc connector refused: {e}"))?;
        match c.ack(confirm) {
            Some(0) => {}
            Some(err) => {
                return Err(format!(
                    "the proc connector refused: {}",
                    Errno::from_raw_os_error(i32::try_from(err).unwrap_or(i32::MAX))
                ));
            }
            None => return Err("the proc connector did not answer".to_owned()),
        }
        // Then only forks, execs and exits (kernels before 6.6 ignore this
        // form and keep sending every kind, which `parse` skips).
        let _ = rustix::net::send(&c.fd, &control(MCAST_LISTEN, true), SendFlags::empty());
        Ok(c)
    }

    /// The kernel's answer to a control message (a `PROC_EVENT_NONE` with
    /// its errno), skipping other events meanwhile.
    fn ack(&mut self, within: Duration) -> Option<u32> {
        let until = Instant::now() + within;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.readable(left) {
                return None;
            }
            let Ok((n, _)) = rustix::net::recv(&self.fd, &mut self.buf, RecvFlags::DONTWAIT) else {
                continue;
            };
            let mut found = None;
            each_event(self.buf.get(..n).unwrap_or_default(), |what, data| {
                if what == PROC_EVENT_NONE {
                    found = read_u32(data, 0);
                }
            });
            if found.is_some() {
                return found;
            }
        }
    }

    fn readable(&self, within: Duration) -> bool {
        let ts = Timespec {
            tv_sec: i64::try_from(within.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(within.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        matches!(poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
    }

    /// Appends every event queued now to `out`. A queue that overflowed
    /// (ENOBUFS) loses events silently: the periodic walk still finds
    /// every owner, later.
    /// False when the socket failed for good.
    pub fn read(&mut self, out: &mut Vec<ProcessEvent>) -> bool {
        loop {
            match rustix::net::recv(&self.fd, &mut self.buf, RecvFlags::DONTWAIT) {
                Ok((n, _)) => parse(self.buf.get(..n).unwrap_or_default(), out),
                Err(Errno::INTR | Errno::NOBUFS) => continue,
                Err(Errno::AGAIN) => return true,
                Err(_) => return false,
            }
        }
    }
}

impl Drop for ProcConnector {
    fn drop(&mut self) {
        // The kernel counts listeners and makes events while there are any.
        let _ = rustix::net::send(&self.fd, &control(MCAST_IGNORE, false), SendFlags::DONTWAIT);
    }
}

/// Calls `f(what, event_data)` for each proc event in `buf`.
fn each_event(buf: &[u8], mut f: impl FnMut(u32, &[u8])) {
    for (_, msg) in messages(buf) {
        if read_u32(msg, 0) != Some(CN_IDX_PROC) || read_u32(msg, 4) != Some(CN_VAL_PROC) {
            continue;
        }
        let Some(ev) = msg.get(CN_MSG_LEN..) else {
            continue;
        };
        let (Some(what), Some(data)) = (read_u32(ev, 0), ev.get(EVENT_DATA..)) else {
            continue;
        };
        f(what, data);
    }
}

/// The fork, exec and exit events of processes (not threads) in `buf`.
pub fn parse(buf: &[u8], out: &mut Vec<ProcessEvent>) {
    each_event(buf, |what, d| {
        let at = |i: usize| read_u32(d, 4 * i);
        match what {
            // parent_pid, parent_tgid, child_pid, child_tgid
            PROC_EVENT_FORK => {
                if let (Some(parent), Some(pid), Some(tgid)) = (at(1), at(2), at(3))
                    && pid == tgid
                {
                    out.push(ProcessEvent::Fork { parent, child: pid });
                }
            }
            // process_pid, process_tgid
            PROC_EVENT_EXEC => {
                if let Some(tgid) = at(1) {
                    out.push(ProcessEvent::Exec(tgid));
                }
            }
            // process_pid, process_tgid, exit_code, exit_signal, …
            PROC_EVENT_EXIT => {
                if let (Some(pid), Some(tgid)) = (at(0), at(1))
                    && pid == tgid
                {
                    out.push(ProcessEvent::Exit(pid));
                }
            }
            _ => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(what: u32, pids: &[u32]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes()); // cpu
        ev.extend_from_slice(&0u64.to_ne_bytes()); // timestamp
        for p in pids {
            ev.extend_from_slice(&p.to_ne_bytes());
        }
        let len = NLMSG_HDRLEN + CN_MSG_LEN + ev.len();
        let mut b = vec![0u8; len];
        nl_header(&mut b, len, NLMSG_DONE, 0, 0);
        b[16..20].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
        b[20..24].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
        b[32..34].copy_from_slice(&u16::try_from(ev.len()).expect("len").to_ne_bytes());
        b[NLMSG_HDRLEN + CN_MSG_LEN..].copy_from_slice(&ev);
        b
    }

    #[test]
    fn forks_execs_and_exits_of_processes_not_threads() {
        let mut buf = message(PROC_EVENT_FORK, &[10, 10, 11, 11]);
        buf.extend(message(PROC_EVENT_FORK, &[10, 10, 12, 10])); // a thread
        buf.extend(message(PROC_EVENT_EXEC, &[11, 11]));
        buf.extend(message(PROC_EVENT_EXIT, &[12, 10, 0, 17, 1, 1])); // a thread
        buf.extend(message(PROC_EVENT_EXIT, &[11, 11, 0, 17, 10, 10]));
        buf.extend(message(0x200, &[11, 11])); // comm: not read
        let mut out = Vec::new();
        parse(&buf, &mut out);
        assert_eq!(
            out,
            [
                ProcessEvent::Fork {
                    parent: 10,
                    child: 11
                },
                ProcessEvent::Exec(11),
                ProcessEvent::Exit(11),
            ]
        );
        // Garbage and truncation are skipped.
        out.clear();
        parse(&[0xff; 30], &mut out);
        parse(&buf[..buf.len() - 3], &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn the_control_message_is_a_cn_msg() {
        let b = control(MCAST_LISTEN, true);
        assert_eq!(b.len(), 16 + 20 + 8);
        assert_eq!(read_u32(&b, 0), Some(44));
        assert_eq!(read_u32(&b, 16), Some(CN_IDX_PROC));
        assert_eq!(read_u32(&b, 36), Some(MCAST_LISTEN));
        assert_eq!(control(MCAST_IGNORE, false).len(), 40);
    }
}
