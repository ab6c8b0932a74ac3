//! Reading a saved listing back into a [`Snapshot`].

use std::collections::HashSet;
use std::net::IpAddr;

use serde::Deserialize;

use std::sync::Arc;

use crate::model::{
    CongName, Container, Endpoint, Family, NetlinkInfo, Netns, Owner, PacketFanout, PacketInfo,
    PacketMembership, PacketRing, Process, Proto, Runtime, SkMemInfo, Snapshot, Socket,
    SocketExtra, Source, TcpInfo, TcpState, Timer, TimerKind, UnixType,
};
use crate::text::Text;

use super::tcp_info_fields;

/// A listing read back.
#[derive(Clone, Debug, Default)]
pub struct ReadListing {
    /// The sockets (with any details they carry) and the processes that
    /// hold them; [`Source::File`].
    pub snapshot: Snapshot,
    /// Whether the listing carries owner data: some socket has an `owners`
    /// list (a listing saved without `-p` says nothing about owners).
    pub owners_known: bool,
}

/// Parses a saved JSON listing (what [`super::Listing::write`] writes, or an
/// older version of it: fields added since may be missing). The error is
/// one line saying what and where (`socket 3: bad state`).
///
/// Derived fields (`service`, `change`) are not read. A process's details
/// are taken from the first socket that lists its pid.
pub fn read_listing(text: &str) -> Result<ReadListing, String> {
    let mut state = Listing {
        snap: Snapshot {
            source: Source::File,
            ..Snapshot::default()
        },
        owners_known: false,
        netns: Default::default(),
        bad: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let read = serde::Deserializer::deserialize_seq(&mut de, &mut state).and_then(|()| de.end());
    if let Some(bad) = state.bad.take() {
        return Err(bad);
    }
    read.map_err(|e| e.to_string())?;
    Ok(ReadListing {
        snapshot: state.snap,
        owners_known: state.owners_known,
    })
}

#[derive(Deserialize)]
pub(super) struct SocketIn {
    proto: String,
    family: String,
    #[serde(rename = "type")]
    unix_type: Option<String>,
    local: EndpointIn,
    /// Null for packet sockets.
    #[serde(default)]
    remote: Option<EndpointIn>,
    state: String,
    #[serde(default)]
    recv_q: u32,
    #[serde(default)]
    send_q: u32,
    #[serde(default)]
    uid: Option<u32>,
    #[serde(default)]
    inode: u64,
    /// Absent (older files, non-IPv6 sockets) or null: not known.
    #[serde(default)]
    v6only: Option<bool>,
    #[serde(default)]
    cookie: u64,
    #[serde(default, deserialize_with = "owners_in")]
    owners: Option<Vec<OwnerAt>>,
    #[serde(default)]
    owners_hidden: Option<bool>,
    #[serde(default)]
    tcp_info: Option<TcpInfoIn>,
    #[serde(default)]
    memory: Option<MemoryIn>,
    #[serde(default)]
    timer: Option<TimerIn>,
    #[serde(default)]
    netns: Option<NetnsIn>,
    #[serde(default)]
    packet: Option<PacketIn>,
    #[serde(default)]
    netlink: Option<NetlinkIn>,
    #[serde(default)]
    socket_filter: Option<SockFilterIn>,
    #[serde(default)]
    cgroup: Option<CgroupIn>,
    #[serde(default)]
    forwards_to: Option<ForwardIn>,
}

#[derive(Deserialize)]
struct ForwardIn {
    #[serde(default)]
    netns: Option<NetnsIn>,
    #[serde(default)]
    container: Option<ContainerIn>,
    #[serde(default)]
    addr: Option<IpAddr>,
    #[serde(default)]
    port: Option<u16>,
}

#[derive(Deserialize)]
struct CgroupIn {
    id: u64,
    path: Text,
    #[serde(default)]
    container: Option<ContainerIn>,
    #[serde(default)]
    unit: Option<Text>,
}

#[derive(Deserialize)]
struct PacketIn {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    interface: Option<Text>,
    #[serde(default)]
    memberships: Vec<MemberIn>,
    #[serde(default)]
    fanout: Option<FanoutIn>,
    #[serde(default)]
    rx_ring: Option<RingIn>,
    #[serde(default)]
    tx_ring: Option<RingIn>,
    #[serde(default)]
    filter: Option<FilterIn>,
    #[serde(default)]
    version: u32,
}

#[derive(Deserialize)]
struct MemberIn {
    ifindex: u32,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    count: u32,
}

#[derive(Deserialize)]
struct FanoutIn {
    id: u16,
    mode: u16,
}

#[derive(Deserialize)]
struct RingIn {
    block_size: u32,
    block_nr: u32,
    frame_size: u32,
    frame_nr: u32,
}

#[derive(Deserialize)]
struct FilterIn {
    attached: bool,
    #[serde(default)]
    instructions: Option<u32>,
}

#[derive(Deserialize)]
struct SockFilterIn {
    kind: String,
    #[serde(default)]
    instructions: Option<u32>,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
struct NetlinkIn {
    #[serde(default)]
    groups: Vec<u32>,
    #[serde(default)]
    dst_group: u32,
}

impl PacketIn {
    fn into_model(self) -> Option<PacketInfo> {
        let ring = |r: RingIn| PacketRing {
            block_size: r.block_size,
            block_nr: r.block_nr,
            frame_size: r.frame_size,
            frame_nr: r.frame_nr,
        };
        let mut memberships = Vec::new();
        for m in self.memberships {
            let kind = ["multicast", "promisc", "allmulti", "unicast"]
                .iter()
                .position(|k| *k == m.kind)
                .and_then(|k| u16::try_from(k).ok())?;
            memberships.push(PacketMembership {
                ifindex: m.ifindex,
                kind,
                count: m.count,
            });
        }
        Some(PacketInfo {
            kind: self.kind.parse().ok()?,
            interface: self.interface,
            memberships,
            fanout: self.fanout.map(|f| PacketFanout {
                id: f.id,
                mode: f.mode,
            }),
            rx_ring: self.rx_ring.map(ring),
            tx_ring: self.tx_ring.map(ring),
            filter: self
                .filter
                .map(|f| if f.attached { f.instructions } else { None }),
            version: self.version,
        })
    }
}

/// One holder as read. The process's details are kept only the first time
/// its pid appears in a socket's list (later ones would be ignored anyway),
/// so a list of a million holders of one process costs 16 bytes each.
struct OwnerAt {
    pid: u32,
    fd: u32,
    details: Option<Box<OwnerIn>>,
}

/// Reads an `owners` list (or null) into [`OwnerAt`]s, one holder at a time.
fn owners_in<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<OwnerAt>>, D::Error> {
    struct List;
    impl<'de> serde::de::Visitor<'de> for List {
        type Value = Option<Vec<OwnerAt>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of owners or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            while let Some(o) = seq.next_element::<OwnerIn>()? {
                let (pid, fd) = (o.pid, o.fd);
                let details = seen.insert(pid).then(|| Box::new(o));
                out.push(OwnerAt { pid, fd, details });
            }
            Ok(Some(out))
        }
    }
    d.deserialize_option(List)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EndpointIn {
    Inet {
        addr: IpAddr,
        port: u16,
        /// A host name found with `--resolve`.
        #[serde(default)]
        name: Option<Text>,
    },
    Unix {
        path: Option<Text>,
        inode: u64,
    },
    Link {
        protocol_number: u16,
        ifindex: u32,
    },
    Netlink {
        protocol_number: u8,
        portid: u32,
    },
}

#[derive(Deserialize)]
struct OwnerIn {
    pid: u32,
    fd: u32,
    name: Option<Text>,
    user: Option<Text>,
    uid: Option<u32>,
    #[serde(default)]
    euser: Option<Text>,
    #[serde(default)]
    euid: Option<u32>,
    cmdline: Option<Text>,
    exe: Option<Text>,
    #[serde(default)]
    container: Option<ContainerIn>,
    #[serde(default)]
    unit: Option<Text>,
}

#[derive(Deserialize)]
struct ContainerIn {
    runtime: String,
    id: Text,
    #[serde(default)]
    name: Option<Text>,
    #[serde(default)]
    image: Option<Text>,
    #[serde(default)]
    pod: Option<Text>,
    #[serde(default)]
    pod_namespace: Option<Text>,
}

impl ContainerIn {
    fn into_model(self) -> Option<Container> {
        Some(Container {
            runtime: self.runtime.parse::<Runtime>().ok()?,
            id: self.id,
            name: self.name,
            image: self.image,
            pod: self.pod,
            pod_namespace: self.pod_namespace,
        })
    }
}

#[derive(Deserialize)]
struct NetnsIn {
    inode: u64,
    #[serde(default)]
    name: Option<Text>,
    #[serde(default)]
    host: bool,
    #[serde(default)]
    container: Option<ContainerIn>,
}

macro_rules! tcp_info_in {
    ($($name:ident: $ty:ty),* $(,)?) => {
        /// The `tcp_info` object as read: every field optional (absent or
        /// null: 0, or the kernel's "unlimited" for the fields that have one).
        #[derive(Deserialize)]
        struct TcpInfoIn {
            #[serde(default)]
            congestion: Option<String>,
            $(#[serde(default)] $name: Option<$ty>,)*
        }

        impl TcpInfoIn {
            /// The model's tcp_info and congestion algorithm. What is not
            /// written (`len`, the D-SACK and reordering counters) reads 0.
            fn into_model(self) -> (TcpInfo, Option<CongName>) {
                // Null is the kernel's "unlimited" where a field has one
                // (`pacing_rate`, `snd_ssthresh`), 0 elsewhere.
                let info = TcpInfo {
                    $($name: self
                        .$name
                        .unwrap_or_else(|| <$ty as super::Limited>::unlimited(stringify!($name))),)*
                    ..TcpInfo::default()
                };
                (info, self.congestion.map(|c| CongName::from_bytes(c.as_bytes())))
            }
        }
    };
}
tcp_info_fields!(tcp_info_in);

#[derive(Deserialize)]
struct MemoryIn {
    #[serde(default)]
    rmem_alloc: u32,
    #[serde(default)]
    rcvbuf: u32,
    #[serde(default)]
    wmem_alloc: u32,
    #[serde(default)]
    sndbuf: u32,
    #[serde(default)]
    fwd_alloc: u32,
    #[serde(default)]
    wmem_queued: u32,
    #[serde(default)]
    optmem: u32,
    #[serde(default)]
    backlog: u32,
    #[serde(default)]
    drops: u32,
}

#[derive(Deserialize)]
struct TimerIn {
    kind: String,
    #[serde(default)]
    expires_ms: u64,
    #[serde(default)]
    retrans: u8,
}

/// What a listing read so far holds.
pub(super) struct Listing {
    pub(super) snap: Snapshot,
    pub(super) owners_known: bool,
    /// The namespaces read so far, by inode.
    pub(super) netns: std::collections::HashMap<u64, Arc<Netns>>,
    /// A socket that parsed as JSON but not as a socket: the message.
    pub(super) bad: Option<String>,
}

impl<'de> serde::de::Visitor<'de> for &mut Listing {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of sockets")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while let Some(s) = seq.next_element::<SocketIn>()? {
            if let Err(msg) = self.add(i, s) {
                self.bad = Some(msg.clone());
                return Err(serde::de::Error::custom(msg));
            }
            i += 1;
        }
        Ok(())
    }
}

impl Listing {
    /// Turns socket number `i` (from 0) into the model.
    pub(super) fn add(&mut self, i: usize, s: SocketIn) -> Result<(), String> {
        let processes = &mut self.snap.processes;
        self.owners_known |= s.owners.is_some();
        let at = |what: &str| format!("socket {}: bad {what}", i + 1);
        let proto: Proto = s.proto.parse().map_err(|_| at("proto"))?;
        let family: Family = s.family.parse().map_err(|_| at("family"))?;
        let unix_type = match s.unix_type.as_deref() {
            None => None,
            Some(t) => Some(t.parse::<UnixType>().map_err(|_| at("type"))?),
        };
        let state: TcpState = s.state.parse().map_err(|_| at("state"))?;
        let timer = match s.timer {
            None => None,
            Some(t) => Some(Timer {
                kind: t.kind.parse::<TimerKind>().map_err(|_| at("timer kind"))?,
                expires_ms: t.expires_ms,
                retrans: t.retrans,
            }),
        };
        let (tcp_info, congestion) = match s.tcp_info.map(TcpInfoIn::into_model) {
            Some((info, cong)) => (Some(info), cong),
            None => (None, None),
        };
        let memory = s.memory.map(|m| SkMemInfo {
            rmem_alloc: m.rmem_alloc,
            rcvbuf: m.rcvbuf,
            wmem_alloc: m.wmem_alloc,
            sndbuf: m.sndbuf,
            fwd_alloc: m.fwd_alloc,
            wmem_queued: m.wmem_queued,
            optmem: m.optmem,
            backlog: m.backlog,
            drops: m.drops,
        });
        let packet = match s.packet {
            None => None,
            Some(p) => Some(p.into_model().ok_or_else(|| at("packet"))?),
        };
        let extra = SocketExtra {
            tcp_info,
            congestion,
            memory,
            timer,
            packet,
            netlink: s.netlink.map(|n| NetlinkInfo {
                groups: n.groups,
                dst_group: n.dst_group,
            }),
            sock_filter: match s.socket_filter {
                None => None,
                Some(f) => Some(
                    crate::model::SockFilter::from_parts(
                        &f.kind,
                        f.instructions,
                        f.reason.as_deref(),
                    )
                    .ok_or_else(|| at("socket_filter"))?,
                ),
            },
        };
        let mut owners = Vec::new();
        for o in s.owners.unwrap_or_default() {
            owners.push(Owner {
                pid: o.pid,
                fd: o.fd,
            });
            if let Some(d) = o.details {
                processes.entry(o.pid).or_insert_with(|| Process {
                    pid: o.pid,
                    name: d.name.unwrap_or_default(),
                    cmdline: d.cmdline.unwrap_or_default(),
                    uid: d.uid,
                    user: d.user,
                    euid: d.euid,
                    euser: d.euser,
                    exe: d.exe,
                    container: d.container.and_then(ContainerIn::into_model),
                    unit: d.unit,
                });
            }
        }
        let cgroup_id = match s.cgroup {
            Some(c) => {
                self.snap.cgroups.insert(
                    c.id,
                    crate::model::Cgroup {
                        path: c.path,
                        container: c.container.and_then(ContainerIn::into_model),
                        unit: c.unit,
                    },
                );
                c.id
            }
            None => 0,
        };
        if let Some(f) = s.forwards_to {
            self.snap.forwards.insert(
                s.inode,
                crate::model::ForwardTo {
                    netns: f.netns.map(|n| {
                        Arc::new(Netns {
                            inode: n.inode,
                            name: n.name,
                            host: n.host,
                            container: n.container.and_then(ContainerIn::into_model),
                        })
                    }),
                    container: f.container.and_then(ContainerIn::into_model),
                    addr: f.addr,
                    port: f.port,
                },
            );
        }
        let names = &mut self.snap.resolved.names;
        self.snap.sockets.push(Socket {
            cgroup_id,
            proto,
            family,
            bound_if: match s.local {
                EndpointIn::Link { ifindex, .. } => ifindex,
                _ => 0,
            },
            local: endpoint(s.local, names),
            remote: match s.remote {
                Some(e) => endpoint(e, names),
                // Only a packet socket has no remote end.
                None if proto == Proto::Packet => Endpoint::Link {
                    protocol: 0,
                    ifindex: 0,
                },
                None => return Err(at("remote")),
            },
            state,
            recv_q: s.recv_q,
            send_q: s.send_q,
            uid: s.uid,
            inode: s.inode,
            unix_type,
            owners,
            owners_hidden: s.owners_hidden.unwrap_or(false),
            cookie: s.cookie,
            v6only: if family == Family::Inet6 {
                s.v6only
            } else {
                None
            },
            extra: (extra != SocketExtra::default()).then(|| Box::new(extra)),
            netns: s.netns.map(|n| {
                // One shared value per namespace, as a live dump gives.
                let inode = n.inode;
                let ns = Netns {
                    inode,
                    name: n.name,
                    host: n.host,
                    container: n.container.and_then(ContainerIn::into_model),
                };
                match self.netns.get(&inode) {
                    Some(known) if **known == ns => Arc::clone(known),
                    _ => Arc::clone(self.netns.entry(inode).insert_entry(Arc::new(ns)).get()),
                }
            }),
        });
        Ok(())
    }
}

/// The model's endpoint; a name it carries goes into `names`.
fn endpoint(e: EndpointIn, names: &mut std::collections::HashMap<IpAddr, Text>) -> Endpoint {
    match e {
        EndpointIn::Inet { addr, port, name } => {
            if let Some(n) = name {
                names.insert(addr.to_canonical(), n);
            }
            Endpoint::Inet { addr, port }
        }
        EndpointIn::Unix { path, inode } => Endpoint::Unix { path, inode },
        EndpointIn::Link {
            protocol_number,
            ifindex,
        } => Endpoint::Link {
            protocol: protocol_number,
            ifindex,
        },
        EndpointIn::Netlink {
            protocol_number,
            portid,
        } => Endpoint::Netlink {
            protocol: protocol_number,
            portid,
        },
    }
}
