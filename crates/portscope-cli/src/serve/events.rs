//! What happened to sockets, as the server consumes it: the events of the
//! library's engine (`portscope::events`), from the server's own refreshes
//! and the OS's socket-destroy notifications.
//!
//! [`Feed`] drives the engine's [`Differ`] (the cookie → owner cache that
//! turns dumps and destroyed sockets into events) with the snapshot each
//! refresh takes anyway, and with a destroy subscription read between
//! refreshes: every closed TCP connection comes with its final byte
//! counters, also one that opened and closed between two refreshes. (The
//! engine's own [`Engine`](portscope::events::Engine) takes dumps of its
//! own; beside the refreshes that would be a second dump of every socket.)
//! The consumers (the counters in `metrics`, the `events` stream in `api`)
//! see only [`Change`] values.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use portscope::collect::{NetnsScope, Received, Subscription, System};
use portscope::events::{Differ, Event, EventKind};
use portscope::model::{Proto, Snapshot, Socket, TcpState};

/// Most notifications read in a row after a loss, before the next refresh
/// resynchronizes: a burst may go on.
const MAX_DRAIN: usize = 64;

/// How many refreshes a socket that came without an owner is looked at
/// for one (the owner walk may find it later: the refresher reads every fd
/// table every 30 refreshes), and how many such sockets at most.
const OWNER_WATCH: u8 = 40;
const MAX_UNOWNED: usize = 4096;

/// One change to one socket.
#[derive(Clone, Debug)]
pub struct Change {
    /// The engine's event (`replaced` comes as a `unlisten` and a `listen`).
    pub event: Event,
    /// For a socket gone: the state the refreshes last saw it in (the
    /// event's socket is as the OS freed it, in its last state).
    pub seen: Option<TcpState>,
}

impl Change {
    /// `new`, `gone`, `changed` or `resync`, as the events stream names them.
    pub fn kind(&self) -> &'static str {
        match self.event.kind {
            EventKind::Listen | EventKind::Open => "new",
            EventKind::Unlisten | EventKind::Close | EventKind::Replaced => "gone",
            EventKind::State => "changed",
            EventKind::Lost => "resync",
        }
    }

    /// Whether this is a TCP connection closing (what the closed counters
    /// count): not a listener, and not a socket that never had a peer.
    pub fn is_connection_closed(&self) -> bool {
        let s = &self.event.socket;
        self.event.kind == EventKind::Close && s.proto == Proto::Tcp && s.remote.port() != Some(0)
    }

    /// The socket as the last refresh saw it (its state then), for
    /// matching the filter a reader chose the rows of its view with.
    pub fn as_seen(&self) -> Option<Socket> {
        let seen = self.seen.filter(|s| *s != self.event.socket.state)?;
        Some(Socket {
            state: seen,
            ..self.event.socket.clone()
        })
    }
}

/// The events of the server's refreshes and of the destroy subscription.
pub struct Feed {
    differ: Differ,
    sub: Option<Box<dyn Subscription>>,
    /// The namespaces the refreshes dump, so the subscription hears them all.
    scope: NetnsScope,
    cover_failed: bool,
    buf: Vec<Socket>,
    events: Vec<Event>,
    /// The state each socket the engine knows was last seen in, kept from
    /// the events (a refresh with no news touches none).
    states: HashMap<u64, TcpState>,
    /// Sockets announced without an owner, and for how many more
    /// refreshes to look for one (then a `changed` says who holds it).
    unowned: HashMap<u64, u8>,
    /// Notifications the OS dropped, as far as it said.
    pub lost: u64,
}

impl Feed {
    /// A feed subscribed to `sys`'s destroy notifications, before the
    /// first refresh so that no close in between is missed; without them
    /// (a recording, a refused subscription) closes come from the
    /// refreshes alone, without their counters, and the reason is returned.
    /// `scope` is the refreshes': each namespace they find is heard from.
    pub fn new(sys: &dyn System, scope: NetnsScope) -> (Feed, Option<String>) {
        let (sub, why) = match sys.subscribe(None).and_then(|mut s| {
            // Namespaces known without a dump (bind-mounted ones) at once,
            // the others from the first refresh that finds them.
            s.cover(scope, &[])?;
            Ok(s)
        }) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut differ = Differ::default();
        differ.netns = sub.as_ref().and_then(|s| s.netns());
        let feed = Feed {
            differ,
            sub,
            scope,
            cover_failed: false,
            buf: Vec::new(),
            events: Vec::new(),
            states: HashMap::new(),
            unowned: HashMap::new(),
            lost: 0,
        };
        (feed, why)
    }

    /// Whether destroy notifications come.
    pub fn subscribed(&self) -> bool {
        self.sub.is_some()
    }

    /// The changes a refresh's snapshot brought (none from the first: what
    /// was there at start is no news).
    pub fn on_snapshot(&mut self, snap: &Snapshot, out: &mut Vec<Change>) {
        let first = !self.differ.started();
        if let Some(sub) = self.sub.as_mut() {
            match sub.cover(self.scope, &portscope::events::namespaces(snap)) {
                Ok(()) => self.cover_failed = false,
                // The namespaces already heard still are; a new one's closes
                // come from the refreshes alone (without their counters)
                // until a later refresh's cover works. Said once.
                Err(e) if !self.cover_failed => {
                    self.cover_failed = true;
                    crate::say(format_args!(
                        "serve: no destroy notifications from a new namespace: {e}"
                    ));
                }
                Err(_) => {}
            }
        }
        self.differ
            .on_dump(snap, SystemTime::now(), &mut self.events);
        if first {
            // The baseline gives no events: the states start from it.
            self.states.extend(
                snap.sockets
                    .iter()
                    .filter(|s| s.cookie != 0)
                    .map(|s| (s.cookie, s.state)),
            );
        }
        self.owners_found(snap, out);
        self.take(out);
    }

    /// A `changed` for each socket announced without an owner that has one
    /// in `snap` (the engine learns it without an event).
    fn owners_found(&mut self, snap: &Snapshot, out: &mut Vec<Change>) {
        if self.unowned.is_empty() {
            return;
        }
        let now = SystemTime::now();
        for s in &snap.sockets {
            if s.owners.is_empty() || self.unowned.remove(&s.cookie).is_none() {
                continue;
            }
            let mut e = Event::new(now, EventKind::State, s.clone());
            e.netns = self.differ.netns;
            for o in &s.owners {
                if let Some(p) = snap.processes.get(&o.pid)
                    && !e.processes.iter().any(|q| q.pid == o.pid)
                {
                    e.processes.push(p.clone());
                }
            }
            out.push(Change {
                event: e,
                seen: None,
            });
        }
        self.unowned.retain(|_, left| {
            *left = left.saturating_sub(1);
            *left > 0
        });
    }

    /// Waits up to `timeout` for sockets the OS freed and appends what
    /// they (and time passing: a listener not replaced) brought. An error
    /// ends the subscription (it is returned once; the refreshes go on).
    pub fn wait(&mut self, timeout: Duration, out: &mut Vec<Change>) -> Result<(), String> {
        let Some(sub) = self.sub.as_mut() else {
            std::thread::sleep(timeout);
            return Ok(());
        };
        self.buf.clear();
        let got = match sub.wait(timeout, &mut self.buf) {
            Ok(g) => g,
            Err(e) => {
                self.sub = None;
                return Err(e.to_string());
            }
        };
        self.destroyed();
        if let Received::Lost(n) = got {
            self.lost_some(n);
            // What is still queued keeps its counters; the next refresh
            // closes at once whatever it no longer lists.
            for _ in 0..MAX_DRAIN {
                self.buf.clear();
                let Some(sub) = self.sub.as_mut() else { break };
                match sub.wait(Duration::ZERO, &mut self.buf) {
                    Ok(Received::Timeout) => break,
                    Ok(Received::Sockets(_)) => self.destroyed(),
                    Ok(Received::Lost(n)) => {
                        self.destroyed();
                        self.lost_some(n);
                    }
                    Err(e) => {
                        self.sub = None;
                        self.take(out);
                        return Err(e.to_string());
                    }
                }
            }
        }
        self.differ.tick(SystemTime::now(), &mut self.events);
        self.take(out);
        Ok(())
    }

    fn lost_some(&mut self, n: Option<u64>) {
        self.lost += n.unwrap_or(1);
        self.differ.on_lost(n, SystemTime::now(), &mut self.events);
    }

    fn destroyed(&mut self) {
        let now = SystemTime::now();
        for s in self.buf.drain(..) {
            self.differ.on_destroyed(s, now, &mut self.events);
        }
    }

    /// Moves the engine's events to `out`, keeping the states current.
    fn take(&mut self, out: &mut Vec<Change>) {
        for e in self.events.drain(..) {
            let cookie = e.socket.cookie;
            match e.kind {
                EventKind::Listen | EventKind::Open | EventKind::State => {
                    self.states.insert(cookie, e.socket.state);
                    if e.kind != EventKind::State
                        && e.socket.owners.is_empty()
                        && e.socket.inode != 0
                        && self.unowned.len() < MAX_UNOWNED
                    {
                        self.unowned.insert(cookie, OWNER_WATCH);
                    }
                    out.push(Change {
                        event: e,
                        seen: None,
                    });
                }
                EventKind::Close
                    if e.lived_under_ms.is_some()
                        && (e.socket.proto != Proto::Tcp || e.socket.remote.port() == Some(0)) =>
                {
                    // Never in a refresh and no TCP connection: a UDP
                    // socket of a name lookup, a socket never connected.
                    // Noise for the page, nothing for the counters.
                }
                EventKind::Close | EventKind::Unlisten => {
                    let seen = self.states.remove(&cookie);
                    self.unowned.remove(&cookie);
                    out.push(Change { event: e, seen });
                }
                EventKind::Replaced => {
                    let mut e = e;
                    if let Some(prev) = e.previous.take() {
                        let (socket, processes) = *prev;
                        let seen = self.states.remove(&socket.cookie);
                        let mut gone = Event::new(e.time, EventKind::Unlisten, socket);
                        gone.processes = processes;
                        gone.netns = e.netns;
                        out.push(Change { event: gone, seen });
                    }
                    self.states.insert(cookie, e.socket.state);
                    e.kind = EventKind::Listen;
                    out.push(Change {
                        event: e,
                        seen: None,
                    });
                }
                EventKind::Lost => out.push(Change {
                    event: e,
                    seen: None,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portscope::collect::Recorded;
    use portscope::model::Endpoint;

    fn sock(port: u16, cookie: u64, state: TcpState) -> Socket {
        Socket {
            local: Endpoint::v4([127, 0, 0, 1].into(), port),
            remote: Endpoint::v4([127, 0, 0, 1].into(), 9),
            cookie,
            inode: cookie,
            state,
            ..Socket::default()
        }
    }

    fn snap(sockets: Vec<Socket>) -> Snapshot {
        Snapshot {
            sockets,
            ..Snapshot::default()
        }
    }

    #[test]
    fn opened_changed_and_gone_from_refreshes() {
        let (mut feed, why) = Feed::new(&Recorded::new(Snapshot::default()), NetnsScope::Own);
        assert!(why.is_some() && !feed.subscribed());
        let mut out = Vec::new();
        feed.on_snapshot(&snap(vec![sock(1, 1, TcpState::Established)]), &mut out);
        assert!(out.is_empty());
        feed.on_snapshot(
            &snap(vec![
                sock(1, 1, TcpState::CloseWait),
                sock(2, 2, TcpState::Established),
            ]),
            &mut out,
        );
        let kinds: Vec<&str> = out.iter().map(Change::kind).collect();
        assert_eq!(kinds, ["changed", "new"]);
        out.clear();
        // Missing from two refreshes with no notification: gone, as last seen.
        feed.on_snapshot(&snap(vec![sock(2, 2, TcpState::Established)]), &mut out);
        feed.on_snapshot(&snap(vec![sock(2, 2, TcpState::Established)]), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind(), "gone");
        assert_eq!(out[0].seen, Some(TcpState::CloseWait));
        assert!(out[0].is_connection_closed());
    }

    #[test]
    fn an_owner_found_later_is_a_change() {
        use portscope::model::{Owner, Process};
        let (mut feed, _) = Feed::new(&Recorded::new(Snapshot::default()), NetnsScope::Own);
        let mut out = Vec::new();
        feed.on_snapshot(&snap(vec![]), &mut out);
        feed.on_snapshot(&snap(vec![sock(1, 1, TcpState::Listen)]), &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].event.socket.owners.is_empty());
        out.clear();
        let mut owned = snap(vec![Socket {
            owners: vec![Owner { pid: 7, fd: 3 }],
            ..sock(1, 1, TcpState::Listen)
        }]);
        owned.processes.insert(
            7,
            Process {
                pid: 7,
                ..Process::default()
            },
        );
        feed.on_snapshot(&owned, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].kind(), "changed");
        assert_eq!(out[0].event.processes[0].pid, 7);
        out.clear();
        feed.on_snapshot(&owned, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }
}
