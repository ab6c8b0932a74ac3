//! [`Linux`]: the [`System`] of the machine portscope runs on, by calling the
//! readers of this folder (netlink, /proc/net, the /proc fd walk, pidfds).

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::collect::Collector;
use crate::collect::host::{self, HostFacts};
use crate::collect::owner_map::OwnerMap;
use crate::collect::signal::{PinError, Pinned, ProcessHandle, Signal, SignalOutcome};
use crate::collect::system::{CloseOutcome, Dump, System, Walk};
use crate::collect::{NetnsScope, Options, SourceChoice};
use crate::error::{Error, Result};
use crate::model::{Detail, Process, ProcessDetails, Query, Snapshot, Socket, Source};
use crate::services::EphemeralRange;
use crate::text::Text;

use super::netlink::{DestroyOutcome, DestroyStream, Netlink};
use super::netns;
use super::owners::{self, UserNames};
use super::pidfd::{Holds, OpenError, Pidfd};
use super::procnet::ProcNet;
use super::spaces;

/// This machine, as Linux shows it.
#[derive(Default)]
pub struct Linux {
    /// User names looked up so far.
    users: Mutex<UserNames>,
    /// The netlink socket closing and tcp_info reads go through, opened on
    /// first use.
    netlink: Mutex<Option<Netlink>>,
    /// The netlink sockets opened in other namespaces, kept for the next dump.
    spaces: spaces::Kept,
}

impl std::fmt::Debug for Linux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Linux")
    }
}

impl Linux {
    /// This machine.
    pub fn new() -> Linux {
        Linux::default()
    }

    /// Runs `f` on the netlink socket kept for requests, opening it first.
    fn with_netlink<T>(&self, f: impl FnOnce(&Netlink) -> Result<T>) -> Result<T> {
        let mut nl = self.netlink.lock().unwrap_or_else(|p| p.into_inner());
        let nl = match nl.take() {
            Some(open) => nl.insert(open),
            None => nl.insert(Netlink::open()?),
        };
        f(nl)
    }
}

impl System for Linux {
    fn dump(&self, opts: &Options, hint: Option<&OwnerMap>, capacity: usize) -> Result<Dump> {
        dump_namespaces(opts, hint, capacity, &self.spaces)
    }

    fn tcp_info(&self, sockets: &mut [&mut Socket]) -> Result<()> {
        self.with_netlink(|nl| nl.tcp_info_of(sockets))
    }

    fn owners(&self, walk: Walk<'_>) -> Result<OwnerMap> {
        match walk {
            Walk::Full => owners::walk(),
            Walk::Counting => owners::walk_counting(),
            Walk::Since(prev) => owners::walk_since(prev),
        }
    }

    fn dump_held(
        &self,
        opts: &Options,
        held: &[(u64, crate::model::Owner)],
        found: &[u64],
    ) -> Result<Dump> {
        super::held::dump(opts, held, found)
    }

    fn cgroups(&self, ids: &[u64]) -> std::collections::HashMap<u64, crate::model::Cgroup> {
        super::cgroup_id::resolve(ids)
    }

    fn sock_filters(&self, sockets: &mut [Socket]) {
        super::sock_filter::fill(sockets, rustix::process::geteuid().is_root());
    }

    fn process(&self, pid: u32) -> Result<Option<Process>> {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        owners::process_checked(Path::new("/proc"), pid, &mut users)
    }

    fn process_details(&self, pid: u32) -> Result<Option<ProcessDetails>> {
        Ok(super::process::details(Path::new("/proc"), pid))
    }

    fn pids(&self) -> Result<Vec<u32>> {
        super::process::pids(Path::new("/proc"))
    }

    fn user_name(&self, uid: u32) -> Text {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        users.name(uid)
    }

    fn euid(&self) -> u32 {
        rustix::process::geteuid().as_raw()
    }

    fn host_facts(&self, snap: &Snapshot) -> HostFacts {
        host_facts(snap)
    }

    fn v6_dual_stack(&self) -> bool {
        super::host::v6_dual_stack()
    }

    fn ephemeral_range(&self) -> Option<EphemeralRange> {
        ephemeral_range()
    }

    fn close(&self, s: &Socket) -> Result<CloseOutcome> {
        Ok(match self.with_netlink(|nl| nl.destroy(s))? {
            DestroyOutcome::Closed => CloseOutcome::Closed,
            DestroyOutcome::NotPermitted => CloseOutcome::NotPermitted,
            DestroyOutcome::Gone => CloseOutcome::Gone,
            DestroyOutcome::Unsupported => CloseOutcome::Unsupported,
        })
    }

    fn port_maps(&self) -> crate::model::PortMaps {
        super::nat::read()
    }

    fn netns_of(&self, pid: u32) -> Option<u64> {
        netns::of_pid(pid)
    }

    fn open_fds(&self) -> Option<u64> {
        std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64)
    }

    fn subscribe(&self, rcvbuf: Option<usize>) -> Result<Box<dyn crate::collect::Subscription>> {
        let stream = DestroyStream::open(rcvbuf)?;
        let netns = std::fs::metadata("/proc/thread-self/ns/net")
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        Ok(Box::new(Destroyed::start(stream, netns)?))
    }

    fn pin(&self, pid: u32) -> std::result::Result<ProcessHandle, PinError> {
        match Pidfd::open(pid) {
            Ok(pidfd) => Ok(ProcessHandle::new(Pin(pidfd))),
            Err(OpenError::Gone) => Err(PinError::Gone),
            Err(OpenError::Refused(e)) => Err(PinError::Unsupported(e.to_string())),
        }
    }
}

/// The destroy multicast groups of one namespace, read on a thread of
/// their own: a burst is taken off the socket's queue while the caller is
/// busy with a dump or an owner walk, instead of overflowing it.
#[derive(Debug)]
struct Destroyed {
    rx: std::sync::mpsc::Receiver<Result<Batch>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    netns: Option<u64>,
}

/// What the reader thread passes on.
#[derive(Debug)]
enum Batch {
    Sockets(Vec<Socket>),
    Lost(Option<u64>),
}

impl Destroyed {
    fn start(mut stream: DestroyStream, netns: Option<u64>) -> Result<Destroyed> {
        use std::sync::atomic::Ordering;
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        std::thread::Builder::new()
            .name("destroy-events".into())
            .spawn(move || {
                let mut buf = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    buf.clear();
                    let got = stream.wait(std::time::Duration::from_millis(200), &mut buf);
                    let msg = match got {
                        Ok(crate::collect::Received::Timeout) => continue,
                        Ok(crate::collect::Received::Sockets(_)) => {
                            Ok(Batch::Sockets(std::mem::take(&mut buf)))
                        }
                        Ok(crate::collect::Received::Lost(n)) => {
                            if !buf.is_empty()
                                && tx
                                    .send(Ok(Batch::Sockets(std::mem::take(&mut buf))))
                                    .is_err()
                            {
                                return;
                            }
                            Ok(Batch::Lost(n))
                        }
                        Err(e) => Err(e),
                    };
                    let failed = msg.is_err();
                    if tx.send(msg).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(Error::Netlink)?;
        Ok(Destroyed { rx, stop, netns })
    }
}

impl Drop for Destroyed {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl crate::collect::Subscription for Destroyed {
    fn wait(
        &mut self,
        timeout: std::time::Duration,
        out: &mut Vec<Socket>,
    ) -> Result<crate::collect::Received> {
        use std::sync::mpsc::RecvTimeoutError;
        let start = out.len();
        let mut next = match self.rx.recv_timeout(timeout) {
            Ok(b) => Some(b),
            Err(RecvTimeoutError::Timeout) => return Ok(crate::collect::Received::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::Netlink(std::io::Error::other(
                    "the destroy notification reader stopped",
                )));
            }
        };
        // Everything queued now, up to a loss (which is said on its own).
        while let Some(b) = next {
            match b? {
                Batch::Sockets(mut v) => out.append(&mut v),
                // What came before the loss is in `out` with it.
                Batch::Lost(n) => return Ok(crate::collect::Received::Lost(n)),
            }
            next = self.rx.try_recv().ok();
        }
        Ok(crate::collect::Received::Sockets(out.len() - start))
    }

    fn netns(&self) -> Option<u64> {
        self.netns
    }
}

/// A process pinned by a pidfd.
#[derive(Debug)]
struct Pin(Pidfd);

impl Pinned for Pin {
    fn pid(&self) -> u32 {
        self.0.pid()
    }

    fn exited(&self) -> bool {
        self.0.exited()
    }

    fn signal_if_holding(&self, inodes: &[u64], sig: Signal) -> SignalOutcome {
        if self.0.exited() {
            return SignalOutcome::ExitedMeanwhile;
        }
        let holds = self.0.holds_any(inodes);
        // The fd table read above belongs to the pinned process only if it
        // had not exited by the end of the read: until it exits (and is
        // reaped) its pid cannot name another process.
        if self.0.exited() {
            return SignalOutcome::ExitedMeanwhile;
        }
        if holds == Holds::No {
            return SignalOutcome::NoLongerHolds;
        }
        match self.0.signal(sig) {
            Ok(()) => SignalOutcome::Sent,
            Err(rustix::io::Errno::SRCH) => SignalOutcome::ExitedMeanwhile,
            Err(rustix::io::Errno::PERM) => SignalOutcome::NotPermitted,
            Err(e) => SignalOutcome::Failed(e.to_string()),
        }
    }
}

/// The dump of every namespace `opts.netns` names: the caller's own as
/// before (netlink, falling back to /proc/net), every other one through a
/// netlink socket opened inside it (see [`spaces`]); every socket tagged
/// with its namespace. The others are dumped by a few workers while the
/// caller's own is dumped on this thread.
fn dump_namespaces(
    opts: &Options,
    hint: Option<&OwnerMap>,
    capacity: usize,
    kept: &spaces::Kept,
) -> Result<Dump> {
    let root = rustix::process::geteuid().is_root();
    let (want_own, others, mut notes, found) = plan(opts.netns, root, opts.source, kept);
    let present: std::collections::HashSet<u64> = found.all.iter().map(|f| f.netns.inode).collect();
    let (own, listed) = std::thread::scope(|scope| {
        let listed = (!others.is_empty()).then(|| {
            std::thread::Builder::new()
                .name("portscope-netns-dump".into())
                .spawn_scoped(scope, || spaces::dump(&others, &present, opts, kept))
        });
        let own = if want_own {
            dump_into(opts, netlink_dump, hint, Vec::with_capacity(capacity))
        } else {
            Ok(Dump {
                source: Source::Netlink,
                ..Dump::default()
            })
        };
        let listed = match listed {
            None => spaces::Listed::default(),
            // No thread for the others: dumped here, after the caller's.
            Some(Err(_)) => spaces::dump(&others, &present, opts, kept),
            Some(Ok(h)) => h.join().unwrap_or_else(|_| spaces::Listed {
                sockets: Vec::new(),
                refused: others.len(),
            }),
        };
        (own, listed)
    });
    let mut dump = own?;
    if let Some(own) = found.own() {
        for s in &mut dump.sockets {
            s.netns = Some(Arc::clone(&own.netns));
        }
    }
    notes.append(&mut dump.notes);
    let mut sockets = listed.sockets;
    if dump.sockets.is_empty() {
        dump.sockets = sockets;
    } else {
        dump.sockets.append(&mut sockets);
    }
    if listed.refused > 0 {
        notes.push(format!(
            "{} network namespace(s) could not be dumped (entering one needs CAP_SYS_ADMIN)",
            listed.refused
        ));
    }
    dump.notes = notes;
    dump.namespaces = found.all.iter().map(|f| f.netns.inode).collect();
    Ok(dump)
}

/// Which namespaces to dump for `scope`: whether the caller's own, the
/// others (not the caller's), notes, and what was found.
fn plan(
    scope: NetnsScope,
    root: bool,
    source: SourceChoice,
    kept: &spaces::Kept,
) -> (bool, Vec<netns::Found>, Vec<String>, Arc<netns::Namespaces>) {
    let own = netns::own_inode();
    let host = netns::host_inode();
    let in_host = own.is_some() && own == host;
    let scope = match scope {
        NetnsScope::Default if root && in_host && source != SourceChoice::Procfs => NetnsScope::All,
        NetnsScope::Default => NetnsScope::Own,
        other => other,
    };
    let mut notes = Vec::new();
    // The process walk finds namespaces no bind mount names; the caller's
    // own needs none (an unprivileged caller's walk is for the note).
    let spaces = kept.discover(scope != NetnsScope::Own || (!root && in_host));
    let others = |keep: &dyn Fn(&netns::Found) -> bool| -> Vec<netns::Found> {
        spaces
            .all
            .iter()
            .filter(|f| !f.own && keep(f))
            .cloned()
            .collect()
    };
    let (want_own, others) = match scope {
        NetnsScope::Own | NetnsScope::Default => {
            if !root && in_host && spaces.all.len() > 1 {
                notes.push(format!(
                    "only this network namespace is listed; {} other(s) need root to enter",
                    spaces.all.len() - 1
                ));
            }
            (true, Vec::new())
        }
        NetnsScope::All => (true, others(&|_| true)),
        NetnsScope::Host => (in_host, others(&|f| f.netns.host)),
        NetnsScope::Only(ino) => (own == Some(ino), others(&|f| f.netns.inode == ino)),
    };
    if source == SourceChoice::Procfs && !others.is_empty() {
        notes.push("other network namespaces are dumped through netlink".to_owned());
    }
    (want_own, others, notes, spaces)
}

/// [`Linux::dump`] with the netlink dump passed in, so the fallback can be
/// tested without a kernel that refuses netlink.
#[cfg(test)]
fn dump_sockets_with(
    opts: &Options,
    netlink_dump: impl FnOnce(&Query, Detail, &mut Vec<Socket>) -> Result<()>,
    hint: Option<&OwnerMap>,
) -> Result<Dump> {
    dump_into(opts, netlink_dump, hint, Vec::new())
}

/// The dump into `out` (sized by the caller). `hint` (the last walk's
/// owners) goes to the /proc reader as a first try for its unix check (see
/// [`ProcNet::collect_noting_with`]).
fn dump_into(
    opts: &Options,
    netlink_dump: impl FnOnce(&Query, Detail, &mut Vec<Socket>) -> Result<()>,
    hint: Option<&OwnerMap>,
    mut out: Vec<Socket>,
) -> Result<Dump> {
    let dump = |sockets, source, notes| Dump {
        sockets,
        source,
        notes,
        namespaces: Vec::new(),
    };
    match opts.source {
        SourceChoice::Procfs => {
            let mut notes = Vec::new();
            procnet(opts).collect_noting_with(&opts.query, &mut out, &mut notes, hint)?;
            Ok(dump(out, Source::Procfs, notes))
        }
        SourceChoice::Netlink => {
            netlink_dump(&opts.query, opts.detail, &mut out)?;
            Ok(dump(out, Source::Netlink, Vec::new()))
        }
        SourceChoice::Auto => {
            let netlink = netlink_dump(&opts.query, opts.detail, &mut out);
            match netlink {
                Ok(()) => Ok(dump(out, Source::Netlink, Vec::new())),
                Err(e @ (Error::NetlinkUnavailable(_) | Error::Netlink(_))) => {
                    out.clear();
                    let mut notes = vec![format!("{e}; read /proc/net instead")];
                    procnet(opts).collect_noting_with(&opts.query, &mut out, &mut notes, hint)?;
                    Ok(dump(out, Source::Procfs, notes))
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// The netlink dump, with raw sockets from /proc/net/raw{,6} when the kernel
/// has no raw sock_diag module (CONFIG_INET_RAW_DIAG unset is common).
fn netlink_dump(query: &Query, detail: Detail, out: &mut Vec<Socket>) -> Result<()> {
    // Packet sockets' filters are reported only to a socket with
    // CAP_NET_ADMIN; TCP, UDP, raw and unix dumps need none and come
    // without the socket mark from one without (see `dump_caps.rs`).
    let nl = if query.packet || query.netlink {
        Netlink::open()?
    } else {
        Netlink::open_for_dumps()?
    };
    let start = out.len();
    nl.collect_with(query, detail, out)?;
    if query.packet
        && let Some(new) = out.get_mut(start..)
    {
        // This thread's namespace is the one `nl` dumped.
        super::netlink::name_interfaces(new);
    }
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

/// Gathers the facts for a snapshot just taken on this host: interface
/// addresses, the owners' executables (checked again on the live process, so
/// a file whose name merely ends in ` (deleted)` is not mistaken), the
/// dual-stack default and the ephemeral range.
fn host_facts(snap: &Snapshot) -> HostFacts {
    let mut notes = Vec::new();
    let addresses = match super::host::addresses() {
        Ok((addrs, note)) => {
            notes.extend(note);
            addrs
        }
        Err(e) => {
            notes.push(format!("interface addresses unknown: {e}"));
            Vec::new()
        }
    };
    let mut executables = HostFacts::from_snapshot(snap).executables;
    for (pid, exe) in &mut executables {
        let link = snap.processes.get(pid).and_then(|p| p.exe.as_ref());
        if let Some(deleted) = link.and_then(|l| super::host::exe_deleted(*pid, l.as_bytes())) {
            exe.deleted = deleted;
        }
        exe.world_writable_dir = super::host::world_writable_dir(*pid, exe.path.as_bytes());
    }
    // Each other namespace's own addresses, read inside it.
    let mut netns_addresses = std::collections::HashMap::new();
    let others: Vec<u64> = {
        let mut v: Vec<u64> = snap
            .sockets
            .iter()
            .filter_map(|s| s.netns.as_deref().filter(|n| !n.host).map(|n| n.inode))
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    if !others.is_empty() {
        let spaces = netns::discover(true);
        let found: Vec<&netns::Found> = others.iter().filter_map(|i| spaces.get(*i)).collect();
        let read = netns::run_each(
            &found,
            netns::workers(),
            |f| Some(f.path.as_path()),
            |f, entered| {
                entered.ok()?;
                let (addrs, _) = super::host::addresses().ok()?;
                Some((f.netns.inode, addrs))
            },
        );
        netns_addresses.extend(read.into_iter().flatten().flatten());
    }
    // Published ports matter when a forwarder or a container is in the
    // snapshot; the rules' tools are not run otherwise.
    let containers = snap
        .processes
        .values()
        .any(|p| p.container.is_some() || crate::forward::is_forwarder(&p.name))
        || !netns_addresses.is_empty();
    let port_maps = if containers {
        let maps = super::nat::read();
        notes.extend(maps.unreadable);
        maps.maps
    } else {
        Vec::new()
    };
    host::HostFacts {
        addresses,
        executables,
        v6_dual_stack: super::host::v6_dual_stack(),
        ephemeral: ephemeral_range(),
        notes,
        netns_addresses,
        port_maps,
    }
}

const PORT_RANGE_PATH: &str = "/proc/sys/net/ipv4/ip_local_port_range";

/// This host's ephemeral range, read once from
/// `/proc/sys/net/ipv4/ip_local_port_range` and cached for the life of the
/// process. `None` if the file cannot be read or makes no sense.
///
/// The value is that of the network namespace the process runs in.
fn ephemeral_range() -> Option<EphemeralRange> {
    static RANGE: std::sync::OnceLock<Option<EphemeralRange>> = std::sync::OnceLock::new();
    *RANGE.get_or_init(|| {
        std::fs::read_to_string(PORT_RANGE_PATH)
            .ok()
            .and_then(|text| crate::services::parse_port_range(&text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;
    use std::process::Command;

    #[test]
    fn refused_netlink_falls_back_to_procfs_with_a_note() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let ino = rustix::fs::fstat(&l).expect("fstat").st_ino;
        let refused = |_: &Query, _: Detail, _: &mut Vec<Socket>| -> Result<()> {
            Err(Error::NetlinkUnavailable(std::io::Error::from(
                std::io::ErrorKind::PermissionDenied,
            )))
        };
        let opts = Options::default();
        let d = dump_sockets_with(&opts, refused, None).expect("fallback");
        assert_eq!(d.source, Source::Procfs);
        // The fallback's note comes first; the unix reader may add its own
        // when other processes churn unix sockets meanwhile.
        assert!(
            d.notes
                .first()
                .is_some_and(|n| n.contains("read /proc/net instead")),
            "{:?}",
            d.notes
        );
        assert!(d.sockets.iter().any(|s| s.inode == ino));

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

    #[test]
    fn a_child_that_exited_is_not_signalled() {
        let mut child = Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let h = Linux::new().pin(child.id()).expect("pin");
        assert!(!h.exited());
        child.kill().expect("kill");
        child.wait().expect("reap");
        assert!(h.exited());
        assert_eq!(
            h.signal_if_holding(&[1], Signal::TERM),
            SignalOutcome::ExitedMeanwhile
        );
    }

    #[test]
    fn holding_is_read_from_the_fd_table() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let link = std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).expect("link");
        let inode = owners::socket_inode(link.as_os_str().as_encoded_bytes()).expect("inode");
        let me = Pidfd::open(std::process::id()).expect("pin self");
        assert_eq!(me.holds_any(&[inode]), Holds::Yes);
        drop(l);
        assert_eq!(me.holds_any(&[inode]), Holds::No);
        // Not holding it: not signalled (SIGTERM would end this test).
        assert_eq!(
            Pin(me).signal_if_holding(&[inode], Signal::TERM),
            SignalOutcome::NoLongerHolds
        );
    }

    #[test]
    fn a_holder_is_signalled() {
        let mut child = Command::new("sleep")
            .arg("100")
            .spawn()
            .expect("spawn sleep");
        let p = Pidfd::open(child.id()).expect("pin");
        // sleep holds no socket; its stdin is ours. Signal through the
        // pidfd without the fd check to see the signal lands.
        p.signal(Signal::KILL).expect("signal");
        let status = child.wait().expect("wait");
        assert!(!status.success());
    }

    #[test]
    fn ephemeral_range_matches_sysctl() {
        // Oracle: sysctl(8) reads the same knob through its own code path.
        let out = std::process::Command::new("sysctl")
            .args(["-n", "net.ipv4.ip_local_port_range"])
            .output();
        let Some(out) = out.ok().filter(|o| o.status.success()) else {
            // No usable sysctl binary: fall back to the kernel file itself.
            let text = std::fs::read_to_string(PORT_RANGE_PATH).ok();
            assert_eq!(
                ephemeral_range(),
                text.and_then(|t| crate::services::parse_port_range(&t))
            );
            return;
        };
        let text = String::from_utf8(out.stdout).expect("sysctl output");
        let mut it = text
            .split_whitespace()
            .map(|f| f.parse::<u16>().expect("sysctl output"));
        let want = EphemeralRange {
            low: it.next().expect("sysctl output"),
            high: it.next().expect("sysctl output"),
        };
        assert_eq!(ephemeral_range(), Some(want));
        // Cached: a second call gives the same answer.
        assert_eq!(ephemeral_range(), Some(want));
    }
}
