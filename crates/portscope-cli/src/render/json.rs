//! JSON: one array, one object per socket, in the stable schema of the README
//! and DESIGN.md. Complete: every owner is listed.
//!
//! Objects are streamed as they are serialized; nothing holds the whole
//! document in memory.

use std::io::{self, Write};

use portscope::Text;
use portscope::model::{Endpoint, Snapshot, Socket};
use std::net::IpAddr;

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use super::Context;
use super::detail::{MemoryJson, TcpInfoJson, TimerJson};
use portscope::track::Mark;

#[derive(Serialize)]
struct SocketJson<'a> {
    proto: &'static str,
    family: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    unix_type: Option<&'static str>,
    local: EndpointJson<'a>,
    remote: EndpointJson<'a>,
    state: &'static str,
    recv_q: u32,
    send_q: u32,
    /// Null where the source does not say (unix sockets from procfs).
    uid: Option<u32>,
    inode: u64,
    /// Inet6 sockets only: whether `::` takes IPv6 alone (null when the
    /// kernel does not say: states other than listening/unconnected).
    #[serde(skip_serializing_if = "Option::is_none")]
    v6only: Option<Option<bool>>,
    /// The kernel's socket cookie (0 when the source has none): stable for
    /// the socket's life, unlike the inode of a TIME_WAIT socket.
    cookie: u64,
    service: Option<ServiceJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners: Option<OwnersJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners_hidden: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp_info: Option<Option<TcpInfoJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<Option<MemoryJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timer: Option<Option<TimerJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EndpointJson<'a> {
    Inet { addr: AddrJson, port: u16 },
    Unix { path: Option<&'a Text>, inode: u64 },
}

#[derive(Serialize)]
struct ServiceJson {
    name: Option<&'static str>,
    port: u16,
    class: &'static str,
}

#[derive(Serialize)]
struct OwnerJson<'a> {
    pid: u32,
    fd: u32,
    name: Option<&'a Text>,
    user: Option<&'a Text>,
    uid: Option<u32>,
    euser: Option<&'a Text>,
    euid: Option<u32>,
    cmdline: Option<&'a Text>,
    exe: Option<&'a Text>,
}

/// An address written as its text straight into the output: no String
/// per endpoint on a path that writes 100k objects.
struct AddrJson(IpAddr);

impl Serialize for AddrJson {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_str(&self.0)
    }
}

/// A socket's owners, serialized from the snapshot as they are written.
struct OwnersJson<'a> {
    socket: &'a Socket,
    snap: &'a Snapshot,
}

impl Serialize for OwnersJson<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.socket.owners.len()))?;
        for o in &self.socket.owners {
            let p = self.snap.processes.get(&o.pid);
            seq.serialize_element(&OwnerJson {
                pid: o.pid,
                fd: o.fd,
                name: p.map(|p| &p.name),
                user: p.and_then(|p| p.user.as_ref()),
                uid: p.and_then(|p| p.uid),
                euser: p.and_then(|p| p.euser.as_ref()),
                euid: p.and_then(|p| p.euid),
                cmdline: p.map(|p| &p.cmdline),
                exe: p.and_then(|p| p.exe.as_ref()),
            })?;
        }
        seq.end()
    }
}

fn endpoint(ep: &Endpoint) -> EndpointJson<'_> {
    match ep {
        Endpoint::Inet { addr, port } => EndpointJson::Inet {
            addr: AddrJson(*addr),
            port: *port,
        },
        Endpoint::Unix { path, inode } => EndpointJson::Unix {
            path: path.as_ref(),
            inode: *inode,
        },
    }
}

/// The JSON object for one socket; `owners` says whether owners were looked up.
/// The details the listing asked for (`-i`, `-m`, `-O`) are `tcp_info`,
/// `memory` and `timer`: an object, or null where the socket has none.
pub fn socket_json<'a>(
    s: &'a Socket,
    ctx: &Context<'a>,
    owners_known: bool,
) -> impl Serialize + 'a {
    socket_obj(s, ctx, owners_known)
}

fn socket_obj<'a>(s: &'a Socket, ctx: &Context<'a>, owners_known: bool) -> SocketJson<'a> {
    let detail = ctx.cfg.collect.detail;
    let x = s.extra.as_deref();
    SocketJson {
        proto: s.proto.as_str(),
        family: s.family.as_str(),
        unix_type: s.unix_type.map(|t| t.as_str()),
        local: endpoint(&s.local),
        remote: endpoint(&s.remote),
        state: s.state.name_for(s.proto),
        recv_q: s.recv_q,
        send_q: s.send_q,
        uid: s.uid,
        inode: s.inode,
        v6only: (s.family == portscope::model::Family::Inet6).then_some(s.v6only),
        cookie: s.cookie,
        service: ctx.service(s).map(|i| ServiceJson {
            name: i.service.map(|x| x.name),
            port: i.port,
            class: i.class.as_str(),
        }),
        owners: owners_known.then_some(OwnersJson {
            socket: s,
            snap: ctx.snap,
        }),
        owners_hidden: owners_known.then_some(s.owners_hidden),
        tcp_info: detail.info.then(|| {
            x.and_then(|x| {
                x.tcp_info
                    .as_ref()
                    .map(|i| TcpInfoJson::new(i, x.congestion.as_ref()))
            })
        }),
        memory: detail
            .memory
            .then(|| x.and_then(|x| x.memory.as_ref().map(MemoryJson::from))),
        timer: detail
            .timers
            .then(|| x.and_then(|x| x.timer.as_ref().map(TimerJson::from))),
        change: None,
    }
}

/// Writes the JSON array.
pub fn write(out: &mut dyn Write, ctx: &Context<'_>) -> io::Result<()> {
    // serde_json writes token by token; into a Vec those writes are cheap,
    // and the output sees one write per object.
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    out.write_all(b"[")?;
    for (i, s) in ctx.snap.sockets.iter().enumerate() {
        buf.clear();
        buf.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        let mut obj = socket_obj(s, ctx, ctx.cfg.owners);
        if let Some(m) = ctx.marks.and_then(|m| m.get(i)) {
            obj.change = Some(match m {
                Mark::Added => "+",
                Mark::Removed => "-",
                Mark::Same => "=",
            });
        }
        serde_json::to_writer(&mut buf, &obj).map_err(io::Error::from)?;
        out.write_all(&buf)?;
    }
    out.write_all(b"\n]\n")
}
