//! Taking a snapshot: the socket dump and the owner walk, run concurrently and
//! joined by inode.

use std::collections::HashMap;

use crate::collect::Collector;
use crate::collect::linux::{netlink::Netlink, owners, procnet::ProcNet};
use crate::error::{Error, Result};
use crate::model::{Detail, Query, Snapshot, Socket, Source};

/// Which socket source to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SourceChoice {
    /// Netlink, falling back to /proc/net (with a note) when netlink is refused.
    #[default]
    Auto,
    /// Netlink only; an error if it is unavailable.
    Netlink,
    /// /proc/net only.
    Procfs,
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
}

/// Takes a snapshot of the sockets the query wants, with their owners if asked.
///
/// The socket dump and the owner walk run on two threads. Sockets the query
/// does not want are dropped here, so callers see exactly what they asked for.
pub fn take(opts: &Options) -> Result<Snapshot> {
    let (dump, owner_map) = std::thread::scope(|scope| {
        let walker = opts.owners.then(|| scope.spawn(owners::walk));
        let dump = dump_sockets(opts);
        let owner_map = walker.map(|h| h.join().unwrap_or_else(|_| Err(walk_stopped())));
        (dump, owner_map)
    });
    let (mut sockets, source, notes) = dump?;
    let owner_map = owner_map.transpose()?;
    sockets.retain(|s| opts.query.wants(s));

    let mut snap = Snapshot {
        source,
        notes,
        ..Snapshot::default()
    };
    if let Some(map) = owner_map {
        join_owners(&mut sockets, &map, &mut snap)?;
    }
    snap.sockets = sockets;
    Ok(snap)
}

type Dump = (Vec<Socket>, Source, Vec<String>);

/// The owner walk's thread ended without an answer.
fn walk_stopped() -> Error {
    Error::ProcWalk {
        path: "/proc".into(),
        source: std::io::Error::other("the walk stopped unexpectedly"),
    }
}

fn dump_sockets(opts: &Options) -> Result<Dump> {
    dump_sockets_with(opts, netlink_dump, None)
}

/// [`dump_sockets`] for a live view: the last walk's owners go to the
/// /proc reader as a first try for its unix check (see
/// [`ProcNet::collect_noting_with`]).
/// Its vector has room for `capacity` sockets (the last count), so 100k
/// sockets are not copied while it grows.
fn dump_sockets_hinted(
    opts: &Options,
    hint: Option<&owners::OwnerMap>,
    capacity: usize,
) -> Result<Dump> {
    dump_into(opts, netlink_dump, hint, Vec::with_capacity(capacity))
}

/// [`dump_sockets`] with the netlink dump passed in, so the fallback can be
/// tested without a kernel that refuses netlink.
fn dump_sockets_with(
    opts: &Options,
    netlink_dump: impl FnOnce(&Query, Detail, &mut Vec<Socket>) -> Result<()>,
    hint: Option<&owners::OwnerMap>,
) -> Result<Dump> {
    dump_into(opts, netlink_dump, hint, Vec::new())
}

fn dump_into(
    opts: &Options,
    netlink_dump: impl FnOnce(&Query, Detail, &mut Vec<Socket>) -> Result<()>,
    hint: Option<&owners::OwnerMap>,
    mut out: Vec<Socket>,
) -> Result<Dump> {
    match opts.source {
        SourceChoice::Procfs => {
            let mut notes = Vec::new();
            procnet(opts).collect_noting_with(&opts.query, &mut out, &mut notes, hint)?;
            Ok((out, Source::Procfs, notes))
        }
        SourceChoice::Netlink => {
            netlink_dump(&opts.query, opts.detail, &mut out)?;
            Ok((out, Source::Netlink, Vec::new()))
        }
        SourceChoice::Auto => {
            let netlink = netlink_dump(&opts.query, opts.detail, &mut out);
            match netlink {
                Ok(()) => Ok((out, Source::Netlink, Vec::new())),
                Err(e @ (Error::NetlinkUnavailable(_) | Error::Netlink(_))) => {
                    out.clear();
                    let mut notes = vec![format!("{e}; read /proc/net instead")];
                    procnet(opts).collect_noting_with(&opts.query, &mut out, &mut notes, hint)?;
                    Ok((out, Source::Procfs, notes))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// The netlink dump, with raw sockets from /proc/net/raw{,6} when the kernel
/// has no raw sock_diag module (CONFIG_INET_RAW_DIAG unset is common).
fn netlink_dump(query: &Query, detail: Detail, out: &mut Vec<Socket>) -> Result<()> {
    let nl = Netlink::open()?;
    nl.collect_with(query, detail, out)?;
    if query.raw && !nl.raw_supported() {
        let raw_only = Query {
            tcp: false,
            udp: false,
            unix: false,
            ..*query
        };
        ProcNet::new().with_detail(detail).collect(&raw_only, out)?;
    }
    Ok(())
}

fn procnet(opts: &Options) -> ProcNet {
    ProcNet::new().with_detail(opts.detail)
}

/// Takes snapshot after snapshot for a live view, paying for the owner walk
/// (one readlink per open fd on the machine, the largest part of a
/// snapshot) only when it can tell something: when the dump holds a socket
/// the last walk did not see, and every `rewalk_every` snapshots in any case
/// (so fds passed between processes and owners that exited are caught up
/// with). In between, owners come from the last walk, joined by inode.
#[derive(Debug)]
pub struct Refresher {
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
    /// only the tables whose fd count changed ([`owners::walk_since`]).
    pub full_walk_every: u32,
}

#[derive(Debug)]
struct OwnerCache {
    map: owners::OwnerMap,
    /// Inodes of every socket of the dump the walk was joined to.
    seen: std::collections::HashSet<u64>,
    processes: HashMap<u32, crate::model::Process>,
}

impl Refresher {
    /// A refresher taking snapshots as `opts` says, walking at least every
    /// 5 snapshots.
    pub fn new(opts: Options) -> Refresher {
        Refresher {
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
        let (mut sockets, source, notes) = dump_sockets_hinted(&self.opts, hint, room)?;
        self.last_len = sockets.len();
        sockets.retain(|s| self.opts.query.wants(s));
        let Some(cache) = self.cache.as_mut() else {
            return self.take_walking();
        };
        if sockets
            .iter()
            .any(|s| s.inode != 0 && !cache.seen.contains(&s.inode))
        {
            // Something new: find its owner now, on this thread, after the
            // dump. Its holder's fd count changed, so reading only the
            // changed tables finds it.
            let map = owners::walk_since(&cache.map)?;
            return self.finish(sockets, source, notes, map, true);
        }
        self.since_walk += 1;
        let mut snap = Snapshot {
            source,
            notes,
            ..Snapshot::default()
        };
        join_owners_with(&mut sockets, &cache.map, &mut snap, &mut cache.processes)?;
        snap.sockets = sockets;
        Ok(snap)
    }

    fn take_walking(&mut self) -> Result<Snapshot> {
        if !self.opts.owners {
            return take(&self.opts);
        }
        let full = self.walks_since_full + 1 >= self.full_walk_every.max(1);
        let prev = if full {
            self.walks_since_full = 0;
            None
        } else {
            self.walks_since_full += 1;
            self.cache.as_ref().map(|c| &c.map)
        };
        let (dump, map) = std::thread::scope(|scope| {
            let walker = scope.spawn(move || match prev {
                Some(prev) => owners::walk_since(prev),
                None => owners::walk_counting(),
            });
            let room = self.last_len + self.last_len / 8;
            let dump = dump_sockets_hinted(&self.opts, self.cache.as_ref().map(|c| &c.map), room);
            (dump, walker.join().unwrap_or_else(|_| Err(walk_stopped())))
        });
        let (mut sockets, source, notes) = dump?;
        self.last_len = sockets.len();
        let map = map?;
        sockets.retain(|s| self.opts.query.wants(s));
        self.finish(sockets, source, notes, map, false)
    }

    fn finish(
        &mut self,
        mut sockets: Vec<Socket>,
        source: Source,
        notes: Vec<String>,
        map: owners::OwnerMap,
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
        join_owners_with(&mut sockets, &map, &mut snap, &mut processes)?;
        let seen = sockets.iter().map(|s| s.inode).collect();
        self.cache = Some(OwnerCache {
            map,
            seen,
            processes,
        });
        self.since_walk = 0;
        self.walked = true;
        snap.sockets = sockets;
        Ok(snap)
    }
}

fn join_owners(sockets: &mut [Socket], map: &owners::OwnerMap, snap: &mut Snapshot) -> Result<()> {
    join_owners_with(sockets, map, snap, &mut HashMap::new())
}

/// Joins owners to sockets by inode and fills `snap.processes`, reading the
/// details of processes not already in `known` (which keeps them).
fn join_owners_with(
    sockets: &mut [Socket],
    map: &owners::OwnerMap,
    snap: &mut Snapshot,
    known: &mut HashMap<u32, crate::model::Process>,
) -> Result<()> {
    let hidden = !map.denied.is_empty();
    // A process can always read its own user's fd tables, so only sockets of
    // other users can have owners we failed to see.
    let me = rustix::process::geteuid().as_raw();
    snap.hidden.processes = u32::try_from(map.denied.len()).unwrap_or(u32::MAX);
    let mut processes: HashMap<u32, crate::model::Process> = HashMap::new();
    let mut users = owners::UserNames::default();
    let mut used = std::collections::HashSet::new();
    let mut last_pid = None;
    let proc_root = std::path::Path::new("/proc");
    for s in sockets.iter_mut() {
        if s.inode != 0 {
            s.owners = map.owners_of(s.inode).to_vec();
        }
        if s.owners.is_empty() && s.inode != 0 && hidden && s.uid != Some(me) {
            s.owners_hidden = true;
            snap.hidden.sockets += 1;
        }
        if let Some(uid) = s.uid
            && s.owners.is_empty()
            && !snap.user_names.contains_key(&uid)
        {
            snap.user_names.insert(uid, users.name(uid));
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
                    None => owners::process_checked(proc_root, o.pid, &mut users)?,
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_netlink_falls_back_to_procfs_with_a_note() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let ino = rustix::fs::fstat(&l).expect("fstat").st_ino;
        let refused = |_: &Query, _: Detail, _: &mut Vec<Socket>| -> Result<()> {
            Err(Error::NetlinkUnavailable(std::io::Error::from(
                std::io::ErrorKind::PermissionDenied,
            )))
        };
        let opts = Options::default();
        let (sockets, source, notes) = dump_sockets_with(&opts, refused, None).expect("fallback");
        assert_eq!(source, Source::Procfs);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("/proc/net"), "{notes:?}");
        assert!(sockets.iter().any(|s| s.inode == ino));

        // Asked for netlink only, the refusal is the caller's error.
        let strict = Options {
            source: SourceChoice::Netlink,
            ..Options::default()
        };
        let refused_again = |_: &Query, _: Detail, _: &mut Vec<Socket>| -> Result<()> {
            Err(Error::NetlinkUnavailable(std::io::Error::from(
                std::io::ErrorKind::PermissionDenied,
            )))
        };
        assert!(matches!(
            dump_sockets_with(&strict, refused_again, None),
            Err(Error::NetlinkUnavailable(_))
        ));
    }

    #[test]
    fn other_errors_are_not_hidden_by_the_fallback() {
        let broken = |_: &Query, _: Detail, _: &mut Vec<Socket>| -> Result<()> {
            Err(Error::NetlinkMalformed("test".into()))
        };
        assert!(matches!(
            dump_sockets_with(&Options::default(), broken, None),
            Err(Error::NetlinkMalformed(_))
        ));
    }
}
