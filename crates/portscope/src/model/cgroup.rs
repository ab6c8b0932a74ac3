//! The cgroup a socket was created in, and what it says (container, unit).

use super::Container;
use crate::text::Text;

/// A cgroup v2 directory, named by the id sockets carry
/// ([`Socket::cgroup_id`](super::Socket::cgroup_id)), and where it says the
/// socket's creator ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cgroup {
    /// The path below the cgroup v2 root (`/system.slice/nginx.service`);
    /// directory names are chosen by whoever made them.
    pub path: Text,
    /// The container the path names, if any.
    pub container: Option<Container>,
    /// The systemd unit the path names, if any.
    pub unit: Option<Text>,
}
