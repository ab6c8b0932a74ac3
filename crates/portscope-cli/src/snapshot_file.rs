//! Reads a saved `--json` listing back into a [`Snapshot`], for the hidden
//! `--from-snapshot FILE` flag: deterministic output tests, and rendering a
//! listing taken on another machine.

use std::collections::HashMap;
use std::net::IpAddr;

use portscope::Text;
use portscope::model::{
    Endpoint, Family, Owner, Process, Proto, Snapshot, Socket, Source, TcpState, UnixType,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct SocketIn {
    proto: String,
    family: String,
    #[serde(rename = "type")]
    unix_type: Option<String>,
    local: EndpointIn,
    remote: EndpointIn,
    state: String,
    #[serde(default)]
    recv_q: u32,
    #[serde(default)]
    send_q: u32,
    #[serde(default)]
    uid: u32,
    #[serde(default)]
    inode: u64,
    #[serde(default)]
    cookie: u64,
    owners: Option<Vec<OwnerIn>>,
    #[serde(default)]
    owners_hidden: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EndpointIn {
    Inet { addr: IpAddr, port: u16 },
    Unix { path: Option<Text>, inode: u64 },
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
}

/// Parses a saved JSON listing. The error says what and where.
pub fn parse(text: &str) -> Result<Snapshot, String> {
    let items: Vec<SocketIn> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut snap = Snapshot {
        source: Source::File,
        ..Snapshot::default()
    };
    let mut processes: HashMap<u32, Process> = HashMap::new();
    for (i, s) in items.into_iter().enumerate() {
        let at = |what: &str| format!("socket {}: bad {what}", i + 1);
        let proto = match s.proto.as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "raw" => Proto::Raw,
            "unix" => Proto::Unix,
            _ => return Err(at("proto")),
        };
        let family = match s.family.as_str() {
            "inet" => Family::Inet,
            "inet6" => Family::Inet6,
            "unix" => Family::Unix,
            _ => return Err(at("family")),
        };
        let unix_type = match s.unix_type.as_deref() {
            None => None,
            Some("stream") => Some(UnixType::Stream),
            Some("dgram") => Some(UnixType::Dgram),
            Some("seqpacket") => Some(UnixType::Seqpacket),
            Some(_) => return Err(at("type")),
        };
        let state = TcpState::from_name(&s.state).ok_or_else(|| at("state"))?;
        let mut owners = Vec::new();
        for o in s.owners.unwrap_or_default() {
            owners.push(Owner {
                pid: o.pid,
                fd: o.fd,
            });
            processes.entry(o.pid).or_insert_with(|| Process {
                pid: o.pid,
                name: o.name.unwrap_or_default(),
                cmdline: o.cmdline.unwrap_or_default(),
                uid: o.uid,
                user: o.user,
                euid: o.euid,
                euser: o.euser,
                exe: o.exe,
            });
        }
        snap.sockets.push(Socket {
            proto,
            family,
            local: endpoint(s.local),
            remote: endpoint(s.remote),
            state,
            recv_q: s.recv_q,
            send_q: s.send_q,
            uid: s.uid,
            inode: s.inode,
            unix_type,
            bound_if: 0,
            owners,
            owners_hidden: s.owners_hidden.unwrap_or(false),
            cookie: s.cookie,
            extra: None,
        });
    }
    snap.processes = processes;
    Ok(snap)
}

fn endpoint(e: EndpointIn) -> Endpoint {
    match e {
        EndpointIn::Inet { addr, port } => Endpoint::Inet { addr, port },
        EndpointIn::Unix { path, inode } => Endpoint::Unix { path, inode },
    }
}
