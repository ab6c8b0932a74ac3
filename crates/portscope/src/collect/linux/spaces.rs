//! The sockets of the other network namespaces (all but the caller's), as
//! cheaply as the kernel lets us.
//!
//! The kernel's TCP and UDP hash tables are shared by every namespace
//! (unless `net.ipv4.tcp_child_ehash_entries` was set before a namespace
//! was made), so a dump in one namespace walks every socket of the machine
//! and keeps its own: what a namespace costs is fixed by the kernel, and
//! what is left to us is not to add to it. So:
//! - a few workers (one per core, [`netns::run_each`]) enter the
//!   namespaces in turn, rather than a thread and a `setns` per namespace,
//!   and two workers dumping two namespaces at once keep both cores busy
//!   in the kernel's walks while the caller dumps its own;
//! - one NETLINK_SOCK_DIAG socket per namespace serves every family (TCP
//!   of both IP families in one walk, see `netlink/`);
//! - a dump the namespace's own counters (`/proc/<…>/net/protocols`,
//!   `sockstat`) say can find nothing is not asked for ([`InUse`]): a
//!   namespace with no UDP socket costs no walk of the UDP tables;
//! - the sockets opened are kept ([`Kept`]): a live view's next refresh
//!   dumps through them without entering the namespaces again, and closes
//!   those whose namespace is no longer found.
//!
//! Not here: finding the namespaces (`netns.rs`), the caller's own dump
//! (`system.rs`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::collect::{Collector, Options};
use crate::model::{Query, Socket};

use super::netlink::Netlink;
use super::netns::{self, Found};
use super::procnet::ProcNet;

/// At most this many namespaces' sockets are kept open between dumps (one
/// fd each): past it, a namespace is entered afresh each time.
const KEEP_MAX: usize = 256;

/// The netlink sockets opened in other namespaces, by namespace inode,
/// kept between dumps. A socket pins its namespace, so those of namespaces
/// no longer found are closed at the next dump; while it is held, no new
/// namespace can take its inode.
/// Also kept: the last discovery, whose containers a live view's next
/// one reuses (see [`netns::discover_after`]).
#[derive(Default)]
pub struct Kept(
    Mutex<HashMap<u64, Arc<Netlink>>>,
    Mutex<Option<Arc<netns::Namespaces>>>,
);

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map_or(0, |m| m.len());
        write!(f, "Kept({n})")
    }
}

impl Kept {
    /// How many sockets are kept.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The namespaces found now, reusing the last discovery's knowledge
    /// (kept for the next call).
    pub fn discover(&self, processes: bool) -> Arc<netns::Namespaces> {
        let mut last = self.1.lock().unwrap_or_else(|p| p.into_inner());
        let found = Arc::new(netns::discover_after(processes, last.as_deref()));
        *last = Some(Arc::clone(&found));
        found
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the other namespaces gave.
#[derive(Debug, Default)]
pub struct Listed {
    /// Their sockets, each tagged with its namespace, namespace by namespace
    /// in the order asked.
    pub sockets: Vec<Socket>,
    /// Namespaces that could be neither entered nor read.
    pub refused: usize,
}

/// Which kinds of socket a namespace has any of, from its own counters:
/// `/proc/<…>/net/protocols` (sockets in use per protocol, per namespace)
/// and `sockstat` (TIME_WAIT, which `protocols` does not count). Unix and
/// netlink sockets are not counted by the kernel (or are always there) and
/// are always dumped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InUse {
    /// TCP of either family, TIME_WAIT included.
    pub tcp: bool,
    /// UDP of either family.
    pub udp: bool,
    /// Raw of either family.
    pub raw: bool,
    /// MPTCP of either family.
    pub mptcp: bool,
    /// Packet sockets.
    pub packet: bool,
}

impl InUse {
    /// Every kind: what is assumed when the counters can't be read.
    pub const ALL: InUse = InUse {
        tcp: true,
        udp: true,
        raw: true,
        mptcp: true,
        packet: true,
    };

    /// From the bytes of `protocols` and `sockstat`. A protocol whose line
    /// is missing or unreadable counts as in use: only a count of 0 read
    /// from the kernel leaves a dump out.
    pub fn parse(protocols: &[u8], sockstat: &[u8]) -> InUse {
        let mut counts: HashMap<&[u8], u64> = HashMap::new();
        let mut lines = protocols.split(|&b| b == b'\n');
        // The header names the column: `protocol  size sockets  memory …`.
        let column = lines.next().and_then(|h| {
            h.split(u8::is_ascii_whitespace)
                .filter(|w| !w.is_empty())
                .position(|w| w == b"sockets")
        });
        if let Some(column) = column {
            for line in lines {
                let mut words = line
                    .split(u8::is_ascii_whitespace)
                    .filter(|w| !w.is_empty());
                let Some(name) = words.next() else {
                    continue;
                };
                if let Some(n) = words.nth(column.saturating_sub(1)).and_then(number) {
                    counts.insert(name, n);
                }
            }
        }
        let used = |names: &[&[u8]]| names.iter().any(|n| counts.get(n).is_none_or(|&c| c > 0));
        // `TCP: inuse N orphan N tw N …`: the TIME_WAIT count of the namespace.
        let tw = sockstat
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(b"TCP:"))
            .and_then(|l| {
                let mut words = l.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty());
                while let Some(w) = words.next() {
                    if w == b"tw" {
                        return words.next().and_then(number);
                    }
                }
                None
            });
        InUse {
            tcp: used(&[b"TCP", b"TCPv6"]) || tw.is_none_or(|n| n > 0),
            udp: used(&[b"UDP", b"UDPv6"]),
            raw: used(&[b"RAW", b"RAWv6"]),
            mptcp: used(&[b"MPTCP", b"MPTCPv6"]),
            packet: used(&[b"PACKET"]),
        }
    }

    /// Read from the `net` directory `dir` of a process or thread in the
    /// namespace; [`InUse::ALL`] when either file can't be read.
    pub fn read(dir: &Path) -> InUse {
        match (
            std::fs::read(dir.join("protocols")),
            std::fs::read(dir.join("sockstat")),
        ) {
            (Ok(p), Ok(s)) => InUse::parse(&p, &s),
            _ => InUse::ALL,
        }
    }

    /// `query` without the kinds this namespace has none of.
    pub fn narrow(self, query: &Query) -> Query {
        Query {
            tcp: query.tcp && self.tcp,
            udp: query.udp && self.udp,
            raw: query.raw && self.raw,
            mptcp: query.mptcp && self.mptcp,
            packet: query.packet && self.packet,
            ..*query
        }
    }
}

fn number(w: &[u8]) -> Option<u64> {
    std::str::from_utf8(w).ok()?.parse().ok()
}

/// One namespace's job: the socket kept from before, if any.
struct Job<'a> {
    found: &'a Found,
    kept: Option<Arc<Netlink>>,
}

/// What one namespace gave.
enum Got {
    /// Its sockets, and the netlink socket opened for them (to keep).
    Listed(Vec<Socket>, Option<Netlink>),
    /// Gone since it was found.
    Gone,
    /// Neither entered nor read.
    Refused,
    /// The kept socket failed: enter afresh.
    Stale,
}

/// Dumps every namespace of `others` (none the caller's own) as `opts`
/// says; `present` is every namespace found, whose kept sockets stay.
pub fn dump(others: &[Found], present: &HashSet<u64>, opts: &Options, kept: &Kept) -> Listed {
    let mut held = std::mem::take(&mut *kept.0.lock().unwrap_or_else(|p| p.into_inner()));
    held.retain(|inode, _| present.contains(inode));
    let jobs: Vec<Job<'_>> = others
        .iter()
        .map(|found| Job {
            found,
            kept: held.get(&found.netns.inode).cloned(),
        })
        .collect();
    let mut got = netns::run_each(
        &jobs,
        netns::workers(),
        |job| job.kept.is_none().then_some(job.found.path.as_path()),
        |job, entered| dump_one(job, entered, opts),
    );
    // A kept socket that failed is dropped and its namespace entered afresh.
    let stale: Vec<Job<'_>> = jobs
        .iter()
        .zip(&got)
        .filter(|(_, g)| matches!(g, Some(Got::Stale)))
        .map(|(job, _)| Job {
            found: job.found,
            kept: None,
        })
        .collect();
    if !stale.is_empty() {
        let mut again = netns::run_each(
            &stale,
            netns::workers(),
            |job| Some(job.found.path.as_path()),
            |job, entered| dump_one(job, entered, opts),
        )
        .into_iter();
        for g in &mut got {
            if matches!(g, Some(Got::Stale)) {
                *g = again.next().flatten();
            }
        }
    }
    let mut listed = Listed::default();
    let total: usize = got
        .iter()
        .map(|g| match g {
            Some(Got::Listed(s, _)) => s.len(),
            _ => 0,
        })
        .sum();
    listed.sockets.reserve_exact(total);
    for (job, g) in jobs.iter().zip(got) {
        let inode = job.found.netns.inode;
        match g {
            Some(Got::Listed(mut sockets, opened)) => {
                listed.sockets.append(&mut sockets);
                if let Some(nl) = opened
                    && held.len() < KEEP_MAX
                {
                    held.insert(inode, Arc::new(nl));
                }
            }
            Some(Got::Gone) => {
                held.remove(&inode);
            }
            Some(Got::Refused | Got::Stale) | None => {
                held.remove(&inode);
                listed.refused += 1;
            }
        }
    }
    *kept.0.lock().unwrap_or_else(|p| p.into_inner()) = held;
    listed
}

/// One namespace, on a worker: through its kept socket, or (entered, when
/// `entered` is `Ok`) a socket opened now, or a member's `/proc/<pid>/net`.
fn dump_one(job: &Job<'_>, entered: std::io::Result<()>, opts: &Options) -> Got {
    let found = job.found;
    let inside = job.kept.is_none();
    let opened = match &job.kept {
        Some(_) => None,
        None => match entered {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Got::Gone,
            Err(_) => return procnet_of(found, opts),
            Ok(()) => match Netlink::open() {
                Ok(nl) => Some(nl),
                Err(_) => return procnet_of(found, opts),
            },
        },
    };
    let Some(nl) = job.kept.as_deref().or(opened.as_ref()) else {
        return Got::Refused;
    };
    // The namespace's own /proc/net: this thread's when it is in it, else
    // that of a member still in it (a namespace with none is dumped whole).
    let net_dir = if inside {
        Some(Path::new("/proc/thread-self/net").to_path_buf())
    } else {
        found
            .pids
            .iter()
            .find(|&&pid| netns::of_pid(pid) == Some(found.netns.inode))
            .map(|pid| Path::new(&format!("/proc/{pid}/net")).to_path_buf())
    };
    let query = net_dir
        .as_deref()
        .map_or(InUse::ALL, InUse::read)
        .narrow(&opts.query);
    let mut sockets = Vec::new();
    if nl.collect_with(&query, opts.detail, &mut sockets).is_err() {
        return if inside { Got::Refused } else { Got::Stale };
    }
    if query.raw
        && !nl.raw_supported()
        && let Some(dir) = &net_dir
    {
        let raw_only = Query {
            tcp: false,
            udp: false,
            unix: false,
            packet: false,
            netlink: false,
            mptcp: false,
            ..query
        };
        // A member that exits meanwhile takes its raw sockets' file
        // with it: the namespace's other sockets stay listed.
        let mut raw = Vec::new();
        if ProcNet::at(dir)
            .with_detail(opts.detail)
            .collect(&raw_only, &mut raw)
            .is_ok()
        {
            sockets.append(&mut raw);
        }
    }
    // Interface names are the namespace's own: asked from inside it.
    if query.packet && sockets.iter().any(|s| s.bound_if != 0) {
        let names = if inside {
            super::netlink::link_names().ok()
        } else {
            netns::run_in(&found.path, super::netlink::link_names)
                .ok()
                .and_then(Result::ok)
        };
        if let Some(names) = names {
            super::netlink::fill_interface_names(&mut sockets, &names);
        }
    }
    for s in &mut sockets {
        s.netns = Some(Arc::clone(&found.netns));
    }
    Got::Listed(sockets, opened)
}

/// The sockets of namespace `found` from a member's `/proc/<pid>/net`
/// (entering it was refused), tagged; refused when no member's could be read.
fn procnet_of(found: &Found, opts: &Options) -> Got {
    for pid in &found.pids {
        let mut got = Vec::new();
        let mut notes = Vec::new();
        let read = ProcNet::at(format!("/proc/{pid}/net"))
            .with_detail(opts.detail)
            .collect_noting(&opts.query, &mut got, &mut notes);
        if read.is_ok() {
            for s in &mut got {
                s.netns = Some(Arc::clone(&found.netns));
            }
            return Got::Listed(got, None);
        }
    }
    Got::Refused
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap in a test is a failed test
mod tests {
    use super::*;

    const PROTOCOLS: &[u8] = b"protocol  size sockets  memory press maxhdr  slab module     cl co di ac io in de sh ss gs se re sp bi br ha uh gp em
PACKET    1600      0      -1   NI       0   no   kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n
MPTCPv6   2064      0       0   no     320   yes  kernel      y  n  y  y  y  y  y  y  n  n  y  y  y  n  y  y  y  n  n
RAWv6     1344      2      -1   NI       0   yes  kernel      y  y  y  n  y  y  y  n  y  y  y  y  n  y  y  y  y  n  n
UDPv6     1472      0       1   NI       0   yes  kernel      y  y  y  n  y  y  y  n  n  n  y  y  y  y  n  n  y  y  n
TCPv6     2432      3       0   no     320   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y
UNIX      1152     12      -1   NI       0   yes  kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n
MPTCP     1936      0       0   no     320   yes  kernel      y  n  y  y  y  y  y  y  n  n  y  y  y  n  y  y  y  n  n
RAW       1152      0      -1   NI       0   yes  kernel      y  y  y  n  y  y  y  n  y  y  y  y  n  y  y  y  y  n  n
UDP       1344      0       1   NI       0   yes  kernel      y  y  y  n  y  y  y  n  n  n  y  y  y  y  y  n  y  y  n
TCP       2304      0       0   no     320   yes  kernel      y  y  y  y  y  y  y  y  y  y  y  y  y  n  y  y  y  y  y
NETLINK   1096     17      -1   NI       0   no   kernel      n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n  n
";

    fn sockstat(tw: u32) -> Vec<u8> {
        format!(
            "sockets: used 40\nTCP: inuse 0 orphan 0 tw {tw} alloc 100005 mem 0\nUDP: inuse 0 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n"
        )
        .into_bytes()
    }

    #[test]
    fn counts_of_zero_leave_dumps_out() {
        let u = InUse::parse(PROTOCOLS, &sockstat(0));
        assert_eq!(
            u,
            InUse {
                tcp: true, // TCPv6 3
                udp: false,
                raw: true, // RAWv6 2
                mptcp: false,
                packet: false,
            }
        );
    }

    #[test]
    fn time_wait_alone_keeps_tcp() {
        let no_tcp = String::from_utf8_lossy(PROTOCOLS)
            .replace("TCPv6     2432      3", "TCPv6     2432      0");
        assert!(!InUse::parse(no_tcp.as_bytes(), &sockstat(0)).tcp);
        assert!(InUse::parse(no_tcp.as_bytes(), &sockstat(4)).tcp);
        // No TIME_WAIT count read: TCP is dumped.
        assert!(InUse::parse(no_tcp.as_bytes(), b"").tcp);
    }

    #[test]
    fn what_is_not_read_is_dumped() {
        assert_eq!(InUse::parse(b"", b""), InUse::ALL);
        assert_eq!(
            InUse::parse(b"garbage\nTCP x y\n", &sockstat(0)),
            InUse::ALL
        );
        // A protocol whose line is missing counts as in use.
        let u = InUse::parse(
            b"protocol  size sockets\nTCP 1 0\nTCPv6 1 0\n",
            &sockstat(0),
        );
        assert!(!u.tcp);
        assert!(u.udp && u.raw && u.mptcp && u.packet);
    }

    #[test]
    fn narrowing_keeps_the_rest_of_the_query() {
        let none = InUse {
            tcp: false,
            udp: false,
            raw: false,
            mptcp: false,
            packet: false,
        };
        let q = Query {
            packet: true,
            netlink: true,
            mptcp: true,
            ..Query::default()
        };
        let n = none.narrow(&q);
        assert!(!n.tcp && !n.udp && !n.raw && !n.mptcp && !n.packet);
        assert!(n.unix && n.netlink && n.ipv4 && n.ipv6);
        assert_eq!(n.states, q.states);
        assert_eq!(InUse::ALL.narrow(&q), q);
    }
}
