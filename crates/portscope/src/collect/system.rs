//! The one seam to the OS: everything the layers above need from the
//! machine, as one trait. The OS folder (`linux/`) implements it for the
//! machine portscope runs on; [`Recorded`](super::Recorded) implements it from
//! a saved listing, so every command runs the same code on either.

use crate::error::Result;
use crate::model::{Process, ProcessDetails, Resolved, Snapshot, Socket, Source};
use crate::services::EphemeralRange;
use crate::text::Text;

use super::host::HostFacts;
use super::owner_map::OwnerMap;
use super::signal::{PinError, ProcessHandle};
use super::snapshot::Options;
use super::subscription::Subscription;

/// What a socket dump gives: the sockets (those the query wants, and
/// possibly more), where they came from, and notes for the user.
#[derive(Debug, Default)]
pub struct Dump {
    /// The sockets.
    pub sockets: Vec<Socket>,
    /// Which source answered.
    pub source: Source,
    /// What the user should know (a fallback taken, a part unreadable).
    pub notes: Vec<String>,
    /// The inodes of the network namespaces the dump found (dumped or
    /// left out by the scope), so that one found later only through a held
    /// fd ([`OwnerMap::netns_fds`]) is known to be new.
    pub namespaces: Vec<u64>,
}

/// Which owner walk to make.
#[derive(Clone, Copy, Debug)]
pub enum Walk<'a> {
    /// Every process's fd table, once (a one-shot listing).
    Full,
    /// Every table, noting what a later [`Walk::Since`] needs to skip the
    /// unchanged ones (the first walk of a live view).
    Counting,
    /// Only the tables that changed since this earlier walk; the others'
    /// entries are taken from it.
    Since(&'a OwnerMap),
}

/// What became of a request to close a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseOutcome {
    /// The kernel closed it; the peer got a reset.
    Closed,
    /// Not permitted (closing a socket needs CAP_NET_ADMIN).
    NotPermitted,
    /// No such socket any more.
    Gone,
    /// The OS cannot close sockets, or not sockets of this kind.
    Unsupported,
    /// The socket is one of a recorded snapshot: there is nothing to close.
    Recorded,
}

/// Everything portscope asks of the OS. Implementations must be shareable
/// between threads: a snapshot dumps sockets and walks owners at once.
pub trait System: Send + Sync {
    /// Dumps the sockets `opts.query` wants, with the details
    /// `opts.detail` asks for, from the source `opts.source` names.
    /// `hint` is the last owner walk of a live view, which a source may use
    /// to spare a walk of its own; `capacity` the number of sockets the
    /// last dump had, so a large dump is not copied while it grows.
    fn dump(&self, opts: &Options, hint: Option<&OwnerMap>, capacity: usize) -> Result<Dump>;

    /// Replaces the `extra` of each TCP socket in `sockets` with its
    /// tcp_info and congestion algorithm now, by exact match (addresses,
    /// ports and cookie), not by a dump: what a live view showing a page of
    /// 100k sockets asks for the rows it shows. A socket that closed
    /// meanwhile is left with none; other sockets are left alone.
    fn tcp_info(&self, sockets: &mut [&mut Socket]) -> Result<()>;

    /// Dumps the namespaces only an open fd holds (`held`: namespace inode
    /// and holder, from the owner walk) that `opts.netns` wants and the
    /// dump did not find (`found`); entered through the holder's fd. A
    /// system without namespaces (a recording) has none.
    fn dump_held(
        &self,
        opts: &Options,
        held: &[(u64, crate::model::Owner)],
        found: &[u64],
    ) -> Result<Dump> {
        let _ = (opts, held, found);
        Ok(Dump::default())
    }

    /// What each cgroup v2 id of `ids` names (its path, and the container
    /// and unit that says), for sockets no visible process holds; ids it
    /// cannot resolve are left out.
    fn cgroups(&self, ids: &[u64]) -> std::collections::HashMap<u64, crate::model::Cgroup> {
        let _ = ids;
        std::collections::HashMap::new()
    }

    /// Published ports' targets a recording carries (a listing saved with
    /// `forwards_to`), by host socket inode; none for a live system, whose
    /// are joined afresh ([`crate::forward::targets`]).
    fn forwards(&self) -> std::collections::HashMap<u64, crate::model::ForwardTo> {
        std::collections::HashMap::new()
    }

    /// Asks the filter attached to each raw socket (and each packet socket
    /// whose dump could not show it) of the socket itself, through one of
    /// its owners (joined already). A system that cannot (a recording)
    /// leaves what the source said.
    fn sock_filters(&self, sockets: &mut [Socket]) {
        let _ = sockets;
    }

    /// Finds which processes hold which sockets. Processes that vanish are
    /// skipped; those that may not be read are counted in
    /// [`OwnerMap::denied`].
    fn owners(&self, walk: Walk<'_>) -> Result<OwnerMap>;

    /// The details of one process; `None` when it has gone.
    fn process(&self, pid: u32) -> Result<Option<Process>>;

    /// What a listing does not need of process `pid`: parent, start time,
    /// threads, cgroup, where its executable lives. `None` when it has gone
    /// or the system cannot say (a recording).
    fn process_details(&self, _pid: u32) -> Result<Option<ProcessDetails>> {
        Ok(None)
    }

    /// Host names a recording carries for its addresses (a listing saved
    /// with `--resolve`); none for a live system, which looks names up.
    fn names(&self) -> Resolved {
        Resolved::default()
    }

    /// Every process id there is now, in order (a recording: those it has).
    fn pids(&self) -> Result<Vec<u32>> {
        Ok(Vec::new())
    }

    /// The name of user `uid`, or the number as text when it has none.
    fn user_name(&self, uid: u32) -> Text;

    /// The effective uid of the caller (whose own sockets' owners are
    /// always visible to it).
    fn euid(&self) -> u32;

    /// Facts about the host beyond its sockets, for a snapshot it gave:
    /// addresses, the owners' executables, the dual-stack default, the
    /// ephemeral range. Never fails: what cannot be known is said in notes.
    fn host_facts(&self, snap: &Snapshot) -> HostFacts;

    /// Whether a socket bound to `::` takes IPv4 too unless it asked not to.
    fn v6_dual_stack(&self) -> bool;

    /// The host's ephemeral port range, if known.
    fn ephemeral_range(&self) -> Option<EphemeralRange>;

    /// Closes one live TCP connection without touching the processes that
    /// hold it (the kernel's SOCK_DESTROY on Linux).
    fn close(&self, s: &Socket) -> Result<CloseOutcome>;

    /// The inode of the network namespace process `pid` runs in; `None`
    /// when it is gone, hidden, or the system cannot say.
    fn netns_of(&self, pid: u32) -> Option<u64> {
        let _ = pid;
        None
    }

    /// The ports published by NAT rules (DNAT), and why some could not be
    /// read; none where the system has no such rules (a recording).
    fn port_maps(&self) -> crate::model::PortMaps {
        crate::model::PortMaps::default()
    }

    /// How many fds this process has open, where the OS says; `None` when
    /// unknown (a recording).
    fn open_fds(&self) -> Option<u64> {
        None
    }

    /// Subscribes to the OS's socket-destroy notifications in the
    /// namespace the caller is in (Linux: the sock_diag destroy multicast
    /// groups). `rcvbuf` asks for a receive buffer of that many bytes.
    /// A system without them (a recording) says
    /// [`Error::NetlinkUnavailable`](crate::Error::NetlinkUnavailable).
    fn subscribe(&self, rcvbuf: Option<usize>) -> Result<Box<dyn Subscription>> {
        let _ = rcvbuf;
        Err(crate::Error::NetlinkUnavailable(std::io::Error::other(
            "this source has no socket-destroy notifications",
        )))
    }

    /// Pins process `pid` as it is now, so that a later signal reaches it
    /// and never a process that got its pid after it exited.
    fn pin(&self, pid: u32) -> std::result::Result<ProcessHandle, PinError>;
}
