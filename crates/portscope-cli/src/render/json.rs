//! JSON: one array, one object per socket, in the stable schema of the README
//! and DESIGN.md. Complete: every owner is listed.
//!
//! Objects are streamed as they are serialized; nothing holds the whole
//! document in memory.

use std::io::{self, Write};

use portscope::model::{Endpoint, Snapshot, Socket};
use serde::Serialize;

use super::Context;
use super::detail::{MemoryJson, TcpInfoJson, TimerJson};
use crate::change::Mark;

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
    uid: u32,
    inode: u64,
    service: Option<ServiceJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owners: Option<Vec<OwnerJson<'a>>>,
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
    Inet { addr: String, port: u16 },
    Unix { path: Option<&'a str>, inode: u64 },
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
    name: Option<&'a str>,
    user: Option<&'a str>,
    uid: Option<u32>,
    cmdline: Option<&'a str>,
    exe: Option<&'a str>,
}

fn endpoint(ep: &Endpoint) -> EndpointJson<'_> {
    match ep {
        Endpoint::Inet { addr, port } => EndpointJson::Inet {
            addr: addr.to_string(),
            port: *port,
        },
        Endpoint::Unix { path, inode } => EndpointJson::Unix {
            path: path.as_deref(),
            inode: *inode,
        },
    }
}

fn owners<'a>(s: &Socket, snap: &'a Snapshot) -> Vec<OwnerJson<'a>> {
    s.owners
        .iter()
        .map(|o| {
            let p = snap.processes.get(&o.pid);
            OwnerJson {
                pid: o.pid,
                fd: o.fd,
                name: p.map(|p| p.name.as_str()),
                user: p.and_then(|p| p.user.as_deref()),
                uid: p.and_then(|p| p.uid),
                cmdline: p.map(|p| p.cmdline.as_str()),
                exe: p.and_then(|p| p.exe.as_deref()),
            }
        })
        .collect()
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
        service: ctx.service(s).map(|i| ServiceJson {
            name: i.service.map(|x| x.name),
            port: i.port,
            class: i.class.as_str(),
        }),
        owners: owners_known.then(|| owners(s, ctx.snap)),
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
    out.write_all(b"[")?;
    for (i, s) in ctx.snap.sockets.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        let mut obj = socket_obj(s, ctx, ctx.cfg.owners);
        if let Some(m) = ctx.marks.and_then(|m| m.get(i)) {
            obj.change = Some(match m {
                Mark::Added => "+",
                Mark::Removed => "-",
                Mark::Same => "=",
            });
        }
        serde_json::to_writer(&mut *out, &obj).map_err(io::Error::from)?;
    }
    out.write_all(b"\n]\n")
}
