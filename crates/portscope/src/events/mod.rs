//! Every connection's life as events: `listen`, `unlisten`, `replaced`,
//! `open`, `close`, `state` and `lost`, from two sources joined here:
//! dumps (what is new, what changed state, and who holds it: the cookie →
//! owner cache) and the OS's destroy notifications (every socket freed,
//! with its final counters, even one no dump saw).
//!
//! [`Differ`] is pure (snapshots, destroyed sockets and instants in, events
//! out); [`Engine`] drives it from a [`System`](crate::collect::System):
//! a subscription, then dumps with owners every refresh.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use portscope::events::{Differ, EventKind};
//! use portscope::model::*;
//!
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
//! let conn = Socket {
//!     local: Endpoint::v4([127, 0, 0, 1].into(), 40000),
//!     remote: Endpoint::v4([127, 0, 0, 1].into(), 80),
//!     state: TcpState::Established,
//!     cookie: 7,
//!     ..Socket::default()
//! };
//! let mut d = Differ::default();
//! let mut out = Vec::new();
//! d.on_dump(&Snapshot::default(), t0, &mut out); // the baseline: no events
//! let snap = Snapshot { sockets: vec![conn.clone()], ..Snapshot::default() };
//! d.on_dump(&snap, t0 + Duration::from_millis(250), &mut out);
//! d.on_destroyed(Socket { state: TcpState::Close, ..conn }, t0 + Duration::from_secs(2), &mut out);
//! let kinds: Vec<EventKind> = out.iter().map(|e| e.kind).collect();
//! assert_eq!(kinds, [EventKind::Open, EventKind::Close]);
//! assert_eq!(out[1].duration_ms, Some(1750));
//! ```

mod engine;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::model::{Process, Proto, Snapshot, Socket, TcpState};

pub use engine::{Engine, EngineOptions, first_dump, namespaces, spawn};

/// What happened to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A listener (TCP LISTEN) or bound, unconnected UDP socket appeared.
    Listen,
    /// A listener went away (and no other took its port soon after).
    Unlisten,
    /// A listener went away and another, with a different owner or
    /// executable, took the same protocol and port.
    Replaced,
    /// A connection was first seen, in the state it had then.
    Open,
    /// A connection was freed; with its final counters when the OS gave them.
    Close,
    /// A dump saw a connection in another state than before.
    State,
    /// Notifications were dropped in a burst; a resync dump followed.
    Lost,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 7] = [
        EventKind::Listen,
        EventKind::Unlisten,
        EventKind::Replaced,
        EventKind::Open,
        EventKind::Close,
        EventKind::State,
        EventKind::Lost,
    ];

    /// The name in output and JSON: `listen`, `unlisten`, `replaced`,
    /// `open`, `close`, `state`, `lost`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Listen => "listen",
            EventKind::Unlisten => "unlisten",
            EventKind::Replaced => "replaced",
            EventKind::Open => "open",
            EventKind::Close => "close",
            EventKind::State => "state",
            EventKind::Lost => "lost",
        }
    }
}

crate::model::from_as_str!(EventKind, "event");

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When it was seen.
    pub time: SystemTime,
    /// What happened.
    pub kind: EventKind,
    /// The socket, as last seen (for `close`, as the OS freed it, with the
    /// owners the cache had). For `lost`, a default socket.
    pub socket: Socket,
    /// Details of the socket's owners (one per pid), when known.
    pub processes: Vec<Process>,
    /// For a socket no owner walk saw: it lived at most this long (it was
    /// not there at the last dump), so its owner is unknown.
    pub lived_under_ms: Option<u64>,
    /// For `close` and `unlisten`: how long the socket was known (from the
    /// dump that first saw it).
    pub duration_ms: Option<u64>,
    /// For a TCP `close`: bytes sent (retransmissions included) and received.
    pub bytes_sent: Option<u64>,
    /// See `bytes_sent`.
    pub bytes_received: Option<u64>,
    /// For a TCP `close`: the last smoothed round-trip time.
    pub rtt_us: Option<u32>,
    /// For a TCP `close`: segments retransmitted over the connection's life.
    pub retransmits: Option<u32>,
    /// For `state`: the state before.
    pub from_state: Option<crate::model::TcpState>,
    /// For `replaced`: the listener that went away, and its owners.
    pub previous: Option<Box<(Socket, Vec<Process>)>>,
    /// For `lost`: how many notifications the OS dropped (`None`: it did
    /// not say; at least one).
    pub lost: Option<u64>,
    /// The network namespace the event is from (Linux: its inode), when known.
    pub netns: Option<u64>,
}

impl Event {
    /// An event of `kind` about `socket` at `time`, with nothing else known.
    pub fn new(time: SystemTime, kind: EventKind, socket: Socket) -> Event {
        Event {
            time,
            kind,
            socket,
            processes: Vec::new(),
            lived_under_ms: None,
            duration_ms: None,
            bytes_sent: None,
            bytes_received: None,
            rtt_us: None,
            retransmits: None,
            from_state: None,
            previous: None,
            lost: None,
            netns: None,
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        self.time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The owners as a snapshot holding only this socket, for the filter
    /// language and the renderers.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            processes: self.processes.iter().map(|p| (p.pid, p.clone())).collect(),
            ..Snapshot::default()
        }
    }
}

/// A socket the differ knows of, by cookie.
#[derive(Clone, Debug)]
struct Known {
    socket: Socket,
    processes: Vec<Process>,
    first_seen: SystemTime,
    listening: bool,
    /// Dumps in a row that did not list it.
    missing: u8,
    /// When a dump last listed it.
    last_seen: SystemTime,
    /// The number of the last dump that listed it.
    dump: u64,
}

/// A listener that went away, held back for [`Differ::replace_window`] in
/// case another takes its port.
#[derive(Clone, Debug)]
struct Pending {
    event: Event,
}

/// Turns dumps and destroyed sockets into events, keeping the cookie →
/// owner cache. Sockets without a cookie (a source that gives none) are
/// not tracked.
#[derive(Debug)]
pub struct Differ {
    /// foldhash rather than SipHash: every socket of every dump is looked
    /// up here (100k lookups a refresh for `serve` at 100k sockets).
    known: HashMap<Key, Known, foldhash::fast::RandomState>,
    /// Cookies destroyed lately: a TIME_WAIT socket keeps its cookie and
    /// must not be opened again by the next dump.
    closed: HashMap<Key, SystemTime, foldhash::fast::RandomState>,
    pending: Vec<Pending>,
    last_dump: Option<SystemTime>,
    /// Dumps so far: each socket a dump lists is stamped with its number,
    /// so the sockets it no longer lists are found without a set of those
    /// it does (at 100k sockets, most of a dump's cost here).
    dumps: u64,
    resync: bool,
    /// How long a listener's going is held back in case another takes its
    /// port (then it is one `replaced` event).
    pub replace_window: Duration,
    /// How long a socket two dumps no longer list waits, besides, for its
    /// destroy notification before it closes without counters (none by
    /// default; the engine, whose dumps a new process may bring forward,
    /// waits half a second).
    pub missing_for: Duration,
    /// The namespace of sockets that carry none (a source that does not
    /// say): their events are labelled with it.
    pub netns: Option<u64>,
}

/// A socket's identity: its namespace's inode (0 when unknown) and its
/// cookie. Cookies are machine-wide on Linux 5.12+, but were per namespace
/// before.
type Key = (u64, u64);

impl Default for Differ {
    fn default() -> Self {
        Differ {
            known: HashMap::default(),
            closed: HashMap::default(),
            pending: Vec::new(),
            last_dump: None,
            dumps: 0,
            resync: false,
            replace_window: Duration::from_secs(2),
            missing_for: Duration::ZERO,
            netns: None,
        }
    }
}

/// How long a destroyed cookie is remembered: past TIME_WAIT (60 s).
const CLOSED_MEMORY: Duration = Duration::from_secs(120);

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn since(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// Whether a socket is a listener for events: TCP LISTEN, or UDP bound and
/// unconnected.
fn is_listener(s: &Socket) -> bool {
    match s.proto {
        Proto::Tcp => s.state == TcpState::Listen,
        Proto::Udp => s.state == TcpState::Close && s.remote.port() == Some(0),
        _ => false,
    }
}

/// The states of a connection on its way out.
fn is_closing(s: TcpState) -> bool {
    matches!(
        s,
        TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::LastAck
            | TcpState::TimeWait
            | TcpState::Close
    )
}

/// The processes of `s` from `snap`, one per pid.
fn processes_of(s: &Socket, snap: &Snapshot) -> Vec<Process> {
    let mut out: Vec<Process> = Vec::new();
    for o in &s.owners {
        if out.iter().any(|p| p.pid == o.pid) {
            continue;
        }
        if let Some(p) = snap.processes.get(&o.pid) {
            out.push(p.clone());
        }
    }
    out
}

/// Whether two owner lists are different programs: other pids or other
/// executables.
fn other_owner(a: &[Process], b: &[Process]) -> bool {
    let key = |ps: &[Process]| {
        let mut v: Vec<(u32, Option<crate::text::Text>)> =
            ps.iter().map(|p| (p.pid, p.exe.clone())).collect();
        v.sort();
        v
    };
    key(a) != key(b)
}

impl Differ {
    /// Whether the first dump (the baseline, which gives no events) has been seen.
    pub fn started(&self) -> bool {
        self.last_dump.is_some()
    }

    /// How many sockets the cache holds.
    pub fn known(&self) -> usize {
        self.known.len()
    }

    fn event(&self, now: SystemTime, kind: EventKind, socket: Socket) -> Event {
        let mut e = Event::new(now, kind, socket);
        e.netns = self.netns_of(&e.socket);
        e
    }

    /// The namespace a socket is labelled with.
    fn netns_of(&self, s: &Socket) -> Option<u64> {
        s.netns.as_ref().map(|n| n.inode).or(self.netns)
    }

    fn key(&self, s: &Socket) -> Key {
        (self.netns_of(s).unwrap_or(0), s.cookie)
    }

    /// A dump of the sockets now, with owners: what is new opens (or
    /// listens, or replaces a listener that just went), what changed state
    /// says so. The first dump is the baseline and gives no events.
    /// Sockets the dump no longer lists and whose destroy notification has
    /// not come by the next dump (or at once after a loss) close without
    /// counters.
    pub fn on_dump(&mut self, snap: &Snapshot, now: SystemTime, out: &mut Vec<Event>) {
        let baseline = self.last_dump.is_none();
        self.dumps += 1;
        let dump = self.dumps;
        for s in &snap.sockets {
            if s.cookie == 0 || !matches!(s.proto, Proto::Tcp | Proto::Udp) {
                continue;
            }
            let key = self.key(s);
            if !self.closed.is_empty() && self.closed.contains_key(&key) {
                continue;
            }
            let label = self.netns_of(s);
            if let Some(k) = self.known.get_mut(&key) {
                k.missing = 0;
                k.last_seen = now;
                k.dump = dump;
                if k.processes.is_empty() && !s.owners.is_empty() {
                    k.processes = processes_of(s, snap);
                }
                if k.socket.state != s.state {
                    let from = k.socket.state;
                    k.socket = s.clone();
                    let mut e = Event::new(now, EventKind::State, s.clone());
                    e.netns = label;
                    e.from_state = Some(from);
                    e.processes = k.processes.clone();
                    out.push(e);
                } else if !s.owners.is_empty() {
                    k.socket.owners.clone_from(&s.owners);
                }
                continue;
            }
            // A closing end no process holds any more, never seen open: the
            // rest of a connection whose close was (or will be) reported
            // from its destroy notification (a TIME_WAIT or orphaned socket
            // may carry another cookie than the full socket had).
            if s.inode == 0 && is_closing(s.state) {
                continue;
            }
            let processes = processes_of(s, snap);
            let listening = is_listener(s);
            self.known.insert(
                key,
                Known {
                    socket: s.clone(),
                    processes: processes.clone(),
                    first_seen: now,
                    listening,
                    missing: 0,
                    last_seen: now,
                    dump,
                },
            );
            if baseline {
                continue;
            }
            let kind = if listening {
                EventKind::Listen
            } else {
                EventKind::Open
            };
            let mut e = self.event(now, kind, s.clone());
            e.processes = processes;
            if listening {
                self.replace_or_listen(e, out);
            } else {
                out.push(e);
            }
        }
        // What the dump no longer lists.
        let resync = std::mem::take(&mut self.resync);
        let mut gone = Vec::new();
        for (key, k) in &mut self.known {
            if k.dump == dump {
                continue;
            }
            k.missing = k.missing.saturating_add(1);
            // Two dumps and half a second: dumps brought forward come
            // faster than a destroy notification may.
            if resync || (k.missing >= 2 && since(now, k.last_seen) >= self.missing_for) {
                gone.push(*key);
            }
        }
        for key in gone {
            if let Some(k) = self.known.remove(&key) {
                self.closed.insert(key, now);
                self.gone(k, None, now, out);
            }
        }
        self.last_dump = Some(now);
        self.tick(now, out);
    }

    /// A new listener: `replaced` if a listener on the same protocol and
    /// port went lately (or still holds it) with another owner.
    fn replace_or_listen(&mut self, mut e: Event, out: &mut Vec<Event>) {
        // Port numbers are per namespace.
        let same_port = |p: &Event| {
            p.socket.proto == e.socket.proto
                && p.socket.local_port() == e.socket.local_port()
                && p.netns == e.netns
        };
        if let Some(i) = self.pending.iter().position(|p| same_port(&p.event)) {
            let p = self.pending.remove(i);
            if other_owner(&p.event.processes, &e.processes) {
                e.kind = EventKind::Replaced;
                e.previous = Some(Box::new((p.event.socket, p.event.processes)));
                out.push(e);
                return;
            }
            out.push(p.event);
            out.push(e);
            return;
        }
        out.push(e);
    }

    /// A known socket went: `close`, or for a listener a held-back `unlisten`.
    fn gone(&mut self, k: Known, freed: Option<Socket>, now: SystemTime, out: &mut Vec<Event>) {
        let kind = if k.listening {
            EventKind::Unlisten
        } else {
            EventKind::Close
        };
        let mut socket = k.socket;
        if let Some(f) = freed {
            take_final(&mut socket, f);
        }
        let mut e = self.event(now, kind, socket);
        e.processes = k.processes;
        e.duration_ms = Some(ms(since(now, k.first_seen)));
        if !k.listening {
            counters(&mut e);
        }
        if k.listening {
            self.pending.push(Pending { event: e });
        } else {
            out.push(e);
        }
    }

    /// A socket the OS freed, with its final counters.
    pub fn on_destroyed(&mut self, s: Socket, now: SystemTime, out: &mut Vec<Event>) {
        if s.cookie != 0 {
            let key = self.key(&s);
            if self.closed.contains_key(&key) {
                return;
            }
            self.closed.insert(key, now);
            if let Some(k) = self.known.remove(&key) {
                self.gone(k, Some(s), now, out);
                return;
            }
        }
        // Never in a dump: it lived less than the time since the last one.
        let mut e = self.event(now, EventKind::Close, s);
        e.lived_under_ms = self.last_dump.map(|t| ms(since(now, t)));
        counters(&mut e);
        out.push(e);
    }

    /// The OS dropped notifications: a `lost` event now, and the next dump
    /// closes at once whatever it no longer lists.
    pub fn on_lost(&mut self, count: Option<u64>, now: SystemTime, out: &mut Vec<Event>) {
        self.on_lost_in(count, self.netns, now, out);
    }

    /// [`Differ::on_lost`] for the notifications of namespace `netns`.
    pub fn on_lost_in(
        &mut self,
        count: Option<u64>,
        netns: Option<u64>,
        now: SystemTime,
        out: &mut Vec<Event>,
    ) {
        let mut e = self.event(now, EventKind::Lost, Socket::default());
        e.lost = count;
        e.netns = netns;
        out.push(e);
        self.resync = true;
    }

    /// Lets time pass: listeners held back for a replacement that did not
    /// come are reported gone; old closed cookies are forgotten.
    pub fn tick(&mut self, now: SystemTime, out: &mut Vec<Event>) {
        let window = self.replace_window;
        let (due, keep): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| since(now, p.event.time) >= window);
        self.pending = keep;
        out.extend(due.into_iter().map(|p| p.event));
        if self.closed.len() > 1024 {
            self.closed.retain(|_, t| since(now, *t) < CLOSED_MEMORY);
        }
    }

    /// Every event still held back, as it is (at the end of a stream).
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        out.extend(
            std::mem::take(&mut self.pending)
                .into_iter()
                .map(|p| p.event),
        );
    }
}

/// Takes from `f` (the same socket as the OS freed it) its final state,
/// queues and details, keeping what only a dump knew (inode, uid, owners).
fn take_final(s: &mut Socket, f: Socket) {
    s.state = f.state;
    s.recv_q = f.recv_q;
    s.send_q = f.send_q;
    if f.extra.is_some() {
        s.extra = f.extra;
    }
}

/// The counters of a TCP close from its final tcp_info.
fn counters(e: &mut Event) {
    let Some(info) = e.socket.extra.as_ref().and_then(|x| x.tcp_info.as_ref()) else {
        return;
    };
    // bytes_sent arrived in 4.19; before it, bytes acknowledged is the
    // nearest (it counts the FIN too).
    e.bytes_sent = Some(if info.len >= 208 {
        info.bytes_sent
    } else {
        info.bytes_acked
    });
    e.bytes_received = Some(info.bytes_received);
    e.rtt_us = Some(info.rtt_us);
    e.retransmits = Some(info.total_retrans);
}
