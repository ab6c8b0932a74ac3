//! Every network namespace of the machine, and a way into each.
//!
//! [`discover`] finds them: the `/proc/<pid>/ns/net` of every process
//! (deduplicated by inode) and the namespaces bind-mounted under
//! `/run/netns` (`ip netns`, podman, netavark, CNI) and
//! `/var/run/docker/netns` (docker's sandboxes), which live on with no
//! process in them. A namespace held only by an open fd is found later, by
//! the owner walk (`held.rs`); one held only by a socket is not.
//!
//! [`run_in`] is how code gets into one: it runs a closure on a thread of
//! its own that first `setns(2)`-es into the namespace. Sockets opened
//! there (a NETLINK_SOCK_DIAG socket for the dump, a packet or netlink diag
//! socket, a destroy-events subscription) keep talking to that namespace
//! after the thread ends, so they are used from any thread afterwards. The
//! thread is needed because `setns` moves only the calling thread, and
//! moving a thread of the caller's (a test runner's, the owner walk's)
//! would change what everything else on it sees. The call goes through
//! rustix's safe wrapper, so there is no `unsafe` here.
//!
//! [`run_each`] does the same for many namespaces with a few threads (one
//! per core), each entering namespaces in turn: a thread and a `setns` per
//! namespace cost more than the dump of a small one, and two threads
//! dumping different namespaces at once keep both cores busy in the
//! kernel's walks.
//!
//! Not here: the dump itself (`netlink/`), attribution of processes
//! (`cgroup.rs`).

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use crate::model::Netns;
use crate::text::Text;

use super::cgroup::{self, StateFiles};

/// Where bind-mounted namespaces are kept, and by whom.
const MOUNT_DIRS: [&str; 2] = ["/run/netns", "/var/run/docker/netns"];

/// The filesystem type of namespace files (`NSFS_MAGIC`).
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// One namespace found.
#[derive(Clone, Debug)]
pub struct Found {
    /// What sockets of it carry.
    pub netns: Arc<Netns>,
    /// A path that opens it (a bind mount, else a member's `ns/net`).
    pub path: PathBuf,
    /// Processes in it, in pid order (those whose `ns/net` could be read).
    pub pids: Vec<u32>,
    /// Whether the caller's thread is in it.
    pub own: bool,
}

/// Every namespace found, the caller's first, then by inode.
#[derive(Clone, Debug, Default)]
pub struct Namespaces {
    /// The namespaces.
    pub all: Vec<Found>,
    /// Processes whose namespace could not be read (permission).
    pub denied: u32,
}

impl Namespaces {
    /// The one with this inode.
    pub fn get(&self, inode: u64) -> Option<&Found> {
        self.all.iter().find(|f| f.netns.inode == inode)
    }

    /// The caller's own.
    pub fn own(&self) -> Option<&Found> {
        self.all.iter().find(|f| f.own)
    }
}

/// The inode of the namespace at `path` (a `ns/net` link or a bind mount).
fn inode_of(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The caller's thread's namespace inode.
pub fn own_inode() -> Option<u64> {
    inode_of(Path::new("/proc/thread-self/ns/net"))
}

/// The namespace inode of process `pid`.
pub fn of_pid(pid: u32) -> Option<u64> {
    inode_of(Path::new(&format!("/proc/{pid}/ns/net")))
}

/// The host's namespace inode: that of process 1, or, where process 1's
/// cannot be read (a sandbox's init of another user namespace), that of
/// the lowest-numbered process whose can (kernel threads such as
/// kthreadd, pid 2, are in the host's). `None` when none can be read.
pub fn host_inode() -> Option<u64> {
    if let Some(ino) = of_pid(1) {
        return Some(ino);
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    pids.sort_unstable();
    pids.into_iter().find_map(of_pid)
}

/// Whether `path` is a namespace file (a bind mount of one), not an empty
/// file left behind by an `ip netns` that failed.
fn is_nsfs(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| i128::from(s.f_type) == i128::from(NSFS_MAGIC))
}

/// Finds every namespace (see the module docs). With `processes` false only
/// the caller's and the bind-mounted ones are found (no walk of /proc).
pub fn discover(processes: bool) -> Namespaces {
    discover_after(processes, None)
}

/// [`discover`], reusing what `prev` (an earlier discovery) knew of a
/// namespace found again through the same path with the same first member:
/// its container is not read again from the members' cgroups and the
/// runtime's state files (what a live view would otherwise do every
/// refresh for every container), and its sockets keep the same
/// [`Netns`] value. Which namespaces are found is exactly what
/// [`discover`] finds.
pub fn discover_after(processes: bool, prev: Option<&Namespaces>) -> Namespaces {
    let own = own_inode();
    let host = host_inode();
    let mut by_inode: HashMap<u64, (Option<Text>, PathBuf, Vec<u32>)> = HashMap::new();
    let mut denied = 0u32;
    if let Some(own) = own {
        by_inode.insert(
            own,
            (None, PathBuf::from("/proc/thread-self/ns/net"), Vec::new()),
        );
    }
    for dir in MOUNT_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if !is_nsfs(&path) {
                continue;
            }
            let Some(ino) = inode_of(&path) else {
                continue;
            };
            let name = path.file_name().map(|n| Text::from(n.as_encoded_bytes()));
            let e = by_inode
                .entry(ino)
                .or_insert_with(|| (None, path.clone(), Vec::new()));
            if e.0.is_none() {
                e.0 = name;
            }
            // A bind mount opens the namespace with no process needed.
            if Some(ino) != own {
                e.1 = path;
            }
        }
    }
    if processes && let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let link = PathBuf::from(format!("/proc/{pid}/ns/net"));
            match std::fs::metadata(&link) {
                Ok(m) => {
                    by_inode
                        .entry(m.ino())
                        .or_insert_with(|| (None, link, Vec::new()))
                        .2
                        .push(pid);
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => denied += 1,
                Err(_) => {} // gone meanwhile, or a kernel thread
            }
        }
    }
    let state = StateFiles::host();
    let known: HashMap<u64, &Found> = prev
        .map(|p| p.all.iter().map(|f| (f.netns.inode, f)).collect())
        .unwrap_or_default();
    let mut all: Vec<Found> = by_inode
        .into_iter()
        .map(|(inode, (name, path, mut pids))| {
            pids.sort_unstable();
            if let Some(old) = known
                .get(&inode)
                .filter(|old| old.path == path && old.pids.first() == pids.first())
            {
                return Found {
                    netns: Arc::clone(&old.netns),
                    path,
                    pids,
                    own: Some(inode) == own,
                };
            }
            let is_host = Some(inode) == host;
            // The container of the namespace: that of its first member
            // that runs in one (a pod's pause process, or the container's).
            let container = if is_host {
                None
            } else {
                pids.iter().find_map(|pid| {
                    let cg = std::fs::read(format!("/proc/{pid}/cgroup")).ok()?;
                    cgroup::behind(&cg, &state).container
                })
            };
            let name = container.as_ref().and_then(|c| c.name.clone()).or(name);
            Found {
                netns: Arc::new(Netns {
                    inode,
                    name,
                    host: is_host,
                    container,
                }),
                path,
                pids,
                own: Some(inode) == own,
            }
        })
        .collect();
    all.sort_by_key(|f| (!f.own, f.netns.inode));
    Namespaces { all, denied }
}

/// Runs `f` on a thread of its own inside the namespace at `path` (see
/// the module docs), and gives back what it returns.
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<T> {
    let ns = File::open(path)?;
    let handle = std::thread::Builder::new()
        .name("portscope-netns".into())
        .spawn(move || -> std::io::Result<T> {
            move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))?;
            drop(ns);
            Ok(f())
        })?;
    handle
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("namespace thread panicked")))
}

/// Runs `f` on every job of `jobs` on at most `workers` threads of its own
/// (see the module docs), and gives back what each call returned, in the
/// order of `jobs` (`None` for a job no thread ran: none could be made, or
/// its worker panicked). A job for which `enter` gives a path is run inside that
/// namespace, and `f` is handed whether the thread got in; a job for which
/// it gives `None` runs in whichever namespace the thread is in (one that
/// talks to its namespace through a socket opened there before).
pub fn run_each<J: Sync, T: Send>(
    jobs: &[J],
    workers: usize,
    enter: impl Fn(&J) -> Option<&Path> + Sync,
    f: impl Fn(&J, std::io::Result<()>) -> T + Sync,
) -> Vec<Option<T>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else {
                return done;
            };
            let entered = match enter(job) {
                None => Ok(()),
                Some(path) => File::open(path).and_then(|ns| {
                    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
                        .map_err(std::io::Error::from)
                }),
            };
            done.push((i, f(job, entered)));
        }
    };
    let workers = workers.clamp(1, jobs.len().max(1));
    let mut out: Vec<Option<T>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .name("portscope-netns".into())
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        for t in threads {
            // A panicking job loses its worker's results, as `run_in`'s does.
            for (i, t) in t.join().unwrap_or_default() {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(t);
                }
            }
        }
    });
    out
}

/// How many threads [`run_each`] is worth: one per core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(8))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test
mod tests {
    use super::*;

    #[test]
    fn run_each_answers_every_job_in_order() {
        let jobs: Vec<u32> = (0..37).collect();
        for workers in [1, 2, 5, 64] {
            let got = run_each(
                &jobs,
                workers,
                |_| None,
                |j, entered| {
                    assert!(entered.is_ok());
                    j * 2
                },
            );
            let want: Vec<Option<u32>> = jobs.iter().map(|j| Some(j * 2)).collect();
            assert_eq!(got, want, "{workers} workers");
        }
        let none: Vec<u32> = Vec::new();
        assert!(run_each(&none, 2, |_| None, |j, _| *j).is_empty());
    }

    #[test]
    fn a_namespace_that_cannot_be_opened_is_handed_over_as_an_error() {
        let jobs = ["/nonexistent/netns/a", "/nonexistent/netns/b"];
        let got = run_each(
            &jobs,
            2,
            |p| Some(Path::new(*p)),
            |_, entered| entered.err().map(|e| e.kind()),
        );
        assert_eq!(got, vec![Some(Some(std::io::ErrorKind::NotFound)); 2],);
    }
}
