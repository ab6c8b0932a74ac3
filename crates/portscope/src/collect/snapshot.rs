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
        let owner_map = walker.map(|h| h.join().unwrap_or_default());
        (dump, owner_map)
    });
    let (mut sockets, source, notes) = dump?;
    sockets.retain(|s| opts.query.wants(s));

    let mut snap = Snapshot {
        source,
        notes,
        ..Snapshot::default()
    };
    if let Some(map) = owner_map {
        join_owners(&mut sockets, &map, &mut snap);
    }
    snap.sockets = sockets;
    Ok(snap)
}

type Dump = (Vec<Socket>, Source, Vec<String>);

fn dump_sockets(opts: &Options) -> Result<Dump> {
    let mut out = Vec::new();
    match opts.source {
        SourceChoice::Procfs => {
            procnet(opts).collect(&opts.query, &mut out)?;
            Ok((out, Source::Procfs, Vec::new()))
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
                    procnet(opts).collect(&opts.query, &mut out)?;
                    let note = format!("{e}; read /proc/net instead");
                    Ok((out, Source::Procfs, vec![note]))
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

fn join_owners(sockets: &mut [Socket], map: &owners::OwnerMap, snap: &mut Snapshot) {
    let hidden = !map.denied.is_empty();
    // A process can always read its own user's fd tables, so only sockets of
    // other users can have owners we failed to see.
    let me = rustix::process::geteuid().as_raw();
    snap.hidden.processes = u32::try_from(map.denied.len()).unwrap_or(u32::MAX);
    let mut processes: HashMap<u32, crate::model::Process> = HashMap::new();
    let mut users = owners::UserNames::default();
    let proc_root = std::path::Path::new("/proc");
    for s in sockets.iter_mut() {
        if s.inode != 0 {
            s.owners = map.owners_of(s.inode).to_vec();
        }
        if s.owners.is_empty() && s.inode != 0 && hidden && s.uid != me {
            s.owners_hidden = true;
            snap.hidden.sockets += 1;
        }
        for o in &s.owners {
            if !processes.contains_key(&o.pid)
                && let Some(p) = owners::process_in(proc_root, o.pid, &mut users)
            {
                processes.insert(o.pid, p);
            }
        }
    }
    snap.processes = processes;
}
