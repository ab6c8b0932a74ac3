//! [`Destroyed`]: the destroy multicast groups of every network namespace
//! the events cover, read on one thread of its own (a burst is taken off
//! the sockets' queues while the caller is busy with a dump or an owner
//! walk, instead of overflowing them).
//!
//! One NETLINK_SOCK_DIAG socket per namespace, each made inside its
//! namespace by a thread that entered it ([`netns::run_in`]) and read from
//! here: a socket hears the namespace it was made in. (One socket with
//! NETLINK_LISTEN_ALL_NSID would hear only the namespaces that have an
//! id in the caller's, which most do not.) Which namespaces is said by
//! [`Subscription::cover`] after every dump: those its sockets are in and,
//! when the scope is every namespace, the bind-mounted ones (`ip netns`,
//! containers), heard even before they hold a socket. A namespace not seen
//! for a few dumps in a row is let go (the subscription would otherwise
//! keep a deleted namespace alive).
//!
//! Not here: reading one socket ([`DestroyStream`]), what an event means
//! (`crate::events`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};

use crate::collect::{NetnsScope, ProcessEvent, Received, Subscription};
use crate::error::{Error, Result};
use crate::model::{Netns, Socket};

use super::netlink::DestroyStream;
use super::netns;
use super::proc_events::ProcConnector;

/// Dumps in a row a namespace may go unseen before its socket is closed.
const LET_GO_AFTER: u8 = 8;

/// How long the reader waits before looking for new sockets to read.
const READER_TICK: Duration = Duration::from_millis(200);

/// What the reader thread passes on.
#[derive(Debug)]
enum Batch {
    Sockets(Vec<Socket>),
    Processes(Vec<ProcessEvent>),
    /// Drops in the namespace with this inode.
    Lost(Option<u64>, u64),
}

/// What the caller tells the reader thread.
enum Ctl {
    Add(u64, DestroyStream, Option<Arc<Netns>>),
    Remove(u64),
}

/// See the module docs.
pub(super) struct Destroyed {
    rx: Receiver<Result<Batch>>,
    ctl: Sender<Ctl>,
    stop: Arc<AtomicBool>,
    own: Option<u64>,
    rcvbuf: Option<usize>,
    /// Namespaces heard besides the caller's, with the dumps since last seen.
    others: HashMap<u64, u8>,
    /// Namespaces that could not be entered (no CAP_SYS_ADMIN), not tried again.
    refused: HashSet<u64>,
    lost_in: Option<u64>,
    processes: Vec<ProcessEvent>,
    notes: Vec<String>,
}

impl std::fmt::Debug for Destroyed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destroyed")
            .field("own", &self.own)
            .field("others", &self.others)
            .finish_non_exhaustive()
    }
}

impl Destroyed {
    /// Subscribes in the caller's namespace and starts the reader.
    pub(super) fn start(rcvbuf: Option<usize>) -> Result<Destroyed> {
        let stream = DestroyStream::open(rcvbuf)?;
        let own = netns::discover(false).own().map(|f| Arc::clone(&f.netns));
        let own_inode = own.as_ref().map(|n| n.inode).or_else(netns::own_inode);
        let (tx, rx) = mpsc::channel();
        let (ctl, ctl_rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let first = (own_inode.unwrap_or(0), stream, own);
        let mut notes = Vec::new();
        let connector = match connect() {
            Ok(c) => Some(c),
            Err(why) => {
                notes.push(format!(
                    "{why}: owners of connections that open and close between two \
                     dumps may be unknown"
                ));
                None
            }
        };
        std::thread::Builder::new()
            .name("destroy-events".into())
            .spawn(move || read_all(vec![first], connector, &ctl_rx, &tx, &flag))
            .map_err(Error::Netlink)?;
        Ok(Destroyed {
            rx,
            ctl,
            stop,
            own: own_inode,
            rcvbuf,
            others: HashMap::new(),
            refused: HashSet::new(),
            lost_in: None,
            processes: Vec::new(),
            notes,
        })
    }
}

/// The proc connector, made in the host's namespace (the kernel's
/// connector lives in the initial one); root only.
fn connect() -> std::result::Result<ProcConnector, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("process start and exit events need root".to_owned());
    }
    let confirm = Duration::from_secs(1);
    let own = netns::own_inode();
    if own.is_some() && own == netns::host_inode() {
        return ProcConnector::open(confirm);
    }
    // A member's path (process 1's may be another user namespace's).
    let host = netns::discover(true)
        .all
        .into_iter()
        .find(|f| f.netns.host)
        .ok_or_else(|| "the host's network namespace (for process events) is unknown".to_owned())?;
    netns::run_in(&host.path, move || ProcConnector::open(confirm))
        .map_err(|e| format!("the host's network namespace (for process events): {e}"))?
}

/// The reader: every stream polled at once; each socket tagged with the
/// namespace its stream hears.
fn read_all(
    mut streams: Vec<(u64, DestroyStream, Option<Arc<Netns>>)>,
    mut connector: Option<ProcConnector>,
    ctl: &Receiver<Ctl>,
    tx: &Sender<Result<Batch>>,
    stop: &AtomicBool,
) {
    let tick = Timespec {
        tv_sec: 0,
        tv_nsec: i64::from(READER_TICK.subsec_nanos()),
    };
    let mut ready = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        while let Ok(c) = ctl.try_recv() {
            match c {
                Ctl::Add(ino, s, ns) => streams.push((ino, s, ns)),
                Ctl::Remove(ino) => streams.retain(|(i, _, _)| *i != ino),
            }
        }
        ready.clear();
        {
            let mut fds: Vec<PollFd<'_>> = streams
                .iter()
                .map(|(_, s, _)| PollFd::new(s, PollFlags::IN))
                .collect();
            // The connector last, past the streams' indices.
            if let Some(c) = &connector {
                fds.push(PollFd::new(c, PollFlags::IN));
            }
            match poll(&mut fds, Some(&tick)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(Error::Netlink(e.into())));
                    return;
                }
            }
            ready.extend(
                fds.iter()
                    .enumerate()
                    .filter_map(|(i, f)| (!f.revents().is_empty()).then_some(i)),
            );
        }
        for &i in &ready {
            let Some((ino, stream, ns)) = streams.get_mut(i) else {
                if let Some(c) = connector.as_mut() {
                    let mut got = Vec::new();
                    if !c.read(&mut got) {
                        // Failed for good: the periodic walk goes on alone.
                        connector = None;
                    }
                    if !got.is_empty() && tx.send(Ok(Batch::Processes(got))).is_err() {
                        return;
                    }
                }
                continue;
            };
            let mut buf = Vec::new();
            let got = stream.wait(Duration::ZERO, &mut buf);
            if let Some(ns) = ns {
                for s in &mut buf {
                    s.netns = Some(Arc::clone(ns));
                }
            }
            let msg = match got {
                Ok(Received::Timeout) => continue,
                Ok(Received::Sockets(_)) => Ok(Batch::Sockets(buf)),
                Ok(Received::Lost(n)) => {
                    if !buf.is_empty() && tx.send(Ok(Batch::Sockets(buf))).is_err() {
                        return;
                    }
                    Ok(Batch::Lost(n, *ino))
                }
                Err(e) => Err(e),
            };
            let failed = msg.is_err();
            if tx.send(msg).is_err() || failed {
                return;
            }
        }
    }
}

impl Drop for Destroyed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Which bind-mounted namespaces `scope` takes in without a socket seen.
fn mounted_wanted(scope: NetnsScope, f: &netns::Found) -> bool {
    match scope {
        NetnsScope::All => true,
        NetnsScope::Default => {
            let own = netns::own_inode();
            rustix::process::geteuid().is_root() && own.is_some() && own == netns::host_inode()
        }
        NetnsScope::Host => f.netns.host,
        NetnsScope::Only(ino) => f.netns.inode == ino,
        NetnsScope::Own => false,
    }
}

impl Subscription for Destroyed {
    fn wait(&mut self, timeout: Duration, out: &mut Vec<Socket>) -> Result<Received> {
        let start = out.len();
        let mut next = match self.rx.recv_timeout(timeout) {
            Ok(b) => Some(b),
            Err(RecvTimeoutError::Timeout) => return Ok(Received::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::Netlink(std::io::Error::other(
                    "the destroy notification reader stopped",
                )));
            }
        };
        // Everything queued now, up to a loss (which is said on its own).
        while let Some(b) = next {
            match b? {
                Batch::Sockets(mut v) => out.append(&mut v),
                Batch::Processes(mut v) => self.processes.append(&mut v),
                // What came before the loss is in `out` with it.
                Batch::Lost(n, ino) => {
                    self.lost_in = Some(ino);
                    return Ok(Received::Lost(n));
                }
            }
            next = self.rx.try_recv().ok();
        }
        Ok(Received::Sockets(out.len() - start))
    }

    fn netns(&self) -> Option<u64> {
        self.own
    }

    fn take_processes(&mut self, out: &mut Vec<ProcessEvent>) {
        out.append(&mut self.processes);
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    fn lost_netns(&self) -> Option<u64> {
        self.lost_in.or(self.own)
    }

    fn cover(&mut self, scope: NetnsScope, seen: &[Arc<Netns>]) -> Result<()> {
        let mut want: HashMap<u64, Option<Arc<Netns>>> = seen
            .iter()
            .map(|n| (n.inode, Some(Arc::clone(n))))
            .collect();
        let mut paths: HashMap<u64, std::path::PathBuf> = HashMap::new();
        if !matches!(scope, NetnsScope::Own) {
            for f in netns::discover(false).all {
                if !f.own && mounted_wanted(scope, &f) {
                    want.entry(f.netns.inode)
                        .or_insert_with(|| Some(Arc::clone(&f.netns)));
                    paths.insert(f.netns.inode, f.path);
                }
            }
        }
        if let Some(own) = self.own {
            want.remove(&own);
        }
        let new: Vec<u64> = want
            .keys()
            .filter(|i| !self.others.contains_key(i) && !self.refused.contains(i))
            .copied()
            .collect();
        if new.iter().any(|i| !paths.contains_key(i)) {
            // A namespace no bind mount names: a member process opens it.
            for f in netns::discover(true).all {
                paths.entry(f.netns.inode).or_insert(f.path);
            }
        }
        for ino in new {
            let Some(path) = paths.get(&ino).cloned() else {
                continue; // gone meanwhile
            };
            let rcvbuf = self.rcvbuf;
            match netns::run_in(&path, move || DestroyStream::open(rcvbuf)) {
                Ok(Ok(s)) => {
                    let ns = want.get(&ino).cloned().flatten();
                    if self.ctl.send(Ctl::Add(ino, s.made_in(path), ns)).is_err() {
                        return Err(Error::Netlink(std::io::Error::other(
                            "the destroy notification reader stopped",
                        )));
                    }
                    self.others.insert(ino, 0);
                }
                // Gone since it was found: perhaps seen again later.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Ok(Err(_)) | Err(_) => {
                    self.refused.insert(ino);
                }
            }
        }
        let mut gone = Vec::new();
        for (ino, unseen) in &mut self.others {
            if want.contains_key(ino) {
                *unseen = 0;
            } else {
                *unseen = unseen.saturating_add(1);
                if *unseen >= LET_GO_AFTER {
                    gone.push(*ino);
                }
            }
        }
        for ino in gone {
            self.others.remove(&ino);
            let _ = self.ctl.send(Ctl::Remove(ino));
        }
        Ok(())
    }
}
