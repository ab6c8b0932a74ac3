//! A whole-machine snapshot: the sockets, their processes, and where they
//! came from.

use std::collections::HashMap;

use super::{Process, Socket};
use crate::text::Text;

/// Why some owners could not be seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HiddenOwners {
    /// Processes whose fd table could not be read for lack of permission.
    pub processes: u32,
    /// Sockets (in this snapshot) whose owners may be incomplete because of it.
    pub sockets: u32,
}

/// Everything seen in one pass over the machine.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The sockets, in collector order.
    pub sockets: Vec<Socket>,
    /// Details of every process that owns one of `sockets`, by pid.
    pub processes: HashMap<u32, Process>,
    /// Owners that could not be seen, and why.
    pub hidden: HiddenOwners,
    /// User names for the uids of sockets that no visible process holds
    /// (TIME_WAIT, hidden owners), filled when owners are looked up.
    pub user_names: HashMap<u32, Text>,
    /// Which source the sockets came from.
    pub source: Source,
    /// Notes for the user about this run (fallbacks taken); never errors.
    pub notes: Vec<String>,
    /// Host names for the addresses, when they were looked up (`--resolve`).
    pub resolved: super::Resolved,
    /// The cgroups of sockets no visible process holds, by id, where the
    /// id could be resolved (filled when owners are looked up).
    pub cgroups: HashMap<u64, super::Cgroup>,
    /// Published host ports' targets, by the inode of the host socket (a
    /// forwarder's listener): filled by whoever joins them
    /// ([`crate::forward::targets`]).
    pub forwards: HashMap<u64, super::ForwardTo>,
}

/// Where socket data came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// NETLINK_SOCK_DIAG.
    #[default]
    Netlink,
    /// `/proc/net/*` text files.
    Procfs,
    /// A saved snapshot (JSON) read back.
    File,
}

impl Source {
    /// Every source.
    pub const ALL: [Source; 3] = [Source::Netlink, Source::Procfs, Source::File];

    /// `netlink`, `procfs` or `file`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Netlink => "netlink",
            Source::Procfs => "procfs",
            Source::File => "file",
        }
    }
}

super::from_as_str!(Source, "source");
