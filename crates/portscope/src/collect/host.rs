//! Facts about this host, beyond its sockets, that judging those sockets
//! needs: the addresses a stranger could reach it on, and what each socket
//! owner is running.
//!
//! The types are portable; the reading is done by the OS folder. Not here:
//! deciding what is risky (that is [`crate::audit`]).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::collect::linux::host as os;
use crate::model::Snapshot;
use crate::services::EphemeralRange;

/// An address assigned to one of this host's interfaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostAddr {
    /// The address.
    pub addr: IpAddr,
    /// The interface's name (`eth0`), empty when unknown.
    pub interface: String,
    /// The interface's index, 0 when unknown.
    pub index: u32,
}

/// What is known of the executable a process runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExeFacts {
    /// The executable's path, without the kernel's ` (deleted)` mark.
    pub path: String,
    /// Whether the file was deleted (or replaced by a new file) since the
    /// process started it.
    pub deleted: bool,
}

/// The kernel's mark on the link of an executable that no longer exists.
const DELETED_MARK: &str = " (deleted)";

impl ExeFacts {
    /// Reads the text of a `/proc/<pid>/exe` link.
    ///
    /// ```
    /// use portscope::collect::host::ExeFacts;
    /// let e = ExeFacts::from_link("/usr/sbin/sshd (deleted)");
    /// assert_eq!((e.path.as_str(), e.deleted), ("/usr/sbin/sshd", true));
    /// assert!(!ExeFacts::from_link("/usr/bin/python3").deleted);
    /// ```
    pub fn from_link(link: &str) -> ExeFacts {
        match link.strip_suffix(DELETED_MARK) {
            Some(path) => ExeFacts {
                path: path.to_string(),
                deleted: true,
            },
            None => ExeFacts {
                path: link.to_string(),
                deleted: false,
            },
        }
    }

    /// Whether the executable lives in a world-writable scratch directory
    /// (`/tmp`, `/var/tmp`, `/dev/shm`), where installed software never does.
    ///
    /// ```
    /// use portscope::collect::host::ExeFacts;
    /// assert!(ExeFacts::from_link("/dev/shm/x").in_temp_dir());
    /// assert!(!ExeFacts::from_link("/tmpfoo/x").in_temp_dir());
    /// ```
    pub fn in_temp_dir(&self) -> bool {
        TEMP_DIRS.iter().any(|d| {
            self.path
                .strip_prefix(d)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// Scratch directories anyone can write to.
pub const TEMP_DIRS: [&str; 3] = ["/tmp", "/var/tmp", "/dev/shm"];

/// Facts about the host a snapshot was taken on.
#[derive(Clone, Debug, Default)]
pub struct HostFacts {
    /// This host's non-loopback interface addresses.
    pub addresses: Vec<HostAddr>,
    /// The executable of every process in the snapshot, by pid (where known).
    pub executables: HashMap<u32, ExeFacts>,
    /// Whether a socket bound to `::` also accepts IPv4 unless it asked not
    /// to (`net.ipv6.bindv6only` is 0, the default).
    pub v6_dual_stack: bool,
    /// This host's ephemeral port range.
    pub ephemeral: Option<EphemeralRange>,
    /// What could not be read, for the user; never errors.
    pub notes: Vec<String>,
}

impl HostFacts {
    /// Facts derived from the snapshot alone (executables from the saved
    /// `exe` paths), with no addresses: for a snapshot read from a file.
    pub fn from_snapshot(snap: &Snapshot) -> HostFacts {
        HostFacts {
            executables: executables_of(snap),
            v6_dual_stack: true,
            ..HostFacts::default()
        }
    }
}

/// Each process's executable, from the `exe` link text the snapshot holds.
fn executables_of(snap: &Snapshot) -> HashMap<u32, ExeFacts> {
    snap.processes
        .iter()
        .filter_map(|(&pid, p)| p.exe.as_deref().map(|e| (pid, ExeFacts::from_link(e))))
        .collect()
}

/// Gathers the facts for a snapshot just taken on this host: interface
/// addresses, the owners' executables (checked again on the live process, so
/// a file whose name merely ends in ` (deleted)` is not mistaken), the
/// dual-stack default and the ephemeral range.
///
/// Never fails: what cannot be read is left out and said in `notes`.
pub fn host_facts(snap: &Snapshot) -> HostFacts {
    let mut notes = Vec::new();
    let addresses = match os::addresses() {
        Ok((addrs, note)) => {
            notes.extend(note);
            addrs
        }
        Err(e) => {
            notes.push(format!("interface addresses unknown: {e}"));
            Vec::new()
        }
    };
    let mut executables = executables_of(snap);
    for (pid, exe) in &mut executables {
        let link = snap.processes.get(pid).and_then(|p| p.exe.as_deref());
        if let Some(deleted) = link.and_then(|l| os::exe_deleted(*pid, l)) {
            exe.deleted = deleted;
        }
    }
    HostFacts {
        addresses,
        executables,
        v6_dual_stack: os::v6_dual_stack(),
        ephemeral: crate::services::ephemeral_range(),
        notes,
    }
}

/// Whether this host's `::` sockets take IPv4 too unless they say otherwise
/// (`net.ipv6.bindv6only` is 0): the default for a socket whose own
/// [`v6only`](crate::model::Socket::v6only) flag is not known.
pub fn v6_dual_stack() -> bool {
    os::v6_dual_stack()
}
