//! The JSON schema, both directions: a listing (one array, one object per
//! socket, with its owners and details) and an audit report. What is written
//! here is what README's JSON section promises and what
//! `schema/listing.schema.json` and `schema/audit.schema.json` describe;
//! fields may be added, never renamed or removed.
//!
//! Writing streams: one object at a time, straight from the model, with no
//! intermediate tree. Reading is bounded by its input (the caller caps it)
//! and turns each socket into the model as it is read, never into a generic
//! JSON tree, so a file that is not a listing fails at its first wrong item.
//!
//! [`Text`] fields keep their exact form: a string when the bytes are UTF-8,
//! otherwise `{"lossy": …, "hex": …}`.
//!
//! ```
//! use portscope::json::{self, Listing};
//! use portscope::model::*;
//!
//! let mut snap = Snapshot::default();
//! snap.sockets.push(Socket {
//!     local: Endpoint::v4([127, 0, 0, 1].into(), 8080),
//!     state: TcpState::Listen,
//!     ..Socket::default()
//! });
//! let mut out = Vec::new();
//! Listing::new(&snap).write(&mut out, |_| None)?;
//! let back = json::read_listing(std::str::from_utf8(&out).unwrap()).unwrap();
//! assert_eq!(back.snapshot.sockets, snap.sockets);
//! assert!(!back.owners_known);
//! # Ok::<(), std::io::Error>(())
//! ```

mod audit;
mod events;
mod map;
mod read;

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;
use serde::ser::SerializeSeq;

use crate::annotate;
use crate::model::{
    CongName, Container, Detail, Endpoint, EthProto, Family, NetlinkInfo, NetlinkProto, Netns,
    PacketInfo, PacketRing, Proto, SkMemInfo, Snapshot, Socket, TcpInfo, Timer,
};
use crate::services::EphemeralRange;
use crate::text::Text;

pub use audit::{
    AddrOut, AuditOut, BaselineOut, FindingOut, LocalOut, ProcessOut, RuleOut, SummaryOut,
    read_audit, read_baseline,
};
pub use events::{read_event, write_event};
pub use map::{EdgeOut, MapOut, NodeOut};
pub use read::{ReadListing, read_listing};

/// How a listing is written: which optional parts each socket carries.
#[derive(Clone, Copy, Debug)]
pub struct Listing<'a> {
    /// The snapshot written.
    pub snap: &'a Snapshot,
    /// Whether owners were looked up: each socket then has `owners` (a
    /// list, `[]` when none is known) and `owners_hidden`.
    pub owners: bool,
    /// The details asked for: each adds its field (`tcp_info`, `memory`,
    /// `timer`) to every socket, an object or null.
    pub detail: Detail,
    /// This host's ephemeral port range, which decides a connection's
    /// `service` port.
    pub ephemeral: Option<EphemeralRange>,
}

impl<'a> Listing<'a> {
    /// A listing of `snap` without owners or details.
    pub fn new(snap: &'a Snapshot) -> Listing<'a> {
        Listing {
            snap,
            owners: false,
            detail: Detail::default(),
            ephemeral: None,
        }
    }

    /// The host name found for an end's address (`--resolve`), if any.
    fn name_of(&self, e: &Endpoint) -> Option<&'a Text> {
        self.snap.resolved.name(e.addr()?)
    }

    /// The object for one socket of the snapshot.
    pub fn socket(&self, s: &'a Socket) -> SocketOut<'a> {
        let detail = self.detail;
        let x = s.extra.as_deref();
        SocketOut {
            proto: s.proto.as_str(),
            family: s.family.as_str(),
            unix_type: s.unix_type.map(|t| t.as_str()),
            local: EndpointOut(&s.local, self.name_of(&s.local)),
            // A packet socket has no peer.
            remote: (s.proto != Proto::Packet)
                .then(|| EndpointOut(&s.remote, self.name_of(&s.remote))),
            state: s.state.name_for(s.proto),
            recv_q: s.recv_q,
            send_q: s.send_q,
            uid: s.uid,
            inode: s.inode,
            v6only: (s.family == Family::Inet6).then_some(s.v6only),
            cookie: s.cookie,
            service: annotate::service_of(s, self.ephemeral).map(|i| ServiceOut {
                name: i.service.map(|x| x.name),
                port: i.port,
                class: i.class.as_str(),
            }),
            owners: self.owners.then_some(OwnersOut {
                socket: s,
                snap: self.snap,
            }),
            owners_hidden: self.owners.then_some(s.owners_hidden),
            tcp_info: detail.info.then(|| {
                x.and_then(|x| {
                    x.tcp_info.as_ref().map(|info| TcpInfoOut {
                        congestion: x.congestion.as_ref(),
                        info,
                    })
                })
            }),
            memory: detail
                .memory
                .then(|| x.and_then(|x| x.memory.as_ref().map(MemoryOut))),
            timer: detail
                .timers
                .then(|| x.and_then(|x| x.timer.as_ref().map(TimerOut))),
            netns: s.netns.as_deref().map(NetnsOut),
            packet: x.and_then(|x| x.packet.as_ref()).map(PacketOut),
            netlink: x.and_then(|x| x.netlink.as_ref()).map(NetlinkOut),
            socket_filter: x.and_then(|x| x.sock_filter).map(SockFilterOut),
            cgroup: (s.cgroup_id != 0)
                .then(|| self.snap.cgroups.get(&s.cgroup_id))
                .flatten()
                .map(|c| CgroupOut(s.cgroup_id, c)),
            forwards_to: (s.inode != 0)
                .then(|| self.snap.forwards.get(&s.inode))
                .flatten()
                .map(ForwardOut),
            change: None,
        }
    }

    /// Writes the whole array to `out`, one object per line. `change` gives
    /// socket number `i`'s `change` mark (`+`, `-`, `=`), if any.
    ///
    /// Each object is serialized into one reused buffer and written with
    /// one call, so the output sees one write per socket and nothing holds
    /// the whole document.
    pub fn write(
        &self,
        out: &mut dyn Write,
        mut change: impl FnMut(usize) -> Option<&'static str>,
    ) -> io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        out.write_all(b"[")?;
        for (i, s) in self.snap.sockets.iter().enumerate() {
            buf.clear();
            buf.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
            let mut obj = self.socket(s);
            obj.change = change(i);
            serde_json::to_writer(&mut buf, &obj).map_err(io::Error::from)?;
            out.write_all(&buf)?;
        }
        out.write_all(b"\n]\n")
    }
}

/// One socket's JSON object, borrowing from the snapshot.
#[derive(Serialize)]
pub struct SocketOut<'a> {
    proto: &'static str,
    family: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    unix_type: Option<&'static str>,
    local: EndpointOut<'a>,
    /// Null for packet sockets.
    remote: Option<EndpointOut<'a>>,
    state: &'static str,
    recv_q: u32,
    send_q: u32,
    /// Null where the source does not say (unix sockets from /proc).
    uid: Option<u32>,
    inode: u64,
    /// Inet6 sockets only: whether `::` takes IPv6 alone (null when the
    /// kernel does not say: states other than listening/unconnected).
    #[serde(skip_serializing_if = "Option::is_none")]
    v6only: Option<Option<bool>>,
    /// The kernel's socket cookie (0 when the source has none).
    cookie: u64,
    service: Option<ServiceOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners: Option<OwnersOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners_hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_info: Option<Option<TcpInfoOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Option<MemoryOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timer: Option<Option<TimerOut<'a>>>,
    /// The network namespace (absent where the source did not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    netns: Option<NetnsOut<'a>>,
    /// Packet sockets only: type, interface, memberships, fanout, rings, filter.
    #[serde(skip_serializing_if = "Option::is_none")]
    packet: Option<PacketOut<'a>>,
    /// Netlink sockets only: groups.
    #[serde(skip_serializing_if = "Option::is_none")]
    netlink: Option<NetlinkOut<'a>>,
    /// Raw sockets (and packet sockets whose dump could not show their
    /// filter), when owners were looked up: the filter asked of the socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    socket_filter: Option<SockFilterOut>,
    /// Sockets no visible process holds, when owners were looked up: the
    /// cgroup they were made in (inet_diag's cgroup id) and what it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    cgroup: Option<CgroupOut<'a>>,
    /// A published port's host socket (a forwarder's): where its traffic goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    forwards_to: Option<ForwardOut<'a>>,
    /// The change mark of a `--changes` listing: `+`, `-` or `=`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'static str>,
}

/// An endpoint, its address written as text straight into the output (no
/// String per endpoint on a path that writes 100k objects).
struct EndpointOut<'a>(&'a Endpoint, Option<&'a Text>);

impl Serialize for EndpointOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match self.0 {
            Endpoint::Inet { addr, port } => {
                let mut o = ser.serialize_struct("Inet", 3)?;
                o.serialize_field("addr", &AddrText(*addr))?;
                o.serialize_field("port", port)?;
                // Only when names were looked up and this address has one.
                if let Some(name) = self.1 {
                    o.serialize_field("name", name)?;
                }
                o.end()
            }
            Endpoint::Unix { path, inode } => {
                let mut o = ser.serialize_struct("Unix", 2)?;
                o.serialize_field("path", path)?;
                o.serialize_field("inode", inode)?;
                o.end()
            }
            Endpoint::Link { protocol, ifindex } => {
                let mut o = ser.serialize_struct("Link", 3)?;
                o.serialize_field("protocol", &EthProto(*protocol).to_string())?;
                o.serialize_field("protocol_number", protocol)?;
                o.serialize_field("ifindex", ifindex)?;
                o.end()
            }
            Endpoint::Netlink { protocol, portid } => {
                let mut o = ser.serialize_struct("Netlink", 3)?;
                o.serialize_field("protocol", &NetlinkProto(*protocol).to_string())?;
                o.serialize_field("protocol_number", protocol)?;
                o.serialize_field("portid", portid)?;
                o.end()
            }
        }
    }
}

/// The `packet` object of a packet socket.
struct PacketOut<'a>(&'a PacketInfo);

impl Serialize for PacketOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Member {
            ifindex: u32,
            #[serde(rename = "type")]
            kind: &'static str,
            count: u32,
        }
        #[derive(Serialize)]
        struct Fanout {
            id: u16,
            mode: u16,
        }
        #[derive(Serialize)]
        struct Ring {
            block_size: u32,
            block_nr: u32,
            frame_size: u32,
            frame_nr: u32,
        }
        #[derive(Serialize)]
        struct Filter {
            attached: bool,
            instructions: Option<u32>,
        }
        let ring = |r: &PacketRing| Ring {
            block_size: r.block_size,
            block_nr: r.block_nr,
            frame_size: r.frame_size,
            frame_nr: r.frame_nr,
        };
        let p = self.0;
        let mut o = ser.serialize_struct("Packet", 9)?;
        o.serialize_field("type", p.kind.as_str())?;
        o.serialize_field("interface", &p.interface)?;
        o.serialize_field("promiscuous", &p.promiscuous())?;
        let members: Vec<Member> = p
            .memberships
            .iter()
            .map(|m| Member {
                ifindex: m.ifindex,
                kind: m.kind_str(),
                count: m.count,
            })
            .collect();
        o.serialize_field("memberships", &members)?;
        o.serialize_field(
            "fanout",
            &p.fanout.map(|f| Fanout {
                id: f.id,
                mode: f.mode,
            }),
        )?;
        o.serialize_field("rx_ring", &p.rx_ring.as_ref().map(ring))?;
        o.serialize_field("tx_ring", &p.tx_ring.as_ref().map(ring))?;
        o.serialize_field(
            "filter",
            &p.filter.map(|f| Filter {
                attached: f.is_some(),
                instructions: f,
            }),
        )?;
        o.serialize_field("version", &p.version)?;
        o.end()
    }
}

/// The `socket_filter` object: `kind` (`none`, `classic`, `ebpf`,
/// `unknown`), `instructions` of a classic program, `reason` it is unknown.
struct SockFilterOut(crate::model::SockFilter);

impl Serialize for SockFilterOut {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut o = ser.serialize_struct("SockFilter", 3)?;
        o.serialize_field("kind", self.0.kind())?;
        o.serialize_field("instructions", &self.0.instructions())?;
        o.serialize_field("reason", &self.0.reason())?;
        o.end()
    }
}

/// The `cgroup` object: `id`, `path`, `container`, `unit`.
struct CgroupOut<'a>(u64, &'a crate::model::Cgroup);

impl Serialize for CgroupOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = self.1;
        let mut o = ser.serialize_struct("Cgroup", 4)?;
        o.serialize_field("id", &self.0)?;
        o.serialize_field("path", &c.path)?;
        o.serialize_field("container", &c.container.as_ref().map(ContainerOut))?;
        o.serialize_field("unit", &c.unit)?;
        o.end()
    }
}

/// The `forwards_to` object: `netns`, `container`, `addr`, `port`.
struct ForwardOut<'a>(&'a crate::model::ForwardTo);

impl Serialize for ForwardOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let f = self.0;
        let mut o = ser.serialize_struct("ForwardTo", 4)?;
        o.serialize_field("netns", &f.netns.as_deref().map(NetnsOut))?;
        o.serialize_field("container", &f.container.as_ref().map(ContainerOut))?;
        o.serialize_field("addr", &f.addr.map(AddrText))?;
        o.serialize_field("port", &f.port)?;
        o.end()
    }
}

/// The `netlink` object of a netlink socket.
struct NetlinkOut<'a>(&'a NetlinkInfo);

impl Serialize for NetlinkOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut o = ser.serialize_struct("Netlink", 2)?;
        o.serialize_field("groups", &self.0.groups)?;
        o.serialize_field("dst_group", &self.0.dst_group)?;
        o.end()
    }
}

struct AddrText(IpAddr);

impl Serialize for AddrText {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(&self.0)
    }
}

#[derive(Serialize)]
struct ServiceOut {
    name: Option<&'static str>,
    port: u16,
    class: &'static str,
}

/// A process as every JSON output describes it, after its `pid` (and `fd`):
/// `name`, `user`, `uid`, `euser`, `euid`, `cmdline`, `exe`, each null
/// when the process was not seen. Written into an object of the caller's
/// with [`ProcessFields::write`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessFields<'a>(pub Option<&'a crate::model::Process>);

impl ProcessFields<'_> {
    /// How many fields [`ProcessFields::write`] writes.
    pub const LEN: usize = 9;

    /// Writes the fields into the object being serialized.
    pub fn write<S: serde::ser::SerializeStruct>(&self, o: &mut S) -> Result<(), S::Error> {
        let p = self.0;
        o.serialize_field("name", &p.map(|p| &p.name))?;
        o.serialize_field("user", &p.and_then(|p| p.user.as_ref()))?;
        o.serialize_field("uid", &p.and_then(|p| p.uid))?;
        o.serialize_field("euser", &p.and_then(|p| p.euser.as_ref()))?;
        o.serialize_field("euid", &p.and_then(|p| p.euid))?;
        o.serialize_field("cmdline", &p.map(|p| &p.cmdline))?;
        o.serialize_field("exe", &p.and_then(|p| p.exe.as_ref()))?;
        // Where it runs: left out when it runs in no container and no unit.
        match p.and_then(|p| p.container.as_ref()) {
            Some(c) => o.serialize_field("container", &ContainerOut(c))?,
            None => o.skip_field("container")?,
        }
        match p.and_then(|p| p.unit.as_ref()) {
            Some(u) => o.serialize_field("unit", u),
            None => o.skip_field("unit"),
        }
    }
}

/// One owner: pid, fd, then the process.
struct OwnerOut<'a> {
    pid: u32,
    fd: u32,
    process: ProcessFields<'a>,
}

impl Serialize for OwnerOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut o = ser.serialize_struct("Owner", 2 + ProcessFields::LEN)?;
        o.serialize_field("pid", &self.pid)?;
        o.serialize_field("fd", &self.fd)?;
        self.process.write(&mut o)?;
        o.end()
    }
}

/// A socket's `netns` object.
struct NetnsOut<'a>(&'a Netns);

impl Serialize for NetnsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let n = self.0;
        let mut o = ser.serialize_struct("Netns", 4)?;
        o.serialize_field("inode", &n.inode)?;
        o.serialize_field("name", &n.name)?;
        o.serialize_field("host", &n.host)?;
        o.serialize_field("container", &n.container.as_ref().map(ContainerOut))?;
        o.end()
    }
}

/// A `container` object (an owner's, a namespace's, or what a command
/// says of one: `who`'s forwarded ports, `pid`'s process), written one way.
pub struct ContainerOut<'a>(pub &'a Container);

impl Serialize for ContainerOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = self.0;
        let mut o = ser.serialize_struct("Container", 6)?;
        o.serialize_field("runtime", c.runtime.as_str())?;
        o.serialize_field("id", &c.id)?;
        o.serialize_field("name", &c.name)?;
        o.serialize_field("image", &c.image)?;
        o.serialize_field("pod", &c.pod)?;
        o.serialize_field("pod_namespace", &c.pod_namespace)?;
        o.end()
    }
}

/// A socket's owners, serialized from the snapshot as they are written.
struct OwnersOut<'a> {
    socket: &'a Socket,
    snap: &'a Snapshot,
}

impl Serialize for OwnersOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.socket.owners.len()))?;
        for o in &self.socket.owners {
            seq.serialize_element(&OwnerOut {
                pid: o.pid,
                fd: o.fd,
                process: ProcessFields(self.snap.processes.get(&o.pid)),
            })?;
        }
        seq.end()
    }
}

/// The names of the `tcp_info` object's numeric fields, in the order they
/// are written, with their [`TcpInfo`] field: the one list both directions use.
macro_rules! tcp_info_fields {
    ($m:ident) => {
        $m! {
            ca_state: u8, retransmits: u8, backoff: u8, options: u8, snd_wscale: u8,
            rcv_wscale: u8, rto_us: u32, ato_us: u32, rtt_us: u32, rttvar_us: u32,
            min_rtt_us: u32, rcv_rtt_us: u32, snd_mss: u32, rcv_mss: u32, advmss: u32,
            pmtu: u32, snd_cwnd: u32, snd_ssthresh: u32, rcv_ssthresh: u32,
            rcv_space: u32, snd_wnd: u32, unacked: u32, sacked: u32, lost: u32,
            retrans: u32, total_retrans: u32, reordering: u32, bytes_sent: u64,
            bytes_retrans: u64, bytes_acked: u64, bytes_received: u64, segs_out: u32,
            segs_in: u32, data_segs_out: u32, data_segs_in: u32, notsent_bytes: u32,
            delivered: u32, delivered_ce: u32, delivery_rate: u64,
            delivery_rate_app_limited: bool, pacing_rate: u64, max_pacing_rate: u64,
            busy_time_us: u64, rwnd_limited_us: u64, sndbuf_limited_us: u64,
            last_data_sent_ms: u32, last_data_recv_ms: u32, last_ack_recv_ms: u32,
        }
    };
}
pub(crate) use tcp_info_fields;

/// The `tcp_info` object: `congestion` (the algorithm's name, or null),
/// then the [`TcpInfo`] fields.
struct TcpInfoOut<'a> {
    congestion: Option<&'a CongName>,
    info: &'a TcpInfo,
}

impl Serialize for TcpInfoOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        macro_rules! write_fields {
            ($($name:ident: $ty:ty),* $(,)?) => {{
                let n = [$(stringify!($name)),*].len();
                let mut o = ser.serialize_struct("TcpInfo", n + 1)?;
                o.serialize_field("congestion", &self.congestion.map(CongName::as_str))?;
                $(o.serialize_field(
                    stringify!($name),
                    &Limited::limited(self.info.$name, stringify!($name)),
                )?;)*
                o.end()
            }};
        }
        tcp_info_fields!(write_fields)
    }
}

/// The kernel's "unlimited" in a tcp_info field: `pacing_rate` and
/// `max_pacing_rate` at u64::MAX (no pacing), `snd_ssthresh` at
/// TCP_INFINITE_SSTHRESH (still in slow start). JSON says null for it, not
/// 18446744073709551615.
pub(crate) const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

/// A tcp_info field as written: null when the kernel means "unlimited".
pub(crate) trait Limited: Copy {
    /// `None` for the unlimited value of field `name`.
    fn limited(self, name: &str) -> Option<Self>;
    /// What null reads back as for field `name` (and an absent field).
    fn unlimited(name: &str) -> Self;
}

impl Limited for u64 {
    fn limited(self, name: &str) -> Option<u64> {
        let pacing = matches!(name, "pacing_rate" | "max_pacing_rate");
        (!(pacing && self == u64::MAX)).then_some(self)
    }
    fn unlimited(name: &str) -> u64 {
        if matches!(name, "pacing_rate" | "max_pacing_rate") {
            u64::MAX
        } else {
            0
        }
    }
}

impl Limited for u32 {
    fn limited(self, name: &str) -> Option<u32> {
        (!(name == "snd_ssthresh" && self == INFINITE_SSTHRESH)).then_some(self)
    }
    fn unlimited(name: &str) -> u32 {
        if name == "snd_ssthresh" {
            INFINITE_SSTHRESH
        } else {
            0
        }
    }
}

impl Limited for u8 {
    fn limited(self, _: &str) -> Option<u8> {
        Some(self)
    }
    fn unlimited(_: &str) -> u8 {
        0
    }
}

impl Limited for bool {
    fn limited(self, _: &str) -> Option<bool> {
        Some(self)
    }
    fn unlimited(_: &str) -> bool {
        false
    }
}

/// The `memory` object, named as [`SkMemInfo`]'s fields.
struct MemoryOut<'a>(&'a SkMemInfo);

impl Serialize for MemoryOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let m = self.0;
        let mut o = ser.serialize_struct("Memory", 9)?;
        o.serialize_field("rmem_alloc", &m.rmem_alloc)?;
        o.serialize_field("rcvbuf", &m.rcvbuf)?;
        o.serialize_field("wmem_alloc", &m.wmem_alloc)?;
        o.serialize_field("sndbuf", &m.sndbuf)?;
        o.serialize_field("fwd_alloc", &m.fwd_alloc)?;
        o.serialize_field("wmem_queued", &m.wmem_queued)?;
        o.serialize_field("optmem", &m.optmem)?;
        o.serialize_field("backlog", &m.backlog)?;
        o.serialize_field("drops", &m.drops)?;
        o.end()
    }
}

/// The `timer` object: `kind` (as `ss -o` names it), `expires_ms`, `retrans`.
struct TimerOut<'a>(&'a Timer);

impl Serialize for TimerOut<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let t = self.0;
        let mut o = ser.serialize_struct("Timer", 3)?;
        o.serialize_field("kind", t.kind.as_str())?;
        o.serialize_field("expires_ms", &t.expires_ms)?;
        o.serialize_field("retrans", &t.retrans)?;
        o.end()
    }
}

#[cfg(test)]
mod tests;
