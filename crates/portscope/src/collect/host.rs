//! Facts about this host, beyond its sockets, that judging those sockets
//! needs: the addresses a stranger could reach it on, and what each socket
//! owner is running.
//!
//! The types are portable; the reading is done by the OS folder, through
//! [`System::host_facts`](super::System::host_facts). Not here:
//! deciding what is risky (that is [`crate::audit`]).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::model::Snapshot;
use crate::services::EphemeralRange;
use crate::text::Text;

/// An address assigned to one of this host's interfaces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostAddr {
    /// The address.
    pub addr: IpAddr,
    /// The interface's name (`eth0`), empty when unknown. Whoever made the
    /// interface chose it (any byte but `/`, `:` and blanks): escape it for people.
    pub interface: String,
    /// The interface's index, 0 when unknown.
    pub index: u32,
}

/// What is known of the executable a process runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExeFacts {
    /// The executable's path, without the kernel's ` (deleted)` mark.
    pub path: Text,
    /// Whether the file was deleted (or replaced by a new file) since the
    /// process started it.
    pub deleted: bool,
    /// Whether the directory it lives in, or one above it, is writable by
    /// every user (sticky or not), as this host's file modes say; `None`
    /// when unknown (a snapshot from a file), then [`TEMP_DIRS`] decide.
    pub world_writable_dir: Option<bool>,
}

/// The kernel's mark on the link of an executable that no longer exists.
const DELETED_MARK: &[u8] = b" (deleted)";

impl ExeFacts {
    /// Reads the bytes of a process's executable link (the kernel marks a
    /// deleted file with ` (deleted)`).
    ///
    /// ```
    /// use portscope::collect::host::ExeFacts;
    /// let e = ExeFacts::from_link(b"/usr/sbin/sshd (deleted)");
    /// assert_eq!((e.path.as_bytes(), e.deleted), (&b"/usr/sbin/sshd"[..], true));
    /// assert!(!ExeFacts::from_link(b"/usr/bin/python3").deleted);
    /// ```
    pub fn from_link(link: &[u8]) -> ExeFacts {
        match link.strip_suffix(DELETED_MARK) {
            Some(path) => ExeFacts {
                path: Text::from(path),
                deleted: true,
                world_writable_dir: None,
            },
            None => ExeFacts {
                path: Text::from(link),
                deleted: false,
                world_writable_dir: None,
            },
        }
    }

    /// Whether the executable lives in a directory anyone can write to,
    /// where installed software never does: as the host's file modes say
    /// ([`ExeFacts::world_writable_dir`]), or when those are unknown, under
    /// one of the usual scratch directories ([`TEMP_DIRS`]).
    ///
    /// ```
    /// use portscope::collect::host::ExeFacts;
    /// assert!(ExeFacts::from_link(b"/dev/shm/x").in_temp_dir());
    /// assert!(!ExeFacts::from_link(b"/tmpfoo/x").in_temp_dir());
    /// let mut e = ExeFacts::from_link(b"/srv/drop/x");
    /// e.world_writable_dir = Some(true);
    /// assert!(e.in_temp_dir());
    /// ```
    pub fn in_temp_dir(&self) -> bool {
        self.world_writable_dir.unwrap_or_else(|| {
            TEMP_DIRS.iter().any(|d| {
                self.path
                    .as_bytes()
                    .strip_prefix(d.as_bytes())
                    .is_some_and(|rest| rest.starts_with(b"/"))
            })
        })
    }
}

/// Scratch directories anyone can write to on most systems: the guess when
/// the directory's mode can't be checked.
pub const TEMP_DIRS: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

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
    /// The non-loopback addresses of each other network namespace of the
    /// snapshot, by namespace inode: what a listener there is reachable on.
    pub netns_addresses: HashMap<u64, Vec<HostAddr>>,
    /// The ports published by NAT rules.
    pub port_maps: Vec<crate::model::PortMap>,
}

impl HostFacts {
    /// The addresses a listener in namespace `netns` is reachable on: the
    /// host's for the host's namespace (or an unknown one), that
    /// namespace's own otherwise.
    pub fn addresses_in(&self, netns: Option<&crate::model::Netns>) -> &[HostAddr] {
        match netns {
            Some(n) if !n.host => self
                .netns_addresses
                .get(&n.inode)
                .map_or(&[][..], Vec::as_slice),
            _ => &self.addresses,
        }
    }

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
        .filter_map(|(&pid, p)| {
            p.exe
                .as_ref()
                .map(|e| (pid, ExeFacts::from_link(e.as_bytes())))
        })
        .collect()
}
