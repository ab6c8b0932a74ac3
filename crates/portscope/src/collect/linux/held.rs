//! Network namespaces only an open fd holds: no process runs in one and no
//! bind mount names it, but a process keeps a `/proc/X/ns/net` or nsfs file
//! open (an `unshare --net` parent, a runtime holding a sandbox, a bind
//! mount removed while an fd still holds it). The owner walk finds their
//! `net:[INODE]` links; each is entered through `/proc/<holder>/fd/<n>`
//! and dumped as the other namespaces are (`spaces.rs`).
//!
//! Not here: discovery of the others (`netns.rs`), the dump (`spaces.rs`).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::collect::snapshot::{NetnsScope, Options};
use crate::collect::system::Dump;
use crate::error::Result;
use crate::model::{Netns, Owner, Source};

use super::netns::{self, Found};
use super::spaces;

/// The dump of each namespace in `held` that `opts.netns` wants and
/// `found` (the namespaces the dump already knew) lacks. Entering one
/// needs root, as any other namespace does; without it they are left out
/// with a note.
pub fn dump(opts: &Options, held: &[(u64, Owner)], found: &[u64]) -> Result<Dump> {
    let root = rustix::process::geteuid().is_root();
    let in_host = netns::own_inode().is_some() && netns::own_inode() == netns::host_inode();
    let wanted = |ino: u64| match opts.netns {
        NetnsScope::All => true,
        NetnsScope::Default => root && in_host,
        NetnsScope::Only(want) => want == ino,
        NetnsScope::Host | NetnsScope::Own => false,
    };
    let mut jobs: Vec<Found> = Vec::new();
    for (ino, holder) in held {
        // Held by several fds: the first will do.
        if found.contains(ino) || jobs.iter().any(|f| f.netns.inode == *ino) || !wanted(*ino) {
            continue;
        }
        let path = PathBuf::from(format!("/proc/{}/fd/{}", holder.pid, holder.fd));
        // The fd may now name another file: enter only the one we mean.
        if std::fs::metadata(&path).map(|m| m.ino()).ok() != Some(*ino) {
            continue;
        }
        jobs.push(Found {
            netns: Arc::new(Netns {
                inode: *ino,
                name: None,
                host: false,
                container: None,
            }),
            path,
            pids: Vec::new(),
            own: false,
        });
    }
    let mut out = Dump {
        source: Source::Netlink,
        namespaces: jobs.iter().map(|f| f.netns.inode).collect(),
        ..Dump::default()
    };
    if jobs.is_empty() {
        return Ok(out);
    }
    let present: HashSet<u64> = out.namespaces.iter().copied().collect();
    // Entered afresh each time: no socket is kept for these.
    let listed = spaces::dump(&jobs, &present, opts, &spaces::Kept::default());
    out.sockets = listed.sockets;
    if listed.refused > 0 {
        out.notes.push(format!(
            "{} network namespace(s) held only by an open file could not be dumped (entering one needs CAP_SYS_ADMIN)",
            listed.refused
        ));
    }
    Ok(out)
}
