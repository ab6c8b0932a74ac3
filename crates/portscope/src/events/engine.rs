//! [`Engine`]: the event stream of one namespace, from a [`System`]: its
//! destroy subscription read as messages come, and a dump with owners every
//! refresh (incremental owner walks, as the live view makes them).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use crate::collect::{
    NetnsScope, Options, OwnerMap, ProcessEvent, Received, SourceChoice, Subscription, System, Walk,
};
use crate::error::Result;
use crate::model::{Detail, HiddenOwners, Process, Query, Snapshot, Socket, StateSet, TcpState};

use super::{Differ, Event};

/// How an [`Engine`] watches.
#[derive(Clone, Copy, Debug)]
pub struct EngineOptions {
    /// Time between dumps: a connection that lives longer than this is seen
    /// by one, with its owners; a shorter one may close unattributed.
    pub refresh: Duration,
    /// The subscription's receive buffer in bytes (`None`: as large as the
    /// OS allows an unprivileged process).
    pub rcvbuf: Option<usize>,
    /// Which sockets (TCP and UDP; states are the engine's choice).
    pub query: Query,
    /// Whether to find owners.
    pub owners: bool,
    /// Which dump source.
    pub source: SourceChoice,
    /// Which network namespaces, as for a listing (by default every one
    /// when run as root in the host's, else the caller's): the dumps cover
    /// them and each one's destroy notifications are heard.
    pub netns: NetnsScope,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            refresh: Duration::from_millis(250),
            rcvbuf: None,
            query: Query::default(),
            owners: true,
            source: SourceChoice::Auto,
            netns: NetnsScope::Default,
        }
    }
}

/// The events of every namespace [`EngineOptions::netns`] names, batch
/// after batch.
///
/// ```no_run
/// use std::io::Write;
/// use portscope::events::{Engine, EngineOptions};
/// let sys = portscope::collect::Native::new();
/// let mut engine = Engine::new(&sys, EngineOptions::default())?;
/// let mut batch = Vec::new();
/// let mut out = std::io::stdout().lock();
/// loop {
///     engine.next_batch(&mut batch)?;
///     for e in batch.drain(..) {
///         writeln!(out, "{} {} {}", e.kind, e.socket.local, e.socket.remote)?;
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Engine<'s, S: System + ?Sized> {
    owners: Owners<'s, S>,
    sub: Box<dyn Subscription>,
    differ: Differ,
    refresh: Duration,
    scope: NetnsScope,
    next_dump: Instant,
    last_dump: Instant,
    /// Whether the next dump is one a watched process brought forward.
    early: bool,
    /// When the last dump with an owner walk was.
    last_walk: Instant,
    /// Processes that just started, watched for a new fd (see [`WATCH_FOR`]).
    watched: HashMap<u32, Watch>,
    started: Vec<ProcessEvent>,
    buf: Vec<Socket>,
    hidden: HiddenOwners,
    notes: Vec<String>,
    lost: u64,
}

impl<S: System + ?Sized> std::fmt::Debug for Engine<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("differ", &self.differ)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl<'s, S: System + ?Sized> Engine<'s, S> {
    /// Subscribes, then takes the baseline dump (so that nothing closing in
    /// between is missed). Sockets already there give no events.
    pub fn new(sys: &'s S, opts: EngineOptions) -> Result<Engine<'s, S>> {
        let mut sub = sys.subscribe(opts.rcvbuf)?;
        // The namespaces known without a dump (bind-mounted ones) are heard
        // before the baseline, the others from the first dump that finds them.
        sub.cover(opts.netns, &[])?;
        let mut query = opts.query;
        query.raw = false;
        query.unix = false;
        // TIME_WAIT sockets are only the echo of a close already reported;
        // at thousands of connections a second they would be most of each dump.
        query.states = StateSet::ALL.without(TcpState::TimeWait);
        let mut owners = Owners {
            sys,
            opts: Options {
                query,
                owners: opts.owners,
                source: opts.source,
                detail: Detail::default(),
                netns: opts.netns,
            },
            map: None,
            unowned: HashSet::new(),
            inodes: HashSet::new(),
            seen_held: HashMap::new(),
            seen_procs: HashMap::new(),
            processes: HashMap::new(),
            last_full: Instant::now(),
            last_len: 0,
        };
        let mut differ = Differ {
            netns: sub.netns(),
            missing_for: Duration::from_millis(500),
            ..Differ::default()
        };
        let snap = owners.take(true)?;
        sub.cover(opts.netns, &namespaces(&snap))?;
        let mut none = Vec::new();
        differ.on_dump(&snap, SystemTime::now(), &mut none);
        let mut notes = snap.notes;
        notes.extend(sub.notes());
        Ok(Engine {
            owners,
            sub,
            differ,
            refresh: opts.refresh.max(Duration::from_millis(10)),
            scope: opts.netns,
            next_dump: Instant::now() + opts.refresh,
            last_dump: Instant::now(),
            last_walk: Instant::now(),
            early: false,
            watched: HashMap::new(),
            started: Vec::new(),
            buf: Vec::new(),
            hidden: snap.hidden,
            notes,
            lost: 0,
        })
    }

    /// Owners hidden at the last dump (for lack of permission).
    pub fn hidden(&self) -> &HiddenOwners {
        &self.hidden
    }

    /// Notes from the dumps (a fallback taken).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Notifications the OS dropped so far, as far as it said.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The network namespace the events are from, when known.
    pub fn netns(&self) -> Option<u64> {
        self.differ.netns
    }

    /// Waits for the next events (at most until the next dump is due) and
    /// appends them to `out`. May append nothing.
    pub fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let mut wait = self.next_dump.saturating_duration_since(Instant::now());
        if !self.watched.is_empty() {
            wait = wait.min(WATCH_EVERY);
        }
        self.buf.clear();
        let got = self.sub.wait(wait, &mut self.buf)?;
        self.take_destroyed(out);
        if let Received::Lost(n) = got {
            self.lost += n.unwrap_or(1);
            let ns = self.sub.lost_netns();
            self.differ.on_lost_in(n, ns, SystemTime::now(), out);
            // Read what is still queued before the resync dump, so those
            // closes keep their counters; bounded, as the burst may go on.
            for _ in 0..64 {
                self.buf.clear();
                match self.sub.wait(Duration::ZERO, &mut self.buf)? {
                    Received::Timeout => break,
                    Received::Sockets(_) => self.take_destroyed(out),
                    Received::Lost(n) => {
                        self.take_destroyed(out);
                        self.lost += n.unwrap_or(1);
                        let ns = self.sub.lost_netns();
                        self.differ.on_lost_in(n, ns, SystemTime::now(), out);
                    }
                }
            }
            self.next_dump = Instant::now();
        }
        self.watch();
        if Instant::now() >= self.next_dump {
            // Early dumps never stand in for the refresh's walk, however
            // often the machine's new processes bring them.
            let early = std::mem::take(&mut self.early);
            let walk = !early || self.last_walk.elapsed() >= self.refresh;
            if walk {
                self.last_walk = Instant::now();
            }
            let snap = self.owners.take(walk)?;
            self.last_dump = Instant::now();
            self.sub.cover(self.scope, &namespaces(&snap))?;
            self.differ.on_dump(&snap, SystemTime::now(), out);
            self.hidden = snap.hidden;
            self.notes = snap.notes;
            self.next_dump = Instant::now() + self.refresh;
            if !self.watched.is_empty() {
                // The fd counts the dump's walk saw are the new baseline.
                let sys = self.owners.sys;
                for (pid, w) in &mut self.watched {
                    w.fds = sys.fds_of(*pid);
                }
            }
        } else {
            self.differ.tick(SystemTime::now(), out);
        }
        Ok(())
    }

    /// Takes the process events in and looks at the processes that just
    /// started: one whose fd count grew (it opened something, perhaps a
    /// connection) brings the next dump forward, so the socket is seen,
    /// with its owner, while it lives. A process that exited is forgotten.
    fn watch(&mut self) {
        self.sub.take_processes(&mut self.started);
        let now = Instant::now();
        let sys = self.owners.sys;
        for ev in self.started.drain(..) {
            match ev {
                // Kernel threads (children of kthreadd) hold no fds.
                ProcessEvent::Fork { parent: 2, .. } => {}
                ProcessEvent::Exec(pid) | ProcessEvent::Fork { child: pid, .. } => {
                    // Another program now: its details are read again.
                    self.owners.processes.remove(&pid);
                    // Full (a fork storm): the newest are the likeliest to
                    // connect now; the one watched longest makes room.
                    if self.watched.len() >= MAX_WATCHED
                        && !self.watched.contains_key(&pid)
                        && let Some(oldest) = self
                            .watched
                            .iter()
                            .min_by_key(|(_, w)| w.until)
                            .map(|(p, _)| *p)
                    {
                        self.watched.remove(&oldest);
                    }
                    // What it holds now it inherited (a fork's copies of its
                    // parent's sockets): only sockets it opens later are its
                    // own news. A large table is no new client's.
                    let fds = sys.fds_of(pid);
                    if fds.is_some_and(|n| n <= MAX_WATCHED_FDS) {
                        let inherited = sys
                            .sockets_of(pid)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(_, i)| i)
                            .collect();
                        self.watched.insert(
                            pid,
                            Watch {
                                until: now + WATCH_FOR,
                                fds,
                                looks: 0,
                                inherited,
                            },
                        );
                    }
                }
                ProcessEvent::Exit(pid) => {
                    self.watched.remove(&pid);
                    self.owners.processes.remove(&pid);
                }
            }
        }
        let mut opened = false;
        let known = &self.owners.inodes;
        let held = &mut self.owners.seen_held;
        let procs = &mut self.owners.seen_procs;
        self.watched.retain(|pid, w| {
            if now >= w.until {
                return false;
            }
            w.looks = w.looks.wrapping_add(1);
            // The first quarter second every look, then every fifth: most
            // programs connect soon after they start, if at all.
            let young = now + WATCH_FOR < w.until + YOUNG;
            if !young && w.looks % OLD_EVERY != 0 {
                return true;
            }
            let Some(n) = sys.fds_of(*pid) else {
                return false; // gone
            };
            // Other fds (a file or a socket), or now and then (a file closed
            // and a socket opened between two looks): a socket no dump saw?
            if w.fds != Some(n) || w.looks % SOCKETS_EVERY == 0 {
                w.fds = Some(n);
                for (fd, inode) in sys.sockets_of(*pid).unwrap_or_default() {
                    if !known.contains(&inode) && !w.inherited.contains(&inode) {
                        opened = true;
                        let owners = held.entry(inode).or_default();
                        if !owners.iter().any(|o| o.pid == *pid) {
                            owners.push(crate::model::Owner { pid: *pid, fd });
                        }
                        if !procs.contains_key(pid)
                            && let Ok(Some(p)) = sys.process(*pid)
                        {
                            procs.insert(*pid, p);
                        }
                    }
                }
            }
            true
        });
        if opened {
            let gap = (self.refresh / 5).clamp(MIN_DUMP_GAP, MAX_DUMP_GAP);
            let soonest = (self.last_dump + gap).max(now);
            if soonest < self.next_dump {
                self.next_dump = soonest;
                self.early = true;
            }
        }
    }

    fn take_destroyed(&mut self, out: &mut Vec<Event>) {
        let now = SystemTime::now();
        for s in self.buf.drain(..) {
            self.differ.on_destroyed(s, now, out);
        }
    }

    /// Every event still held back (listeners waiting for a replacement),
    /// for the end of a stream.
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        self.differ.flush(out);
    }
}

/// The events a first dump of `sys` makes, as a stream that started
/// before any of its sockets existed would see them: each listener (TCP
/// LISTEN, bound unconnected UDP) a `listen`, each connection an `open` in
/// the state it has, with owners as `opts` asks (TIME_WAIT sockets, the
/// echo of a close, make none, as in a live stream). What `events
/// --from-snapshot` prints of a recording ([`crate::collect::Recorded`]),
/// which has no destroy notifications. Also the snapshot taken, for its
/// notes and hidden owners.
///
/// ```
/// use portscope::collect::Recorded;
/// use portscope::events::{EngineOptions, EventKind, first_dump};
/// use portscope::model::*;
/// let rec = Recorded::new(Snapshot {
///     sockets: vec![Socket {
///         local: Endpoint::v4([127, 0, 0, 1].into(), 8080),
///         state: TcpState::Listen,
///         cookie: 1,
///         ..Socket::default()
///     }],
///     ..Snapshot::default()
/// });
/// let (events, _) = first_dump(&rec, &EngineOptions::default())?;
/// assert_eq!(events[0].kind, EventKind::Listen);
/// # Ok::<(), portscope::Error>(())
/// ```
pub fn first_dump<S: System + ?Sized>(
    sys: &S,
    opts: &EngineOptions,
) -> Result<(Vec<Event>, Snapshot)> {
    let mut query = opts.query;
    query.raw = false;
    query.unix = false;
    query.packet = false;
    query.netlink = false;
    query.mptcp = false;
    query.states = StateSet::ALL.without(TcpState::TimeWait);
    let options = Options {
        query,
        owners: opts.owners,
        source: opts.source,
        detail: Detail::default(),
        netns: opts.netns,
    };
    let mut snap = crate::collect::take(sys, &options)?;
    // Sockets recorded without a cookie (read from /proc/net) stand in
    // with one of their own while the differ keys them, then lose it.
    let n = snap.sockets.len() as u64;
    let stand_in = |c: u64| c > u64::MAX - n - 1;
    for (i, s) in snap.sockets.iter_mut().enumerate() {
        if s.cookie == 0 {
            s.cookie = u64::MAX - i as u64;
        }
    }
    let mut differ = Differ::default();
    let now = SystemTime::now();
    let mut out = Vec::new();
    differ.on_dump(&Snapshot::default(), now, &mut out);
    differ.on_dump(&snap, now, &mut out);
    differ.flush(&mut out);
    for e in &mut out {
        if stand_in(e.socket.cookie) {
            e.socket.cookie = 0;
        }
    }
    for s in &mut snap.sockets {
        if stand_in(s.cookie) {
            s.cookie = 0;
        }
    }
    Ok((out, snap))
}

/// How long a process is watched for new fds after it forks or execs.
const WATCH_FOR: Duration = Duration::from_secs(2);
/// How often the watched processes' fd counts are read.
const WATCH_EVERY: Duration = Duration::from_millis(10);
/// Every how many looks a process past [`YOUNG`] has its fd count read.
const OLD_EVERY: u32 = 10;
/// Every how many looks a process's sockets are read even when its fd
/// count is the same (a file closed and a socket opened in between).
const SOCKETS_EVERY: u32 = 50;
/// How many processes are watched at once (a fork storm watches the latest).
const MAX_WATCHED: usize = 512;
/// A process with more fds than this when it starts is not watched.
const MAX_WATCHED_FDS: u64 = 256;
/// How long a process counts as just started (looked at every time).
const YOUNG: Duration = Duration::from_millis(250);
/// The time between the last dump and one a watched process brings
/// forward: a fifth of the refresh, within these bounds.
const MIN_DUMP_GAP: Duration = Duration::from_millis(20);
const MAX_DUMP_GAP: Duration = Duration::from_millis(50);

/// A process being watched.
#[derive(Debug)]
struct Watch {
    until: Instant,
    fds: Option<u64>,
    looks: u32,
    /// The sockets it held when the watch began.
    inherited: HashSet<u64>,
}

/// The namespaces a dump's sockets are in, each once: what a subscription
/// is told to cover after each dump ([`Subscription::cover`]).
///
/// [`Subscription::cover`]: crate::collect::Subscription::cover
pub fn namespaces(snap: &Snapshot) -> Vec<std::sync::Arc<crate::model::Netns>> {
    let mut out: Vec<std::sync::Arc<crate::model::Netns>> = Vec::new();
    let mut last = None;
    let mut have = HashSet::new();
    for s in &snap.sockets {
        let Some(n) = &s.netns else { continue };
        // Dumps give each namespace's sockets together.
        if last == Some(n.inode) {
            continue;
        }
        last = Some(n.inode);
        if have.insert(n.inode) {
            out.push(std::sync::Arc::clone(n));
        }
    }
    out
}

/// Every so often the owner walk reads every fd table even if nothing
/// seems new (fds passed between processes, processes gone). Rarely: on a
/// machine with 100k open fds a full walk costs about a second of CPU, and
/// new sockets trigger the walks attribution needs anyway.
const FULL_WALK_EVERY: Duration = Duration::from_secs(60);

/// Dumps joined with owners, walking only when the dump holds a socket whose
/// holder is not known: first the fd tables that changed, then, if that
/// did not find it, all of them (an incremental walk misses a process that
/// closed one socket and opened another between walks). Process details
/// are read afresh for the holders of new sockets, so a reused pid never
/// lends a new socket the old process's name.
struct Owners<'s, S: System + ?Sized> {
    sys: &'s S,
    opts: Options,
    map: Option<OwnerMap>,
    /// Inodes a full walk found no holder for (another user's, hidden).
    unowned: HashSet<u64>,
    /// Inodes of the last dump.
    inodes: HashSet<u64>,
    /// Sockets a watched process was seen to hold before a dump listed
    /// them (inode → holder): owners without waiting for a walk.
    seen_held: HashMap<u64, Vec<crate::model::Owner>>,
    /// The details of those holders, read then (the process may be gone
    /// by the time the dump's walk is done).
    seen_procs: HashMap<u32, Process>,
    processes: HashMap<u32, Process>,
    last_full: Instant,
    last_len: usize,
}

impl<S: System + ?Sized> Owners<'_, S> {
    fn unresolved(&self, sockets: &[Socket], map: &OwnerMap) -> bool {
        sockets.iter().any(|s| {
            s.inode != 0
                && !self.unowned.contains(&s.inode)
                && !self.seen_held.contains_key(&s.inode)
                && map.owners_of(s.inode).is_empty()
        })
    }

    /// A dump with owners; `walk` false (a dump a watched process brought
    /// forward) reads no fd table: owners from the last walk and from what
    /// the watch saw; new sockets of other holders are left to the next.
    fn take(&mut self, walk: bool) -> Result<Snapshot> {
        let dump = self.sys.dump(
            &self.opts,
            self.map.as_ref(),
            self.last_len + self.last_len / 8,
        )?;
        let mut sockets = dump.sockets;
        self.last_len = sockets.len();
        sockets.retain(|s| self.opts.query.wants(s));
        let mut snap = Snapshot {
            source: dump.source,
            notes: dump.notes,
            ..Snapshot::default()
        };
        if !self.opts.owners {
            snap.sockets = sockets;
            return Ok(snap);
        }
        let mut full = false;
        let map = match self.map.take() {
            Some(prev) if !walk => {
                // A new socket whose holder neither the last walk nor the
                // watch knows waits for the next dump with a walk, so that
                // its first event has its owner.
                let held = &self.seen_held;
                let before = &self.inodes;
                sockets.retain(|s| {
                    s.inode == 0
                        || before.contains(&s.inode)
                        || held.contains_key(&s.inode)
                        || !prev.owners_of(s.inode).is_empty()
                });
                prev
            }
            None => {
                full = true;
                self.sys.owners(Walk::Counting)?
            }
            Some(prev) if self.last_full.elapsed() >= FULL_WALK_EVERY => {
                drop(prev);
                full = true;
                self.sys.owners(Walk::Counting)?
            }
            Some(prev) if self.unresolved(&sockets, &prev) => {
                let since = self.sys.owners(Walk::Since(&prev))?;
                if self.unresolved(&sockets, &since) {
                    full = true;
                    self.sys.owners(Walk::Counting)?
                } else {
                    since
                }
            }
            Some(prev) => prev,
        };
        if full {
            self.last_full = Instant::now();
            self.unowned = sockets
                .iter()
                .filter(|s| s.inode != 0 && map.owners_of(s.inode).is_empty())
                .map(|s| s.inode)
                .collect();
        }
        let hidden = !map.denied.is_empty();
        let me = self.sys.euid();
        snap.hidden.processes = u32::try_from(map.denied.len()).unwrap_or(u32::MAX);
        let mut fresh: HashSet<u32> = HashSet::new();
        let mut inodes = HashSet::with_capacity(sockets.len());
        for s in &mut sockets {
            if s.inode == 0 {
                continue;
            }
            inodes.insert(s.inode);
            s.owners = map.owners_of(s.inode).to_vec();
            if s.owners.is_empty()
                && let Some(held) = self.seen_held.get(&s.inode)
            {
                s.owners.clone_from(held);
            }
            if s.owners.is_empty() && hidden && s.uid != Some(me) {
                s.owners_hidden = true;
                snap.hidden.sockets += 1;
            }
            let new = !self.inodes.contains(&s.inode);
            for o in &s.owners {
                if snap.processes.contains_key(&o.pid) {
                    continue;
                }
                let known = (!new || fresh.contains(&o.pid))
                    .then(|| self.processes.get(&o.pid).cloned())
                    .flatten()
                    // Read when a watch saw it take the socket.
                    .or_else(|| self.seen_procs.get(&o.pid).cloned());
                let p = match known {
                    Some(p) => Some(p),
                    None => {
                        fresh.insert(o.pid);
                        let p = self.sys.process(o.pid)?;
                        if let Some(p) = &p {
                            self.processes.insert(o.pid, p.clone());
                        }
                        p
                    }
                };
                if let Some(p) = p {
                    snap.processes.insert(o.pid, p);
                }
            }
        }
        self.processes
            .retain(|pid, _| snap.processes.contains_key(pid));
        // What a watched process was seen holding matters until a dump
        // lists it (then the dump's inodes know it) or it is gone.
        self.seen_held.retain(|i, _| !inodes.contains(i));
        if self.seen_held.len() > 4096 {
            self.seen_held.clear();
        }
        let held = &self.seen_held;
        self.seen_procs
            .retain(|pid, _| held.values().flatten().any(|o| o.pid == *pid));
        self.inodes = inodes;
        self.map = Some(map);
        snap.sockets = sockets;
        Ok(snap)
    }
}

/// The event stream on a thread of its own, as a channel: what a server
/// that fans events out (counters, a feed) consumes. The subscription and
/// the baseline dump are made before this returns (their error is this
/// function's); later errors end the stream with one `Err`. The thread
/// ends at the first event after the receiver is dropped.
///
/// ```no_run
/// use std::io::Write;
/// use std::sync::Arc;
/// let sys = Arc::new(portscope::collect::Native::new());
/// let rx = portscope::events::spawn(sys, portscope::events::EngineOptions::default())?;
/// let mut out = std::io::stdout().lock();
/// for e in rx {
///     let e = e?;
///     writeln!(out, "{} {:?}", e.kind, e.bytes_sent)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn<S: System + ?Sized + 'static>(
    sys: std::sync::Arc<S>,
    opts: EngineOptions,
) -> Result<std::sync::mpsc::Receiver<Result<Event>>> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<()>>(1);
    let (tx, rx) = std::sync::mpsc::channel::<Result<Event>>();
    std::thread::Builder::new()
        .name("events".into())
        .spawn(move || {
            let mut engine = match Engine::new(&*sys, opts) {
                Ok(e) => {
                    let _ = ready_tx.send(Ok(()));
                    e
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let mut batch = Vec::new();
            loop {
                if let Err(e) = engine.next_batch(&mut batch) {
                    let _ = tx.send(Err(e));
                    return;
                }
                for e in batch.drain(..) {
                    if tx.send(Ok(e)).is_err() {
                        return;
                    }
                }
            }
        })
        .map_err(crate::Error::Netlink)?;
    match ready_rx.recv() {
        Ok(r) => r.map(|()| rx),
        Err(_) => Err(crate::Error::Netlink(std::io::Error::other(
            "the events thread stopped",
        ))),
    }
}
