//! The processes that hold sockets, and which of their descriptors do.

use crate::text::Text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// File descriptor number in that process.
    pub fd: u32,
}

/// What is known of a process that holds sockets; read once per process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// Short name (`/proc/<pid>/comm`, at most 15 bytes), as the process set it.
    pub name: Text,
    /// Full command line, arguments joined by spaces; empty for kernel threads.
    pub cmdline: Text,
    /// Real user id.
    pub uid: Option<u32>,
    /// User name for `uid`, or the number when the name is unknown.
    pub user: Option<Text>,
    /// Effective user id: whose rights the process has (differs from `uid`
    /// for a setuid program).
    pub euid: Option<u32>,
    /// User name for `euid`, or the number when the name is unknown.
    pub euser: Option<Text>,
    /// Executable path (`/proc/<pid>/exe`, with the kernel's ` (deleted)`
    /// mark when the file is gone), `None` when it can't be read.
    pub exe: Option<Text>,
    /// The container (or sandbox) it runs in, from its cgroup and the
    /// runtime's state files; `None` when it runs in none or it is unknown.
    pub container: Option<super::Container>,
    /// The systemd unit it runs in (`nginx.service`, `session-3.scope`),
    /// from its cgroup; `None` when none or unknown.
    pub unit: Option<Text>,
}

impl Process {
    /// The user whose rights the process has: the effective user, or the
    /// real one when the effective one is unknown. What people are shown.
    pub fn shown_user(&self) -> Option<&Text> {
        self.euser.as_ref().or(self.user.as_ref())
    }

    /// The effective uid, or the real one when the effective one is unknown.
    pub fn effective_uid(&self) -> Option<u32> {
        self.euid.or(self.uid)
    }
}
