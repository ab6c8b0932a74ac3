//! Network namespaces only an open fd holds: no process runs in one and no
//! bind mount names it, but a process keeps a `/proc/X/ns/net` or nsfs file
//! open (an `unshare --net` parent, a runtime holding a sandbox, a bind
//! mount removed while an fd still holds it). The owner walk finds their
//! `net:[INODE]` links; each is entered through `/proc/<holder>/fd/<n>`.
//!
//! Not here: discovery of the others (`netns.rs`), the dump (`system.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::collect::snapshot::{NetnsScope, Options};
use crate::collect::system::Dump;
use crate::error::Result;
use crate::model::{Netns, Owner, Source};

use super::netlink::Netlink;
use super::netns::{self, Found};
use super::system::dump_one;

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
    let mut out = Dump {
        source: Source::Netlink,
        ..Dump::default()
    };
    let mut refused = 0usize;
    for (ino, holder) in held {
        // Held by several fds: the first that opens it will do.
        if found.contains(ino) || out.namespaces.contains(ino) || !wanted(*ino) {
            continue;
        }
        let path = PathBuf::from(format!("/proc/{}/fd/{}", holder.pid, holder.fd));
        let nl = match netns::run_in(&path, Netlink::open) {
            Ok(Ok(nl)) => nl,
            // Closed since the walk; another holder may still have it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Ok(Err(_)) | Err(_) => {
                refused += 1;
                out.namespaces.push(*ino);
                continue;
            }
        };
        // The fd may now name another file: enter only the one we mean.
        if std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok()
            != Some(*ino)
        {
            continue;
        }
        out.namespaces.push(*ino);
        let f = Found {
            netns: Arc::new(Netns {
                inode: *ino,
                name: None,
                host: false,
                container: None,
            }),
            path,
            pids: Vec::new(),
            own: false,
        };
        if !dump_one(&f, &nl, opts, &mut out.sockets) {
            refused += 1;
        }
    }
    if refused > 0 {
        out.notes.push(format!(
            "{refused} network namespace(s) held only by an open file could not be dumped (entering one needs CAP_SYS_ADMIN)"
        ));
    }
    Ok(out)
}
