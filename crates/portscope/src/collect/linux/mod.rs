//! Linux: sockets from NETLINK_SOCK_DIAG or `/proc/net`, owners from
//! `/proc/<pid>/fd`; [`system::Linux`] puts them behind
//! [`System`](crate::collect::System).

pub mod cgroup;
pub mod cgroup_id;
pub mod held;
pub mod host;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod owners;
pub mod pidfd;
pub mod process;
pub mod procnet;
pub mod sock_filter;
pub mod spaces;
pub mod system;
