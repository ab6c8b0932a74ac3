//! Where a socket lives and who is behind its holders: the network
//! namespace ([`Netns`]), and the container ([`Container`]) or systemd unit
//! a process runs in. Plain data; `collect` finds them.

use crate::text::Text;

/// A network namespace, as a socket carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Netns {
    /// The namespace's inode (what `/proc/<pid>/ns/net` links to): its
    /// identity while it exists.
    pub inode: u64,
    /// The name it is bind-mounted under (`ip netns` names, docker's
    /// sandbox ids), or the container whose namespace it is; `None` when it
    /// has neither.
    pub name: Option<Text>,
    /// Whether this is the host's namespace (that of process 1).
    pub host: bool,
    /// The container whose namespace this is (that of a process in it),
    /// so that a socket with no visible owner still says whose it is.
    pub container: Option<Container>,
}

impl Netns {
    /// The host's namespace, with this inode.
    pub fn host(inode: u64) -> Netns {
        Netns {
            inode,
            name: None,
            host: true,
            container: None,
        }
    }
}

/// The software that runs a container, as its cgroup says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Runtime {
    /// Docker (moby).
    Docker,
    /// Podman (libpod).
    Podman,
    /// containerd, directly or under Kubernetes (`cri-containerd-<id>`).
    Containerd,
    /// CRI-O (`crio-<id>`), under Kubernetes.
    CriO,
    /// LXC / LXD / Incus.
    Lxc,
    /// A flatpak application's sandbox.
    Flatpak,
    /// A snap application's confinement.
    Snap,
}

impl Runtime {
    /// Every runtime.
    pub const ALL: [Runtime; 7] = [
        Runtime::Docker,
        Runtime::Podman,
        Runtime::Containerd,
        Runtime::CriO,
        Runtime::Lxc,
        Runtime::Flatpak,
        Runtime::Snap,
    ];

    /// The name used in JSON and tables.
    pub const fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Lxc => "lxc",
            Runtime::Flatpak => "flatpak",
            Runtime::Snap => "snap",
        }
    }
}

super::from_as_str!(Runtime, "runtime");

/// A container (or application sandbox) a process runs in.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Container {
    /// Which runtime.
    pub runtime: Runtime,
    /// The runtime's id for it (a 64-digit hex id for docker, podman and
    /// CRI; the container name for LXC; the application id for flatpak and
    /// snap).
    pub id: Text,
    /// Its name, from the runtime's state files; `None` when unreadable.
    pub name: Option<Text>,
    /// Its image, from the runtime's state files.
    pub image: Option<Text>,
    /// The Kubernetes pod it belongs to.
    pub pod: Option<Text>,
    /// The Kubernetes namespace of that pod.
    pub pod_namespace: Option<Text>,
}

impl Container {
    /// A container known only by runtime and id.
    pub fn new(runtime: Runtime, id: impl Into<Text>) -> Container {
        Container {
            runtime,
            id: id.into(),
            name: None,
            image: None,
            pod: None,
            pod_namespace: None,
        }
    }

    /// What people call it: its name, else the first 12 characters of its id.
    pub fn label(&self) -> Text {
        match &self.name {
            Some(n) => n.clone(),
            None => {
                let id = self.id.as_bytes();
                Text::from(id.get(..12).unwrap_or(id))
            }
        }
    }
}

/// A port published by a NAT rule (a DNAT in `iptables-save` or nftables):
/// traffic to `host_port` (on `host_addr`, or any local address) goes to
/// `to_addr:to_port`, typically a container's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortMap {
    /// TCP or UDP.
    pub proto: super::Proto,
    /// The host address the rule matches; `None` for any.
    pub host_addr: Option<std::net::IpAddr>,
    /// The host port.
    pub host_port: u16,
    /// Where it goes.
    pub to_addr: std::net::IpAddr,
    /// The port there.
    pub to_port: u16,
    /// The container id a rule's comment names (netavark writes one).
    pub container_id: Option<Text>,
}

/// The NAT rules that publish ports, as far as they could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMaps {
    /// The mappings found.
    pub maps: Vec<PortMap>,
    /// Why some or all rules could not be read (no permission, no tool).
    pub unreadable: Option<String>,
}

/// Where a published host port's traffic goes: the container's namespace,
/// the container, and the inner address and port (what a forwarder's
/// socket or a DNAT rule leads to). Fields are `None` where not known.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForwardTo {
    /// The namespace of the listener inside.
    pub netns: Option<std::sync::Arc<Netns>>,
    /// The container behind the port.
    pub container: Option<Container>,
    /// The inner listener's address.
    pub addr: Option<std::net::IpAddr>,
    /// The inner port.
    pub port: Option<u16>,
}
