//! Taking a snapshot: the socket dump and the owner walk, run concurrently and
//! joined by inode.

use std::collections::HashMap;

use crate::collect::owner_map::OwnerMap;
use crate::collect::system::{Dump, System, Walk};
use crate::error::{Error, Result};
use crate::model::{Detail, Owner, Query, Snapshot, Socket, Source, StateSet};

/// Which socket source to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SourceChoice {
    /// The OS's best source, falling back (with a note) to a plainer one
    /// when it is refused (on Linux: netlink, then the procfs files).
    #[default]
    Auto,
    /// The kernel's socket-diagnostics interface only (Linux: netlink); an
    /// error if it is unavailable.
    Netlink,
    /// The text files the kernel exports (Linux: procfs) only.
    Procfs,
}

/// Which network namespaces to dump.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetnsScope {
    /// Every namespace when the caller may enter them (root) and runs in
    /// the host's; otherwise the caller's own, with a note when others
    /// exist that it cannot enter.
    #[default]
    Default,
    /// Every namespace that can be found.
    All,
    /// The caller's own only.
    Own,
    /// The host's only (that of process 1).
    Host,
    /// The one with this inode.
    Only(u64),
}

/// What to gather.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Which sockets.
    pub query: Query,
    /// Whether to find the processes that hold them.
    pub owners: bool,
    /// Which source.
    pub source: SourceChoice,
    /// Which optional details to ask for ([`Socket::extra`]); none by default.
    pub detail: Detail,
    /// Which network namespaces.
    pub netns: NetnsScope,
}

/// Takes a snapshot of the sockets the query wants, with their owners if asked.
///
/// The socket dump and the owner walk run on two threads. Sockets the query
/// does not want are dropped here, so callers see exactly what they asked for.
pub fn take<S: System + ?Sized>(sys: &S, opts: &Options) -> Result<Snapshot> {
    let (dump, owner_map) = std::thread::scope(|scope| {
        let walker = opts.owners.then(|| scope.spawn(|| sys.owners(Walk::Full)));
        let dump = sys.dump(opts, None, 0);
        let owner_map = walker.map(|h| h.join().unwrap_or_else(|_| Err(walk_stopped())));
        (dump, owner_map)
    });
    let mut dump = dump?;
    let owner_map = owner_map.transpose()?;
    if let Some(map) = &owner_map {
        add_held(sys, opts, &mut dump, map)?;
    }
    let Dump {
        mut sockets,
        source,
        notes,
        ..
    } = dump;
    retain_wanted(&mut sockets, &opts.query);

    let mut snap = Snapshot {
        source,
        notes,
        ..Snapshot::default()
    };
    if let Some(map) = owner_map {
        join_owners(sys, &mut sockets, &map, &mut snap)?;
    }
    snap.sockets = sockets;
    Ok(snap)
}

/// Adds the sockets of namespaces only an open fd holds, which the owner
/// walk found and the dump could not (it ran before the walk ended).
fn add_held<S: System + ?Sized>(
    sys: &S,
    opts: &Options,
    dump: &mut Dump,
    map: &OwnerMap,
) -> Result<()> {
    if map
        .netns_fds
        .iter()
        .all(|(ino, _)| dump.namespaces.contains(ino))
    {
        return Ok(());
    }
    let mut more = sys.dump_held(opts, &map.netns_fds, &dump.namespaces)?;
    dump.sockets.append(&mut more.sockets);
    dump.notes.append(&mut more.notes);
    dump.namespaces.append(&mut more.namespaces);
    Ok(())
}

/// Drops the sockets `query` does not want; with a query that wants every
/// socket, without a pass over them.
fn retain_wanted(sockets: &mut Vec<Socket>, query: &Query) {
    let q = query;
    let all = q.tcp && q.udp && q.raw && q.unix && q.ipv4 && q.ipv6 && q.states == StateSet::ALL;
    if !all {
        sockets.retain(|s| q.wants(s));
    }
}

/// The owner walk's thread ended without an answer.
fn walk_stopped() -> Error {
    Error::ProcWalk {
        path: "owner walk".into(),
        source: std::io::Error::other("the walk stopped unexpectedly"),
    }
}

/// Takes snapshot after snapshot for a live view, paying for the owner walk
/// (one readlink per open fd on the machine, the largest part of a
/// snapshot) only when it can tell something: when the dump holds a socket
/// the last walk did not see, and every `rewalk_every` snapshots in any case
/// (so fds passed between processes and owners that exited are caught up
/// with). In between, owners come from the last walk, joined by inode.
pub struct Refresher<'s, S: System + ?Sized> {
    sys: &'s S,
    opts: Options,
    cache: Option<OwnerCache>,
    since_walk: u32,
    walks_since_full: u32,
    walked: bool,
    /// Sockets in the last dump, to size the next one's vector.
    last_len: usize,
    /// Walk again after this many snapshots even if no socket is new.
    pub rewalk_every: u32,
    /// Of those walks, every this many reads every fd table; the others read
    /// only the tables whose fd count changed ([`Walk::Since`]).
    pub full_walk_every: u32,
}

impl<S: System + ?Sized> std::fmt::Debug for Refresher<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("opts", &self.opts)
            .field("since_walk", &self.since_walk)
            .field("rewalk_every", &self.rewalk_every)
            .field("full_walk_every", &self.full_walk_every)
            .finish_non_exhaustive()
    }
}

/// Inode -> place, keyed by the kernel's inode numbers.
type InodeIndex = HashMap<u64, u32, foldhash::fast::RandomState>;

#[derive(Debug)]
struct OwnerCache {
    map: OwnerMap,
    /// The dump the walk was joined to, in dump order: each socket's inode
    /// and where its holders are in `map`.
    order: Vec<(u64, (u32, u32))>,
    /// Inode -> its place in `order`, for every socket of that dump; built
    /// anew at every walk (100k inserts), so with foldhash, not SipHash.
    seen: InodeIndex,
    processes: HashMap<u32, crate::model::Process>,
}

/// Finds sockets' holders in the dump order of the walk's join: the kernel
/// dumps its sockets in the same (hash table) order every time, so the
/// next socket is mostly the one after the last found, and its span in the
/// map is known without a search. Where the dumps differ (a socket gone),
/// the place of the socket found resynchronizes the cursor.
struct DumpOrder<'c> {
    order: &'c [(u64, (u32, u32))],
    seen: &'c InodeIndex,
    cursor: usize,
}

impl<'c> DumpOrder<'c> {
    fn new(order: &'c [(u64, (u32, u32))], seen: &'c InodeIndex) -> DumpOrder<'c> {
        DumpOrder {
            order,
            seen,
            cursor: 0,
        }
    }

    /// The span of `inode` in the walk's map, if that dump had it.
    fn find(&mut self, inode: u64) -> Option<(u32, u32)> {
        let at = match self.order.get(self.cursor) {
            Some(&(i, _)) if i == inode => self.cursor,
            _ => *self.seen.get(&inode)? as usize,
        };
        self.cursor = at + 1;
        self.order.get(at).map(|&(_, span)| span)
    }
}

/// How a join finds holders: by searching the map, or in the last join's
/// dump order over the same map.
enum Spans<'c> {
    Search(&'c OwnerMap),
    Known(&'c OwnerMap, DumpOrder<'c>),
}

impl Spans<'_> {
    fn of(&mut self, inode: u64) -> (&[Owner], (u32, u32)) {
        match self {
            Spans::Search(map) => {
                let span = map.span_of(inode);
                (map.owners_in(span), span)
            }
            Spans::Known(map, order) => {
                let span = order.find(inode).unwrap_or_else(|| map.span_of(inode));
                (map.owners_in(span), span)
            }
        }
    }

    fn map(&self) -> &OwnerMap {
        match self {
            Spans::Search(map) | Spans::Known(map, _) => map,
        }
    }
}

impl<'s, S: System + ?Sized> Refresher<'s, S> {
    /// A refresher taking snapshots of `sys` as `opts` says, walking at
    /// least every 5 snapshots.
    pub fn new(sys: &'s S, opts: Options) -> Refresher<'s, S> {
        Refresher {
            sys,
            opts,
            cache: None,
            since_walk: 0,
            walks_since_full: 0,
            walked: false,
            last_len: 0,
            rewalk_every: 5,
            full_walk_every: 6,
        }
    }

    /// Asks for `detail` from the next snapshot on (a live view asks for
    /// tcp_info of every socket only when its order or grouping needs it).
    pub fn set_detail(&mut self, detail: Detail) {
        self.opts.detail = detail;
    }

    /// Whether the latest [`Refresher::take`] walked the fd tables.
    pub fn walked(&self) -> bool {
        self.walked
    }

    /// The next snapshot; the same as [`take`] would give, except that
    /// owners may be as of the last walk for sockets that are not new.
    pub fn take(&mut self) -> Result<Snapshot> {
        self.walked = false;
        let stale = self.since_walk + 1 >= self.rewalk_every.max(1);
        if !self.opts.owners || self.cache.is_none() || stale {
            return self.take_walking();
        }
        let hint = self.cache.as_ref().map(|c| &c.map);
        let room = self.last_len + self.last_len / 8;
        let mut dump = self.sys.dump(&self.opts, hint, room)?;
        if let Some(cache) = self.cache.as_ref() {
            add_held(self.sys, &self.opts, &mut dump, &cache.map)?;
        }
        let Dump {
            mut sockets,
            source,
            notes,
            ..
        } = dump;
        self.last_len = sockets.len();
        retain_wanted(&mut sockets, &self.opts.query);
        let Some(cache) = self.cache.as_mut() else {
            return self.take_walking();
        };
        let mut known = DumpOrder::new(&cache.order, &cache.seen);
        if sockets
            .iter()
            .any(|s| s.inode != 0 && known.find(s.inode).is_none())
        {
            // Something new: find its owner now, on this thread, after the
            // dump. Its holder's fd count changed, so reading only the
            // changed tables finds it.
            let map = self.sys.owners(Walk::Since(&cache.map))?;
            return self.finish(sockets, source, notes, map, true);
        }
        self.since_walk += 1;
        let mut snap = Snapshot {
            source,
            notes,
            ..Snapshot::default()
        };
        join_owners_with(
            self.sys,
            &mut sockets,
            Spans::Known(&cache.map, DumpOrder::new(&cache.order, &cache.seen)),
            &mut snap,
            &mut cache.processes,
            None,
        )?;
        snap.sockets = sockets;
        Ok(snap)
    }

    fn take_walking(&mut self) -> Result<Snapshot> {
        if !self.opts.owners {
            return take(self.sys, &self.opts);
        }
        let full = self.walks_since_full + 1 >= self.full_walk_every.max(1);
        let prev = if full {
            self.walks_since_full = 0;
            None
        } else {
            self.walks_since_full += 1;
            self.cache.as_ref().map(|c| &c.map)
        };
        let sys = self.sys;
        let (dump, map) = std::thread::scope(|scope| {
            let walker = scope.spawn(move || match prev {
                Some(prev) => sys.owners(Walk::Since(prev)),
                None => sys.owners(Walk::Counting),
            });
            let room = self.last_len + self.last_len / 8;
            let dump = sys.dump(&self.opts, self.cache.as_ref().map(|c| &c.map), room);
            (dump, walker.join().unwrap_or_else(|_| Err(walk_stopped())))
        });
        let mut dump = dump?;
        let map = map?;
        add_held(sys, &self.opts, &mut dump, &map)?;
        let Dump {
            mut sockets,
            source,
            notes,
            ..
        } = dump;
        self.last_len = sockets.len();
        retain_wanted(&mut sockets, &self.opts.query);
        self.finish(sockets, source, notes, map, false)
    }

    fn finish(
        &mut self,
        mut sockets: Vec<Socket>,
        source: Source,
        notes: Vec<String>,
        map: OwnerMap,
        keep_processes: bool,
    ) -> Result<Snapshot> {
        let mut snap = Snapshot {
            source,
            notes,
            ..Snapshot::default()
        };
        // Process details are read once per process and kept while the
        // process is seen; a rewalk on schedule reads them afresh.
        let mut processes = match (keep_processes, self.cache.take()) {
            (true, Some(c)) => c.processes,
            _ => HashMap::new(),
        };
        let mut order = Vec::with_capacity(sockets.len());
        join_owners_with(
            self.sys,
            &mut sockets,
            Spans::Search(&map),
            &mut snap,
            &mut processes,
            Some(&mut order),
        )?;
        let seen = (0u32..).zip(&order).map(|(k, &(i, _))| (i, k)).collect();
        self.cache = Some(OwnerCache {
            map,
            order,
            seen,
            processes,
        });
        self.since_walk = 0;
        self.walked = true;
        snap.sockets = sockets;
        Ok(snap)
    }
}

fn join_owners<S: System + ?Sized>(
    sys: &S,
    sockets: &mut [Socket],
    map: &OwnerMap,
    snap: &mut Snapshot,
) -> Result<()> {
    join_owners_with(
        sys,
        sockets,
        Spans::Search(map),
        snap,
        &mut HashMap::new(),
        None,
    )
}

/// Joins owners to sockets by inode and fills `snap.processes`, reading the
/// details of processes not already in `known` (which keeps them); records
/// each socket's inode and span in `order` if given.
fn join_owners_with<S: System + ?Sized>(
    sys: &S,
    sockets: &mut [Socket],
    mut spans: Spans<'_>,
    snap: &mut Snapshot,
    known: &mut HashMap<u32, crate::model::Process>,
    mut order: Option<&mut Vec<(u64, (u32, u32))>>,
) -> Result<()> {
    let denied = spans.map().denied.len();
    let hidden = denied > 0;
    // A process can always read its own user's fd tables, so only sockets of
    // other users can have owners we failed to see.
    let me = sys.euid();
    snap.hidden.processes = u32::try_from(denied).unwrap_or(u32::MAX);
    let mut processes: HashMap<u32, crate::model::Process> = HashMap::new();
    // Probed for most sockets (the dump's order mixes processes), so with
    // foldhash rather than SipHash.
    let mut used: std::collections::HashSet<u32, foldhash::fast::RandomState> =
        std::collections::HashSet::default();
    let mut last_pid = None;
    for s in sockets.iter_mut() {
        if s.inode != 0 {
            let (owners, span) = spans.of(s.inode);
            s.owners = owners.to_vec();
            if let Some(order) = order.as_mut() {
                order.push((s.inode, span));
            }
        }
        if s.owners.is_empty() && s.inode != 0 && hidden && s.uid != Some(me) {
            s.owners_hidden = true;
        }
        // A recorded socket may say so itself.
        if s.owners_hidden {
            snap.hidden.sockets += 1;
        }
        if let Some(uid) = s.uid
            && s.owners.is_empty()
            && !snap.user_names.contains_key(&uid)
        {
            snap.user_names.insert(uid, sys.user_name(uid));
        }
        for o in &s.owners {
            // Sockets of one process mostly come together: skip the set
            // for the pid just seen.
            if last_pid == Some(o.pid) {
                continue;
            }
            last_pid = Some(o.pid);
            if used.insert(o.pid) {
                let p = match known.get(&o.pid) {
                    Some(p) => Some(p.clone()),
                    None => sys.process(o.pid)?,
                };
                if let Some(p) = p {
                    processes.insert(o.pid, p);
                }
            }
        }
    }
    // Keep what is still in use for the next join.
    known.retain(|pid, _| used.contains(pid));
    for (pid, p) in &processes {
        known.entry(*pid).or_insert_with(|| p.clone());
    }
    snap.processes = processes;
    sys.sock_filters(sockets);
    // Sockets no visible process holds still say where they were made.
    let mut ids: Vec<u64> = sockets
        .iter()
        .filter(|s| s.owners.is_empty() && s.cgroup_id != 0)
        .map(|s| s.cgroup_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    snap.cgroups = sys.cgroups(&ids);
    Ok(())
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
