//! The TCP connect sweep: which (address, port) pairs accept a connection,
//! refuse it, or stay silent. Nonblocking `connect` on a few threads, each
//! with its own epoll set.
//!
//! Jobs are numbered, not listed: a [`Jobs`] says how many there are and
//! makes the address of one when a worker claims it, and each result goes to
//! a callback as it settles. Memory is the window of attempts in flight,
//! whatever the number of hosts and ports.
//!
//! Why not tokio here: a sweep of a whole host is almost all refused
//! connects, and on loopback the refusal is known before `connect` even
//! returns (the RST is processed while the socket is still locked by the
//! call). So the cost is syscalls, and the fewer the better: socket,
//! connect, one `SO_ERROR` read and close settle a closed port; only ports
//! still pending go into epoll. tokio would add an epoll registration, a
//! wake-up and a task per attempt (measured in bench/SCAN-RESULTS.md).
//!
//! Not here: what answers on an open port (see `probe`), UDP (see `udp`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::event::epoll;
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketFlags, SocketType, sockopt};

use crate::PortState;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// How the sweep runs.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    /// How long one connection attempt may take before it counts as unanswered.
    pub timeout: Duration,
    /// Further attempts after a timeout.
    pub retries: u32,
    /// Connection attempts per second, all threads together; `None`: no cap.
    pub rate: Option<u32>,
    /// Attempts in flight at once, all threads together (each holds one fd).
    pub concurrency: usize,
    /// Worker threads.
    pub threads: usize,
}

const OPEN: u8 = 1;
const CLOSED: u8 = 2;
const FILTERED: u8 = 3;

/// The connection attempts of a sweep, by number: `0..len()`.
pub trait Jobs: Sync {
    /// How many.
    fn len(&self) -> u64;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The address of job `job`; `None` past the end.
    fn addr(&self, job: u64) -> Option<SocketAddr>;
}

impl Jobs for [SocketAddr] {
    fn len(&self) -> u64 {
        <[SocketAddr]>::len(self) as u64
    }
    fn addr(&self, job: u64) -> Option<SocketAddr> {
        self.get(usize::try_from(job).ok()?).copied()
    }
}

/// Connects to every job's address and hands each job's state to `report`
/// as it settles (from any worker thread, in no particular order).
///
/// An error when the sweep cannot go on: no epoll set, or no socket to be
/// had (out of fds or memory) while no attempt is in flight to free one.
/// With attempts in flight a shortage only slows the sweep down.
pub fn sweep<J: Jobs + ?Sized>(
    jobs: &J,
    cfg: &SweepConfig,
    progress: &dyn Progress,
    report: &(dyn Fn(u64, PortState) + Sync),
) -> Result<()> {
    let total = jobs.len();
    progress.start(total);
    let shared = Shared {
        jobs: &JobsRef(jobs),
        report,
        next: AtomicU64::new(0),
        progress,
        pacer: cfg.rate.filter(|r| *r > 0).map(Pacer::new),
        in_flight: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        failed: Mutex::new(None),
    };
    let threads = cfg
        .threads
        .clamp(1, 64)
        .min(usize::try_from(total.max(1)).unwrap_or(usize::MAX));
    let window = (cfg.concurrency / threads).max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let shared = &shared;
            s.spawn(move || match Worker::new(shared, cfg, window) {
                Ok(w) => w.run(),
                Err(e) => shared.fail(e, "cannot create an epoll set"),
            });
        }
    });
    match shared.failed.into_inner() {
        Ok(Some(e)) => Err(e),
        Ok(None) => Ok(()),
        Err(_) => Err(Error::system(
            "sweep",
            std::io::Error::other("a sweep thread stopped unexpectedly"),
        )),
    }
}

/// `&J` as a `&dyn Jobs` for a `J` that may be unsized.
struct JobsRef<'a, J: ?Sized>(&'a J);

impl<J: Jobs + ?Sized> Jobs for JobsRef<'_, J> {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn addr(&self, job: u64) -> Option<SocketAddr> {
        self.0.addr(job)
    }
}

/// What all workers share: the jobs, where to claim the next ones, results.
struct Shared<'a> {
    jobs: &'a dyn Jobs,
    report: &'a (dyn Fn(u64, PortState) + Sync),
    next: AtomicU64,
    progress: &'a dyn Progress,
    pacer: Option<Pacer>,
    /// Attempts in flight, all workers together.
    in_flight: AtomicUsize,
    /// Set when the sweep must end (see `failed`).
    stop: AtomicBool,
    failed: Mutex<Option<Error>>,
}

impl Shared<'_> {
    /// Ends the sweep with an error (the first one reported wins).
    fn fail(&self, e: Errno, what: &str) {
        let hint = if matches!(e, Errno::MFILE | Errno::NFILE) {
            " (raise the open-file limit, ulimit -n)"
        } else {
            ""
        };
        let os = std::io::Error::from(e);
        let err = Error::system(what, std::io::Error::new(os.kind(), format!("{os}{hint}")));
        if let Ok(mut f) = self.failed.lock()
            && f.is_none()
        {
            *f = Some(err);
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// How far ahead of time a rate slot may be used.
const SLACK_NS: u64 = 1_000_000;

/// Spaces connection attempts evenly to honour [`SweepConfig::rate`].
struct Pacer {
    start: Instant,
    interval_ns: u64,
    /// When the next attempt may start, in ns since `start`.
    next_ns: AtomicU64,
}

impl Pacer {
    fn new(rate: u32) -> Pacer {
        Pacer {
            start: Instant::now(),
            interval_ns: 1_000_000_000 / u64::from(rate),
            next_ns: AtomicU64::new(0),
        }
    }

    /// Takes a slot now, or says how long until one is free.
    fn take(&self) -> Result<(), Duration> {
        self.take_at(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// [`take`](Self::take) at `now`, in ns since `start`.
    fn take_at(&self, now: u64) -> Result<(), Duration> {
        let mut cur = self.next_ns.load(Ordering::Relaxed);
        loop {
            // Slots may be taken up to a millisecond early: waits are timed in
            // whole milliseconds, and waiting for each slot on its own would
            // hold high rates well under the cap. The spacing, so the average
            // rate, is unchanged.
            if cur > now + SLACK_NS {
                return Err(Duration::from_nanos(cur - now - SLACK_NS));
            }
            let want = cur.max(now.saturating_sub(self.interval_ns)) + self.interval_ns;
            match self.next_ns.compare_exchange_weak(
                cur,
                want,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }
}

/// One attempt in flight.
struct Pending {
    fd: OwnedFd,
    job: u64,
    attempt: u32,
    deadline: Instant,
}

/// Jobs are claimed this many at a time to keep the shared counter cold.
const CLAIM: u64 = 32;

struct Worker<'a, 'c> {
    shared: &'a Shared<'a>,
    cfg: &'c SweepConfig,
    window: usize,
    epoll: Option<OwnedFd>,
    /// Slots of attempts in flight; the epoll data is the slot index plus a
    /// generation, so a late event for a reused slot is recognised.
    slots: Vec<Option<Pending>>,
    generation: Vec<u32>,
    free: Vec<usize>,
    in_flight: usize,
    /// (slot, generation) in deadline order: every attempt gets the same
    /// timeout, so start order is deadline order.
    deadlines: VecDeque<(usize, u32, Instant)>,
    claimed: std::ops::Range<u64>,
    retry: VecDeque<(u64, u32)>,
    /// Refused sockets ready to connect again, per family.
    pool4: Vec<OwnedFd>,
    pool6: Vec<OwnedFd>,
}

/// Reusable sockets kept per family (they hold fds the window does not count).
const POOL_MAX: usize = 4;

impl<'a, 'c> Worker<'a, 'c> {
    fn new(shared: &'a Shared<'a>, cfg: &'c SweepConfig, window: usize) -> Result<Self, Errno> {
        Ok(Worker {
            shared,
            cfg,
            window,
            epoll: Some(epoll::create(epoll::CreateFlags::CLOEXEC)?),
            slots: Vec::new(),
            generation: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            deadlines: VecDeque::new(),
            claimed: 0..0,
            retry: VecDeque::new(),
            pool4: Vec::new(),
            pool6: Vec::new(),
        })
    }

    fn next_job(&mut self) -> Option<(u64, u32)> {
        if let Some(r) = self.retry.pop_front() {
            return Some(r);
        }
        if self.claimed.is_empty() {
            let n = self.shared.jobs.len();
            let start = self.shared.next.fetch_add(CLAIM, Ordering::Relaxed);
            if start >= n {
                return None;
            }
            self.claimed = start..start.saturating_add(CLAIM).min(n);
        }
        self.claimed.next().map(|j| (j, 0))
    }

    fn settle(&self, job: u64, state: u8) {
        let state = match state {
            OPEN => PortState::Open,
            CLOSED => PortState::Closed,
            _ => PortState::Filtered,
        };
        (self.shared.report)(job, state);
        self.shared.progress.advance(1);
    }

    fn run(mut self) {
        let mut events: Vec<epoll::Event> = Vec::with_capacity(256);
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                return;
            }
            let mut wait_for: Option<Duration> = None;
            // Fill the window.
            let mut exhausted = false;
            while self.in_flight < self.window {
                if let Some(p) = &self.shared.pacer
                    && let Err(d) = p.take()
                {
                    wait_for = Some(d);
                    break;
                }
                let Some((job, attempt)) = self.next_job() else {
                    exhausted = true;
                    break;
                };
                if let Err(e) = self.start(job, attempt) {
                    // Out of fds or buffers: let what is in flight drain
                    // first. With nothing in flight anywhere, waiting frees
                    // nothing: the sweep cannot go on.
                    if self.in_flight == 0 && self.shared.in_flight.load(Ordering::Relaxed) == 0 {
                        self.shared
                            .fail(e, "no socket for a connection attempt, none in flight");
                        return;
                    }
                    wait_for = Some(Duration::from_millis(5));
                    break;
                }
            }
            if exhausted && self.in_flight == 0 && self.retry.is_empty() {
                return;
            }
            let now = Instant::now();
            let to_deadline = self
                .deadlines
                .front()
                .map(|&(_, _, d)| d.saturating_duration_since(now));
            let room = self.in_flight < self.window && !exhausted && wait_for.is_none();
            let timeout = if room {
                Duration::ZERO
            } else {
                match (wait_for, to_deadline) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => Duration::from_millis(5),
                }
            };
            if self.in_flight > 0 {
                self.poll(&mut events, timeout);
            } else if !timeout.is_zero() {
                std::thread::sleep(timeout);
            }
            self.expire();
        }
    }

    /// A socket for a new attempt: a refused one kept for reuse, or a new one.
    fn socket(&mut self, v6: bool) -> Result<OwnedFd, Errno> {
        let pool = if v6 { &mut self.pool6 } else { &mut self.pool4 };
        if let Some(fd) = pool.pop() {
            return Ok(fd);
        }
        let family = if v6 {
            AddressFamily::INET6
        } else {
            AddressFamily::INET
        };
        net::socket_with(
            family,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
    }

    /// Keeps a socket whose attempt was refused: the kernel has already
    /// disconnected it, so it can connect again.
    fn recycle(&mut self, fd: OwnedFd, v6: bool) {
        let pool = if v6 { &mut self.pool6 } else { &mut self.pool4 };
        if pool.len() < POOL_MAX {
            pool.push(fd);
        }
    }

    /// Starts one attempt; the error when the system is out of resources
    /// (the job is queued again).
    fn start(&mut self, job: u64, attempt: u32) -> Result<(), Errno> {
        let Some(addr) = self.shared.jobs.addr(job) else {
            return Ok(());
        };
        let v6 = addr.is_ipv6();
        let fd = match self.socket(v6) {
            Ok(fd) => fd,
            Err(e) if is_resource(e) => {
                self.retry.push_front((job, attempt));
                return Err(e);
            }
            Err(_) => {
                self.settle(job, FILTERED);
                return Ok(());
            }
        };
        match net::connect(&fd, &addr) {
            Ok(()) => self.finish_open(fd, job),
            Err(Errno::INPROGRESS) => {
                // On loopback the answer is usually in already: the peer's
                // SYN-ACK or RST was processed as connect returned. Asking
                // connect again reports it (0, or the refusal) and, after a
                // refusal, leaves the socket disconnected and reusable: two
                // syscalls per closed port, no socket() or close().
                match net::connect(&fd, &addr) {
                    Ok(()) | Err(Errno::ISCONN) => self.finish_open(fd, job),
                    Err(Errno::ALREADY) => self.watch(fd, job, attempt),
                    Err(Errno::CONNREFUSED) => {
                        self.settle(job, CLOSED);
                        self.recycle(fd, v6);
                    }
                    Err(e) => self.settle(job, refused_or_filtered(e)),
                }
            }
            Err(Errno::CONNREFUSED) => {
                self.settle(job, CLOSED);
                self.recycle(fd, v6);
            }
            Err(e) if is_resource(e) => {
                self.retry.push_front((job, attempt));
                return Err(e);
            }
            Err(e) => self.settle(job, refused_or_filtered(e)),
        }
        Ok(())
    }

    fn watch(&mut self, fd: OwnedFd, job: u64, attempt: u32) {
        let Some(ep) = &self.epoll else {
            self.settle(job, FILTERED);
            return;
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                self.generation.push(0);
                self.slots.len() - 1
            }
        };
        let generation = self.generation.get(slot).copied().unwrap_or(0);
        let data = epoll::EventData::new_u64(((generation as u64) << 32) | slot as u64);
        if epoll::add(ep, &fd, data, epoll::EventFlags::OUT).is_err() {
            self.free.push(slot);
            self.retry.push_back((job, attempt));
            return;
        }
        let deadline = Instant::now() + self.cfg.timeout;
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Pending {
                fd,
                job,
                attempt,
                deadline,
            });
        }
        self.deadlines.push_back((slot, generation, deadline));
        self.in_flight += 1;
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Frees a slot and returns what was in it.
    fn release(&mut self, slot: usize) -> Option<Pending> {
        let p = self.slots.get_mut(slot)?.take()?;
        if let Some(g) = self.generation.get_mut(slot) {
            *g = g.wrapping_add(1);
        }
        self.free.push(slot);
        self.in_flight -= 1;
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        Some(p)
    }

    fn poll(&mut self, events: &mut Vec<epoll::Event>, timeout: Duration) {
        let Some(ep) = &self.epoll else {
            return;
        };
        let ts = rustix::event::Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        events.clear();
        let n = match epoll::wait(ep, rustix::buffer::spare_capacity(events), Some(&ts)) {
            Ok(n) => n,
            Err(_) => return,
        };
        let _ = n;
        let got: Vec<(u64, epoll::EventFlags)> =
            events.iter().map(|e| (e.data.u64(), e.flags)).collect();
        for (data, flags) in got {
            let slot = (data & 0xffff_ffff) as usize;
            let generation = (data >> 32) as u32;
            if self.generation.get(slot) != Some(&generation) {
                continue;
            }
            let Some(p) = self.release(slot) else {
                continue;
            };
            let err = match sockopt::socket_error(&p.fd) {
                Ok(r) => r.err(),
                Err(e) => Some(e),
            };
            match err {
                None if flags.contains(epoll::EventFlags::OUT) => self.finish_open(p.fd, p.job),
                None => self.settle(p.job, FILTERED),
                Some(e) => self.settle(p.job, refused_or_filtered(e)),
            }
        }
    }

    /// Gives up on attempts past their deadline, queueing a retry if any are left.
    fn expire(&mut self) {
        let now = Instant::now();
        while let Some(&(slot, generation, deadline)) = self.deadlines.front() {
            if self.generation.get(slot) != Some(&generation) {
                self.deadlines.pop_front();
                continue;
            }
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if let Some(p) = self.release(slot) {
                let _ = p.deadline;
                drop(p.fd);
                if p.attempt < self.cfg.retries {
                    self.retry.push_back((p.job, p.attempt + 1));
                } else {
                    self.settle(p.job, FILTERED);
                }
            }
        }
    }

    fn finish_open(&self, fd: OwnedFd, job: u64) {
        // A connect to a free port in the ephemeral range can pick that same
        // port as its source and connect to itself (TCP simultaneous open):
        // nothing listens there, so it is closed.
        let self_connected = match (net::getsockname(&fd), net::getpeername(&fd)) {
            (Ok(a), Ok(Some(b))) => a == b,
            _ => false,
        };
        // Reset rather than close gracefully: no TIME_WAIT left behind by
        // thousands of probe connections.
        let _ = sockopt::set_socket_linger(&fd, Some(Duration::ZERO));
        drop(fd);
        self.settle(job, if self_connected { CLOSED } else { OPEN });
    }
}

fn is_resource(e: Errno) -> bool {
    matches!(
        e,
        Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM | Errno::AGAIN
    )
}

/// A refusal means nothing listens: closed. Anything else (unreachable,
/// timed out in the kernel, forbidden by a firewall) gives no answer about
/// the port: filtered.
fn refused_or_filtered(e: Errno) -> u8 {
    if e == Errno::CONNREFUSED {
        CLOSED
    } else {
        FILTERED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `n` slots on a simulated clock that waits exactly as long as
    /// the pacer says; the times each slot was granted.
    fn granted(rate: u32, n: usize) -> Vec<u64> {
        let p = Pacer::new(rate);
        let mut now = 0u64;
        let mut out = Vec::new();
        while out.len() < n {
            match p.take_at(now) {
                Ok(()) => out.push(now),
                Err(wait) => now += u64::try_from(wait.as_nanos()).expect("short wait"),
            }
        }
        out
    }

    #[test]
    fn the_pacer_spaces_slots_by_the_interval() {
        // 100 per second: a slot every 10 ms, each at most 1 ms early.
        let t = granted(100, 11);
        assert_eq!(t[0], 0);
        for w in t.windows(2) {
            assert!(w[1] > w[0], "{t:?}");
        }
        for (i, &at) in t.iter().enumerate() {
            let due = i as u64 * 10_000_000;
            assert!(
                at + SLACK_NS >= due && at <= due,
                "slot {i} at {at}, due {due}"
            );
        }
        // Ten intervals for eleven attempts, less the slack at most.
        assert!(t[10] >= 100_000_000 - SLACK_NS, "{t:?}");
    }

    #[test]
    fn an_idle_pacer_does_not_bank_slots() {
        // 100 per second, idle for a second: one slot carries over (the
        // pacer counts from one interval back), not the hundred unused.
        let p = Pacer::new(100);
        assert_eq!(p.take_at(0), Ok(()));
        let later = 1_000_000_000;
        assert_eq!(p.take_at(later), Ok(()));
        assert_eq!(p.take_at(later), Ok(()));
        assert_eq!(
            p.take_at(later),
            Err(Duration::from_nanos(10_000_000 - SLACK_NS))
        );
    }
}
