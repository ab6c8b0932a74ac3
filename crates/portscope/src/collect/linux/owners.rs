//! Who holds each socket: one walk over every `/proc/<pid>/fd/*` link of the
//! form `socket:[inode]`, and the details of the processes found.
//!
//! Not a socket source: it knows inodes, not addresses. The snapshot joins the
//! two by inode.
//!
//! This is the hot path of a listing with owners (one readlink per open fd on
//! the machine), so it is written against rustix's raw directory reader and
//! `readlinkat` into stack buffers: no allocation per fd, no path strings
//! built. `procfs` would allocate a `PathBuf` and a `String` per fd.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::model::{Owner, Process};
use crate::text::Text;

pub use crate::collect::owner_map::OwnerMap;

/// Walks every process's fd table under `/proc`, on up to two threads.
///
/// Processes that exit during the walk are skipped silently; processes whose
/// fd table is not readable are counted in [`OwnerMap::denied`]. Running out
/// of fds or memory, or /proc itself not being readable, is
/// [`Error::ProcWalk`]: owners are then unknown, not empty.
pub fn walk() -> Result<OwnerMap> {
    walk_in(Path::new("/proc"))
}

/// [`walk`] over another procfs mount (or a copy of one, for tests).
pub fn walk_in(proc_root: &Path) -> Result<OwnerMap> {
    walk_pids(proc_root, None, false)
}

/// [`walk`], also noting each process's open-fd count (one `stat` more per
/// process) so that a later [`walk_since`] can skip unchanged tables. A
/// one-shot listing has no later walk and does not pay for it.
pub fn walk_counting() -> Result<OwnerMap> {
    walk_pids(Path::new("/proc"), None, true)
}

/// A walk that reuses `prev` for every process whose open-fd count is what
/// it was then, and reads only the others' fd tables.
///
/// One `stat` per process instead of one `readlink` per fd: for a live view
/// refreshing every second, most processes have not changed. A process that
/// closed one fd and opened another in between keeps its old entries until
/// the next full [`walk`]; on kernels before 6.2 (no fd count), or when
/// `prev` came from a walk that did not count ([`walk`]), this is a full walk.
pub fn walk_since(prev: &OwnerMap) -> Result<OwnerMap> {
    walk_pids(Path::new("/proc"), Some(prev), true)
}

fn walk_pids(proc_root: &Path, prev: Option<&OwnerMap>, counting: bool) -> Result<OwnerMap> {
    let pids = list_pids(proc_root)?;
    let root = rustix::fs::open(
        proc_root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| walk_error(proc_root.to_path_buf(), e.into()))?;
    // Processes whose fd count is unchanged keep their previous entries.
    let mut kept: HashMap<u32, u64> = HashMap::new();
    let mut todo = pids;
    if let Some(prev) = prev {
        // Our own table changes under us (this walk's fds, other threads'),
        // so it is always read.
        let me = std::process::id();
        todo.retain(|&pid| {
            let count = fd_count(&root, pid).unwrap_or(0);
            if pid != me && count > 0 && prev.fd_counts().get(&pid) == Some(&count) {
                kept.insert(pid, count);
                false
            } else {
                true
            }
        });
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let mut parts: Vec<Part> = if threads == 1 || todo.len() < 64 {
        let mut part = Part::new(counting);
        for &pid in &todo {
            if part.scan(&root, pid).is_err() {
                break;
            }
        }
        vec![part]
    } else {
        // Interleave pids across threads: neighbouring pids are often one
        // service's workers with similar fd counts, so this balances the load.
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let pids = &todo;
                    let root = &root;
                    scope.spawn(move || {
                        let mut part = Part::new(counting);
                        for &pid in pids.iter().skip(t).step_by(threads) {
                            if part.scan(root, pid).is_err() {
                                break;
                            }
                        }
                        part
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Part {
                        failed: Some((
                            proc_root.to_path_buf(),
                            std::io::Error::other("the walk stopped unexpectedly"),
                        )),
                        ..Part::default()
                    })
                })
                .collect()
        })
    };
    if let Some((path, source)) = parts.iter_mut().find_map(|p| p.failed.take()) {
        return Err(walk_error(path, source));
    }
    let mut pairs = Vec::with_capacity(parts.iter().map(|p| p.pairs.len()).sum());
    let mut denied = Vec::new();
    let mut netns_fds = Vec::new();
    let mut fd_counts = kept;
    if let Some(prev) = prev {
        pairs.extend(
            prev.pairs()
                .filter(|(_, o)| fd_counts.contains_key(&o.pid))
                .map(|(i, o)| (i, *o)),
        );
        netns_fds.extend(
            prev.netns_fds
                .iter()
                .filter(|(_, o)| fd_counts.contains_key(&o.pid)),
        );
    }
    for p in parts {
        pairs.extend(p.pairs);
        netns_fds.extend(p.netns_fds);
        denied.extend(p.denied);
        fd_counts.extend(p.fd_counts);
    }
    denied.sort_unstable();
    netns_fds.sort_unstable();
    let mut map = OwnerMap::with_counts(pairs, denied, fd_counts);
    map.netns_fds = netns_fds;
    Ok(map)
}

fn walk_error(path: std::path::PathBuf, source: std::io::Error) -> Error {
    Error::ProcWalk { path, source }
}

/// Every pid under `proc_root`. Not being able to list /proc at all (or
/// failing part way) is an error: the walk would miss processes.
fn list_pids(proc_root: &Path) -> Result<Vec<u32>> {
    let dir = fs::read_dir(proc_root).map_err(|e| walk_error(proc_root.to_path_buf(), e))?;
    let mut pids = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| walk_error(proc_root.to_path_buf(), e))?;
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// Errors that mean the walk itself cannot go on (as opposed to one
/// process having exited or being off limits).
fn is_resource(e: Errno) -> bool {
    matches!(
        e,
        Errno::MFILE | Errno::NFILE | Errno::NOMEM | Errno::NOBUFS
    )
}

#[derive(Default)]
struct Part {
    pairs: Vec<(u64, Owner)>,
    /// Held network-namespace files: (namespace inode, holder).
    netns_fds: Vec<(u64, Owner)>,
    /// The device of namespace files (nsfs), to know one by `stat`.
    nsfs_dev: Option<u64>,
    denied: Vec<u32>,
    /// Whether to note fd counts (for [`walk_since`]).
    counting: bool,
    fd_counts: Vec<(u32, u64)>,
    /// What stopped the walk (out of fds or memory), if anything did.
    failed: Option<(std::path::PathBuf, std::io::Error)>,
}

impl Part {
    fn new(counting: bool) -> Part {
        Part {
            counting,
            nsfs_dev: rustix::fs::stat("/proc/thread-self/ns/net")
                .ok()
                .map(|st| st.st_dev),
            ..Part::default()
        }
    }

    /// Reads one fd table; `Err` when the walk cannot go on (noted in
    /// `failed`).
    fn scan(&mut self, root: &OwnedFd, pid: u32) -> std::result::Result<(), ()> {
        let mut path = itoa_buf();
        let fd_path = fd_dir_path(&mut path, pid);
        let count = if self.counting {
            fd_count(root, pid)
        } else {
            None
        };
        let dir = match rustix::fs::openat(
            root,
            fd_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(d) => d,
            Err(Errno::ACCESS | Errno::PERM) => {
                self.denied.push(pid);
                return Ok(());
            }
            Err(e) if is_resource(e) => {
                let path = std::path::PathBuf::from(format!("/proc/{pid}/fd"));
                self.failed = Some((path, e.into()));
                return Err(());
            }
            // Gone (ENOENT/ESRCH) or otherwise unreadable: a race, not an error.
            Err(_) => return Ok(()),
        };
        if let Some(n) = count {
            self.fd_counts.push((pid, n));
        }
        let mut dirbuf = [MaybeUninit::<u8>::uninit(); 8192];
        let mut entries = RawDir::new(&dir, &mut dirbuf);
        let mut link = [0u8; 64];
        while let Some(entry) = entries.next() {
            let Ok(entry) = entry else { break };
            let name = entry.file_name();
            let Some(fd) = parse_u32(name.to_bytes()) else {
                continue; // "." and ".."
            };
            let Ok(n) = rustix::fs::readlinkat_raw(&dir, name, &mut link[..]) else {
                continue; // closed since the listing
            };
            let target = &link[..n.min(link.len())];
            if let Some(inode) = socket_inode(target) {
                self.pairs.push((inode, Owner { pid, fd }));
            } else if let Some(inode) = netns_inode(target) {
                self.netns_fds.push((inode, Owner { pid, fd }));
            } else if target == b"/"
                && let Some(dev) = self.nsfs_dev
                && let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::empty())
                && st.st_dev == dev
            {
                // A bind-mounted namespace file opened, then unmounted:
                // its link reads "/" and only its device says nsfs.
                self.netns_fds.push((st.st_ino, Owner { pid, fd }));
            }
        }
        Ok(())
    }
}

/// The number of open fds of `pid` (the size `stat` gives `/proc/<pid>/fd`
/// since Linux 6.2; 0 before).
fn fd_count(root: &OwnedFd, pid: u32) -> Option<u64> {
    let mut path = itoa_buf();
    rustix::fs::statat(root, fd_dir_path(&mut path, pid), AtFlags::empty())
        .ok()
        .and_then(|st| u64::try_from(st.st_size).ok())
}

/// Room for "<u32>/fd" plus a NUL.
fn itoa_buf() -> [u8; 24] {
    [0; 24]
}

/// Writes `"<pid>/fd\0"` into `buf` and returns it as a C string.
fn fd_dir_path(buf: &mut [u8; 24], pid: u32) -> &CStr {
    let mut digits = [0u8; 10];
    let mut n = pid;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    buf[len..len + 4].copy_from_slice(b"/fd\0");
    // The buffer holds digits, "/fd" and one NUL at the end: a valid C string.
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"")
}

fn parse_u32(b: &[u8]) -> Option<u32> {
    parse_digits(b).and_then(|n| u32::try_from(n).ok())
}

/// A non-empty run of ASCII digits as a number; `None` for anything else or
/// on overflow. Hand-written: it runs once per fd on the machine, on bytes.
fn parse_digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// The namespace inode of a `net:[INODE]` fd link (an open
/// `/proc/X/ns/net` or bind-mounted nsfs file).
///
/// ```
/// use portscope::collect::linux::owners::netns_inode;
/// assert_eq!(netns_inode(b"net:[4026531840]"), Some(4026531840));
/// assert_eq!(netns_inode(b"socket:[1]"), None);
/// assert_eq!(netns_inode(b"net:[12"), None);
/// ```
pub fn netns_inode(target: &[u8]) -> Option<u64> {
    let digits = target.strip_prefix(b"net:[")?.strip_suffix(b"]")?;
    parse_digits(digits)
}

/// The inode of a `socket:[12345]` link target, or `None` for any other target.
///
/// ```
/// use portscope::collect::linux::owners::socket_inode;
/// assert_eq!(socket_inode(b"socket:[21337]"), Some(21337));
/// assert_eq!(socket_inode(b"/dev/null"), None);
/// assert_eq!(socket_inode(b"socket:[12"), None);
/// ```
pub fn socket_inode(target: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(b"socket:[")?;
    parse_digits(rest.strip_suffix(b"]")?)
}

/// Reads the details of one process; `None` if it has gone.
///
/// Fields that can't be read (permission, a kernel thread) are left empty;
/// only a vanished process gives `None`.
pub fn process(pid: u32) -> Option<Process> {
    process_in(Path::new("/proc"), pid, &mut UserNames::default())
}

/// Caches uid -> user name lookups across processes.
#[derive(Default)]
pub struct UserNames {
    cache: std::collections::HashMap<u32, Text>,
}

impl UserNames {
    /// The user name for `uid` (from the user database, so untrusted text),
    /// or the number as text when it has no name.
    pub fn name(&mut self, uid: u32) -> Text {
        self.cache
            .entry(uid)
            .or_insert_with(|| {
                uzers::get_user_by_uid(uid)
                    .map(|u| Text::from(u.name().as_bytes()))
                    .unwrap_or_else(|| Text::from(uid.to_string()))
            })
            .clone()
    }
}

/// [`process`] under another procfs root, with a shared user-name cache.
///
/// Every file is read as bytes: a process whose name or path is not UTF-8
/// is still a process, with all its details.
pub fn process_in(proc_root: &Path, pid: u32, users: &mut UserNames) -> Option<Process> {
    process_checked(proc_root, pid, users).ok().flatten()
}

/// [`process_in`], but running out of fds or memory while reading the
/// process is [`Error::ProcWalk`] rather than a process that seems gone or
/// has no name.
pub fn process_checked(
    proc_root: &Path,
    pid: u32,
    users: &mut UserNames,
) -> Result<Option<Process>> {
    let dir = proc_root.join(pid.to_string());
    // A read that failed for want of resources says nothing about the process.
    let check = |what: &str, r: std::io::Result<()>| -> Result<()> {
        match r {
            Err(e)
                if e.raw_os_error()
                    .is_some_and(|n| is_resource(Errno::from_raw_os_error(n))) =>
            {
                Err(walk_error(dir.join(what), e))
            }
            _ => Ok(()),
        }
    };
    // Bytes, not text: a name that is not UTF-8 must not make the process
    // look gone.
    let status = match fs::read(dir.join("status")) {
        Ok(s) => parse_status(&s),
        Err(e) => {
            check("status", Err(e))?;
            return Ok(None);
        }
    };
    let comm = fs::read(dir.join("comm"));
    check("comm", comm.as_ref().map(|_| ()).map_err(clone_io))?;
    let name = comm
        .map(|b| parse_comm(&b))
        .ok()
        .or(status.name)
        .unwrap_or_default();
    let raw = fs::read(dir.join("cmdline"));
    check("cmdline", raw.as_ref().map(|_| ()).map_err(clone_io))?;
    let cmdline = raw.map(|b| cmdline_text(&b)).unwrap_or_default();
    let link = fs::read_link(dir.join("exe"));
    check("exe", link.as_ref().map(|_| ()).map_err(clone_io))?;
    let exe = link.ok().map(|p| Text::from(p.into_os_string().into_vec()));
    // Where it runs: unreadable or vanished cgroups leave both unknown.
    let behind = fs::read(dir.join("cgroup"))
        .map(|b| super::cgroup::behind(&b, &super::cgroup::StateFiles::host()))
        .unwrap_or_default();
    Ok(Some(Process {
        pid,
        name,
        cmdline,
        uid: status.uid,
        user: status.uid.map(|u| users.name(u)),
        euid: status.euid,
        euser: status.euid.map(|u| users.name(u)),
        exe,
        container: behind.container,
        unit: behind.unit,
    }))
}

/// An `io::Error` of the same kind and errno (they are not `Clone`).
fn clone_io(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n),
        None => std::io::Error::new(e.kind(), e.to_string()),
    }
}

/// What portscope takes from `/proc/<pid>/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// `Name:` as the kernel escapes it there (a fallback for `comm`).
    pub name: Option<Text>,
    /// Real uid (first field of `Uid:`).
    pub uid: Option<u32>,
    /// Effective uid (second field of `Uid:`).
    pub euid: Option<u32>,
}

/// Parses `/proc/<pid>/status` from its bytes: any bytes give an answer.
///
/// ```
/// use portscope::collect::linux::owners::parse_status;
/// let s = parse_status(b"Name:\t\xffx\nUid:\t1000\t0\t0\t0\n");
/// assert_eq!((s.uid, s.euid), (Some(1000), Some(0)));
/// assert_eq!(s.name.as_ref().map(|n| n.as_bytes()), Some(&b"\xffx"[..]));
/// ```
pub fn parse_status(raw: &[u8]) -> Status {
    let mut out = Status::default();
    for line in raw.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"Name:") {
            let name = rest.strip_prefix(b"\t").unwrap_or(rest);
            out.name.get_or_insert_with(|| Text::from(name));
        } else if let Some(rest) = line.strip_prefix(b"Uid:") {
            let mut ids = rest
                .split(|b| b.is_ascii_whitespace())
                .filter(|f| !f.is_empty())
                .map(parse_u32);
            out.uid = ids.next().flatten();
            out.euid = ids.next().flatten();
        }
    }
    out
}

/// `/proc/<pid>/comm` without its trailing newline.
///
/// ```
/// use portscope::collect::linux::owners::parse_comm;
/// assert_eq!(parse_comm(b"a\nb\n").as_bytes(), b"a\nb");
/// ```
pub fn parse_comm(raw: &[u8]) -> Text {
    Text::from(raw.strip_suffix(b"\n").unwrap_or(raw))
}

/// Joins a NUL-separated `/proc/<pid>/cmdline` into one line.
///
/// ```
/// use portscope::collect::linux::owners::cmdline_text;
/// assert_eq!(cmdline_text(b"nginx: master\0-g\0daemon off;\0").as_bytes(), b"nginx: master -g daemon off;");
/// assert_eq!(cmdline_text(b"\xff\0").as_bytes(), b"\xff");
/// assert!(cmdline_text(b"").is_empty());
/// ```
pub fn cmdline_text(raw: &[u8]) -> Text {
    let trimmed = raw.strip_suffix(b"\0").unwrap_or(raw);
    let joined: Vec<u8> = trimmed
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    Text::from(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_inode_rejects_near_misses() {
        assert_eq!(socket_inode(b"socket:[0]"), Some(0));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[1a]"), None);
        assert_eq!(socket_inode(b"socket:[99999999999999999999999]"), None);
        assert_eq!(socket_inode(b"anon_inode:[eventfd]"), None);
        assert_eq!(socket_inode(b"pipe:[123]"), None);
    }

    #[test]
    fn fd_dir_path_formats_pids() {
        let mut b = itoa_buf();
        assert_eq!(fd_dir_path(&mut b, 0).to_bytes(), b"0/fd");
        let mut b = itoa_buf();
        assert_eq!(
            fd_dir_path(&mut b, 4_294_967_295).to_bytes(),
            b"4294967295/fd"
        );
    }

    #[test]
    fn parse_u32_bounds() {
        assert_eq!(parse_u32(b"12"), Some(12));
        assert_eq!(parse_u32(b"."), None);
        assert_eq!(parse_u32(b"4294967296"), None);
    }

    #[test]
    fn status_fields() {
        let s = parse_status(b"Name:\tsshd\nUmask:\t0022\nUid:\t1000\t0\t1000\t1000\n");
        assert_eq!((s.uid, s.euid), (Some(1000), Some(0)));
        assert_eq!(s.name, Some(Text::from("sshd")));
        assert_eq!(parse_status(b"Name: x\n").uid, None);
        assert_eq!(parse_status(b"Uid:\tnope\n"), Status::default());
        assert_eq!(parse_status(b"\xff\xfe\0garbage"), Status::default());
    }

    #[test]
    fn a_process_with_a_non_utf8_name_keeps_every_detail() {
        // A procfs copy with the bytes a hostile process can give itself.
        let root = std::env::temp_dir().join(format!("ps-owners-{}", std::process::id()));
        let dir = root.join("4242");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("status"),
            b"Name:\t\xff\\x1b\nUmask:\t0022\nUid:\t65534\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
        )
        .expect("status");
        std::fs::write(dir.join("comm"), b"\xff\x1b[2J\n\n").expect("comm");
        std::fs::write(dir.join("cmdline"), b"/tmp/\xfe\0-x\0").expect("cmdline");
        std::os::unix::fs::symlink(
            std::ffi::OsStr::from_bytes(b"/tmp/\xfe (deleted)"),
            dir.join("exe"),
        )
        .expect("exe");
        let p = process_in(&root, 4242, &mut UserNames::default());
        let _ = std::fs::remove_dir_all(&root);
        let p = p.expect("a process");
        assert_eq!(p.name.as_bytes(), b"\xff\x1b[2J\n");
        assert_eq!((p.uid, p.euid), (Some(65534), Some(0)));
        assert_eq!(p.euser.as_ref().map(Text::as_bytes), Some(&b"root"[..]));
        assert_eq!(p.cmdline.as_bytes(), b"/tmp/\xfe -x");
        assert_eq!(
            p.exe.as_ref().map(Text::as_bytes),
            Some(&b"/tmp/\xfe (deleted)"[..])
        );
        assert_eq!(p.effective_uid(), Some(0));
        // Gone: no status.
        assert!(process_in(&root, 4243, &mut UserNames::default()).is_none());
    }

    #[test]
    fn owner_map_lookup() {
        let o = |pid, fd| Owner { pid, fd };
        let map = OwnerMap::from_pairs(vec![(7, o(2, 3)), (5, o(1, 4)), (7, o(1, 9))], vec![]);
        assert_eq!(map.owners_of(7), &[o(1, 9), o(2, 3)]);
        assert_eq!(map.owners_of(5), &[o(1, 4)]);
        assert!(map.owners_of(6).is_empty());
        assert!(map.owners_of(100).is_empty());
    }

    #[test]
    fn walk_since_reads_changed_tables_and_keeps_the_rest() {
        use std::os::fd::AsRawFd;
        let me = std::process::id();
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let a_ino = rustix::fs::fstat(&a).expect("fstat").st_ino;
        let first = walk().expect("walk");
        let owner = |fd: &dyn AsRawFd| Owner {
            pid: me,
            fd: u32::try_from(fd.as_raw_fd()).expect("fd"),
        };
        assert!(first.owners_of(a_ino).contains(&owner(&a)));
        // A child that does not change keeps its entries without a read.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::process::Stdio::from(
                std::os::fd::AsFd::as_fd(&a)
                    .try_clone_to_owned()
                    .expect("dup"),
            ))
            .spawn()
            .expect("sleep");
        let second = walk_counting().expect("walk");
        let child_owner = Owner {
            pid: child.id(),
            fd: 0,
        };
        assert!(second.owners_of(a_ino).contains(&child_owner));
        // This process opens a socket: its fd count changes, so its table is
        // read again and the new socket found.
        let b = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let b_ino = rustix::fs::fstat(&b).expect("fstat").st_ino;
        let third = walk_since(&second).expect("walk");
        assert!(third.owners_of(b_ino).contains(&owner(&b)));
        assert!(third.owners_of(a_ino).contains(&owner(&a)));
        assert!(third.owners_of(a_ino).contains(&child_owner));
        // The child exits: gone from the next incremental walk.
        child.kill().expect("kill");
        child.wait().expect("wait");
        let fourth = walk_since(&third).expect("walk");
        assert!(!fourth.owners_of(a_ino).contains(&child_owner));
        assert!(fourth.owners_of(b_ino).contains(&owner(&b)));
    }

    #[test]
    fn an_unreadable_proc_is_an_error_not_an_empty_map() {
        let missing = std::env::temp_dir().join(format!("no-proc-{}", std::process::id()));
        match walk_in(&missing) {
            Err(Error::ProcWalk { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected ProcWalk, got {other:?}"),
        }
        // A directory with no processes in it is an empty walk, not an error.
        let empty = std::env::temp_dir().join(format!("empty-proc-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("dir");
        assert!(walk_in(&empty).expect("empty walk").is_empty());
        std::fs::remove_dir_all(&empty).expect("cleanup");
    }

    #[test]
    fn walk_finds_own_socket() {
        use std::os::fd::AsRawFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let st = rustix::fs::fstat(&l).expect("fstat");
        let map = walk().expect("walk");
        let me = std::process::id();
        let fd = u32::try_from(l.as_raw_fd()).expect("fd");
        assert!(
            map.owners_of(st.st_ino).contains(&Owner { pid: me, fd }),
            "own listener not found in owner walk"
        );
        let p = process(me).expect("self");
        assert_eq!(p.pid, me);
        assert!(p.exe.is_some());
        assert!(!p.name.is_empty());
    }
}
