//! What `portscope pid` shows of a process beyond what a listing needs:
//! its parent, start time, threads, control group and where its
//! executable lives. Read for one process at a time, never in a walk.

use crate::text::Text;

/// The details of one process a listing does not need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessDetails {
    /// Parent process id (0 for the first process of a pid namespace).
    pub ppid: Option<u32>,
    /// When the process started, in seconds since the Unix epoch.
    pub start_unix: Option<u64>,
    /// Number of threads.
    pub threads: Option<u32>,
    /// The control group path, as the kernel gives it (the unified
    /// hierarchy's, else the first listed); chosen in part by whoever made
    /// the group.
    pub cgroup: Option<Text>,
    /// Whether the executable's file has been deleted (or replaced) since
    /// the process started it.
    pub exe_deleted: bool,
    /// Whether the directory holding the executable is writable by every
    /// user (`None` when it could not be looked at).
    pub exe_dir_world_writable: Option<bool>,
}
